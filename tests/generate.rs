//! The record generator and the loader against real PostgreSQL: for every corpus app and every
//! sample, a generated workspace loads with `offbase load` without a single reject, every
//! foreign key validates (no orphans), and the verification (counts and content hashes) matches.

use offbase_pipeline::generate::{GenerateCounts, generate_workspace};
use offbase_pipeline::load::{LoadOptions, load};
use offbase_pipeline::plan::{PlanOutput, load_rules};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::verify::verify;
use offbase_pipeline::workspace::{Manifest, Workspace};
use offbase_sql::quote_identifier;
use offbase_tests::{SAMPLES, TestSchema, corpus_apps, database_url, plan_app, sample};
use sqlx::Row;
use std::io::Write;
use std::path::{Path, PathBuf};

const RECORDS: u64 = 20;
const SEED: u64 = 4404;

fn apps() -> Vec<PathBuf> {
    let root = corpus_apps();
    let mut apps: Vec<PathBuf> = match std::fs::read_dir(&root) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect(),
        Err(error) => panic!("the corpus is missing at {}: {error}", root.display()),
    };
    apps.sort();
    apps.extend(SAMPLES.iter().map(|name| sample(name)));
    apps
}

/// Generates, loads and verifies one app; returns the tables loaded and foreign keys validated,
/// or the problems found.
async fn check_app(source: &Path, output: &PlanOutput) -> Result<(usize, usize), Vec<String>> {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path());
    let rules = load_rules(None).unwrap_or_else(|error| panic!("{error}"));
    if let Err(error) = generate_workspace(
        source,
        &rules,
        &GenerateCounts::uniform(RECORDS),
        SEED,
        &workspace,
        100_000,
        &NoProgress,
    ) {
        return Err(vec![format!("generate: {error}")]);
    }
    let manifest: Manifest = match workspace.read_json(&workspace.manifest_path()) {
        Ok(Some(manifest)) => manifest,
        other => return Err(vec![format!("manifest: {other:?}")]),
    };

    let mut schema = TestSchema::new("generate").await;
    let mut problems = Vec::new();
    let options = LoadOptions::new(database_url(), &schema.name);
    match load(&workspace, &options, &NoProgress).await {
        Err(error) => problems.push(format!("load: {error}")),
        Ok(summary) => {
            if !summary.balanced() {
                problems.push(format!("read != loaded + rejected: {:?}", summary.entities));
            }
            for entity in &summary.entities {
                if entity.table.is_some() && (entity.loaded != RECORDS || entity.rejected != 0) {
                    problems.push(format!(
                        "{}: {} loaded, {} rejected ({:?}); rejects in {}",
                        entity.entity,
                        entity.loaded,
                        entity.rejected,
                        entity.reasons,
                        summary.rejects_folder
                    ));
                }
            }
            for key in summary.foreign_keys.iter().filter(|key| !key.validated) {
                problems.push(format!(
                    "foreign key {} on {}.{}: {} orphans, e.g. {:?}",
                    key.name, key.table, key.column, key.orphans, key.sample
                ));
            }
            if summary.foreign_keys.len() != output.target.foreign_keys.len() {
                problems.push(format!(
                    "{} foreign keys reported, {} planned",
                    summary.foreign_keys.len(),
                    output.target.foreign_keys.len()
                ));
            }
            match verify(&workspace, &options, &NoProgress).await {
                Ok(verified) if verified.matches() => {}
                Ok(verified) => problems.push(format!("verification differs: {verified:?}")),
                Err(error) => problems.push(format!("verify: {error}")),
            }
        }
    }
    // Every table holds its records, read back independently of the loader.
    let mut tables = 0;
    for table in output
        .target
        .tables
        .iter()
        .filter(|table| table.junction.is_none())
    {
        if manifest
            .entities
            .get(&table.entity)
            .map(|entry| entry.records)
            != Some(RECORDS)
        {
            problems.push(format!("{}: not {RECORDS} records generated", table.entity));
        }
        let count = format!(
            "SELECT count(*) AS rows FROM {}.{}",
            quote_identifier(&schema.name),
            quote_identifier(&table.name)
        );
        match sqlx::query(&count).fetch_one(&mut schema.connection).await {
            Ok(row) if row.try_get::<i64, _>("rows").ok() == Some(RECORDS as i64) => tables += 1,
            other => problems.push(format!("{}: {count}: {other:?}", table.entity)),
        }
    }
    let validated = output.target.foreign_keys.len();
    schema.drop().await;
    if problems.is_empty() {
        Ok((tables, validated))
    } else {
        Err(problems)
    }
}

#[tokio::test]
async fn generated_records_load_into_every_planned_table_without_orphans() {
    let started = std::time::Instant::now();
    let apps = apps();
    let mut failures = Vec::new();
    let (mut tables, mut foreign_keys) = (0, 0);
    for app in &apps {
        let output = plan_app(app, None);
        match check_app(app, &output).await {
            Ok((inserted, validated)) => {
                tables += inserted;
                foreign_keys += validated;
            }
            Err(problems) => {
                let name = app
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                failures.extend(
                    problems
                        .into_iter()
                        .map(|problem| format!("{name}: {problem}")),
                );
            }
        }
    }
    // Straight to stderr, past the test harness's capture, so every run shows the totals.
    let _ = writeln!(
        std::io::stderr(),
        "generate: {} apps, {tables} tables of {RECORDS} records loaded, {foreign_keys} foreign keys validated, in {:.1}s",
        apps.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(apps.len(), 35, "32 corpus apps and 3 samples");
}
