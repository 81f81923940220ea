//! The HTTP surface: the route table and the two middlewares every answer passes through (the
//! state they share is in `state`, the handlers in `entities`, `files`, `uploads`, `auth` and
//! `accounts`; the routes of the last two have no gate, no rate limit and no faults). The
//! entity gate runs on entity API routes only, in this order: authentication (the [`Caller`]:
//! the API key, a user's token, or nobody; 401 for credentials that are neither), the app id
//! (404), the rate limit of the operation class (429 with `retry-after`), then the injected
//! faults (latency, 5xx, 429, truncated body, dropped connection); the handler gets the
//! caller. The stats recorder counts every answer by [`Route`] and status.

use crate::accounts;
use crate::aggregate;
use crate::auth;
use crate::connection::Connection;
use crate::entities;
use crate::error::ApiError;
use crate::faults;
use crate::files;
use crate::import;
use crate::limits::Operation;
use crate::session::{Caller, Credentials, credentials, signed_in};
use crate::state::{AppState, SharedState, tagged};
use crate::stats::{FaultKind, Route};
use crate::uploads::{self, UploadState, Uploads};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use std::sync::Arc;

const ENTITY: &str = "/api/apps/{app_id}/entities/{entity}";
const ENTITY_BULK: &str = "/api/apps/{app_id}/entities/{entity}/bulk";
const ENTITY_UPDATE_MANY: &str = "/api/apps/{app_id}/entities/{entity}/update-many";
const ENTITY_UPSERT: &str = "/api/apps/{app_id}/entities/{entity}/upsert";
const ENTITY_IMPORT: &str = "/api/apps/{app_id}/entities/{entity}/import";
const ENTITY_V2_LIST: &str = "/api/apps/{app_id}/entities/{entity}/v2/list";
const ENTITY_COUNT: &str = "/api/apps/{app_id}/entities/{entity}/count";
const ENTITY_AGGREGATE: &str = "/api/apps/{app_id}/entities/{entity}/aggregate";
const ENTITY_TRASH: &str = "/api/apps/{app_id}/entities/{entity}/trash";
const RECORD: &str = "/api/apps/{app_id}/entities/{entity}/{id}";
const RECORD_RESTORE: &str = "/api/apps/{app_id}/entities/{entity}/{id}/restore";
const RECORD_PERMANENT: &str = "/api/apps/{app_id}/entities/{entity}/{id}/permanent";
const FILES_APP: &str = "/api/apps/{app_id}/files/{*path}";
const FILES_IMAGES: &str = "/images/public/{*path}";
const FILES_STORAGE: &str = "/storage/v1/object/public/{*path}";
const SIGNED_URL: &str = "/api/apps/{app_id}/integration-endpoints/Core/CreateFileSignedUrl";
const PRIVATE_FILES: &str = "/private-files/{*path}";
const UPLOAD_FILE: &str = "/api/apps/{app_id}/integration-endpoints/Core/UploadFile";
const UPLOAD_PRIVATE_FILE: &str = "/api/apps/{app_id}/integration-endpoints/Core/UploadPrivateFile";
const USER_TOKEN: &str = "/api/apps/{app_id}/auth/test-token";
const LOGIN: &str = "/api/apps/{app_id}/auth/login";
const REGISTER: &str = "/api/apps/{app_id}/auth/register";
const VERIFY_OTP: &str = "/api/apps/{app_id}/auth/verify-otp";
const RESEND_OTP: &str = "/api/apps/{app_id}/auth/resend-otp";
const RESET_PASSWORD_REQUEST: &str = "/api/apps/{app_id}/auth/reset-password-request";
const RESET_PASSWORD: &str = "/api/apps/{app_id}/auth/reset-password";
const CHANGE_PASSWORD: &str = "/api/apps/{app_id}/auth/change-password";
const LOGIN_TOKEN: &str = "/api/apps/{app_id}/auth/login-token";
const INVITE_USER: &str = "/api/apps/{app_id}/users/invite-user";
const RUNTIME_INVITE_USER: &str = "/api/apps/{app_id}/runtime/users/invite-user";
const OUTBOX: &str = "/api/apps/{app_id}/emulator/outbox";

