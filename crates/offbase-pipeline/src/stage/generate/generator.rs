//! A deterministic, seeded record generator: plausible records for any planned schema, for load
//! tests and benchmarks.
//!
//! Record `i` of entity `E` depends only on the seed, `E` and `i` (and, for its references, on
//! how many records the referenced entities get), so any record can be made on its own, in any
//! order, without making the ones before it. Values fit the planned columns (type, `CHECK`,
//! enum type, `NOT NULL`) and every foreign key names a record the generator also makes, so a
//! load of the generated records has no rejects and no orphans.
//!
//! `created_date` grows with the index (a fixed base plus [`STEP_SECONDS`] per record, less
//! past a million records so they all fit [`SPAN_SECONDS`]), so index order is pull order
//! `(created_date, id)`.
//!
//! This file owns the entry points ([`Generator`], [`EntityGenerator`], [`GenerateCounts`],
//! [`GenerateError`]) and what every record is made from: the seeded random stream, the key of
//! an entity's records (ids and `created_date`), and the timestamp forms. The per-field
//! generators are compiled in `specs`, one record's values are made in `values`, and the word
//! lists are in `vocabulary`.

use super::random::*;
use super::specs::{Compiler, EntityPlan};
use offbase_model::time::civil_from_days;
use offbase_model::{App, TargetSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How many records to generate per entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateCounts {
    /// Records for every entity not named in `entities`.
    pub default: u64,
    /// Per-entity counts, by entity name; they win over `default`.
    #[serde(default)]
    pub entities: BTreeMap<String, u64>,
}

impl GenerateCounts {
    /// The same count for every entity.
    pub fn uniform(default: u64) -> Self {
        GenerateCounts {
            default,
            entities: BTreeMap::new(),
        }
    }

    /// `count` records for `entity`, whatever the default.
    pub fn with(mut self, entity: impl Into<String>, count: u64) -> Self {
        self.entities.insert(entity.into(), count);
        self
    }

    /// The count for `entity`.
    pub fn count(&self, entity: &str) -> u64 {
        self.entities.get(entity).copied().unwrap_or(self.default)
    }
}

/// A generator that cannot be built, or an entity it cannot generate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "the counts name entity {entity:?}, which the app does not have (its entities: {known})"
    )]
    UnknownEntity { entity: String, known: String },
    #[error(
        "entity {entity:?} has no table in the plan (the mapping skips it or the app does not have it): there is nothing to generate for it"
    )]
    NoTable { entity: String },
}

/// Generates records for the tables of a plan. Built once per plan (every entity's field
/// generators are prepared here), then asked for any record of any planned entity.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    /// One per table that holds an entity (not junction tables), in entity-name order.
    entities: Vec<EntityPlan>,
}

/// The record generator of one entity, borrowed from a [`Generator`].
#[derive(Debug, Clone, Copy)]
pub struct EntityGenerator<'g> {
    plan: &'g EntityPlan,
}

