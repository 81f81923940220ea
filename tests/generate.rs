//! The record generator and the loader against real PostgreSQL: for every corpus app and every
//! sample, a generated workspace loads with `offbase load` without a single reject, every
//! foreign key validates (no orphans), and the verification (counts and content hashes) matches.

use offbase_pipeline::compare::verify::verify;
use offbase_pipeline::load::{LoadOptions, load};
use offbase_pipeline::plan::{PlanOutput, load_rules};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::stage::generate::{GenerateCounts, generate_workspace};
use offbase_pipeline::workspace::{Manifest, Workspace};
use offbase_sql::quote_identifier;
use offbase_tests::{SAMPLES, TestSchema, corpus_apps_or_skip, database_url, plan_app, sample};
use sqlx::Row;
use std::io::Write;
use std::path::{Path, PathBuf};

const RECORDS: u64 = 20;
const SEED: u64 = 4404;

/// The corpus apps, then the samples. Without the corpus beside the checkout (and without
/// OFFBASE_REQUIRE_CORPUS=1), only the samples, after saying that the corpus was skipped.
fn apps() -> (Vec<PathBuf>, bool) {
    let corpus = corpus_apps_or_skip("generated records (corpus apps; the samples still run)");
    let with_corpus = corpus.is_some();
    let mut apps: Vec<PathBuf> = match corpus {
        None => Vec::new(),
        Some(root) => match std::fs::read_dir(&root) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_dir())
                .collect(),
            Err(error) => panic!("the corpus is missing at {}: {error}", root.display()),
        },
    };
    apps.sort();
    apps.extend(SAMPLES.iter().map(|name| sample(name)));
    (apps, with_corpus)
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
            match verify(&workspace, &options.target, &NoProgress).await {
                Ok(verified) if verified.matches() => {}
                Ok(verified) => problems.push(format!("verification differs: {verified:?}")),
                Err(error) => problems.push(format!("verify: {error}")),
            }
        }
    }
    // Every read of the generated behaviour corpus is valid and PostgreSQL runs its
    // translation (names, reserved words, enum types, jsonb paths of every corpus schema).
    problems.extend(corpus_runs(&workspace, output, &schema).await);
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

/// The problems of the generated corpus: requests that fail their check, cannot be
/// translated, or that PostgreSQL refuses.
async fn corpus_runs(
    workspace: &Workspace,
    output: &PlanOutput,
    schema: &TestSchema,
) -> Vec<String> {
    use offbase_base44::corpus::Operation;
    use offbase_base44::query::{Filter, parse_filter, parse_sort};
    use offbase_sql::query::{count_sql, get_sql, list_sql};
    let corpus = match offbase_pipeline::compare::corpus::generate_corpus(workspace, None) {
        Ok(corpus) => corpus,
        Err(error) => return vec![format!("corpus generate: {error}")],
    };
    let mut problems = Vec::new();
    let mut statements = Vec::new();
    // A connection of its own: the reads' session is read-only.
    let mut connection = match offbase_pg::connect(&database_url()).await {
        Ok(connection) => connection,
        Err(error) => return vec![format!("connect: {error}")],
    };
    if let Err(error) = offbase_pg::query::prepare_reads(&mut connection).await {
        return vec![format!("prepare reads: {error}")];
    }
    for request in &corpus {
        if let Err(message) = request.check() {
            problems.push(format!("{}: {message}", request.label()));
            continue;
        }
        let Some(table) = output.target.table_for_entity(&request.entity) else {
            problems.push(format!("{}: no table", request.label()));
            continue;
        };
        let filter = match request.q.as_ref().map(parse_filter) {
            None => Filter::all(),
            Some(Ok(filter)) => filter,
            Some(Err(error)) => {
                problems.push(format!("{}: {error}", request.label()));
                continue;
            }
        };
        let sort = request
            .sort
            .as_deref()
            .and_then(|sort| parse_sort(sort).ok().flatten());
        let sql = match request.op {
            Operation::Count => count_sql(&schema.name, table, &filter),
            Operation::Get => Ok(get_sql(
                &schema.name,
                table,
                request.id.as_deref().unwrap_or_default(),
            )),
            Operation::List | Operation::Filter => list_sql(
                &schema.name,
                table,
                &filter,
                sort.as_ref(),
                request.limit,
                request.skip,
            ),
        };
        match sql {
            Ok(sql) => statements.push((request.label(), sql)),
            Err(error) => problems.push(format!("{}: {error}", request.label())),
        }
    }
    // One round trip for all of them (simple protocol, nothing prepared); only when that
    // fails, one by one to name the statements PostgreSQL refuses.
    let batch: Vec<&str> = statements.iter().map(|(_, sql)| sql.as_str()).collect();
    if sqlx::raw_sql(&batch.join(";\n"))
        .execute(&mut connection)
        .await
        .is_err()
    {
        for (label, sql) in &statements {
            if let Err(error) = sqlx::raw_sql(sql).execute(&mut connection).await {
                problems.push(format!("{label}: {error}: {sql}"));
            }
        }
    }
    if corpus.len() < output.target.tables.len() {
        problems.push(format!("only {} corpus requests", corpus.len()));
    }
    problems
}

#[tokio::test]
async fn generated_records_load_into_every_planned_table_without_orphans() {
    let started = std::time::Instant::now();
    let (apps, with_corpus) = apps();
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
    if with_corpus {
        assert_eq!(apps.len(), 35, "32 corpus apps and 3 samples");
    } else {
        assert_eq!(apps.len(), 3, "the 3 samples");
    }
}
