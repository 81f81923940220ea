//! `files scan` on a workspace whose records hold every URL shape of Base44's file storage at
//! every depth (a URL field, arrays, objects in arrays, a field the schema does not declare
//! (which the load keeps in `_extra`), markdown and HTML text, the User entity), a private `file_uri`, URLs that are not Base44's, and an app folder whose
//! code points at files: each file found once with its key, every reference with its entity,
//! record id and JSON path (or file and line), and the same bytes on a second scan.

use offbase_pipeline::files::scan::{FileManifest, scan};
use offbase_pipeline::load::bundle::BundleOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use std::path::Path;
use std::sync::Arc;

const APP: &str = "900e600cba18b8f276b74981";

/// A manifest entry as compared: URL, key, shape, record references, code references.
type Entry = (String, String, String, Vec<String>, Vec<String>);

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
    }
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

fn urls() -> [String; 7] {
    [
        format!(
            "https://abc.supabase.co/storage/v1/object/public/base44-prod/public/{APP}/a1b2c3d4e_cover.jpg"
        ),
        "https://abc.supabase.co/storage/v1/object/public/base44-prod/public/0f0f0f0f0_old.png"
            .to_owned(),
        "https://abc.supabase.co/storage/v1/object/public/base44-prod/public/user_68a1/1a1a1a1a1_me.png"
            .to_owned(),
        format!("https://base44.app/api/apps/{APP}/files/public/{APP}/2b2b2b2b2_doc.pdf"),
        format!("https://base44.app/api/apps/{APP}/files/mp/public/{APP}/3c3c3c3c3_photo.jpg"),
        format!("https://app.base44.com/api/apps/{APP}/files/4d4d4d4d4_bare.png"),
        format!("https://media.base44.com/images/public/{APP}/5e5e5e5e5_logo.svg"),
    ]
}

