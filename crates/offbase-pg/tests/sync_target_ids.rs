//! `offbase_pg::sync::target_ids` hands a table's ids over in the order of Rust's `str` (bytes
//! of UTF-8): the sync's reconciliation merges them with the source's ids sorted in Rust, and
//! an order that differed would take live rows for deleted ones.

use offbase_pg::PgError;
use offbase_pg::sync::target_ids;

mod common;
use common::connection;

async fn run(connection: &mut sqlx::PgConnection, sql: &str) {
    if let Err(error) = sqlx::query(sql).execute(&mut *connection).await {
        panic!("{sql}: {error}");
    }
}

#[tokio::test]
async fn ids_come_in_rust_byte_order_with_their_creation_instant() {
    let mut connection = connection().await;
    let schema = format!("offbase_target_ids_{}", std::process::id());
    run(
        &mut connection,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
    )
    .await;
    run(&mut connection, &format!("CREATE SCHEMA {schema}")).await;
    // A column in a linguistic collation (where the server has ICU), whose own order is not
    // bytes': the read must order by bytes whatever the column's or the database's collation.
    let icu = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap_or(false);
    let collation = if icu { " COLLATE \"und-x-icu\"" } else { "" };
    run(
        &mut connection,
        &format!(
            "CREATE TABLE {schema}.t (id text{collation} PRIMARY KEY, created_date timestamptz)"
        ),
    )
    .await;
    let stems = [
        "a",
        "ab",
        "abc",
        "a-b",
        "a_b",
        "a b",
        "A",
        "AB",
        "B",
        "b",
        "Z",
        "z",
        "0",
        "9",
        "é",
        "e",
        "ée",
        "ÿ",
        "Ā",
        "€",
        "中",
        "中文",
        "🦀",
        "\u{7f}",
        "\u{80}",
        "\u{ffff}",
        "\u{10000}",
    ];
    let mut ids: Vec<String> = Vec::new();
    for stem in stems {
        ids.push(stem.to_owned());
        for n in [1, 10, 2] {
            ids.push(format!("{stem}{n}"));
            ids.push(format!("{n}{stem}"));
        }
    }
    ids.sort();
    ids.dedup();
    // Inserted in reverse, so an order of insertion is not taken for the order asked.
    for (n, id) in ids.iter().rev().enumerate() {
        let created = if n % 4 == 0 {
            None
        } else {
            Some(format!("2024-01-01T00:00:{:02}.000123Z", n % 60))
        };
        let inserted = sqlx::query(&format!(
            "INSERT INTO {schema}.t (id, created_date) VALUES ($1, $2::timestamptz)"
        ))
        .bind(id)
        .bind(created)
        .execute(&mut connection)
        .await;
        if let Err(error) = inserted {
            panic!("insert {id:?}: {error}");
        }
    }
    let mut seen: Vec<(String, Option<i64>)> = Vec::new();
    let read = target_ids::<PgError>(
        &mut connection,
        &schema,
        "t",
        "id",
        "created_date",
        |id, created| {
            seen.push((id, created));
            Ok(())
        },
    )
    .await;
    if let Err(error) = read {
        panic!("target_ids: {error}");
    }
    let seen_ids: Vec<String> = seen.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(seen_ids, ids);
    // 2024-01-01T00:00:00Z is 1_704_067_200 s after the epoch.
    let first_written = ids.last().map(String::as_str);
    let second_written = ids.iter().rev().nth(1).map(String::as_str);
    for (id, created) in &seen {
        if Some(id.as_str()) == first_written {
            assert_eq!(*created, None, "{id:?}");
        }
        if Some(id.as_str()) == second_written {
            assert_eq!(*created, Some(1_704_067_201_000_123), "{id:?}");
        }
    }

    // An error of the caller's stops the read and comes back as it was.
    let mut calls = 0;
    let stopped = target_ids::<PgError>(
        &mut connection,
        &schema,
        "t",
        "id",
        "created_date",
        |_, _| {
            calls += 1;
            Err(PgError::InvalidUrl {
                message: "stop".to_owned(),
            })
        },
    )
    .await;
    assert!(
        matches!(&stopped, Err(PgError::InvalidUrl { message }) if message == "stop"),
        "{stopped:?}"
    );
    assert_eq!(calls, 1);
    // The connection is usable after a read stopped half way.
    run(&mut connection, &format!("DROP SCHEMA {schema} CASCADE")).await;
}
