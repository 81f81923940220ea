//! `offbase_pg::serve::begin` sends a caller's settings with the `BEGIN`: a request's set-up
//! is one round trip. These tests pin what that must keep: the settings last for the whole
//! transaction, and settings that fail leave no aborted transaction on the pooled connection.

use offbase_pg::serve::{Access, begin};
use sqlx::Row;

mod common;
use common::connection;

async fn text(connection: &mut sqlx::PgConnection, sql: &str) -> Result<String, sqlx::Error> {
    let row = sqlx::query(sql).fetch_one(&mut *connection).await?;
    row.try_get::<String, _>(0)
}

#[tokio::test]
async fn settings_sent_with_begin_last_until_the_transaction_ends() {
    let mut connection = connection().await;
    let acting = "SELECT set_config('app.user_id', 'u1', true)";
    let Ok(mut transaction) = begin(&mut connection, Access::ReadOnly, Some(acting)).await else {
        panic!("begin with settings failed");
    };
    let seen = text(&mut transaction, "SELECT current_setting('app.user_id')").await;
    assert_eq!(seen.ok().as_deref(), Some("u1"));
    let write = sqlx::query("CREATE TEMP TABLE offbase_begin_probe (a int)")
        .execute(&mut *transaction)
        .await;
    assert!(write.is_err(), "a read-only transaction accepted a write");
    drop(transaction);
    let after = text(
        &mut connection,
        "SELECT current_setting('app.user_id', true)",
    )
    .await;
    assert_eq!(
        after.ok().as_deref(),
        Some(""),
        "the setting outlived its transaction"
    );
}

#[tokio::test]
async fn a_role_out_of_reach_at_begin_leaves_no_aborted_transaction() {
    let mut connection = connection().await;
    let acting = "SELECT set_config('role', 'offbase_no_such_role_anywhere', true)";
    let refused = begin(&mut connection, Access::ReadWrite, Some(acting)).await;
    assert!(refused.is_err(), "a role that does not exist was taken");
    drop(refused);
    // Had `BEGIN` run before the failed settings, the connection would sit in an aborted
    // transaction that sqlx does not know of, and every later request on it would fail.
    let next = text(&mut connection, "SELECT 'usable'").await;
    assert_eq!(next.ok().as_deref(), Some("usable"));
    let Ok(transaction) = begin(&mut connection, Access::ReadOnly, None).await else {
        panic!("the next request's BEGIN failed");
    };
    drop(transaction);
}

#[tokio::test]
async fn a_callers_request_leaves_the_connection_at_rest_for_the_next() {
    use offbase_sql::rls::{Requester, RlsMode, session};
    let mut connection = connection().await;
    // Settings only: the roles need a load's access rules; the serve tests switch them.
    let rest = session(RlsMode::On, Requester::Service);
    let at_rest = rest.set_config_sql(false, false);
    if let Err(error) = offbase_pg::serve::prepare(&mut connection, Some(&at_rest)).await {
        panic!("prepare: {error}");
    }
    let who = "SELECT to_jsonb(x) AS row FROM (SELECT current_setting('app.user_id', true) AS user_id) AS x";
    let user = Requester::User {
        id: "u1",
        email: "ann@example.com",
        role: None,
    };
    let acting = session(RlsMode::On, user).changes_from_sql(&rest, false);
    // A read in the user's shoes sees the user; so does a write's transaction.
    let read = offbase_pg::serve::read_rows(&mut connection, acting.as_deref(), who).await;
    assert_eq!(read.ok(), Some(vec![serde_json::json!({"user_id": "u1"})]));
    let Ok(mut transaction) = begin(&mut connection, Access::ReadWrite, acting.as_deref()).await
    else {
        panic!("begin as the user failed");
    };
    let inside = text(&mut transaction, "SELECT current_setting('app.user_id')").await;
    assert_eq!(inside.ok().as_deref(), Some("u1"));
    if let Err(error) = transaction.commit().await {
        panic!("commit: {error}");
    }
    // The next request, sending nothing, is back at rest: no user.
    let next = offbase_pg::serve::read_rows(&mut connection, None, who).await;
    assert_eq!(next.ok(), Some(vec![serde_json::json!({"user_id": ""})]));
}
