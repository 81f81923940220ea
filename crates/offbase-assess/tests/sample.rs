//! The sample app `samples/tasks` carries hand-written source code planting every SDK surface
//! (aliases, destructuring, imports of another file's exports, optional chaining, dynamic
//! entity names, backend functions in both entry styles, integrations, agents, hard-coded
//! hosts and file URLs, one file that does not parse), each planted pattern marked on its
//! line with `// expect: KIND DETAIL` (`<!-- expect: ... -->` in HTML; JSON files' in
//! `assess-expected.txt` as `FILE:LINE KIND DETAIL`). The assessment finds every marked
//! pattern at its file:line and nothing unmarked, its Markdown and JSON are snapshots, and two
//! runs give the same bytes.

use offbase_assess::{Assessment, assess, assessment_markdown};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/tasks")
}

/// `FILE:LINE KIND DETAIL` of every finding.
fn found(assessment: &Assessment) -> BTreeSet<String> {
    assessment
        .findings
        .iter()
        .map(|finding| {
            format!(
                "{}:{} {} {}",
                finding.file,
                finding.line,
                finding.kind.name(),
                finding.detail
            )
        })
        .collect()
}

/// Every marker of the sample, as `FILE:LINE KIND DETAIL`.
fn markers(root: &Path) -> BTreeSet<String> {
    let mut expected = BTreeSet::new();
    let listed = std::fs::read_to_string(root.join("assess-expected.txt")).unwrap_or_default();
    for line in listed.lines().map(str::trim) {
        if !line.is_empty() && !line.starts_with('#') {
            expected.insert(line.to_owned());
        }
    }
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).unwrap_or_else(|error| panic!("{error}"));
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                if !matches!(
                    path.file_name().and_then(|name| name.to_str()),
                    Some("data" | "node_modules")
                ) {
                    folders.push(path);
                }
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            for (index, line) in text.lines().enumerate() {
                let Some(start) = line.find("expect: ") else {
                    continue;
                };
                let marker = line[start..].trim_end().trim_end_matches("-->").trim_end();
                for part in marker.split("; ") {
                    if let Some(expectation) = part.trim().strip_prefix("expect: ") {
                        expected.insert(format!("{name}:{} {}", index + 1, expectation.trim()));
                    }
                }
            }
        }
    }
    expected
}

#[test]
fn every_planted_pattern_of_the_sample_is_found_at_its_line() {
    let root = sample();
    let assessment = assess(&root).unwrap_or_else(|error| panic!("{error}"));
    let found = found(&assessment);
    let expected = markers(&root);
    assert!(expected.len() > 60, "only {} markers", expected.len());
    let missed: Vec<&String> = expected.difference(&found).collect();
    let unmarked: Vec<&String> = found.difference(&expected).collect();
    assert!(
        missed.is_empty() && unmarked.is_empty(),
        "marked but not found:\n{}\n\nfound but not marked:\n{}",
        missed
            .iter()
            .map(|line| line.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        unmarked
            .iter()
            .map(|line| line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let unparsed: Vec<&str> = assessment
        .files
        .unparsed
        .iter()
        .map(|file| file.file.as_str())
        .collect();
    assert_eq!(unparsed, ["src/components/Broken.jsx"]);
}

#[test]
fn the_samples_assessment_is_this_snapshot_and_the_same_twice() {
    let root = sample();
    let first = assess(&root).unwrap_or_else(|error| panic!("{error}"));
    let second = assess(&root).unwrap_or_else(|error| panic!("{error}"));
    let json = |assessment: &Assessment| {
        serde_json::to_string_pretty(assessment).unwrap_or_else(|error| panic!("{error}"))
    };
    assert_eq!(json(&first), json(&second));
    assert_eq!(assessment_markdown(&first), assessment_markdown(&second));
    insta::assert_snapshot!("tasks_assessment_md", assessment_markdown(&first));
    insta::assert_snapshot!("tasks_assessment_json", json(&first));
}

/// The samples without code: their entities, each with a schema and never called.
#[test]
fn the_samples_without_code_are_assessed_too() {
    for app in ["crm", "marketplace"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../samples")
            .join(app);
        let assessment = assess(&root).unwrap_or_else(|error| panic!("{error}"));
        assert!(
            assessment.findings.is_empty(),
            "{app}: {:?}",
            assessment.findings
        );
        assert_eq!(
            assessment.unused_entities().len(),
            assessment.entities.len(),
            "{app}"
        );
        insta::assert_snapshot!(
            format!("{app}_assessment_md"),
            assessment_markdown(&assessment)
        );
    }
}
