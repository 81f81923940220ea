//! `users/rewrite-plan.sql`: when a target gives users new ids (Supabase's UUIDs), the plan
//! that puts them into the loaded tables, to review and then apply once with psql, after the
//! last sync (a sync writes Base44 ids again).
//!
//! In one transaction it
//! 1. writes the id map into `offbase.user_map` (the rows of this schema and target replaced,
//!    by `COPY`: values travel as data, never as SQL text), so the plan needs nothing but
//!    itself;
//! 2. takes off every foreign key that points at the users table, remembering each one's
//!    definition as the catalog has it (validated or `NOT VALID`);
//! 3. rewrites, through the map, the users' own ids, every `created_by_id`, and every column
//!    the planner made a reference to `User` (text columns, `text[]` arrays element by
//!    element, a junction table's columns); a value that is no user's id (an orphan,
//!    `anonymous`, `service_...`) stays as it is;
//! 4. puts the foreign keys back as they were.
//!
//! Run twice, the second run changes nothing: no value is a Base44 id any more.

use super::ids::IdMapEntry;
use super::references::{IdReference, IdShape};
use offbase_model::names::quote_identifier;
use offbase_pg::users::{user_map_statements, user_map_table};

/// The file, under `users/`.
pub const FILE: &str = "rewrite-plan.sql";

/// What the plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct RewritePlan<'a> {
    pub pg_schema: &'a str,
    /// The target the new ids are for (`supabase`).
    pub provider: &'a str,
    pub app_id: Option<&'a str>,
    /// The users table (`None` when the plan has none: only references are rewritten).
    pub user_table: Option<&'a str>,
    pub references: &'a [IdReference],
    /// Sorted by Base44 id.
    pub map: &'a [IdMapEntry],
}

/// A text as an SQL string literal (quotes doubled; the plan sets
/// `standard_conforming_strings`, so a backslash is a backslash). Only the schema name and the
/// provider's name go through it; users' values travel as COPY data.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A text for an SQL comment: control characters (a line break would end the comment) as
/// spaces.
fn comment(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect()
}

/// A value as a field of COPY's text format: `\N` for none, backslash, tab, newline and
/// carriage return escaped.
fn copy_field(value: Option<&str>) -> String {
    let Some(text) = value else {
        return "\\N".to_owned();
    };
    let mut field = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => field.push_str("\\\\"),
            '\t' => field.push_str("\\t"),
            '\n' => field.push_str("\\n"),
            '\r' => field.push_str("\\r"),
            other => field.push(other),
        }
    }
    field
}

