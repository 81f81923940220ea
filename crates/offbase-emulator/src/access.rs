//! Access rules (`rls`) on requests made as a user or an anonymous visitor, with
//! `offbase_base44::rls` deciding each record. The API key (the service role) bypasses them.
//!
//! - Reads ([`Reader`]): lists, cursor lists and counts hold only the records the `read` rule
//!   lets the caller see (a denied list is an empty list); a get of a hidden record is a 404. A
//!   field whose own `read` rule does not hold is left out of every answer (filters and sorts
//!   still see it: unknown on the platform).
//! - Writes ([`Writer`], the store's [`WriteGuard`]): a create checks the record as it would
//!   be stored (fresh id, `created_by` = the user's email, `created_by_id` = the user's id); an
//!   update checks the stored record (hidden: 404; `update` rule: 403) and the merged record
//!   (403), like PostgreSQL's `UPDATE ... USING ... WITH CHECK`; a delete checks the stored
//!   record (hidden: 404; `delete` rule: 403). Fields set to a new value must pass their own
//!   `create`/`update` rule (403). Bulk creates and updates are all or nothing: one refusal
//!   refuses the request and writes nothing.
//! - Query-wide writes (update-many, delete-many) are PostgreSQL's row level security on an
//!   `UPDATE`/`DELETE ... WHERE`: they take the records the caller may read and the `update`
//!   (`delete`) rule allows ([`WriteGuard::admits`]) and skip the others silently (no 404, no
//!   403 for them); an update-many then checks each new record like an update (`WITH CHECK`,
//!   field rules), and one refusal refuses the request (403) and writes nothing.
//! - A rule that cannot be evaluated (malformed, a `$query` on an unknown entity) denies: reads
//!   see nothing, writes get a 403 saying why.
//! - Admins do not bypass rules (see `offbase_base44::rls`); the trash, restore and permanent
//!   delete are the service role's only (403 for everyone else).

use crate::records::Stored;
use crate::session::Caller;
use crate::store::{Record, Store, StoreError, Table, WriteGuard};
use offbase_base44::rls::{Check, Context, Operation, Options, Truth};
use std::borrow::Cow;

fn context<'a>(
    store: &'a Store,
    table: &'a Table,
    caller: &'a Caller,
    options: Options,
) -> Option<Context<'a>> {
    match caller {
        Caller::Service => None,
        Caller::User(_) | Caller::Anonymous => Some(Context {
            entity: &table.entity.name,
            user: caller.user(),
            records: store,
            options,
        }),
    }
}

/// Which records and fields of one entity a caller sees.
#[derive(Debug)]
pub(crate) struct Reader {
    /// `None`: every record (the service role).
    rows: Option<Check>,
    /// Fields with a `read` rule, each compiled.
    fields: Vec<(String, Check)>,
}

impl Reader {
    pub(crate) fn new(store: &Store, table: &Table, caller: &Caller, options: Options) -> Reader {
        let Some(context) = context(store, table, caller, options) else {
            return Reader {
                rows: None,
                fields: Vec::new(),
            };
        };
        let compile = |rule| Check::compile(rule, &context).unwrap_or_else(|_| closed());
        Reader {
            rows: Some(compile(table.rules.rule(Operation::Read))),
            fields: table
                .rules
                .guarded_fields(Operation::Read)
                .into_iter()
                .map(|(name, rule)| (name.to_owned(), compile(rule)))
                .collect(),
        }
    }

    /// Whether the caller sees no record at all, whatever the records hold.
    pub(crate) fn sees_nothing(&self) -> bool {
        self.rows
            .as_ref()
            .and_then(Check::constant_outcome)
            .is_some_and(|truth| truth != Truth::True)
    }

    /// Whether the caller sees this kept record, read only when the rule can depend on it
    /// (not for the key, nor for a rule that is always true): a listing of records the caller
    /// sees whole need not read them to filter them.
    pub(crate) fn sees_stored(&self, stored: &Stored) -> bool {
        match &self.rows {
            None => true,
            Some(rows) if rows.constant_outcome() == Some(Truth::True) => true,
            Some(rows) => rows.allows(&stored.record()),
        }
    }

    /// Whether the caller sees `record`.
    pub(crate) fn sees(&self, record: &Record) -> bool {
        self.rows.as_ref().is_none_or(|rows| rows.allows(record))
    }

    /// `record` without the fields the caller may not read.
    pub(crate) fn shape<'r>(&self, record: &'r Record) -> Cow<'r, Record> {
        let hidden: Vec<&str> = self
            .fields
            .iter()
            .filter(|(name, check)| record.contains_key(name) && !check.allows(record))
            .map(|(name, _)| name.as_str())
            .collect();
        if hidden.is_empty() {
            return Cow::Borrowed(record);
        }
        Cow::Owned(
            record
                .iter()
                .filter(|(name, _)| !hidden.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        )
    }
}

