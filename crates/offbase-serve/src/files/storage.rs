//! Where files are kept: a folder (its files read only when really inside it) or an
//! S3-compatible bucket (its secrets kept out of every message); and the sink an upload is
//! streamed into as it arrives: a partial file renamed into place when whole, one PUT below
//! 8 MiB, else a multipart upload of 8 MiB parts, two in flight.

use super::names::content_type;
use crate::error::{ApiError, ServeError};
use axum::body::Bytes;
use axum::http::StatusCode;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};
use offbase_pipeline::files::storage::{S3Settings, s3_store};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// What a folder's upload is written to until whole.
pub(super) const PARTIAL: &str = ".offbase-partial";
/// A bucket upload below this goes up in one PUT; larger ones in parts of this size.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload sent at once.
const PARTS_IN_FLIGHT: usize = 2;

pub(super) enum Storage {
    /// Canonical.
    Folder(PathBuf),
    Bucket(BucketStore),
}

impl fmt::Debug for Storage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Folder(folder) => write!(formatter, "Folder({})", folder.display()),
            Storage::Bucket(bucket) => write!(formatter, "Bucket({})", bucket.url),
        }
    }
}

/// A bucket and a prefix in an S3-compatible store.
pub(super) struct BucketStore {
    pub(super) store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix`, for messages.
    url: String,
    /// Without a leading or trailing `/`; empty for the bucket's root.
    prefix: String,
    /// What a message must never show.
    secrets: Vec<String>,
}

impl Storage {
    pub(super) async fn exists(&self, key: &str) -> Result<bool, ApiError> {
        match self {
            Storage::Folder(root) => Ok(inside(root, &root.join(key)).await.is_some()),
            Storage::Bucket(bucket) => {
                let path = bucket.path(key)?;
                match bucket.store.head(&path).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(error) => Err(bucket.error(&path, "reading the object's metadata", &error)),
                }
            }
        }
    }
}

/// `path` when it is a file whose real location is inside `root` (links resolved).
pub(super) async fn inside(root: &std::path::Path, path: &std::path::Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    let meta = tokio::fs::metadata(&real).await.ok()?;
    (meta.is_file() && real.starts_with(root)).then_some(real)
}

pub(super) fn storage_error(action: &str, error: &dyn fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{action}: {error}"),
    )
}

/// Where an upload's bytes go while they arrive.
pub(super) enum Sink<'a> {
    File {
        partial: PathBuf,
        target: PathBuf,
        file: tokio::fs::File,
    },
    Buffered {
        bucket: &'a BucketStore,
        path: ObjectPath,
        buffer: Vec<u8>,
    },
    Parts {
        bucket: &'a BucketStore,
        path: ObjectPath,
        writer: Box<WriteMultipart>,
    },
}

impl<'a> Sink<'a> {
    pub(super) async fn start(storage: &'a Storage, key: &str) -> Result<Sink<'a>, ApiError> {
        match storage {
            Storage::Folder(root) => {
                let target = root.join(key);
                let partial = PathBuf::from(format!("{}{PARTIAL}", target.display()));
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(|error| {
                        storage_error(&format!("creating {}", parent.display()), &error)
                    })?;
                }
                let file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&partial)
                    .await
                    .map_err(|error| {
                        storage_error(&format!("creating {}", partial.display()), &error)
                    })?;
                Ok(Sink::File {
                    partial,
                    target,
                    file,
                })
            }
            Storage::Bucket(bucket) => Ok(Sink::Buffered {
                bucket,
                path: bucket.path(key)?,
                buffer: Vec::new(),
            }),
        }
    }

    pub(super) async fn write(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        match self {
            Sink::File { file, partial, .. } => file
                .write_all(&chunk)
                .await
                .map_err(|error| storage_error(&format!("writing {}", partial.display()), &error)),
            Sink::Buffered {
                bucket,
                path,
                buffer,
            } => {
                if buffer.len() + chunk.len() <= PART_SIZE {
                    buffer.extend_from_slice(&chunk);
                    return Ok(());
                }
                let bucket: &'a BucketStore = bucket;
                // Too large for one PUT: a multipart upload, the buffer its first bytes.
                let options = PutMultipartOptions {
                    attributes: attributes(path.as_ref()),
                    ..PutMultipartOptions::default()
                };
                let upload = bucket
                    .store
                    .put_multipart_opts(path, options)
                    .await
                    .map_err(|error| bucket.error(path, "starting a multipart upload", &error))?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
                writer.write(buffer);
                writer.write(&chunk);
                let path = path.clone();
                *self = Sink::Parts {
                    bucket,
                    path,
                    writer: Box::new(writer),
                };
                Ok(())
            }
            Sink::Parts {
                bucket,
                path,
                writer,
            } => {
                // At most PARTS_IN_FLIGHT parts on the way, one filling: memory stays bounded.
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|error| bucket.error(path, "uploading a part", &error))?;
                writer.write(&chunk);
                Ok(())
            }
        }
    }

    pub(super) async fn finish(self, key: &str) -> Result<(), ApiError> {
        match self {
            Sink::File {
                partial,
                target,
                mut file,
            } => {
                let done = async {
                    file.flush().await?;
                    file.sync_all().await?;
                    drop(file);
                    tokio::fs::rename(&partial, &target).await
                };
                if let Err(error) = done.await {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(storage_error(&format!("keeping {key}"), &error));
                }
                Ok(())
            }
            Sink::Buffered {
                bucket,
                path,
                buffer,
            } => {
                let options = PutOptions {
                    attributes: attributes(path.as_ref()),
                    ..PutOptions::default()
                };
                bucket
                    .store
                    .put_opts(&path, PutPayload::from(buffer), options)
                    .await
                    .map_err(|error| bucket.error(&path, "uploading", &error))?;
                Ok(())
            }
            Sink::Parts {
                bucket,
                path,
                writer,
            } => {
                // `finish` aborts the upload itself when a part or the completion fails.
                writer.finish().await.map_err(|error| {
                    bucket.error(&path, "completing the multipart upload", &error)
                })?;
                Ok(())
            }
        }
    }

    /// Leaves nothing behind (best effort).
    pub(super) async fn abort(self) {
        match self {
            Sink::File { partial, file, .. } => {
                drop(file);
                let _ = tokio::fs::remove_file(&partial).await;
            }
            Sink::Buffered { .. } => {}
            Sink::Parts { writer, .. } => {
                let _ = writer.abort().await;
            }
        }
    }
}

/// An object's content type, from its name.
fn attributes(name: &str) -> Attributes {
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, content_type(name).into());
    attributes
}

impl BucketStore {
    /// `s3://bucket` or `s3://bucket/prefix` (already checked by the pipeline's
    /// [`Destination`](offbase_pipeline::files::storage::Destination)), reached with
    /// `settings`. Nothing is sent yet.
    pub(super) fn open(url: &str, settings: &S3Settings) -> Result<Self, ServeError> {
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (store, secrets) = s3_store(bucket, settings).map_err(|message| {
            ServeError::InvalidConfig(format!("the files bucket {url}: {message}"))
        })?;
        Ok(BucketStore {
            store,
            url: url.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            secrets,
        })
    }

    pub(super) fn path(&self, key: &str) -> Result<ObjectPath, ApiError> {
        let name = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(&name).map_err(|error| storage_error(&format!("the key {key}"), &error))
    }

    pub(super) fn error(
        &self,
        path: &ObjectPath,
        action: &str,
        error: &dyn fmt::Display,
    ) -> ApiError {
        let bucket = self
            .url
            .strip_prefix("s3://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "s3://{bucket}/{path}: {action}: {}",
                scrub(&error.to_string(), &self.secrets)
            ),
        )
    }
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "***")
    })
}
