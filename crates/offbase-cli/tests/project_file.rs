//! The project file, `offbase.toml`: defaults for the workspace, the mappings, the source and
//! the target; flag > environment variable > file > built-in default; secrets and unknown keys
//! refused; the file named once on stderr and in the `--json` output. And the notes a command
//! shows on stderr reach its `--json` output.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::{database_url, forget, samples, text};

/// `offbase ARGUMENTS` run in `folder`, with neither DATABASE_URL nor OFFBASE_CONFIG unless
/// `environment` sets them.
fn offbase_in(folder: &Path, arguments: &[&str], environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args(arguments)
        .current_dir(folder)
        .env_remove("DATABASE_URL")
        .env_remove("OFFBASE_CONFIG");
    for (name, value) in environment {
        command.env(name, value);
    }
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run offbase: {error}"))
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON: {error}: {}\nstderr: {}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(path, content).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

fn folder() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"))
}

const NOTE: &str = "note: using project file ./offbase.toml";

#[test]
fn the_file_gives_the_workspace_and_the_schema_and_says_so() {
    let folder = folder();
    let pg_schema = format!("offbase_project_{}", std::process::id());
    forget(&pg_schema);
    write(
        &folder.path().join("offbase.toml"),
        &format!(
            "# one migration's defaults\nworkspace = \"ws\"\n\n[target]\ndatabase_url_env = \"OFFBASE_PROJECT_TEST_URL\"\npg_schema = \"{pg_schema}\"\n"
        ),
    );
    let url = database_url();
    let environment = [("OFFBASE_PROJECT_TEST_URL", url.as_str())];
    let tasks = samples().join("tasks").display().to_string();

    // generate writes the file's workspace, and says which file it used, once.
    let generated = offbase_in(
        folder.path(),
        &[
            "generate",
            "--schema-from",
            &tasks,
            "--records",
            "5",
            "--json",
        ],
        &environment,
    );
    assert_eq!(
        generated.status.code(),
        Some(0),
        "{}",
        text(&generated.stderr)
    );
    let stderr = text(&generated.stderr);
    assert_eq!(stderr.matches(NOTE).count(), 1, "{stderr}");
    let summary = json(&generated);
    assert_eq!(summary["project_file"], "./offbase.toml");
    assert_eq!(summary["workspace"], "ws");
    assert!(
        summary["notes"].as_array().is_some_and(|notes| notes
            .iter()
            .any(|note| note == "using project file ./offbase.toml")),
        "{summary}"
    );
    assert!(folder.path().join("ws/manifest.json").is_file());

    // load: the workspace, the database (from the variable the file names) and the schema,
    // all from the file.
    let loaded = offbase_in(folder.path(), &["load", "--json"], &environment);
    assert_eq!(loaded.status.code(), Some(0), "{}", text(&loaded.stderr));
    let summary = json(&loaded);
    assert_eq!(summary["pg_schema"], pg_schema.as_str());
    assert_eq!(summary["project_file"], "./offbase.toml");
    assert_eq!(text(&loaded.stderr).matches(NOTE).count(), 1);

    // status reads the same schema.
    let status = offbase_in(folder.path(), &["status", "--json"], &environment);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let summary = json(&status);
    assert_eq!(summary["pg_schema"], pg_schema.as_str());
    assert_eq!(summary["load_phase"], "done");

    // A flag wins over the file.
    let other = format!("{pg_schema}_other");
    let status = offbase_in(
        folder.path(),
        &["status", "--pg-schema", &other, "--json"],
        &environment,
    );
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let summary = json(&status);
    assert_eq!(summary["pg_schema"], other.as_str());
    assert!(summary["load_phase"].is_null(), "{summary}");

    // The variable the file names, unset: the error says to set it.
    let status = offbase_in(folder.path(), &["status"], &[]);
    assert_eq!(status.status.code(), Some(2));
    let stderr = text(&status.stderr);
    assert!(
        stderr.contains("OFFBASE_PROJECT_TEST_URL, which ./offbase.toml names"),
        "{stderr}"
    );
    forget(&pg_schema);
}

#[test]
fn the_environment_wins_over_the_file_and_a_flag_over_both() {
    let folder = folder();
    // No password: a URL that cannot be reached.
    write(
        &folder.path().join("offbase.toml"),
        "[target]\ndatabase_url = \"postgres://nobody@127.0.0.1:1/none\"\npg_schema = \"offbase_project_env\"\n",
    );
    let from_file = offbase_in(folder.path(), &["status"], &[]);
    assert_eq!(from_file.status.code(), Some(2));
    let stderr = text(&from_file.stderr);
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert_eq!(stderr.matches(NOTE).count(), 1, "{stderr}");

    let url = database_url();
    let from_environment = offbase_in(
        folder.path(),
        &["status", "--json"],
        &[("DATABASE_URL", url.as_str())],
    );
    assert_eq!(
        from_environment.status.code(),
        Some(0),
        "{}",
        text(&from_environment.stderr)
    );
    assert_eq!(json(&from_environment)["pg_schema"], "offbase_project_env");

    let from_flag = offbase_in(
        folder.path(),
        &["status", "--json", "--database-url", &url],
        &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
    );
    assert_eq!(
        from_flag.status.code(),
        Some(0),
        "{}",
        text(&from_flag.stderr)
    );
}

