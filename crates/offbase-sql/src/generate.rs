//! A deterministic, seeded record generator: plausible records for any planned schema, for load
//! tests and benchmarks.
//!
//! Record `i` of entity `E` depends only on the seed, `E` and `i` (and, for its references, on
//! how many records the referenced entities get), so any record can be made on its own, in any
//! order, without making the ones before it. Values fit the planned columns (type, `CHECK`,
//! enum type, `NOT NULL`) and every foreign key names a record the generator also makes, so a
//! load of the generated records has no rejects and no orphans.
//!
//! `created_date` grows with the index (a fixed base plus [`STEP_SECONDS`] per record), so
//! index order is pull order `(created_date, id)`.

use crate::references::{Shape, reference_stem};
use crate::values::fit_scalar;
use offbase_model::{App, BuiltIn, Check, Column, Entity, Field, FieldKind, PgType, TargetSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Seconds between the `created_date` of record `i` and record `i + 1` (each record gets a
/// random moment within its step). A million records span about 347 days.
pub const STEP_SECONDS: u64 = 30;

/// `created_date` of record 0: 2025-01-01T00:00:00Z, in seconds since the Unix epoch.
pub const BASE_SECONDS: u64 = 1_735_689_600;

/// Every 7th record carries its timestamps in the fresh form (`...481Z`), the rest in the stored
/// form (`...481000`), so both forms reach the loader.
const FRESH_EVERY: u64 = 7;

const MICROS: u64 = 1_000_000;
const STEP_MICROS: u64 = STEP_SECONDS * MICROS;
/// User date-time, date and time fields fall within 2024-01-01 and 2026-12-31.
const FIELD_BASE_SECONDS: u64 = 1_704_067_200;
const FIELD_SPAN_DAYS: u64 = 1096;
const DAY_SECONDS: u64 = 86_400;

/// Salts that give each built-in its own random stream within a record.
const SALT_CREATED: u64 = 0x6372_6561_7465_6400;
const SALT_UPDATED: u64 = 0x7570_6461_7465_6400;
const SALT_CREATOR: u64 = 0x6372_6561_746f_7200;
const SALT_PERSON: u64 = 0x7065_7273_6f6e_0000;
const SALT_ID: u64 = 0x6964_0000_0000_0000;
const SALT_APP: u64 = 0x6170_7000_0000_0000;

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
        Key::new(self.seed, entity, 0).id(index)
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

// ---------------------------------------------------------------------------------------------
// Randomness

/// The splitmix64 finalizer: a bijection on `u64` that scatters nearby inputs.
fn mix(value: u64) -> u64 {
    let mut mixed = value;
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

/// FNV-1a of a name, mixed: the salt of an entity or a field.
fn hash_name(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(hash)
}

/// A splitmix64 stream. Small and fast; not for anything but test data.
#[derive(Debug, Clone)]
struct Random {
    state: u64,
}

impl Random {
    fn new(seed: u64) -> Self {
        Random { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `low..=high` (`low` when the range is empty).
    fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        let span = (i128::from(high) - i128::from(low) + 1) as u128;
        let offset = if span > u128::from(u64::MAX) {
            u128::from(self.next())
        } else {
            u128::from(self.below(span as u64))
        };
        (i128::from(low) + offset as i128) as i64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    fn word(&mut self, words: &[&'static str]) -> &'static str {
        self.pick(words).copied().unwrap_or("item")
    }
}

// ---------------------------------------------------------------------------------------------
// Ids and timestamps

/// What identifies an entity's records: its salt (from the seed and the name) and its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    salt: u64,
    count: u64,
}

impl Key {
    fn new(seed: u64, entity: &str, count: u64) -> Self {
        Key {
            salt: mix(seed ^ hash_name(entity)),
            count,
        }
    }

    /// The seed of record `index`'s streams.
    fn record_seed(self, index: u64) -> u64 {
        mix(self.salt.wrapping_add(mix(index)))
    }

    /// Whether record `index` carries the fresh timestamp form.
    fn fresh(index: u64) -> bool {
        index % FRESH_EVERY == FRESH_EVERY - 1
    }

    /// `created_date` of record `index`, in microseconds since the epoch: a random moment in
    /// the record's own step, so the order follows the index.
    fn created_micros(self, index: u64) -> u64 {
        let jitter = mix(self.record_seed(index) ^ SALT_CREATED) % STEP_MICROS;
        let micros = (BASE_SECONDS * MICROS)
            .saturating_add(index.saturating_mul(STEP_MICROS))
            .saturating_add(jitter);
        // The fresh form shows milliseconds: keep the instant equal to what is written.
        if Key::fresh(index) {
            micros - micros % 1000
        } else {
            micros
        }
    }

    /// ObjectId-like: 8 hex of the creation second, then 16 hex of a bijection of the index,
    /// so two records of one entity never share an id.
    fn id(self, index: u64) -> String {
        let seconds = self.created_micros(index) / MICROS;
        let tail = mix(index ^ mix(self.salt ^ SALT_ID));
        format!("{:08x}{tail:016x}", seconds & 0xffff_ffff)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimestampForm {
    /// `2025-06-01T09:23:41.481000`: how Base44 returns stored records.
    Stored,
    /// `2025-06-01T09:23:41.481Z`: fresh records and JavaScript `toISOString`.
    Fresh,
    /// `2025-06-01T09:23`: a `datetime-local` input.
    Minute,
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_date(out: &mut String, days: u64) {
    let (year, month, day) = civil_from_days(days as i64);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
}

fn format_timestamp(micros: u64, form: TimestampForm) -> String {
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

// ---------------------------------------------------------------------------------------------
// Words

const WORDS: [&str; 64] = [
    "account", "action", "amber", "anchor", "apple", "atlas", "autumn", "balance", "basket",
    "beacon", "bridge", "bright", "budget", "canvas", "cedar", "center", "channel", "circle",
    "client", "cloud", "coral", "crystal", "delta", "design", "digital", "east", "echo", "engine",
    "field", "forest", "garden", "glass", "golden", "harbor", "horizon", "island", "journey",
    "lagoon", "launch", "maple", "market", "meadow", "metric", "north", "ocean", "orbit", "order",
    "pilot", "planet", "prairie", "quartz", "rapid", "river", "signal", "silver", "spring",
    "summit", "sunset", "timber", "urban", "valley", "vector", "willow", "winter",
];

#[rustfmt::skip]
const CATEGORIES: [&str; 16] = [
    "active", "pending", "general", "standard", "premium", "basic", "internal", "external",
    "primary", "secondary", "weekly", "monthly", "draft", "final", "open", "other",
];

/// (display, ASCII for emails)
#[rustfmt::skip]
const FIRST_NAMES: [(&str, &str); 24] = [
    ("Ada", "ada"), ("Alan", "alan"), ("Amara", "amara"), ("Ben", "ben"), ("Chloé", "chloe"),
    ("David", "david"), ("Elena", "elena"), ("Farid", "farid"), ("Grace", "grace"),
    ("Hiro", "hiro"), ("Ines", "ines"), ("José", "jose"), ("Kwame", "kwame"), ("Lena", "lena"),
    ("Maya", "maya"), ("Noah", "noah"), ("Olga", "olga"), ("Priya", "priya"),
    ("Rafael", "rafael"), ("Sofia", "sofia"), ("Søren", "soren"), ("Tariq", "tariq"),
    ("Yuki", "yuki"), ("Zoë", "zoe"),
];

#[rustfmt::skip]
const LAST_NAMES: [(&str, &str); 20] = [
    ("Adams", "adams"), ("Bauer", "bauer"), ("Cohen", "cohen"), ("Díaz", "diaz"),
    ("Evans", "evans"), ("Fischer", "fischer"), ("García", "garcia"), ("Haddad", "haddad"),
    ("Ito", "ito"), ("Johnson", "johnson"), ("Kowalski", "kowalski"), ("Lopez", "lopez"),
    ("Müller", "muller"), ("Nguyen", "nguyen"), ("Okafor", "okafor"), ("Patel", "patel"),
    ("Rossi", "rossi"), ("Silva", "silva"), ("Tanaka", "tanaka"), ("Wright", "wright"),
];

#[rustfmt::skip]
const DOMAINS: [&str; 4] = ["example.com", "example.org", "example.net", "mail.example.com"];

#[rustfmt::skip]
const CITIES: [&str; 12] = [
    "Lisbon", "Austin", "Nairobi", "Osaka", "Montréal", "Berlin", "Lima", "Tel Aviv", "Pune",
    "Kraków", "Melbourne", "São Paulo",
];

#[rustfmt::skip]
const COUNTRIES: [&str; 10] = [
    "Portugal", "United States", "Kenya", "Japan", "Canada", "Germany", "Peru", "Israel",
    "India", "Brazil",
];

const CURRENCIES: [&str; 6] = ["USD", "EUR", "GBP", "JPY", "BRL", "ILS"];

/// Text a migration must carry unchanged: accents, right-to-left scripts, CJK, and characters
/// outside the Basic Multilingual Plane (which take 4 bytes in UTF-8 and 2 UTF-16 units).
#[rustfmt::skip]
const NON_ASCII: [&str; 12] = [
    "café crème", "naïve façade", "Łódź", "Ñandú", "שלום עולם", "مرحبا بالعالم", "東京タワー",
    "Привет", "🚀 launch", "done ✅", "𝄞 music", "😀",
];

const FILE_EXTENSIONS: [&str; 5] = ["png", "jpg", "pdf", "webp", "csv"];

// ---------------------------------------------------------------------------------------------
// Compiled generators

/// How a text value looks, decided once per field from its format, type and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Words,
    Category,
    Title,
    Sentence,
    PersonName,
    FirstName,
    LastName,
    Handle,
    Email,
    Uri,
    Hostname,
    Uuid,
    Ipv4,
    Ipv6,
    DateTime,
    Date,
    Time,
    File,
    RichText,
    Regex,
    Phone,
    Color,
    Identifier,
    Code,
    Address,
    City,
    Country,
    Currency,
    Digits,
    Decimal,
    BooleanText,
    Base64,
}

/// A value generator for one field, an item or a nested property.
#[derive(Debug, Clone)]
enum Spec {
    /// One of these values (an enum, a CHECK, an enum type).
    Choice(Vec<Value>),
    Text {
        kind: TextKind,
        min_length: usize,
        max_length: Option<usize>,
    },
    Integer {
        low: i64,
        high: i64,
    },
    Number {
        low: f64,
        high: f64,
        decimals: u32,
    },
    Boolean,
    Timestamp,
    Date,
    Time,
    Uuid,
    /// The id of a record of another (or the same) entity.
    Reference {
        key: Key,
        same_entity: bool,
        nullable: bool,
    },
    /// Ids of records of an entity, as an array.
    References {
        key: Key,
        same_entity: bool,
    },
    Array {
        items: Box<Spec>,
        max_items: u64,
    },
    Object(Vec<Property>),
    /// A small object with no declared properties.
    FreeObject,
    /// Any JSON value.
    AnyJson,
    /// One of several declared types.
    Union(Vec<Spec>),
    Null,
}

#[derive(Debug, Clone)]
struct Property {
    name: String,
    required: bool,
    spec: Spec,
}

/// Where a built-in or field value comes from.
#[derive(Debug, Clone)]
enum Source {
    Id,
    CreatedDate,
    UpdatedDate,
    CreatedBy,
    CreatedById,
    UserEmail,
    UserFullName,
    UserRole,
    /// `true` with this percentage.
    Flag(u64),
    Constant(Value),
    Spec(Spec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// Always present and not null (`NOT NULL` or `required`).
    Always,
    /// Mostly present, sometimes null, sometimes absent.
    Optional,
}

#[derive(Debug, Clone)]
struct Slot {
    name: String,
    salt: u64,
    presence: Presence,
    source: Source,
}

#[derive(Debug, Clone)]
struct EntityPlan {
    name: String,
    key: Key,
    /// The `User` entity's key, for `created_by` and `created_by_id`.
    users: Option<Key>,
    /// The app id, for file URLs.
    app_id: String,
    slots: Vec<Slot>,
}

/// Builds the entity plans from the target model; only used by [`Generator::new`].
struct Compiler<'a> {
    target: &'a TargetSchema,
    keys: &'a BTreeMap<&'a str, Key>,
    app_id: String,
    users: Option<Key>,
}

impl Compiler<'_> {
    fn entity(&self, entity: &Entity, table: &offbase_model::Table, key: Key) -> EntityPlan {
        let mut slots = Vec::new();
        let built_ins = entity.built_ins();
        for built_in in &built_ins {
            let name = built_in.field_name();
            let column = table.column(name);
            let not_null = column.is_some_and(|column| column.not_null);
            let check = column
                .and_then(|column| column.check.as_ref())
                .filter(|check| !check.allowed.is_empty() && !check.elements);
            // Users read back without `created_by*` and `is_sample`, unless a schema insists.
            if entity.is_user()
                && matches!(
                    built_in,
                    BuiltIn::CreatedBy | BuiltIn::CreatedById | BuiltIn::IsSample
                )
                && !not_null
            {
                continue;
            }
            // A schema that re-declares a built-in with an enum constrains it (a `User` schema
            // redefining `role`): a CHECK, or an enum type under the `pg_enum` strategy.
            let constrained = column
                .filter(|column| check.is_some() || matches!(column.pg_type, PgType::Enum(_)));
            let source = match (built_in, constrained) {
                (BuiltIn::Id, _) => Source::Id,
                (BuiltIn::CreatedDate, _) => Source::CreatedDate,
                (BuiltIn::UpdatedDate, _) => Source::UpdatedDate,
                (_, Some(column)) => {
                    Source::Spec(self.scalar_spec(&built_in.field(), &column.pg_type, check, None))
                }
                (BuiltIn::CreatedBy, None) => Source::CreatedBy,
                (BuiltIn::CreatedById, None) => Source::CreatedById,
                (BuiltIn::IsSample, None) => Source::Constant(Value::Bool(false)),
                (BuiltIn::Email, None) => Source::UserEmail,
                (BuiltIn::FullName, None) => Source::UserFullName,
                (BuiltIn::Role, None) => Source::UserRole,
                (BuiltIn::Disabled, None) => Source::Flag(3),
                (BuiltIn::IsVerified, None) => Source::Flag(90),
                (BuiltIn::AppId, None) => Source::Constant(Value::String(self.app_id.clone())),
                (BuiltIn::IsService, None) => Source::Constant(Value::Bool(false)),
            };
            slots.push(Slot {
                name: name.to_owned(),
                salt: hash_name(name),
                presence: Presence::Always,
                source,
            });
        }
        for field in &entity.fields {
            if built_ins
                .iter()
                .any(|built_in| built_in.field_name() == field.name)
            {
                continue;
            }
            let column = table.column_for_field(&field.name);
            let (spec, not_null) = match column {
                Some(column) => (
                    self.column_spec(&table.name, field, column),
                    column.not_null,
                ),
                // A field the mapping skips: its values go to `_extra`, which takes any JSON.
                None => (json_spec(field), false),
            };
            slots.push(Slot {
                name: field.name.clone(),
                salt: hash_name(&field.name),
                presence: if not_null || field.required {
                    Presence::Always
                } else {
                    Presence::Optional
                },
                source: Source::Spec(spec),
            });
        }
        EntityPlan {
            name: entity.name.clone(),
            key,
            users: self.users,
            app_id: self.app_id.clone(),
            slots,
        }
    }

    /// The generator for a field stored in `column` of `table`: the column decides the shape
    /// (its type, CHECK and references), the field adds bounds, lengths, format and name.
    fn column_spec(&self, table: &str, field: &Field, column: &Column) -> Spec {
        let same_table =
            |table_name: &str, column_name: &str| table_name == table && column_name == column.name;
        // A CHECK wins over a reference: a value outside it would not load at all.
        if column.check.is_none()
            && let Some(key) = self
                .target
                .foreign_keys
                .iter()
                .find(|key| same_table(&key.table, &key.column))
            && let Some(target) = self.keys.get(key.target_entity.as_str())
        {
            return Spec::Reference {
                key: *target,
                same_entity: key.target_entity == key.entity,
                nullable: !column.not_null,
            };
        }
        if column.check.is_none()
            && let Some(reference) = self
                .target
                .array_references
                .iter()
                .find(|reference| same_table(&reference.table, &reference.column))
            && let Some(target) = self.keys.get(reference.target_entity.as_str())
        {
            return Spec::References {
                key: *target,
                same_entity: reference.target_entity == reference.entity,
            };
        }
        match &column.pg_type {
            PgType::Jsonb | PgType::Json => json_spec(field),
            PgType::Array(element) => {
                let items = field.items.as_deref();
                let item_spec = match column.check.as_ref().filter(|check| check.elements) {
                    Some(check) if !check.allowed.is_empty() => Spec::Choice(check.allowed.clone()),
                    _ => {
                        let enum_values = items
                            .and_then(|items| items.enum_values.as_deref())
                            .or(field.enum_values.as_deref());
                        let fallback;
                        let item_field = match items {
                            Some(items) => items,
                            None => {
                                fallback = Field::new(field.name.clone(), FieldKind::String);
                                &fallback
                            }
                        };
                        self.scalar_spec(item_field, element, None, enum_values)
                    }
                };
                Spec::Array {
                    items: Box::new(item_spec),
                    max_items: 4,
                }
            }
            scalar => self.scalar_spec(
                field,
                scalar,
                column.check.as_ref(),
                field.enum_values.as_deref(),
            ),
        }
    }

    /// The generator for one scalar of `pg_type`.
    fn scalar_spec(
        &self,
        field: &Field,
        pg_type: &PgType,
        check: Option<&Check>,
        enum_values: Option<&[Value]>,
    ) -> Spec {
        if let Some(check) = check.filter(|check| !check.allowed.is_empty()) {
            return Spec::Choice(check.allowed.clone());
        }
        if let PgType::Enum(name) = pg_type
            && let Some(enum_type) = self
                .target
                .enum_types
                .iter()
                .find(|enum_type| &enum_type.name == name)
            && !enum_type.values.is_empty()
        {
            return Spec::Choice(
                enum_type
                    .values
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            );
        }
        // An enum the plan does not enforce still makes plausible values: the members that
        // fit the column.
        if let Some(values) = enum_values {
            let mut fitting: Vec<Value> = Vec::new();
            for value in values.iter().filter(|value| !value.is_null()) {
                if let Ok(fitted) = fit_scalar(value, pg_type)
                    && !fitting.contains(&fitted)
                {
                    fitting.push(fitted);
                }
            }
            if !fitting.is_empty() {
                return Spec::Choice(fitting);
            }
        }
        match pg_type {
            PgType::Text | PgType::Varchar(_) | PgType::Enum(_) => {
                let limit = match pg_type {
                    PgType::Varchar(Some(length)) => Some(*length as usize),
                    _ => None,
                };
                text_spec(field, limit)
            }
            PgType::Uuid => Spec::Uuid,
            PgType::Boolean => Spec::Boolean,
            PgType::Smallint | PgType::Integer | PgType::Bigint => {
                integer_spec(field, pg_type.integer_range())
            }
            PgType::Real | PgType::DoublePrecision => number_spec(field, None),
            PgType::Numeric(precision) => number_spec(field, *precision),
            PgType::Timestamptz | PgType::Timestamp => Spec::Timestamp,
            PgType::Date => Spec::Date,
            PgType::Time => Spec::Time,
            PgType::Jsonb | PgType::Json => json_spec(field),
            // No nested arrays in a plan; words are the least surprising fallback.
            PgType::Array(_) => text_spec(field, None),
        }
    }
}

/// The generator for a value stored as JSON: the field's declared shape, followed all the way
/// down.
fn json_spec(field: &Field) -> Spec {
    let enum_values: Vec<Value> = field
        .enum_values
        .iter()
        .flatten()
        .filter(|value| !value.is_null())
        .cloned()
        .collect();
    if !enum_values.is_empty() {
        // An enum on an array names its elements (a multi-select), unless it lists arrays.
        if field.kind == FieldKind::Array && !enum_values.iter().any(Value::is_array) {
            return Spec::Array {
                items: Box::new(Spec::Choice(enum_values)),
                max_items: 3,
            };
        }
        return Spec::Choice(enum_values);
    }
    match &field.kind {
        FieldKind::String => match field.format.as_deref() {
            Some("date-time") => Spec::Timestamp,
            Some("date") => Spec::Date,
            Some("time") => Spec::Time,
            Some("uuid") => Spec::Uuid,
            _ => text_spec(field, None),
        },
        FieldKind::Integer => integer_spec(field, None),
        FieldKind::Number => number_spec(field, None),
        FieldKind::Boolean => Spec::Boolean,
        FieldKind::Binary => text_spec(field, None),
        FieldKind::Array => Spec::Array {
            items: Box::new(match field.items.as_deref() {
                Some(items) => json_spec(items),
                None => text_spec(&Field::new(field.name.clone(), FieldKind::String), None),
            }),
            max_items: 4,
        },
        FieldKind::Object => match field.properties.as_deref() {
            Some(properties) if !properties.is_empty() => Spec::Object(
                properties
                    .iter()
                    .map(|property| Property {
                        name: property.name.clone(),
                        required: property.required,
                        spec: json_spec(property),
                    })
                    .collect(),
            ),
            _ => Spec::FreeObject,
        },
        FieldKind::Any | FieldKind::Unknown(_) => Spec::AnyJson,
        FieldKind::Union(types) => {
            let specs: Vec<Spec> = types
                .iter()
                .map(|name| match name.as_str() {
                    "string" => text_spec(field, None),
                    "integer" => integer_spec(field, None),
                    "number" => number_spec(field, None),
                    "boolean" => Spec::Boolean,
                    "array" => Spec::Array {
                        items: Box::new(text_spec(field, None)),
                        max_items: 3,
                    },
                    "object" => Spec::FreeObject,
                    "null" => Spec::Null,
                    _ => Spec::AnyJson,
                })
                .collect();
            if specs.is_empty() {
                Spec::AnyJson
            } else {
                Spec::Union(specs)
            }
        }
    }
}

fn text_spec(field: &Field, limit: Option<usize>) -> Spec {
    let min_length = field.min_length.unwrap_or(0) as usize;
    let max_length = match (field.max_length.map(|length| length as usize), limit) {
        (Some(declared), Some(limit)) => Some(declared.min(limit)),
        (declared, limit) => declared.or(limit),
    };
    Spec::Text {
        kind: text_kind(field),
        min_length,
        max_length,
    }
}

/// Integers within the field's `minimum`/`maximum` and the column type's range.
fn integer_spec(field: &Field, range: Option<(i64, i64)>) -> Spec {
    let (type_low, type_high) = range.unwrap_or((i64::MIN, i64::MAX));
    let minimum = field
        .minimum
        .filter(|value| value.is_finite())
        .map(f64::ceil);
    let maximum = field
        .maximum
        .filter(|value| value.is_finite())
        .map(f64::floor);
    let (low, high) = match (minimum, maximum) {
        (Some(low), Some(high)) => (low, high),
        (Some(low), None) => (low, low + 100.0),
        (None, Some(high)) if high >= 0.0 => (0.0, high),
        (None, Some(high)) => (high - 100.0, high),
        (None, None) => (0.0, 100.0),
    };
    // `as` saturates, and the clamp keeps both ends inside the column type.
    let low = (low as i64).clamp(type_low, type_high);
    let high = (high as i64).clamp(type_low, type_high).max(low);
    Spec::Integer { low, high }
}

/// Numbers within the field's bounds and, for `numeric(p,s)`, the column's precision.
fn number_spec(field: &Field, precision: Option<(u32, u32)>) -> Spec {
    let minimum = field.minimum.filter(|value| value.is_finite());
    let maximum = field.maximum.filter(|value| value.is_finite());
    let (mut low, mut high) = match (minimum, maximum) {
        (Some(low), Some(high)) => (low, high),
        (Some(low), None) => (low, low + 1000.0),
        (None, Some(high)) if high >= 0.0 => (0.0, high),
        (None, Some(high)) => (high - 1000.0, high),
        (None, None) => (0.0, 1000.0),
    };
    let mut decimals = 2;
    if let Some((precision, scale)) = precision {
        let integer_digits = precision.saturating_sub(scale).min(15) as i32;
        let limit = 10f64.powi(integer_digits) - 10f64.powi(-(scale.min(15) as i32));
        low = low.clamp(-limit, limit);
        high = high.clamp(-limit, limit);
        decimals = scale.min(2);
    }
    let limit = 1.0e15;
    let low = low.clamp(-limit, limit);
    let high = high.clamp(-limit, limit).max(low);
    Spec::Number {
        low,
        high,
        decimals,
    }
}

/// Splits a field name into lowercase words: `profileImageUrl` → profile, image, url.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in name.chars() {
        if !character.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if character.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = character.is_lowercase() || character.is_ascii_digit();
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// What a text field holds: by its format, else its declared type, else its name.
fn text_kind(field: &Field) -> TextKind {
    if let Some(format) = field.format.as_deref() {
        let kind = match format.to_ascii_lowercase().as_str() {
            "email" | "idn-email" => Some(TextKind::Email),
            "uri" | "url" | "uri-reference" | "iri" => Some(TextKind::Uri),
            "hostname" | "idn-hostname" => Some(TextKind::Hostname),
            "uuid" => Some(TextKind::Uuid),
            "ipv4" => Some(TextKind::Ipv4),
            "ipv6" => Some(TextKind::Ipv6),
            "date-time" | "datetime" => Some(TextKind::DateTime),
            "date" => Some(TextKind::Date),
            "time" => Some(TextKind::Time),
            "file" | "image" => Some(TextKind::File),
            "richtext" | "html" => Some(TextKind::RichText),
            "regex" => Some(TextKind::Regex),
            "color" => Some(TextKind::Color),
            _ => None,
        };
        if let Some(kind) = kind {
            return kind;
        }
    }
    match field.kind {
        FieldKind::Integer => return TextKind::Digits,
        FieldKind::Number => return TextKind::Decimal,
        FieldKind::Boolean => return TextKind::BooleanText,
        FieldKind::Binary => return TextKind::Base64,
        _ => {}
    }
    let words = name_words(&field.name);
    let has = |candidates: &[&str]| words.iter().any(|word| candidates.contains(&word.as_str()));
    let last = words.last().map(String::as_str).unwrap_or_default();
    if has(&["email", "mail"]) {
        return TextKind::Email;
    }
    if last == "id" || reference_stem(&field.name).is_some_and(|(_, shape)| shape == Shape::One) {
        return TextKind::Identifier;
    }
    if has(&["name"]) && has(&["first", "given"]) {
        return TextKind::FirstName;
    }
    if has(&["surname"]) || (has(&["name"]) && has(&["last", "family"])) {
        return TextKind::LastName;
    }
    if has(&["name"]) && has(PERSON_WORDS) {
        return TextKind::PersonName;
    }
    if last == "at" {
        return TextKind::DateTime;
    }
    NAME_HINTS
        .iter()
        .find(|(candidates, _)| has(candidates))
        .map_or(TextKind::Words, |(_, kind)| *kind)
}

/// Words that make a `...name` field a person's name (`customer_name`, `assigneeName`).
#[rustfmt::skip]
const PERSON_WORDS: &[&str] = &[
    "full", "user", "customer", "contact", "client", "owner", "author", "assignee", "person",
    "member", "patient", "student", "employee", "manager", "parent", "teacher", "driver", "guest",
    "player", "doctor", "display", "sender", "recipient", "buyer", "seller",
];

/// Words in a field name that say what its text holds; the first match wins.
#[rustfmt::skip]
const NAME_HINTS: &[(&[&str], TextKind)] = &[
    (&["image", "photo", "avatar", "logo", "picture", "thumbnail", "attachment", "file",
       "document", "video", "audio", "icon", "banner", "pdf", "receipt"], TextKind::File),
    (&["url", "uri", "link", "website", "href", "homepage"], TextKind::Uri),
    (&["phone", "mobile", "tel", "telephone", "whatsapp", "fax"], TextKind::Phone),
    (&["color", "colour"], TextKind::Color),
    (&["ip"], TextKind::Ipv4),
    (&["hostname", "domain"], TextKind::Hostname),
    (&["uuid", "guid"], TextKind::Uuid),
    (&["html", "richtext"], TextKind::RichText),
    (&["username", "handle", "nickname", "slug"], TextKind::Handle),
    (&["description", "notes", "note", "content", "message", "body", "text", "comment",
       "comments", "summary", "bio", "details", "feedback", "reason", "instructions", "answer",
       "question", "prompt", "response", "story", "caption", "excerpt", "about", "remarks"],
     TextKind::Sentence),
    (&["name", "title", "subject", "headline", "label", "heading"], TextKind::Title),
    (&["address", "street"], TextKind::Address),
    (&["city", "town"], TextKind::City),
    (&["country"], TextKind::Country),
    (&["currency"], TextKind::Currency),
    (&["zip", "postal", "postcode"], TextKind::Digits),
    (&["code", "sku", "ref", "reference", "number"], TextKind::Code),
    (&["timestamp"], TextKind::DateTime),
    (&["date", "day", "birthday", "dob", "deadline"], TextKind::Date),
    (&["time"], TextKind::Time),
    (&["status", "type", "category", "kind", "level", "tag", "tags", "role", "stage", "priority",
       "state", "mode", "plan", "tier", "language", "source", "channel", "method", "unit",
       "format", "platform", "difficulty", "frequency"], TextKind::Category),
];

// ---------------------------------------------------------------------------------------------
// Generation

impl EntityPlan {
    fn record(&self, index: u64) -> Map<String, Value> {
        let record_seed = self.key.record_seed(index);
        let context = RecordContext {
            plan: self,
            index,
            record_seed,
        };
        let mut record = Map::with_capacity(self.slots.len());
        for slot in &self.slots {
            let mut random = Random::new(mix(record_seed ^ slot.salt));
            if slot.presence == Presence::Optional {
                match random.below(100) {
                    0..9 => continue,
                    9..18 => {
                        record.insert(slot.name.clone(), Value::Null);
                        continue;
                    }
                    _ => {}
                }
            }
            let value = context.source(&slot.source, &mut random);
            record.insert(slot.name.clone(), value);
        }
        record
    }
}

/// What every value of one record may need.
struct RecordContext<'a> {
    plan: &'a EntityPlan,
    index: u64,
    record_seed: u64,
}

/// A person: display first and last name, and an email made of their ASCII forms.
struct Person {
    first: &'static str,
    last: &'static str,
    email: String,
}

fn person(random: &mut Random, number: Option<u64>) -> Person {
    let (first, first_ascii) = random.pick(&FIRST_NAMES).copied().unwrap_or(("Ada", "ada"));
    let (last, last_ascii) = random
        .pick(&LAST_NAMES)
        .copied()
        .unwrap_or(("Adams", "adams"));
    let domain = random.word(&DOMAINS);
    let email = match number {
        Some(number) => format!("{first_ascii}.{last_ascii}{number}@{domain}"),
        None => format!("{first_ascii}.{last_ascii}@{domain}"),
    };
    Person { first, last, email }
}

/// User `index` of the `User` key: the same person whether it is read from the user record or
/// from a record that user created. The number keeps emails unique.
fn user_person(users: Key, index: u64) -> Person {
    let mut random = Random::new(mix(users.record_seed(index) ^ SALT_PERSON));
    person(&mut random, Some(index + 1))
}

impl RecordContext<'_> {
    fn timestamp_form(&self) -> TimestampForm {
        if Key::fresh(self.index) {
            TimestampForm::Fresh
        } else {
            TimestampForm::Stored
        }
    }

    /// The user who created this record (an index into `User`), when users are generated.
    fn creator(&self) -> Option<(Key, u64)> {
        let users = self.plan.users.filter(|users| users.count > 0)?;
        let mut random = Random::new(mix(self.record_seed ^ SALT_CREATOR));
        Some((users, random.below(users.count)))
    }

    fn source(&self, source: &Source, random: &mut Random) -> Value {
        let key = self.plan.key;
        match source {
            Source::Id => Value::String(key.id(self.index)),
            Source::CreatedDate => Value::String(format_timestamp(
                key.created_micros(self.index),
                self.timestamp_form(),
            )),
            Source::UpdatedDate => {
                let created = key.created_micros(self.index);
                let mut updated_random = Random::new(mix(self.record_seed ^ SALT_UPDATED));
                // Most records are never edited: updated_date equals created_date.
                let updated = if updated_random.percent(55) {
                    created
                } else {
                    let later = created + 1 + updated_random.below(30 * DAY_SECONDS * MICROS);
                    if Key::fresh(self.index) {
                        later - later % 1000
                    } else {
                        later
                    }
                };
                Value::String(format_timestamp(updated, self.timestamp_form()))
            }
            Source::CreatedBy => match self.creator() {
                Some((users, index)) => Value::String(user_person(users, index).email),
                None => {
                    let mut creator = Random::new(mix(self.record_seed ^ SALT_CREATOR));
                    Value::String(person(&mut creator, None).email)
                }
            },
            Source::CreatedById => match self.creator() {
                Some((users, index)) => Value::String(users.id(index)),
                None => {
                    let mut creator = Random::new(mix(self.record_seed ^ SALT_CREATOR));
                    Value::String(hex_id(&mut creator))
                }
            },
            Source::UserEmail => Value::String(user_person(key, self.index).email),
            Source::UserFullName => {
                let person = user_person(key, self.index);
                Value::String(format!("{} {}", person.first, person.last))
            }
            Source::UserRole => {
                // The first user administers the app; about one in ten others do too.
                let admin = self.index == 0 || random.percent(10);
                Value::String(if admin { "admin" } else { "user" }.to_owned())
            }
            Source::Flag(percent) => Value::Bool(random.percent(*percent)),
            Source::Constant(value) => value.clone(),
            Source::Spec(spec) => self.value(spec, random),
        }
    }

    fn reference(&self, key: Key, same_entity: bool, random: &mut Random) -> Option<String> {
        // A record refers to an earlier record of its own entity (a parent before its child),
        // which also keeps it independent of its own entity's count.
        let bound = if same_entity {
            self.index.min(key.count)
        } else {
            key.count
        };
        (bound > 0).then(|| key.id(random.below(bound)))
    }

    fn value(&self, spec: &Spec, random: &mut Random) -> Value {
        match spec {
            Spec::Choice(values) => random.pick(values).cloned().unwrap_or(Value::Null),
            Spec::Text {
                kind,
                min_length,
                max_length,
            } => {
                let text = self.text(*kind, random);
                Value::String(fit_length(text, *min_length, *max_length))
            }
            Spec::Integer { low, high } => Value::from(random.between(*low, *high)),
            Spec::Number {
                low,
                high,
                decimals,
            } => {
                let raw = low + random.unit() * (high - low);
                let scale = 10f64.powi(*decimals as i32);
                let rounded = ((raw * scale).round() / scale).clamp(*low, *high);
                if *decimals == 0 {
                    Value::from(rounded as i64)
                } else {
                    Value::from(rounded)
                }
            }
            Spec::Boolean => Value::Bool(random.percent(50)),
            Spec::Timestamp => Value::String(random_timestamp(random)),
            Spec::Date => Value::String(random_date(random)),
            Spec::Time => Value::String(random_time(random)),
            Spec::Uuid => Value::String(uuid(random)),
            Spec::Reference {
                key,
                same_entity,
                nullable,
            } => match self.reference(*key, *same_entity, random) {
                Some(id) => Value::String(id),
                None if *nullable => Value::Null,
                // NOT NULL, but nothing to point at: record 0 of the target (itself, for a
                // first record pointing at its own entity).
                None if *same_entity => Value::String(key.id(self.index)),
                None => Value::String(key.id(0)),
            },
            Spec::References { key, same_entity } => {
                let length = random.below(4);
                let ids: Vec<Value> = (0..length)
                    .filter_map(|_| self.reference(*key, *same_entity, random))
                    .map(Value::String)
                    .collect();
                Value::Array(ids)
            }
            Spec::Array { items, max_items } => {
                let length = random.below(max_items + 1);
                Value::Array((0..length).map(|_| self.value(items, random)).collect())
            }
            Spec::Object(properties) => {
                let mut object = Map::with_capacity(properties.len());
                for property in properties {
                    if !property.required {
                        match random.below(100) {
                            0..10 => continue,
                            10..14 => {
                                object.insert(property.name.clone(), Value::Null);
                                continue;
                            }
                            _ => {}
                        }
                    }
                    let value = self.value(&property.spec, random);
                    object.insert(property.name.clone(), value);
                }
                Value::Object(object)
            }
            Spec::FreeObject => free_object(random),
            Spec::AnyJson => match random.below(5) {
                0 => Value::String(words(random, 1, 3)),
                1 => Value::from(random.between(0, 1000)),
                2 => Value::Bool(random.percent(50)),
                3 => Value::Array(
                    (0..random.below(4))
                        .map(|_| Value::String(random.word(&WORDS).to_owned()))
                        .collect(),
                ),
                _ => free_object(random),
            },
            Spec::Union(specs) => match random.pick(specs) {
                Some(spec) => self.value(spec, random),
                None => Value::Null,
            },
            Spec::Null => Value::Null,
        }
    }

    fn text(&self, kind: TextKind, random: &mut Random) -> String {
        match kind {
            TextKind::Words => sprinkle(words(random, 1, 3), random),
            TextKind::Category => random.word(&CATEGORIES).to_owned(),
            TextKind::Title => sprinkle(title(random), random),
            TextKind::Sentence => {
                let mut text = sentence(random);
                if random.percent(25) {
                    // Some free text runs over two lines, as pasted notes do.
                    text.push_str(if random.percent(20) { "\n" } else { " " });
                    text.push_str(&sentence(random));
                }
                sprinkle(text, random)
            }
            TextKind::PersonName => {
                let person = person(random, None);
                sprinkle(format!("{} {}", person.first, person.last), random)
            }
            TextKind::FirstName => person(random, None).first.to_owned(),
            TextKind::LastName => person(random, None).last.to_owned(),
            TextKind::Handle => format!("{}{}", random.word(&WORDS), random.below(1000)),
            TextKind::Email => {
                let number = random.below(1000);
                person(random, Some(number)).email
            }
            TextKind::Uri => match random.below(3) {
                0 => format!(
                    "https://www.{}.example.com/{}/{}",
                    random.word(&WORDS),
                    random.word(&WORDS),
                    random.below(10_000)
                ),
                1 => format!(
                    "https://example.org/{}?ref={}",
                    random.word(&WORDS),
                    random.word(&WORDS)
                ),
                _ => format!("https://{}.example.net/", random.word(&WORDS)),
            },
            TextKind::Hostname => {
                format!("{}-{}.example.net", random.word(&WORDS), random.below(100))
            }
            TextKind::Uuid => uuid(random),
            TextKind::Ipv4 => format!(
                "{}.{}.{}.{}",
                [10, 172, 192].get(random.below(3) as usize).unwrap_or(&10),
                random.below(256),
                random.below(256),
                1 + random.below(254)
            ),
            TextKind::Ipv6 => format!(
                "2001:db8:{:x}::{:x}",
                random.below(0x10000),
                1 + random.below(0xffff)
            ),
            TextKind::DateTime => random_timestamp(random),
            TextKind::Date => random_date(random),
            TextKind::Time => random_time(random),
            TextKind::File => self.file_url(random),
            TextKind::RichText => {
                let mut html = format!("<p>{}</p>", sentence(random));
                if random.percent(50) {
                    html.push_str("<ul>");
                    for _ in 0..1 + random.below(3) {
                        let _ = write!(html, "<li>{}</li>", words(random, 1, 3));
                    }
                    html.push_str("</ul>");
                } else {
                    let _ = write!(
                        html,
                        "<p><strong>{}</strong> {}</p>",
                        capitalized(random.word(&WORDS)),
                        words(random, 2, 5)
                    );
                }
                sprinkle(html, random)
            }
            TextKind::Regex => random
                .word(&["^[a-z0-9_-]{3,16}$", "^\\d{5}$", "^[A-Z]{2}-\\d+$"])
                .to_owned(),
            TextKind::Phone => match random.below(2) {
                0 => format!(
                    "+1 555-{:03}-{:04}",
                    random.below(1000),
                    random.below(10_000)
                ),
                _ => format!("+44 20 7946 {:04}", random.below(10_000)),
            },
            TextKind::Color => format!("#{:06x}", random.below(0x100_0000)),
            TextKind::Identifier => hex_id(random),
            TextKind::Code => format!(
                "{}{}-{:04}",
                char::from(b'A' + random.below(26) as u8),
                char::from(b'A' + random.below(26) as u8),
                random.below(10_000)
            ),
            TextKind::Address => sprinkle(
                format!(
                    "{} {} Street",
                    1 + random.below(999),
                    capitalized(random.word(&WORDS))
                ),
                random,
            ),
            TextKind::City => random.word(&CITIES).to_owned(),
            TextKind::Country => random.word(&COUNTRIES).to_owned(),
            TextKind::Currency => random.word(&CURRENCIES).to_owned(),
            TextKind::Digits => format!("{:05}", random.below(100_000)),
            TextKind::Decimal => format!("{}.{:02}", random.below(1000), random.below(100)),
            TextKind::BooleanText => random.word(&["true", "false"]).to_owned(),
            TextKind::Base64 => base64(random, 12),
        }
    }

    /// A file URL in one of the shapes Base44 serves uploads from.
    fn file_url(&self, random: &mut Random) -> String {
        let app_id = &self.plan.app_id;
        let name = format!(
            "{:09x}_{}.{}",
            random.below(1 << 36),
            random.word(&WORDS),
            random.word(&FILE_EXTENSIONS)
        );
        match random.below(3) {
            0 => format!("https://base44.app/api/apps/{app_id}/files/public/{app_id}/{name}"),
            1 => format!("https://media.base44.com/images/public/{app_id}/{name}"),
            _ => format!(
                "https://exampleproject.supabase.co/storage/v1/object/public/base44-prod/public/{app_id}/{name}"
            ),
        }
    }
}

fn hex_id(random: &mut Random) -> String {
    format!(
        "{:08x}{:016x}",
        BASE_SECONDS + random.below(365 * DAY_SECONDS),
        random.next()
    )
}

fn uuid(random: &mut Random) -> String {
    let high = random.next();
    let low = random.next();
    // Version 4, variant 1, as `crypto.randomUUID()` writes them.
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0x0fff,
        0x8000 | ((low >> 48) & 0x3fff),
        low & 0xffff_ffff_ffff
    )
}

fn random_timestamp(random: &mut Random) -> String {
    let micros = FIELD_BASE_SECONDS * MICROS + random.below(FIELD_SPAN_DAYS * DAY_SECONDS * MICROS);
    let form = match random.below(10) {
        0..5 => TimestampForm::Fresh,
        5..8 => TimestampForm::Stored,
        _ => TimestampForm::Minute,
    };
    format_timestamp(micros, form)
}

fn random_date(random: &mut Random) -> String {
    let mut out = String::with_capacity(10);
    push_date(
        &mut out,
        FIELD_BASE_SECONDS / DAY_SECONDS + random.below(FIELD_SPAN_DAYS),
    );
    out
}

fn random_time(random: &mut Random) -> String {
    let (hour, minute) = (random.below(24), random.below(60));
    if random.percent(20) {
        format!("{hour:02}:{minute:02}")
    } else {
        format!("{hour:02}:{minute:02}:{:02}", random.below(60))
    }
}

/// The word with an upper-case first letter (the word lists are ASCII).
fn capitalized(word: &str) -> String {
    let mut text = word.to_owned();
    capitalize(&mut text);
    text
}

fn capitalize(text: &mut str) {
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
}

fn words(random: &mut Random, low: u64, high: u64) -> String {
    let count = low + random.below(high - low + 1);
    let mut text = String::with_capacity(count as usize * 8);
    for position in 0..count {
        if position > 0 {
            text.push(' ');
        }
        text.push_str(random.word(&WORDS));
    }
    text
}

fn title(random: &mut Random) -> String {
    let count = 2 + random.below(3);
    let mut text = String::with_capacity(40);
    for position in 0..count {
        if position > 0 {
            text.push(' ');
        }
        let start = text.len();
        text.push_str(random.word(&WORDS));
        if let Some(first) = text.get_mut(start..start + 1) {
            first.make_ascii_uppercase();
        }
    }
    text
}

fn sentence(random: &mut Random) -> String {
    let mut text = words(random, 5, 12);
    capitalize(&mut text);
    text.push('.');
    text
}

/// In a small fraction of free text, some non-ASCII: accents, right-to-left, an emoji.
fn sprinkle(text: String, random: &mut Random) -> String {
    if random.percent(4) {
        format!("{text} {}", random.word(&NON_ASCII))
    } else {
        text
    }
}

fn free_object(random: &mut Random) -> Value {
    let mut object = Map::new();
    object.insert(
        "label".to_owned(),
        Value::String(random.word(&WORDS).to_owned()),
    );
    if random.percent(60) {
        object.insert("count".to_owned(), Value::from(random.below(100)));
    }
    if random.percent(40) {
        object.insert("enabled".to_owned(), Value::Bool(random.percent(50)));
    }
    Value::Object(object)
}

fn base64(random: &mut Random, bytes: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data: Vec<u8> = (0..bytes).map(|_| random.below(256) as u8).collect();
    let mut out = String::with_capacity(bytes.div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let value = chunk
            .iter()
            .enumerate()
            .fold(0u32, |value, (position, byte)| {
                value | u32::from(*byte) << (16 - 8 * position)
            });
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (value >> (18 - 6 * position)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Pads (with words) or cuts (at a character boundary) `text` to the declared lengths,
/// counted in characters as PostgreSQL and JSON Schema count them. The maximum wins.
fn fit_length(mut text: String, min_length: usize, max_length: Option<usize>) -> String {
    let mut length = text.chars().count();
    let mut filler = WORDS.iter().cycle();
    while length < min_length {
        let word = filler.next().copied().unwrap_or("item");
        if !text.is_empty() {
            text.push(' ');
            length += 1;
        }
        text.push_str(word);
        length += word.len();
    }
    if let Some(max_length) = max_length
        && length > max_length
    {
        let cut = text
            .char_indices()
            .nth(max_length)
            .map(|(position, _)| position)
            .unwrap_or(text.len());
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{is_date, is_time, is_timestamp};
    use offbase_model::{MappingRules, SchemaSource, SourceLayout, Table};
    use serde_json::json;
    use std::collections::BTreeSet;

    fn entity(name: &str, fields: Vec<Field>) -> Entity {
        Entity {
            name: name.to_owned(),
            source: SchemaSource {
                path: format!("{name}.jsonc"),
                layout: SourceLayout::Base44Entities,
            },
            title: None,
            description: None,
            fields,
            rls: None,
            extra: BTreeMap::new(),
        }
    }

    fn declare(name: &str, kind: FieldKind, edit: impl FnOnce(&mut Field)) -> Field {
        let mut field = Field::new(name, kind);
        edit(&mut field);
        field
    }

    fn string(name: &str) -> Field {
        Field::new(name, FieldKind::String)
    }

    /// An app shaped like the samples: enums of strings and integers, formats, bounds,
    /// required fields, arrays of objects, references one and many, a self reference, a
    /// re-declared built-in and a `User` schema that redefines `role`.
    fn app() -> App {
        let task = entity(
            "Task",
            vec![
                declare("title", FieldKind::String, |declared| {
                    declared.required = true
                }),
                string("project_id"),
                declare("status", FieldKind::String, |declared| {
                    declared.enum_values =
                        Some(vec![json!("todo"), json!("in_progress"), json!("done")]);
                    declared.required = true;
                }),
                declare("priority", FieldKind::Integer, |declared| {
                    declared.enum_values = Some(vec![json!(1), json!(2), json!(3)])
                }),
                declare("due_date", FieldKind::String, |declared| {
                    declared.format = Some("date".into())
                }),
                declare("due_time", FieldKind::String, |declared| {
                    declared.format = Some("time".into())
                }),
                declare("remind_at", FieldKind::String, |declared| {
                    declared.format = Some("date-time".into())
                }),
                declare("assignee_email", FieldKind::String, |declared| {
                    declared.format = Some("email".into())
                }),
                declare("tags", FieldKind::Array, |declared| {
                    declared.items = Some(Box::new(declare("tag", FieldKind::String, |item| {
                        item.enum_values = Some(vec![json!("red"), json!("green")])
                    })))
                }),
                declare("estimateHours", FieldKind::Number, |declared| {
                    declared.minimum = Some(0.0);
                    declared.maximum = Some(40.0);
                }),
                declare("attempts", FieldKind::Integer, |declared| {
                    declared.minimum = Some(1.0);
                    declared.maximum = Some(3.0);
                    declared.required = true;
                }),
                string("parent_task_id"),
                declare("watcher_ids", FieldKind::Array, |declared| {
                    declared.items = Some(Box::new(string("id")))
                }),
                declare("checklist", FieldKind::Array, |declared| {
                    declared.items = Some(Box::new(declare("item", FieldKind::Object, |item| {
                        item.properties = Some(vec![
                            declare("text", FieldKind::String, |property| {
                                property.required = true
                            }),
                            Field::new("done", FieldKind::Boolean),
                        ])
                    })))
                }),
                declare("code", FieldKind::String, |declared| {
                    declared.min_length = Some(30);
                    declared.max_length = Some(32);
                }),
                declare("created_date", FieldKind::String, |declared| {
                    declared.format = Some("date-time".into())
                }),
                Field::new("anything", FieldKind::Any),
                declare("files", FieldKind::String, |declared| {
                    declared.format = Some("file".into())
                }),
            ],
        );
        let project = entity(
            "Project",
            vec![
                declare("name", FieldKind::String, |declared| {
                    declared.required = true;
                    declared.min_length = Some(1);
                    declared.max_length = Some(12);
                }),
                string("owner_id"),
                declare("budget", FieldKind::Number, |declared| {
                    declared.minimum = Some(100.0)
                }),
            ],
        );
        let user = entity(
            "User",
            vec![
                declare("role", FieldKind::String, |declared| {
                    declared.enum_values =
                        Some(vec![json!("admin"), json!("manager"), json!("viewer")])
                }),
                string("team"),
            ],
        );
        App {
            name: "tasks".into(),
            app_id: Some("f5f842e2b59f57295f65d0d0".into()),
            entities: vec![project, task, user],
        }
    }

    fn rules(extra: &str) -> MappingRules {
        let mut rules = MappingRules::defaults().unwrap_or_else(|error| panic!("{error}"));
        if !extra.is_empty() {
            rules
                .merge(extra, "test.toml")
                .unwrap_or_else(|error| panic!("{error}"));
        }
        rules
    }

    fn planned(extra: &str) -> (App, TargetSchema) {
        let app = app();
        let target = crate::plan(&app, &rules(extra)).unwrap_or_else(|error| panic!("{error}"));
        (app, target)
    }

    fn generator(
        app: &App,
        target: &TargetSchema,
        counts: &GenerateCounts,
        seed: u64,
    ) -> Generator {
        Generator::new(app, target, counts, seed).unwrap_or_else(|error| panic!("{error}"))
    }

    /// Whether `value` loads into `column`: type, CHECK, enum type, NOT NULL.
    fn fits(value: Option<&Value>, column: &Column, target: &TargetSchema) -> Result<(), String> {
        let value = match value {
            None | Some(Value::Null) if column.not_null => {
                return Err("missing in a NOT NULL column".into());
            }
            None | Some(Value::Null) => return Ok(()),
            Some(value) => value,
        };
        let allowed: Option<Vec<Value>> = match (&column.check, &column.pg_type) {
            (Some(check), _) => Some(check.allowed.clone()),
            (None, pg_type) => match pg_type.element().unwrap_or(pg_type) {
                PgType::Enum(name) => target
                    .enum_types
                    .iter()
                    .find(|enum_type| &enum_type.name == name)
                    .map(|enum_type| enum_type.values.iter().cloned().map(Value::from).collect()),
                _ => None,
            },
        };
        let scalars: Vec<&Value> = match (&column.pg_type, value) {
            (PgType::Array(_), Value::Array(items)) => items.iter().collect(),
            (PgType::Array(_), other) => return Err(format!("{other} is not an array")),
            (PgType::Jsonb | PgType::Json, _) => return Ok(()),
            (_, scalar) => vec![scalar],
        };
        let scalar_type = column.pg_type.element().unwrap_or(&column.pg_type);
        for scalar in scalars {
            fit_scalar(scalar, scalar_type)?;
            if let Some(allowed) = &allowed
                && !allowed.contains(scalar)
            {
                return Err(format!("{scalar} is not one of {allowed:?}"));
            }
        }
        Ok(())
    }

    fn check_all(app: &App, target: &TargetSchema, generator: &Generator) {
        let ids: BTreeMap<&str, BTreeSet<String>> = generator
            .entities()
            .map(|entity| {
                (
                    entity.name(),
                    (0..entity.count()).map(|index| entity.id(index)).collect(),
                )
            })
            .collect();
        for table in target
            .tables
            .iter()
            .filter(|table| table.junction.is_none())
        {
            let Some(entity) = generator.entity(&table.entity) else {
                panic!("no generator for {}", table.entity);
            };
            let schema = app.entity(&table.entity);
            for index in 0..entity.count() {
                let record = entity.record(index);
                for column in &table.columns {
                    let Some(field) = column.field.as_deref() else {
                        continue;
                    };
                    if let Err(error) = fits(record.get(field), column, target) {
                        panic!(
                            "{}.{field} record {index}: {error}: {record:?}",
                            table.entity
                        );
                    }
                }
                for key in target
                    .foreign_keys
                    .iter()
                    .filter(|key| key.table == table.name)
                {
                    if let Some(Value::String(id)) = record.get(&key.field) {
                        assert!(
                            ids.get(key.target_entity.as_str())
                                .is_some_and(|ids| ids.contains(id)),
                            "{}.{} = {id}: no such {}",
                            table.entity,
                            key.field,
                            key.target_entity
                        );
                    }
                }
                for reference in target
                    .array_references
                    .iter()
                    .filter(|reference| reference.table == table.name)
                {
                    for id in record
                        .get(&reference.field)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        assert!(
                            id.as_str().is_some_and(|id| ids
                                .get(reference.target_entity.as_str())
                                .is_some_and(|ids| ids.contains(id))),
                            "{}.{} holds {id}",
                            table.entity,
                            reference.field
                        );
                    }
                }
                // Declared bounds and lengths hold too, not only what the column enforces.
                for field in schema.into_iter().flat_map(|entity| &entity.fields) {
                    let Some(value) = record.get(&field.name) else {
                        assert!(!field.required, "{}.{} missing", table.entity, field.name);
                        continue;
                    };
                    if let Some(number) = value.as_f64() {
                        assert!(field.minimum.is_none_or(|minimum| number >= minimum));
                        assert!(field.maximum.is_none_or(|maximum| number <= maximum));
                    }
                    if let Some(text) = value.as_str() {
                        let length = text.chars().count() as u64;
                        assert!(field.min_length.is_none_or(|minimum| length >= minimum));
                        assert!(field.max_length.is_none_or(|maximum| length <= maximum));
                        match field.format.as_deref() {
                            Some("date") => assert!(is_date(text), "{text}"),
                            Some("time") => assert!(is_time(text), "{text}"),
                            Some("date-time") => assert!(is_timestamp(text), "{text}"),
                            Some("email") => assert!(text.contains('@'), "{text}"),
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_value_fits_its_column_and_every_reference_resolves() {
        let counts = GenerateCounts::uniform(300).with("User", 12);
        for extra in [
            "",
            "[options]\nenum_strategy = \"pg_enum\"\n",
            "[options]\nscalar_arrays = \"jsonb\"\narray_references = \"junction\"\n",
            "[entities.Project.fields.budget]\ntype = \"numeric(6,2)\"\n\n[entities.Project.fields.name]\ntype = \"varchar(8)\"\n\n[entities.Task.fields.due_date]\nskip = true\n",
        ] {
            let (app, target) = planned(extra);
            check_all(&app, &target, &generator(&app, &target, &counts, 7));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_records_in_any_order() {
        let (app, target) = planned("");
        let counts = GenerateCounts::uniform(50);
        let first = generator(&app, &target, &counts, 42);
        let second = generator(&app, &target, &counts.clone().with("Task", 5), 42);
        let forward: Vec<_> = (0..50).map(|index| first.record("Task", index)).collect();
        let backward: Vec<_> = (0..50)
            .rev()
            .map(|index| first.record("Task", index))
            .collect();
        assert!(forward.iter().eq(backward.iter().rev()));
        // The entity's own count does not change its records (only the references' targets'
        // counts do).
        for index in [0, 3, 4] {
            assert_eq!(first.record("Task", index), second.record("Task", index));
        }
        assert_eq!(
            first
                .record("Task", 17)
                .ok()
                .and_then(|record| record.get("id").cloned()),
            Some(Value::String(first.id("Task", 17)))
        );
    }

    #[test]
    fn different_seeds_give_different_records() {
        let (app, target) = planned("");
        let counts = GenerateCounts::uniform(10);
        let one = generator(&app, &target, &counts, 1);
        let two = generator(&app, &target, &counts, 2);
        for index in 0..10 {
            assert_ne!(one.record("Task", index), two.record("Task", index));
            assert_ne!(one.id("Task", index), two.id("Task", index));
        }
    }

    #[test]
    fn ids_are_unique_object_ids_and_timestamps_follow_the_index() {
        let (app, target) = planned("");
        let generator = generator(&app, &target, &GenerateCounts::uniform(20_000), 9);
        let Some(tasks) = generator.entity("Task") else {
            panic!("no Task");
        };
        let mut ids = BTreeSet::new();
        let mut previous: Option<(String, String)> = None;
        for index in 0..20_000 {
            let record = tasks.record(index);
            let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
            assert_eq!(id.len(), 24);
            assert!(
                id.bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
            );
            assert!(ids.insert(id.to_owned()), "duplicate id {id}");
            let created = record
                .get("created_date")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let updated = record
                .get("updated_date")
                .and_then(Value::as_str)
                .unwrap_or_default();
            assert!(is_timestamp(&created) && is_timestamp(updated), "{created}");
            assert_eq!(created.ends_with('Z'), index % 7 == 6, "{created}");
            // Both forms sort as instants once the zone is cut: same length up to the fraction.
            let instant = |text: &str| text.trim_end_matches('Z').to_owned() + "000";
            assert!(instant(updated)[..26] >= instant(&created)[..26]);
            if let Some((previous_created, _)) = &previous {
                assert!(instant(&created)[..26] > instant(previous_created)[..26]);
            }
            // The id starts with the creation second, as an ObjectId does.
            let seconds = BASE_SECONDS + index * STEP_SECONDS;
            let prefix = u64::from_str_radix(&id[..8], 16).unwrap_or_default();
            assert!((seconds..seconds + STEP_SECONDS).contains(&prefix));
            previous = Some((created, id.to_owned()));
        }
    }

    #[test]
    fn users_have_roles_from_the_schema_and_creators_are_users() {
        let (app, target) = planned("");
        let generator = generator(&app, &target, &GenerateCounts::uniform(30), 3);
        let users: Vec<_> = (0..30)
            .filter_map(|index| generator.record("User", index).ok())
            .collect();
        let emails: BTreeSet<&str> = users
            .iter()
            .filter_map(|user| user.get("email").and_then(Value::as_str))
            .collect();
        assert_eq!(emails.len(), 30);
        for user in &users {
            let role = user.get("role").and_then(Value::as_str).unwrap_or_default();
            assert!(["admin", "manager", "viewer"].contains(&role), "{role}");
            assert!(!user.contains_key("created_by"));
            assert!(user.get("full_name").and_then(Value::as_str).is_some());
        }
        for index in 0..30 {
            let task = generator.record("Task", index).unwrap_or_default();
            let creator = task
                .get("created_by")
                .and_then(Value::as_str)
                .unwrap_or_default();
            assert!(emails.contains(creator), "{creator}");
            assert_eq!(task.get("is_sample"), Some(&Value::Bool(false)));
        }
    }

    #[test]
    fn counts_must_name_entities_of_the_app() {
        let (app, target) = planned("");
        let counts = GenerateCounts::uniform(1).with("Nope", 3);
        assert!(matches!(
            Generator::new(&app, &target, &counts, 0),
            Err(GenerateError::UnknownEntity { .. })
        ));
    }

    #[test]
    fn a_skipped_entity_has_no_generator_and_references_to_nothing_are_null() {
        let (app, target) = planned("[entities.User]\nskip = true\n");
        let counts = GenerateCounts::uniform(20).with("Project", 0);
        let generator = generator(&app, &target, &counts, 5);
        assert!(generator.entity("User").is_none());
        assert!(generator.record("User", 0).is_err());
        for index in 0..20 {
            let task = generator.record("Task", index).unwrap_or_default();
            assert!(task.get("project_id").is_none_or(Value::is_null));
        }
    }

    #[test]
    fn timestamps_and_dates_are_valid_calendar_values() {
        assert_eq!(
            format_timestamp(0, TimestampForm::Stored),
            "1970-01-01T00:00:00.000000"
        );
        assert_eq!(
            format_timestamp(1_709_210_096_481_000, TimestampForm::Fresh),
            "2024-02-29T12:34:56.481Z"
        );
        assert_eq!(
            format_timestamp(BASE_SECONDS * MICROS, TimestampForm::Minute),
            "2025-01-01T00:00"
        );
        let mut random = Random::new(1);
        for _ in 0..5000 {
            assert!(is_date(&random_date(&mut random)));
            assert!(is_time(&random_time(&mut random)));
            assert!(is_timestamp(&random_timestamp(&mut random)));
        }
    }

    #[test]
    fn lengths_are_padded_and_cut_by_characters() {
        assert_eq!(fit_length("ab".into(), 5, None), "ab account");
        assert_eq!(fit_length("😀😀😀".into(), 0, Some(2)), "😀😀");
        assert_eq!(fit_length(String::new(), 3, Some(3)), "acc");
        assert_eq!(base64(&mut Random::new(0), 3).len(), 4);
    }

    #[test]
    fn tables_without_a_schema_entity_are_ignored() {
        let (app, mut target) = planned("");
        target.tables.push(Table {
            entity: "Ghost".into(),
            name: "ghost".into(),
            columns: Vec::new(),
            primary_key: vec!["id".into()],
            primary_key_name: "ghost_pkey".into(),
            junction: None,
        });
        let generator = generator(&app, &target, &GenerateCounts::uniform(1), 0);
        assert!(generator.entity("Ghost").is_none());
    }
}
