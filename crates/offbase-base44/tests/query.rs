//! The Base44 filter language and sort: parsing into the AST, evaluating against records,
//! ordering values, and the errors for malformed queries.

use offbase_base44::query::{
    Condition, Filter, Operator, QueryError, Sort, compare_values, parse_filter, parse_filter_str,
    parse_sort,
};
use serde_json::{Map, Value, json};
use std::cmp::Ordering;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn record(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A small data set: each record has an `id` to report which ones matched.
fn records() -> Vec<Map<String, Value>> {
    [
        json!({"id": "a", "name": "Alice", "age": 30, "score": 1.5, "active": true,
               "tags": ["sale", "new"], "address": {"city": "Lisbon", "zip": "1000"},
               "created_date": "2026-06-01T09:23:41.481000", "note": null}),
        json!({"id": "b", "name": "bob", "age": 25.0, "score": 3, "active": false,
               "tags": ["new"], "address": {"city": "Porto"},
               "created_date": "2026-06-01T09:23:41.482Z"}),
        json!({"id": "c", "name": "Carol", "age": 41, "active": true, "tags": [],
               "created_date": "2026-01-05T12:34:56"}),
        json!({"id": "d", "name": "dave.smith", "age": "unknown", "tags": "sale",
               "address": {"city": "lisbon", "geo": {"lat": 38.7}},
               "created_date": "2026-01-05"}),
    ]
    .into_iter()
    .map(record)
    .collect()
}

/// The ids of the records matching the query `q`.
fn ids(q: Value) -> Result<Vec<String>, QueryError> {
    let filter = parse_filter(&q)?;
    Ok(records()
        .iter()
        .filter(|record| filter.matches(record))
        .filter_map(|record| record.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

fn check(q: Value, expected: &[&str]) -> TestResult {
    let found = ids(q.clone())?;
    assert_eq!(found, expected, "query {q}");
    Ok(())
}

#[test]
fn empty_query_matches_everything() -> TestResult {
    assert_eq!(parse_filter_str("{}")?, Filter::all());
    check(json!({}), &["a", "b", "c", "d"])
}

#[test]
fn exact_values() -> TestResult {
    check(json!({"name": "Alice"}), &["a"])?;
    check(json!({"name": "alice"}), &[])?;
    check(json!({"active": true}), &["a", "c"])?;
    check(json!({"name": "Alice", "active": true}), &["a"])?;
    check(json!({"name": "Alice", "active": false}), &[])?;
    check(json!({"address": {"city": "Porto"}}), &["b"])?;
    // Whole-object equality: every key, in any order.
    check(
        json!({"address": {"zip": "1000", "city": "Lisbon"}}),
        &["a"],
    )?;
    check(json!({"address": {"city": "Lisbon"}}), &[])?;
    check(json!({"address": {}}), &[])
}

#[test]
fn numbers_compare_numerically() -> TestResult {
    check(json!({"age": 25}), &["b"])?;
    check(json!({"age": 30.0}), &["a"])?;
    check(json!({"score": 3.0}), &["b"])?;
    check(json!({"age": {"$in": [25, 41.0]}}), &["b", "c"])?;
    // A number never equals a string.
    check(json!({"age": "30"}), &[])
}

#[test]
fn null_and_missing() -> TestResult {
    check(json!({"note": null}), &["a", "b", "c", "d"])?;
    check(json!({"score": null}), &["c", "d"])?;
    check(json!({"score": {"$eq": null}}), &["c", "d"])?;
    check(json!({"score": {"$ne": null}}), &["a", "b"])?;
    check(json!({"address.zip": null}), &["b", "c", "d"])?;
    check(json!({"score": {"$gte": null}}), &["c", "d"])?;
    check(json!({"score": {"$gt": null}}), &[])?;
    check(json!({"score": {"$in": [null, 3]}}), &["b", "c", "d"])
}

#[test]
fn exists() -> TestResult {
    check(json!({"note": {"$exists": true}}), &["a"])?;
    check(json!({"note": {"$exists": false}}), &["b", "c", "d"])?;
    check(json!({"address.geo": {"$exists": true}}), &["d"])?;
    check(json!({"address": {"$exists": false}}), &["c"])
}

#[test]
fn ne_and_nin_match_missing_fields() -> TestResult {
    check(json!({"score": {"$ne": 3}}), &["a", "c", "d"])?;
    check(json!({"address.city": {"$ne": "Lisbon"}}), &["b", "c", "d"])?;
    check(json!({"score": {"$nin": [1.5, 3]}}), &["c", "d"])?;
    check(json!({"name": {"$nin": []}}), &["a", "b", "c", "d"])?;
    check(json!({"name": {"$in": []}}), &[])
}

#[test]
fn comparisons_only_within_one_kind() -> TestResult {
    check(json!({"age": {"$gt": 25}}), &["a", "c"])?;
    check(json!({"age": {"$gte": 25}}), &["a", "b", "c"])?;
    check(json!({"age": {"$lt": 30}}), &["b"])?;
    check(json!({"age": {"$lte": 30.0}}), &["a", "b"])?;
    check(json!({"age": {"$gt": 26, "$lt": 41}}), &["a"])?;
    // "unknown" is a string: only string operands compare with it.
    check(json!({"age": {"$gt": "a"}}), &["d"])?;
    check(json!({"name": {"$gte": "C", "$lt": "a"}}), &["c"])?;
    check(json!({"active": {"$gt": false}}), &["a", "c"])?;
    check(json!({"active": {"$lt": 1}}), &[])?;
    check(json!({"address": {"$gt": {}}}), &[])
}

#[test]
fn timestamps_compare_as_instants() -> TestResult {
    // Stored without Z and 6 digits, queried with Z and 3 digits (and the other way round).
    check(json!({"created_date": "2026-06-01T09:23:41.481Z"}), &["a"])?;
    check(
        json!({"created_date": "2026-06-01T09:23:41.482000"}),
        &["b"],
    )?;
    check(
        json!({"created_date": {"$gt": "2026-06-01T09:23:41.481Z"}}),
        &["b"],
    )?;
    check(
        json!({"created_date": {"$gte": "2026-06-01T09:23:41.481"}}),
        &["a", "b"],
    )?;
    // Without a fraction; as a date alone.
    check(json!({"created_date": "2026-01-05T12:34:56.000Z"}), &["c"])?;
    check(json!({"created_date": "2026-01-05T00:00:00Z"}), &["d"])?;
    check(
        json!({"created_date": {"$lt": "2026-01-05T12:34:56"}}),
        &["d"],
    )?;
    check(json!({"created_date": {"$gte": "2026-06-01"}}), &["a", "b"])?;
    check(
        json!({"created_date": {"$in": ["2026-01-05T12:34:56Z", "2026-06-01T11:23:41.482+02:00"]}}),
        &["b", "c"],
    )?;
    // Lexicographically "2026-06-01T09:23:41.481000" > "2026-06-01T09:23:41.481Z" is false and
    // "2026-06-01T09:23:41.5" > "2026-06-01T09:23:41.482Z" is true, as instants too.
    check(
        json!({"created_date": {"$lt": "2026-06-01T09:23:41.4815"}}),
        &["a", "c", "d"],
    )
}

#[test]
fn strings_that_are_not_both_timestamps_compare_as_text() -> TestResult {
    check(json!({"created_date": {"$gt": "2026-06"}}), &["a", "b"])?;
    check(json!({"created_date": {"$lt": "2026-01-05T"}}), &["d"])
}

#[test]
fn dotted_paths() -> TestResult {
    check(json!({"address.city": "Lisbon"}), &["a"])?;
    check(json!({"address.geo.lat": {"$gt": 38}}), &["d"])?;
    check(json!({"address.city.name": null}), &["a", "b", "c", "d"])?;
    check(json!({"name.first": {"$exists": true}}), &[])
}

#[test]
fn arrays() -> TestResult {
    // Equality also looks inside arrays; a scalar field equal to the value matches too.
    check(json!({"tags": "sale"}), &["a", "d"])?;
    check(json!({"tags": "new"}), &["a", "b"])?;
    check(json!({"tags": ["new"]}), &["b"])?;
    check(json!({"tags": ["new", "sale"]}), &[])?;
    check(json!({"tags": []}), &["c"])?;
    check(json!({"tags": {"$ne": "new"}}), &["c", "d"])?;
    check(json!({"tags": {"$in": ["sale", "old"]}}), &["a", "d"])?;
    check(json!({"tags": {"$nin": ["sale"]}}), &["b", "c"])?;
    check(json!({"tags": {"$all": ["new", "sale"]}}), &["a"])?;
    check(json!({"tags": {"$all": ["new"]}}), &["a", "b"])?;
    check(json!({"tags": {"$all": []}}), &[])?;
    check(json!({"tags": {"$size": 2}}), &["a"])?;
    check(json!({"tags": {"$size": 0}}), &["c"])?;
    check(json!({"tags": {"$size": 1}}), &["b"])?;
    check(json!({"tags": {"$gt": "r"}}), &["a", "d"])?;
    check(json!({"tags": {"$regex": "^n"}}), &["a", "b"])
}

#[test]
fn regex() -> TestResult {
    check(json!({"name": {"$regex": "o"}}), &["b", "c"])?;
    check(json!({"name": {"$regex": "^a"}}), &[])?;
    check(json!({"name": {"$regex": "^a", "$options": "i"}}), &["a"])?;
    check(
        json!({"name": {"$options": "i", "$regex": "[EH]$"}}),
        &["a", "d"],
    )?;
    check(json!({"name": {"$regex": "\\.smith$"}}), &["d"])?;
    check(json!({"name": {"$regex": "^[a-c][a-z]+$"}}), &["b"])?;
    check(
        json!({"name": {"$regex": "^[^ab]", "$options": "i"}}),
        &["c", "d"],
    )?;
    check(json!({"address.zip": {"$regex": "^\\d{4}$"}}), &["a"])?;
    check(
        json!({"name": {"$regex": "^(alice|bob)$", "$options": "i"}}),
        &["a", "b"],
    )?;
    check(json!({"name": {"$regex": "\\w+\\.\\w+"}}), &["d"])?;
    // Non-strings never match.
    check(json!({"age": {"$regex": "3"}}), &[])
}

#[test]
fn not() -> TestResult {
    check(json!({"age": {"$not": {"$gt": 28}}}), &["b", "d"])?;
    check(json!({"score": {"$not": {"$gt": 2}}}), &["a", "c", "d"])?;
    check(json!({"name": {"$not": "^[A-Z]"}}), &["b", "d"])?;
    check(
        json!({"name": {"$not": {"$regex": "^a", "$options": "i"}}}),
        &["b", "c", "d"],
    )
}

#[test]
fn logical_combinators() -> TestResult {
    check(
        json!({"$or": [{"name": "Alice"}, {"age": 25}]}),
        &["a", "b"],
    )?;
    check(
        json!({"$and": [{"active": true}, {"age": {"$gt": 35}}]}),
        &["c"],
    )?;
    check(json!({"$nor": [{"active": true}, {"age": 25}]}), &["d"])?;
    check(
        json!({"active": true, "$or": [{"tags": "sale"}, {"tags": {"$size": 0}}]}),
        &["a", "c"],
    )?;
    check(
        json!({"$or": [{"$and": [{"age": {"$gte": 30}}, {"age": {"$lt": 41}}]}, {"name": {"$regex": "^d"}}]}),
        &["a", "d"],
    )?;
    // Keyset paging on (created_date, id).
    check(
        json!({"$or": [
            {"created_date": {"$gt": "2026-01-05T12:34:56Z"}},
            {"created_date": "2026-01-05T12:34:56Z", "id": {"$gt": "b"}}
        ]}),
        &["a", "b", "c"],
    )
}

#[test]
fn ast_shape() -> TestResult {
    assert_eq!(
        parse_filter_str(r#"{"address.city": "Lisbon"}"#)?,
        Filter::Field {
            path: "address.city".to_owned(),
            condition: Condition::Eq(json!("Lisbon")),
        }
    );
    assert_eq!(
        parse_filter_str(
            r#"{"a": {"$gt": 1, "$nin": [2], "$regex": "x", "$options": "i", "$not": "y"}, "b": null}"#
        )?,
        Filter::And(vec![
            Filter::Field {
                path: "a".to_owned(),
                condition: Condition::Ops(vec![
                    Operator::Gt(json!(1)),
                    Operator::Nin(vec![json!(2)]),
                    Operator::Regex {
                        pattern: "x".to_owned(),
                        options: "i".to_owned(),
                    },
                    Operator::Not(Box::new(Condition::Ops(vec![Operator::Regex {
                        pattern: "y".to_owned(),
                        options: String::new(),
                    }]))),
                ]),
            },
            Filter::Field {
                path: "b".to_owned(),
                condition: Condition::Eq(Value::Null),
            },
        ])
    );
    assert_eq!(
        parse_filter(&json!({"$nor": [{"x": {"$exists": true, "$size": 3, "$all": [1]}}]}))?,
        Filter::Nor(vec![Filter::Field {
            path: "x".to_owned(),
            condition: Condition::Ops(vec![
                Operator::Exists(true),
                Operator::Size(3),
                Operator::All(vec![json!(1)]),
            ]),
        }])
    );
    assert_eq!(
        parse_filter(&json!({"$or": [{"a": 1}, {}]}))?,
        Filter::Or(vec![
            Filter::Field {
                path: "a".to_owned(),
                condition: Condition::Eq(json!(1)),
            },
            Filter::all(),
        ])
    );
    Ok(())
}

/// Recognises the expected error.
type Expected = fn(&QueryError) -> bool;

#[test]
fn parse_errors() {
    let cases: Vec<(&str, Expected)> = vec![
        (r#"{"name": "#, |error| {
            matches!(error, QueryError::InvalidJson(_))
        }),
        ("", |error| matches!(error, QueryError::InvalidJson(_))),
        ("[]", |error| {
            matches!(error, QueryError::NotAnObject { .. })
        }),
        ("null", |error| {
            matches!(error, QueryError::NotAnObject { .. })
        }),
        (
            r#"{"$where": "1"}"#,
            |error| matches!(error, QueryError::UnknownOperator { operator, field: None } if operator == "$where"),
        ),
        (r#"{"a": {"$foo": 1}}"#, |error| {
            matches!(error, QueryError::UnknownOperator { operator, field: Some(field) }
                if operator == "$foo" && field == "a")
        }),
        (r#"{"a": {"$and": [{"b": 1}]}}"#, |error| {
            matches!(error, QueryError::UnknownOperator { .. })
        }),
        (
            r#"{"a": {"$in": 1}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$in"),
        ),
        (
            r#"{"a": {"$nin": "x"}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$nin"),
        ),
        (
            r#"{"a": {"$all": {}}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$all"),
        ),
        (
            r#"{"a": {"$size": -1}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$size"),
        ),
        (r#"{"a": {"$size": 1.5}}"#, |error| {
            matches!(error, QueryError::InvalidOperand { .. })
        }),
        (
            r#"{"a": {"$exists": 1}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$exists"),
        ),
        (
            r#"{"a": {"$regex": 1}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$regex"),
        ),
        (
            r#"{"a": {"$regex": "x", "$options": 1}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$options"),
        ),
        (r#"{"a": {"$options": "i"}}"#, |error| {
            matches!(error, QueryError::OptionsWithoutRegex { .. })
        }),
        (
            r#"{"a": {"$not": 1}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, .. } if operator == "$not"),
        ),
        (r#"{"a": {"$not": {}}}"#, |error| {
            matches!(error, QueryError::InvalidOperand { .. })
        }),
        (
            r#"{"$and": {}}"#,
            |error| matches!(error, QueryError::InvalidOperand { operator, field: None, .. } if operator == "$and"),
        ),
        (r#"{"$or": []}"#, |error| {
            matches!(error, QueryError::InvalidOperand { .. })
        }),
        (r#"{"$nor": [1]}"#, |error| {
            matches!(error, QueryError::InvalidOperand { .. })
        }),
        (
            r#"{"a": {"$gt": 1, "b": 2}}"#,
            |error| matches!(error, QueryError::MixedOperators { field } if field == "a"),
        ),
        (r#"{"a..b": 1}"#, |error| {
            matches!(error, QueryError::InvalidPath { .. })
        }),
        (r#"{"": 1}"#, |error| {
            matches!(error, QueryError::InvalidPath { .. })
        }),
        (r#"{"a": {"$regex": "(?=x)"}}"#, |error| {
            matches!(error, QueryError::UnsupportedRegex { .. })
        }),
        (r#"{"a": {"$regex": "x", "$options": "x"}}"#, |error| {
            matches!(error, QueryError::UnsupportedRegex { .. })
        }),
        (r#"{"a": {"$regex": "(x"}}"#, |error| {
            matches!(error, QueryError::InvalidRegex { .. })
        }),
        (r#"{"a": {"$not": "[x"}}"#, |error| {
            matches!(error, QueryError::InvalidRegex { .. })
        }),
    ];
    for (text, expected) in cases {
        match parse_filter_str(text) {
            Ok(filter) => panic!("{text} parsed as {filter:?}"),
            Err(error) => assert!(expected(&error), "{text}: unexpected {error:?}"),
        }
    }
}

