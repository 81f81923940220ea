//! The cutover is final, over the binary against the emulator: a sync running while `cutover`
//! goes GO stops by itself without touching the schema; afterwards every sync command refuses,
//! naming the switch time, the foreign keys stay and a row the new backend wrote survives; the
//! report records the switch and a rehearsal after it leaves that record alone; `--undo` lifts
//! the mark only once the writes after the switch are accounted for. And a sync against the
//! free plan's rate limits stays inside them and never waits without saying so.

mod support;
use support::{database_url, forget, migrate_from_api, psql, start_emulator, text};

use offbase_emulator::{Faults, RateLimits, RunningEmulator, WriterConfig};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "cutover-test-key-0123456789";

fn crm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/crm")
}

fn offbase(arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args(arguments)
        .env("DATABASE_URL", database_url())
        .env("BASE44_API_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(arguments: &[&str]) -> Output {
    offbase(arguments)
        .output()
        .unwrap_or_else(|error| panic!("offbase {arguments:?}: {error}"))
}

async fn emulator(rate_limits: RateLimits, writer: Option<WriterConfig>) -> RunningEmulator {
    start_emulator(&crm(), KEY, rate_limits, Faults::default(), writer).await
}

/// `offbase migrate` from the emulator into `pg_schema` (exit 1 is fine: the sample plants
/// rejects and orphans).
fn migrate(emulator: &RunningEmulator, workspace: &str, pg_schema: &str) {
    migrate_from_api(emulator, KEY, &crm(), workspace, pg_schema);
}

fn foreign_keys(pg_schema: &str) -> String {
    psql(&format!(
        "SELECT count(*) || ' keys, ' || count(*) FILTER (WHERE convalidated) || ' validated' \
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = '{pg_schema}' AND c.contype = 'f'"
    ))
}

/// Waits for a child to exit by itself, at most `limit`.
fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Every line a child prints, with when it arrived, from both streams.
type Lines = Arc<Mutex<Vec<(Instant, &'static str, String)>>>;

fn collect_lines(child: &mut Child) -> Lines {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    if let Some(stdout) = child.stdout.take() {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(mut lines) = lines.lock() {
                    lines.push((Instant::now(), "stdout", line));
                }
            }
        });
    }
    if let Some(stderr) = child.stderr.take() {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(mut lines) = lines.lock() {
                    lines.push((Instant::now(), "stderr", line));
                }
            }
        });
    }
    lines
}

fn snapshot_lines(lines: &Lines) -> Vec<(Instant, &'static str, String)> {
    lines.lock().map(|lines| lines.clone()).unwrap_or_default()
}

