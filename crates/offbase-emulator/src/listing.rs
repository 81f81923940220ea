//! Reading many records: the query parameters of the list, cursor-list, count and trash
//! endpoints, the filter they make (`q` plus any unknown parameter as an equality filter, both
//! through `offbase_base44::query`; the query of update-many and delete-many too), the order (an explicit `sort`, or without one an order that
//! changes whenever the entity changes, as on the platform), `fields` projection, and the opaque
//! keyset cursor of `v2/list`.

use crate::error::ApiError;
use crate::records::{Records, Stored};
use crate::store::Record;
use offbase_base44::query::{Filter, Sort, parse_filter, parse_filter_str, parse_sort};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cmp::Ordering;

pub(crate) use offbase_base44::api::{DEFAULT_LIST_LIMIT as DEFAULT_LIMIT, LIST_CAP};
/// The cursor list's order when no `sort` is given: newest first.
pub(crate) const V2_DEFAULT_SORT: &str = "-created_date";

/// The query parameters of a read, split into the ones the endpoint defines and the rest
/// (equality filters).
#[derive(Debug, Default)]
pub(crate) struct ListParams {
    pub(crate) limit: Option<usize>,
    pub(crate) skip: usize,
    pub(crate) sort: Option<String>,
    pub(crate) fields: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) cursor: Option<String>,
    /// Unknown parameters, each an equality filter on the field of that name.
    pub(crate) equals: Vec<(String, String)>,
}

/// The reads and the parameters each defines (any other is an equality filter): the
/// platform's rule, stated once in [`offbase_base44::api::ReadEndpoint`].
pub(crate) use offbase_base44::api::ReadEndpoint as Endpoint;

impl ListParams {
    /// Splits `pairs` (in request order; for a repeated defined parameter the last wins).
    pub(crate) fn read(pairs: Vec<(String, String)>, endpoint: Endpoint) -> Result<Self, ApiError> {
        let mut params = ListParams::default();
        for (name, value) in pairs {
            if !endpoint.defines(&name) {
                params.equals.push((name, value));
                continue;
            }
            match name.as_str() {
                "limit" => params.limit = Some(read_count("limit", &value)?),
                "skip" => params.skip = read_count("skip", &value)?,
                "sort" => params.sort = Some(value),
                "fields" => params.fields = Some(value),
                "q" => params.q = Some(value),
                "cursor" => params.cursor = Some(value),
                _ => {}
            }
        }
        Ok(params)
    }

    /// The page size: the given `limit` capped at `cap`, `DEFAULT_LIMIT` without one. A limit
    /// of 0 means "as many as allowed", as MongoDB reads it.
    pub(crate) fn page_size(&self, default: usize, cap: usize) -> usize {
        match self.limit {
            None => default.min(cap),
            Some(0) => cap,
            Some(limit) => limit.min(cap),
        }
    }
}

fn read_count(name: &str, value: &str) -> Result<usize, ApiError> {
    value.trim().parse::<usize>().map_err(|_| {
        ApiError::bad_request(format!(
            "`{name}` must be a whole number of 0 or more, found `{value}`"
        ))
    })
}

/// The filter of a read: `q` and every equality parameter, all of which must hold.
///
/// An equality parameter's value arrives as text: it matches a field holding that string, or a
/// number or boolean whose JSON text is that string (`?priority=2`, `?done=true`).
pub(crate) fn build_filter(
    q: Option<&str>,
    equals: &[(String, String)],
) -> Result<Filter, ApiError> {
    let q = q.filter(|text| !text.trim().is_empty());
    if equals.is_empty() {
        return match q {
            Some(text) => parse_filter_str(text).map_err(|error| bad_query(&error)),
            None => Ok(Filter::all()),
        };
    }
    let mut clauses = Vec::new();
    if let Some(text) = q {
        let value: Value = serde_json::from_str(text)
            .map_err(|error| ApiError::bad_request(format!("`q` is not valid JSON: {error}")))?;
        clauses.push(value);
    }
    for (field, text) in equals {
        let mut clause = Map::new();
        clause.insert(field.clone(), offbase_base44::api::equality_condition(text));
        clauses.push(Value::Object(clause));
    }
    let mut all = Map::new();
    all.insert("$and".to_owned(), Value::Array(clauses));
    parse_filter(&Value::Object(all)).map_err(|error| bad_query(&error))
}

/// The filter of a query-wide write (update-many's `query`, delete-many's body): the same
/// language as `q`, given as a JSON value; `{}` matches every record (MongoDB's reading).
pub(crate) fn body_filter(query: &Value) -> Result<Filter, ApiError> {
    parse_filter(query).map_err(|error| ApiError::bad_request(format!("invalid query: {error}")))
}

