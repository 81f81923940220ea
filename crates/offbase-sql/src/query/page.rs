//! The cursor list's keyset pages (`v2/list`): [`page_sql`] selects the rows after a
//! [`PagePosition`] (a sort value and an id) in the list's order with ties by `id` in the sort's
//! direction; [`take_page_position`] reads a row's position back out of it.

use super::filter::{json_literal, number_literal};
use super::{
    ROW_ALIAS, Target, TranslateError, base_select, column_value, id_column, json_sort_keys,
    resolve, where_filter,
};
use offbase_base44::query::{Filter, Sort};
use offbase_model::{PgType, Table};
use sea_query::{Alias, Expr, ExprTrait, NullOrdering, Order, PostgresQueryBuilder};
use serde_json::Value;

/// The key [`page_sql`] adds to every row object it selects: `[sort value, id]`, the row's place
/// in the page order, which [`take_page_position`] takes back out (so the row is then the
/// `to_jsonb` object the other reads select).
pub const PAGE_POSITION_KEY: &str = "$page";

/// Where a keyset page starts: right after the record with this sort value and id in the page
/// order. The value is the one PostgreSQL ordered by, as [`page_sql`] returned it with the row
/// ([`take_page_position`]): an enum as its text, a timestamp as `to_jsonb` writes it, `null`
/// for a missing value. It may come back from a client (in a cursor): [`page_sql`] refuses a
/// value the sort field's column cannot hold rather than let PostgreSQL fail on it, and it
/// reaches the SQL only as a typed literal, never as SQL text.
#[derive(Debug, Clone, PartialEq)]
pub struct PagePosition {
    value: Value,
    id: String,
}

impl PagePosition {
    pub fn new(value: Value, id: impl Into<String>) -> Self {
        PagePosition {
            value,
            id: id.into(),
        }
    }

    /// The sort value of the record the page starts after (`null`: it had none).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The id of the record the page starts after.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Takes the position [`page_sql`] put in a row (under [`PAGE_POSITION_KEY`]) out of it;
/// `None` when the row has none.
pub fn take_page_position(row: &mut Value) -> Option<PagePosition> {
    let Value::Object(object) = row else {
        return None;
    };
    let Value::Array(mut pair) = object.remove(PAGE_POSITION_KEY)? else {
        return None;
    };
    if pair.len() != 2 {
        return None;
    }
    let id = pair.pop()?;
    let value = pair.pop()?;
    Some(PagePosition::new(value, id.as_str()?))
}

/// Why a page cannot be asked of PostgreSQL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    /// The filter or sort cannot be translated faithfully.
    #[error(transparent)]
    Translate(#[from] TranslateError),
    /// The position's sort value is no value of the sort field: the position did not come from
    /// [`page_sql`] for this sort.
    #[error(
        "the page position's sort value {value} cannot be a value of `{field}` ({pg_type} column)"
    )]
    Position {
        field: String,
        value: String,
        pg_type: String,
    },
}

/// A keyset page: `SELECT to_jsonb("t") || jsonb_build_object('$page', jsonb_build_array(<sort
/// value>, "id")) AS "row" FROM ... WHERE <filter> AND <after the position> ORDER BY <sort
/// value>, "id" COLLATE "C" LIMIT <limit>`. Ask for one row more than the page holds to learn
/// whether more remain.
///
/// The order is `list_sql`'s (nulls first ascending and last descending, an enum as its text, a
/// field kept in JSON by kind then value) with one difference: ties go by `id` in the sort's
/// direction (byte order), as the platform's (and the emulator's) cursor list orders them, so a
/// descending order is exactly the ascending one reversed. `after` keeps the rows strictly
/// after the position in exactly that order, NULL sort values included; a record deleted
/// between pages shifts nothing, the position being a value and not an offset.
pub fn page_sql(
    pg_schema: &str,
    table: &Table,
    filter: &Filter,
    sort: &Sort,
    after: Option<&PagePosition>,
    limit: u64,
) -> Result<String, PageError> {
    let target = resolve(table, &sort.field);
    let mut select = base_select(pg_schema, table);
    let sort_value = match &target {
        Target::Column { column, pg_type } => column_value(column.clone(), pg_type),
        Target::Json(document) => document.clone(),
        Target::Nothing => Expr::cust("NULL"),
    };
    select.expr_as(
        Expr::cust_with_exprs(
            format!(
                "to_jsonb(\"{ROW_ALIAS}\") || jsonb_build_object($1, jsonb_build_array($2, $3))"
            ),
            [Expr::val(PAGE_POSITION_KEY), sort_value, id_column(table)],
        ),
        Alias::new("row"),
    );
    where_filter(&mut select, table, filter)?;
    if let Some(position) = after {
        select.and_where(after_position(pg_schema, table, &target, sort, position)?);
    }
    let order = if sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    match &target {
        Target::Column { column, pg_type } => {
            let nulls = if sort.descending {
                NullOrdering::Last
            } else {
                NullOrdering::First
            };
            select.order_by_expr_with_nulls(
                column_value(column.clone(), pg_type),
                order.clone(),
                nulls,
            );
        }
        Target::Json(document) => {
            for key in json_sort_keys(document.clone()) {
                select.order_by_expr(key, order.clone());
            }
        }
        Target::Nothing => {}
    }
    select.order_by_expr(id_in_byte_order(table), order);
    select.limit(limit);
    Ok(select.to_string(PostgresQueryBuilder))
}

