//! Uploads over HTTP, as the SDK sends them (`multipart/form-data`, the file in a part named
//! `file`): `Core.UploadFile` answers a public URL in the platform's shape that serves the same
//! bytes without credentials; `Core.UploadPrivateFile` answers a `file_uri` readable only
//! through a URL `CreateFileSignedUrl` signs (expired or forged signatures refused); files over
//! the configured size are refused with 413, uploads past the total with 507; anonymous
//! visitors cannot upload; the derived files keep being served.

mod common;

use common::{Answer, Api, BOUNDARY, KEY, config, multipart, sample, sample_records, start};
use offbase_emulator::{Route, file_bytes};
use reqwest::Method;
use serde_json::{Value, json};

/// Deterministic bytes that are not text.
fn some_bytes(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn integration_url(api: &Api<'_>, name: &str) -> String {
    format!(
        "{}/api/apps/{}/integration-endpoints/Core/{name}",
        api.emulator.api_url(),
        api.emulator.app_id()
    )
}

/// `Core.{name}` with a multipart file, as `credentials` (`None`: anonymous).
async fn upload(
    api: &Api<'_>,
    name: &str,
    credentials: Option<(&str, String)>,
    body: Vec<u8>,
) -> Answer {
    let mut request = api
        .client
        .post(integration_url(api, name))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if let Some((header, value)) = credentials {
        request = request.header(header, value);
    }
    api.send(request).await
}

fn key() -> Option<(&'static str, String)> {
    Some(("api_key", KEY.to_owned()))
}

fn text<'a>(answer: &'a Answer, value: &'a Value, field: &str) -> String {
    match value.get(field) {
        Some(Value::String(text)) => text.clone(),
        other => panic!(
            "no `{field}` ({}): {other:?} in {}",
            answer.status, answer.text
        ),
    }
}

fn sign_uri(api: &Api<'_>, uri: &str) -> reqwest::RequestBuilder {
    api.request(Method::POST, &integration_url(api, "CreateFileSignedUrl"))
        .header("content-type", "application/json")
        .body(json!({"file_uri": uri, "expires_in": 60}).to_string())
}

async fn get_bytes(api: &Api<'_>, url: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = api
        .client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    (status, content_type, bytes.to_vec())
}

