//! The rewrite of file URLs: the URL map `files copy --public-url` writes, applied to records
//! as they are converted (a load with `--rewrite-urls`, the sync, verify and diff, which then
//! agree with the rows), and to an already loaded target (`offbase files rewrite`): every
//! text, text[] and jsonb column of the plan's tables, read in id order, rewritten with the
//! same map and written back under a guard (a row changed since it was read is left alone),
//! so it can run twice. The remaining Base44 URLs of a target are what the cutover's file
//! gate counts.

use crate::PipelineError;
use crate::files::copy::UrlMap;
use crate::progress::Reporter;
use crate::target::{Opened, Target};
use crate::workspace::Workspace;
use offbase_base44::files::{UrlRewrite, find_hosted_files, may_hold_hosted_file};
use offbase_model::{BuiltIn, ColumnSource, PgType, Table};
use offbase_pg::PgConnection;
use offbase_pg::files::{TextColumn, TextKind, UrlTable, rows_naming_hosts, update_texts};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Rows read (and written back) at a time.
const PAGE_ROWS: i64 = 500;

/// Examples kept per column in a rewrite's summary and per gate.
pub const EXAMPLES: usize = 3;

/// The workspace's URL map (`files/url-map.json`).
pub fn read_url_map(workspace: &Workspace) -> Result<UrlRewrite, PipelineError> {
    Ok(UrlRewrite::new(read_url_map_file(workspace)?.urls))
}

/// `files/url-map.json` as the copy wrote it (the URLs, and where the copies went).
pub(crate) fn read_url_map_file(workspace: &Workspace) -> Result<UrlMap, PipelineError> {
    let path = workspace.files_dir().join("url-map.json");
    workspace
        .read_json(&path)?
        .ok_or_else(|| PipelineError::Workspace {
            path: path.clone(),
            message: "no URL map: run `offbase files copy --public-url URL` first".to_owned(),
        })
}

/// Rewrites every string of `record` through `urls`; the URLs replaced, per top-level field.
pub fn rewrite_record(urls: &UrlRewrite, record: &mut Map<String, Value>) -> Vec<(String, u64)> {
    let mut counts = Vec::new();
    for (field, value) in record.iter_mut() {
        let count = urls.rewrite_value(value);
        if count > 0 {
            counts.push((field.clone(), count as u64));
        }
    }
    counts
}

/// Whether a staged line may hold a URL the map rewrites (the fast paths that skip building
/// the record as a map must not take it).
pub fn line_may_be_rewritten(urls: Option<&UrlRewrite>, line: &[u8]) -> bool {
    urls.is_some_and(|urls| {
        !urls.is_empty() && may_hold_hosted_file(&String::from_utf8_lossy(line))
    })
}

/// One column a rewrite touched (or would touch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRewrite {
    pub table: String,
    pub column: String,
    /// Rows whose value changes.
    pub rows: u64,
    /// URLs replaced in them.
    pub urls: u64,
    /// Rows left alone because they changed between the read and the write.
    pub changed_meanwhile: u64,
    pub examples: Vec<UrlExample>,
}

/// A URL in a row, and what it becomes (`None`: the map has no copy of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlExample {
    pub id: String,
    pub url: String,
    pub new_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewriteSummary {
    pub pg_schema: String,
    pub dry_run: bool,
    /// URLs in the map.
    pub mapped: usize,
    pub columns: Vec<ColumnRewrite>,
    pub rows: u64,
    pub urls: u64,
}

/// The text-holding columns of a table (text, varchar, text[], json, jsonb) and its id column.
fn url_columns(table: &Table) -> Option<(&str, String, Vec<TextColumn>)> {
    let id = table
        .columns
        .iter()
        .find(|column| matches!(column.source, ColumnSource::BuiltIn(BuiltIn::Id)))?;
    let columns = table
        .columns
        .iter()
        .filter(|column| column.name != id.name)
        .filter_map(|column| {
            let kind = match &column.pg_type {
                PgType::Text | PgType::Varchar(_) => TextKind::Text,
                PgType::Jsonb => TextKind::Json,
                PgType::Json => TextKind::PlainJson,
                PgType::Array(element)
                    if matches!(**element, PgType::Text | PgType::Varchar(_)) =>
                {
                    TextKind::TextArray
                }
                _ => return None,
            };
            Some(TextColumn {
                name: column.name.clone(),
                kind,
            })
        })
        .collect();
    Some((id.name.as_str(), id.pg_type.sql(), columns))
}

/// `text` of a column of this kind rewritten through `urls`.
fn rewrite_column_text(urls: &UrlRewrite, kind: TextKind, text: &str) -> Option<(String, usize)> {
    match kind {
        TextKind::Text => urls.rewrite_text(text),
        TextKind::TextArray | TextKind::Json | TextKind::PlainJson => urls.rewrite_json_text(text),
    }
}

