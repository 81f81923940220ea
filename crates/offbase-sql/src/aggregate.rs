//! The SDK's `aggregate(spec)` as one PostgreSQL query: an [`AggregateSpec`]
//! (`offbase_base44::aggregate`, which documents every choice the SDK leaves open) translated
//! with sea-query into `SELECT jsonb_build_object(...) AS "row" FROM <table> WHERE <query>
//! GROUP BY <keys> HAVING <having> ORDER BY <sort>, <keys> LIMIT <limit + 1>`, so `offbase
//! serve` answers what the emulator computes in memory. Pure: no I/O.
//!
//! How the platform's semantics are kept:
//! - `query` is the list's translation (`offbase_sql::query`), field by field;
//! - a group key is the field's column (an enum as its text; a field kept in JSON as its
//!   `jsonb`, with a JSON `null` folded into SQL NULL so null and missing make one group);
//! - a date bucket is `date_trunc` in UTC, cast to `date` (so the row holds `YYYY-MM-DD`): a
//!   `timestamptz` taken `AT TIME ZONE 'UTC'`, a `timestamp` as it is (the load stores UTC),
//!   a `date` as a `timestamp` first (never through the session's time zone); a `week` starts
//!   on Monday, as PostgreSQL's (ISO) weeks do;
//! - `sum` is `COALESCE(sum(...), 0)` (a sum of no numbers is 0), `avg` is the sum as a
//!   `double precision` divided by the count (`null` over no numbers; PostgreSQL's own `avg` of
//!   integers divides in `numeric` and rounds the last digit otherwise), `min`/`max` order text in byte order (`COLLATE "C"`,
//!   as the filter orders strings) and an enum as its text; `count_distinct_` is `count(DISTINCT
//!   ...)`, which skips NULL. Numbers come back as PostgreSQL writes them (`numeric` keeps
//!   its scale: `6.0`); [`AggregateSpec::finish`] writes them as the emulator does;
//! - `having` is the filter translation again, over the row fields: each computed field is a
//!   typed value (`count` a `bigint`, a sum `numeric`, an average `double precision`, a
//!   minimum of the column's type), each group field its grouped expression;
//! - the order is `sort`'s (nulls first ascending, last descending; text in byte order; a field
//!   kept in JSON by kind, then value, as the list sorts it), then the group keys ascending,
//!   nulls first, the emulator's default order. One known gap: the filter's order puts texts
//!   that read as instants before other texts, and a text column holding both orders them by
//!   byte here (a date-time field has a timestamp column, so this takes text that only looks
//!   like dates);
//! - `LIMIT` is one more than `limit`, so the caller learns whether more groups exist
//!   (`truncated`).
//!
//! The rows' timestamps (a group or `min`/`max` of a timestamp column) come back as `to_jsonb`
//! writes them; [`AggregateSql::timestamps`] names those row fields, for the caller to write
//! them in the platform's stored form. Anything the translation cannot express faithfully is a
//! [`TranslateError::Unsupported`], never a different answer.

use crate::query::{
    Target, TranslateError, all_of, any_of, column_value, condition, json_sort_keys, negate,
    resolve, target_condition,
};
use offbase_base44::aggregate::{AggregateSpec, BucketUnit, Function, Measure};
use offbase_base44::query::Filter;
use offbase_model::{PgType, Table};
use sea_query::{Alias, Expr, NullOrdering, Order, PostgresQueryBuilder, Query};

/// The alias of the table in the query.
const ROW_ALIAS: &str = "t";
/// `jsonb_build_object` takes at most 100 arguments: rows with more fields are built in parts
/// of this many fields, joined with `||`.
const FIELDS_PER_OBJECT: usize = 50;

static TEXT: PgType = PgType::Text;
static BIGINT: PgType = PgType::Bigint;
static NUMERIC: PgType = PgType::Numeric(None);
static DOUBLE: PgType = PgType::DoublePrecision;
static DATE: PgType = PgType::Date;

/// An aggregate's SQL, and what its rows need before [`AggregateSpec::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateSql {
    /// One `SELECT` whose rows have one column, `row`: a JSON object per group, in order, at
    /// most `limit + 1` of them.
    pub sql: String,
    /// The row fields holding timestamps as `to_jsonb` writes them (`2025-09-23T07:40:56.525
    /// +00:00`): a group field or a `min`/`max` of a timestamp column.
    pub timestamps: Vec<String>,
}

