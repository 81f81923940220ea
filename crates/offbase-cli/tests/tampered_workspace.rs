//! A staged workspace is loaded only while it is what the manifest sealed: a part with a line
//! deleted, appended or edited, cut short, or named outside the workspace is refused (exit 2,
//! the part named, nothing of it loaded); `offbase reseal` records an intended edit, after
//! which the load takes it.

mod support;
use support::{database_url, forget, psql, text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn offbase(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(arguments)
        .env("DATABASE_URL", database_url())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("offbase {arguments:?}: {error}"))
}

/// A generated workspace of the tasks sample, and the first part of its largest entity.
struct Staged {
    _folder: tempfile::TempDir,
    workspace: PathBuf,
    entity: String,
    part: PathBuf,
}

fn staged() -> Staged {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("ws");
    let tasks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/tasks");
    let generated = offbase(&[
        "generate",
        "--schema-from",
        &tasks.display().to_string(),
        "--records",
        "400",
        "--workspace",
        &workspace.display().to_string(),
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace.join("manifest.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let (entity, entry) = manifest["entities"]
        .as_object()
        .into_iter()
        .flatten()
        .max_by_key(|(_, entry)| entry["records"].as_u64().unwrap_or_default())
        .unwrap_or_else(|| panic!("no entity in {manifest}"));
    let file = entry["parts"][0]["file"].as_str().unwrap_or_default();
    Staged {
        part: workspace.join(file),
        workspace,
        entity: entity.clone(),
        _folder: folder,
    }
}

fn load(staged: &Staged, pg_schema: &str) -> Output {
    offbase(&[
        "load",
        "--workspace",
        &staged.workspace.display().to_string(),
        "--pg-schema",
        pg_schema,
    ])
}

fn refused(staged: &Staged, label: &str) -> String {
    let pg_schema = format!("offbase_tampered_{label}_{}", std::process::id());
    forget(&pg_schema);
    let output = load(staged, &pg_schema);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{label}: {stderr}");
    let rejects = staged
        .workspace
        .join(format!("reports/rejects/{}.jsonl", staged.entity));
    assert!(
        std::fs::read_to_string(rejects)
            .unwrap_or_default()
            .is_empty(),
        "{label}: rejects were written"
    );
    forget(&pg_schema);
    stderr
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap_or_else(|error| panic!("{error}"));
}

#[test]
fn a_deleted_appended_or_edited_line_was_loaded_as_is() {
    for case in ["deleted", "appended", "edited", "truncated"] {
        let staged = staged();
        let mut content = lines(&staged.part);
        match case {
            "deleted" => {
                content.remove(1);
                write_lines(&staged.part, &content);
            }
            "appended" => {
                let copy = content.first().cloned().unwrap_or_default();
                content.push(copy.replacen("\"id\":\"", "\"id\":\"appended-", 1));
                write_lines(&staged.part, &content);
            }
            "edited" => {
                content[0] = content[0].replacen("\"id\":\"", "\"id\":\"edited-", 1);
                write_lines(&staged.part, &content);
            }
            _ => {
                let bytes = std::fs::read(&staged.part).unwrap_or_default();
                std::fs::write(&staged.part, &bytes[..bytes.len().saturating_sub(100)])
                    .unwrap_or_else(|error| panic!("{error}"));
            }
        }
        let stderr = refused(&staged, case);
        assert!(
            stderr.contains("changed since it was staged")
                && stderr.contains(&staged.part.display().to_string()),
            "{case}: {stderr}"
        );
    }
}

#[test]
fn a_manifest_naming_a_file_outside_the_workspace_made_the_load_read_it() {
    let staged = staged();
    let manifest_path = staged.workspace.join("manifest.json");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap_or_default();
    let file = staged
        .part
        .strip_prefix(&staged.workspace)
        .map(|relative| relative.display().to_string())
        .unwrap_or_default();
    let hostile = manifest.replace(&file, "../../../../../../etc/passwd");
    assert_ne!(hostile, manifest);
    std::fs::write(&manifest_path, hostile).unwrap_or_else(|error| panic!("{error}"));
    let stderr = refused(&staged, "outside");
    assert!(
        stderr.contains("not inside the workspace's data/ folder"),
        "{stderr}"
    );
}

#[test]
fn reseal_records_an_intended_edit_and_the_load_takes_it() {
    let staged = staged();
    let mut content = lines(&staged.part);
    content[0] = content[0].replacen("\"id\":\"", "\"id\":\"fixed-by-hand-", 1);
    write_lines(&staged.part, &content);
    let workspace = staged.workspace.display().to_string();
    let resealed = offbase(&["reseal", "--workspace", &workspace]);
    let stdout = text(&resealed.stdout);
    assert!(resealed.status.success(), "{}", text(&resealed.stderr));
    assert!(stdout.contains("Resealed 1 parts"), "{stdout}");
    let again = offbase(&["reseal", "--workspace", &workspace]);
    assert!(text(&again.stdout).contains("nothing to reseal"));
    let pg_schema = format!("offbase_resealed_{}", std::process::id());
    forget(&pg_schema);
    let loaded = load(&staged, &pg_schema);
    assert!(
        matches!(loaded.status.code(), Some(0 | 1)),
        "{}",
        text(&loaded.stderr)
    );
    let entity_table = psql(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = '{pg_schema}' \
         AND lower(replace(table_name, '_', '')) = lower('{}')",
        staged.entity
    ));
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FROM \"{pg_schema}\".\"{entity_table}\" WHERE id LIKE 'fixed-by-hand-%'"
        )),
        "1"
    );
    forget(&pg_schema);
}

#[test]
fn a_resealed_part_with_a_blank_line_failed_its_seal_forever() {
    let staged = staged();
    let mut bytes = std::fs::read(&staged.part).unwrap_or_default();
    bytes.extend_from_slice(b"\n  \n");
    std::fs::write(&staged.part, bytes).unwrap_or_else(|error| panic!("{error}"));
    let stderr = refused(&staged, "blank");
    assert!(stderr.contains("changed since it was staged"), "{stderr}");
    let workspace = staged.workspace.display().to_string();
    let resealed = offbase(&["reseal", "--workspace", &workspace]);
    assert!(resealed.status.success(), "{}", text(&resealed.stderr));
    let pg_schema = format!("offbase_resealed_blank_{}", std::process::id());
    forget(&pg_schema);
    let loaded = load(&staged, &pg_schema);
    assert!(
        matches!(loaded.status.code(), Some(0 | 1)),
        "{}",
        text(&loaded.stderr)
    );
    forget(&pg_schema);
}
