//! The rewrite of file URLs against the emulator over real HTTP and a real PostgreSQL:
//! `migrate` with the files step leaves no loaded value pointing at Base44 for every sample,
//! with verify and `diff data` clean through the URL map; the cutover's file gate passes, and
//! names the one URL planted afterwards; the sync copies a file uploaded after the copy before it
//! writes the record that points at it; `files rewrite` of an already loaded target counts
//! before it changes anything, rewrites once (a second run finds nothing), keeps the URL of a
//! file that could not be copied, and leaves verify and diff clean.

use offbase_emulator::RunningEmulator;
use offbase_pipeline::compare::diff::diff_data;
use offbase_pipeline::compare::verify::verify;
use offbase_pipeline::files::copy::{CopyOptions, copy};
use offbase_pipeline::files::rewrite::{remaining_in_target, rewrite_loaded};
use offbase_pipeline::files::scan::{FileManifest, scan};
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{
    Destination, MigrateOptions, MigrateSource, MigrateSummary, migrate,
};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::target::Target;
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{TestSchema, database_url, emulator_client, sample, start_emulator};
use std::path::Path;
use std::sync::Arc;

const PUBLIC_URL: &str = "https://files.example.com/market";

fn reporter() -> Arc<dyn Reporter> {
    Arc::new(NoProgress)
}

/// The copy options of a test: into `folder/copies`, from the emulator, with the public URL.
fn copy_options(folder: &Path, emulator: &RunningEmulator) -> CopyOptions {
    let mut options = CopyOptions::new(folder.join("copies"));
    options.via = Some(emulator.api_url());
    options.public_url = Some(PUBLIC_URL.to_owned());
    options
}

async fn migrated(
    source: MigrateSource,
    workspace: &Workspace,
    schema: &TestSchema,
    files: Option<CopyOptions>,
) -> (MigrateSummary, Target) {
    let load = LoadOptions::new(database_url(), &schema.name);
    let options = MigrateOptions {
        source,
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(load.clone()),
        files,
    };
    let summary = migrate(&options, reporter())
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    (summary, load.target)
}

/// References of the file manifest from records the load kept (not in a reject file).
fn loaded_references(workspace: &Workspace) -> u64 {
    use offbase_pipeline::workspace::rejects::{read_rejects, rejects_path};
    let files = manifest(workspace).files;
    let entities: std::collections::BTreeSet<&str> = files
        .iter()
        .flat_map(|file| &file.records)
        .map(|reference| reference.entity.as_str())
        .collect();
    let mut rejected = std::collections::BTreeSet::new();
    for entity in entities {
        read_rejects(&rejects_path(workspace, entity), |reject| {
            rejected.insert((reject.entity, reject.id));
        })
        .unwrap_or_else(|error| panic!("{error}"));
    }
    files
        .iter()
        .flat_map(|file| &file.records)
        .filter(|reference| !rejected.contains(&(reference.entity.clone(), reference.id.clone())))
        .count() as u64
}