fn id_in_byte_order(table: &Table) -> Expr {
    Expr::cust_with_exprs("$1 COLLATE \"C\"", [id_column(table)])
}

/// The rows after `position` in the page order of `sort` on `target`.
fn after_position(
    pg_schema: &str,
    table: &Table,
    target: &Target<'_>,
    sort: &Sort,
    position: &PagePosition,
) -> Result<Expr, PageError> {
    let descending = sort.descending;
    // Past `anchor` in the sort's direction.
    let beyond = |value: Expr, anchor: Expr| {
        if descending {
            value.lt(anchor)
        } else {
            value.gt(anchor)
        }
    };
    let id_after = beyond(id_in_byte_order(table), Expr::val(position.id.clone()));
    let misfit = |pg_type: &str| PageError::Position {
        field: sort.field.clone(),
        value: position.value.to_string(),
        pg_type: pg_type.to_owned(),
    };
    Ok(match target {
        // Every row's value is missing: the order is the ids'.
        Target::Nothing => {
            if !position.value.is_null() {
                return Err(misfit("no"));
            }
            id_after
        }
        Target::Column { column, pg_type } => {
            let value = column_value(column.clone(), pg_type);
            match (&position.value, descending) {
                // Nulls come first ascending: after a null, the other nulls by id, then every
                // value.
                (Value::Null, false) => value.is_not_null().or(id_after),
                // And last descending: after a null, only nulls, by id.
                (Value::Null, true) => value.is_null().and(id_after),
                (anchor, _) => {
                    let anchor = anchor_literal(pg_schema, table, &sort.field, pg_type, anchor)
                        .ok_or_else(|| misfit(&pg_type.to_string()))?;
                    let after = beyond(value.clone(), anchor.clone())
                        .or(value.clone().eq(anchor).and(id_after));
                    if descending {
                        after.or(value.is_null())
                    } else {
                        after
                    }
                }
            }
        }
        // The JSON order: by kind (`json_sort_keys`' first key), then within the kind by its
        // one key that is not null, then by id. The position's keys are computed by the same
        // expressions, over the value as a `jsonb` literal.
        Target::Json(document) => {
            let (rank, key) = match &position.value {
                Value::Null => (0, None),
                Value::Number(_) => (1, Some(1)),
                Value::String(_) => (2, Some(2)),
                Value::Bool(_) => (3, Some(3)),
                Value::Array(_) => (4, Some(4)),
                Value::Object(_) => (5, Some(4)),
            };
            let keys = json_sort_keys(document.clone());
            let anchors = json_sort_keys(json_literal(&position.value));
            let rank_of = keys[0].clone();
            let within = match key {
                None => id_after,
                Some(index) => beyond(keys[index].clone(), anchors[index].clone())
                    .or(keys[index].clone().eq(anchors[index].clone()).and(id_after)),
            };
            beyond(rank_of.clone(), Expr::val(rank)).or(rank_of.eq(Expr::val(rank)).and(within))
        }
    })
}

