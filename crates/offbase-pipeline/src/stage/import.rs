//! Importing local sources into the workspace: dashboard CSV exports and seed files. Reading
//! them is quick and has no side effects, so an import always rewrites the entities it covers;
//! the records land in the same form and order as a pull from the API.

use crate::PipelineError;
use crate::progress::Reporter;
use crate::workspace::sorter::OrderedStager;
use crate::workspace::{
    EntityManifest, PartWriter, SourceInfo, Workspace, WriterPosition, canonical_record,
    entity_manifest, with_flags,
};
use offbase_base44::csv_export::{entity_schema_json, list_csv_folder};
use offbase_base44::seed::{SeedEvent, seed_folder};
use offbase_model::{App, Entity, Field, SchemaSource, SourceLayout};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityImportSummary {
    pub entity: String,
    pub records: u64,
    pub bytes: u64,
    /// Records with a value that did not convert (kept raw, flagged for the load to reject).
    pub flagged_records: u64,
    /// The schema was inferred from the values (no schema was given for this entity).
    pub inferred_schema: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub workspace: String,
    pub entities: Vec<EntityImportSummary>,
    pub warnings: Vec<String>,
}

/// A record from a local source with the importer's flags for it (kept apart: a source field
/// of the flags' name must not pass for them).
type SourceRecord = (Map<String, Value>, Option<Value>);

/// Hands each record of a source to the sink given, as it is read; returns the warnings found
/// while reading.
type Feed<'a> = Box<
    dyn FnOnce(
            &mut dyn FnMut(SourceRecord) -> Result<(), PipelineError>,
        ) -> Result<Vec<String>, PipelineError>
        + 'a,
>;

/// One entity's records from a local source, read as they are written.
struct Batch<'a> {
    entity: Entity,
    inferred: bool,
    /// How many records there are, when known before reading them.
    total: Option<u64>,
    records: Feed<'a>,
    /// Warnings that go after those of reading.
    notes_after: Vec<String>,
}

impl<'a> Batch<'a> {
    /// A batch of records already in memory.
    fn of(entity: Entity, inferred: bool, records: Vec<SourceRecord>) -> Batch<'a> {
        Batch {
            entity,
            inferred,
            total: Some(records.len() as u64),
            records: Box::new(move |sink| {
                for record in records {
                    sink(record)?;
                }
                Ok(Vec::new())
            }),
            notes_after: Vec::new(),
        }
    }
}

/// Imports every `<Entity>_export.csv` of `folder`. With `schemas`, values are typed by them;
/// without, each entity's schema is inferred from its values and saved, marked inferred. Each
/// file is read twice as it streams (the header, the encoding and, without a schema, the types;
/// then the records), never held whole.
pub fn import_csv(
    folder: &Path,
    schemas: Option<&App>,
    workspace: &Workspace,
    part_records: u64,
    reporter: &dyn Reporter,
) -> Result<ImportSummary, PipelineError> {
    let _workspace_lock = crate::lock::lock_workspace(workspace, "pull --from-csv")?;
    let (files, skipped) = list_csv_folder(folder, schemas)?;
    // Every file's first pass before any is written: a file that cannot be read (its
    // structure, its encoding) stops the import before the workspace changes.
    let exports = files
        .into_iter()
        .map(|file| Ok((file.open(schemas)?, file)))
        .collect::<Result<Vec<_>, PipelineError>>()?;
    // The notes about files that are no exports go first, under the first entity.
    let mut skipped = Some(skipped);
    let batches = exports.into_iter().map(move |(mut export, file)| {
        let name = export.entity.clone();
        let mut before: Vec<String> = skipped.take().unwrap_or_default();
        before.append(&mut export.warnings);
        let declared = file.schema(schemas).cloned();
        let mut notes_after = Vec::new();
        let (entity, inferred) = match (declared, export.inferred.clone()) {
            (Some(entity), _) => (entity, false),
            (None, Some(entity)) => {
                // With schemas given, the reader has already said this entity has none.
                if schemas.is_none() {
                    notes_after.push(format!(
                        "{name}: no schema given: the schema was inferred from the values and saved as schemas/{name}.json (marked inferred); review it"
                    ));
                }
                (entity, true)
            }
            (None, None) => (bare_entity(&name), true),
        };
        let typed_by = entity.clone();
        let records: Feed<'_> = Box::new(move |sink| {
            // The CSV reader puts its own flags in the record, and reads a column of that
            // name as `_column_N`: whatever is under the key is the reader's.
            export.records(&typed_by, |mut record| {
                let flags = record.remove(crate::workspace::FLAGS_KEY);
                sink((record, flags))
            })?;
            Ok(before
                .into_iter()
                .chain(export.warnings)
                .map(|warning| format!("{name}: {warning}"))
                .collect())
        });
        Ok(Batch {
            entity,
            inferred,
            total: None,
            records,
            notes_after,
        })
    });
    let source = SourceInfo::Csv {
        folder: folder.display().to_string(),
    };
    write_batches(
        batches,
        workspace,
        part_records,
        source,
        Vec::new(),
        reporter,
    )
}

