//! Who a request is from, and the transaction it runs in. The credentials a request presents
//! (the service key, a sign-in token, nothing) decide the caller; every request then runs in
//! one transaction whose role and session settings are the caller's
//! (`offbase_sql::rls::session`, the same as `diff behaviour --as`), so the policies the load
//! applied decide what it sees and may write. The server implements no rule itself.
//!
//! A token names a user; the user's email, role and `disabled` flag are read from the User
//! table inside the request's transaction (as the service role), so a change takes effect on
//! the next request.

use crate::error::ApiError;
use crate::routes::AppState;
use crate::token::same_bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use offbase_base44::api;
use offbase_model::{BuiltIn, Table};
use offbase_pg::serve::Access;
use offbase_pipeline::compare::canonical::platform_record;
use offbase_sql::query::get_sql;
use offbase_sql::rls::{Requester, RlsMode, session};
use serde_json::{Map, Value};
use sqlx::{Postgres, Transaction};

/// What a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// The service key (`api_key: KEY` or `Authorization: Bearer KEY`).
    Service,
    /// A bearer token other than the key.
    Token(String),
    /// No `api_key` and no `Authorization` header.
    Nothing,
    /// A wrong `api_key`, or an `Authorization` header of another scheme.
    Invalid,
}

/// The credentials of a request, read as the platform (and the emulator) read them: the key
/// wins, then a bearer token; any other `api_key` or `Authorization` is invalid
/// ([`offbase_base44::api::credentials`]).
pub(crate) fn credentials(headers: &HeaderMap, service_key: Option<&str>) -> Credentials {
    let values = |name: HeaderName| {
        headers
            .get_all(name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect::<Vec<_>>()
    };
    let presented = api::credentials(
        &values(HeaderName::from_static("api_key")),
        &values(header::AUTHORIZATION),
        |text| service_key.is_some_and(|key| same_bytes(text, key.as_bytes())),
    );
    match presented {
        api::Credentials::Key => Credentials::Service,
        api::Credentials::Token(token) => Credentials::Token(token),
        api::Credentials::Nothing => Credentials::Nothing,
        api::Credentials::Invalid => Credentials::Invalid,
    }
}

/// A signed-in user, as their User row read in the request's transaction.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) role: Option<String>,
    /// The user's record in the platform's shape (what `User/me` answers).
    pub(crate) record: Map<String, Value>,
}

/// Who a request is from.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Service,
    User(Box<SignedIn>),
    Anonymous,
}

impl Caller {
    /// Who, for refusal messages (an email, never a token).
    pub(crate) fn describe(&self) -> String {
        match self {
            Caller::Service => "the service role".to_owned(),
            Caller::User(user) => format!("user {}", user.email),
            Caller::Anonymous => "an anonymous visitor".to_owned(),
        }
    }
}

pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message)
}

/// One request's transaction, in its caller's shoes.
pub(crate) struct Request<'c> {
    pub(crate) transaction: Transaction<'c, Postgres>,
    pub(crate) caller: Caller,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Request")
            .field("caller", &self.caller.describe())
            .finish()
    }
}

/// Begins the request's transaction and puts it in the caller's shoes: 401 for credentials
/// that sign no one in. The service key and no credentials cost one round trip (the settings
/// travel with the `BEGIN`); a token two, since its user is read first, as the service role.
pub(crate) async fn begin<'c>(
    state: &AppState,
    connection: &'c mut sqlx::PgConnection,
    credentials: &Credentials,
    access: Access,
) -> Result<Request<'c>, ApiError> {
    // A token's user is read as the service role, then the transaction takes their shoes.
    let (first, token) = match credentials {
        Credentials::Service => (Caller::Service, None),
        Credentials::Nothing => (Caller::Anonymous, None),
        Credentials::Token(token) => (Caller::Service, Some(token)),
        Credentials::Invalid => return Err(invalid_credentials()),
    };
    let acting = acting_sql(state, &first);
    let mut transaction = offbase_pg::serve::begin(connection, access, acting.as_deref())
        .await
        .map_err(database)?;
    let Some(token) = token else {
        return Ok(Request {
            transaction,
            caller: first,
        });
    };
    let id = token_user(state, token)?;
    let user = admit(user_row(state, &mut transaction, &id).await?)?;
    let caller = Caller::User(Box::new(user));
    act(state, &mut transaction, &caller).await?;
    Ok(Request {
        transaction,
        caller,
    })
}

/// Who a read is from, and the statement that puts it in their shoes: a read of the service
/// role or of an anonymous visitor needs no round trip to know them, a token's one (its
/// user, read as the service role).
#[derive(Debug)]
pub(crate) struct Reader {
    pub(crate) caller: Caller,
    pub(crate) acting: Option<String>,
}

/// The reader of a request presenting `credentials`: 401 for credentials that sign no one
/// in. Reads then run in one message each (`offbase_pg::serve::read_rows`).
pub(crate) async fn reader(
    state: &AppState,
    connection: &mut sqlx::PgConnection,
    credentials: &Credentials,
) -> Result<Reader, ApiError> {
    let caller = match credentials {
        Credentials::Service => Caller::Service,
        Credentials::Nothing => Caller::Anonymous,
        Credentials::Invalid => return Err(invalid_credentials()),
        Credentials::Token(token) => {
            let id = token_user(state, token)?;
            let found = match state.target.table_for_entity("User") {
                Some(table) => {
                    let sql = get_sql(&state.pg_schema, table, &id);
                    let acting = acting_sql(state, &Caller::Service);
                    let rows = offbase_pg::serve::read_rows(connection, acting.as_deref(), &sql)
                        .await
                        .map_err(database)?;
                    signed_in(table, &id, rows)
                }
                None => None,
            };
            Caller::User(Box::new(admit(found)?))
        }
    };
    Ok(Reader {
        acting: acting_sql(state, &caller),
        caller,
    })
}

