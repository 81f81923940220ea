//! `sync` against the emulator over real HTTP: while the background writer creates, updates and
//! deletes records (many sharing one instant), repeated passes keep the loaded tables in step;
//! after the writer stops, one more pass leaves the target equal to the source (every row and
//! value, by count and content hash against a fresh pull), deleted records gone. Passes are
//! idempotent: one more changes nothing.

use offbase_base44::client::Client;
use offbase_emulator::{RunningEmulator, WriterConfig};
use offbase_pipeline::compare::verify::verify;
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::load::bundle::BundleOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::sync::{SyncOptions, sync_once};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{TestSchema, database_url, emulator_client, sample, start_emulator};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

async fn start(app_dir: &Path, writer: Option<WriterConfig>) -> RunningEmulator {
    start_emulator(app_dir, writer).await
}

fn client(emulator: &RunningEmulator) -> Client {
    emulator_client(emulator)
}

fn reporter() -> Arc<dyn Reporter> {
    Arc::new(NoProgress)
}

/// An app migrated from the emulator's API into a schema of its own.
struct Migrated {
    folder: tempfile::TempDir,
    workspace: Workspace,
    schema: TestSchema,
    load: LoadOptions,
}

async fn migrated(emulator: &RunningEmulator, app_dir: &Path, label: &str) -> Migrated {
    migrated_with(emulator, app_dir, label, None).await
}

/// The same, with the schemas from `schema_from` and a mapping file.
async fn migrated_with(
    emulator: &RunningEmulator,
    schema_from: &Path,
    label: &str,
    mappings: Option<PathBuf>,
) -> Migrated {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let schema = TestSchema::new(label).await;
    let mut load = LoadOptions::new(database_url(), &schema.name);
    load.target = load
        .target
        .with_mappings(mappings.as_deref())
        .unwrap_or_else(|error| panic!("{error}"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(client(emulator)),
            schema_from: schema_from.to_path_buf(),
        },
        workspace: workspace.clone(),
        mappings: load.target.mappings.clone(),
        destination: Destination::Database(load.clone()),
    };
    if let Err(error) = migrate(&options, reporter()).await {
        panic!("migrate: {error}");
    }
    Migrated {
        folder,
        workspace,
        schema,
        load,
    }
}

