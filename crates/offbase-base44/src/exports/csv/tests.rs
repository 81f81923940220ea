//! Unit tests of the CSV grammar (also read in pieces: a byte at a time), the value readers,
//! JSON cells, and the inference a row at a time (against the whole-column inference it
//! replaced).

use super::inference::{Inference, plain_number_text};
use super::read::{InvalidRow, Row, Rows, split_rows};
use super::typing::{
    IntegerText, Shape, Typed, is_missing_json, json_cell, parse_boolean, parse_integer,
    parse_json_cell, parse_number, union_cell,
};
use super::*;
use offbase_model::time::{parse_date, parse_timestamp};
use offbase_model::{Field, FieldKind};
use serde_json::{Number, Value};
use std::io::{self, BufRead, BufReader, Read};

fn cells(text: &str) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
    Ok(split_rows(text.as_bytes(), "t.csv")?
        .into_iter()
        .map(|row| (row.line, row.cells))
        .collect())
}

#[test]
fn rows_quotes_and_lines() -> Result<(), CsvError> {
    let rows = cells("a,\"b\"\r\n\"x\ny\",\"say \"\"hi\"\"\"\r\n\r\nplain \"q\",\r\nlast")?;
    let expected: Vec<(u64, Vec<String>)> = vec![
        (1, vec!["a".into(), "b".into()]),
        (2, vec!["x\ny".into(), "say \"hi\"".into()]),
        (5, vec!["plain \"q\"".into(), String::new()]),
        (6, vec!["last".into()]),
    ];
    assert_eq!(rows, expected);
    assert_eq!(
        cells("a\n\"\"\n")?,
        vec![(1, vec!["a".into()]), (2, vec![String::new()])]
    );
    Ok(())
}

