//! The bisection of `diff data`: the id space split into ranges at source ids, and only the
//! ranges whose counts or hash sums differ split again, level by level (one query a level),
//! down to ranges small enough to compare by (id, hash) pairs. The source rows are read from
//! disk ([`SortedRows`]): a range's count and sum cost two reads, never a scan.

use crate::PipelineError;
use crate::compare::sorted_rows::{SortedRows, SourceRow};
use offbase_pg::range_hash::{self, BucketHash, Buckets, HashedTable, IdRange};
use std::collections::{BTreeMap, BTreeSet};

/// Ranges of at most this many rows (on either side) are compared row by row.
pub(crate) const LEAF_ROWS: usize = 128;
/// A differing range is split into at most this many ranges a level.
pub(crate) const FAN_OUT: usize = 64;
/// Small ranges whose (id, hash) pairs are read in one query.
const LEAVES_A_QUERY: usize = 256;

/// What the bisection found for one entity.
#[derive(Debug, Default)]
pub(crate) struct Bisection {
    pub(crate) same: u64,
    /// Rows on both sides whose hashes differ (or whose source record is forced).
    pub(crate) both: Vec<SourceRow>,
    /// The ids the target lacks.
    pub(crate) source_only: Vec<String>,
    pub(crate) target_only: Vec<String>,
    pub(crate) target_rows: u64,
    pub(crate) range_queries: u64,
    pub(crate) hashes_fetched: u64,
}

/// A range of ids, `lo <= id < hi` (`None`: unbounded), with the source rows in it
/// (`from..to`, sorted by id) and the target's count.
#[derive(Debug, Clone)]
struct Range {
    lo: Option<String>,
    hi: Option<String>,
    from: usize,
    to: usize,
    target_rows: u64,
}

/// The bounds and bucket numbers of disjoint ranges, for one query.
fn buckets_of(ranges: &[Range]) -> (Vec<String>, Vec<i32>) {
    let mut bounds: BTreeSet<&str> = BTreeSet::new();
    for range in ranges {
        bounds.extend(range.lo.as_deref());
        bounds.extend(range.hi.as_deref());
    }
    let bounds: Vec<String> = bounds.into_iter().map(str::to_owned).collect();
    let wanted = ranges
        .iter()
        .map(|range| bucket_of(&bounds, range.lo.as_deref()))
        .collect();
    (bounds, wanted)
}

/// The `width_bucket` number of the range starting at `lo`.
fn bucket_of(bounds: &[String], lo: Option<&str>) -> i32 {
    match lo {
        None => 0,
        Some(lo) => bounds.partition_point(|bound| bound.as_str() <= lo) as i32,
    }
}

/// Splits the source rows `from..to` into ranges at source ids.
fn split(range: &Range, parts: usize, rows: &SortedRows) -> Result<Vec<Range>, PipelineError> {
    let length = range.to - range.from;
    let parts = parts.clamp(1, length.max(1));
    let mut children = Vec::with_capacity(parts);
    let mut lo = range.lo.clone();
    let mut from = range.from;
    for part in 1..parts {
        let at = range.from + length * part / parts;
        if at <= from {
            continue;
        }
        let Some(bound) = rows.id_at(at)? else {
            continue;
        };
        children.push(Range {
            lo: lo.clone(),
            hi: Some(bound.clone()),
            from,
            to: at,
            target_rows: 0,
        });
        lo = Some(bound);
        from = at;
    }
    children.push(Range {
        lo,
        hi: range.hi.clone(),
        from,
        to: range.to,
        target_rows: 0,
    });
    Ok(children)
}

