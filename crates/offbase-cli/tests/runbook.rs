//! docs/runbook.md, followed word for word: every `sh` block of the page runs in order, in one
//! folder, with the variables the page names pointing at an emulator whose background writer
//! takes writes until "The day" (the freeze). The cutover must end GO, the target must then
//! equal a fresh pull of the source (nothing lost), and no sync may run into it afterwards.

mod support;
use support::{compare_with_source, database_url, forget, start_emulator};

use offbase_emulator::{Faults, RateLimits, WriterConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const KEY: &str = "runbook-test-key-0123456789";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A shell block of the runbook and the section it stands in.
struct Block {
    section: String,
    script: String,
}

/// The `sh` blocks of a Markdown page, in order (indented ones included).
fn shell_blocks(page: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut open: Option<String> = None;
    for line in page.lines() {
        let trimmed = line.trim();
        match &mut open {
            Some(script) if trimmed == "```" => {
                blocks.push(Block {
                    section: section.clone(),
                    script: std::mem::take(script),
                });
                open = None;
            }
            Some(script) => {
                script.push_str(trimmed);
                script.push('\n');
            }
            None if trimmed == "```sh" => open = Some(String::new()),
            None => {
                if let Some(heading) = line.strip_prefix("## ") {
                    section = heading.trim().to_owned();
                }
            }
        }
    }
    blocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_followed_word_for_word_ends_go_with_nothing_lost() {
    let page = std::fs::read_to_string(repository().join("docs/runbook.md"))
        .unwrap_or_else(|error| panic!("docs/runbook.md: {error}"));
    let blocks = shell_blocks(&page);
    assert!(
        blocks.len() >= 6,
        "the runbook has {} sh blocks",
        blocks.len()
    );

    // A paid plan's limits (10× the free plan): the behaviour replay alone makes hundreds of
    // requests.
    let emulator = start_emulator(
        &repository().join("samples/crm"),
        KEY,
        RateLimits::Base44 { scale: 10.0 },
        Faults::default(),
        Some(WriterConfig {
            rate_per_second: 20,
            duration: Duration::from_secs(12),
            seed: 1999,
        }),
    )
    .await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let here = folder.path();
    std::os::unix::fs::symlink(repository().join("samples/crm"), here.join("app-export"))
        .unwrap_or_else(|error| panic!("{error}"));
    let pg_schema = format!("offbase_runbook_{}", std::process::id());
    forget(&pg_schema);
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_offbase"));
    let path = format!(
        "{}:{}",
        binary
            .parent()
            .map(Path::display)
            .map(|folder| folder.to_string())
            .unwrap_or_default(),
        std::env::var("PATH").unwrap_or_default()
    );

    let test_started = std::time::Instant::now();
    let mut froze = false;
    let mut transcript = String::new();
    let mut cutover_exit = None;
    for block in &blocks {
        if block.section.starts_with("The day") && !froze {
            // Step 1 of the day, which a person does: the old app stops taking writes.
            emulator.writer_done().await;
            transcript.push_str(&format!(
                "(writes frozen at {:.1} s)\n",
                test_started.elapsed().as_secs_f64()
            ));
            froze = true;
        }
        let started = std::time::Instant::now();
        let output = Command::new("bash")
            .arg("-c")
            .arg(&block.script)
            .current_dir(here)
            .env("PATH", &path)
            .env("BASE44_API_URL", emulator.api_url())
            .env("BASE44_APP_ID", emulator.app_id())
            .env("BASE44_API_KEY", KEY)
            .env("DATABASE_URL", database_url())
            .env("SCHEMA", &pg_schema)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("bash: {error}"));
        let code = output.status.code();
        transcript.push_str(&format!(
            "## {}\n$ {}→ exit {code:?} after {:.1} s\n{}{}\n",
            block.section,
            block.script,
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
        // Exit 1 says "look": rejects, orphans, a NO-GO rehearsal, reads that differ. Exit 2
        // is an error the runbook should not lead to.
        assert!(
            matches!(code, Some(0 | 1)),
            "a runbook step failed:\n{transcript}"
        );
        if block.script.starts_with("offbase cutover") && !block.script.contains("--dry-run") {
            cutover_exit = code;
        }
    }
    println!("{transcript}");
    assert!(froze, "the runbook has no section \"The day\"");
    assert_eq!(
        cutover_exit,
        Some(0),
        "the cutover was not GO:\n{transcript}"
    );
    assert!(
        transcript.contains("Cut over at"),
        "status after GO did not show the switch:\n{transcript}"
    );

    // Nothing lost: the source as it is now, pulled afresh, equals the target.
    let compared = compare_with_source(
        &emulator,
        KEY,
        &repository().join("samples/crm"),
        here,
        &here.join("ws"),
        &pg_schema,
    )
    .await;
    assert!(
        compared.matches(),
        "the target differs from the source after the runbook: {compared:#?}\n{transcript}"
    );
    let stats = emulator.stats();
    assert!(
        stats.writer_creates > 0 && stats.writer_deletes > 0,
        "{stats:?}"
    );
    emulator.shutdown().await;
    forget(&pg_schema);
}
