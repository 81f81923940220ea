//! Undoing a cutover (`offbase cutover --undo`): the mark lifted for a rollback or a second
//! attempt, after counting the rows the new backend wrote since the switch.

use crate::PipelineError;
use crate::plan::plan_workspace;
use crate::progress::{NoProgress, Reporter};
use crate::target::Target;
use crate::workspace::Workspace;
use offbase_model::BuiltIn;
use serde::{Deserialize, Serialize};

/// What undoing a switch found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoReport {
    pub pg_schema: String,
    /// The switch that was undone.
    pub switched_at: String,
    pub switched_by: String,
    /// Per table, the rows the new backend wrote after the switch (by `updated_date`).
    pub written_after_switch: Vec<(String, i64)>,
    /// Whether the mark was lifted.
    pub undone: bool,
}

/// Lifts the cutover mark of the schema, for a rollback or a second attempt: syncs may run
/// again. Rows the new backend wrote after the switch would be overwritten or deleted by the
/// next sync, so they are counted first, and while any exist the mark stays unless
/// `discard_new_writes` says they were exported (or are to be lost).
pub async fn undo(
    workspace: &Workspace,
    target: &Target,
    discard_new_writes: bool,
    reporter: &dyn Reporter,
) -> Result<UndoReport, PipelineError> {
    let pg_schema = target.pg_schema.as_str();
    let mut connection = offbase_pg::connect(&target.database_url).await?;
    let Some(mark) = offbase_pg::cutover::read_mark(&mut connection, pg_schema).await? else {
        return Err(PipelineError::NotCutOver {
            pg_schema: pg_schema.to_owned(),
        });
    };
    crate::lock::lock_target(&mut connection, pg_schema, "cutover --undo", reporter).await?;
    let target = target.settled(&mut connection).await?;
    let output = plan_workspace(workspace, target.mappings.as_ref(), &NoProgress)?;
    let mut written = Vec::new();
    let catalog = offbase_pg::introspect(&mut connection, pg_schema).await?;
    for table in output
        .target
        .tables
        .iter()
        .filter(|table| table.junction.is_none() && catalog.tables.contains_key(&table.name))
    {
        let Some(version) = table.column_for_field(BuiltIn::UpdatedDate.field_name()) else {
            continue;
        };
        let count = offbase_pg::cutover::rows_changed_after(
            &mut connection,
            pg_schema,
            &table.name,
            &version.name,
            &mark.at,
        )
        .await?;
        if count > 0 {
            written.push((table.name.clone(), count));
        }
    }
    let undone = written.is_empty() || discard_new_writes;
    if undone {
        offbase_pg::cutover::undo_mark(
            &mut connection,
            pg_schema,
            &crate::lock::run_name("cutover --undo"),
        )
        .await?;
    }
    offbase_pg::cutover::unlock_target(&mut connection, pg_schema).await?;
    Ok(UndoReport {
        pg_schema: pg_schema.to_owned(),
        switched_at: mark.at,
        switched_by: mark.by,
        written_after_switch: written,
        undone,
    })
}
