//! The values that occur more than once in a stream of 64-bit hashes, in bounded memory: up
//! to [`CHUNK`] values are sorted in memory; past that each full chunk is sorted and written
//! to a run file in the system's temporary folder, and the runs are merged, reading each
//! through a small buffer. The duplicate-id scan of the load, the bundle, verify and diff
//! uses it for the ids' hashes, so their memory no longer grows by 8 bytes a record.

use crate::PipelineError;
use std::collections::{BinaryHeap, HashSet};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Values held in memory before a run is written (8 MiB).
pub const CHUNK: usize = 1 << 20;
const RUN_BUFFER: usize = 16 << 10;

static FOLDERS: AtomicU64 = AtomicU64::new(0);

/// Collects values and tells which occur more than once.
#[derive(Debug)]
pub struct Repeated {
    chunk: usize,
    values: Vec<u64>,
    folder: Option<PathBuf>,
    runs: Vec<PathBuf>,
}

impl Repeated {
    /// A collector expecting about `expected` values (memory is reserved for at most one chunk).
    pub fn new(expected: u64) -> Repeated {
        Repeated::with_chunk(expected, CHUNK)
    }

    /// As [`Repeated::new`], with runs of `chunk` values.
    pub fn with_chunk(expected: u64, chunk: usize) -> Repeated {
        let chunk = chunk.max(2);
        let reserve = usize::try_from(expected).unwrap_or(chunk).min(chunk);
        Repeated {
            chunk,
            values: Vec::with_capacity(reserve),
            folder: None,
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, value: u64) -> Result<(), PipelineError> {
        self.values.push(value);
        if self.values.len() >= self.chunk {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), PipelineError> {
        self.values.sort_unstable();
        let folder = match &self.folder {
            Some(folder) => folder.clone(),
            None => {
                let folder = std::env::temp_dir().join(format!(
                    "offbase-ids-{}-{}",
                    std::process::id(),
                    FOLDERS.fetch_add(1, Ordering::Relaxed)
                ));
                fs::create_dir_all(&folder).map_err(|error| PipelineError::io(&folder, error))?;
                self.folder = Some(folder.clone());
                folder
            }
        };
        let path = folder.join(format!("run-{:06}", self.runs.len()));
        let file = File::create(&path).map_err(|error| PipelineError::io(&path, error))?;
        let mut out = BufWriter::with_capacity(RUN_BUFFER * 4, file);
        for value in &self.values {
            out.write_all(&value.to_le_bytes())
                .map_err(|error| PipelineError::io(&path, error))?;
        }
        out.flush()
            .map_err(|error| PipelineError::io(&path, error))?;
        self.values.clear();
        self.runs.push(path);
        Ok(())
    }

    /// The values seen more than once.
    pub fn finish(mut self) -> Result<HashSet<u64>, PipelineError> {
        let mut repeated = HashSet::new();
        if self.runs.is_empty() {
            self.values.sort_unstable();
            for pair in self.values.windows(2) {
                if let [left, right] = pair
                    && left == right
                {
                    repeated.insert(*left);
                }
            }
            return Ok(repeated);
        }
        if !self.values.is_empty() {
            self.spill()?;
        }
        self.values = Vec::new();
        let mut readers = Vec::with_capacity(self.runs.len());
        for path in &self.runs {
            let file = File::open(path).map_err(|error| PipelineError::io(path, error))?;
            readers.push(BufReader::with_capacity(RUN_BUFFER, file));
        }
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (run, reader) in readers.iter_mut().enumerate() {
            if let Some(value) = next_value(reader).map_err(|error| self.error(run, error))? {
                heap.push(std::cmp::Reverse((value, run)));
            }
        }
        let mut previous = None;
        while let Some(std::cmp::Reverse((value, run))) = heap.pop() {
            if previous == Some(value) {
                repeated.insert(value);
            }
            previous = Some(value);
            if let Some(reader) = readers.get_mut(run)
                && let Some(next) = next_value(reader).map_err(|error| self.error(run, error))?
            {
                heap.push(std::cmp::Reverse((next, run)));
            }
        }
        Ok(repeated)
    }

    fn error(&self, run: usize, error: std::io::Error) -> PipelineError {
        match self.runs.get(run) {
            Some(path) => PipelineError::io(path, error),
            None => PipelineError::io("a run of id hashes", error),
        }
    }
}

impl Drop for Repeated {
    fn drop(&mut self) {
        if let Some(folder) = &self.folder {
            let _ = fs::remove_dir_all(folder);
        }
    }
}

fn next_value(reader: &mut impl Read) -> std::io::Result<Option<u64>> {
    let mut bytes = [0u8; 8];
    match reader.read_exact(&mut bytes) {
        Ok(()) => Ok(Some(u64::from_le_bytes(bytes))),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_disk_find_what_memory_finds() -> Result<(), PipelineError> {
        let values: Vec<u64> = (0..10_000u64)
            .map(|n| (n * 2_654_435_761) % 7_919)
            .collect();
        let mut expected = HashSet::new();
        let mut seen = HashSet::new();
        for value in &values {
            if !seen.insert(*value) {
                expected.insert(*value);
            }
        }
        for chunk in [CHUNK, 1_000, 50] {
            let mut repeated = Repeated::with_chunk(values.len() as u64, chunk);
            for value in &values {
                repeated.push(*value)?;
            }
            let folder = repeated.folder.clone();
            assert_eq!(repeated.finish()?, expected, "chunk {chunk}");
            assert!(folder.is_none_or(|folder| !folder.exists()));
        }
        Ok(())
    }
}
