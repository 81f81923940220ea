//! The source side of `diff data` on disk: its rows (id, row hash, where the record's line
//! starts) sorted by id in byte order, in a data file, with a fixed-width index of prefix
//! sums beside it. The bisection reads any range's count, hash sum and forced rows from two
//! index entries, the id at a position from one entry and one row, and a small range's rows
//! in one read, so its memory does not grow with the entity. Rows arrive through the
//! external sort (`workspace::external_sort`); the files live in a folder of the system's
//! temporary folder, removed when the rows are dropped.

use crate::PipelineError;
use crate::workspace::external_sort::{
    ExternalSort, RunEntry, memory_budget, read_u64, read_u64_or_end, temporary_folder,
};
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Runs merged at once.
const FAN_IN: usize = 64;
/// An index entry: the row's offset in the data file, then the hash sum (i128) and the
/// count of forced rows of the rows before it.
const INDEX_WIDTH: u64 = 8 + 16 + 8;

/// One source record as the bisection sees it. Ordered by id in byte order (`str`'s order,
/// PostgreSQL's `COLLATE "C"`), then where the line starts (the order the duplicate rule
/// reads copies in); the hash and `forced` last, only to make the order total.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SourceRow {
    pub(crate) id: Box<str>,
    /// Where the record's line starts (workspace source).
    pub(crate) part: u32,
    pub(crate) offset: u64,
    pub(crate) hash: i64,
    /// A record the load could not write as is (rejected, or refused by PostgreSQL): its
    /// range always differs, so it is looked at row by row.
    pub(crate) forced: bool,
}

impl RunEntry for SourceRow {
    fn size(&self) -> usize {
        self.id.len() + std::mem::size_of::<SourceRow>()
    }

    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        write_row(out, self).map(|_| ())
    }

    fn read_from(reader: &mut impl Read) -> std::io::Result<Option<Self>> {
        let Some(length) = read_u64_or_end(reader)? else {
            return Ok(None);
        };
        read_row_after_length(reader, length).map(Some)
    }
}

/// Writes a row (the id with its length in front, the hash, forced, the part, the offset);
/// the bytes it took.
fn write_row(out: &mut impl Write, row: &SourceRow) -> std::io::Result<u64> {
    let length = row.id.len() as u64;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(row.id.as_bytes())?;
    out.write_all(&row.hash.to_le_bytes())?;
    out.write_all(&[u8::from(row.forced)])?;
    out.write_all(&row.part.to_le_bytes())?;
    out.write_all(&row.offset.to_le_bytes())?;
    Ok(8 + length + 8 + 1 + 4 + 8)
}

fn invalid(error: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, error)
}

fn read_row_after_length(reader: &mut impl Read, length: u64) -> std::io::Result<SourceRow> {
    let length = usize::try_from(length).map_err(invalid)?;
    let mut id = vec![0u8; length];
    reader.read_exact(&mut id)?;
    let id = String::from_utf8(id).map_err(invalid)?;
    let hash = read_u64(reader)? as i64;
    let mut forced = [0u8; 1];
    reader.read_exact(&mut forced)?;
    let mut part = [0u8; 4];
    reader.read_exact(&mut part)?;
    let offset = read_u64(reader)?;
    Ok(SourceRow {
        id: id.into_boxed_str(),
        hash,
        forced: forced[0] != 0,
        part: u32::from_le_bytes(part),
        offset,
    })
}

/// Source rows being sorted: pushed in any order, then handed on in order to
/// [`SortedRows::build`]. A quarter of the sort budget (4 MiB by default, about 65,000 rows):
/// already full at 100,000 records, so the diff holds the same from there on.
pub(crate) fn row_sort() -> Result<(PathBuf, ExternalSort<SourceRow>), PipelineError> {
    let folder = temporary_folder("offbase-diff");
    let sort = ExternalSort::new(folder.join("sort"), memory_budget() / 4, FAN_IN)?;
    Ok((folder, sort))
}

