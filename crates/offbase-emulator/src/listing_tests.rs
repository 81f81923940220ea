//! The listing's unit tests: the keyset shortcuts (filters answered from ids and instants,
//! pages walked along the created order) against what the filter and the sort give on whole
//! records, the cursor's encoding, and the equality parameters.

use super::*;
use serde_json::json;

/// Records whose timestamps read as instants in several spellings, or do not (missing, a
/// number, a date alone, text), and whose ids include one that reads as a timestamp.
fn mixed_records() -> Vec<(String, Stored)> {
    let stamps = [
        json!("2026-03-01T10:00:00.000000"),
        json!("2026-03-01T10:00:00Z"),
        json!("2026-03-01T11:30:00.500Z"),
        json!("2026-03-01T09:00:00+01:00"),
        json!("2026-02-28T23:59:59.999999"),
        json!("2026-03-01"),
        json!(20260301),
        json!("soon"),
        Value::Null,
    ];
    let mut records = Vec::new();
    for (index, created) in stamps.iter().enumerate() {
        for (shift, updated) in stamps.iter().rev().enumerate() {
            let id = match (index + shift) % 5 {
                0 => format!("2026-01-0{}", shift % 9 + 1),
                _ => format!("{:02x}{index}{shift}", (index * 7 + shift * 3) % 256),
            };
            let mut record = Map::new();
            record.insert("id".to_owned(), json!(id));
            if !created.is_null() {
                record.insert("created_date".to_owned(), created.clone());
            }
            if !updated.is_null() {
                record.insert("updated_date".to_owned(), updated.clone());
            }
            record.insert(
                "title".to_owned(),
                json!(format!("t{}", (index * shift) % 4)),
            );
            records.push((id, Stored::new(&record)));
        }
    }
    records.sort_by(|left, right| left.0.cmp(&right.0));
    records.dedup_by(|left, right| left.0 == right.0);
    records
}

/// The key-only reading of keyset filters (ids and parsed instants) selects exactly what
/// the filter selects when it reads each whole record.
#[test]
fn keyset_filters_read_from_the_kept_instants_select_what_the_filter_selects() {
    let records = mixed_records();
    let filters = [
        json!({}),
        json!({"created_date": {"$gt": "2026-03-01T10:00:00.000000"}}),
        json!({"created_date": {"$gte": "2026-03-01T10:00:00Z"}}),
        json!({"created_date": {"$gte": "2026-03-01T09:00:00Z", "$lte": "2026-03-01T10:00:00Z"}}),
        json!({"updated_date": {"$lt": "2026-03-01T11:30:00.5Z"}}),
        json!({"updated_date": "2026-03-01T10:00:00Z", "id": {"$gt": "2026-01-03"}}),
        json!({"updated_date": {"$eq": "2026-03-01T08:00:00Z"}}),
        json!({"$and": [{"created_date": {"$gte": "2026-03-01"}}, {"id": {"$lte": "80"}}]}),
        json!({"created_date": {"$gte": "2026-03-01T10:00:00Z"}, "title": "t1"}),
        json!({"created_date": {"$ne": "2026-03-01T10:00:00Z"}}),
        json!({"id": {"$in": ["2026-01-01", "0000"]}}),
    ];
    for query in filters {
        let filter = match parse_filter(&query) {
            Ok(filter) => filter,
            Err(error) => panic!("{query}: {error}"),
        };
        let fast: Vec<&String> = select(records.iter().map(|(id, stored)| (id, stored)), &filter)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let whole: Vec<&String> = records
            .iter()
            .filter(|(_, stored)| filter.matches(&stored.record()))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(fast, whole, "{query}");
        assert!(
            !whole.is_empty() && whole.len() < records.len() || query == json!({}),
            "{query}"
        );
    }
}

