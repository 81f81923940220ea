//! Names derived from an app's names: PostgreSQL names (snake_case conversion, the 63-byte
//! limit, reserved words and system columns) and file names ([`file_stem`]). Every function is
//! deterministic so the same schema always gives the same names.

use sha2::{Digest, Sha256};

/// PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Converts a Base44 name (PascalCase, camelCase, UPPER_CASE, kebab-case, with spaces or
/// non-ASCII letters) to snake_case. Letters and digits are kept (non-ASCII letters too, since
/// identifiers are always quoted); anything else becomes `_`. Never returns an empty string.
pub fn snake_case(name: &str) -> String {
    let characters: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (index, &character) in characters.iter().enumerate() {
        if character.is_alphanumeric() {
            if character.is_uppercase() && index > 0 {
                let previous = characters[index - 1];
                let next = characters.get(index + 1).copied();
                // `fooBar` → foo_bar, `HTTPServer` → http_server, `ABC` → abc, `v2X` → v2_x
                let boundary = previous.is_lowercase()
                    || previous.is_ascii_digit()
                    || (previous.is_uppercase() && next.is_some_and(|next| next.is_lowercase()));
                if boundary && !out.ends_with('_') {
                    out.push('_');
                }
            }
            out.extend(character.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    let result = if name.starts_with('_') {
        // Keep a leading underscore: `_id` and `id` are different fields.
        format!("_{trimmed}")
    } else {
        trimmed.to_owned()
    };
    if result.trim_matches('_').is_empty() {
        format!("field_{}", short_hash(name))
    } else {
        result
    }
}

/// Eight hex digits of a SHA-256 of `text`: a stable, short disambiguator.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Shortens `name` to at most 63 bytes: a prefix cut on a character boundary, `_`, and a hash
/// of the whole name, so distinct long names stay distinct.
pub fn fit_identifier(name: &str) -> String {
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name.to_owned();
    }
    let hash = short_hash(name);
    let budget = MAX_IDENTIFIER_BYTES - hash.len() - 1;
    let mut cut = budget;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", name[..cut].trim_end_matches('_'))
}

/// Appends `suffix` to `base`, shortening `base` so the result fits in 63 bytes.
pub fn with_suffix(base: &str, suffix: &str) -> String {
    let whole = format!("{base}{suffix}");
    if whole.len() <= MAX_IDENTIFIER_BYTES {
        return whole;
    }
    let hash = short_hash(&whole);
    let budget = MAX_IDENTIFIER_BYTES - suffix.len() - hash.len() - 1;
    let mut cut = budget.min(base.len());
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}{suffix}", base[..cut].trim_end_matches('_'))
}

/// Column names PostgreSQL reserves for system columns: a table cannot declare them, even quoted.
pub fn is_system_column(name: &str) -> bool {
    matches!(
        name,
        "tableoid" | "xmin" | "cmin" | "xmax" | "cmax" | "ctid" | "oid"
    )
}

/// SQL key words that PostgreSQL reserves (Appendix C, "reserved" and "reserved (can be function
/// or type)"): usable only as quoted identifiers, which offbase always writes, but a trap for
/// anyone writing SQL by hand, so the report points them out.
pub fn is_reserved_word(name: &str) -> bool {
    RESERVED_WORDS.binary_search(&name).is_ok()
}

const RESERVED_WORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_handles_the_shapes_real_apps_use() {
        let cases = [
            ("Task", "task"),
            ("OrderItem", "order_item"),
            ("firstName", "first_name"),
            ("lootIds", "loot_ids"),
            ("HTTPServer", "http_server"),
            ("UPPER_CASE", "upper_case"),
            ("already_snake", "already_snake"),
            ("kebab-case-name", "kebab_case_name"),
            ("with space", "with_space"),
            ("address2Line", "address2_line"),
            ("_id", "_id"),
            ("Ünïcödé", "ünïcödé"),
            ("userID", "user_id"),
            ("a--b", "a_b"),
        ];
        for (input, expected) in cases {
            assert_eq!(snake_case(input), expected, "snake_case({input:?})");
        }
    }

    #[test]
    fn snake_case_of_symbols_only_is_a_stable_hashed_name() {
        let name = snake_case("$$$");
        assert!(name.starts_with("field_"), "{name}");
        assert_eq!(name, snake_case("$$$"));
    }

    #[test]
    fn long_names_fit_in_63_bytes_and_stay_distinct() {
        let first = "a".repeat(200);
        let second = format!("{}b", "a".repeat(199));
        let fitted_first = fit_identifier(&first);
        let fitted_second = fit_identifier(&second);
        assert!(fitted_first.len() <= MAX_IDENTIFIER_BYTES);
        assert!(fitted_second.len() <= MAX_IDENTIFIER_BYTES);
        assert_ne!(fitted_first, fitted_second);
        assert_eq!(fit_identifier("short"), "short");
        let multibyte = "é".repeat(40);
        assert!(fit_identifier(&multibyte).len() <= MAX_IDENTIFIER_BYTES);
    }

    #[test]
    fn suffixes_survive_shortening() {
        let name = with_suffix(&"x".repeat(70), "_fkey");
        assert!(name.len() <= MAX_IDENTIFIER_BYTES);
        assert!(name.ends_with("_fkey"));
        assert_eq!(with_suffix("task", "_pkey"), "task_pkey");
    }

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        let mut sorted = RESERVED_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RESERVED_WORDS);
        assert!(is_reserved_word("order"));
        assert!(is_reserved_word("user"));
        assert!(!is_reserved_word("task"));
    }
}

