//! `migrate` of every sample into a real PostgreSQL: every loaded value compared with its source
//! record, column by column; the reject files hold exactly the planted bad records with their
//! reasons; a second load does nothing; the bundle, applied with psql, holds the same rows.

use offbase_pipeline::load::bundle::BundleOptions;
use offbase_pipeline::load::{LoadOptions, LoadStatus, load};
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{SAMPLES, TestSchema, database_url, plan_app, sample};
use serde_json::{Map, Value};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

fn reporter() -> Arc<dyn Reporter> {
    Arc::new(NoProgress)
}

/// (entity, id, reason) of every reject file of a workspace.
fn rejects(workspace: &Path) -> BTreeSet<(String, String, String)> {
    let folder = workspace.join("reports").join("rejects");
    let mut found = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return found;
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let reject: Map<String, Value> = match serde_json::from_str(line) {
                Ok(reject) => reject,
                Err(error) => panic!(
                    "{}: a reject line is not JSON: {error}",
                    entry.path().display()
                ),
            };
            let field = |key: &str| {
                reject
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            assert!(reject.get("record").is_some_and(Value::is_object), "{line}");
            assert!(!field("message").is_empty(), "{line}");
            found.insert((field("entity"), field("id"), field("reason")));
        }
    }
    found
}

/// The planted records a load must reject, with the reason it must give.
fn planted_rejects(app: &str) -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(sample("manifest.json")).unwrap_or_default();
    let manifest: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let mut expected = BTreeSet::new();
    for case in manifest[app]["planted"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let reason = match case["case"].as_str() {
            Some("enum-outside") => "enum",
            Some("missing-required") => "not_null",
            Some("wrong-type") => "wrong_type",
            _ => continue,
        };
        expected.insert((
            case["entity"].as_str().unwrap_or_default().to_owned(),
            case["id"].as_str().unwrap_or_default().to_owned(),
            reason.to_owned(),
        ));
    }
    expected
}

fn output_keys(app: &str) -> Vec<offbase_model::ForeignKey> {
    plan_app(&sample(app), None).target.foreign_keys
}

fn instant(text: &str) -> Option<i64> {
    offbase_model::time::parse_timestamp(text).map(|instant| instant.timestamp_micros())
}

