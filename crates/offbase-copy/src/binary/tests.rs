//! Tests of the binary COPY codec: hand-computed bytes for numerics, scalars and arrays,
//! encoder errors, and the decoder reading back what the encoder wrote (whole, byte by byte,
//! truncated or corrupted).

use super::numeric::{
    NUMERIC_NAN, NUMERIC_NEGATIVE, NUMERIC_POSITIVE, decode_numeric, write_numeric,
};
use super::reader::Reader;
use super::*;
use crate::cell::Cell;
use offbase_model::PgType;
use serde_json::json;
use std::borrow::Cow;
use std::collections::BTreeMap;

fn numeric_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let decimal = match Decimal::parse(text) {
        Ok(decimal) => decimal,
        Err(reason) => panic!("{text}: {reason}"),
    };
    if let Err(reason) = write_numeric(&decimal, &mut out) {
        panic!("{text}: {reason}");
    }
    out
}

/// The binary numeric: (ndigits, weight, sign, dscale, digits).
fn numeric(count: i16, weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&scale.to_be_bytes());
    for digit in digits {
        out.extend_from_slice(&digit.to_be_bytes());
    }
    out
}

const POSITIVE: u16 = NUMERIC_POSITIVE;
const NEGATIVE: u16 = NUMERIC_NEGATIVE;

#[test]
fn numeric_matches_hand_computed_bytes() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("0", numeric(0, 0, POSITIVE, 0, &[])),
        ("-0", numeric(0, 0, POSITIVE, 0, &[])),
        ("0.00", numeric(0, 0, POSITIVE, 2, &[])),
        ("-0.5", numeric(1, -1, NEGATIVE, 1, &[5000])),
        ("1e-7", numeric(1, -2, POSITIVE, 7, &[10])),
        ("1E-7", numeric(1, -2, POSITIVE, 7, &[10])),
        (
            "123456789012345678901234567890.123",
            numeric(
                9,
                7,
                POSITIVE,
                3,
                &[12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1230],
            ),
        ),
        ("100", numeric(1, 0, POSITIVE, 0, &[100])),
        ("0.0001", numeric(1, -1, POSITIVE, 4, &[1])),
        ("10000", numeric(1, 1, POSITIVE, 0, &[1])),
        ("-12.50", numeric(2, 0, NEGATIVE, 2, &[12, 5000])),
        (
            "16428176.83",
            numeric(3, 1, POSITIVE, 2, &[1642, 8176, 8300]),
        ),
        ("1.5e3", numeric(1, 0, POSITIVE, 0, &[1500])),
        ("1.5e+3", numeric(1, 0, POSITIVE, 0, &[1500])),
        ("1e20", numeric(1, 5, POSITIVE, 0, &[1])),
        ("12345678", numeric(2, 1, POSITIVE, 0, &[1234, 5678])),
        ("0.00012345", numeric(2, -1, POSITIVE, 8, &[1, 2345])),
        ("9999.9999", numeric(2, 0, POSITIVE, 4, &[9999, 9999])),
        ("1.7976931348623157e308", {
            // 17976931348623157 × 10^292: groups 1 7976 9313 4862 3157 × 10000^73.
            numeric(5, 77, POSITIVE, 0, &[1, 7976, 9313, 4862, 3157])
        }),
        ("5e-324", numeric(1, -81, POSITIVE, 324, &[5])),
        (".5", numeric(1, -1, POSITIVE, 1, &[5000])),
        ("5.", numeric(1, 0, POSITIVE, 0, &[5])),
        ("+7", numeric(1, 0, POSITIVE, 0, &[7])),
        ("000123.4500", numeric(2, 0, POSITIVE, 4, &[123, 4500])),
    ];
    for (text, expected) in cases {
        assert_eq!(numeric_bytes(text), expected, "{text}");
    }
}

