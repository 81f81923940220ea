//! The background writer: changes the app's records while clients read, as a live app does, so
//! pulls and syncs meet concurrent creates, updates and deletes. Runs from start for its
//! duration at its rate, in bursts of 3 to 10 operations on one entity all stamped with the same
//! instant (the case that breaks an `updated_date`-only cursor), then stops. Writes go through
//! the store's own rules; values follow the schema's types, formats and enums, drawn from an RNG
//! seeded by the config (the values are deterministic, the instants are the clock's).

use crate::config::WriterConfig;
use crate::stats::{StatsRecorder, WriteKind};
use crate::store::{Record, Store, StoreHandle, now_millis};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use offbase_model::time::format_fresh;
use offbase_model::{Entity, Field, FieldKind};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Starts the writer. The receiver turns `true` when it has stopped (at once without a
/// writer).
pub(crate) fn spawn(
    config: Option<WriterConfig>,
    store: StoreHandle,
    stats: Arc<StatsRecorder>,
) -> (Option<JoinHandle<()>>, watch::Receiver<bool>) {
    let Some(config) = config else {
        let (_, done) = watch::channel(true);
        return (None, done);
    };
    let (finished, done) = watch::channel(false);
    let handle = tokio::spawn(async move {
        run(&config, &store, &stats).await;
        let _ = finished.send(true);
    });
    (Some(handle), done)
}

async fn run(config: &WriterConfig, store: &StoreHandle, stats: &StatsRecorder) {
    let entities: Vec<Entity> = store.read(|store| {
        store
            .entity_names()
            .iter()
            .filter_map(|name| store.table(name).ok())
            .map(|table| table.entity.clone())
            // Users are invited, not written through the entity API.
            .filter(|entity| !entity.is_user())
            .collect()
    });
    if entities.is_empty() || config.rate_per_second == 0 || config.duration.is_zero() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let started = Instant::now();
    let mut operations: u64 = 0;
    let mut serial: u64 = 0;
    let mut last_instant: Option<DateTime<Utc>> = None;
    while started.elapsed() < config.duration {
        let burst = rng.random_range(3..=10);
        let Some(entity) = entities.choose(&mut rng) else {
            break;
        };
        // Never back in time, even if the clock is.
        let instant = match last_instant {
            Some(last) => now_millis().max(last),
            None => now_millis(),
        };
        last_instant = Some(instant);
        for _ in 0..burst {
            let roll: f64 = rng.random();
            let wanted = if roll < 0.50 {
                WriteKind::Create
            } else if roll < 0.85 {
                WriteKind::Update
            } else {
                WriteKind::Delete
            };
            let done = store.write(|store| {
                let mut generator = Generator {
                    rng: &mut rng,
                    store,
                    instant,
                    serial: &mut serial,
                };
                generator.operate(entity, wanted)
            });
            if let Some(kind) = done {
                stats.write(kind);
            }
            operations += 1;
        }
        // Operations are spread evenly over time: sleep until this burst's share is due.
        let due = started
            + Duration::from_secs_f64(operations as f64 / f64::from(config.rate_per_second));
        tokio::time::sleep_until(due).await;
    }
}

struct Generator<'a> {
    rng: &'a mut StdRng,
    store: &'a mut Store,
    instant: DateTime<Utc>,
    serial: &'a mut u64,
}

const ADJECTIVES: [&str; 8] = [
    "quick", "quiet", "bright", "careful", "early", "late", "small", "bold",
];
const NOUNS: [&str; 8] = [
    "review", "draft", "update", "plan", "check", "note", "order", "report",
];

