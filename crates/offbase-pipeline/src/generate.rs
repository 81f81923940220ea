//! The generate stage: a workspace of plausible records for an app's schemas, in exactly the
//! layout and order a pull writes, for load tests and benchmarks. The records come from
//! [`offbase_sql::generate`] and stream to the part files in chunks, so a million records
//! never sit in memory.

use crate::PipelineError;
use crate::progress::Reporter;
use crate::workspace::{
    PartWriter, SourceInfo, Workspace, WriterPosition, canonical_record, entity_manifest,
    record_key,
};
use offbase_model::MappingRules;
use offbase_sql::generate::{EntityGenerator, Generator};
use serde::Serialize;
use serde_json::{Map, Value};
use std::ops::Range;
use std::path::Path;
use std::time::Instant;

pub use offbase_sql::generate::GenerateCounts;

/// Records generated and appended at a time: bounds the memory of a large run. Small chunks
/// measured faster than 10,000 (a million records: about 8 s against 12 s), as their records
/// are freed while still in cache.
pub const CHUNK_RECORDS: u64 = 1_000;

/// The outcome for one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityGenerateSummary {
    pub entity: String,
    pub records: u64,
    pub bytes: u64,
    pub parts: usize,
}

/// The machine-readable summary of a generate run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateSummary {
    pub workspace: String,
    pub seed: u64,
    /// Entities with a table in the plan, in name order.
    pub entities: Vec<EntityGenerateSummary>,
    /// Entities the mapping skips: their schema is written, no data.
    pub skipped: Vec<String>,
    pub records: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Reads the schemas under `source` (as the plan stage does), plans them under `rules`, and
