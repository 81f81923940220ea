//! A Base44 API emulator for offbase's tests, demos and rehearsals.
//!
//! [`start`] serves an exported app (its entity schemas and `data/<Entity>.jsonl` records) over
//! HTTP the way the platform's entity REST API behaves, as offbase's Base44 reference describes
//! it: `api_key` / bearer authentication, user sessions and anonymous visitors held to the app's
//! access rules (`rls`), lists capped at 5000 with no stable order unless
//! sorted, the `v2/list` keyset cursor, counts, soft delete with a trash, schema-driven writes
//! (undeclared fields dropped, fresh `Z` timestamps on what was just written), the SDK's
//! `updateMany` (MongoDB-style update operators, `offbase_base44::update`, in batches of 500)
//! and `deleteMany` by query, per-operation rate limits, hosting of the public file URLs
//! records carry, uploads (`Core.UploadFile`, `Core.UploadPrivateFile`) and signed URLs. On
//! top of that it can inject faults (5xx, 429, truncated bodies, dropped connections,
//! latency) and run a background writer, so a client's retries, paging and sync can be tested
//! against the platform's worst days. Choices made where the reference is silent are listed in
//! the crate's README, and each in the doc comment of the code that makes it.
//!
//! Modules, each owning one thing:
//! - [`config`]: what a run is made of;
//! - `error`: [`EmulatorError`] and the API's JSON error answers;
//! - `store`: the data behind one lock and the platform's write rules ([`StoreHandle`]);
//! - `listing`: query parameters, filters, orders, projection and the cursor of reads;
//! - `state`: the state the route table and the handlers share, and the route tag on answers;
//! - `session`: who a request is from (the key, a user's token, nobody) and the token scheme
//!   ([`user_token`]);
//! - `access`: access rules on reads and writes of users and anonymous visitors;
//! - `entities`: the entity API's handlers;
//! - `aggregate`: the SDK's `aggregate(spec)` over the records the caller may read
//!   (`offbase_base44::aggregate` computes it);
//! - `import`: the SDK's `importEntities(file)`, a CSV file's records created as by a bulk
//!   create (`offbase_base44::exports::csv::parse_import` reads it);
//! - `auth`: issuing user tokens for tests;
//! - `accounts`: the SDK's account calls (register and its codes, password resets and changes,
//!   invitations and their sign-in links), answering as `offbase serve` does, and the outbox
//!   route where tests read the mails they "sent";
//! - `ledger`: what the account calls remember, in memory: codes and tokens, the passwords they
//!   set, the outbox ([`OutboxMail`]);
//! - `files`: file hosting and [`local_file_url`];
//! - `uploads`: `Core.UploadFile` / `Core.UploadPrivateFile`, the uploaded bytes in memory and
//!   served back;
//! - `routes`: the route table, authentication, rate limits and faults on the way in;
//! - `limits`, `faults`, `connection`: rate windows, fault draws, cuttable connections;
//! - `writer`: the background writer;
//! - [`stats`]: counters for tests.
//!
//! Dependencies between them run one way (no module imports one that imports it back):
//! this root → `routes` → {`entities`, `import`, `aggregate`, `uploads`, `files`, `auth`, `accounts`} → `state` →
//! {`session`, `store`, `ledger`, `limits`, `faults`, `stats`, `config`}; `entities` → {`access`,
//! `listing`} → `store` → `error`; `aggregate` → `access`; `access` → `session` → `store`;
//! `auth` → `routes` (its 401 answer); `import` → {`entities`, `uploads`}; `uploads` → `files`; `faults` → `connection`;
//! `accounts` → {`ledger`, `session`, `store`}; `writer` → {`store`, `stats`, `config`};
//! `config` → `error`.

mod access;
mod accounts;
mod aggregate;
mod auth;
pub mod config;
mod connection;
mod entities;
mod error;
mod faults;
mod files;
mod import;
mod ledger;
mod limits;
mod listing;
mod records;
mod routes;
mod session;
mod state;
pub mod stats;
mod store;
mod uploads;
mod writer;

pub use config::{
    DEFAULT_APP_ID, DEFAULT_CREATED_BY, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
    EmulatorConfig, Faults, RateLimits, WriterConfig,
};
pub use error::EmulatorError;
pub use files::{file_bytes, file_bytes_of_length, local_file_url};
pub use ledger::{MailKind, OutboxMail};
pub use offbase_base44::rls::BareKeys;
pub use session::user_token;
pub use stats::{Route, Stats};
pub use store::{BULK_UPDATE_MAX, EMULATOR_USER_ID, Record, StoreError, StoreHandle};

