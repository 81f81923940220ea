//! The emulator's data, in one place: every entity's live records and trash behind one lock,
//! shared by the HTTP handlers, the background writer and tests ([`StoreHandle`]). Owns loading
//! an app's `data/<Entity>.jsonl` files and the write rules Base44 applies: new ObjectId-like
//! ids, the built-in fields (`created_by` for whom a [`Creator`] names), dropping fields the
//! schema does not declare, merging updates, soft delete into the trash, restore and permanent
//! delete, and the query-wide writes (`update-many` with an update document, `delete-many`).
//! Each write of the API passes a [`WriteGuard`] (the access rules, in `access`) the records it
//! would change and write before anything changes, so a refusal writes nothing; each table
//! keeps its entity's rules, and the store is the `$query` source of the rules.
//!
//! The query-wide writes match like PostgreSQL's `UPDATE`/`DELETE ... WHERE` under row level
//! security: the records the query matches and the guard admits (readable, and allowed by the
//! operation's rule) are the ones written; the others are skipped silently, not refused. An
//! update-many then writes its batch (the first matches in (`created_date`, `id`) order, the
//! order of [`StoreHandle::live_records`]) all or nothing: one record the update cannot be
//! applied to (400) or whose new value the guard refuses (403, `WITH CHECK`) writes nothing.
//!
//! Records are kept exactly as loaded or written (`serde_json` maps in insertion order), as
//! `records` keeps them: their JSON text, their `created_date`/`updated_date` parsed to instants
//! for bounds and ordering, and the pull order as an index. Timestamps written
//! here are in the stored form (6 fractional digits, no `Z`) and have millisecond precision, as
//! the platform's are; the HTTP layer turns a fresh record's timestamps into the `Z` form.
//!
//! One file: every write (create, bulk, update, update-many, upsert, delete, delete-many,
//! restore), as the key or as a caller held to the access rules, goes through the same helpers
//! over the records, the trash and the list order; split, each write would reach into the
//! others' state.

use crate::error::{ApiError, EmulatorError};
use crate::records::{Records, Stored};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use offbase_base44::query::Filter;
use offbase_base44::rls::{EntityRules, RecordSource};
use offbase_base44::update::{Change, UpdateDocument};
use offbase_base44::upsert::UpsertRequest;
use offbase_model::time::format_stored;
use offbase_model::{App, BuiltIn, Entity};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

/// One record: field name to value, in the order written.
pub type Record = Map<String, Value>;

/// The user id put in `created_by_id` on records the emulator creates.
pub const EMULATOR_USER_ID: &str = "6650e44a0000000000000001";

/// The most records one bulk update may change (the platform's limit).
pub use offbase_base44::api::BULK_UPDATE_MAX;

/// Why a store operation was refused. Each maps to one HTTP status ([`StoreError::status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("entity `{0}` does not exist in this app: check the name's spelling and case")]
    UnknownEntity(String),
    #[error("no live {entity} record has the id `{id}`")]
    NotFound { entity: String, id: String },
    #[error("the {entity} trash holds no record with the id `{id}`")]
    NotInTrash { entity: String, id: String },
    #[error("the {0} entity has no trash: deleted users are removed outright")]
    NoTrash(String),
    #[error("{0}")]
    InvalidBody(String),
    #[error("a bulk update takes at most {max} records, this one has {count}: split it")]
    TooManyRecords { count: usize, max: usize },
    /// An access rule refused the write (the message says which).
    #[error("{0}")]
    Forbidden(String),
    /// The write names one record and several answer to it (an upsert's key).
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// The HTTP status the platform answers with.
    pub fn status(&self) -> u16 {
        match self {
            StoreError::UnknownEntity(_)
            | StoreError::NotFound { .. }
            | StoreError::NotInTrash { .. }
            | StoreError::NoTrash(_) => 404,
            StoreError::InvalidBody(_) | StoreError::TooManyRecords { .. } => 400,
            StoreError::Forbidden(_) => 403,
            StoreError::Conflict(_) => 409,
        }
    }
}

/// The store's refusal as an HTTP error answer, with [`StoreError::status`].
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, error.to_string())
    }
}