/// The warnings of one seed file kept for the summary; past them, a line says how many more.
const SEED_WARNINGS: usize = 1_000;

/// Imports every seed file of `folder` (`base44/seed/<Entity>.jsonc`). Every file is read once
/// through first (its encoding, its JSONC, its shape), so one that cannot be read stops the
/// import before the workspace changes; then each hands over its records one at a time, never
/// held whole.
pub fn import_seed(
    folder: &Path,
    schemas: Option<&App>,
    workspace: &Workspace,
    part_records: u64,
    reporter: &dyn Reporter,
) -> Result<ImportSummary, PipelineError> {
    let _workspace_lock = crate::lock::lock_workspace(workspace, "pull --from-seed")?;
    let files = seed_folder(folder, schemas)?;
    let batches = files.into_iter().map(|file| {
        let name = file.entity().to_owned();
        // An entity without a schema is already in the reader's warnings.
        let declared = schemas.and_then(|app| app.entity(&name)).cloned();
        let inferred = declared.is_none();
        let entity = declared.unwrap_or_else(|| bare_entity(&name));
        let total = Some(file.record_count());
        let records: Feed<'_> = Box::new(move |sink| {
            let mut warnings = Vec::new();
            let mut unshown = 0u64;
            file.read(|event| match event {
                SeedEvent::Record { record, flags } => sink((record, flags.map(Value::Object))),
                SeedEvent::Warning(warning) => {
                    if warnings.len() < SEED_WARNINGS {
                        warnings.push(format!("{name}: {warning}"));
                    } else {
                        unshown += 1;
                    }
                    Ok(())
                }
            })?;
            if unshown > 0 {
                warnings.push(format!(
                    "{name}: {}: {unshown} more warnings like the ones above, not shown",
                    file.file()
                ));
            }
            Ok(warnings)
        });
        Ok(Batch {
            entity,
            inferred,
            total,
            records,
            notes_after: Vec::new(),
        })
    });
    let source = SourceInfo::Seed {
        folder: folder.display().to_string(),
    };
    write_batches(
        batches,
        workspace,
        part_records,
        source,
        Vec::new(),
        reporter,
    )
}

/// An entity known by name only.
fn bare_entity(name: &str) -> Entity {
    Entity {
        name: name.to_owned(),
        source: SchemaSource {
            path: format!("{name}.json"),
            layout: SourceLayout::Direct,
        },
        title: None,
        description: None,
        fields: Vec::<Field>::new(),
        rls: None,
        extra: Default::default(),
    }
}

