//! The SDK's account calls on `offbase serve`, with the mails going through a real SMTP server
//! (aiosmtpd, `python3 -m aiosmtpd`, pinned in `.ci/run`) into a maildir the tests read the
//! codes, tokens and links from.
//!
//! Each test migrates `samples/tasks` with two users the platform exported without passwords
//! (Ada, an admin; Nina, a user) into a fresh schema, creates their users table as
//! `offbase users export --format postgres` does (the export run in-process, its `users.sql`
//! applied with `psql`), and serves it with SMTP configured.
//!
//! Without aiosmtpd the tests say so and skip; with `OFFBASE_REQUIRE_CORPUS=1` (CI) they fail.
//!
//! The SMTP server and its mailbox are `offbase_tests::smtp` (the SDK comparison of the account
//! calls, `tests/serve_sdk_accounts.rs`, mails through it too).

mod common;

use common::{
    ADA, ADA_ID, NINA, NINA_ID, database_url, drop_schema, migrate_folder, serve_config,
    stage_sample, start_server, unique_schema_named,
};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::users::{ExportOptions, Format, export};
use offbase_pipeline::workspace::Workspace;
use offbase_serve::{RunningServer, ServeConfig, SmtpSettings};
use offbase_tests::smtp::{Smtp, code_in, line_after};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KEY: &str = "accounts-test-key";
const APP_ID: &str = "accounts-test-app";

// ---------------------------------------------------------------------------------------
// The app.

/// The migrated sample with its users table, served.
struct App {
    folder: tempfile::TempDir,
    schema: String,
    server: RunningServer,
    http: reqwest::Client,
    /// The users export's one-time login tokens, by user id.
    login_tokens: Vec<(String, String)>,
}

/// `samples/tasks` with the two users (no password: the platform exports none).
fn stage(app: &Path) {
    let users = [
        json!({"id": NINA_ID, "created_date": "2025-07-25T08:00:00.000000", "updated_date": "2025-07-25T08:00:00.000000", "email": NINA, "full_name": "Nina Young", "role": "user", "is_verified": true}),
        json!({"id": ADA_ID, "created_date": "2025-07-01T08:00:00.000000", "updated_date": "2025-07-01T08:00:00.000000", "email": ADA, "full_name": "Ada Admin", "role": "admin", "is_verified": true}),
    ];
    stage_sample(app, &users);
}

/// Migrates the staged sample into `schema`, exports its users as `users export --format
/// postgres` does and applies `users.sql` with psql.
async fn prepare(schema: &str) -> (tempfile::TempDir, PathBuf, Vec<(String, String)>) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    stage(&app);
    let workspace = folder.path().join("workspace");
    migrate_folder(app, &workspace, schema, "the staged sample").await;
    let out = folder.path().join("users-export");
    let mut export_options = ExportOptions::new(Format::Postgres);
    export_options.out = Some(out.clone());
    export_options.pg_schema = schema.to_owned();
    export(&Workspace::new(&workspace), &export_options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("users export --format postgres: {error}"));
    let applied = Command::new("psql")
        .arg(database_url())
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(out.join("users.sql"))
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("psql: {error}"));
    assert!(
        applied.status.success(),
        "psql -f users.sql: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let tokens = std::fs::read_to_string(out.join("login-tokens.csv"))
        .unwrap_or_else(|error| panic!("login-tokens.csv: {error}"));
    let login_tokens = tokens
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            Some((fields.first()?.to_string(), fields.get(2)?.to_string()))
        })
        .collect();
    (folder, workspace, login_tokens)
}

async fn serve(schema: &str, workspace: &Path, smtp: Option<SmtpSettings>) -> RunningServer {
    start_server(ServeConfig {
        smtp,
        ..serve_config(schema, workspace, APP_ID, KEY)
    })
    .await
}

