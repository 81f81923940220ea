//! Files: the `Core.UploadFile`, `Core.UploadPrivateFile` and `Core.CreateFileSignedUrl`
//! integrations, and the files served back, with storage the app owns (`--files-dir`).
//!
//! Storage is a folder, or an S3-compatible bucket (`s3://bucket/prefix`, settings from the
//! AWS environment variables as for `offbase files copy`). Keys are the layout `files copy`
//! writes, so a folder it filled serves its copies too:
//! - `public/<app_id>/<9hex>_<name>`: an upload of `UploadFile`, answered as
//!   `{"file_url": "<files public URL>/public/<app_id>/<9hex>_<name>"}`. The files public URL
//!   is `--files-public-url` (a CDN or a public bucket in front of the storage, as the `files
//!   copy --public-url` of the same storage), by default this server's own `/files`, which it
//!   then serves: `GET /files/public/...`, streamed, the content type by extension;
//! - `private/<app_id>/<9hex>_<name>`: an upload of `UploadPrivateFile`, answered as
//!   `{"file_uri": "private/<app_id>/<9hex>_<name>"}`. Only `GET /files/private/...` with the
//!   `expires` and `signature` that `CreateFileSignedUrl` gives reads it: `{file_uri,
//!   expires_in}` → `{"signed_url": "<server>/files/private/<key>?expires=<s>&signature=..."}`,
//!   an HMAC-SHA256 of the key and the expiry under the server's token secret (see
//!   `--token-secret-env`: with a random secret, signed URLs end with the process).
//!   `expires_in` is seconds (default 300, at most 7 days). A `file_uri` of the platform's
//!   (`private/uploads/...`) names the copy `files copy` made of it (`private/<hash>_<name>`).
//!
//! `<name>` is the uploaded file name made plain: ASCII letters, digits, `.`, `-` and `_`
//! kept, any other run of characters one `_`, no leading dot, at most 100 characters with the
//! extension kept (`file` when nothing is left); `<9hex>` is random. No file name, however
//! hostile, becomes a path: a key is checked to be a plain relative path before any use, and a
//! folder's file is read only when its real location is inside the folder.
//!
//! The SDK sends `UploadFile({file})` as `multipart/form-data`, the file in a part named
//! `file`. The part is streamed to storage as it arrives, never whole in memory: into
//! `<key>.offbase-partial` beside the folder's copy (renamed into place when whole), or into a
//! bucket in one PUT below 8 MiB, else a multipart upload of 8 MiB parts, two in flight. A file
//! over `--files-max-mb` is refused with 413 (what was written is removed; the rest of the
//! request is read and dropped, up to as much again, so the client reads the answer).
//!
//! Who may upload or sign: the service key or a signed-in user (as the emulator decides: an
//! anonymous visitor is refused with 401, so the server is no open file host). Public files
//! are read by anyone; private ones by whoever holds an unexpired signed URL.
//!
//! Files served carry `X-Content-Type-Options: nosniff` and `Content-Security-Policy:
//! sandbox`: an uploaded HTML or SVG file opened from the app's origin runs no script there.
//! Without `--files-dir` the three integrations answer 501 naming it.
//!
//! The submodules, each owning one part:
//! - `storage`: the folder or the bucket, and an upload streamed into either;
//! - `upload`: `UploadFile` and `UploadPrivateFile`;
//! - `signed`: `CreateFileSignedUrl`, and the keys a `file_uri` may name;
//! - `serve`: the files served back, public and signed private;
//! - `names`: plain keys and segments, the names uploads get, a name's content type.

mod names;
mod serve;
mod signed;
mod storage;
#[cfg(test)]
mod tests;
mod upload;

use crate::caller::{self, Caller, Credentials};
use crate::error::{ApiError, ServeError};
use crate::routes::{AppState, SharedState, connection};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use names::plain_segment;
use offbase_pipeline::files::storage::{Destination, S3Settings};
use std::path::PathBuf;
use storage::{BucketStore, Storage};

/// The default of [`FilesSettings::max_upload_bytes`]: 100 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// Where `offbase serve` keeps uploads and serves files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSettings {
    /// A folder, or `s3://bucket/prefix` (an S3-compatible bucket reached with the AWS
    /// environment variables).
    pub dir: PathBuf,
    /// The URL the storage's keys are served under (`https://cdn.example.com/my-app`): a
    /// `file_url` is this, `/`, the key. `None`: this server's own `/files`, which it serves.
    pub public_url: Option<String>,
    /// The largest file an upload may have, in bytes.
    pub max_upload_bytes: u64,
    /// How an `s3://` `dir` is reached; `None`: from the AWS environment variables
    /// ([`S3Settings::from_env`]).
    pub s3: Option<S3Settings>,
}