fn write_batches<'a>(
    batches: impl IntoIterator<Item = Result<Batch<'a>, PipelineError>>,
    workspace: &Workspace,
    part_records: u64,
    source: SourceInfo,
    mut warnings: Vec<String>,
    reporter: &dyn Reporter,
) -> Result<ImportSummary, PipelineError> {
    let mut manifest = workspace.manifest()?;
    manifest.format = crate::workspace::FORMAT;
    manifest.source = Some(source);
    let mut summaries = Vec::new();
    for batch in batches {
        let (summary, entry, found) = write_batch(batch?, workspace, part_records, reporter)?;
        warnings.extend(found);
        manifest.entities.insert(summary.entity.clone(), entry);
        summaries.push(summary);
    }
    workspace.write_json(&workspace.manifest_path(), &manifest)?;
    summaries.sort_by(|left, right| left.entity.cmp(&right.entity));
    Ok(ImportSummary {
        workspace: workspace.root().display().to_string(),
        entities: summaries,
        warnings,
    })
}

/// Writes one entity's records in the pull order (so a CSV import and an API pull of the same
/// records match line by line), through an external sort: memory stays bounded whatever the
/// entity's size.
fn write_batch(
    batch: Batch<'_>,
    workspace: &Workspace,
    part_records: u64,
    reporter: &dyn Reporter,
) -> Result<(EntityImportSummary, EntityManifest, Vec<String>), PipelineError> {
    let name = batch.entity.name.clone();
    reporter.started(&name, batch.total);
    let folder = workspace.entity_dir(&name);
    if folder.exists() {
        std::fs::remove_dir_all(&folder).map_err(|error| PipelineError::io(&folder, error))?;
    }
    let schema_path = workspace.schema_path(&name);
    workspace.write_json(&schema_path, &entity_schema_json(&batch.entity))?;
    let mut stager = OrderedStager::new(workspace, &name)?;
    let mut read = 0u64;
    let entity = &batch.entity;
    let mut warnings = (batch.records)(&mut |(record, flags)| {
        stager.push(&with_flags(canonical_record(record, entity), flags))?;
        read += 1;
        if read.is_multiple_of(10_000) {
            reporter.advanced(&name, 10_000);
        }
        Ok(())
    })?;
    warnings.extend(batch.notes_after);
    reporter.advanced(&name, read % 10_000);
    let mut writer = PartWriter::resume(workspace, &name, part_records, WriterPosition::default())?;
    let sorted = stager.finish(&mut writer)?;
    let position = writer.sync()?;
    let entry: EntityManifest = entity_manifest(
        workspace,
        &name,
        &position,
        Some(sorted.records),
        sorted.first,
        sorted.last,
    )?;
    reporter.finished(&name);
    let summary = EntityImportSummary {
        entity: name,
        records: entry.records,
        bytes: entry.bytes,
        flagged_records: entry.flagged_records,
        inferred_schema: batch.inferred,
    };
    Ok((summary, entry, warnings))
}

/// One line of a sample data file as a record and the importer's flags for it (see
/// [`import_records`]); `place` is the file and line, for the flags.
fn sample_record(line: &[u8], place: &str) -> (Map<String, Value>, Option<Value>) {
    use offbase_model::record::{
        LINE_KEY, flag_repeated_keys, not_utf8_line, parse_value_collecting, readable_id,
    };
    let id = offbase_model::BuiltIn::Id.field_name();
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(error) => {
            let (record, flags) = not_utf8_line(line, readable_id(line, id), place, &error);
            return (record, Some(flags));
        }
    };
    let problem = match parse_value_collecting(text) {
        Ok((Value::Object(mut record), duplicates)) => {
            let flags = flag_repeated_keys(&mut record, &duplicates, id);
            return (record, flags);
        }
        Ok((other, _)) => format!(
            "is not a JSON object: it is {}",
            offbase_model::json_kind(&other)
        ),
        Err(error) => format!("is not a JSON object: {error}"),
    };
    // Not a record: its text is kept, flagged.
    let mut record = Map::new();
    record.insert(LINE_KEY.into(), Value::String(text.to_owned()));
    let mut flags = Map::new();
    flags.insert(LINE_KEY.into(), Value::String(format!("{place} {problem}")));
    (record, Some(Value::Object(flags)))
}

