//! Base44 timestamps, dates and times, and the one grammar offbase reads them with.
//!
//! The platform stores UTC instants and writes them in several forms: stored records without a
//! zone and with 6 fractional digits (`2026-06-01T09:23:41.481000`), fresh records with
//! milliseconds and `Z`, exports without a fraction, user fields from JavaScript `toISOString`
//! or a `datetime-local` input (`2026-06-01T09:23`). All of them, and only forms PostgreSQL
//! reads as the same value, are accepted:
//!
//! ```text
//! timestamp = date ("T" | "t" | " ") time [zone]      no zone: UTC
//! date      = YYYY "-" MM "-" DD                       4, 2 and 2 digits; year 0001 to 9999
//! time      = hh ":" mm [":" ss ["." digit+]]          2 digits each; hh 00-23, mm, ss 00-59
//! zone      = "Z" | "z" | ("+" | "-") hh [[":"] mm]    at most 15:59, PostgreSQL's limit
//! ```
//!
//! ASCII whitespace around a value is ignored. A fraction is rounded to the microsecond the way
//! PostgreSQL rounds it (`rint` of the fraction read as a double, times 10^6: ties to even,
//! as far as a double tells them), so `.1234565` is `.123456`, `.1234575` is `.123458`, and
//! `23:59:59.9999995` is midnight of the next day. Refused, though PostgreSQL reads some of
//! them: months, days or hours of one digit (`2024-1-1`), a date alone where a date-time is
//! expected, year 0000 or five digits, `24:00`, leap seconds (`:60`), an offset beyond 15:59
//! or with seconds, an empty fraction, a time that rounds to `24:00:00`. Base44 writes none of
//! them, and one strict rule keeps a load from guessing.
//!
//! Every record holds two or more timestamps, so the parser reads bytes directly: chrono's
//! format-driven parser dominated a load's profile.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// `num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Parses a date-time of the grammar above to a UTC instant, rounded to the microsecond.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let bytes = trim(text).as_bytes();
    let date = date_of(bytes.get(..10)?)?;
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (micros_of_day, zone) = time_prefix(bytes.get(11..)?)?;
    let offset_seconds = zone_offset(zone)?;
    let days = i64::from(days_since_unix_epoch(date));
    DateTime::from_timestamp_micros(
        days * MICROS_PER_DAY + micros_of_day - offset_seconds * MICROS_PER_SECOND,
    )
}

/// Parses a date: `YYYY-MM-DD`, as in the grammar above.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    date_of(trim(text).as_bytes())
}

/// Parses a time of day: `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f...`, as in the grammar above.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    let (micros, rest) = time_prefix(trim(text).as_bytes())?;
    if !rest.is_empty() || micros >= MICROS_PER_DAY {
        return None;
    }
    let seconds = u32::try_from(micros / MICROS_PER_SECOND).ok()?;
    let nanoseconds = u32::try_from(micros % MICROS_PER_SECOND * 1_000).ok()?;
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanoseconds)
}

/// The Unix day number of `date`: days from 1970-01-01, negative before it.
pub fn days_since_unix_epoch(date: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&date) - UNIX_EPOCH_DAYS_FROM_CE
}

/// The inverse of [`days_since_unix_epoch`]: the (year, month, day) of a Unix day number, in
/// the proleptic Gregorian calendar (H. Hinnant's `civil_from_days`). Pure arithmetic, with no
/// range limit, for writers that format dates themselves.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn trim(text: &str) -> &str {
    text.trim_matches(|character: char| character.is_ascii_whitespace())
}

/// The number written by `bytes`, when it is one or more ASCII digits (at most 9).
fn number(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0u32, |total, byte| {
        byte.is_ascii_digit()
            .then(|| total * 10 + u32::from(byte - b'0'))
    })
}

/// `YYYY-MM-DD`, all of `bytes`.
fn date_of(bytes: &[u8]) -> Option<NaiveDate> {
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let year = number(bytes.get(0..4)?)?;
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        number(bytes.get(5..7)?)?,
        number(bytes.get(8..10)?)?,
    )
}

