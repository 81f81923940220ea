//! JSONC (JSON with comments and trailing commas, as the Base44 CLI writes `base44/*.jsonc`)
//! turned into plain JSON without moving anything: every byte keeps its line and column, so a
//! parse error on the result points at the right place in the original file.
//!
//! One set of rules (`Stripper`) serves both forms: [`strip`] for a text in memory
//! (same byte length too), and [`JsoncReader`], a [`Read`] adapter that strips as the bytes
//! flow, in bounded memory whatever the size of the file, for serde_json's streaming
//! deserializer.

use std::io::{self, Read};

/// Turns JSONC into JSON of the same byte length and the same line breaks.
///
/// - `//` and `/* */` comments become spaces (their newlines are kept);
/// - a trailing comma before `}` or `]` (with only whitespace or comments between) becomes a
///   space;
/// - a leading UTF-8 byte order mark becomes spaces (three bytes, three spaces);
/// - strings, escapes included, are left untouched.
///
/// Anything else, valid or not, is copied as it is: reporting errors is the JSON parser's job.
pub fn strip(text: &str) -> String {
    let mut stripper = Stripper::new(usize::MAX);
    let mut output = Vec::with_capacity(text.len());
    stripper.feed(text, &mut output);
    stripper.finish(&mut output);
    // Only whole characters are replaced (by ASCII), so the output is UTF-8.
    String::from_utf8(output)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Where a JSON parse error is, for a message that names the file: (line, column, what is
/// wrong), the last without serde_json's ` at line L column C`. The positions hold for the
/// original JSONC text, since [`strip`] and [`JsoncReader`] move nothing.
pub(crate) fn error_position(error: &serde_json::Error) -> (usize, usize, String) {
    let (line, column) = (error.line(), error.column());
    let full = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    (line, column, message)
}

/// [`error_position`] for an error of serde_json's streaming reader over a [`JsoncReader`] of
/// `source` (the same text again), as parsing the text whole would have placed it: the
/// streaming reader counts the byte it peeked at past a number that is out of range, the whole
/// text's does not. The text is read again up to the error to find that byte.
pub(crate) fn reader_error_position<R: Read>(
    error: &serde_json::Error,
    source: R,
) -> (usize, usize, String) {
    let (line, column, message) = error_position(error);
    if message != "number out of range" {
        return (line, column, message);
    }
    let mut at = (1, 0);
    let mut previous_line = 0;
    for byte in io::BufReader::new(JsoncReader::new(source)).bytes() {
        let Ok(byte) = byte else {
            break;
        };
        if byte == b'\n' {
            previous_line = at.1;
            at = (at.0 + 1, 0);
        } else {
            at.1 += 1;
        }
        if at == (line, column) {
            // `byte` is the last the streaming reader counted: a digit when it peeked at none.
            let (line, column) = match byte {
                b'0'..=b'9' => (line, column),
                b'\n' => (line - 1, previous_line),
                _ => (line, column - 1),
            };
            return (line, column, message);
        }
    }
    (line, column, message)
}

/// Bytes read from the source at a time.
const CHUNK: usize = 64 * 1024;

/// How much whitespace and comment text [`JsoncReader`] holds after a comma while it waits for
/// what follows (a `]` or `}` makes the comma a trailing one). Past it the comma's slot is let
/// go as a space and a comma is put back just before the next value: the JSON is the same,
/// only a column on that line may be one further than in the file.
const HOLD_LIMIT: usize = 64 * 1024;

/// A [`Read`] adapter that turns the JSONC its source gives into JSON as the bytes flow, by
/// the rules of [`strip`], holding at most a chunk of the source and a few bytes after a comma
/// (see `HOLD_LIMIT`), whatever the size of the file. Lines and columns are kept, so serde_json's
/// error positions hold for the original file.
///
/// The source must be UTF-8 (as the Base44 CLI writes it): the first byte that is not fails
/// the read with [`io::ErrorKind::InvalidData`], and [`JsoncReader::invalid_utf8_line`] says on
/// which line it is.
#[derive(Debug)]
pub struct JsoncReader<R> {
    source: R,
    stripper: Stripper,
    /// Bytes read from the source; the first `carry` are the start of a character cut by the
    /// end of the previous read.
    input: Vec<u8>,
    carry: usize,
    /// Stripped bytes not read yet: `output[output_at..]`.
    output: Vec<u8>,
    output_at: usize,
    /// Line breaks in the source so far (the text checked as UTF-8).
    newlines: u64,
    invalid_line: Option<u64>,
    ended: bool,
}

impl<R: Read> JsoncReader<R> {
    pub fn new(source: R) -> JsoncReader<R> {
        JsoncReader {
            source,
            stripper: Stripper::new(HOLD_LIMIT),
            input: Vec::new(),
            carry: 0,
            output: Vec::new(),
            output_at: 0,
            newlines: 0,
            invalid_line: None,
            ended: false,
        }
    }

    /// The line (from 1) of the first byte that is not UTF-8, once the reader has met it.
    pub fn invalid_utf8_line(&self) -> Option<u64> {
        self.invalid_line
    }

    /// Reads the next chunk of the source into `output`.
    fn fill(&mut self) -> io::Result<()> {
        self.input.resize(self.carry + CHUNK, 0);
        let read = loop {
            match self.source.read(&mut self.input[self.carry..]) {
                Ok(read) => break read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        };
        if read == 0 {
            if self.carry > 0 {
                // The file ends inside a character.
                self.invalid_line = Some(1 + self.newlines);
                return Ok(());
            }
            self.stripper.finish(&mut self.output);
            self.ended = true;
            return Ok(());
        }
        let filled = self.carry + read;
        let checked = std::str::from_utf8(&self.input[..filled]);
        let (valid, cut) = match &checked {
            Ok(_) => (filled, false),
            Err(error) => (error.valid_up_to(), error.error_len().is_none()),
        };
        // The text up to the first byte that is not UTF-8 (or up to a character cut short).
        let text = checked.or_else(|_| std::str::from_utf8(&self.input[..valid]));
        let text = text.unwrap_or_default();
        self.newlines += text.bytes().filter(|byte| *byte == b'\n').count() as u64;
        self.stripper.feed(text, &mut self.output);
        if valid == filled {
            self.carry = 0;
        } else if cut {
            self.input.copy_within(valid..filled, 0);
            self.carry = filled - valid;
        } else {
            // What comes before is read first; then the reads fail.
            self.invalid_line = Some(1 + self.newlines);
        }
        Ok(())
    }
}

impl<R: Read> Read for JsoncReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(waiting) = self
                .output
                .get(self.output_at..)
                .filter(|rest| !rest.is_empty())
            {
                let count = waiting.len().min(buffer.len());
                buffer[..count].copy_from_slice(&waiting[..count]);
                self.output_at += count;
                return Ok(count);
            }
            if let Some(line) = self.invalid_line {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("line {line}: not UTF-8 text"),
                ));
            }
            if self.ended || buffer.is_empty() {
                return Ok(0);
            }
            self.output.clear();
            self.output_at = 0;
            self.fill()?;
        }
    }
}

