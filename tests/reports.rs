//! Golden snapshots of the report files offbase writes, so a change to what a user reads is
//! reviewed like a change to a plan: `reports/load.md`, `diff-data.md`, `diff-behaviour.md`,
//! `cutover.md` and `cutover-dry-run.md`, each with its `.json` twin (`serde_json`'s pretty
//! form of the same summary, as written).
//!
//! The load and the data diff come from real runs of the crm sample on PostgreSQL (its planted
//! bad records make rejects and orphans). What varies between runs is overwritten before
//! rendering: the workspace (a temporary folder), the schema (named after the pid), the
//! database URL, and every duration, which is set to 0. The behaviour diff and the two
//! cutovers are built by hand.

use offbase_base44::corpus::{CorpusRequest, Operation};
use offbase_pipeline::compare::behaviour::{
    BehaviourDiff, Comparison, RequestOutcome, Verdict, behaviour_report,
};
use offbase_pipeline::compare::diff::{DataDiff, data_diff_report, diff_data};
use offbase_pipeline::load::{LoadOptions, LoadSummary, load_report};
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::sync::cutover::{CutoverReport, CutoverTimes, Gate, cutover_report};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{TestSchema, database_url, sample};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

/// The crm sample migrated into a schema of its own: the folder holding the workspace, the
/// workspace, the schema and the load's options and summary.
async fn migrated_crm(
    label: &str,
) -> (
    tempfile::TempDir,
    Workspace,
    TestSchema,
    LoadOptions,
    LoadSummary,
) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let schema = TestSchema::new(label).await;
    let load = LoadOptions::new(database_url(), &schema.name);
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: sample("crm"),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(load.clone()),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    let summary = migrate(&options, reporter)
        .await
        .unwrap_or_else(|error| panic!("crm: migrate: {error}"));
    let loaded = summary
        .load
        .unwrap_or_else(|| panic!("crm: migrate did not load"));
    (folder, workspace, schema, load, loaded)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A report file as written: `serde_json`'s pretty form and a newline.
fn written_json(value: serde_json::Result<String>) -> String {
    let mut text = value.unwrap_or_else(|error| panic!("serialising a report: {error}"));
    text.push('\n');
    text
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_report_of_the_crm_sample() {
    let (_folder, workspace, schema, _load, summary) = migrated_crm("reports_load").await;
    // What the load wrote is what the renderers make of its summary.
    let reports = workspace.reports_dir();
    assert_eq!(read(&reports.join("load.md")), load_report(&summary));
    assert_eq!(
        read(&reports.join("load.json")),
        written_json(serde_json::to_string_pretty(&summary))
    );
    assert!(summary.rejected() > 0, "the crm sample has planted rejects");

    let mut summary = summary;
    summary.workspace = "[workspace]".to_owned();
    summary.database = "[database]".to_owned();
    for key in &mut summary.foreign_keys {
        key.query = key.query.replace(&summary.pg_schema, "[schema]");
    }
    summary.pg_schema = "[schema]".to_owned();
    summary.rejects_folder = "[workspace]/reports/rejects".to_owned();
    summary.seconds = 0.0;
    for entity in &mut summary.entities {
        entity.seconds = 0.0;
    }
    insta::assert_snapshot!("crm_load_md", load_report(&summary));
    insta::assert_snapshot!(
        "crm_load_json",
        written_json(serde_json::to_string_pretty(&summary))
    );
    schema.drop().await;
}

/// Three planted differences, one of each section of the report: a changed field, a row lost
/// in the target, a row only in the target (besides the records the load rejected).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_diff_report_of_the_crm_sample_with_planted_differences() {
    let (_folder, workspace, mut schema, load, _summary) = migrated_crm("reports_diff").await;
    let changed = first_id(
        &mut schema,
        "SELECT id FROM $schema.company WHERE name IS NOT NULL ORDER BY id LIMIT 1",
    )
    .await;
    execute(
        &mut schema,
        &format!("UPDATE $schema.company SET name = name || ' (changed)' WHERE id = '{changed}'"),
    )
    .await;
    let missing = first_id(
        &mut schema,
        "SELECT id FROM $schema.contact ORDER BY id LIMIT 1",
    )
    .await;
    execute(
        &mut schema,
        &format!("DELETE FROM $schema.contact WHERE id = '{missing}'"),
    )
    .await;
    let copied = first_id(
        &mut schema,
        "SELECT d.id FROM $schema.deal d WHERE (d.company_id IS NULL OR EXISTS (SELECT 1 FROM $schema.company c WHERE c.id = d.company_id)) \
         AND (d.contact_id IS NULL OR EXISTS (SELECT 1 FROM $schema.contact c WHERE c.id = d.contact_id)) ORDER BY d.id LIMIT 1",
    )
    .await;
    execute(
        &mut schema,
        &format!(
            "INSERT INTO $schema.deal SELECT (jsonb_populate_record(NULL::$schema.deal, to_jsonb(d) || '{{\"id\": \"planted-extra\"}}')).* \
             FROM $schema.deal d WHERE id = '{copied}'"
        ),
    )
    .await;

    let diff = diff_data(&workspace, &load.target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("diff: {error}"));
    assert!(!diff.clean());
    // What `diff data` writes is what the renderers make of it.
    offbase_pipeline::compare::diff::write_reports(&workspace, &diff)
        .unwrap_or_else(|error| panic!("writing the diff reports: {error}"));
    let reports = workspace.reports_dir();
    assert_eq!(read(&reports.join("diff-data.md")), data_diff_report(&diff));
    assert_eq!(
        read(&reports.join("diff-data.json")),
        written_json(serde_json::to_string_pretty(&diff))
    );

    let diff = DataDiff {
        pg_schema: "[schema]".to_owned(),
        ..diff
    };
    insta::assert_snapshot!("crm_diff_data_md", data_diff_report(&diff));
    insta::assert_snapshot!(
        "crm_diff_data_json",
        written_json(serde_json::to_string_pretty(&diff))
    );
    schema.drop().await;
}