impl Generator {
    /// Prepares the generators of every table of `target` (planned from `app`). `counts` says
    /// how many records each entity gets, which the references need: a foreign key only names
    /// records `0..count` of its target. Fails when `counts` names an entity the app lacks.
    pub fn new(
        app: &App,
        target: &TargetSchema,
        counts: &GenerateCounts,
        seed: u64,
    ) -> Result<Self, GenerateError> {
        for entity in counts.entities.keys() {
            if app.entity(entity).is_none() {
                let known: Vec<&str> = app
                    .entities
                    .iter()
                    .map(|known| known.name.as_str())
                    .collect();
                return Err(GenerateError::UnknownEntity {
                    entity: entity.clone(),
                    known: known.join(", "),
                });
            }
        }
        let keys: BTreeMap<&str, Key> = target
            .tables
            .iter()
            .filter(|table| table.junction.is_none())
            .map(|table| {
                let key = Key::new(seed, &table.entity, counts.count(&table.entity));
                (table.entity.as_str(), key)
            })
            .collect();
        let app_id = app.app_id.clone().unwrap_or_else(|| {
            format!(
                "{:08x}{:016x}",
                mix(seed ^ SALT_APP) >> 32,
                mix(mix(seed ^ SALT_APP))
            )
        });
        let compiler = Compiler {
            target,
            keys: &keys,
            app_id,
            users: keys.get("User").copied(),
        };
        let mut entities = Vec::new();
        for table in target
            .tables
            .iter()
            .filter(|table| table.junction.is_none())
        {
            let Some(entity) = app.entity(&table.entity) else {
                continue;
            };
            let Some(key) = keys.get(table.entity.as_str()).copied() else {
                continue;
            };
            entities.push(compiler.entity(entity, table, key));
        }
        entities.sort_by(|left, right| left.name.cmp(&right.name));
        Ok(Generator { seed, entities })
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The generator of `entity`, when the plan has a table for it.
    pub fn entity(&self, entity: &str) -> Option<EntityGenerator<'_>> {
        self.entities
            .binary_search_by(|plan| plan.name.as_str().cmp(entity))
            .ok()
            .and_then(|position| self.entities.get(position))
            .map(|plan| EntityGenerator { plan })
    }

    /// Every planned entity's generator, in name order.
    pub fn entities(&self) -> impl Iterator<Item = EntityGenerator<'_>> {
        self.entities.iter().map(|plan| EntityGenerator { plan })
    }

    /// Record `index` of `entity`.
    pub fn record(&self, entity: &str, index: u64) -> Result<Map<String, Value>, GenerateError> {
        self.entity(entity)
            .map(|generator| generator.record(index))
            .ok_or_else(|| GenerateError::NoTable {
                entity: entity.to_owned(),
            })
    }

    /// The id of record `index` of `entity`: what [`Generator::record`] puts in its `id`, and
    /// what references to it hold. Defined for any entity name.
    pub fn id(&self, entity: &str, index: u64) -> String {
        match self.entities.iter().find(|plan| plan.name == entity) {
            Some(plan) => plan.key.id(index),
            None => Key::new(self.seed, entity, 0).id(index),
        }
    }
}

impl<'g> EntityGenerator<'g> {
    pub fn name(&self) -> &'g str {
        &self.plan.name
    }

    /// How many records the counts give this entity.
    pub fn count(&self) -> u64 {
        self.plan.key.count
    }

    /// The id of record `index`.
    pub fn id(&self, index: u64) -> String {
        self.plan.key.id(index)
    }

    /// Record `index`: built-ins first, then the schema's fields in schema order (the
    /// workspace's canonical order). Optional fields are sometimes absent or null.
    pub fn record(&self, index: u64) -> Map<String, Value> {
        self.plan.record(index)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimestampForm {
    /// `2025-06-01T09:23:41.481000`: how Base44 returns stored records.
    Stored,
    /// `2025-06-01T09:23:41.481Z`: fresh records and JavaScript `toISOString`.
    Fresh,
    /// `2025-06-01T09:23`: a `datetime-local` input.
    Minute,
}

pub(super) fn push_date(out: &mut String, days: u64) {
    let (year, month, day) = civil_from_days(days as i64);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
}

pub(super) fn format_timestamp(micros: u64, form: TimestampForm) -> String {
    let seconds = micros / MICROS;
    let fraction = micros % MICROS;
    let of_day = seconds % DAY_SECONDS;
    let mut out = String::with_capacity(27);
    push_date(&mut out, seconds / DAY_SECONDS);
    let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    let _ = match form {
        TimestampForm::Stored => {
            write!(out, "T{hour:02}:{minute:02}:{second:02}.{fraction:06}")
        }
        TimestampForm::Fresh => write!(
            out,
            "T{hour:02}:{minute:02}:{second:02}.{:03}Z",
            fraction / 1000
        ),
        TimestampForm::Minute => write!(out, "T{hour:02}:{minute:02}"),
    };
    out
}
