//! Unit tests of the CSV grammar, the value readers and JSON cells.

use super::read::split_rows;
use super::typing::{
    IntegerText, Shape, Typed, json_cell, parse_integer, parse_json_cell, parse_number, union_cell,
};
use super::*;
use serde_json::Number;

fn cells(text: &str) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
    Ok(split_rows(text.as_bytes(), "t.csv")?
        .into_iter()
        .map(|row| (row.line, row.cells))
        .collect())
}

#[test]
fn rows_quotes_and_lines() -> Result<(), CsvError> {
    let rows = cells("a,\"b\"\r\n\"x\ny\",\"say \"\"hi\"\"\"\r\n\r\nplain \"q\",\r\nlast")?;
    let expected: Vec<(u64, Vec<String>)> = vec![
        (1, vec!["a".into(), "b".into()]),
        (2, vec!["x\ny".into(), "say \"hi\"".into()]),
        (5, vec!["plain \"q\"".into(), String::new()]),
        (6, vec!["last".into()]),
    ];
    assert_eq!(rows, expected);
    assert_eq!(
        cells("a\n\"\"\n")?,
        vec![(1, vec!["a".into()]), (2, vec![String::new()])]
    );
    Ok(())
}

#[test]
fn malformed_quotes_name_the_line() {
    for (text, line) in [("a\n\"open,b\nc\n", 2), ("a\n\"x\"y,b\n", 2)] {
        match split_rows(text.as_bytes(), "t.csv") {
            Err(CsvError::Malformed { line: found, .. }) => assert_eq!(found, line, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn integers_and_numbers() {
    assert_eq!(parse_integer("12", true), IntegerText::Integer(12));
    assert_eq!(parse_integer(" -12.00 ", true), IntegerText::Integer(-12));
    assert_eq!(parse_integer("1e3", true), IntegerText::Integer(1000));
    assert_eq!(parse_integer("12.5", true), IntegerText::NotInteger);
    assert_eq!(parse_integer("12.0", false), IntegerText::NotInteger);
    assert_eq!(
        parse_integer("9223372036854775808", true),
        IntegerText::OutOfRange
    );
    assert_eq!(parse_integer("NaN", true), IntegerText::NotInteger);
    assert_eq!(parse_number("7"), Some(Number::from(7)));
    assert_eq!(parse_number("0.5"), Number::from_f64(0.5));
    assert_eq!(parse_number("inf"), None);
    assert_eq!(parse_number("12abc"), None);
}

/// Regression: a JSON cell repeating a key kept its last value silently.
#[test]
fn a_json_cell_that_repeats_a_key_is_flagged() {
    let flagged = |typed: Typed| match typed {
        Typed::Flagged(reason) => reason,
        _ => panic!("not flagged"),
    };
    let reason = flagged(json_cell(r#"{"k":1,"k":2}"#, Some(Shape::Object)));
    assert!(
        reason.starts_with("the key \"k\" appears more than once in the value (first 1, then 2)"),
        "{reason}"
    );
    let reason = flagged(json_cell(r#"[{""a"":1,""a"":1}]"#, None));
    assert!(
        reason.contains("the key \"a\" appears more than once in [0]"),
        "{reason}"
    );
    let types = ["object".to_owned()];
    assert!(matches!(
        union_cell(&types, r#"{"k":1,"k":2}"#),
        Typed::Flagged(_)
    ));
    assert!(matches!(json_cell(r#"{"k":1}"#, None), Typed::Value(_)));
}

#[test]
fn json_cells_plain_and_double_escaped() {
    assert_eq!(parse_json_cell(r#"["a"]"#), Some(serde_json::json!(["a"])));
    assert_eq!(
        parse_json_cell(r#"{""k"":1,""s"":""""}"#),
        Some(serde_json::json!({"k": 1, "s": ""}))
    );
    assert_eq!(parse_json_cell("[URGENT] call"), None);
}

#[test]
fn export_file_names() {
    assert_eq!(
        entity_name_from_file("Task_export.csv").as_deref(),
        Some("Task")
    );
    assert_eq!(
        entity_name_from_file("exports/Ops_Task_EXPORT.CSV").as_deref(),
        Some("Ops_Task")
    );
    for name in [
        "_export.csv",
        "Task.csv",
        "Task_export (1).csv",
        "Tâche_export.csv",
    ] {
        assert_eq!(entity_name_from_file(name), None, "{name}");
    }
}