/// One row field: its value in the row, and how `having` and `sort` see it.
struct Output<'t> {
    name: String,
    value: Expr,
    target: Target<'t>,
    timestamp: bool,
}

/// Translates `spec` over `table` (in `pg_schema`).
pub fn aggregate_sql(
    pg_schema: &str,
    table: &Table,
    spec: &AggregateSpec,
) -> Result<AggregateSql, TranslateError> {
    let mut keys: Vec<Output> = Vec::new();
    if let Some(bucket) = &spec.date_bucket {
        keys.push(bucket_output(table, &bucket.field, bucket.unit)?);
    }
    for field in &spec.group_by {
        keys.push(group_output(table, field));
    }
    let mut computed: Vec<Output> = Vec::new();
    if spec.count {
        computed.push(Output {
            name: "count".to_owned(),
            value: Expr::cust("count(*)"),
            target: typed(Expr::cust("count(*)"), &BIGINT),
            timestamp: false,
        });
    }
    for measure in &spec.measures {
        computed.push(measure_output(table, measure)?);
    }

    let mut select = Query::select();
    select.from_as(
        (Alias::new(pg_schema), Alias::new(&table.name)),
        Alias::new(ROW_ALIAS),
    );
    let outputs: Vec<&Output> = keys.iter().chain(&computed).collect();
    select.expr_as(row_object(&outputs), Alias::new("row"));
    if !matches!(&spec.query, Filter::And(filters) if filters.is_empty()) {
        select.and_where(condition(table, &spec.query)?);
    }
    select.add_group_by(
        keys.iter()
            .filter(|key| !matches!(key.target, Target::Nothing))
            .map(|key| key.value.clone()),
    );
    if let Some(having) = &spec.having {
        select.and_having(row_condition(&outputs, having)?);
    }
    if let Some(sort) = &spec.sort {
        let output = find(&outputs, &sort.field)?;
        order_by(&mut select, &output.target, sort.descending);
    }
    for key in &keys {
        order_by(&mut select, &key.target, false);
    }
    select.limit(
        u64::try_from(spec.limit)
            .unwrap_or(u64::MAX)
            .saturating_add(1),
    );
    Ok(AggregateSql {
        sql: select.to_string(PostgresQueryBuilder),
        timestamps: outputs
            .iter()
            .filter(|output| output.timestamp)
            .map(|output| output.name.clone())
            .collect(),
    })
}

fn typed<'t>(column: Expr, pg_type: &'t PgType) -> Target<'t> {
    Target::Column { column, pg_type }
}

fn unsupported(field: &str, what: &str, reason: &str) -> TranslateError {
    TranslateError::Unsupported {
        field: field.to_owned(),
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}

fn is_timestamp(pg_type: &PgType) -> bool {
    matches!(pg_type, PgType::Timestamptz | PgType::Timestamp)
}

/// A `jsonb` value with a JSON `null` as SQL NULL.
fn json_or_null(document: Expr) -> Expr {
    Expr::cust_with_exprs("NULLIF($1, 'null'::jsonb)", [document])
}

/// A `groupBy` field: its grouped expression.
fn group_output<'t>(table: &'t Table, field: &str) -> Output<'t> {
    let (value, target, timestamp) = match resolve(table, field) {
        Target::Column { column, pg_type } if pg_type.is_json() => {
            let document = json_or_null(column_value(column, pg_type));
            (document.clone(), Target::Json(document), false)
        }
        Target::Column { column, pg_type } => {
            let value = column_value(column, pg_type);
            let compared = if matches!(pg_type, PgType::Enum(_)) {
                &TEXT
            } else {
                pg_type
            };
            (value.clone(), typed(value, compared), is_timestamp(pg_type))
        }
        Target::Json(document) => {
            let document = json_or_null(document);
            (document.clone(), Target::Json(document), false)
        }
        Target::Nothing => (Expr::cust("CAST(NULL AS jsonb)"), Target::Nothing, false),
    };
    Output {
        name: field.to_owned(),
        value,
        target,
        timestamp,
    }
}

