//! `offbase serve`: a migrated app's entity API served from PostgreSQL, in the Base44 API's
//! shape, so the app's client can point at it instead of the platform.
//!
//! Served: the entity API under `/api/apps/{app_id}/entities/{Entity}` (list with `q`,
//! `sort`, `limit`, `skip`, `fields`; get; count; `aggregate`; create; update; delete; bulk
//! create and update; `update-many`; delete-many), `User/me`, sign-in with email and password,
//! uploads and signed file URLs (`--files-dir`), at the platform's paths and in its shapes
//! (and `offbase_emulator`'s). Every request runs in one transaction as its caller (the
//! service key, a signed-in user, an anonymous visitor), so the access rules the load applied
//! as row level security decide what it sees and writes.
//! Reads are the translation `diff behaviour` checks (`offbase_sql::query`), records shaped
//! back by the same function it uses (`platform_record`). Everything else answers 501.
//!
//! Modules, each owning one thing:
//! - `error`: [`ServeError`] and the API's JSON error answers;
//! - `token`: the sign-in tokens (JWT, HS256);
//! - `caller`: who a request is from, and its transaction in the caller's shoes;
//! - `params`: the reads' query parameters and `fields` projection;
//! - `reads`, `writes` (and `upsert`, and `import`: the SDK's `importEntities(file)`, a CSV
//!   file created as a bulk create), `auth`: the handlers;
//! - `writer`: one entity's write context and the row writes `writes` and `upsert` share;
//! - `aggregate`: the SDK's `aggregate(spec)`, one grouped `SELECT` as the caller;
//! - `pages`: the cursor list (`v2/list`): keyset pages and their cursor;
//! - `frontend`: the app's built frontend on the same origin;
//! - `files`: uploads (`Core.UploadFile`, `UploadPrivateFile`), signed URLs and the files
//!   served, kept in a folder or a bucket (`--files-dir`);
//! - `routes`: the route table and the state handlers share;
//! - `accounts`: registration, codes, resets, password changes, invitations, login links;
//! - `mail`: the account mails, over SMTP;
//! - `login_page`: the sign-in page `redirectToLogin` lands on, and logout.

mod accounts;
mod aggregate;
mod auth;
mod caller;
mod error;
mod files;
mod frontend;
mod import;
mod login_page;
mod mail;
mod pages;
mod params;
mod reads;
mod routes;
mod token;
mod upsert;
mod writer;
mod writes;

pub use files::{DEFAULT_MAX_UPLOAD_BYTES, FilesSettings};
pub use mail::SmtpSettings;
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
    /// The app's built frontend (e.g. `dist/`), served on the same origin outside `/api`,
    /// with `index.html` for the app's own routes.
    pub frontend: Option<PathBuf>,
    /// The SMTP server the account mails (codes, resets, invitations) go through; `None`: the
    /// calls that mail answer 501.
    pub smtp: Option<SmtpSettings>,
    /// The public origin of the app and this server (`https://app.example.com`): the links in
    /// mails point there, and sign-ins may send browsers back to it; `None`: this server's
    /// own address.
    pub public_url: Option<String>,
    /// Where uploads are kept and files served from (`--files-dir`); `None`: the file
    /// integrations answer 501.
    pub files: Option<FilesSettings>,
}