fn manifest(workspace: &Workspace) -> FileManifest {
    let text = std::fs::read_to_string(workspace.files_manifest_path())
        .unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_with_files_leaves_no_base44_url_in_any_sample_and_diffs_clean() {
    let emulator = start_emulator(&sample("marketplace"), None).await;
    for name in ["crm", "tasks", "marketplace"] {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let workspace = Workspace::new(folder.path().join("ws"));
        let schema = TestSchema::new(&format!("files_{name}")).await;
        let source = MigrateSource::Folder {
            folder: sample(name),
            schema_from: None,
        };
        let files = copy_options(folder.path(), &emulator);
        let (summary, target) = migrated(source, &workspace, &schema, Some(files)).await;
        let copied = summary
            .files
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no files step"));
        assert_eq!(
            (copied.copy.copied, copied.copy.rejected),
            (copied.scan.files - copied.scan.private_files, 0),
            "{name}: {copied:?}"
        );
        let load = summary
            .load
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: not loaded"));
        let rewritten: u64 = load
            .entities
            .iter()
            .flat_map(|entity| entity.urls_rewritten.values())
            .sum();
        assert_eq!(rewritten, loaded_references(&workspace), "{name}: {load:?}");
        if name == "marketplace" {
            assert!(rewritten > 400, "{rewritten}");
        }
        assert!(summary.clean(), "{name}: {:?}", summary.problems());
        let remaining = remaining_in_target(&workspace, &target, 3)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(remaining.total(), 0, "{name}: {remaining:?}");
        let diff = diff_data(&workspace, &target, &NoProgress)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(diff.clean(), "{name}: {diff:?}");
        schema.drop().await;
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_with_files_holds_the_urls_of_the_copies() {
    use offbase_pipeline::load::bundle::BundleOptions;
    let emulator = start_emulator(&sample("marketplace"), None).await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("ws"));
    let bundle = folder.path().join("bundle.sql");
    let options = MigrateOptions {
        source: MigrateSource::Folder {
            folder: sample("marketplace"),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: bundle.clone(),
            options: BundleOptions {
                pg_schema: "bundled".into(),
                mappings: None,
                relax: Default::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
        files: Some(copy_options(folder.path(), &emulator)),
    };
    let summary = migrate(&options, reporter())
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    let written = summary.bundle.unwrap_or_else(|| panic!("no bundle"));
    let rewritten: u64 = written
        .entities
        .iter()
        .flat_map(|entity| entity.urls_rewritten.values())
        .sum();
    assert_eq!(rewritten, loaded_references(&workspace));
    let sql = std::fs::read_to_string(&bundle).unwrap_or_else(|error| panic!("{error}"));
    let hosted = sql
        .lines()
        .filter(|line| !offbase_base44::files::find_hosted_files(line).is_empty())
        .count();
    assert_eq!(hosted, 0, "a bundle line still points at Base44");
    assert!(sql.contains(PUBLIC_URL));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cutover_file_gate_passes_after_migrate_with_files_and_names_a_url_left() {
    use offbase_pipeline::sync::SyncOptions;
    use offbase_pipeline::sync::cutover::{CutoverOptions, CutoverReport, cutover};
    let app_dir = sample("marketplace");
    let emulator = start_emulator(&app_dir, None).await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("ws"));
    let mut schema = TestSchema::new("file_gate").await;
    let source = MigrateSource::Api {
        client: Box::new(emulator_client(&emulator)),
        schema_from: app_dir.clone(),
    };
    let files = copy_options(folder.path(), &emulator);
    let (summary, target) = migrated(source, &workspace, &schema, Some(files)).await;
    assert!(summary.clean(), "{:?}", summary.problems());

    let api = emulator_client(&emulator);
    let mut settings = CutoverOptions::new(SyncOptions::for_target(&target));
    settings.dry_run = true;
    settings.freeze_confirmed = true;
    settings.rejects_reviewed = true;
    settings.orphans_acknowledged = true;
    let file_gate = |report: &CutoverReport| {
        report
            .gates
            .iter()
            .find(|gate| gate.name == "file URLs")
            .cloned()
            .unwrap_or_else(|| panic!("no file gate: {report:?}"))
    };
    // An upload after the copy: the sync copies the new file before it writes the record,
    // which lands with the URL of the copy.
    use sqlx::Row;
    let first = format!("SELECT min(id) AS id FROM \"{}\".listing", schema.name);
    let id: String = sqlx::query(&first)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{first}: {error}"))
        .get("id");
    let upload =
        "https://media.base44.com/images/public/900e600cba18b8f276b74981/0a1b2c3d4_new_upload.png";
    let response = reqwest::Client::new()
        .put(format!(
            "{}/api/apps/{}/entities/Listing/{id}",
            emulator.api_url(),
            emulator.app_id()
        ))
        .header("api_key", offbase_tests::EMULATOR_KEY)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "images": [upload] }).to_string())
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(response.status().is_success(), "{}", response.status());
    let synced = offbase_pipeline::sync::sync_once(&workspace, &api, &settings.sync, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let copied: u64 = synced
        .entities
        .iter()
        .map(|entity| entity.files_copied)
        .sum();
    assert_eq!(copied, 1, "{synced:?}");
    let copy_path = folder
        .path()
        .join("copies/public/900e600cba18b8f276b74981/0a1b2c3d4_new_upload.png");
    assert_eq!(
        std::fs::read(&copy_path).unwrap_or_else(|error| panic!("{error}")),
        offbase_emulator::file_bytes(
            "/images/public/900e600cba18b8f276b74981/0a1b2c3d4_new_upload.png"
        )
    );
    let images = format!(
        "SELECT images FROM \"{}\".listing WHERE id = $1",
        schema.name
    );
    let stored: Vec<String> = sqlx::query(&images)
        .bind(&id)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{images}: {error}"))
        .get("images");
    assert_eq!(
        stored,
        [format!(
            "{PUBLIC_URL}/public/900e600cba18b8f276b74981/0a1b2c3d4_new_upload.png"
        )]
    );
    let report = cutover(&workspace, &api, &settings, reporter())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let gate = file_gate(&report);
    assert!(gate.passed, "{gate:?}");
    assert!(report.go, "{report:?}");

    // The app's reads answer alike: the old backend's records are read through the map.
    use offbase_pipeline::compare::behaviour::{BehaviourOptions, NewBackend, diff_behaviour};
    let corpus = offbase_pipeline::compare::corpus::generate_corpus(&workspace, None)
        .unwrap_or_else(|error| panic!("corpus: {error}"));
    let behaviour = diff_behaviour(
        &workspace,
        None,
        &api,
        &NewBackend::Postgres(Target::new(database_url(), schema.name.clone())),
        &corpus,
        &BehaviourOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("diff behaviour: {error}"));
    assert_eq!(
        (behaviour.mismatched, behaviour.errors),
        (0, 0),
        "{:?}",
        behaviour
            .requests
            .iter()
            .filter_map(|request| request.diff.as_ref())
            .collect::<Vec<_>>()
    );

    // One URL left on Base44's storage: no-go, and the gate names it.
    let left = "https://media.base44.com/images/public/900e600cba18b8f276b74981/fffffffff_left.png";
    let plant = format!(
        "UPDATE \"{}\".listing SET images = array_append(images, '{left}') \
         WHERE id = (SELECT max(id) FROM \"{}\".listing)",
        schema.name, schema.name
    );
    sqlx::query(&plant)
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{plant}: {error}"));
    let report = cutover(&workspace, &api, &settings, reporter())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let gate = file_gate(&report);
    assert!(!report.go);
    assert!(!gate.passed, "{gate:?}");
    assert!(
        gate.figure.starts_with("1 values still point") && gate.figure.contains(left),
        "{gate:?}"
    );
    settings.file_urls_acknowledged = true;
    let report = cutover(&workspace, &api, &settings, reporter())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(file_gate(&report).passed);
    emulator.shutdown().await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_rewrite_of_a_loaded_target_counts_first_rewrites_once_and_keeps_a_missing_file() {
    let app_dir = sample("marketplace");
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("ws"));
    let mut schema = TestSchema::new("files_rewrite").await;
    let source = MigrateSource::Folder {
        folder: app_dir.clone(),
        schema_from: None,
    };
    let (_, target) = migrated(source, &workspace, &schema, None).await;
    let scanned = scan(&workspace, None, &NoProgress).unwrap_or_else(|error| panic!("{error}"));
    // A file the platform no longer has, referenced by one avatar.
    let gone = manifest(&workspace)
        .files
        .into_iter()
        .find(|file| {
            file.records.len() == 1
                && file
                    .records
                    .first()
                    .is_some_and(|reference| reference.entity == "User")
        })
        .unwrap_or_else(|| panic!("no avatar file"));
    let gone_path = gone
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|start| rest[start..].to_owned()))
        .unwrap_or_default();
    let config = offbase_emulator::EmulatorConfig {
        app_dir,
        app_id: None,
        api_key: offbase_tests::EMULATOR_KEY.to_owned(),
        rate_limits: offbase_emulator::RateLimits::Off,
        faults: offbase_emulator::Faults::default(),
        writer: None,
        created_by: "emulator@example.com".to_owned(),
        deleted_files: [gone_path].into_iter().collect(),
        file_size: None,
        max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
        max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
    };
    let address = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
    let emulator = offbase_emulator::start(config, address)
        .await
        .unwrap_or_else(|error| panic!("the emulator did not start: {error}"));
    let copied = copy(
        &workspace,
        &copy_options(folder.path(), &emulator),
        &NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("copy: {error}"));
    assert_eq!(copied.rejected, 1, "{copied:?}");

    let before = remaining_in_target(&workspace, &target, 3)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let references = loaded_references(&workspace);
    assert!(before.total() > 0 && before.total() <= references);
    assert!(scanned.record_references as u64 > references);

    // The dry run counts and shows, and changes nothing.
    let dry = rewrite_loaded(&workspace, &target, true, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(dry.urls, references - 1, "{dry:?}");
    assert!(dry.columns.iter().all(|column| !column.examples.is_empty()));
    let example = &dry.columns[0].examples[0];
    assert_eq!(
        example.new_url.as_deref(),
        Some(format!("{PUBLIC_URL}/{}", hosted_key(&example.url)).as_str())
    );
    let after_dry = remaining_in_target(&workspace, &target, 3)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(after_dry, before);

    let done = rewrite_loaded(&workspace, &target, false, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((done.urls, done.rows), (dry.urls, dry.rows), "{done:?}");
    let again = rewrite_loaded(&workspace, &target, false, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((again.urls, again.rows), (0, 0), "{again:?}");

    // The avatar of a file that could not be copied keeps its URL; the rest are rewritten.
    let remaining = remaining_in_target(&workspace, &target, 3)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(remaining.total(), 1, "{remaining:?}");
    assert_eq!(remaining.examples[0].url, gone.url);
    let avatars = format!(
        "SELECT count(*) FILTER (WHERE avatar_url LIKE '{PUBLIC_URL}/%') AS new, \
         count(*) FILTER (WHERE avatar_url LIKE '%base44%') AS old FROM \"{}\".\"user\"",
        schema.name
    );
    let row = sqlx::query(&avatars)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{avatars}: {error}"));
    use sqlx::Row;
    let (new, old): (i64, i64) = (row.get("new"), row.get("old"));
    assert!(new > 0, "{new}");
    assert_eq!(old, 1);

    // Verify and diff rewrite the workspace's records the same way now.
    let verified = verify(&workspace, &target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(verified.matches(), "{verified:?}");
    let diff = diff_data(&workspace, &target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(diff.clean(), "{diff:?}");
    emulator.shutdown().await;
    schema.drop().await;
}

/// The key a copy of a hosted URL is kept under.
fn hosted_key(url: &str) -> String {
    offbase_base44::files::hosted_file(url)
        .map(|file| file.key)
        .unwrap_or_default()
}
