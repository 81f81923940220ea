//! The unit tests of `aggregate`: specs read and refused, and evaluated over a few records.

use super::*;
use offbase_model::{Entity, Field, FieldKind, SchemaSource, SourceLayout};
use serde_json::json;

fn entity() -> Entity {
    let mut due = Field::new("due_date", FieldKind::String);
    due.format = Some("date".to_owned());
    let mut seen = Field::new("seen_at", FieldKind::String);
    seen.format = Some("date-time".to_owned());
    let mut address = Field::new("address", FieldKind::Object);
    address.properties = Some(vec![Field::new("city", FieldKind::String)]);
    Entity {
        name: "Task".to_owned(),
        source: SchemaSource {
            path: "base44/entities/task.jsonc".to_owned(),
            layout: SourceLayout::Base44Entities,
        },
        title: None,
        description: None,
        fields: vec![
            Field::new("status", FieldKind::String),
            Field::new("hours", FieldKind::Number),
            Field::new("priority", FieldKind::Integer),
            Field::new("done", FieldKind::Boolean),
            Field::new("tags", FieldKind::Array),
            Field::new("count", FieldKind::Integer),
            Field::new("meta", FieldKind::Any),
            due,
            seen,
            address,
        ],
        rls: None,
        extra: Default::default(),
    }
}

fn spec(body: Value) -> AggregateSpec {
    AggregateSpec::parse(&body, &entity()).unwrap_or_else(|error| panic!("{body}: {error}"))
}

fn refused(body: Value) -> String {
    match AggregateSpec::parse(&body, &entity()) {
        Ok(spec) => panic!("{body} was accepted: {spec:?}"),
        Err(error) => error.to_string(),
    }
}

fn records() -> Vec<Record> {
    [
        json!({"id": "1", "status": "done", "hours": 2, "priority": 1, "created_date": "2025-09-01T23:30:00.000000", "due_date": "2025-10-01", "tags": ["a"]}),
        json!({"id": "2", "status": "done", "hours": 4.5, "priority": 2, "created_date": "2025-09-02T00:30:00Z", "due_date": "2025-10-31", "tags": ["a"]}),
        json!({"id": "3", "status": "todo", "hours": null, "priority": 1.0, "created_date": "2025-09-08T10:00:00.000000", "due_date": "2025-11-02"}),
        json!({"id": "4", "status": "todo", "hours": "3", "created_date": "2025-09-07T10:00:00.000000", "tags": []}),
        json!({"id": "5", "hours": 1, "priority": 3, "created_date": "not a date", "due_date": null}),
    ]
    .into_iter()
    .map(|record| match record {
        Value::Object(record) => record,
        _ => Map::new(),
    })
    .collect()
}

fn rows(body: Value) -> Value {
    evaluate(&spec(body), records().iter()).to_json()
}

#[test]
fn groups_count_and_compute_per_group() {
    assert_eq!(
        rows(
            json!({"groupBy": "status", "sum": "hours", "avg": "hours", "min": "hours", "max": "hours"})
        ),
        json!({"rows": [
            {"status": null, "count": 1, "sum_hours": 1, "avg_hours": 1, "min_hours": 1, "max_hours": 1},
            {"status": "done", "count": 2, "sum_hours": 6.5, "avg_hours": 3.25, "min_hours": 2, "max_hours": 4.5},
            // Text is no number: ignored by sum and avg; min and max order every value.
            {"status": "todo", "count": 2, "sum_hours": 0, "avg_hours": null, "min_hours": "3", "max_hours": "3"},
        ], "truncated": false})
    );
}

#[test]
fn without_groups_one_total_row_even_over_nothing() {
    assert_eq!(
        rows(json!({"sum": "priority", "countDistinct": "status"})),
        json!({"rows": [{"count": 5, "sum_priority": 7, "count_distinct_status": 2}], "truncated": false})
    );
    let spec = spec(json!({"avg": "hours", "count": true}));
    assert_eq!(
        evaluate(&spec, Vec::<Record>::new()).to_json(),
        json!({"rows": [{"count": 0, "avg_hours": null}], "truncated": false})
    );
}