#[test]
fn the_file_gives_the_source_and_the_name_of_the_key_variable() {
    let folder = folder();
    write(
        &folder.path().join("offbase.toml"),
        "[source]\napi_url = \"http://127.0.0.1:1\"\napp_id = \"0dad9f07cd1e58f3fd183368\"\napi_key_env = \"OFFBASE_PROJECT_NO_SUCH_KEY\"\n",
    );
    let tasks = samples().join("tasks").display().to_string();
    // No --api-url, --app-id or --api-key-env on the command line: all from the file.
    let pulled = offbase_in(folder.path(), &["pull", "--schema-from", &tasks], &[]);
    assert_eq!(pulled.status.code(), Some(2));
    let stderr = text(&pulled.stderr);
    assert!(
        stderr.contains("set the environment variable OFFBASE_PROJECT_NO_SUCH_KEY"),
        "{stderr}"
    );
    // A local source given on the command line wins over the file's API.
    let exports = folder.path().join("exports");
    write(
        &exports.join("Note_export.csv"),
        "\"title\",\"id\",\"created_date\",\"updated_date\"\n\"a\",\"r1\",\"2026-01-01T00:00:00\",\"2026-01-01T00:00:00\"",
    );
    let imported = offbase_in(
        folder.path(),
        &["pull", "--from-csv", "exports", "--json"],
        &[],
    );
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        text(&imported.stderr)
    );
    assert_eq!(json(&imported)["project_file"], "./offbase.toml");
    assert!(
        folder
            .path()
            .join("offbase-workspace/manifest.json")
            .is_file()
    );
}

#[test]
fn a_file_named_by_config_has_its_paths_relative_to_its_folder() {
    let folder = folder();
    write(
        &folder.path().join("project/settings.toml"),
        "workspace = \"ws\"\n",
    );
    let tasks = samples().join("tasks").display().to_string();
    for (arguments, environment) in [
        (
            vec!["--config", "project/settings.toml", "generate"],
            vec![],
        ),
        (
            vec!["generate"],
            vec![("OFFBASE_CONFIG", "project/settings.toml")],
        ),
    ] {
        let mut arguments = arguments;
        arguments.extend(["--schema-from", &tasks, "--records", "1"]);
        let generated = offbase_in(folder.path(), &arguments, &environment);
        assert_eq!(
            generated.status.code(),
            Some(0),
            "{}",
            text(&generated.stderr)
        );
        let stderr = text(&generated.stderr);
        assert!(
            stderr.contains("note: using project file project/settings.toml"),
            "{stderr}"
        );
        assert!(folder.path().join("project/ws/manifest.json").is_file());
    }
    // A file named but missing is an error, not silence.
    let missing = offbase_in(folder.path(), &["--config", "nope.toml", "reseal"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("cannot read the project file ./nope.toml"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn secrets_and_unknown_keys_are_refused_naming_the_file_and_the_key() {
    let folder = folder();
    let project = folder.path().join("offbase.toml");
    for (content, key) in [
        (
            "[target]\ndatabase_url = \"postgres://app:hunter2secret@localhost/db\"\n",
            "target.database_url",
        ),
        (
            "[target]\ndatabase_url = \"postgres://localhost/db?password=hunter2secret\"\n",
            "target.database_url",
        ),
        ("[source]\napi_key = \"hunter2secret\"\n", "source.api_key"),
        ("password = \"hunter2secret\"\n", "password"),
        (
            "[target]\nauth_token = \"hunter2secret\"\n",
            "target.auth_token",
        ),
        (
            "[source]\napi_key_env = \"hunter2-secret-value\"\n",
            "source.api_key_env",
        ),
        ("colour = \"blue\"\n", "colour"),
        ("[target]\nschema = \"app\"\n", "schema"),
    ] {
        write(&project, content);
        let output = offbase_in(folder.path(), &["status"], &[]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{content}: {stderr}");
        assert!(
            stderr.contains("./offbase.toml") && stderr.contains(key),
            "{content}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{content}: {stderr}");
    }
}

#[test]
fn commands_without_those_flags_do_not_read_the_file() {
    let folder = folder();
    write(&folder.path().join("offbase.toml"), "colour = \"blue\"\n");
    let output = offbase_in(folder.path(), &["completions", "bash"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stderr).is_empty(), "{}", text(&output.stderr));
}

/// Every note a command shows on stderr is in its `--json` output too: here a warning of the
/// schema reader.
#[test]
fn a_warning_on_stderr_is_in_the_json_output() {
    let folder = folder();
    write(
        &folder.path().join("app/entities/Task.jsonc"),
        r#"{"title": "Task", "type": "object", "properties": {"title": {"type": "string"}}}"#,
    );
    let output = offbase_in(
        folder.path(),
        &["plan", "app", "--out", "plan", "--json"],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let warning = "entities/Task.jsonc: no `name`: using the title `Task`";
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("note: {warning}")), "{stderr}");
    let summary = json(&output);
    assert_eq!(summary["notes"], serde_json::json!([warning]), "{summary}");
    assert!(summary["project_file"].is_null(), "{summary}");
}
