//! The database side of `diff data`'s range bisection: counts and sums of row hashes over
//! ranges of ids, the (id, hash) pairs of small ranges, and whole rows by id. Ranges are
//! intervals of ids in byte order (`COLLATE "C"`), given as one sorted array of bounds:
//! bucket `i` holds the ids `bounds[i-1] <= id < bounds[i]` (bucket 0 everything below the
//! first bound, the last bucket everything from the last bound up), as `width_bucket`
//! numbers them. The hash expression comes from `offbase_copy::row_hash`; each query
//! computes it only for the rows of the buckets asked for.

use crate::{PgConnection, PgError, get, statement_error};
use offbase_sql::quote_identifier;
use serde_json::Value;

/// Which rows of a table a query looks at.
#[derive(Debug, Clone, Copy)]
pub enum Buckets<'a> {
    /// The whole table as bucket 0.
    All,
    /// The given buckets of these sorted bounds.
    Of {
        bounds: &'a [String],
        wanted: &'a [i32],
        /// Ranges of ids (`low <= id < high`, `None` unbounded) that hold every wanted bucket,
        /// for the id index to narrow the query to; empty: the whole table.
        within: &'a [IdRange],
    },
}

/// A range of ids in byte order: `low <= id < high`, `None` for no bound.
pub type IdRange = (Option<String>, Option<String>);

/// The count and the sum of row hashes of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketHash {
    pub bucket: i32,
    pub rows: u64,
    pub sum: i128,
}

/// The table and its id column, as a query's `FROM` item and id expression.
#[derive(Debug, Clone, Copy)]
pub struct HashedTable<'a> {
    pub pg_schema: &'a str,
    pub table: &'a str,
    pub id_column: &'a str,
    /// The row hash over the alias `t` (`offbase_copy::row_hash::row_hash_sql`).
    pub hash_sql: &'a str,
    /// The id column sorts in byte order in its own collation (see [`id_sorts_by_bytes`]), so
    /// its index can narrow a query to the ranges asked for.
    pub index_ranges: bool,
}

impl HashedTable<'_> {
    fn from(&self) -> String {
        format!(
            "{}.{} AS t",
            quote_identifier(self.pg_schema),
            quote_identifier(self.table)
        )
    }

    /// The bucket expression, the filter, and the range bounds the filter binds after `$1`
    /// (the bounds) and `$2` (the wanted buckets).
    fn bucket_sql(&self, buckets: Buckets<'_>) -> (String, String, Vec<String>) {
        match buckets {
            Buckets::All => ("0".to_owned(), "true".to_owned(), Vec::new()),
            Buckets::Of { within, .. } => {
                let id = format!("t.{}", quote_identifier(self.id_column));
                let bucket = format!("width_bucket({id} COLLATE \"C\", $1::text[])");
                let mut filter = format!("{bucket} = ANY($2::int4[])");
                let mut values = Vec::new();
                // The ranges that hold the buckets, as plain conditions on the id, which the
                // primary key's index answers without reading the rest of the table.
                if self.index_ranges
                    && !within
                        .iter()
                        .any(|(low, high)| low.is_none() && high.is_none())
                {
                    let mut ranges = Vec::new();
                    for (low, high) in within {
                        let mut range = Vec::new();
                        if let Some(low) = low {
                            values.push(low.clone());
                            range.push(format!("{id} >= ${}", values.len() + 2));
                        }
                        if let Some(high) = high {
                            values.push(high.clone());
                            range.push(format!("{id} < ${}", values.len() + 2));
                        }
                        ranges.push(format!("({})", range.join(" AND ")));
                    }
                    if !ranges.is_empty() {
                        filter = format!("({}) AND {filter}", ranges.join(" OR "));
                    }
                }
                (bucket, filter, values)
            }
        }
    }
}

fn bind_buckets<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    buckets: Buckets<'q>,
    values: &'q [String],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match buckets {
        Buckets::All => query,
        Buckets::Of { bounds, wanted, .. } => {
            let mut query = query.bind(bounds).bind(wanted);
            for value in values {
                query = query.bind(value);
            }
            query
        }
    }
}

