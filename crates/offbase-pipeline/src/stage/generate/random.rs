//! What every generated record is made from: the fixed time base and salts, the seeded random
//! stream ([`Random`]), and the key of an entity's records ([`Key`]: ids and `created_date`,
//! which grows with the index, so index order is pull order).

/// Seconds between the `created_date` of record `i` and record `i + 1` (each record gets a
/// random moment within its step), for an entity of up to a million records: they span about
/// 347 days.
pub const STEP_SECONDS: u64 = 30;

/// The longest span an entity's `created_date`s cover: a million steps. Past a million records
/// the step shrinks to fit it, so no record of a large entity is created after 2025-12-13
/// (later ones would lie in the future of a migration run today, which a sync takes for
/// changes made since the pull).
pub const SPAN_SECONDS: u64 = 1_000_000 * STEP_SECONDS;

/// `created_date` of record 0: 2025-01-01T00:00:00Z, in seconds since the Unix epoch.
pub const BASE_SECONDS: u64 = 1_735_689_600;

/// Every 7th record carries its timestamps in the fresh form (`...481Z`), the rest in the stored
/// form (`...481000`), so both forms reach the loader.
pub(super) const FRESH_EVERY: u64 = 7;

pub(super) const MICROS: u64 = 1_000_000;
pub(super) const STEP_MICROS: u64 = STEP_SECONDS * MICROS;
/// User date-time, date and time fields fall within 2024-01-01 and 2026-12-31.
pub(super) const FIELD_BASE_SECONDS: u64 = 1_704_067_200;
pub(super) const FIELD_SPAN_DAYS: u64 = 1096;
pub(super) const DAY_SECONDS: u64 = 86_400;

/// Salts that give each built-in its own random stream within a record.
pub(super) const SALT_CREATED: u64 = 0x6372_6561_7465_6400;
pub(super) const SALT_UPDATED: u64 = 0x7570_6461_7465_6400;
pub(super) const SALT_CREATOR: u64 = 0x6372_6561_746f_7200;
pub(super) const SALT_PERSON: u64 = 0x7065_7273_6f6e_0000;
pub(super) const SALT_ID: u64 = 0x6964_0000_0000_0000;
pub(super) const SALT_APP: u64 = 0x6170_7000_0000_0000;

// ---------------------------------------------------------------------------------------------
// Randomness

/// The splitmix64 finalizer: a bijection on `u64` that scatters nearby inputs.
pub(super) fn mix(value: u64) -> u64 {
    let mut mixed = value;
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

/// FNV-1a of a name, mixed: the salt of an entity or a field.
pub(super) fn hash_name(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(hash)
}

/// A splitmix64 stream. Small and fast; not for anything but test data.
#[derive(Debug, Clone)]
pub(super) struct Random {
    state: u64,
}

impl Random {
    pub(super) fn new(seed: u64) -> Self {
        Random { state: seed }
    }

    pub(super) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }

    pub(super) fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A number in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `low..=high` (`low` when the range is empty).
    pub(super) fn between(&mut self, low: i64, high: i64) -> i64 {
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

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    pub(super) fn word(&mut self, words: &[&'static str]) -> &'static str {
        self.pick(words).copied().unwrap_or("item")
    }
}

// ---------------------------------------------------------------------------------------------
// Ids and timestamps

/// What identifies an entity's records: its salt (from the seed and the name) and its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    salt: u64,
    pub(super) count: u64,
}

impl Key {
    pub(super) fn new(seed: u64, entity: &str, count: u64) -> Self {
        Key {
            salt: mix(seed ^ hash_name(entity)),
            count,
        }
    }

    /// The seed of record `index`'s streams.
    pub(super) fn record_seed(self, index: u64) -> u64 {
        mix(self.salt.wrapping_add(mix(index)))
    }

    /// Whether record `index` carries the fresh timestamp form.
    pub(super) fn fresh(index: u64) -> bool {
        index % FRESH_EVERY == FRESH_EVERY - 1
    }

    /// Microseconds between two records' steps: [`STEP_SECONDS`], or less for an entity of
    /// more than a million records ([`SPAN_SECONDS`]).
    fn step_micros(self) -> u64 {
        (SPAN_SECONDS * MICROS / self.count.max(1)).clamp(1, STEP_MICROS)
    }

    /// `created_date` of record `index`, in microseconds since the epoch: a random moment in
    /// the record's own step, so the order follows the index.
    pub(super) fn created_micros(self, index: u64) -> u64 {
        let step = self.step_micros();
        let jitter = mix(self.record_seed(index) ^ SALT_CREATED) % step;
        let micros = (BASE_SECONDS * MICROS)
            .saturating_add(index.saturating_mul(step))
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
    pub(super) fn id(self, index: u64) -> String {
        let seconds = self.created_micros(index) / MICROS;
        let tail = mix(index ^ mix(self.salt ^ SALT_ID));
        format!("{:08x}{tail:016x}", seconds & 0xffff_ffff)
    }
}
