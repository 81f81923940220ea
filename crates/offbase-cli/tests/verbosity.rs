//! How much `offbase` says and how: `-q` (errors and each command's final line only), `-v`
//! (lists in full), `--color always|never|auto` and `NO_COLOR`, and the cutover's quiet period
//! named `--quiet-period` so that `--quiet` means one thing everywhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn offbase(arguments: &[&str], environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args(arguments)
        .current_dir(repo_root())
        .env_remove("DATABASE_URL")
        .env_remove("NO_COLOR");
    for (name, value) in environment {
        command.env(name, value);
    }
    match command.output() {
        Ok(output) => output,
        Err(error) => panic!("cannot run offbase: {error}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An app whose one entity has 12 fields of an unknown type: 24 plan warnings (the reader's
/// and the planner's), more than the 10 a plan lists.
fn app_with_many_warnings(folder: &Path) -> PathBuf {
    let entities = folder.join("app/base44/entities");
    std::fs::create_dir_all(&entities).unwrap_or_else(|error| panic!("{error}"));
    let properties: serde_json::Map<String, serde_json::Value> = (0..12)
        .map(|index| (format!("f{index}"), serde_json::json!({"type": "weird"})))
        .collect();
    let schema = serde_json::json!({"name": "Thing", "type": "object", "properties": properties});
    std::fs::write(entities.join("thing.json"), schema.to_string())
        .unwrap_or_else(|error| panic!("{error}"));
    folder.join("app")
}

/// `plan` of [`app_with_many_warnings`] staged in a new folder (kept alive by the caller).
fn plan_with_many_warnings() -> (tempfile::TempDir, Vec<String>) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = app_with_many_warnings(folder.path());
    let out = folder.path().join("plan");
    let arguments = vec![
        "plan".to_owned(),
        app.display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    (folder, arguments)
}

/// `flags`, then `arguments`.
fn with<'a>(flags: &[&'a str], arguments: &'a [String]) -> Vec<&'a str> {
    flags
        .iter()
        .copied()
        .chain(arguments.iter().map(String::as_str))
        .collect()
}

#[test]
fn quiet_prints_the_final_line_only() {
    let (folder, arguments) = plan_with_many_warnings();

    let normal = offbase(&with(&[], &arguments), &[]);
    assert_eq!(normal.status.code(), Some(0), "{}", text(&normal.stderr));
    assert!(text(&normal.stdout).lines().count() > 10);
    assert!(text(&normal.stderr).contains("note: "));

    let quiet = offbase(&with(&["-q"], &arguments), &[]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    let stdout = text(&quiet.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("Planned app: 2 entities"), "{stdout}");
    assert_eq!(text(&quiet.stderr), "", "no notes, no progress with -q");

    // A migration to a bundle (no database): one line saying where the bundle is.
    let workspace = folder.path().join("workspace");
    let bundle = folder.path().join("bundle.sql");
    let quiet = offbase(
        &[
            "--quiet",
            "migrate",
            "--from",
            "samples/tasks",
            "--workspace",
            &workspace.to_string_lossy(),
            "--bundle",
            &bundle.to_string_lossy(),
        ],
        &[],
    );
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    let stdout = text(&quiet.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("No database given: wrote "), "{stdout}");

    // Errors still show.
    let failed = offbase(&["-q", "plan", "no/such/app"], &[]);
    assert_eq!(failed.status.code(), Some(2));
    assert!(
        text(&failed.stderr).starts_with("error: "),
        "{}",
        text(&failed.stderr)
    );
}

#[test]
fn verbose_lists_in_full_what_is_otherwise_cut_short() {
    let (_folder, arguments) = plan_with_many_warnings();
    let listed = |output: &Output| {
        text(&output.stdout)
            .lines()
            .filter(|line| line.starts_with("  - "))
            .count()
    };
    let normal = offbase(&with(&[], &arguments), &[]);
    assert_eq!(listed(&normal), 10);
    assert!(text(&normal.stdout).contains("... and 14 more (-v lists them all)"));
    let verbose = offbase(&with(&["-v"], &arguments), &[]);
    assert_eq!(listed(&verbose), 24, "{}", text(&verbose.stdout));
    assert!(!text(&verbose.stdout).contains("more (-v"));
    let both = offbase(&with(&["-q", "-v"], &arguments), &[]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "-q and -v together are refused"
    );
}

#[test]
fn color_follows_the_flag_and_no_color() {
    const ESCAPE: char = '\u{1b}';
    let stderr = |arguments: &[&str], environment: &[(&str, &str)]| {
        text(&offbase(arguments, environment).stderr)
    };
    let always = stderr(&["--color", "always", "plan", "no/such/app"], &[]);
    assert!(always.starts_with(ESCAPE), "{always:?}");
    assert!(always.contains("error:"), "{always:?}");
    // What the user asked for on the command line wins over the environment.
    let forced = stderr(
        &["--color", "always", "plan", "no/such/app"],
        &[("NO_COLOR", "1")],
    );
    assert!(forced.starts_with(ESCAPE), "{forced:?}");
    for (arguments, environment) in [
        (&["--color", "never", "plan", "no/such/app"][..], &[][..]),
        // Not a terminal: no color unless asked for.
        (&["plan", "no/such/app"][..], &[][..]),
        (
            &["--color", "auto", "plan", "no/such/app"][..],
            &[("NO_COLOR", "1")][..],
        ),
    ] {
        let plain = stderr(arguments, environment);
        assert!(plain.starts_with("error: "), "{arguments:?}: {plain:?}");
        assert!(!plain.contains(ESCAPE), "{arguments:?}: {plain:?}");
    }
}

#[test]
fn the_cutover_quiet_period_is_not_the_quiet_flag() {
    let help = text(&offbase(&["cutover", "--help"], &[]).stdout);
    assert!(help.contains("--quiet-period <DURATION>"), "{help}");
    assert!(help.contains("-q, --quiet"), "{help}");
    // The old spelling is the output flag now: a duration after it is refused, not taken as
    // the quiet period.
    let old = offbase(&["cutover", "--quiet", "1s", "--workspace", "nowhere"], &[]);
    assert_eq!(old.status.code(), Some(2));
    assert!(text(&old.stderr).contains("1s"), "{}", text(&old.stderr));
}