/// The JSONC rules, fed a text in pieces (each cut between two characters).
#[derive(Debug)]
struct Stripper {
    state: State,
    comma: Comma,
    /// What follows a [`Comma::Held`] comma (whitespace and blanked comments), until it is
    /// known whether the comma is a trailing one.
    held: Vec<u8>,
    hold_limit: usize,
    started: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// A `/` outside strings: a comment starts if `/` or `*` follows.
    Slash,
    Text {
        escaped: bool,
    },
    LineComment,
    /// `star`: the last byte was a `*` that can close the comment.
    BlockComment {
        star: bool,
    },
}

/// The last comma outside strings, while only whitespace and comments follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comma {
    None,
    /// Not written yet; what follows it is in `held`.
    Held,
    /// Written as a space (`held` grew too long): a comma goes before the next value.
    Owed,
}

impl Stripper {
    fn new(hold_limit: usize) -> Stripper {
        Stripper {
            state: State::Normal,
            comma: Comma::None,
            held: Vec::new(),
            hold_limit,
            started: false,
        }
    }

    /// Strips `text`, the next piece of the input, into `output`.
    fn feed(&mut self, text: &str, output: &mut Vec<u8>) {
        let bytes = text.as_bytes();
        let mut at = 0;
        if !self.started && !bytes.is_empty() {
            self.started = true;
            if text.starts_with('\u{feff}') {
                self.blank(b"   ", output);
                at = '\u{feff}'.len_utf8();
            }
        }
        while let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) {
            match self.state {
                State::Text { escaped: true } => {
                    output.extend_from_slice(&rest[..1]);
                    at += 1;
                    self.state = State::Text { escaped: false };
                }
                State::Text { escaped: false } => {
                    // Copied as it is up to the next quote or backslash (never inside a
                    // character of more than one byte).
                    match rest.iter().position(|byte| matches!(byte, b'"' | b'\\')) {
                        None => {
                            output.extend_from_slice(rest);
                            at = bytes.len();
                        }
                        Some(end) => {
                            output.extend_from_slice(&rest[..=end]);
                            at += end + 1;
                            self.state = if rest[end] == b'"' {
                                State::Normal
                            } else {
                                State::Text { escaped: true }
                            };
                        }
                    }
                }
                State::LineComment => {
                    // The line break ends it and is kept, as whitespace.
                    let end = rest
                        .iter()
                        .position(|byte| *byte == b'\n')
                        .unwrap_or(rest.len());
                    self.blank(&rest[..end], output);
                    at += end;
                    if end < rest.len() {
                        self.state = State::Normal;
                    }
                }
                State::BlockComment { star } => {
                    let byte = rest[0];
                    at += 1;
                    self.blank(&[byte], output);
                    self.state = if star && byte == b'/' {
                        State::Normal
                    } else {
                        State::BlockComment { star: byte == b'*' }
                    };
                }
                State::Slash => match rest[0] {
                    b'/' => {
                        self.blank(b"//", output);
                        at += 1;
                        self.state = State::LineComment;
                    }
                    b'*' => {
                        // `/*/` does not close the comment it opens: the `*` is not a closer.
                        self.blank(b"/*", output);
                        at += 1;
                        self.state = State::BlockComment { star: false };
                    }
                    _ => {
                        // A lone `/`: copied; what follows it is read as usual.
                        self.value(b"/", output);
                        self.state = State::Normal;
                    }
                },
                State::Normal => {
                    let byte = rest[0];
                    match byte {
                        b'"' => {
                            self.value(b"\"", output);
                            self.state = State::Text { escaped: false };
                            at += 1;
                        }
                        b'/' => {
                            self.state = State::Slash;
                            at += 1;
                        }
                        b',' => {
                            self.settle(false, output);
                            self.comma = Comma::Held;
                            at += 1;
                        }
                        b'}' | b']' => {
                            self.settle(true, output);
                            output.push(byte);
                            at += 1;
                        }
                        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                            self.whitespace(&rest[..1], output);
                            at += 1;
                        }
                        0..=0x7f => {
                            self.value(&rest[..1], output);
                            at += 1;
                        }
                        _ => {
                            // A character of more than one byte: Unicode whitespace counts as
                            // whitespace, as `char::is_whitespace` has it.
                            let character = text.get(at..).and_then(|rest| rest.chars().next());
                            let length = character.map_or(1, char::len_utf8).min(rest.len());
                            if character.is_some_and(char::is_whitespace) {
                                self.whitespace(&rest[..length], output);
                            } else {
                                self.value(&rest[..length], output);
                            }
                            at += length;
                        }
                    }
                }
            }
        }
    }

    /// The end of the input: a `/` waiting for what follows is copied, a comma that only
    /// whitespace or comments follow stays (the JSON parser says what is wrong).
    fn finish(&mut self, output: &mut Vec<u8>) {
        if self.state == State::Slash {
            self.value(b"/", output);
        }
        self.state = State::Normal;
        if self.comma == Comma::Held {
            output.push(b',');
            output.append(&mut self.held);
        } else if self.comma == Comma::Owed {
            output.push(b',');
        }
        self.comma = Comma::None;
    }

    /// Whitespace, kept as it is.
    fn whitespace(&mut self, bytes: &[u8], output: &mut Vec<u8>) {
        self.write_between(bytes.iter().copied(), output);
    }

    /// Comment text: spaces, but for its line breaks.
    fn blank(&mut self, bytes: &[u8], output: &mut Vec<u8>) {
        let blanked = bytes.iter().map(|byte| match byte {
            b'\n' | b'\r' => *byte,
            _ => b' ',
        });
        self.write_between(blanked, output);
    }

    /// Writes what goes between tokens: after a held comma, into `held`.
    fn write_between(&mut self, bytes: impl Iterator<Item = u8>, output: &mut Vec<u8>) {
        if self.comma != Comma::Held {
            output.extend(bytes);
            return;
        }
        self.held.extend(bytes);
        if self.held.len() > self.hold_limit {
            output.push(b' ');
            output.append(&mut self.held);
            self.comma = Comma::Owed;
        }
    }

    /// Any other token (or a character the JSON parser will refuse): a held comma stays.
    fn value(&mut self, bytes: &[u8], output: &mut Vec<u8>) {
        self.settle(false, output);
        output.extend_from_slice(bytes);
    }

    /// Writes the held comma, as a space when `closing` (it was a trailing one).
    fn settle(&mut self, closing: bool, output: &mut Vec<u8>) {
        match self.comma {
            Comma::None => {}
            Comma::Held => {
                output.push(if closing { b' ' } else { b',' });
                output.append(&mut self.held);
            }
            Comma::Owed => {
                if !closing {
                    output.push(b',');
                }
            }
        }
        self.comma = Comma::None;
    }
}

