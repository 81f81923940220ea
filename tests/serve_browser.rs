//! A sample frontend served by `offbase serve`, driven in headless Chromium as a person would
//! use it: `tests/frontend/` (plain JS on the published `@base44/sdk`, `serverUrl: ''`),
//! built with esbuild into a folder the server serves on the API's origin (`frontend`), with
//! uploads kept in a folder (`files`).
//!
//! The app is `samples/tasks` with an `image_url` field added to `Task`, and a user who keeps a
//! bcrypt password in her User record (as some apps do), exported with `offbase users export
//! --format postgres` and its `users.sql` applied, so she signs in with her password. In the
//! browser (tests/frontend/drive.mjs) she signs in, sees her tasks, adds one, renames it,
//! uploads a PNG for it and sees it, then opens a deep link of the app (the history fallback,
//! signed in by the kept token); a screenshot after each step.
//!
//! Checked here, against PostgreSQL and the server rather than the page's word: the list is
//! the tasks the rules let her read (`Task`: its author, its assignee, or an admin), newest
//! first, one page of 20; the new task is in PostgreSQL with the new title, `created_by` her
//! and the image's URL; that URL serves the uploaded bytes exactly; the page reached no other
//! origin, had no request refused, threw and logged no error; each screenshot is a PNG of the
//! viewport with more on it than a blank page, and the steps' screenshots differ.
//!
//! `OFFBASE_KEEP_SCREENSHOTS=<folder>` keeps the screenshots there to look at.

use offbase_serve::{FilesSettings, ServeConfig, TokenSecret};
use offbase_tests::browser::{Browser, png, png_size};
use offbase_tests::sdk::Sdk;
use offbase_tests::staging::{
    NINA, NINA_ID, NINA_PASSWORD, export_users, migrate_staged, psql_file, read_text, stage_tasks,
    write_text,
};
use offbase_tests::{TestSchema, database_url};
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

const APP_ID: &str = "browser-tasks";
const TOKEN_SECRET: &[u8] = b"serve-browser-test-secret";
/// The app's page size: `list('-created_date', 20)`.
const PAGE_SIZE: usize = 20;
/// The viewport drive.mjs sets.
const VIEWPORT: (u32, u32) = (900, 760);
/// The uploaded image's size.
const IMAGE: (u32, u32) = (24, 16);
const NEW_TITLE: &str = "Water the office plants";
const EDITED_TITLE: &str = "Water the office plants (and the cactus)";
/// A folder to keep the screenshots in, to look at them (by default they are deleted).
const KEEP_SCREENSHOTS: &str = "OFFBASE_KEEP_SCREENSHOTS";
/// The screenshots drive.mjs takes, in order; `00-blank` is of an empty page.
const SHOTS: [&str; 6] = [
    "01-login",
    "02-list",
    "03-created",
    "04-edited",
    "05-image",
    "06-deep-link",
];

/// Copies `samples/tasks` (schemas and data) into `app`, with `image_url` declared on `Task`
/// and two users: Nina, with a bcrypt password in her record, and Ada, an admin without one.
fn stage_app(app: &Path) {
    stage_tasks(app);
    let schema = app.join("base44/entities/Task.jsonc");
    let text = read_text(&schema);
    let declared = text.replacen(
        "\"properties\": {",
        "\"properties\": {\n    \"image_url\": {\n      \"type\": \"string\",\n      \"description\": \"The task's picture (Core.UploadFile)\"\n    },",
        1,
    );
    assert_ne!(
        declared, text,
        "samples/tasks' Task.jsonc changed its shape"
    );
    write_text(&schema, &declared);
}