impl Generator<'_> {
    /// Applies one operation of the wanted kind (a create when there is nothing to update or
    /// delete); returns what was done.
    fn operate(&mut self, entity: &Entity, wanted: WriteKind) -> Option<WriteKind> {
        let target = match wanted {
            WriteKind::Create => None,
            WriteKind::Update | WriteKind::Delete => self.random_live_id(&entity.name),
        };
        match (wanted, target) {
            (WriteKind::Update, Some(id)) => {
                let mut fields = Record::new();
                let changes = self.rng.random_range(1..=2);
                for _ in 0..changes {
                    if let Some(field) = entity.fields.choose(self.rng) {
                        let value = self.value(field, 0);
                        fields.insert(field.name.clone(), value);
                    }
                }
                self.store
                    .update(&entity.name, &id, &Value::Object(fields), self.instant)
                    .ok()
                    .map(|_| WriteKind::Update)
            }
            (WriteKind::Delete, Some(id)) => self
                .store
                .delete(&entity.name, &id)
                .ok()
                .map(|()| WriteKind::Delete),
            _ => {
                let record = self.record(&entity.fields, 0);
                self.store
                    .create(&entity.name, &Value::Object(record), self.instant)
                    .ok()
                    .map(|_| WriteKind::Create)
            }
        }
    }

    fn random_live_id(&mut self, entity: &str) -> Option<String> {
        let table = self.store.table(entity).ok()?;
        if table.live.is_empty() {
            return None;
        }
        let index = self.rng.random_range(0..table.live.len());
        table.live.keys().nth(index).cloned()
    }

    fn next_serial(&mut self) -> u64 {
        *self.serial += 1;
        *self.serial
    }

    /// Values for `fields` (at nesting `depth`): every required one, about 70% of the others.
    fn record(&mut self, fields: &[Field], depth: usize) -> Map<String, Value> {
        let mut record = Map::new();
        for field in fields {
            if field.required || self.rng.random_bool(0.7) {
                let value = self.value(field, depth);
                record.insert(field.name.clone(), value);
            }
        }
        record
    }

    fn value(&mut self, field: &Field, depth: usize) -> Value {
        if let Some(values) = &field.enum_values
            && let Some(value) = values.choose(self.rng)
        {
            return value.clone();
        }
        match &field.kind {
            FieldKind::String => self.string(field),
            FieldKind::Integer => {
                let low = field.minimum.map_or(0, |minimum| minimum.ceil() as i64);
                let high = field
                    .maximum
                    .map_or(low.saturating_add(100), |maximum| maximum.floor() as i64);
                Value::from(if high > low {
                    self.rng.random_range(low..=high)
                } else {
                    low
                })
            }
            FieldKind::Number => {
                let low = field.minimum.unwrap_or(0.0);
                let high = field.maximum.unwrap_or(low + 1000.0);
                let drawn = if high > low {
                    self.rng.random_range(low..high)
                } else {
                    low
                };
                let rounded = ((drawn * 100.0).round() / 100.0).clamp(low, high.max(low));
                Number::from_f64(rounded).map_or(Value::Null, Value::Number)
            }
            FieldKind::Boolean => Value::Bool(self.rng.random_bool(0.5)),
            FieldKind::Array => {
                let count = if depth >= 2 {
                    0
                } else {
                    self.rng.random_range(0..=3)
                };
                let mut item = field
                    .items
                    .as_deref()
                    .cloned()
                    .unwrap_or_else(|| Field::new(field.name.clone(), FieldKind::String));
                // `member_ids` items reference records like `member_id` would.
                if let Some(stem) = field.name.strip_suffix("_ids") {
                    item.name = format!("{stem}_id");
                }
                Value::Array((0..count).map(|_| self.value(&item, depth + 1)).collect())
            }
            FieldKind::Object => match &field.properties {
                Some(properties) if depth < 2 => Value::Object(self.record(properties, depth + 1)),
                _ => Value::Object(Map::new()),
            },
            FieldKind::Binary | FieldKind::Any | FieldKind::Union(_) | FieldKind::Unknown(_) => {
                self.text(None)
            }
        }
    }

    fn string(&mut self, field: &Field) -> Value {
        let serial = self.next_serial();
        let text = match field.format.as_deref() {
            Some("date-time") => {
                let offset = ChronoDuration::minutes(self.rng.random_range(-43_200..=43_200));
                format_fresh(self.instant + offset)
            }
            Some("date") => {
                let offset = ChronoDuration::days(self.rng.random_range(-30..=60));
                (self.instant + offset).format("%Y-%m-%d").to_string()
            }
            Some("time") => format!(
                "{:02}:{:02}",
                self.rng.random_range(0..24),
                self.rng.random_range(0..4) * 15
            ),
            Some("email") => format!("writer.{serial}@example.com"),
            Some("uri" | "url" | "file") => format!("https://example.com/emulator/{serial}"),
            _ if field.name.ends_with("_id") => self
                .reference(&field.name)
                .unwrap_or_else(|| self.random_hex_id()),
            _ if field
                .pattern
                .as_deref()
                .is_some_and(|pattern| pattern.contains("[0-9a-fA-F]{6}")) =>
            {
                format!("#{:06x}", self.rng.random_range(0..0x0100_0000))
            }
            _ => return self.text(field.max_length),
        };
        Value::String(text)
    }

    fn text(&mut self, max_length: Option<u64>) -> Value {
        let serial = self.next_serial();
        let adjective = ADJECTIVES.choose(self.rng).copied().unwrap_or("plain");
        let noun = NOUNS.choose(self.rng).copied().unwrap_or("note");
        let mut text = format!("{adjective} {noun} {serial}");
        if let Some(max) = max_length.and_then(|max| usize::try_from(max).ok()) {
            text = text.chars().take(max.max(1)).collect();
        }
        Value::String(text)
    }

    /// A live id of the entity a `*_id` field names (`project_id` → `Project`,
    /// `parent_task_id` → `Task`), if there is one.
    fn reference(&mut self, field_name: &str) -> Option<String> {
        let stem = field_name.strip_suffix("_id")?;
        let candidates = [stem.replace('_', ""), stem.rsplit('_').next()?.to_owned()];
        let target = self.store.entity_names().into_iter().find(|name| {
            candidates
                .iter()
                .any(|candidate| name.eq_ignore_ascii_case(candidate))
        })?;
        self.random_live_id(&target)
    }

    fn random_hex_id(&mut self) -> String {
        format!(
            "{:08x}{:016x}",
            self.rng.random::<u32>(),
            self.rng.random::<u64>()
        )
    }
}