/// The emulator's routes. Every entity route and method is gated separately, so the gate
/// knows which [`Route`] (and rate-limit class) it is guarding. Uploads are gated like entity
/// routes (their size is `uploads`' to bound, not the default body limit's).
pub(crate) fn router(state: SharedState, uploads: Arc<Uploads>) -> Router {
    let uploaded = UploadState {
        app: Arc::clone(&state),
        uploads,
    };
    let file_faults = || middleware::from_fn_with_state(Arc::clone(&state), file_gate);
    let gated = |route: Route, method_router: MethodRouter<SharedState>| {
        method_router.route_layer(middleware::from_fn_with_state(
            (Arc::clone(&state), route),
            entity_gate,
        ))
    };
    Router::new()
        .route(
            ENTITY,
            gated(Route::List, get(entities::list))
                .merge(gated(Route::Create, post(entities::create)))
                .merge(gated(Route::DeleteMany, delete(entities::delete_many))),
        )
        .route(
            ENTITY_BULK,
            gated(Route::BulkCreate, post(entities::bulk_create))
                .merge(gated(Route::BulkUpdate, put(entities::bulk_update))),
        )
        .route(
            ENTITY_UPDATE_MANY,
            gated(Route::UpdateMany, patch(entities::update_many)),
        )
        .route(ENTITY_UPSERT, gated(Route::Upsert, post(entities::upsert)))
        .route(
            ENTITY_IMPORT,
            gated(
                Route::Import,
                post(import::import).layer(DefaultBodyLimit::disable()),
            ),
        )
        .route(ENTITY_V2_LIST, gated(Route::ListV2, get(entities::list_v2)))
        .route(ENTITY_COUNT, gated(Route::Count, get(entities::count)))
        .route(
            ENTITY_AGGREGATE,
            gated(Route::Aggregate, post(aggregate::aggregate)),
        )
        .route(ENTITY_TRASH, gated(Route::Trash, get(entities::trash)))
        .route(
            RECORD,
            gated(Route::Get, get(entities::get))
                .merge(gated(Route::Update, put(entities::update)))
                .merge(gated(Route::Delete, delete(entities::delete))),
        )
        .route(
            RECORD_RESTORE,
            gated(Route::Restore, put(entities::restore)),
        )
        .route(
            RECORD_PERMANENT,
            gated(Route::PermanentDelete, delete(entities::purge)),
        )
        .route(
            FILES_APP,
            get(uploads::app_file)
                .with_state(uploaded.clone())
                .route_layer(file_faults()),
        )
        .route(
            FILES_IMAGES,
            get(files::public_file).route_layer(file_faults()),
        )
        .route(
            FILES_STORAGE,
            get(files::public_file).route_layer(file_faults()),
        )
        .route(SIGNED_URL, gated(Route::SignedUrl, post(files::signed_url)))
        .route(
            UPLOAD_FILE,
            gated(
                Route::Upload,
                post(uploads::upload_file)
                    .with_state(uploaded.clone())
                    .layer(DefaultBodyLimit::disable()),
            ),
        )
        .route(
            UPLOAD_PRIVATE_FILE,
            gated(
                Route::Upload,
                post(uploads::upload_private_file)
                    .with_state(uploaded.clone())
                    .layer(DefaultBodyLimit::disable()),
            ),
        )
        .route(
            PRIVATE_FILES,
            get(uploads::private_file)
                .with_state(uploaded)
                .route_layer(file_faults()),
        )
        .route(USER_TOKEN, post(auth::test_token))
        .route(LOGIN, post(auth::login))
        .route(REGISTER, post(accounts::register))
        .route(VERIFY_OTP, post(accounts::verify_otp))
        .route(RESEND_OTP, post(accounts::resend_otp))
        .route(
            RESET_PASSWORD_REQUEST,
            post(accounts::reset_password_request),
        )
        .route(RESET_PASSWORD, post(accounts::reset_password))
        .route(CHANGE_PASSWORD, post(accounts::change_password))
        .route(LOGIN_TOKEN, get(accounts::login_token))
        .route(INVITE_USER, post(accounts::invite_user))
        .route(RUNTIME_INVITE_USER, post(accounts::invite_user))
        .route(OUTBOX, get(accounts::outbox))
        .fallback(unmatched)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            record_stats,
        ))
        .with_state(state)
}

impl Route {
    /// The rate-limit class of an entity API route.
    fn operation(self) -> Option<Operation> {
        match self {
            Route::List | Route::ListV2 | Route::Count | Route::Aggregate | Route::Trash => {
                Some(Operation::List)
            }
            Route::Get => Some(Operation::Get),
            Route::Create | Route::BulkCreate | Route::Upsert | Route::Import => {
                Some(Operation::Create)
            }
            Route::Update | Route::BulkUpdate | Route::UpdateMany | Route::Restore => {
                Some(Operation::Update)
            }
            Route::Delete | Route::DeleteMany | Route::PermanentDelete => Some(Operation::Delete),
            Route::File
            | Route::SignedUrl
            | Route::Upload
            | Route::PrivateFile
            | Route::UserToken
            | Route::Login
            | Route::Register
            | Route::VerifyOtp
            | Route::ResendOtp
            | Route::ResetPasswordRequest
            | Route::ResetPassword
            | Route::ChangePassword
            | Route::InviteUser
            | Route::LoginToken
            | Route::Outbox
            | Route::Unmatched => None,
        }
    }
}

/// The 401 answer to credentials that are neither the key nor a user's token.
pub(crate) fn unauthorized(reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!(
            "invalid credentials: {reason}. Send the app's API key in an `api_key` header or as \
             `Authorization: Bearer <key>`, a user's token (POST \
             /api/apps/{{app_id}}/auth/test-token) as `Authorization: Bearer <token>`, or no \
             credentials at all to be an anonymous visitor"
        ),
    )
}