/// `hh:mm[:ss[.f...]]` at the start of `bytes`: the microseconds since midnight (a fraction
/// that rounds up can make it 24:00:00) and the bytes after it.
fn time_prefix(bytes: &[u8]) -> Option<(i64, &[u8])> {
    if bytes.get(2) != Some(&b':') {
        return None;
    }
    let hour = number(bytes.get(0..2)?)?;
    let minute = number(bytes.get(3..5)?)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut micros = i64::from(hour * 3_600 + minute * 60) * MICROS_PER_SECOND;
    let mut rest = bytes.get(5..)?;
    if let Some(after) = rest.strip_prefix(b":") {
        let second = number(after.get(0..2)?)?;
        if second > 59 {
            return None;
        }
        micros += i64::from(second) * MICROS_PER_SECOND;
        rest = after.get(2..)?;
        if let Some(digits) = rest.strip_prefix(b".") {
            let count = digits
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
            micros += fraction_micros(rest.get(..1 + count)?)?;
            rest = digits.get(count..)?;
        }
    }
    Some((micros, rest))
}

/// A fraction (`.` and one or more digits) in microseconds, rounded as PostgreSQL rounds it:
/// `rint(strtod(fraction) * 1000000)`.
fn fraction_micros(fraction: &[u8]) -> Option<i64> {
    let digits = fraction.get(1..)?;
    if digits.is_empty() {
        return None;
    }
    if digits.len() <= 6 {
        // Exact: a double is within far less than a half of this integer.
        let value = i64::from(number(digits)?);
        return Some(value * 10i64.pow(6 - digits.len() as u32));
    }
    let value: f64 = std::str::from_utf8(fraction).ok()?.parse().ok()?;
    Some((value * 1e6).round_ties_even() as i64)
}