/// The count, hash sum and whether any row is forced, of a range of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) rows: u64,
    pub(crate) sum: i128,
    pub(crate) forced: bool,
}

/// Sorted source rows on disk.
#[derive(Debug)]
pub(crate) struct SortedRows {
    folder: Folder,
    data: File,
    index: File,
    length: usize,
}

/// Writes rows given in order into the data and index files.
struct Writer {
    data: BufWriter<File>,
    index: BufWriter<File>,
    offset: u64,
    sum: i128,
    forced: u64,
    length: usize,
}

impl Writer {
    fn push(&mut self, row: &SourceRow) -> std::io::Result<()> {
        self.mark()?;
        self.offset += write_row(&mut self.data, row)?;
        self.sum += i128::from(row.hash);
        self.forced += u64::from(row.forced);
        self.length += 1;
        Ok(())
    }

    /// The index entry of the next row (or of the end).
    fn mark(&mut self) -> std::io::Result<()> {
        self.index.write_all(&self.offset.to_le_bytes())?;
        self.index.write_all(&self.sum.to_le_bytes())?;
        self.index.write_all(&self.forced.to_le_bytes())
    }
}

impl SortedRows {
    /// Writes the rows `rows` yields (sorted; a caller's choice among copies of one id
    /// already made) into `folder`, which [`row_sort`] made.
    pub(crate) fn build(
        folder: PathBuf,
        rows: impl Iterator<Item = Result<SourceRow, PipelineError>>,
    ) -> Result<SortedRows, PipelineError> {
        fs::create_dir_all(&folder).map_err(|error| PipelineError::io(&folder, error))?;
        let data_path = folder.join("rows");
        let index_path = folder.join("index");
        let open = |path: &Path| {
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .map_err(|error| PipelineError::io(path, error))
        };
        let mut writer = Writer {
            data: BufWriter::with_capacity(1 << 16, open(&data_path)?),
            index: BufWriter::with_capacity(1 << 16, open(&index_path)?),
            offset: 0,
            sum: 0,
            forced: 0,
            length: 0,
        };
        // The folder goes with the rows, or with this guard when writing fails half way.
        let folder = Folder(folder);
        for row in rows {
            writer
                .push(&row?)
                .map_err(|error| PipelineError::io(&data_path, error))?;
        }
        writer
            .mark()
            .map_err(|error| PipelineError::io(&index_path, error))?;
        Ok(SortedRows {
            folder,
            length: writer.length,
            data: writer
                .data
                .into_inner()
                .map_err(|error| PipelineError::io(&data_path, error.into_error()))?,
            index: writer
                .index
                .into_inner()
                .map_err(|error| PipelineError::io(&index_path, error.into_error()))?,
        })
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        self.length
    }

    /// Index entry `at` (`at == len()`: the end).
    fn entry(&self, at: usize) -> Result<(u64, i128, u64), PipelineError> {
        let mut bytes = [0u8; INDEX_WIDTH as usize];
        self.index
            .read_exact_at(&mut bytes, at as u64 * INDEX_WIDTH)
            .map_err(|error| PipelineError::io(self.folder.join("index"), error))?;
        let (offset, rest) = bytes.split_at(8);
        let (sum, forced) = rest.split_at(16);
        let array = |slice: &[u8]| -> [u8; 8] { slice.try_into().unwrap_or_default() };
        let sum: [u8; 16] = sum.try_into().unwrap_or_default();
        Ok((
            u64::from_le_bytes(array(offset)),
            i128::from_le_bytes(sum),
            u64::from_le_bytes(array(forced)),
        ))
    }

    /// The count, hash sum and forced rows of rows `from..to`.
    pub(crate) fn summary(&self, from: usize, to: usize) -> Result<Summary, PipelineError> {
        let to = to.min(self.length);
        if from >= to {
            return Ok(Summary {
                rows: 0,
                sum: 0,
                forced: false,
            });
        }
        let (_, sum_before, forced_before) = self.entry(from)?;
        let (_, sum_after, forced_after) = self.entry(to)?;
        Ok(Summary {
            rows: (to - from) as u64,
            sum: sum_after - sum_before,
            forced: forced_after > forced_before,
        })
    }

