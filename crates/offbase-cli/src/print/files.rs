//! What `offbase files` prints.

use offbase_pipeline::files::copy::CopySummary;
use offbase_pipeline::files::rewrite::RewriteSummary;
use offbase_pipeline::files::scan::ScanSummary;

pub fn files_scan(summary: &ScanSummary) {
    outcome!(
        "{} files on Base44's storage ({} private): {} references in records, {} in code.",
        summary.files,
        summary.private_files,
        summary.record_references,
        summary.code_references
    );
    if !summary.fields.is_empty() {
        let entity_width = summary
            .fields
            .iter()
            .map(|field| field.entity.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let field_width = summary
            .fields
            .iter()
            .map(|field| field.field.len())
            .max()
            .unwrap_or(5)
            .max(5);
        say!(
            "{:<entity_width$}  {:<field_width$}  {:>10}  {:>6}",
            "entity",
            "field",
            "references",
            "files"
        );
        for field in &summary.fields {
            say!(
                "{:<entity_width$}  {:<field_width$}  {:>10}  {:>6}",
                field.entity,
                field.field,
                field.references,
                field.files
            );
        }
    }
    say!("Manifest: {}", summary.manifest);
}

pub fn files_copy(summary: &CopySummary) {
    outcome!(
        "{} files to {}: {} copied ({} bytes), {} already there, {} rejected, {} private not copied, in {}.",
        summary.files,
        summary.destination,
        summary.copied,
        summary.bytes,
        summary.already_there,
        summary.rejected,
        summary.private_skipped,
        super::human_seconds(summary.seconds)
    );
    if let Some(path) = &summary.url_map {
        say!("URL map (old URL → the copy's): {path}");
    }
    if let Some(path) = &summary.rejects_file {
        say!("Rejected files, with the records that point at them: {path}");
    }
}

pub fn files_rewrite(summary: &RewriteSummary) {
    outcome!(
        "{} {} URLs in {} values of schema {} through a map of {} URLs{}.",
        if summary.dry_run {
            "Would rewrite"
        } else {
            "Rewrote"
        },
        summary.urls,
        summary.rows,
        summary.pg_schema,
        summary.mapped,
        if summary.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    if summary.columns.is_empty() {
        return;
    }
    let column_width = summary
        .columns
        .iter()
        .map(|column| column.table.len() + 1 + column.column.len())
        .max()
        .unwrap_or(6)
        .max(6);
    say!("{:<column_width$}  {:>6}  {:>6}", "column", "rows", "URLs");
    for column in &summary.columns {
        say!(
            "{:<column_width$}  {:>6}  {:>6}",
            format!("{}.{}", column.table, column.column),
            column.rows,
            column.urls
        );
    }
    say!("For example:");
    for column in &summary.columns {
        for example in &column.examples {
            say!(
                "  {}.{} of {}: {} → {}",
                column.table,
                column.column,
                example.id,
                example.url,
                example.new_url.as_deref().unwrap_or("(kept)")
            );
        }
    }
    let changed: u64 = summary
        .columns
        .iter()
        .map(|column| column.changed_meanwhile)
        .sum();
    if changed > 0 {
        say!(
            "{changed} values changed while they were rewritten and were left alone: run it again."
        );
    }
}