/// Whether a text column sorts in byte order in its own collation (`C`, `POSIX` or a libc
/// `C.UTF-8`, whose order is the code point's, which UTF-8 bytes keep), so ranges of ids in
/// byte order are ranges of its index.
pub async fn id_sorts_by_bytes(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    column: &str,
) -> Result<bool, PgError> {
    let sql = "SELECT CASE WHEN c.collname = 'default' THEN d.datlocprovider::text ELSE c.collprovider::text END AS provider, \
               CASE WHEN c.collname = 'default' THEN d.datcollate ELSE c.collcollate END AS collate \
               FROM pg_attribute a \
               JOIN pg_class r ON r.oid = a.attrelid \
               JOIN pg_namespace n ON n.oid = r.relnamespace \
               JOIN pg_collation c ON c.oid = a.attcollation \
               CROSS JOIN (SELECT datlocprovider, datcollate FROM pg_database WHERE datname = current_database()) d \
               WHERE n.nspname = $1 AND r.relname = $2 AND a.attname = $3";
    let row = sqlx::query(sql)
        .bind(pg_schema)
        .bind(table)
        .bind(column)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    let Some(row) = row else {
        return Ok(false);
    };
    let provider: Option<String> = get(&row, "provider", sql)?;
    let collate: Option<String> = get(&row, "collate", sql)?;
    Ok(provider.as_deref() == Some("c")
        && matches!(
            collate.as_deref(),
            Some("C" | "POSIX" | "C.UTF-8" | "C.utf8" | "C.UTF8" | "C.utf-8")
        ))
}

/// Count and hash sum per bucket (buckets without rows are left out).
pub async fn bucket_hashes(
    connection: &mut PgConnection,
    table: &HashedTable<'_>,
    buckets: Buckets<'_>,
) -> Result<Vec<BucketHash>, PgError> {
    let (bucket, filter, values) = table.bucket_sql(buckets);
    let sql = format!(
        "SELECT {bucket} AS bucket, count(*)::int8 AS rows, sum({})::text AS sum FROM {} WHERE {filter} GROUP BY 1",
        table.hash_sql,
        table.from()
    );
    let rows = bind_buckets(sqlx::query(&sql), buckets, &values)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    let mut hashes = Vec::with_capacity(rows.len());
    for row in rows {
        let bucket: i32 = get(&row, "bucket", &sql)?;
        let count: i64 = get(&row, "rows", &sql)?;
        let sum: Option<String> = get(&row, "sum", &sql)?;
        let sum = match sum {
            None => 0,
            Some(text) => text.parse::<i128>().map_err(|error| PgError::Statement {
                statement: sql.clone(),
                message: format!("the hash sum {text:?} is not an integer: {error}"),
            })?,
        };
        hashes.push(BucketHash {
            bucket,
            rows: u64::try_from(count).unwrap_or_default(),
            sum,
        });
    }
    Ok(hashes)
}

/// The (id, row hash) pairs of the rows in the buckets asked for.
pub async fn row_hashes(
    connection: &mut PgConnection,
    table: &HashedTable<'_>,
    buckets: Buckets<'_>,
) -> Result<Vec<(String, i64)>, PgError> {
    let (_, filter, values) = table.bucket_sql(buckets);
    let sql = format!(
        "SELECT t.{} AS id, {} AS hash FROM {} WHERE {filter}",
        quote_identifier(table.id_column),
        table.hash_sql,
        table.from()
    );
    let rows = bind_buckets(sqlx::query(&sql), buckets, &values)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    rows.iter()
        .map(|row| Ok((get(row, "id", &sql)?, get(row, "hash", &sql)?)))
        .collect()
}

/// The rows with these ids, each as a JSON object (`to_jsonb`).
pub async fn rows_by_id(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    id_column: &str,
    ids: &[String],
) -> Result<Vec<Value>, PgError> {
    let sql = format!(
        "SELECT to_jsonb(t) AS row FROM {}.{} AS t WHERE t.{} = ANY($1::text[])",
        quote_identifier(pg_schema),
        quote_identifier(table),
        quote_identifier(id_column)
    );
    let rows = sqlx::query(&sql)
        .bind(ids)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    rows.iter()
        .map(|row| get::<Value>(row, "row", &sql))
        .collect()
}
