//! The generate stage: a workspace of plausible records for an app's schemas, in exactly the
//! layout and order a pull writes, for load tests and benchmarks. The records come from the
//! seeded [`Generator`] (in `generator`, `specs`, `values` and `vocabulary`) and stream to the
//! part files in chunks, so a million records never sit in memory.

mod generator;
mod random;
mod specs;
#[cfg(test)]
mod tests;
mod values;
mod vocabulary;

pub use generator::{EntityGenerator, GenerateCounts, GenerateError, Generator};
pub use random::{BASE_SECONDS, SPAN_SECONDS, STEP_SECONDS};

use crate::PipelineError;
use crate::progress::Reporter;
use crate::workspace::{
    PartWriter, SourceInfo, Workspace, WriterPosition, canonical_record, entity_manifest,
    record_key,
};
use offbase_model::MappingRules;
use serde::Serialize;
use serde_json::{Map, Value};
use std::ops::Range;
use std::path::Path;
use std::time::Instant;

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
    let generator = Generator::new(&output.app, &output.target, counts, seed)?;
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