/// `q` as the cursor keeps it: compact JSON, so the same filter sent again with other spacing
/// still matches; `None` when blank. Text that is not JSON is kept as is (it fails later).
pub(crate) fn normalized_q(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    Some(
        serde_json::from_str::<Value>(text)
            .map(|value| value.to_string())
            .unwrap_or_else(|_| text.to_owned()),
    )
}

fn bad_query(error: &dyn std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("invalid `q`: {error}"))
}

/// Parses `sort`; blank means none.
pub(crate) fn read_sort(text: Option<&str>) -> Result<Option<Sort>, ApiError> {
    match text {
        Some(text) => parse_sort(text).map_err(|error| ApiError::bad_request(error.to_string())),
        None => Ok(None),
    }
}

/// The field names of `fields=a,b`; `None` when absent or blank (every field).
pub(crate) fn read_fields(text: Option<&str>) -> Option<Vec<String>> {
    let names: Vec<String> = text?
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    (!names.is_empty()).then_some(names)
}

/// The record with only `fields` (and always `id`), in the record's own field order.
pub(crate) fn project(record: &Record, fields: Option<&[String]>) -> Record {
    match fields {
        None => record.clone(),
        Some(fields) => record
            .iter()
            .filter(|(name, _)| name.as_str() == "id" || fields.iter().any(|f| f == *name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    }
}

/// The records of `records` that `filter` matches.
pub(crate) fn select<'a>(
    records: impl Iterator<Item = (&'a String, &'a Stored)>,
    filter: &Filter,
) -> Vec<(&'a String, &'a Stored)> {
    let Some(parts) = key_parts(filter) else {
        return records
            .filter(|(_, stored)| filter.matches(&stored.record()))
            .collect();
    };
    // The filters of keyset paging (the pull's, the sync's, `{}`), answered from the id and
    // the instants kept beside each record, without reading it.
    records
        .filter(|(id, stored)| keeps(&parts, id, stored))
        .collect()
}

/// Whether the record `id` passes every part of a keyset filter; one whose timestamp did not
/// read as an instant is read for that part.
fn keeps(parts: &[KeyPart<'_>], id: &str, stored: &Stored) -> bool {
    parts.iter().all(|part| match part {
        KeyPart::Stamp(stamp, bounds, part) => match stamp.of(stored) {
            Some(instant) => bounds.iter().all(|bound| bound.holds(instant)),
            None => part.matches(&stored.record()),
        },
        KeyPart::Id(part) => part.matches(&id_only(id)),
    })
}

/// The first `keep` records a listing sorted on `created_date` (ascending) answers, walked
/// along the entity's created order from the filter's lower bound instead of sorted out of
/// every record: a keyset page costs its own records, not the entity's. `None` when the walk
/// cannot answer (another sort, a descending one, a filter of another shape, a record whose
/// `created_date` is not an instant); `visible` is the caller's read rule.
pub(crate) fn walk_created<'a>(
    records: &'a Records,
    filter: &Filter,
    sort: Option<&Sort>,
    keep: usize,
    visible: impl Fn(&Stored) -> bool,
) -> Option<Vec<Entry<'a>>> {
    let sort = sort.filter(|sort| !sort.descending)?;
    if Stamp::named(&sort.field) != Some(Stamp::Created) {
        return None;
    }
    let parts = key_parts(filter)?;
    // Where to start and stop: loose bounds (a strict one included), `keeps` decides.
    let (mut from, mut to) = (None, None);
    for part in &parts {
        let KeyPart::Stamp(Stamp::Created, bounds, _) = part else {
            continue;
        };
        for bound in bounds {
            let (lower, upper) = match *bound {
                Bound::Greater(instant) | Bound::GreaterOrEqual(instant) => (Some(instant), None),
                Bound::Equal(instant) => (Some(instant), Some(instant)),
                Bound::Less(instant) | Bound::LessOrEqual(instant) => (None, Some(instant)),
            };
            from = from.max(lower);
            to = match (to, upper) {
                (Some(to), Some(upper)) => Some(std::cmp::min(to, upper)),
                (to, upper) => to.or(upper),
            };
        }
    }
    Some(
        records
            .by_created(from, to)?
            .filter(|(id, stored)| keeps(&parts, id, stored) && visible(stored))
            .take(keep)
            .collect(),
    )
}

/// A timestamp kept parsed beside each record ([`Stored`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Created,
    Updated,
}

impl Stamp {
    fn named(field: &str) -> Option<Stamp> {
        match field {
            "created_date" => Some(Stamp::Created),
            "updated_date" => Some(Stamp::Updated),
            _ => None,
        }
    }

    fn of(self, stored: &Stored) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Stamp::Created => stored.created,
            Stamp::Updated => stored.updated,
        }
    }
}

