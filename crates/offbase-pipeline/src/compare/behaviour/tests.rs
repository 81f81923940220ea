use super::*;

fn record(id: &str, fields: Value) -> BTreeMap<String, Value> {
    let mut record: BTreeMap<String, Value> = match fields {
        Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    record.insert("id".to_owned(), json!(id));
    record
}

fn request(sort: Option<&str>, limit: Option<u64>) -> CorpusRequest {
    let mut request = CorpusRequest::new("Task", Operation::List);
    request.sort = sort.map(str::to_owned);
    request.limit = limit;
    request
}

#[test]
fn two_asks_of_the_old_backend_tell_noise_fields_and_unstable_orders() {
    let first = Answer::Records(vec![
        record("a", json!({"title": "x", "views": 1})),
        record("b", json!({"title": "y", "views": 5})),
    ]);
    let second = Answer::Records(vec![
        record("a", json!({"title": "x", "views": 2})),
        record("b", json!({"title": "y", "views": 5, "seen_at": "now"})),
    ]);
    let (noise, stable) = baseline(&first, &second);
    assert_eq!(
        noise.into_iter().collect::<Vec<_>>(),
        ["seen_at".to_owned(), "views".to_owned()]
    );
    assert!(stable);
    let reordered = Answer::Records(vec![
        record("b", json!({"title": "y", "views": 5})),
        record("a", json!({"title": "x", "views": 1})),
    ]);
    let (noise, stable) = baseline(&first, &reordered);
    assert!(noise.is_empty());
    assert!(!stable);
    let (_, stable) = baseline(&Answer::Count(3), &Answer::Count(4));
    assert!(!stable);
}

#[test]
fn answers_compare_in_order_as_a_set_or_by_size() {
    let options = BehaviourOptions::default();
    let a = record("a", json!({"score": 0.1}));
    let b = record("b", json!({"score": 2}));
    let old = Answer::Records(vec![a.clone(), b.clone()]);
    let swapped = Answer::Records(vec![b.clone(), a.clone()]);
    // Sorted: order matters.
    assert_eq!(
        compare(
            &request(Some("score"), None),
            &old,
            &swapped,
            true,
            &options
        ),
        (Comparison::Ordered, false)
    );
    // Not sorted, the whole answer: as a set.
    assert_eq!(
        compare(&request(None, None), &old, &swapped, true, &options),
        (Comparison::Unordered, true)
    );
    // Not sorted and cut by the limit: any two records are right.
    let other = Answer::Records(vec![record("c", json!({})), record("d", json!({}))]);
    assert_eq!(
        compare(&request(None, Some(2)), &old, &other, true, &options),
        (Comparison::SizeOnly, true)
    );
    // Sorted but unstable on the old backend: by size.
    assert_eq!(
        compare(
            &request(Some("score"), None),
            &old,
            &swapped,
            false,
            &options
        ),
        (Comparison::SizeOnly, true)
    );
    // Numbers within the tolerance, not beyond it.
    let close = Answer::Records(vec![record("a", json!({"score": 0.1 + 1e-12})), b.clone()]);
    let far = Answer::Records(vec![record("a", json!({"score": 0.1001})), b]);
    let sorted = request(Some("id"), None);
    assert_eq!(
        compare(&sorted, &old, &close, true, &options),
        (Comparison::Ordered, true)
    );
    assert_eq!(
        compare(&sorted, &old, &far, true, &options),
        (Comparison::Ordered, false)
    );
    // Refusals match each other, not an answer.
    let refused = Answer::Refused("HTTP 400".to_owned());
    assert_eq!(
        compare(
            &sorted,
            &refused,
            &Answer::Refused("SQL".into()),
            true,
            &options
        ),
        (Comparison::BothRefused, true)
    );
    assert!(!compare(&sorted, &refused, &old, true, &options).1);
}

#[test]
fn a_reordered_answer_is_shown_one_line_a_record() {
    let old = Answer::Records(vec![
        record("a", json!({"name": "Zed"})),
        record("b", json!({"name": "apple"})),
    ]);
    let new = Answer::Records(vec![
        record("b", json!({"name": "apple"})),
        record("a", json!({"name": "Zed"})),
    ]);
    let diff = render_diff(&old, &new, Comparison::Ordered, Some("name"));
    // One record moved: removed where it was, added where it is.
    let moved = |id: &str| {
        diff.lines()
            .any(|line| line.starts_with(&format!("-{id} name=")))
            && diff
                .lines()
                .any(|line| line.starts_with(&format!("+{id} name=")))
    };
    assert!(moved("a") || moved("b"), "{diff}");
    assert!(!diff.contains('{'), "{diff}");
}
