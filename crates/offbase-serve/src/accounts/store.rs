//! The accounts as stored: the users table's rows (looked up with the address locked, created
//! without a password) and their User records (written as a create writes them, marked
//! verified), the transaction the calls run in, and what a sign-in answers.

use super::checks::{ambiguous, internal};
use crate::caller;
use crate::error::ApiError;
use crate::routes::AppState;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use offbase_copy::convert::EntityConverter;
use offbase_copy::json::row_json;
use offbase_model::record::staged_key;
use offbase_model::time::format_stored;
use offbase_model::{BuiltIn, Table};
use offbase_pg::serve::{Access, Account, NewAccount, WriteError};
use offbase_pipeline::users::formats::postgres::TABLE as USERS_TABLE;
use serde_json::{Map, Value};
use sqlx::{PgConnection, Postgres, Transaction};

/// A read-write transaction in the server's own role (the users table is the server's, not
/// the access rules' roles').
pub(super) async fn begin(
    connection: &mut PgConnection,
) -> Result<Transaction<'_, Postgres>, ApiError> {
    offbase_pg::serve::begin(
        connection,
        Access::ReadWrite,
        Some(offbase_pg::serve::OWN_ROLE),
    )
    .await
    .map_err(caller::database)
}

pub(super) async fn commit(transaction: Transaction<'_, Postgres>) -> Result<(), ApiError> {
    transaction.commit().await.map_err(|error| {
        caller::database(offbase_pg::PgError::Statement {
            statement: "COMMIT".to_owned(),
            message: error.to_string(),
        })
    })
}

/// Back to the server's own role after a step as the service role.
pub(super) async fn own_role(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
) -> Result<(), ApiError> {
    if state.secured {
        offbase_pg::serve::reset_role(transaction)
            .await
            .map_err(caller::database)?;
    }
    Ok(())
}

/// The accounts with this address, the address locked until the transaction ends (a
/// concurrent registration or invitation of it waits).
pub(super) async fn accounts_by_email(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    email: &str,
) -> Result<Vec<Account>, ApiError> {
    offbase_pg::serve::lock_email(transaction, email)
        .await
        .map_err(caller::database)?;
    offbase_pg::serve::accounts_by_email(transaction, &state.pg_schema, USERS_TABLE, email)
        .await
        .map_err(caller::database)
}

