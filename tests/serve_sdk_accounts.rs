//! The published `@base44/sdk`'s account calls against the emulator and against `offbase
//! serve` over the same migrated app (`samples/tasks` with Nina, a user with a password, and
//! Ada, an admin without one): `auth.register`, `verifyOtp`, `resendOtp`,
//! `resetPasswordRequest`, `resetPassword`, `changePassword`, `inviteUser` and
//! `users.inviteUser`, with `loginViaEmailPassword` and `me` checking what each changed. Both
//! sides run the same story, step by step; the codes and tokens mailed in between are read
//! from each side's own mail: the server's through a real SMTP server (aiosmtpd), the
//! emulator's from its outbox. Every answer must be the same on both (errors by status).
//!
//! What each side makes anew is left to it (the id and timestamps of an account created here);
//! tokens never leave the SDK runner.

use offbase_emulator::MailKind;
use offbase_tests::sdk::{Sdk, auth_call, by_label, users_call};
use offbase_tests::smtp::{Smtp, code_in, line_after};
use offbase_tests::staging::{ADA_ID, NINA, NINA_ID, NINA_PASSWORD, TasksOnBoth};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Answers by label.
type Answers = BTreeMap<String, Value>;

const TOKEN_SECRET: &[u8] = b"serve-sdk-accounts-secret";
const NEWCOMER: &str = "new.comer@example.com";
const FIRST_PASSWORD: &str = "a first long password";
const SECOND_PASSWORD: &str = "a second long password";
const THIRD_PASSWORD: &str = "a third long password";
const INVITED: &str = "invited.person@example.com";

/// An answer as both sides must give it: an error's status; a value with what each side
/// makes anew (ids of accounts created here, timestamps) blanked.
fn comparable(result: &Value) -> Value {
    match result.get("error") {
        Some(error) => json!({"status": error["status"]}),
        None => blank_fresh(&result["ok"]),
    }
}

