//! What the account calls (`accounts`) remember between requests, in memory and nowhere else:
//! the codes and tokens they mailed (as SHA-256 digests, with their life, tries and how many of
//! a kind an account got this hour), the passwords they set (bcrypt hashes), and the outbox of
//! every mail "sent", which tests read ([`OutboxMail`]).
//!
//! Passwords set by the account calls live here, not in the `User` records: `offbase serve`
//! keeps them in its users table beside the User records, so its `user` answers (`User/me`,
//! sign-in answers, lists) never carry them, and the emulator's must not either. A record
//! loaded with a `password_hash` field keeps it, on both (serve keeps undeclared fields too);
//! `auth/login` checks the password set here first, then that field.
//!
//! The rules are `offbase serve`'s (`offbase_pg::serve::{issue_code, try_code, use_code,
//! use_token}`), with the numbers both take from `offbase_base44::accounts`: one live code per
//! account and kind, replaced by the next one (which keeps a pending password unless it brings
//! its own); at most [`CODES_PER_HOUR`] of a kind per account in an hour, counted from the first
//! of the hour; [`CODE_TRIES`] tries of a code, each counted; a spent code or token never works
//! again. Every rule takes `now` from its caller, so the unit tests below move the clock instead
//! of waiting.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use offbase_base44::accounts::{
    CODE_LIFETIME, CODE_TRIES, CODES_PER_HOUR, INVITE_LIFETIME, RESET_LIFETIME, matches_digest,
    same_bytes, token_digest,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// What a mail of the account calls is for, and so what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// A 6-digit code confirming the address (`auth/register`, `auth/resend-otp`), for
    /// `auth/verify-otp`.
    Verify,
    /// A password reset token (`auth/reset-password-request`), for `auth/reset-password`.
    Reset,
    /// An invitation (`users/invite-user`): a link that signs in once (`auth/login-token`).
    Invite,
}

impl MailKind {
    /// The name in the outbox's JSON: `verify`, `reset` or `invite`.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Verify => "verify",
            MailKind::Reset => "reset",
            MailKind::Invite => "invite",
        }
    }

    /// How long its code or token works, in seconds: 10 minutes, 1 hour, 7 days.
    pub(crate) fn lifetime_seconds(self) -> u32 {
        match self {
            MailKind::Verify => CODE_LIFETIME,
            MailKind::Reset => RESET_LIFETIME,
            MailKind::Invite => INVITE_LIFETIME,
        }
    }
}

/// A mail the emulator would have sent: the emulator sends none, it keeps them in its outbox
/// (`GET /api/apps/{app_id}/emulator/outbox`, [`crate::RunningEmulator::outbox`]).
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The address, as the request gave it.
    pub to: String,
    pub kind: MailKind,
    /// A verification mail's 6-digit code.
    pub code: Option<String>,
    /// A reset or invitation mail's token.
    pub token: Option<String>,
    /// The link the mail carries, as `offbase serve` writes it: a reset mail's
    /// `{api_url}/login#reset_token=...` (a page the emulator does not serve: the app's own
    /// sign-in page reads it), an invitation's `{api_url}/api/apps/{app_id}/auth/login-token?...`.
    pub link: Option<String>,
    pub sent_at: DateTime<Utc>,
}

/// The codes, tokens and links stay out of debug output: a test that prints a mail prints no
/// secret.
impl fmt::Debug for OutboxMail {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        formatter
            .debug_struct("OutboxMail")
            .field("to", &self.to)
            .field("kind", &self.kind)
            .field("code", &shown(&self.code))
            .field("token", &shown(&self.token))
            .field("link", &shown(&self.link))
            .field("sent_at", &self.sent_at)
            .finish()
    }
}

impl OutboxMail {
    /// `{"to", "kind", "code", "token", "link", "sent_at"}`, `sent_at` in RFC 3339 (UTC,
    /// milliseconds), what the outbox route answers.
    pub fn to_json(&self) -> Value {
        json!({
            "to": self.to,
            "kind": self.kind.as_str(),
            "code": self.code,
            "token": self.token,
            "link": self.link,
            "sent_at": self.sent_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        })
    }
}

/// The code or token of one account and kind, as issued.
struct Issued {
    /// The code's or token's [`token_digest`].
    digest: String,
    /// The password registration set aside until the code is verified.
    pending_password_hash: Option<String>,
    expires_at: DateTime<Utc>,
    tries: u32,
    used: bool,
    /// The hour the count of mails runs in, and the count.
    window_started_at: DateTime<Utc>,
    sent_in_window: u32,
}

impl Issued {
    fn live(&self, now: DateTime<Utc>) -> bool {
        !self.used && self.expires_at > now
    }
}

/// The outcome of a try of a verification code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CodeCheck {
    /// The right code, now spent, with the password registration set aside (if any).
    Right {
        pending_password_hash: Option<String>,
    },
    /// A wrong code (the try counted), or no live code with tries left.
    Refused,
}

