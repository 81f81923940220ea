//! The seed reader's unit tests: file names, repeated keys, and the two passes checked
//! against the whole-file reader they replaced (kept here as `reference`).

use super::*;

#[test]
fn seed_file_names() {
    for (file, entity) in [
        ("Task.jsonc", Some("Task")),
        ("task-comment.jsonc", Some("TaskComment")),
        ("task_comment.JSON", Some("TaskComment")),
        ("taskComment.json", Some("TaskComment")),
        ("Ops_Task.jsonc", Some("Ops_Task")),
        ("notes.txt", None),
        (".jsonc", None),
    ] {
        assert_eq!(
            entity_name_from_seed_file(file).as_deref(),
            entity,
            "{file}"
        );
    }
}

/// Regression: a key repeated in a seed record kept its last value silently. The record is
/// kept as JSON reads it and flagged with both values; a repeated id leaves it without one
/// (none is made up); a BOM is no part of the file.
#[test]
fn a_record_that_repeats_a_key_is_flagged_with_both_values() {
    let text = "\u{feff}[{\"id\":\"a\",\"title\":\"x\",\"title\":\"y\"},\n\
                {\"id\":\"b\",\"id\":\"c\"},\n\
                {\"id\":\"d\",\"meta\":{\"k\":1,\"k\":2}},\n\
                {\"id\":\"e\"}]";
    let import = match parse_seed_file(text, "Task.jsonc", "Task", None) {
        Ok(import) => import,
        Err(error) => panic!("{error}"),
    };
    let records: Vec<Value> = import.records.iter().cloned().map(Value::Object).collect();
    assert_eq!(
        records,
        vec![
            serde_json::json!({"id": "a", "title": "y"}),
            serde_json::json!({}),
            serde_json::json!({"id": "d", "meta": {"k": 2}}),
            serde_json::json!({"id": "e"}),
        ]
    );
    let flags: Vec<(usize, String, Value, Value)> = import
        .flagged
        .iter()
        .flat_map(|(index, flags)| {
            flags.iter().map(|(field, flag)| {
                (
                    *index,
                    field.clone(),
                    flag["reason"].clone(),
                    flag["value"].clone(),
                )
            })
        })
        .collect();
    let reason = Value::from("duplicate_key");
    assert_eq!(
        flags,
        vec![
            (
                0,
                "title".into(),
                reason.clone(),
                serde_json::json!(["x", "y"])
            ),
            (
                1,
                "id".into(),
                reason.clone(),
                serde_json::json!(["b", "c"])
            ),
            (2, "meta".into(), reason, serde_json::json!([1, 2])),
        ]
    );
    assert!(
        !import
            .warnings
            .iter()
            .any(|warning| warning.contains("has no id")),
        "{:?}",
        import.warnings
    );
    let repeated_list = parse_seed_file(
        r#"{"records": [{"id": "a"}], "records": [{"id": "b"}]}"#,
        "Task.jsonc",
        "Task",
        None,
    );
    assert!(
        matches!(repeated_list, Err(SeedError::DuplicateKey { ref key, .. }) if key == "records"),
        "{repeated_list:?}"
    );
}

/// The whole-file reader as it was before the two passes (the text stripped whole, parsed
/// whole into one value, then shaped), kept as the reference they must match.
mod reference {
    use super::super::*;
    use offbase_model::record::{PathStep, parse_value_collecting};

