//! The SDK's account calls over real HTTP, answering as `offbase serve` does (its
//! `tests/accounts.rs` pins the same statuses and bodies): register, the code from the outbox,
//! verify-otp signing in, resend-otp, the tries and the hourly limit of codes; password resets
//! and changes; invitations and their one-time links; the outbox itself.
//!
//! The app: one `Task` entity and the platform's `User` entity with three users: Ada (an
//! admin, no password), Nina (a user whose record keeps a bcrypt `password_hash`, as a
//! migrated app's may) and Olga (disabled).

mod common;

use common::{KEY, config, start};
use offbase_emulator::{MailKind, Route, RunningEmulator};
use serde_json::{Map, Value, json};

const ADA: &str = "ada.admin@example.com";
const ADA_ID: &str = "66a000000000000000000001";
const NINA: &str = "nina.young@example.com";
const NINA_ID: &str = "66a000000000000000000002";
const NINA_PASSWORD: &str = "nina's long passphrase";
const OLGA: &str = "olga.off@example.com";

const WRONG_CODE: &str = "the code is wrong or has expired (a code allows 5 tries and lasts 10 \
                          minutes): ask for a new one with auth/resend-otp";
const DISABLED: &str = "this user is disabled: a disabled user cannot sign in";
const BAD_RESET: &str = "the reset token is invalid, used or expired: ask for a new one with \
                         auth/reset-password-request";
const BAD_LINK: &str = "this sign-in link is invalid, used or expired: ask for a new one, or \
                        reset the password (auth/reset-password-request)";

/// The staged app, in a temporary folder, and Nina's loaded hash.
fn app() -> (tempfile::TempDir, String) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let entities = folder.path().join("base44/entities");
    let data = folder.path().join("data");
    for path in [&entities, &data] {
        std::fs::create_dir_all(path).unwrap_or_else(|error| panic!("{error}"));
    }
    let task = json!({"name": "Task", "properties": {"title": {"type": "string"}}});
    std::fs::write(entities.join("task.jsonc"), task.to_string())
        .unwrap_or_else(|error| panic!("{error}"));
    // The lowest cost bcrypt takes: the tests stay quick.
    let hash = bcrypt::hash(NINA_PASSWORD, 4).unwrap_or_else(|error| panic!("bcrypt: {error}"));
    let stamp = "2025-07-01T08:00:00.000000";
    let users = [
        json!({"id": ADA_ID, "created_date": stamp, "updated_date": stamp, "email": ADA,
            "full_name": "Ada Admin", "role": "admin", "is_verified": true}),
        json!({"id": NINA_ID, "created_date": stamp, "updated_date": stamp, "email": NINA,
            "full_name": "Nina Young", "role": "user", "is_verified": true,
            "password_hash": hash}),
        json!({"id": "66a000000000000000000003", "created_date": stamp, "updated_date": stamp,
            "email": OLGA, "full_name": "Olga Off", "role": "user", "disabled": true}),
    ];
    let lines: Vec<String> = users.iter().map(Value::to_string).collect();
    std::fs::write(data.join("User.jsonl"), lines.join("\n") + "\n")
        .unwrap_or_else(|error| panic!("{error}"));
    (folder, hash)
}

/// A status and a JSON body.
type Answer = (u16, Value);

/// A client of the emulator that follows no redirect.
struct Client<'a> {
    emulator: &'a RunningEmulator,
    http: reqwest::Client,
}

impl<'a> Client<'a> {
    fn new(emulator: &'a RunningEmulator) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|error| panic!("{error}"));
        Client { emulator, http }
    }

    /// `{api_url}/api/apps/{app_id}/{call}`.
    fn url(&self, call: &str) -> String {
        let (base, app) = (self.emulator.api_url(), self.emulator.app_id());
        format!("{base}/api/apps/{app}/{call}")
    }

    /// `POST` a JSON body to `call`, as `bearer` (a token or the key) when given.
    async fn post_as(&self, call: &str, body: Value, bearer: Option<&str>) -> Answer {
        let request = self.http.post(self.url(call)).body(body.to_string());
        let mut request = request.header("content-type", "application/json");
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        read_answer(request).await
    }