/// The remembered state, reached through [`AccountLedger::lock`].
#[derive(Default)]
pub(crate) struct Ledger {
    issued: HashMap<(String, MailKind), Issued>,
    /// bcrypt hashes by user id.
    passwords: HashMap<String, String>,
    outbox: Vec<OutboxMail>,
}

impl Ledger {
    /// Issues `secret` (a code or token) of `kind` to `user_id`, replacing the one before,
    /// unless [`CODES_PER_HOUR`] were issued in the current hour: `false` then, and the one
    /// before stays. Without a `pending_password_hash`, the pending one before stays.
    pub(crate) fn issue(
        &mut self,
        user_id: &str,
        kind: MailKind,
        secret: &str,
        pending_password_hash: Option<String>,
        now: DateTime<Utc>,
    ) -> bool {
        let expires_at = now + Duration::seconds(kind.lifetime_seconds().into());
        let Some(issued) = self.issued.get_mut(&(user_id.to_owned(), kind)) else {
            self.issued.insert(
                (user_id.to_owned(), kind),
                Issued {
                    digest: token_digest(secret),
                    pending_password_hash,
                    expires_at,
                    tries: 0,
                    used: false,
                    window_started_at: now,
                    sent_in_window: 1,
                },
            );
            return true;
        };
        let new_window = issued.window_started_at <= now - Duration::hours(1);
        if !new_window && issued.sent_in_window >= u32::from(CODES_PER_HOUR) {
            return false;
        }
        issued.digest = token_digest(secret);
        if pending_password_hash.is_some() {
            issued.pending_password_hash = pending_password_hash;
        }
        issued.expires_at = expires_at;
        issued.tries = 0;
        issued.used = false;
        if new_window {
            issued.window_started_at = now;
            issued.sent_in_window = 1;
        } else {
            issued.sent_in_window += 1;
        }
        true
    }

    /// A try of `code` against the live code of `user_id` and `kind`: counted when the code is
    /// live and has tries left, and spent when right.
    pub(crate) fn try_code(
        &mut self,
        user_id: &str,
        kind: MailKind,
        code: &str,
        now: DateTime<Utc>,
    ) -> CodeCheck {
        let Some(issued) = self
            .issued
            .get_mut(&(user_id.to_owned(), kind))
            .filter(|issued| issued.live(now) && issued.tries < u32::from(CODE_TRIES))
        else {
            return CodeCheck::Refused;
        };
        issued.tries += 1;
        if !matches_digest(code, &issued.digest) {
            return CodeCheck::Refused;
        }
        issued.used = true;
        CodeCheck::Right {
            pending_password_hash: issued.pending_password_hash.take(),
        }
    }

    /// The user a live `token` of `kind` was issued to (not spent: see [`Ledger::spend`]).
    pub(crate) fn token_user(
        &self,
        kind: MailKind,
        token: &str,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let wanted = token_digest(token);
        self.issued
            .iter()
            .find(|((_, issued_kind), issued)| {
                *issued_kind == kind
                    && issued.live(now)
                    && same_bytes(issued.digest.as_bytes(), wanted.as_bytes())
            })
            .map(|((user_id, _), _)| user_id.clone())
    }

    /// Spends the code or token of `user_id` and `kind` (and forgets its pending password).
    pub(crate) fn spend(&mut self, user_id: &str, kind: MailKind) {
        if let Some(issued) = self.issued.get_mut(&(user_id.to_owned(), kind)) {
            issued.used = true;
            issued.tries += 1;
            issued.pending_password_hash = None;
        }
    }

    /// The bcrypt hash an account call set for `user_id`.
    pub(crate) fn password_hash(&self, user_id: &str) -> Option<&str> {
        self.passwords.get(user_id).map(String::as_str)
    }

    pub(crate) fn set_password_hash(&mut self, user_id: &str, hash: String) {
        self.passwords.insert(user_id.to_owned(), hash);
    }

    /// Puts a mail in the outbox.
    pub(crate) fn post(&mut self, mail: OutboxMail) {
        self.outbox.push(mail);
    }
}

/// The [`Ledger`] the handlers share, and where the links of mails point.
pub(crate) struct AccountLedger {
    ledger: Mutex<Ledger>,
    /// The emulator's base URL (`http://127.0.0.1:41234`).
    link_base: String,
}

/// Counts only: no code digest, password hash or mail. Never waits for the lock (a debug print
/// while a call holds it shows `<busy>`).
impl fmt::Debug for AccountLedger {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = formatter.debug_struct("AccountLedger");
        shown.field("link_base", &self.link_base);
        let ledger = match self.ledger.try_lock() {
            Ok(ledger) => Some(ledger),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        match ledger {
            Some(ledger) => shown
                .field("issued", &ledger.issued.len())
                .field("passwords", &ledger.passwords.len())
                .field("outbox", &ledger.outbox.len()),
            None => shown.field("ledger", &"<busy>"),
        };
        shown.finish()
    }
}

impl AccountLedger {
    pub(crate) fn new(link_base: String) -> Self {
        AccountLedger {
            ledger: Mutex::new(Ledger::default()),
            link_base,
        }
    }

