//! `diff behaviour` over real HTTP and a real PostgreSQL: every sample migrated from the
//! emulator, its generated corpus answered alike by the emulator and by PostgreSQL (through the
//! translation of q/sort/limit/skip); a planted semantic difference (a column collation that
//! sorts otherwise than the platform) found on exactly the requests it changes; the sample HAR
//! capture replayed as a corpus.

use offbase_base44::client::Client;
use offbase_base44::corpus::{CorpusRequest, Operation};
use offbase_emulator::RunningEmulator;
use offbase_pipeline::compare::behaviour::{
    BehaviourDiff, BehaviourOptions, NewBackend, Verdict, diff_behaviour,
};
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::target::Target;
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{TestSchema, database_url, emulator_client, repo_root, sample, start_emulator};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

async fn start(app_dir: &Path) -> RunningEmulator {
    start_emulator(app_dir, None).await
}

fn client(emulator: &RunningEmulator) -> Client {
    emulator_client(emulator)
}

/// A sample migrated from the emulator into a schema of its own.
struct Migrated {
    _folder: tempfile::TempDir,
    workspace: Workspace,
    schema: TestSchema,
}

async fn migrated(emulator: &RunningEmulator, app: &str) -> Migrated {
    migrated_from(emulator, &sample(app), app).await
}

async fn migrated_from(emulator: &RunningEmulator, app_dir: &Path, app: &str) -> Migrated {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let schema = TestSchema::new(&format!("behaviour_{app}")).await;
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(client(emulator)),
            schema_from: app_dir.to_path_buf(),
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
    };
    if let Err(error) = migrate(&options, Arc::new(NoProgress)).await {
        panic!("migrate {app}: {error}");
    }
    Migrated {
        _folder: folder,
        workspace,
        schema,
    }
}

async fn run(
    emulator: &RunningEmulator,
    migrated: &Migrated,
    corpus: &[CorpusRequest],
) -> BehaviourDiff {
    let new = NewBackend::Postgres(Target::new(database_url(), migrated.schema.name.clone()));
    diff_behaviour(
        &migrated.workspace,
        None,
        &client(emulator),
        &new,
        corpus,
        &BehaviourOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("diff behaviour: {error}"))
}

