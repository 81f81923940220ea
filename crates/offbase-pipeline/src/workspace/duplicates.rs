//! The one duplicate-id rule, for the load and everything that must agree with it byte for
//! byte (the bundle, verify, diff, behaviour): of the staged copies of an id, the one with the
//! newest `updated_date` (as an instant) loads, then the later line; a copy that repeats a key
//! is rejected for that and never wins. The losing copies are rejected as `duplicate_id`,
//! naming the winner.

use crate::PipelineError;
use crate::workspace::parts::{PartReader, PartSeal, Position, parse_record, trim_line};
use crate::workspace::{ManifestPart, Workspace, sha256_file};
use offbase_model::BuiltIn;
use offbase_model::record::ObjectError;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Which lines lose to a duplicate of their id: (part, line) → a sentence naming the winner.
#[derive(Debug, Clone, Default)]
pub struct Duplicates {
    losers: HashMap<(usize, u64), String>,
}

impl Duplicates {
    pub fn len(&self) -> usize {
        self.losers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.losers.is_empty()
    }

    /// Whether line `line` of part `part` loses to another copy of its id.
    pub fn is_loser(&self, part: usize, line: u64) -> bool {
        self.loser(part, line).is_some()
    }

    pub(crate) fn loser(&self, part: usize, line: u64) -> Option<&String> {
        if self.losers.is_empty() {
            None
        } else {
            self.losers.get(&(part, line))
        }
    }
}
/// A copy of an id: its rank and its place (part, 0-based line).
type RankedCopy = (Option<i64>, (usize, u64));

/// How a staged line ranks among the copies of its id: `None` when it can never win (it
/// repeats a key, so it is rejected for that), else its `updated_date` in microseconds
/// (`None` inside when it has none or it does not parse; such a copy ranks below any dated
/// one). Copies sort by (rank, position): the last one wins.
pub(crate) fn copy_rank(line: &[u8]) -> Option<Option<i64>> {
    let parsed = parse_record(trim_line(line), 0);
    if let Err(ObjectError::Duplicate(_)) = parsed {
        return None;
    }
    Some(
        parsed
            .ok()
            .and_then(|record| {
                record
                    .get(BuiltIn::UpdatedDate.field_name())
                    .and_then(Value::as_str)
                    .and_then(offbase_model::time::parse_timestamp)
            })
            .map(|instant| instant.timestamp_micros()),
    )
}

/// Sorts the copies of one id by the rule and splits off the winner (the last); the rest
/// lose. `None` for fewer than two copies.
pub(crate) fn rank_copies<P: Ord + Copy>(copies: &mut [(Option<i64>, P)]) -> Option<(P, Vec<P>)> {
    if copies.len() < 2 {
        return None;
    }
    copies.sort();
    let (winner, losers) = copies.split_last()?;
    Some((winner.1, losers.iter().map(|copy| copy.1).collect()))
}

/// Calls `visit` with every staged line of an entity that a load keeps (the losing copies of
/// a duplicate id left out): the part file's name, the line number (0-based) and its bytes.
pub fn for_each_kept_line(
    workspace: &Workspace,
    parts: &[ManifestPart],
    mut visit: impl FnMut(&str, u64, &[u8]),
) -> Result<(), PipelineError> {
    let part_files: Vec<String> = parts.iter().map(|part| part.file.clone()).collect();
    let duplicates = find_duplicates(workspace, parts, &part_files)?;
    let mut reader = PartReader::open(workspace, parts, Position::default())?;
    let mut buffer = Vec::new();
    while let Some((part, line)) = reader.next_line(&mut buffer)? {
        if !duplicates.is_loser(part, line) {
            let file = part_files.get(part).map(String::as_str).unwrap_or("?");
            visit(file, line, trim_line(&buffer));
        }
    }
    Ok(())
}

