//! The loader's fast path (a line parsed straight into column slots) against its general path
//! (the line parsed as a map, then converted): for every line of every sample, bad ones
//! included, and for hand-written lines that stress the parser (keys out of order, repeated
//! keys, undeclared fields, fields named like the importer's flags, escapes, nulls), with and
//! without `--relax`, the fast path either
//! gives exactly the general path's row or steps aside; it never steps aside for a line that
//! loads plainly, and never gives a row for a line the general path rejects.

use offbase_copy::convert::{EntityConverter, Relax};
use offbase_tests::{SAMPLES, plan_app, sample};
use serde_json::{Map, Value};

fn compare(converter: &EntityConverter<'_>, line: &str, label: &str) -> bool {
    // The general path reads a line as the loader does: a repeated key makes it no record.
    let general = offbase_model::record::parse_object(line.as_bytes(), 0)
        .ok()
        .map(|record| {
            (
                converter
                    .convert(&record)
                    .map(|converted| format!("{:?}", (converted.row, converted.relaxed))),
                record,
            )
        });
    let slotted = converter.parse_slotted(line);
    let fast = slotted
        .as_ref()
        .and_then(|record| converter.convert_slotted(record))
        .map(|converted| format!("{:?}", (converted.row, converted.relaxed)));
    match (&general, &fast) {
        (Some((Ok(expected), _)), Some(found)) => {
            assert_eq!(found, expected, "{label}: {line}");
            true
        }
        (Some((Ok(_), record)), None) => {
            // Only the parser may step aside for a record that loads, and only for a key it
            // cannot borrow (one with an escape).
            assert!(
                slotted.is_none() && record.keys().any(|key| key.contains(['"', '\\'])),
                "{label}: the fast path refused a record that loads: {line}"
            );
            false
        }
        (Some((Err(_), _)) | None, Some(found)) => {
            panic!(
                "{label}: the fast path loaded a line the general path rejects: {line} -> {found}"
            )
        }
        (_, None) => false,
    }
}

#[test]
fn the_fast_path_gives_the_general_paths_rows_or_steps_aside() {
    let mut fast = 0;
    for app in SAMPLES {
        let output = plan_app(&sample(app), None);
        for relax in [
            Relax::default(),
            Relax {
                required: true,
                enums: true,
            },
        ] {
            for table in output
                .target
                .tables
                .iter()
                .filter(|table| table.junction.is_none())
            {
                let converter = EntityConverter::new(&output.target, table, relax);
                if !converter.slotted() {
                    continue;
                }
                let path = sample(app)
                    .join("data")
                    .join(format!("{}.jsonl", table.entity));
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for line in text.lines() {
                    if compare(&converter, line, &format!("{app} {}", table.entity)) {
                        fast += 1;
                    }
                    // The same record with its keys reversed, an undeclared field, a field
                    // named like the importer's flags (staged escaped), and then a repeated
                    // key, which both paths refuse.
                    let Ok(record) = serde_json::from_str::<Map<String, Value>>(line) else {
                        continue;
                    };
                    let mut reversed: Vec<(String, Value)> = record.clone().into_iter().collect();
                    reversed.reverse();
                    let mut changed = Map::new();
                    for (key, value) in reversed {
                        changed.insert(key, value);
                    }
                    changed.insert(
                        "undeclared \u{1F600}".into(),
                        serde_json::json!({"b": [1, null]}),
                    );
                    changed.insert("_offbase_flags_".into(), serde_json::json!({"x": "y"}));
                    let mut variant = Value::Object(changed).to_string();
                    compare(
                        &converter,
                        &variant,
                        &format!("{app} {} variant", table.entity),
                    );
                    if let Some(first) = record.keys().next() {
                        variant.insert_str(
                            1,
                            &format!("{}:\"overwritten\",", Value::String(first.clone())),
                        );
                        let label = format!("{app} {} repeated key", table.entity);
                        assert!(!compare(&converter, &variant, &label), "{variant}");
                        assert!(converter.parse_slotted(&variant).is_none(), "{variant}");
                    }
                    // A key with an escape: the fast path steps aside.
                    let escaped = format!(r#"{{"we\"ird":1,{}"#, line.get(1..).unwrap_or_default());
                    let label = format!("{app} {} escaped key", table.entity);
                    assert!(!compare(&converter, &escaped, &label), "{escaped}");
                }
            }
        }
    }
    assert!(fast > 1000, "only {fast} lines took the fast path");
}
