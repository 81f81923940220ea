//! The locks stages take, so two runs never write one target schema or one workspace at once:
//! the target lock (a PostgreSQL advisory lock per schema: sync passes and the cutover wait for
//! it, saying who holds it; a load refuses) and the workspace lock (a lock file). A run names
//! itself (what, pid, host, since when) so another can say whom it found.

use crate::PipelineError;
use crate::progress::Reporter;
use offbase_pg::PgConnection;
use offbase_pg::cutover as pg_cutover;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a waiting run says again what it waits for.
pub const NOTICE_EVERY: Duration = Duration::from_secs(5);

/// How a run describes itself to PostgreSQL and in the records it leaves:
/// `offbase sync, pid 1234 on host, since 13:45:02Z`.
pub fn run_name(purpose: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "this machine".to_owned());
    let host: String = host
        .chars()
        .filter(|character| !character.is_control())
        .take(24)
        .collect();
    format!(
        "offbase {purpose}, pid {} on {host}, since {}",
        std::process::id(),
        chrono::Utc::now().format("%H:%M:%SZ")
    )
}

/// Takes the target lock of `pg_schema` on `connection` for `purpose`, waiting while another
/// run holds it and saying who, at the start and every [`NOTICE_EVERY`].
pub async fn lock_target(
    connection: &mut PgConnection,
    pg_schema: &str,
    purpose: &str,
    reporter: &dyn Reporter,
) -> Result<(), PipelineError> {
    let who = run_name(purpose);
    let started = Instant::now();
    let mut last_notice: Option<Instant> = None;
    loop {
        let Some(holder) = pg_cutover::try_lock_target(connection, pg_schema, &who).await? else {
            if last_notice.is_some() {
                reporter.message(&format!(
                    "schema {pg_schema:?} is free after {:.0} s: the {purpose} goes on",
                    started.elapsed().as_secs_f64()
                ));
            }
            return Ok(());
        };
        if last_notice.is_none_or(|at| at.elapsed() >= NOTICE_EVERY) {
            reporter.message(&if last_notice.is_none() {
                format!(
                    "waiting for schema {pg_schema:?}: {holder} is working on it (the {purpose} starts when it is done)"
                )
            } else {
                format!(
                    "still waiting for schema {pg_schema:?} ({:.0} s): {holder} is working on it",
                    started.elapsed().as_secs_f64()
                )
            });
            last_notice = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The lock of a workspace folder: an exclusive lock on `<workspace>/.offbase.lock` (released by
/// the operating system when the process ends, however it ends), holding the run's name for
/// whoever finds it taken. Stages that write a workspace's records or reports take it; one
/// process may take it again for a stage inside another (`migrate` runs `pull` and `load`).
#[derive(Debug)]
pub struct WorkspaceLock {
    key: PathBuf,
    file: Option<std::fs::File>,
}

/// Workspaces this process holds, with how many guards each.
static HELD: Mutex<BTreeMap<PathBuf, usize>> = Mutex::new(BTreeMap::new());

/// The name of the lock file in a workspace.
pub const WORKSPACE_LOCK_FILE: &str = ".offbase.lock";

/// Takes the lock of `workspace` for `purpose`, or says who holds it.
pub fn lock_workspace(
    workspace: &crate::workspace::Workspace,
    purpose: &str,
) -> Result<WorkspaceLock, PipelineError> {
    let root = workspace.root();
    std::fs::create_dir_all(root).map_err(|error| PipelineError::io(root, error))?;
    let key = root
        .canonicalize()
        .map_err(|error| PipelineError::io(root, error))?;
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(count) = held.get_mut(&key) {
        *count += 1;
        return Ok(WorkspaceLock { key, file: None });
    }
    let path = key.join(WORKSPACE_LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|error| PipelineError::io(&path, error))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            // The holder writes its name just after taking the lock: give it a moment.
            let mut holder = String::new();
            for _ in 0..20 {
                holder.clear();
                let _ = std::io::Seek::rewind(&mut file);
                let _ = file.read_to_string(&mut holder);
                if !holder.trim().is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let holder = holder.trim();
            return Err(PipelineError::Busy {
                what: format!("workspace {}", root.display()),
                holder: if holder.is_empty() {
                    "another offbase run".to_owned()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(std::fs::TryLockError::Error(error)) => return Err(PipelineError::io(&path, error)),
    }
    // Who holds it, for a run that finds it taken (the lock, not this text, is what counts).
    let _ = file.set_len(0);
    let _ = file.write_all(run_name(purpose).as_bytes());
    let _ = file.flush();
    held.insert(key.clone(), 1);
    Ok(WorkspaceLock {
        key,
        file: Some(file),
    })
}

impl Drop for WorkspaceLock {
    fn drop(&mut self) {
        // The holder's name is for the time it holds the lock: emptied on release, so a
        // workspace left behind is the same bytes whoever staged it, and when.
        if let Some(file) = &self.file {
            let _ = file.set_len(0);
        }
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Takes the target lock of `pg_schema` for `purpose`, or says who holds it: for runs that
/// should not wait (a load: another one is already moving the same rows).
pub async fn refuse_if_target_busy(
    connection: &mut PgConnection,
    pg_schema: &str,
    purpose: &str,
) -> Result<(), PipelineError> {
    match pg_cutover::try_lock_target(connection, pg_schema, &run_name(purpose)).await? {
        None => Ok(()),
        Some(holder) => Err(PipelineError::Busy {
            what: format!("schema {pg_schema:?}"),
            holder: holder.to_string(),
        }),
    }
}