/// One entity's records.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) entity: Entity,
    /// The access rules of the entity (with the platform's built-in `User` rules).
    pub(crate) rules: EntityRules,
    /// Fields a write may set: the declared ones (and the user built-ins on `User`), never
    /// the record built-ins.
    writable: HashSet<String>,
    pub(crate) live: Records,
    pub(crate) trash: Records,
    /// Bumped by every write, so the unsorted list order changes whenever the entity does.
    pub(crate) generation: u64,
}

impl Table {
    fn new(entity: Entity) -> Self {
        let record_built_ins: Vec<&str> = BuiltIn::RECORD
            .iter()
            .map(|built_in| built_in.field_name())
            .collect();
        let mut writable: HashSet<String> = entity
            .fields
            .iter()
            .map(|field| field.name.clone())
            .collect();
        if entity.is_user() {
            writable.extend(BuiltIn::USER.iter().map(|b| b.field_name().to_owned()));
        }
        writable.retain(|name| !record_built_ins.contains(&name.as_str()));
        Table {
            rules: EntityRules::of(&entity),
            entity,
            writable,
            live: Records::default(),
            trash: Records::default(),
            generation: 0,
        }
    }

    /// `User` has no trash: the platform removes users outright.
    pub(crate) fn has_trash(&self) -> bool {
        !self.entity.is_user()
    }

    fn touch(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    fn live_record(&self, id: &str) -> Result<Record, StoreError> {
        self.live
            .get(id)
            .map(Stored::record)
            .ok_or_else(|| StoreError::NotFound {
                entity: self.entity.name.clone(),
                id: id.to_owned(),
            })
    }

    /// Copies the writable fields of `fields` into `record`, dropping the rest silently.
    fn merge(&self, record: &mut Record, fields: &Record) {
        for (name, value) in fields {
            if self.writable.contains(name) {
                record.insert(name.clone(), value.clone());
            }
        }
    }
}

/// Every entity of the app, and what new ids are drawn from.
#[derive(Debug)]
pub(crate) struct Store {
    tables: BTreeMap<String, Table>,
    ids: StdRng,
    created_by: String,
}

impl Store {
    /// Empty tables for every entity of `app`, filled from `data_dir/<Entity>.jsonl` where
    /// such a file exists. A data file naming no entity is ignored.
    pub(crate) fn load(
        app: &App,
        data_dir: &Path,
        created_by: String,
        seed: u64,
    ) -> Result<Store, EmulatorError> {
        let mut tables = BTreeMap::new();
        for entity in &app.entities {
            let mut table = Table::new(entity.clone());
            let path = data_dir.join(format!("{}.jsonl", entity.name));
            if path.is_file() {
                read_records(&path, &mut table)?;
            }
            tables.insert(entity.name.clone(), table);
        }
        Ok(Store {
            tables,
            ids: StdRng::seed_from_u64(seed),
            created_by,
        })
    }

    pub(crate) fn entity_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    pub(crate) fn table(&self, entity: &str) -> Result<&Table, StoreError> {
        self.tables
            .get(entity)
            .ok_or_else(|| StoreError::UnknownEntity(entity.to_owned()))
    }

    fn table_mut(&mut self, entity: &str) -> Result<&mut Table, StoreError> {
        self.tables
            .get_mut(entity)
            .ok_or_else(|| StoreError::UnknownEntity(entity.to_owned()))
    }