    /// The ledger, for one call's checks and changes at once. Never held across an `await`;
    /// taken before the store's lock when both are needed, never after.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Ledger> {
        // Every change is whole before the lock is released: data behind a poisoned lock is
        // still consistent.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn link_base(&self) -> &str {
        &self.link_base
    }

    /// The bcrypt hash an account call set for `user_id` (what `auth/login` checks first).
    pub(crate) fn password_hash(&self, user_id: &str) -> Option<String> {
        self.lock().password_hash(user_id).map(str::to_owned)
    }

    /// Every mail so far, in send order.
    pub(crate) fn outbox(&self) -> Vec<OutboxMail> {
        self.lock().outbox.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap_or_default()
    }

    #[test]
    fn a_code_allows_five_tries_and_expires() {
        let mut ledger = Ledger::default();
        assert!(ledger.issue("u1", MailKind::Verify, "123456", Some("hash".into()), at(0)));
        for _ in 0..4 {
            assert_eq!(
                ledger.try_code("u1", MailKind::Verify, "000000", at(1)),
                CodeCheck::Refused
            );
        }
        assert_eq!(
            ledger.try_code("u1", MailKind::Verify, "123456", at(1)),
            CodeCheck::Right {
                pending_password_hash: Some("hash".into())
            }
        );
        // Spent.
        assert_eq!(
            ledger.try_code("u1", MailKind::Verify, "123456", at(1)),
            CodeCheck::Refused
        );

        // Five wrong tries spend a code; the next one resets the tries and keeps the pending
        // password when it brings none.
        assert!(ledger.issue("u2", MailKind::Verify, "111111", Some("p".into()), at(0)));
        for _ in 0..5 {
            ledger.try_code("u2", MailKind::Verify, "000000", at(1));
        }
        assert_eq!(
            ledger.try_code("u2", MailKind::Verify, "111111", at(1)),
            CodeCheck::Refused
        );
        assert!(ledger.issue("u2", MailKind::Verify, "222222", None, at(2)));
        assert_eq!(
            ledger.try_code("u2", MailKind::Verify, "222222", at(11)),
            CodeCheck::Right {
                pending_password_hash: Some("p".into())
            }
        );

        // Ten minutes.
        assert!(ledger.issue("u3", MailKind::Verify, "333333", None, at(0)));
        assert_eq!(
            ledger.try_code("u3", MailKind::Verify, "333333", at(10)),
            CodeCheck::Refused
        );
    }

    #[test]
    fn five_codes_of_a_kind_an_hour() {
        let mut ledger = Ledger::default();
        for minute in 0..5 {
            assert!(ledger.issue(
                "u1",
                MailKind::Reset,
                &format!("t{minute}"),
                None,
                at(minute)
            ));
        }
        assert!(!ledger.issue("u1", MailKind::Reset, "t5", None, at(30)));
        // The refused one did not replace the one before; another kind has its own count.
        assert_eq!(
            ledger.token_user(MailKind::Reset, "t4", at(30)),
            Some("u1".into())
        );
        assert_eq!(ledger.token_user(MailKind::Reset, "t5", at(30)), None);
        assert!(ledger.issue("u1", MailKind::Verify, "v", None, at(30)));
        // An hour after the first, a new count.
        assert!(ledger.issue("u1", MailKind::Reset, "t6", None, at(60)));
    }

    #[test]
    fn tokens_work_once_for_their_kind_and_life() {
        let mut ledger = Ledger::default();
        assert!(ledger.issue("u1", MailKind::Reset, "reset-token", None, at(0)));
        assert_eq!(
            ledger.token_user(MailKind::Invite, "reset-token", at(1)),
            None
        );
        assert_eq!(
            ledger.token_user(MailKind::Reset, "reset-token", at(59)),
            Some("u1".into())
        );
        assert_eq!(
            ledger.token_user(MailKind::Reset, "reset-token", at(60)),
            None
        );
        ledger.spend("u1", MailKind::Reset);
        assert_eq!(
            ledger.token_user(MailKind::Reset, "reset-token", at(1)),
            None
        );
    }

    #[test]
    fn nothing_secret_is_printed() {
        let accounts = AccountLedger::new("http://127.0.0.1:1".into());
        {
            let mut ledger = accounts.lock();
            ledger.set_password_hash("u1", "$2b$04$secret-hash".into());
            ledger.issue("u1", MailKind::Verify, "424242", None, at(0));
            ledger.post(OutboxMail {
                to: "a@example.com".into(),
                kind: MailKind::Verify,
                code: Some("424242".into()),
                token: None,
                link: None,
                sent_at: at(0),
            });
        }
        let printed = format!("{accounts:?} {:?}", accounts.outbox());
        assert!(!printed.contains("secret-hash"), "{printed}");
        assert!(!printed.contains("424242"), "{printed}");
        assert_eq!(accounts.outbox()[0].to_json()["code"], "424242");
        assert_eq!(
            accounts.password_hash("u1").as_deref(),
            Some("$2b$04$secret-hash")
        );
    }
}
