//! `offbase migrate` killed with SIGKILL at random moments (during the import, the load or
//! the post-load steps), then run again until it finishes, leaves the target identical to an
//! uninterrupted run: same rows (content hash per table), same reject files, no duplicates, no
//! gaps.

use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

/// An app with Task records of every kind of column, a junction table (watcher_ids), and a
/// few bad records the load must reject.
fn big_app(folder: &Path, count: usize) {
    let entities = folder.join("base44/entities");
    let data = folder.join("data");
    for dir in [&entities, &data] {
        std::fs::create_dir_all(dir).unwrap_or_else(|error| panic!("{error}"));
    }
    std::fs::write(
        entities.join("Task.jsonc"),
        r#"{"name": "Task", "type": "object", "properties": {
            "title": {"type": "string"},
            "status": {"type": "string", "enum": ["todo", "doing", "done"]},
            "points": {"type": "integer"},
            "due": {"type": "string", "format": "date"},
            "estimate": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object"},
            "urgent": {"type": "boolean"},
            "parent_id": {"type": "string"}
        }, "required": ["title"]}"#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let mut lines = String::new();
    let id = |index: usize| {
        format!(
            "{:024x}",
            (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 4
        )
    };
    for index in 0..count {
        let second = index / 3;
        let created = format!(
            "2026-03-{:02}T{:02}:{:02}:{:02}.{:06}",
            1 + second / 86_400,
            (second / 3600) % 24,
            (second / 60) % 60,
            second % 60,
            index % 1000
        );
        let status = ["todo", "doing", "done"][index % 3];
        let mut record = json!({
            "id": id(index), "created_date": created, "updated_date": created,
            "created_by": "a@example.com",
            "title": format!("Task {index} «ünï» 😀"),
            "status": status,
            "points": index, "due": format!("2026-04-{:02}", 1 + index % 28),
            "estimate": index as f64 / 8.0,
            "tags": ["a", format!("t{}", index % 7)],
            "meta": {"n": index, "nested": {"ok": index % 2 == 0}},
            "urgent": index % 5 == 0,
            "parent_id": if index > 0 { json!(id(index - 1)) } else { json!(null) }
        });
        // Planted: a missing title, an enum outside, a wrong type, an undeclared field.
        match index % 997 {
            1 => record["title"] = json!(null),
            2 => record["status"] = json!("blocked"),
            3 => record["points"] = json!("many"),
            4 => record["legacy"] = json!({"k": index}),
            _ => {}
        }
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(data.join("Task.jsonl"), lines).unwrap_or_else(|error| panic!("{error}"));
}

fn migrate_command(app: &Path, workspace: &Path, pg_schema: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .arg("migrate")
        .arg("--from")
        .arg(app)
        .arg("--workspace")
        .arg(workspace)
        .args(["--pg-schema", pg_schema, "--batch-records", "3000"])
        .env("DATABASE_URL", database_url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn psql(sql: &str) -> String {
    let output = Command::new("psql")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(database_url())
        .output()
        .unwrap_or_else(|error| panic!("psql: {error}"));
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn contents(pg_schema: &str) -> Vec<String> {
    vec![
        psql(&format!(
            "SELECT count(*) || ' ' || md5(string_agg(t::text, E'\\n' ORDER BY t.id)) FROM \"{pg_schema}\".task t"
        )),
        psql(&format!(
            "SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) FROM pg_constraint c \
             JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = '{pg_schema}'"
        )),
    ]
}

fn drop_schema(pg_schema: &str) {
    psql(&format!("DROP SCHEMA IF EXISTS \"{pg_schema}\" CASCADE"));
    let _ = Command::new("psql")
        .args(["-X", "-q", "-c"])
        .arg(format!(
            "DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{pg_schema}'; DELETE FROM offbase.load_runs WHERE pg_schema = '{pg_schema}'"
        ))
        .arg(database_url())
        .output();
}

#[test]
fn a_killed_load_resumes_to_the_rows_of_an_uninterrupted_one() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    big_app(&app, 60_000);
    let suffix = std::process::id();
    let reference_schema = format!("offbase_kill_reference_{suffix}");
    let killed_schema = format!("offbase_kill_resumed_{suffix}");
    drop_schema(&reference_schema);
    drop_schema(&killed_schema);

    let started = Instant::now();
    let reference = migrate_command(&app, &folder.path().join("reference"), &reference_schema)
        .output()
        .unwrap_or_else(|error| panic!("{error}"));
    let uninterrupted = started.elapsed();
    assert!(
        reference.status.success(),
        "uninterrupted migrate failed: {}",
        String::from_utf8_lossy(&reference.stderr)
    );

    let workspace = folder.path().join("killed");
    let mut random = rand::rngs::StdRng::seed_from_u64(4404);
    let mut kills = 0;
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts < 40, "could not kill the load five times mid-run");
        let mut child = migrate_command(&app, &workspace, &killed_schema)
            .spawn()
            .unwrap_or_else(|error| panic!("{error}"));
        if kills >= 5 {
            let output = child
                .wait_with_output()
                .unwrap_or_else(|error| panic!("{error}"));
            assert!(
                output.status.success(),
                "the final run failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            break;
        }
        let share: f64 = random.random_range(0.05..0.6);
        std::thread::sleep(uninterrupted.mul_f64(share).max(Duration::from_millis(30)));
        match child.try_wait() {
            Ok(Some(_)) => {
                // It finished before the kill: start again from scratch to get real kills.
                drop_schema(&killed_schema);
                let _ = std::fs::remove_dir_all(&workspace);
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                kills += 1;
            }
        }
    }
    assert_eq!(contents(&killed_schema), contents(&reference_schema));
    let rows = contents(&reference_schema);
    assert!(
        rows.first().is_some_and(|line| line.starts_with("59817 ")),
        "unexpected reference rows: {rows:?}"
    );
    let rejects = |root: &Path| {
        std::fs::read_to_string(root.join("reports/rejects/Task.jsonl"))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let reference_rejects = rejects(&folder.path().join("reference"));
    assert_eq!(rejects(&workspace), reference_rejects);
    assert_eq!(reference_rejects.lines().count(), 183);
    drop_schema(&reference_schema);
    drop_schema(&killed_schema);
}