fn request(entity: &str, op: Operation) -> CorpusRequest {
    CorpusRequest::new(entity, op)
}

/// A request's outcome with its label made as `diff behaviour` makes it.
fn outcome(number: usize, request: CorpusRequest, verdict: Verdict) -> RequestOutcome {
    RequestOutcome {
        number,
        label: request.label(),
        request,
        verdict,
        comparison: None,
        old: String::new(),
        new: String::new(),
        noise_fields: Vec::new(),
        rejected_left_out: 0,
        sql: None,
        diff: None,
        error: None,
    }
}

/// A behaviour diff of four reads of the crm app: a count that matches (with the load's
/// rejects left out), a sorted page that matches with a noisy field, a record whose amount
/// PostgreSQL rounded (a mismatch, with its SQL and diff), and a filter the translation
/// refuses (an error, its label holding a `|`). Labels are `CorpusRequest::label`'s.
#[test]
fn behaviour_report_of_a_match_a_mismatch_and_an_error() {
    let mut count = request("Deal", Operation::Count);
    count.q = Some(json!({"stage": "Closed Won"}));
    let mut counted = outcome(1, count, Verdict::Match);
    counted.comparison = Some(Comparison::Count);
    counted.old = "count 27".to_owned();
    counted.new = "count 27".to_owned();
    counted.rejected_left_out = 3;
    counted.sql = Some(
        "SELECT count(*) AS \"count\" FROM \"crm\".\"deal\" AS \"t\" WHERE \"stage\" = 'Closed Won'"
            .to_owned(),
    );

    let mut page = request("Contact", Operation::Filter);
    page.q = Some(json!({"title": "VP Sales"}));
    page.sort = Some("-created_date".to_owned());
    page.limit = Some(20);
    let mut listed = outcome(2, page, Verdict::Match);
    listed.comparison = Some(Comparison::Ordered);
    listed.old = "20 records".to_owned();
    listed.new = "20 records".to_owned();
    listed.noise_fields = vec!["updated_date".to_owned()];
    listed.sql = Some(
        "SELECT to_jsonb(\"t\") AS \"row\" FROM \"crm\".\"contact\" AS \"t\" WHERE \"title\" = 'VP Sales' ORDER BY \"created_date\" DESC NULLS LAST, \"id\" COLLATE \"C\" ASC LIMIT 20"
            .to_owned(),
    );

    let mut get = request("Deal", Operation::Get);
    get.id = Some("68c6d92bc3e5e79221d2ebe8".to_owned());
    let mut rounded = outcome(3, get, Verdict::Mismatch);
    rounded.comparison = Some(Comparison::Record);
    rounded.old = "the record".to_owned();
    rounded.new = "the record".to_owned();
    rounded.sql = Some(
        "SELECT to_jsonb(\"t\") AS \"row\" FROM \"crm\".\"deal\" AS \"t\" WHERE \"id\" = '68c6d92bc3e5e79221d2ebe8'"
            .to_owned(),
    );
    rounded.diff = Some(
        "--- old backend\n+++ new backend\n@@ -1,4 +1,4 @@\n {\n-  \"amount\": 184832.57,\n+  \"amount\": 184833,\n   \"company_id\": \"68b657f7d839e01184d45390\",\n   \"contact_id\": \"68c604cce0fcef11c2d4b3dc\",\n"
            .to_owned(),
    );

    let mut filter = request("Activity", Operation::Filter);
    filter.q = Some(json!({"due_at": {"$regex": "^2026-03|^2026-04"}}));
    let mut refused = outcome(4, filter, Verdict::Error);
    refused.old = "50 records".to_owned();
    refused.rejected_left_out = 1;
    refused.error = Some(
        "new backend: not translated: cannot translate a $regex on field `due_at` faithfully: the platform matches it against the stored text of a date or time; the column holds a typed value"
            .to_owned(),
    );

    let diff = BehaviourDiff {
        as_user: None,
        old: "https://app.base44.com".to_owned(),
        new: "PostgreSQL postgres://offbase:***@db.internal:5432/crm schema crm".to_owned(),
        requests: vec![counted, listed, rounded, refused],
        matched: 2,
        mismatched: 1,
        errors: 1,
        writes: Vec::new(),
        writes_differing: 0,
    };

    // What `diff behaviour` writes is what the renderers make of it.
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let workspace = Workspace::new(folder.path());
    offbase_pipeline::compare::behaviour::write_reports(&workspace, &diff)
        .unwrap_or_else(|error| panic!("writing the behaviour reports: {error}"));
    let reports = workspace.reports_dir();
    assert_eq!(
        read(&reports.join("diff-behaviour.md")),
        behaviour_report(&diff)
    );
    assert_eq!(
        read(&reports.join("diff-behaviour.json")),
        written_json(serde_json::to_string_pretty(&diff))
    );

    insta::assert_snapshot!("behaviour_md", behaviour_report(&diff));
    insta::assert_snapshot!(
        "behaviour_json",
        written_json(serde_json::to_string_pretty(&diff))
    );
}

