//! `diff data` against real PostgreSQL: after a correct migrate of each sample it is clean
//! (the records the load rejected are named as such, not as differences); with six planted
//! differences (a changed field, a missing row, an extra row, a timestamp shifted by 1 ms, a
//! float rounded, a jsonb key renamed) it finds exactly those six and nothing else.

use offbase_pipeline::compare::diff::{DataDiff, diff_data};
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{SAMPLES, TestSchema, database_url, sample};
use std::sync::Arc;

async fn migrated(app: &str) -> (tempfile::TempDir, Workspace, TestSchema, LoadOptions) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let schema = TestSchema::new(&format!("diff_{app}")).await;
    let load = LoadOptions::new(database_url(), &schema.name);
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: sample(app),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(load.clone()),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    if let Err(error) = migrate(&options, reporter).await {
        panic!("{app}: migrate: {error}");
    }
    (folder, workspace, schema, load)
}

async fn execute(schema: &mut TestSchema, sql: &str) {
    let sql = sql.replace("$schema", &format!("\"{}\"", schema.name));
    if let Err(error) = sqlx::raw_sql(&sql).execute(&mut schema.connection).await {
        panic!("{sql}: {error}");
    }
}

async fn first_id(schema: &mut TestSchema, query: &str) -> String {
    let sql = query.replace("$schema", &format!("\"{}\"", schema.name));
    sqlx::query_scalar(&sql)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Picks a row with `pick` (its first column: the id), changes it with the statement `change`
/// makes of the id, and returns the id.
async fn plant(schema: &mut TestSchema, pick: &str, change: impl Fn(&str) -> String) -> String {
    let id = first_id(schema, pick).await;
    execute(schema, &change(&id)).await;
    id
}

/// (entity, kind, id, fields) of every difference found.
fn found(diff: &DataDiff) -> Vec<(String, String, String, Vec<String>)> {
    let mut found = Vec::new();
    for entity in &diff.entities {
        for id in &entity.missing_in_target {
            if !entity.rejected.contains(id) {
                found.push((
                    entity.entity.clone(),
                    "missing in target".into(),
                    id.clone(),
                    vec![],
                ));
            }
        }
        for id in &entity.missing_in_source {
            found.push((
                entity.entity.clone(),
                "missing in source".into(),
                id.clone(),
                vec![],
            ));
        }
        for record in &entity.different {
            found.push((
                entity.entity.clone(),
                "different".into(),
                record.id.clone(),
                record.fields.clone(),
            ));
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_correct_migrate_every_sample_is_clean() {
    for app in SAMPLES {
        let (_folder, workspace, schema, load) = migrated(app).await;
        let diff = diff_data(&workspace, &load.target, &NoProgress)
            .await
            .unwrap_or_else(|error| panic!("{app}: {error}"));
        assert!(diff.clean(), "{app}: {:#?}", found(&diff));
        let same: u64 = diff.entities.iter().map(|entity| entity.same).sum();
        assert!(same > 100, "{app}: only {same} records compared");
        schema.drop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_differences_are_each_found_exactly_and_nothing_else() {
    let (_folder, workspace, mut schema, load) = migrated("crm").await;
    let changed = plant(
        &mut schema,
        "SELECT id FROM $schema.company WHERE name IS NOT NULL ORDER BY id LIMIT 1",
        |id| format!("UPDATE $schema.company SET name = name || ' (changed)' WHERE id = '{id}'"),
    )
    .await;
    let missing = plant(
        &mut schema,
        "SELECT id FROM $schema.contact ORDER BY id LIMIT 1",
        |id| format!("DELETE FROM $schema.contact WHERE id = '{id}'"),
    )
    .await;
    plant(&mut schema, "SELECT d.id FROM $schema.deal d WHERE (d.company_id IS NULL OR EXISTS (SELECT 1 FROM $schema.company c WHERE c.id = d.company_id)) AND (d.contact_id IS NULL OR EXISTS (SELECT 1 FROM $schema.contact c WHERE c.id = d.contact_id)) ORDER BY d.id LIMIT 1", |id| {
        format!("INSERT INTO $schema.deal SELECT (jsonb_populate_record(NULL::$schema.deal, to_jsonb(d) || '{{\"id\": \"planted-extra\"}}')).* \
             FROM $schema.deal d WHERE id = '{id}'")
    })
    .await;
    let shifted = plant(&mut schema, "SELECT id FROM $schema.activity WHERE created_date IS NOT NULL ORDER BY id LIMIT 1", |id| {
        format!("UPDATE $schema.activity SET created_date = created_date + interval '1 millisecond' WHERE id = '{id}'")
    })
    .await;
    let rounded = plant(
        &mut schema,
        "SELECT id FROM $schema.deal WHERE amount <> round(amount) ORDER BY id LIMIT 1",
        |id| format!("UPDATE $schema.deal SET amount = round(amount) WHERE id = '{id}'"),
    )
    .await;
    let renamed = plant(&mut schema, "SELECT id FROM $schema.company WHERE address ? 'city' AND id <> (SELECT min(id) FROM $schema.company WHERE name IS NOT NULL) ORDER BY id LIMIT 1", |id| {
        format!("UPDATE $schema.company SET address = (address - 'city') || jsonb_build_object('town', address->'city') WHERE id = '{id}'")
    })
    .await;

    let diff = diff_data(&workspace, &load.target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(!diff.clean());
    let mut expected = vec![
        (
            "Activity".to_owned(),
            "different".to_owned(),
            shifted,
            vec!["created_date".to_owned()],
        ),
        (
            "Company".to_owned(),
            "different".to_owned(),
            changed,
            vec!["name".to_owned()],
        ),
        (
            "Company".to_owned(),
            "different".to_owned(),
            renamed.clone(),
            vec!["address".to_owned()],
        ),
        (
            "Contact".to_owned(),
            "missing in target".to_owned(),
            missing,
            vec![],
        ),
        (
            "Deal".to_owned(),
            "different".to_owned(),
            rounded,
            vec!["amount".to_owned()],
        ),
        (
            "Deal".to_owned(),
            "missing in source".to_owned(),
            "planted-extra".to_owned(),
            vec![],
        ),
    ];
    expected.sort();
    assert_eq!(found(&diff), expected);
    let company = diff
        .entities
        .iter()
        .find(|entity| entity.entity == "Company")
        .unwrap_or_else(|| panic!("no Company"));
    let record = company
        .different
        .iter()
        .find(|record| record.id == renamed)
        .unwrap_or_else(|| panic!("no diff for {renamed}"));
    assert!(
        record.diff.contains("-    \"city\"") && record.diff.contains("+    \"town\""),
        "{}",
        record.diff
    );
    schema.drop().await;
}

/// 20,000 generated Task records: planted differences are found by bisection (several levels
/// of range queries), and only the rows that differ are read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bisection_reads_only_the_differing_rows_of_a_large_table() {
    use offbase_pipeline::plan::load_rules;
    use offbase_pipeline::stage::generate::{GenerateCounts, generate_workspace};
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let rules = load_rules(None).unwrap_or_else(|error| panic!("{error}"));
    let mut counts = GenerateCounts::uniform(20);
    counts.entities.insert("Task".to_owned(), 20_000);
    generate_workspace(
        &offbase_tests::repo_root().join("scripts/bench-app"),
        &rules,
        &counts,
        7,
        &workspace,
        5_000,
        &NoProgress,
    )
    .unwrap_or_else(|error| panic!("generate: {error}"));
    let mut schema = TestSchema::new("diff_bisect").await;
    let load = LoadOptions::new(database_url(), &schema.name);
    offbase_pipeline::load::load(&workspace, &load, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("load: {error}"));

    let clean = diff_data(&workspace, &load.target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(clean.clean(), "{:#?}", found(&clean));
    let task = |diff: &DataDiff| {
        diff.entities
            .iter()
            .find(|entity| entity.entity == "Task")
            .cloned()
            .unwrap_or_else(|| panic!("no Task"))
    };
    assert_eq!(task(&clean).same, 20_000);
    assert_eq!(task(&clean).range_queries, 1);
    assert_eq!(task(&clean).rows_fetched, 0);

    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM \"{}\".task ORDER BY id COLLATE \"C\"",
        schema.name
    ))
    .fetch_all(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let pick = |at: usize| ids[at * ids.len() / 7].clone();
    let (changed, deleted, shifted, rounded, renamed) =
        (pick(0), pick(1), pick(2), pick(3), pick(5));
    execute(
        &mut schema,
        &format!("UPDATE $schema.task SET title = title || '!' WHERE id = '{changed}'"),
    )
    .await;
    execute(
        &mut schema,
        &format!("DELETE FROM $schema.task WHERE id = '{deleted}'"),
    )
    .await;
    execute(
        &mut schema,
        &format!(
            "INSERT INTO $schema.task (id, title, status) VALUES ('{}~extra', 'x', 'todo')",
            pick(4)
        ),
    )
    .await;
    execute(&mut schema, &format!("UPDATE $schema.task SET updated_date = updated_date + interval '1 millisecond' WHERE id = '{shifted}'")).await;
    execute(&mut schema, &format!("UPDATE $schema.task SET estimate_hours = round(estimate_hours::numeric, 1)::float8 + 0.01 WHERE id = '{rounded}'")).await;
    execute(&mut schema, &format!("UPDATE $schema.task SET details = jsonb_build_object('origin', 'x') WHERE id = '{renamed}'")).await;

    let diff = diff_data(&workspace, &load.target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let mut expected = vec![
        (
            "Task".to_owned(),
            "different".to_owned(),
            changed,
            vec!["title".to_owned()],
        ),
        (
            "Task".to_owned(),
            "missing in target".to_owned(),
            deleted,
            vec![],
        ),
        (
            "Task".to_owned(),
            "missing in source".to_owned(),
            format!("{}~extra", pick(4)),
            vec![],
        ),
        (
            "Task".to_owned(),
            "different".to_owned(),
            shifted,
            vec!["updated_date".to_owned()],
        ),
        (
            "Task".to_owned(),
            "different".to_owned(),
            rounded,
            vec!["estimate_hours".to_owned()],
        ),
        (
            "Task".to_owned(),
            "different".to_owned(),
            renamed,
            vec!["details".to_owned()],
        ),
    ];
    expected.sort();
    assert_eq!(found(&diff), expected);
    let task = task(&diff);
    assert_eq!(task.same, 20_000 - 5);
    assert_eq!(
        task.rows_fetched, 4,
        "only the four changed rows are read whole"
    );
    assert!(
        task.range_queries >= 3,
        "{} range queries",
        task.range_queries
    );
    assert!(
        task.hashes_fetched < 6 * 128 * 2,
        "{} hashes read",
        task.hashes_fetched
    );
    schema.drop().await;
}

/// `--source api` against the emulator: clean after a migrate from its API; a missing row, an
/// extra row and a row whose `updated_date` (and a field) changed are found exactly; an edit
/// of the target that keeps `updated_date` is invisible to it (by design).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_as_source_finds_rows_by_id_and_updated_date() {
    use offbase_pipeline::compare::api_source::diff_data_api;
    let emulator = offbase_tests::start_emulator(&sample("crm"), None).await;
    let client = || offbase_tests::emulator_client(&emulator);
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let mut schema = TestSchema::new("diff_api").await;
    let load = LoadOptions::new(database_url(), &schema.name);
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(client()),
            schema_from: sample("crm"),
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(load.clone()),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    if let Err(error) = migrate(&options, reporter).await {
        panic!("migrate: {error}");
    }
    // Small pages so that listing the keys takes several requests.
    let clean = diff_data_api(&workspace, &load.target, &client(), 7, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(clean.clean(), "{:#?}", found(&clean));
    let same: u64 = clean.entities.iter().map(|entity| entity.same).sum();
    assert!(same > 100, "only {same} records compared");

    let missing = plant(
        &mut schema,
        "SELECT id FROM $schema.contact ORDER BY id LIMIT 1",
        |id| format!("DELETE FROM $schema.contact WHERE id = '{id}'"),
    )
    .await;
    plant(&mut schema, "SELECT id FROM $schema.company ORDER BY id LIMIT 1", |id| {
        format!("INSERT INTO $schema.company SELECT (jsonb_populate_record(NULL::$schema.company, to_jsonb(c) || '{{\"id\": \"planted-extra\"}}')).* \
             FROM $schema.company c WHERE id = '{id}'")
    })
    .await;
    let touched = plant(&mut schema, "SELECT id FROM $schema.company WHERE name IS NOT NULL ORDER BY id DESC LIMIT 1", |id| {
        format!("UPDATE $schema.company SET name = name || ' (changed)', updated_date = updated_date + interval '1 second' WHERE id = '{id}'")
    })
    .await;
    plant(
        &mut schema,
        "SELECT id FROM $schema.deal WHERE title IS NOT NULL ORDER BY id LIMIT 1",
        |id| format!("UPDATE $schema.deal SET title = title || ' (quiet)' WHERE id = '{id}'"),
    )
    .await;

    let diff = diff_data_api(&workspace, &load.target, &client(), 7, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let mut expected = vec![
        (
            "Company".to_owned(),
            "different".to_owned(),
            touched,
            vec!["name".to_owned(), "updated_date".to_owned()],
        ),
        (
            "Company".to_owned(),
            "missing in source".to_owned(),
            "planted-extra".to_owned(),
            vec![],
        ),
        (
            "Contact".to_owned(),
            "missing in target".to_owned(),
            missing,
            vec![],
        ),
    ];
    expected.sort();
    assert_eq!(found(&diff), expected);
    let company = diff
        .entities
        .iter()
        .find(|entity| entity.entity == "Company")
        .unwrap_or_else(|| panic!("no Company"));
    assert_eq!(company.source_records_fetched, 1);
    assert_eq!(company.rows_fetched, 1);
    schema.drop().await;
    drop(folder);
}

/// Regression: the stages after a load planned the workspace with the built-in rules unless
/// they were given the load's `--mappings` again, and so compared tables the load never made.
/// The load records its mapping file; verify and diff use it, and refuse another one.
#[tokio::test]
async fn stages_after_a_load_plan_with_the_mapping_file_the_load_used() {
    use offbase_pipeline::PipelineError;
    use offbase_pipeline::compare::verify::verify;
    use offbase_pipeline::target::{MappingFile, Target};

    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let schema = TestSchema::new("diff_stored_mappings").await;
    let mappings = offbase_tests::repo_root().join("mappings/examples/marketplace.toml");
    let mapping_file = MappingFile::read(&mappings).unwrap_or_else(|error| panic!("{error}"));
    let mut load = LoadOptions::new(database_url(), &schema.name);
    load.target.mappings = Some(mapping_file.clone());
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: sample("marketplace"),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: Some(mapping_file),
        destination: Destination::Database(load),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    if let Err(error) = migrate(&options, reporter).await {
        panic!("migrate: {error}");
    }
    // No mapping file given: the load's is used.
    let given_none = Target::new(database_url(), &schema.name);
    let verified = verify(&workspace, &given_none, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("verify: {error}"));
    assert!(verified.matches(), "{verified:?}");
    let diff = diff_data(&workspace, &given_none, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("diff: {error}"));
    assert!(diff.clean(), "{diff:?}");
    // Another mapping file is refused, naming both.
    let other_path = folder.path().join("other.toml");
    std::fs::write(&other_path, "").unwrap_or_else(|error| panic!("{error}"));
    let other = Target::new(database_url(), &schema.name)
        .with_mappings(Some(&other_path))
        .unwrap_or_else(|error| panic!("{error}"));
    match verify(&workspace, &other, &NoProgress).await {
        Err(error @ PipelineError::SettingsDiffer { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("marketplace.toml") && message.contains("other.toml"),
                "{message}"
            );
        }
        other => panic!("expected SettingsDiffer, got {other:?}"),
    }
}