/// One part of a filter made only of parts on the id and the built-in timestamps.
enum KeyPart<'f> {
    /// Comparisons of a timestamp with instants (the part itself, for a record whose
    /// timestamp is not one).
    Stamp(Stamp, Vec<Bound>, &'f Filter),
    /// A condition on the id, evaluated on the id alone.
    Id(&'f Filter),
}

/// An instant a timestamp is compared with.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Greater(chrono::DateTime<chrono::Utc>),
    GreaterOrEqual(chrono::DateTime<chrono::Utc>),
    Equal(chrono::DateTime<chrono::Utc>),
    Less(chrono::DateTime<chrono::Utc>),
    LessOrEqual(chrono::DateTime<chrono::Utc>),
}

impl Bound {
    fn holds(self, instant: chrono::DateTime<chrono::Utc>) -> bool {
        match self {
            Bound::Greater(bound) => instant > bound,
            Bound::GreaterOrEqual(bound) => instant >= bound,
            Bound::Equal(bound) => instant == bound,
            Bound::Less(bound) => instant < bound,
            Bound::LessOrEqual(bound) => instant <= bound,
        }
    }
}

/// The parts of a filter that is a conjunction of conditions on the id and of comparisons of
/// `created_date` or `updated_date` with timestamps (`{"created_date": {"$gt": T}}`,
/// `{"updated_date": T, "id": {"$gt": X}}`, `{}`): the shapes keyset paging sends. `None` for
/// any other filter.
fn key_parts(filter: &Filter) -> Option<Vec<KeyPart<'_>>> {
    use offbase_base44::query::{Condition, Operator};
    let mut conjuncts = Vec::new();
    flatten(filter, &mut conjuncts);
    conjuncts
        .into_iter()
        .map(|part| {
            let Filter::Field { path, condition } = part else {
                return None;
            };
            if path == "id" {
                return Some(KeyPart::Id(part));
            }
            let stamp = Stamp::named(path)?;
            let instant = |value: &serde_json::Value| {
                value
                    .as_str()
                    .and_then(offbase_model::time::parse_timestamp)
            };
            let bounds = match condition {
                Condition::Eq(value) => vec![Bound::Equal(instant(value)?)],
                Condition::Ops(operators) if !operators.is_empty() => operators
                    .iter()
                    .map(|operator| match operator {
                        Operator::Gt(value) => Some(Bound::Greater(instant(value)?)),
                        Operator::Gte(value) => Some(Bound::GreaterOrEqual(instant(value)?)),
                        Operator::Eq(value) => Some(Bound::Equal(instant(value)?)),
                        Operator::Lt(value) => Some(Bound::Less(instant(value)?)),
                        Operator::Lte(value) => Some(Bound::LessOrEqual(instant(value)?)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?,
                Condition::Ops(_) => return None,
            };
            Some(KeyPart::Stamp(stamp, bounds, part))
        })
        .collect()
}

/// The conditions every one of which a conjunction (nested or not) requires.
fn flatten<'f>(filter: &'f Filter, conjuncts: &mut Vec<&'f Filter>) {
    match filter {
        Filter::And(parts) => parts.iter().for_each(|part| flatten(part, conjuncts)),
        other => conjuncts.push(other),
    }
}

/// A record holding only its id: what a condition or a sort on the id reads.
fn id_only(id: &str) -> Record {
    let mut record = Map::new();
    record.insert("id".to_owned(), Value::String(id.to_owned()));
    record
}

/// What a sort compares a record by: a record holding only its sort value (see [`anchor`]),
/// read once per record rather than once per comparison.
pub(crate) fn sort_key(sort: &Sort, id: &str, stored: &Stored) -> Record {
    if sort.field == "id" {
        return id_only(id);
    }
    anchor(sort, &sort_value(sort, &stored.record()))
}

/// A record and its id, as listings handle them.
pub(crate) type Entry<'a> = (&'a String, &'a Stored);
/// The unsorted order's key: the scrambled hash, then the id.
type Scrambled<'a> = (u64, &'a String);