/// Who the request is from, or the 401 answer.
fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    match credentials(headers, &state.sessions) {
        Credentials::Key => Ok(Caller::Service),
        Credentials::Nothing => Ok(Caller::Anonymous),
        Credentials::Invalid => Err(unauthorized(
            "the `api_key` header or the `Authorization` header is not the app's key",
        )),
        Credentials::Token(token) => state
            .store
            .read(|store| signed_in(store, &state.sessions, &token))
            .map(|user| Caller::User(Box::new(user)))
            .map_err(unauthorized),
    }
}

/// The `{app_id}` segment of `/api/apps/{app_id}/...`.
fn app_id_of(path: &str) -> Option<&str> {
    path.strip_prefix("/api/apps/")?.split('/').next()
}

/// Authentication, app id, rate limit and faults for one entity API route.
async fn entity_gate(
    State((state, route)): State<(SharedState, Route)>,
    request: Request,
    next: Next,
) -> Response {
    tagged(guard(&state, route, request, next).await, route)
}

async fn guard(state: &SharedState, route: Route, mut request: Request, next: Next) -> Response {
    let caller = match caller(state, request.headers()) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    if route == Route::SignedUrl && matches!(caller, Caller::Anonymous) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a signed URL for a private file needs the app's API key or a user's token",
        )
        .into_response();
    }
    request.extensions_mut().insert(caller);
    if let Some(app_id) = app_id_of(request.uri().path())
        && app_id != state.app_id
    {
        return ApiError::not_found(format!("app `{app_id}` not found")).into_response();
    }
    if let Some(operation) = route.operation()
        && let Err(refusal) = state.limiter.admit(operation)
    {
        state.stats.rate_limited();
        return ApiError::too_many_requests(
            refusal.retry_after_seconds,
            format!(
                "rate limit exceeded: {} {} requests per {} s for this app; retry after {} s",
                refusal.limit,
                operation.describe(),
                refusal.period.as_secs(),
                refusal.retry_after_seconds
            ),
        )
        .into_response();
    }

    faulted(state, request, next, false).await
}

/// A file download, through the same injected faults as the entity API when
/// [`Faults::files`](crate::config::Faults::files) asks for it (no key: public files are
/// public; no rate limit). A file has no syntax a cut could break, so a body cut short is
/// a connection dropped mid-body.
async fn file_gate(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    if !state.faults.faults_files() {
        return next.run(request).await;
    }
    let response = faulted(&state, request, next, true).await;
    // The handler tagged what it answered; an injected fault is the file route's.
    if response.extensions().get::<Route>().is_some() {
        response
    } else {
        tagged(response, Route::File)
    }
}

/// The request with the faults drawn for it: latency, a 5xx or 429 instead of the work, a body
/// cut short, a connection dropped mid-body.
async fn faulted(state: &SharedState, request: Request, next: Next, file: bool) -> Response {
    let plan = state.faults.draw();
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    if let Some(status) = plan.server_error {
        state.stats.fault(FaultKind::ServerError);
        return ApiError::new(status, "emulated server error: try again").into_response();
    }
    if plan.throttle {
        state.stats.fault(FaultKind::Throttle);
        return ApiError::too_many_requests(1, "emulated throttling: retry after 1 s")
            .into_response();
    }
    let connection = request
        .extensions()
        .get::<ConnectInfo<Connection>>()
        .map(|ConnectInfo(connection)| connection.clone());
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    if let Some(share) = plan.truncate_at.filter(|_| !file) {
        state.stats.fault(FaultKind::Truncate);
        return faults::truncate(response, share).await;
    }
    let reset_at = if file {
        plan.reset_at.or(plan.truncate_at)
    } else {
        plan.reset_at
    };
    if let (Some(share), Some(connection)) = (reset_at, connection) {
        let (response, armed) = faults::reset(response, share, &connection).await;
        if armed {
            state.stats.fault(FaultKind::Reset);
        }
        return response;
    }
    response
}

/// Counts every answer by route and status.
async fn record_stats(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<Route>()
        .copied()
        .unwrap_or(Route::Unmatched);
    state.stats.request(route, response.status().as_u16());
    response
}

async fn unmatched(method: Method, uri: Uri) -> Response {
    ApiError::not_found(format!(
        "no such endpoint: {method} {}; entity routes live under \
         /api/apps/{{app_id}}/entities/{{Entity}}",
        uri.path()
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_have_rate_limit_classes() {
        assert_eq!(Route::Restore.operation(), Some(Operation::Update));
        assert_eq!(Route::Trash.operation(), Some(Operation::List));
        assert_eq!(Route::UpdateMany.operation(), Some(Operation::Update));
        assert_eq!(Route::DeleteMany.operation(), Some(Operation::Delete));
        assert_eq!(Route::File.operation(), None);
        assert_eq!(app_id_of("/api/apps/abc/entities/Task"), Some("abc"));
    }
}