/// writes `counts` records per entity into `workspace`: `schemas/<Entity>.json`,
/// `data/<Entity>/part-NNNNN.jsonl` (`part_records` records per part, canonical key order,
/// pull order) and `manifest.json` with the source `generated`. An entity's earlier data is
/// replaced; the same inputs and `seed` give byte-identical files.
pub fn generate_workspace(
    source: &Path,
    rules: &MappingRules,
    counts: &GenerateCounts,
    seed: u64,
    workspace: &Workspace,
    part_records: u64,
    reporter: &dyn Reporter,
) -> Result<GenerateSummary, PipelineError> {
    let started = Instant::now();
    let output = crate::plan::plan(source, rules, reporter)?;
    let _workspace_lock = crate::lock::lock_workspace(workspace, "generate")?;
    let generator = Generator::new(&output.app, &output.target, counts, seed)
        .map_err(|error| PipelineError::Usage(error.to_string()))?;
    let mut manifest = workspace.manifest()?;
    manifest.format = crate::workspace::FORMAT;
    manifest.source = Some(SourceInfo::Generated { seed });
    // One thread writes; the others generate.
    let workers = std::thread::available_parallelism()
        .map(|threads| threads.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1);
    let mut entities = Vec::new();
    let mut skipped = Vec::new();
    for entity in &output.app.entities {
        let name = entity.name.as_str();
        let schema_path = workspace.schema_path(name);
        workspace.write_json(
            &schema_path,
            &offbase_base44::csv_export::entity_schema_json(entity),
        )?;
        let folder = workspace.entity_dir(name);
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(|error| PipelineError::io(&folder, error))?;
        }
        let Some(entity_generator) = generator.entity(name) else {
            manifest.entities.remove(name);
            if counts.entities.contains_key(name) {
                reporter.message(&format!(
                    "{name}: the mapping skips it, so its count is ignored and it gets no data"
                ));
            }
            skipped.push(name.to_owned());
            continue;
        };
        let count = entity_generator.count();
        reporter.started(name, Some(count));
        let mut writer =
            PartWriter::resume(workspace, name, part_records, WriterPosition::default())?;
        let (mut first_key, mut last_key) = (None, None);
        // Index order is pull order (`created_date` grows with the index). The next chunk is
        // generated while this one is written.
        std::thread::scope(|scope| -> Result<(), PipelineError> {
            let spawn = |start: u64| {
                let range = start..count.min(start + CHUNK_RECORDS);
                scope.spawn(move || generate_chunk(entity_generator, range, workers))
            };
            let mut next = (count > 0).then(|| spawn(0));
            let mut start = 0;
            while let Some(handle) = next.take() {
                let chunk = handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                let end = start + chunk.len() as u64;
                if end < count {
                    next = Some(spawn(end));
                }
                // The generator already writes the canonical key order (built-ins, then
                // fields in schema order); rebuilding every record would cost about as much
                // as generating it.
                debug_assert!(chunk.iter().all(|record| {
                    let canonical = canonical_record(record.clone(), entity);
                    record.keys().eq(canonical.keys())
                }));
                if first_key.is_none() {
                    first_key = chunk.first().and_then(record_key);
                }
                last_key = chunk.last().and_then(record_key).or(last_key.take());
                writer.append(&chunk)?;
                reporter.advanced(name, end - start);
                start = end;
            }
            Ok(())
        })?;
        let position = writer.sync()?;
        let entry = entity_manifest(workspace, name, &position, Some(count), first_key, last_key)?;
        reporter.finished(name);
        entities.push(EntityGenerateSummary {
            entity: name.to_owned(),
            records: entry.records,
            bytes: entry.bytes,
            parts: entry.parts.len(),
        });
        manifest.entities.insert(name.to_owned(), entry);
    }
    workspace.write_json(&workspace.manifest_path(), &manifest)?;
    entities.sort_by(|left, right| left.entity.cmp(&right.entity));
    Ok(GenerateSummary {
        workspace: workspace.root().display().to_string(),
        seed,
        records: entities.iter().map(|entity| entity.records).sum(),
        bytes: entities.iter().map(|entity| entity.bytes).sum(),
        entities,
        skipped,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Records `range` of an entity, in index order, generated by up to `threads` threads.
fn generate_chunk(
    generator: EntityGenerator<'_>,
    range: Range<u64>,
    threads: usize,
) -> Vec<Map<String, Value>> {
    let length = range.end.saturating_sub(range.start);
    // Below a few hundred records a thread costs more than it saves.
    if threads <= 1 || length < 512 {
        return range.map(|index| generator.record(index)).collect();
    }
    let share = length.div_ceil(threads as u64);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|thread| {
                let start = range.start + thread * share;
                let end = range.end.min(start + share);
                scope.spawn(move || {
                    (start..end)
                        .map(|index| generator.record(index))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut records = Vec::with_capacity(length as usize);
        for handle in handles {
            match handle.join() {
                Ok(part) => records.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        records
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use crate::workspace::{EntityManifest, Manifest};
    use offbase_model::{ColumnSource, PgType};
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;

    fn sample(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../samples")
            .join(name)
    }

    fn rules(extra: &str) -> MappingRules {
        let mut rules = MappingRules::defaults().unwrap_or_else(|error| panic!("{error}"));
        if !extra.is_empty() {
            rules
                .merge(extra, "test.toml")
                .unwrap_or_else(|error| panic!("{error}"));
        }
        rules
    }

    fn generate(
        app: &str,
        rules: &MappingRules,
        counts: &GenerateCounts,
        seed: u64,
        part_records: u64,
    ) -> (tempfile::TempDir, GenerateSummary) {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let workspace = Workspace::new(folder.path());
        let summary = generate_workspace(
            &sample(app),
            rules,
            counts,
            seed,
            &workspace,
            part_records,
            &NoProgress,
        )
        .unwrap_or_else(|error| panic!("{app}: {error}"));
        (folder, summary)
    }

    /// Every file of a folder, by relative path.
    fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut found = BTreeMap::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(folder) = pending.pop() {
            let entries = std::fs::read_dir(&folder).unwrap_or_else(|error| panic!("{error}"));
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path
                        .strip_prefix(root)
                        .map(|relative| relative.display().to_string())
                        .unwrap_or_default();
                    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{error}"));
                    found.insert(relative, bytes);
                }
            }
        }
        found
    }

    fn records(root: &Path, entry: &EntityManifest) -> Vec<Map<String, Value>> {
        let mut records = Vec::new();
        for part in &entry.parts {
            let text = std::fs::read_to_string(root.join(&part.file))
                .unwrap_or_else(|error| panic!("{error}"));
            for line in text.lines() {
                match serde_json::from_str(line) {
                    Ok(Value::Object(record)) => records.push(record),
                    other => panic!("{}: {other:?}", part.file),
                }
            }
        }
        records
    }

    #[test]
    fn the_same_seed_writes_the_same_bytes() {
        let counts = GenerateCounts::uniform(120).with("Comment", 300);
        let (first, summary) = generate("tasks", &rules(""), &counts, 11, 50);
        let (second, _) = generate("tasks", &rules(""), &counts, 11, 50);
        let (third, _) = generate("tasks", &rules(""), &counts, 12, 50);
        assert_eq!(files(first.path()), files(second.path()));
        assert_ne!(files(first.path()), files(third.path()));
        let comments = summary
            .entities
            .iter()
            .find(|entity| entity.entity == "Comment");
        assert_eq!(
            comments.map(|entity| (entity.records, entity.parts)),
            Some((300, 6))
        );
        assert!(first.path().join("schemas/Task.json").is_file());
        assert!(first.path().join("data/Task/part-00002.jsonl").is_file());
    }

    #[test]
    fn sample_workspaces_respect_every_column_and_reference() {
        for app in ["crm", "tasks", "marketplace"] {
            let rules = rules("");
            let output = crate::plan::plan(&sample(app), &rules, &NoProgress)
                .unwrap_or_else(|error| panic!("{error}"));
            let counts = GenerateCounts::uniform(150);
            let (folder, summary) = generate(app, &rules, &counts, 2026, 100_000);
            let workspace = Workspace::new(folder.path());
            let manifest: Manifest = workspace
                .read_json(&workspace.manifest_path())
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("{app}: no manifest"));
            assert_eq!(manifest.source, Some(SourceInfo::Generated { seed: 2026 }));
            let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut all: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
            for (entity, entry) in &manifest.entities {
                let records = records(folder.path(), entry);
                assert_eq!(records.len(), 150, "{app}.{entity}");
                assert_eq!(entry.source_count, Some(150));
                let keys: Vec<_> = records.iter().filter_map(record_key).collect();
                assert_eq!(entry.first_key.as_ref(), keys.first());
                assert_eq!(entry.last_key.as_ref(), keys.last());
                // Pull order: (created_date as an instant, id).
                let order: Vec<_> = records.iter().map(crate::workspace::pull_order).collect();
                assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{entity}");
                ids.insert(
                    entity.clone(),
                    records
                        .iter()
                        .filter_map(|record| record.get("id").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect(),
                );
                all.insert(entity.clone(), records);
            }
            assert_eq!(summary.records, 150 * manifest.entities.len() as u64);
            for table in output
                .target
                .tables
                .iter()
                .filter(|table| table.junction.is_none())
            {
                let records = all.get(&table.entity).cloned().unwrap_or_default();
                assert_eq!(ids.get(&table.entity).map(BTreeSet::len), Some(150));
                for record in &records {
                    for column in &table.columns {
                        let Some(field) = column.field.as_deref() else {
                            continue;
                        };
                        let value = record.get(field).filter(|value| !value.is_null());
                        let Some(value) = value else {
                            assert!(!column.not_null, "{}.{field} missing", table.entity);
                            continue;
                        };
                        if let Some(check) = &column.check {
                            let values: Vec<&Value> = match value {
                                Value::Array(items) if check.elements => items.iter().collect(),
                                scalar => vec![scalar],
                            };
                            for value in values {
                                assert!(
                                    check.allowed.contains(value),
                                    "{}.{field} = {value}",
                                    table.entity
                                );
                            }
                        }
                        let declared = output
                            .app
                            .entity(&table.entity)
                            .and_then(|entity| entity.field(field));
                        if let (Some(declared), Some(number)) = (declared, value.as_f64()) {
                            assert!(declared.minimum.is_none_or(|minimum| number >= minimum));
                            assert!(declared.maximum.is_none_or(|maximum| number <= maximum));
                        }
                        match (&column.pg_type, value) {
                            (PgType::Array(_), value) => assert!(value.is_array()),
                            (PgType::Boolean, value) => assert!(value.is_boolean()),
                            (pg_type, value) if pg_type.is_numeric() => {
                                assert!(value.is_number())
                            }
                            (PgType::Jsonb, _) => {}
                            (_, value) => assert!(value.is_string(), "{field}: {value}"),
                        }
                        if column.source == ColumnSource::BuiltIn(offbase_model::BuiltIn::Role) {
                            assert!(value.is_string());
                        }
                    }
                }
            }
            for key in &output.target.foreign_keys {
                for record in all.get(&key.entity).into_iter().flatten() {
                    if let Some(Value::String(id)) = record.get(&key.field) {
                        assert!(
                            ids.get(&key.target_entity)
                                .is_some_and(|ids| ids.contains(id)),
                            "{app}: {}.{} = {id} is an orphan",
                            key.entity,
                            key.field
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn skipped_entities_get_a_schema_and_no_data() {
        let rules = rules("[entities.Comment]\nskip = true\n");
        let counts = GenerateCounts::uniform(5).with("Comment", 10);
        let (folder, summary) = generate("tasks", &rules, &counts, 1, 100);
        assert_eq!(summary.skipped, ["Comment"]);
        assert!(folder.path().join("schemas/Comment.json").is_file());
        assert!(!folder.path().join("data/Comment").exists());
        assert!(folder.path().join("data/Task/part-00000.jsonl").is_file());
    }

    #[test]
    fn counts_for_unknown_entities_are_refused() {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let result = generate_workspace(
            &sample("tasks"),
            &rules(""),
            &GenerateCounts::uniform(1).with("Invoice", 3),
            0,
            &Workspace::new(folder.path()),
            100,
            &NoProgress,
        );
        match result {
            Err(PipelineError::Usage(message)) => assert!(message.contains("Invoice"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
