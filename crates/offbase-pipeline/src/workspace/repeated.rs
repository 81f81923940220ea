//! The values that occur more than once in a stream of 64-bit hashes, in bounded memory: the
//! external sort (`external_sort`) holds up to an eighth of its memory budget of values and spills sorted
//! runs to a folder of the system's temporary folder past that; equal neighbours of the
//! sorted stream are the repeated values. The duplicate-id scan of the load, the bundle,
//! verify and diff uses it for the ids' hashes, so their memory no longer grows by 8 bytes a
//! record.

use super::external_sort::{ExternalSort, RunEntry, read_u64_or_end};
use crate::PipelineError;
use std::collections::HashSet;
use std::io::{Read, Write};

/// Runs merged at once.
const FAN_IN: usize = 64;

impl RunEntry for u64 {
    fn size(&self) -> usize {
        8
    }

    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.to_le_bytes())
    }

    fn read_from(reader: &mut impl Read) -> std::io::Result<Option<Self>> {
        read_u64_or_end(reader)
    }
}

/// Collects values and tells which occur more than once.
#[derive(Debug)]
pub struct Repeated {
    sort: ExternalSort<u64>,
}

impl Repeated {
    pub fn new() -> Result<Repeated, PipelineError> {
        // 262,144 values (2 MiB) by default: full from that many records on, so the scan
        // holds the same at 300,000 records as at 10,000,000.
        Repeated::with_chunk(super::external_sort::memory_budget() / 64)
    }

    /// As [`Repeated::new`], with runs of `chunk` values.
    pub fn with_chunk(chunk: usize) -> Result<Repeated, PipelineError> {
        Ok(Repeated {
            sort: ExternalSort::new(
                super::external_sort::temporary_folder("offbase-ids"),
                chunk.max(2) * 8,
                FAN_IN,
            )?,
        })
    }

    pub fn push(&mut self, value: u64) -> Result<(), PipelineError> {
        self.sort.push(value)
    }

    /// The values seen more than once.
    pub fn finish(self) -> Result<HashSet<u64>, PipelineError> {
        let mut repeated = HashSet::new();
        let mut previous = None;
        self.sort.finish(|value| {
            if previous == Some(value) {
                repeated.insert(value);
            }
            previous = Some(value);
            Ok(())
        })?;
        Ok(repeated)
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
        for chunk in [1 << 20, 1_000, 50] {
            let mut repeated = Repeated::with_chunk(chunk)?;
            for value in &values {
                repeated.push(*value)?;
            }
            let folder = repeated.sort.folder().to_path_buf();
            assert_eq!(repeated.finish()?, expected, "chunk {chunk}");
            assert!(!folder.exists());
        }
        Ok(())
    }
}
