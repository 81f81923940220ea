//! `offbase users export` as a user runs it, on `tests/fixtures/users/app`, whose users hold
//! planted secrets (`tests/fixtures/users/planted-secrets.json`: a bcrypt password hash, a
//! `$2y$` PIN hash, a TOTP seed, an API key, an MD5 "password hash", a reset token): no secret
//! value appears on stdout or stderr (human or `--json`, success or error), in the report, the
//! id map or the rewrite plan; the sign-in hashes appear only in the artefacts meant to carry
//! them, and the other secrets in no export file at all.

use std::collections::BTreeMap;
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

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every file under `folder`, with its text.
fn files_under(folder: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            let contents = text(&std::fs::read(&path).unwrap_or_default());
            found.push((path, contents));
        }
    }
    found
}

#[test]
fn no_secret_reaches_a_report_a_summary_or_the_terminal() {
    let secrets: BTreeMap<String, String> = serde_json::from_str(&read(
        &repo_root().join("tests/fixtures/users/planted-secrets.json"),
    ))
    .unwrap_or_else(|error| panic!("{error}"));
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("ws");
    let workspace_arg = workspace.to_string_lossy().into_owned();
    let bundle = folder
        .path()
        .join("bundle.sql")
        .to_string_lossy()
        .into_owned();
    let staged = offbase(&[
        "migrate",
        "--from",
        "tests/fixtures/users/app",
        "--workspace",
        &workspace_arg,
        "--bundle",
        &bundle,
    ]);
    assert_eq!(staged.status.code(), Some(0), "{}", text(&staged.stderr));

    let mut terminal = Vec::new();
    for format in ["supabase", "auth0", "clerk", "csv", "postgres"] {
        for json in [false, true] {
            let mut arguments = vec![
                "users",
                "export",
                "--workspace",
                &workspace_arg,
                "--format",
                format,
            ];
            if json {
                arguments.push("--json");
            }
            let output = offbase(&arguments);
            // One user has no email: the providers leave it out (exit 1), the CSV and the
            // table take everyone (exit 0).
            let expected = if matches!(format, "csv" | "postgres") {
                0
            } else {
                1
            };
            assert_eq!(
                output.status.code(),
                Some(expected),
                "{format}: {}",
                text(&output.stderr)
            );
            if json {
                let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
                    .unwrap_or_else(|error| panic!("{format}: not JSON: {error}"));
                assert_eq!(summary["format"], format);
                assert_eq!(summary["users"], 6);
            }
            terminal.push((format!("{format} stdout"), text(&output.stdout)));
            terminal.push((format!("{format} stderr"), text(&output.stderr)));
        }
        // Every file the stage writes beside the artefacts holds no secret.
        let mut outputs = vec![
            workspace.join("reports/users.md"),
            workspace.join("users/id-map.json"),
            workspace.join("users/csv/users.csv"),
        ];
        if format == "supabase" {
            outputs.push(workspace.join("users/rewrite-plan.sql"));
        }
        for path in outputs.iter().filter(|path| path.exists()) {
            let contents = read(path);
            for (name, secret) in &secrets {
                assert!(
                    !contents.contains(secret.as_str()),
                    "{format}: {} holds the planted secret {name}",
                    path.display()
                );
            }
        }
    }

    // An error names what is wrong, and no secret either.
    let blocker = folder.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap_or_else(|error| panic!("{error}"));
    let failed = offbase(&[
        "users",
        "export",
        "--workspace",
        &workspace_arg,
        "--format",
        "supabase",
        "--out",
        &blocker.join("out").to_string_lossy(),
    ]);
    assert_eq!(failed.status.code(), Some(2));
    assert!(
        text(&failed.stderr).contains("not-a-folder"),
        "{}",
        text(&failed.stderr)
    );
    terminal.push(("error stderr".to_owned(), text(&failed.stderr)));
    terminal.push(("error stdout".to_owned(), text(&failed.stdout)));

    for (what, output) in &terminal {
        for (name, secret) in &secrets {
            assert!(
                !output.contains(secret.as_str()),
                "{what} shows the planted secret {name}:\n{output}"
            );
        }
    }

    // The sign-in hashes are in the artefacts that take hashes, and only there; no other
    // secret is in any export file.
    let exports = files_under(&workspace.join("users"));
    let holding = |secret: &str| -> Vec<String> {
        let mut names: Vec<String> = exports
            .iter()
            .filter(|(_, contents)| contents.contains(secret))
            .filter_map(|(path, _)| {
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        holding(&secrets["ann_password"]),
        [
            "auth0-users-0001.json",
            "clerk-users.jsonl",
            "supabase-users.jsonl",
            "users.sql"
        ]
    );
    assert_eq!(
        holding(&secrets["bob_pin"]),
        ["clerk-users.jsonl", "supabase-users.jsonl", "users.sql"]
    );
    assert_eq!(
        holding(&secrets["bob_pin"].replacen("$2y$", "$2b$", 1)),
        ["auth0-users-0001.json"],
        "Auth0 takes $2b$"
    );
    for name in ["ann_totp", "ann_api", "eve_md5", "fay_reset"] {
        assert!(
            holding(&secrets[name]).is_empty(),
            "{name}: {:?}",
            holding(&secrets[name])
        );
    }
}

#[test]
fn the_help_teaches_with_examples() {
    let output = offbase(&["users", "export", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = text(&output.stdout);
    for wanted in [
        "Examples:",
        "--format",
        "supabase",
        "rewrite-plan.sql",
        "id-map.json",
        "docs/users.md",
    ] {
        assert!(help.contains(wanted), "{wanted}:\n{help}");
    }
}
