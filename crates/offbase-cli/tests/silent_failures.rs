//! Failures that were swallowed: a panic in the load's reader thread left the entity
//! checkpointed as finished with records missing, and `offbase load` exited 0; a record read
//! but neither loaded nor rejected was committed with its batch; notes and
//! warnings were dropped whenever stderr was not a terminal (cron, CI, a log).

mod support;
use support::{database_url, forget, psql, text};

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn offbase(arguments: &[&str], failpoint: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args(arguments)
        .env("DATABASE_URL", database_url())
        .env_remove("OFFBASE_FAILPOINT")
        .stdin(Stdio::null());
    if let Some(name) = failpoint {
        command.env("OFFBASE_FAILPOINT", name);
    }
    command
        .output()
        .unwrap_or_else(|error| panic!("offbase {arguments:?}: {error}"))
}

/// A workspace in `folder` with `count` generated Task records of the tasks sample.
fn generated_tasks(folder: &Path, count: u32) -> String {
    let workspace = folder.join("ws").display().to_string();
    let tasks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/tasks");
    let generated = offbase(
        &[
            "generate",
            "--schema-from",
            &tasks.display().to_string(),
            "--records",
            "0",
            "--records-for",
            &format!("Task={count}"),
            "--workspace",
            &workspace,
        ],
        None,
    );
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    workspace
}

#[test]
fn a_panic_in_the_reader_thread_was_checkpointed_as_a_finished_entity() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = generated_tasks(folder.path(), 200);
    let pg_schema = format!("offbase_reader_panic_{}", std::process::id());
    forget(&pg_schema);
    let load = ["load", "--workspace", &workspace, "--pg-schema", &pg_schema];
    let failed = offbase(&load, Some("load-reader-panic"));
    let stderr = text(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the thread reading the staged parts stopped"),
        "{stderr}"
    );
    assert_ne!(
        psql(&format!(
            "SELECT checkpoint->>'finished' FROM offbase.load_checkpoints \
             WHERE pg_schema = '{pg_schema}' AND entity = 'Task'"
        )),
        "true"
    );
    // Without the fault the rerun resumes and every record is there.
    let loaded = offbase(&load, None);
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
    assert_eq!(
        psql(&format!("SELECT count(*) FROM \"{pg_schema}\".task")),
        "200"
    );
    forget(&pg_schema);
}

/// Regression: a record counted as read but neither loaded nor rejected ended in a message,
/// and `offbase load` exited 0.
#[test]
fn a_record_neither_loaded_nor_rejected_was_only_a_message() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = generated_tasks(folder.path(), 50);
    let pg_schema = format!("offbase_lost_record_{}", std::process::id());
    forget(&pg_schema);
    let load = ["load", "--workspace", &workspace, "--pg-schema", &pg_schema];
    let failed = offbase(&load, Some("load-lose-record"));
    let stderr = text(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Task: read 50 records but loaded 49 and rejected 0"),
        "{stderr}"
    );
    // Nothing of the batch that lost the record was committed.
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FROM offbase.load_checkpoints \
             WHERE pg_schema = '{pg_schema}' AND entity = 'Task' \
             AND (checkpoint->>'read')::bigint > 0"
        )),
        "0"
    );
    assert_eq!(
        psql(&format!("SELECT count(*) FROM \"{pg_schema}\".task")),
        "0"
    );
    // Without the fault the rerun loads every record.
    let loaded = offbase(&load, None);
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
    assert_eq!(
        psql(&format!("SELECT count(*) FROM \"{pg_schema}\".task")),
        "50"
    );
    forget(&pg_schema);
}

#[test]
fn notes_were_dropped_when_stderr_was_not_a_terminal() {
    // The crm sample plants records the bundle rejects: the migrate says so, as notes.
    let tasks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/crm");
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    // No database: the migrate writes a bundle.
    let planned = Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(["migrate", "--from"])
        .arg(&tasks)
        .arg("--workspace")
        .arg(folder.path().join("ws"))
        .arg("--bundle")
        .arg(folder.path().join("bundle.sql"))
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{error}"));
    let stderr = text(&planned.stderr);
    assert!(
        stderr.lines().any(|line| line.starts_with("note: ")),
        "no note reached a piped stderr: {stderr}"
    );
}
