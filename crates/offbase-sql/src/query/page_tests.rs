//! The generated SQL of keyset pages, written out in full (inline snapshots). The serve
//! tests (`crates/offbase-serve/tests/pages.rs`) run them against PostgreSQL and the
//! emulator.

use super::{PAGE_POSITION_KEY, PageError, PagePosition, page_sql, take_page_position};
use offbase_base44::query::{Filter, Sort, parse_filter, parse_sort};
use offbase_model::{BuiltIn, Column, ColumnSource, PgType, Table};
use serde_json::{Value, json};

fn column(name: &str, source: ColumnSource, pg_type: PgType) -> Column {
    Column {
        name: name.to_owned(),
        field: (source != ColumnSource::Extra).then(|| name.to_owned()),
        source,
        pg_type,
        not_null: false,
        default: None,
        check: None,
    }
}

/// A task table: built-ins, typed fields, an enum, an array and `_extra`.
fn table() -> Table {
    Table {
        entity: "Task".to_owned(),
        name: "task".to_owned(),
        columns: vec![
            column("id", ColumnSource::BuiltIn(BuiltIn::Id), PgType::Text),
            column(
                "created_date",
                ColumnSource::BuiltIn(BuiltIn::CreatedDate),
                PgType::Timestamptz,
            ),
            column("title", ColumnSource::Field, PgType::Text),
            column(
                "status",
                ColumnSource::Field,
                PgType::Enum("task_status".to_owned()),
            ),
            column("priority", ColumnSource::Field, PgType::Integer),
            column("due_date", ColumnSource::Field, PgType::Date),
            column(
                "tags",
                ColumnSource::Field,
                PgType::Array(Box::new(PgType::Text)),
            ),
            column("_extra", ColumnSource::Extra, PgType::Jsonb),
        ],
        primary_key: vec!["id".to_owned()],
        primary_key_name: "task_pkey".to_owned(),
        junction: None,
    }
}

fn sort(text: &str) -> Sort {
    match parse_sort(text) {
        Ok(Some(sort)) => sort,
        other => panic!("{text}: {other:?}"),
    }
}

fn page(sort_text: &str, after: Option<(Value, &str)>) -> Result<String, PageError> {
    let after = after.map(|(value, id)| PagePosition::new(value, id));
    page_sql(
        "app",
        &table(),
        &Filter::all(),
        &sort(sort_text),
        after.as_ref(),
        8,
    )
}

const FROM: &str = r#"AS "row" FROM "app"."task" AS "t""#;

fn select(sort_value: &str) -> String {
    format!(
        r#"SELECT to_jsonb("t") || jsonb_build_object('$page', jsonb_build_array({sort_value}, "id")) {FROM}"#
    )
}