/// `diff behaviour --as ... --writes`: the writes' counts per operation, then each write the
/// two sides disagree on (a planted difference and a write PostgreSQL could not try).
#[test]
fn behaviour_report_lists_the_writes_asked_as_a_user() {
    use offbase_base44::rls::Operation;
    use offbase_pipeline::compare::behaviour::WriteOutcome;
    let write = |id: &str, operation, old, new: Option<bool>, error: Option<&str>| WriteOutcome {
        entity: "Note".to_owned(),
        id: id.to_owned(),
        operation,
        old,
        new,
        error: error.map(str::to_owned),
    };
    let writes = vec![
        write("n1", Operation::Update, true, Some(true), None),
        write("n1", Operation::Delete, true, Some(false), None),
        write("n1", Operation::Create, true, Some(true), None),
        write("n2", Operation::Update, false, Some(false), None),
        write("n2", Operation::Delete, false, Some(false), None),
        write(
            "n2",
            Operation::Create,
            false,
            None,
            Some("PostgreSQL refused INSERT: permission denied for schema crm"),
        ),
    ];
    let diff = BehaviourDiff {
        as_user: Some("alice@example.com".to_owned()),
        old: "http://127.0.0.1:8044".to_owned(),
        new: "PostgreSQL postgres://offbase@127.0.0.1:5432/crm schema crm".to_owned(),
        requests: Vec::new(),
        matched: 0,
        mismatched: 0,
        errors: 0,
        writes_differing: writes.iter().filter(|write| !write.matches()).count(),
        writes,
    };
    assert!(!diff.clean());
    insta::assert_snapshot!("behaviour_writes_md", behaviour_report(&diff));
}

fn gate(name: &str, figure: &str, remedy: Option<&str>) -> Gate {
    Gate {
        name: name.to_owned(),
        passed: remedy.is_none(),
        figure: figure.to_owned(),
        remedy: remedy.map(str::to_owned),
    }
}

fn timings(steps: &[(&str, f64)]) -> Vec<(String, f64)> {
    steps
        .iter()
        .map(|(step, seconds)| ((*step).to_owned(), *seconds))
        .collect()
}

