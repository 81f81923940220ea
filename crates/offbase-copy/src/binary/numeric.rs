//! PostgreSQL `numeric` values: the decimal text parser (shared with the text encoder and
//! the hashes), and the binary `numeric` layout in both directions (written by the encoder,
//! printed back as `numeric_out` does by the decoder).

use super::error::DecodeError;
use super::reader::Reader;

// Sign words of the binary numeric format (`numeric.c`).
pub(super) const NUMERIC_POSITIVE: u16 = 0x0000;
pub(super) const NUMERIC_NEGATIVE: u16 = 0x4000;
pub(super) const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_POSITIVE_INFINITY: u16 = 0xD000;
const NUMERIC_NEGATIVE_INFINITY: u16 = 0xF000;
/// The largest display scale the binary numeric format can carry (`NUMERIC_DSCALE_MASK`).
const NUMERIC_MAX_DISPLAY_SCALE: i64 = 0x3FFF;
/// Exponents beyond this are refused before any arithmetic on them; PostgreSQL's own limit
/// is far smaller (a weight must fit in 16 bits).
const DECIMAL_MAX_EXPONENT: i64 = 1_000_000_000;

/// A decimal number as text (`-12.50`, `1e-7`, `.5`), split into its parts without
/// allocating. Its value is `±(integer digits ++ fraction digits) × 10^(exponent −
/// fraction length)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal<'a> {
    pub(crate) negative: bool,
    integer: &'a [u8],
    fraction: &'a [u8],
    exponent: i64,
}

impl<'a> Decimal<'a> {
    /// Parses PostgreSQL's `numeric` input syntax (also what serde_json prints for a number).
    pub(crate) fn parse(text: &'a str) -> Result<Decimal<'a>, &'static str> {
        let bytes = text.as_bytes();
        let mut position = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                position = 1;
                true
            }
            Some(b'+') => {
                position = 1;
                false
            }
            _ => false,
        };
        let digits_from = |start: usize| {
            let length = bytes
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
            (
                start + length,
                bytes.get(start..start + length).unwrap_or_default(),
            )
        };
        let (after_integer, integer) = digits_from(position);
        position = after_integer;
        let mut fraction: &[u8] = &[];
        if bytes.get(position) == Some(&b'.') {
            let (after_fraction, digits) = digits_from(position + 1);
            fraction = digits;
            position = after_fraction;
        }
        if integer.is_empty() && fraction.is_empty() {
            return Err("it is not a decimal number");
        }
        let mut exponent: i64 = 0;
        if matches!(bytes.get(position), Some(b'e' | b'E')) {
            position += 1;
            let exponent_negative = match bytes.get(position) {
                Some(b'-') => {
                    position += 1;
                    true
                }
                Some(b'+') => {
                    position += 1;
                    false
                }
                _ => false,
            };
            let (after_exponent, digits) = digits_from(position);
            if digits.is_empty() {
                return Err("its exponent has no digits");
            }
            for digit in digits {
                exponent = exponent * 10 + i64::from(digit - b'0');
                if exponent > DECIMAL_MAX_EXPONENT {
                    return Err("its exponent is out of range");
                }
            }
            if exponent_negative {
                exponent = -exponent;
            }
            position = after_exponent;
        }
        if position != bytes.len() {
            return Err("it is not a decimal number");
        }
        Ok(Decimal {
            negative,
            integer,
            fraction,
            exponent,
        })
    }

    /// Every written digit, integer part then fraction, as values 0..=9.
    fn digits(&self) -> impl DoubleEndedIterator<Item = u8> + Clone + 'a {
        self.integer
            .iter()
            .chain(self.fraction)
            .map(|digit| digit - b'0')
    }

    fn digit_count(&self) -> usize {
        self.integer.len() + self.fraction.len()
    }

    /// The digits from the first to the last non-zero one, and the power of ten of the last;
    /// `None` for zero. Equal numbers give equal results whatever their spelling.
    pub(crate) fn significant(
        &self,
    ) -> Option<(impl Iterator<Item = u8> + Clone + 'a, usize, i64)> {
        let leading = self.digits().take_while(|digit| *digit == 0).count();
        if leading == self.digit_count() {
            return None;
        }
        let trailing = self.digits().rev().take_while(|digit| *digit == 0).count();
        let count = self.digit_count() - leading - trailing;
        // Lengths of a text are far below 2^62 and the exponent is bounded by the parser.
        let lowest = self.exponent - self.fraction.len() as i64 + trailing as i64;
        Some((self.digits().skip(leading).take(count), count, lowest))
    }

    /// The number of digits after the decimal point PostgreSQL keeps for this input
    /// (`12.50` → 2, `1e-7` → 7, `1.5e3` → 0).
    fn display_scale(&self) -> i64 {
        (self.fraction.len() as i64 - self.exponent).max(0)
    }

    /// The number as `numeric_out` prints it once stored: plain decimal digits (no exponent),
    /// `scale` digits after the point (the column's scale, else the input's display scale),
    /// no sign on zero (`1e20` → `100000000000000000000`, `1.5e-7` → `0.00000015`).
    pub(crate) fn plain_text(&self, scale: Option<u32>) -> String {
        let scale = scale.map_or(self.display_scale(), i64::from).max(0) as usize;
        let digits: Vec<u8> = self.digits().map(|digit| digit + b'0').collect();
        let point = self.integer.len() as i64 + self.exponent;
        let (whole, fraction): (Vec<u8>, Vec<u8>) = if point <= 0 {
            let mut fraction = vec![b'0'; point.unsigned_abs() as usize];
            fraction.extend_from_slice(&digits);
            (Vec::new(), fraction)
        } else if point as usize >= digits.len() {
            let mut whole = digits.clone();
            whole.resize(point as usize, b'0');
            (whole, Vec::new())
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            (whole.to_vec(), fraction.to_vec())
        };
        let first = whole.iter().position(|digit| *digit != b'0');
        let mut fraction = fraction;
        fraction.resize(scale, b'0');
        let zero = first.is_none() && fraction.iter().all(|digit| *digit == b'0');
        let mut text = String::with_capacity(whole.len() + scale + 2);
        if self.negative && !zero {
            text.push('-');
        }
        match first {
            Some(first) => text.extend(whole.iter().skip(first).map(|digit| char::from(*digit))),
            None => text.push('0'),
        }
        if scale > 0 {
            text.push('.');
            text.extend(fraction.iter().map(|digit| char::from(*digit)));
        }
        text
    }
}

