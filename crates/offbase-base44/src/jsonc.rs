//! JSONC (JSON with comments and trailing commas, as the Base44 CLI writes `base44/*.jsonc`)
//! turned into plain JSON without moving anything: every byte keeps its offset, line and
//! column, so a parse error on the result points at the right place in the original file.

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
    let mut output = String::with_capacity(text.len());
    let body = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            blank(&mut output, "\u{feff}");
            rest
        }
        None => text,
    };

    // Byte offset in `output` of a comma that may turn out to be trailing.
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
                // `/*/` must not close the comment it opens: search after the `/*`.
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

/// Appends spaces for every byte of `text`, keeping its line breaks.
/// Where a JSON parse error is, for a message that names the file: (line, column, what is
/// wrong), the last without serde_json's ` at line L column C`. The positions hold for the
/// original JSONC text, since [`strip`] moves nothing.
pub(crate) fn error_position(error: &serde_json::Error) -> (usize, usize, String) {
    let (line, column) = (error.line(), error.column());
    let full = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    (line, column, message)
}

fn blank(output: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '\n' | '\r' => output.push(character),
            _ => output.extend(std::iter::repeat_n(' ', character.len_utf8())),
        }
    }
}

/// Advances `chars` to the first character at or after byte offset `end`.
fn skip_to(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, end: usize) {
    while chars.next_if(|(offset, _)| *offset < end).is_some() {}
}

#[cfg(test)]
mod tests {
    use super::strip;
    use serde_json::{Value, json};

    fn parse(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&strip(text))
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