    /// `POST` a JSON body to `call` without credentials.
    async fn post(&self, call: &str, body: Value) -> Answer {
        self.post_as(call, body, None).await
    }

    async fn login(&self, email: &str, password: &str) -> Answer {
        let body = json!({"email": email, "password": password});
        self.post("auth/login", body).await
    }

    async fn register(&self, email: &str, password: &str) -> Answer {
        let body = json!({"email": email, "password": password});
        self.post("auth/register", body).await
    }

    async fn verify(&self, email: &str, code: Value) -> Answer {
        let body = json!({"email": email, "otp_code": code});
        self.post("auth/verify-otp", body).await
    }

    async fn resend(&self, email: &str) -> Answer {
        self.post("auth/resend-otp", json!({"email": email})).await
    }

    async fn request_reset(&self, email: &str) -> Answer {
        let body = json!({"email": email});
        self.post("auth/reset-password-request", body).await
    }

    async fn reset(&self, token: &str, password: &str) -> Answer {
        let body = json!({"reset_token": token, "new_password": password});
        self.post("auth/reset-password", body).await
    }

    async fn invite(&self, call: &str, email: &str, role: &str, bearer: Option<&str>) -> Answer {
        let body = json!({"user_email": email, "role": role});
        self.post_as(call, body, bearer).await
    }

    async fn me(&self, token: &str) -> Answer {
        read_answer(
            self.http
                .get(self.url("entities/User/me"))
                .bearer_auth(token),
        )
        .await
    }

    /// The outbox over HTTP, with the key, for one address.
    async fn mails_to(&self, to: &str) -> Vec<Value> {
        let request = self.http.get(self.url("emulator/outbox"));
        let (status, body) = read_answer(request.query(&[("to", to)]).header("api_key", KEY)).await;
        assert_eq!(status, 200, "{body}");
        match body {
            Value::Array(mails) => mails,
            other => panic!("the outbox is no array: {other}"),
        }
    }

    /// The last mail to `to`, which must be of `kind`.
    async fn last_mail(&self, to: &str, kind: &str) -> Value {
        let mails = self.mails_to(to).await;
        let mail = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
        assert_eq!(mail["kind"], kind, "{mail}");
        mail.clone()
    }

    /// The code of the last verification mail to `to`.
    async fn code(&self, to: &str) -> String {
        let mail = self.last_mail(to, "verify").await;
        let code = mail["code"].as_str().unwrap_or_default().to_owned();
        let digits = code.len() == 6 && code.bytes().all(|byte| byte.is_ascii_digit());
        assert!(digits, "{mail}");
        assert_eq!(
            (&mail["token"], &mail["link"]),
            (&Value::Null, &Value::Null)
        );
        code
    }

    /// The token of the last mail of `kind` to `to`.
    async fn token(&self, to: &str, kind: &str) -> String {
        let mail = self.last_mail(to, kind).await;
        assert_eq!(mail["code"], Value::Null, "{mail}");
        let token = mail["token"].as_str().unwrap_or_default().to_owned();
        assert_eq!(token.len(), 64, "{mail}");
        token
    }

    /// A token for a user of the staged data (`auth/test-token`).
    async fn token_of(&self, email: &str) -> String {
        let answer = self.post_as("auth/test-token", json!({"email": email}), Some(KEY));
        access_token(&answer.await.1)
    }

    /// `GET path` (under the API URL): the status, the `Location` header and the body.
    async fn get_location(&self, path: &str) -> (u16, String, Value) {
        let url = format!("{}{path}", self.emulator.api_url());
        let response = self.http.get(url).send().await;
        let response = response.unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let header = |name: &str| {
            let value = response.headers().get(name);
            let value = value.and_then(|value| value.to_str().ok());
            value.unwrap_or_default().to_owned()
        };
        let (location, cache) = (header("location"), header("cache-control"));
        let status = response.status().as_u16();
        if status == 303 {
            assert_eq!(cache, "no-store");
        }
        let body = response.bytes().await.unwrap_or_default();
        (
            status,
            location,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }

    /// The live User record with this email.
    fn record_of(&self, email: &str) -> Value {
        let records = self.emulator.store().live_records("User");
        let record = records.into_iter().find(|record| record["email"] == email);
        Value::Object(record.unwrap_or_else(|| panic!("no User record for {email}")))
    }
}

async fn read_answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await;
    let response = response.unwrap_or_else(|error| panic!("request: {error}"));
    let status = response.status().as_u16();
    let bytes = response.bytes().await;
    let bytes = bytes.unwrap_or_else(|error| panic!("body: {error}"));
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

fn access_token(body: &Value) -> String {
    let token = body["access_token"].as_str();
    token
        .unwrap_or_else(|| panic!("no access_token in {body}"))
        .to_owned()
}

/// An error answer: `status` and `{"error": message, "message": message}`.
fn error(status: u16, message: &str) -> Answer {
    (status, json!({"error": message, "message": message}))
}

/// No answer carries a code, token, password or hash other than a sign-in's own token.
fn assert_no_secret(body: &Value, secrets: &[&str]) {
    let text = body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "an answer leaks a secret: {text}");
    }
}