/// A rehearsal while the old app still takes writes: the data gate finds records that moved
/// since the last pass (with the repair file), and orphans are not acknowledged.
#[test]
fn cutover_rehearsal_report_of_a_no_go() {
    let report = CutoverReport {
        pg_schema: "crm".to_owned(),
        dry_run: true,
        go: false,
        cut_over: false,
        gates: vec![
            gate(
                "sync lag",
                "the oldest last pass is 18.4 s ago (limit 120 s)",
                None,
            ),
            gate("write freeze", "the source has been quiet for 95 s", None),
            gate(
                "data",
                "differs: Contact (200 rows in the source, 200 in the target, contents differ), Deal (148 rows in the source, 147 in the target); \
                 Contact: 1 with other values (68c604cce0fcef11c2d4b3dc (email, updated_date)); \
                 Deal: 1 missing in the target (69a1c0de5e0b7d2f4c8e9a31)",
                Some(
                    "read /srv/offbase/crm/cutover/snapshot/reports/diff-data.md (every differing record, with a diff). \
                     Where the target is wrong (a row changed, added or lost in PostgreSQL alone, which no sync reads again), \
                     review /srv/offbase/crm/cutover/repair.json (the 2 records, by entity) and put the source's version back with \
                     `offbase sync --workspace /srv/offbase/crm --pg-schema crm --reapply /srv/offbase/crm/cutover/repair.json`; \
                     where the source changed, let the sync run. Then run the cutover again",
                ),
            ),
            gate(
                "rejects",
                "6 rejected records in reports/rejects (reviewed: --rejects-reviewed)",
                None,
            ),
            gate(
                "foreign-key orphans",
                "activity.deal_id → deal: 70 (e.g. 68e7d6b8db7c03c95680d833, 68ebac78a1f83dc8a4005cd5, 68f53bfb6f8dda185ad59d22); \
                 contact.company_id → company: 9 (e.g. 68bac9be0715c1811f302a69, 68c604cce0fcef11c2d4b3dc, 68ebb06da96cf33ce66d7633); \
                 deal.company_id → company: 5 (e.g. 68c6d92bc3e5e79221d2ebe8, 68d3ad9adf6c29d5c9a8e7a2, 68dc481f1a8fc9d54ff5bd21)",
                Some(
                    "fix the references, or pass --orphans-acknowledged to keep those keys NOT VALID",
                ),
            ),
        ],
        timings: timings(&[
            ("lag gate", 0.03),
            ("write freeze", 0.41),
            ("final sync", 1.87),
            ("final verification", 6.52),
            ("rejects and orphans", 0.12),
        ]),
        times: CutoverTimes {
            started: Some("2026-03-14T09:12:03.418207Z".to_owned()),
            freeze: Some("2026-03-14T09:12:03.829114Z".to_owned()),
            final_sync: Some("2026-03-14T09:12:05.702390Z".to_owned()),
            switched: None,
        },
        run: "offbase cutover --dry-run, pid 48213 on ops-runner-2, since 09:12:03Z".to_owned(),
        repair_file: Some("/srv/offbase/crm/cutover/repair.json".to_owned()),
    };
    insta::assert_snapshot!("cutover_dry_run_md", cutover_report(&report));
    insta::assert_snapshot!(
        "cutover_dry_run_json",
        written_json(serde_json::to_string_pretty(&report))
    );
}

/// The real run that switched: every gate passed (the freeze confirmed, rejects reviewed,
/// orphans acknowledged), every moment and step recorded.
#[test]
fn cutover_report_of_a_go_that_switched() {
    let report = CutoverReport {
        pg_schema: "crm".to_owned(),
        dry_run: false,
        go: true,
        cut_over: true,
        gates: vec![
            gate(
                "sync lag",
                "the oldest last pass is 4.2 s ago (limit 120 s)",
                None,
            ),
            gate(
                "write freeze",
                "confirmed by the operator (--freeze-confirmed)",
                None,
            ),
            gate(
                "data",
                "4 entities: counts and content hashes equal to a fresh pull; the final sync applied 3 changes",
                None,
            ),
            gate(
                "rejects",
                "6 rejected records in reports/rejects (reviewed: --rejects-reviewed)",
                None,
            ),
            gate(
                "foreign-key orphans",
                "activity.deal_id → deal: 70 (e.g. 68e7d6b8db7c03c95680d833, 68ebac78a1f83dc8a4005cd5, 68f53bfb6f8dda185ad59d22); \
                 contact.company_id → company: 9 (e.g. 68bac9be0715c1811f302a69, 68c604cce0fcef11c2d4b3dc, 68ebb06da96cf33ce66d7633); \
                 deal.company_id → company: 5 (e.g. 68c6d92bc3e5e79221d2ebe8, 68d3ad9adf6c29d5c9a8e7a2, 68dc481f1a8fc9d54ff5bd21) (acknowledged)",
                None,
            ),
        ],
        timings: timings(&[
            ("lag gate", 0.02),
            ("write freeze", 0.0),
            ("final sync", 1.64),
            ("final verification", 6.08),
            ("rejects and orphans", 0.11),
            ("foreign keys back and switch", 0.35),
        ]),
        times: CutoverTimes {
            started: Some("2026-03-15T22:00:04.112530Z".to_owned()),
            freeze: Some("2026-03-15T22:00:04.131877Z".to_owned()),
            final_sync: Some("2026-03-15T22:00:05.790412Z".to_owned()),
            switched: Some("2026-03-15T22:00:12.334058Z".to_owned()),
        },
        run: "offbase cutover, pid 51077 on ops-runner-2, since 22:00:04Z".to_owned(),
        repair_file: None,
    };
    insta::assert_snapshot!("cutover_md", cutover_report(&report));
    insta::assert_snapshot!(
        "cutover_json",
        written_json(serde_json::to_string_pretty(&report))
    );
}
