//! `corpus_from_har` on the sample capture `samples/har/crm.har` (a browser session on the
//! sample app `samples/crm`): the exact corpus it gives, the entries it skips and why, and that
//! every request it keeps finds records in the sample data.

use offbase_base44::corpus::{Operation, read_corpus, write_corpus};
use offbase_base44::har::{HarExtract, corpus_from_har};
use offbase_base44::query::parse_filter;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples");

fn read(path: &str) -> String {
    let path = format!("{SAMPLES}/{path}");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn sample_extract() -> HarExtract {
    corpus_from_har(&read("har/crm.har")).unwrap_or_else(|error| panic!("crm.har: {error}"))
}

#[test]
fn sample_har_gives_the_expected_corpus() {
    let extract = sample_extract();
    let written = write_corpus(&extract.requests);
    let expected = read("har/crm.corpus.jsonl");
    assert!(
        written == expected,
        "the corpus of samples/har/crm.har changed; if that is intended, write this to samples/har/crm.corpus.jsonl:\n{written}"
    );
    // The expected file is itself a valid corpus, the same requests read back.
    let read_back = read_corpus(&expected).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(read_back, extract.requests);
    // The capture sent `api_key` and `Authorization: Bearer` on its API calls.
    let skips: Vec<String> = extract.skipped.iter().map(ToString::to_string).collect();
    let output = format!("{written}{}", skips.join("\n"));
    assert!(!output.contains("REDACTED-SAMPLE"), "{output}");
}

#[test]
fn sample_har_skips_the_right_entries() {
    let extract = sample_extract();
    let skips: Vec<String> = extract.skipped.iter().map(ToString::to_string).collect();
    let entities = "/api/apps/0dad9f07cd1e58f3fd183368/entities";
    assert_eq!(
        skips,
        [
            "har #1: GET /assets/index-DkR2x9aQ.js: not an entity call".to_owned(),
            format!("har #2: GET {entities}/User/me: the signed-in user (User/me) is not replayed"),
            format!("har #3: OPTIONS {entities}/Deal: only GET requests are replayed (OPTIONS)"),
            format!(
                "har #10: PUT {entities}/Deal/68c6d92bc3e5e79221d2ebe8: writes are not replayed (PUT)"
            ),
            format!("har #11: POST {entities}/Activity: writes are not replayed (POST)"),
            format!("har #12: GET {entities}/Deal: duplicate of har #4"),
            format!(
                "har #22: GET {entities}/Activity/v2/list: cursor paging (v2/list) is not replayed"
            ),
            format!(
                "har #23: GET {entities}/Deal/68c6d92bc3e5e79221d2ffff: response status 404, not 2xx"
            ),
        ]
    );
    let counts = BTreeMap::from(
        [
            ("cursor paging (v2/list) is not replayed", 1),
            ("duplicate", 1),
            ("not an entity call", 1),
            ("only GET requests are replayed (OPTIONS)", 1),
            ("response status 404, not 2xx", 1),
            ("the signed-in user (User/me) is not replayed", 1),
            ("writes are not replayed (POST)", 1),
            ("writes are not replayed (PUT)", 1),
        ]
        .map(|(reason, count)| (reason.to_owned(), count)),
    );
    assert_eq!(extract.skip_counts(), counts);
    assert_eq!(extract.duplicates(), 1);
    assert_eq!(extract.requests.len(), 15);
}

/// The sample capture asks for what the sample app holds: every filter and count matches
/// records, every get finds its record.
#[test]
fn sample_har_requests_find_records_in_the_sample_app() {
    let mut records: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    for entity in ["Activity", "Company", "Contact", "Deal"] {
        let lines = read(&format!("crm/data/{entity}.jsonl"));
        let parsed = lines
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| panic!("{entity}: {error}"))
            })
            .collect();
        records.insert(entity.to_owned(), parsed);
    }
    for request in sample_extract().requests {
        let label = request.label();
        let table = records
            .get(&request.entity)
            .unwrap_or_else(|| panic!("{label}: no entity {} in samples/crm", request.entity));
        let found = match request.op {
            Operation::Get => table
                .iter()
                .filter(|record| record.get("id").and_then(Value::as_str) == request.id.as_deref())
                .count(),
            Operation::List | Operation::Filter | Operation::Count => {
                let filter = request
                    .q
                    .as_ref()
                    .map(|q| parse_filter(q).unwrap_or_else(|error| panic!("{label}: {error}")));
                table
                    .iter()
                    .filter(|record| filter.as_ref().is_none_or(|filter| filter.matches(record)))
                    .count()
            }
        };
        assert!(found > 0, "{label}: no record in samples/crm answers it");
        if let Some(skip) = request.skip {
            assert!(found as u64 > skip, "{label}: the page is past the end");
        }
    }
}
