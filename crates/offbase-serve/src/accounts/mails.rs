//! The mails the account calls send: a code, a reset link, an invitation; and the sending in
//! the background for the calls whose answer must not tell whether a mail went out.

use crate::mail::{Mail, Mailer};
use crate::routes::AppState;
use offbase_base44::accounts::{
    CODE_LIFETIME, INVITE_LIFETIME, RESET_LIFETIME, invite_link, reset_link,
};

pub(super) fn code_mail(state: &AppState, email: &str, code: &str) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: format!("Your verification code for {}", state.accounts.app_name),
        body: format!(
            "Your verification code for {app}:\n\n    {code}\n\nIt works for {minutes} minutes. \
             If you did not ask for it, ignore this mail.\n",
            app = state.accounts.app_name,
            minutes = CODE_LIFETIME / 60,
        ),
    }
}

pub(super) fn reset_mail(state: &AppState, email: &str, token: &str) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: format!("Reset your password for {}", state.accounts.app_name),
        body: format!(
            "Someone asked to reset the password of your account on {app}.\n\n\
             Choose a new password here (the link works once, for {hours} hour):\n\
             {page}\n\n\
             Or give the app this reset token:\n\
             {token}\n\n\
             If you did not ask for it, ignore this mail: your password stays as it is.\n",
            app = state.accounts.app_name,
            hours = RESET_LIFETIME / 3600,
            page = reset_link(&state.accounts.link_base, token),
        ),
    }
}

pub(super) fn invite_mail(state: &AppState, email: &str, token: &str) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: format!("You are invited to {}", state.accounts.app_name),
        body: format!(
            "You are invited to {app}.\n\n\
             Sign in with this link (it works once, for {days} days):\n\
             {url}\n\n\
             To sign in later with a password, choose one with \"Forgot your password?\" on \
             the sign-in page.\n",
            app = state.accounts.app_name,
            days = INVITE_LIFETIME / (24 * 3600),
            url = invite_link(&state.accounts.link_base, &state.app_id, token),
        ),
    }
}

/// Sends `mail` without making the caller wait: for the calls whose answer must not tell
/// whether a mail went out. A failure is noted on stderr, without the address or the body.
pub(super) fn send_later(mailer: Mailer, mail: Mail, what: &'static str) {
    tokio::spawn(async move {
        if let Err(reason) = mailer.send(mail).await {
            eprintln!("offbase serve: a {what} mail could not be sent: {reason}");
        }
    });
}