fn record_keys(record: &Value) -> Vec<&str> {
    let keys = record
        .as_object()
        .map(|record| record.keys().map(String::as_str));
    let mut keys: Vec<&str> = keys.into_iter().flatten().collect();
    keys.sort_unstable();
    keys
}

/// The named fields of a record, as an object.
fn fields(record: &Value, names: &[&str]) -> Value {
    let picked = names
        .iter()
        .map(|name| ((*name).to_owned(), record[*name].clone()));
    Value::Object(picked.collect::<Map<String, Value>>())
}

#[tokio::test]
async fn register_verify_sign_in_and_change_the_password() {
    let (folder, _) = app();
    let emulator = start(config(folder.path())).await;
    let client = Client::new(&emulator);
    let email = "new.person@example.com";

    let body = json!({"email": email, "password": "first-password", "full_name": " New Person "});
    let (status, body) = client.post("auth/register", body).await;
    let message =
        format!("a verification code was sent to {email}: verify it with auth/verify-otp");
    let expected = json!({"success": true, "message": message, "email": email, "expires_in": 600});
    assert_eq!((status, &body), (200, &expected));
    let mail = client.last_mail(email, "verify").await;
    let sent_at = mail["sent_at"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(sent_at).is_ok(),
        "{mail}"
    );
    let code = client.code(email).await;
    assert_no_secret(&body, &[&code, "first-password"]);

    // The account's User record, as `offbase serve` writes a new account's.
    let created = client.record_of(email);
    let built_ins = [
        "app_id",
        "created_date",
        "disabled",
        "email",
        "full_name",
        "id",
    ];
    let keys: Vec<&str> = [
        &built_ins[..],
        &["is_service", "is_verified", "role", "updated_date"],
    ]
    .concat();
    assert_eq!(record_keys(&created), keys);
    let names = [
        "email",
        "full_name",
        "role",
        "disabled",
        "is_verified",
        "app_id",
        "is_service",
    ];
    let expected = json!({"email": email, "full_name": "New Person", "role": "user",
        "disabled": false, "is_verified": false, "app_id": emulator.app_id(),
        "is_service": false});
    assert_eq!(fields(&created, &names), expected);

    // Until the code is verified, the password signs no one in.
    let invalid = error(401, "invalid email or password");
    assert_eq!(client.login(email, "first-password").await, invalid);

    let usage = "verifying takes `{\"email\": ..., \"otp_code\": ...}`";
    assert_eq!(client.verify(email, json!("")).await, error(400, usage));
    let (status, verified) = client.verify(email, json!(code)).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(
        record_keys(&verified),
        ["access_token", "token_type", "user"]
    );
    assert_eq!(verified["token_type"], "Bearer");
    let user = &verified["user"];
    assert_eq!(
        (&user["email"], &user["is_verified"]),
        (&json!(email), &json!(true))
    );
    assert_eq!(user["id"], created["id"]);
    // No password hash in the answer.
    assert_eq!(record_keys(user), record_keys(&created));
    let token = access_token(&verified);
    let (status, me) = client.me(&token).await;
    assert_eq!((status, &me), (200, user));
    assert_eq!(
        (&me["full_name"], &me["role"]),
        (&json!("New Person"), &json!("user"))
    );
    let user_id = me["id"].as_str().unwrap_or_default().to_owned();

    // The code is spent.
    assert_eq!(
        client.verify(email, json!(code)).await,
        error(400, WRONG_CODE)
    );

    let (status, signed_in) = client.login(email, "first-password").await;
    assert_eq!((status, &signed_in["user"]), (200, &me));
    let again = "NEW.person@example.com";
    let message = format!(
        "{again} is already registered: sign in, or reset the password \
         (auth/reset-password-request)"
    );
    assert_eq!(
        client.register(again, "another-password").await,
        error(409, &message)
    );

    // Bad registrations.
    let usage = "registering takes `{\"email\": ..., \"password\": ...}`";
    let short = "a password has at least 8 characters";
    let long = "a password has at most 72 bytes (bcrypt reads no further)";
    for (body, status, message) in [
        (json!({"password": "long-enough"}), 400, usage),
        (
            json!({"email": "not an address", "password": "long-enough"}),
            400,
            "`email` is not a mail address",
        ),
        (
            json!({"email": "short@example.com", "password": "short"}),
            400,
            short,
        ),
        (
            json!({"email": "long@example.com", "password": "x".repeat(73)}),
            400,
            long,
        ),
        (
            json!({"email": OLGA, "password": "long-enough"}),
            403,
            DISABLED,
        ),
    ] {
        let answer = client.post("auth/register", body.clone()).await;
        assert_eq!(answer, error(status, message), "{body}");
    }
    let array = read_answer(client.http.post(client.url("auth/register")).body("[1]")).await;
    let message = "the request body must be a JSON object, found an array";
    assert_eq!(array, error(400, message));

    // Changing the password: the signed-in user's own, given the current one.
    let change = |current: &str, user: &str| {
        json!({"user_id": user, "current_password": current,
            "new_password": "second-password"})
    };
    let call = "auth/change-password";
    let body = change("first-password", &user_id);
    let message = "changing a password takes the signed-in user's token (Authorization: Bearer \
                   <token>)";
    assert_eq!(client.post(call, body.clone()).await, error(401, message));
    let message = "changing a password takes the signed-in user's own token: the service key \
                   is no user";
    assert_eq!(
        client.post_as(call, body, Some(KEY)).await,
        error(403, message)
    );
    let body = change("first-password", NINA_ID);
    let message = "a user changes only their own password: `user_id` is not the signed-in user";
    assert_eq!(
        client.post_as(call, body, Some(&token)).await,
        error(403, message)
    );
    let body = change("wrong-password", &user_id);
    let message = "the current password is not right";
    assert_eq!(
        client.post_as(call, body, Some(&token)).await,
        error(400, message)
    );
    let (status, body) = client
        .post_as(call, change("first-password", &user_id), Some(&token))
        .await;
    let changed = json!({"success": true, "message": "the password was changed"});
    assert_eq!((status, &body), (200, &changed));
    assert_no_secret(&body, &["first-password", "second-password"]);
    assert_eq!(
        client.login(email, "first-password").await.0,
        401,
        "the old password"
    );
    let (status, body) = client.login(email, "second-password").await;
    assert_eq!(status, 200, "{body}");

    // A user without a password changes none.
    let ada = client.token_of(ADA).await;
    let body = json!({"current_password": "anything-at-all", "new_password": "ada-password"});
    let message = "this user has no password yet: set one with a reset \
                   (auth/reset-password-request)";
    assert_eq!(
        client.post_as(call, body, Some(&ada)).await,
        error(400, message)
    );

    // No record but Nina's, loaded so, has a hash.
    for record in emulator.store().live_records("User") {
        if record["id"] != NINA_ID {
            assert!(!record.contains_key("password_hash"), "{record:?}");
        }
    }
    let stats = emulator.stats();
    assert_eq!(stats.responses(Route::Register, 200), 1);
    assert_eq!(stats.responses(Route::VerifyOtp, 200), 1);
    assert_eq!(stats.responses(Route::ChangePassword, 200), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn wrong_codes_resends_and_the_hourly_limit() {
    let (folder, _) = app();
    let emulator = start(config(folder.path())).await;
    let client = Client::new(&emulator);

    // Five wrong codes spend the code: the right one is refused afterwards.
    let other = "second.person@example.com";
    assert_eq!(client.register(other, "other-password").await.0, 200);
    let code = client.code(other).await;
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().unwrap_or_default() + 1) % 1_000_000
    );
    for attempt in 0..5 {
        let answer = client.verify(other, json!(wrong)).await;
        assert_eq!(answer, error(400, WRONG_CODE), "try {attempt}");
    }
    let answer = client.verify(other, json!(code)).await;
    assert_eq!(
        answer,
        error(400, WRONG_CODE),
        "the right code after 5 wrong ones"
    );

    // A new code works (typed as a number too); resending answers the same for any address,
    // and mails only an account waiting for a code.
    let message = "if this email has an account waiting for a code, a new code was sent to it";
    let resent = (
        200,
        json!({"success": true, "message": message, "expires_in": 600}),
    );
    assert_eq!(client.resend(other).await, resent);
    for address in ["nobody.here@example.com", NINA, OLGA] {
        assert_eq!(client.resend(address).await, resent, "{address}");
        assert!(client.mails_to(address).await.is_empty(), "{address}");
    }
    let code = client.code(other).await;
    assert_eq!(client.mails_to(other).await.len(), 2);
    let (status, body) = client
        .verify(other, json!(code.parse::<u32>().unwrap_or_default()))
        .await;
    if code.starts_with('0') {
        // A number loses its leading zeros: that code is typed as text.
        assert_eq!(status, 400, "{body}");
        assert_eq!(client.verify(other, json!(code)).await.0, 200);
    } else {
        assert_eq!(status, 200, "{body}");
    }
    // The password given at registration, kept through the resend.
    let (status, body) = client.login(other, "other-password").await;
    assert_eq!(status, 200, "{body}");
    // A verified account with a password gets no code.
    assert_eq!(client.resend(other).await, resent);
    assert_eq!(client.mails_to(other).await.len(), 2);

    // At most 5 codes an hour to one account: the sixth is not sent, and a registration that
    // needs one is refused; the fifth code still works.
    let third = "third.person@example.com";
    assert_eq!(client.register(third, "third-password").await.0, 200);
    for _ in 0..5 {
        assert_eq!(client.resend(third).await, resent);
    }
    assert_eq!(client.mails_to(third).await.len(), 5);
    let fifth = client.code(third).await;
    let message =
        format!("5 mails of this kind were sent to {third} in the last hour: try again later");
    assert_eq!(
        client.register(third, "third-password").await,
        error(429, &message)
    );
    assert_eq!(client.mails_to(third).await.len(), 5);
    let (status, body) = client.verify(third, json!(fifth)).await;
    assert_eq!(status, 200, "{body}");

    // A disabled user verifies nothing; an unknown address is a wrong code.
    assert_eq!(
        client.verify(OLGA, json!("123456")).await,
        error(403, DISABLED)
    );
    let unknown = client
        .verify("nobody.here@example.com", json!("123456"))
        .await;
    assert_eq!(unknown, error(400, WRONG_CODE));

    // The outbox: the key only, this app only, the Rust view the same.
    let (status, _) = read_answer(client.http.get(client.url("emulator/outbox"))).await;
    assert_eq!(status, 401);
    let elsewhere = format!(
        "{}/api/apps/another-app/emulator/outbox",
        emulator.api_url()
    );
    let (status, _) = read_answer(client.http.get(elsewhere).header("api_key", KEY)).await;
    assert_eq!(status, 404);
    let (status, all) = read_answer(
        client
            .http
            .get(client.url("emulator/outbox"))
            .bearer_auth(KEY),
    )
    .await;
    assert_eq!(status, 200);
    let outbox = emulator.outbox();
    assert_eq!(outbox.len(), 7);
    assert!(outbox.iter().all(|mail| mail.kind == MailKind::Verify));
    let listed: Vec<Value> = outbox.iter().map(|mail| mail.to_json()).collect();
    assert_eq!(all, Value::Array(listed));
    assert!(!format!("{outbox:?}").contains(&fifth));
    emulator.shutdown().await;
}