#[test]
fn numbers_group_by_value_and_integral_floats_are_integers() {
    assert_eq!(
        rows(json!({"groupBy": ["priority"], "count": true})),
        json!({"rows": [
            {"priority": null, "count": 1},
            {"priority": 1, "count": 2},
            {"priority": 2, "count": 1},
            {"priority": 3, "count": 1},
        ], "truncated": false})
    );
    assert_eq!(normalize_number(json!(6.0)), json!(6));
    assert_eq!(normalize_number(json!(6.5)), json!(6.5));
    assert_eq!(normalize_number(json!(1e300)), json!(1e300));
    assert_eq!(normalize_number(json!("6.0")), json!("6.0"));
}

#[test]
fn date_buckets_start_their_period_in_utc() {
    assert_eq!(
        rows(json!({"dateBucket": {"field": "created_date", "unit": "day"}})),
        json!({"rows": [
            {"created_date": null, "count": 1},
            {"created_date": "2025-09-01", "count": 1},
            {"created_date": "2025-09-02", "count": 1},
            {"created_date": "2025-09-07", "count": 1},
            {"created_date": "2025-09-08", "count": 1},
        ], "truncated": false})
    );
    // 2025-09-01 is a Monday; the 7th a Sunday, in the week of the 1st.
    assert_eq!(
        rows(json!({"dateBucket": {"field": "created_date", "unit": "week"}}))["rows"],
        json!([
            {"created_date": null, "count": 1},
            {"created_date": "2025-09-01", "count": 3},
            {"created_date": "2025-09-08", "count": 1},
        ])
    );
    assert_eq!(
        rows(
            json!({"dateBucket": {"field": "due_date", "unit": "month"}, "groupBy": "status", "count": false, "sort": "-due_date"})
        )["rows"],
        json!([
            {"due_date": "2025-11-01", "status": "todo"},
            {"due_date": "2025-10-01", "status": "done"},
            {"due_date": null, "status": null},
            {"due_date": null, "status": "todo"},
        ])
    );
    let year = DateBucket {
        field: "x".to_owned(),
        unit: BucketUnit::Year,
    };
    assert_eq!(
        year.key(Some(&json!("2024-12-31T23:00:00-02:00"))),
        json!("2025-01-01")
    );
    assert_eq!(year.key(Some(&json!(20250101))), Value::Null);
}

#[test]
fn having_sort_and_limit_apply_after_grouping() {
    let answer = rows(
        json!({"groupBy": "priority", "having": {"count": {"$lt": 2}}, "sort": "-priority", "limit": 2}),
    );
    assert_eq!(
        answer,
        json!({"rows": [{"priority": 3, "count": 1}, {"priority": 2, "count": 1}], "truncated": true})
    );
    // Ties by the group keys ascending.
    let answer = rows(
        json!({"groupBy": "status", "sort": "-count", "query": {"priority": {"$exists": true}}}),
    );
    assert_eq!(
        answer["rows"],
        json!([{"status": "done", "count": 2}, {"status": null, "count": 1}, {"status": "todo", "count": 1}])
    );
    assert_eq!(spec(json!({"limit": 5000})).limit, MAX_LIMIT);
    assert_eq!(spec(json!({"limit": 3.0})).limit, 3);
}

#[test]
fn arrays_group_whole_and_distinct_values_skip_nulls() {
    assert_eq!(
        rows(json!({"groupBy": "tags", "countDistinct": ["status", "due_date"]}))["rows"],
        json!([
            {"tags": null, "count": 2, "count_distinct_status": 1, "count_distinct_due_date": 1},
            {"tags": [], "count": 1, "count_distinct_status": 1, "count_distinct_due_date": 0},
            {"tags": ["a"], "count": 2, "count_distinct_status": 1, "count_distinct_due_date": 2},
        ])
    );
    assert_eq!(
        rows(json!({"groupBy": ["address.city"], "count": false}))["rows"],
        json!([{"address.city": null}])
    );
}