fn closed() -> Check {
    Check::constant(Truth::False)
}

/// The checks of one write operation for one caller, compiled once for a whole request.
#[derive(Debug)]
pub(crate) struct Writer {
    entity: String,
    operation: Operation,
    who: String,
    /// `None`: the service role, no checks.
    checks: Option<WriteChecks>,
}

#[derive(Debug)]
struct WriteChecks {
    reader: Reader,
    rows: Result<Check, String>,
    fields: Vec<(String, Result<Check, String>)>,
}

impl Writer {
    /// The checks of `operation` (a write) on `table` for `caller`.
    pub(crate) fn new(
        store: &Store,
        table: &Table,
        caller: &Caller,
        operation: Operation,
        options: Options,
    ) -> Writer {
        let checks = context(store, table, caller, options).map(|context| {
            let compile = |rule| Check::compile(rule, &context).map_err(|error| error.to_string());
            WriteChecks {
                reader: Reader::new(store, table, caller, options),
                rows: compile(table.rules.rule(operation)),
                fields: table
                    .rules
                    .guarded_fields(operation)
                    .into_iter()
                    .map(|(name, rule)| (name.to_owned(), compile(rule)))
                    .collect(),
            }
        });
        Writer {
            entity: table.entity.name.clone(),
            operation,
            who: caller.describe(),
            checks,
        }
    }

    /// The refusal of every write when the operation's rule cannot be evaluated.
    fn unevaluable(&self, error: &str) -> StoreError {
        let operation = self.operation.key();
        StoreError::Forbidden(format!(
            "the `{operation}` rule of {} cannot be evaluated ({error}), so it denies every \
             {operation}",
            self.entity
        ))
    }

    /// Refuses when the rule of the operation does not allow it on `record`.
    fn check_rows(
        &self,
        checks: &WriteChecks,
        record: &Record,
        what: &str,
    ) -> Result<(), StoreError> {
        let operation = self.operation.key();
        match &checks.rows {
            Err(error) => Err(self.unevaluable(error)),
            Ok(check) if check.allows(record) => Ok(()),
            Ok(_) => Err(StoreError::Forbidden(format!(
                "access denied: the `{operation}` rule of {} does not let {} {operation} {what}",
                self.entity, self.who
            ))),
        }
    }

    /// The answer to a write: the record without the fields the caller may not read.
    pub(crate) fn shape(&self, record: Record) -> Record {
        match &self.checks {
            Some(checks) => checks.reader.shape(&record).into_owned(),
            None => record,
        }
    }
}

impl WriteGuard for Writer {
    fn admits(&self, record: &Record) -> Result<bool, StoreError> {
        let Some(checks) = &self.checks else {
            return Ok(true);
        };
        match &checks.rows {
            Err(error) => Err(self.unevaluable(error)),
            Ok(check) => Ok(checks.reader.sees(record) && check.allows(record)),
        }
    }

    fn stored(&self, id: &str, record: &Record) -> Result<(), StoreError> {
        let Some(checks) = &self.checks else {
            return Ok(());
        };
        if !checks.reader.sees(record) {
            return Err(StoreError::NotFound {
                entity: self.entity.clone(),
                id: id.to_owned(),
            });
        }
        self.check_rows(checks, record, &format!("the record `{id}`"))
    }

    fn written(&self, record: &Record, set: &[String]) -> Result<(), StoreError> {
        let Some(checks) = &self.checks else {
            return Ok(());
        };
        let what = match self.operation {
            Operation::Create => "this record".to_owned(),
            _ => match record.get("id").and_then(|id| id.as_str()) {
                Some(id) => format!("the record `{id}` into what was sent"),
                None => "the record into what was sent".to_owned(),
            },
        };
        self.check_rows(checks, record, &what)?;
        let operation = self.operation.key();
        for (name, check) in &checks.fields {
            if !set.contains(name) {
                continue;
            }
            match check {
                Ok(check) if check.allows(record) => {}
                Ok(_) => {
                    return Err(StoreError::Forbidden(format!(
                        "access denied: the `{operation}` rule of the field `{name}` of {} does \
                         not let {} set it",
                        self.entity, self.who
                    )));
                }
                Err(error) => {
                    return Err(StoreError::Forbidden(format!(
                        "the `{operation}` rule of the field `{name}` of {} cannot be evaluated \
                         ({error}), so it denies setting it",
                        self.entity
                    )));
                }
            }
        }
        Ok(())
    }
}
