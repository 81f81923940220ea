//! One external merge sort for whatever a stage must order or compare whole without holding
//! it: entries are buffered up to a byte budget; each full buffer is sorted and written as a
//! run file in a folder of the caller's; at the end the runs are merged (in rounds of at most
//! `fan_in` files, each read through a small buffer) and handed on in order. Used for the
//! import's pull order (`sorter`) and the duplicate-id scan's hashes (`repeated`).

use crate::PipelineError;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const RUN_BUFFER: usize = 64 << 10;

/// An entry of an external sort: its order, its size in memory, and its form in a run file.
pub(crate) trait RunEntry: Ord + Sized {
    /// About how many bytes it holds in memory.
    fn size(&self) -> usize;
    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()>;
    /// The next entry of a run; `None` at its end.
    fn read_from(reader: &mut impl Read) -> std::io::Result<Option<Self>>;
}

/// Entries sorted in memory, or on disk past the budget.
#[derive(Debug)]
pub(crate) struct ExternalSort<E> {
    folder: PathBuf,
    budget: usize,
    fan_in: usize,
    buffer: Vec<E>,
    buffered: usize,
    runs: Vec<PathBuf>,
    next_run: usize,
}

impl<E: RunEntry> ExternalSort<E> {
    /// A sort whose runs go in `folder` (cleared first, removed at the end), holding about
    /// `budget` bytes of entries in memory and merging `fan_in` runs at a time.
    pub(crate) fn new(
        folder: PathBuf,
        budget: usize,
        fan_in: usize,
    ) -> Result<Self, PipelineError> {
        remove_folder(&folder)?;
        Ok(ExternalSort {
            folder,
            budget: budget.max(1),
            fan_in: fan_in.max(2),
            buffer: Vec::new(),
            buffered: 0,
            runs: Vec::new(),
            next_run: 0,
        })
    }

    /// The folder its runs go in.
    #[cfg(test)]
    pub(crate) fn folder(&self) -> &Path {
        &self.folder
    }

    pub(crate) fn push(&mut self, entry: E) -> Result<(), PipelineError> {
        self.buffered += entry.size();
        self.buffer.push(entry);
        if self.buffered >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the buffer and writes it as a run.
    fn spill(&mut self) -> Result<(), PipelineError> {
        let mut entries = std::mem::take(&mut self.buffer);
        self.buffered = 0;
        entries.sort_unstable();
        let path = self.run_path()?;
        write_run(&path, entries)?;
        self.runs.push(path);
        Ok(())
    }

    fn run_path(&mut self) -> Result<PathBuf, PipelineError> {
        fs::create_dir_all(&self.folder).map_err(|error| PipelineError::io(&self.folder, error))?;
        let path = self.folder.join(format!("run-{:06}", self.next_run));
        self.next_run += 1;
        Ok(path)
    }

    /// Hands every entry to `sink` in order, then removes the run files.
    pub(crate) fn finish(
        mut self,
        mut sink: impl FnMut(E) -> Result<(), PipelineError>,
    ) -> Result<(), PipelineError> {
        if self.runs.is_empty() {
            let mut entries = std::mem::take(&mut self.buffer);
            entries.sort_unstable();
            for entry in entries {
                sink(entry)?;
            }
        } else {
            if !self.buffer.is_empty() {
                self.spill()?;
            }
            while self.runs.len() > self.fan_in {
                let group: Vec<PathBuf> = self.runs.drain(..self.fan_in).collect();
                let path = self.run_path()?;
                let file = File::create(&path).map_err(|error| PipelineError::io(&path, error))?;
                let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
                merge(&group, |entry: E| {
                    entry
                        .write_to(&mut out)
                        .map_err(|error| PipelineError::io(&path, error))
                })?;
                out.flush()
                    .map_err(|error| PipelineError::io(&path, error))?;
                for run in &group {
                    fs::remove_file(run).map_err(|error| PipelineError::io(run, error))?;
                }
                self.runs.push(path);
            }
            let runs = std::mem::take(&mut self.runs);
            merge(&runs, sink)?;
        }
        remove_folder(&self.folder)
    }
}

impl<E> Drop for ExternalSort<E> {
    fn drop(&mut self) {
        // A sort dropped on an error leaves no runs behind (best effort: the next one in the
        // same folder clears it anyway).
        let _ = fs::remove_dir_all(&self.folder);
    }
}

fn remove_folder(folder: &Path) -> Result<(), PipelineError> {
    match fs::remove_dir_all(folder) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(PipelineError::io(folder, error)),
    }
}

fn write_run<E: RunEntry>(path: &Path, entries: Vec<E>) -> Result<(), PipelineError> {
    let file = File::create(path).map_err(|error| PipelineError::io(path, error))?;
    let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
    for entry in &entries {
        entry
            .write_to(&mut out)
            .map_err(|error| PipelineError::io(path, error))?;
    }
    out.flush().map_err(|error| PipelineError::io(path, error))
}

/// Merges sorted runs, handing each entry to `sink` in order.
fn merge<E: RunEntry>(
    runs: &[PathBuf],
    mut sink: impl FnMut(E) -> Result<(), PipelineError>,
) -> Result<(), PipelineError> {
    let mut readers = Vec::with_capacity(runs.len());
    for path in runs {
        let file = File::open(path).map_err(|error| PipelineError::io(path, error))?;
        readers.push(BufReader::with_capacity(RUN_BUFFER, file));
    }
    let mut heap = BinaryHeap::with_capacity(runs.len());
    for (run, (reader, path)) in readers.iter_mut().zip(runs).enumerate() {
        if let Some(entry) = E::read_from(reader).map_err(|error| PipelineError::io(path, error))? {
            heap.push(Reverse((entry, run)));
        }
    }
    while let Some(Reverse((entry, run))) = heap.pop() {
        sink(entry)?;
        if let (Some(reader), Some(path)) = (readers.get_mut(run), runs.get(run))
            && let Some(next) =
                E::read_from(reader).map_err(|error| PipelineError::io(path, error))?
        {
            heap.push(Reverse((next, run)));
        }
    }
    Ok(())
}

/// Writes `bytes` with its length in front.
pub(crate) fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

pub(crate) fn read_u64(reader: &mut impl Read) -> std::io::Result<u64> {
    let mut bytes = [0u8; 8];
    reader.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// A `u64` that may be the end of the run (`None` there).
pub(crate) fn read_u64_or_end(reader: &mut impl Read) -> std::io::Result<Option<u64>> {
    match read_u64(reader) {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(error) => Err(error),
    }
}

pub(crate) fn read_byte(reader: &mut impl Read) -> std::io::Result<u8> {
    let mut byte = [0u8; 1];
    reader.read_exact(&mut byte)?;
    Ok(byte[0])
}

/// Bytes written by [`write_bytes`].
pub(crate) fn read_bytes(reader: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let length = usize::try_from(read_u64(reader)?)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
    let mut bytes = vec![0u8; length];
    reader.read_exact(&mut bytes)?;
    Ok(bytes)
}

pub(crate) fn read_text(reader: &mut impl Read) -> std::io::Result<String> {
    String::from_utf8(read_bytes(reader)?)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
}
