//! The corpus bar: every real app under ../shared/corpus/apps is read, planned and applied to
//! PostgreSQL, each in its own schema and one transaction, without error; an app with access
//! rules gets row security on every table and a policy per operation. On a clone without
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

/// Every corpus app with access rules gets them as row level security: the plan (its
/// access-rules section included) applies, every entity table has row security on and a
/// policy per operation (a junction table one, for reads), the section runs a second time
/// unchanged, and every table can be read as an anonymous visitor and as a signed-in user.
#[tokio::test]
async fn every_corpus_app_with_rules_gets_a_policy_per_operation() {
    let Some(root) = corpus_apps_or_skip("every_corpus_app_with_rules_gets_a_policy_per_operation")
    else {
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
    let mut with_rules = 0;
    let mut policies = 0;
    let mut failures = Vec::new();
    for app in &apps {
        let name = app
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let output = plan_app(app, None);
        if !output.access.enforced() {
            continue;
        }
        with_rules += 1;
        let mut schema = TestSchema::new("corpus_rls").await;
        if let Err(error) = apply_plan(
            &mut schema.connection,
            &schema.name,
            &output.target,
            &output.sql,
        )
        .await
        {
            failures.push(format!("{name}: {error}"));
            schema.drop().await;
            continue;
        }
        let expected: i64 = output
            .target
            .tables
            .iter()
            .map(|table| if table.junction.is_some() { 1 } else { 4 })
            .sum();
        let count = "SELECT count(*) FROM pg_policies WHERE schemaname = $1";
        let found: i64 = sqlx::query_scalar(count)
            .bind(&schema.name)
            .fetch_one(&mut schema.connection)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        if found != expected {
            failures.push(format!("{name}: {found} policies, {expected} expected"));
        }
        policies += found;
        let unsecured: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relrowsecurity",
        )
        .bind(&schema.name)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        if unsecured != 0 {
            failures.push(format!("{name}: {unsecured} tables without row security"));
        }
        let section: Vec<&str> = output
            .sql
            .section(offbase_sql::Section::AccessRules)
            .map(|statement| statement.sql.as_str())
            .collect();
        let again = format!(
            "BEGIN; SET LOCAL search_path TO \"{}\"; {}; COMMIT",
            schema.name,
            section.join(";\n")
        );
        if let Err(error) = sqlx::raw_sql(&again).execute(&mut schema.connection).await {
            failures.push(format!("{name}: the section does not run again: {error}"));
            let _ = sqlx::raw_sql("ROLLBACK")
                .execute(&mut schema.connection)
                .await;
        }
        for table in &output.target.tables {
            for session in [
                "SET LOCAL ROLE offbase_anon",
                "SET LOCAL ROLE offbase_user; SELECT set_config('app.user_id', 'u1', true), set_config('app.user_email', 'a@example.com', true), set_config('app.user_role', 'admin', true)",
            ] {
                let read = format!(
                    "BEGIN; SET LOCAL search_path TO \"{}\"; {session}; SELECT count(*) FROM \"{}\"; ROLLBACK",
                    schema.name,
                    table.name.replace('"', "\"\"")
                );
                if let Err(error) = sqlx::raw_sql(&read).execute(&mut schema.connection).await {
                    failures.push(format!("{name}: reading {}: {error}", table.name));
                    let _ = sqlx::raw_sql("ROLLBACK")
                        .execute(&mut schema.connection)
                        .await;
                }
            }
        }
        schema.drop().await;
    }
    let _ = writeln!(
        std::io::stderr(),
        "corpus: {with_rules} apps with access rules, {policies} policies applied"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(with_rules, 15, "the corpus has 15 apps with access rules");
}