pub(super) async fn account_by_id(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<Option<Account>, ApiError> {
    offbase_pg::serve::account_by_id(transaction, &state.pg_schema, USERS_TABLE, id)
        .await
        .map_err(caller::database)
}

/// The one account of a lookup (none, or several sharing the address: no one).
pub(super) fn single(accounts: Vec<Account>) -> Option<Account> {
    let mut accounts = accounts.into_iter();
    match (accounts.next(), accounts.next()) {
        (Some(account), None) => Some(account),
        _ => None,
    }
}

/// The User entity's table and its id column.
fn user_table(state: &AppState) -> Result<(&Table, &str), ApiError> {
    let table = state
        .target
        .table_for_entity("User")
        .ok_or_else(|| internal("the plan has no table for the User entity"))?;
    let id = table
        .column_for_field(BuiltIn::Id.field_name())
        .ok_or_else(|| internal("the User table has no id column"))?;
    Ok((table, id.name.as_str()))
}

/// A new account: its users row without a password and, unless a User record already has the
/// address (its id is then kept), its User record. Its id.
pub(super) async fn create_account(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    email: &str,
    full_name: Option<&str>,
    role: &str,
) -> Result<String, ApiError> {
    let (table, id_column) = user_table(state)?;
    let existing = match table.column_for_field(BuiltIn::Email.field_name()) {
        Some(email_column) => {
            caller::as_service(state, transaction).await?;
            let ids = offbase_pg::serve::ids_by_email(
                transaction,
                &state.pg_schema,
                &table.name,
                id_column,
                &email_column.name,
                email,
            )
            .await
            .map_err(caller::database)?;
            own_role(state, transaction).await?;
            ids
        }
        None => Vec::new(),
    };
    let id = match existing.as_slice() {
        [] => {
            let now = Utc::now();
            let id = new_id(now);
            let stamp = Value::String(format_stored(now));
            let mut record = Map::new();
            record.insert("id".to_owned(), Value::String(id.clone()));
            record.insert("created_date".to_owned(), stamp.clone());
            record.insert("updated_date".to_owned(), stamp);
            record.insert("email".to_owned(), Value::String(email.to_owned()));
            if let Some(full_name) = full_name {
                record.insert("full_name".to_owned(), Value::String(full_name.to_owned()));
            }
            record.insert("role".to_owned(), Value::String(role.to_owned()));
            record.insert("disabled".to_owned(), Value::Bool(false));
            record.insert("is_verified".to_owned(), Value::Bool(false));
            record.insert("app_id".to_owned(), Value::String(state.app_id.clone()));
            record.insert("is_service".to_owned(), Value::Bool(false));
            let row = user_row(state, table, &record)?;
            caller::as_service(state, transaction).await?;
            offbase_pg::serve::insert_row(transaction, &state.pg_schema, &table.name, &row, false)
                .await
                .map_err(user_write_refused)?;
            own_role(state, transaction).await?;
            id
        }
        [id] => id.clone(),
        _ => return Err(ambiguous(email)),
    };
    offbase_pg::serve::insert_account(
        transaction,
        &state.pg_schema,
        USERS_TABLE,
        &NewAccount {
            id: &id,
            email,
            full_name,
            role,
            app_id: &state.app_id,
        },
    )
    .await
    .map_err(caller::database)?;
    Ok(id)
}

/// The User row of `record` as a write stores it (the load's converter), by column name.
fn user_row(
    state: &AppState,
    table: &Table,
    record: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let staged: Map<String, Value> = record
        .iter()
        .map(|(key, value)| (staged_key(key).into_owned(), value.clone()))
        .collect();
    let converter = EntityConverter::new(&state.target, table, state.relax);
    let converted = converter.convert(&staged).map_err(|rejection| {
        ApiError::bad_request(format!(
            "cannot store this User record: {}",
            rejection.message
        ))
    })?;
    let names = table.columns.iter().map(|column| column.name.as_str());
    Ok(row_json(names, &converted.row))
}

fn user_write_refused(error: WriteError) -> ApiError {
    match error {
        WriteError::Denied(message) => ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the User record could not be written: {message}"),
        ),
        WriteError::Refused(message) | WriteError::Referenced(message) => {
            ApiError::bad_request(format!("cannot store this User record: {message}"))
        }
        WriteError::Database(error) => caller::database(error),
    }
}

/// Marks the User record of `id` verified (`is_verified`, `updated_date`), as the service role.
pub(super) async fn mark_verified(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<(), ApiError> {
    let (table, id_column) = user_table(state)?;
    let Some(verified_column) = table.column_for_field(BuiltIn::IsVerified.field_name()) else {
        return Ok(());
    };
    let Some(user) = caller::read_user(state, transaction, id).await? else {
        return own_role(state, transaction).await;
    };
    let field = BuiltIn::IsVerified.field_name();
    if user.record.get(field) == Some(&Value::Bool(true)) {
        return own_role(state, transaction).await;
    }
    let mut record = user.record;
    record.insert(field.to_owned(), Value::Bool(true));
    record.insert(
        "updated_date".to_owned(),
        Value::String(format_stored(Utc::now())),
    );
    let row = user_row(state, table, &record)?;
    let mut columns = vec![verified_column.name.as_str()];
    if let Some(updated) = table.column_for_field(BuiltIn::UpdatedDate.field_name()) {
        columns.push(updated.name.as_str());
    }
    offbase_pg::serve::update_row(
        transaction,
        &state.pg_schema,
        &table.name,
        id_column,
        id,
        &columns,
        &row,
    )
    .await
    .map_err(user_write_refused)?;
    own_role(state, transaction).await
}

/// What a sign-in answers: a token for `id` and the user's record.
pub(super) async fn signed_in(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<Value, ApiError> {
    let user = caller::read_user(state, transaction, id)
        .await?
        .ok_or_else(|| {
            caller::unauthorized(
                "this user is in the users table but not in the loaded User entity: load the \
                 User entity, or export the users again",
            )
        })?;
    own_role(state, transaction).await?;
    let token = state.auth.secret.issue(&state.app_id, id);
    Ok(offbase_base44::accounts::signed_in(&token, user.record))
}

/// An ObjectId-like id, as a create makes one: 8 hex digits of the second, 16 random ones.
fn new_id(now: DateTime<Utc>) -> String {
    let seconds = u32::try_from(now.timestamp()).unwrap_or(u32::MAX);
    format!("{seconds:08x}{:016x}", rand::random::<u64>())
}