/// The offset of a zone (`""`, `Z`, `z`, `+hh`, `+hhmm`, `+hh:mm`, or with `-`), in seconds.
fn zone_offset(zone: &[u8]) -> Option<i64> {
    let (sign, digits) = match zone {
        [] | [b'Z'] | [b'z'] => return Some(0),
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return None,
    };
    let (hours, minutes) = match digits {
        [_, _] => (digits, &b"00"[..]),
        [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (&[*h1, *h2][..], &[*m1, *m2][..]),
        _ => return None,
    };
    let (hours, minutes) = (number(hours)?, number(minutes)?);
    if hours > 15 || minutes > 59 {
        return None;
    }
    Some(sign * i64::from(hours * 3_600 + minutes * 60))
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

    fn micros(text: &str) -> Option<i64> {
        parse_timestamp(text).map(|instant| instant.timestamp_micros())
    }

    #[test]
    fn every_form_base44_writes_is_the_same_instant() {
        let expected = parse_timestamp("2026-06-01T09:23:41.481Z");
        assert!(expected.is_some());
        for text in [
            "2026-06-01T09:23:41.481000",
            "2026-06-01T09:23:41.481",
            "2026-06-01T11:23:41.481+02:00",
            "2026-06-01T11:23:41.481+02",
            "2026-06-01T04:23:41.481-0500",
            "2026-06-01 09:23:41.481",
            "2026-06-01t09:23:41.481z",
            " 2026-06-01T09:23:41.481Z\n",
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
        assert_eq!(micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            micros("0001-01-01T00:00:00.5"),
            Some(-62_135_596_799_500_000)
        );
        assert_eq!(
            micros("2024-02-29T00:00:00+15:59"),
            micros("2024-02-28T08:01:00Z")
        );
        assert_eq!(
            micros("2024-02-29T00:00:00-15:59"),
            micros("2024-02-29T15:59:00Z")
        );
    }

    /// Regression: offsets beyond PostgreSQL's ±15:59 were loaded, one-digit months and
    /// days were read, and whatever else the grammar does not hold.
    #[test]
    fn what_the_grammar_does_not_hold_is_refused() {
        for bad in [
            "",
            "now",
            "2026-06-01",
            "2024-1-1",
            "2024-1-1T00:00:00",
            "2024-01-1T00:00:00Z",
            "2024-01-01T0:00:00Z",
            "2024-01-01T00:0:00Z",
            "2024-01-01T00:00:0Z",
            "0000-01-01T00:00:00Z",
            "20240-01-01T00:00:00Z",
            "+2024-01-01T00:00:00Z",
            "2026-02-30T00:00:00",
            "2026-13-01T09:23:41",
            "2026-06-01T25:00",
            "2026-06-01T24:00:00",
            "2026-06-01T23:60:00",
            "2026-06-01T23:59:60Z",
            "2026-06-01T09:23:41.",
            "2026-06-01T09:23:41.Z",
            "2026-06-01T09:23.5",
            "2026-06-01T09:23:41,5Z",
            "2024-01-01T00:00:00+99:00",
            "2024-01-01T00:00:00+16:00",
            "2024-01-01T00:00:00-16",
            "2024-01-01T00:00:00+15:60",
            "2024-01-01T00:00:00+05:30:15",
            "2024-01-01T00:00:00+5:30",
            "2024-01-01T00:00:00+05:3",
            "2024-01-01T00:00:00 +05:30",
            "2024-01-01T00:00:00ZZ",
            "2024-01-01T00:00:00 UTC",
            "2024-01-01T00:00:00\u{3000}",
            "2024-01-01_00:00:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    /// Regression: a fraction of 7 digits or more was cut where PostgreSQL rounds. Each
    /// expectation is what `'...'::timestamptz` gives on PostgreSQL 15.
    #[test]
    fn fractions_round_to_the_microsecond_as_postgresql_rounds_them() {
        let base = micros("2024-01-01T00:00:00Z").unwrap_or_default();
        for (fraction, expected) in [
            (".1234565", 123_456),
            (".1234575", 123_458),
            (".12345650", 123_456),
            (".12345649999", 123_456),
            (".0000005", 0),
            (".0000015", 2),
            (".0000025", 2),
            (".5000005", 500_000),
            (".123456789012345678901234567890", 123_457),
            (".9999995", 1_000_000),
            (".5", 500_000),
            (".123", 123_000),
            (".000001", 1),
        ] {
            assert_eq!(
                micros(&format!("2024-01-01T00:00:00{fraction}Z")),
                Some(base + expected),
                "{fraction}"
            );
        }
        assert_eq!(
            micros("2024-01-01T23:59:59.9999995Z"),
            micros("2024-01-02T00:00:00Z")
        );
        assert_eq!(
            micros("1999-12-31T23:59:59.9999995+01:00"),
            micros("1999-12-31T23:00:00Z")
        );
    }

    #[test]
    fn unix_day_numbers() {
        for (text, expected) in [
            ("1970-01-01", 0),
            ("1969-12-31", -1),
            ("2000-01-01", 10_957),
            ("0001-01-01", -719_162),
        ] {
            assert_eq!(
                parse_date(text).map(days_since_unix_epoch),
                Some(expected),
                "{text}"
            );
        }
    }

    #[test]
    fn civil_dates_of_unix_day_numbers() {
        for (days, expected) in [
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (10_957, (2000, 1, 1)),
            (19_782, (2024, 2, 29)),
            (-719_162, (1, 1, 1)),
            (2_932_896, (9999, 12, 31)),
        ] {
            assert_eq!(civil_from_days(days), expected, "{days}");
        }
        // The inverse of `days_since_unix_epoch` on every day of the grammar's years.
        let (Some(first), Some(last)) = (parse_date("0001-01-01"), parse_date("9999-12-31")) else {
            panic!("unparsed");
        };
        for date in first.iter_days().take_while(|date| *date <= last) {
            let (year, month, day) = civil_from_days(i64::from(days_since_unix_epoch(date)));
            assert_eq!(
                (year, month, day),
                (
                    i64::from(chrono::Datelike::year(&date)),
                    chrono::Datelike::month(&date),
                    chrono::Datelike::day(&date)
                ),
                "{date}"
            );
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
    }

    #[test]
    fn dates_are_four_two_two_digits() {
        for (text, expected) in [
            ("2026-02-28", Some("2026-02-28")),
            (" 2026-02-28 ", Some("2026-02-28")),
            ("2024-02-29", Some("2024-02-29")),
            ("0001-01-01", Some("0001-01-01")),
            ("2026-02-30", None),
            ("0000-01-01", None),
            ("2026-2-28", None),
            ("2024-1-1", None),
            ("2026-02-2x", None),
            ("20260-02-28", None),
            ("2026-02-28T00:00", None),
            ("", None),
        ] {
            assert_eq!(
                parse_date(text).map(|date| date.to_string()),
                expected.map(str::to_owned),
                "{text:?}"
            );
        }
    }

    #[test]
    fn times_are_two_digit_fields_rounded_like_timestamps() {
        for (text, expected) in [
            ("09:30", Some("09:30:00")),
            ("09:30:15", Some("09:30:15")),
            ("09:30:15.5", Some("09:30:15.500")),
            ("09:30:15.1234565", Some("09:30:15.123456")),
            ("09:30:15.1234575", Some("09:30:15.123458")),
            ("23:59:59.9999994", Some("23:59:59.999999")),
            ("23:59:59.9999995", None),
            ("9:30", None),
            ("24:00", None),
            ("09:60", None),
            ("09:30:60", None),
            ("09:30Z", None),
            ("09:30:15.", None),
        ] {
            assert_eq!(
                parse_time(text).map(|time| time.to_string()),
                expected.map(str::to_owned),
                "{text:?}"
            );
        }
    }
}
