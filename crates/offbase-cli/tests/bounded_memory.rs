//! Memory that does not grow with the data: each stage run over the binary at two sizes
//! (20,000 and 100,000 Task records of `scripts/bench-app`: at the smaller, every stage's
//! window of batches is already full), its peak resident size read by
//! `wait4` (through Python's `os.wait4`: the tests forbid unsafe code), and the larger run
//! allowed a fixed margin over the smaller one, far below what holding the entity would
//! take (the 80,000 more records are 45 MB of JSONL, several times that as parsed records;
//! `diff data` holding its 80 bytes a record in memory, as it did, grows by 8 MiB: run with
//! `OFFBASE_SORT_MEMORY_MIB=1024` to see this test fail so).
//! Stages: the import of an app folder's `data/<Entity>.jsonl` (with the bundle it writes),
//! the import of dashboard CSV exports, the load and `diff data` (which used to
//! hold about 110 bytes a record). Each sort is given 1 MiB (`OFFBASE_SORT_MEMORY_MIB`), so
//! its runs go to disk at these sizes and the margin can be small. The records arrive
//! shuffled, so the import's sort into the pull order has work to do.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::{database_url, forget, text};

/// How much more the larger run may hold than the smaller one: a sort's buffer fills up to
/// its budget and stays there.
const MARGIN_KIB: u64 = 4 * 1024;
const SIZES: [u64; 2] = [20_000, 100_000];
/// The memory of each sort (MiB).
const SORT_MEMORY_MIB: &str = "1";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `offbase arguments` and returns its peak resident size in KiB; panics on failure.
fn peak_kib(arguments: &[&str]) -> u64 {
    let script = "import os, subprocess, sys\n\
        child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
        error = child.stderr.read()\n\
        _, status, usage = os.wait4(child.pid, 0)\n\
        sys.stderr.buffer.write(error)\n\
        print(usage.ru_maxrss)\n\
        sys.exit(os.waitstatus_to_exitcode(status))\n";
    let output = Command::new("python3")
        .args(["-c", script, env!("CARGO_BIN_EXE_offbase")])
        .args(arguments)
        .env_remove("DATABASE_URL")
        .env(
            "OFFBASE_SORT_MEMORY_MIB",
            std::env::var("OFFBASE_SORT_MEMORY_MIB").unwrap_or_else(|_| SORT_MEMORY_MIB.to_owned()),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("python3: {error}"));
    assert!(
        output.status.success(),
        "offbase {}: {}",
        arguments.join(" "),
        text(&output.stderr)
    );
    text(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)))
}

/// An app folder with `records` Task records (and their projects) in `data/`, shuffled, and
/// the same records as dashboard CSV exports in `csv/`.
fn app_of(folder: &Path, records: u64) -> PathBuf {
    let generated = folder.join("generated");
    let made = Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(["generate", "--schema-from"])
        .arg(repo().join("scripts/bench-app"))
        .args(["--records-for", &format!("Task={records}")])
        .args(["--records-for", "Project=500", "--seed", "7", "--workspace"])
        .arg(&generated)
        .output()
        .unwrap_or_else(|error| panic!("offbase generate: {error}"));
    assert!(made.status.success(), "{}", text(&made.stderr));
    let app = folder.join("app");
    copy_folder(
        &repo().join("scripts/bench-app/base44"),
        &app.join("base44"),
    );
    std::fs::create_dir_all(app.join("data")).unwrap_or_else(|error| panic!("{error}"));
    std::fs::create_dir_all(app.join("csv")).unwrap_or_else(|error| panic!("{error}"));
    for entity in ["Task", "Project"] {
        let mut lines = Vec::new();
        let mut parts: Vec<PathBuf> = std::fs::read_dir(generated.join("data").join(entity))
            .unwrap_or_else(|error| panic!("{error}"))
            .flatten()
            .map(|entry| entry.path())
            .collect();
        parts.sort();
        for part in parts {
            let content = std::fs::read_to_string(&part).unwrap_or_else(|error| panic!("{error}"));
            lines.extend(content.lines().map(str::to_owned));
        }
        // A fixed shuffle: every 7th line from each of 7 starting points.
        let shuffled: Vec<&String> = (0..7)
            .flat_map(|start| lines.iter().skip(start).step_by(7))
            .collect();
        let jsonl: String = shuffled.iter().map(|line| format!("{line}\n")).collect();
        std::fs::write(app.join("data").join(format!("{entity}.jsonl")), jsonl)
            .unwrap_or_else(|error| panic!("{error}"));
        write_csv(
            &app.join("csv").join(format!("{entity}_export.csv")),
            &shuffled,
        );
    }
    app
}

