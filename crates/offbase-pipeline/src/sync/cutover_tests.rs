//! Unit tests of the cutover's gates.

use super::*;

#[test]
fn a_record_rejected_again_by_the_sync_was_counted_twice() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path());
    let rejects = workspace.rejects_dir();
    std::fs::create_dir_all(&rejects).unwrap_or_else(|error| panic!("{error}"));
    let line = |entity: &str, id: Option<&str>| {
        let line = serde_json::json!({"entity": entity, "id": id, "reason": "enum",
            "message": "not in the enum", "source": "sync"});
        format!("{line}\n")
    };
    // The load rejected t1 and t2; two sync passes rejected t1 again; one line has no id.
    let load = line("Task", Some("t1")) + &line("Task", Some("t2")) + &line("Task", None);
    let sync = line("Task", Some("t1")) + &line("Task", Some("t1"));
    let note = line("Note", Some("t1"));
    for (file, text) in [
        ("Task.jsonl", load),
        ("sync-Task.jsonl", sync),
        ("Note.jsonl", note + "not a reject line\n"),
    ] {
        std::fs::write(rejects.join(file), text).unwrap_or_else(|error| panic!("{error}"));
    }
    // Task t1, Task t2, the line without an id, Note t1, the line that is no reject.
    assert_eq!(count_rejects(&workspace).ok(), Some(5));
}
