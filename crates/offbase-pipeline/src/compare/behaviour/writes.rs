//! Writes asked as a user (`diff behaviour --as WHO --writes`): for a sample of each entity's
//! records, whether the user may update it, delete it, and create a record like it, on both
//! sides. Nothing is ever written to the old backend (a live app): its answer is its access
//! rules evaluated by `offbase_base44::rls` (the platform's documented semantics, the ones the
//! emulator enforces) on the records the workspace holds from it. PostgreSQL's answer is the
//! write itself, tried under the user's role and session settings in a transaction that is
//! always rolled back (`offbase_pg::query::attempt_write`).
//!
//! Field-level rules are not part of the comparison: PostgreSQL enforces only the constant
//! ones, by column privileges (docs/access-rules.md).

use super::ask::ANONYMOUS;
use crate::PipelineError;
use crate::workspace::parts::{PartReader, Position, parse_record};
use crate::workspace::{Manifest, Workspace};
use offbase_base44::rls::{BareKeys, EntityRules, Operation, Options, RecordSource, User, allowed};
use offbase_model::rules::RlsBareKeys;
use offbase_model::{App, BuiltIn, TargetSchema};
use offbase_pg::query::{WriteAttempt, attempt_write};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Records of each entity whose writes are tried (the first ones of the workspace).
pub const WRITE_SAMPLE: usize = 20;

/// One write tried as the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteOutcome {
    pub entity: String,
    /// The record written (for a create: the record the new one is a copy of).
    pub id: String,
    pub operation: Operation,
    /// Whether the old backend's rules allow it.
    pub old: bool,
    /// Whether PostgreSQL let it through; `None` when it could not be tried (see `error`).
    pub new: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl WriteOutcome {
    pub fn matches(&self) -> bool {
        self.new == Some(self.old)
    }
}

/// The records of the workspace, read again from the part files for each `$query` (so memory
/// stays bounded whatever the entity's size).
struct WorkspaceRecords<'w> {
    workspace: &'w Workspace,
    manifest: &'w Manifest,
}

impl RecordSource for WorkspaceRecords<'_> {
    fn visit_records(&self, entity: &str, visit: &mut dyn FnMut(&Map<String, Value>)) -> bool {
        let Some(entry) = self.manifest.entities.get(entity) else {
            return false;
        };
        let _ = for_each_record(self.workspace, &entry.parts, usize::MAX, &mut |record| {
            visit(&record);
            true
        });
        true
    }
}

/// Calls `visit` with up to `limit` records of the parts, in order, until it returns false.
/// Lines that are no JSON object are passed over (the load rejected them).
fn for_each_record(
    workspace: &Workspace,
    parts: &[crate::workspace::ManifestPart],
    limit: usize,
    visit: &mut dyn FnMut(Map<String, Value>) -> bool,
) -> Result<(), PipelineError> {
    let mut reader = PartReader::open(workspace, parts, Position::default())?;
    let mut buffer = Vec::new();
    let mut seen = 0;
    while seen < limit && reader.next_line(&mut buffer)?.is_some() {
        let Ok(record) = parse_record(&buffer, 16) else {
            continue;
        };
        seen += 1;
        if !visit(record) {
            break;
        }
    }
    Ok(())
}

/// The user `who` names, from the workspace's `User` records (email compared ignoring case);
/// `None` for [`ANONYMOUS`].
fn user_of(
    workspace: &Workspace,
    manifest: &Manifest,
    who: &str,
) -> Result<Option<User>, PipelineError> {
    if who == ANONYMOUS {
        return Ok(None);
    }
    let unknown = || PipelineError::UserSession {
        user: who.to_owned(),
        message: "no user with this email in the workspace's User records".to_owned(),
    };
    let entry = manifest.entities.get("User").ok_or_else(unknown)?;
    let mut found = None;
    for_each_record(workspace, &entry.parts, usize::MAX, &mut |record| {
        let email = record.get("email").and_then(Value::as_str);
        if email.is_some_and(|email| email.eq_ignore_ascii_case(who)) {
            found = Some(User::from_record(record));
            return false;
        }
        true
    })?;
    found.map(Some).ok_or_else(unknown)
}