/// The records as a dashboard export: a header of every key, JSON for arrays and objects.
fn write_csv(path: &Path, lines: &[&String]) {
    let records: Vec<serde_json::Map<String, serde_json::Value>> = lines
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let mut columns: BTreeMap<String, ()> = BTreeMap::new();
    for record in &records {
        for key in record.keys() {
            columns.insert(key.clone(), ());
        }
    }
    let columns: Vec<&String> = columns.keys().collect();
    let quote = |cell: String| format!("\"{}\"", cell.replace('"', "\"\""));
    let mut out = columns
        .iter()
        .map(|column| quote((*column).clone()))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for record in &records {
        let cells: Vec<String> = columns
            .iter()
            .map(|column| match record.get(*column) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(text)) => quote(text.clone()),
                Some(other) => quote(other.to_string()),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    std::fs::write(path, out).unwrap_or_else(|error| panic!("{error}"));
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("{error}"));
    for entry in std::fs::read_dir(from)
        .unwrap_or_else(|error| panic!("{error}"))
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            copy_folder(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name()))
                .unwrap_or_else(|error| panic!("{error}"));
        }
    }
}

/// Each stage's peak at `records`, by stage name.
fn peaks(records: u64) -> BTreeMap<&'static str, u64> {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = app_of(folder.path(), records);
    let workspace = folder.path().join("ws").display().to_string();
    let csv_workspace = folder.path().join("csv-ws").display().to_string();
    let bundle = folder.path().join("bundle.sql").display().to_string();
    let schema = format!("bounded_memory_{}_{records}", std::process::id());
    forget(&schema);
    let url = database_url();
    let target = ["--database-url", url.as_str(), "--pg-schema", &schema];
    let app_folder = app.display().to_string();
    let csv_folder = app.join("csv").display().to_string();
    let schemas = app.display().to_string();
    let mut peaks = BTreeMap::new();
    peaks.insert(
        "import data/<Entity>.jsonl and write the bundle",
        peak_kib(&[
            "migrate",
            "--from",
            &app_folder,
            "--workspace",
            &workspace,
            "--bundle",
            &bundle,
            "-q",
        ]),
    );
    peaks.insert(
        "import CSV exports",
        peak_kib(&[
            "pull",
            "--from-csv",
            &csv_folder,
            "--schema-from",
            &schemas,
            "--workspace",
            &csv_workspace,
            "-q",
        ]),
    );
    peaks.insert(
        "load",
        peak_kib(&[&["load", "--workspace", &workspace, "-q"][..], &target].concat()),
    );
    peaks.insert(
        "diff data",
        peak_kib(
            &[
                &["diff", "data", "--workspace", &workspace, "-q"][..],
                &target,
            ]
            .concat(),
        ),
    );
    forget(&schema);
    peaks
}

#[test]
fn a_stage_held_the_whole_entity_in_memory() {
    let small = peaks(SIZES[0]);
    let large = peaks(SIZES[1]);
    let mut table = format!("{:<50} {:>12} {:>12}\n", "stage", SIZES[0], SIZES[1]);
    for (stage, small_peak) in &small {
        let large_peak = large.get(stage).copied().unwrap_or_default();
        table.push_str(&format!(
            "{stage:<50} {:>9} KiB {:>9} KiB\n",
            small_peak, large_peak
        ));
    }
    eprintln!("{table}");
    for (stage, small_peak) in &small {
        let large_peak = large.get(stage).copied().unwrap_or_default();
        assert!(
            large_peak <= small_peak + MARGIN_KIB,
            "{stage}: {large_peak} KiB at {} records against {small_peak} KiB at {}: it grows with the data\n{table}",
            SIZES[1],
            SIZES[0]
        );
    }
}
