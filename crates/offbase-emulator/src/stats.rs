//! What happened during a run, for tests: requests per route and status, rate-limit refusals,
//! injected faults and the background writer's operations. Owns the [`Route`] names the counts
//! are kept under, and the recorder the server and the writer share.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// An endpoint of the emulator, as counted in [`Stats::requests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `GET .../entities/{Entity}`
    List,
    /// `GET .../entities/{Entity}/v2/list`
    ListV2,
    /// `GET .../entities/{Entity}/count`
    Count,
    /// `POST .../entities/{Entity}/aggregate`: `aggregate(spec)`.
    Aggregate,
    /// `GET .../entities/{Entity}/{id}`
    Get,
    /// `POST .../entities/{Entity}`
    Create,
    /// `POST .../entities/{Entity}/bulk`
    BulkCreate,
    /// `PUT .../entities/{Entity}/{id}`
    Update,
    /// `PUT .../entities/{Entity}/bulk`
    BulkUpdate,
    /// `PATCH .../entities/{Entity}/update-many`: `updateMany(query, data)`.
    UpdateMany,
    /// `POST .../entities/{Entity}/upsert`: `upsert(records, {key})`.
    Upsert,
    /// `POST .../entities/{Entity}/import`: `importEntities(file)`, a CSV file.
    Import,
    /// `DELETE .../entities/{Entity}/{id}`
    Delete,
    /// `DELETE .../entities/{Entity}` with the query as the body: `deleteMany(query)`.
    DeleteMany,
    /// `GET .../entities/{Entity}/trash`
    Trash,
    /// `PUT .../entities/{Entity}/{id}/restore`
    Restore,
    /// `DELETE .../entities/{Entity}/{id}/permanent`
    PermanentDelete,
    /// A hosted file (`/api/apps/{app_id}/files/...`, `/images/public/...`,
    /// `/storage/v1/object/public/...`).
    File,
    /// `POST .../integration-endpoints/Core/CreateFileSignedUrl`
    SignedUrl,
    /// `POST .../integration-endpoints/Core/UploadFile` and `.../UploadPrivateFile`.
    Upload,
    /// A private file read through a signed URL (`/private-files/...?token=`).
    PrivateFile,
    /// `POST /api/apps/{app_id}/auth/test-token`: a user's bearer token.
    UserToken,
    /// `POST /api/apps/{app_id}/auth/login`: sign-in with a password.
    Login,
    /// `POST .../auth/register`: an account and a code mailed.
    Register,
    /// `POST .../auth/verify-otp`: a code spent, signed in.
    VerifyOtp,
    /// `POST .../auth/resend-otp`: a new code.
    ResendOtp,
    /// `POST .../auth/reset-password-request`: a reset token mailed.
    ResetPasswordRequest,
    /// `POST .../auth/reset-password`: a reset token spent, the password set.
    ResetPassword,
    /// `POST .../auth/change-password`: the signed-in user's own.
    ChangePassword,
    /// `POST .../users/invite-user` and `.../runtime/users/invite-user`.
    InviteUser,
    /// `GET .../auth/login-token`: an invitation's link, signing in once.
    LoginToken,
    /// `GET .../emulator/outbox`: the mails the account calls "sent".
    Outbox,
    /// Anything else (answered 404 or 405).
    Unmatched,
}

impl Route {
    /// A short snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::List => "list",
            Route::ListV2 => "list_v2",
            Route::Count => "count",
            Route::Aggregate => "aggregate",
            Route::Get => "get",
            Route::Create => "create",
            Route::BulkCreate => "bulk_create",
            Route::Update => "update",
            Route::BulkUpdate => "bulk_update",
            Route::UpdateMany => "update_many",
            Route::Upsert => "upsert",
            Route::Import => "import",
            Route::Delete => "delete",
            Route::DeleteMany => "delete_many",
            Route::Trash => "trash",
            Route::Restore => "restore",
            Route::PermanentDelete => "permanent_delete",
            Route::File => "file",
            Route::SignedUrl => "signed_url",
            Route::Upload => "upload",
            Route::PrivateFile => "private_file",
            Route::UserToken => "user_token",
            Route::Login => "login",
            Route::Register => "register",
            Route::VerifyOtp => "verify_otp",
            Route::ResendOtp => "resend_otp",
            Route::ResetPasswordRequest => "reset_password_request",
            Route::ResetPassword => "reset_password",
            Route::ChangePassword => "change_password",
            Route::InviteUser => "invite_user",
            Route::LoginToken => "login_token",
            Route::Outbox => "outbox",
            Route::Unmatched => "unmatched",
        }
    }
}