/// Finds the ids that differ between the sorted source rows and the table: ranges whose
/// count and hash sum agree are the same; the others are split and compared again, down to
/// small ranges whose (id, hash) pairs are compared.
pub(crate) async fn bisect(
    connection: &mut offbase_pg::PgConnection,
    table: &HashedTable<'_>,
    rows: &SortedRows,
    total: Option<BucketHash>,
) -> Result<Bisection, PipelineError> {
    let mut result = Bisection {
        range_queries: 1,
        ..Bisection::default()
    };
    let total = total.unwrap_or(BucketHash {
        bucket: 0,
        rows: 0,
        sum: 0,
    });
    result.target_rows = total.rows;
    let whole = rows.summary(0, rows.len())?;
    if !whole.forced && whole.rows == total.rows && whole.sum == total.sum {
        result.same = whole.rows;
        return Ok(result);
    }
    let mut differing = vec![Range {
        lo: None,
        hi: None,
        from: 0,
        to: rows.len(),
        target_rows: total.rows,
    }];
    let mut leaves: Vec<Range> = Vec::new();
    while !differing.is_empty() {
        let mut children = Vec::new();
        let mut within = Vec::new();
        for range in differing {
            let length = range.to - range.from;
            let largest = length.max(usize::try_from(range.target_rows).unwrap_or(usize::MAX));
            if largest <= LEAF_ROWS || length < 2 {
                leaves.push(range);
            } else {
                let parts = largest.div_ceil(LEAF_ROWS).min(FAN_OUT);
                within.push((range.lo.clone(), range.hi.clone()));
                children.extend(split(&range, parts, rows)?);
            }
        }
        if children.is_empty() {
            break;
        }
        let (bounds, wanted) = buckets_of(&children);
        let hashes = range_hash::bucket_hashes(
            connection,
            table,
            Buckets::Of {
                bounds: &bounds,
                wanted: &wanted,
                within: &within,
            },
        )
        .await?;
        result.range_queries += 1;
        let by_bucket: BTreeMap<i32, BucketHash> =
            hashes.into_iter().map(|hash| (hash.bucket, hash)).collect();
        let mut next = Vec::new();
        for (mut child, bucket) in children.into_iter().zip(wanted) {
            let target = by_bucket.get(&bucket).copied().unwrap_or(BucketHash {
                bucket,
                rows: 0,
                sum: 0,
            });
            let source = rows.summary(child.from, child.to)?;
            if !source.forced && source.rows == target.rows && source.sum == target.sum {
                result.same += source.rows;
            } else {
                child.target_rows = target.rows;
                next.push(child);
            }
        }
        differing = next;
    }
    result.range_queries += leaves.len().div_ceil(LEAVES_A_QUERY) as u64;
    let mut target_only = Vec::new();
    for group in leaves.chunks(LEAVES_A_QUERY) {
        compare_leaves(
            connection,
            table,
            rows,
            group,
            &mut result,
            &mut target_only,
        )
        .await?;
    }
    target_only.sort();
    result.target_only = target_only;
    Ok(result)
}

/// Compares small ranges by their (id, hash) pairs.
async fn compare_leaves(
    connection: &mut offbase_pg::PgConnection,
    table: &HashedTable<'_>,
    rows: &SortedRows,
    leaves: &[Range],
    result: &mut Bisection,
    target_only: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let pairs = if let [leaf] = leaves
        && leaf.lo.is_none()
        && leaf.hi.is_none()
    {
        range_hash::row_hashes(connection, table, Buckets::All).await?
    } else {
        let (bounds, wanted) = buckets_of(leaves);
        let within: Vec<IdRange> = leaves
            .iter()
            .map(|leaf| (leaf.lo.clone(), leaf.hi.clone()))
            .collect();
        range_hash::row_hashes(
            connection,
            table,
            Buckets::Of {
                bounds: &bounds,
                wanted: &wanted,
                within: &within,
            },
        )
        .await?
    };
    result.hashes_fetched += pairs.len() as u64;
    let mut target: BTreeMap<String, i64> = pairs.into_iter().collect();
    for leaf in leaves {
        for row in rows.rows(leaf.from, leaf.to)? {
            match target.remove(row.id.as_ref()) {
                None => result.source_only.push(row.id.into_string()),
                Some(hash) if hash == row.hash && !row.forced => result.same += 1,
                Some(_) => result.both.push(row),
            }
        }
    }
    target_only.extend(target.into_keys());
    Ok(())
}
