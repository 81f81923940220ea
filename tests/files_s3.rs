//! `files copy --to s3://bucket/prefix` against a real S3-compatible server (moto in server
//! mode, started by the test; skipped when moto is not installed, unless
//! OFFBASE_REQUIRE_CORPUS=1 as in CI): every object has the emulator's bytes, the download's
//! content type and its SHA-256 as metadata; a rerun sends nothing (HEADs only); a changed
//! object is copied again; an object uploaded by a killed run but never logged is not uploaded
//! twice; files over
//! the single-PUT size go up in parts; private files land under the prefix; no secret shows.

#[path = "support/moto.rs"]
mod moto;

use moto::Moto;
use offbase_pipeline::files::copy::{CopyOptions, CopySummary, copy};
use offbase_pipeline::files::scan::{FileManifest, scan};
use offbase_pipeline::files::storage::{Bucket, S3Settings, SHA256_METADATA, SINGLE_PUT_BELOW};
use offbase_pipeline::load::bundle::BundleOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

const APP: &str = "900e600cba18b8f276b74981";

fn settings(moto: &Moto) -> S3Settings {
    S3Settings {
        endpoint: Some(moto.endpoint()),
        region: Some(moto::REGION.to_owned()),
        access_key_id: Some(moto::ACCESS_KEY_ID.to_owned()),
        secret_access_key: Some(moto::SECRET_ACCESS_KEY.to_owned()),
        session_token: None,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The path (and query) of a URL.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/')
        .map_or(String::new(), |start| rest[start..].to_owned())
}

/// `app` staged into `folder/ws` by `migrate` to a bundle, then scanned.
async fn staged_and_scanned(folder: &Path, app: &Path) -> Workspace {
    let workspace = Workspace::new(folder.join("ws"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: app.to_path_buf(),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.join("bundle.sql"),
            options: BundleOptions {
                pg_schema: "files_s3".into(),
                mappings: None,
                relax: Default::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    if let Err(error) = migrate(&options, reporter).await {
        panic!("migrate: {error}");
    }
    scan(&workspace, None, &NoProgress).unwrap_or_else(|error| panic!("scan: {error}"));
    workspace
}

fn read_manifest(workspace: &Workspace) -> FileManifest {
    let text = std::fs::read_to_string(workspace.files_manifest_path())
        .unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"))
}

/// The lines of `files/copied.jsonl`.
fn log_lines(workspace: &Workspace) -> Vec<serde_json::Value> {
    std::fs::read_to_string(workspace.files_dir().join("copied.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}")))
        .collect()
}

/// An object as moto serves it: status, content type, `sha256` metadata, ETag, bytes.
#[derive(Debug)]
struct Object {
    status: u16,
    content_type: Option<String>,
    sha256: Option<String>,
    etag: String,
    bytes: Vec<u8>,
}

async fn get_object(moto: &Moto, bucket: &str, name: &str) -> Object {
    let url = format!("{}/{bucket}/{}", moto.endpoint(), moto::encode(name));
    let response = reqwest::Client::new()
        .get(&url)
        .header("authorization", moto::AUTHORIZATION)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let sha256 = header(&format!("x-amz-meta-{SHA256_METADATA}"));
    let etag = header("etag").unwrap_or_default();
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"))
        .to_vec();
    Object {
        status,
        content_type,
        sha256,
        etag,
        bytes,
    }
}

fn assert_no_secret(summary: &CopySummary) {
    let shown = format!("{summary:?}");
    assert!(!shown.contains(moto::SECRET_ACCESS_KEY), "{shown}");
}

/// The marketplace sample's files copied from the emulator (5% of downloads failing) to
/// `s3://offbase-files/some/prefix` on moto; then three reruns: nothing changed (HEADs only),
/// one object changed (copied again), and a kill between uploads and their log lines (those
/// downloaded, found by a HEAD, not uploaded again).
#[tokio::test]
async fn files_copy_to_s3_keeps_bytes_type_and_hash_and_resumes_with_heads_only() {
    let test = "files_copy_to_s3_keeps_bytes_type_and_hash_and_resumes_with_heads_only";
    let Some(moto) = Moto::start_or_skip(test) else {
        return;
    };
    let bucket_name = "offbase-files";
    moto.create_bucket(bucket_name);
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = staged_and_scanned(folder.path(), &offbase_tests::sample("marketplace")).await;
    let config = offbase_emulator::EmulatorConfig {
        app_dir: offbase_tests::sample("marketplace"),
        app_id: None,
        api_key: offbase_tests::EMULATOR_KEY.to_owned(),
        rate_limits: offbase_emulator::RateLimits::Off,
        faults: offbase_emulator::Faults {
            fail_rate: 0.02,
            reset_rate: 0.03,
            seed: 44,
            files: true,
            ..offbase_emulator::Faults::default()
        },
        writer: None,
        created_by: "emulator@example.com".to_owned(),
        deleted_files: Default::default(),
        file_size: None,
        max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
        max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
    };
    let address = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
    let emulator = offbase_emulator::start(config, address)
        .await
        .unwrap_or_else(|error| panic!("the emulator did not start: {error}"));
    let bucket = Bucket::open("s3://offbase-files/some/prefix/", &settings(&moto))
        .unwrap_or_else(|error| panic!("{error}"));
    let mut options = CopyOptions::new(bucket);
    options.via = Some(emulator.api_url());
    options.attempts = 12;

    let files = read_manifest(&workspace).files.len();
    assert!(files > 400, "{files}");
    let first = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy: {error}"));
    assert_eq!(
        (
            first.files,
            first.copied,
            first.already_there,
            first.rejected
        ),
        (files, files, 0, 0),
        "{first:?}"
    );
    assert_eq!(first.destination, "s3://offbase-files/some/prefix");
    assert_no_secret(&first);
    assert!(!workspace.files_dir().join("staging").exists());

    // Every object: the emulator's bytes, the manifest's size and hash, the hash as metadata,
    // the content type the download had.
    let manifest = read_manifest(&workspace);
    let content_types: BTreeMap<String, Option<String>> = log_lines(&workspace)
        .iter()
        .map(|line| {
            (
                line["url"].as_str().unwrap_or_default().to_owned(),
                line["content_type"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let mut names = BTreeSet::new();
    for file in &manifest.files {
        let name = format!("some/prefix/{}", file.key);
        let object = get_object(&moto, bucket_name, &name).await;
        assert_eq!(object.status, 200, "{name}");
        assert_eq!(
            object.bytes,
            offbase_emulator::file_bytes(&path_of(&file.url)),
            "{name}"
        );
        let sha256 = sha256_hex(&object.bytes);
        assert_eq!(file.sha256.as_deref(), Some(sha256.as_str()), "{name}");
        assert_eq!(file.size, Some(object.bytes.len() as u64), "{name}");
        assert_eq!(object.sha256.as_deref(), Some(sha256.as_str()), "{name}");
        let logged = content_types.get(&file.url).cloned().flatten();
        assert!(logged.is_some(), "{name}: no content type logged");
        assert_eq!(object.content_type, logged, "{name}");
        if file.key.ends_with(".jpg") {
            assert_eq!(object.content_type.as_deref(), Some("image/jpeg"), "{name}");
        }
        names.insert(name);
    }
    // Nothing else in the bucket: no partial or staging object.
    assert_eq!(
        moto.list(bucket_name, ""),
        names.iter().cloned().collect::<Vec<_>>()
    );

    // A rerun sends nothing: no download, HEADs only.
    let requests = emulator.stats().requests_to(offbase_emulator::Route::File);
    let second = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy again: {error}"));
    assert_eq!(
        (second.copied, second.already_there, second.bytes),
        (0, files, 0),
        "{second:?}"
    );
    assert_eq!(
        emulator.stats().requests_to(offbase_emulator::Route::File),
        requests
    );
    assert_eq!(log_lines(&workspace).len(), files);

    // An object whose bytes changed since (same length, no hash metadata) is copied again.
    let changed = &manifest.files[0];
    let changed_name = format!("some/prefix/{}", changed.key);
    let mut bytes = offbase_emulator::file_bytes(&path_of(&changed.url));
    if let Some(first) = bytes.first_mut() {
        *first ^= 0xff;
    }
    let status = reqwest::Client::new()
        .put(format!(
            "{}/{bucket_name}/{}",
            moto.endpoint(),
            moto::encode(&changed_name)
        ))
        .header("authorization", moto::AUTHORIZATION)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .status();
    assert!(status.is_success(), "{status}");
    let shared = manifest
        .files
        .iter()
        .filter(|file| file.key == changed.key)
        .count();
    let third = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy a third time: {error}"));
    assert_eq!(
        (third.copied, third.already_there),
        (shared, files - shared),
        "{third:?}"
    );
    let object = get_object(&moto, bucket_name, &changed_name).await;
    assert_eq!(
        object.bytes,
        offbase_emulator::file_bytes(&path_of(&changed.url))
    );
    assert_eq!(changed.sha256, object.sha256);

    // Killed after three uploads, before their log lines (the copy's log and the manifest's
    // hashes lost too): the keys whose staging files were left are downloaded again, found at
    // the destination by a HEAD with that size and hash, and not uploaded again; the others,
    // which nothing says were ever sent, are copied afresh.
    std::fs::remove_file(workspace.files_dir().join("copied.jsonl"))
        .unwrap_or_else(|error| panic!("{error}"));
    let mut raw: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace.files_manifest_path())
            .unwrap_or_else(|error| panic!("{error}")),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    for entry in raw["files"].as_array_mut().into_iter().flatten() {
        if let Some(entry) = entry.as_object_mut() {
            entry.remove("size");
            entry.remove("sha256");
        }
    }
    std::fs::write(
        workspace.files_manifest_path(),
        serde_json::to_vec_pretty(&raw).unwrap_or_default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let in_flight: BTreeSet<&str> = manifest
        .files
        .iter()
        .map(|file| file.key.as_str())
        .take(3)
        .collect();
    for key in &in_flight {
        let staged = workspace
            .files_dir()
            .join("staging")
            .join(format!("{key}.offbase-partial"));
        write(&staged, "the download as the kill left it");
    }
    let resumed = manifest
        .files
        .iter()
        .filter(|file| in_flight.contains(file.key.as_str()))
        .count();
    let fourth = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy a fourth time: {error}"));
    assert_eq!(
        (fourth.copied, fourth.already_there, fourth.rejected),
        (files - resumed, resumed, 0),
        "{fourth:?}"
    );
    assert!(fourth.bytes > 0, "{fourth:?}");
    assert!(!workspace.files_dir().join("staging").exists());
    assert_eq!(log_lines(&workspace).len(), files);
    assert_eq!(read_manifest(&workspace), manifest);
    emulator.shutdown().await;
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
    }
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

/// Files larger than the single-PUT size go up in parts (the ETag of a multipart object ends in
/// `-<parts>`), with their hash and type; a private file (`file_uri`, read through a signed URL)
/// lands under the prefix like the rest.
#[tokio::test]
async fn large_files_go_up_in_parts_and_private_files_land_under_the_prefix() {
    let test = "large_files_go_up_in_parts_and_private_files_land_under_the_prefix";
    let Some(moto) = Moto::start_or_skip(test) else {
        return;
    };
    let bucket_name = "offbase-large";
    moto.create_bucket(bucket_name);
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    write(
        &app.join("base44/entities/Doc.jsonc"),
        r#"{"name": "Doc", "type": "object", "properties": {
            "file_url": {"type": "string"}, "file_uri": {"type": "string"}
        }}"#,
    );
    let docs = [
        serde_json::json!({"id": "d1",
            "file_url": format!("https://base44.app/api/apps/{APP}/files/public/{APP}/1a1a1a1a1_video.mp4")}),
        serde_json::json!({"id": "d2",
            "file_url": format!("https://media.base44.com/images/public/{APP}/2b2b2b2b2_scan.png"),
            "file_uri": "private/uploads/3c3c3c3c3_contract.pdf"}),
    ];
    write(
        &app.join("data/Doc.jsonl"),
        &docs
            .iter()
            .map(|doc| format!("{doc}\n"))
            .collect::<String>(),
    );
    let workspace = staged_and_scanned(folder.path(), &app).await;
    // Two parts each: one of 8 MiB and the rest.
    let size = usize::try_from(SINGLE_PUT_BELOW).unwrap_or(0) + 1_048_581;
    let config = offbase_emulator::EmulatorConfig {
        app_dir: app.clone(),
        app_id: None,
        api_key: offbase_tests::EMULATOR_KEY.to_owned(),
        rate_limits: offbase_emulator::RateLimits::Off,
        faults: offbase_emulator::Faults::default(),
        writer: None,
        created_by: "emulator@example.com".to_owned(),
        deleted_files: Default::default(),
        file_size: Some(size),
        max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
        max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
    };
    let address = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
    let emulator = offbase_emulator::start(config, address)
        .await
        .unwrap_or_else(|error| panic!("the emulator did not start: {error}"));
    let bucket = Bucket::open("s3://offbase-large/big", &settings(&moto))
        .unwrap_or_else(|error| panic!("{error}"));
    let mut options = CopyOptions::new(bucket);
    options.via = Some(emulator.api_url());
    options.api = Some(offbase_tests::emulator_client(&emulator));
    let summary = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy: {error}"));
    assert_eq!(
        (
            summary.files,
            summary.copied,
            summary.private_skipped,
            summary.rejected
        ),
        (3, 3, 0, 0),
        "{summary:?}"
    );
    assert_no_secret(&summary);
    let manifest = read_manifest(&workspace);
    for file in &manifest.files {
        let name = format!("big/{}", file.key);
        let object = get_object(&moto, bucket_name, &name).await;
        assert_eq!(object.status, 200, "{name}");
        let path = if file.shape == "private" {
            assert!(name.starts_with("big/private/"), "{name}");
            format!("/private-files/{}", file.url)
        } else {
            path_of(&file.url)
        };
        assert!(
            object.bytes == offbase_emulator::file_bytes_of_length(&path, Some(size)),
            "{name}: the bytes differ"
        );
        let sha256 = sha256_hex(&object.bytes);
        assert_eq!(object.sha256.as_deref(), Some(sha256.as_str()), "{name}");
        assert_eq!(file.sha256.as_deref(), Some(sha256.as_str()), "{name}");
        assert!(
            object.etag.ends_with("-2\""),
            "{name}: ETag {}",
            object.etag
        );
        let expected_type = match file.key.rsplit('.').next() {
            Some("png") => "image/png",
            Some("pdf") => "application/pdf",
            _ => "video/mp4",
        };
        assert_eq!(
            object.content_type.as_deref(),
            Some(expected_type),
            "{name}"
        );
    }
    // A rerun: HEADs only.
    let again = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy again: {error}"));
    assert_eq!(
        (again.copied, again.already_there, again.bytes),
        (0, 3, 0),
        "{again:?}"
    );
    emulator.shutdown().await;
}

/// A store that refuses (a bucket that does not exist) stops the copy with an error naming the
/// bucket and the key, and no secret.
#[tokio::test]
async fn a_store_error_names_the_bucket_and_key_and_no_secret() {
    let test = "a_store_error_names_the_bucket_and_key_and_no_secret";
    let Some(moto) = Moto::start_or_skip(test) else {
        return;
    };
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    write(
        &app.join("base44/entities/Doc.jsonc"),
        r#"{"name": "Doc", "type": "object", "properties": {"file_url": {"type": "string"}}}"#,
    );
    write(
        &app.join("data/Doc.jsonl"),
        &format!(
            "{}\n",
            serde_json::json!({"id": "d1",
                "file_url": format!("https://media.base44.com/images/public/{APP}/4d4d4d4d4_a.png")})
        ),
    );
    let workspace = staged_and_scanned(folder.path(), &app).await;
    let emulator = offbase_tests::start_emulator(&app, None).await;
    let bucket = Bucket::open("s3://no-such-bucket/p", &settings(&moto))
        .unwrap_or_else(|error| panic!("{error}"));
    let mut options = CopyOptions::new(bucket);
    options.via = Some(emulator.api_url());
    let error = match copy(&workspace, &options, &NoProgress).await {
        Ok(summary) => panic!("copied into a missing bucket: {summary:?}"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains(&format!(
            "s3://no-such-bucket/p/public/{APP}/4d4d4d4d4_a.png"
        )),
        "{error}"
    );
    assert!(
        error.contains("the bucket no-such-bucket does not exist"),
        "{error}"
    );
    assert!(!error.contains(moto::SECRET_ACCESS_KEY), "{error}");
    emulator.shutdown().await;
}