#[test]
fn a_first_page_orders_by_the_sort_then_the_id_the_same_way() -> Result<(), PageError> {
    assert_eq!(
        page("-created_date", None)?,
        format!(
            r#"{} ORDER BY "created_date" DESC NULLS LAST, "id" COLLATE "C" DESC LIMIT 8"#,
            select(r#""created_date""#)
        )
    );
    let filter = parse_filter(&json!({"status": "done"})).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        page_sql("app", &table(), &filter, &sort("status"), None, 3)?,
        format!(
            r#"{} WHERE (CAST("status" AS text)) = 'done' ORDER BY CAST("status" AS text) ASC NULLS FIRST, "id" COLLATE "C" ASC LIMIT 3"#,
            select(r#"CAST("status" AS text)"#)
        )
    );
    Ok(())
}

#[test]
fn a_later_page_starts_after_the_position_nulls_included() -> Result<(), PageError> {
    let expected = [
        // Ascending, after a value: greater, or equal with a greater id (nulls came first).
        (
            "priority",
            json!(2),
            r#""priority" > 2 OR ("priority" = 2 AND ("id" COLLATE "C") > 'b') ORDER BY "priority" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
        ),
        // Ascending, after a null: the other nulls by id, then every value.
        (
            "priority",
            Value::Null,
            r#""priority" IS NOT NULL OR ("id" COLLATE "C") > 'b' ORDER BY "priority" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
        ),
        // Descending, after a value: smaller, or equal with a smaller id, or null (last).
        (
            "-due_date",
            json!("2025-10-01"),
            r#""due_date" < CAST('2025-10-01' AS date) OR ("due_date" = CAST('2025-10-01' AS date) AND ("id" COLLATE "C") < 'b') OR "due_date" IS NULL ORDER BY "due_date" DESC NULLS LAST, "id" COLLATE "C" DESC"#,
        ),
        // Descending, after a null: only the nulls with a smaller id.
        (
            "-due_date",
            Value::Null,
            r#""due_date" IS NULL AND ("id" COLLATE "C") < 'b' ORDER BY "due_date" DESC NULLS LAST, "id" COLLATE "C" DESC"#,
        ),
        // A timestamp as `to_jsonb` writes it, to the microsecond.
        (
            "created_date",
            json!("2025-09-23T07:40:56.525+00:00"),
            r#""created_date" > CAST('2025-09-23T07:40:56.525000Z' AS timestamptz) OR ("created_date" = CAST('2025-09-23T07:40:56.525000Z' AS timestamptz) AND ("id" COLLATE "C") > 'b') ORDER BY "created_date" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
        ),
        // An enum compares as its text.
        (
            "-status",
            json!("done"),
            r#"(CAST("status" AS text)) < 'done' OR ((CAST("status" AS text)) = 'done' AND ("id" COLLATE "C") < 'b') OR (CAST("status" AS text)) IS NULL ORDER BY CAST("status" AS text) DESC NULLS LAST, "id" COLLATE "C" DESC"#,
        ),
        // An array is read back by PostgreSQL's conversion from JSON to the column's type.
        (
            "tags",
            json!(["a", "it's"]),
            r#""tags" > ((jsonb_populate_record(CAST(NULL AS "app"."task"), CAST(E'{"tags":["a","it\'s"]}' AS jsonb)))."tags") OR ("tags" = ((jsonb_populate_record(CAST(NULL AS "app"."task"), CAST(E'{"tags":["a","it\'s"]}' AS jsonb)))."tags") AND ("id" COLLATE "C") > 'b') ORDER BY "tags" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
        ),
    ];
    for (sort_text, value, clauses) in expected {
        let sql = page(sort_text, Some((value, "b")))?;
        let column = sort(sort_text).field;
        let sort_value = if column == "status" {
            r#"CAST("status" AS text)"#.to_owned()
        } else {
            format!("\"{column}\"")
        };
        assert_eq!(
            sql,
            format!("{} WHERE {clauses} LIMIT 8", select(&sort_value)),
            "{sort_text}"
        );
    }
    Ok(())
}

#[test]
fn a_filter_and_the_position_both_hold() -> Result<(), PageError> {
    let filter = parse_filter(&json!({"$or": [{"status": "done"}, {"priority": 1}]}))
        .unwrap_or_else(|error| panic!("{error}"));
    let after = PagePosition::new(json!(2), "b");
    assert_eq!(
        page_sql("app", &table(), &filter, &sort("priority"), Some(&after), 8)?,
        format!(
            r#"{} WHERE ((CAST("status" AS text)) = 'done' OR "priority" = 1) AND ("priority" > 2 OR ("priority" = 2 AND ("id" COLLATE "C") > 'b')) ORDER BY "priority" ASC NULLS FIRST, "id" COLLATE "C" ASC LIMIT 8"#,
            select(r#""priority""#)
        )
    );
    Ok(())
}

#[test]
fn a_field_kept_in_json_pages_by_kind_then_value() -> Result<(), PageError> {
    let document = r#"("_extra" #> CAST('{"sprint"}' AS text[]))"#;
    let rank = |of: &str| {
        format!(
            "CASE jsonb_typeof({of}) WHEN 'number' THEN 1 WHEN 'string' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END"
        )
    };
    let text = |of: &str| {
        format!(r#"CASE WHEN jsonb_typeof({of}) = 'string' THEN ({of} #>> '{{}}') COLLATE "C" END"#)
    };
    let order = |direction: &str| {
        format!(
            r#"ORDER BY {rank} {direction}, CASE WHEN jsonb_typeof({document}) = 'number' THEN CAST({document} AS numeric) END {direction}, {text} {direction}, CASE WHEN jsonb_typeof({document}) = 'boolean' THEN CAST({document} AS boolean) END {direction}, CASE WHEN jsonb_typeof({document}) IN ('array', 'object') THEN {document} END {direction}, "id" COLLATE "C" {direction}"#,
            rank = rank(document),
            text = text(document),
        )
    };
    // After a string: a later kind, or a string after it, or the same string and a later id.
    let anchor = r#"CAST('"2025-S4"' AS jsonb)"#;
    assert_eq!(
        page("sprint", Some((json!("2025-S4"), "b")))?,
        format!(
            r#"{select} WHERE ({rank}) > 2 OR (({rank}) = 2 AND (({text}) > ({anchor_text}) OR (({text}) = ({anchor_text}) AND ("id" COLLATE "C") > 'b'))) {order} LIMIT 8"#,
            select = select(document),
            rank = rank(document),
            text = text(document),
            anchor_text = text(anchor),
            order = order("ASC"),
        )
    );
    // Descending after a missing value (null, kind 0, last): the other missing by id.
    assert_eq!(
        page("-sprint", Some((Value::Null, "b")))?,
        format!(
            r#"{select} WHERE ({rank}) < 0 OR (({rank}) = 0 AND ("id" COLLATE "C") < 'b') {order} LIMIT 8"#,
            select = select(document),
            rank = rank(document),
            order = order("DESC"),
        )
    );
    Ok(())
}

#[test]
fn a_field_nowhere_pages_by_id() -> Result<(), PageError> {
    let mut table = table();
    table.columns.retain(|column| column.name != "_extra");
    let after = PagePosition::new(Value::Null, "b");
    assert_eq!(
        page_sql(
            "app",
            &table,
            &Filter::all(),
            &sort("-nowhere"),
            Some(&after),
            2
        )?,
        format!(
            r#"{} WHERE ("id" COLLATE "C") < 'b' ORDER BY "id" COLLATE "C" DESC LIMIT 2"#,
            select("NULL")
        )
    );
    let after = PagePosition::new(json!(1), "b");
    assert!(matches!(
        page_sql(
            "app",
            &table,
            &Filter::all(),
            &sort("nowhere"),
            Some(&after),
            2
        ),
        Err(PageError::Position { .. })
    ));
    Ok(())
}

#[test]
fn a_position_the_column_cannot_hold_is_refused() {
    let refused = [
        ("priority", json!("2; DROP TABLE task")),
        ("priority", json!(2.5)),
        ("created_date", json!("yesterday")),
        ("due_date", json!(20_251_001)),
        ("title", json!(["a"])),
        ("tags", json!([1])),
        ("tags", json!("a")),
    ];
    for (sort_text, value) in refused {
        let result = page(sort_text, Some((value.clone(), "b")));
        assert!(
            matches!(result, Err(PageError::Position { .. })),
            "{sort_text} after {value}: {result:?}"
        );
    }
}

#[test]
fn a_row_gives_its_position_back() {
    let mut row = json!({"id": "b", "title": "x", PAGE_POSITION_KEY: ["x", "b"]});
    assert_eq!(
        take_page_position(&mut row),
        Some(PagePosition::new(json!("x"), "b"))
    );
    assert_eq!(row, json!({"id": "b", "title": "x"}));
    assert_eq!(take_page_position(&mut row), None);
    let mut odd = json!({PAGE_POSITION_KEY: [1]});
    assert_eq!(take_page_position(&mut odd), None);
}
