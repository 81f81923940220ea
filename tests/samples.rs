//! Golden snapshots of plan.sql and mapping-report.md for every sample app, with the default
//! rules and with the example mapping file; and the same input gives the same bytes.

use offbase_tests::{SAMPLES, plan_app, repo_root, sample};

#[test]
fn sample_plans_match_their_snapshots() {
    for name in SAMPLES {
        let output = plan_app(&sample(name), None);
        insta::assert_snapshot!(format!("{name}_plan_sql"), output.plan_file);
        insta::assert_snapshot!(format!("{name}_mapping_report"), output.report);
    }
}

#[test]
fn marketplace_with_its_mapping_file_matches_its_snapshot() {
    let mappings = repo_root().join("mappings/examples/marketplace.toml");
    let output = plan_app(&sample("marketplace"), Some(&mappings));
    insta::assert_snapshot!("marketplace_mapped_plan_sql", output.plan_file);
    insta::assert_snapshot!("marketplace_mapped_mapping_report", output.report);
}

#[test]
fn planning_twice_gives_byte_identical_files() {
    for name in SAMPLES {
        let first = plan_app(&sample(name), None);
        let second = plan_app(&sample(name), None);
        assert_eq!(
            first.plan_file, second.plan_file,
            "{name}: plan.sql differs"
        );
        assert_eq!(
            first.report, second.report,
            "{name}: mapping-report.md differs"
        );
    }
}

#[test]
fn written_files_are_the_planned_text() {
    let output = plan_app(&sample("crm"), None);
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("temp dir: {error}"),
    };
    let written = match offbase_pipeline::plan::write_plan(&output, folder.path()) {
        Ok(written) => written,
        Err(error) => panic!("write: {error}"),
    };
    assert_eq!(written.len(), 2);
    let plan = std::fs::read_to_string(folder.path().join("plan.sql")).unwrap_or_default();
    let report =
        std::fs::read_to_string(folder.path().join("mapping-report.md")).unwrap_or_default();
    assert_eq!(plan, output.plan_file);
    assert_eq!(report, output.report);
    // The notes the report page shows, as the plan holds them.
    let notes: Vec<offbase_model::Note> = serde_json::from_str(
        &std::fs::read_to_string(folder.path().join("notes.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|error| panic!("notes.json: {error}"));
    assert_eq!(notes, output.target.notes);
    // Nothing else (no temporary files) is left behind.
    let entries = std::fs::read_dir(folder.path())
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(entries, 3);
}
