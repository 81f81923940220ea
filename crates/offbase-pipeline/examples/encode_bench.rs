//! The client side of a load alone, without a database: every staged line of one entity read,
//! parsed, converted and encoded as binary COPY rows, on one thread, as the loader's reader
//! thread does it. Prints records/s and µs per record, to see what the client costs apart from
//! PostgreSQL.
//!
//!     cargo run --release -p offbase-pipeline --example encode_bench -- WORKSPACE ENTITY

use offbase_copy::convert::{EntityConverter, Relax};
use offbase_pipeline::load::rows::{BinaryRows, LineOutcome, LineProcessor, RowEncoder};
use offbase_pipeline::plan::{load_rules, plan};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::workspace::duplicates::{Duplicates, find_duplicates};
use offbase_pipeline::workspace::parts::{PartReader, Position};
use offbase_pipeline::workspace::{Manifest, Workspace};
use std::collections::BTreeMap;
use std::time::Instant;

// The allocator of the `offbase` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [workspace, entity] = arguments.as_slice() else {
        return Err("usage: encode_bench WORKSPACE ENTITY".into());
    };
    let workspace = Workspace::new(workspace);
    let manifest: Manifest = workspace
        .read_json(&workspace.manifest_path())?
        .ok_or("no manifest.json")?;
    let entry = manifest.entities.get(entity).ok_or("no such entity")?;
    let output = plan(&workspace.schemas_dir(), &load_rules(None)?, &NoProgress)?;
    let table = output
        .target
        .table_for_entity(entity)
        .ok_or("the entity has no table")?;
    // Enum types get their OIDs from the database; a schema without them needs none.
    let enum_oids: BTreeMap<String, u32> = output
        .target
        .enum_types
        .iter()
        .zip(100_000u32..)
        .map(|(enum_type, oid)| (enum_type.name.clone(), oid))
        .collect();
    let part_files: Vec<String> = entry.parts.iter().map(|part| part.file.clone()).collect();

    let started = Instant::now();
    let duplicates: Duplicates = find_duplicates(&workspace, &entry.parts, &part_files)?;
    let scan = started.elapsed();

    let converter = EntityConverter::new(&output.target, table, Relax::default());
    let mut encoders: Vec<Box<dyn RowEncoder>> =
        vec![Box::new(BinaryRows::new(table, &enum_oids)?)];
    for junction in converter.junctions() {
        encoders.push(Box::new(BinaryRows::new(junction, &enum_oids)?));
    }
    let processor = LineProcessor {
        entity: entity.clone(),
        converter,
        encoders,
        duplicates,
        part_files,
        urls: None,
    };
    let started = Instant::now();
    let mut reader = PartReader::open(&workspace, &entry.parts, Position::default())?;
    let mut buffer = Vec::new();
    let (mut rows, mut rejects, mut bytes) = (0u64, 0u64, 0u64);
    while let Some((part, line)) = reader.next_line(&mut buffer)? {
        match processor.process(part, line, &buffer) {
            LineOutcome::Rows { tables, .. } => {
                rows += 1;
                bytes += tables.iter().map(|table| table.len() as u64).sum::<u64>();
            }
            LineOutcome::Rejected { .. } => rejects += 1,
        }
    }
    let encode = started.elapsed();
    let records = rows + rejects;
    println!(
        "{entity}: {records} records ({rows} rows, {rejects} rejects, {:.0} MiB encoded): \
         duplicate scan {:.2} s, encoding {:.2} s = {:.0} records/s, {:.2} µs a record",
        bytes as f64 / f64::from(1 << 20),
        scan.as_secs_f64(),
        encode.as_secs_f64(),
        records as f64 / encode.as_secs_f64(),
        encode.as_secs_f64() * 1e6 / records.max(1) as f64
    );
    Ok(())
}