/// Where a decimal's base-10000 digits fall: the shape of its binary `numeric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumericShape {
    groups: i16,
    weight: i16,
    display_scale: u16,
    /// Zeros to put before the significant digits to fill the first group, and after them
    /// to fill the last one (both below 4).
    left_padding: usize,
    right_padding: usize,
}

impl NumericShape {
    /// The shape of `decimal`, or why PostgreSQL's numeric cannot hold it.
    pub(crate) fn of(decimal: &Decimal<'_>) -> Result<NumericShape, &'static str> {
        let display_scale = decimal.display_scale();
        if display_scale > NUMERIC_MAX_DISPLAY_SCALE {
            return Err("it has more digits after the decimal point than numeric can keep (16383)");
        }
        // Checked above: 0..=0x3FFF.
        let display_scale = display_scale as u16;
        let Some((_, count, lowest)) = decimal.significant() else {
            return Ok(NumericShape {
                groups: 0,
                weight: 0,
                display_scale,
                left_padding: 0,
                right_padding: 0,
            });
        };
        // Pad with zeros on the right down to a power of ten that is a multiple of 4, and on
        // the left up to a whole group, so the digits split into base-10000 groups aligned on
        // the decimal point.
        let right_padding = lowest.rem_euclid(4);
        let aligned_lowest = lowest - right_padding;
        let padded = count as i64 + right_padding;
        let left_padding = (4 - padded % 4) % 4;
        let groups = (padded + left_padding) / 4;
        let weight = aligned_lowest / 4 + groups - 1;
        Ok(NumericShape {
            groups: i16::try_from(groups).map_err(|_| "it has too many digits for numeric")?,
            weight: i16::try_from(weight)
                .map_err(|_| "it is too large or too small for numeric")?,
            display_scale,
            left_padding: left_padding as usize,
            right_padding: right_padding as usize,
        })
    }
}

/// Writes the binary `numeric` value: digit count, weight, sign, display scale, then the
/// base-10000 digits, most significant first, without leading or trailing zero digits.
pub(super) fn write_numeric(decimal: &Decimal<'_>, out: &mut Vec<u8>) -> Result<(), &'static str> {
    let shape = NumericShape::of(decimal)?;
    // Zero is always positive in PostgreSQL, whatever sign it was written with.
    let sign = if decimal.negative && shape.groups > 0 {
        NUMERIC_NEGATIVE
    } else {
        NUMERIC_POSITIVE
    };
    out.extend_from_slice(&shape.groups.to_be_bytes());
    out.extend_from_slice(&shape.weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&shape.display_scale.to_be_bytes());
    let Some((digits, _, _)) = decimal.significant() else {
        return Ok(());
    };
    let mut padded_digits = std::iter::repeat_n(0u8, shape.left_padding)
        .chain(digits)
        .chain(std::iter::repeat_n(0u8, shape.right_padding));
    for _ in 0..shape.groups {
        let mut group: u16 = 0;
        for _ in 0..4 {
            group = group * 10 + u16::from(padded_digits.next().unwrap_or(0));
        }
        out.extend_from_slice(&group.to_be_bytes());
    }
    Ok(())
}

/// Prints a binary `numeric` as PostgreSQL's `numeric_out` does: all integer digits, then
/// exactly display-scale digits after the point.
pub(super) fn decode_numeric(value: &mut Reader<'_>) -> Result<String, DecodeError> {
    let count = value.i16()?;
    let weight = value.i16()?;
    let sign = value.u16()?;
    let display_scale = value.u16()?;
    match sign {
        NUMERIC_POSITIVE | NUMERIC_NEGATIVE => {}
        NUMERIC_NAN => return Ok("NaN".to_owned()),
        NUMERIC_POSITIVE_INFINITY => return Ok("Infinity".to_owned()),
        NUMERIC_NEGATIVE_INFINITY => return Ok("-Infinity".to_owned()),
        other => return Err(value.error(format!("numeric sign word {other:#x}"))),
    }
    if i64::from(display_scale) > NUMERIC_MAX_DISPLAY_SCALE {
        return Err(value.error(format!("numeric display scale {display_scale}")));
    }
    let count =
        usize::try_from(count).map_err(|_| value.error(format!("numeric digit count {count}")))?;
    let bytes = value.take(count * 2)?;
    let group = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|index| bytes.get(index * 2..index * 2 + 2))
            .map_or(0, |pair| u16::from_be_bytes([pair[0], pair[1]]))
    };
    if let Some(bad) = (0..count as i64).map(group).find(|digit| *digit > 9999) {
        return Err(value.error(format!("numeric digit {bad} is not below 10000")));
    }
    let weight = i64::from(weight);
    let mut text =
        String::with_capacity((weight.max(0) as usize + 1) * 4 + usize::from(display_scale) + 2);
    if sign == NUMERIC_NEGATIVE {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        // Group `index` holds the digits of 10000^(weight - index).
        for index in 0..=weight {
            let digits = group(index);
            if index == 0 {
                push_number(&mut text, u64::from(digits));
            } else {
                push_group(&mut text, digits, 4);
            }
        }
    }
    if display_scale > 0 {
        text.push('.');
        let mut left = usize::from(display_scale);
        let mut index = weight + 1;
        while left > 0 {
            let take = left.min(4);
            push_group(&mut text, group(index), take);
            left -= take;
            index += 1;
        }
    }
    Ok(text)
}

fn push_number(text: &mut String, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    for digit in &digits[start..] {
        text.push(char::from(*digit));
    }
}

/// Pushes the first `take` of a group's four digits, zero-padded.
fn push_group(text: &mut String, group: u16, take: usize) {
    let digits = [group / 1000, group / 100 % 10, group / 10 % 10, group % 10];
    for digit in digits.iter().take(take) {
        text.push(char::from(b'0' + *digit as u8));
    }
}
