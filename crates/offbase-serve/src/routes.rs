//! The HTTP surface: the route table, the state every handler reads, and what handlers share
//! (the table of an entity, a pooled connection, the answer). The handlers are in `reads`,
//! `writes` and `auth`; the SDK's fire-and-forget calls (page views, analytics) are accepted
//! and dropped here. Anything else answers 501 naming what is not served yet, so a client
//! never waits on a route the server does not have.

use crate::accounts;
use crate::auth;
use crate::caller::{Credentials, credentials};
use crate::error::{ApiError, json_response};
use crate::login_page;
use crate::reads;
use crate::token::TokenSecret;
use crate::writes;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use offbase_base44::exports::csv::IMPORT_BODY_MAX;
use offbase_copy::convert::Relax;
use offbase_model::{App, Entity, Table, TargetSchema};
use offbase_sql::RlsMode;
use serde_json::Value;
use sqlx::PgPool;
use std::sync::Arc;

const ENTITY: &str = "/api/apps/{app_id}/entities/{entity}";
const ENTITY_BULK: &str = "/api/apps/{app_id}/entities/{entity}/bulk";
const ENTITY_COUNT: &str = "/api/apps/{app_id}/entities/{entity}/count";
const ENTITY_AGGREGATE: &str = "/api/apps/{app_id}/entities/{entity}/aggregate";
const ENTITY_UPSERT: &str = "/api/apps/{app_id}/entities/{entity}/upsert";
const ENTITY_UPDATE_MANY: &str = "/api/apps/{app_id}/entities/{entity}/update-many";
const RECORD: &str = "/api/apps/{app_id}/entities/{entity}/{id}";
const LOGIN: &str = "/api/apps/{app_id}/auth/login";
const PUBLIC_SETTINGS: &str = "/api/apps/public/prod/public-settings/by-id/{app_id}";
/// The SDK's fire-and-forget calls: a page view logged, analytics events.
const PAGE_LOG: &str = "/api/app-logs/{app_id}/log-user-in-app/{page}";
const ANALYTICS: &str = "/api/apps/{app_id}/analytics/track/batch";

/// How callers sign in.
#[derive(Debug, Clone)]
pub(crate) struct AuthSettings {
    /// Signs and checks the sign-in tokens.
    pub(crate) secret: TokenSecret,
    /// The service key (the platform's `asServiceRole`); `None`: no service access.
    pub(crate) service_key: Option<String>,
}

/// What every handler reads: the pool, where the tables are, which table holds which entity,
/// and how requests run as their callers.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) pool: PgPool,
    pub(crate) pg_schema: String,
    pub(crate) app_id: String,
    pub(crate) app: App,
    pub(crate) target: TargetSchema,
    /// What the load relaxed: a write converts its record as the load did.
    pub(crate) relax: Relax,
    /// The dialect of the access rules the load applied.
    pub(crate) rls: RlsMode,
    /// Whether the schema has row level security (the load applied an access-rules section):
    /// requests then run as the section's roles; otherwise as the server's own.
    pub(crate) secured: bool,
    pub(crate) auth: AuthSettings,
    /// The built frontend served beside the API (canonical), if any.
    pub(crate) frontend: Option<std::path::PathBuf>,
    /// Uploads and the files served (`--files-dir`), if any.
    pub(crate) files: Option<crate::files::Files>,
    /// Registration, codes, resets, invitations: the mailer and where links point.
    pub(crate) accounts: accounts::AccountSettings,
}

impl AppState {
    pub(crate) fn credentials(&self, headers: &HeaderMap) -> Credentials {
        credentials(headers, self.auth.service_key.as_deref())
    }
}

pub(crate) type SharedState = Arc<AppState>;

