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
use offbase_model::BuiltIn;
use offbase_pg::serve::Access;
use offbase_pipeline::compare::canonical::platform_record;
use offbase_sql::rls::{Requester, session};
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
/// that sign no one in.
pub(crate) async fn begin<'c>(
    state: &AppState,
    connection: &'c mut sqlx::PgConnection,
    credentials: &Credentials,
    access: Access,
) -> Result<Request<'c>, ApiError> {
    let mut transaction = offbase_pg::serve::begin(connection, access)
        .await
        .map_err(database)?;
    let caller = match credentials {
        Credentials::Service => Caller::Service,
        Credentials::Nothing => Caller::Anonymous,
        Credentials::Invalid => {
            return Err(unauthorized(
                "the credentials sent are neither this app's service key nor a bearer token",
            ));
        }
        Credentials::Token(token) => {
            let id = state
                .auth
                .secret
                .verify(&state.app_id, token)
                .map_err(unauthorized)?;
            let user = read_user(state, &mut transaction, &id)
                .await?
                .ok_or_else(|| {
                    unauthorized("the user this token was issued for no longer exists")
                })?;
            if user.record.get(BuiltIn::Disabled.field_name()) == Some(&Value::Bool(true)) {
                return Err(unauthorized(
                    "the user this token was issued for is disabled",
                ));
            }
            Caller::User(Box::new(user))
        }
    };
    act(state, &mut transaction, &caller).await?;
    Ok(Request {
        transaction,
        caller,
    })
}

/// Sets the transaction's role and user settings to `caller`'s.
pub(crate) async fn act(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    caller: &Caller,
) -> Result<(), ApiError> {
    let requester = match caller {
        Caller::Service => Requester::Service,
        Caller::Anonymous => Requester::Anonymous,
        Caller::User(user) => Requester::User {
            id: &user.id,
            email: &user.email,
            role: user.role.as_deref(),
        },
    };
    let session = session(state.rls, requester);
    let settings: Vec<(&str, &str)> = session
        .settings
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let role = state.secured.then_some(session.role);
    offbase_pg::serve::act_in(transaction, role, &settings)
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
    let Some(table) = state.target.table_for_entity("User") else {
        return Ok(None);
    };
    let Some(id_column) = table.column_for_field(BuiltIn::Id.field_name()) else {
        return Ok(None);
    };
    as_service(state, transaction).await?;
    let rows = offbase_pg::serve::rows_by_id(
        transaction,
        &state.pg_schema,
        &table.name,
        &id_column.name,
        &[id.to_owned()],
    )
    .await
    .map_err(database)?;
    let Some(record) = rows
        .into_iter()
        .next()
        .and_then(|row| platform_record(row, table))
    else {
        return Ok(None);
    };
    let text = |field: BuiltIn| {
        record
            .get(field.field_name())
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(Some(SignedIn {
        id: id.to_owned(),
        email: text(BuiltIn::Email).unwrap_or_default(),
        role: text(BuiltIn::Role),
        record,
    }))
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
