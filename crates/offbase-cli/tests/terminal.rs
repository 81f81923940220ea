//! The screen a person watches: `offbase load`, `offbase pull` and `offbase sync` run in a real
//! terminal (tmux, 120×30), the screen captured while they run and once they are done. The
//! live region must be redrawn in place: no stacked copies of a bar, no spinner left behind,
//! every finished entity once, and nothing of the region left on the final screen; the sync's
//! table is redrawn over itself pass after pass. The final screens of load and pull are
//! snapshots. And `load --replace` asks before it drops tables, on a terminal only.
//!
//! Skipped (said on stderr) without tmux; `OFFBASE_REQUIRE_CORPUS=1` (CI) makes it mandatory.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{database_url, forget, samples, text};

const REQUIRE: &str = "OFFBASE_REQUIRE_CORPUS";
/// Printed by the shell once the command is done: the capture loop's end.
const DONE: &str = "OFFBASE-TERMINAL-DONE";
/// The spinner's frames (indicatif's default).
const SPINNER: &str = "⠁⠂⠄⡀⢀⠠⠐⠈";

/// A tmux server of this test's own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start_or_skip(test: &str, width: u16, height: u16) -> Option<Tmux> {
        // A server per test: the tests of this file run at once.
        let name: String = test
            .chars()
            .filter(|character| character.is_ascii_alphanumeric() || *character == '_')
            .collect();
        let socket = format!("offbase-terminal-{}-{name}", std::process::id());
        let started = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .output();
        match started {
            Ok(output) if output.status.success() => Some(Tmux { socket }),
            other => {
                let why = match other {
                    Ok(output) => text(&output.stderr),
                    Err(error) => error.to_string(),
                };
                if std::env::var(REQUIRE).is_ok_and(|value| value == "1") {
                    panic!(
                        "{test}: tmux could not start ({why}) and {REQUIRE}=1 makes it mandatory"
                    );
                }
                eprintln!("{test}: skipped: tmux could not start ({why})");
                None
            }
        }
    }

    fn tmux(&self, arguments: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(arguments)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("tmux {arguments:?}: {error}"))
    }

    fn type_line(&self, line: &str) {
        let output = self.tmux(&["send-keys", "-t", "main", "-l", line]);
        assert!(
            output.status.success(),
            "send-keys: {}",
            text(&output.stderr)
        );
        self.tmux(&["send-keys", "-t", "main", "Enter"]);
    }

    /// The visible screen, trailing blanks trimmed.
    fn screen(&self) -> Vec<String> {
        let output = self.tmux(&["capture-pane", "-p", "-t", "main"]);
        text(&output.stdout)
            .lines()
            .map(|line| line.trim_end().to_owned())
            .collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// What is wrong with one capture of the screen while the region is live or after: a bar or
/// a finished line shown twice (a region that did not redraw in place).
fn torn(screen: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in screen.iter().filter(|line| !line.trim().is_empty()) {
        let bar = line.contains(" [") && line.contains("] ");
        let finished = line.trim_start().split(' ').nth(1).is_some() && line.contains(" in ");
        if (bar || finished)
            && !seen.insert(line.split('[').next().unwrap_or(line).trim().to_owned())
        {
            problems.push(format!("shown twice: {line:?}"));
        }
    }
    problems
}

/// The final screen with what varies between runs replaced.
fn redact(screen: &[String], workspace: &Path, schema: &str) -> String {
    let mut lines = Vec::new();
    for line in screen {
        let mut line = line.replace(&workspace.display().to_string(), "[WORKSPACE]");
        line = line.replace(&database_url(), "[DATABASE_URL]");
        line = line.replace(schema, "[SCHEMA]");
        let words: Vec<String> = line
            .split(' ')
            .map(|word| {
                let bare = word.trim_end_matches(['s', '.', ',']);
                if bare.contains('.')
                    && bare.replace('.', "").chars().all(|c| c.is_ascii_digit())
                    && !bare.is_empty()
                {
                    "[SECS]".to_owned()
                } else {
                    word.to_owned()
                }
            })
            .collect();
        line = words.join(" ");
        // The summary table's rate column, after its seconds; the widths of both vary with
        // the figures, so the row's blanks are collapsed.
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let numeric = words
            .last()
            .is_some_and(|word| word.chars().all(|c| c.is_ascii_digit()));
        if words.len() > 2
            && words[words.len() - 2] == "[SECS]"
            && numeric
            && let Some(rate) = words.last_mut()
        {
            *rate = "[RATE]";
        }
        if words.len() > 2 && words.contains(&"[SECS]") && !line.ends_with(" in [SECS]") {
            line = words.join(" ");
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|line| line.is_empty()) {
        lines.pop();
    }
    // Tasks that run at once finish in any order: each run of finished lines is sorted.
    let mut sorted = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for line in lines {
        if line.ends_with(" in [SECS]") {
            run.push(line);
        } else {
            run.sort();
            sorted.append(&mut run);
            sorted.push(line);
        }
    }
    run.sort();
    sorted.append(&mut run);
    sorted.join("\n")
}

/// What a command left in the terminal once done (checked for a stale spinner or bar).
struct Watched {
    output: Vec<String>,
}

/// Runs `command` in `tmux`'s shell (screen cleared first), capturing the screen every 40 ms
/// until it is done; asserts the region was redrawn in place throughout and left nothing.
fn watch(tmux: &Tmux, what: &str, command: &str, expect_a_bar: bool) -> Watched {
    tmux.type_line(&format!(
        "export PS1='$ ' NO_COLOR=1; clear; {command}; echo; echo {DONE}"
    ));
    let started = Instant::now();
    let mut captures = 0;
    let mut live_problems = Vec::new();
    let mut saw_a_bar = false;
    let last = loop {
        let screen = tmux.screen();
        captures += 1;
        if screen.iter().any(|line| line == DONE) {
            break screen;
        }
        saw_a_bar |= screen
            .iter()
            .any(|line| line.contains("] ") && line.contains("ETA"));
        live_problems.extend(torn(&screen));
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "{what} did not end:\n{}",
            screen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(40));
    };
    if expect_a_bar {
        assert!(
            captures > 1,
            "{what}: the screen was captured only once it was over"
        );
        assert!(saw_a_bar, "{what}: no bar was ever on screen");
    }
    assert!(
        live_problems.is_empty(),
        "{what}, while it ran: {live_problems:#?}"
    );
    let output: Vec<String> = last
        .iter()
        .skip_while(|line| line.trim().is_empty())
        .take_while(|line| line.as_str() != DONE)
        .cloned()
        .collect();
    assert!(
        torn(&output).is_empty(),
        "{what}, final screen: {:#?}",
        torn(&output)
    );
    for line in &output {
        assert!(
            !line.chars().any(|c| SPINNER.contains(c)),
            "{what}: a spinner stayed: {line:?}"
        );
        assert!(
            !line.contains("ETA"),
            "{what}: a bar stayed on the final screen: {line:?}"
        );
    }
    Watched { output }
}

/// `offbase generate` of the tasks sample's schemas into `workspace`, with `options`.
fn generate_tasks(workspace: &Path, options: &[&str]) {
    let generated = Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(["generate", "--schema-from"])
        .arg(samples().join("tasks"))
        .args(options)
        .arg("--workspace")
        .arg(workspace)
        .output()
        .unwrap_or_else(|error| panic!("offbase generate: {error}"));
    assert!(
        generated.status.success(),
        "generate: {}",
        text(&generated.stderr)
    );
}

#[test]
fn load_redraws_one_region_in_place_and_leaves_a_clean_screen() {
    let Some(tmux) = Tmux::start_or_skip("load_redraws_one_region_in_place", 120, 30) else {
        return;
    };
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temporary folder: {error}"));
    let workspace = folder.path().join("ws");
    generate_tasks(
        &workspace,
        &[
            "--records",
            "50",
            "--records-for",
            "Task=150000",
            "--seed",
            "18",
        ],
    );
    let schema = format!("terminal_{}", std::process::id());
    forget(&schema);
    let command = format!(
        "{} load --workspace {} --database-url {} --pg-schema {}",
        env!("CARGO_BIN_EXE_offbase"),
        workspace.display(),
        database_url(),
        schema
    );
    let watched = watch(&tmux, "offbase load", &command, true);
    forget(&schema);
    insta::assert_snapshot!(redact(&watched.output, &workspace, &schema));
}

/// The emulator serving the crm sample with `key`, no limits, no faults, and `writer`.
async fn crm_emulator(
    key: &str,
    writer: Option<offbase_emulator::WriterConfig>,
) -> offbase_emulator::RunningEmulator {
    support::start_emulator(
        &samples().join("crm"),
        key,
        offbase_emulator::RateLimits::Off,
        offbase_emulator::Faults::none(),
        writer,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_leaves_a_clean_screen() {
    let Some(tmux) = Tmux::start_or_skip("pull_leaves_a_clean_screen", 120, 30) else {
        return;
    };
    let key = "terminal-test-key";
    let app = samples().join("crm");
    let emulator = crm_emulator(key, None).await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temporary folder: {error}"));
    let workspace = folder.path().join("ws");
    let command = format!(
        "BASE44_API_KEY={key} {} pull --api-url {} --app-id {} --schema-from {} --workspace {}",
        env!("CARGO_BIN_EXE_offbase"),
        emulator.api_url(),
        emulator.app_id(),
        app.display(),
        workspace.display(),
    );
    // The watch blocks: off the runtime's threads, so the emulator keeps answering.
    let watched = tokio::task::spawn_blocking(move || {
        let watched = watch(&tmux, "offbase pull", &command, false);
        (watched.output, tmux)
    })
    .await
    .unwrap_or_else(|error| panic!("the watch: {error}"));
    let (output, _tmux) = watched;
    let mut redacted = redact(&output, &workspace, "-");
    redacted = redacted.replace(&emulator.api_url(), "[API_URL]");
    redacted = redacted.replace(&app.display().to_string(), "[APP]");
    insta::assert_snapshot!(redacted);
}

/// What is wrong with one capture of `sync`'s table: a table printed below the last instead of
/// over it (its header, or an entity's row, shown twice).
fn stacked_table(screen: &[String], entities: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let headers = screen
        .iter()
        .filter(|line| line.starts_with("pass "))
        .count();
    if headers > 1 {
        problems.push(format!("{headers} table headers on one screen"));
    }
    for entity in entities {
        let rows = screen
            .iter()
            .filter(|line| line.split_whitespace().next() == Some(*entity))
            .count();
        if rows > 1 {
            problems.push(format!("{entity}: {rows} rows on one screen"));
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_redraws_its_table_in_place() {
    let Some(tmux) = Tmux::start_or_skip("sync_redraws_its_table_in_place", 120, 30) else {
        return;
    };
    let key = "terminal-sync-key";
    let app = samples().join("crm");
    // Writes while the sync runs, so each pass has something to show.
    let emulator = crm_emulator(
        key,
        Some(offbase_emulator::WriterConfig {
            rate_per_second: 20,
            duration: Duration::from_secs(20),
            seed: 18,
        }),
    )
    .await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temporary folder: {error}"));
    let workspace = folder.path().join("ws");
    let workspace_text = workspace.display().to_string();
    let schema = format!("terminal_sync_{}", std::process::id());
    forget(&schema);
    support::migrate_from_api(&emulator, key, &app, &workspace_text, &schema);
    let command = format!(
        "BASE44_API_KEY={key} {} sync --workspace {workspace_text} --database-url {} --pg-schema {schema} --interval 200ms --requests-per-minute 0",
        env!("CARGO_BIN_EXE_offbase"),
        database_url(),
    );
    let entities = ["Activity", "Company", "Contact", "Deal"];
    // The watch blocks: off the runtime's threads, so the emulator keeps answering.
    let (passes, problems, last) = tokio::task::spawn_blocking(move || {
        tmux.type_line(&format!(
            "export PS1='$ ' NO_COLOR=1; clear; {command}; echo; echo {DONE}"
        ));
        let mut passes = std::collections::BTreeSet::new();
        let mut problems = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            let screen = tmux.screen();
            passes.extend(
                screen
                    .iter()
                    .filter_map(|line| line.strip_prefix("pass "))
                    .filter_map(|rest| rest.split(' ').next().map(str::to_owned)),
            );
            problems.extend(stacked_table(&screen, &entities));
            std::thread::sleep(Duration::from_millis(40));
        }
        tmux.tmux(&["send-keys", "-t", "main", "C-c"]);
        let last = loop {
            let screen = tmux.screen();
            if screen.iter().any(|line| line == DONE) {
                break screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "sync did not stop on Ctrl-C:\n{}",
                screen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(40));
        };
        (passes, problems, last)
    })
    .await
    .unwrap_or_else(|error| panic!("the watch: {error}"));
    forget(&schema);
    assert!(
        passes.len() >= 3,
        "the table was redrawn for {} passes only: {passes:?}",
        passes.len()
    );
    assert!(problems.is_empty(), "while it ran: {problems:#?}");
    assert_eq!(
        stacked_table(&last, &entities),
        Vec::<String>::new(),
        "the final screen:\n{}",
        last.join("\n")
    );
    for entity in entities {
        assert!(
            last.iter()
                .any(|line| line.split_whitespace().next() == Some(entity)),
            "no row for {entity} on the final screen:\n{}",
            last.join("\n")
        );
    }
}

/// Waits until a line of the screen contains `text`; the screen then.
fn wait_for(tmux: &Tmux, text: &str) -> Vec<String> {
    let started = Instant::now();
    loop {
        let screen = tmux.screen();
        if screen.iter().any(|line| line.contains(text)) {
            return screen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {text:?} on the screen:\n{}",
            screen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(40));
    }
}

/// Waits for a line that starts with `start` (the typed command holds it too, further in).
fn wait_for_line(tmux: &Tmux, start: &str) -> Vec<String> {
    let started = Instant::now();
    loop {
        let screen = tmux.screen();
        if screen.iter().any(|line| line.starts_with(start)) {
            return screen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no line starting {start:?} on the screen:\n{}",
            screen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(40));
    }
}

#[test]
fn replace_dropped_tables_without_asking() {
    let Some(tmux) = Tmux::start_or_skip("replace_dropped_tables_without_asking", 120, 30) else {
        return;
    };
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temporary folder: {error}"));
    let workspace = folder.path().join("ws");
    generate_tasks(&workspace, &["--records", "20", "--seed", "7"]);
    let schema = format!("terminal_replace_{}", std::process::id());
    forget(&schema);
    let load = format!(
        "{} load --workspace {} --database-url {} --pg-schema {schema}",
        env!("CARGO_BIN_EXE_offbase"),
        workspace.display(),
        database_url(),
    );
    // Not a terminal: the flag is the answer, as scripts need.
    for arguments in ["", " --replace"] {
        let loaded = Command::new("sh")
            .args(["-c", &format!("{load}{arguments}")])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("offbase load: {error}"));
        assert!(loaded.status.success(), "{}", text(&loaded.stderr));
    }
    // On a terminal, it asks; anything but yes drops nothing.
    tmux.type_line(&format!(
        "export PS1='$ ' NO_COLOR=1; clear; {load} --replace; echo status $?"
    ));
    wait_for(&tmux, "Go on? [y/N]");
    tmux.type_line("n");
    let screen = wait_for_line(&tmux, "status ");
    assert!(
        screen
            .iter()
            .any(|line| line.contains("nothing dropped: --replace was not confirmed")),
        "{}",
        screen.join("\n")
    );
    assert!(
        screen.iter().any(|line| line == "status 2"),
        "{}",
        screen.join("\n")
    );
    // With --yes it does not ask.
    // (Its marker starts a line of its own: "done " is in "User done in 0.0s", and the typed
    // command holds the marker too.)
    tmux.type_line(&format!("clear; {load} --replace --yes; echo exited $?"));
    let screen = wait_for_line(&tmux, "exited ");
    assert!(
        !screen.iter().any(|line| line.contains("Go on?")),
        "{}",
        screen.join("\n")
    );
    assert!(
        screen.iter().any(|line| line == "exited 0"),
        "{}",
        screen.join("\n")
    );
    forget(&schema);
}