/// Regression: a sync still running when the cutover went GO took the foreign keys off again a
/// second later, and a later `sync --once` deleted a row the new backend had written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_after_cutover_go_took_the_foreign_keys_off_and_deleted_new_rows() {
    let emulator = emulator(
        RateLimits::Off,
        Some(WriterConfig {
            rate_per_second: 50,
            duration: Duration::from_secs(4),
            seed: 1919,
        }),
    )
    .await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("workspace");
    let workspace_text = workspace.display().to_string();
    let pg_schema = format!("offbase_cutover_final_{}", std::process::id());
    forget(&pg_schema);
    migrate(&emulator, &workspace_text, &pg_schema);

    // The sync runs as the runbook's days-before section says, through the writer's burst.
    let sync_arguments = [
        "sync",
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
        "--interval",
        "200ms",
        "--overlap",
        "500ms",
        "--requests-per-minute",
        "0",
    ];
    let mut running = offbase(&sync_arguments)
        .spawn()
        .unwrap_or_else(|error| panic!("{error}"));
    let sync_lines = collect_lines(&mut running);
    emulator.writer_done().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        wait_for(&mut running, Duration::from_millis(10)).is_none(),
        "the sync stopped before the cutover: {:?}",
        snapshot_lines(&sync_lines)
    );
    assert_eq!(foreign_keys(&pg_schema), "0 keys, 0 validated");

    // The cutover, while that sync keeps passing.
    let cutover = run(&[
        "cutover",
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
        "--quiet-period",
        "1s",
        "--rejects-reviewed",
        "--orphans-acknowledged",
    ]);
    assert_eq!(
        cutover.status.code(),
        Some(0),
        "cutover: {}\n{}",
        text(&cutover.stdout),
        text(&cutover.stderr)
    );
    assert!(text(&cutover.stdout).contains("GO: cut over at"));

    // The running sync notices the switch and stops by itself, having written nothing.
    let status = wait_for(&mut running, Duration::from_secs(20));
    if status.is_none() {
        let _ = running.kill();
    }
    let said: Vec<String> = snapshot_lines(&sync_lines)
        .into_iter()
        .map(|(_, _, line)| line)
        .collect();
    assert!(
        status.is_some_and(|status| status.success()),
        "the sync did not stop by itself ({status:?}): {said:#?}"
    );
    assert!(
        said.iter().any(|line| line.contains("was cut over at")),
        "{said:#?}"
    );
    // All five back (the writer's deletes leave orphans, so some stay NOT VALID).
    let keys = foreign_keys(&pg_schema);
    assert!(keys.starts_with("5 keys"), "{keys}");

    // The record of the switch: its time, in the report and in the target.
    let report_path = workspace.join("reports/cutover.json");
    let report_text = std::fs::read_to_string(&report_path).unwrap_or_default();
    let report: serde_json::Value =
        serde_json::from_str(&report_text).unwrap_or_else(|error| panic!("{error}"));
    let switched = report["times"]["switched"]
        .as_str()
        .unwrap_or_else(|| panic!("no switch time in {report_text}"))
        .to_owned();
    for moment in ["started", "freeze", "final_sync"] {
        assert!(
            report["times"][moment].is_string(),
            "{moment}: {report_text}"
        );
    }
    assert_eq!(report["cut_over"], serde_json::json!(true));
    assert_eq!(
        psql(&format!(
            "SELECT to_char(cut_over_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
             FROM offbase.cutovers WHERE pg_schema = '{pg_schema}' AND undone_at IS NULL"
        )),
        switched
    );
    let report_md = std::fs::read(workspace.join("reports/cutover.md")).unwrap_or_default();

    // The new backend writes: a company created a minute before (the reconciliation deleted
    // such rows), and a contact changed.
    psql(&format!(
        "CREATE TEMP TABLE new_row AS SELECT * FROM \"{pg_schema}\".company ORDER BY id LIMIT 1; \
         UPDATE new_row SET id = 'written-by-the-new-backend', \
         created_date = now() - interval '1 minute', updated_date = now(); \
         INSERT INTO \"{pg_schema}\".company SELECT * FROM new_row"
    ));
    let count_new = || {
        psql(&format!(
            "SELECT count(*) FROM \"{pg_schema}\".company WHERE id = 'written-by-the-new-backend'"
        ))
    };
    assert_eq!(count_new(), "1");

    // Every sync command refuses, naming the switch; nothing is touched.
    let repair = folder.path().join("repair.json");
    std::fs::write(&repair, r#"{"Company": ["written-by-the-new-backend"]}"#)
        .unwrap_or_else(|error| panic!("{error}"));
    let repair_text = repair.display().to_string();
    let once: Vec<&str> = [&sync_arguments[..], &["--once"]].concat();
    let reapply: Vec<&str> = [&sync_arguments[..5], &["--reapply", &repair_text]].concat();
    for arguments in [&sync_arguments[..], &once[..], &reapply[..]] {
        let refused = run(arguments);
        let stderr = text(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(
            stderr.contains(&format!("was cut over to PostgreSQL at {switched}")),
            "{arguments:?}: {stderr}"
        );
    }
    assert_eq!(count_new(), "1");
    assert_eq!(foreign_keys(&pg_schema), keys);

    // A load with --replace into the cut-over schema is refused too.
    let replaced = run(&[
        "load",
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
        "--replace",
    ]);
    assert_eq!(
        replaced.status.code(),
        Some(2),
        "{}",
        text(&replaced.stderr)
    );
    assert_eq!(count_new(), "1");

    // A rehearsal after the switch is refused and leaves the record as it was.
    let rehearsal = run(&[
        "cutover",
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
        "--dry-run",
    ]);
    assert_eq!(
        rehearsal.status.code(),
        Some(2),
        "{}",
        text(&rehearsal.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&report_path).unwrap_or_default(),
        report_text
    );
    assert_eq!(
        std::fs::read(workspace.join("reports/cutover.md")).unwrap_or_default(),
        report_md
    );

    // `status` shows the switch.
    let status = run(&["status", "--pg-schema", &pg_schema]);
    assert!(
        text(&status.stdout).contains(&format!("Cut over at {switched}")),
        "{}",
        text(&status.stdout)
    );

    // Undo: refused while rows written after the switch exist, then done when they are
    // declared exported.
    let undo = [
        "cutover",
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
        "--undo",
    ];
    let refused = run(&undo);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("company: 1"), "{stderr}");
    let undone = run(&[&undo[..], &["--discard-writes-after-switch"]].concat());
    assert!(undone.status.success(), "{}", text(&undone.stderr));
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FILTER (WHERE undone_at IS NULL) || '/' || count(*) \
             FROM offbase.cutovers WHERE pg_schema = '{pg_schema}'"
        )),
        "0/1"
    );
    emulator.shutdown().await;
    forget(&pg_schema);
}