use crate::connection::{Connection, EmulatorListener};
use crate::ledger::AccountLedger;
use crate::session::SessionKey;
use crate::state::{AppState, RuleSettings};
use crate::stats::StatsRecorder;
use crate::store::Store;
use offbase_base44::platform::add_platform_entities;
use offbase_base44::read_app;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How long [`RunningEmulator::shutdown`] lets open connections finish before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Starts an emulator serving `config.app_dir` on `bind` (`127.0.0.1:0` for a free port) and,
/// when configured, its background writer. Returns once the port is listening.
pub async fn start(
    config: EmulatorConfig,
    bind: SocketAddr,
) -> Result<RunningEmulator, EmulatorError> {
    config.validate()?;
    let mut app = read_app(&config.app_dir)?.app;
    // The platform's `User` entity exists in every app, declared or not.
    add_platform_entities(&mut app);
    let app_id = config
        .app_id
        .clone()
        .or_else(|| app.app_id.clone())
        .unwrap_or_else(|| DEFAULT_APP_ID.to_owned());
    let store = StoreHandle::new(Store::load(
        &app,
        &config.app_dir.join("data"),
        config.created_by.clone(),
        config.faults.seed,
    )?);

    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| EmulatorError::Bind {
            address: bind,
            source,
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            address: bind,
            source,
        })?;

    let stats = Arc::new(StatsRecorder::default());
    let rules = Arc::new(RuleSettings::default());
    let accounts = Arc::new(AccountLedger::new(format!("http://{address}")));
    let state = Arc::new(AppState::new(
        &config,
        app_id.clone(),
        store.clone(),
        Arc::clone(&stats),
        Arc::clone(&rules),
        Arc::clone(&accounts),
    ));
    let uploads = Arc::new(uploads::Uploads::new(&config));
    let service =
        routes::router(state, uploads).into_make_service_with_connect_info::<Connection>();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        // A failing server ends the task; clients then see refused connections.
        let _ = axum::serve(EmulatorListener::new(listener), service)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    let (writer, writer_done) =
        writer::spawn(config.writer.clone(), store.clone(), Arc::clone(&stats));

    Ok(RunningEmulator {
        address,
        sessions: SessionKey::new(&config.api_key, &app_id),
        app_id,
        store,
        stats,
        rules,
        accounts,
        stop: Some(stop),
        server: Some(server),
        writer,
        writer_done,
    })
}

/// A running emulator. Dropping it stops the server and the writer; [`RunningEmulator::shutdown`]
/// also waits for them.
#[derive(Debug)]
pub struct RunningEmulator {
    address: SocketAddr,
    app_id: String,
    store: StoreHandle,
    stats: Arc<StatsRecorder>,
    sessions: SessionKey,
    rules: Arc<RuleSettings>,
    accounts: Arc<AccountLedger>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    writer_done: watch::Receiver<bool>,
}

impl RunningEmulator {
    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:41234`; entity routes are under
    /// `{api_url}/api/apps/{app_id}/entities/{Entity}`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The app id served.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The bearer token signing in the user with this id of the app's `User` data (what
    /// `POST /api/apps/{app_id}/auth/test-token` answers), for `Authorization: Bearer <token>`.
    pub fn user_token(&self, user_id: &str) -> String {
        self.sessions.token(user_id)
    }

    /// How access rules read a condition key without `data.` that names no built-in
    /// (default [`BareKeys::Literal`], most likely the platform's way). Applies to the requests
    /// that arrive after the call.
    pub fn set_bare_keys(&self, bare_keys: BareKeys) {
        self.rules.set_bare_keys(bare_keys);
    }

    /// The live data, for inspection and changes from tests.
    pub fn store(&self) -> StoreHandle {
        self.store.clone()
    }

    /// Every mail the account calls "sent" so far (verification codes, reset tokens,
    /// invitation links), in send order: what `GET /api/apps/{app_id}/emulator/outbox`
    /// answers. The emulator sends no real mail.
    pub fn outbox(&self) -> Vec<OutboxMail> {
        self.accounts.outbox()
    }

    /// Resolves once the background writer has stopped (at once when there is none).
    pub async fn writer_done(&self) {
        let mut done = self.writer_done.clone();
        // An error means the writer task is gone, which is stopped too.
        let _ = done.wait_for(|finished| *finished).await;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.stats.snapshot()
    }

    /// Stops the writer and the server, letting open requests finish (for a few seconds at
    /// most).
    pub async fn shutdown(mut self) {
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