/// The `dateBucket`: the first day of the period, in UTC, as a `date`.
fn bucket_output<'t>(
    table: &'t Table,
    field: &str,
    unit: BucketUnit,
) -> Result<Output<'t>, TranslateError> {
    let unit = unit.key();
    let value = match resolve(table, field) {
        Target::Column { column, pg_type } => match pg_type {
            PgType::Timestamptz => Expr::cust_with_exprs(
                format!("CAST(date_trunc('{unit}', $1 AT TIME ZONE 'UTC') AS date)"),
                [column],
            ),
            PgType::Timestamp => {
                Expr::cust_with_exprs(format!("CAST(date_trunc('{unit}', $1) AS date)"), [column])
            }
            PgType::Date => Expr::cust_with_exprs(
                format!("CAST(date_trunc('{unit}', CAST($1 AS timestamp)) AS date)"),
                [column],
            ),
            other => {
                return Err(unsupported(
                    field,
                    "a date bucket",
                    &format!("the column is {}, not a timestamp or a date", other.sql()),
                ));
            }
        },
        Target::Json(_) | Target::Nothing => {
            return Err(unsupported(
                field,
                "a date bucket",
                "the field has no timestamp or date column of its own",
            ));
        }
    };
    Ok(Output {
        name: field.to_owned(),
        value: value.clone(),
        target: typed(value, &DATE),
        timestamp: false,
    })
}

/// A computed field other than `count`.
fn measure_output<'t>(table: &'t Table, measure: &Measure) -> Result<Output<'t>, TranslateError> {
    let field = measure.field.as_str();
    let target = resolve(table, field);
    let numeric = |template: &'static str| -> Result<Expr, TranslateError> {
        Ok(match &target {
            Target::Column { column, pg_type } if pg_type.is_numeric() => {
                Expr::cust_with_exprs(template, [column.clone()])
            }
            Target::Json(document) => Expr::cust_with_exprs(
                template.replace(
                    "$1",
                    "CASE WHEN jsonb_typeof($1) = 'number' THEN CAST($1 AS numeric) END",
                ),
                [document.clone()],
            ),
            Target::Nothing => {
                Expr::cust_with_exprs(template, [Expr::cust("CAST(NULL AS numeric)")])
            }
            Target::Column { pg_type, .. } => {
                return Err(unsupported(
                    field,
                    &format!("`{}`", measure.function.key()),
                    &format!("the column is {}, not a number", pg_type.sql()),
                ));
            }
        })
    };
    let (value, target, timestamp) = match measure.function {
        Function::Sum => {
            let value = numeric("COALESCE(sum($1), 0)")?;
            (value.clone(), typed(value, &NUMERIC), false)
        }
        Function::Avg => {
            // The sum as a double divided by the count, as the platform (and the emulator)
            // computes it: `avg` of integers divides in numeric, and rounds differently.
            let value = numeric("CAST(sum($1) AS double precision) / NULLIF(count($1), 0)")?;
            (value.clone(), typed(value, &DOUBLE), false)
        }
        Function::Min | Function::Max => {
            let function = if measure.function == Function::Min {
                "min"
            } else {
                "max"
            };
            let (value, pg_type) = match &target {
                Target::Column { column, pg_type } => match pg_type {
                    PgType::Text | PgType::Varchar(_) | PgType::Enum(_) => (
                        Expr::cust_with_exprs(
                            format!("{function}(CAST($1 AS text) COLLATE \"C\")"),
                            [column.clone()],
                        ),
                        &TEXT,
                    ),
                    pg_type
                        if pg_type.is_numeric()
                            || matches!(
                                pg_type,
                                PgType::Timestamptz
                                    | PgType::Timestamp
                                    | PgType::Date
                                    | PgType::Time
                            ) =>
                    {
                        (
                            Expr::cust_with_exprs(format!("{function}($1)"), [column.clone()]),
                            *pg_type,
                        )
                    }
                    other => {
                        return Err(unsupported(
                            field,
                            &format!("`{function}`"),
                            &format!(
                                "the column is {}, which the platform orders otherwise",
                                other.sql()
                            ),
                        ));
                    }
                },
                Target::Json(_) => {
                    return Err(unsupported(
                        field,
                        &format!("`{function}`"),
                        "values kept in JSON mix kinds the platform orders its own way; map the field to a column",
                    ));
                }
                Target::Nothing => (Expr::cust("CAST(NULL AS text)"), &TEXT),
            };
            (value.clone(), typed(value, pg_type), is_timestamp(pg_type))
        }
        Function::CountDistinct => {
            let value = match &target {
                Target::Column { column, pg_type } => {
                    let distinct = if pg_type.is_json() {
                        json_or_null(column_value(column.clone(), pg_type))
                    } else {
                        column_value(column.clone(), pg_type)
                    };
                    Expr::cust_with_exprs("count(DISTINCT $1)", [distinct])
                }
                Target::Json(document) => {
                    Expr::cust_with_exprs("count(DISTINCT $1)", [json_or_null(document.clone())])
                }
                Target::Nothing => Expr::cust("CAST(0 AS bigint)"),
            };
            (value.clone(), typed(value, &BIGINT), false)
        }
    };
    Ok(Output {
        name: measure.name(),
        value,
        target,
        timestamp,
    })
}