/// A fresh workspace of what the source holds now.
async fn snapshot(emulator: &RunningEmulator, app_dir: &Path, folder: &Path) -> Workspace {
    let workspace = Workspace::new(folder.join("workspace"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(client(emulator)),
            schema_from: app_dir.to_path_buf(),
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.join("bundle.sql"),
            options: BundleOptions {
                pg_schema: "unused".into(),
                mappings: None,
                relax: Default::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
    };
    if let Err(error) = migrate(&options, reporter()).await {
        panic!("snapshot pull: {error}");
    }
    workspace
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_writer_stops_one_more_pass_leaves_the_target_equal_to_the_source() {
    let app_dir = sample("crm");
    let emulator = start(
        &app_dir,
        Some(WriterConfig {
            rate_per_second: 50,
            duration: Duration::from_secs(4),
            seed: 44,
        }),
    )
    .await;
    let Migrated {
        folder: _folder,
        workspace,
        schema,
        load,
    } = migrated(&emulator, &app_dir, "sync").await;
    let sync_client = client(&emulator);
    let mut sync = SyncOptions::for_target(&load.target);
    sync.overlap = Duration::from_millis(500);
    let mut passes = 0;
    let mut upserted = 0;
    let mut deleted = 0;
    loop {
        let done = tokio::time::timeout(Duration::from_millis(300), emulator.writer_done())
            .await
            .is_ok();
        let summary = sync_once(&workspace, &sync_client, &sync, &NoProgress)
            .await
            .unwrap_or_else(|error| panic!("sync pass {passes}: {error}"));
        passes += 1;
        upserted += summary
            .entities
            .iter()
            .map(|entity| entity.upserted)
            .sum::<u64>();
        deleted += summary
            .entities
            .iter()
            .map(|entity| entity.deleted)
            .sum::<u64>();
        if done {
            break;
        }
    }
    let stats = emulator.stats();
    assert!(
        stats.writer_creates > 0 && stats.writer_updates > 0 && stats.writer_deletes > 0,
        "{stats:?}"
    );
    assert!(passes >= 3, "only {passes} passes while the writer ran");
    assert!(
        upserted > 0 && deleted > 0,
        "upserted {upserted}, deleted {deleted}"
    );

    // The source now, pulled afresh, against the target: same rows, same values.
    let snapshot_folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let source = snapshot(&emulator, &app_dir, snapshot_folder.path()).await;
    let compared = verify(&source, &load.target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("verify: {error}"));
    assert!(
        compared.matches(),
        "target differs from source: {compared:#?}"
    );

    // One more pass changes nothing.
    let again = sync_once(&workspace, &sync_client, &sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    for entity in &again.entities {
        assert_eq!((entity.upserted, entity.deleted), (0, 0), "{entity:?}");
    }
    emulator.shutdown().await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_delete_marks_rows_and_status_reads_the_state_back() {
    let app_dir = sample("crm");
    let emulator = start(&app_dir, None).await;
    let Migrated {
        folder: _folder,
        workspace,
        mut schema,
        load,
    } = migrated(&emulator, &app_dir, "sync_soft").await;
    let store = emulator.store();
    // Three deals to the trash, and a fourth out of the trash for good, which only the
    // keys reconciliation can find.
    let deleted: Vec<String> = store.live_ids("Deal").into_iter().take(4).collect();
    for id in &deleted {
        store
            .delete("Deal", id)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    if let Some(purged) = deleted.last() {
        store
            .purge("Deal", purged)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    // A company the load kept (the sample plants companies it rejects).
    let first = format!(
        "SELECT id FROM \"{}\".company ORDER BY id LIMIT 1",
        schema.name
    );
    let updated: String = sqlx::query_scalar(&first)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{first}: {error}"));
    let mut fields = serde_json::Map::new();
    fields.insert("name".into(), serde_json::json!("Renamed «ünï» 😀"));
    store
        .update("Company", &updated, fields)
        .unwrap_or_else(|error| panic!("{error}"));

    let mut sync = SyncOptions::for_target(&load.target);
    sync.soft_delete = true;
    let summary = sync_once(&workspace, &client(&emulator), &sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let count = |name: &str, field: fn(&offbase_pipeline::sync::EntitySyncReport) -> u64| {
        summary
            .entities
            .iter()
            .find(|entity| entity.entity == name)
            .map(field)
            .unwrap_or_default()
    };
    assert_eq!(count("Deal", |entity| entity.deleted), 4);
    assert_eq!(count("Company", |entity| entity.upserted), 1);
    assert!(!summary.suspended_foreign_keys.is_empty());

    let sql = format!(
        "SELECT (SELECT count(*) FROM \"{name}\".deal WHERE deleted_at IS NOT NULL) AS marked, \
         (SELECT count(*) FROM \"{name}\".deal WHERE id = ANY($1)) AS kept, \
         (SELECT name FROM \"{name}\".company WHERE id = $2) AS renamed",
        name = schema.name
    );
    let row = sqlx::query(&sql)
        .bind(&deleted)
        .bind(&updated)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    use sqlx::Row;
    assert_eq!(row.try_get::<i64, _>("marked").ok(), Some(4));
    assert_eq!(row.try_get::<i64, _>("kept").ok(), Some(4));
    assert_eq!(
        row.try_get::<String, _>("renamed").ok().as_deref(),
        Some("Renamed «ünï» 😀")
    );

    let status = offbase_pipeline::sync::status(&database_url(), &schema.name)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(status.load_phase.as_deref(), Some("done"));
    let deal = status
        .entities
        .iter()
        .find(|entity| entity.entity == "Deal")
        .unwrap_or_else(|| panic!("no Deal state: {status:?}"));
    assert_eq!((deal.state.deleted, deal.state.passes), (4, 1));
    assert!(deal.cursor.is_some() && deal.since_last_reconcile_seconds.is_some());
    emulator.shutdown().await;
    schema.drop().await;
}

/// Copies a folder tree (a sample app) so a test can change it.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("{error}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|error| panic!("{error}")) {
        let entry = entry.unwrap_or_else(|error| panic!("{error}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|error| panic!("{error}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_the_schema_gains_mid_sync_arrives_as_a_new_column() {
    // The app as it is now: Deal gained `priority`. The load was made with the old schemas.
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app_now = folder.path().join("app-now");
    copy_tree(&sample("crm"), &app_now);
    let deal_path = app_now.join("base44/entities/Deal.jsonc");
    let deal = std::fs::read_to_string(&deal_path).unwrap_or_default();
    let gained = deal.replacen(
        "\"properties\": {",
        "\"properties\": {\n    \"priority\": {\"type\": \"integer\"},",
        1,
    );
    assert_ne!(deal, gained, "the Deal schema did not change");
    std::fs::write(&deal_path, gained).unwrap_or_else(|error| panic!("{error}"));

    let emulator = start(&app_now, None).await;
    let Migrated {
        folder: _workspace_folder,
        workspace,
        mut schema,
        load,
    } = migrated_with(&emulator, &sample("crm"), "sync_drift", None).await;
    let first = format!(
        "SELECT id FROM \"{}\".deal ORDER BY id LIMIT 1",
        schema.name
    );
    let changed: String = sqlx::query_scalar(&first)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{first}: {error}"));
    let mut fields = serde_json::Map::new();
    fields.insert("priority".into(), serde_json::json!(3));
    emulator
        .store()
        .update("Deal", &changed, fields)
        .unwrap_or_else(|error| panic!("{error}"));

    let mut sync = SyncOptions::for_target(&load.target);
    sync.schema_from = Some(app_now.clone());
    let summary = sync_once(&workspace, &client(&emulator), &sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let staged =
        std::fs::read_to_string(workspace.schemas_dir().join("Deal.json")).unwrap_or_default();
    assert!(staged.contains("priority"), "{staged}");
    assert_eq!(
        summary.added_columns,
        vec!["deal.priority bigint".to_owned()],
        "{summary:#?}"
    );
    let sql = format!(
        "SELECT count(*) FILTER (WHERE priority = 3 AND id = $1) AS set, \
         count(*) FILTER (WHERE priority IS NOT NULL) AS non_null FROM \"{}\".deal",
        schema.name
    );
    use sqlx::Row;
    let row = sqlx::query(&sql)
        .bind(&changed)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    assert_eq!(row.try_get::<i64, _>("set").ok(), Some(1));
    assert_eq!(row.try_get::<i64, _>("non_null").ok(), Some(1));
    // The next pass finds nothing more to add.
    let again = sync_once(&workspace, &client(&emulator), &sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(again.added_columns.is_empty(), "{:?}", again.added_columns);
    emulator.shutdown().await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutover_is_no_go_while_lag_or_a_planted_difference_exists_and_go_once_clean() {
    use offbase_pipeline::sync::cutover::{CutoverOptions, cutover};
    use sqlx::Row;
    let app_dir = sample("crm");
    let emulator = start(&app_dir, None).await;
    let Migrated {
        folder: _folder,
        workspace,
        mut schema,
        load,
    } = migrated(&emulator, &app_dir, "cutover").await;
    let api = client(&emulator);
    let mut settings = CutoverOptions::new(SyncOptions::for_target(&load.target));
    settings.dry_run = true;
    settings.quiet = Duration::from_secs(1);
    let failed = |report: &offbase_pipeline::sync::cutover::CutoverReport| -> Vec<String> {
        report
            .gates
            .iter()
            .filter(|gate| !gate.passed)
            .map(|gate| gate.name.clone())
            .collect()
    };

    // Never synced; the sample's planted rejects and orphans are not acknowledged.
    let report = cutover(&workspace, &api, &settings, reporter())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(!report.go);
    assert_eq!(
        failed(&report),
        ["sync lag", "rejects", "foreign-key orphans"]
    );
    let written = std::fs::read_to_string(workspace.root().join("reports/cutover-dry-run.md"))
        .unwrap_or_default();
    assert!(
        written.contains("NO-GO") && written.contains("sync lag"),
        "{written}"
    );

    // Synced, rejects and orphans acknowledged, but a row changed in the target alone.
    sync_once(&workspace, &api, &settings.sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    settings.rejects_reviewed = true;
    settings.orphans_acknowledged = true;
    let pick = format!(
        "SELECT id, name FROM \"{}\".company ORDER BY id LIMIT 1",
        schema.name
    );
    let row = sqlx::query(&pick)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{pick}: {error}"));
    let id: String = row.try_get("id").unwrap_or_default();
    let name: Option<String> = row.try_get("name").unwrap_or_default();
    let set = format!(
        "UPDATE \"{}\".company SET name = $1 WHERE id = $2",
        schema.name
    );
    sqlx::query(&set)
        .bind("planted difference")
        .bind(&id)
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{set}: {error}"));
    let report = cutover(&workspace, &api, &settings, reporter())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(failed(&report), ["data"], "{report:#?}");
    // The gate names the record and its field, from the row-level diff.
    let data = report
        .gates
        .iter()
        .find(|gate| gate.name == "data")
        .unwrap_or_else(|| panic!("no data gate"));
    assert!(
        data.figure
            .contains(&format!("Company: 1 with other values ({id} (name))")),
        "{}",
        data.figure
    );

    // A sync never reads that record again (its `updated_date` did not move): the remedy is
    // the reviewed repair, from the list the gate wrote.
    let remedy = data.remedy.clone().unwrap_or_default();
    assert!(remedy.contains("--reapply"), "{remedy}");
    let repair_path = workspace.root().join("cutover/repair.json");
    let repair: offbase_pipeline::sync::cutover::RepairList =
        serde_json::from_str(&std::fs::read_to_string(&repair_path).unwrap_or_default())
            .unwrap_or_else(|error| panic!("{}: {error}", repair_path.display()));
    assert_eq!(
        serde_json::to_value(&repair).unwrap_or_default(),
        serde_json::json!({ "Company": [id] })
    );
    let again = sync_once(&workspace, &api, &settings.sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(again.entities.iter().all(|entity| entity.upserted == 0));
    let repaired =
        offbase_pipeline::sync::reapply(&workspace, &api, &settings.sync, &repair, &NoProgress)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
    let upserted: u64 = repaired.entities.iter().map(|entity| entity.upserted).sum();
    assert_eq!(upserted, 1, "{repaired:#?}");
    let restored = format!("SELECT name FROM \"{}\".company WHERE id = $1", schema.name);
    let now: Option<String> = sqlx::query_scalar(&restored)
        .bind(&id)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{restored}: {error}"));
    assert_eq!(now, name);

    // Clean again: go, and a rehearsal changes nothing.
    let report = cutover(&workspace, &api, &settings, reporter())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(report.go && !report.cut_over, "{report:#?}");
    let keys = format!(
        "SELECT count(*) AS keys, count(*) FILTER (WHERE convalidated) AS valid FROM pg_constraint c \
         JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = '{}' AND c.contype = 'f'",
        schema.name
    );
    let count =
        |row: &sqlx::postgres::PgRow, column: &str| row.try_get::<i64, _>(column).unwrap_or(-1);
    let row = sqlx::query(&keys)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{keys}: {error}"));
    assert_eq!(count(&row, "keys"), 0, "the sync took the foreign keys off");

    // The cutover itself puts them back: validated where no orphans exist.
    settings.dry_run = false;
    let report = cutover(&workspace, &api, &settings, reporter())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(report.go && report.cut_over, "{report:#?}");
    let row = sqlx::query(&keys)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{keys}: {error}"));
    assert_eq!((count(&row, "keys"), count(&row, "valid")), (5, 2));
    emulator.shutdown().await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrays_of_references_follow_their_records_into_junction_tables() {
    use sqlx::Row;
    let app_dir = sample("marketplace");
    let mappings = offbase_tests::repo_root().join("mappings/examples/marketplace.toml");
    let emulator = start(&app_dir, None).await;
    let Migrated {
        folder: _folder,
        workspace,
        mut schema,
        load,
    } = migrated_with(&emulator, &app_dir, "sync_junction", Some(mappings.clone())).await;
    let pick = format!(
        "SELECT o.id FROM \"{name}\".orders o WHERE EXISTS \
         (SELECT 1 FROM \"{name}\".orders_listing_ids j WHERE j.source_id = o.id) ORDER BY o.id LIMIT 2",
        name = schema.name
    );
    let orders: Vec<String> = sqlx::query_scalar(&pick)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{pick}: {error}"));
    let [changed, deleted] = orders.as_slice() else {
        panic!("the sample has fewer than two orders with listings: {orders:?}");
    };
    let listings: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM \"{}\".listing ORDER BY id DESC LIMIT 2",
        schema.name
    ))
    .fetch_all(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let store = emulator.store();
    let mut fields = serde_json::Map::new();
    fields.insert("listing_ids".into(), serde_json::json!(listings));
    store
        .update("Order", changed, fields)
        .unwrap_or_else(|error| panic!("{error}"));
    store
        .delete("Order", deleted)
        .unwrap_or_else(|error| panic!("{error}"));

    let summary = sync_once(
        &workspace,
        &client(&emulator),
        &SyncOptions::for_target(&load.target),
        &NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    let junction = |id: &str| {
        format!(
            "SELECT coalesce(array_agg(target_id ORDER BY position), '{{}}') AS targets \
             FROM \"{}\".orders_listing_ids WHERE source_id = '{id}'",
            schema.name
        )
    };
    let row = sqlx::query(&junction(changed))
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        row.try_get::<Vec<String>, _>("targets").ok(),
        Some(listings.clone())
    );
    let row = sqlx::query(&junction(deleted))
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        row.try_get::<Vec<String>, _>("targets").ok(),
        Some(Vec::new())
    );

    // Every entity table equals a fresh pull.
    let snapshot_folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let snapshot = Workspace::new(snapshot_folder.path().join("workspace"));
    let mapping_file = offbase_pipeline::target::MappingFile::read(&mappings)
        .unwrap_or_else(|error| panic!("{error}"));
    let snapshot_options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(client(&emulator)),
            schema_from: app_dir.clone(),
        },
        workspace: snapshot.clone(),
        mappings: Some(mapping_file.clone()),
        destination: Destination::Bundle {
            path: snapshot_folder.path().join("bundle.sql"),
            options: BundleOptions {
                pg_schema: "unused".into(),
                mappings: Some(mapping_file),
                relax: Default::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
    };
    if let Err(error) = migrate(&snapshot_options, reporter()).await {
        panic!("snapshot: {error}");
    }
    let compared = verify(&snapshot, &load.target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("verify: {error}"));
    assert!(compared.matches(), "{compared:#?}");
    emulator.shutdown().await;
    schema.drop().await;
}

/// Regression: a rejected change read again inside the overlap window was written to the
/// reject file again on every pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_change_read_again_in_the_overlap_is_rejected_once() {
    let app_dir = sample("crm");
    let emulator = start(&app_dir, None).await;
    let Migrated {
        folder: _folder,
        workspace,
        mut schema,
        load,
    } = migrated(&emulator, &app_dir, "sync_reject_once").await;
    let first = format!(
        "SELECT id FROM \"{}\".deal ORDER BY id LIMIT 1",
        schema.name
    );
    let id: String = sqlx::query_scalar(&first)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{first}: {error}"));
    let mut sync = SyncOptions::for_target(&load.target);
    sync.overlap = Duration::from_secs(60);
    let api = client(&emulator);
    sync_once(&workspace, &api, &sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let mut fields = serde_json::Map::new();
    fields.insert("stage".into(), serde_json::json!("Not a stage"));
    emulator
        .store()
        .update("Deal", &id, fields)
        .unwrap_or_else(|error| panic!("{error}"));
    let mut rejected = 0;
    for _ in 0..3 {
        let summary = sync_once(&workspace, &api, &sync, &NoProgress)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        rejected += summary
            .entities
            .iter()
            .map(|entity| entity.rejected)
            .sum::<u64>();
    }
    let text = std::fs::read_to_string(workspace.root().join("reports/rejects/sync-Deal.jsonl"))
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|line| line.contains(&id)).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines
            .iter()
            .all(|line| line.contains("\"reason\":\"enum\"")),
        "{text}"
    );
    assert_eq!(rejected, 1);
    emulator.shutdown().await;
    schema.drop().await;
}

/// A proxy in front of `upstream` answering GETs (what a sync pass asks) with the upstream's
/// answer to the same request without its `q` when `drops_q(query)`: a server that ignores
/// the filter for those requests.
async fn ignoring_q(upstream: String, drops_q: fn(&str) -> bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|error| panic!("bind: {error}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|error| panic!("address: {error}"));
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let (http, upstream) = (http.clone(), upstream.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut lines = head.split("\r\n");
                let target = lines
                    .next()
                    .and_then(|line| line.split(' ').nth(1))
                    .unwrap_or("/");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| !(drops_q(query) && pair.starts_with("q=")))
                    .collect();
                let mut request = http.get(format!("{upstream}{path}?{}", kept.join("&")));
                for line in lines {
                    if let Some((name, value)) = line.split_once(':')
                        && ["api_key", "x-app-id", "authorization"]
                            .contains(&name.to_ascii_lowercase().as_str())
                    {
                        request = request.header(name, value.trim());
                    }
                }
                let (status, body) = match request.send().await {
                    Ok(response) => (
                        response.status().as_u16(),
                        response.bytes().await.unwrap_or_default().to_vec(),
                    ),
                    Err(_) => (502, Vec::new()),
                };
                let reply = format!(
                    "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_ignoring_q_made_the_sync_read_the_same_page_forever() {
    let app_dir = sample("crm");
    let emulator = start(&app_dir, None).await;
    let Migrated {
        folder: _folder,
        workspace,
        schema,
        load,
    } = migrated(&emulator, &app_dir, "sync_ignoring_q").await;
    let mut sync = SyncOptions::for_target(&load.target);
    sync.page_size = 3;
    // Every list (the changes first), then only the reconciliation's listing of live ids
    // (the one that asks for `fields`).
    let every: fn(&str) -> bool = |_| true;
    let listing: fn(&str) -> bool = |query| query.contains("fields=");
    for (case, drops_q) in [("changes", every), ("live ids", listing)] {
        let url = ignoring_q(emulator.api_url(), drops_q).await;
        let api = offbase_tests::api_client(&url, emulator.app_id());
        let pass = tokio::time::timeout(
            Duration::from_secs(60),
            sync_once(&workspace, &api, &sync, &NoProgress),
        )
        .await
        .unwrap_or_else(|_| panic!("{case}: the pass was still reading after 60 s"));
        match pass {
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains("ignored the filter `q`"),
                    "{case}: {message}"
                );
            }
            Ok(summary) => panic!("{case}: the pass ended as if read whole: {summary:?}"),
        }
    }
    emulator.shutdown().await;
    schema.drop().await;
}