fn blank_fresh(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(blank_fresh).collect()),
        Value::Object(record) => Value::Object(
            record
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(field, value)| {
                    let fresh = match (field.as_str(), value.as_str()) {
                        ("id" | "user_id" | "created_by_id", Some(id)) => {
                            id != NINA_ID && id != ADA_ID
                        }
                        ("created_date" | "updated_date" | "last_login_date", Some(_)) => true,
                        _ => false,
                    };
                    let value = if fresh {
                        Value::String("(made by the server)".to_owned())
                    } else {
                        blank_fresh(value)
                    };
                    (field.clone(), value)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Emulator,
    Server,
}

/// The story's two sides, and the mail each sends.
struct Story {
    sdk: Sdk,
    both: TasksOnBoth,
    smtp: Smtp,
    /// Answers compared so far.
    compared: std::cell::Cell<usize>,
}

impl Story {
    fn url(&self, side: Side) -> String {
        match side {
            Side::Emulator => self.both.emulator.api_url(),
            Side::Server => self.both.server.api_url(),
        }
    }

    fn app_id(&self) -> String {
        self.both.emulator.app_id().to_owned()
    }

    /// A signed-in user's token on `side`.
    fn token(&self, side: Side, user: &str) -> String {
        match side {
            Side::Emulator => self.both.emulator.user_token(user),
            Side::Server => self.both.secret.issue(&self.app_id(), user),
        }
    }

    /// Runs `calls` on both sides (as `user`, when given, else anonymously); asserts equal
    /// answers and gives each side's, by label.
    async fn both(&self, step: &str, user: Option<&str>, calls: &[Value]) -> (Answers, Answers) {
        self.each(step, user, [calls.to_vec(), calls.to_vec()])
            .await
    }

    /// [`Story::both`] with each side's own calls (`[emulator, server]`: the same calls with
    /// what each side mailed).
    async fn each(
        &self,
        step: &str,
        user: Option<&str>,
        calls: [Vec<Value>; 2],
    ) -> (Answers, Answers) {
        let mut answers = Vec::new();
        for (side, calls) in [Side::Emulator, Side::Server].into_iter().zip(&calls) {
            let token = user.map(|user| self.token(side, user));
            let results = self
                .sdk
                .run(
                    &self.url(side),
                    &self.app_id(),
                    token.as_deref(),
                    None,
                    calls,
                )
                .await;
            answers.push(by_label(calls, &results));
        }
        let server = answers.pop().unwrap_or_default();
        let emulator = answers.pop().unwrap_or_default();
        for call in &calls[0] {
            let label = call["label"].as_str().unwrap_or_default();
            let (left, right) = (comparable(&emulator[label]), comparable(&server[label]));
            assert!(
                left == right,
                "{step}: {label}:\n emulator {left}\n server   {right}"
            );
            self.compared.set(self.compared.get() + 1);
        }
        (emulator, server)
    }

    /// The newest code or token of `kind` mailed to `to` on `side`, and on the server every
    /// mail to `to` taken up to it (`mails`: how many the step sent there).
    async fn mailed(&mut self, side: Side, kind: MailKind, to: &str, mails: usize) -> String {
        match side {
            Side::Emulator => {
                let outbox = self.both.emulator.outbox();
                let mail = outbox
                    .iter()
                    .rev()
                    .find(|mail| mail.to == to && mail.kind == kind)
                    .unwrap_or_else(|| panic!("no {} mail to {to} in {outbox:?}", kind.as_str()));
                match kind {
                    MailKind::Verify => mail.code.clone(),
                    MailKind::Reset | MailKind::Invite => mail.token.clone(),
                }
                .unwrap_or_else(|| panic!("the mail holds nothing: {mail:?}"))
            }
            Side::Server => {
                let mut last = None;
                for _ in 0..mails {
                    last = Some(self.smtp.next_mail(to).await);
                }
                let mail = last.unwrap_or_else(|| panic!("no mail to {to} was expected"));
                match kind {
                    MailKind::Verify => code_in(&mail),
                    MailKind::Reset => line_after(&mail, "reset token"),
                    MailKind::Invite => line_after(&mail, "Sign in with this link"),
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_account_calls_answer_alike_on_offbase_serve_and_the_platform() {
    let test = "serve_sdk_accounts";
    let Some(sdk) = Sdk::find_or_skip(test) else {
        return;
    };
    let Some(smtp) = Smtp::start_or_skip(test) else {
        return;
    };
    let both = TasksOnBoth::start(test, TOKEN_SECRET, Some(smtp.settings())).await;
    let mut story = Story {
        sdk,
        both,
        smtp,
        compared: std::cell::Cell::new(0),
    };

    // Registration: refusals, then a code mailed twice (register, resend).
    let (_, answers) = story
        .both(
            "register",
            None,
            &[
                auth_call("short password", "register", json!([{"email": NEWCOMER, "password": "short"}])),
                auth_call("no email", "register", json!([{"password": FIRST_PASSWORD}])),
                auth_call("taken", "register", json!([{"email": NINA, "password": FIRST_PASSWORD}])),
                auth_call("register", "register", json!([{"email": NEWCOMER, "password": FIRST_PASSWORD, "full_name": "New Comer"}])),
                auth_call("login before verifying", "loginViaEmailPassword", json!([NEWCOMER, FIRST_PASSWORD])),
                auth_call("resend", "resendOtp", json!([NEWCOMER])),
                auth_call("resend to nobody", "resendOtp", json!(["nobody@example.com"])),
                auth_call("wrong code", "verifyOtp", json!([{"email": NEWCOMER, "otpCode": "000000"}])),
            ],
        )
        .await;
    assert_eq!(
        answers["taken"]["error"]["status"], 409,
        "{}",
        answers["taken"]
    );
    assert_eq!(answers["short password"]["error"]["status"], 400);
    assert_eq!(answers["login before verifying"]["error"]["status"], 401);
    assert!(
        answers["register"].get("ok").is_some(),
        "{}",
        answers["register"]
    );

    // Verified with the newest code on each side: signed in, the password now works.
    let mut calls = Vec::new();
    for side in [Side::Emulator, Side::Server] {
        let code = story.mailed(side, MailKind::Verify, NEWCOMER, 2).await;
        calls.push(vec![
            auth_call(
                "verify",
                "verifyOtp",
                json!([{"email": NEWCOMER, "otpCode": code}]),
            ),
            auth_call(
                "verify again",
                "verifyOtp",
                json!([{"email": NEWCOMER, "otpCode": code}]),
            ),
            // The SDK keeps the token of a sign-in, not of a verification.
            auth_call(
                "login",
                "loginViaEmailPassword",
                json!([NEWCOMER, FIRST_PASSWORD]),
            ),
            auth_call("me", "me", json!([])),
        ]);
    }
    let (_, answers) = story
        .each("verify", None, [calls.remove(0), calls.remove(0)])
        .await;
    assert_eq!(
        answers["verify"]["ok"]["user"]["email"], NEWCOMER,
        "{}",
        answers["verify"]
    );
    assert_eq!(answers["verify"]["ok"]["user"]["is_verified"], true);
    assert_eq!(answers["me"]["ok"]["full_name"], "New Comer");
    assert_eq!(answers["verify again"]["error"]["status"], 400);
    assert_eq!(answers["login"]["ok"]["user"]["email"], NEWCOMER);

    // A reset: the same answer for an address no one has, a token mailed to one that is.
    story
        .both(
            "reset request",
            None,
            &[
                auth_call(
                    "reset nobody",
                    "resetPasswordRequest",
                    json!(["nobody@example.com"]),
                ),
                auth_call("reset", "resetPasswordRequest", json!([NEWCOMER])),
                auth_call(
                    "bad token",
                    "resetPassword",
                    json!([{"resetToken": "not-a-token", "newPassword": SECOND_PASSWORD}]),
                ),
            ],
        )
        .await;
    let mut calls = Vec::new();
    for side in [Side::Emulator, Side::Server] {
        let token = story.mailed(side, MailKind::Reset, NEWCOMER, 1).await;
        calls.push(vec![
            auth_call(
                "too short",
                "resetPassword",
                json!([{"resetToken": token, "newPassword": "short"}]),
            ),
            auth_call(
                "reset",
                "resetPassword",
                json!([{"resetToken": token, "newPassword": SECOND_PASSWORD}]),
            ),
            auth_call(
                "reset again",
                "resetPassword",
                json!([{"resetToken": token, "newPassword": THIRD_PASSWORD}]),
            ),
            auth_call(
                "old password",
                "loginViaEmailPassword",
                json!([NEWCOMER, FIRST_PASSWORD]),
            ),
            auth_call(
                "new password",
                "loginViaEmailPassword",
                json!([NEWCOMER, SECOND_PASSWORD]),
            ),
        ]);
    }
    let (_, answers) = story
        .each("reset", None, [calls.remove(0), calls.remove(0)])
        .await;
    assert_eq!(
        answers["reset"]["ok"]["success"], true,
        "{}",
        answers["reset"]
    );
    assert_eq!(answers["reset again"]["error"]["status"], 400);
    assert_eq!(answers["old password"]["error"]["status"], 401);
    assert_eq!(answers["new password"]["ok"]["user"]["email"], NEWCOMER);

    // A password change, by Nina, signed in.
    let (_, answers) = story
        .both(
            "change password",
            Some(NINA_ID),
            &[
                auth_call("wrong current", "changePassword", json!([{"userId": NINA_ID, "currentPassword": "not it", "newPassword": SECOND_PASSWORD}])),
                auth_call("change", "changePassword", json!([{"userId": NINA_ID, "currentPassword": NINA_PASSWORD, "newPassword": SECOND_PASSWORD}])),
                auth_call("old password", "loginViaEmailPassword", json!([NINA, NINA_PASSWORD])),
                auth_call("new password", "loginViaEmailPassword", json!([NINA, SECOND_PASSWORD])),
            ],
        )
        .await;
    assert_eq!(
        answers["change"]["ok"]["success"], true,
        "{}",
        answers["change"]
    );
    assert_eq!(answers["old password"]["error"]["status"], 401);
    story
        .both(
            "change password anonymously",
            None,
            &[auth_call("anonymous change", "changePassword", json!([{"userId": NINA_ID, "currentPassword": SECOND_PASSWORD, "newPassword": THIRD_PASSWORD}]))],
        )
        .await;

    // Invitations: an admin may, a user may not.
    let (_, answers) = story
        .both(
            "invite as a user",
            Some(NINA_ID),
            &[
                auth_call("invite", "inviteUser", json!([INVITED, "user"])),
                users_call("users invite", "inviteUser", json!([INVITED, "user"])),
            ],
        )
        .await;
    assert_eq!(
        answers["invite"]["error"]["status"], 403,
        "{}",
        answers["invite"]
    );
    let (_, answers) = story
        .both(
            "invite as an admin",
            Some(ADA_ID),
            &[
                auth_call("invite", "inviteUser", json!([INVITED, "user"])),
                users_call(
                    "users invite",
                    "inviteUser",
                    json!(["second.invited@example.com", "admin"]),
                ),
                auth_call("invite a member", "inviteUser", json!([NINA, "user"])),
            ],
        )
        .await;
    assert!(
        answers["invite"].get("ok").is_some(),
        "{}",
        answers["invite"]
    );
    for side in [Side::Emulator, Side::Server] {
        let link = story.mailed(side, MailKind::Invite, INVITED, 1).await;
        assert!(!link.is_empty(), "{side:?}");
    }

    let compared = story.compared.get();
    assert!(compared >= 30, "{compared} answers compared");
    println!("{compared} answers of the SDK's account calls compared, equal on both");
    story.both.stop().await;
}
