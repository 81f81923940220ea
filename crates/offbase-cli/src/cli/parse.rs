//! Value parsers of the flags, also used on the values of the project file.

use std::time::Duration;

/// A schema name PostgreSQL keeps as it is: PostgreSQL cuts names past 63 bytes, so two long
/// names with one start would be one schema while offbase's state kept them apart.
pub fn pg_schema(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("the schema name is empty".to_owned());
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{:?} holds control characters: choose a plain name",
            text
        ));
    }
    if text.len() > offbase_model::names::MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "{text:?} is {} bytes long; PostgreSQL keeps at most {} (it would cut the rest): choose a shorter name",
            text.len(),
            offbase_model::names::MAX_IDENTIFIER_BYTES
        ));
    }
    Ok(text.to_owned())
}

/// `500ms`, `2s`, `1m`, or a number of seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|character: char| character.is_ascii_alphabetic()) {
        Some(position) => text.split_at(position),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 2s, 1m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{text:?} is longer than any wait offbase can make"))
}

/// The name of an environment variable (`BASE44_API_KEY`): letters, digits and `_`, not
/// starting with a digit. A project file names variables; a value that is not a name may be
/// the secret itself, pasted in the wrong place.
pub fn variable_name(text: &str) -> Result<String, String> {
    let mut characters = text.chars();
    let plausible = characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_');
    if plausible {
        Ok(text.to_owned())
    } else {
        Err(
            "expected the name of an environment variable (like BASE44_API_KEY), not a value"
                .to_owned(),
        )
    }
}
