//! The mapping report (`mapping-report.md`): warnings first, then how access rules are
//! enforced, then each entity's table with a row per column, its access rules with their
//! policies, and every decision that is not a plain default. Deterministic: the same plan
//! always gives the same bytes.

use crate::rls::{
    ANONYMOUS_ROLE, AccessRules, PolicyOperation, RlsMode, SERVICE_ROLE, SIGNED_IN_ROLE,
    SUPABASE_ANONYMOUS_ROLE, SUPABASE_CLAIMS_FUNCTION, SUPABASE_SERVICE_ROLE,
    SUPABASE_SIGNED_IN_ROLE, USER_EMAIL_SETTING, USER_ID_SETTING, USER_MAP_SCHEMA, USER_MAP_TABLE,
    USER_ROLE_SETTING,
};
use offbase_model::{App, ColumnSource, NoteLevel, PgType, Rls, RlsRule, TargetSchema};
use serde_json::Value;
use std::fmt::Write;

/// Renders the report for `schema`, planned from `app` with its `access` rules; `rules` names
/// the mapping layers that were applied.
pub fn mapping_report(
    schema: &TargetSchema,
    app: &App,
    rules: &[String],
    access: &AccessRules,
) -> String {
    let mut out = String::new();
    let columns: usize = schema.tables.iter().map(|table| table.columns.len()).sum();
    let _ = writeln!(out, "# Mapping report: {}\n", cell(&schema.app));
    let _ = writeln!(
        out,
        "{} tables, {} columns, {} foreign keys, {} array references, {} indexes, {} enum types.",
        schema.tables.len(),
        columns,
        schema.foreign_keys.len(),
        schema.array_references.len(),
        schema.indexes.len(),
        schema.enum_types.len()
    );
    let _ = writeln!(out, "Mapping rules: {}.\n", rules.join(", then "));
    let warnings: Vec<_> = schema
        .notes
        .iter()
        .filter(|note| note.level == NoteLevel::Warning)
        .collect();
    let _ = writeln!(out, "## Warnings ({})\n", warnings.len());
    if warnings.is_empty() {
        out.push_str("None.\n");
    }
    for note in warnings {
        let subject = match (&note.entity, &note.field) {
            (Some(entity), Some(field)) => format!("**{}.{}**: ", cell(entity), cell(field)),
            (Some(entity), None) => format!("**{}**: ", cell(entity)),
            _ => String::new(),
        };
        let _ = writeln!(out, "- {subject}{}", cell(&note.message));
    }
    let skipped: Vec<_> = schema
        .notes
        .iter()
        .filter(|note| {
            note.level == NoteLevel::Decision
                && note.field.is_none()
                && note
                    .entity
                    .as_ref()
                    .is_some_and(|entity| schema.table_for_entity(entity).is_none())
        })
        .collect();
    if !skipped.is_empty() {
        out.push_str("\n## Entities without a table\n\n");
        for note in skipped {
            let _ = writeln!(
                out,
                "- **{}**: {}",
                cell(note.entity.as_deref().unwrap_or_default()),
                cell(&note.message)
            );
        }
    }
    access_overview(&mut out, access);
    out.push_str("\n## Tables\n");
    for table in &schema.tables {
        let title = match &table.junction {
            Some(junction) => format!(
                "{}.{} → `{}` (junction table to {})",
                table.entity, junction.field, table.name, junction.target_entity
            ),
            None => format!("{} → `{}`", table.entity, table.name),
        };
        let _ = writeln!(out, "\n### {}\n", cell(&title));
        if table.junction.is_none()
            && let Some(entity) = app.entity(&table.entity)
        {
            let _ = writeln!(out, "Schema: `{}`\n", cell(&entity.source.path));
            if !access.enforced()
                && let Some(rls) = &entity.rls
            {
                let _ = writeln!(
                    out,
                    "Access rules (not enforced: {}): {}\n",
                    not_enforced_reason(access),
                    cell(&describe_rls(rls))
                );
            }
            if !access.enforced() {
                for field in entity.fields.iter() {
                    if let Some(rules) = &field.rls {
                        let _ = writeln!(
                            out,
                            "Field access rules of `{}` (not enforced: {}): `{}`\n",
                            cell(&field.name),
                            not_enforced_reason(access),
                            cell(&rules.to_string())
                        );
                    }
                }
            }
        }
        if table.junction.is_some() && access.enforced() {
            out.push_str("Access rules: readable where the owner's row is; written only by the load, the sync and the service role.\n\n");
        }
        out.push_str("| field | column | type | null | default | constraint |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for column in &table.columns {
            let field = match (&column.source, &column.field) {
                (ColumnSource::BuiltIn(_), Some(field)) => format!("{} (built-in)", cell(field)),
                (ColumnSource::Extra, _) => "(fields without a column)".to_owned(),
                (ColumnSource::Junction, _) => "(junction)".to_owned(),
                (_, Some(field)) => cell(field),
                (_, None) => String::new(),
            };
            let mut constraints = Vec::new();
            if table.primary_key.contains(&column.name) {
                constraints.push("primary key".to_owned());
            }
            if let Some(check) = &column.check {
                let values: Vec<String> = check.allowed.iter().map(literal).collect();
                let scope = if check.elements {
                    "each element in"
                } else {
                    "in"
                };
                constraints.push(format!("{scope} {}", values.join(", ")));
            }
            if let PgType::Enum(name) = column.pg_type.element().unwrap_or(&column.pg_type)
                && let Some(enum_type) = schema.enum_types.iter().find(|e| &e.name == name)
            {
                let values: Vec<String> = enum_type
                    .values
                    .iter()
                    .map(|value| literal(&Value::String(value.clone())))
                    .collect();
                constraints.push(format!("enum {}", values.join(", ")));
            }
            for key in schema
                .foreign_keys
                .iter()
                .filter(|key| key.table == table.name && key.column == column.name)
            {
                constraints.push(format!("→ {}.{}", key.target_table, key.target_column));
            }
            for reference in schema.array_references.iter().filter(|reference| {
                reference.table == table.name && reference.column == column.name
            }) {
                constraints.push(format!("array of → {}.id", reference.target_table));
            }
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} | {} |",
                field,
                cell(&column.name),
                cell(&column.pg_type.short()),
                if column.not_null { "NOT NULL" } else { "" },
                column
                    .default
                    .as_ref()
                    .map(|value| cell(&literal(value)))
                    .unwrap_or_default(),
                cell(&constraints.join("; "))
            );
        }
        let decisions: Vec<_> = schema
            .notes
            .iter()
            .filter(|note| {
                note.level == NoteLevel::Decision
                    && table.junction.is_none()
                    && note.entity.as_deref() == Some(table.entity.as_str())
            })
            .collect();
        if let Some(table_access) = access.table(&table.name) {
            out.push_str("\nAccess rules (row level security):\n\n");
            out.push_str("| operation | rule | policy |\n|---|---|---|\n");
            for operation in &table_access.operations {
                let _ = writeln!(
                    out,
                    "| {} ({}) | {} | `{}` |",
                    operation.operation.key(),
                    operation.operation.command(),
                    cell(&operation.rule),
                    cell(&operation.policy)
                );
            }
            let access_decisions: Vec<_> = access
                .notes
                .iter()
                .filter(|note| {
                    note.level == NoteLevel::Decision
                        && note.entity.as_deref() == Some(table.entity.as_str())
                })
                .collect();
            if !access_decisions.is_empty() {
                out.push_str("\nAccess decisions:\n");
                for note in access_decisions {
                    match &note.field {
                        Some(field) => {
                            let _ = writeln!(out, "- `{}`: {}", cell(field), cell(&note.message));
                        }
                        None => {
                            let _ = writeln!(out, "- {}", cell(&note.message));
                        }
                    }
                }
            }
        }
        if !decisions.is_empty() {
            out.push_str("\nDecisions:\n");
            for note in decisions {
                match &note.field {
                    Some(field) => {
                        let _ = writeln!(out, "- `{}`: {}", cell(field), cell(&note.message));
                    }
                    None => {
                        let _ = writeln!(out, "- {}", cell(&note.message));
                    }
                }
            }
        }
    }
    out
}