impl FilesSettings {
    /// Uploads kept in `dir`, served by this server, at most [`DEFAULT_MAX_UPLOAD_BYTES`] each.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FilesSettings {
            dir: dir.into(),
            public_url: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            s3: None,
        }
    }
}

/// The running server's files: where they are kept and the URLs they are given.
#[derive(Debug)]
pub(crate) struct Files {
    storage: Storage,
    /// Without a trailing `/`: a key is appended.
    public_base: String,
    /// This server's own origin (signed URLs point here).
    own_base: String,
    max_upload: u64,
}

impl Files {
    /// The storage of `settings` (a folder is created when missing) for `app_id`, signed URLs
    /// pointing at `own_base` (this server's origin).
    pub(crate) async fn open(
        settings: &FilesSettings,
        app_id: &str,
        own_base: &str,
    ) -> Result<Self, ServeError> {
        if !plain_segment(app_id) {
            return Err(ServeError::InvalidConfig(format!(
                "the app id {app_id:?} cannot name a folder of files: give a plain one with \
                 --app-id"
            )));
        }
        if settings.max_upload_bytes == 0 {
            return Err(ServeError::InvalidConfig(
                "the largest upload is 0 bytes: give a positive size".to_owned(),
            ));
        }
        let storage = match Destination::from_argument(&settings.dir)? {
            Destination::Folder(folder) => tokio::fs::create_dir_all(&folder)
                .await
                .and_then(|()| std::fs::canonicalize(&folder))
                .map(Storage::Folder)
                .map_err(|error| {
                    ServeError::InvalidConfig(format!(
                        "the files folder {} cannot be used: {error}",
                        folder.display()
                    ))
                })?,
            Destination::Bucket(bucket) => {
                let settings = settings.s3.clone().unwrap_or_else(S3Settings::from_env);
                Storage::Bucket(BucketStore::open(&bucket.url(), &settings)?)
            }
        };
        let own_base = own_base.trim_end_matches('/').to_owned();
        let public_base = match &settings.public_url {
            Some(url) => {
                let url = url.trim().trim_end_matches('/');
                let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
                if !scheme_ok || url.contains(['?', '#', ' ']) {
                    return Err(ServeError::InvalidConfig(format!(
                        "the files public URL {url:?} is not an http or https URL such as \
                         https://cdn.example.com/my-app"
                    )));
                }
                url.to_owned()
            }
            None => format!("{own_base}/files"),
        };
        Ok(Files {
            storage,
            public_base,
            own_base,
            max_upload: settings.max_upload_bytes,
        })
    }
}

/// The routes of files: the three integrations (their size bounded here, not by the default
/// body limit) and the files served.
pub(crate) fn router() -> Router<SharedState> {
    let core = "/api/apps/{app_id}/integration-endpoints/Core";
    Router::new()
        .route(
            &format!("{core}/UploadFile"),
            post(upload::upload_file).layer(DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{core}/UploadPrivateFile"),
            post(upload::upload_private_file).layer(DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{core}/CreateFileSignedUrl"),
            post(signed::signed_url),
        )
        .route("/files/public/{*key}", get(serve::public_file))
        .route("/files/private/{*key}", get(serve::private_file))
}

fn not_configured(what: &str) -> Response {
    ApiError::not_served(format!(
        "{what} is not served: start `offbase serve` with --files-dir DIR (a folder, or \
         s3://bucket/prefix) to keep uploads and serve files"
    ))
    .into_response()
}

/// 404 for another app; 401 unless the caller is the service key or a signed-in user.
async fn allowed(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    doing: &str,
) -> Result<(), ApiError> {
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    let credentials = state.credentials(headers);
    match &credentials {
        Credentials::Service => Ok(()),
        Credentials::Nothing => Err(caller::unauthorized(format!(
            "{doing} needs a signed-in user's token or the service key"
        ))),
        Credentials::Invalid | Credentials::Token(_) => {
            // Checked as every request is: the token's signature, its user, not disabled.
            let mut connection = connection(state).await?;
            let reader = caller::reader(state, &mut connection, &credentials).await?;
            match reader.caller {
                Caller::Service | Caller::User(_) => Ok(()),
                Caller::Anonymous => Err(caller::unauthorized(format!(
                    "{doing} needs a signed-in user's token or the service key"
                ))),
            }
        }
    }
}