fn invalid_credentials() -> ApiError {
    unauthorized("the credentials sent are neither this app's service key nor a bearer token")
}

/// The user id a token was signed for: 401 for a token this server did not sign or that
/// expired.
fn token_user(state: &AppState, token: &str) -> Result<String, ApiError> {
    state
        .auth
        .secret
        .verify(&state.app_id, token)
        .map_err(unauthorized)
}

/// A token's user, when they may still act: 401 when they are gone or disabled.
fn admit(found: Option<SignedIn>) -> Result<SignedIn, ApiError> {
    let user =
        found.ok_or_else(|| unauthorized("the user this token was issued for no longer exists"))?;
    if user.record.get(BuiltIn::Disabled.field_name()) == Some(&Value::Bool(true)) {
        return Err(unauthorized(
            "the user this token was issued for is disabled",
        ));
    }
    Ok(user)
}

/// What puts a connection in `caller`'s shoes from the session it rests in (the service
/// role's, [`at_rest_sql`]): their session settings and, where the load applied the rules,
/// their role, local to the transaction; `None` for the service role itself.
fn acting_sql(state: &AppState, caller: &Caller) -> Option<String> {
    let requester = match caller {
        Caller::Service => Requester::Service,
        Caller::Anonymous => Requester::Anonymous,
        Caller::User(user) => Requester::User {
            id: &user.id,
            email: &user.email,
            role: user.role.as_deref(),
        },
    };
    session(state.rls, requester)
        .changes_from_sql(&session(state.rls, Requester::Service), state.secured)
}

/// The session every pooled connection rests in between requests: the service role's
/// settings (no user) and, where the load applied the rules, its role. The service key's
/// requests, most of a backend's, then send no settings at all.
pub(crate) fn at_rest_sql(rls: RlsMode, secured: bool) -> String {
    session(rls, Requester::Service).set_config_sql(secured, false)
}

/// Sets the transaction's role and user settings to `caller`'s.
pub(crate) async fn act(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    caller: &Caller,
) -> Result<(), ApiError> {
    let Some(acting) = acting_sql(state, caller) else {
        return Ok(());
    };
    offbase_pg::serve::act_in(transaction, &acting)
        .await
        .map_err(database)
}

/// Switches the transaction to the service role (past the policies) where the load applied
/// them: for reading back what a caller just wrote, and for reading users.
pub(crate) async fn as_service(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
) -> Result<(), ApiError> {
    if state.secured {
        offbase_pg::serve::set_role(transaction, state.rls.roles().service)
            .await
            .map_err(database)?;
    }
    Ok(())
}

/// The user with this id in the User table, read as the service role.
pub(crate) async fn read_user(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<Option<SignedIn>, ApiError> {
    as_service(state, transaction).await?;
    user_row(state, transaction, id).await
}

/// The user with this id in the User table, read in the transaction's current role.
async fn user_row(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(table) = state.target.table_for_entity("User") else {
        return Ok(None);
    };
    let Some(id_column) = table.column_for_field(BuiltIn::Id.field_name()) else {
        return Ok(None);
    };
    let rows = offbase_pg::serve::rows_by_id(
        transaction,
        &state.pg_schema,
        &table.name,
        &id_column.name,
        &[id.to_owned()],
    )
    .await
    .map_err(database)?;
    Ok(signed_in(table, id, rows))
}

/// The user `id` from the rows of their User record (none: no such user).
fn signed_in(table: &Table, id: &str, rows: Vec<Value>) -> Option<SignedIn> {
    let record = rows
        .into_iter()
        .next()
        .and_then(|row| platform_record(row, table))?;
    let text = |field: BuiltIn| {
        record
            .get(field.field_name())
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Some(SignedIn {
        id: id.to_owned(),
        email: text(BuiltIn::Email).unwrap_or_default(),
        role: text(BuiltIn::Role),
        record,
    })
}

pub(crate) fn database(error: offbase_pg::PgError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_wins_then_a_token_and_nothing_is_anonymous() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.append(*name, HeaderValue::from_static(value));
            }
            headers
        };
        let key = Some("secret");
        let cases = [
            (headers(&[("api_key", "secret")]), Credentials::Service),
            (
                headers(&[("authorization", "Bearer secret")]),
                Credentials::Service,
            ),
            (
                headers(&[("authorization", "Bearer a.b.c")]),
                Credentials::Token("a.b.c".to_owned()),
            ),
            (headers(&[]), Credentials::Nothing),
            (headers(&[("api_key", "nope")]), Credentials::Invalid),
            (
                headers(&[("authorization", "Basic secret")]),
                Credentials::Invalid,
            ),
        ];
        for (headers, expected) in cases {
            assert_eq!(credentials(&headers, key), expected, "{headers:?}");
        }
        // Without a service key configured, nothing is the key.
        assert_eq!(
            credentials(&headers(&[("api_key", "secret")]), None),
            Credentials::Invalid
        );
        assert_eq!(
            credentials(&headers(&[("authorization", "Bearer secret")]), None),
            Credentials::Token("secret".to_owned())
        );
    }
}