#[tokio::test]
async fn an_uploaded_file_is_public_at_a_platform_shaped_url_with_the_same_bytes() {
    let emulator = start(config(&sample("marketplace"))).await;
    let api = Api::new(&emulator);
    let app = emulator.app_id().to_owned();
    let bytes = some_bytes(300_000, 1);

    let answer = upload(
        &api,
        "UploadFile",
        key(),
        multipart("file", "lamp photo (1).png", "image/png", &bytes),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let url = text(&answer, &answer.json(), "file_url");
    let prefix = format!("{}/api/apps/{app}/files/public/{app}/", emulator.api_url());
    let name = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("not the platform's shape: {url}"));
    let (hex, rest) = name.split_at(9);
    assert!(hex.bytes().all(|byte| byte.is_ascii_hexdigit()), "{url}");
    assert_eq!(rest, "_lamp_photo_1_.png", "{url}");

    // No credentials: public files are public.
    let (status, content_type, served) = get_bytes(&api, &url).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(served, bytes, "the bytes served are the bytes uploaded");

    // A signed-in user uploads too; the same name twice gives two files.
    let user = sample_records("marketplace", "User")
        .first()
        .and_then(|user| user.get("id").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| panic!("no user in the sample"));
    let bearer = Some((
        "authorization",
        format!("Bearer {}", emulator.user_token(&user)),
    ));
    let other = some_bytes(10, 2);
    let answer = upload(
        &api,
        "UploadFile",
        bearer,
        multipart("file", "lamp photo (1).png", "image/png", &other),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let second = text(&answer, &answer.json(), "file_url");
    assert_ne!(second, url);
    assert_eq!(get_bytes(&api, &second).await.2, other);
    assert_eq!(get_bytes(&api, &url).await.2, bytes);

    // A hostile name stays a name below the app's folder.
    let answer = upload(
        &api,
        "UploadFile",
        key(),
        multipart("file", "../../../etc/passwd", "text/plain", b"root"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let hostile = text(&answer, &answer.json(), "file_url");
    assert!(
        hostile.starts_with(&prefix) && hostile.ends_with("_passwd"),
        "{hostile}"
    );
    assert!(!hostile[prefix.len()..].contains('/'), "{hostile}");

    // Anonymous visitors cannot upload; the derived files are still served.
    let answer = upload(
        &api,
        "UploadFile",
        None,
        multipart("file", "x.png", "image/png", b"x"),
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    let derived = format!("/api/apps/{app}/files/public/{app}/abc123def_seed.png");
    let (status, _, served) = get_bytes(&api, &format!("{}{derived}", emulator.api_url())).await;
    assert_eq!(status, 200);
    assert_eq!(served, file_bytes(&derived));

    let stats = emulator.stats();
    assert_eq!(stats.responses(Route::Upload, 200), 3);
    assert_eq!(stats.responses(Route::Upload, 401), 1);
}

#[tokio::test]
async fn a_private_file_is_read_only_through_an_unexpired_signed_url() {
    let emulator = start(config(&sample("marketplace"))).await;
    let api = Api::new(&emulator);
    let app = emulator.app_id().to_owned();
    let bytes = some_bytes(70_000, 3);

    let answer = upload(
        &api,
        "UploadPrivateFile",
        key(),
        multipart("file", "contract.pdf", "application/pdf", &bytes),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    assert!(body.get("file_url").is_none(), "{body}");
    let uri = text(&answer, &body, "file_uri");
    let name = uri
        .strip_prefix(&format!("private/{app}/"))
        .unwrap_or_else(|| panic!("{uri}"));
    assert!(
        name.ends_with("_contract.pdf") && name.len() == 9 + 13,
        "{uri}"
    );

    // Not at a public path, not without a signature.
    let public = format!("{}/api/apps/{app}/files/{uri}", emulator.api_url());
    assert_eq!(get_bytes(&api, &public).await.0, 404);
    let unsigned = format!("{}/private-files/{uri}", emulator.api_url());
    assert_eq!(get_bytes(&api, &unsigned).await.0, 403);

    let sign = |expires_in: u64| {
        api.request(Method::POST, &integration_url(&api, "CreateFileSignedUrl"))
            .header("content-type", "application/json")
            .body(json!({"file_uri": uri, "expires_in": expires_in}).to_string())
    };
    let answer = api.send(sign(60)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let signed = text(&answer, &answer.json(), "signed_url");
    assert!(signed.starts_with(&unsigned), "{signed}");
    let (status, content_type, served) = get_bytes(&api, &signed).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    assert_eq!(served, bytes);

    // A forged signature, or a later expiry under the same signature: refused.
    let (path, query) = signed.split_once('?').unwrap_or((&signed, ""));
    let mut expires = 0u64;
    let mut token = String::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("expires", value)) => expires = value.parse().unwrap_or(0),
            Some(("token", value)) => token = value.to_owned(),
            _ => {}
        }
    }
    assert!(expires > 0 && !token.is_empty(), "{signed}");
    let flipped: String = token
        .chars()
        .enumerate()
        .map(|(index, digit)| match (index, digit) {
            (0, '0') => '1',
            (0, _) => '0',
            (_, digit) => digit,
        })
        .collect();
    for forged in [
        format!("{path}?expires={expires}&token={flipped}"),
        format!("{path}?expires={}&token={token}", expires + 3600),
        format!("{path}?expires={expires}"),
    ] {
        assert_eq!(get_bytes(&api, &forged).await.0, 403, "{forged}");
    }

    // Signed for no time: expired a second later.
    let answer = api.send(sign(0)).await;
    let expired = text(&answer, &answer.json(), "signed_url");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(get_bytes(&api, &expired).await.0, 403, "{expired}");
    // The unexpired one still reads.
    assert_eq!(get_bytes(&api, &signed).await.2, bytes);

    // A private file that was not uploaded keeps its derived bytes.
    let derived = "private/uploads/9f9f9f9f9_contract.pdf";
    let answer = api.send(sign_uri(&api, derived)).await;
    let signed_derived = text(&answer, &answer.json(), "signed_url");
    let (status, _, served) = get_bytes(&api, &signed_derived).await;
    assert_eq!(status, 200);
    assert_eq!(served, file_bytes(&format!("/private-files/{derived}")));

    // Anonymous visitors can neither sign nor upload.
    let anonymous = api
        .client
        .post(integration_url(&api, "CreateFileSignedUrl"))
        .header("content-type", "application/json")
        .body(json!({"file_uri": uri}).to_string());
    assert_eq!(api.send(anonymous).await.status, 401);
    let answer = upload(
        &api,
        "UploadPrivateFile",
        None,
        multipart("file", "x.pdf", "application/pdf", b"x"),
    )
    .await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn uploads_are_bounded_per_file_and_in_all() {
    let mut settings = config(&sample("marketplace"));
    settings.max_upload_bytes = 64 * 1024;
    settings.max_upload_total_bytes = 100 * 1024;
    let emulator = start(settings).await;
    let api = Api::new(&emulator);

    let answer = upload(
        &api,
        "UploadFile",
        key(),
        multipart(
            "file",
            "big.bin",
            "application/octet-stream",
            &some_bytes(2 << 20, 4),
        ),
    )
    .await;
    assert_eq!(answer.status, 413, "{}", answer.text);
    assert!(answer.error().contains("65536 bytes"), "{}", answer.text);

    // Exactly the limit is taken; the emulator keeps serving after a refusal.
    let exact = some_bytes(64 * 1024, 5);
    let answer = upload(
        &api,
        "UploadFile",
        key(),
        multipart("file", "exact.bin", "application/x-thing", &exact),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let url = text(&answer, &answer.json(), "file_url");
    let (status, content_type, served) = get_bytes(&api, &url).await;
    assert_eq!(
        (status, content_type.as_deref()),
        (200, Some("application/x-thing"))
    );
    assert_eq!(served, exact);

    // 64 KiB held, 100 KiB in all: another 40 KiB is one too many.
    let answer = upload(
        &api,
        "UploadFile",
        key(),
        multipart(
            "file",
            "more.bin",
            "application/octet-stream",
            &some_bytes(40 * 1024, 6),
        ),
    )
    .await;
    assert_eq!(answer.status, 507, "{}", answer.text);

    // Not multipart, or no file in it: 400.
    let not_multipart = api
        .request(Method::POST, &integration_url(&api, "UploadFile"))
        .header("content-type", "application/json")
        .body(r#"{"file": "lamp.png"}"#);
    let answer = api.send(not_multipart).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    let no_file = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{BOUNDARY}--\r\n"
    );
    let answer = upload(&api, "UploadFile", key(), no_file.into_bytes()).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.error().contains("`file`"), "{}", answer.text);
    assert_eq!(emulator.stats().responses(Route::Upload, 413), 1);
}
