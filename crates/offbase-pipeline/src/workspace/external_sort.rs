//! One external merge sort for whatever a stage must order or compare whole without holding
//! it: entries are buffered up to a byte budget; each full buffer is sorted and written as a
//! run file in a folder of the caller's; at the end the runs are merged (in rounds of at most
//! `fan_in` files, their read buffers sharing the budget) and handed on in order, to a sink
//! or pulled one at a time ([`Sorted`], for a merge against another sorted stream). Used for
//! the import's pull order (`sorter`), the duplicate-id scan's hashes (`repeated`), the
//! source rows of `diff data` (`compare::sorted_rows`) and the live ids of the sync's
//! reconciliation (`sync::deletes`).

use crate::PipelineError;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const RUN_BUFFER: usize = 64 << 10;
/// The memory a sort holds before it writes a run, unless `OFFBASE_SORT_MEMORY_MIB` says.
const DEFAULT_MEMORY_MIB: usize = 16;

/// A folder of its own in the system's temporary folder, for a sort's runs or files like
/// them: `<prefix>-<process>-<number>`.
pub(crate) fn temporary_folder(prefix: &str) -> PathBuf {
    static FOLDERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        FOLDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

/// Bytes each sort of a stage holds in memory before writing a run to disk:
/// `OFFBASE_SORT_MEMORY_MIB` (whole MiB, at least 1; for a machine with little memory, or a
/// test that wants runs on disk at small sizes), else 16 MiB. A sort's time grows a little
/// as runs get smaller (more files to merge); its result does not change.
pub fn memory_budget() -> usize {
    std::env::var("OFFBASE_SORT_MEMORY_MIB")
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_MEMORY_MIB)
        .clamp(1, 1 << 20)
        << 20
}

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
        self,
        mut sink: impl FnMut(E) -> Result<(), PipelineError>,
    ) -> Result<(), PipelineError> {
        for entry in self.into_sorted()? {
            sink(entry?)?;
        }
        Ok(())
    }

    /// The entries in order, to be pulled one at a time (for a merge against another sorted
    /// stream); the run files go when the iterator is dropped.
    pub(crate) fn into_sorted(mut self) -> Result<Sorted<E>, PipelineError> {
        if self.runs.is_empty() {
            let mut entries = std::mem::take(&mut self.buffer);
            entries.sort_unstable();
            return Ok(Sorted {
                source: SortedSource::Memory(entries.into_iter()),
                folder: std::mem::take(&mut self.folder),
            });
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        while self.runs.len() > self.fan_in {
            let group: Vec<PathBuf> = self.runs.drain(..self.fan_in).collect();
            let path = self.run_path()?;
            let file = File::create(&path).map_err(|error| PipelineError::io(&path, error))?;
            let mut out = BufWriter::with_capacity(RUN_BUFFER, file);
            for entry in Merge::<E>::open(group.clone(), self.budget)? {
                entry?
                    .write_to(&mut out)
                    .map_err(|error| PipelineError::io(&path, error))?;
            }
            out.flush()
                .map_err(|error| PipelineError::io(&path, error))?;
            for run in &group {
                fs::remove_file(run).map_err(|error| PipelineError::io(run, error))?;
            }
            self.runs.push(path);
        }
        let runs = std::mem::take(&mut self.runs);
        Ok(Sorted {
            source: SortedSource::Runs(Merge::open(runs, self.budget)?),
            folder: std::mem::take(&mut self.folder),
        })
    }
}

/// The entries of an [`ExternalSort`] in order.
pub(crate) struct Sorted<E> {
    source: SortedSource<E>,
    /// The runs' folder, removed on drop (empty: none).
    folder: PathBuf,
}

enum SortedSource<E> {
    Memory(std::vec::IntoIter<E>),
    Runs(Merge<E>),
}

impl<E: RunEntry> Iterator for Sorted<E> {
    type Item = Result<E, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            SortedSource::Memory(entries) => entries.next().map(Ok),
            SortedSource::Runs(merge) => merge.next(),
        }
    }
}

impl<E> Drop for Sorted<E> {
    fn drop(&mut self) {
        if !self.folder.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.folder);
        }
    }
}

/// A k-way merge of sorted runs, through a heap of each run's next entry.
struct Merge<E> {
    runs: Vec<PathBuf>,
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(E, usize)>>,
    failed: bool,
}

impl<E: RunEntry> Merge<E> {
    /// Opens the runs for a merge whose read buffers share `budget` bytes (each between
    /// 8 and 64 KiB), so the merge holds no more than the sort did, however many runs.
    fn open(runs: Vec<PathBuf>, budget: usize) -> Result<Merge<E>, PipelineError> {
        let buffer = (budget / runs.len().max(1)).clamp(8 << 10, RUN_BUFFER);
        let mut readers = Vec::with_capacity(runs.len());
        for path in &runs {
            let file = File::open(path).map_err(|error| PipelineError::io(path, error))?;
            readers.push(BufReader::with_capacity(buffer, file));
        }
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (run, (reader, path)) in readers.iter_mut().zip(&runs).enumerate() {
            if let Some(entry) =
                E::read_from(reader).map_err(|error| PipelineError::io(path, error))?
            {
                heap.push(Reverse((entry, run)));
            }
        }
        Ok(Merge {
            runs,
            readers,
            heap,
            failed: false,
        })
    }
}

impl<E: RunEntry> Iterator for Merge<E> {
    type Item = Result<E, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let Reverse((entry, run)) = self.heap.pop()?;
        if let (Some(reader), Some(path)) = (self.readers.get_mut(run), self.runs.get(run)) {
            match E::read_from(reader) {
                Ok(Some(next)) => self.heap.push(Reverse((next, run))),
                Ok(None) => {}
                Err(error) => {
                    self.failed = true;
                    return Some(Err(PipelineError::io(path, error)));
                }
            }
        }
        Some(Ok(entry))
    }
}

impl<E> Drop for ExternalSort<E> {
    fn drop(&mut self) {
        // A sort dropped on an error leaves no runs behind (best effort: the next one in the
        // same folder clears it anyway). Once sorted, the folder is the iterator's.
        if !self.folder.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.folder);
        }
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

/// Text in byte order (ids, say).
impl RunEntry for String {
    fn size(&self) -> usize {
        self.len() + std::mem::size_of::<String>()
    }

    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        write_bytes(out, self.as_bytes())
    }

    fn read_from(reader: &mut impl Read) -> std::io::Result<Option<Self>> {
        let Some(length) = read_u64_or_end(reader)? else {
            return Ok(None);
        };
        let length = usize::try_from(length)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
        let mut bytes = vec![0u8; length];
        reader.read_exact(&mut bytes)?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
    }
}
