//! The sync's lag over time, for the report page's chart: after every pass one line in
//! `reports/sync-lag.jsonl`, `{"at": "2026-...Z", "lag_seconds": {"Task": 1.2, ...}}` (each
//! entity's seconds between its newest applied change and the end of the pass). A sync runs for
//! days during a cutover period, a pass a second: the file keeps at most [`MAX_POINTS`] lines,
//! and past that every other line is dropped, so the chart still spans the whole period at half
//! the resolution and the file stays a few hundred kilobytes.

use crate::PipelineError;
use crate::sync::SyncSummary;
use crate::workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The file, in the workspace's reports folder.
pub const LAG_FILE: &str = "sync-lag.jsonl";

/// The most passes the file keeps.
pub const MAX_POINTS: usize = 2_000;

/// One pass: when it ended and each entity's lag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagPoint {
    pub at: String,
    pub lag_seconds: BTreeMap<String, f64>,
}

/// Where the lag of `workspace`'s syncs is kept.
pub fn lag_file(workspace: &Workspace) -> PathBuf {
    workspace.reports_dir().join(LAG_FILE)
}

/// Adds the pass `summary` ended at `at`; returns how many passes the file now holds.
pub fn record_pass(
    workspace: &Workspace,
    summary: &SyncSummary,
    at: &str,
) -> Result<usize, PipelineError> {
    let point = LagPoint {
        at: at.to_owned(),
        lag_seconds: summary
            .entities
            .iter()
            .filter_map(|entity| Some((entity.entity.clone(), entity.lag_seconds?)))
            .collect(),
    };
    append(&lag_file(workspace), &point, MAX_POINTS)
}

/// Appends `point`, then thins the file to at most `most` lines.
fn append(path: &Path, point: &LagPoint, most: usize) -> Result<usize, PipelineError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| PipelineError::io(parent, error))?;
    }
    let mut line = serde_json::to_string(point)
        .map_err(|error| PipelineError::io(path, std::io::Error::other(error)))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|error| PipelineError::io(path, error))?;
    // After a line a crash cut short, the new one starts on a line of its own.
    if ends_mid_line(&mut file).map_err(|error| PipelineError::io(path, error))? {
        line.insert(0, '\n');
    }
    file.write_all(line.as_bytes())
        .map_err(|error| PipelineError::io(path, error))?;
    drop(file);
    let points = read_lag(path)?;
    if points.len() <= most {
        return Ok(points.len());
    }
    // Every other pass, the newest always kept: the whole period at half the resolution.
    let newest = points.len() - 1;
    let kept: Vec<&LagPoint> = points
        .iter()
        .enumerate()
        .filter(|(index, _)| (newest - index) % 2 == 0)
        .map(|(_, point)| point)
        .collect();
    let mut text = String::new();
    for point in &kept {
        if let Ok(line) = serde_json::to_string(point) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    crate::workspace::files::write_atomic(path, text.as_bytes())?;
    Ok(kept.len())
}

/// Whether the file's last byte is not a line break (a torn last line).
fn ends_mid_line(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The passes the file holds, oldest first (none when there is no file); a line that does not
/// read (a pass cut off by a crash) is skipped.
pub fn read_lag(path: &Path) -> Result<Vec<LagPoint>, PipelineError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(PipelineError::io(path, error)),
    };
    let mut points = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|error| PipelineError::io(path, error))?;
        if let Ok(point) = serde_json::from_str::<LagPoint>(&line) {
            points.push(point);
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(second: usize) -> LagPoint {
        LagPoint {
            at: format!("2026-12-05T10:00:{second:02}Z"),
            lag_seconds: BTreeMap::from([("Task".to_owned(), second as f64)]),
        }
    }

    #[test]
    fn past_its_most_lines_the_file_keeps_every_other_pass_and_the_newest() {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = folder.path().join("reports").join(LAG_FILE);
        for second in 0..6 {
            let held = append(&path, &point(second), 6).unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(held, second + 1);
        }
        // The seventh pass: 7 lines, thinned to the 4 of even distance from the newest.
        let held = append(&path, &point(6), 6).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(held, 4);
        let seconds: Vec<f64> = read_lag(&path)
            .unwrap_or_else(|error| panic!("{error}"))
            .iter()
            .map(|point| point.lag_seconds["Task"])
            .collect();
        assert_eq!(seconds, [0.0, 2.0, 4.0, 6.0]);
        // A torn last line (a crash mid-write) is skipped, not fatal.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("{error}"));
        let _ = file.write_all(b"{\"at\": \"2026-12-05T10:");
        assert_eq!(read_lag(&path).map(|points| points.len()).ok(), Some(4));
        // And the next pass after it is read.
        let held = append(&path, &point(7), 6).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(held, 5);
    }
}