/// Why the access rules are not enforced (only called when they are not).
fn not_enforced_reason(access: &AccessRules) -> &'static str {
    match access.mode {
        RlsMode::Off => "planned with --rls off",
        RlsMode::On | RlsMode::Supabase => "the app has no access rules",
    }
}

/// How access rules are enforced, once for the app: roles, the request's user, the owner.
fn access_overview(out: &mut String, access: &AccessRules) {
    if !access.has_rules {
        return;
    }
    out.push_str("\n## Access rules\n\n");
    if !access.enforced() {
        out.push_str("Not enforced: planned with `--rls off`. Each table lists its rules as the schema gives them; plan without `--rls off` to enforce them with row level security.\n");
        return;
    }
    let (roles, user) = match access.mode {
        RlsMode::Supabase => (
            format!(
                "- Dialect: Supabase (`--rls supabase`). Roles: Supabase's own, `{SUPABASE_ANONYMOUS_ROLE}` for anonymous visitors, `{SUPABASE_SIGNED_IN_ROLE}` for signed-in users, `{SUPABASE_SERVICE_ROLE}` (BYPASSRLS) for backend code, like the platform's `asServiceRole` (created where missing; the section refuses a database without `{SUPABASE_CLAIMS_FUNCTION}`)."
            ),
            format!(
                "- The request's user: the claims of its Supabase JWT, through `{SUPABASE_CLAIMS_FUNCTION}` (no `sub` claim: anonymous): email from `email`, role from `app_metadata.role`, id as the loaded tables hold it: `sub` where the `User` table holds it (after the users export's `users/rewrite-plan.sql`), else `app_metadata.base44.id`, else the Base44 id `{USER_MAP_SCHEMA}.{USER_MAP_TABLE}` maps `sub` to, else `sub`; the user's other fields are read from their `User` row."
            ),
        ),
        RlsMode::On | RlsMode::Off => (
            format!(
                "- Roles (cluster-wide, created where missing): `{ANONYMOUS_ROLE}` for anonymous visitors, `{SIGNED_IN_ROLE}` for signed-in users, `{SERVICE_ROLE}` (BYPASSRLS) for backend code, like the platform's `asServiceRole`."
            ),
            format!(
                "- The request's user: `SET LOCAL {USER_ID_SETTING}`, `{USER_EMAIL_SETTING}`, `{USER_ROLE_SETTING}` in each transaction (unset: anonymous); the user's other fields are read from their `User` row."
            ),
        ),
    };
    let _ = writeln!(
        out,
        "Enforced with row level security by the `access-rules` section of plan.sql, which runs after post-load (docs/access-rules.md):\n\n\
         {roles}\n\
         {user}\n\
         - The tables' owner (the migration user, which loads and syncs) is not held to the rules: `ENABLE`, not `FORCE ROW LEVEL SECURITY`. Serve the app with the roles above, never as the owner.\n\
         - An omitted operation, `true`, `{{}}` and `null` are open to anyone, anonymous visitors included; `false` is closed to all but the service role; a condition that needs a user value there is none of is unknown, and denies. A rule that cannot be translated faithfully is closed, with a warning.\n\
         - Rules anchored on fields the writer sets (`data.user_email`, `data.owner_id`, ...) keep the platform's behaviour and are as forgeable as they were there: whoever writes a record names its owner. Each is listed under its table."
    );
    if !access.sub_queries.is_empty() {
        out.push_str("\nSub-queries (`$query`), each a `SECURITY DEFINER` function that reads its table as the owner, so that a policy reading a table whose policy reads back does not recurse:\n\n");
        for sub_query in &access.sub_queries {
            let _ = writeln!(
                out,
                "- `{}`: `{}`\n  `{}`",
                cell(&sub_query.function),
                cell(&sub_query.query),
                cell(&sub_query.sql)
            );
        }
    }
}

/// `read: open; update: {"created_by":"{{user.email}}"}; ...`, in operation order.
fn describe_rls(rls: &Rls) -> String {
    let operations = [
        ("create", &rls.create),
        ("read", &rls.read),
        ("update", &rls.update),
        ("delete", &rls.delete),
        ("write", &rls.write),
    ];
    let mut parts: Vec<String> = operations
        .iter()
        .filter_map(|(name, rule)| {
            rule.as_ref().map(|rule| match rule {
                RlsRule::Allow(true) => format!("{name}: everyone"),
                RlsRule::Allow(false) => format!("{name}: no one"),
                RlsRule::Condition(condition) => format!("{name}: `{condition}`"),
            })
        })
        .collect();
    for (key, value) in &rls.extra {
        parts.push(format!("{key}: `{value}`"));
    }
    parts.join("; ")
}

/// A JSON value as it reads in SQL: strings quoted, the rest as JSON.
fn literal(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        other => other.to_string(),
    }
}

/// Text safe inside a Markdown table cell: pipes escaped, line breaks flattened.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", " ")
        .replace(['\n', '\r'], " ")
}