/// `jsonb_build_object('a', a, 'b', b, ...)`, in parts joined by `||` past
/// [`FIELDS_PER_OBJECT`] fields.
fn row_object(outputs: &[&Output]) -> Expr {
    let mut parts = Vec::new();
    let mut values = Vec::new();
    for chunk in outputs.chunks(FIELDS_PER_OBJECT) {
        let mut placeholders = Vec::new();
        for output in chunk {
            values.push(Expr::val(output.name.clone()));
            placeholders.push(format!("${}", values.len()));
            values.push(output.value.clone());
            placeholders.push(format!("${}", values.len()));
        }
        parts.push(format!("jsonb_build_object({})", placeholders.join(", ")));
    }
    if parts.is_empty() {
        return Expr::cust("jsonb_build_object()");
    }
    Expr::cust_with_exprs(parts.join(" || "), values)
}

fn find<'o, 't>(outputs: &[&'o Output<'t>], name: &str) -> Result<&'o Output<'t>, TranslateError> {
    outputs
        .iter()
        .find(|output| output.name == name)
        .copied()
        .ok_or_else(|| unsupported(name, "a reference", "it is not a field of the rows"))
}

/// `having`: the filter over the row fields.
fn row_condition(outputs: &[&Output], filter: &Filter) -> Result<Expr, TranslateError> {
    let all = |filters: &[Filter]| -> Result<Vec<Expr>, TranslateError> {
        filters
            .iter()
            .map(|filter| row_condition(outputs, filter))
            .collect()
    };
    Ok(match filter {
        Filter::And(filters) => all_of(all(filters)?),
        Filter::Or(filters) => any_of(all(filters)?),
        Filter::Nor(filters) => negate(any_of(all(filters)?)),
        Filter::Field { path, condition } => {
            target_condition(&find(outputs, path)?.target, path, condition)?
        }
    })
}

/// Orders by a row field: nulls first ascending and last descending, text in byte order, a
/// JSON value by kind and then value.
fn order_by(select: &mut sea_query::SelectStatement, target: &Target<'_>, descending: bool) {
    let (order, nulls) = if descending {
        (Order::Desc, NullOrdering::Last)
    } else {
        (Order::Asc, NullOrdering::First)
    };
    match target {
        Target::Column { column, pg_type } => {
            let textual = pg_type.is_textual() || pg_type.element().is_some_and(PgType::is_textual);
            let key = if textual {
                Expr::cust_with_exprs("($1) COLLATE \"C\"", [column.clone()])
            } else {
                column.clone()
            };
            select.order_by_expr_with_nulls(key, order, nulls);
        }
        Target::Json(document) => {
            for key in json_sort_keys(document.clone()) {
                select.order_by_expr(key, order.clone());
            }
        }
        Target::Nothing => {}
    }
}

#[cfg(test)]
mod tests {
    //! The generated SQL of aggregates, as insta snapshots (`src/snapshots/`). The serve tests
    //! (`crates/offbase-serve/tests/aggregate.rs`) run such queries against PostgreSQL and
    //! compare the rows with the emulator's.

    use super::*;
    use offbase_model::{BuiltIn, Column, ColumnSource, Entity, Field, FieldKind};
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

