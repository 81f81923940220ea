//! The sign-in page the SDK sends a browser to, and the way back.
//!
//! `redirectToLogin(next)` sends the browser to `{appBaseUrl}/login?from_url=...`
//! (`appBaseUrl` is `''` in the app templates: this origin), and `loginWithProvider` to
//! `/api/apps/auth/login?app_id=...&from_url=...`: both get a small self-contained page (no
//! external asset, a content security policy allowing only its own inline script and style)
//! that posts email and password to `auth/login` with `fetch` and sends the browser back to
//! `from_url` with `?access_token=...`, as the platform does. The same page sends a reset
//! request ("Forgot your password?"), and, opened from a reset mail's link
//! (`/login#reset_token=...`: a fragment, never sent to a server), sets the new password.
//! `logout(url)` sends the browser to `/api/apps/auth/logout?from_url=...`: tokens are
//! stateless, so nothing is revoked; the browser is sent back.
//!
//! `from_url` is a path on this site (`/page`), or an absolute `http`/`https` URL of this
//! origin (the request's `Host`, or the configured public URL's); anything else is refused
//! with 400 before any page or redirect, so the server is no open redirect. The check is the
//! one the account calls' `auth/login-token` link makes, shared with the emulator
//! (`offbase_base44::accounts::return_to`).

use crate::error::ApiError;
use crate::routes::SharedState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use offbase_base44::accounts::{parameter, return_to};
use serde_json::json;

/// The origin of the configured public URL, as the sign-ins compare it.
pub(crate) use offbase_base44::accounts::origin_of;

type Params = Query<Vec<(String, String)>>;

/// A redirect (303) to `location`, never cached, never telling where it came from.
pub(crate) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
            ],
        )
            .into_response(),
        Err(_) => {
            ApiError::bad_request("`from_url` cannot be sent back as a header").into_response()
        }
    }
}

/// The request's `Host`.
pub(crate) fn host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
}

/// `GET /login?from_url=...` and `GET /api/apps/auth/login?app_id=...&from_url=...`: the page.
pub(crate) async fn page(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(pairs): Params,
) -> Response {
    if let Some(app_id) = parameter(&pairs, "app_id")
        && app_id != state.app_id
    {
        return ApiError::not_found(format!("app `{app_id}` not found")).into_response();
    }
    let back = match return_to(
        parameter(&pairs, "from_url"),
        host(&headers),
        state.accounts.public_origin.as_deref(),
    ) {
        Ok(back) => back,
        Err(refusal) => return ApiError::from(refusal).into_response(),
    };
    let nonce = STANDARD_NO_PAD.encode(rand::random::<[u8; 18]>());
    let html = render(&state.app_id, &back, &nonce);
    let policy = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    let policy = HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        html,
    )
        .into_response()
}

/// `GET /api/apps/auth/logout?from_url=...`: back to `from_url` (tokens are stateless: the
/// SDK has already forgotten its own).
pub(crate) async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(pairs): Params,
) -> Response {
    match return_to(
        parameter(&pairs, "from_url"),
        host(&headers),
        state.accounts.public_origin.as_deref(),
    ) {
        Ok(back) => redirect(&back),
        Err(refusal) => ApiError::from(refusal).into_response(),
    }
}

/// JSON that is safe inside a `<script>` element: no `<`, `>`, `&` or line separators.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn render(app_id: &str, back: &str, nonce: &str) -> String {
    let config = script_json(&json!({"app_id": app_id, "from_url": back}));
    PAGE.replace("{{NONCE}}", nonce)
        .replace("{{CONFIG}}", &config)
}

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sign in</title>
<style nonce="{{NONCE}}">
body { font-family: system-ui, sans-serif; max-width: 22rem; margin: 4rem auto; padding: 0 1rem; color: #1f2328; }
form { display: flex; flex-direction: column; gap: .7rem; }
label { display: flex; flex-direction: column; gap: .25rem; font-size: .95rem; }
input, button { font: inherit; padding: .55rem .6rem; border-radius: .35rem; border: 1px solid #8c959f; }
button[type=submit] { background: #1f2328; color: #fff; border-color: #1f2328; cursor: pointer; }
.link { background: none; border: none; color: #0969da; padding: 0; text-align: left; cursor: pointer; }
#message { min-height: 1.4em; color: #b3261e; }
#message.ok { color: #1a7f37; }
[hidden] { display: none !important; }
</style>
</head>
<body>
<main>
<h1 id="title">Sign in</h1>
<p id="message" role="status"></p>
<form id="signin">
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
<button type="button" class="link" id="forgot">Forgot your password?</button>
</form>
<form id="reset" hidden>
<label>New password <input name="new_password" type="password" autocomplete="new-password" minlength="8" required></label>
<button type="submit">Set the password</button>
</form>
</main>
<script nonce="{{NONCE}}">
(() => {
  const config = {{CONFIG}};
  const api = "/api/apps/" + encodeURIComponent(config.app_id) + "/auth/";
  const byId = (id) => document.getElementById(id);
  const say = (text, ok) => {
    const message = byId("message");
    message.textContent = text;
    message.className = ok ? "ok" : "";
  };
  async function post(path, body) {
    const response = await fetch(api + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    if (!response.ok) {
      throw new Error(data.error || data.message || data.detail || ("HTTP " + response.status));
    }
    return data;
  }
  function back(token) {
    const target = new URL(config.from_url, window.location.origin);
    target.searchParams.set("access_token", token);
    window.location.assign(target.toString());
  }
  byId("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    say("");
    try {
      const data = await post("login", { email: form.email.value, password: form.password.value });
      back(data.access_token);
    } catch (error) {
      say(error.message);
    }
  });
  byId("forgot").addEventListener("click", async () => {
    const email = byId("signin").email.value;
    if (!email) { say("Enter your email first."); return; }
    try {
      await post("reset-password-request", { email });
      say("If an account uses this email, a mail with a reset link is on its way.", true);
    } catch (error) {
      say(error.message);
    }
  });
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const resetToken = fragment.get("reset_token");
  if (resetToken) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
    byId("signin").hidden = true;
    byId("reset").hidden = false;
    byId("title").textContent = "Choose a new password";
    byId("reset").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await post("reset-password", { reset_token: resetToken, new_password: event.currentTarget.new_password.value });
        byId("reset").hidden = true;
        byId("signin").hidden = false;
        byId("title").textContent = "Sign in";
        say("Your password is set: sign in with it.", true);
      } catch (error) {
        say(error.message);
      }
    });
  }
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_embeds_its_settings_as_inert_json() {
        let page = render("app1", "/a?b=</script><script>alert(1)</script>", "NONCE");
        assert!(!page.contains("</script><script>alert"), "{page}");
        assert!(page.contains("\\u003c/script\\u003e"));
        assert!(page.contains("nonce=\"NONCE\""));
        assert!(!page.contains("{{"), "a placeholder is left");
        // Self-contained: no external asset.
        assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    }
}
