//! One entity's write context ([`Writer`]): its declaration, table and the load's converter,
//! and the row writes the handlers of `writes` (and `upsert`) share: a new record as a create
//! stores it, inserts and overwrites as the caller with their junction rows, and the records
//! read back as the service role.

use crate::caller::{self, Caller, Request};
use crate::error::ApiError;
use crate::routes::{AppState, entity};
use crate::writes::{Record, in_item, write_refused};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use offbase_copy::convert::EntityConverter;
use offbase_copy::json::row_json;
use offbase_model::record::staged_key;
use offbase_model::time::format_stored;
use offbase_model::{BuiltIn, Entity, Table};
use offbase_pipeline::compare::canonical::platform_record;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One entity's write context: its declaration, table and converter.
pub(crate) struct Writer<'s> {
    pub(crate) state: &'s AppState,
    pub(crate) name: &'s str,
    pub(crate) declared: &'s Entity,
    pub(crate) table: &'s Table,
    pub(crate) converter: EntityConverter<'s>,
    pub(crate) writable: BTreeSet<&'s str>,
    pub(crate) id_column: &'s str,
}

impl<'s> Writer<'s> {
    pub(crate) fn new(state: &'s AppState, app_id: &str, name: &'s str) -> Result<Self, ApiError> {
        let (declared, table) = entity(state, app_id, name)?;
        let id_column = table
            .column_for_field(BuiltIn::Id.field_name())
            .map(|column| column.name.as_str())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the table of {name} has no id column"),
                )
            })?;
        Ok(Writer {
            state,
            name,
            declared,
            table,
            converter: EntityConverter::new(&state.target, table, state.relax),
            writable: writable(declared),
            id_column,
        })
    }

    /// The writable fields of `fields` merged into `record`.
    pub(crate) fn merge(&self, record: &mut Record, fields: &Record) {
        for (name, value) in fields {
            if self.writable.contains(name.as_str()) {
                record.insert(name.clone(), value.clone());
            }
        }
    }

    /// A new record from `fields`, as a create by `caller` stores it.
    pub(crate) fn new_record(
        &self,
        fields: &Record,
        now: DateTime<Utc>,
        caller: &Caller,
    ) -> Record {
        let stamp = Value::String(format_stored(now));
        let mut record = Record::new();
        record.insert("id".to_owned(), Value::String(new_id(now)));
        record.insert("created_date".to_owned(), stamp.clone());
        record.insert("updated_date".to_owned(), stamp);
        if !self.declared.is_user() {
            let (created_by, created_by_id) = match caller {
                Caller::User(user) => (
                    Value::String(user.email.clone()),
                    Value::String(user.id.clone()),
                ),
                Caller::Anonymous => (Value::String("anonymous".to_owned()), Value::Null),
                Caller::Service => (Value::Null, Value::Null),
            };
            record.insert("created_by".to_owned(), created_by);
            record.insert("created_by_id".to_owned(), created_by_id);
            record.insert("is_sample".to_owned(), Value::Bool(false));
        }
        self.merge(&mut record, fields);
        record
    }

    /// The row of `record` (a JSON object by column name) and its junction rows, or a 400
    /// naming the field whose value the column cannot hold.
    fn rows(&self, record: &Record) -> Result<(Value, Vec<(usize, Value)>), ApiError> {
        let staged: Record = record
            .iter()
            .map(|(key, value)| (staged_key(key).into_owned(), value.clone()))
            .collect();
        let converted = self.converter.convert(&staged).map_err(|rejection| {
            ApiError::bad_request(format!(
                "cannot store this {} record: {}",
                self.name, rejection.message
            ))
        })?;
        let names = self.table.columns.iter().map(|column| column.name.as_str());
        let row = row_json(names, &converted.row);
        let junctions = self.converter.junctions();
        let junction_rows = converted
            .junction_rows
            .iter()
            .filter_map(|(index, cells)| {
                let junction = junctions.get(*index)?;
                let names = junction.columns.iter().map(|column| column.name.as_str());
                Some((*index, row_json(names, cells)))
            })
            .collect();
        Ok((row, junction_rows))
    }

    /// Replaces the junction rows of `ids` (as the service role: the caller's right to the
    /// owner row was checked by its write).
    async fn write_junctions(
        &self,
        request: &mut Request<'_>,
        ids: &[String],
        rows: Vec<(usize, Value)>,
        what: &str,
    ) -> Result<(), ApiError> {
        let junctions = self.converter.junctions();
        if junctions.is_empty() {
            return Ok(());
        }
        // The service caller is in its role already.
        let switch = !matches!(request.caller, Caller::Service);
        if switch {
            caller::as_service(self.state, &mut request.transaction).await?;
        }
        for junction in junctions {
            let Some(owner) = junction.columns.first() else {
                continue;
            };
            offbase_pg::serve::delete_rows(
                &mut request.transaction,
                &self.state.pg_schema,
                &junction.name,
                &owner.name,
                ids,
            )
            .await
            .map_err(|error| write_refused(error, &request.caller, what, self.name))?;
        }
        for (index, row) in rows {
            let Some(junction) = junctions.get(index) else {
                continue;
            };
            offbase_pg::serve::insert_row(
                &mut request.transaction,
                &self.state.pg_schema,
                &junction.name,
                &row,
                false,
            )
            .await
            .map_err(|error| write_refused(error, &request.caller, what, self.name))?;
        }
        if switch {
            caller::act(self.state, &mut request.transaction, &request.caller).await?;
        }
        Ok(())
    }

    /// Inserts new records as the caller (all or nothing). The service caller, who may read
    /// whatever it writes, gets the records as stored from the inserts themselves; for other
    /// callers (whom a read policy may not let see what they wrote) and records with junction
    /// rows, `None`: read them back ([`Writer::read_back`]).
    pub(crate) async fn insert(
        &self,
        request: &mut Request<'_>,
        records: &[Record],
    ) -> Result<Option<Vec<Record>>, ApiError> {
        let returning =
            matches!(request.caller, Caller::Service) && self.converter.junctions().is_empty();
        let mut junction_rows = Vec::new();
        let mut stored = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let (row, junctions) = self
                .rows(record)
                .map_err(|error| in_item(error, index, records.len()))?;
            let returned = offbase_pg::serve::insert_row(
                &mut request.transaction,
                &self.state.pg_schema,
                &self.table.name,
                &row,
                returning,
            )
            .await
            .map_err(|error| {
                in_item(
                    write_refused(error, &request.caller, "create", self.name),
                    index,
                    records.len(),
                )
            })?;
            stored.extend(returned.and_then(|row| platform_record(row, self.table)));
            junction_rows.extend(junctions);
        }
        if !junction_rows.is_empty() {
            self.write_junctions(request, &[], junction_rows, "create")
                .await?;
        }
        Ok((returning && stored.len() == records.len()).then_some(stored))
    }

    /// Writes `new` over the stored record `id`, setting the columns of `fields` and
    /// `updated_date`; 403 when the update policy hides or refuses it.
    pub(crate) async fn overwrite(
        &self,
        request: &mut Request<'_>,
        id: &str,
        new: &Record,
        fields: &BTreeSet<String>,
    ) -> Result<bool, ApiError> {
        let (row, junction_rows) = self.rows(new)?;
        let mut columns: Vec<&str> = Vec::new();
        let mut junction_changed = false;
        for column in &self.table.columns {
            let Some(field) = column.field.as_deref() else {
                continue;
            };
            if field == "updated_date" || fields.contains(field) {
                columns.push(column.name.as_str());
            }
        }
        for junction in self.converter.junctions() {
            if let Some(junction) = &junction.junction {
                junction_changed |= fields.contains(&junction.field);
            }
        }
        let changed = offbase_pg::serve::update_row(
            &mut request.transaction,
            &self.state.pg_schema,
            &self.table.name,
            self.id_column,
            id,
            &columns,
            &row,
        )
        .await
        .map_err(|error| write_refused(error, &request.caller, "update", self.name))?;
        if changed && junction_changed {
            self.write_junctions(request, &[id.to_owned()], junction_rows, "update")
                .await?;
        }
        Ok(changed)
    }

    /// The records `ids` as stored now, in the order of `ids`, read as the service role.
    pub(crate) async fn read_back(
        &self,
        request: &mut Request<'_>,
        ids: &[String],
    ) -> Result<Vec<Record>, ApiError> {
        if !matches!(request.caller, Caller::Service) {
            caller::as_service(self.state, &mut request.transaction).await?;
        }
        let rows = offbase_pg::serve::rows_by_id(
            &mut request.transaction,
            &self.state.pg_schema,
            &self.table.name,
            self.id_column,
            ids,
        )
        .await
        .map_err(caller::database)?;
        let mut by_id: BTreeMap<String, Record> = rows
            .into_iter()
            .filter_map(|row| platform_record(row, self.table))
            .filter_map(|record| {
                let id = record.get("id")?.as_str()?.to_owned();
                Some((id, record))
            })
            .collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}

/// An ObjectId-like id: 8 hex digits of the creation second, then 16 random hex digits.
fn new_id(now: DateTime<Utc>) -> String {
    let seconds = u32::try_from(now.timestamp()).unwrap_or(u32::MAX);
    format!("{seconds:08x}{:016x}", rand::random::<u64>())
}

/// Fields a write may set: the declared ones (and the user built-ins on `User`), never the
/// record built-ins.
fn writable(declared: &Entity) -> BTreeSet<&str> {
    let mut fields: BTreeSet<&str> = declared
        .fields
        .iter()
        .map(|field| field.name.as_str())
        .collect();
    if declared.is_user() {
        fields.extend(BuiltIn::USER.iter().map(|built_in| built_in.field_name()));
    }
    for built_in in BuiltIn::RECORD {
        fields.remove(built_in.field_name());
    }
    fields
}
