//! Base44 timestamps. The platform stores UTC instants and writes them in several forms: stored
//! records without `Z` and with 6 fractional digits (`2026-06-01T09:23:41.481000`), fresh
//! records with milliseconds and `Z`, exports without a fraction, user fields from JavaScript
//! `toISOString` or a `datetime-local` input (`2026-06-01T09:23`). All of them parse here.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Parses any Base44 date-time form to a UTC instant. A form without a zone is UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(instant) = parse_common(text) {
        return Some(instant);
    }
    if let Ok(with_zone) = DateTime::parse_from_rfc3339(text) {
        return Some(with_zone.with_timezone(&Utc));
    }
    let (body, offset_seconds) = split_zone(text)?;
    let naive = parse_naive(body)?;
    let utc = Utc.from_utc_datetime(&naive);
    Some(utc - chrono::Duration::seconds(i64::from(offset_seconds)))
}

/// The forms nearly every record holds (`YYYY-MM-DDTHH:MM[:SS[.fraction]]` with or without
/// `Z`), read byte by byte: a load parses two or more per record, and chrono's format-driven
/// parser dominated its profile. Anything else falls through to the general path.
fn parse_common(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.strip_suffix('Z').unwrap_or(text).as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = bytes.get(range)?;
        digits.iter().try_fold(0u32, |total, byte| {
            byte.is_ascii_digit()
                .then(|| total * 10 + u32::from(byte - b'0'))
        })
    };
    let separator = |position: usize, expected: u8| bytes.get(position) == Some(&expected);
    if !(separator(4, b'-') && separator(7, b'-') && separator(10, b'T') && separator(13, b':')) {
        return None;
    }
    let year = i32::try_from(number(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)?;
    let (hour, minute) = (number(11..13)?, number(14..16)?);
    let (second, nanosecond) = match bytes.len() {
        16 => (0, 0),
        length if length >= 19 && separator(16, b':') => {
            let second = number(17..19)?;
            let nanosecond = match length {
                19 => 0,
                _ if separator(19, b'.') && (21..=29).contains(&length) => {
                    let digits = length - 20;
                    number(20..length)? * 10u32.pow(u32::try_from(9 - digits).ok()?)
                }
                _ => return None,
            };
            (second, nanosecond)
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanosecond)?;
    Some(Utc.from_utc_datetime(&date.and_time(time)))
}

/// Splits a trailing `Z`, `+HH:MM`, `+HHMM` or `+HH` off a date-time.
fn split_zone(text: &str) -> Option<(&str, i32)> {
    if let Some(body) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Some((body, 0));
    }
    // An offset can only follow the time part, after a `T` or a space.
    let time_start = text.find(['T', 't', ' '])?;
    let time = &text[time_start..];
    let Some(sign_position) = time.rfind(['+', '-']) else {
        return Some((text, 0));
    };
    let offset = &time[sign_position + 1..];
    let digits: String = offset.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    let sign = if time[sign_position..].starts_with('-') {
        -1
    } else {
        1
    };
    Some((
        &text[..time_start + sign_position],
        sign * (hours * 3600 + minutes * 60),
    ))
}

fn parse_naive(body: &str) -> Option<NaiveDateTime> {
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(body, format) {
            return Some(parsed);
        }
    }
    None
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    // The usual four-digit-year form byte by byte, as `parse_common` does for date-times.
    let bytes = text.as_bytes();
    if bytes.len() == 10 && bytes.get(4) == Some(&b'-') && bytes.get(7) == Some(&b'-') {
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            bytes.get(range)?.iter().try_fold(0u32, |total, byte| {
                byte.is_ascii_digit()
                    .then(|| total * 10 + u32::from(byte - b'0'))
            })
        };
        if let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) {
            return NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Parses `HH:MM`, `HH:MM:SS` or `HH:MM:SS.ffffff`.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}

/// The form Base44 returns for stored records: no zone, 6 fractional digits.
pub fn format_stored(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// The form Base44 returns for a record it has just created: milliseconds and `Z`.
pub fn format_fresh(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_the_general_one() {
        for text in [
            "2026-06-01T09:23:41.481000",
            "2026-06-01T09:23:41.481Z",
            "2026-06-01T09:23",
            "2026-06-01T09:23:41",
            "2026-06-01T09:23:41.123456789",
            "2024-02-29T00:00:00Z",
            "0001-01-01T00:00:00.5",
        ] {
            let general = split_zone(text)
                .and_then(|(body, _)| parse_naive(body))
                .map(|naive| Utc.from_utc_datetime(&naive));
            assert!(general.is_some(), "{text}");
            assert_eq!(parse_common(text), general, "{text}");
        }
        for text in [
            "2026-13-01T09:23:41",
            "2026-02-30T09:23",
            "2026-06-01T24:00:00",
            "2026-06-01T09:23:41.",
            "2026-06-01T09:23:4",
            "2026-06-01 09:23:41",
            "2026-06-01T09:23:41+02:00",
        ] {
            assert_eq!(parse_common(text), None, "{text}");
        }
    }

    #[test]
    fn every_form_base44_writes_is_the_same_instant() {
        let expected = parse_timestamp("2026-06-01T09:23:41.481Z");
        assert!(expected.is_some());
        for text in [
            "2026-06-01T09:23:41.481000",
            "2026-06-01T09:23:41.481",
            "2026-06-01T11:23:41.481+02:00",
            "2026-06-01T04:23:41.481-0500",
            "2026-06-01 09:23:41.481",
        ] {
            assert_eq!(parse_timestamp(text), expected, "{text}");
        }
        assert_eq!(
            parse_timestamp("2026-01-05T12:34:56"),
            parse_timestamp("2026-01-05T12:34:56.000000Z")
        );
        assert_eq!(
            parse_timestamp("2026-01-05T12:34"),
            parse_timestamp("2026-01-05T12:34:00Z")
        );
        for bad in [
            "",
            "now",
            "2026-02-30T00:00:00",
            "2026-06-01",
            "2026-06-01T25:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn stored_and_fresh_forms() {
        let instant = parse_timestamp("2026-06-01T09:23:41.481Z");
        let Some(instant) = instant else {
            panic!("unparsed");
        };
        assert_eq!(format_stored(instant), "2026-06-01T09:23:41.481000");
        assert_eq!(format_fresh(instant), "2026-06-01T09:23:41.481Z");
        assert_eq!(
            parse_date("2026-02-28").map(|d| d.to_string()),
            Some("2026-02-28".into())
        );
        assert_eq!(
            parse_time("09:30").map(|t| t.to_string()),
            Some("09:30:00".into())
        );
    }

    #[test]
    fn dates_fast_and_general_agree() {
        for text in [
            "2026-02-28",
            " 2026-02-28 ",
            "2026-02-30",
            "2024-02-29",
            "0001-01-01",
            "2026-2-28",
            "2026-02-2x",
            "20260-02-28",
            "",
        ] {
            assert_eq!(
                parse_date(text),
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok(),
                "{text:?}"
            );
        }
    }
}