    pub fn parse(
        text: &str,
        file: &str,
        entity: &str,
        schema: Option<&Entity>,
    ) -> Result<SeedImport, SeedError> {
        let (value, duplicates) = parse_value_collecting(&jsonc::strip(text))
            .map_err(|error| invalid_json(file, &error))?;
        let mut warnings = Vec::new();
        let (items, list_key) = record_list(value, file, &mut warnings);
        let mut repeated = repeated_keys_by_item(duplicates, list_key, file)?;
        let is_user = entity == "User" || schema.is_some_and(Entity::is_user);
        let order: Vec<&str> = system_fields(is_user)
            .into_iter()
            .chain(
                schema
                    .into_iter()
                    .flat_map(|schema| schema.fields.iter().map(|field| field.name.as_str())),
            )
            .collect();
        let prefix = snake_case(entity);
        let mut records = Vec::with_capacity(items.len());
        let mut flagged = BTreeMap::new();
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (index, item) in items.into_iter().enumerate() {
            let number = index + 1;
            let Value::Object(mut record) = item else {
                warnings.push(format!(
                    "{file}: record {number} is {}, not an object: skipped",
                    offbase_model::json_kind(&item)
                ));
                continue;
            };
            let had_id = record.contains_key("id");
            let flags = repeated
                .remove(&index)
                .and_then(|duplicates| flag_repeated_keys(&mut record, &duplicates, "id"));
            let id_repeated = had_id && !record.contains_key("id");
            match record.get("id") {
                None if id_repeated => {}
                Some(Value::String(id)) if !id.is_empty() => {}
                Some(Value::Number(id)) => {
                    let text = id.to_string();
                    warnings.push(format!(
                        "{file}: record {number}: `id` is the number {text}: read as the text \"{text}\""
                    ));
                    record.insert("id".to_owned(), Value::String(text));
                }
                None | Some(Value::Null) | Some(Value::String(_)) => {
                    let id = format!("seed-{prefix}-{number}");
                    warnings.push(format!(
                        "{file}: record {number} has no id: given the id `{id}`; add \"id\" to the \
                         record to choose another"
                    ));
                    record.insert("id".to_owned(), Value::String(id));
                }
                Some(other) => warnings.push(format!(
                    "{file}: record {number}: `id` is {}, not a text: kept as it is",
                    offbase_model::json_kind(other)
                )),
            }
            if let Some(Value::String(id)) = record.get("id") {
                if let Some(first) = ids.get(id) {
                    warnings.push(format!(
                        "{file}: record {number}: id `{id}` is also the id of record {first}"
                    ));
                } else {
                    ids.insert(id.clone(), number);
                }
            }
            if let Some(Value::Object(flags)) = flags {
                flagged.insert(records.len(), flags);
            }
            records.push(ordered(record, &order));
        }
        Ok(SeedImport {
            entity: entity.to_owned(),
            records,
            flagged,
            warnings,
        })
    }

    /// A file's bytes as the folder reader read them: whole, checked as UTF-8, parsed.
    pub fn read(bytes: &[u8], file: &str, entity: &str) -> Result<SeedImport, SeedError> {
        let text = String::from_utf8(bytes.to_vec()).map_err(|error| {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            SeedError::InvalidUtf8 {
                path: file.to_owned(),
                line: 1 + valid.iter().filter(|byte| **byte == b'\n').count() as u64,
            }
        })?;
        parse(&text, file, entity, None)
    }

    fn repeated_keys_by_item(
        duplicates: Vec<DuplicateKey>,
        list_key: Option<&str>,
        file: &str,
    ) -> Result<BTreeMap<usize, Vec<DuplicateKey>>, SeedError> {
        let mut by_item: BTreeMap<usize, Vec<DuplicateKey>> = BTreeMap::new();
        let depth = usize::from(list_key.is_some());
        for duplicate in duplicates {
            if duplicate.path.is_empty() && matches!(duplicate.key.as_str(), "records" | "data") {
                return Err(SeedError::DuplicateKey {
                    path: file.to_owned(),
                    key: duplicate.key,
                });
            }
            let in_list = match (list_key, duplicate.path.first()) {
                (None, _) => true,
                (Some(list), Some(PathStep::Key(key))) => key == list,
                (Some(_), _) => false,
            };
            if let (true, Some(PathStep::Index(index))) = (in_list, duplicate.path.get(depth)) {
                by_item
                    .entry(*index)
                    .or_default()
                    .push(duplicate.below(depth + 1));
            }
        }
        Ok(by_item)
    }

