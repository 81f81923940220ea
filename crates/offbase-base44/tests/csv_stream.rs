//! Dashboard CSV exports read as streams ([`list_csv_folder`], [`open_csv_export`],
//! [`CsvExport::records`]): the same records, flags and warnings as the readers that return
//! whole imports, for every fixture and folder, also when the file comes a byte at a time; and
//! records handed on while the file is still being read, not after it is all in memory.

use offbase_base44::csv_export::{
    CsvError, CsvExport, CsvImport, entity_name_from_file, list_csv_folder, open_csv_export,
    open_csv_source, read_csv_export, read_csv_folder,
};
use offbase_base44::read_app;
use offbase_model::{App, Entity, FieldKind};
use serde_json::{Map, Value};
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/csv");

fn schemas() -> Result<App, Box<dyn std::error::Error>> {
    Ok(read_app(&Path::new(FIXTURES).join("schemas"))?.app)
}

/// Every `.csv` under the fixtures, sorted.
fn csv_fixtures(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(csv_fixtures(&path)?);
        } else if path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"))
        {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// What the streaming API gives for one export: the entity, every record, the inferred schema
/// and the warnings.
type Streamed = (String, Vec<Map<String, Value>>, Option<Entity>, Vec<String>);

/// The second pass of `export`, typed by `schema` or else by the inferred one, every record
/// kept.
fn all_records(mut export: CsvExport, schema: Option<&Entity>) -> Result<Streamed, CsvError> {
    let typing = match (schema, &export.inferred) {
        (Some(schema), _) => schema.clone(),
        (None, Some(inferred)) => inferred.clone(),
        (None, None) => panic!("{}: no schema and none inferred", export.entity),
    };
    let mut records = Vec::new();
    let count = export.records::<CsvError>(&typing, |record| {
        records.push(record);
        Ok(())
    })?;
    assert_eq!(count, records.len() as u64);
    Ok((export.entity, records, export.inferred, export.warnings))
}

/// The entity `read_csv_export` reads a file as.
fn entity_of(path: &Path, schema: Option<&Entity>) -> String {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    schema.map_or_else(
        || entity_name_from_file(&name).unwrap_or(stem),
        |schema| schema.name.clone(),
    )
}

/// A reader of bytes in memory that gives one byte per read.
struct OneByte {
    bytes: Arc<Vec<u8>>,
    at: usize,
}

impl Read for OneByte {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match (self.bytes.get(self.at), buffer.first_mut()) {
            (Some(&byte), Some(slot)) => {
                *slot = byte;
                self.at += 1;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// Compares a streamed export with the whole import of the same file.
fn assert_same(
    what: &str,
    whole: &Result<CsvImport, CsvError>,
    streamed: &Result<Streamed, CsvError>,
) {
    match (whole, streamed) {
        (Ok(whole), Ok((entity, records, inferred, warnings))) => {
            assert_eq!(entity, &whole.entity, "{what}");
            assert_eq!(records, &whole.records, "{what}");
            assert_eq!(inferred, &whole.inferred, "{what}");
            assert_eq!(warnings, &whole.warnings, "{what}");
        }
        (Err(whole), Err(streamed)) => {
            assert_eq!(streamed.to_string(), whole.to_string(), "{what}");
        }
        (whole, streamed) => panic!("{what}: {whole:?} / {streamed:?}"),
    }
}

#[test]
fn every_fixture_streams_as_it_reads_whole() -> TestResult {
    let app = schemas()?;
    let fixtures = csv_fixtures(Path::new(FIXTURES))?;
    assert!(fixtures.len() >= 10, "{fixtures:?}");
    for path in &fixtures {
        for schema in [None, app.entity("Task"), app.entity("User")] {
            let what = format!(
                "{} with {:?}",
                path.display(),
                schema.map(|schema| &schema.name)
            );
            let mut whole = read_csv_export(path, schema);
            // The whole reader names a file that does not follow `<Entity>_export.csv`; the
            // streaming one is given the entity.
            let entity = entity_of(path, schema);
            let named = path
                .file_name()
                .and_then(|name| entity_name_from_file(&name.to_string_lossy()));
            if let Ok(import) = &mut whole
                && schema.is_none()
                && named.is_none()
            {
                let note = import.warnings.remove(0);
                assert!(
                    note.contains("does not follow `<Entity>_export.csv`"),
                    "{note}"
                );
            }

            let streamed = open_csv_export(path, &entity, schema)
                .and_then(|export| all_records(export, schema));
            assert_same(&what, &whole, &streamed);

            let bytes = Arc::new(fs::read(path)?);
            let shown = path.display().to_string();
            let one_byte = open_csv_source(
                move || {
                    Ok(OneByte {
                        bytes: bytes.clone(),
                        at: 0,
                    })
                },
                &shown,
                &entity,
                schema,
            )
            .and_then(|export| all_records(export, schema));
            assert_same(&format!("{what}, a byte at a time"), &whole, &one_byte);
        }
    }
    Ok(())
}

#[test]
fn a_folder_streams_as_it_reads_whole() -> TestResult {
    let app = schemas()?;
    let folder = Path::new(FIXTURES).join("folder");
    for schemas in [None, Some(&app)] {
        let whole = read_csv_folder(&folder, schemas)?;
        let (files, notes) = list_csv_folder(&folder, schemas)?;
        assert_eq!(notes.len(), 1, "{notes:?}");
        let entities: Vec<&str> = files.iter().map(|file| file.entity.as_str()).collect();
        let expected: Vec<&str> = whole.iter().map(|import| import.entity.as_str()).collect();
        assert_eq!(entities, expected);
        for (index, (file, import)) in files.iter().zip(&whole).enumerate() {
            assert_eq!(
                file.has_schema,
                schemas.is_some_and(|app| app.entity(&file.entity).is_some())
            );
            let export = file.open(schemas)?;
            let (entity, records, inferred, warnings) = all_records(export, file.schema(schemas))?;
            // The notes about skipped files go first in the first import's warnings.
            let mut expected_warnings = if index == 0 {
                notes.clone()
            } else {
                Vec::new()
            };
            expected_warnings.extend(warnings);
            assert_eq!(entity, import.entity);
            assert_eq!(records, import.records);
            assert_eq!(inferred, import.inferred);
            assert_eq!(expected_warnings, import.warnings);
        }
    }
    Ok(())
}

#[test]
fn listing_a_folder_fails_as_reading_it_does() -> TestResult {
    let root = tempfile::tempdir()?;
    fs::write(root.path().join("a.txt"), "x")?;
    let listed = list_csv_folder(root.path(), None).map(|_| ());
    let read = read_csv_folder(root.path(), None).map(|_| ());
    match (listed, read) {
        (Err(listed @ CsvError::NotFound { .. }), Err(read)) => {
            assert_eq!(listed.to_string(), read.to_string())
        }
        other => panic!("expected NotFound twice, got {other:?}"),
    }

    fs::write(root.path().join("Task_export.csv"), "id\n1\n")?;
    fs::write(root.path().join("task_export.csv"), "id\n2\n")?;
    let app = schemas()?;
    let listed = list_csv_folder(root.path(), Some(&app)).map(|_| ());
    let read = read_csv_folder(root.path(), Some(&app)).map(|_| ());
    match (listed, read) {
        (Err(listed @ CsvError::DuplicateEntity { .. }), Err(read)) => {
            assert_eq!(listed.to_string(), read.to_string())
        }
        other => panic!("expected DuplicateEntity twice, got {other:?}"),
    }
    let (files, _) = list_csv_folder(root.path(), None)?;
    assert_eq!(files.len(), 2);
    Ok(())
}

/// An export between its passes can go to another thread (a pipeline may read several at once).
#[test]
fn an_export_can_be_sent_and_shared() {
    fn sendable<T: Send + Sync>() {}
    sendable::<CsvExport>();
    sendable::<offbase_base44::csv_export::CsvFile>();
}

/// A file reader that counts the bytes read from it.
struct Counting {
    file: fs::File,
    read: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.file.read(buffer)?;
        self.read.fetch_add(count as u64, Ordering::SeqCst);
        Ok(count)
    }
}

/// Why a second pass stopped.
#[derive(Debug)]
enum Stop {
    Csv(CsvError),
    /// At the first record, when this many bytes of the file had been read.
    FirstRecord(u64),
}

impl From<CsvError> for Stop {
    fn from(error: CsvError) -> Self {
        Stop::Csv(error)
    }
}

/// Memory: the records of a large export are handed on while the file is read, one at a time,
/// rather than after it has been read whole (the 338 MB export that took 6.4 GB). Which memory
/// a test binary shares with other tests cannot be measured here, so the structure is checked:
/// when the first record arrives, the second pass has read a small part of the file.
#[test]
fn records_are_handed_on_while_the_file_is_read() -> TestResult {
    const ROWS: u64 = 200_000;
    let root = tempfile::tempdir()?;
    let path = root.path().join("Big_export.csv");
    let mut out = BufWriter::new(fs::File::create(&path)?);
    writeln!(out, "id,created_date,title,count,price,tags")?;
    for row in 0..ROWS {
        writeln!(
            out,
            "r{row},2026-01-01T00:00:00.000000,\"Task \"\"{row}\"\"\",{row},{row}.5,\"[\"\"a\"\",\"\"b\"\"]\""
        )?;
    }
    out.into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    let size = fs::metadata(&path)?.len();

    // Through the file API, a sink that drops each record.
    let mut export = open_csv_export(&path, "Big", None)?;
    let inferred = export.inferred.clone().ok_or("no inferred schema")?;
    let kinds: Vec<(&str, &FieldKind)> = inferred
        .fields
        .iter()
        .map(|field| (field.name.as_str(), &field.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("title", &FieldKind::String),
            ("count", &FieldKind::Integer),
            ("price", &FieldKind::Number),
            ("tags", &FieldKind::Array),
        ]
    );
    let mut last = None;
    let count = export.records::<CsvError>(&inferred, |record| {
        last = record.get("id").cloned();
        Ok(())
    })?;
    assert_eq!(count, ROWS);
    assert_eq!(last, Some(Value::String(format!("r{}", ROWS - 1))));
    assert!(export.warnings.is_empty(), "{:?}", export.warnings);

    // Through a reader that counts what is read.
    let read = Arc::new(AtomicU64::new(0));
    let counter = read.clone();
    let opened = path.clone();
    let mut export = open_csv_source(
        move || {
            Ok(Counting {
                file: fs::File::open(&opened)?,
                read: counter.clone(),
            })
        },
        &path.display().to_string(),
        "Big",
        None,
    )?;
    assert_eq!(
        read.load(Ordering::SeqCst),
        size,
        "the first pass reads it all"
    );
    read.store(0, Ordering::SeqCst);
    // The sink stops the second pass at the first record, saying how much had been read.
    let stopped = export.records(&inferred, |_| {
        Err(Stop::FirstRecord(read.load(Ordering::SeqCst)))
    });
    let read_at_first = match stopped {
        Err(Stop::FirstRecord(read)) => read,
        Err(Stop::Csv(error)) => return Err(error.into()),
        Ok(count) => panic!("the sink stopped nothing: {count} records"),
    };
    assert!(
        read_at_first <= 1 << 20 && read_at_first * 10 < size,
        "{read_at_first} of {size} bytes read before the first record"
    );
    Ok(())
}
