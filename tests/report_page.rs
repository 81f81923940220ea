//! `reports/index.html`, the page people look at: after `migrate` (from the emulator serving
//! the sample), `diff data`, two sync passes and `cutover --dry-run` of every sample it exists,
//! its figures equal the JSON reports beside it (the page is rendered from them), and headless
//! Chromium (Debian's `chromium`, network off) renders it with its sections: a screenshot
//! taken and checked, the rendered DOM read back.
//!
//! The Chromium part is skipped (said on stderr) without Chromium; `OFFBASE_REQUIRE_CORPUS=1`
//! (CI) makes it mandatory.

use offbase_pipeline::compare::diff::{diff_data, write_reports};
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::page::grouped;
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::sync::cutover::{CutoverOptions, cutover};
use offbase_pipeline::sync::{SyncOptions, sync_once};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::browser::{Browser, png_size};
use offbase_tests::{TestSchema, database_url, emulator_client, sample, start_emulator};
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

/// Migrates `name` from the emulator serving it, diffs it, syncs once and rehearses the
/// cutover; returns the workspace's folder (kept alive) and the workspace.
async fn migrated_diffed_and_rehearsed(name: &str) -> (tempfile::TempDir, Workspace) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let schema = TestSchema::new(&format!("page_{name}")).await;
    let emulator = start_emulator(&sample(name), None).await;
    let load = LoadOptions::new(database_url(), &schema.name);
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(emulator_client(&emulator)),
            schema_from: sample(name),
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(load.clone()),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    migrate(&options, Arc::clone(&reporter))
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
    let client = emulator_client(&emulator);
    let mut settings = CutoverOptions::new(SyncOptions::for_target(&load.target));
    // Two passes: a line on the lag chart.
    for _ in 0..2 {
        sync_once(&workspace, &client, &settings.sync, &NoProgress)
            .await
            .unwrap_or_else(|error| panic!("{name}: sync: {error}"));
    }
    settings.dry_run = true;
    settings.freeze_confirmed = true;
    settings.rejects_reviewed = true;
    settings.orphans_acknowledged = true;
    cutover(&workspace, &client, &settings, reporter)
        .await
        .unwrap_or_else(|error| panic!("{name}: cutover --dry-run: {error}"));
    emulator.shutdown().await;
    schema.drop().await;
    (folder, workspace)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_of_every_sample_shows_what_its_json_reports_say() {
    let mut pages = Vec::new();
    for name in SAMPLES {
        let (folder, workspace) = migrated_diffed_and_rehearsed(name).await;
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
        // The plan's warnings and decisions, as `plan/notes.json` counts them.
        let notes = json(&workspace.plan_dir().join("notes.json"));
        let level = |wanted: &str| {
            notes
                .as_array()
                .map(|notes| notes.iter().filter(|note| note["level"] == wanted).count())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(figure(&page, "plan-warnings"), level("warning"), "{name}");
        assert_eq!(figure(&page, "plan-decisions"), level("decision"), "{name}");
        // The first rejects of every entity that has some.
        for entity in load["entities"].as_array().into_iter().flatten() {
            if entity["rejected"].as_u64().unwrap_or_default() > 0 {
                let entity_name = entity["entity"].as_str().unwrap_or_default();
                assert!(
                    page.contains(&format!("<tr><td>{entity_name}</td><td><code>")),
                    "{name}: no reject example of {entity_name}"
                );
            }
        }
        // The sync's passes, and a line per entity that has a lag.
        let lag = std::fs::read_to_string(reports.join("sync-lag.jsonl"))
            .unwrap_or_else(|error| panic!("{name}: sync-lag.jsonl: {error}"));
        assert_eq!(
            figure(&page, "sync-passes"),
            lag.lines().count().to_string()
        );
        for entity in load["entities"].as_array().into_iter().flatten() {
            let entity_name = entity["entity"].as_str().unwrap_or_default();
            if lag.contains(&format!("\"{entity_name}\":")) {
                assert!(
                    page.contains(&format!("<polyline data-entity=\"{entity_name}\"")),
                    "{name}: no lag line for {entity_name}"
                );
            }
        }
        // The rehearsal: its verdict and every gate as `cutover-dry-run.json` has them.
        let rehearsal = json(&reports.join("cutover-dry-run.json"));
        let go = if rehearsal["go"] == true {
            "GO"
        } else {
            "NO GO"
        };
        assert_eq!(figure(&page, "go"), go, "{name}");
        let gates = rehearsal["gates"].as_array().cloned().unwrap_or_default();
        assert!(gates.len() >= 5, "{name}: {rehearsal}");
        for gate in &gates {
            let result = if gate["passed"] == true {
                "passed"
            } else {
                "failed"
            };
            let row = format!(
                "<tr><td>{}</td><td class=\"{}\">{result}</td>",
                gate["name"].as_str().unwrap_or_default(),
                if gate["passed"] == true { "ok" } else { "bad" }
            );
            assert!(page.contains(&row), "{name}: no gate row {row}");
        }
        // Nothing is fetched: no link, image, style or script from elsewhere (a gate's figure
        // may quote a file's old URL as text).
        for outside in ["href=\"http", "src=\"http", "url(http", "@import"] {
            assert!(
                !page.contains(outside),
                "{name}: the page links out ({outside})"
            );
        }
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
        for section in ["summary", "plan", "load", "diff", "sync-lag", "cutover"] {
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