#[test]
fn numeric_round_trips_through_the_decoder() {
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("0.00", "0.00"),
        ("-0.5", "-0.5"),
        ("1e-7", "0.0000001"),
        (
            "123456789012345678901234567890.123",
            "123456789012345678901234567890.123",
        ),
        ("100", "100"),
        ("0.0001", "0.0001"),
        ("10000", "10000"),
        ("-12.50", "-12.50"),
        ("16428176.83", "16428176.83"),
        ("1.5e3", "1500"),
        ("1e20", "100000000000000000000"),
        ("000123.4500", "123.4500"),
        ("0.00012345", "0.00012345"),
    ];
    for (text, expected) in cases {
        let bytes = numeric_bytes(text);
        let mut reader = Reader {
            data: &bytes,
            column: 0,
        };
        match decode_numeric(&mut reader) {
            Ok(decoded) => assert_eq!(decoded, expected, "{text}"),
            Err(error) => panic!("{text}: {error}"),
        }
    }
}

#[test]
fn numeric_refuses_what_is_not_a_number_or_does_not_fit() {
    for text in [
        "",
        "-",
        ".",
        "e5",
        "1e",
        "1e+",
        "1.2.3",
        "12a",
        "NaN",
        "Infinity",
        " 1",
        "1 ",
        "--1",
        "1e9999999999",
        "1e200000",
        "1e-20000",
    ] {
        let parsed = Decimal::parse(text);
        let written = parsed.and_then(|decimal| write_numeric(&decimal, &mut Vec::new()));
        assert!(written.is_err(), "{text:?} was accepted");
    }
}

fn encoder(types: &[PgType]) -> BinaryEncoder {
    let enums = BTreeMap::from([("mood".to_owned(), 16_400)]);
    match BinaryEncoder::new(types, &enums) {
        Ok(encoder) => encoder,
        Err(error) => panic!("{error}"),
    }
}