/// Scans an entity's parts for ids that occur more than once and decides which copy loads:
/// the newest `updated_date` (as an instant), then the later line. Memory: at most a chunk of
/// the ids' hashes for the first pass (runs on disk past it), then only the repeated ids.
pub fn find_duplicates(
    workspace: &Workspace,
    parts: &[ManifestPart],
    part_files: &[String],
) -> Result<Duplicates, PipelineError> {
    // At most a chunk of hashes in memory, whatever the entity's size (see `repeated`).
    let mut hashes = super::repeated::Repeated::new()?;
    // The same pass checks every part against what the manifest recorded when it was staged
    // (lines, bytes, SHA-256), before any of its rows go in: a part edited, cut or swapped
    // since is refused, not loaded as it is. The SHA-256 is computed on a second thread while
    // this one scans the ids (the database is idle until the first batch, so the check costs
    // no time of its own).
    let mut buffer = Vec::new();
    let mut seals = vec![PartSeal::default(); parts.len()];
    let hashed = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| {
            parts
                .iter()
                .map(|part| sha256_file(&workspace.part_file(&part.file)?))
                .collect::<Result<Vec<String>, PipelineError>>()
        });
        let scanned = (|| {
            let mut reader = PartReader::open(workspace, parts, Position::default())?;
            while let Some(((part, _), blank)) = reader.next_raw_line(&mut buffer)? {
                if let Some(seal) = seals.get_mut(part) {
                    seal.add(&buffer);
                }
                if blank {
                    continue;
                }
                if let Some(id) = line_id(&buffer) {
                    hashes.push(hash_id(&id))?;
                }
            }
            Ok::<(), PipelineError>(())
        })();
        let hashed = hashing.join().map_err(|panic| {
            PipelineError::worker_stopped(
                "the thread hashing the staged parts",
                &*panic,
                "nothing was loaded",
            )
        });
        scanned.and(hashed)
    })??;
    for (index, (seal, sha256)) in seals.iter().zip(&hashed).enumerate() {
        seal.check(workspace, parts, index, sha256)?;
    }
    let repeated: HashSet<u64> = hashes.finish()?;
    if repeated.is_empty() {
        return Ok(Duplicates::default());
    }
    // Second pass: the full ids and update times of the candidates only.
    let mut copies: BTreeMap<String, Vec<RankedCopy>> = BTreeMap::new();
    let mut reader = PartReader::open(workspace, parts, Position::default())?;
    while let Some((part, line)) = reader.next_line(&mut buffer)? {
        let Some(id) = line_id(&buffer) else {
            continue;
        };
        if !repeated.contains(&hash_id(&id)) {
            continue;
        }
        if let Some(rank) = copy_rank(&buffer) {
            copies.entry(id).or_default().push((rank, (part, line)));
        }
    }
    let mut losers = HashMap::new();
    for (id, mut found) in copies {
        let Some(((winner_part, winner_line), lost)) = rank_copies(&mut found) else {
            continue;
        };
        let winner = format!(
            "id {id:?} appears {} times: the copy at {}:{} (newest updated_date) was loaded instead",
            found.len(),
            part_files
                .get(winner_part)
                .map(String::as_str)
                .unwrap_or("?"),
            winner_line + 1
        );
        for place in lost {
            losers.insert(place, winner.clone());
        }
    }
    Ok(Duplicates { losers })
}

/// A line's id: read from the front when the line starts with it (every workspace line does),
/// else from the parsed record.
fn line_id(line: &[u8]) -> Option<String> {
    let line = trim_line(line);
    if let Some(rest) = line.strip_prefix(b"{\"id\":\"")
        && let Some(end) = rest.iter().position(|&byte| byte == b'"' || byte == b'\\')
        && rest.get(end) == Some(&b'"')
    {
        return std::str::from_utf8(rest.get(..end)?)
            .ok()
            .map(str::to_owned);
    }
    let record: Map<String, Value> = serde_json::from_slice(line).ok()?;
    record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// FNV-1a: stable across runs and platforms, which a resumed load relies on only for speed.
fn hash_id(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace with one part holding `bytes`, and the part as its manifest records it.
    fn one_part(
        bytes: &[u8],
        records: u64,
    ) -> Result<(tempfile::TempDir, Workspace, [ManifestPart; 1]), PipelineError> {
        let folder = tempfile::tempdir().map_err(|error| PipelineError::io("temp", error))?;
        let workspace = Workspace::new(folder.path());
        let file = "data/Note/part-00000.jsonl";
        let path = folder.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| PipelineError::io(parent, error))?;
        }
        std::fs::write(&path, bytes).map_err(|error| PipelineError::io(&path, error))?;
        let part = ManifestPart {
            file: file.into(),
            records,
            bytes: bytes.len() as u64,
            sha256: crate::workspace::sha256_file(&path)?,
        };
        Ok((folder, workspace, [part]))
    }

    /// A newer copy of an id that repeats a key is rejected for it: it must not make the copy
    /// that loads lose as a duplicate id.
    #[test]
    fn a_copy_that_repeats_a_key_never_wins_over_one_that_loads() -> Result<(), PipelineError> {
        let bytes = concat!(
            r#"{"id":"c","updated_date":"2026-01-01T00:00:00Z","title":"good"}"#,
            "\n",
            r#"{"id":"c","updated_date":"2027-01-01T00:00:00Z","title":"x","title":"y"}"#,
            "\n",
        );
        let (_folder, workspace, parts) = one_part(bytes.as_bytes(), 2)?;
        let file = parts[0].file.clone();
        let duplicates = find_duplicates(&workspace, &parts, &[file])?;
        assert!(!duplicates.is_loser(0, 0));
        assert!(!duplicates.is_loser(0, 1));
        Ok(())
    }

    /// Regression: a part that starts with a byte order mark lost its first record.
    #[test]
    fn a_part_that_starts_with_a_bom_loads_its_first_record() -> Result<(), PipelineError> {
        let (_folder, workspace, parts) =
            one_part(b"\xEF\xBB\xBF{\"id\":\"a\"}\n{\"id\":\"b\"}\n", 2)?;
        let file = parts[0].file.clone();
        let mut reader = PartReader::open(&workspace, &parts, Position::default())?;
        let mut buffer = Vec::new();
        let mut lines = Vec::new();
        while let Some(place) = reader.next_line(&mut buffer)? {
            lines.push((
                place,
                String::from_utf8_lossy(trim_line(&buffer)).into_owned(),
            ));
        }
        assert_eq!(
            lines,
            [
                ((0, 0), r#"{"id":"a"}"#.to_owned()),
                ((0, 1), r#"{"id":"b"}"#.to_owned())
            ]
        );
        // The manifest's hash covers the mark: the part is still the one staged.
        let duplicates = find_duplicates(&workspace, &parts, &[file])?;
        assert!(duplicates.is_empty());
        Ok(())
    }
}
