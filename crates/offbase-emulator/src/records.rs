//! How the emulator keeps one entity's records (live or trashed): each record as its JSON
//! text with its timestamps parsed ([`Stored`]), by id, with the pull order
//! (`created_date` as an instant, then id) kept as an index ([`Records`]). Kept small on
//! purpose: a parsed record of a wide entity takes several kilobytes (a map entry and an
//! allocation per field and per nested value), its text a few hundred bytes, which is what lets
//! one emulator hold the ten million records of the scale rehearsal; and the index lets a
//! keyset page of the pull or of the sync's reconciliation be walked, not sorted out of the
//! whole entity.

use crate::store::Record;
use chrono::{DateTime, TimeDelta, Utc};
use offbase_model::time::parse_timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// A record as kept: its JSON text (serde_json's writing of the map, in its order), with the
/// instants the listings bound and order by, parsed once. A read parses the records it
/// returns; the listings answer the keyset filters of the pull and the sync from the id and
/// the instants alone.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    text: Box<str>,
    pub(crate) created: Option<DateTime<Utc>>,
    pub(crate) updated: Option<DateTime<Utc>>,
}

impl Stored {
    pub(crate) fn new(record: &Record) -> Self {
        let instant = |name: &str| {
            record
                .get(name)
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
        };
        Stored {
            // Writing a map of JSON values cannot fail (its keys are strings).
            text: serde_json::to_string(record)
                .unwrap_or_default()
                .into_boxed_str(),
            created: instant("created_date"),
            updated: instant("updated_date"),
        }
    }

    /// The record, parsed from its text.
    pub(crate) fn record(&self) -> Record {
        // The text is serde_json's own writing of a map that serde_json parsed (so no deeper
        // than its parser allows): it always reads back.
        serde_json::from_str(&self.text).unwrap_or_default()
    }
}

/// Records by id, and the (`created_date` instant, id) order of those whose `created_date`
/// reads as an instant.
#[derive(Debug, Default)]
pub(crate) struct Records {
    by_id: BTreeMap<String, Stored>,
    by_created: BTreeSet<(DateTime<Utc>, String)>,
}

impl Records {
    /// Stores `stored` under `id`, in place of any record with that id.
    pub(crate) fn insert(&mut self, id: String, stored: Stored) {
        let old_created = self.by_id.get(&id).and_then(|old| old.created);
        if old_created != stored.created
            && let Some(old_created) = old_created
        {
            self.by_created.remove(&(old_created, id.clone()));
        }
        if let Some(created) = stored.created {
            self.by_created.insert((created, id.clone()));
        }
        self.by_id.insert(id, stored);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Stored> {
        let stored = self.by_id.remove(id)?;
        if let Some(created) = stored.created {
            self.by_created.remove(&(created, id.to_owned()));
        }
        Some(stored)
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Stored> {
        self.by_id.get(id)
    }

    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Records by id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Stored)> {
        self.by_id.iter()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.by_id.keys()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Stored> {
        self.by_id.values()
    }

    /// The records in (`created_date` instant, id) order from the first created at or after
    /// `from` to the last created at or before `to`, when every record's `created_date` reads
    /// as an instant (else `None`: the order of the others is the sort's to give).
    pub(crate) fn by_created(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Option<impl Iterator<Item = (&String, &Stored)>> {
        if self.by_created.len() != self.by_id.len() {
            return None;
        }
        let start = match from {
            Some(from) => Bound::Included((from, String::new())),
            None => Bound::Unbounded,
        };
        // Everything at `to`: up to the first key of the next representable instant.
        let end = match to.and_then(|to| to.checked_add_signed(TimeDelta::nanoseconds(1))) {
            Some(after) => Bound::Excluded((after, String::new())),
            None => Bound::Unbounded,
        };
        // A range whose end comes before its start is empty (a range the wrong way round
        // would panic).
        let end = match (&start, end) {
            (Bound::Included(first), Bound::Excluded(last)) if last < *first => {
                Bound::Excluded(first.clone())
            }
            (_, end) => end,
        };
        Some(
            self.by_created
                .range((start, end))
                .filter_map(|(_, id)| self.by_id.get_key_value(id)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(id: &str, created: Value) -> Stored {
        let mut record = Record::new();
        record.insert("id".to_owned(), json!(id));
        record.insert("created_date".to_owned(), created);
        Stored::new(&record)
    }

    fn walked(records: &Records) -> Option<Vec<String>> {
        records
            .by_created(None, None)
            .map(|walk| walk.map(|(id, _)| id.clone()).collect())
    }

    /// The created order follows every insert, replacement and removal, and is only offered
    /// while every record's `created_date` is an instant.
    #[test]
    fn the_created_index_follows_inserts_replacements_and_removals() {
        let mut records = Records::default();
        records.insert("b".into(), stored("b", json!("2026-03-01T10:00:00Z")));
        records.insert("a".into(), stored("a", json!("2026-03-01T11:00:00Z")));
        records.insert("c".into(), stored("c", json!("2026-03-01T10:00:00.000000")));
        assert_eq!(
            walked(&records),
            Some(vec!["b".into(), "c".into(), "a".into()])
        );
        // Replaced under another instant: one place, the new one.
        records.insert("b".into(), stored("b", json!("2026-03-01T12:00:00Z")));
        assert_eq!(
            walked(&records),
            Some(vec!["c".into(), "a".into(), "b".into()])
        );
        assert_eq!(records.len(), 3);
        // A record whose `created_date` is no instant: no walk until it goes.
        records.insert("d".into(), stored("d", json!("soon")));
        assert_eq!(walked(&records), None);
        assert!(records.remove("d").is_some());
        assert!(records.remove("c").is_some());
        assert!(records.remove("c").is_none());
        assert_eq!(walked(&records), Some(vec!["a".into(), "b".into()]));
        let from = parse_timestamp("2026-03-01T11:30:00Z");
        let to = parse_timestamp("2026-03-01T11:00:00Z");
        let empty = records.by_created(from, to).map(|walk| walk.count());
        assert_eq!(empty, Some(0), "a range the wrong way round is empty");
        // A record read back is the record stored, in its own key order.
        let text = records
            .get("a")
            .map(|stored| Value::Object(stored.record()).to_string());
        assert_eq!(
            text.as_deref(),
            Some(r#"{"id":"a","created_date":"2026-03-01T11:00:00Z"}"#)
        );
    }
}