#[test]
fn malformed_quotes_name_the_line() {
    for (text, line) in [("a\n\"open,b\nc\n", 2), ("a\n\"x\"y,b\n", 2)] {
        match split_rows(text.as_bytes(), "t.csv") {
            Err(CsvError::Malformed { line: found, .. }) => assert_eq!(found, line, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn integers_and_numbers() {
    assert_eq!(parse_integer("12", true), IntegerText::Integer(12));
    assert_eq!(parse_integer(" -12.00 ", true), IntegerText::Integer(-12));
    assert_eq!(parse_integer("1e3", true), IntegerText::Integer(1000));
    assert_eq!(parse_integer("12.5", true), IntegerText::NotInteger);
    assert_eq!(parse_integer("12.0", false), IntegerText::NotInteger);
    assert_eq!(
        parse_integer("9223372036854775808", true),
        IntegerText::OutOfRange
    );
    assert_eq!(parse_integer("NaN", true), IntegerText::NotInteger);
    assert_eq!(parse_number("7"), Some(Number::from(7)));
    assert_eq!(parse_number("0.5"), Number::from_f64(0.5));
    assert_eq!(parse_number("inf"), None);
    assert_eq!(parse_number("12abc"), None);
}

/// Regression: a JSON cell repeating a key kept its last value silently.
#[test]
fn a_json_cell_that_repeats_a_key_is_flagged() {
    let flagged = |typed: Typed| match typed {
        Typed::Flagged(reason) => reason,
        _ => panic!("not flagged"),
    };
    let reason = flagged(json_cell(r#"{"k":1,"k":2}"#, Some(Shape::Object)));
    assert!(
        reason.starts_with("the key \"k\" appears more than once in the value (first 1, then 2)"),
        "{reason}"
    );
    let reason = flagged(json_cell(r#"[{""a"":1,""a"":1}]"#, None));
    assert!(
        reason.contains("the key \"a\" appears more than once in [0]"),
        "{reason}"
    );
    let types = ["object".to_owned()];
    assert!(matches!(
        union_cell(&types, r#"{"k":1,"k":2}"#),
        Typed::Flagged(_)
    ));
    assert!(matches!(json_cell(r#"{"k":1}"#, None), Typed::Value(_)));
}

#[test]
fn json_cells_plain_and_double_escaped() {
    assert_eq!(parse_json_cell(r#"["a"]"#), Some(serde_json::json!(["a"])));
    assert_eq!(
        parse_json_cell(r#"{""k"":1,""s"":""""}"#),
        Some(serde_json::json!({"k": 1, "s": ""}))
    );
    assert_eq!(parse_json_cell("[URGENT] call"), None);
}

#[test]
fn export_file_names() {
    assert_eq!(
        entity_name_from_file("Task_export.csv").as_deref(),
        Some("Task")
    );
    assert_eq!(
        entity_name_from_file("exports/Ops_Task_EXPORT.CSV").as_deref(),
        Some("Ops_Task")
    );
    for name in [
        "_export.csv",
        "Task.csv",
        "Task_export (1).csv",
        "Tâche_export.csv",
    ] {
        assert_eq!(entity_name_from_file(name), None, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The row reader fed in pieces

/// A reader that gives one byte per read, so the row reader meets every place a file can be
/// cut between two reads: inside a quote pair, a CR LF, a BOM, a UTF-8 character.
struct OneByte<'a>(&'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buffer.first_mut()) {
            (Some((&byte, rest)), Some(slot)) => {
                *slot = byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// A row as compared: its line, its cells, and when it is not UTF-8 its bytes, the line of its
/// first invalid byte and the decoder's error.
type ShownRow = (
    u64,
    Vec<String>,
    Option<(Vec<u8>, u64, std::str::Utf8Error)>,
);

/// Everything a row reader gives: the rows (or the error that ended them), the encoding check
/// after them, and the bytes read when the rows end without an error (after one, a reader
/// stops wherever it found what it looked for).
type ReadAll = (
    Result<Vec<ShownRow>, String>,
    Result<(), String>,
    Option<u64>,
);

fn read_all(reader: impl BufRead) -> ReadAll {
    let mut rows = Rows::new(reader, "t.csv", b',');
    let shown: Result<Vec<ShownRow>, String> = rows
        .by_ref()
        .map(|row| {
            row.map(|row| {
                let invalid = row
                    .invalid
                    .map(|invalid| (invalid.bytes, invalid.line, invalid.error));
                (row.line, row.cells, invalid)
            })
            .map_err(|error| error.to_string())
        })
        .collect();
    let encoding = rows.check_encoding().map_err(|error| error.to_string());
    let read = shown.is_ok().then(|| rows.bytes_read());
    (shown, encoding, read)
}

/// The same rows, errors and lines a byte at a time (and two or three at a time) as from the
/// whole slice.
fn assert_same_in_pieces(bytes: &[u8]) {
    let whole = read_all(bytes);
    let shown = String::from_utf8_lossy(bytes);
    assert_eq!(read_all(BufReader::new(OneByte(bytes))), whole, "{shown:?}");
    for capacity in [2, 3] {
        let pieces = BufReader::with_capacity(capacity, bytes);
        assert_eq!(read_all(pieces), whole, "{shown:?} by {capacity}");
    }
}

#[test]
fn rows_read_a_byte_at_a_time_are_the_rows_of_the_whole_file() {
    let files: [&[u8]; 18] = [
        b"a,\"b\"\r\n\"x\ny\",\"say \"\"hi\"\"\"\r\n\r\nplain \"q\",\r\nlast",
        b"\xEF\xBB\xBFid,title\n1,caf\xC3\xA9\n",
        b"\xEF\xBBid\n1\n",
        b"\xEF\xBB\xBF",
        b"\xEF",
        b"a\rb\r\rc\r",
        b"\"a\rb\",c\r\"x\r\ny\"\r\"\"\r",
        b"id,t\n1,caf\xE9\n2,ok\n3,ok\n",
        b"id,t\r1,\xE9\r2,\xE9\r3,ok\r",
        b"id,t\xEE\n1,ok\n",
        b"a,b\n\"x\"y,1\n\xC3\xA9\n\xFF\n",
        b"a,b\n\"open,1\n\xC3",
        b"a\n\"open\n\xC3\xA9",
        b"a,\"\"\"\"\n\"\",\n",
        b"",
        b"\n\n\r\n",
        b"a;b,c\n,\n",
        b"x,\"two\nlines \xFF\",3\n\xF0\x9F\x9A\x80,\"\xF0\x9F\x9A\"\n",
    ];
    for bytes in files {
        assert_same_in_pieces(bytes);
    }
    // Bytes of every kind the grammar treats apart, in many orders.
    let alphabet: &[u8] = b"a,\"\n\r;\xEF\xBB\xBF\xC3\xA9\xFF";
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let length = (state % 40) as usize;
        let bytes: Vec<u8> = (0..length)
            .map(|index| {
                let pick = (state >> (index % 48)) as usize + index * 7;
                alphabet[pick % alphabet.len()]
            })
            .collect();
        assert_same_in_pieces(&bytes);
    }
}

/// A BOM is read as nothing; the start of one that the file does not finish, and a second
/// BOM, are bytes of the first cell.
#[test]
fn a_bom_is_skipped_and_only_a_whole_one() {
    let first_row = |bytes: &[u8]| -> (Vec<String>, Option<Vec<u8>>) {
        let (rows, _, _) = read_all(BufReader::new(OneByte(bytes)));
        match rows.map(|rows| rows.into_iter().next()) {
            Ok(Some((_, cells, invalid))) => (cells, invalid.map(|(bytes, _, _)| bytes)),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        first_row(b"\xEF\xBB\xBFid,t\n"),
        (vec!["id".into(), "t".into()], None)
    );
    assert_eq!(
        first_row(b"\xEF\xBB\xBF\xEF\xBB\xBFid\n"),
        (vec!["\u{FEFF}id".into()], None)
    );
    assert_eq!(
        first_row(b"\xEF\xBBid\n"),
        (vec!["\u{FFFD}id".into()], Some(b"\xEF\xBBid".to_vec()))
    );
    assert_eq!(
        first_row(b"\xEF\"a\"\n"),
        (vec!["\u{FFFD}\"a\"".into()], Some(b"\xEF\"a\"".to_vec()))
    );
}

fn not_utf8_at(line: u64) -> String {
    format!("t.csv:{line}: not UTF-8 text: save the file as UTF-8 (\"CSV UTF-8\" in a spreadsheet)")
}

#[test]
fn broken_structure_yields_to_an_invalid_byte_anywhere_in_the_file() {
    // The file is read to its end to find the invalid byte after the broken row, through
    // characters of two, three and four bytes cut between reads.
    let files: [&[u8]; 3] = [
        b"a,b\n\"x\"y,1\nok\n\xFF\n",
        b"a,b\n\"x\"y,1\n\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80\n\xFF\n",
        b"a,b\r\n\"x\"y,1\r\n\xF0\x9F\x9A\x80\r\n\xE2\x82\r\n",
    ];
    for bytes in files {
        assert_same_in_pieces(bytes);
        let (rows, _, _) = read_all(BufReader::new(OneByte(bytes)));
        assert_eq!(rows.map(|rows| rows.len()), Err(not_utf8_at(4)));
    }
    let (rows, _, _) = read_all(&b"a,b\n\"x\"y,1\nok\n"[..]);
    assert_eq!(
        rows.map(|rows| rows.len()),
        Err(
            "t.csv:2: malformed CSV: text follows the closing quote of a cell: quote the whole \
             cell and write each quote inside it twice (\"\")"
                .to_owned()
        )
    );
}

/// The encoding error names the line of the first invalid byte as the whole-file check always
/// has: by the line feeds before it. A lone CR ends a row (the rows' lines count it) but is not
/// counted there.
#[test]
fn the_encoding_error_counts_lines_by_line_feeds() {
    let files: [(&[u8], u64); 4] = [
        (b"id,t\n1,\xE9\n2,\xE9\n3,ok\n", 2),
        (b"id,t\r\n1,ok\r\n2,\xE9\r\n3,\xE9\r\n", 3),
        (b"id,t\r1,\xE9\r2,\xE9\r3,ok\r", 1),
        (b"id,\"t\r\nu\"\r\n1,\"\xE9\r\n\"\r\n2,\xE9\r\n", 3),
    ];
    for (bytes, line) in files {
        assert_same_in_pieces(bytes);
        let (rows, encoding, _) = read_all(BufReader::new(OneByte(bytes)));
        assert!(rows.is_ok(), "{rows:?}");
        assert_eq!(encoding, Err(not_utf8_at(line)));
    }
    // The rows' own lines count the lone CRs.
    let (rows, _, _) = read_all(&b"id,t\r1,\xE9\r2,\xE9\r3,ok\r"[..]);
    let lines: Vec<(u64, Option<u64>)> = rows
        .unwrap_or_default()
        .into_iter()
        .map(|(line, _, invalid)| (line, invalid.map(|(_, line, _)| line)))
        .collect();
    assert_eq!(lines, [(1, None), (2, Some(2)), (3, Some(3)), (4, None)]);
}

// ---------------------------------------------------------------------------------------------
// Inference a row at a time

/// The inference as it was before it went a row at a time, over every value of a column at
/// once: kept here to check that the one that replaced it gives the same fields.
fn whole_column_field(name: &str, values: &[&str]) -> Field {
    let values: Vec<&str> = values
        .iter()
        .copied()
        .filter(|value| !is_missing_json(value))
        .collect();
    let all =
        |test: &dyn Fn(&str) -> bool| !values.is_empty() && values.iter().all(|value| test(value));
    if all(&|value| parse_boolean(value).is_some()) {
        return Field::new(name, FieldKind::Boolean);
    }
    if all(&|value| {
        plain_number_text(value) && matches!(parse_integer(value, false), IntegerText::Integer(_))
    }) {
        return Field::new(name, FieldKind::Integer);
    }
    if all(&|value| {
        plain_number_text(value)
            && parse_integer(value, false) != IntegerText::OutOfRange
            && parse_number(value).is_some()
    }) {
        return Field::new(name, FieldKind::Number);
    }
    for (format, test) in [
        (
            "date-time",
            (|value: &str| parse_timestamp(value).is_some()) as fn(&str) -> bool,
        ),
        ("date", |value: &str| parse_date(value).is_some()),
    ] {
        if all(&test) {
            let mut field = Field::new(name, FieldKind::String);
            field.format = Some(format.to_owned());
            return field;
        }
    }
    let arrays: Option<Vec<Vec<Value>>> = values
        .iter()
        .map(|value| match parse_json_cell(value) {
            Some(Value::Array(items)) => Some(items),
            _ => None,
        })
        .collect();
    if let Some(arrays) = arrays.filter(|arrays| !arrays.is_empty()) {
        let mut field = Field::new(name, FieldKind::Array);
        let elements: Vec<&Value> = arrays.iter().flatten().collect();
        field.items = whole_column_scalar_kind(&elements)
            .map(|kind| Box::new(Field::new(format!("{name}[]"), kind)));
        return field;
    }
    if all(&|value| matches!(parse_json_cell(value), Some(Value::Object(_)))) {
        return Field::new(name, FieldKind::Object);
    }
    Field::new(name, FieldKind::String)
}

fn whole_column_scalar_kind(elements: &[&Value]) -> Option<FieldKind> {
    if elements.is_empty() {
        None
    } else if elements.iter().all(|value| value.is_string()) {
        Some(FieldKind::String)
    } else if elements.iter().all(|value| value.is_boolean()) {
        Some(FieldKind::Boolean)
    } else if elements.iter().all(|value| value.is_i64()) {
        Some(FieldKind::Integer)
    } else if elements.iter().all(|value| value.is_number()) {
        Some(FieldKind::Number)
    } else {
        None
    }
}

fn row(line: u64, cells: &[&str]) -> Row {
    Row {
        line,
        cells: cells.iter().map(|cell| (*cell).to_owned()).collect(),
        invalid: None,
    }
}

/// The field inferred a row at a time from a one-column file holding `values`.
fn incremental_field(name: &str, values: &[&str]) -> Option<Field> {
    let mut inference = Inference::new(&[name.to_owned()], &[]);
    for (line, value) in (2..).zip(values) {
        inference.observe(&row(line, &[value]));
    }
    inference.entity("T", "t.csv").fields.into_iter().next()
}

/// Both inferences over the values in every rotation and reversed: a row-at-a-time inference
/// must not depend on the order of the rows.
fn assert_same_inference(values: &[&str]) {
    let mut orders = Vec::new();
    for turn in 0..values.len().max(1) {
        let mut order = values.to_vec();
        order.rotate_left(turn);
        orders.push(order.clone());
        order.reverse();
        orders.push(order);
    }
    let expected = whole_column_field("c", values);
    for order in orders {
        assert_eq!(
            incremental_field("c", &order),
            Some(expected.clone()),
            "{order:?}"
        );
    }
}

#[test]
fn the_inference_a_row_at_a_time_gives_the_fields_of_the_whole_column() {
    let columns: &[&[&str]] = &[
        // Zip codes, phone numbers, ids beyond 64 bits: text.
        &["02134", "10001"],
        &["10001", "02134"],
        &["+4915112345678", "+4930123456"],
        &["12345678901234567890", "1"],
        &["9223372036854775808"],
        &["-9223372036854775808", "9223372036854775807"],
        // Integers and other numbers together.
        &["1", "2.5"],
        &["0.5", "12", "-3"],
        &["1", "1e3"],
        &["1.0", "2"],
        &["-0", "0"],
        &["00"],
        &["1", "NaN"],
        &["inf"],
        &["-"],
        &[" 7 "],
        &[".5", "1."],
        // Booleans, dates and date-times.
        &["true", "FALSE"],
        &["true", "1"],
        &[" true "],
        &["2026-01-01", "2026-01-02"],
        &["2026-01-01T10:00:00Z", "2026-01-02T10:00"],
        &["2026-01-01T10:00:00Z", "2026-01-02"],
        &["10:30"],
        // Arrays of mixed elements, and objects.
        &["[1,2]", "[2.5]"],
        &["[1]", "[\"a\"]"],
        &["[]"],
        &["[]", "[]"],
        &["[]", "[1]"],
        &["[true]", "[false,true]"],
        &["[true]", "[1]"],
        &["[null]"],
        &["[[1]]", "[2]"],
        &["[\"\"a\"\"]", "[\"b\"]"],
        &["[1]", "{}"],
        &["[1]", "x"],
        &["[URGENT] call", "[1]"],
        &["{}", "{\"k\":1}"],
        &["{\"\"k\"\":1}"],
        &["{\"k\":1,\"k\":2}"],
        // Empty columns and the texts of missing values.
        &[],
        &[""],
        &["", "null", "undefined", "\"\""],
        &["null", "1", "undefined", "2"],
        &["null", "true"],
        &["undefined", "[1]", "null"],
        &["NULL"],
        &["\"\"", "{}"],
    ];
    for values in columns {
        assert_same_inference(values);
    }
    // Columns drawn from those values, in many mixes.
    let pool: Vec<&str> = columns
        .iter()
        .flat_map(|values| values.iter().copied())
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let values: Vec<&str> = (0..state % 6)
            .map(|index| pool[((state >> (8 * index)) as usize) % pool.len()])
            .collect();
        assert_same_inference(&values);
    }
}

#[test]
fn the_inference_skips_rows_that_are_not_utf8_and_rows_too_short() -> Result<(), String> {
    let bytes = b"c,\xFF".to_vec();
    let error = std::str::from_utf8(&bytes).err().ok_or("valid")?;
    let mut inference = Inference::new(&["id".to_owned(), "count".to_owned()], &["id"]);
    inference.observe(&row(2, &["a"]));
    inference.observe(&row(3, &["b", "1"]));
    let mut damaged = row(4, &["c", "\u{FFFD}"]);
    damaged.invalid = Some(InvalidRow {
        bytes,
        line: 4,
        error,
    });
    inference.observe(&damaged);
    let entity = inference.entity("T", "t.csv");
    assert_eq!(entity.fields, [Field::new("count", FieldKind::Integer)]);
    Ok(())
}