    fn record_list(
        value: Value,
        file: &str,
        warnings: &mut Vec<String>,
    ) -> (Vec<Value>, Option<&'static str>) {
        match value {
            Value::Array(items) => (items, None),
            Value::Object(mut object) => {
                let records = object.remove("records");
                let data = object.remove("data");
                match (records, data) {
                    (Some(Value::Array(records)), data) => {
                        if data.is_some() {
                            warnings.push(format!(
                                "{file}: has both `records` and `data`: `records` read, `data` \
                                 ignored; keep only one"
                            ));
                        }
                        (records, Some("records"))
                    }
                    (records, Some(Value::Array(data))) => {
                        if let Some(records) = records {
                            warnings.push(format!(
                                "{file}: `records` is {}, not a list: `data` read instead",
                                offbase_model::json_kind(&records)
                            ));
                        }
                        (data, Some("data"))
                    }
                    _ => {
                        warnings.push(format!(
                            "{file}: an object without a `records` or `data` list: no records \
                             read; write the records as a JSON array"
                        ));
                        (Vec::new(), None)
                    }
                }
            }
            other => {
                warnings.push(format!(
                    "{file}: {} at the top level, not a list of records: no records read",
                    offbase_model::json_kind(&other)
                ));
                (Vec::new(), None)
            }
        }
    }
}

/// An import or an error as text: records serialized (key order counts), flags, warnings.
fn outcome(result: &Result<SeedImport, SeedError>) -> String {
    match result {
        Ok(import) => format!(
            "{}\n{:?}\n{:?}\n{:?}",
            serde_json::to_string(&import.records).unwrap_or_default(),
            import.flagged,
            import.warnings,
            import.entity
        ),
        Err(error) => format!("error: {error} ({error:?})"),
    }
}

/// Every seed text of the tests, good and bad, for the equivalence checks.
const TRICKY: &[&str] = &[
    // Comment markers and quotes inside strings, trailing commas at depth, CRLF, BOM.
    "\u{feff}// seed\r\n[\r\n  {\"id\": \"a\", \"url\": \"http://x\", \"c\": \"/* not */\", \"q\": \"a\\\"//b\",},\r\n  {\"id\": \"b\", \"n\": {\"m\": [1, 2, {\"k\": [],},],},}, // last\r\n]\r\n",
    "[]",
    "[ /* nothing */ ]",
    "// only a comment\n[\n]\n",
    "[42, \"x\", null, [1], {\"title\": \"no id\"}, {\"id\": 7}, {\"id\": 1.5}, {\"id\": true}, {\"id\": \"\"}, {\"id\": null}]",
    "[{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"a\", \"x\": 1}, {\"id\": \"seed-task-4\"}, {}]",
    "[{\"id\":\"a\",\"title\":\"x\",\"title\":\"y\"},{\"id\":\"b\",\"id\":\"c\"},{\"id\":\"d\",\"meta\":{\"k\":1,\"k\":2,\"list\":[{\"z\":1,\"z\":2}]}},{\"id\":\"e\"}]",
    "{\"records\": [{\"id\": \"a\"}, 3, {\"b\": 1, \"b\": 2},], \"entity\": \"Task\",}",
    "{\"data\": [{\"id\": \"d\"}], \"records\": [{\"id\": \"r\"}]}",
    "{\"records\": {\"id\": \"a\"}, \"data\": [{\"id\": \"d\", \"x\": [1, 1e2]}]}",
    "{\"records\": 3, \"data\": \"x\"}",
    "{\"theme\": \"dark\", \"theme\": \"light\"}",
    "{\"other\": [{\"a\": 1, \"a\": 2}], \"records\": [{\"id\": \"r\", \"r\": 1, \"r\": 2}]}",
    "{\"data\": [{\"x\": {\"y\": 1, \"y\": 2}}], \"records\": [{\"id\": \"r\"}]}",
    "{\"records\": [{\"id\": \"a\"}], \"records\": [{\"id\": \"b\"}]}",
    "{\"data\": [], \"records\": [], \"data\": [], \"records\": []}",
    "{}",
    "\"hello\"",
    "12",
    "null",
    "[{\"title\": \"Caf\u{e9} \u{1f600}\", \"id\": \"\\u00e9\"}]",
    "[{\"id\": \"a\", \"created_date\": \"2026-01-01\", \"z\": 1, \"updated_date\": \"x\", \"created_by\": \"u\"}]",
    // Broken: the same errors, at the same place.
    "[\n  {\"id\": \"a\",,}\n]",
    "[{\"id\": \"a\"} {\"id\": \"b\"}]",
    "[{\"id\": \"a\"}] x",
    "[{\"n\": 1e400}]",
    "[{\"n\": 1e400\n}]",
    "[1e400",
    "[1e99999999999]",
    "[-1e400,\n2]",
    "[{\"id\": \"a\", \"s\": \"\\ud800\"}]",
    "[{\"id\": \"a\",\n \"s\": \"tab\there\"}]",
    "[{\"id\": \"a\"}",
    "[1, /* never closed",
    "",
    "// nothing\n",
    "[1,\u{a0}]",
    "{\"records\": [{\"id\": \"a\"}], \"records\": [}",
    "{\"a\" ,\n\n \"b\": 1}",
    "[{\"id\": \"a\"}, /\n]",
];