fn not_matching(diff: &BehaviourDiff) -> Vec<String> {
    diff.requests
        .iter()
        .filter(|outcome| outcome.verdict != Verdict::Match)
        .map(|outcome| {
            format!(
                "#{} {} ({:?}): {}{}",
                outcome.number,
                outcome.label,
                outcome.verdict,
                outcome.error.clone().unwrap_or_default(),
                outcome.diff.clone().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_corpus_of_every_sample_matches_between_the_emulator_and_postgres() {
    for app in ["crm", "marketplace", "tasks"] {
        let emulator = start(&sample(app)).await;
        let migrated = migrated(&emulator, app).await;
        let corpus = offbase_pipeline::compare::corpus::generate_corpus(&migrated.workspace, None)
            .unwrap_or_else(|error| panic!("{app}: corpus generate: {error}"));
        // The corpus exercises every operation, and the filters select records.
        let operations: BTreeSet<Operation> = corpus.iter().map(|request| request.op).collect();
        assert_eq!(operations.len(), 4, "{app}: {operations:?}");
        assert!(corpus.len() > 100, "{app}: only {} requests", corpus.len());
        let diff = run(&emulator, &migrated, &corpus).await;
        assert_eq!(not_matching(&diff), Vec::<String>::new(), "{app}");
        assert_eq!(diff.matched, corpus.len(), "{app}");
        let non_empty_filters = diff
            .requests
            .iter()
            .filter(|outcome| {
                outcome.request.op == Operation::Filter
                    && outcome.old != "0 records"
                    && outcome.request.q.is_some()
            })
            .count();
        assert!(
            non_empty_filters > 10,
            "{app}: {non_empty_filters} filters select records"
        );
        // The samples hold records the load rejects: they are left out of the old side.
        if app == "crm" {
            assert!(
                diff.requests
                    .iter()
                    .any(|outcome| outcome.rejected_left_out > 0),
                "{app}: no request left rejected records out"
            );
        }
        migrated.schema.drop().await;
        drop(emulator);
    }
}

/// `offbase serve` over each migrated sample as the new backend, asked through the API as the
/// platform is (`diff behaviour --target-url`): the generated corpus answers alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_corpus_of_every_sample_matches_between_the_emulator_and_offbase_serve() {
    for app in ["crm", "marketplace", "tasks"] {
        let emulator = start(&sample(app)).await;
        let migrated = migrated(&emulator, app).await;
        let corpus = offbase_pipeline::compare::corpus::generate_corpus(&migrated.workspace, None)
            .unwrap_or_else(|error| panic!("{app}: corpus generate: {error}"));
        let server = offbase_serve::start(
            offbase_serve::ServeConfig {
                app_id: Some(emulator.app_id().to_owned()),
                service_key: Some(offbase_tests::EMULATOR_KEY.to_owned()),
                ..offbase_serve::ServeConfig::new(
                    &database_url(),
                    &migrated.schema.name,
                    migrated.workspace.root(),
                )
            },
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        )
        .await
        .unwrap_or_else(|error| panic!("{app}: start offbase serve: {error}"));
        let served = offbase_tests::api_client(&server.api_url(), server.app_id());
        let diff = diff_behaviour(
            &migrated.workspace,
            None,
            &client(&emulator),
            &NewBackend::Api(served),
            &corpus,
            &BehaviourOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap_or_else(|error| panic!("{app}: diff behaviour: {error}"));
        assert_eq!(not_matching(&diff), Vec::<String>::new(), "{app}");
        assert_eq!(diff.matched, corpus.len(), "{app}");
        println!(
            "{app}: {} requests answered alike by offbase serve",
            corpus.len()
        );
        server.shutdown().await;
        migrated.schema.drop().await;
        drop(emulator);
    }
}

/// Every operator of the query language over every kind of column, `_extra` and nested
/// objects, each sort, paging and projection (tests/fixtures/behaviour/corpus.jsonl).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_written_reads_over_every_kind_of_field_match() {
    let app_dir = repo_root().join("tests/fixtures/behaviour");
    let text = std::fs::read_to_string(app_dir.join("corpus.jsonl"))
        .unwrap_or_else(|error| panic!("{error}"));
    let corpus =
        offbase_base44::corpus::read_corpus(&text).unwrap_or_else(|error| panic!("{error}"));
    let emulator = start(&app_dir).await;
    let migrated = migrated_from(&emulator, &app_dir, "fixture").await;
    let diff = run(&emulator, &migrated, &corpus).await;
    // One true difference, and only that one: a field stored as an explicit null is present
    // to the platform's `$exists`, while a column holds NULL for null and missing alike.
    let mismatched: Vec<&str> = diff
        .requests
        .iter()
        .filter(|outcome| outcome.verdict != Verdict::Match)
        .map(|outcome| outcome.label.as_str())
        .collect();
    assert_eq!(mismatched, ["$exists true"], "{:#?}", not_matching(&diff));
    // Not vacuous: most reads select records, and the answers differ from one another.
    let selecting = diff
        .requests
        .iter()
        .filter(|outcome| !matches!(outcome.old.as_str(), "0 records" | "count 0"))
        .count();
    assert!(
        selecting * 10 >= corpus.len() * 7,
        "{selecting} of {}",
        corpus.len()
    );
    migrated.schema.drop().await;
    drop(emulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_collation_that_sorts_otherwise_is_found_on_exactly_its_sorts() {
    let emulator = start(&sample("crm")).await;
    let migrated = migrated(&emulator, "crm").await;
    let corpus = offbase_pipeline::compare::corpus::generate_corpus(&migrated.workspace, None)
        .unwrap_or_else(|error| panic!("corpus generate: {error}"));
    // A database created with a language collation: `Ñandú` sorts next to `N`, not after `z`.
    let mut connection = offbase_pg::connect(&database_url())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    offbase_pg::load::execute_in(
        &mut connection,
        &migrated.schema.name,
        "ALTER TABLE company ALTER COLUMN name TYPE text COLLATE \"en-US-x-icu\"",
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let diff = run(&emulator, &migrated, &corpus).await;
    let mismatched: BTreeSet<String> = diff
        .requests
        .iter()
        .filter(|outcome| outcome.verdict != Verdict::Match)
        .map(|outcome| outcome.label.clone())
        .collect();
    assert_eq!(
        mismatched,
        BTreeSet::from(["Company: sorted by -name".to_owned()]),
        "{:?}",
        not_matching(&diff)
    );
    let outcome = diff
        .requests
        .iter()
        .find(|outcome| outcome.verdict == Verdict::Mismatch)
        .unwrap_or_else(|| panic!("no mismatch"));
    assert!(
        outcome
            .diff
            .as_deref()
            .is_some_and(|diff| diff.contains("Ñandú Logística S.A.")),
        "{:?}",
        outcome.diff
    );
    assert!(
        outcome
            .sql
            .as_deref()
            .is_some_and(|sql| sql.contains("ORDER BY \"name\" DESC NULLS LAST")),
        "{:?}",
        outcome.sql
    );
    migrated.schema.drop().await;
    drop(emulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_har_capture_becomes_a_corpus_that_runs() {
    let text = std::fs::read_to_string(repo_root().join("samples/har/crm.har"))
        .unwrap_or_else(|error| panic!("{error}"));
    let extract = offbase_base44::har::corpus_from_har(&text)
        .unwrap_or_else(|error| panic!("from-har: {error}"));
    assert!(extract.requests.len() >= 10, "{}", extract.requests.len());
    let emulator = start(&sample("crm")).await;
    let migrated = migrated(&emulator, "crm").await;
    let diff = run(&emulator, &migrated, &extract.requests).await;
    assert_eq!(not_matching(&diff), Vec::<String>::new());
    assert_eq!(diff.matched, extract.requests.len());
    migrated.schema.drop().await;
    drop(emulator);
}

/// The SQL the translation writes, for a few reads of each shape (snapshot).
#[test]
fn translated_reads_as_sql() {
    use offbase_base44::query::{parse_filter, parse_sort};
    use offbase_sql::query::{count_sql, get_sql, list_sql};
    let output = offbase_tests::plan_app(&repo_root().join("tests/fixtures/behaviour"), None);
    let table = output
        .target
        .table_for_entity("Item")
        .unwrap_or_else(|| panic!("no Item table"));
    let filter = |q: serde_json::Value| parse_filter(&q).unwrap_or_else(|error| panic!("{error}"));
    let sort = |text: &str| parse_sort(text).unwrap_or_else(|error| panic!("{error}"));
    let mut text = String::new();
    let cases = [
        (
            serde_json::json!({"status": {"$ne": "open"}, "tags": "red"}),
            Some("-due_at"),
            Some(20),
            Some(40),
        ),
        (
            serde_json::json!({"$or": [{"score": {"$gt": 1.5}}, {"due_at": {"$gte": "2026-03-01"}}]}),
            Some("title"),
            None,
            None,
        ),
        (
            serde_json::json!({"title": {"$regex": "^apple", "$options": "i"}, "meta.city": "Paris"}),
            None,
            Some(0),
            None,
        ),
        (
            serde_json::json!({"$nor": [{"colour": {"$in": ["red", null]}}], "points": {"$size": 2}}),
            Some("colour"),
            Some(5),
            None,
        ),
    ];
    for (q, sort_text, limit, skip) in cases {
        let sql = list_sql(
            "app",
            table,
            &filter(q.clone()),
            sort_text.and_then(sort).as_ref(),
            limit,
            skip,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        text.push_str(&format!(
            "-- q={q} sort={sort_text:?} limit={limit:?} skip={skip:?}\n{sql}\n\n"
        ));
    }
    let count = count_sql(
        "app",
        table,
        &filter(serde_json::json!({"done": {"$not": {"$eq": true}}})),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    text.push_str(&format!("-- count where done is not true\n{count}\n\n"));
    text.push_str(&format!(
        "-- get\n{}\n",
        get_sql("app", table, "a0000'000000000000000001")
    ));
    insta::assert_snapshot!(text);
}

/// The new backend can be any endpoint that speaks the Base44 API: a second emulator serving
/// the same app agrees on every read, and a record changed there shows in exactly the reads
/// that return it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_base44_api_as_the_new_backend_differs_where_a_record_was_changed() {
    let app_dir = repo_root().join("tests/fixtures/behaviour");
    let text = std::fs::read_to_string(app_dir.join("corpus.jsonl"))
        .unwrap_or_else(|error| panic!("{error}"));
    let corpus =
        offbase_base44::corpus::read_corpus(&text).unwrap_or_else(|error| panic!("{error}"));
    let old = start(&app_dir).await;
    let new = start(&app_dir).await;
    let migrated = migrated_from(&old, &app_dir, "fixture_api").await;
    let ask = |new_client: Client| {
        let old_client = client(&old);
        let workspace = migrated.workspace.clone();
        let corpus = corpus.clone();
        async move {
            diff_behaviour(
                &workspace,
                None,
                &old_client,
                &NewBackend::Api(new_client),
                &corpus,
                &BehaviourOptions::default(),
                &NoProgress,
            )
            .await
            .unwrap_or_else(|error| panic!("diff behaviour: {error}"))
        }
    };
    let same = ask(client(&new)).await;
    assert_eq!(not_matching(&same), Vec::<String>::new());

    // `rank` 10 → 11 on one record: reads that return it, count it by rank, or sort by rank
    // around it now differ. `updated_date` moves too: ignored here, as a cutover rehearsal
    // would with --ignore.
    let mut change = serde_json::Map::new();
    change.insert("rank".to_owned(), serde_json::json!(11));
    new.store()
        .update("Item", "a00000000000000000000003", change)
        .unwrap_or_else(|error| panic!("{error}"));
    let options = BehaviourOptions {
        ignore_fields: vec!["updated_date".to_owned()],
        ..BehaviourOptions::default()
    };
    let changed = diff_behaviour(
        &migrated.workspace,
        None,
        &client(&old),
        &NewBackend::Api(client(&new)),
        &corpus,
        &options,
        &NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("diff behaviour: {error}"));
    let mismatched: BTreeSet<&str> = changed
        .requests
        .iter()
        .filter(|outcome| outcome.verdict != Verdict::Match)
        .map(|outcome| outcome.label.as_str())
        .collect();
    assert!(mismatched.contains("sorted by rank"), "{mismatched:?}");
    assert!(mismatched.contains("sorted by -rank"), "{mismatched:?}");
    assert!(mismatched.contains("$or"), "{mismatched:?}");
    // Reads that never return that record still match.
    for label in [
        "equal text",
        "boolean",
        "get one",
        "count nulls",
        "page 2 of 3",
    ] {
        assert!(!mismatched.contains(label), "{label}: {mismatched:?}");
    }
    let outcome = changed
        .requests
        .iter()
        .find(|outcome| outcome.label == "sorted by -rank")
        .unwrap_or_else(|| panic!("no such request"));
    assert!(
        outcome
            .diff
            .as_deref()
            .is_some_and(|diff| diff.contains("\"rank\": 11") || diff.contains("rank=11")),
        "{:?}",
        outcome.diff
    );
    migrated.schema.drop().await;
    drop(old);
    drop(new);
}

/// `offbase assess` finds the reads of the sample's code whose arguments are all literals;
/// replayed as a corpus, the emulator and PostgreSQL answer each alike. A read of an entity
/// the app has no table for (the built-in `User` of `tasks`) is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reads_assess_finds_in_the_samples_code_answer_alike() {
    let app = "tasks";
    let assessment =
        offbase_assess::assess(&sample(app)).unwrap_or_else(|error| panic!("assess: {error}"));
    let emulator = start(&sample(app)).await;
    let migrated = migrated(&emulator, app).await;
    let corpus: Vec<CorpusRequest> = assessment
        .literal_reads
        .iter()
        .filter(|request| request.entity != "User")
        .cloned()
        .collect();
    assert!(corpus.len() >= 6, "{corpus:?}");
    assert!(corpus.iter().any(|request| request.q.is_some()));
    let diff = run(&emulator, &migrated, &corpus).await;
    assert_eq!(not_matching(&diff), Vec::<String>::new());
    assert_eq!(diff.matched, corpus.len());
    emulator.shutdown().await;
    migrated.schema.drop().await;
}