fn encode(types: &[PgType], cells: &[Cell<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(error) = encoder(types).encode_row(cells, &mut out) {
        panic!("{error}");
    }
    out
}

#[test]
fn header_and_trailer_are_the_documented_bytes() {
    assert_eq!(HEADER.len(), 19);
    assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
    assert_eq!(&HEADER[11..], &[0; 8]);
    assert_eq!(TRAILER, &(-1i16).to_be_bytes());
}

#[test]
fn scalars_are_length_prefixed_big_endian() {
    let types = [
        PgType::Boolean,
        PgType::Smallint,
        PgType::Bigint,
        PgType::Text,
        PgType::Date,
        PgType::Jsonb,
        PgType::Json,
        PgType::Text,
    ];
    let value = json!({"a": [1, "é"]});
    let cells = [
        Cell::Bool(true),
        Cell::Int2(-2),
        Cell::Int8(i64::MIN),
        Cell::Text("hé"),
        Cell::Date(-1),
        Cell::Json(Cow::Borrowed(&value)),
        Cell::Json(Cow::Borrowed(&value)),
        Cell::Null,
    ];
    let mut expected = vec![0, 8];
    expected.extend_from_slice(&[0, 0, 0, 1, 1]);
    expected.extend_from_slice(&[0, 0, 0, 2, 0xff, 0xfe]);
    expected.extend_from_slice(&[0, 0, 0, 8, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(&[0, 0, 0, 3, b'h', 0xc3, 0xa9]);
    expected.extend_from_slice(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]);
    let document = "{\"a\":[1,\"é\"]}".as_bytes();
    expected.extend_from_slice(&(document.len() as i32 + 1).to_be_bytes());
    expected.push(1);
    expected.extend_from_slice(document);
    expected.extend_from_slice(&(document.len() as i32).to_be_bytes());
    expected.extend_from_slice(document);
    expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(encode(&types, &cells), expected);
}

#[test]
fn arrays_carry_dimensions_null_flag_and_element_oid() {
    let mood = PgType::Enum("mood".into());
    let text = PgType::Text;
    let types = [
        PgType::Array(Box::new(mood.clone())),
        PgType::Array(Box::new(PgType::Bigint)),
    ];
    let cells = [
        Cell::Array {
            element: &mood,
            items: vec![Cell::Text("ok"), Cell::Null],
        },
        Cell::Array {
            element: &text,
            items: vec![],
        },
    ];
    let mut expected = vec![0, 2];
    let mut first = Vec::new();
    first.extend_from_slice(&1i32.to_be_bytes());
    first.extend_from_slice(&1i32.to_be_bytes());
    first.extend_from_slice(&16_400u32.to_be_bytes());
    first.extend_from_slice(&2i32.to_be_bytes());
    first.extend_from_slice(&1i32.to_be_bytes());
    first.extend_from_slice(&[0, 0, 0, 2, b'o', b'k', 0xff, 0xff, 0xff, 0xff]);
    expected.extend_from_slice(&(first.len() as i32).to_be_bytes());
    expected.extend_from_slice(&first);
    expected.extend_from_slice(&12i32.to_be_bytes());
    expected.extend_from_slice(&0i32.to_be_bytes());
    expected.extend_from_slice(&0i32.to_be_bytes());
    expected.extend_from_slice(&20u32.to_be_bytes());
    assert_eq!(encode(&types, &cells), expected);
}

#[test]
fn wrong_cells_and_missing_enums_are_errors_and_leave_no_partial_row() {
    let types = [PgType::Text, PgType::Integer];
    let mut out = vec![9];
    let result = encoder(&types).encode_row(&[Cell::Text("a"), Cell::Int8(1)], &mut out);
    assert!(
        matches!(result, Err(EncodeError::Mismatch { column: 1, .. })),
        "{result:?}"
    );
    assert_eq!(out, vec![9]);
    let result = encoder(&types).encode_row(&[Cell::Text("a")], &mut out);
    assert!(matches!(result, Err(EncodeError::ColumnCount { .. })));
    let result =
        encoder(&[PgType::Numeric(None)]).encode_row(&[Cell::Numeric("1,5".into())], &mut out);
    assert!(matches!(result, Err(EncodeError::Numeric { .. })));
    let result = encoder(&[PgType::Time]).encode_row(&[Cell::Time(-1)], &mut out);
    assert!(matches!(result, Err(EncodeError::TimeOutOfRange { .. })));
    let missing = BinaryEncoder::new(
        &[PgType::Array(Box::new(PgType::Enum("other".into())))],
        &BTreeMap::new(),
    );
    assert!(matches!(missing, Err(EncodeError::UnknownEnum { .. })));
    assert_eq!(out, vec![9]);
}

fn sample_types() -> Vec<PgType> {
    vec![
        PgType::Bigint,
        PgType::Numeric(None),
        PgType::Text,
        PgType::Jsonb,
        PgType::Array(Box::new(PgType::Text)),
        PgType::Array(Box::new(PgType::Enum("mood".into()))),
        PgType::Timestamptz,
        PgType::Uuid,
        PgType::Real,
        PgType::Time,
    ]
}

fn sample_stream(types: &[PgType]) -> Vec<u8> {
    let text = PgType::Text;
    let mood = PgType::Enum("mood".into());
    let document = json!({"b": [1, 2.5, null], "a": "x\ny 😀"});
    let rows = [
        vec![
            Cell::Int8(1),
            Cell::Numeric("-12.50".into()),
            Cell::Text("tab\there"),
            Cell::Json(Cow::Borrowed(&document)),
            Cell::Array {
                element: &text,
                items: vec![Cell::Text("a"), Cell::Null, Cell::Text("")],
            },
            Cell::Array {
                element: &mood,
                items: vec![Cell::Text("happy")],
            },
            Cell::Timestamp(-1),
            Cell::Uuid([7; 16]),
            Cell::Float4(1.5),
            Cell::Time(TIME_MAX_MICROS),
        ],
        vec![Cell::Null; types.len()],
    ];
    let encoder = encoder(types);
    let mut out = HEADER.to_vec();
    for row in &rows {
        if let Err(error) = encoder.encode_row(row, &mut out) {
            panic!("{error}");
        }
    }
    out.extend_from_slice(TRAILER);
    out
}

#[test]
fn decoder_reads_back_what_the_encoder_wrote() {
    let types = sample_types();
    let stream = sample_stream(&types);
    let mut decoded = Vec::new();
    let rows = decode_rows(&stream, &types, |cells| {
        decoded.push(format!("{cells:?}"));
        Ok::<(), DecodeError>(())
    });
    assert!(matches!(rows, Ok(2)), "{rows:?}");
    assert!(decoded[0].contains("Numeric(\"-12.50\")"), "{}", decoded[0]);
    assert!(
        decoded[0].contains("Text(\"tab\\there\")"),
        "{}",
        decoded[0]
    );
    assert!(decoded[0].contains("Time(86400000000)"), "{}", decoded[0]);
    assert_eq!(decoded[1], format!("{:?}", vec![Cell::Null; types.len()]));

    // Fed one byte at a time, the incremental decoder yields the same rows.
    let mut decoder = match BinaryDecoder::new(&types) {
        Ok(decoder) => decoder,
        Err(error) => panic!("{error}"),
    };
    let mut incremental = Vec::new();
    for byte in &stream {
        decoder.push(std::slice::from_ref(byte));
        loop {
            match decoder.next_row() {
                Ok(Some(cells)) => incremental.push(format!("{cells:?}")),
                Ok(None) => break,
                Err(error) => panic!("{error}"),
            }
        }
    }
    assert!(matches!(decoder.finish(), Ok(2)));
    assert_eq!(incremental, decoded);
}

#[test]
fn decoder_never_panics_on_truncated_or_corrupted_data() {
    let types = sample_types();
    let stream = sample_stream(&types);
    let ignore = |_: &[Cell<'_>]| Ok::<(), DecodeError>(());
    for length in 0..stream.len() {
        let truncated = &stream[..length];
        assert!(decode_rows(truncated, &types, ignore).is_err(), "{length}");
        let mut decoder = match BinaryDecoder::new(&types) {
            Ok(decoder) => decoder,
            Err(error) => panic!("{error}"),
        };
        decoder.push(truncated);
        while let Ok(Some(_)) = decoder.next_row() {}
        assert!(decoder.finish().is_err(), "{length}");
    }
    for position in 0..stream.len() {
        for replacement in [0x00, 0x7f, 0x80, 0xff] {
            let mut corrupted = stream.clone();
            corrupted[position] = replacement;
            let _ = decode_rows(&corrupted, &types, ignore);
        }
    }
    let mut extra = stream.clone();
    extra.push(0);
    assert!(matches!(
        decode_rows(&extra, &types, ignore),
        Err(DecodeError::AfterTrailer { bytes: 1 })
    ));
    assert!(matches!(
        decode_rows(b"PGCOPY\n\xff\r\n\x01", &types, ignore),
        Err(DecodeError::Signature)
    ));
}

#[test]
fn decoder_rejects_malformed_numerics() {
    let cases = [
        numeric(1, 0, POSITIVE, 0, &[10_000]),
        numeric(1, 0, 0x1234, 0, &[1]),
        numeric(-1, 0, POSITIVE, 0, &[]),
        numeric(2, 0, POSITIVE, 0, &[1]),
        numeric(0, 0, POSITIVE, 0x4000, &[]),
    ];
    for bytes in cases {
        let mut reader = Reader {
            data: &bytes,
            column: 0,
        };
        assert!(decode_numeric(&mut reader).is_err(), "{bytes:?}");
    }
    let mut reader = Reader {
        data: &numeric(0, 0, NUMERIC_NAN, 0, &[]),
        column: 0,
    };
    assert_eq!(decode_numeric(&mut reader).ok().as_deref(), Some("NaN"));
}