    /// A task table: built-ins, typed fields, an enum, a date, an array, JSON and `_extra`.
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
                column("priority", ColumnSource::Field, PgType::Bigint),
                column("hours", ColumnSource::Field, PgType::Numeric(None)),
                column("due_date", ColumnSource::Field, PgType::Date),
                column(
                    "tags",
                    ColumnSource::Field,
                    PgType::Array(Box::new(PgType::Text)),
                ),
                column("meta", ColumnSource::Field, PgType::Jsonb),
                column("_extra", ColumnSource::Extra, PgType::Jsonb),
            ],
            primary_key: vec!["id".to_owned()],
            primary_key_name: "task_pkey".to_owned(),
            junction: None,
        }
    }

    fn entity() -> Entity {
        let mut due = Field::new("due_date", FieldKind::String);
        due.format = Some("date".to_owned());
        Entity {
            name: "Task".to_owned(),
            source: offbase_model::SchemaSource {
                path: "base44/entities/task.jsonc".to_owned(),
                layout: offbase_model::SourceLayout::Base44Entities,
            },
            title: None,
            description: None,
            fields: vec![
                Field::new("title", FieldKind::String),
                Field::new("status", FieldKind::String),
                Field::new("priority", FieldKind::Integer),
                Field::new("hours", FieldKind::Number),
                due,
                Field::new("tags", FieldKind::Array),
                Field::new("meta", FieldKind::Object),
                // No column: kept in `_extra`.
                Field::new("sprint", FieldKind::String),
                Field::new("points", FieldKind::Number),
            ],
            rls: None,
            extra: Default::default(),
        }
    }

    fn sql(spec: Value) -> String {
        let parsed = AggregateSpec::parse(&spec, &entity())
            .unwrap_or_else(|error| panic!("{spec}: {error}"));
        aggregate_sql("app", &table(), &parsed)
            .unwrap_or_else(|error| panic!("{spec}: {error}"))
            .sql
    }

    #[test]
    fn one_total_row() {
        insta::assert_snapshot!(sql(json!({})));
        insta::assert_snapshot!(
            "total_with_measures",
            sql(
                json!({"sum": ["hours", "priority"], "avg": "hours", "min": "title", "max": "created_date", "countDistinct": "tags"})
            )
        );
    }

    #[test]
    fn groups_by_fields_in_order() {
        insta::assert_snapshot!(sql(
            json!({"groupBy": ["status", "priority"], "sum": "hours", "query": {"title": {"$ne": "x"}}})
        ));
    }

    #[test]
    fn date_buckets_in_utc() {
        insta::assert_snapshot!(
            "bucket_week_created_date",
            sql(json!({"dateBucket": {"field": "created_date", "unit": "week"}}))
        );
        insta::assert_snapshot!(
            "bucket_month_due_date",
            sql(
                json!({"dateBucket": {"field": "due_date", "unit": "month"}, "groupBy": "status", "count": false, "countDistinct": "title"})
            )
        );
    }

    #[test]
    fn having_sort_and_limit() {
        insta::assert_snapshot!(sql(json!({
            "groupBy": "title",
            "having": {"$or": [{"count": {"$gt": 1}}, {"sum_hours": {"$lte": 2.5}}], "title": {"$ne": "a"}},
            "sum": "hours",
            "sort": "-sum_hours",
            "limit": 10
        })));
    }

    #[test]
    fn fields_kept_in_json() {
        insta::assert_snapshot!(sql(json!({
            "groupBy": ["sprint", "meta"],
            "sum": "points",
            "countDistinct": "sprint",
            "sort": "sprint"
        })));
    }

    #[test]
    fn timestamps_are_named_for_the_caller() {
        let spec = AggregateSpec::parse(
            &json!({"groupBy": ["created_date", "status"], "min": ["created_date", "title"], "max": "due_date"}),
            &entity(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let translated =
            aggregate_sql("app", &table(), &spec).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(translated.timestamps, ["created_date", "min_created_date"]);
    }

    #[test]
    fn what_cannot_be_translated_faithfully_is_refused() {
        for spec in [
            json!({"min": "sprint"}),
            json!({"dateBucket": {"field": "due_date", "unit": "day"}}),
        ] {
            let parsed = AggregateSpec::parse(&spec, &entity())
                .unwrap_or_else(|error| panic!("{spec}: {error}"));
            let mut table = table();
            // A date mapped to text.
            for column in &mut table.columns {
                if column.name == "due_date" {
                    column.pg_type = PgType::Text;
                }
            }
            assert!(
                matches!(
                    aggregate_sql("app", &table, &parsed),
                    Err(TranslateError::Unsupported { .. })
                ),
                "{spec}"
            );
        }
    }

    #[test]
    fn many_fields_build_the_row_in_parts() {
        let outputs: Vec<Output> = (0..60)
            .map(|index| Output {
                name: format!("f{index}"),
                value: Expr::val(index),
                target: Target::Nothing,
                timestamp: false,
            })
            .collect();
        let references: Vec<&Output> = outputs.iter().collect();
        let mut select = Query::select();
        select.expr(row_object(&references));
        let text = select.to_string(PostgresQueryBuilder);
        assert_eq!(text.matches("jsonb_build_object(").count(), 2);
        assert!(
            text.contains("'f49', 49) || jsonb_build_object('f50', 50"),
            "{text}"
        );
        assert!(text.ends_with("'f59', 59)"), "{text}");
    }
}
