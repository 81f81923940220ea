//! The `offbase` binary as a user runs it: output files, the JSON summary, exit codes, and
//! errors that name what is wrong without leaking a password.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn offbase(arguments: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(arguments)
        .current_dir(repo_root())
        .env_remove("DATABASE_URL")
        .output()
    {
        Ok(output) => output,
        Err(error) => panic!("cannot run offbase: {error}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temporary_folder() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("temp dir: {error}"),
    }
}

#[test]
fn plan_writes_both_files_and_summarises() {
    let folder = temporary_folder();
    let out = folder.path().join("plan");
    let output = offbase(&["plan", "samples/crm", "--out", &out.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("Planned crm: 5 entities → 5 tables"),
        "{stdout}"
    );
    let plan = std::fs::read_to_string(out.join("plan.sql")).unwrap_or_default();
    assert!(plan.contains("-- offbase:section tables"));
    assert!(plan.contains("-- offbase:section post-load"));
    assert!(out.join("mapping-report.md").is_file());
}

#[test]
fn plan_json_is_a_machine_readable_summary() {
    let folder = temporary_folder();
    let out = folder.path().to_string_lossy().into_owned();
    let output = offbase(&["plan", "samples/tasks", "--out", &out, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let summary: serde_json::Value = match serde_json::from_slice(&output.stdout) {
        Ok(summary) => summary,
        Err(error) => panic!("not JSON: {error}: {}", text(&output.stdout)),
    };
    assert_eq!(summary["app"], "tasks");
    assert_eq!(summary["tables"], 4);
    assert_eq!(summary["foreign_keys"], 3);
    assert_eq!(summary["files"].as_array().map(Vec::len), Some(2));
    assert!(summary["applied"].is_null());
}

#[test]
fn apply_without_a_database_says_how_to_give_one() {
    let folder = temporary_folder();
    let out = folder.path().to_string_lossy().into_owned();
    let output = offbase(&["plan", "samples/crm", "--out", &out, "--apply"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--database-url"), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let folder = temporary_folder();
    let out = folder.path().to_string_lossy().into_owned();
    let output = offbase(&[
        "plan",
        "samples/crm",
        "--out",
        &out,
        "--apply",
        "--database-url",
        "postgres://app:hunter2secret@127.0.0.1:1/none",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("postgres://app:***@127.0.0.1:1/none"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
    assert!(stderr.contains("pg_ctlcluster"), "{stderr}");
}

#[test]
fn a_missing_source_is_an_error_naming_it() {
    let output = offbase(&["plan", "samples/no-such-app", "--out", "/tmp/offbase-never"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no-such-app"), "{stderr}");
}

#[test]
fn help_teaches_the_plan_command() {
    let output = offbase(&["plan", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    for expected in [
        "--mappings",
        "--apply",
        "--pg-schema",
        "Examples:",
        "byte-identical",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from:\n{stdout}"
        );
    }
}

#[test]
fn pull_without_a_key_says_which_variable_to_set() {
    let folder = temporary_folder();
    let output = offbase(&[
        "pull",
        "--api-url",
        "http://127.0.0.1:1",
        "--app-id",
        "0dad9f07cd1e58f3fd183368",
        "--schema-from",
        "samples/crm",
        "--workspace",
        &folder.path().to_string_lossy(),
        "--api-key-env",
        "OFFBASE_TEST_NO_SUCH_VARIABLE",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("OFFBASE_TEST_NO_SUCH_VARIABLE"), "{stderr}");
}

#[test]
fn pull_from_csv_without_a_schema_infers_one() {
    let exports = temporary_folder();
    let csv = "\"title\",\"count\",\"id\",\"created_date\",\"updated_date\"\n\"a\",\"3\",\"r1\",\"2026-01-01T00:00:00\",\"2026-01-01T00:00:00\"";
    if let Err(error) = std::fs::write(exports.path().join("Note_export.csv"), csv) {
        panic!("{error}");
    }
    let workspace = temporary_folder();
    let output = offbase(&[
        "pull",
        "--from-csv",
        &exports.path().to_string_lossy(),
        "--workspace",
        &workspace.path().to_string_lossy(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("inferred"), "{stdout}");
    let part = std::fs::read_to_string(workspace.path().join("data/Note/part-00000.jsonl"))
        .unwrap_or_default();
    assert_eq!(
        part,
        "{\"id\":\"r1\",\"created_date\":\"2026-01-01T00:00:00.000000\",\"updated_date\":\"2026-01-01T00:00:00.000000\",\"title\":\"a\",\"count\":3}\n"
    );
}

#[test]
fn sync_of_a_workspace_not_pulled_from_the_api_says_what_to_do() {
    let folder = temporary_folder();
    let workspace = folder.path().join("ws");
    // A workspace staged from a local folder, written as a bundle (no database needed).
    let bundle = folder.path().join("bundle.sql");
    let staged = offbase(&[
        "migrate",
        "--from",
        "samples/tasks",
        "--workspace",
        &workspace.to_string_lossy(),
        "--bundle",
        &bundle.to_string_lossy(),
    ]);
    assert_eq!(staged.status.code(), Some(0), "{}", text(&staged.stderr));
    let output = offbase(&[
        "sync",
        "--workspace",
        &workspace.to_string_lossy(),
        "--database-url",
        "postgres://someone:hunter2@127.0.0.1:1/none",
        "--once",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("was not pulled from the Base44 API"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn help_teaches_sync_status_and_cutover() {
    for (command, words) in [
        ("sync", ["--once", "Ctrl-C", "--schema-from"]),
        ("status", ["cursor", "--json", "lag"]),
        ("cutover", ["--dry-run", "--freeze-confirmed", "runbook"]),
    ] {
        let output = offbase(&[command, "--help"]);
        assert_eq!(output.status.code(), Some(0));
        let help = text(&output.stdout);
        for word in words {
            assert!(help.contains(word), "{command} --help lacks {word}: {help}");
        }
    }
}

#[test]
fn corpus_from_har_writes_the_sample_captures_reads_and_counts_what_it_skipped() {
    let folder = temporary_folder();
    let out = folder.path().join("corpus.jsonl");
    let output = offbase(&[
        "corpus",
        "from-har",
        "samples/har/crm.har",
        "--out",
        &out.to_string_lossy(),
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap_or_else(|error| panic!("{error}"));
    let expected = std::fs::read_to_string(repo_root().join("samples/har/crm.corpus.jsonl"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(written, expected);
    let lines = expected.lines().count();
    assert!(
        stderr.starts_with(&format!("{lines} requests written to ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("skipped 1: cursor paging (v2/list) is not replayed"),
        "{stderr}"
    );
    assert!(
        !written.contains("REDACTED-SAMPLE"),
        "a header reached the corpus"
    );
}

#[test]
fn diff_behaviour_names_a_missing_corpus_and_help_teaches_it() {
    let output = offbase(&[
        "diff",
        "behaviour",
        "--workspace",
        "samples/crm",
        "--corpus",
        "no-such-corpus.jsonl",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("cannot read the corpus no-such-corpus.jsonl"),
        "{stderr}"
    );
    for (command, words) in [
        (
            vec!["diff", "behaviour", "--help"],
            vec![
                "--corpus",
                "twice",
                "--target-url",
                "--float-tolerance",
                "--ignore",
            ],
        ),
        (
            vec!["corpus", "generate", "--help"],
            vec!["--out", "sorted both"],
        ),
        (
            vec!["corpus", "from-har", "--help"],
            vec!["Save all as HAR", "never copied"],
        ),
    ] {
        let output = offbase(&command);
        assert_eq!(output.status.code(), Some(0));
        let help = text(&output.stdout);
        for word in words {
            assert!(help.contains(word), "{command:?} lacks {word}: {help}");
        }
    }
}

/// Regression: no shell completions. `offbase completions SHELL` prints the script clap derives
/// from the commands; the bash one completes commands and flags when sourced.
#[test]
fn there_were_no_shell_completions() {
    for (shell, marker) in [
        ("bash", "complete -F _offbase"),
        ("zsh", "#compdef offbase"),
        ("fish", "complete -c offbase"),
    ] {
        let output = offbase(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let script = text(&output.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["migrate", "cutover", "pg-schema", "completions"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let output = offbase(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("bash"),
        "{}",
        text(&output.stderr)
    );

    // Sourced in bash, the script completes a command and a flag of it.
    let folder = temporary_folder();
    let script = folder.path().join("offbase.bash");
    if std::fs::write(&script, offbase(&["completions", "bash"]).stdout).is_err() {
        panic!("cannot write {}", script.display());
    }
    let probe = format!(
        "source '{}'; COMP_WORDS=(offbase mig); COMP_CWORD=1; _offbase offbase mig offbase; \
         echo \"${{COMPREPLY[@]}}\"; COMP_WORDS=(offbase migrate --pg); COMP_CWORD=2; \
         _offbase offbase --pg migrate; echo \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    match Command::new("bash").args(["-c", &probe]).output() {
        Ok(output) => assert_eq!(text(&output.stdout), "migrate\n--pg-schema\n"),
        // No bash on this machine: the script's content was checked above.
        Err(error) => eprintln!("bash not run: {error}"),
    }
}

/// Regression: a source whose files are all in another format (not one Base44 entity schema)
/// planned only the platform `User` table and exited 0, for `plan`, `migrate` and `pull
/// --schema-from` alike. Each now says no Base44 entity schema was found, and exits 2.
#[test]
fn a_source_without_any_entity_schema_planned_only_user_and_exited_0() {
    let folder = temporary_folder();
    let app = folder.path().join("app");
    let write = |relative: &str, content: &str| {
        let path = app.join(relative);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(error) = std::fs::write(&path, content) {
            panic!("{}: {error}", path.display());
        }
    };
    write(
        "entities/Task.json",
        r#"{"name": "Task", "fields": [{"name": "title", "type": "text"}]}"#,
    );
    write("data/Task.jsonl", "{\"id\": \"t1\", \"title\": \"a\"}\n");
    write("exports/Task_export.csv", "id,title\nt1,a\n");
    let app_path = app.to_string_lossy().into_owned();
    let out = folder.path().join("out").to_string_lossy().into_owned();
    let workspace = folder.path().join("ws").to_string_lossy().into_owned();
    let bundle = folder.path().join("b.sql").to_string_lossy().into_owned();
    let exports = app.join("exports").to_string_lossy().into_owned();
    for arguments in [
        vec!["plan", &app_path, "--out", &out],
        vec![
            "migrate",
            "--from",
            &app_path,
            "--workspace",
            &workspace,
            "--bundle",
            &bundle,
        ],
        vec![
            "pull",
            "--from-csv",
            &exports,
            "--schema-from",
            &app_path,
            "--workspace",
            &workspace,
        ],
    ] {
        let output = offbase(&arguments);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(
            stderr.contains("no Base44 entity schema found")
                && stderr.contains("entities/Task.json"),
            "{arguments:?}: {stderr}"
        );
    }
}

#[test]
fn files_scan_lists_the_sample_files_and_refuses_an_unstaged_folder() {
    let folder = temporary_folder();
    let workspace = folder.path().join("ws");
    let workspace_text = workspace.display().to_string();
    let empty = offbase(&["files", "scan", "--workspace", &workspace_text]);
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty.stderr));
    assert!(
        text(&empty.stderr).contains("has no manifest.json"),
        "{}",
        text(&empty.stderr)
    );
    let marketplace = repo_root()
        .join("samples/marketplace")
        .display()
        .to_string();
    let bundle = folder.path().join("bundle.sql").display().to_string();
    let staged = offbase(&[
        "migrate",
        "--from",
        &marketplace,
        "--workspace",
        &workspace_text,
        "--bundle",
        &bundle,
    ]);
    assert!(
        staged.status.code() == Some(0) || staged.status.code() == Some(1),
        "{}",
        text(&staged.stderr)
    );
    let scanned = offbase(&["files", "scan", "--workspace", &workspace_text, "--json"]);
    assert_eq!(scanned.status.code(), Some(0), "{}", text(&scanned.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&scanned.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&scanned.stdout)));
    assert_eq!(summary["files"], 479, "{summary}");
    assert_eq!(summary["record_references"], 479, "{summary}");
    assert!(workspace.join("files/manifest.json").is_file());
    assert!(workspace.join("reports/files.md").is_file());
}

/// `migrate --bundle FILE` loaded into whatever DATABASE_URL the shell had set (here one no
/// server answers) instead of writing the file it was asked for.
#[test]
fn migrate_with_bundle_loaded_into_the_database_url_of_the_environment() {
    let folder = temporary_folder();
    let workspace = folder.path().join("ws").display().to_string();
    let bundle = folder.path().join("crm.sql");
    let output = match Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args([
            "migrate",
            "--from",
            "samples/crm",
            "--workspace",
            &workspace,
        ])
        .arg("--bundle")
        .arg(&bundle)
        .current_dir(repo_root())
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nowhere")
        .output()
    {
        Ok(output) => output,
        Err(error) => panic!("cannot run offbase: {error}"),
    };
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let sql = std::fs::read_to_string(&bundle).unwrap_or_default();
    assert!(sql.contains("CREATE TABLE"), "{sql}");
}

/// `migrate --bundle FILE --rls off` was refused ("not available with a bundle yet"); the
/// bundle now leaves the policies out, and keeps them by default.
#[test]
fn migrate_to_a_bundle_with_rls_off_was_refused() {
    let folder = temporary_folder();
    for (rls, policies) in [("off", false), ("on", true)] {
        let workspace = folder
            .path()
            .join(format!("ws-{rls}"))
            .display()
            .to_string();
        let bundle = folder.path().join(format!("crm-{rls}.sql"));
        let output = offbase(&[
            "migrate",
            "--from",
            "samples/crm",
            "--workspace",
            &workspace,
            "--bundle",
            &bundle.display().to_string(),
            "--rls",
            rls,
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let sql = std::fs::read_to_string(&bundle).unwrap_or_default();
        assert!(sql.contains("CREATE TABLE"), "{rls}");
        assert_eq!(sql.contains("CREATE POLICY"), policies, "--rls {rls}");
    }
}

/// `--rls supabase`: the help lists it; `plan` writes the access-rules section in Supabase's
/// dialect (its roles, the user from `auth.jwt()`) and says so in the report; a bundle carries
/// the same section; an unknown value is refused with the three that exist.
#[test]
fn rls_supabase_plans_and_bundles_supabases_dialect() {
    let help = offbase(&["plan", "--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help.stderr));
    let help = text(&help.stdout);
    assert!(help.contains("on|off|supabase"), "{help}");
    assert!(help.contains("auth.jwt()"), "{help}");

    let folder = temporary_folder();
    let out = folder.path().join("plan");
    let output = offbase(&[
        "plan",
        "samples/crm",
        "--out",
        &out.display().to_string(),
        "--rls",
        "supabase",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let plan = std::fs::read_to_string(out.join("plan.sql")).unwrap_or_default();
    assert!(
        plan.contains("-- Run last, on a Supabase database"),
        "{plan}"
    );
    assert!(
        plan.contains("TO \"anon\", \"authenticated\" USING"),
        "{plan}"
    );
    assert!(plan.contains("auth.jwt()"), "{plan}");
    assert!(!plan.contains("offbase_anon"), "{plan}");
    assert!(!plan.contains("app.user_id"), "{plan}");
    let report = std::fs::read_to_string(out.join("mapping-report.md")).unwrap_or_default();
    assert!(
        report.contains("- Dialect: Supabase (`--rls supabase`)"),
        "{report}"
    );

    let bundle = folder.path().join("crm-supabase.sql");
    let workspace = folder.path().join("ws").display().to_string();
    let output = offbase(&[
        "migrate",
        "--from",
        "samples/crm",
        "--workspace",
        &workspace,
        "--bundle",
        &bundle.display().to_string(),
        "--rls",
        "supabase",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let sql = std::fs::read_to_string(&bundle).unwrap_or_default();
    assert!(sql.contains("for a Supabase database"), "{sql}");
    assert!(sql.contains("TO \"anon\", \"authenticated\" USING"));
    assert!(sql.contains("auth.jwt() is missing; use --rls on"));
    assert!(!sql.contains("offbase_anon"));
    // The workspace's plan shows the section the bundle carries.
    let plan = std::fs::read_to_string(folder.path().join("ws/plan/plan.sql")).unwrap_or_default();
    assert!(plan.contains("auth.jwt()"), "{plan}");

    let refused = offbase(&["plan", "samples/crm", "--rls", "supa"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("on, off, supabase"), "{stderr}");
}

#[test]
fn diff_behaviour_writes_needs_a_user_to_write_as() {
    let output = offbase(&["diff", "behaviour", "--writes", "--workspace", "nowhere"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--as <EMAIL>"), "{stderr}");
    let help = offbase(&["diff", "behaviour", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--writes") && text.contains("rolled back"),
        "{text}"
    );
}

#[test]
fn assess_writes_the_report_and_the_corpus_and_summarises() {
    let folder = temporary_folder();
    let out = folder.path().join("assessment");
    let output = offbase(&["assess", "samples/tasks", "--out", &out.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("tasks: 32 files read, 21 parsed as code, 1 not parsed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 backend functions, 2 invocations"),
        "{stdout}"
    );
    for file in [
        "assessment.md",
        "assessment.json",
        "assessment.corpus.jsonl",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let corpus = std::fs::read_to_string(out.join("assessment.corpus.jsonl")).unwrap_or_default();
    assert_eq!(corpus.lines().count(), 9, "{corpus}");

    let json = offbase(&[
        "assess",
        "samples/tasks",
        "--out",
        &out.to_string_lossy(),
        "--json",
    ]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&json.stdout)));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("assessment.json")).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(value.get("findings"), written.get("findings"));

    let missing = offbase(&["assess", "no/such/app"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("not a folder"),
        "{}",
        text(&missing.stderr)
    );
}

/// The subcommands `offbase <path> --help` lists, as paths (`["diff", "data"]`), recursively.
fn command_paths(path: &[String]) -> Vec<Vec<String>> {
    let mut arguments: Vec<&str> = path.iter().map(String::as_str).collect();
    arguments.push("--help");
    let help = text(&offbase(&arguments).stdout);
    let mut paths = Vec::new();
    for line in help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
    {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if name == "help" {
            continue;
        }
        let mut child = path.to_vec();
        child.push(name.to_owned());
        paths.extend(command_paths(&child));
        paths.push(child);
    }
    paths
}

#[test]
fn help_examples_were_wrapped_mid_command() {
    let mut examples = 0;
    let mut longest = 0;
    for path in command_paths(&[]) {
        let mut arguments: Vec<&str> = path.iter().map(String::as_str).collect();
        arguments.push("--help");
        let help = text(&offbase(&arguments).stdout);
        for line in help
            .lines()
            .skip_while(|line| *line != "Examples:")
            .skip(1)
            .filter(|line| !line.trim().is_empty())
        {
            // Each line one whole command: optional variables, then the program.
            let words: Vec<&str> = line.split_whitespace().collect();
            let program = words
                .iter()
                .find(|word| !word.contains('='))
                .copied()
                .unwrap_or_default();
            assert!(
                line.starts_with("  ") && ["offbase", "curl", "psql"].contains(&program),
                "{path:?}: an example line that is not a whole command: {line:?}"
            );
            examples += 1;
            longest = longest.max(line.len());
        }
    }
    assert!(examples > 40, "{examples} examples");
    // Some examples are longer than the 100 columns help is wrapped to: they stay whole.
    assert!(
        longest > 100,
        "the longest example has {longest} characters"
    );
}