pub(crate) fn router(state: SharedState) -> Router {
    Router::new()
        .route(
            ENTITY,
            get(reads::list)
                .post(writes::create)
                .delete(writes::delete_many),
        )
        .route(
            ENTITY_BULK,
            post(writes::bulk_create).put(writes::bulk_update),
        )
        .route(ENTITY_COUNT, get(reads::count))
        .route(ENTITY_AGGREGATE, post(crate::aggregate::aggregate))
        .route(ENTITY_UPDATE_MANY, patch(writes::update_many))
        .route(ENTITY_UPSERT, post(crate::upsert::upsert))
        .route(
            "/api/apps/{app_id}/entities/{entity}/import",
            post(crate::import::import).layer(DefaultBodyLimit::max(IMPORT_BODY_MAX)),
        )
        .route(
            RECORD,
            get(reads::get_record)
                .put(writes::update)
                .merge(delete(writes::delete)),
        )
        .route(LOGIN, post(auth::login))
        .route("/api/apps/{app_id}/auth/register", post(accounts::register))
        .route(
            "/api/apps/{app_id}/auth/verify-otp",
            post(accounts::verify_otp),
        )
        .route(
            "/api/apps/{app_id}/auth/resend-otp",
            post(accounts::resend_otp),
        )
        .route(
            "/api/apps/{app_id}/auth/reset-password-request",
            post(accounts::reset_password_request),
        )
        .route(
            "/api/apps/{app_id}/auth/reset-password",
            post(accounts::reset_password),
        )
        .route(
            "/api/apps/{app_id}/auth/change-password",
            post(accounts::change_password),
        )
        .route(
            "/api/apps/{app_id}/auth/login-token",
            get(accounts::login_token),
        )
        .route(
            "/api/apps/{app_id}/users/invite-user",
            post(accounts::invite_user),
        )
        .route(
            "/api/apps/{app_id}/runtime/users/invite-user",
            post(accounts::invite_user),
        )
        .route("/login", get(login_page::page))
        .route("/api/apps/auth/login", get(login_page::page))
        .route("/api/apps/auth/logout", get(login_page::logout))
        .route(PUBLIC_SETTINGS, get(auth::public_settings))
        .route(PAGE_LOG, post(accepted))
        .route(ANALYTICS, post(accepted))
        .route(
            "/api/apps/{app_id}/entities/{entity}/v2/list",
            get(crate::pages::list_page),
        )
        .route(
            "/api/apps/{app_id}/entities/{entity}/trash",
            get(not_served),
        )
        .route(
            "/api/apps/{app_id}/entities/{entity}/{id}/restore",
            put(not_served),
        )
        .merge(crate::files::router())
        .fallback(fallback)
        .method_not_allowed_fallback(not_served)
        .with_state(state)
}

pub(crate) fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

/// The entity `entity` of app `app_id` and its table: 404 for another app or an entity the
/// plan has not.
pub(crate) fn entity<'a>(
    state: &'a AppState,
    app_id: &str,
    entity: &str,
) -> Result<(&'a Entity, &'a Table), ApiError> {
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    let missing = || ApiError::not_found(format!("entity `{entity}` not found"));
    let table = state.target.table_for_entity(entity).ok_or_else(missing)?;
    let declared = state.app.entity(entity).ok_or_else(missing)?;
    Ok((declared, table))
}

/// A pooled connection (set to UTC when the pool opened it).
pub(crate) async fn connection(
    state: &AppState,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, ApiError> {
    state.pool.acquire().await.map_err(|error| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no database connection: {error}"),
        )
    })
}

/// A call the SDK sends and never reads the answer of (page views, analytics): accepted and
/// dropped, so the app's pages do not log errors; nothing here keeps them.
async fn accepted() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({}))
}

/// A path outside `/api`: the frontend's, when one is served; otherwise 501.
async fn fallback(
    axum::extract::State(state): axum::extract::State<SharedState>,
    method: Method,
    uri: Uri,
) -> Response {
    let path = uri.path();
    match &state.frontend {
        Some(root) if path != "/api" && !path.starts_with("/api/") => {
            crate::frontend::serve(root, &method, &uri).await
        }
        _ => not_served(method, uri).await,
    }
}

/// Every other method and route: 501, saying what is served.
async fn not_served(method: Method, uri: Uri) -> Response {
    ApiError::not_served(format!(
        "not served yet: {method} {}. `offbase serve` answers the entity API (list, \
         v2/list pages, filter, get, count, aggregate, create, update, delete, bulk, \
         update-many, delete-many, upsert), sign-in, User/me and files (with --files-dir); the trash, functions, other \
         integrations, agents and realtime are not served (docs/serve.md)",
        uri.path()
    ))
    .into_response()
}
