//! The bundle: a load written as one self-contained SQL file instead of run against a server,
//! for when there is no database at hand. `psql -v ON_ERROR_STOP=1 -f offbase-bundle.sql`
//! applies it in one transaction: the tables, one `COPY ... FROM stdin` block per table, then
//! primary keys, the relaxed constraints the data allows, indexes, foreign keys `NOT VALID` and
//! a validation of each one that finds no orphans, and last the access rules (row level
//! security), as a live load runs them. Records are converted exactly as a live load converts
//! them, and rejected into the same reject files.

use crate::PipelineError;
use crate::load::EntityLoadSummary;
use crate::load::rows::{LineOutcome, LineProcessor, RowEncoder, TextRows};
use crate::plan::plan_workspace;
use crate::progress::Reporter;
use crate::workspace::duplicates::find_duplicates;
use crate::workspace::parts::{PartReader, Position};
use crate::workspace::rejects::rejects_path;
use crate::workspace::{Manifest, Workspace};
use offbase_copy::convert::{ConstraintKind, EntityConverter, RejectReason, Relax};
use offbase_model::Table;
use offbase_sql::{RlsMode, quote_identifier, render_for_load};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BundleOptions {
    pub pg_schema: String,
    pub mappings: Option<crate::target::MappingFile>,
    pub relax: Relax,
    /// Rewrite file URLs through the workspace's `files/url-map.json`.
    pub rewrite_urls: bool,
    /// Enforce the app's access rules with row level security (`--rls`).
    pub rls: RlsMode,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleSummary {
    pub bundle: String,
    pub bytes: u64,
    pub pg_schema: String,
    pub entities: Vec<EntityLoadSummary>,
    pub seconds: f64,
}

/// Writes the bundle of `workspace` to `path` (atomically: a temporary file renamed at the end),
/// with the app's access rules enforced unless `options.rls` is off.
pub fn write_bundle(
    workspace: &Workspace,
    options: &BundleOptions,
    path: &Path,
    reporter: &dyn Reporter,
) -> Result<BundleSummary, PipelineError> {
    let rls = options.rls;
    let started = Instant::now();
    let manifest: Manifest = workspace
        .read_json(&workspace.manifest_path())?
        .ok_or_else(|| PipelineError::NotStaged {
            path: workspace.root().to_path_buf(),
        })?;
    let output = plan_workspace(workspace, options.mappings.as_ref(), reporter)?;
    let target = &output.target;
    let load_sql = render_for_load(target, options.relax);

    let temporary = path.with_extension("sql.partial");
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        fs::create_dir_all(parent).map_err(|error| PipelineError::io(parent, error))?;
    }
    let file = File::create(&temporary).map_err(|error| PipelineError::io(&temporary, error))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let io = |error: std::io::Error| PipelineError::io(&temporary, error);

    let schema = quote_identifier(&options.pg_schema);
    writeln!(
        out,
        "-- offbase bundle: the Base44 app {} as PostgreSQL tables and data.\n\
         -- Apply it into an empty schema with: psql -v ON_ERROR_STOP=1 -f {}\n\
         -- It runs in one transaction; rejected records are in reports/rejects/ beside the workspace.\n\
         SET client_encoding = 'UTF8';\n\
         SET standard_conforming_strings = on;\n\
         BEGIN;\n\
         CREATE SCHEMA IF NOT EXISTS {schema};\n\
         SET LOCAL search_path TO {schema};\n",
        offbase_sql::comment_safe(&target.app),
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    )
    .map_err(io)?;
    for statement in &load_sql.tables {
        writeln!(out, "{statement};\n").map_err(io)?;
    }

    let rejects_folder = workspace.rejects_dir();
    match fs::remove_dir_all(&rejects_folder) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(PipelineError::io(&rejects_folder, error)),
    }
    let urls = match options.rewrite_urls {
        true => Some(std::sync::Arc::new(crate::files::rewrite::read_url_map(
            workspace,
        )?)),
        false => None,
    };
    let mut entities = Vec::new();
    let mut broken: BTreeSet<(String, String, ConstraintKind)> = BTreeSet::new();
    for (entity, entry) in &manifest.entities {
        let entity_started = Instant::now();
        let Some(table) = target.table_for_entity(entity) else {
            reporter.message(&format!(
                "{entity}: no table (the mapping skips it): its {} staged records are not in the bundle",
                entry.records
            ));
            continue;
        };
        reporter.started(entity, Some(entry.records));
        let part_files: Vec<String> = entry.parts.iter().map(|part| part.file.clone()).collect();
        let duplicates = find_duplicates(workspace, &entry.parts, &part_files)?;
        let converter = EntityConverter::new(target, table, options.relax);
        let mut encoders: Vec<Box<dyn RowEncoder>> = vec![Box::new(TextRows::new(table))];
        for junction in converter.junctions() {
            encoders.push(Box::new(TextRows::new(junction)));
        }
        let processor = LineProcessor {
            entity: entity.clone(),
            converter,
            encoders,
            duplicates,
            part_files,
            urls: urls.clone(),
        };
        let junctions: Vec<&Table> = processor.converter.junctions().to_vec();
        let mut junction_rows: Vec<Vec<u8>> = vec![Vec::new(); junctions.len()];
        let reject_path = rejects_path(workspace, entity);
        let mut rejects: Option<BufWriter<File>> = None;
        let mut summary = EntityLoadSummary::empty(entity, Some(table.name.clone()), entry.records);
        writeln!(out, "{} FROM stdin;", copy_head(table)).map_err(io)?;
        let mut reader = PartReader::open(workspace, &entry.parts, Position::default())?;
        let mut buffer = Vec::new();
        let mut since_report = 0u64;
        while let Some((part, line)) = reader.next_line(&mut buffer)? {
            summary.read += 1;
            summary.bytes += buffer.len() as u64;
            since_report += 1;
            if since_report == 10_000 {
                reporter.advanced(entity, since_report);
                since_report = 0;
            }
            match processor.process(part, line, &buffer) {
                LineOutcome::Rows {
                    tables,
                    junction_rows: count,
                    relaxed,
                    rewritten,
                } => {
                    summary.loaded += 1;
                    for (field, count) in rewritten {
                        *summary.urls_rewritten.entry(field).or_default() += count;
                    }
                    summary.junction_rows += count;
                    let mut tables = tables.into_iter();
                    if let Some(row) = tables.next() {
                        out.write_all(&row).map_err(io)?;
                    }
                    for (collected, rows) in junction_rows.iter_mut().zip(tables) {
                        collected.extend_from_slice(&rows);
                    }
                    for (column, kind) in relaxed {
                        broken.insert((table.name.clone(), column, kind));
                    }
                }
                LineOutcome::Rejected { reason, line } => {
                    summary.rejected += 1;
                    if reason == RejectReason::DuplicateId {
                        summary.duplicates += 1;
                    }
                    *summary.reasons.entry(reason.code().to_owned()).or_default() += 1;
                    if rejects.is_none() {
                        if let Some(parent) = reject_path.parent() {
                            fs::create_dir_all(parent)
                                .map_err(|error| PipelineError::io(parent, error))?;
                        }
                        rejects = Some(BufWriter::new(
                            File::create(&reject_path)
                                .map_err(|error| PipelineError::io(&reject_path, error))?,
                        ));
                    }
                    if let Some(rejects) = rejects.as_mut() {
                        rejects
                            .write_all(&line)
                            .map_err(|error| PipelineError::io(&reject_path, error))?;
                    }
                }
            }
        }
        writeln!(out, "\\.\n").map_err(io)?;
        for (junction, rows) in junctions.iter().zip(&junction_rows) {
            writeln!(out, "{} FROM stdin;", copy_head(junction)).map_err(io)?;
            out.write_all(rows).map_err(io)?;
            writeln!(out, "\\.\n").map_err(io)?;
        }
        if let Some(mut rejects) = rejects {
            rejects
                .flush()
                .map_err(|error| PipelineError::io(&reject_path, error))?;
        }
        reporter.advanced(entity, since_report);
        reporter.finished(entity);
        summary.seconds = entity_started.elapsed().as_secs_f64();
        entities.push(summary);
    }

    writeln!(
        out,
        "-- After the data: keys, constraints, indexes, foreign keys."
    )
    .map_err(io)?;
    for key in &load_sql.primary_keys {
        writeln!(out, "{};\n{};", key.index, key.sql).map_err(io)?;
    }
    for constraint in &load_sql.relaxed {
        let key = (
            constraint.table.clone(),
            constraint.column.clone(),
            constraint.kind,
        );
        if broken.contains(&key) {
            writeln!(
                out,
                "-- {}.{}: left relaxed, some rows break it",
                constraint.table, constraint.column
            )
            .map_err(io)?;
        } else {
            writeln!(out, "{};", constraint.sql).map_err(io)?;
        }
    }
    for index in &load_sql.indexes {
        writeln!(out, "{index};").map_err(io)?;
    }
    for (key, constraint) in target.foreign_keys.iter().zip(&load_sql.foreign_keys) {
        writeln!(out, "{};", constraint.sql).map_err(io)?;
        // Validate only where no row references a missing one; otherwise the key stays NOT VALID.
        writeln!(
            out,
            "DO $offbase$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM {table} child WHERE child.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target} parent WHERE parent.{target_column} = child.{column})) THEN\n    ALTER TABLE {table} VALIDATE CONSTRAINT {name};\n  END IF;\nEND $offbase$;",
            table = quote_identifier(&key.table),
            column = quote_identifier(&key.column),
            target = quote_identifier(&key.target_table),
            target_column = quote_identifier(&key.target_column),
            name = quote_identifier(&key.name),
        )
        .map_err(io)?;
    }
    // Planned with offbase's dialect; `--rls supabase` translates the rules again, `off`
    // leaves them out.
    let access = output.access_rules_in(rls);
    if !access.is_empty() {
        writeln!(
            out,
            "-- Last: the access rules (roles, functions, privileges, one policy per operation){}.",
            match rls {
                RlsMode::Supabase => ", for a Supabase database",
                RlsMode::On | RlsMode::Off => "",
            }
        )
        .map_err(io)?;
    }
    for statement in &access {
        writeln!(out, "{statement};").map_err(io)?;
    }
    writeln!(out, "COMMIT;").map_err(io)?;
    for table in &target.tables {
        writeln!(out, "ANALYZE {schema}.{};", quote_identifier(&table.name)).map_err(io)?;
    }
    let file = out
        .into_inner()
        .map_err(|error| PipelineError::io(&temporary, error.into_error()))?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    drop(file);
    fs::rename(&temporary, path).map_err(|error| PipelineError::io(path, error))?;
    Ok(BundleSummary {
        bundle: path.display().to_string(),
        bytes,
        pg_schema: options.pg_schema.clone(),
        entities,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn copy_head(table: &Table) -> String {
    format!(
        "COPY {} ({})",
        quote_identifier(&table.name),
        table
            .columns
            .iter()
            .map(|column| quote_identifier(&column.name))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