/// Tries the writes of `who` on [`WRITE_SAMPLE`] records of every entity with a table, on
/// the connection already acting as `who` (`ask::act_as_user`).
#[allow(clippy::too_many_arguments)]
pub(super) async fn compare_writes(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
    app: &App,
    target: &TargetSchema,
    bare_keys: RlsBareKeys,
    workspace: &Workspace,
    who: &str,
    rejected: &dyn Fn(&str) -> Result<BTreeSet<String>, PipelineError>,
) -> Result<Vec<WriteOutcome>, PipelineError> {
    let manifest = workspace.manifest()?;
    let user = user_of(workspace, &manifest, who)?;
    let source = WorkspaceRecords {
        workspace,
        manifest: &manifest,
    };
    let options = Options {
        bare_keys: match bare_keys {
            RlsBareKeys::Literal => BareKeys::Literal,
            RlsBareKeys::Data => BareKeys::Data,
        },
    };
    let mut outcomes = Vec::new();
    for entity in &app.entities {
        let (Some(table), Some(entry)) = (
            target.table_for_entity(&entity.name),
            manifest.entities.get(&entity.name),
        ) else {
            continue;
        };
        let column = |built_in: BuiltIn| {
            table
                .column_for_field(built_in.field_name())
                .map(|column| column.name.clone())
        };
        let Some(id_column) = column(BuiltIn::Id) else {
            continue;
        };
        let rules = EntityRules::of(entity);
        let left_out = rejected(&entity.name)?;
        let mut sample = Vec::new();
        for_each_record(workspace, &entry.parts, usize::MAX, &mut |record| {
            let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
            if !id.is_empty() && !left_out.contains(id) {
                sample.push(record);
            }
            sample.len() < WRITE_SAMPLE
        })?;
        for record in sample {
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let rule = |operation: Operation, record: &Map<String, Value>| {
                allowed(&rules, operation, user.as_ref(), record, &source, options).unwrap_or(false)
            };
            // The platform hides a record the user cannot read: no update or delete of it.
            let readable = rule(Operation::Read, &record);
            let new_id = format!("{id}-offbase-attempt");
            let (email, user_id) = match &user {
                Some(user) => (
                    Value::String(user.email().unwrap_or_default().to_owned()),
                    user.id()
                        .map_or(Value::Null, |id| Value::String(id.to_owned())),
                ),
                None => (Value::String(ANONYMOUS.to_owned()), Value::Null),
            };
            let mut created = record.clone();
            created.insert("id".to_owned(), Value::String(new_id.clone()));
            let mut replaced = Map::new();
            replaced.insert(id_column.clone(), Value::String(new_id));
            if !entity.is_user() {
                created.insert("created_by".to_owned(), email.clone());
                created.insert("created_by_id".to_owned(), user_id.clone());
                for (built_in, value) in
                    [(BuiltIn::CreatedBy, email), (BuiltIn::CreatedById, user_id)]
                {
                    if let Some(name) = column(built_in) {
                        replaced.insert(name, value);
                    }
                }
            }
            let replaced = Value::Object(replaced);
            for (operation, attempt, old) in [
                (
                    Operation::Update,
                    WriteAttempt::Update,
                    readable && rule(Operation::Update, &record),
                ),
                (
                    Operation::Delete,
                    WriteAttempt::Delete,
                    readable && rule(Operation::Delete, &record),
                ),
                (
                    Operation::Create,
                    WriteAttempt::CreateLike {
                        replaced: &replaced,
                    },
                    rule(Operation::Create, &created),
                ),
            ] {
                let tried =
                    attempt_write(connection, pg_schema, &table.name, &id_column, &id, attempt)
                        .await;
                let (new, error) = match tried {
                    Ok(new) => (Some(new), None),
                    Err(error) => (None, Some(error.to_string())),
                };
                outcomes.push(WriteOutcome {
                    entity: entity.name.clone(),
                    id: id.clone(),
                    operation,
                    old,
                    new,
                    error,
                });
            }
        }
    }
    Ok(outcomes)
}