/// How long the soak runs (3 minutes for the figure in docs/performance.md).
fn soak_seconds() -> u64 {
    std::env::var("OFFBASE_SYNC_SOAK_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(40)
}

/// Regression: against the free plan's limits the sync ran about ten passes, then stalled 50
/// to 60 s on HTTP 429, again and again, printing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_under_the_free_plan_stalled_silently_on_rate_limits() {
    let seconds = soak_seconds();
    let emulator = emulator(
        RateLimits::Base44 { scale: 1.0 },
        Some(WriterConfig {
            rate_per_second: 5,
            duration: Duration::from_secs(seconds + 30),
            seed: 4419,
        }),
    )
    .await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace_text = folder.path().join("workspace").display().to_string();
    let pg_schema = format!("offbase_cutover_soak_{}", std::process::id());
    forget(&pg_schema);
    migrate(&emulator, &workspace_text, &pg_schema);
    let throttled_before = emulator.stats().rate_limited;

    // The defaults: the free plan's budget.
    let mut sync = offbase(&[
        "sync",
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
        "--json",
    ])
    .spawn()
    .unwrap_or_else(|error| panic!("{error}"));
    let started = Instant::now();
    let lines = collect_lines(&mut sync);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let _ = Command::new("kill")
        .args(["-INT", &sync.id().to_string()])
        .status();
    let status = wait_for(&mut sync, Duration::from_secs(60));
    if status.is_none() {
        let _ = sync.kill();
    }
    let lines = snapshot_lines(&lines);
    assert!(
        status.is_some_and(|status| status.success()),
        "{status:?}: {lines:#?}"
    );

    // Never a wait longer than 5 s beyond what was last said: each pass says when the next
    // one starts; a throttled or retried request says how long it waits, and again every 5 s.
    let mut said_until = started + Duration::from_secs(5);
    let mut worst_silence = Duration::ZERO;
    let mut periods = Vec::new();
    let mut lags = Vec::new();
    let mut previous = started;
    for (at, stream, line) in &lines {
        let silent = at.saturating_duration_since(said_until.max(previous));
        worst_silence = worst_silence.max(silent);
        assert!(
            at.saturating_duration_since(said_until.max(previous)) <= Duration::from_secs(5),
            "{:.1} s without a word before {line:?} ({stream})",
            at.duration_since(previous).as_secs_f64()
        );
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let announced = value["next_pass_in_seconds"]
            .as_f64()
            .or_else(|| {
                // A wait notice: "...: waiting 42 s" or "still waiting, 37 s left".
                let note = value["note"].as_str()?;
                let number = note
                    .rsplit(['g', ','])
                    .next()?
                    .trim()
                    .trim_end_matches(" s left")
                    .trim_end_matches(" s")
                    .parse::<f64>()
                    .ok()?;
                Some(number.min(5.0))
            })
            .unwrap_or(0.0);
        said_until = *at + Duration::from_secs_f64(announced);
        previous = *at;
        if let Some(period) = value["period_seconds"].as_f64() {
            println!("pass: {} requests, period {period:.1} s", value["requests"]);
            periods.push(period);
            lags.extend(
                value["entities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|entity| entity["change_lags_ms"].as_array().cloned())
                    .flatten()
                    .filter_map(|lag| lag.as_u64()),
            );
        }
    }
    let throttled = emulator.stats().rate_limited - throttled_before;
    let period = periods.iter().copied().fold(0.0, f64::max);
    let worst_lag = lags.iter().copied().max().unwrap_or_default() as f64 / 1000.0;
    println!(
        "soak {seconds} s: {} passes, period up to {period:.1} s, {} changes, lag up to {worst_lag:.1} s, \
         {throttled} requests refused with 429, worst unannounced silence {:.1} s",
        periods.len(),
        lags.len(),
        worst_silence.as_secs_f64()
    );
    assert!(periods.len() >= 3, "{lines:#?}");
    assert!(!lags.is_empty(), "no change was synced: {lines:#?}");
    // Inside the budget: the platform never had to refuse a request.
    assert_eq!(throttled, 0, "{lines:#?}");
    // The lag stays within the period the sync chose (plus the pass's own work).
    assert!(
        worst_lag <= period + 2.0,
        "lag {worst_lag:.1} s over the period {period:.1} s"
    );
    emulator.shutdown().await;
    forget(&pg_schema);
}