/// The position's value as a literal of the sort column's type (compared as the order compares
/// the column: an enum as text); `None` when the column cannot hold it.
fn anchor_literal(
    pg_schema: &str,
    table: &Table,
    field: &str,
    pg_type: &PgType,
    value: &Value,
) -> Option<Expr> {
    if let (PgType::Array(element), Value::Array(elements)) = (pg_type, value) {
        // Each element must fit; the array is then read by PostgreSQL's own conversion from
        // JSON to the column's type, the inverse of the `to_jsonb` it came from.
        if !elements.iter().all(|element_value| {
            element_value.is_null() || scalar_literal(element, element_value).is_some()
        }) {
            return None;
        }
        let column = table.column_for_field(field)?;
        let mut record = serde_json::Map::new();
        record.insert(column.name.clone(), value.clone());
        return Some(Expr::cust_with_exprs(
            format!(
                "(jsonb_populate_record(CAST(NULL AS {}.{}), $1)).{}",
                crate::quote_identifier(pg_schema),
                crate::quote_identifier(&table.name),
                crate::quote_identifier(&column.name)
            ),
            [json_literal(&Value::Object(record))],
        ));
    }
    scalar_literal(pg_type, value)
}

/// A scalar of a column of `pg_type`, as `to_jsonb` writes it, as a typed literal.
fn scalar_literal(pg_type: &PgType, value: &Value) -> Option<Expr> {
    let special = |text: &str, specials: &[&str], type_name: &str| {
        specials
            .contains(&text)
            .then(|| Expr::val(text.to_owned()).cast_as(Alias::new(type_name)))
    };
    const INFINITIES: &[&str] = &["infinity", "-infinity"];
    const NOT_NUMBERS: &[&str] = &["NaN", "Infinity", "-Infinity"];
    match (pg_type, value) {
        (PgType::Text | PgType::Varchar(_) | PgType::Enum(_), Value::String(text)) => {
            Some(Expr::val(text.clone()))
        }
        (PgType::Uuid, Value::String(text)) if is_uuid(text) => {
            Some(Expr::val(text.clone()).cast_as(Alias::new("uuid")))
        }
        (PgType::Smallint | PgType::Integer | PgType::Bigint, Value::Number(number)) => {
            number.as_i64().map(Expr::val)
        }
        (PgType::Real | PgType::DoublePrecision | PgType::Numeric(_), Value::Number(number)) => {
            number
                .as_f64()
                .filter(|float| float.is_finite())
                .map(|_| number_literal(number))
        }
        (PgType::Real, Value::String(text)) => special(text, NOT_NUMBERS, "real"),
        (PgType::DoublePrecision, Value::String(text)) => special(text, NOT_NUMBERS, "float8"),
        (PgType::Numeric(_), Value::String(text)) => special(text, NOT_NUMBERS, "numeric"),
        (PgType::Boolean, Value::Bool(flag)) => Some(Expr::val(*flag)),
        (PgType::Timestamptz, Value::String(text)) => special(text, INFINITIES, "timestamptz")
            .or_else(|| {
                let moment = offbase_model::time::parse_timestamp(text)?;
                let utc = moment.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                Some(Expr::val(utc).cast_as(Alias::new("timestamptz")))
            }),
        (PgType::Timestamp, Value::String(text)) => {
            special(text, INFINITIES, "timestamp").or_else(|| {
                let moment = offbase_model::time::parse_timestamp(text)?;
                let utc = moment.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
                Some(Expr::val(utc).cast_as(Alias::new("timestamp")))
            })
        }
        (PgType::Date, Value::String(text)) => special(text, INFINITIES, "date").or_else(|| {
            let date = offbase_model::time::parse_date(text)?;
            Some(Expr::val(date.format("%Y-%m-%d").to_string()).cast_as(Alias::new("date")))
        }),
        (PgType::Time, Value::String(text)) => {
            let time = offbase_model::time::parse_time(text)?;
            Some(Expr::val(time.format("%H:%M:%S%.6f").to_string()).cast_as(Alias::new("time")))
        }
        (PgType::Jsonb | PgType::Json, value) => Some(json_literal(value)),
        _ => None,
    }
}

/// A UUID in the form PostgreSQL writes one (`8-4-4-4-12` hexadecimal digits).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.bytes().all(|byte| byte.is_ascii_hexdigit())
        })
}