/// Orders records for a skip-paged list and keeps the first `keep`. With a sort: by the sort
/// field, ties by id. Without: by a hash of (id, the entity's write generation), so the order is
/// arbitrary and changes with every write, and a client paging with `skip` and no `sort` meets
/// duplicates and gaps while the entity changes, as on the platform.
pub(crate) fn order(
    records: &mut Vec<Entry<'_>>,
    sort: Option<&Sort>,
    generation: u64,
    keep: usize,
) {
    // The common case of large listings (keyset paging on `created_date` or `updated_date`):
    // compare the instants parsed when the records were stored, not the strings, when every
    // record has one, which gives the same order as `Sort::compare`.
    let stamp = sort
        .and_then(|sort| Stamp::named(&sort.field))
        .filter(|stamp| records.iter().all(|(_, stored)| stamp.of(stored).is_some()));
    match (sort, stamp) {
        (Some(sort), Some(stamp)) => {
            smallest(records, keep, |(left_id, left), (right_id, right)| {
                let by_instant = stamp.of(left).cmp(&stamp.of(right));
                let by_instant = if sort.descending {
                    by_instant.reverse()
                } else {
                    by_instant
                };
                by_instant.then_with(|| left_id.cmp(right_id))
            })
        }
        (Some(sort), None) => {
            let mut keyed: Vec<(Record, Entry)> = records
                .drain(..)
                .map(|entry| (sort_key(sort, entry.0, entry.1), entry))
                .collect();
            smallest(
                &mut keyed,
                keep,
                |(left, (left_id, _)), (right, (right_id, _))| {
                    sort.compare(left, right)
                        .then_with(|| left_id.cmp(right_id))
                },
            );
            records.extend(keyed.into_iter().map(|(_, entry)| entry));
        }
        (None, _) => {
            let mut keyed: Vec<(Scrambled, Entry)> = records
                .drain(..)
                .map(|entry| ((scramble(entry.0, generation), entry.0), entry))
                .collect();
            smallest(&mut keyed, keep, |left, right| left.0.cmp(&right.0));
            records.extend(keyed.into_iter().map(|(_, entry)| entry));
        }
    }
}

/// Keeps the `count` smallest items by `compare`, sorted: a full sort only when needed, so a
/// page near the start of a large entity costs little more than one pass.
pub(crate) fn smallest<T>(items: &mut Vec<T>, count: usize, compare: impl Fn(&T, &T) -> Ordering) {
    if count == 0 {
        items.clear();
        return;
    }
    if count < items.len() {
        items.select_nth_unstable_by(count - 1, &compare);
        items.truncate(count);
    }
    items.sort_by(compare);
}

/// A 64-bit mix of an id and a generation (FNV-1a, then a SplitMix64 finaliser).
fn scramble(id: &str, generation: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut mixed = hash ^ generation.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

/// The position a `v2/list` page ended at, and everything that selected it: the cursor is
/// this, as JSON, in URL-safe base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CursorState {
    pub(crate) app: String,
    pub(crate) entity: String,
    pub(crate) q: Option<String>,
    pub(crate) sort: String,
    pub(crate) fields: Option<String>,
    pub(crate) equals: Vec<(String, String)>,
    /// The sort value of the last record returned (`null` when it had none).
    pub(crate) after_value: Value,
    /// The id of the last record returned.
    pub(crate) after_id: String,
}

impl CursorState {
    pub(crate) fn encode(&self) -> String {
        // Serialising plain data cannot fail; an empty cursor would only restart the listing.
        base64url_encode(&serde_json::to_vec(self).unwrap_or_default())
    }

    pub(crate) fn decode(text: &str) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::bad_request(
                "invalid `cursor`: pass `next_cursor` from the previous page unchanged",
            )
        };
        let bytes = base64url_decode(text.trim()).ok_or_else(invalid)?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

/// The keyset order of `v2/list`: the sort field, then id (both reversed when descending), so
/// every record has one place and a page can start right after the last one returned.
pub(crate) fn keyset_order(sort: &Sort, left: (&str, &Record), right: (&str, &Record)) -> Ordering {
    let by_id = left.0.cmp(right.0);
    sort.compare(left.1, right.1).then(if sort.descending {
        by_id.reverse()
    } else {
        by_id
    })
}

/// A record holding only `value` at the sort field's path, to compare records against the
/// cursor's position with [`Sort::compare`].
pub(crate) fn anchor(sort: &Sort, value: &Value) -> Record {
    let mut segments: Vec<&str> = sort.field.split('.').collect();
    let mut current = value.clone();
    while let Some(segment) = segments.pop() {
        let mut object = Map::new();
        object.insert(segment.to_owned(), current);
        if segments.is_empty() {
            return object;
        }
        current = Value::Object(object);
    }
    Map::new()
}

/// The value at the sort field's path (dotted paths step into objects); `null` when missing,
/// as the sort sees it.
pub(crate) fn sort_value(sort: &Sort, record: &Record) -> Value {
    let mut segments = sort.field.split('.');
    let mut current = segments.next().and_then(|first| record.get(first));
    for segment in segments {
        current = current
            .and_then(Value::as_object)
            .and_then(|object| object.get(segment));
    }
    current.cloned().unwrap_or(Value::Null)
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding.
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (index, byte)| {
            group | u32::from(*byte) << (16 - 8 * index)
        });
        for index in 0..=chunk.len() {
            let sextet = (group >> (18 - 6 * index)) & 0x3f;
            out.push(char::from(BASE64URL[sextet as usize]));
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut group: u32 = 0;
    let mut bits = 0;
    for character in text.bytes() {
        let sextet = BASE64URL.iter().position(|&c| c == character)?;
        group = (group << 6) | u32::try_from(sextet).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((group >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
