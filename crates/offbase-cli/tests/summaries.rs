//! What `offbase` prints on stdout at the end of its main commands, as snapshots: a change to
//! a summary is reviewed like a change to a plan. The real binary runs in a temporary folder
//! with relative paths (as a user types them); what varies between runs (durations, the
//! schema's pid, temporary folders, the database URL, timestamps) is redacted first.

mod support;
use support::{database_url, forget, psql, samples, text};

use std::path::Path;
use std::process::{Command, Stdio};

/// What stderr may hold besides stdout's summary.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stderr {
    /// Nothing at all.
    Empty,
    /// `note: ...` lines only (the crm sample plants records that draw notes).
    Notes,
}

/// Runs `offbase` in `folder`, checks its exit code and stderr, and returns its stdout.
fn offbase(folder: &Path, arguments: &[&str], code: i32, stderr: Stderr) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(arguments)
        .current_dir(folder)
        .env("DATABASE_URL", database_url())
        .env_remove("OFFBASE_CONFIG")
        .env_remove("OFFBASE_FAILPOINT")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("offbase {arguments:?}: {error}"));
    let stdout = text(&output.stdout);
    // Without a terminal, each finished step is a plain line on stderr (`Task 400,000 in
    // 4.3s`): progress, not a note or an error.
    let errors: String = text(&output.stderr)
        .lines()
        .filter(|line| !is_step_line(line))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        output.status.code(),
        Some(code),
        "offbase {arguments:?}\nstdout:\n{stdout}\nstderr:\n{errors}"
    );
    match stderr {
        Stderr::Empty => assert!(
            errors.is_empty(),
            "offbase {arguments:?} wrote on stderr:\n{errors}"
        ),
        Stderr::Notes => {
            for line in errors.lines().filter(|line| !line.is_empty()) {
                assert!(
                    line.starts_with("note: ")
                        && !line.contains("error")
                        && !line.contains("panicked"),
                    "offbase {arguments:?}: unexpected stderr line {line:?} in:\n{errors}"
                );
            }
        }
    }
    stdout
}

/// A finished step as the reporter prints it without a terminal: the task, what it counted
/// (or `done`), `in`, the seconds.
fn is_step_line(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [.., counted, "in", seconds] = words.as_slice() else {
        return false;
    };
    let seconds = seconds.strip_suffix('s').unwrap_or_default();
    words.len() >= 4
        && (*counted == "done" || counted.chars().all(|c| c.is_ascii_digit() || c == ','))
        && !seconds.is_empty()
        && seconds.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Drops the schema and offbase's state about it, at the start and (even when a snapshot
/// fails) at the end.
#[derive(Debug)]
struct Schema(String);

impl Schema {
    fn new(prefix: &str) -> Schema {
        let name = format!("{prefix}_{}", std::process::id());
        forget(&name);
        Schema(name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        forget(&self.0);
    }
}

fn temporary_folder() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}"))
}

fn sample(name: &str) -> String {
    samples().join(name).display().to_string()
}

/// `text` with what varies between runs replaced by a placeholder.
fn redact(text: &str) -> String {
    let mut text = text.replace(&database_url(), "[DATABASE_URL]");
    text = redact_urls(&text);
    for root in [
        Some(std::env::temp_dir()),
        std::env::temp_dir().canonicalize().ok(),
    ]
    .into_iter()
    .flatten()
    {
        text = redact_temporary_folders(&text, &root.display().to_string());
    }
    text = redact_pid(&text);
    text = redact_load_timings(&text);
    text = redact_timestamps(&text);
    redact_durations(&text)
}

