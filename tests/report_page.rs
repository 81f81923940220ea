//! `reports/index.html`, the page people look at: after `migrate` and `diff data` of every
//! sample it exists, its figures equal the JSON reports beside it (the page is rendered from
//! them), and headless Chromium (Debian's `chromium`, network off) renders it with its
//! sections: a screenshot taken and checked, the rendered DOM read back.
//!
//! The Chromium part is skipped (said on stderr) without Chromium; `OFFBASE_REQUIRE_CORPUS=1`
//! (CI) makes it mandatory.

use offbase_pipeline::compare::diff::{diff_data, write_reports};
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::page::grouped;
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::browser::{Browser, png_size};
use offbase_tests::{TestSchema, database_url, sample};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

const SAMPLES: [&str; 3] = ["crm", "marketplace", "tasks"];

fn json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The figure the page shows under `data-figure="name"`.
fn figure(page: &str, name: &str) -> String {
    let marker = format!("data-figure=\"{name}\"");
    let Some(start) = page.find(&marker) else {
        panic!("the page shows no figure {name}");
    };
    let rest = &page[start..];
    let open = rest.find('>').map(|index| index + 1).unwrap_or_default();
    let close = rest[open..]
        .find('<')
        .map(|index| open + index)
        .unwrap_or(open);
    rest[open..close].replace(',', "")
}

fn sum(document: &Value, key: &str) -> u64 {
    document["entities"]
        .as_array()
        .map(|entities| {
            entities
                .iter()
                .filter_map(|entity| entity[key].as_u64())
                .sum()
        })
        .unwrap_or_default()
}

fn length(value: &Value) -> u64 {
    value
        .as_array()
        .map(|items| items.len() as u64)
        .unwrap_or_default()
}

/// Migrates and diffs `name`; returns the workspace's folder (kept alive) and the workspace.
async fn migrated_and_diffed(name: &str) -> (tempfile::TempDir, Workspace) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let schema = TestSchema::new(&format!("page_{name}")).await;
    let load = LoadOptions::new(database_url(), &schema.name);
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: sample(name),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(load.clone()),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    migrate(&options, reporter)
        .await
        .unwrap_or_else(|error| panic!("{name}: migrate: {error}"));
    assert!(
        workspace.reports_dir().join("index.html").is_file(),
        "{name}: migrate wrote no reports/index.html"
    );
    let diff = diff_data(&workspace, &load.target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{name}: diff: {error}"));
    write_reports(&workspace, &diff).unwrap_or_else(|error| panic!("{name}: reports: {error}"));
    schema.drop().await;
    (folder, workspace)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_of_every_sample_shows_what_its_json_reports_say() {
    let mut pages = Vec::new();
    for name in SAMPLES {
        let (folder, workspace) = migrated_and_diffed(name).await;
        let reports = workspace.reports_dir();
        let page = std::fs::read_to_string(reports.join("index.html"))
            .unwrap_or_else(|error| panic!("{name}: index.html: {error}"));
        let load = json(&reports.join("load.json"));
        let diff = json(&reports.join("diff-data.json"));
        assert_eq!(
            figure(&page, "loaded"),
            sum(&load, "loaded").to_string(),
            "{name}"
        );
        assert_eq!(
            figure(&page, "rejected"),
            sum(&load, "rejected").to_string(),
            "{name}"
        );
        let differences: u64 = diff["entities"]
            .as_array()
            .map(|entities| {
                entities
                    .iter()
                    .map(|entity| {
                        length(&entity["missing_in_target"]) - length(&entity["rejected"])
                            + length(&entity["missing_in_source"])
                            + length(&entity["different"])
                    })
                    .sum()
            })
            .unwrap_or_default();
        assert_eq!(
            figure(&page, "differences"),
            differences.to_string(),
            "{name}"
        );
        // Every entity's row carries the JSON's figures.
        for entity in load["entities"].as_array().into_iter().flatten() {
            let entity_name = entity["entity"].as_str().unwrap_or_default();
            let row_start = page
                .find(&format!("<tr data-entity=\"{entity_name}\">"))
                .unwrap_or_else(|| panic!("{name}: no load row for {entity_name}"));
            let row = &page[row_start..row_start + page[row_start..].find("</tr>").unwrap_or(0)];
            for key in ["read", "loaded", "rejected"] {
                let shown = format!(
                    "<td class=\"n\">{}</td>",
                    grouped(entity[key].as_u64().unwrap_or_default())
                );
                assert!(row.contains(&shown), "{name}: {entity_name} {key}: {row}");
            }
        }
        assert!(page.contains("<section id=\"load\">") && page.contains("<section id=\"diff\">"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{name}: the page links out"
        );
        pages.push((name, folder, reports));
    }

    let Some(browser) = Browser::find_or_skip("the_page_of_every_sample") else {
        return;
    };
    for (name, _folder, reports) in &pages {
        let page = reports.join("index.html");
        let url = format!("file://{}", page.display());
        let offline = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // No network: any name resolves nowhere.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ];
        let profile = tempfile::tempdir().unwrap_or_else(|error| panic!("profile: {error}"));
        let screenshot = reports.join("page.png");
        let shot = Command::new(&browser.chromium)
            .args(offline)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", screenshot.display()))
            .arg("--window-size=1200,1600")
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("chromium: {error}"));
        assert!(
            shot.status.success(),
            "{name}: chromium: {}",
            String::from_utf8_lossy(&shot.stderr)
        );
        let bytes = std::fs::read(&screenshot)
            .unwrap_or_else(|error| panic!("{name}: screenshot: {error}"));
        assert_eq!(
            png_size(&bytes),
            Some((1200, 1600)),
            "{name}: screenshot size"
        );
        // A blank page compresses to a few kilobytes; this one holds tables and charts.
        assert!(
            bytes.len() > 30_000,
            "{name}: the screenshot looks blank ({} bytes)",
            bytes.len()
        );
        let dom = Command::new(&browser.chromium)
            .args(offline)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("chromium: {error}"));
        let rendered = String::from_utf8_lossy(&dom.stdout);
        for section in ["summary", "load", "diff", "cutover"] {
            assert!(
                rendered.contains(&format!("id=\"{section}\"")),
                "{name}: Chromium rendered no {section} section"
            );
        }
        assert!(
            rendered.contains("<svg id=\"chart-loaded\""),
            "{name}: no chart"
        );
    }
}
