//! Unit tests of the reconciliation's merge: the source's ids from an external sort whose runs
//! spill to disk, merged with the target's ids in byte order, must find what holding both
//! sides whole finds.

use super::*;

/// Ids whose byte order is not their `char` count order nor a locale's: prefixes, case,
/// punctuation, multi-byte UTF-8 (2, 3 and 4 bytes).
fn awkward_ids() -> Vec<String> {
    let stems = [
        "a",
        "ab",
        "abc",
        "a-b",
        "a_b",
        "A",
        "AB",
        "B",
        "b",
        "Z",
        "z",
        "0",
        "00",
        "9",
        " ",
        "é",
        "e",
        "ée",
        "ÿ",
        "Ā",
        "€",
        "中",
        "中文",
        "日本",
        "🦀",
        "🦀🦀",
        "\u{7f}",
        "\u{80}",
        "\u{ffff}",
        "\u{10000}",
    ];
    let mut ids = Vec::new();
    for stem in stems {
        ids.push(stem.to_owned());
        for n in 0..40 {
            ids.push(format!("{stem}{n}"));
            ids.push(format!("{n}{stem}"));
        }
    }
    // A pseudo-random spread of ordinary ids too, as Base44 makes them.
    for n in 0..2_000u64 {
        ids.push(format!("{:024x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    }
    ids.sort();
    ids.dedup();
    ids
}

/// What the old reconciliation found, holding both sides whole.
fn whole(source: &[String], target: &[(String, Option<i64>)], cutoff: i64) -> BTreeSet<String> {
    let live: BTreeSet<&String> = source.iter().collect();
    target
        .iter()
        .filter(|(id, created)| {
            created.is_some_and(|created| created < cutoff) && !live.contains(id)
        })
        .map(|(id, _)| id.clone())
        .collect()
}

fn sorted_source(
    ids: &[String],
    budget: usize,
    fan_in: usize,
) -> Result<Sorted<String>, PipelineError> {
    let mut sort =
        ExternalSort::<String>::new(temporary_folder("offbase-live-test"), budget, fan_in)?;
    for id in ids {
        sort.push(id.clone())?;
    }
    sort.into_sorted()
}

#[test]
fn the_merge_over_runs_on_disk_finds_what_both_sides_whole_find() -> Result<(), PipelineError> {
    let ids = awkward_ids();
    let cutoff = 1_000;
    // The source: two ids in three, some read twice (on two pages), in page order (not sorted).
    let mut source: Vec<String> = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        if n % 3 != 0 {
            source.push(id.clone());
        }
        if n % 7 == 0 {
            source.push(id.clone());
        }
    }
    source.reverse();
    // Ids only the source has (created after the target's copy, say).
    source.extend(["only-source", "中文only", "🦀z"].map(str::to_owned));
    // The target: every id but one in five, some not settled (created at or after the
    // cutoff, or with no creation instant), in byte order.
    let target: Vec<(String, Option<i64>)> = ids
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 5 != 4)
        .map(|(n, id)| {
            let created = match n % 11 {
                0 => None,
                1 => Some(cutoff),
                2 => Some(cutoff + 1),
                _ => Some(cutoff - 1 - i64::try_from(n).unwrap_or(0)),
            };
            (id.clone(), created)
        })
        .collect();
    let expected = whole(&source, &target, cutoff);
    assert!(
        expected.len() > 100 && expected.len() < target.len() / 2,
        "{}",
        expected.len()
    );
    // The case the merge could get wrong: a gone id next to a live one it is a prefix of, or
    // that is a prefix of it; and gone ids of several bytes a character.
    let live: BTreeSet<&String> = source.iter().collect();
    let prefix_of_live = |gone: &String| {
        live.iter()
            .any(|live| live.starts_with(gone.as_str()) && *live != gone)
    };
    let live_prefix = |gone: &String| {
        live.iter()
            .any(|live| gone.starts_with(live.as_str()) && *live != gone)
    };
    assert!(expected.iter().any(prefix_of_live));
    assert!(expected.iter().any(live_prefix));
    assert!(expected.iter().any(|id| id.contains('🦀')));
    assert!(expected.iter().any(|id| id.contains('中')));
    // Whole in memory; many small runs merged in rounds; runs of about one id.
    for (budget, fan_in) in [(memory_budget(), LIVE_FAN_IN), (2_000, 4), (1, 2)] {
        let sorted = sorted_source(&source, budget, fan_in)?;
        let found = settled_and_gone(sorted, target.clone(), cutoff)?;
        assert_eq!(found, expected, "budget {budget}, fan-in {fan_in}");
    }
    Ok(())
}

#[test]
fn prefixes_and_neighbours_are_told_apart() -> Result<(), PipelineError> {
    let source = ["a", "abc", "é"].map(|id| Ok(id.to_owned()));
    let target =
        ["", "a", "ab", "abc", "abcd", "e", "é", "éa", "🦀"].map(|id| (id.to_owned(), Some(0)));
    let gone = settled_and_gone(source.into_iter(), target, 1)?;
    let expected: BTreeSet<String> = ["", "ab", "abcd", "e", "éa", "🦀"]
        .map(str::to_owned)
        .into();
    assert_eq!(gone, expected);
    Ok(())
}

#[test]
fn an_empty_side_deletes_all_settled_or_nothing() -> Result<(), PipelineError> {
    let target = vec![
        ("x".to_owned(), Some(0)),
        ("y".to_owned(), None),
        ("z".to_owned(), Some(5)),
    ];
    let gone = settled_and_gone(std::iter::empty(), target, 5)?;
    assert_eq!(gone, BTreeSet::from(["x".to_owned()]));
    let gone = settled_and_gone([Ok("x".to_owned())].into_iter(), Vec::new(), 5)?;
    assert!(gone.is_empty());
    Ok(())
}

#[test]
fn a_target_out_of_byte_order_stops_the_reconciliation() {
    let target = [("b".to_owned(), Some(0)), ("a".to_owned(), Some(0))];
    let result = settled_and_gone(std::iter::empty(), target, 1);
    assert!(
        matches!(&result, Err(PipelineError::Table { message, .. }) if message.contains("byte order")),
        "{result:?}"
    );
}

#[test]
fn a_source_that_fails_fails_the_merge() {
    let source = [
        Ok("a".to_owned()),
        Err(PipelineError::io(
            "run-000000",
            std::io::Error::other("disk gone"),
        )),
    ];
    let target = [("b".to_owned(), Some(0))];
    let result = settled_and_gone(source.into_iter(), target, 1);
    assert!(result.is_err(), "{result:?}");
}
