//! Layout for generated SQL: quoting identifiers, and one column per line in `CREATE TABLE` so
//! a plan reads well in a pull request.

/// Quotes an identifier for PostgreSQL, doubling any embedded double quote.
pub use offbase_model::names::quote_identifier;

/// Re-lays a one-line `CREATE TABLE "t" ( a, b, ... )` with one element per line. The split
/// respects quotes ('...', E'...', "...") and parentheses, so literals are never cut.
pub(crate) fn pretty_create_table(sql: &str) -> String {
    let Some(open) = sql.find(" ( ").or_else(|| sql.find(" (")) else {
        return sql.to_owned();
    };
    let head = &sql[..open];
    let body_start = open + sql[open..].find('(').map_or(0, |offset| offset + 1);
    let Some(body_end) = sql.rfind(')') else {
        return sql.to_owned();
    };
    if body_end <= body_start {
        return sql.to_owned();
    }
    let body = &sql[body_start..body_end];
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut characters = body.chars().peekable();
    let mut previous = ' ';
    while let Some(character) = characters.next() {
        match character {
            '\'' => {
                // E'...' strings take backslash escapes; plain ones double the quote.
                let escapes = previous == 'E';
                current.push(character);
                while let Some(inner) = characters.next() {
                    current.push(inner);
                    if escapes && inner == '\\' {
                        if let Some(escaped) = characters.next() {
                            current.push(escaped);
                        }
                    } else if inner == '\'' {
                        if characters.peek() == Some(&'\'') {
                            if let Some(doubled) = characters.next() {
                                current.push(doubled);
                            }
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' => {
                current.push(character);
                while let Some(inner) = characters.next() {
                    current.push(inner);
                    if inner == '"' {
                        if characters.peek() == Some(&'"') {
                            if let Some(doubled) = characters.next() {
                                current.push(doubled);
                            }
                        } else {
                            break;
                        }
                    }
                }
            }
            '(' | '[' => {
                depth += 1;
                current.push(character);
            }
            ')' | ']' => {
                depth = depth.saturating_sub(1);
                current.push(character);
            }
            ',' if depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
            }
            _ => current.push(character),
        }
        previous = character;
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_owned());
    }
    let mut out = format!("{head} (\n");
    for (index, part) in parts.iter().enumerate() {
        out.push_str("  ");
        out.push_str(part);
        if index + 1 < parts.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push(')');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_columns_but_not_literals() {
        let sql = r#"CREATE TABLE "t" ( "a" text CHECK ("a" IN ('x, y', E'it\'s, ok')), "b" numeric(12, 2) DEFAULT 1, "c""d" text )"#;
        assert_eq!(
            pretty_create_table(sql),
            "CREATE TABLE \"t\" (\n  \"a\" text CHECK (\"a\" IN ('x, y', E'it\\'s, ok')),\n  \"b\" numeric(12, 2) DEFAULT 1,\n  \"c\"\"d\" text\n)"
        );
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_identifier("order"), "\"order\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
