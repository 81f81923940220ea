//! The row hash `diff data` compares ranges with: for every column type the planner emits,
//! and nasty values of each (non-BMP text, control characters, 1e20, 1.5e-7, -0.0, big
//! integers, nested documents with unordered keys, null array elements), the hash offbase
//! computes from a record's cells equals the one PostgreSQL computes from the row the load's
//! binary COPY wrote.

use offbase_copy::binary::BinaryEncoder;
use offbase_copy::convert::convert_value;
use offbase_copy::row_hash::{row_hash, row_hash_sql};
use offbase_model::{Column, ColumnSource, PgType, Table};
use offbase_tests::TestSchema;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn column(name: &str, pg_type: PgType) -> Column {
    Column {
        name: name.to_owned(),
        field: Some(name.to_owned()),
        source: ColumnSource::Field,
        pg_type,
        not_null: false,
        default: None,
        check: None,
    }
}

fn cases() -> Vec<(PgType, Vec<Value>)> {
    let enum_type = PgType::Enum("mood".into());
    vec![
        (
            PgType::Text,
            vec![
                json!("plain"),
                json!(""),
                json!("non-BMP \u{1F600} and é"),
                json!("control \u{1}\t\n\r\u{1f} \"quoted\" \\ {a,b} NULL"),
                json!("twelve bytes"),
                json!("eleven byte"),
            ],
        ),
        (PgType::Varchar(Some(40)), vec![json!("varchar"), json!("")]),
        (enum_type.clone(), vec![json!("happy"), json!("sad")]),
        (
            PgType::Bigint,
            vec![
                json!(0),
                json!(-1),
                json!(9_223_372_036_854_775_807_i64),
                json!(-9_223_372_036_854_775_808_i64),
                json!(4_294_967_296_i64),
                json!(3.0),
            ],
        ),
        (PgType::Integer, vec![json!(-5), json!(2_147_483_647)]),
        (PgType::Smallint, vec![json!(-5), json!(300)]),
        (
            PgType::DoublePrecision,
            vec![
                json!(1.5),
                json!(1e20),
                json!(1.5e-7),
                json!(-0.0),
                json!(0),
                json!(856.98),
                json!(-123_456_789_012_345_680.0),
            ],
        ),
        (PgType::Real, vec![json!(1.5), json!(0.1)]),
        (
            PgType::Numeric(None),
            vec![
                json!(12.5),
                json!(1e20),
                json!(1.5e-7),
                json!(-0.0),
                json!(18_446_744_073_709_551_615_u64),
                json!(100_000.0),
                json!(-42),
            ],
        ),
        (PgType::Numeric(Some((10, 2))), vec![json!(12.5), json!(3)]),
        (PgType::Boolean, vec![json!(true), json!(false)]),
        (
            PgType::Timestamptz,
            vec![
                json!("2026-06-01T09:23:41.481000"),
                json!("2026-06-01T09:23:41.481+02:00"),
                json!("1999-12-31T23:59:59.999999Z"),
                json!("1900-01-01T00:00:00Z"),
            ],
        ),
        (PgType::Timestamp, vec![json!("2026-06-01T09:23:41.481")]),
        (
            PgType::Date,
            vec![
                json!("2026-12-22"),
                json!("1970-01-01"),
                json!("1850-03-04"),
            ],
        ),
        (
            PgType::Time,
            vec![
                json!("09:23:41.481"),
                json!("00:00"),
                json!("23:59:59.999999"),
            ],
        ),
        (
            PgType::Uuid,
            vec![json!("0b7ea5e2-79a2-4c8e-9d36-2b1f0e4f3a10")],
        ),
        (
            PgType::Jsonb,
            vec![
                json!({"b": 1, "a": {"z": [1.50, null, "x\u{1}\n\"\\"], "y": 1e20}, "aa": 1.5e-7, "ü": "\u{1F600}"}),
                json!([1, "two", false, null, {"k": -0.0}]),
                json!("scalar"),
                json!(18_446_744_073_709_551_615_u64),
                json!({}),
                json!([]),
            ],
        ),
        (
            PgType::Json,
            vec![json!({"b": 1, "a": [1.5, "x"]}), json!(3)],
        ),
        (
            PgType::Array(Box::new(PgType::Text)),
            vec![
                json!(["a", "b c", "", "NULL", null, "\u{1F600}", "{x}"]),
                json!([]),
                json!([null]),
            ],
        ),
        (
            PgType::Array(Box::new(PgType::Bigint)),
            vec![json!([1, -2, null, 9_223_372_036_854_775_807_i64])],
        ),
        (
            PgType::Array(Box::new(PgType::DoublePrecision)),
            vec![json!([1.5, -0.0, 1e20, null])],
        ),
        (
            PgType::Array(Box::new(PgType::Numeric(None))),
            vec![json!([1.50, 1e20, null])],
        ),
        (
            PgType::Array(Box::new(PgType::Boolean)),
            vec![json!([true, false, null])],
        ),
        (
            PgType::Array(Box::new(PgType::Timestamptz)),
            vec![json!(["2026-06-01T09:23:41.481Z", null])],
        ),
        (
            PgType::Array(Box::new(PgType::Date)),
            vec![json!(["2026-12-22"])],
        ),
        (
            PgType::Array(Box::new(enum_type)),
            vec![json!(["sad", "happy"])],
        ),
        (
            PgType::Array(Box::new(PgType::Jsonb)),
            vec![json!([{"b": 1, "a": 2}, null])],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_hashes_match_postgresql_for_every_column_type() {
    let mut schema = TestSchema::new("row_hash").await;
    let quoted = format!("\"{}\"", schema.name);
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {quoted}; CREATE TYPE {quoted}.mood AS ENUM ('happy', 'sad')"
    ))
    .execute(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let enum_oids = offbase_pg::load::enum_type_oids(&mut schema.connection, &schema.name)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let mut checked = 0;
    for (index, (pg_type, values)) in cases().into_iter().enumerate() {
        let table = Table {
            entity: format!("Case{index}"),
            name: format!("case_{index}"),
            columns: vec![column("n", PgType::Integer), column("v", pg_type.clone())],
            primary_key: vec![],
            primary_key_name: String::new(),
            junction: None,
        };
        let type_sql = match &pg_type {
            PgType::Enum(_) => format!("{quoted}.mood"),
            PgType::Array(element) if matches!(element.as_ref(), PgType::Enum(_)) => {
                format!("{quoted}.mood[]")
            }
            other => other.to_string(),
        };
        sqlx::raw_sql(&format!(
            "CREATE TABLE {quoted}.{} (n integer, v {type_sql})",
            table.name
        ))
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{type_sql}: {error}"));
        let types: Vec<PgType> = table.columns.iter().map(|c| c.pg_type.clone()).collect();
        let type_refs: Vec<&PgType> = types.iter().collect();
        let encoder = BinaryEncoder::new(&types, &enum_oids)
            .unwrap_or_else(|error| panic!("{type_sql}: {error}"));
        let mut expected = BTreeMap::new();
        let mut data = Vec::new();
        let mut all = values.clone();
        all.push(Value::Null);
        for (number, value) in all.iter().enumerate() {
            let n = json!(number);
            let cells = vec![
                convert_value(&n, &PgType::Integer).unwrap_or_else(|e| panic!("{e:?}")),
                convert_value(value, &pg_type)
                    .unwrap_or_else(|error| panic!("{type_sql} {value}: {error:?}")),
            ];
            encoder
                .encode_row(&cells, &mut data)
                .unwrap_or_else(|error| panic!("{type_sql} {value}: {error}"));
            expected.insert(number as i32, (value.clone(), row_hash(&cells, &type_refs)));
        }
        let statement = offbase_pg::load::copy_statement(&schema.name, &table.name, &["n", "v"]);
        let mut transaction = offbase_pg::load::LoadTransaction::begin(&mut schema.connection)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        if let Err(error) = transaction.copy(&statement, &data).await {
            panic!("{type_sql}: {error:?}");
        }
        transaction
            .commit()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let sql = format!(
            "SELECT t.n, {} AS h FROM {quoted}.{} t ORDER BY t.n",
            row_hash_sql(&table, "t"),
            table.name
        );
        let rows: Vec<(i32, i64)> = sqlx::query_as(&sql)
            .fetch_all(&mut schema.connection)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
        assert_eq!(rows.len(), expected.len(), "{type_sql}");
        for (n, hash) in rows {
            let (value, ours) = &expected[&n];
            assert_eq!(*ours, hash, "{type_sql}: value {value}");
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} values checked");
    schema.drop().await;
}
