//! The values of one record: [`RecordContext`] turns an entity plan's sources and specs into
//! JSON values (built-ins, people, references, text of every kind, numbers, timestamps, nested
//! JSON), each slot from its own random stream, and fits text to the declared lengths.

use super::generator::{TimestampForm, format_timestamp, push_date};
use super::random::{
    BASE_SECONDS, DAY_SECONDS, FIELD_BASE_SECONDS, FIELD_SPAN_DAYS, Key, MICROS, Random,
    SALT_CREATOR, SALT_PERSON, SALT_UPDATED, mix,
};
use super::specs::{EntityPlan, Presence, Source, Spec, TextKind};
use super::vocabulary::{
    CATEGORIES, CITIES, COUNTRIES, CURRENCIES, DOMAINS, FILE_EXTENSIONS, FIRST_NAMES, LAST_NAMES,
    NON_ASCII, WORDS,
};
use serde_json::{Map, Value};
use std::fmt::Write as _;

impl EntityPlan {
    pub(super) fn record(&self, index: u64) -> Map<String, Value> {
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

pub(super) fn random_timestamp(random: &mut Random) -> String {
    let micros = FIELD_BASE_SECONDS * MICROS + random.below(FIELD_SPAN_DAYS * DAY_SECONDS * MICROS);
    let form = match random.below(10) {
        0..5 => TimestampForm::Fresh,
        5..8 => TimestampForm::Stored,
        _ => TimestampForm::Minute,
    };
    format_timestamp(micros, form)
}

pub(super) fn random_date(random: &mut Random) -> String {
    let mut out = String::with_capacity(10);
    push_date(
        &mut out,
        FIELD_BASE_SECONDS / DAY_SECONDS + random.below(FIELD_SPAN_DAYS),
    );
    out
}

pub(super) fn random_time(random: &mut Random) -> String {
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

pub(super) fn base64(random: &mut Random, bytes: usize) -> String {
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
pub(super) fn fit_length(mut text: String, min_length: usize, max_length: Option<usize>) -> String {
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