impl ServeConfig {
    /// The app loaded into `pg_schema` from `workspace`: its app id from the workspace, a
    /// random token secret, no service key, no frontend.
    pub fn new(database_url: &str, pg_schema: &str, workspace: &std::path::Path) -> Self {
        ServeConfig {
            database_url: database_url.to_owned(),
            pg_schema: pg_schema.to_owned(),
            workspace: workspace.to_path_buf(),
            app_id: None,
            token_secret: None,
            service_key: None,
            frontend: None,
            smtp: None,
            public_url: None,
            files: None,
        }
    }
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
    let frontend = match &config.frontend {
        Some(folder) => Some(frontend_folder(folder)?),
        None => None,
    };
    let mailer = config.smtp.as_ref().map(mail::Mailer::new).transpose()?;
    let public_url = match &config.public_url {
        Some(url) => Some(public_url(url)?),
        None => None,
    };
    // The tables are the load's: planned with the mapping file it recorded.
    let mut connection = offbase_pg::connect(&config.database_url).await?;
    let settled = Target::new(&config.database_url, &config.pg_schema)
        .settled(&mut connection)
        .await?;
    let secured =
        offbase_pg::serve::schema_has_row_security(&mut connection, &config.pg_schema).await?;
    if secured {
        // Requests switch to the access rules' roles: refuse to start rather than fail each.
        let roles = settled.rls.roles();
        let missing = offbase_pg::serve::roles_out_of_reach(
            &mut connection,
            &[roles.anonymous, roles.signed_in, roles.service],
        )
        .await?;
        if !missing.is_empty() {
            return Err(ServeError::InvalidConfig(format!(
                "requests run as the access rules' roles, and the role this server connects as \
                 cannot switch to {}: as a superuser, run `GRANT {} TO <the server's role>`",
                missing.join(", "),
                missing.join(", ")
            )));
        }
    }
    let users_table = accounts::prepare(&mut connection, &config.pg_schema).await?;
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
    let at_rest = caller::at_rest_sql(settled.rls, secured);
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A broken connection fails its request's first statement, which the client sees as
        // a 500 and retries; pinging every connection before each request would cost a round
        // trip each time (docs/performance.md).
        .test_before_acquire(false)
        // Every connection reads as `diff behaviour` does: in UTC (dates compare with instants
        // as the platform's strings do), and rests in the service role's session, from which
        // each request changes what its caller needs; each request says read-only or
        // read-write.
        .after_connect(move |connection, _| {
            let at_rest = at_rest.clone();
            Box::pin(async move {
                offbase_pg::serve::prepare(connection, Some(&at_rest))
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
    let files = match &config.files {
        Some(settings) => {
            let own_base = public_url
                .clone()
                .unwrap_or_else(|| format!("http://{address}"));
            Some(files::Files::open(settings, &app_id, &own_base).await?)
        }
        None => None,
    };
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
        frontend,
        files,
        accounts: accounts::AccountSettings {
            mailer,
            link_base: public_url
                .clone()
                .unwrap_or_else(|| format!("http://{address}")),
            public_origin: public_url.as_deref().and_then(login_page::origin_of),
            users_table,
            app_name: public_url
                .as_deref()
                .and_then(login_page::origin_of)
                .and_then(|origin| origin.split_once("://").map(|(_, host)| host.to_owned()))
                .unwrap_or_else(|| format!("app {app_id}")),
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

/// The public URL without a trailing `/`: an `http`/`https` origin, perhaps with a path.
fn public_url(url: &str) -> Result<String, ServeError> {
    let url = url.trim().trim_end_matches('/');
    if login_page::origin_of(url).is_none() || url.contains(['?', '#']) {
        return Err(ServeError::InvalidConfig(format!(
            "the public URL {url:?} is not an http or https origin such as \
             https://app.example.com"
        )));
    }
    Ok(url.to_owned())
}

/// The frontend folder, canonical: a folder holding `index.html`.
fn frontend_folder(folder: &std::path::Path) -> Result<PathBuf, ServeError> {
    let canonical = std::fs::canonicalize(folder).map_err(|error| {
        ServeError::InvalidConfig(format!(
            "the frontend folder {} cannot be opened: {error}",
            folder.display()
        ))
    })?;
    if !canonical.join("index.html").is_file() {
        return Err(ServeError::InvalidConfig(format!(
            "the frontend folder {} has no index.html: give the built app (e.g. `dist/` after \
             `npm run build`)",
            folder.display()
        )));
    }
    Ok(canonical)
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
