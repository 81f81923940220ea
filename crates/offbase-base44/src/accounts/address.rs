//! What a mail address is, for the account calls: one bare address (`local@domain`), as the
//! mail library `offbase serve` sends with (lettre 0.11, by the `email_address` crate's rules)
//! reads one, without a dependency.
//!
//! The rules are lettre's but for one step: lettre also takes a domain that only its IDNA
//! mapping makes valid (a label starting or ending with a symbol such as `☃`, or longer than 63
//! bytes before punycode). Those are refused here, so every address taken can be sent, and the
//! emulator and serve take the same addresses.

/// The longest address taken, in bytes (RFC 5321's path limit).
const MAX_ADDRESS_BYTES: usize = 254;
/// The longest local part, and the longest domain label, in bytes.
const MAX_LOCAL_BYTES: usize = 64;
const MAX_LABEL_BYTES: usize = 63;
/// The symbols an unquoted local part or a domain label may hold besides letters and digits
/// (RFC 5322's `atext`).
const ATEXT_SYMBOLS: &str = "!#$%&'*+-/=?^_`{|}~";

/// `true` when `text` reads as one mail address, nothing around it: no display name, no
/// angle brackets, no list.
pub fn is_address(text: &str) -> bool {
    if text.len() > MAX_ADDRESS_BYTES || text.contains(['<', '>', ' ', '\t', '\r', '\n', ',']) {
        return false;
    }
    text.rsplit_once('@')
        .is_some_and(|(local, domain)| is_local_part(local) && is_domain(domain))
}

fn is_atext(character: char) -> bool {
    character.is_alphanumeric() || !character.is_ascii() || ATEXT_SYMBOLS.contains(character)
}

/// A dot-atom (`first.last+tag`) or a quoted string (`"first last"`).
fn is_local_part(local: &str) -> bool {
    if local.is_empty() || local.len() > MAX_LOCAL_BYTES {
        return false;
    }
    match local
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(quoted) => !quoted.is_empty() && is_quoted_content(quoted),
        None => local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext)),
    }
}

/// The inside of a quoted local part: printable characters but `"` and `\`, blanks, and
/// `\`-escaped printable ones.
fn is_quoted_content(quoted: &str) -> bool {
    let mut characters = quoted.chars();
    while let Some(character) = characters.next() {
        let fits = match character {
            '\\' => characters
                .next()
                .is_some_and(|escaped| ('\x21'..='\x7e').contains(&escaped)),
            ' ' | '\t' | '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => true,
            other => !other.is_ascii(),
        };
        if !fits {
            return false;
        }
    }
    true
}

/// Labels of letters, digits and `atext` symbols, each starting and ending with a letter or
/// digit; a literal in brackets (`[127.0.0.1]`); or a bare IP address.
fn is_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > MAX_ADDRESS_BYTES {
        return false;
    }
    let literal = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'));
    let named = match literal {
        Some(inside) => inside.chars().all(|character| {
            matches!(character, '\x21'..='\x5a' | '\x5e'..='\x7e') || !character.is_ascii()
        }),
        None => domain.split('.').all(|label| {
            label.len() <= MAX_LABEL_BYTES
                && label.starts_with(char::is_alphanumeric)
                && label.ends_with(char::is_alphanumeric)
                && label.chars().all(is_atext)
        }),
    };
    named
        || literal
            .unwrap_or(domain)
            .parse::<std::net::IpAddr>()
            .is_ok()
}