/// An app folder (schemas and records) staged into a workspace by `migrate` to a bundle.
async fn staged(folder: &Path) -> Workspace {
    let [cover, old, me, doc, photo, bare, logo] = urls();
    let app = folder.join("app");
    write(
        &app.join("base44/entities/Item.jsonc"),
        r#"{"name": "Item", "type": "object", "properties": {
            "title": {"type": "string"}, "image_url": {"type": "string"},
            "photos": {"type": "array", "items": {"type": "object"}},
            "gallery": {"type": "array", "items": {"type": "string"}},
            "body": {"type": "string"}, "file_uri": {"type": "string"}
        }}"#,
    );
    write(
        &app.join("base44/entities/User.jsonc"),
        r#"{"name": "User", "type": "object", "properties": {"avatar_url": {"type": "string"}}}"#,
    );
    let items = [
        serde_json::json!({"id": "i1", "title": "cover", "image_url": cover,
            "photos": [{"url": photo, "caption": "x"}, {"url": "https://example.com/not-base44.jpg"}],
            "gallery": [doc, old]}),
        serde_json::json!({"id": "i2", "title": "text",
            "body": format!("Intro ![logo]({logo}). <img src=\"{bare}\"> and again {logo}."),
            "file_uri": "private/uploads/9f9f9f9f9_contract.pdf",
            "legacy_banner": {"src": cover}}),
    ];
    let users = [serde_json::json!({"id": "u1", "email": "a@example.com", "avatar_url": me})];
    let lines = |records: &[serde_json::Value]| {
        records
            .iter()
            .map(|record| format!("{record}\n"))
            .collect::<String>()
    };
    write(&app.join("data/Item.jsonl"), &lines(&items));
    write(&app.join("data/User.jsonl"), &lines(&users));
    let workspace = Workspace::new(folder.join("ws"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: app,
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.join("bundle.sql"),
            options: BundleOptions {
                pg_schema: "files".into(),
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
    workspace
}

#[tokio::test]
async fn every_shape_at_every_depth_and_in_code_is_found_once_with_its_references() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = staged(folder.path()).await;
    let [cover, old, me, doc, photo, bare, logo] = urls();
    let code = folder.path().join("app-code");
    write(
        &code.join("src/App.jsx"),
        &format!(
            "import x from 'y';\nconst logo = \"{logo}\";\nconst other = 'https://example.com/a.png';\n"
        ),
    );
    write(
        &code.join("public/manifest.json"),
        &format!("{{\n  \"icons\": [\n    {{\"src\": \"{cover}\"}}\n  ]\n}}\n"),
    );
    write(
        &code.join("index.html"),
        &format!("<link rel=\"icon\" href=\"{logo}\">\n"),
    );
    write(
        &code.join("src/node_modules/lib/index.js"),
        &format!("\"{logo}\"\n"),
    );

    let summary =
        scan(&workspace, Some(&code), &NoProgress).unwrap_or_else(|error| panic!("{error}"));
    let text = std::fs::read_to_string(workspace.files_manifest_path())
        .unwrap_or_else(|error| panic!("{error}"));
    let manifest: FileManifest =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"));

    let found: Vec<Entry> = manifest
        .files
        .iter()
        .map(|file| {
            (
                file.url.clone(),
                file.key.clone(),
                file.shape.clone(),
                file.records
                    .iter()
                    .map(|reference| {
                        format!(
                            "{} {} {}",
                            reference.entity,
                            reference.id.as_deref().unwrap_or("-"),
                            reference.path
                        )
                    })
                    .collect(),
                file.code
                    .iter()
                    .map(|reference| format!("{}:{}", reference.file, reference.line))
                    .collect(),
            )
        })
        .collect();
    let entry = |url: &str, key: &str, shape: &str, records: &[&str], code: &[&str]| {
        (
            url.to_owned(),
            key.to_owned(),
            shape.to_owned(),
            records
                .iter()
                .map(|text| (*text).to_owned())
                .collect::<Vec<_>>(),
            code.iter()
                .map(|text| (*text).to_owned())
                .collect::<Vec<_>>(),
        )
    };
    let mut expected = vec![
        entry(
            &cover,
            &format!("public/{APP}/a1b2c3d4e_cover.jpg"),
            "storage",
            &["Item i1 $.image_url", "Item i2 $.legacy_banner.src"],
            &["public/manifest.json:3"],
        ),
        entry(
            &old,
            "public/0f0f0f0f0_old.png",
            "storage",
            &["Item i1 $.gallery[1]"],
            &[],
        ),
        entry(
            &me,
            "public/user_68a1/1a1a1a1a1_me.png",
            "storage",
            &["User u1 $.avatar_url"],
            &[],
        ),
        entry(
            &doc,
            &format!("public/{APP}/2b2b2b2b2_doc.pdf"),
            "app_files",
            &["Item i1 $.gallery[0]"],
            &[],
        ),
        entry(
            &photo,
            &format!("public/{APP}/3c3c3c3c3_photo.jpg"),
            "app_files",
            &["Item i1 $.photos[0].url"],
            &[],
        ),
        entry(
            &bare,
            &format!("public/{APP}/4d4d4d4d4_bare.png"),
            "app_files",
            &["Item i2 $.body"],
            &[],
        ),
        entry(
            &logo,
            &format!("public/{APP}/5e5e5e5e5_logo.svg"),
            "media",
            &["Item i2 $.body", "Item i2 $.body"],
            &["index.html:1", "src/App.jsx:2"],
        ),
    ];
    let private = manifest
        .files
        .iter()
        .find(|file| file.shape == "private")
        .unwrap_or_else(|| panic!("no private file: {text}"));
    assert_eq!(private.url, "private/uploads/9f9f9f9f9_contract.pdf");
    assert!(
        private.key.starts_with("private/") && private.key.ends_with("_9f9f9f9f9_contract.pdf")
    );
    expected.push(entry(
        &private.url,
        &private.key,
        "private",
        &["Item i2 $.file_uri"],
        &[],
    ));
    expected.sort();
    assert_eq!(found, expected, "{text}");
    assert_eq!(
        (
            summary.files,
            summary.private_files,
            summary.record_references,
            summary.code_references
        ),
        (8, 1, 10, 3)
    );
    let fields: Vec<(String, String, u64, usize)> = summary
        .fields
        .iter()
        .map(|field| {
            (
                field.entity.clone(),
                field.field.clone(),
                field.references,
                field.files,
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("Item".into(), "body".into(), 3, 2),
            ("Item".into(), "file_uri".into(), 1, 1),
            ("Item".into(), "gallery[]".into(), 2, 2),
            ("Item".into(), "image_url".into(), 1, 1),
            ("Item".into(), "legacy_banner.src".into(), 1, 1),
            ("Item".into(), "photos[].url".into(), 1, 1),
            ("User".into(), "avatar_url".into(), 1, 1),
        ]
    );
    // A second scan writes the same bytes.
    scan(&workspace, Some(&code), &NoProgress).unwrap_or_else(|error| panic!("{error}"));
    let again = std::fs::read_to_string(workspace.files_manifest_path())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(text, again);
}

/// The marketplace sample's files copied from the emulator over real HTTP while 10% of the
/// downloads fail (5xx, 429, connections reset mid-body), one file deleted on the platform:
/// every other file is at the destination with the emulator's bytes and its hash in the
/// manifest; the deleted one is rejected with the records that point at it, its URL kept; a
/// second run sends nothing again.
#[tokio::test]
async fn files_copy_completes_through_faults_rejects_a_deleted_file_and_resumes() {
    use offbase_pipeline::files::copy::{CopyOptions, FileReject, copy};
    use sha2::Digest;

    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("ws"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: offbase_tests::sample("marketplace"),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.path().join("bundle.sql"),
            options: BundleOptions {
                pg_schema: "files".into(),
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
    let scanned = scan(&workspace, None, &NoProgress).unwrap_or_else(|error| panic!("{error}"));
    let read_manifest = || -> FileManifest {
        let text = std::fs::read_to_string(workspace.files_manifest_path())
            .unwrap_or_else(|error| panic!("{error}"));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"))
    };
    let manifest = read_manifest();
    let path_of = |url: &str| -> String {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        rest.find('/')
            .map_or(String::new(), |start| rest[start..].to_owned())
    };
    let deleted = manifest
        .files
        .iter()
        .find(|file| file.records.len() == 1)
        .unwrap_or_else(|| panic!("no file"))
        .clone();
    let config = offbase_emulator::EmulatorConfig {
        app_dir: offbase_tests::sample("marketplace"),
        app_id: None,
        api_key: offbase_tests::EMULATOR_KEY.to_owned(),
        rate_limits: offbase_emulator::RateLimits::Off,
        faults: offbase_emulator::Faults {
            fail_rate: 0.04,
            throttle_rate: 0.02,
            reset_rate: 0.04,
            seed: 7,
            files: true,
            ..offbase_emulator::Faults::default()
        },
        writer: None,
        created_by: "emulator@example.com".to_owned(),
        deleted_files: [path_of(&deleted.url)].into_iter().collect(),
        file_size: None,
        max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
        max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
    };
    let address = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
    let emulator = offbase_emulator::start(config, address)
        .await
        .unwrap_or_else(|error| panic!("the emulator did not start: {error}"));
    let destination = folder.path().join("copies");
    let mut copy_options = CopyOptions::new(&destination);
    copy_options.via = Some(emulator.api_url());
    copy_options.attempts = 12;

    let first = copy(&workspace, &copy_options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy: {error}"));
    assert_eq!(
        (
            first.files,
            first.copied,
            first.rejected,
            first.already_there
        ),
        (scanned.files, scanned.files - 1, 1, 0),
        "{first:?}"
    );
    let manifest = read_manifest();
    for file in &manifest.files {
        let copy_path = destination.join(&file.key);
        if file.url == deleted.url {
            assert!(!copy_path.exists(), "{}", file.key);
            assert_eq!((file.size, file.sha256.as_deref()), (None, None));
            continue;
        }
        let bytes = std::fs::read(&copy_path)
            .unwrap_or_else(|error| panic!("{}: {error}", copy_path.display()));
        assert_eq!(
            bytes,
            offbase_emulator::file_bytes(&path_of(&file.url)),
            "{}",
            file.url
        );
        let sha256: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(file.size, Some(bytes.len() as u64), "{}", file.url);
        assert_eq!(
            file.sha256.as_deref(),
            Some(sha256.as_str()),
            "{}",
            file.url
        );
    }
    let rejects_text = std::fs::read_to_string(workspace.rejects_dir().join("files.jsonl"))
        .unwrap_or_else(|error| panic!("{error}"));
    let rejects: Vec<FileReject> = rejects_text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}")))
        .collect();
    assert_eq!(rejects.len(), 1, "{rejects_text}");
    assert_eq!(
        (
            rejects[0].url.as_str(),
            rejects[0].reason.as_str(),
            rejects[0].status,
            &rejects[0].records
        ),
        (deleted.url.as_str(), "gone", Some(404), &deleted.records)
    );
    // The staged records keep the URL: nothing was blanked.
    assert!(
        std::fs::read_dir(workspace.root().join("data"))
            .unwrap_or_else(|error| panic!("{error}"))
            .flatten()
            .flat_map(|entity| std::fs::read_dir(entity.path())
                .into_iter()
                .flatten()
                .flatten())
            .any(|part| std::fs::read_to_string(part.path())
                .unwrap_or_default()
                .contains(&deleted.url))
    );

    // A copy whose bytes changed since (same length: a crash that lost its data, an edit) is
    // fetched again; the others are not.
    let damaged = manifest
        .files
        .iter()
        .find(|file| file.url != deleted.url)
        .unwrap_or_else(|| panic!("no copied file"));
    let damaged_path = destination.join(&damaged.key);
    let mut bytes = std::fs::read(&damaged_path).unwrap_or_else(|error| panic!("{error}"));
    if let Some(last) = bytes.last_mut() {
        *last ^= 0xff;
    }
    std::fs::write(&damaged_path, &bytes).unwrap_or_else(|error| panic!("{error}"));
    let requests_before = emulator.stats().requests_to(offbase_emulator::Route::File);
    // The faults were met: some files took more than one request.
    assert!(
        requests_before as usize > scanned.files + 10,
        "{requests_before} requests for {} files",
        scanned.files
    );
    let second = copy(&workspace, &copy_options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy again: {error}"));
    assert_eq!(
        (second.copied, second.already_there, second.rejected),
        (1, scanned.files - 2, 1),
        "{second:?}"
    );
    assert_eq!(
        std::fs::read(&damaged_path).unwrap_or_else(|error| panic!("{error}")),
        offbase_emulator::file_bytes(&path_of(&damaged.url))
    );
    // Only the damaged and the deleted files were asked for again.
    let asked_again = emulator.stats().requests_to(offbase_emulator::Route::File) - requests_before;
    assert!((1..=12).contains(&asked_again), "{asked_again}");
    emulator.shutdown().await;
}

/// A private file (`file_uri`) is read through a URL the emulator's API signs
/// (`CreateFileSignedUrl`) into `private/...`; without an API it is counted and not copied; a
/// forged or missing signature is refused.
#[tokio::test]
async fn private_files_are_copied_through_signed_urls() {
    use offbase_pipeline::files::copy::{CopyOptions, copy};

    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = staged(folder.path()).await;
    scan(&workspace, None, &NoProgress).unwrap_or_else(|error| panic!("{error}"));
    let emulator = offbase_tests::start_emulator(&offbase_tests::sample("marketplace"), None).await;

    let without = folder.path().join("without-api");
    let mut options = CopyOptions::new(&without);
    options.via = Some(emulator.api_url());
    let skipped = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy: {error}"));
    assert_eq!(
        (skipped.copied, skipped.private_skipped, skipped.rejected),
        (7, 1, 0),
        "{skipped:?}"
    );

    let with = folder.path().join("with-api");
    let mut options = CopyOptions::new(&with);
    options.via = Some(emulator.api_url());
    options.api = Some(offbase_tests::emulator_client(&emulator));
    options.public_url = Some("https://cdn.example.com/app/".to_owned());
    let copied = copy(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("copy: {error}"));
    assert_eq!(
        (copied.copied, copied.private_skipped, copied.rejected),
        (8, 0, 0),
        "{copied:?}"
    );
    let text = std::fs::read_to_string(workspace.files_manifest_path())
        .unwrap_or_else(|error| panic!("{error}"));
    let manifest: FileManifest =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"));
    let private = manifest
        .files
        .iter()
        .find(|file| file.shape == "private")
        .unwrap_or_else(|| panic!("no private file"));
    let bytes = std::fs::read(with.join(&private.key)).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        bytes,
        offbase_emulator::file_bytes("/private-files/private/uploads/9f9f9f9f9_contract.pdf")
    );
    assert_eq!(private.size, Some(bytes.len() as u64));
    // Each copied public file's new URL: the public base and its key. A private file is read
    // through a signed URL, never a public one: it has none.
    let map_text = std::fs::read_to_string(workspace.files_dir().join("url-map.json"))
        .unwrap_or_else(|error| panic!("{error}"));
    let map: offbase_pipeline::files::copy::UrlMap =
        serde_json::from_str(&map_text).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(map.urls.len(), 7, "{map_text}");
    for file in &manifest.files {
        let expected =
            (file.shape != "private").then(|| format!("https://cdn.example.com/app/{}", file.key));
        assert_eq!(map.urls.get(&file.url), expected.as_ref(), "{map_text}");
    }

    // Without a signature, or with a forged one, the file is refused.
    let http = reqwest::Client::new();
    for query in ["", "?expires=99999999999&token=0000000000000000"] {
        let url = format!(
            "{}/private-files/private/uploads/9f9f9f9f9_contract.pdf{query}",
            emulator.api_url()
        );
        let status = http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .status();
        assert_eq!(status.as_u16(), 403, "{url}");
    }
    emulator.shutdown().await;
}
