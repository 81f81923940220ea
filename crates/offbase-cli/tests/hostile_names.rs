//! Names from an app never leave their folder and never reach a terminal raw: an entity named
//! `../../../X`, `/some/dir/X` or 300 characters long writes nothing outside the workspace
//! (generate, pull, load), a name with escape sequences or a newline is refused, shown
//! escaped, tables named `pg_class` and `pg_type` do not reach the system catalog, a schema
//! name PostgreSQL would cut is refused, and an entity without a data file still gets its
//! table.

mod support;
use support::{database_url, text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn offbase(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(arguments)
        .env("DATABASE_URL", database_url())
        .env("BASE44_API_KEY", "hostile-names-key")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("offbase {arguments:?}: {error}"))
}

/// An app whose one entity has the name given.
fn app(folder: &Path, name: &str) -> PathBuf {
    let entities = folder.join("app/base44/entities");
    std::fs::create_dir_all(&entities).unwrap_or_else(|error| panic!("{error}"));
    let schema = serde_json::json!({
        "name": name,
        "type": "object",
        "properties": { "title": { "type": "string" } },
    });
    std::fs::write(entities.join("Evil.jsonc"), schema.to_string())
        .unwrap_or_else(|error| panic!("{error}"));
    folder.join("app")
}

/// A server answering every request 401, on a free port: a pull fails at its first request.
fn refusing_server() -> String {
    use std::io::{Read, Write};
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let address = listener
        .local_addr()
        .map(|address| address.to_string())
        .unwrap_or_default();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    format!("http://{address}")
}