/// An SQL identifier, double-quoted, with any `"` doubled: every name offbase writes into SQL
/// goes through here.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The most bytes of a name a file name keeps before it is shortened with a hash.
const MAX_FILE_STEM_BYTES: usize = 100;

/// A file or folder name for an app's name (an entity's, say) that stays in its folder whatever
/// the name holds: ASCII letters, digits, `_` and `-` are kept, every other byte becomes `%XX`
/// (so `..`, `/`, `\`, NUL and control characters cannot act), and a long result is cut and
/// ends with a hash of the whole name (so two long names stay apart). Names as Base44 allows
/// them (`[A-Za-z0-9_]+`) map to themselves.
pub fn file_stem(name: &str) -> String {
    let mut stem = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            stem.push(char::from(byte));
        } else {
            stem.push_str(&format!("%{byte:02X}"));
        }
    }
    if stem.is_empty() {
        return "%".to_owned();
    }
    if stem.len() > MAX_FILE_STEM_BYTES {
        // Only ASCII was pushed: any byte index is a character boundary.
        stem.truncate(MAX_FILE_STEM_BYTES - 9);
        stem.push('~');
        stem.push_str(&short_hash(name));
    }
    stem
}

#[cfg(test)]
mod file_stem_tests {
    use super::file_stem;

    #[test]
    fn hostile_entity_names_wrote_files_outside_the_workspace() {
        assert_eq!(file_stem("Task"), "Task");
        assert_eq!(file_stem("Ops_Task"), "Ops_Task");
        for hostile in [
            "../../../X",
            "/some/dir/X",
            "..",
            ".",
            "a\\b",
            "nul\0byte",
            "esc\u{1b}]0;title\u{7}",
            "new\nline",
        ] {
            let stem = file_stem(hostile);
            assert!(
                stem.bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"_-%~".contains(&byte)),
                "{hostile:?} → {stem:?}"
            );
            assert!(stem != "." && stem != "..", "{hostile:?}");
        }
        let long = "E".repeat(300);
        let stem = file_stem(&long);
        assert!(stem.len() <= 100, "{}", stem.len());
        assert_ne!(stem, file_stem(&format!("{long}x")));
        assert_ne!(file_stem("a/b"), file_stem("a_b"));
    }
}
