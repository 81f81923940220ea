//! Mails: the codes, reset tokens and invitations of [`crate::accounts`], sent over SMTP
//! (`lettre`, TLS by native-tls). The server is configured by [`SmtpSettings`]: a URL in
//! lettre's form (`smtps://user:pass@host:465` for TLS, `smtp://...:587?tls=required` for
//! STARTTLS, `smtp://host:port` unencrypted, for a relay on the same machine) and the sender.
//! Without one, the calls that need a mail answer 501 naming the missing setting.
//!
//! Nothing here prints the URL's password, a mail's body (it carries the code or token) or
//! the SMTP conversation: a failed send names the recipient and lettre's reason only.

use crate::ServeError;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::time::Duration;

/// How long one send may take (connect, TLS, the conversation).
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// The SMTP server mails go through.
#[derive(Clone)]
pub struct SmtpSettings {
    /// `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`, or
    /// `smtp://host:port` (unencrypted). Never printed with its password.
    pub url: String,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SmtpSettings")
            .field("url", &offbase_pg::redact_url(&self.url))
            .field("from", &self.from)
            .finish()
    }
}

/// What mails are sent with.
#[derive(Clone)]
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// A mail to send: one plain-text part.
#[derive(Debug)]
pub(crate) struct Mail {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) body: String,
}

impl Mailer {
    /// The mailer of `settings`; an unreadable URL or sender stops the server from starting.
    pub(crate) fn new(settings: &SmtpSettings) -> Result<Self, ServeError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.trim())
            // lettre's error may quote the URL: name it redacted.
            .map_err(|_| {
                ServeError::InvalidConfig(format!(
                    "the SMTP URL {} could not be read: give smtps://user:pass@host:465, \
                     smtp://user:pass@host:587?tls=required or smtp://host:port",
                    offbase_pg::redact_url(&settings.url)
                ))
            })?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = settings.from.trim().parse::<Mailbox>().map_err(|error| {
            ServeError::InvalidConfig(format!(
                "the sender {:?} is not a mail address ({error}): give `--mail-from \
                 'App <no-reply@example.com>'`",
                settings.from
            ))
        })?;
        Ok(Mailer { transport, from })
    }

    /// Sends `mail`; why not otherwise (the SMTP server's reason, never the mail's body, nor
    /// its recipient: the caller says whom it was for where that may be told).
    pub(crate) async fn send(&self, mail: Mail) -> Result<(), String> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|_| "the recipient is not a mail address".to_owned())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|error| format!("the mail could not be written: {error}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| send_failure(&error))
    }
}

/// Why a send failed, by kind and SMTP reply code only: lettre's message may quote the
/// server's reply to our own lines.
fn send_failure(error: &lettre::transport::smtp::Error) -> String {
    if error.is_timeout() {
        "the SMTP server did not answer in time".to_owned()
    } else if error.is_permanent() || error.is_transient() {
        let code = error
            .status()
            .map(|code| format!(" (reply {code})"))
            .unwrap_or_default();
        format!("the SMTP server refused the mail{code}")
    } else if error.is_tls() {
        "the TLS handshake with the SMTP server failed".to_owned()
    } else {
        "the SMTP server could not be reached".to_owned()
    }
}

/// `true` when `text` reads as one mail address (`a@b.c`, nothing around it) to lettre, which
/// sends the mails: the accounts' shared rules (`offbase_base44::accounts::is_address`) are
/// checked against it.
#[cfg(test)]
pub(crate) fn is_address(text: &str) -> bool {
    text.len() <= 254
        && !text.contains(['<', '>', ' ', '\t', '\r', '\n', ','])
        && text.parse::<lettre::Address>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_never_print_the_password() {
        let settings = SmtpSettings {
            url: "smtps://mailer:hunter2secret@smtp.example.com:465".to_owned(),
            from: "App <no-reply@example.com>".to_owned(),
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2secret"), "{printed}");
        assert!(printed.contains("smtp.example.com"), "{printed}");
        let mailer = Mailer::new(&settings).unwrap_or_else(|error| panic!("{error}"));
        assert!(!format!("{mailer:?}").contains("hunter2secret"));
        let bad = SmtpSettings {
            url: "nonsense://mailer:hunter2secret@".to_owned(),
            ..settings.clone()
        };
        let error = Mailer::new(&bad)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("could not be read"), "{error}");
        assert!(!error.contains("hunter2secret"), "{error}");
        let bad_from = SmtpSettings {
            from: "not an address".to_owned(),
            ..settings
        };
        assert!(Mailer::new(&bad_from).is_err());
    }

    #[test]
    fn addresses() {
        assert!(is_address("ann@example.com"));
        assert!(!is_address("Ann <ann@example.com>"));
        assert!(!is_address("ann@example.com, bob@example.com"));
        assert!(!is_address("ann"));
        assert!(!is_address(""));
    }
}
