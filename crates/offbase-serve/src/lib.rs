//! `offbase serve`: a migrated app's entity API served from PostgreSQL, in the Base44 API's
//! shape, so the app's client can point at it instead of the platform.
//!
//! Served: the entity API under `/api/apps/{app_id}/entities/{Entity}` (list with `q`,
//! `sort`, `limit`, `skip`, `fields`; get; count; create; update; delete; bulk create and
//! update; `update-many`; delete-many), `User/me`, sign-in with email and password, at the
//! platform's paths and in its shapes (and `offbase_emulator`'s). Every request runs in one
//! transaction as its caller (the service key, a signed-in user, an anonymous visitor), so
//! the access rules the load applied as row level security decide what it sees and writes.
//! Reads are the translation `diff behaviour` checks (`offbase_sql::query`), records shaped
//! back by the same function it uses (`platform_record`). Everything else answers 501.
//!
//! Modules, each owning one thing:
//! - `error`: [`ServeError`] and the API's JSON error answers;
//! - `token`: the sign-in tokens (JWT, HS256);
//! - `caller`: who a request is from, and its transaction in the caller's shoes;
//! - `params`: the reads' query parameters and `fields` projection;
//! - `reads`, `writes`, `auth`: the handlers;
//! - `routes`: the route table and the state handlers share.

mod auth;
mod caller;
mod error;
mod params;
mod reads;
mod routes;
mod token;
mod writes;

pub use token::TokenSecret;

pub use error::ServeError;
/// A database URL as it may be printed (its password masked).
pub use offbase_pg::redact_url;

use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::target::Target;
use offbase_pipeline::workspace::SourceInfo;
use offbase_pipeline::workspace::Workspace;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long [`RunningServer::shutdown`] lets open requests finish before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Connections the pool opens at most: reads are short, and PostgreSQL's own limit is shared.
const POOL_SIZE: u32 = 8;
/// How long a request waits for a free connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a server serves.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database_url: String,
    /// The schema the app was loaded into.
    pub pg_schema: String,
    /// The workspace that was loaded: its schemas give the tables.
    pub workspace: PathBuf,
    /// The app id in the served paths; `None`: the workspace manifest's source's.
    pub app_id: Option<String>,
    /// Signs the sign-in tokens; `None`: a random one (tokens then last as long as the
    /// process).
    pub token_secret: Option<TokenSecret>,
    /// The service key (the platform's `asServiceRole`, the app's API key); `None`: no caller
    /// is the service role.
    pub service_key: Option<String>,
}

/// Starts serving on `bind` (`127.0.0.1:0` for a free port): plans the workspace with the
/// settings the load recorded in the schema, opens the pool, and returns once the port listens.
pub async fn start(config: ServeConfig, bind: SocketAddr) -> Result<RunningServer, ServeError> {
    let workspace = Workspace::new(&config.workspace);
    let app_id = match config.app_id.clone() {
        Some(app_id) => app_id,
        None => match workspace.manifest()?.source {
            Some(SourceInfo::Api { app_id, .. }) => app_id,
            _ => {
                return Err(ServeError::InvalidConfig(format!(
                    "the workspace {} was not pulled from an API, so it names no app id: give \
                     one with --app-id",
                    config.workspace.display()
                )));
            }
        },
    };
    // The tables are the load's: planned with the mapping file it recorded.
    let mut connection = offbase_pg::connect(&config.database_url).await?;
    let settled = Target::new(&config.database_url, &config.pg_schema)
        .settled(&mut connection)
        .await?;
    let secured =
        offbase_pg::serve::schema_has_row_security(&mut connection, &config.pg_schema).await?;
    drop(connection);
    let plan =
        offbase_pipeline::plan::plan_workspace(&workspace, settled.mappings.as_ref(), &NoProgress)?;

    let options = PgConnectOptions::from_str(&config.database_url).map_err(|_| {
        // sqlx may quote the URL, password included: name it redacted.
        ServeError::InvalidConfig(format!(
            "{} could not be parsed",
            offbase_pg::redact_url(&config.database_url)
        ))
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // Every connection reads as `diff behaviour` does: in UTC (dates compare with instants
        // as the platform's strings do); each request says read-only or read-write.
        .after_connect(|connection, _| {
            Box::pin(async move {
                offbase_pg::serve::prepare(connection)
                    .await
                    .map_err(|error| sqlx::Error::Configuration(Box::new(error)))
            })
        })
        .connect_lazy_with(options.application_name("offbase serve"));

    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| ServeError::Bind {
            address: bind,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| ServeError::Bind {
        address: bind,
        source,
    })?;
    let state = Arc::new(routes::AppState {
        pool: pool.clone(),
        pg_schema: config.pg_schema.clone(),
        app_id: app_id.clone(),
        app: plan.app,
        target: plan.target,
        relax: settled.relax,
        rls: settled.rls,
        secured,
        auth: routes::AuthSettings {
            secret: config
                .token_secret
                .clone()
                .unwrap_or_else(TokenSecret::random),
            service_key: config.service_key.clone().filter(|key| !key.is_empty()),
        },
    });
    let service = routes::router(state).into_make_service();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        // A failing server ends the task; clients then see refused connections.
        let _ = axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(RunningServer {
        address,
        app_id,
        pool,
        stop: Some(stop),
        server: Some(server),
    })
}

/// A running server. Dropping it stops the server; [`RunningServer::shutdown`] also waits for
/// it and closes the pool.
#[derive(Debug)]
pub struct RunningServer {
    address: SocketAddr,
    app_id: String,
    pool: sqlx::PgPool,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:8044`; entity routes are under
    /// `{api_url}/api/apps/{app_id}/entities/{Entity}`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The app id served.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Stops the server, letting open requests finish (for a few seconds at most), and closes
    /// the pool's connections.
    pub async fn shutdown(mut self) {
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
        self.pool.close().await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