    /// Creates one record from a flat object. Returns the record as stored.
    pub(crate) fn create(
        &mut self,
        entity: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Record, StoreError> {
        self.create_as(entity, body, now, None, &Unguarded)
    }

    /// Creates one record for `creator` (`None`: the emulator's own `created_by`), if `guard`
    /// lets it.
    pub(crate) fn create_as(
        &mut self,
        entity: &str,
        body: &Value,
        now: DateTime<Utc>,
        creator: Option<&Creator>,
        guard: &dyn WriteGuard,
    ) -> Result<Record, StoreError> {
        let fields = as_record(body, "a new record")?;
        let record = self.new_record(entity, fields, now, creator)?;
        guard.written(&record, &self.table(entity)?.set_fields(fields, None))?;
        self.insert(entity, record)
    }

    /// Creates every record of an array for `creator`, or none when one is not an object or
    /// `guard` refuses one (all or nothing).
    pub(crate) fn create_many_as(
        &mut self,
        entity: &str,
        body: &Value,
        now: DateTime<Utc>,
        creator: Option<&Creator>,
        guard: &dyn WriteGuard,
    ) -> Result<Vec<Record>, StoreError> {
        self.table(entity)?;
        let items = as_array(body, "a bulk create")?;
        let fields = items
            .iter()
            .enumerate()
            .map(|(index, item)| as_record(item, &format!("record {index} of the array")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut records = Vec::with_capacity(fields.len());
        for (index, fields) in fields.into_iter().enumerate() {
            let record = self.new_record(entity, fields, now, creator)?;
            guard
                .written(&record, &self.table(entity)?.set_fields(fields, None))
                .map_err(|error| error.in_item(index))?;
            records.push(record);
        }
        records
            .into_iter()
            .map(|record| self.insert(entity, record))
            .collect()
    }

    /// A new record of `entity` as a create would store it (a fresh id, the built-ins, the
    /// writable fields of `fields`), not stored yet.
    fn new_record(
        &mut self,
        entity: &str,
        fields: &Record,
        now: DateTime<Utc>,
        creator: Option<&Creator>,
    ) -> Result<Record, StoreError> {
        let table = self
            .tables
            .get(entity)
            .ok_or_else(|| StoreError::UnknownEntity(entity.to_owned()))?;
        let id = loop {
            let candidate = new_id(&mut self.ids, now);
            if !table.live.contains_key(&candidate) && !table.trash.contains_key(&candidate) {
                break candidate;
            }
        };
        let stamp = Value::String(format_stored(now));
        let mut record = Record::new();
        record.insert("id".to_owned(), Value::String(id));
        record.insert("created_date".to_owned(), stamp.clone());
        record.insert("updated_date".to_owned(), stamp);
        if !table.entity.is_user() {
            let (created_by, created_by_id) = match creator {
                Some(creator) => (creator.email.clone(), creator.id.clone()),
                None => (
                    Value::String(self.created_by.clone()),
                    Value::String(EMULATOR_USER_ID.to_owned()),
                ),
            };
            record.insert("created_by".to_owned(), created_by);
            record.insert("created_by_id".to_owned(), created_by_id);
            record.insert("is_sample".to_owned(), Value::Bool(false));
        }
        table.merge(&mut record, fields);
        Ok(record)
    }

    /// Stores a record [`Store::new_record`] made.
    fn insert(&mut self, entity: &str, record: Record) -> Result<Record, StoreError> {
        let table = self.table_mut(entity)?;
        let id = record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        table.live.insert(id, Stored::new(&record));
        table.touch();
        Ok(record)
    }

    /// Merges a flat object into a live record and bumps its `updated_date`.
    pub(crate) fn update(
        &mut self,
        entity: &str,
        id: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Record, StoreError> {
        self.update_as(entity, id, body, now, &Unguarded)
    }

    /// Merges a flat object into a live record if `guard` lets it change the stored record and
    /// write the merged one.
    pub(crate) fn update_as(
        &mut self,
        entity: &str,
        id: &str,
        body: &Value,
        now: DateTime<Utc>,
        guard: &dyn WriteGuard,
    ) -> Result<Record, StoreError> {
        let fields = as_record(body, "an update")?;
        let table = self.table_mut(entity)?;
        let old = table.live_record(id)?;
        guard.stored(id, &old)?;
        let new = table.merged(&old, fields, now);
        guard.written(&new, &table.set_fields(fields, Some(&old)))?;
        Ok(table.replace(id, new))
    }

    /// Updates every record of `[{id, ...}]`, or none when one is refused: at most
    /// [`BULK_UPDATE_MAX`] records, each id once and live, each let through by `guard`.
    pub(crate) fn update_many_as(
        &mut self,
        entity: &str,
        body: &Value,
        now: DateTime<Utc>,
        guard: &dyn WriteGuard,
    ) -> Result<Vec<Record>, StoreError> {
        let table = self.table_mut(entity)?;
        let items = as_array(body, "a bulk update")?;
        if items.len() > BULK_UPDATE_MAX {
            return Err(StoreError::TooManyRecords {
                count: items.len(),
                max: BULK_UPDATE_MAX,
            });
        }
        let mut seen = HashSet::new();
        let mut updates = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let fields = as_record(item, &format!("record {index} of the array"))?;
            let Some(id) = fields.get("id").and_then(Value::as_str) else {
                return Err(StoreError::InvalidBody(format!(
                    "record {index} of the array has no string `id`: each update names the \
                     record it changes"
                )));
            };
            if !seen.insert(id) {
                return Err(StoreError::InvalidBody(format!(
                    "the id `{id}` appears more than once: send each record once"
                )));
            }
            let old = table.live_record(id)?;
            guard
                .stored(id, &old)
                .map_err(|error| error.in_item(index))?;
            let new = table.merged(&old, fields, now);
            guard
                .written(&new, &table.set_fields(fields, Some(&old)))
                .map_err(|error| error.in_item(index))?;
            updates.push((id, new));
        }
        Ok(updates
            .into_iter()
            .map(|(id, new)| table.replace(id, new))
            .collect())
    }

    /// Applies an update document to the live records of `entity` that `filter` matches and
    /// `guard` admits, the first `batch` of them in (`created_date`, `id`) order, each with
    /// `updated_date` bumped, all or nothing. Changes to fields a write may not set (undeclared
    /// ones) are dropped, as [`Store::update_as`] drops them.
    pub(crate) fn update_matching_as(
        &mut self,
        entity: &str,
        filter: &Filter,
        update: &UpdateDocument,
        now: DateTime<Utc>,
        batch: usize,
        guard: &dyn WriteGuard,
    ) -> Result<UpdatedBatch, StoreError> {
        let table = self.table_mut(entity)?;
        let matched = table.matching(filter, guard)?;
        let has_more = matched.len() > batch;
        let mut updates = Vec::with_capacity(matched.len().min(batch));
        for id in matched.into_iter().take(batch) {
            let old = table.live_record(&id)?;
            guard.stored(&id, &old)?;
            let changes = update.changes(&old, now).map_err(|error| {
                StoreError::InvalidBody(format!(
                    "the update cannot be applied to the record `{id}`, so nothing was \
                     changed: {error}"
                ))
            })?;
            let (new, set) = table.changed(&old, &changes, now);
            guard.written(&new, &set)?;
            updates.push((id, new));
        }
        let updated = updates.len();
        for (id, new) in updates {
            table.replace(&id, new);
        }
        Ok(UpdatedBatch { updated, has_more })
    }

    /// Writes an upsert (`offbase_base44::upsert`): each record updates the one live record
    /// its key finds among those `updating` admits (read and update allowed), or is created
    /// for `creator` under `creating`; all or nothing. Returns the written records in the
    /// request's order, each with whether it was created.
    pub(crate) fn upsert_as(
        &mut self,
        entity: &str,
        request: &UpsertRequest,
        now: DateTime<Utc>,
        creator: Option<&Creator>,
        creating: &dyn WriteGuard,
        updating: &dyn WriteGuard,
    ) -> Result<Vec<(Record, bool)>, StoreError> {
        let table = self.table(entity)?;
        if let Some(field) = request
            .key
            .iter()
            .find(|field| !table.writable.contains(*field))
        {
            return Err(StoreError::InvalidBody(format!(
                "the key field `{field}` is not a field of {entity}: an upsert's key is one of \
                 the entity's own fields"
            )));
        }
        let mut targets = Vec::with_capacity(request.records.len());
        for (index, record) in request.records.iter().enumerate() {
            let query = request.key_query(record);
            let filter = offbase_base44::query::parse_filter(&query)
                .map_err(|error| StoreError::InvalidBody(format!("record {index}: {error}")))?;
            let matched = table.matching(&filter, updating)?;
            if matched.len() > 1 {
                return Err(StoreError::Conflict(format!(
                    "record {index} of `records`: {} {entity} records have the key {query}: an \
                     upsert's key must identify one record",
                    matched.len()
                )));
            }
            targets.push(matched.into_iter().next());
        }
        let mut written = Vec::with_capacity(targets.len());
        for (index, (fields, target)) in request.records.iter().zip(targets).enumerate() {
            match target {
                Some(id) => {
                    let table = self.table(entity)?;
                    let old = table.live_record(&id)?;
                    updating
                        .stored(&id, &old)
                        .map_err(|error| error.in_item(index))?;
                    let new = table.merged(&old, fields, now);
                    updating
                        .written(&new, &table.set_fields(fields, Some(&old)))
                        .map_err(|error| error.in_item(index))?;
                    written.push((Some(id), new));
                }
                None => {
                    let new = self.new_record(entity, fields, now, creator)?;
                    creating
                        .written(&new, &self.table(entity)?.set_fields(fields, None))
                        .map_err(|error| error.in_item(index))?;
                    written.push((None, new));
                }
            }
        }
        let mut records = Vec::with_capacity(written.len());
        for (id, record) in written {
            match id {
                Some(id) => records.push((self.table_mut(entity)?.replace(&id, record), false)),
                None => records.push((self.insert(entity, record)?, true)),
            }
        }
        Ok(records)
    }

    /// Soft-deletes every live record of `entity` that `filter` matches and `guard` admits
    /// (users are removed outright). Returns how many.
    pub(crate) fn delete_matching_as(
        &mut self,
        entity: &str,
        filter: &Filter,
        guard: &dyn WriteGuard,
    ) -> Result<usize, StoreError> {
        let table = self.table_mut(entity)?;
        let matched = table.matching(filter, guard)?;
        for id in &matched {
            guard.stored(id, &table.live_record(id)?)?;
        }
        for id in &matched {
            if let Some(stored) = table.live.remove(id)
                && table.has_trash()
            {
                table.trash.insert(id.clone(), stored);
            }
        }
        if !matched.is_empty() {
            table.touch();
        }
        Ok(matched.len())
    }

    /// Soft delete: the record moves to the trash (users are removed outright).
    pub(crate) fn delete(&mut self, entity: &str, id: &str) -> Result<(), StoreError> {
        self.delete_as(entity, id, &Unguarded)
    }

    /// Soft delete, if `guard` lets the stored record go.
    pub(crate) fn delete_as(
        &mut self,
        entity: &str,
        id: &str,
        guard: &dyn WriteGuard,
    ) -> Result<(), StoreError> {
        let table = self.table_mut(entity)?;
        guard.stored(id, &table.live_record(id)?)?;
        if let Some(stored) = table.live.remove(id)
            && table.has_trash()
        {
            table.trash.insert(id.to_owned(), stored);
        }
        table.touch();
        Ok(())
    }

    /// The live `User` record with this id.
    pub(crate) fn user_record(&self, id: &str) -> Option<Record> {
        self.tables
            .get("User")
            .and_then(|table| table.live.get(id))
            .map(Stored::record)
    }

    /// The live `User` records whose `email` is `email` (ASCII case ignored), by id.
    pub(crate) fn users_with_email(&self, email: &str) -> Vec<Record> {
        self.tables
            .get("User")
            .map(|table| {
                table
                    .live
                    .values()
                    .map(Stored::record)
                    .filter(|record| {
                        record
                            .get("email")
                            .and_then(Value::as_str)
                            .is_some_and(|found| found.eq_ignore_ascii_case(email.trim()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Brings a record back from the trash, same id and fields.
    pub(crate) fn restore(&mut self, entity: &str, id: &str) -> Result<Record, StoreError> {
        let table = self.table_mut(entity)?;
        if !table.has_trash() {
            return Err(StoreError::NoTrash(entity.to_owned()));
        }
        let stored = table
            .trash
            .remove(id)
            .ok_or_else(|| StoreError::NotInTrash {
                entity: entity.to_owned(),
                id: id.to_owned(),
            })?;
        let record = stored.record();
        table.live.insert(id.to_owned(), stored);
        table.touch();
        Ok(record)
    }

    /// Erases a record from the trash for good. Only a trashed record can be erased.
    pub(crate) fn purge(&mut self, entity: &str, id: &str) -> Result<(), StoreError> {
        let table = self.table_mut(entity)?;
        if !table.has_trash() {
            return Err(StoreError::NoTrash(entity.to_owned()));
        }
        if table.trash.remove(id).is_none() {
            return Err(StoreError::NotInTrash {
                entity: entity.to_owned(),
                id: id.to_owned(),
            });
        }
        table.touch();
        Ok(())
    }
}

/// `$query` sub-queries of access rules read the live records.
impl RecordSource for Store {
    fn visit_records(&self, entity: &str, visit: &mut dyn FnMut(&Record)) -> bool {
        match self.tables.get(entity) {
            Some(table) => {
                table
                    .live
                    .values()
                    .for_each(|stored| visit(&stored.record()));
                true
            }
            None => false,
        }
    }
}

/// Who a create is made for: the `created_by` and `created_by_id` it stamps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Creator {
    pub(crate) email: Value,
    pub(crate) id: Value,
}

/// What one update-many request wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UpdatedBatch {
    /// Records updated (at most the batch size).
    pub(crate) updated: usize,
    /// Whether more records matched than the batch took.
    pub(crate) has_more: bool,
}

/// What a write must pass before the store changes (access rules); refusals are
/// [`StoreError::Forbidden`] or, for a record the caller cannot see, [`StoreError::NotFound`].
pub(crate) trait WriteGuard {
    /// Whether a query-wide write (update-many, delete-many) takes this stored record: `false`
    /// skips it silently (the caller may not read it, or the operation's rule does not allow
    /// it), as row level security filters rows; an error refuses the whole request (a rule
    /// that cannot be evaluated).
    fn admits(&self, record: &Record) -> Result<bool, StoreError>;
    /// The stored record an update or delete changes.
    fn stored(&self, id: &str, record: &Record) -> Result<(), StoreError>;
    /// The record a create or update writes, and the fields it sets (an update: to a value
    /// other than the stored one).
    fn written(&self, record: &Record, set: &[String]) -> Result<(), StoreError>;
}

/// No checks: the API key, the background writer, tests.
pub(crate) struct Unguarded;

impl WriteGuard for Unguarded {
    fn admits(&self, _: &Record) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn stored(&self, _: &str, _: &Record) -> Result<(), StoreError> {
        Ok(())
    }

    fn written(&self, _: &Record, _: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
}

impl StoreError {
    /// The refusal of one item of a bulk write, naming it.
    fn in_item(self, index: usize) -> StoreError {
        match self {
            StoreError::Forbidden(message) => {
                StoreError::Forbidden(format!("record {index} of the array: {message}"))
            }
            other => other,
        }
    }
}

impl Table {
    /// `record` with the writable fields of `fields` merged in and `updated_date` bumped.
    fn merged(&self, record: &Record, fields: &Record, now: DateTime<Utc>) -> Record {
        let mut record = record.clone();
        self.merge(&mut record, fields);
        record.insert("updated_date".to_owned(), Value::String(format_stored(now)));
        record
    }

    /// The writable fields `fields` sets: on an update (`old`), only to a value other than the
    /// stored one.
    fn set_fields(&self, fields: &Record, old: Option<&Record>) -> Vec<String> {
        fields
            .iter()
            .filter(|(name, value)| {
                self.writable.contains(*name)
                    && old.is_none_or(|old| old.get(*name) != Some(*value))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// `record` with the `changes` of an update document to writable fields applied and
    /// `updated_date` bumped, and the fields it changes.
    fn changed(
        &self,
        record: &Record,
        changes: &[(String, Change)],
        now: DateTime<Utc>,
    ) -> (Record, Vec<String>) {
        let mut record = record.clone();
        let mut set = Vec::with_capacity(changes.len());
        for (name, change) in changes {
            if !self.writable.contains(name) {
                continue;
            }
            match change {
                Change::Set(value) => {
                    record.insert(name.clone(), value.clone());
                }
                Change::Unset => {
                    record.shift_remove(name);
                }
            }
            set.push(name.clone());
        }
        record.insert("updated_date".to_owned(), Value::String(format_stored(now)));
        (record, set)
    }

    /// The ids of the live records `filter` matches and `guard` admits, in (`created_date` as
    /// an instant, `id`) order; records without a readable `created_date` first.
    fn matching(&self, filter: &Filter, guard: &dyn WriteGuard) -> Result<Vec<String>, StoreError> {
        let mut matched = Vec::new();
        for (id, stored) in self.live.iter() {
            let record = stored.record();
            if filter.matches(&record) && guard.admits(&record)? {
                matched.push((id, stored.created));
            }
        }
        matched.sort_by(|(left_id, left), (right_id, right)| {
            left.cmp(right).then_with(|| left_id.cmp(right_id))
        });
        Ok(matched.into_iter().map(|(id, _)| id.clone()).collect())
    }

    /// Stores `record` under `id` in place of the live one.
    fn replace(&mut self, id: &str, record: Record) -> Record {
        self.live.insert(id.to_owned(), Stored::new(&record));
        self.touch();
        record
    }
}

fn as_record<'a>(body: &'a Value, what: &str) -> Result<&'a Record, StoreError> {
    offbase_base44::api::body_record(body, what).map_err(StoreError::InvalidBody)
}

fn as_array<'a>(body: &'a Value, what: &str) -> Result<&'a Vec<Value>, StoreError> {
    offbase_base44::api::body_array(body, what).map_err(StoreError::InvalidBody)
}

/// An ObjectId-like id: 8 hex digits of the creation second, then 16 random hex digits.
fn new_id(rng: &mut StdRng, now: DateTime<Utc>) -> String {
    let seconds = u32::try_from(now.timestamp()).unwrap_or(u32::MAX);
    format!("{seconds:08x}{:016x}", rng.random::<u64>())
}

/// Now, to the millisecond (the platform's precision, so the fresh `...sssZ` form and the stored
/// form name the same instant).
pub(crate) fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

fn read_records(path: &Path, table: &mut Table) -> Result<(), EmulatorError> {
    use std::io::BufRead;
    let shown = path.display().to_string();
    let unreadable = |source| EmulatorError::DataRead {
        path: shown.clone(),
        source,
    };
    // Line by line: a data file of ten million records is read in the memory of one.
    let file = std::fs::File::open(path).map_err(unreadable)?;
    for (index, line) in std::io::BufReader::with_capacity(1 << 20, file)
        .lines()
        .enumerate()
    {
        let line = line.map_err(unreadable)?;
        let line_number = index + 1;
        let bad = |message: String| EmulatorError::DataFile {
            path: shown.clone(),
            line: line_number,
            message,
        };
        // A byte order mark (a file saved by an editor) is no part of the first record.
        let line = match index {
            0 => line.strip_prefix('\u{feff}').unwrap_or(&line),
            _ => &line,
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|error| bad(format!("not a JSON record: {error}")))?;
        let Value::Object(record) = value else {
            return Err(bad(format!(
                "a record must be a JSON object, found {}",
                offbase_model::json_kind(&value)
            )));
        };
        let Some(id) = record.get("id").and_then(Value::as_str).map(str::to_owned) else {
            return Err(bad("the record has no string `id`".to_owned()));
        };
        if table.live.contains_key(&id) {
            return Err(bad(format!(
                "the id `{id}` appears twice in the file: each record needs its own id"
            )));
        }
        table.live.insert(id, Stored::new(&record));
    }
    Ok(())
}

/// A handle on the live data of a running emulator, for tests: read what clients would see,
/// and change it the way the API does (same rules, same timestamps). Cheap to clone.
#[derive(Clone)]
pub struct StoreHandle {
    store: Arc<RwLock<Store>>,
}

impl fmt::Debug for StoreHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("StoreHandle")
            .field("entities", &self.entity_names())
            .finish()
    }
}

impl StoreHandle {
    pub(crate) fn new(store: Store) -> Self {
        StoreHandle {
            store: Arc::new(RwLock::new(store)),
        }
    }

    pub(crate) fn read<R>(&self, reader: impl FnOnce(&Store) -> R) -> R {
        // Writes are applied whole before they return, so data behind a poisoned lock is
        // still consistent.
        let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
        reader(&store)
    }

    pub(crate) fn write<R>(&self, writer: impl FnOnce(&mut Store) -> R) -> R {
        let mut store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        writer(&mut store)
    }

    /// The app's entity names, sorted.
    pub fn entity_names(&self) -> Vec<String> {
        self.read(Store::entity_names)
    }

    /// The live (not deleted) records of `entity` as the API returns them, in
    /// (`created_date` as an instant, `id`) order; records without a readable `created_date`
    /// come first. Empty for an unknown entity.
    pub fn live_records(&self, entity: &str) -> Vec<Record> {
        self.read(|store| {
            let Ok(table) = store.table(entity) else {
                return Vec::new();
            };
            let mut records: Vec<(&String, &Stored)> = table.live.iter().collect();
            records.sort_by(|(left_id, left), (right_id, right)| {
                left.created
                    .cmp(&right.created)
                    .then_with(|| left_id.cmp(right_id))
            });
            records
                .into_iter()
                .map(|(_, stored)| stored.record())
                .collect()
        })
    }

    /// The ids of the live records of `entity`.
    pub fn live_ids(&self, entity: &str) -> BTreeSet<String> {
        self.read(|store| {
            store
                .table(entity)
                .map(|table| table.live.keys().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// The ids of the records in the trash of `entity`.
    pub fn trash_ids(&self, entity: &str) -> BTreeSet<String> {
        self.read(|store| {
            store
                .table(entity)
                .map(|table| table.trash.keys().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// The records in the trash of `entity`, by id. Empty for an unknown entity.
    pub fn trash_records(&self, entity: &str) -> Vec<Record> {
        self.read(|store| {
            store
                .table(entity)
                .map(|table| table.trash.values().map(Stored::record).collect())
                .unwrap_or_default()
        })
    }

    /// One live record, as stored.
    pub fn record(&self, entity: &str, id: &str) -> Option<Record> {
        self.read(|store| {
            store
                .table(entity)
                .ok()
                .and_then(|table| table.live.get(id))
                .map(Stored::record)
        })
    }

    /// Creates a record as `POST` does. Returns it as stored.
    pub fn create(&self, entity: &str, fields: Record) -> Result<Record, StoreError> {
        self.write(|store| store.create(entity, &Value::Object(fields), now_millis()))
    }

    /// Merges fields into a live record as `PUT` does. Returns it as stored.
    pub fn update(&self, entity: &str, id: &str, fields: Record) -> Result<Record, StoreError> {
        self.write(|store| store.update(entity, id, &Value::Object(fields), now_millis()))
    }

    /// Moves a live record to the trash as `DELETE` does.
    pub fn delete(&self, entity: &str, id: &str) -> Result<(), StoreError> {
        self.write(|store| store.delete(entity, id))
    }

    /// Removes a record from the trash for good, as `DELETE .../permanent` does.
    pub fn purge(&self, entity: &str, id: &str) -> Result<(), StoreError> {
        self.write(|store| store.purge(entity, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use offbase_model::{SchemaSource, SourceLayout};

    /// Regression: a data file saved with a byte order mark failed on its first record.
    #[test]
    fn a_data_file_that_starts_with_a_bom_reads_its_first_record() {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = folder.path().join("Task.jsonl");
        std::fs::write(&path, "\u{feff}{\"id\":\"a\"}\n{\"id\":\"b\"}\n")
            .unwrap_or_else(|error| panic!("{error}"));
        let mut table = Table::new(Entity {
            name: "Task".into(),
            source: SchemaSource {
                path: "Task.jsonc".into(),
                layout: SourceLayout::Base44Entities,
            },
            title: None,
            description: None,
            fields: Vec::new(),
            rls: None,
            extra: Default::default(),
        });
        if let Err(error) = read_records(&path, &mut table) {
            panic!("{error}");
        }
        assert_eq!(table.live.keys().collect::<Vec<_>>(), ["a", "b"]);
    }
}