/// Imports the records of an app folder laid out like the samples: `data/<Entity>.jsonl`, one
/// record a line, as the entity API returns them (a byte order mark before the first line is
/// no part of it). A line that is not a JSON object is kept, flagged, so the load rejects it
/// with its reason instead of losing it: its text in `_line`, and when it is not UTF-8, its
/// bytes in `_line_base64` and its id when the rest of the line can be read. A record that
/// repeats a key is kept as JSON reads it (the last value), flagged `duplicate_key` with both
/// values.
pub fn import_records(
    folder: &Path,
    schemas: &App,
    workspace: &Workspace,
    part_records: u64,
    reporter: &dyn Reporter,
) -> Result<ImportSummary, PipelineError> {
    let _workspace_lock = crate::lock::lock_workspace(workspace, "import")?;
    let data = folder.join("data");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&data)
        .map_err(|error| PipelineError::io(&data, error))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl")
        })
        .collect();
    files.sort();
    let mut warnings = Vec::new();
    let mut named = Vec::new();
    for path in files {
        let Some(name) = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
        else {
            continue;
        };
        let declared = schemas.entity(&name).cloned();
        if declared.is_none() {
            warnings.push(format!(
                "{name}: data/{name}.jsonl has no schema: its records are staged with an empty schema (every field goes to _extra)"
            ));
        }
        named.push((name, path, declared));
    }
    // An entity with a schema and no data file has no records, not no table: say so and stage
    // it empty, so the load creates its table like the others.
    let mut empty = Vec::new();
    for entity in &schemas.entities {
        if !named.iter().any(|(name, _, _)| *name == entity.name) {
            warnings.push(format!(
                "{}: has a schema but no data/{}.jsonl: staged with no records (its table is created empty)",
                entity.name, entity.name
            ));
            empty.push(Batch::of(entity.clone(), false, Vec::new()));
        }
    }
    // Each file is read as it is written, a line at a time.
    let batches = named
        .into_iter()
        .map(|(name, path, declared)| {
            let lines = SampleLines::open(&path)?;
            let records: Feed<'_> = Box::new(move |sink| {
                for record in lines {
                    sink(record?)?;
                }
                Ok(Vec::new())
            });
            Ok(Batch {
                inferred: declared.is_none(),
                entity: declared.unwrap_or_else(|| bare_entity(&name)),
                total: None,
                records,
                notes_after: Vec::new(),
            })
        })
        .chain(empty.into_iter().map(Ok));
    let source = SourceInfo::Sample {
        folder: folder.display().to_string(),
    };
    write_batches(batches, workspace, part_records, source, warnings, reporter)
}

/// The records of a sample data file, a line at a time: a byte order mark before the first
/// line is no part of it, blank lines are skipped, a line that is not a record is kept flagged
/// ([`sample_record`]).
struct SampleLines {
    path: std::path::PathBuf,
    reader: std::io::BufReader<std::fs::File>,
    line: Vec<u8>,
    number: u64,
}

impl SampleLines {
    fn open(path: &Path) -> Result<SampleLines, PipelineError> {
        let file = std::fs::File::open(path).map_err(|error| PipelineError::io(path, error))?;
        Ok(SampleLines {
            path: path.to_path_buf(),
            reader: std::io::BufReader::with_capacity(1 << 20, file),
            line: Vec::new(),
            number: 0,
        })
    }
}

impl Iterator for SampleLines {
    type Item = Result<SourceRecord, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        use std::io::BufRead;
        loop {
            self.line.clear();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(error) => return Some(Err(PipelineError::io(&self.path, error))),
            }
            self.number += 1;
            let mut line: &[u8] = &self.line;
            if self.number == 1 {
                line = offbase_model::record::strip_bom(line);
            }
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let place = format!("{}:{}", self.path.display(), self.number);
            return Some(Ok(sample_record(line, &place)));
        }
    }
}