impl RewritePlan<'_> {
    fn qualified(&self, table: &str) -> String {
        format!(
            "{}.{}",
            quote_identifier(self.pg_schema),
            quote_identifier(table)
        )
    }

    /// `m.pg_schema = '...' AND m.provider = '...'` for the map alias `m`.
    fn map_rows(&self, alias: &str) -> String {
        format!(
            "{alias}.pg_schema = {} AND {alias}.provider = {}",
            literal(self.pg_schema),
            literal(self.provider)
        )
    }

    /// The rows whose map entries hold a NUL character cannot be written by COPY; they are
    /// left out of the map (and reported by the caller as users without a new id).
    fn writable(entry: &IdMapEntry) -> bool {
        !entry.base44_id.contains('\0')
            && !entry.new_id.contains('\0')
            && !entry
                .email
                .as_deref()
                .is_some_and(|email| email.contains('\0'))
    }

    /// The UPDATE of one column.
    fn update(&self, reference: &IdReference) -> String {
        let table = self.qualified(&reference.table);
        let column = quote_identifier(&reference.column);
        let map = user_map_table();
        match reference.shape {
            IdShape::UserId | IdShape::One => format!(
                "UPDATE {table} AS t SET {column} = m.new_id\n\
                 FROM {map} AS m\n\
                 WHERE {} AND t.{column} = m.base44_id;\n",
                self.map_rows("m")
            ),
            IdShape::Many => format!(
                "UPDATE {table} AS t SET {column} = ARRAY(\n\
                 \x20 SELECT coalesce(m.new_id, element.old_id)\n\
                 \x20 FROM unnest(t.{column}) WITH ORDINALITY AS element(old_id, ordinal)\n\
                 \x20 LEFT JOIN {map} AS m ON {} AND m.base44_id = element.old_id\n\
                 \x20 ORDER BY element.ordinal)\n\
                 WHERE t.{column} && ARRAY(SELECT m.base44_id FROM {map} AS m WHERE {});\n",
                self.map_rows("m"),
                self.map_rows("m")
            ),
        }
    }

    /// The plan's text.
    pub fn render(&self) -> String {
        let writable: Vec<&IdMapEntry> = self
            .map
            .iter()
            .filter(|entry| Self::writable(entry))
            .collect();
        let mut sql = format!(
            "-- offbase users: the new user ids ({provider}) written into the loaded tables of schema {schema}.\n\
             -- Review it, then apply it once, after the last sync (a sync writes Base44 ids again):\n\
             --   psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f {FILE}\n\
             -- {users} users; {columns} columns rewritten through {map}. Values that are no user's id\n\
             -- (orphans, `anonymous`, `service_...`) stay as they are; references by email are not touched.\n\
             BEGIN;\n\
             SET LOCAL standard_conforming_strings = on;\n",
            provider = comment(self.provider),
            schema = comment(&quote_identifier(self.pg_schema)),
            users = writable.len(),
            columns = self.references.len(),
            map = user_map_table(),
        );
        sql.push_str("\n-- 1. The id map.\n");
        for statement in user_map_statements() {
            sql.push_str(&statement);
            sql.push_str(";\n");
        }
        sql.push_str(&format!(
            "DELETE FROM {} AS m WHERE {};\n",
            user_map_table(),
            self.map_rows("m")
        ));
        sql.push_str(&format!(
            "COPY {} (pg_schema, provider, app_id, base44_id, new_id, email) FROM stdin;\n",
            user_map_table()
        ));
        for entry in &writable {
            let fields = [
                copy_field(Some(self.pg_schema)),
                copy_field(Some(self.provider)),
                copy_field(self.app_id),
                copy_field(Some(&entry.base44_id)),
                copy_field(Some(&entry.new_id)),
                copy_field(entry.email.as_deref()),
            ];
            sql.push_str(&fields.join("\t"));
            sql.push('\n');
        }
        sql.push_str("\\.\n");
        if let Some(user_table) = self.user_table {
            sql.push_str(&format!(
                "\n-- 2. The foreign keys that point at {users_comment}, taken off as the catalog defines them.\n\
                 CREATE TEMPORARY TABLE offbase_user_foreign_keys ON COMMIT DROP AS\n\
                 \x20 SELECT c.conrelid::regclass::text AS table_name, c.conname::text AS name,\n\
                 \x20        pg_get_constraintdef(c.oid) AS definition\n\
                 \x20 FROM pg_constraint AS c\n\
                 \x20 WHERE c.contype = 'f' AND c.confrelid = to_regclass({regclass});\n\
                 DO $offbase$\n\
                 DECLARE foreign_key record;\n\
                 BEGIN\n\
                 \x20 FOR foreign_key IN SELECT * FROM offbase_user_foreign_keys ORDER BY table_name, name LOOP\n\
                 \x20   EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', foreign_key.table_name, foreign_key.name);\n\
                 \x20 END LOOP;\n\
                 END\n\
                 $offbase$;\n",
                users_comment = comment(&self.qualified(user_table)),
                regclass = literal(&self.qualified(user_table)),
            ));
        }
        sql.push_str("\n-- 3. The ids, column by column.\n");
        for reference in self.references {
            let field = reference
                .field
                .as_deref()
                .map(|field| format!("{}.{field}", reference.entity))
                .unwrap_or_else(|| reference.entity.clone());
            sql.push_str(&format!(
                "-- {}\n",
                comment(&format!("{field}: {}", reference.why))
            ));
            sql.push_str(&self.update(reference));
        }
        if self.user_table.is_some() {
            sql.push_str(
                "\n-- 4. The foreign keys back, as they were.\n\
                 DO $offbase$\n\
                 DECLARE foreign_key record;\n\
                 BEGIN\n\
                 \x20 FOR foreign_key IN SELECT * FROM offbase_user_foreign_keys ORDER BY table_name, name LOOP\n\
                 \x20   EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', foreign_key.table_name, foreign_key.name, foreign_key.definition);\n\
                 \x20 END LOOP;\n\
                 END\n\
                 $offbase$;\n",
            );
        }
        sql.push_str("COMMIT;\n");
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_rewrites_each_shape_and_carries_values_as_copy_data() {
        let references = [
            IdReference {
                table: "user".to_owned(),
                column: "id".to_owned(),
                shape: IdShape::UserId,
                entity: "User".to_owned(),
                field: Some("id".to_owned()),
                why: "the users' own ids".to_owned(),
            },
            IdReference {
                table: "task".to_owned(),
                column: "member_ids".to_owned(),
                shape: IdShape::Many,
                entity: "Task".to_owned(),
                field: Some("member_ids".to_owned()),
                why: "an array".to_owned(),
            },
        ];
        let map = [IdMapEntry {
            base44_id: "u1".to_owned(),
            new_id: "0b1e5f4a-0000-5000-8000-000000000001".to_owned(),
            email: Some("o'hara\t@example.com".to_owned()),
        }];
        let sql = RewritePlan {
            pg_schema: "it's",
            provider: "supabase",
            app_id: None,
            user_table: Some("user"),
            references: &references,
            map: &map,
        }
        .render();
        assert!(sql.contains("m.pg_schema = 'it''s'"), "{sql}");
        assert!(sql.contains("u1\t0b1e5f4a-0000-5000-8000-000000000001\to'hara\\t@example.com\n"));
        assert!(sql.contains("UPDATE \"it's\".\"user\" AS t SET \"id\" = m.new_id"));
        assert!(sql.contains("unnest(t.\"member_ids\") WITH ORDINALITY"));
        assert!(sql.contains("DROP CONSTRAINT") && sql.contains("ADD CONSTRAINT"));
        assert!(sql.starts_with("-- offbase users") && sql.ends_with("COMMIT;\n"));
    }
}
