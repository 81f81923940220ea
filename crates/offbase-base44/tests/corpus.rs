//! Every real app of the shared corpus reads without error. On a clone without the corpus
//! beside it, each test says it skipped and passes, unless OFFBASE_REQUIRE_CORPUS=1 (as in CI).

use offbase_base44::read_app;
use offbase_model::Field;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/apps");

/// Whether the corpus is there; when it is not, says on stderr that `test` skipped, or fails
/// when OFFBASE_REQUIRE_CORPUS=1. (This crate cannot use the `offbase-tests` helper of the
/// same name, which depends on it.)
fn corpus_or_skip(test: &str) -> Result<bool, String> {
    if Path::new(CORPUS).is_dir() {
        return Ok(true);
    }
    if std::env::var("OFFBASE_REQUIRE_CORPUS").is_ok_and(|value| value == "1") {
        return Err(format!(
            "{test}: the corpus is missing at {CORPUS} and OFFBASE_REQUIRE_CORPUS=1 makes it mandatory"
        ));
    }
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped: ../shared/corpus/apps is not beside this checkout (CI makes it mandatory: OFFBASE_REQUIRE_CORPUS=1)"
    );
    Ok(false)
}

#[test]
fn every_corpus_app_reads() -> TestResult {
    if !corpus_or_skip("every_corpus_app_reads")? {
        return Ok(());
    }
    let mut folders: Vec<_> = std::fs::read_dir(Path::new(CORPUS))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    folders.retain(|path| path.is_dir());
    folders.sort();

    let (mut apps, mut entities, mut warnings) = (0, 0, 0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for folder in &folders {
        match read_app(folder) {
            Ok(outcome) => {
                apps += 1;
                entities += outcome.app.entities.len();
                warnings += outcome.warnings.len();
                assert!(!outcome.app.entities.is_empty(), "{}", folder.display());
                for entity in &outcome.app.entities {
                    tally(&entity.fields, &mut kinds);
                }
                for warning in &outcome.warnings {
                    println!("{}: {warning}", outcome.app.name);
                }
            }
            Err(error) => failures.push(format!("{}: {error}", folder.display())),
        }
    }
    println!("corpus: {apps} apps, {entities} entities, {warnings} warnings");
    println!("field kinds (items and nested properties included): {kinds:?}");
    assert!(!kinds.contains_key("unknown"), "{kinds:?}");
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(apps, 32);
    Ok(())
}

/// Counts field kinds, nullable ones apart, through items and nested properties.
fn tally(fields: &[Field], kinds: &mut BTreeMap<String, usize>) {
    for field in fields {
        let key = if field.nullable {
            format!("{}?", field.kind.key())
        } else {
            field.kind.key().to_owned()
        };
        *kinds.entry(key).or_default() += 1;
        if let Some(item) = &field.items {
            tally(std::slice::from_ref(item.as_ref()), kinds);
        }
        if let Some(properties) = &field.properties {
            tally(properties, kinds);
        }
    }
}

#[test]
fn corpus_output_is_deterministic() -> TestResult {
    if !corpus_or_skip("corpus_output_is_deterministic")? {
        return Ok(());
    }
    let folder = Path::new(CORPUS).join("warrior7702__fbca-os");
    let first = serde_json::to_string(&read_app(&folder)?)?;
    let second = serde_json::to_string(&read_app(&folder)?)?;
    assert_eq!(first, second);
    Ok(())
}
