//! The database side of file URLs in loaded tables: the rows whose text, text[] or jsonb
//! columns may name a Base44 host (read page by page in id order, each column as text), and
//! the guarded update that writes a column's rewritten text back. The search for the URLs
//! themselves and their rewrite are the caller's (`offbase_base44::files`); the SQL here only
//! narrows the rows to those that mention a host at all.

use crate::{PgConnection, PgError, get, statement_error};
use offbase_sql::quote_identifier;

/// How a column holds text: the column itself, an array of text, or a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TextKind {
    Text,
    TextArray,
    /// `jsonb`.
    Json,
    /// `json` (its text as it was written).
    PlainJson,
}

/// A column that may hold a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextColumn {
    pub name: String,
    pub kind: TextKind,
}

impl TextColumn {
    /// The column of the row alias `t` as one text: itself, its array as JSON, its JSON's text.
    fn as_text(&self) -> String {
        let column = format!("t.{}", quote_identifier(&self.name));
        match self.kind {
            TextKind::Text => column,
            TextKind::TextArray => format!("to_jsonb({column})::text"),
            TextKind::Json | TextKind::PlainJson => format!("{column}::text"),
        }
    }

    /// The column's value made from the text `u.new` (what [`TextColumn::as_text`] gives).
    fn value_of_text(&self) -> &'static str {
        match self.kind {
            TextKind::Text => "u.new",
            TextKind::TextArray => "ARRAY(SELECT jsonb_array_elements_text(u.new::jsonb))",
            TextKind::Json => "u.new::jsonb",
            TextKind::PlainJson => "u.new::json",
        }
    }
}

/// A table's name and id column, as the queries here name them.
#[derive(Debug, Clone, Copy)]
pub struct UrlTable<'a> {
    pub pg_schema: &'a str,
    pub table: &'a str,
    pub id_column: &'a str,
    /// The id column's type in SQL (`text`, `uuid`): ids travel as text and are cast back, so
    /// the primary key's index finds the rows.
    pub id_type: &'a str,
}

impl UrlTable<'_> {
    fn qualified(&self) -> String {
        format!(
            "{}.{}",
            quote_identifier(self.pg_schema),
            quote_identifier(self.table)
        )
    }
}

/// One row that may name a hosted file: its id and each column's text (`None` for NULL), in
/// the order of the columns asked for.
pub type TextRow = (String, Vec<Option<String>>);

/// The next `limit` rows after id `after` (in the id column's order) in which any of
/// `columns` mentions `base44` or `supabase`, in any case.
pub async fn rows_naming_hosts(
    connection: &mut PgConnection,
    table: &UrlTable<'_>,
    columns: &[TextColumn],
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<TextRow>, PgError> {
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let id = format!("t.{}", quote_identifier(table.id_column));
    let selected: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| format!("{} AS c{index}", column.as_text()))
        .collect();
    let mentions: Vec<String> = columns
        .iter()
        .map(|column| {
            let text = column.as_text();
            format!("({text} ILIKE '%base44%' OR {text} ILIKE '%supabase%')")
        })
        .collect();
    let sql = format!(
        "SELECT {id}::text AS id, {} FROM {} AS t WHERE ($1::text IS NULL OR {id} > $1::{}) AND ({}) ORDER BY {id} LIMIT $2",
        selected.join(", "),
        table.qualified(),
        table.id_type,
        mentions.join(" OR ")
    );
    let rows = sqlx::query(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    rows.iter()
        .map(|row| {
            let id: String = get(row, "id", &sql)?;
            let values = (0..columns.len())
                .map(|index| get::<Option<String>>(row, &format!("c{index}"), &sql))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((id, values))
        })
        .collect()
}

/// Writes the rewritten text of one column for these rows: `(id, old text, new text)`. A row
/// whose column no longer holds the old text (changed since it was read) is left alone, so a
/// rewrite run twice, or beside a writer, never overwrites anything but what it read. Returns
/// the rows updated.
pub async fn update_texts(
    connection: &mut PgConnection,
    table: &UrlTable<'_>,
    column: &TextColumn,
    updates: &[(String, String, String)],
) -> Result<u64, PgError> {
    if updates.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = updates.iter().map(|(id, ..)| id.as_str()).collect();
    let old: Vec<&str> = updates.iter().map(|(_, old, _)| old.as_str()).collect();
    let new: Vec<&str> = updates.iter().map(|(.., new)| new.as_str()).collect();
    let sql = format!(
        "UPDATE {} AS t SET {} = {} FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, old, new) \
         WHERE t.{} = u.id::{} AND {} = u.old",
        table.qualified(),
        quote_identifier(&column.name),
        column.value_of_text(),
        quote_identifier(table.id_column),
        table.id_type,
        column.as_text()
    );
    let done = sqlx::query(&sql)
        .bind(&ids)
        .bind(&old)
        .bind(&new)
        .execute(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(done.rows_affected())
}