/// Rewrites the file URLs of every loaded table of `target` through the workspace's URL map
/// (with `dry_run`, counts and examples only). After a real run the load's settings say the
/// rows hold new URLs, so verify, diff and the sync rewrite the workspace's records too.
pub async fn rewrite_loaded(
    workspace: &Workspace,
    target: &Target,
    dry_run: bool,
    reporter: &dyn Reporter,
) -> Result<RewriteSummary, PipelineError> {
    let urls = read_url_map(workspace)?;
    let Opened {
        mut connection,
        target: settled,
        plan,
    } = target.open(workspace).await?;
    let mut summary = RewriteSummary {
        pg_schema: settled.pg_schema.clone(),
        dry_run,
        mapped: urls.len(),
        columns: Vec::new(),
        rows: 0,
        urls: 0,
    };
    let tables: Vec<&Table> = plan
        .target
        .tables
        .iter()
        .filter(|table| table.junction.is_none())
        .collect();
    let task = "rewrite";
    reporter.started(task, Some(tables.len() as u64));
    for table in tables {
        let Some((id_column, id_type, columns)) = url_columns(table) else {
            reporter.advanced(task, 1);
            continue;
        };
        let located = UrlTable {
            pg_schema: &settled.pg_schema,
            table: &table.name,
            id_column,
            id_type: &id_type,
        };
        let mut per_column: Vec<ColumnRewrite> = columns
            .iter()
            .map(|column| ColumnRewrite {
                table: table.name.clone(),
                column: column.name.clone(),
                rows: 0,
                urls: 0,
                changed_meanwhile: 0,
                examples: Vec::new(),
            })
            .collect();
        let mut after: Option<String> = None;
        loop {
            let page = rows_naming_hosts(
                &mut connection,
                &located,
                &columns,
                after.as_deref(),
                PAGE_ROWS,
            )
            .await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            let mut updates: Vec<Vec<(String, String, String)>> = vec![Vec::new(); columns.len()];
            for (id, texts) in &page {
                for (index, (column, text)) in columns.iter().zip(texts).enumerate() {
                    let Some(text) = text else { continue };
                    let Some((new, count)) = rewrite_column_text(&urls, column.kind, text) else {
                        continue;
                    };
                    let (Some(counts), Some(pending)) =
                        (per_column.get_mut(index), updates.get_mut(index))
                    else {
                        continue;
                    };
                    counts.rows += 1;
                    counts.urls += count as u64;
                    if counts.examples.len() < EXAMPLES
                        && let Some((_, file)) = find_hosted_files(text)
                            .into_iter()
                            .find(|(_, file)| urls.get(&file.url).is_some())
                    {
                        counts.examples.push(UrlExample {
                            id: id.clone(),
                            new_url: urls.get(&file.url).map(str::to_owned),
                            url: file.url,
                        });
                    }
                    pending.push((id.clone(), text.clone(), new));
                }
            }
            if !dry_run {
                let mut transaction = offbase_pg::begin(&mut connection).await?;
                for ((column, pending), counts) in
                    columns.iter().zip(&updates).zip(per_column.iter_mut())
                {
                    let written = update_texts(&mut transaction, &located, column, pending).await?;
                    counts.changed_meanwhile += (pending.len() as u64).saturating_sub(written);
                }
                offbase_pg::commit(transaction).await?;
            }
            if (page.len() as i64) < PAGE_ROWS {
                break;
            }
        }
        for counts in per_column {
            if counts.rows > 0 {
                summary.rows += counts.rows;
                summary.urls += counts.urls;
                summary.columns.push(counts);
            }
        }
        reporter.advanced(task, 1);
    }
    reporter.finished(task);
    if !dry_run && !settled.rewrite_urls {
        let mut rewritten = settled.clone();
        rewritten.rewrite_urls = true;
        offbase_pg::load::write_settings(
            &mut connection,
            &settled.pg_schema,
            &rewritten.settings(),
        )
        .await?;
    }
    Ok(summary)
}

/// Base44 file URLs still in a loaded target: how many values hold one, and the first few.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemainingUrls {
    /// Values (row and column) holding at least one, per `table.column`.
    pub values: BTreeMap<String, u64>,
    pub examples: Vec<RemainingUrl>,
}

impl RemainingUrls {
    pub fn total(&self) -> u64 {
        self.values.values().sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemainingUrl {
    pub table: String,
    pub column: String,
    pub id: String,
    pub url: String,
}

/// Every value of the loaded tables of `target` that still points at Base44's storage.
pub async fn remaining_in_target(
    workspace: &Workspace,
    target: &Target,
    examples: usize,
) -> Result<RemainingUrls, PipelineError> {
    let Opened {
        mut connection,
        target: settled,
        plan,
    } = target.open(workspace).await?;
    remaining_urls(
        &mut connection,
        &settled.pg_schema,
        &plan.target.tables,
        examples,
    )
    .await
}

/// Every value of the plan's tables that still points at Base44's storage.
pub(crate) async fn remaining_urls(
    connection: &mut PgConnection,
    pg_schema: &str,
    tables: &[Table],
    examples: usize,
) -> Result<RemainingUrls, PipelineError> {
    let mut remaining = RemainingUrls::default();
    for table in tables.iter().filter(|table| table.junction.is_none()) {
        let Some((id_column, id_type, columns)) = url_columns(table) else {
            continue;
        };
        let located = UrlTable {
            pg_schema,
            table: &table.name,
            id_column,
            id_type: &id_type,
        };
        let mut after: Option<String> = None;
        loop {
            let page =
                rows_naming_hosts(connection, &located, &columns, after.as_deref(), PAGE_ROWS)
                    .await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            for (id, texts) in &page {
                for (column, text) in columns.iter().zip(texts) {
                    let Some(text) = text else { continue };
                    let Some((_, file)) = find_hosted_files(text).into_iter().next() else {
                        continue;
                    };
                    *remaining
                        .values
                        .entry(format!("{}.{}", table.name, column.name))
                        .or_default() += 1;
                    if remaining.examples.len() < examples {
                        remaining.examples.push(RemainingUrl {
                            table: table.name.clone(),
                            column: column.name.clone(),
                            id: id.clone(),
                            url: file.url,
                        });
                    }
                }
            }
            if (page.len() as i64) < PAGE_ROWS {
                break;
            }
        }
    }
    Ok(remaining)
}