#[test]
fn the_two_passes_give_what_the_whole_file_reader_gave() {
    for text in TRICKY {
        for (entity, file) in [("Task", "Task.jsonc"), ("User", "user.json")] {
            let expected = outcome(&reference::parse(text, file, entity, None));
            let got = outcome(&parse_seed_file(text, file, entity, None));
            assert_eq!(got, expected, "{text:?}");
        }
    }
    // Nested past serde_json's depth limit: refused the same way.
    let deep = format!("[{}{}]", "[".repeat(200), "]".repeat(200));
    assert_eq!(
        outcome(&parse_seed_file(&deep, "x.jsonc", "X", None)),
        outcome(&reference::parse(&deep, "x.jsonc", "X", None))
    );
}

/// Streamed from a file, one event at a time: the same records, flags and warnings, and
/// the same errors (a file that is not UTF-8 is that first, wherever its JSON breaks).
#[test]
fn a_streamed_file_gives_what_the_whole_file_reader_gave() -> Result<(), Box<dyn std::error::Error>>
{
    let folder = tempfile::tempdir()?;
    let mut cases: Vec<Vec<u8>> = TRICKY.iter().map(|text| text.as_bytes().to_vec()).collect();
    cases.extend([
        b"[\"caf\xe9\"]".to_vec(),
        b"[{\"id\": \"a\"},,\n{\"id\": \"\xff\"}]".to_vec(),
        b"[{\"id\": \"a\"}]\n// \xe2\x82".to_vec(),
        b"{\"records\": [], \"records\": []}\n\xc0".to_vec(),
    ]);
    for bytes in &cases {
        let path = folder.path().join("Task.jsonc");
        std::fs::write(&path, bytes)?;
        let file = path.display().to_string();
        let expected = outcome(&reference::read(bytes, &file, "Task"));
        let streamed = SeedFile::open(&path, "Task", None).and_then(|seed| {
            let mut import = SeedImport::empty(seed.entity());
            seed.read(|event| {
                import.add(event);
                Ok::<(), SeedError>(())
            })?;
            assert_eq!(seed.record_count(), import.records.len() as u64);
            Ok(import)
        });
        assert_eq!(outcome(&streamed), expected, "{bytes:?}");
        let collected = SeedFile::open(&path, "Task", None).and_then(|seed| seed.collect());
        assert_eq!(outcome(&collected), expected, "{bytes:?}");
    }
    Ok(())
}

#[test]
fn a_sink_error_stops_the_reading() -> Result<(), Box<dyn std::error::Error>> {
    let folder = tempfile::tempdir()?;
    let path = folder.path().join("Task.jsonc");
    std::fs::write(&path, "[{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"c\"}]")?;
    let seed = SeedFile::open(&path, "Task", None)?;
    let mut seen = 0;
    let result = seed.read(|_| {
        seen += 1;
        if seen == 2 {
            Err(SeedError::DuplicateKey {
                path: "stop".into(),
                key: seen.to_string(),
            })
        } else {
            Ok(())
        }
    });
    assert!(
        matches!(result, Err(SeedError::DuplicateKey { ref key, .. }) if key == "2"),
        "{result:?}"
    );
    assert_eq!(seen, 2);
    Ok(())
}