/// Every file under `folder`, relative.
fn files(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(folder) {
                found.push(relative.to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn an_entity_named_with_dots_or_slashes_or_300_characters_wrote_files_outside_the_workspace() {
    let outside = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let long = "E".repeat(300);
    for (index, name) in ["../../../X", "/some/dir/X", long.as_str()]
        .into_iter()
        .enumerate()
    {
        // The workspace sits three folders down, so `../../../` lands in `outside`.
        let folder = outside.path().join(format!("case{index}"));
        let app = app(&folder, name);
        let workspace = folder.join("a/b/c/ws");
        let workspace_text = workspace.display().to_string();
        let app_text = app.display().to_string();
        let generated = offbase(&[
            "generate",
            "--schema-from",
            &app_text,
            "--records",
            "5",
            "--workspace",
            &workspace_text,
        ]);
        assert!(generated.status.success(), "{}", text(&generated.stderr));
        let pg_schema = format!("offbase_hostile_names_{}_{index}", std::process::id());
        let loaded = offbase(&[
            "load",
            "--workspace",
            &workspace_text,
            "--pg-schema",
            &pg_schema,
        ]);
        assert!(
            matches!(loaded.status.code(), Some(0 | 1)),
            "{}",
            text(&loaded.stderr)
        );
        let _ = Command::new("psql")
            .args(["-X", "-q", "-c"])
            .arg(format!(
                "DROP SCHEMA IF EXISTS \"{pg_schema}\" CASCADE; \
                 DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{pg_schema}'; \
                 DELETE FROM offbase.load_runs WHERE pg_schema = '{pg_schema}'"
            ))
            .arg(database_url())
            .output();
        // A pull writes the schemas before its first request (to a server refusing the key).
        let refusing = refusing_server();
        let pulled = offbase(&[
            "pull",
            "--api-url",
            &refusing,
            "--app-id",
            "0123456789abcdef01234567",
            "--schema-from",
            &app_text,
            "--workspace",
            &folder.join("a/b/c/pulled").display().to_string(),
        ]);
        assert_eq!(pulled.status.code(), Some(2));
        // Everything written is inside the workspaces (and the app as it was).
        for file in files(&folder) {
            let inside = file.starts_with("a/b/c/ws")
                || file.starts_with("a/b/c/pulled")
                || file.starts_with("app");
            assert!(inside, "{name:?} wrote {}", file.display());
        }
        assert!(!Path::new("/some/dir/X.json").exists());
    }
}

#[test]
fn an_entity_name_with_escape_sequences_was_printed_raw() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = app(
        folder.path(),
        "Task\u{1b}[2J\u{1b}]0;pwned\u{7}\nerror: forged",
    );
    let planned = offbase(&[
        "plan",
        &app.display().to_string(),
        "--out",
        &folder.path().join("plan").display().to_string(),
    ]);
    let stdout = text(&planned.stdout);
    let stderr = text(&planned.stderr);
    assert_eq!(planned.status.code(), Some(2), "{stderr}");
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert!(
        !stderr.lines().any(|line| line.starts_with("error: forged")),
        "{stderr}"
    );
    assert!(stderr.contains("control characters"), "{stderr}");
}

#[test]
fn entities_named_pg_class_and_pg_type_hit_the_system_catalog() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let entities = folder.path().join("app/base44/entities");
    std::fs::create_dir_all(&entities).unwrap_or_else(|error| panic!("{error}"));
    for name in ["pg_class", "pg_type"] {
        let schema = serde_json::json!({
            "name": name,
            "type": "object",
            "properties": { "title": { "type": "string" } },
        });
        std::fs::write(entities.join(format!("{name}.jsonc")), schema.to_string())
            .unwrap_or_else(|error| panic!("{error}"));
    }
    let app = folder.path().join("app").display().to_string();
    let workspace = folder.path().join("ws").display().to_string();
    let generated = offbase(&[
        "generate",
        "--schema-from",
        &app,
        "--records",
        "20",
        "--workspace",
        &workspace,
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let pg_schema = format!("offbase_pg_names_{}", std::process::id());
    let forget = || {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-c"])
            .arg(format!(
                "DROP SCHEMA IF EXISTS \"{pg_schema}\" CASCADE; \
                 DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{pg_schema}'; \
                 DELETE FROM offbase.load_runs WHERE pg_schema = '{pg_schema}'"
            ))
            .arg(database_url())
            .output();
    };
    forget();
    let loaded = offbase(&["load", "--workspace", &workspace, "--pg-schema", &pg_schema]);
    assert_eq!(loaded.status.code(), Some(0), "{}", text(&loaded.stderr));
    let counts = Command::new("psql")
        .args(["-X", "-q", "-At", "-c"])
        .arg(format!(
            "SELECT (SELECT count(*) FROM \"{pg_schema}\".pg_class_app) || '/' || \
             (SELECT count(*) FROM \"{pg_schema}\".pg_type_app)"
        ))
        .arg(database_url())
        .output()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        text(&counts.stdout).trim(),
        "20/20",
        "{}",
        text(&counts.stderr)
    );
    forget();
}

#[test]
fn a_pg_schema_longer_than_63_bytes_was_cut_by_postgresql() {
    let long = "s".repeat(70);
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let refused = offbase(&[
        "load",
        "--workspace",
        &folder.path().display().to_string(),
        "--pg-schema",
        &long,
    ]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("70 bytes long"), "{stderr}");
}

#[test]
fn an_entity_with_a_schema_but_no_data_file_got_no_table() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("crm");
    let crm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/crm");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(&crm)
        .arg(&app)
        .status()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(copied.success());
    std::fs::remove_file(app.join("data/Activity.jsonl")).unwrap_or_else(|error| panic!("{error}"));
    let pg_schema = format!("offbase_no_data_file_{}", std::process::id());
    let sql = |statement: &str| {
        let output = Command::new("psql")
            .args(["-X", "-q", "-At", "-c", statement])
            .arg(database_url())
            .output()
            .unwrap_or_else(|error| panic!("{error}"));
        text(&output.stdout).trim().to_owned()
    };
    let forget = || {
        sql(&format!(
            "DROP SCHEMA IF EXISTS \"{pg_schema}\" CASCADE; \
             DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{pg_schema}'; \
             DELETE FROM offbase.load_runs WHERE pg_schema = '{pg_schema}'"
        ))
    };
    forget();
    let migrated = offbase(&[
        "migrate",
        "--from",
        &app.display().to_string(),
        "--workspace",
        &folder.path().join("ws").display().to_string(),
        "--pg-schema",
        &pg_schema,
    ]);
    let stderr = text(&migrated.stderr);
    assert!(matches!(migrated.status.code(), Some(0 | 1)), "{stderr}");
    assert!(
        stderr.contains("Activity: has a schema but no data/Activity.jsonl"),
        "{stderr}"
    );
    assert_eq!(
        sql(&format!("SELECT count(*) FROM \"{pg_schema}\".activity")),
        "0"
    );
    forget();
}
