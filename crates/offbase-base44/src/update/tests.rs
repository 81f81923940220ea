//! The unit tests of `update`: documents parsed and refused, and their changes on records.

use super::*;
use chrono::{DateTime, Utc};
use offbase_model::time::format_stored;
use serde_json::json;

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// 2026-06-01T09:23:41.481Z.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_780_305_821_481).unwrap_or_default()
}

fn record(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(record) => record,
        other => panic!("not a record: {other}"),
    }
}

/// The changes of `update` on `stored`.
fn changes(update: Value, stored: Value) -> Result<Vec<(String, Change)>, UpdateError> {
    parse_update(&update)?.changes(&record(stored), now())
}

fn set(field: &str, value: Value) -> (String, Change) {
    (field.to_owned(), Change::Set(value))
}

fn unset(field: &str) -> (String, Change) {
    (field.to_owned(), Change::Unset)
}

fn parse_error(update: Value) -> UpdateError {
    match parse_update(&update) {
        Err(error) => error,
        Ok(document) => panic!("{update} parsed: {document:?}"),
    }
}

fn apply_error(update: Value, stored: Value) -> UpdateError {
    match changes(update.clone(), stored) {
        Err(error) => error,
        Ok(changes) => panic!("{update} applied: {changes:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------

#[test]
fn set_stores_values_and_skips_what_is_already_there() -> Outcome {
    let found = changes(
        json!({"$set": {"status": "done", "tags": ["a"], "meta": {"k": 1}, "same": 3, "gone": null}}),
        json!({"status": "open", "same": 3}),
    )?;
    assert_eq!(
        found,
        [
            set("gone", Value::Null),
            set("meta", json!({"k": 1})),
            set("status", json!("done")),
            set("tags", json!(["a"])),
        ]
    );
    Ok(())
}

#[test]
fn unset_removes_present_fields_only() -> Outcome {
    let found = changes(
        json!({"$unset": {"note": "", "missing": 1, "nulled": true}}),
        json!({"note": "x", "nulled": null}),
    )?;
    assert_eq!(found, [unset("note"), unset("nulled")]);
    Ok(())
}

#[test]
fn rename_moves_the_value_and_overwrites_the_target() -> Outcome {
    let found = changes(
        json!({"$rename": {"old": "new", "absent": "other"}}),
        json!({"old": [1, 2], "new": "overwritten"}),
    )?;
    assert_eq!(found, [set("new", json!([1, 2])), unset("old")]);
    Ok(())
}

#[test]
fn inc_adds_and_starts_missing_fields_from_zero() -> Outcome {
    let found = changes(
        json!({"$inc": {"views": 1, "score": -0.5, "fresh": 7, "big": 1, "zero": 0}}),
        json!({"views": 41, "score": 2, "big": i64::MAX, "zero": 5}),
    )?;
    assert_eq!(
        found,
        [
            // Past 64 bits: a float.
            set("big", json!(9_223_372_036_854_775_808.0)),
            set("fresh", json!(7)),
            set("score", json!(1.5)),
            set("views", json!(42)),
        ]
    );
    Ok(())
}

#[test]
fn mul_multiplies_and_sets_missing_fields_to_zero() -> Outcome {
    let found = changes(
        json!({"$mul": {"price": 2, "rate": 1.5, "none_int": 3, "none_float": 2.5}}),
        json!({"price": 21, "rate": 4}),
    )?;
    assert_eq!(
        found,
        [
            set("none_float", json!(0.0)),
            set("none_int", json!(0)),
            set("price", json!(42)),
            set("rate", json!(6.0)),
        ]
    );
    Ok(())
}

#[test]
fn min_and_max_compare_numbers_and_strings() -> Outcome {
    let stored = json!({
        "low": 5, "high": 5, "first": "2026-03-01", "last": "2026-03-01T10:00:00",
        "same": 1
    });
    let found = changes(
        json!({"$min": {"low": 3, "first": "2026-02-28", "same": 1.0, "missing": "x"},
               "$max": {"high": 4.5, "last": "2026-03-01T10:00:01"}}),
        stored,
    )?;
    assert_eq!(
        found,
        [
            set("first", json!("2026-02-28")),
            set("last", json!("2026-03-01T10:00:01")),
            set("low", json!(3)),
            set("missing", json!("x")),
        ]
    );
    // `high` stays (4.5 < 5); `same` stays (1.0 equals 1).
    let found = changes(json!({"$max": {"n": 10}}), json!({"n": 9.5}))?;
    assert_eq!(found, [set("n", json!(10))]);
    Ok(())
}

#[test]
fn current_date_writes_now_in_the_stored_form() -> Outcome {
    let found = changes(
        json!({"$currentDate": {"seen": true, "checked": {"$type": "date"}}}),
        json!({"seen": "2020-01-01T00:00:00.000000"}),
    )?;
    let stamp = json!("2026-06-01T09:23:41.481000");
    assert_eq!(
        found,
        [set("checked", stamp.clone()), set("seen", stamp.clone())]
    );
    assert_eq!(
        Value::String(format_stored(now())),
        stamp,
        "the stored form"
    );
    Ok(())
}

#[test]
fn push_appends_values_and_each() -> Outcome {
    let found = changes(
        json!({"$push": {
            "tags": "b",
            "pairs": [1, 2],
            "many": {"$each": ["x", "x"]},
            "fresh": 1,
            "empty": {"$each": []}
        }}),
        json!({"tags": ["a", "b"], "pairs": [], "many": ["x"]}),
    )?;
    assert_eq!(
        found,
        [
            set("empty", json!([])),
            set("fresh", json!([1])),
            set("many", json!(["x", "x", "x"])),
            set("pairs", json!([[1, 2]])),
            set("tags", json!(["a", "b", "b"])),
        ]
    );
    Ok(())
}

#[test]
fn push_of_an_object_without_modifiers_appends_it() -> Outcome {
    let found = changes(
        json!({"$push": {"log": {"at": 1, "what": "x"}}}),
        json!({"log": []}),
    )?;
    assert_eq!(found, [set("log", json!([{"at": 1, "what": "x"}]))]);
    Ok(())
}

#[test]
fn add_to_set_appends_what_is_absent_once() -> Outcome {
    let found = changes(
        json!({"$addToSet": {
            "tags": "a",
            "nums": {"$each": [1.0, 2, 2, 3]},
            "objs": {"b": 2, "a": 1},
            "fresh": {"$each": ["x", "x", "y"]}
        }}),
        json!({"tags": ["a"], "nums": [1], "objs": [{"a": 1, "b": 2}]}),
    )?;
    assert_eq!(
        found,
        [
            set("fresh", json!(["x", "y"])),
            // 1.0 equals 1: not added.
            set("nums", json!([1, 2, 3])),
        ]
    );
    Ok(())
}

#[test]
fn pull_removes_equal_elements() -> Outcome {
    let found = changes(
        json!({"$pull": {
            "tags": "b",
            "nums": 2,
            "objs": {"b": 2, "a": 1},
            "nested": [1, 2],
            "nothing": "z",
            "missing": "x"
        }}),
        json!({
            "tags": ["a", "b", "c", "b"],
            "nums": [1, 2.0, 3, 2],
            "objs": [{"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 2, "c": 3}],
            "nested": [[1, 2], [2, 1], 1],
            "nothing": ["a"]
        }),
    )?;
    assert_eq!(
        found,
        [
            set("nested", json!([[2, 1], 1])),
            set("nums", json!([1, 3])),
            set("objs", json!([{"a": 1}, {"a": 1, "b": 2, "c": 3}])),
            set("tags", json!(["a", "c"])),
        ]
    );
    Ok(())
}

#[test]
fn pull_with_a_condition_removes_matching_elements() -> Outcome {
    let found = changes(
        json!({"$pull": {
            "tags": {"$in": ["a", "c"]},
            "votes": {"$gte": 6},
            "results": {"score": {"$lt": 5}}
        }}),
        json!({
            "tags": ["a", "b", "c"],
            "votes": [3, 5, 6, 7, 8],
            "results": [{"item": "A", "score": 4}, {"item": "B", "score": 8}, "text"]
        }),
    )?;
    assert_eq!(
        found,
        [
            set("results", json!([{"item": "B", "score": 8}, "text"])),
            set("tags", json!(["b"])),
            set("votes", json!([3, 5])),
        ]
    );
    Ok(())
}

#[test]
fn strings_are_equal_by_text_not_as_instants() -> Outcome {
    let found = changes(
        json!({"$addToSet": {"days": "2026-06-01T00:00:00Z"}, "$pull": {"other": "2026-06-01"}}),
        json!({"days": ["2026-06-01T00:00:00.000000"], "other": ["2026-06-01T00:00:00Z"]}),
    )?;
    assert_eq!(
        found,
        [set(
            "days",
            json!(["2026-06-01T00:00:00.000000", "2026-06-01T00:00:00Z"])
        )]
    );
    Ok(())
}

#[test]
fn several_operators_in_one_document() -> Outcome {
    let document = parse_update(&json!({
        "$set": {"status": "done"},
        "$inc": {"view_count": 1},
        "$rename": {"a": "b"},
        "$unset": {"c": ""}
    }))?;
    assert_eq!(document.fields(), ["a", "b", "c", "status", "view_count"]);
    let found = document.changes(
        &record(json!({"status": "open", "view_count": 1, "a": 1, "c": 2})),
        now(),
    )?;
    assert_eq!(
        found,
        [
            unset("a"),
            set("b", json!(1)),
            unset("c"),
            set("status", json!("done")),
            set("view_count", json!(2)),
        ]
    );
    Ok(())
}

#[test]
fn empty_operands_change_nothing() -> Outcome {
    let document = parse_update(&json!({"$set": {}, "$pull": {}}))?;
    assert!(document.fields().is_empty());
    assert!(
        document
            .changes(&record(json!({"a": 1})), now())?
            .is_empty()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Errors when parsing
// ---------------------------------------------------------------------------------------------

#[test]
fn a_document_must_be_an_object_of_operators() {
    let error = parse_error(json!([{"$set": {}}]));
    assert_eq!(error, UpdateError::NotAnObject { found: "an array" });
    assert!(error.to_string().contains("$set"), "{error}");

    let error = parse_error(json!({}));
    assert_eq!(error, UpdateError::NoOperator);
    assert!(error.to_string().contains("{\"$set\""), "{error}");

    let error = parse_error(json!({"status": "done"}));
    assert_eq!(
        error,
        UpdateError::NotAnOperator {
            key: "status".to_owned()
        }
    );
    assert!(
        error
            .to_string()
            .contains(r#"use {"$set": {"status": ...}}"#),
        "{error}"
    );

    let error = parse_error(json!({"$set": {"a": 1}, "status": "done"}));
    assert!(
        matches!(error, UpdateError::NotAnOperator { .. }),
        "{error}"
    );
}

#[test]
fn the_operator_list_is_the_sdks() {
    assert_eq!(Operator::ALL.map(Operator::name), OPERATORS);
    for name in OPERATORS {
        assert_eq!(Operator::named(name).map(Operator::name), Some(name));
    }
}

#[test]
fn unknown_operators_are_refused_with_the_list() {
    for operator in ["$setOnInsert", "$pop", "$pullAll", "$bit", "$SET"] {
        let mut document = Map::new();
        document.insert(operator.to_owned(), json!({"a": 1}));
        let error = parse_error(Value::Object(document));
        assert_eq!(
            error,
            UpdateError::UnknownOperator {
                operator: operator.to_owned()
            }
        );
        let message = error.to_string();
        assert!(message.contains(operator), "{message}");
        assert!(message.contains("$addToSet"), "{message}");
    }
}

#[test]
fn operands_must_be_objects_of_fields() {
    let error = parse_error(json!({"$inc": 1}));
    assert_eq!(
        error,
        UpdateError::OperandNotAnObject {
            operator: "$inc",
            found: "a number"
        }
    );
    assert!(error.to_string().contains("`$inc`"), "{error}");
}

#[test]
fn a_field_may_appear_in_one_operator_only() {
    let error = parse_error(json!({"$set": {"a": 1}, "$inc": {"a": 1}}));
    assert_eq!(
        error,
        UpdateError::FieldInTwoOperators {
            field: "a".to_owned(),
            first: "$set",
            second: "$inc"
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("`a`") && message.contains("$set") && message.contains("$inc"),
        "{message}"
    );
    // A rename's target counts.
    let error = parse_error(json!({"$rename": {"a": "b"}, "$set": {"b": 1}}));
    assert!(
        matches!(&error, UpdateError::FieldInTwoOperators { field, .. } if field == "b"),
        "{error}"
    );
    // Twice in one rename.
    let error = parse_error(json!({"$rename": {"a": "b", "b": "c"}}));
    assert_eq!(
        error,
        UpdateError::FieldTwice {
            operator: "$rename",
            field: "b".to_owned()
        }
    );
}

#[test]
fn dotted_empty_and_dollar_fields_are_refused() {
    let error = parse_error(json!({"$set": {"address.city": "Oslo"}}));
    assert_eq!(
        error,
        UpdateError::DottedPath {
            operator: "$set",
            field: "address.city".to_owned(),
            top: "address".to_owned()
        }
    );
    assert!(
        error.to_string().contains("the whole field `address`"),
        "{error}"
    );
    let error = parse_error(json!({"$rename": {"a": "b.c"}}));
    assert!(matches!(error, UpdateError::DottedPath { .. }), "{error}");
    for field in ["", "$where"] {
        let mut fields = Map::new();
        fields.insert(field.to_owned(), json!(1));
        let error = parse_error(json!({"$set": fields}));
        assert_eq!(
            error,
            UpdateError::InvalidField {
                operator: "$set",
                field: field.to_owned()
            }
        );
    }
}

#[test]
fn built_in_fields_are_refused() {
    for field in PROTECTED_FIELDS {
        let mut fields = Map::new();
        fields.insert(field.to_owned(), json!("x"));
        for operator in ["$set", "$unset", "$currentDate"] {
            let mut document = Map::new();
            let operand = if operator == "$currentDate" {
                let mut dates = Map::new();
                dates.insert(field.to_owned(), json!(true));
                dates
            } else {
                fields.clone()
            };
            document.insert(operator.to_owned(), Value::Object(operand));
            let error = parse_error(Value::Object(document));
            assert_eq!(
                error,
                UpdateError::ProtectedField {
                    operator,
                    field: field.to_owned()
                }
            );
            assert!(error.to_string().contains("leave it out"), "{error}");
        }
    }
    let error = parse_error(json!({"$rename": {"title": "id"}}));
    assert!(
        matches!(error, UpdateError::ProtectedField { .. }),
        "{error}"
    );
    let error = parse_error(json!({"$rename": {"created_by": "author"}}));
    assert!(
        matches!(error, UpdateError::ProtectedField { .. }),
        "{error}"
    );
}

#[test]
fn inc_and_mul_need_number_operands() {
    for operator in ["$inc", "$mul"] {
        let mut document = Map::new();
        document.insert(operator.to_owned(), json!({"n": "1"}));
        let error = parse_error(Value::Object(document));
        assert_eq!(
            error,
            UpdateError::OperandNotANumber {
                operator: if operator == "$inc" { "$inc" } else { "$mul" },
                field: "n".to_owned(),
                found: "a string"
            }
        );
        assert!(error.to_string().contains("`n`"), "{error}");
    }
}

#[test]
fn min_and_max_need_number_or_string_operands() {
    let error = parse_error(json!({"$max": {"n": true}}));
    assert_eq!(
        error,
        UpdateError::OperandNotComparable {
            operator: "$max",
            field: "n".to_owned(),
            found: "a boolean"
        }
    );
    let error = parse_error(json!({"$min": {"n": null}}));
    assert!(
        matches!(
            error,
            UpdateError::OperandNotComparable {
                operator: "$min",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn current_date_takes_true_or_type_date() {
    for spec in [
        json!(false),
        json!("now"),
        json!({"$type": "timestamp"}),
        json!({"$type": "date", "x": 1}),
    ] {
        let error = parse_error(json!({"$currentDate": {"seen": spec}}));
        assert!(
            matches!(&error, UpdateError::InvalidCurrentDate { field, .. } if field == "seen"),
            "{error}"
        );
        assert!(error.to_string().contains("\"$type\": \"date\""), "{error}");
    }
}

#[test]
fn rename_needs_another_field_name() {
    let error = parse_error(json!({"$rename": {"a": 1}}));
    assert_eq!(
        error,
        UpdateError::RenameTarget {
            field: "a".to_owned(),
            found: "a number".to_owned()
        }
    );
    let error = parse_error(json!({"$rename": {"a": "a"}}));
    assert!(matches!(error, UpdateError::RenameTarget { .. }), "{error}");
}

#[test]
fn push_modifiers_beyond_each_are_refused() {
    for (value, reason) in [
        (json!({"$each": [1], "$slice": 3}), "`$slice`"),
        (json!({"$each": [1], "$position": 0}), "`$position`"),
        (json!({"$sort": 1}), "`$sort`"),
        (json!({"$each": 1}), "array"),
        (json!({"$each": [1], "other": 1}), "`other`"),
    ] {
        for operator in ["$push", "$addToSet"] {
            let mut document = Map::new();
            document.insert(operator.to_owned(), json!({"tags": value.clone()}));
            let error = parse_error(Value::Object(document));
            assert!(
                matches!(&error, UpdateError::InvalidModifier { field, .. } if field == "tags"),
                "{error}"
            );
            let message = error.to_string();
            assert!(
                message.contains(reason) && message.contains(operator),
                "{message}"
            );
        }
    }
}

#[test]
fn pull_conditions_must_parse() {
    let error = parse_error(json!({"$pull": {"tags": {"$in": "a"}}}));
    assert!(
        matches!(&error, UpdateError::PullCondition { field, .. } if field == "tags"),
        "{error}"
    );
    let error = parse_error(json!({"$pull": {"tags": {"$in": ["a"], "b": 1}}}));
    assert!(error.to_string().contains("mixes operators"), "{error}");
    let error = parse_error(json!({"$pull": {"tags": {"$elemMatch": {"a": 1}}}}));
    assert!(error.to_string().contains("$elemMatch"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Errors when applying
// ---------------------------------------------------------------------------------------------

#[test]
fn inc_and_mul_on_stored_values_that_are_not_numbers() {
    for (stored, found) in [
        (json!("5"), "a string"),
        (Value::Null, "null"),
        (json!([1]), "an array"),
    ] {
        let error = apply_error(json!({"$inc": {"n": 1}}), json!({"n": stored.clone()}));
        assert_eq!(
            error,
            UpdateError::StoredNotANumber {
                operator: "$inc",
                field: "n".to_owned(),
                found
            }
        );
        assert!(error.to_string().contains("`$set` the field"), "{error}");
        let error = apply_error(json!({"$mul": {"n": 2}}), json!({"n": stored}));
        assert!(
            matches!(
                error,
                UpdateError::StoredNotANumber {
                    operator: "$mul",
                    ..
                }
            ),
            "{error}"
        );
    }
}

#[test]
fn results_that_are_not_finite_are_refused() {
    let error = apply_error(json!({"$mul": {"n": 1e300}}), json!({"n": 1e300}));
    assert_eq!(
        error,
        UpdateError::NotFinite {
            operator: "$mul",
            field: "n".to_owned()
        }
    );
}

#[test]
fn min_and_max_across_kinds_are_refused() {
    for stored in [json!("5"), Value::Null, json!(true)] {
        let error = apply_error(json!({"$min": {"n": 1}}), json!({"n": stored}));
        assert!(
            matches!(&error, UpdateError::NotComparable { field, operand: "a number", .. } if field == "n"),
            "{error}"
        );
    }
    let error = apply_error(json!({"$max": {"d": "2026-01-01"}}), json!({"d": 5}));
    assert_eq!(
        error,
        UpdateError::NotComparable {
            operator: "$max",
            field: "d".to_owned(),
            stored: "a number",
            operand: "a string"
        }
    );
}

#[test]
fn array_operators_on_stored_values_that_are_not_arrays() {
    for (update, operator) in [
        (json!({"$push": {"tags": "a"}}), "$push"),
        (json!({"$addToSet": {"tags": "a"}}), "$addToSet"),
        (json!({"$pull": {"tags": "a"}}), "$pull"),
    ] {
        for (stored, found) in [(json!("a"), "a string"), (Value::Null, "null")] {
            let error = apply_error(update.clone(), json!({"tags": stored}));
            assert_eq!(
                error,
                UpdateError::NotAnArray {
                    operator,
                    field: "tags".to_owned(),
                    found
                }
            );
            assert!(error.to_string().contains("to an array first"), "{error}");
        }
    }
}
