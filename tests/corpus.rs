//! The corpus bar: every real app under ../shared/corpus/apps is read, planned and applied to
//! PostgreSQL, each in its own schema and one transaction, without error. On a clone without
//! the corpus beside it, each test says it skipped and passes (unless OFFBASE_REQUIRE_CORPUS=1,
//! as in CI).

use offbase_pg::apply_plan;
use offbase_tests::{TestSchema, corpus_apps_or_skip, plan_app};
use std::io::Write;

#[tokio::test]
async fn every_corpus_app_plans_and_applies() {
    let Some(root) = corpus_apps_or_skip("every_corpus_app_plans_and_applies") else {
        return;
    };
    let mut apps: Vec<_> = match std::fs::read_dir(&root) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect(),
        Err(error) => panic!("the corpus is missing at {}: {error}", root.display()),
    };
    apps.sort();
    let mut applied = 0;
    let mut failures = Vec::new();
    let (mut tables, mut foreign_keys, mut warnings) = (0, 0, 0);
    for app in &apps {
        let name = app
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let output = plan_app(app, None);
        let mut schema = TestSchema::new("corpus").await;
        match apply_plan(
            &mut schema.connection,
            &schema.name,
            &output.target,
            &output.sql,
        )
        .await
        {
            Ok(_) => applied += 1,
            Err(error) => failures.push(format!("{name}: {error}")),
        }
        tables += output.target.tables.len();
        foreign_keys += output.target.foreign_keys.len();
        warnings += output.target.warnings().count();
        schema.drop().await;
    }
    // Straight to stderr, past the test harness's capture, so every run shows the count.
    let _ = writeln!(
        std::io::stderr(),
        "corpus: {applied} of {} apps planned and applied ({tables} tables, {foreign_keys} foreign keys, {warnings} warnings)",
        apps.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(applied, 32, "the corpus has 32 apps");
}

#[test]
fn every_corpus_plan_is_deterministic() {
    let Some(root) = corpus_apps_or_skip("every_corpus_plan_is_deterministic") else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(&root) else {
        panic!("the corpus is missing at {}", root.display());
    };
    for app in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        let first = plan_app(&app, None);
        let second = plan_app(&app, None);
        assert_eq!(first.plan_file, second.plan_file, "{}", app.display());
        assert_eq!(first.report, second.report, "{}", app.display());
    }
}