/// Any other `postgres://...` (e.g. with its password masked) up to the next blank.
fn redact_urls(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("postgres://") {
        out.push_str(&rest[..start]);
        out.push_str("[DATABASE_URL]");
        let after = &rest[start..];
        let end = after
            .find(|character: char| character.is_whitespace())
            .unwrap_or(after.len());
        // A sentence's full stop or comma after the URL stays.
        let end = after[..end]
            .trim_end_matches(['.', ',', ')', ';', ':'])
            .len();
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `ROOT/.tmpXXXXXX` (tempfile's folders) → `[TMP]`.
fn redact_temporary_folders(text: &str, root: &str) -> String {
    let prefix = format!("{}/", root.trim_end_matches('/'));
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(&prefix) {
        out.push_str(&rest[..start]);
        out.push_str("[TMP]");
        let after = &rest[start + prefix.len()..];
        let end = after
            .find(|character: char| character == '/' || character.is_whitespace())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `_PID` at the end of a schema name → `_[PID]` (not digits inside counts or ids).
fn redact_pid(text: &str) -> String {
    let needle = format!("_{}", std::process::id());
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(&needle) {
        let after = &rest[start + needle.len()..];
        out.push_str(&rest[..start]);
        if after.starts_with(|character: char| character.is_ascii_digit()) {
            out.push_str(&needle);
        } else {
            out.push_str("_[PID]");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The `seconds` and `records/s` columns of the load's table, kept at their width.
fn redact_load_timings(text: &str) -> String {
    let mut in_table = false;
    let mut lines = Vec::new();
    for line in text.split('\n') {
        if line.starts_with("entity ") && line.trim_end().ends_with("records/s") {
            in_table = true;
            lines.push(line.to_owned());
            continue;
        }
        if line.starts_with("total ") || line.trim().is_empty() {
            in_table = false;
        }
        if !in_table || line.contains("skipped by the mapping") {
            lines.push(line.to_owned());
            continue;
        }
        // The byte spans of the blank-separated tokens.
        let mut spans = Vec::new();
        let mut start = None;
        for (index, character) in line.char_indices() {
            match (character.is_whitespace(), start) {
                (false, None) => start = Some(index),
                (true, Some(begin)) => {
                    spans.push((begin, index));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(begin) = start {
            spans.push((begin, line.len()));
        }
        if spans.len() < 7 {
            lines.push(line.to_owned());
            continue;
        }
        let last = spans.len() - 1;
        // A column runs from the end of the token before it to the end of its own.
        let seconds = (spans[last - 2].1, spans[last - 1].1);
        let rate = (spans[last - 1].1, spans[last].1);
        let column = |(from, to): (usize, usize), placeholder: &str| {
            format!(
                " {placeholder:>width$}",
                width = (to - from).saturating_sub(1)
            )
        };
        lines.push(format!(
            "{}{}{}{}",
            &line[..seconds.0],
            column(seconds, "[secs]"),
            column(rate, "[rec/s]"),
            &line[rate.1..]
        ));
    }
    lines.join("\n")
}

/// `2026-01-01T00:00:00.123456Z`, `2026-01-01 00:00:00+00` and the like → `[TIMESTAMP]`.
fn redact_timestamps(text: &str) -> String {
    const SHAPE: &[u8] = b"dddd-dd-dd?dd:dd:dd";
    let bytes = text.as_bytes();
    let fits = |at: usize| {
        bytes.len() >= at + SHAPE.len()
            && SHAPE
                .iter()
                .zip(&bytes[at..])
                .all(|(shape, byte)| match shape {
                    b'd' => byte.is_ascii_digit(),
                    b'?' => *byte == b'T' || *byte == b' ',
                    _ => shape == byte,
                })
    };
    let digits = |mut at: usize| {
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        at
    };
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if !fits(at) {
            at += 1;
            continue;
        }
        let mut end = at + SHAPE.len();
        if bytes.get(end) == Some(&b'.') {
            end = digits(end + 1);
        }
        match bytes.get(end) {
            Some(b'Z') => end += 1,
            Some(b'+' | b'-') if bytes.get(end + 1).is_some_and(u8::is_ascii_digit) => {
                end = digits(end + 1);
                if bytes.get(end) == Some(&b':') {
                    end = digits(end + 1);
                }
            }
            _ => {}
        }
        out.push_str(&text[copied..at]);
        out.push_str("[TIMESTAMP]");
        copied = end;
        at = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Durations: `0.2s`, `1.23 s`, `42s`, `12m`, `5h`, `186d` → `[DURATION]`.
fn redact_durations(text: &str) -> String {
    let bytes = text.as_bytes();
    let word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.';
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let starts = bytes[at].is_ascii_digit() && (at == 0 || !word(bytes[at - 1]));
        if !starts {
            at += 1;
            continue;
        }
        let mut end = at;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end += 1;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        }
        let unit = match (bytes.get(end), bytes.get(end + 1)) {
            (Some(b's' | b'm' | b'h' | b'd'), _) => Some(end + 1),
            (Some(b' '), Some(b's')) => Some(end + 2),
            _ => None,
        };
        match unit {
            Some(after)
                if bytes
                    .get(after)
                    .is_none_or(|byte| !byte.is_ascii_alphanumeric()) =>
            {
                out.push_str(&text[copied..at]);
                out.push_str("[DURATION]");
                copied = after;
                at = after;
            }
            _ => at = end,
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[test]
fn redact_replaces_what_varies_and_keeps_the_rest() {
    let pid = std::process::id();
    let temporary = std::env::temp_dir().join(".tmpAb12Cd").join("ws");
    let input = format!(
        "Schema \"offbase_summaries_{pid}\" of {} in 0.2s. Report: {}/reports/load.md\n\
         entity                         read     loaded  rejected        bytes  seconds  records/s\n\
         Activity                       3000       2999         1      1355117     0.09      35243\n\
         User                              0          0         0            0     0.00          -\n\
         total                          3410       3404         6\n\
         Cut over at 2026-02-03T04:05:06.789Z (by me), lag 1.23 s, 42s ago, 12m, 5h, 186d\n\
         kept: 68d3ad9adf6c29d5c9a8e7a2 3 range queries 7 decisions postgres://a:***@h:1/db.\n",
        database_url(),
        temporary.display()
    );
    assert_eq!(
        redact(&input),
        "Schema \"offbase_summaries_[PID]\" of [DATABASE_URL] in [DURATION]. Report: [TMP]/ws/reports/load.md\n\
         entity                         read     loaded  rejected        bytes  seconds  records/s\n\
         Activity                       3000       2999         1      1355117   [secs]    [rec/s]\n\
         User                              0          0         0            0   [secs]    [rec/s]\n\
         total                          3410       3404         6\n\
         Cut over at [TIMESTAMP] (by me), lag [DURATION], [DURATION] ago, [DURATION], [DURATION], [DURATION]\n\
         kept: 68d3ad9adf6c29d5c9a8e7a2 3 range queries 7 decisions [DATABASE_URL].\n"
    );
}

#[test]
fn plan_summary() {
    let folder = temporary_folder();
    let stdout = offbase(
        folder.path(),
        &["plan", &sample("crm"), "--out", "plan"],
        0,
        Stderr::Empty,
    );
    insta::assert_snapshot!("plan_crm", redact(&stdout));
}

#[test]
fn generate_summary() {
    let folder = temporary_folder();
    let stdout = offbase(
        folder.path(),
        &[
            "generate",
            "--schema-from",
            &sample("crm"),
            "--records",
            "5",
            "--records-for",
            "Activity=20",
            "--seed",
            "7",
            "--workspace",
            "generated",
        ],
        0,
        Stderr::Empty,
    );
    insta::assert_snapshot!("generate_crm", redact(&stdout));
}

/// One migration of the crm sample (planted rejects and orphans) and what follows it: the same
/// load again, the status, and `diff data` clean and then with one record changed in the target.
#[test]
fn migrate_load_status_and_diff_summaries() {
    let folder = temporary_folder();
    let schema = Schema::new("offbase_summaries");
    let pg_schema = schema.0.as_str();

    let migrated = offbase(
        folder.path(),
        &[
            "migrate",
            "--from",
            &sample("crm"),
            "--workspace",
            "ws",
            "--pg-schema",
            pg_schema,
        ],
        0,
        Stderr::Notes,
    );
    insta::assert_snapshot!("migrate_crm", redact(&migrated));

    let loaded_again = offbase(
        folder.path(),
        &["load", "--workspace", "ws", "--pg-schema", pg_schema],
        0,
        Stderr::Notes,
    );
    insta::assert_snapshot!("load_again_crm", redact(&loaded_again));

    let status = offbase(
        folder.path(),
        &["status", "--pg-schema", pg_schema],
        0,
        Stderr::Empty,
    );
    insta::assert_snapshot!("status_after_migrate", redact(&status));

    let diff = [
        "diff",
        "data",
        "--workspace",
        "ws",
        "--pg-schema",
        pg_schema,
    ];
    let clean = offbase(folder.path(), &diff, 0, Stderr::Empty);
    insta::assert_snapshot!("diff_data_clean", redact(&clean));

    psql(&format!(
        "UPDATE \"{pg_schema}\".contact SET title = 'Changed after the load' \
         WHERE id = (SELECT min(id) FROM \"{pg_schema}\".contact)"
    ));
    let different = offbase(folder.path(), &diff, 1, Stderr::Empty);
    insta::assert_snapshot!("diff_data_one_difference", redact(&different));
}