/// A small random JSONC generator: values with comments, odd whitespace, trailing commas,
/// repeated keys and ids, and now and then a byte broken.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound.max(1) as u64) as usize
    }

    fn pick<'p>(&mut self, pieces: &[&'p str]) -> &'p str {
        pieces[self.below(pieces.len())]
    }

    fn gap(&mut self, text: &mut String) {
        const GAPS: &[&str] = &[
            "",
            "",
            "",
            " ",
            "\n  ",
            "\r\n",
            "\t",
            "// c, ]\n",
            "/* a, } */",
            "/**/",
            "\u{a0}",
        ];
        text.push_str(self.pick(GAPS));
    }

    fn value(&mut self, text: &mut String, depth: usize) {
        const SCALARS: &[&str] = &[
            "1",
            "-2.5",
            "1e400",
            "null",
            "true",
            "\"a\"",
            "\"http://x\"",
            "\"/* not */\"",
            "\"a\\\"//b\"",
            "\"caf\u{e9}\"",
            "\"\\u00e9\"",
            "7",
        ];
        match self.below(if depth > 3 { 1 } else { 4 }) {
            0 => text.push_str(self.pick(SCALARS)),
            1 => self.list(text, depth),
            _ => self.object(text, depth),
        }
    }

    fn list(&mut self, text: &mut String, depth: usize) {
        text.push('[');
        let count = self.below(4);
        for index in 0..count {
            self.gap(text);
            self.value(text, depth + 1);
            self.gap(text);
            if index + 1 < count || self.below(3) == 0 {
                text.push(',');
            }
        }
        self.gap(text);
        text.push(']');
    }

    fn object(&mut self, text: &mut String, depth: usize) {
        const KEYS: &[&str] = &[
            "id",
            "id",
            "title",
            "k",
            "records",
            "data",
            "created_date",
            "é",
        ];
        text.push('{');
        let count = self.below(5);
        for index in 0..count {
            self.gap(text);
            text.push_str(&format!("\"{}\"", self.pick(KEYS)));
            self.gap(text);
            text.push(':');
            self.gap(text);
            self.value(text, depth + 1);
            if index + 1 < count || self.below(3) == 0 {
                text.push(',');
            }
        }
        self.gap(text);
        text.push('}');
    }
}

/// Random seed texts, mostly valid: the same outcome as the whole-file reader's.
#[test]
fn random_texts_give_what_the_whole_file_reader_gave() {
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let mut valid = 0;
    for _ in 0..4_000 {
        let mut text = String::new();
        match random.below(3) {
            0 => random.value(&mut text, 0),
            1 => random.list(&mut text, 0),
            _ => random.object(&mut text, 0),
        }
        if random.below(8) == 0 && !text.is_empty() {
            // One byte broken (at a character boundary, the text stays UTF-8).
            let mut at = random.below(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let broken = random.pick(&["", ",", "]", "\"", "/", "x"]);
            text.replace_range(
                at..at + text[at..].chars().next().map_or(0, char::len_utf8),
                broken,
            );
        }
        let expected = outcome(&reference::parse(&text, "x.jsonc", "X", None));
        valid += usize::from(!expected.starts_with("error"));
        assert_eq!(
            outcome(&parse_seed_file(&text, "x.jsonc", "X", None)),
            expected,
            "{text:?}"
        );
    }
    assert!(valid > 1_000, "{valid} valid texts only");
}

/// Past the limit of ids it remembers, the streaming reader says so once and still tells
/// the repeats of the ids it holds.
#[test]
fn ids_past_the_limit_are_left_to_the_load() {
    let mut shaper = Shaper::new("Task.jsonc", "Task", None, 2);
    let mut warnings = Vec::new();
    for (index, id) in ["a", "b", "c", "a", "c", "d"].into_iter().enumerate() {
        let item = serde_json::json!({ "id": id });
        assert!(
            shaper
                .shape(index, item, Vec::new(), &mut warnings)
                .is_some()
        );
    }
    assert_eq!(
        warnings,
        [
            "Task.jsonc: record 3: more than 2 different ids: an id first seen from here on \
             is not checked for repeats here; the load keeps one copy of each id and rejects \
             the others as `duplicate_id`",
            "Task.jsonc: record 4: id `a` is also the id of record 1",
        ]
    );
}