#[tokio::test]
async fn password_resets() {
    let (folder, loaded_hash) = app();
    let emulator = start(config(folder.path())).await;
    let client = Client::new(&emulator);

    // Nina's loaded hash signs her in.
    let (status, body) = client.login(NINA, NINA_PASSWORD).await;
    assert_eq!(status, 200, "{body}");

    // A reset request answers the same for an account and for no account (or a disabled
    // one), and mails only the account.
    let message = "if an account uses this email, a mail with a reset link was sent to it";
    let requested = (200, json!({"success": true, "message": message}));
    for address in [NINA, "no.account@example.com", OLGA] {
        assert_eq!(client.request_reset(address).await, requested, "{address}");
    }
    assert!(client.mails_to("no.account@example.com").await.is_empty());
    assert!(client.mails_to(OLGA).await.is_empty());
    let reset_token = client.token(NINA, "reset").await;
    let link = format!("{}/login#reset_token={reset_token}", emulator.api_url());
    assert_eq!(client.last_mail(NINA, "reset").await["link"], link);

    let short = "a password has at least 8 characters";
    assert_eq!(client.reset(&reset_token, "short").await, error(400, short));
    let (status, body) = client.reset(&reset_token, "nina-new-password").await;
    let message = "the password was reset: sign in with the new one";
    assert_eq!(
        (status, &body),
        (200, &json!({"success": true, "message": message}))
    );
    assert_no_secret(&body, &[&reset_token, "nina-new-password"]);
    assert_eq!(
        client.login(NINA, NINA_PASSWORD).await.0,
        401,
        "the old password"
    );
    let (status, signed_in) = client.login(NINA, "nina-new-password").await;
    assert_eq!(status, 200, "{signed_in}");
    // The record keeps the hash it was loaded with, as `offbase serve`'s does: the new one is
    // in no answer.
    assert_eq!(signed_in["user"]["password_hash"], loaded_hash);
    let stored = emulator.store().record("User", NINA_ID);
    let stored = stored.and_then(|record| record.get("password_hash").cloned());
    assert_eq!(stored, Some(json!(loaded_hash)));

    // A token works once; a made-up one never.
    for token in [reset_token.as_str(), "not-a-token"] {
        let answer = client.reset(token, "nina-other-password").await;
        assert_eq!(answer, error(400, BAD_RESET), "{token}");
    }
    let answer = client.post(
        "auth/reset-password",
        json!({"new_password": "whatever-password"}),
    );
    let usage = "resetting takes `{\"reset_token\": ..., \"new_password\": ...}`";
    assert_eq!(answer.await, error(400, usage));

    // A migrated user without a password gets one by a reset.
    assert_eq!(client.request_reset(ADA).await, requested);
    let ada_token = client.token(ADA, "reset").await;
    assert_eq!(client.reset(&ada_token, "ada-first-password").await.0, 200);
    let (status, body) = client.login(ADA, "ada-first-password").await;
    assert_eq!(
        (status, &body["user"]["role"]),
        (200, &json!("admin")),
        "{body}"
    );

    // A change of password makes a reset link mailed before worthless.
    assert_eq!(client.request_reset(ADA).await, requested);
    let stale = client.token(ADA, "reset").await;
    let change = json!({"user_id": ADA_ID, "current_password": "ada-first-password",
        "new_password": "ada-second-password"});
    let ada = access_token(&body);
    let changed = client.post_as("auth/change-password", change, Some(&ada));
    assert_eq!(changed.await.0, 200);
    assert_eq!(
        client.reset(&stale, "ada-third-password").await,
        error(400, BAD_RESET)
    );
    assert_eq!(client.login(ADA, "ada-second-password").await.0, 200);

    // Five reset mails an hour: the sixth request answers the same and sends nothing.
    for _ in 0..5 {
        assert_eq!(client.request_reset(NINA).await, requested);
    }
    assert_eq!(client.mails_to(NINA).await.len(), 5);
    assert_eq!(emulator.stats().responses(Route::ResetPassword, 200), 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn invitations_and_their_links() {
    let (folder, _) = app();
    let emulator = start(config(folder.path())).await;
    let client = Client::new(&emulator);
    let nina = client.token_of(NINA).await;
    let ada = client.token_of(ADA).await;
    let invite = "users/invite-user";
    let invited = "invited.person@example.com";

    // Only an admin or the service role invites.
    let only = "only an admin or the service role may invite users";
    let message = format!("{only}; user {NINA} is not an admin");
    let answer = client.invite(invite, invited, "user", Some(&nina)).await;
    assert_eq!(answer, error(403, &message));
    let message =
        format!("{only}: send an admin's token (Authorization: Bearer <token>) or the service key");
    assert_eq!(
        client.invite(invite, invited, "user", None).await,
        error(401, &message)
    );
    let answer = client
        .invite(invite, invited, "user", Some("not-the-key"))
        .await;
    assert_eq!(answer.0, 401);
    let message = "`role` is a role name: letters, digits, `_` and `-` (e.g. `user` or `admin`)";
    let answer = client.invite(invite, invited, "no way!", Some(KEY)).await;
    assert_eq!(answer, error(400, message));
    assert!(client.mails_to(invited).await.is_empty());

    let answer = client.invite(invite, invited, "", Some(KEY)).await;
    let expected =
        json!({"success": true, "user_email": invited, "role": "user", "expires_in": 604800});
    assert_eq!(answer, (200, expected));
    let token = client.token(invited, "invite").await;
    let app_id = emulator.app_id();
    let path = format!("/api/apps/{app_id}/auth/login-token?token={token}&from_url=/");
    let mail = client.last_mail(invited, "invite").await;
    assert_eq!(mail["link"], format!("{}{path}", emulator.api_url()));
    let record = client.record_of(invited);
    let expected = json!({"role": "user", "is_verified": false, "disabled": false});
    assert_eq!(
        fields(&record, &["role", "is_verified", "disabled"]),
        expected
    );
    assert!(record.get("full_name").is_none());
    // No password yet.
    assert_eq!(client.login(invited, "anything-at-all").await.0, 401);

    // The link signs in once, back to `from_url`.
    let (status, location, _) = client.get_location(&path).await;
    assert_eq!(status, 303, "{location}");
    let signed_in = location.strip_prefix("/?access_token=");
    let (status, me) = client
        .me(signed_in.unwrap_or_else(|| panic!("{location}")))
        .await;
    assert_eq!(status, 200, "{me}");
    let expected = json!({"email": invited, "role": "user", "is_verified": true});
    assert_eq!(fields(&me, &["email", "role", "is_verified"]), expected);
    let (status, _, body) = client.get_location(&path).await;
    assert_eq!((status, body), error(401, BAD_LINK));

    // An admin invites too, through the users module's path; a foreign `from_url` is refused
    // before the token is spent.
    let second = "second.admin@example.com";
    let (status, body) = client
        .invite("runtime/users/invite-user", second, "admin", Some(&ada))
        .await;
    assert_eq!((status, &body["role"]), (200, &json!("admin")), "{body}");
    let token = client.token(second, "invite").await;
    let link =
        |from: &str| format!("/api/apps/{app_id}/auth/login-token?token={token}&from_url={from}");
    for foreign in ["https://evil.example/", "//evil.example/tasks"] {
        assert_eq!(
            client.get_location(&link(foreign)).await.0,
            400,
            "{foreign}"
        );
    }
    let own = format!("{}/tasks", emulator.api_url());
    let (status, location, _) = client.get_location(&link(&own)).await;
    assert_eq!(status, 303, "{location}");
    assert!(
        location.starts_with(&format!("{own}?access_token=")),
        "{location}"
    );
    assert_eq!(client.login(second, "anything-at-all").await.0, 401);

    // Invited again: a new link, the role kept; an account with a password: 409.
    assert_eq!(
        client.invite(invite, second, "user", Some(KEY)).await.0,
        200
    );
    assert_eq!(client.record_of(second)["role"], "admin");
    let message = format!("{NINA} already has an account with a password: they can sign in");
    assert_eq!(
        client.invite(invite, NINA, "user", Some(KEY)).await,
        error(409, &message)
    );
    let no_token = format!("/api/apps/{app_id}/auth/login-token");
    assert_eq!(client.get_location(&no_token).await.0, 400);
    let stats = emulator.stats();
    assert_eq!(stats.responses(Route::InviteUser, 200), 3);
    assert_eq!(stats.responses(Route::LoginToken, 303), 2);
    emulator.shutdown().await;
}