#[cfg(test)]
mod tests {
    use super::{JsoncReader, Stripper, strip};
    use serde_json::{Value, json};
    use std::io::Read;

    fn parse(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&strip(text))
    }

    /// A source that gives `step` bytes a read, to cut characters and tokens anywhere.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            let count = self.step.min(buffer.len()).min(self.bytes.len());
            buffer[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    fn read_all(bytes: &[u8], step: usize) -> (Vec<u8>, Option<u64>) {
        let mut reader = JsoncReader::new(Trickle { bytes, step });
        let mut output = Vec::new();
        let result = reader.read_to_end(&mut output);
        assert_eq!(result.is_err(), reader.invalid_utf8_line().is_some());
        (output, reader.invalid_utf8_line())
    }

    const TRICKY: &[&str] = &[
        "\u{feff}// héllo\n{\"a\": 1, /* é\n */ \"b\": [1, 2,],}\n",
        "[{\"u\": \"http://x\", \"c\": \"/* not */\", \"q\": \"a\\\"//b\",},\r\n // é\r\n]",
        "{\"a\": [[1,],{\"b\":{},},], /* , ] */ \"c\": \"\\\\\",}",
        "[1, /* c */ 2]",
        "[1 /*/ 2, */]",
        "[1, /* never closed",
        "[1, /",
        "[1,\u{a0}]",
        "{\"k\": \"caf\u{e9} \u{1f600}\",\n\t}",
        "[\"unterminated \\",
        "",
    ];

    #[test]
    fn the_reader_gives_what_strip_gives_however_the_bytes_come() {
        for text in TRICKY {
            let expected = strip(text);
            for step in [1, 2, 3, 5, 64 * 1024] {
                let (output, invalid) = read_all(text.as_bytes(), step);
                assert_eq!(invalid, None, "{text:?}");
                assert_eq!(
                    String::from_utf8_lossy(&output),
                    expected,
                    "{text:?} by {step}"
                );
            }
        }
    }

    #[test]
    fn the_reader_says_where_the_text_is_not_utf8() {
        for (bytes, line) in [
            (&b"[\"caf\xe9\"]"[..], 1),
            (b"[1,\n2,\n\"\xff\"]", 3),
            // Cut inside a character at the end of the file.
            (b"[1]\n\xe2\x82", 2),
        ] {
            for step in [1, 2, 64] {
                let (_, invalid) = read_all(bytes, step);
                assert_eq!(invalid, Some(line), "{bytes:?} by {step}");
            }
        }
    }

    /// Past the hold limit, a comma followed by a long comment is let go and put back before
    /// the next value: the same JSON, the same lines.
    #[test]
    fn a_long_run_after_a_comma_keeps_the_json() -> Result<(), serde_json::Error> {
        for (text, expected) in [
            ("[1, /* a long\n comment */ 2]", json!([1, 2])),
            ("[1, /* a long\n comment */ ]", json!([1])),
            ("{\"a\": 1, // a long comment\n\n   }", json!({"a": 1})),
        ] {
            let mut stripper = Stripper::new(4);
            let mut output = Vec::new();
            stripper.feed(text, &mut output);
            stripper.finish(&mut output);
            assert_eq!(
                output.iter().filter(|byte| **byte == b'\n').count(),
                text.matches('\n').count()
            );
            assert_eq!(
                serde_json::from_slice::<Value>(&output)?,
                expected,
                "{text}"
            );
        }
        Ok(())
    }

    /// The rules as they were written for a whole text (characters, lookahead by search),
    /// kept as the reference the byte-by-byte rules must match.
    fn reference_strip(text: &str) -> String {
        fn blank(output: &mut String, text: &str) {
            for character in text.chars() {
                match character {
                    '\n' | '\r' => output.push(character),
                    _ => output.extend(std::iter::repeat_n(' ', character.len_utf8())),
                }
            }
        }
        fn skip_to(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, end: usize) {
            while chars.next_if(|(offset, _)| *offset < end).is_some() {}
        }
        let mut output = String::with_capacity(text.len());
        let body = match text.strip_prefix('\u{feff}') {
            Some(rest) => {
                blank(&mut output, "\u{feff}");
                rest
            }
            None => text,
        };
        let mut pending_comma: Option<usize> = None;
        let mut chars = body.char_indices().peekable();
        while let Some((start, character)) = chars.next() {
            match character {
                '"' => {
                    pending_comma = None;
                    output.push('"');
                    let mut escaped = false;
                    for (_, inner) in chars.by_ref() {
                        output.push(inner);
                        if escaped {
                            escaped = false;
                        } else if inner == '\\' {
                            escaped = true;
                        } else if inner == '"' {
                            break;
                        }
                    }
                }
                '/' if matches!(chars.peek(), Some((_, '/'))) => {
                    let end = body[start..]
                        .find('\n')
                        .map_or(body.len(), |offset| start + offset);
                    blank(&mut output, &body[start..end]);
                    skip_to(&mut chars, end);
                }
                '/' if matches!(chars.peek(), Some((_, '*'))) => {
                    let end = body[start + 2..]
                        .find("*/")
                        .map_or(body.len(), |offset| start + 2 + offset + 2);
                    blank(&mut output, &body[start..end]);
                    skip_to(&mut chars, end);
                }
                ',' => {
                    pending_comma = Some(output.len());
                    output.push(',');
                }
                '}' | ']' => {
                    if let Some(comma) = pending_comma.take() {
                        output.replace_range(comma..comma + 1, " ");
                    }
                    output.push(character);
                }
                _ if character.is_whitespace() => output.push(character),
                _ => {
                    pending_comma = None;
                    output.push(character);
                }
            }
        }
        output
    }

    /// Random texts made of the pieces that matter to the rules, stripped both ways.
    #[test]
    fn the_rules_match_the_reference_on_random_texts() {
        const PIECES: &[&str] = &[
            "\"", "\\", "/", "*", ",", "]", "}", "[", "{", " ", "\n", "\r", "\t", "a", "1", ":",
            "é", "\u{a0}", "\u{2028}", "\u{feff}", "//", "/*", "*/", "\\\"",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..10_000 {
            let length = next(24);
            let text: String = (0..length).map(|_| PIECES[next(PIECES.len())]).collect();
            let expected = reference_strip(&text);
            assert_eq!(strip(&text), expected, "{text:?}");
            let step = 1 + next(4);
            let (output, _) = read_all(text.as_bytes(), step);
            assert_eq!(
                String::from_utf8_lossy(&output),
                expected,
                "{text:?} by {step}"
            );
        }
    }

    #[test]
    fn keeps_length_and_lines() {
        let text = "\u{feff}// héllo\n{\"a\": 1, /* é\n */ \"b\": [1, 2,],}\n";
        let stripped = strip(text);
        assert_eq!(stripped.len(), text.len());
        assert_eq!(stripped.matches('\n').count(), text.matches('\n').count());
        for (original, new) in text.lines().zip(stripped.lines()) {
            assert_eq!(original.len(), new.len());
        }
    }

    #[test]
    fn removes_comments_and_trailing_commas() -> Result<(), serde_json::Error> {
        let text = r#"// leading comment
{
  "name": "Task", // the name
  /* a block
     comment */
  "tags": ["a", "b", /* last */ ],
  "nested": {"x": 1,
    // nothing after
  },
}
"#;
        assert_eq!(
            parse(text)?,
            json!({"name": "Task", "tags": ["a", "b"], "nested": {"x": 1}})
        );
        Ok(())
    }

    #[test]
    fn leaves_strings_alone() -> Result<(), serde_json::Error> {
        let text = r#"{"url": "https://example.com/*x*/", "quote": "say \"hi\" // not a comment",
            "backslash": "C:\\", "after": ", ]", "e": "caf\u00e9"}"#;
        assert_eq!(
            parse(text)?,
            json!({"url": "https://example.com/*x*/", "quote": "say \"hi\" // not a comment",
                   "backslash": "C:\\", "after": ", ]", "e": "café"})
        );
        Ok(())
    }

    #[test]
    fn comma_between_values_is_kept() -> Result<(), serde_json::Error> {
        assert_eq!(parse("[1, /* c */ 2]")?, json!([1, 2]));
        Ok(())
    }

    #[test]
    fn errors_point_at_the_original_position() {
        let text = "\u{feff}{\n  // comment\n  \"a\": 1,\n  \"b\": ?\n}";
        match parse(text) {
            Ok(value) => panic!("parsed {value}"),
            Err(error) => assert_eq!((error.line(), error.column()), (4, 8)),
        }
    }

    #[test]
    fn unterminated_comment_is_blanked() {
        let text = "{\"a\": 1} /* never closed";
        let stripped = strip(text);
        assert_eq!(stripped.len(), text.len());
        assert!(serde_json::from_str::<Value>(&stripped).is_ok());
    }

    #[test]
    fn block_comment_opening_is_not_its_close() -> Result<(), serde_json::Error> {
        assert_eq!(parse("[1 /*/ 2, */]")?, json!([1]));
        Ok(())
    }
}
