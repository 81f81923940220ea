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

/// How many times a lock whose file names no holder is tried (20 ms apart) before it is
/// taken for another run's.
const UNNAMED_LOCK_ATTEMPTS: u32 = 50;

/// The run a taken lock file names: the holder writes its name just after taking the lock,
/// so an empty file is read again for a moment.
fn lock_holder(file: &mut std::fs::File) -> String {
    let mut holder = String::new();
    for _ in 0..5 {
        holder.clear();
        let _ = std::io::Seek::rewind(file);
        let _ = file.read_to_string(&mut holder);
        if !holder.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    holder.trim().to_owned()
}

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
    // A lock whose file names no holder is a lock on its way out: released by a run that
    // empties the file first, or this process's own, still open for a moment in a child
    // process between its fork and its exec (a test runner starting `psql` on another
    // thread). It is tried again for a while; a lock whose file names a run is refused at once.
    let mut attempts = 0;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = lock_holder(&mut file);
                attempts += 1;
                if holder.is_empty() && attempts < UNNAMED_LOCK_ATTEMPTS {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                return Err(PipelineError::Busy {
                    what: format!("workspace {}", root.display()),
                    holder: if holder.is_empty() {
                        "another offbase run".to_owned()
                    } else {
                        holder
                    },
                });
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(PipelineError::io(&path, error));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a users export failed in CI with "another offbase run holds workspace":
    /// the previous run's lock, released, was still held for a moment by a child process
    /// another test thread was starting (the descriptor lives on between fork and exec).
    #[test]
    fn a_released_lock_still_open_in_a_child_process_was_taken_for_another_run() {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let workspace = crate::workspace::Workspace::new(folder.path().join("ws"));
        drop(lock_workspace(&workspace, "first").unwrap_or_else(|error| panic!("{error}")));
        // The child's copy: the same file, locked, naming no one, let go 150 ms later.
        let path = folder.path().join("ws").join(WORKSPACE_LOCK_FILE);
        let inherited = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("{error}"));
        inherited.lock().unwrap_or_else(|error| panic!("{error}"));
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            drop(inherited);
        });
        let taken = lock_workspace(&workspace, "second");
        let _ = releaser.join();
        assert!(taken.is_ok(), "{:?}", taken.err());
    }

    #[test]
    fn a_lock_naming_its_run_is_refused_at_once_with_its_name() {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let workspace = crate::workspace::Workspace::new(folder.path().join("ws"));
        drop(lock_workspace(&workspace, "first").unwrap_or_else(|error| panic!("{error}")));
        let path = folder.path().join("ws").join(WORKSPACE_LOCK_FILE);
        let mut other = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("{error}"));
        other.lock().unwrap_or_else(|error| panic!("{error}"));
        let _ = other.write_all(b"offbase pull, pid 1 on elsewhere, since 10:00:00Z");
        let started = Instant::now();
        let refused = lock_workspace(&workspace, "second");
        assert!(started.elapsed() < Duration::from_millis(500));
        match refused {
            Err(PipelineError::Busy { holder, .. }) => {
                assert_eq!(holder, "offbase pull, pid 1 on elsewhere, since 10:00:00Z");
            }
            other => panic!("{:?}", other.err()),
        }
    }
}