/// A page walked along the created order is the page sorting the selection gives, and
/// the walk answers every keyset shape once each `created_date` reads as an instant.
#[test]
fn a_page_walked_along_the_created_order_is_the_sorted_selections_page() {
    let all = mixed_records();
    let mut every = Records::default();
    let mut readable = Records::default();
    for (id, stored) in &all {
        every.insert(id.clone(), stored.clone());
        if stored.created.is_some() {
            readable.insert(id.clone(), stored.clone());
        }
    }
    let filters = [
        (json!({}), true),
        (
            json!({"created_date": {"$gt": "2026-03-01T10:00:00.000000"}}),
            true,
        ),
        (
            json!({"created_date": {"$gte": "2026-03-01T09:00:00Z", "$lte": "2026-03-01T10:00:00Z"}}),
            true,
        ),
        (
            json!({"created_date": {"$gte": "2026-03-01T10:00:00Z", "$lt": "2026-03-01T10:00:00Z"}}),
            true,
        ),
        (
            json!({"created_date": {"$gte": "2026-03-01T11:00:00Z", "$lt": "2026-03-01T10:00:00Z"}}),
            true,
        ),
        (
            json!({"created_date": "2026-03-01T10:00:00Z", "id": {"$gt": "2026-01-03"}}),
            true,
        ),
        (
            json!({"updated_date": {"$gte": "2026-03-01T10:00:00Z"}}),
            true,
        ),
        (
            json!({"created_date": {"$gte": "2026-03-01T10:00:00Z"}, "title": "t1"}),
            false,
        ),
    ];
    for (query, walkable) in filters {
        let filter = match parse_filter(&query) {
            Ok(filter) => filter,
            Err(error) => panic!("{query}: {error}"),
        };
        for text in ["created_date", "-created_date", "updated_date"] {
            let sort = match parse_sort(text) {
                Ok(Some(sort)) => sort,
                other => panic!("{text}: {other:?}"),
            };
            for keep in [1, 2, 5, all.len()] {
                for (what, records) in [("every record", &every), ("created read", &readable)] {
                    let walked = walk_created(records, &filter, Some(&sort), keep, |_| true);
                    let expected_walk =
                        walkable && text == "created_date" && what == "created read";
                    assert_eq!(walked.is_some(), expected_walk, "{query}, {text}, {what}");
                    let mut sorted = select(records.iter(), &filter);
                    order(&mut sorted, Some(&sort), 0, keep);
                    if let Some(walked) = walked {
                        let ids = |entries: &[Entry]| {
                            entries
                                .iter()
                                .map(|(id, _)| (*id).clone())
                                .collect::<Vec<_>>()
                        };
                        assert_eq!(ids(&walked), ids(&sorted), "{query}, keep {keep}");
                    }
                }
            }
        }
    }
}

/// Ordering by the kept instants, or by sort keys read once, gives the order of
/// `Sort::compare` on whole records (ties by id).
#[test]
fn listing_orders_are_the_sorts_order_on_whole_records() {
    let all = mixed_records();
    let parsed = |stamp: &str| {
        all.iter()
            .filter(|(_, stored)| match stamp {
                "created_date" => stored.created.is_some(),
                _ => stored.updated.is_some(),
            })
            .map(|(id, stored)| (id.clone(), stored.clone()))
            .collect::<Vec<_>>()
    };
    let sets = [
        ("every record", all.clone()),
        ("created_date read", parsed("created_date")),
        ("updated_date read", parsed("updated_date")),
    ];
    for (what, records) in &sets {
        for text in [
            "created_date",
            "-created_date",
            "updated_date",
            "-updated_date",
            "id",
            "-id",
            "title",
        ] {
            let sort = match parse_sort(text) {
                Ok(Some(sort)) => sort,
                other => panic!("{text}: {other:?}"),
            };
            for keep in [3, records.len()] {
                let mut entries: Vec<Entry> =
                    records.iter().map(|(id, stored)| (id, stored)).collect();
                order(&mut entries, Some(&sort), 0, keep);
                let got: Vec<&String> = entries.iter().map(|(id, _)| *id).collect();
                let mut reference: Vec<(&String, Record)> = records
                    .iter()
                    .map(|(id, stored)| (id, stored.record()))
                    .collect();
                reference.sort_by(|left, right| {
                    sort.compare(&left.1, &right.1)
                        .then_with(|| left.0.cmp(right.0))
                });
                let expected: Vec<&String> =
                    reference.iter().take(keep).map(|(id, _)| *id).collect();
                assert_eq!(got, expected, "{what}, sort {text}, keep {keep}");
            }
        }
    }
}

#[test]
fn base64url_round_trips() {
    for text in ["", "a", "ab", "abc", "abcd", "{\"x\":[1,2,3]}", "é€🚀"] {
        let encoded = base64url_encode(text.as_bytes());
        assert!(!encoded.contains(['+', '/', '=']));
        assert_eq!(base64url_decode(&encoded), Some(text.as_bytes().to_vec()));
    }
    assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64url_encode(b"fo"), "Zm8");
    assert_eq!(base64url_decode("not base64!"), None);
}

#[test]
fn anchor_nests_dotted_paths() {
    let sort = Sort {
        field: "address.city".to_owned(),
        descending: false,
    };
    let record = anchor(&sort, &Value::String("Oslo".to_owned()));
    assert_eq!(
        Value::Object(record.clone()),
        serde_json::json!({"address": {"city": "Oslo"}})
    );
    assert_eq!(sort_value(&sort, &record), Value::String("Oslo".to_owned()));
}

#[test]
fn equality_parameters_match_text_numbers_and_booleans() -> Result<(), ApiError> {
    let filter = build_filter(None, &[("priority".to_owned(), "2".to_owned())])?;
    let record = |value: Value| {
        let mut record = Record::new();
        record.insert("priority".to_owned(), value);
        record
    };
    assert!(filter.matches(&record(serde_json::json!(2))));
    assert!(filter.matches(&record(serde_json::json!("2"))));
    assert!(!filter.matches(&record(serde_json::json!(3))));
    let filter = build_filter(
        Some(r#"{"done": true}"#),
        &[("done".to_owned(), "true".to_owned())],
    )?;
    let mut done = Record::new();
    done.insert("done".to_owned(), Value::Bool(true));
    assert!(filter.matches(&done));
    Ok(())
}