impl App {
    async fn start(label: &str, smtp: &Smtp) -> App {
        let schema = unique_schema_named("accounts", label);
        let (folder, workspace, login_tokens) = prepare(&schema).await;
        let server = serve(&schema, &workspace, Some(smtp.settings())).await;
        App {
            folder,
            schema,
            server,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|error| panic!("{error}")),
            login_tokens,
        }
    }

    fn workspace(&self) -> PathBuf {
        self.folder.path().join("workspace")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.api_url())
    }

    fn auth(&self, call: &str) -> String {
        self.url(&format!("/api/apps/{APP_ID}/{call}"))
    }

    fn login_token(&self, id: &str) -> String {
        self.login_tokens
            .iter()
            .find(|(user, _)| user == id)
            .map(|(_, token)| token.clone())
            .unwrap_or_else(|| panic!("no login token for {id}"))
    }

    /// `POST /api/apps/{app}/{call}` with a JSON body, as `bearer` (a token or the key).
    async fn post(&self, call: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.auth(call))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        answer(request).await
    }

    async fn login(&self, email: &str, password: &str) -> (u16, Value) {
        self.post(
            "auth/login",
            json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    /// `User/me` as the holder of `token`.
    async fn me(&self, token: &str) -> (u16, Value) {
        answer(
            self.http
                .get(self.auth("entities/User/me"))
                .bearer_auth(token),
        )
        .await
    }

    /// `GET path`: the status and the `Location` header.
    async fn get_location(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (response.status().as_u16(), location)
    }

    /// Signs in with a login link: the access token of its redirect.
    async fn follow_login_link(&self, path: &str) -> String {
        let (status, location) = self.get_location(path).await;
        assert_eq!(status, 303, "{path}: {location}");
        token_of(&location)
    }

    async fn shutdown(self) {
        self.server.shutdown().await;
        drop_schema(&self.schema).await;
    }
}

fn token_of(location: &str) -> String {
    location
        .split_once("access_token=")
        .map(|(_, token)| {
            token
                .split(['&', '#'])
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|token| !token.is_empty())
        .unwrap_or_else(|| panic!("no access_token in {location}"))
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("request: {error}"));
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("body: {error}"));
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

fn access_token(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {body}"))
        .to_owned()
}

/// No answer carries a code, token or password other than a sign-in's own token.
fn assert_no_secret(body: &Value, secrets: &[&str]) {
    let text = body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "an answer leaks a secret: {text}");
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn register_verify_and_change_the_password() {
    let Some(mut smtp) = Smtp::start_or_skip("register_verify_and_change_the_password") else {
        return;
    };
    let app = App::start("register", &smtp).await;
    let email = "new.person@example.com";

    let (status, body) = app
        .post(
            "auth/register",
            json!({"email": email, "password": "first-password", "full_name": "New Person"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp.next_mail(email).await;
    assert!(mail.subject.contains("verification code"), "{mail:?}");
    let code = code_in(&mail);
    assert_no_secret(&body, &[&code, "first-password"]);

    // Until the code is verified, the password signs no one in.
    let (status, body) = app.login(email, "first-password").await;
    assert_eq!(status, 401, "{body}");

    let (status, verified) = app
        .post(
            "auth/verify-otp",
            json!({"email": email, "otp_code": code}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["user"]["email"], email, "{verified}");
    assert_eq!(verified["user"]["is_verified"], true, "{verified}");
    let token = access_token(&verified);
    let (status, me) = app.me(&token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], email);
    assert_eq!(me["full_name"], "New Person");
    assert_eq!(me["role"], "user");
    let user_id = me["id"].as_str().unwrap_or_default().to_owned();

    // The code is spent.
    let (status, body) = app
        .post(
            "auth/verify-otp",
            json!({"email": email, "otp_code": code}),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = app.login(email, "first-password").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            "auth/register",
            json!({"email": email, "password": "another-password"}),
            None,
        )
        .await;
    assert_eq!(status, 409, "registering twice: {body}");

    // Changing the password: the signed-in user's own, given the current one.
    let change = |current: &str, user: &str| json!({"user_id": user, "current_password": current, "new_password": "second-password"});
    let (status, body) = app
        .post(
            "auth/change-password",
            change("first-password", &user_id),
            None,
        )
        .await;
    assert_eq!(status, 401, "no token: {body}");
    let (status, body) = app
        .post(
            "auth/change-password",
            change("first-password", &user_id),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 403, "the service key: {body}");
    let (status, body) = app
        .post(
            "auth/change-password",
            change("first-password", NINA_ID),
            Some(&token),
        )
        .await;
    assert_eq!(status, 403, "another user: {body}");
    let (status, body) = app
        .post(
            "auth/change-password",
            change("wrong-password", &user_id),
            Some(&token),
        )
        .await;
    assert_eq!(status, 400, "a wrong current password: {body}");
    let (status, body) = app
        .post(
            "auth/change-password",
            change("first-password", &user_id),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_no_secret(&body, &["first-password", "second-password"]);
    let (status, _) = app.login(email, "first-password").await;
    assert_eq!(status, 401, "the old password after a change");
    let (status, body) = app.login(email, "second-password").await;
    assert_eq!(status, 200, "{body}");

    // Five wrong codes spend the code: the right one is refused afterwards.
    let other = "second.person@example.com";
    let (status, body) = app
        .post(
            "auth/register",
            json!({"email": other, "password": "other-password"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let code = code_in(&smtp.next_mail(other).await);
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().unwrap_or_default() + 1) % 1_000_000
    );
    for attempt in 0..5 {
        let (status, body) = app
            .post(
                "auth/verify-otp",
                json!({"email": other, "otp_code": wrong}),
                None,
            )
            .await;
        assert_eq!(status, 400, "wrong code {attempt}: {body}");
    }
    let (status, body) = app
        .post(
            "auth/verify-otp",
            json!({"email": other, "otp_code": code}),
            None,
        )
        .await;
    assert_eq!(status, 400, "the right code after 5 wrong ones: {body}");

    // A new code works; resending answers the same for any address.
    let (status, resent) = app
        .post("auth/resend-otp", json!({"email": other}), None)
        .await;
    assert_eq!(status, 200, "{resent}");
    let (status, unknown) = app
        .post(
            "auth/resend-otp",
            json!({"email": "nobody.here@example.com"}),
            None,
        )
        .await;
    assert_eq!((status, &unknown), (200, &resent));
    let code = code_in(&smtp.next_mail(other).await);
    let (status, body) = app
        .post(
            "auth/verify-otp",
            json!({"email": other, "otp_code": code}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.login(other, "other-password").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(smtp.count_to("nobody.here@example.com"), 0);

    app.shutdown().await;
}

#[tokio::test]
async fn resets_and_first_logins_of_migrated_users() {
    let Some(mut smtp) = Smtp::start_or_skip("resets_and_first_logins_of_migrated_users") else {
        return;
    };
    let app = App::start("reset", &smtp).await;

    // Migrated users have no password on the new server.
    let (status, body) = app.login(NINA, "anything-at-all").await;
    assert_eq!(status, 401, "{body}");

    // The users export's login token signs in once, back to `from_url`.
    let nina_link = format!(
        "/api/apps/{APP_ID}/auth/login-token?token={}&from_url=/tasks",
        app.login_token(NINA_ID)
    );
    // A foreign `from_url` is refused before the token is spent.
    let (status, _) = app
        .get_location(&format!(
            "/api/apps/{APP_ID}/auth/login-token?token={}&from_url=https://evil.example/",
            app.login_token(NINA_ID)
        ))
        .await;
    assert_eq!(status, 400);
    let (status, location) = app.get_location(&nina_link).await;
    assert_eq!(status, 303, "{location}");
    assert!(location.starts_with("/tasks?access_token="), "{location}");
    let (status, me) = app.me(&token_of(&location)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], NINA);
    let (status, location) = app.get_location(&nina_link).await;
    assert_eq!(status, 401, "the login token twice: {location}");

    // A reset request answers the same for an account and for no account.
    let (known_status, known) = app
        .post("auth/reset-password-request", json!({"email": ADA}), None)
        .await;
    let (unknown_status, unknown) = app
        .post(
            "auth/reset-password-request",
            json!({"email": "no.account@example.com"}),
            None,
        )
        .await;
    assert_eq!(known_status, 200, "{known}");
    assert_eq!((unknown_status, &unknown), (known_status, &known));

    let mail = smtp.next_mail(ADA).await;
    assert!(mail.subject.contains("Reset"), "{mail:?}");
    let reset_token = line_after(&mail, "reset token");
    assert!(
        mail.body
            .contains(&format!("/login#reset_token={reset_token}")),
        "{}",
        mail.body
    );
    let (status, body) = app
        .post(
            "auth/reset-password",
            json!({"reset_token": reset_token, "new_password": "ada-first-password"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, signed_in) = app.login(ADA, "ada-first-password").await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["user"]["role"], "admin");
    let (status, body) = app
        .post(
            "auth/reset-password",
            json!({"reset_token": reset_token, "new_password": "ada-other-password"}),
            None,
        )
        .await;
    assert_eq!(status, 400, "a reset token twice: {body}");

    // A second reset: the old password is refused, the new one accepted.
    let (status, _) = app
        .post("auth/reset-password-request", json!({"email": ADA}), None)
        .await;
    assert_eq!(status, 200);
    let reset_token = line_after(&smtp.next_mail(ADA).await, "reset token");
    let (status, body) = app
        .post(
            "auth/reset-password",
            json!({"reset_token": reset_token, "new_password": "ada-second-password"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.login(ADA, "ada-first-password").await;
    assert_eq!(status, 401, "the old password after a reset");
    let (status, body) = app.login(ADA, "ada-second-password").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            "auth/reset-password",
            json!({"reset_token": "not-a-token", "new_password": "whatever-password"}),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // No mail went to the address without an account.
    assert_eq!(smtp.count_to("no.account@example.com"), 0);
    app.shutdown().await;
}

#[tokio::test]
async fn invitations_the_login_page_and_no_smtp() {
    let Some(mut smtp) = Smtp::start_or_skip("invitations_the_login_page_and_no_smtp") else {
        return;
    };
    let app = App::start("invite", &smtp).await;
    let nina = app
        .follow_login_link(&format!(
            "/api/apps/{APP_ID}/auth/login-token?token={}",
            app.login_token(NINA_ID)
        ))
        .await;
    let ada = app
        .follow_login_link(&format!(
            "/api/apps/{APP_ID}/auth/login-token?token={}",
            app.login_token(ADA_ID)
        ))
        .await;

    // Only an admin or the service role invites.
    let invitation = |email: &str, role: &str| json!({"user_email": email, "role": role});
    let invited = "invited.person@example.com";
    let (status, body) = app
        .post(
            "users/invite-user",
            invitation(invited, "user"),
            Some(&nina),
        )
        .await;
    assert_eq!(status, 403, "a user invites: {body}");
    let (status, body) = app
        .post("users/invite-user", invitation(invited, "user"), None)
        .await;
    assert_eq!(status, 401, "an anonymous visitor invites: {body}");
    let (status, body) = app
        .post("users/invite-user", invitation(invited, "user"), Some(KEY))
        .await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp.next_mail(invited).await;
    assert!(mail.subject.contains("invited"), "{mail:?}");
    let link = line_after(&mail, "Sign in with this link");
    let path = link
        .strip_prefix(&app.server.api_url())
        .unwrap_or_else(|| panic!("the link is not this server's: {link}"));
    let (status, location) = app.get_location(path).await;
    assert_eq!(status, 303, "{location}");
    assert!(location.starts_with("/?access_token="), "{location}");
    let (status, me) = app.me(&token_of(&location)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], invited);
    assert_eq!(me["role"], "user");
    assert_eq!(me["is_verified"], true);
    let (status, _) = app.get_location(path).await;
    assert_eq!(status, 401, "an invitation link twice");

    // An admin invites too, through the users module's path.
    let (status, body) = app
        .post(
            "runtime/users/invite-user",
            invitation("second.admin@example.com", "admin"),
            Some(&ada),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp.next_mail("second.admin@example.com").await;
    assert!(
        mail.body.contains("/auth/login-token?token="),
        "{}",
        mail.body
    );

    // The page `redirectToLogin` lands on, and the way back.
    let host = app.server.api_url();
    let page = app
        .http
        .get(app.url("/login"))
        .query(&[("from_url", format!("{host}/tasks"))])
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(page.status().as_u16(), 200);
    let policy = page
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains("<form id=\"signin\">"), "{html}");
    assert!(html.contains(APP_ID) && html.contains("/tasks"), "{html}");
    for refused in [
        "https://evil.example/tasks",
        "//evil.example/tasks",
        "javascript:alert(1)",
    ] {
        let (status, body) = answer(
            app.http
                .get(app.url("/login"))
                .query(&[("from_url", refused)]),
        )
        .await;
        assert_eq!(status, 400, "{refused}: {body}");
    }
    let (status, body) = answer(
        app.http
            .get(app.url("/api/apps/auth/login"))
            .query(&[("app_id", APP_ID), ("from_url", "/tasks")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, location) = app
        .get_location("/api/apps/auth/logout?from_url=/tasks")
        .await;
    assert_eq!((status, location.as_str()), (303, "/tasks"));
    let (status, _) = app
        .get_location("/api/apps/auth/logout?from_url=https://evil.example/")
        .await;
    assert_eq!(status, 400);

    // The same app without SMTP: the calls that mail say what is missing.
    let unmailed = serve(&app.schema, &app.workspace(), None).await;
    let call = |path: &str| format!("{}/api/apps/{APP_ID}/{path}", unmailed.api_url());
    for (path, body, key) in [
        (
            "auth/register",
            json!({"email": "x.y@example.com", "password": "some-password"}),
            None,
        ),
        ("auth/reset-password-request", json!({"email": ADA}), None),
        (
            "users/invite-user",
            invitation("z.w@example.com", "user"),
            Some(KEY),
        ),
    ] {
        let mut request = app
            .http
            .post(call(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let (status, body) = answer(request).await;
        assert_eq!(status, 501, "{path}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("--smtp-url"), "{path}: {message}");
    }
    unmailed.shutdown().await;
    app.shutdown().await;
}