    /// Rows `from..to` (a small range: they are read in one go).
    pub(crate) fn rows(&self, from: usize, to: usize) -> Result<Vec<SourceRow>, PipelineError> {
        let to = to.min(self.length);
        if from >= to {
            return Ok(Vec::new());
        }
        let path = self.folder.join("rows");
        let (start, _, _) = self.entry(from)?;
        let (end, _, _) = self.entry(to)?;
        let length = usize::try_from(end.saturating_sub(start))
            .map_err(|error| PipelineError::io(&path, invalid(error)))?;
        let mut bytes = vec![0u8; length];
        self.data
            .read_exact_at(&mut bytes, start)
            .map_err(|error| PipelineError::io(&path, error))?;
        let mut reader = bytes.as_slice();
        let mut rows = Vec::with_capacity(to - from);
        while let Some(row) =
            SourceRow::read_from(&mut reader).map_err(|error| PipelineError::io(&path, error))?
        {
            rows.push(row);
        }
        Ok(rows)
    }

    /// The id of row `at`.
    pub(crate) fn id_at(&self, at: usize) -> Result<Option<String>, PipelineError> {
        if at >= self.length {
            return Ok(None);
        }
        let path = self.folder.join("rows");
        let (start, _, _) = self.entry(at)?;
        let mut length = [0u8; 8];
        self.data
            .read_exact_at(&mut length, start)
            .map_err(|error| PipelineError::io(&path, error))?;
        let length = usize::try_from(u64::from_le_bytes(length))
            .map_err(|error| PipelineError::io(&path, invalid(error)))?;
        let mut id = vec![0u8; length];
        self.data
            .read_exact_at(&mut id, start + 8)
            .map_err(|error| PipelineError::io(&path, error))?;
        String::from_utf8(id)
            .map(Some)
            .map_err(|error| PipelineError::io(&path, invalid(error)))
    }
}

/// A folder removed when dropped.
#[derive(Debug)]
struct Folder(PathBuf);

impl Folder {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, hash: i64, forced: bool, offset: u64) -> SourceRow {
        SourceRow {
            id: id.into(),
            hash,
            forced,
            part: 0,
            offset,
        }
    }

    /// Ranges read back from disk agree with the same rows summed in memory.
    #[test]
    fn ranges_of_sorted_rows_on_disk_sum_as_in_memory() -> Result<(), PipelineError> {
        let (folder, mut sort) = row_sort()?;
        let mut expected = Vec::new();
        for number in (0..500i64).rev() {
            let id = format!("id-{number:04}-é");
            let hash = number.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64);
            let forced = number == 321;
            sort.push(row(&id, hash, forced, number as u64))?;
            expected.push(row(&id, hash, forced, number as u64));
        }
        expected.sort();
        let folder_seen = folder.clone();
        let sorted = SortedRows::build(folder, sort.into_sorted()?)?;
        assert_eq!(sorted.len(), 500);
        for (from, to) in [(0, 500), (0, 1), (17, 250), (320, 322), (499, 500), (5, 5)] {
            let slice = expected.get(from..to).unwrap_or_default();
            let summary = sorted.summary(from, to)?;
            assert_eq!(summary.rows, slice.len() as u64);
            assert_eq!(
                summary.sum,
                slice.iter().map(|row| i128::from(row.hash)).sum::<i128>()
            );
            assert_eq!(summary.forced, slice.iter().any(|row| row.forced));
            assert_eq!(sorted.rows(from, to)?, slice);
        }
        assert_eq!(sorted.id_at(0)?.as_deref(), Some("id-0000-é"));
        assert_eq!(sorted.id_at(499)?.as_deref(), Some("id-0499-é"));
        assert_eq!(sorted.id_at(500)?, None);
        drop(sorted);
        assert!(!folder_seen.exists(), "the folder stayed behind");
        Ok(())
    }
}