/// A snapshot of a run's counters ([`crate::RunningEmulator::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Answers by route, then by HTTP status. Injected faults are counted under the status the
    /// client saw (truncated and reset answers under 200).
    pub requests: BTreeMap<Route, BTreeMap<u16, u64>>,
    /// Requests refused with 429 by the rate limits (not the injected ones).
    pub rate_limited: u64,
    /// Injected 500, 502 and 503 answers.
    pub injected_server_errors: u64,
    /// Injected 429 answers.
    pub injected_throttles: u64,
    /// 200 answers whose body was cut short.
    pub truncated_bodies: u64,
    /// Connections dropped mid-body.
    pub reset_connections: u64,
    /// Records the background writer created.
    pub writer_creates: u64,
    /// Records the background writer updated.
    pub writer_updates: u64,
    /// Records the background writer deleted.
    pub writer_deletes: u64,
}

impl Stats {
    /// How many requests `route` answered, whatever the status.
    pub fn requests_to(&self, route: Route) -> u64 {
        self.requests
            .get(&route)
            .map_or(0, |statuses| statuses.values().sum())
    }

    /// How many requests `route` answered with `status`.
    pub fn responses(&self, route: Route, status: u16) -> u64 {
        self.requests
            .get(&route)
            .and_then(|statuses| statuses.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// How many requests were answered with `status`, over all routes.
    pub fn responses_with(&self, status: u16) -> u64 {
        self.requests
            .values()
            .filter_map(|statuses| statuses.get(&status))
            .sum()
    }

    /// Every fault injected so far.
    pub fn injected_faults(&self) -> u64 {
        self.injected_server_errors
            + self.injected_throttles
            + self.truncated_bodies
            + self.reset_connections
    }
}

/// An injected fault, as counted in [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    ServerError,
    Throttle,
    Truncate,
    Reset,
}

/// A writer operation, as counted in [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    Create,
    Update,
    Delete,
}

/// The counters, shared by the HTTP layer and the writer.
#[derive(Debug, Default)]
pub(crate) struct StatsRecorder {
    stats: Mutex<Stats>,
}

impl StatsRecorder {
    fn with<R>(&self, change: impl FnOnce(&mut Stats) -> R) -> R {
        // A panic elsewhere cannot leave counters half-written: keep counting.
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut stats)
    }

    pub(crate) fn request(&self, route: Route, status: u16) {
        self.with(|stats| {
            *stats
                .requests
                .entry(route)
                .or_default()
                .entry(status)
                .or_default() += 1;
        });
    }

    pub(crate) fn rate_limited(&self) {
        self.with(|stats| stats.rate_limited += 1);
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        self.with(|stats| {
            let counter = match kind {
                FaultKind::ServerError => &mut stats.injected_server_errors,
                FaultKind::Throttle => &mut stats.injected_throttles,
                FaultKind::Truncate => &mut stats.truncated_bodies,
                FaultKind::Reset => &mut stats.reset_connections,
            };
            *counter += 1;
        });
    }

    pub(crate) fn write(&self, kind: WriteKind) {
        self.with(|stats| {
            let counter = match kind {
                WriteKind::Create => &mut stats.writer_creates,
                WriteKind::Update => &mut stats.writer_updates,
                WriteKind::Delete => &mut stats.writer_deletes,
            };
            *counter += 1;
        });
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.with(|stats| stats.clone())
    }
}