/// Whether a loaded value (as `to_jsonb` prints it) is the source value, for a column type.
fn same(pg_type: &offbase_model::PgType, source: &Value, loaded: &Value) -> bool {
    use offbase_model::PgType;
    match (pg_type, source, loaded) {
        (_, Value::Null, Value::Null) => true,
        (PgType::Timestamptz | PgType::Timestamp, Value::String(source), Value::String(loaded)) => {
            instant(source).is_some() && instant(source) == instant(loaded)
        }
        (PgType::Time, Value::String(source), Value::String(loaded)) => {
            offbase_model::time::parse_time(source).is_some()
                && offbase_model::time::parse_time(source)
                    == offbase_model::time::parse_time(loaded)
        }
        (PgType::DoublePrecision | PgType::Real, Value::Number(source), Value::Number(loaded)) => {
            source.as_f64() == loaded.as_f64()
        }
        (PgType::Array(element), Value::Array(source), Value::Array(loaded)) => {
            source.len() == loaded.len()
                && source
                    .iter()
                    .zip(loaded)
                    .all(|(source, loaded)| same(element, source, loaded))
        }
        (_, source, loaded) => source == loaded,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_loads_every_sample_value_by_value() {
    let mut total_orphans = 0;
    for app in SAMPLES {
        let folder = match tempfile::tempdir() {
            Ok(folder) => folder,
            Err(error) => panic!("tempdir: {error}"),
        };
        let mut schema = TestSchema::new(&format!("load_{app}")).await;
        let options = MigrateOptions {
            files: None,
            source: MigrateSource::Folder {
                folder: sample(app),
                schema_from: None,
            },
            workspace: Workspace::new(folder.path()),
            mappings: None,
            destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
        };
        let summary = match migrate(&options, reporter()).await {
            Ok(summary) => summary,
            Err(error) => panic!("{app}: migrate failed: {error}"),
        };
        let loaded = summary
            .load
            .clone()
            .unwrap_or_else(|| panic!("{app}: no load"));
        assert!(
            loaded.balanced(),
            "{app}: read != loaded + rejected: {loaded:?}"
        );
        let verify = summary
            .verify
            .clone()
            .unwrap_or_else(|| panic!("{app}: no verify"));
        assert!(verify.matches(), "{app}: verification differs: {verify:?}");
        assert!(summary.clean(), "{app}: not clean");

        // Foreign keys: orphans counted as PostgreSQL counts them; validated exactly when none.
        for key in &loaded.foreign_keys {
            let planned = output_keys(app)
                .into_iter()
                .find(|planned| planned.name == key.name)
                .unwrap_or_else(|| panic!("{app}: {} is not in the plan", key.name));
            let sql = format!(
                "SELECT count(*) AS orphans FROM \"{schema}\".\"{table}\" c WHERE c.\"{column}\" IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM \"{schema}\".\"{target}\" p WHERE p.\"{target_column}\" = c.\"{column}\")",
                schema = schema.name,
                table = planned.table,
                column = planned.column,
                target = planned.target_table,
                target_column = planned.target_column,
            );
            let orphans: i64 = match sqlx::query(&sql).fetch_one(&mut schema.connection).await {
                Ok(row) => row.try_get("orphans").unwrap_or(-1),
                Err(error) => panic!("{sql}: {error}"),
            };
            assert_eq!(
                key.orphans as i64, orphans,
                "{app}: orphans of {}",
                key.name
            );
            assert_eq!(key.validated, orphans == 0, "{app}: {} validated", key.name);
            assert_eq!(
                key.sample.len() as i64,
                orphans.min(5),
                "{app}: sample of {}",
                key.name
            );
            total_orphans += key.orphans;
        }

        let found = rejects(folder.path());
        assert_eq!(found, planted_rejects(app), "{app}: reject files");
        let rejected_ids: BTreeSet<&str> = found.iter().map(|(_, id, _)| id.as_str()).collect();

        // Every loaded record, column by column, against its source line.
        let output = plan_app(&sample(app), None);
        let mut compared = 0usize;
        for table in output
            .target
            .tables
            .iter()
            .filter(|table| table.junction.is_none())
        {
            let sql = format!(
                "SELECT id, to_jsonb(t) AS row FROM \"{}\".\"{}\" t",
                schema.name, table.name
            );
            let rows = match sqlx::query(&sql).fetch_all(&mut schema.connection).await {
                Ok(rows) => rows,
                Err(error) => panic!("{sql}: {error}"),
            };
            let mut table_rows: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
            for row in rows {
                let id: String = row.try_get("id").unwrap_or_default();
                let Ok(Value::Object(value)) = row.try_get::<Value, _>("row") else {
                    panic!("{sql}: a row did not read back");
                };
                table_rows.insert(id, value);
            }
            let path = sample(app)
                .join("data")
                .join(format!("{}.jsonl", table.entity));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut expected_rows = 0;
            for line in text.lines() {
                let record: Map<String, Value> = serde_json::from_str(line).unwrap_or_default();
                let id = record["id"].as_str().unwrap_or_default().to_owned();
                if rejected_ids.contains(id.as_str()) {
                    assert!(
                        !table_rows.contains_key(&id),
                        "{app}: rejected {id} was loaded"
                    );
                    continue;
                }
                expected_rows += 1;
                let Some(row) = table_rows.get(&id) else {
                    panic!("{app}: {} {id} was not loaded", table.entity);
                };
                let mut extra = Map::new();
                for (key, value) in &record {
                    if table.column_for_field(key).is_none() {
                        extra.insert(key.clone(), value.clone());
                    }
                }
                for column in &table.columns {
                    let source = match &column.field {
                        Some(field) => record.get(field).cloned().unwrap_or(Value::Null),
                        None if extra.is_empty() => Value::Null,
                        None => Value::Object(extra.clone()),
                    };
                    let value = row.get(&column.name).cloned().unwrap_or(Value::Null);
                    assert!(
                        same(&column.pg_type, &source, &value),
                        "{app}: {}.{} of {id}: source {source} loaded {value}",
                        table.name,
                        column.name
                    );
                    compared += 1;
                }
            }
            assert_eq!(
                table_rows.len(),
                expected_rows,
                "{app}: rows of {}",
                table.name
            );
        }
        assert!(compared > 1000, "{app}: only {compared} values compared");

        // A second load of the finished workspace does nothing.
        let mut again = LoadOptions::new(database_url(), &schema.name);
        again.batch_records = 100;
        let second = match load(&options.workspace, &again, &NoProgress).await {
            Ok(second) => second,
            Err(error) => panic!("{app}: second load: {error}"),
        };
        assert_eq!(second.status, LoadStatus::AlreadyLoaded, "{app}");
        schema.drop().await;
    }
    // The samples plant references to missing records: the orphan path must have run.
    assert!(total_orphans > 0, "no sample had an orphan");
}

/// Rows of every table of a schema, as text, sorted: two schemas with the same rows compare equal.
async fn table_contents(
    connection: &mut sqlx::postgres::PgConnection,
    schema: &str,
    tables: &[String],
) -> BTreeMap<String, Vec<String>> {
    let mut contents = BTreeMap::new();
    for table in tables {
        let sql = format!("SELECT t::text AS row FROM \"{schema}\".\"{table}\" t ORDER BY 1");
        let rows = match sqlx::query(&sql).fetch_all(&mut *connection).await {
            Ok(rows) => rows,
            Err(error) => panic!("{sql}: {error}"),
        };
        contents.insert(
            table.clone(),
            rows.iter()
                .map(|row| row.try_get::<String, _>("row").unwrap_or_default())
                .collect(),
        );
    }
    contents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_applied_with_psql_equals_a_live_load() {
    for app in SAMPLES {
        let live_folder = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let bundle_folder = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let mut live = TestSchema::new(&format!("live_{app}")).await;
        let bundled = TestSchema::new(&format!("bundle_{app}")).await;
        let live_options = MigrateOptions {
            files: None,
            source: MigrateSource::Folder {
                folder: sample(app),
                schema_from: None,
            },
            workspace: Workspace::new(live_folder.path()),
            mappings: None,
            destination: Destination::Database(LoadOptions::new(database_url(), &live.name)),
        };
        if let Err(error) = migrate(&live_options, reporter()).await {
            panic!("{app}: live migrate: {error}");
        }
        let bundle_path = bundle_folder.path().join("offbase-bundle.sql");
        let bundle_options = MigrateOptions {
            files: None,
            source: MigrateSource::Folder {
                folder: sample(app),
                schema_from: None,
            },
            workspace: Workspace::new(bundle_folder.path().join("workspace")),
            mappings: None,
            destination: Destination::Bundle {
                path: bundle_path.clone(),
                options: BundleOptions {
                    pg_schema: bundled.name.clone(),
                    mappings: None,
                    relax: Default::default(),
                    rewrite_urls: false,
                    rls: Default::default(),
                },
            },
        };
        if let Err(error) = migrate(&bundle_options, reporter()).await {
            panic!("{app}: bundle migrate: {error}");
        }
        let status = std::process::Command::new("psql")
            .arg("-X")
            .arg("-q")
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-f")
            .arg(&bundle_path)
            .arg(database_url())
            .output();
        match status {
            Ok(output) if output.status.success() => {}
            Ok(output) => panic!(
                "{app}: psql refused the bundle: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(error) => panic!("{app}: cannot run psql: {error}"),
        }
        let output = plan_app(&sample(app), None);
        let tables: Vec<String> = output
            .target
            .tables
            .iter()
            .map(|table| table.name.clone())
            .collect();
        let live_rows = table_contents(&mut live.connection, &live.name, &tables).await;
        let bundle_rows = table_contents(&mut live.connection, &bundled.name, &tables).await;
        assert_eq!(
            live_rows, bundle_rows,
            "{app}: bundle rows differ from the live load"
        );
        assert!(
            live_rows.values().map(Vec::len).sum::<usize>() > 100,
            "{app}: too few rows"
        );
        assert_eq!(
            rejects(live_folder.path()),
            rejects(&bundle_folder.path().join("workspace")),
            "{app}: reject files differ"
        );
        // Validated foreign keys are the same in both.
        let validated = |schema: &str| {
            format!(
                "SELECT string_agg(con.conname || ':' || con.convalidated, ',' ORDER BY con.conname) AS keys \
                 FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace \
                 WHERE n.nspname = '{schema}' AND con.contype IN ('f', 'p', 'c')"
            )
        };
        let mut keys = Vec::new();
        for schema in [&live.name, &bundled.name] {
            let row = sqlx::query(&validated(schema))
                .fetch_one(&mut live.connection)
                .await
                .unwrap_or_else(|error| panic!("constraints: {error}"));
            keys.push(row.try_get::<Option<String>, _>("keys").unwrap_or_default());
        }
        assert_eq!(keys.first(), keys.get(1), "{app}: constraints differ");
        live.drop().await;
        bundled.drop().await;
    }
}