#[test]
fn rows_from_elsewhere_are_shaped_alike() {
    let spec = spec(json!({"groupBy": "status", "sum": "hours", "limit": 1}));
    let row = |value: Value| match value {
        Value::Object(row) => row,
        _ => Map::new(),
    };
    let result = spec.finish(vec![
        row(json!({"sum_hours": 6.0, "count": 2, "status": "done"})),
        row(json!({"count": 1, "status": "todo", "sum_hours": 0})),
    ]);
    assert!(result.truncated);
    assert_eq!(
        Value::Array(result.rows.into_iter().map(Value::Object).collect()).to_string(),
        r#"[{"status":"done","count":2,"sum_hours":6}]"#
    );
}

#[test]
fn bad_specs_are_refused_naming_what_is_wrong() {
    let cases = [
        (json!([]), "must be a JSON object"),
        (json!({"groupby": "status"}), "unknown key `groupby`"),
        (
            json!({"groupBy": "nope"}),
            "`groupBy` names `nope`, which is no field of Task",
        ),
        (
            json!({"groupBy": ["status", "hours", "priority", "done", "tags"]}),
            "at most 4 fields",
        ),
        (
            json!({"groupBy": ["status", "status"]}),
            "lists `status` twice",
        ),
        (json!({"groupBy": 3}), "`groupBy` must be a field name"),
        (
            json!({"sum": "status"}),
            "`sum` needs a field of type number or integer; `status` is of type string",
        ),
        (
            json!({"max": "done"}),
            "`max` needs a field of type number, integer or string",
        ),
        (
            json!({"avg": "address.city"}),
            "`avg` needs a field of type number",
        ),
        (json!({"sum": "meta.x"}), "inside a free JSON field"),
        (json!({"min": "nope"}), "`min` names `nope`"),
        (
            json!({"dateBucket": {"field": "status", "unit": "day"}}),
            "`status` is not",
        ),
        (
            json!({"dateBucket": {"field": "due_date", "unit": "week"}}),
            "takes day, month or year",
        ),
        (
            json!({"dateBucket": {"field": "created_date", "unit": "hour"}}),
            "found \"hour\"",
        ),
        (
            json!({"dateBucket": {"field": "created_date"}}),
            "`dateBucket.unit` must be",
        ),
        (
            json!({"dateBucket": {"field": "nope", "unit": "day"}}),
            "`dateBucket.field` names `nope`",
        ),
        (
            json!({"dateBucket": "created_date"}),
            "`dateBucket` must be an object",
        ),
        (
            json!({"groupBy": "count"}),
            "two row fields are named `count`",
        ),
        (
            json!({"groupBy": "created_date", "dateBucket": {"field": "created_date", "unit": "day"}}),
            "named `created_date`",
        ),
        (
            json!({"having": {"sum_hours": {"$gt": 1}}}),
            "`having` names `sum_hours`, which is not a field of the rows (they hold count)",
        ),
        (
            json!({"having": {"count": {"$bogus": 1}}}),
            "invalid `having`: unknown operator",
        ),
        (
            json!({"query": {"status": {"$bogus": 1}}}),
            "invalid `query`",
        ),
        (json!({"query": "status"}), "invalid `query`"),
        (json!({"sort": "-status"}), "`sort` names `status`"),
        (
            json!({"count": false, "sort": "count"}),
            "`sort` names `count`",
        ),
        (json!({"sort": 1}), "`sort` must be"),
        (json!({"limit": 0}), "`limit` must be a whole number from 1"),
        (json!({"limit": 2.5}), "`limit` must be"),
        (json!({"limit": "10"}), "`limit` must be"),
        (json!({"count": "yes"}), "`count` must be a boolean"),
    ];
    for (body, expected) in cases {
        let message = refused(body.clone());
        assert!(message.contains(expected), "{body}: {message}");
    }
}

#[test]
fn nulls_are_keys_left_out_and_built_ins_are_fields() {
    let parsed = spec(
        json!({"query": null, "count": null, "groupBy": ["created_by", "id"], "min": "created_date", "having": null}),
    );
    assert_eq!(parsed.query, Filter::all());
    assert!(parsed.count);
    assert_eq!(
        parsed.output_names(),
        ["created_by", "id", "count", "min_created_date"]
    );
    let parsed = spec(json!({"dateBucket": {"field": "seen_at", "unit": "year"}}));
    assert_eq!(parsed.keys(), ["seen_at"]);
}