fn read_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item[key].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_built_frontend_signs_in_lists_writes_and_uploads_through_offbase_serve() {
    let Some(_sdk) = Sdk::find_or_skip("serve_browser") else {
        return;
    };
    let Some(browser) = Browser::find_or_skip("serve_browser") else {
        return;
    };
    let began = Instant::now();
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    let workspace = folder.path().join("workspace");
    let dist = folder.path().join("dist");
    // Kept where `OFFBASE_KEEP_SCREENSHOTS` says (a failed step's `failure.png` too).
    let shots = std::env::var_os(KEEP_SCREENSHOTS)
        .map(PathBuf::from)
        .unwrap_or_else(|| folder.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap_or_else(|error| panic!("{error}"));
    stage_app(&app);

    let mut schema = TestSchema::new("serve_browser").await;
    migrate_staged(&app, &workspace, &schema.name).await;
    psql_file(&export_users(&workspace, &schema.name).await);
    browser.build_frontend(&dist, APP_ID).await;
    let prepared = began.elapsed();

    let server = offbase_serve::start(
        ServeConfig {
            app_id: Some(APP_ID.to_owned()),
            token_secret: Some(TokenSecret::new(TOKEN_SECRET)),
            frontend: Some(dist.clone()),
            files: Some(FilesSettings::new(folder.path().join("files"))),
            ..ServeConfig::new(&database_url(), &schema.name, &workspace)
        },
        "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
    )
    .await
    .unwrap_or_else(|error| panic!("start offbase serve: {error}"));
    let origin = format!("http://{}", server.address());

    // What the rules let Nina read, newest first, as PostgreSQL holds it (read here as the
    // owner, past the rules): the app's first page must be these.
    let visible = sqlx::query(&format!(
        "SELECT id, created_date::text AS created FROM \"{}\".task \
         WHERE created_by = $1 OR assignee_email = $1 ORDER BY created_date DESC, id",
        schema.name
    ))
    .bind(NINA)
    .fetch_all(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("reading Nina's tasks: {error}"));
    let visible: Vec<(String, String)> = visible
        .iter()
        .map(|row| {
            (
                row.try_get("id").unwrap_or_default(),
                row.try_get("created").unwrap_or_default(),
            )
        })
        .collect();
    let total =
        sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM \"{}\".task", schema.name))
            .fetch_one(&mut schema.connection)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        visible.len() >= 8 && usize::try_from(total).unwrap_or(0) > visible.len(),
        "the sample changed: Nina reads {} of {total} tasks",
        visible.len()
    );

    let image = png(IMAGE.0, IMAGE.1, |x, y| {
        [
            (x * 10) as u8,
            (y * 15) as u8,
            if (x + y) % 2 == 0 { 220 } else { 40 },
        ]
    });
    let image_path = folder.path().join("task-picture.png");
    std::fs::write(&image_path, &image).unwrap_or_else(|error| panic!("{error}"));

    let driven = Instant::now();
    let seen = browser
        .drive(
            &json!({
                "url": origin,
                "email": NINA,
                "password": NINA_PASSWORD,
                "screenshots": shots,
                "image": image_path,
                "new_title": NEW_TITLE,
                "edited_title": EDITED_TITLE,
                "timeout_ms": 15_000,
            }),
            &[NINA_PASSWORD],
        )
        .await;
    let drive_time = driven.elapsed();
    println!(
        "drive.mjs saw: {}",
        serde_json::to_string_pretty(&seen).unwrap_or_default()
    );

    // The page itself: no other origin reached, no request refused, nothing thrown, nothing
    // logged as an error.
    assert_eq!(seen["offsite_requests"], json!([]), "{seen}");
    assert_eq!(seen["failed_responses"], json!([]), "{seen}");
    assert_eq!(seen["page_errors"], json!([]), "{seen}");
    assert_eq!(seen["console_errors"], json!([]), "{seen}");
    assert!(
        seen["signed_in_as"]
            .as_str()
            .is_some_and(|who| who.contains(NINA)),
        "{seen}"
    );

    // The list: the tasks the rules let her read, newest first, one page.
    let listed = strings(&seen["listed"], "id");
    let expected = visible.len().min(PAGE_SIZE);
    assert_eq!(listed.len(), expected, "{seen}");
    let readable: BTreeSet<&str> = visible.iter().map(|(id, _)| id.as_str()).collect();
    for id in &listed {
        assert!(
            readable.contains(id.as_str()),
            "the list shows {id}, which the rules hide from Nina"
        );
    }
    let created_of = |id: &str| {
        visible
            .iter()
            .find(|(visible_id, _)| visible_id == id)
            .map(|(_, created)| created.clone())
            .unwrap_or_default()
    };
    let dates: Vec<String> = listed.iter().map(|id| created_of(id)).collect();
    assert!(
        dates.windows(2).all(|pair| pair[0] >= pair[1]),
        "the list is not newest first: {dates:?}"
    );
    // The page is the newest `expected` (when no two tasks share the boundary's date).
    let boundary_shared = visible.len() > expected
        && visible.get(expected - 1).map(|(_, created)| created)
            == visible.get(expected).map(|(_, created)| created);
    if !boundary_shared {
        let newest: BTreeSet<&str> = visible[..expected]
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        let shown: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        assert_eq!(shown, newest, "the first page is not the newest tasks");
    }

    // The task she added, renamed and gave a picture: in PostgreSQL as the page showed it.
    let created = seen["created_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no created task: {seen}"))
        .to_owned();
    assert_eq!(seen["created_title"], NEW_TITLE);
    assert_eq!(seen["edited_title"], EDITED_TITLE);
    let row = sqlx::query(&format!(
        "SELECT title, created_by, created_by_id, image_url FROM \"{}\".task WHERE id = $1",
        schema.name
    ))
    .bind(&created)
    .fetch_optional(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"))
    .unwrap_or_else(|| panic!("the created task {created} is not in PostgreSQL"));
    let column = |name: &str| row.try_get::<Option<String>, _>(name).unwrap_or_default();
    assert_eq!(column("title").as_deref(), Some(EDITED_TITLE));
    assert_eq!(column("created_by").as_deref(), Some(NINA));
    assert_eq!(column("created_by_id").as_deref(), Some(NINA_ID));
    let image_url = column("image_url").unwrap_or_else(|| panic!("the task has no image_url"));
    assert_eq!(seen["image"]["src"], image_url.as_str(), "{seen}");

    // The picture: loaded in the page at its size, and served back byte for byte.
    assert_eq!(
        (
            &seen["image"]["natural_width"],
            &seen["image"]["natural_height"]
        ),
        (&json!(IMAGE.0), &json!(IMAGE.1)),
        "{seen}"
    );
    assert!(
        image_url.starts_with(&format!("{origin}/files/public/{APP_ID}/")),
        "{image_url}"
    );
    let response = reqwest::get(&image_url)
        .await
        .unwrap_or_else(|error| panic!("GET {image_url}: {error}"));
    assert_eq!(response.status(), 200, "GET {image_url}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "image/png", "GET {image_url}");
    let served = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        served[..] == image[..],
        "the served image differs from the upload"
    );

    // The deep link: index.html for the app's own route, still signed in, the picture shown.
    assert_eq!(
        seen["deep_link"]["path"],
        format!("/tasks/{created}"),
        "{seen}"
    );
    assert!(
        seen["deep_link"]["titles"]
            .as_array()
            .is_some_and(|titles| titles.iter().any(|title| title == EDITED_TITLE)),
        "{seen}"
    );

    // The screenshots: PNGs of the viewport, more than a blank page, each step its own.
    assert_eq!(
        seen["screenshots"],
        json!(
            std::iter::once("00-blank")
                .chain(SHOTS)
                .map(|name| format!("{name}.png"))
                .collect::<Vec<_>>()
        )
    );
    let blank = read_bytes(&shots.join("00-blank.png"));
    assert_eq!(png_size(&blank), Some(VIEWPORT), "00-blank.png");
    let mut pictures = Vec::new();
    for name in SHOTS {
        let bytes = read_bytes(&shots.join(format!("{name}.png")));
        assert_eq!(png_size(&bytes), Some(VIEWPORT), "{name}.png");
        assert!(
            bytes.len() > blank.len() * 2 && bytes.len() > 4_000,
            "{name}.png ({} bytes) is hardly more than a blank page ({} bytes)",
            bytes.len(),
            blank.len()
        );
        pictures.push((name, bytes));
    }
    for pair in pictures.windows(2) {
        let ((before, first), (after, second)) = (&pair[0], &pair[1]);
        assert!(first != second, "{before}.png and {after}.png are the same");
    }

    server.shutdown().await;
    schema.drop().await;
    println!("the screenshots: {}", shots.display());
    println!(
        "serve_browser: {} tasks listed (of {} Nina may read, {total} in all), task {created} \
         created, renamed and pictured; staged, migrated and built in {:.1} s, driven in {:.1} s",
        listed.len(),
        visible.len(),
        prepared.as_secs_f64(),
        drive_time.as_secs_f64()
    );
}