#[test]
fn error_messages_name_the_culprit() {
    let message = |text: &str| match parse_filter_str(text) {
        Ok(_) => String::new(),
        Err(error) => error.to_string(),
    };
    assert_eq!(
        message(r#"{"price": {"$between": [1, 2]}}"#),
        "unknown operator `$between` on field `price`"
    );
    assert_eq!(
        message(r#"{"$text": "x"}"#),
        "unknown operator `$text` at the top level"
    );
    assert_eq!(
        message(r#"{"tags": {"$in": "sale"}}"#),
        "operator `$in` on field `tags` needs an array, found a string"
    );
    assert!(message(r#"{"a": {"$regex": "\\bx"}}"#).contains("`\\b`"));
}

#[test]
fn sort_parsing() -> TestResult {
    let sort = |field: &str, descending| {
        Some(Sort {
            field: field.to_owned(),
            descending,
        })
    };
    assert_eq!(parse_sort("created_date")?, sort("created_date", false));
    assert_eq!(parse_sort("+created_date")?, sort("created_date", false));
    assert_eq!(parse_sort(" created_date")?, sort("created_date", false));
    assert_eq!(parse_sort("-updated_date")?, sort("updated_date", true));
    assert_eq!(parse_sort("-address.city")?, sort("address.city", true));
    assert_eq!(parse_sort("")?, None);
    assert_eq!(parse_sort("  ")?, None);
    for bad in ["-", "+", "--a", "a,b", "a b", "a..b"] {
        assert!(
            matches!(parse_sort(bad), Err(QueryError::InvalidSort { .. })),
            "{bad}"
        );
    }
    assert_eq!(
        sort("x", true).map(|sort| sort.to_string()),
        Some("-x".to_owned())
    );
    Ok(())
}

fn sorted_ids(sort: &str) -> Result<Vec<String>, QueryError> {
    let mut list = records();
    if let Some(sort) = parse_sort(sort)? {
        list.sort_by(|left, right| {
            sort.compare(left, right)
                .then_with(|| compare_values(&left["id"], &right["id"]))
        });
    }
    Ok(list
        .iter()
        .filter_map(|record| record.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

#[test]
fn sorting_records() -> TestResult {
    assert_eq!(sorted_ids("created_date")?, ["d", "c", "a", "b"]);
    assert_eq!(sorted_ids("-created_date")?, ["b", "a", "c", "d"]);
    // Missing first ascending, then numbers (25.0 < 30 < 41), then strings.
    assert_eq!(sorted_ids("age")?, ["b", "a", "c", "d"]);
    assert_eq!(sorted_ids("score")?, ["c", "d", "a", "b"]);
    assert_eq!(sorted_ids("-score")?, ["b", "a", "c", "d"]);
    assert_eq!(sorted_ids("address.city")?, ["c", "a", "b", "d"]);
    assert_eq!(sorted_ids("active")?, ["d", "b", "a", "c"]);
    // Ties stay equal: the tiebreak on id decides.
    let sort = Sort {
        field: "active".to_owned(),
        descending: true,
    };
    let list = records();
    assert_eq!(sort.compare(&list[0], &list[2]), Ordering::Equal);
    Ok(())
}

#[test]
fn total_order_across_kinds() {
    let ascending = [
        json!(null),
        json!(-5),
        json!(1),
        json!(1.5),
        json!(2),
        json!("2025-12-31T23:59:59.999999"),
        json!("2026-01-01"),
        json!("2026-01-01T00:00:00.000001Z"),
        json!(""),
        json!("A"),
        json!("a"),
        json!(false),
        json!(true),
        json!([]),
        json!([1]),
        json!([1, "a"]),
        json!([2]),
        json!({}),
        json!({"a": 1}),
        json!({"a": 1, "b": 0}),
        json!({"a": 2}),
        json!({"b": 0}),
    ];
    for (i, left) in ascending.iter().enumerate() {
        for (j, right) in ascending.iter().enumerate() {
            assert_eq!(compare_values(left, right), i.cmp(&j), "{left} vs {right}");
        }
    }
    // Equal across representations.
    for (left, right) in [
        (json!(1), json!(1.0)),
        (
            json!("2026-06-01T09:23:41.481000"),
            json!("2026-06-01T09:23:41.481Z"),
        ),
        (json!("2026-01-05"), json!("2026-01-05T00:00")),
        (json!([1, {"x": 2.0}]), json!([1.0, {"x": 2}])),
        (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 1})),
    ] {
        assert_eq!(
            compare_values(&left, &right),
            Ordering::Equal,
            "{left} vs {right}"
        );
    }
}

#[test]
fn sorting_mixed_timestamps_and_text_is_a_total_order() {
    // Offsets make instant order and text order disagree; a sort must still be consistent.
    let mut values = vec![
        json!("2026-01-01T10:00:00-12:00"),
        json!("2026-01-01T15"),
        json!("2026-01-01T20:00:00Z"),
        json!("zzz"),
        json!("2026-01-01"),
    ];
    values.sort_by(compare_values);
    assert_eq!(
        values,
        [
            json!("2026-01-01"),
            json!("2026-01-01T20:00:00Z"),
            json!("2026-01-01T10:00:00-12:00"),
            json!("2026-01-01T15"),
            json!("zzz"),
        ]
    );
}
