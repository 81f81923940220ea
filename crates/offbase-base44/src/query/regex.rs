//! The `$regex` subset (see [`super::Operator::Regex`]): a pattern compiled to a Thompson NFA
//! and run by a Pike VM, so matching is linear in the text, with no backtracking blow-up.
//! Anything beyond the subset is refused with [`QueryError::UnsupportedRegex`], a malformed
//! pattern with [`QueryError::InvalidRegex`].

use super::ast::QueryError;

/// Largest `{n,m}` bound and program size accepted, to keep matching cheap.
const MAX_REPEAT: u32 = 1_000;
const MAX_PROGRAM: usize = 20_000;

/// A compiled regular expression: a Thompson NFA run by a Pike VM (linear time, no
/// backtracking blow-up). Unanchored: matches when any substring matches.
#[derive(Debug)]
pub(super) struct Regex {
    program: Vec<Instruction>,
    case_insensitive: bool,
    multiline: bool,
    dot_all: bool,
}

#[derive(Debug, Clone)]
enum Instruction {
    Char(char),
    Any,
    Class(Class),
    Split(usize, usize),
    Jump(usize),
    Start,
    End,
    Match,
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    items: Vec<ClassItem>,
}

#[derive(Debug, Clone, Copy)]
enum ClassItem {
    Range(char, char),
    /// `\d`, or `\D` when `true`.
    Digit(bool),
    /// `\w`, or `\W` when `true`.
    Word(bool),
    /// `\s`, or `\S` when `true`.
    Space(bool),
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Start,
    End,
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

impl Regex {
    pub(super) fn new(pattern: &str, options: &str) -> Result<Regex, QueryError> {
        let mut regex = Regex {
            program: Vec::new(),
            case_insensitive: false,
            multiline: false,
            dot_all: false,
        };
        for option in options.chars() {
            match option {
                'i' => regex.case_insensitive = true,
                'm' => regex.multiline = true,
                's' => regex.dot_all = true,
                other => {
                    return Err(QueryError::UnsupportedRegex {
                        pattern: pattern.to_owned(),
                        reason: format!("option `{other}` is not supported (only i, m, s)"),
                    });
                }
            }
        }
        let mut parser = RegexParser {
            pattern,
            chars: pattern.chars().collect(),
            at: 0,
        };
        let node = parser.alternation()?;
        if parser.at < parser.chars.len() {
            // Only an unmatched `)` stops the top-level alternation early.
            return Err(parser.invalid("unmatched `)`"));
        }
        parser.emit(&node, &mut regex.program)?;
        regex.program.push(Instruction::Match);
        Ok(regex)
    }

    pub(super) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut seen = vec![usize::MAX; self.program.len()];
        let mut current = Vec::new();
        let mut next = Vec::new();
        for at in 0..=chars.len() {
            // A new attempt starts at every position: the search is unanchored.
            if self.add(&mut current, &mut seen, 0, at, &chars) {
                return true;
            }
            let Some(&character) = chars.get(at) else {
                break;
            };
            for &pc in &current {
                let consumes = match &self.program[pc] {
                    Instruction::Char(expected) => self.same_char(*expected, character),
                    Instruction::Any => self.dot_all || character != '\n',
                    Instruction::Class(class) => self.in_class(class, character),
                    _ => false,
                };
                if consumes && self.add(&mut next, &mut seen, pc + 1, at + 1, &chars) {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
        }
        false
    }

    /// Adds `pc` and every state reachable from it without consuming input to `list`; `true`
    /// when that reaches the final state.
    fn add(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [usize],
        pc: usize,
        at: usize,
        chars: &[char],
    ) -> bool {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if seen[pc] == at {
                continue;
            }
            seen[pc] = at;
            match &self.program[pc] {
                Instruction::Jump(target) => stack.push(*target),
                Instruction::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Instruction::Start => {
                    if at == 0 || (self.multiline && chars.get(at - 1) == Some(&'\n')) {
                        stack.push(pc + 1);
                    }
                }
                Instruction::End => {
                    if at == chars.len() || (self.multiline && chars.get(at) == Some(&'\n')) {
                        stack.push(pc + 1);
                    }
                }
                Instruction::Match => return true,
                Instruction::Char(_) | Instruction::Any | Instruction::Class(_) => list.push(pc),
            }
        }
        false
    }

    fn same_char(&self, expected: char, actual: char) -> bool {
        expected == actual || (self.case_insensitive && fold_case(expected) == fold_case(actual))
    }

    fn in_class(&self, class: &Class, character: char) -> bool {
        let candidates = if self.case_insensitive {
            [character, fold_case(character), upper_case(character)]
        } else {
            [character; 3]
        };
        let found = class.items.iter().any(|item| match *item {
            ClassItem::Range(low, high) => candidates
                .iter()
                .any(|candidate| (low..=high).contains(candidate)),
            ClassItem::Digit(negated) => character.is_ascii_digit() != negated,
            ClassItem::Word(negated) => {
                (character.is_ascii_alphanumeric() || character == '_') != negated
            }
            ClassItem::Space(negated) => is_space(character) != negated,
        });
        found != class.negated
    }
}

fn fold_case(character: char) -> char {
    let mut lower = character.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => character,
    }
}

fn upper_case(character: char) -> char {
    let mut upper = character.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => character,
    }
}

fn is_space(character: char) -> bool {
    matches!(character, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

struct RegexParser<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    at: usize,
}

impl RegexParser<'_> {
    fn invalid(&self, reason: impl Into<String>) -> QueryError {
        QueryError::InvalidRegex {
            pattern: self.pattern.to_owned(),
            reason: reason.into(),
        }
    }

    fn unsupported(&self, reason: impl Into<String>) -> QueryError {
        QueryError::UnsupportedRegex {
            pattern: self.pattern.to_owned(),
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let character = self.peek()?;
        self.at += 1;
        Some(character)
    }

    fn alternation(&mut self) -> Result<Node, QueryError> {
        let mut branches = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.at += 1;
            branches.push(self.sequence()?);
        }
        Ok(match <[Node; 1]>::try_from(branches) {
            Ok([only]) => only,
            Err(branches) => Node::Alternation(branches),
        })
    }

    fn sequence(&mut self) -> Result<Node, QueryError> {
        let mut nodes = Vec::new();
        while let Some(character) = self.peek() {
            if character == '|' || character == ')' {
                break;
            }
            let atom = self.atom()?;
            nodes.push(self.quantified(atom)?);
        }
        Ok(match nodes.len() {
            0 => Node::Empty,
            _ => Node::Concat(nodes),
        })
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, QueryError> {
        let Some((min, max)) = self.quantifier()? else {
            return Ok(atom);
        };
        if matches!(atom, Node::Start | Node::End) {
            return Err(self.invalid("nothing to repeat before a quantifier"));
        }
        match self.peek() {
            // Lazy: changes which match is found, never whether one is.
            Some('?') => self.at += 1,
            Some('+') => return Err(self.unsupported("possessive quantifiers")),
            _ => {}
        }
        if self.quantifier_ahead() {
            return Err(self.invalid("a quantifier cannot follow another one"));
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
        })
    }

    fn quantifier_ahead(&self) -> bool {
        matches!(self.peek(), Some('*' | '+' | '?')) || self.counted_at(self.at).is_some()
    }

    /// Reads `*`, `+`, `?` or `{n}`, `{n,}`, `{n,m}` as (min, max).
    fn quantifier(&mut self) -> Result<Option<Bounds>, QueryError> {
        let bounds = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.counted_at(self.at) {
                Some((bounds, end)) => {
                    self.at = end;
                    let (min, max) = bounds;
                    if max.is_some_and(|max| max < min) {
                        return Err(self.invalid("`{n,m}` with m smaller than n"));
                    }
                    if min > MAX_REPEAT || max.is_some_and(|max| max > MAX_REPEAT) {
                        return Err(
                            self.unsupported(format!("repetition counts above {MAX_REPEAT}"))
                        );
                    }
                    return Ok(Some(bounds));
                }
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.at += 1;
        Ok(Some(bounds))
    }

    /// A counted quantifier starting at `start` (on a `{`): its bounds and the index after it.
    fn counted_at(&self, start: usize) -> Option<(Bounds, usize)> {
        if self.chars.get(start) != Some(&'{') {
            return None;
        }
        let mut at = start + 1;
        let number = |at: &mut usize| -> Option<u32> {
            let begin = *at;
            let mut value: u32 = 0;
            while let Some(digit) = self.chars.get(*at).and_then(|c| c.to_digit(10)) {
                value = value.saturating_mul(10).saturating_add(digit);
                *at += 1;
            }
            (*at > begin).then_some(value)
        };
        let min = number(&mut at)?;
        let max = match self.chars.get(at) {
            Some('}') => Some(min),
            Some(',') => {
                at += 1;
                let max = number(&mut at);
                if self.chars.get(at) != Some(&'}') {
                    return None;
                }
                max
            }
            _ => return None,
        };
        Some(((min, max), at + 1))
    }

    fn atom(&mut self) -> Result<Node, QueryError> {
        let Some(character) = self.next() else {
            return Err(self.invalid("unexpected end"));
        };
        match character {
            '.' => Ok(Node::Any),
            '^' => Ok(Node::Start),
            '$' => Ok(Node::End),
            '[' => self.class(),
            '\\' => self.escape(),
            '(' => {
                if self.peek() == Some('?') {
                    if self.chars.get(self.at + 1) == Some(&':') {
                        self.at += 2;
                    } else {
                        return Err(self.unsupported(
                            "group modifiers, lookaround and named groups (`(?...)`)",
                        ));
                    }
                }
                let inner = self.alternation()?;
                if self.next() != Some(')') {
                    return Err(self.invalid("unclosed `(`"));
                }
                Ok(inner)
            }
            '*' | '+' | '?' => Err(self.invalid(format!("nothing to repeat before `{character}`"))),
            '{' => {
                if self.counted_at(self.at - 1).is_some() {
                    Err(self.invalid("nothing to repeat before `{`"))
                } else {
                    Err(self.unsupported("a literal `{` must be escaped as `\\{`"))
                }
            }
            other => Ok(Node::Char(other)),
        }
    }

    fn escape(&mut self) -> Result<Node, QueryError> {
        match self.escaped()? {
            Escaped::Char(character) => Ok(Node::Char(character)),
            Escaped::Class(item) => Ok(Node::Class(Class {
                negated: false,
                items: vec![item],
            })),
        }
    }

    /// Reads what follows a `\` (already consumed).
    fn escaped(&mut self) -> Result<Escaped, QueryError> {
        let Some(character) = self.next() else {
            return Err(self.invalid("trailing `\\`"));
        };
        Ok(match character {
            'd' => Escaped::Class(ClassItem::Digit(false)),
            'D' => Escaped::Class(ClassItem::Digit(true)),
            'w' => Escaped::Class(ClassItem::Word(false)),
            'W' => Escaped::Class(ClassItem::Word(true)),
            's' => Escaped::Class(ClassItem::Space(false)),
            'S' => Escaped::Class(ClassItem::Space(true)),
            't' => Escaped::Char('\t'),
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\u{c}'),
            'v' => Escaped::Char('\u{b}'),
            '0' if !self.peek().is_some_and(|next| next.is_ascii_digit()) => Escaped::Char('\0'),
            'x' => Escaped::Char(self.hex_escape('x')?),
            'u' => Escaped::Char(self.hex_escape('u')?),
            other if other.is_ascii_digit() => {
                return Err(
                    self.unsupported(format!("back-references and octal escapes (`\\{other}`)"))
                );
            }
            other if other.is_ascii_alphanumeric() => {
                return Err(self.unsupported(format!("the escape `\\{other}`")));
            }
            other => Escaped::Char(other),
        })
    }

    /// `\xHH`, `\x{H...}` or `\uHHHH`, after the letter.
    fn hex_escape(&mut self, letter: char) -> Result<char, QueryError> {
        let braced = letter == 'x' && self.peek() == Some('{');
        let digits: String = if braced {
            self.at += 1;
            let begin = self.at;
            while self.peek().is_some_and(|c| c != '}') {
                self.at += 1;
            }
            if self.next() != Some('}') {
                return Err(self.invalid("unclosed `\\x{`"));
            }
            self.chars[begin..self.at - 1].iter().collect()
        } else {
            let count = if letter == 'x' { 2 } else { 4 };
            let end = (self.at + count).min(self.chars.len());
            let digits: String = self.chars[self.at..end].iter().collect();
            self.at = end;
            if digits.chars().count() != count {
                return Err(self.invalid(format!("`\\{letter}` needs {count} hex digits")));
            }
            digits
        };
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| !digits.is_empty() && digits.len() <= 6)
            .and_then(char::from_u32)
            .ok_or_else(|| self.invalid(format!("bad hex escape `\\{letter}{digits}`")))
    }

    /// A character class, after its `[`.
    fn class(&mut self) -> Result<Node, QueryError> {
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let Some(character) = self.next() else {
                return Err(self.invalid("unclosed `[`"));
            };
            let item = match character {
                ']' if !first => break,
                '[' if matches!(self.peek(), Some(':' | '.' | '=')) => {
                    return Err(self.unsupported("POSIX classes like `[:alpha:]`"));
                }
                '\\' => match self.escaped()? {
                    Escaped::Char(character) => ClassItem::Range(character, character),
                    Escaped::Class(item) => item,
                },
                other => ClassItem::Range(other, other),
            };
            first = false;
            let ranged = self.peek() == Some('-')
                && self.chars.get(self.at + 1).is_some_and(|&next| next != ']');
            match item {
                ClassItem::Range(low, _) if ranged => {
                    self.at += 1;
                    let high = match self.next() {
                        Some('\\') => match self.escaped()? {
                            Escaped::Char(character) => character,
                            Escaped::Class(_) => {
                                return Err(self.invalid("a range cannot end in a class escape"));
                            }
                        },
                        Some(character) => character,
                        None => return Err(self.invalid("unclosed `[`")),
                    };
                    if high < low {
                        return Err(self.invalid(format!("range `{low}-{high}` out of order")));
                    }
                    items.push(ClassItem::Range(low, high));
                }
                _ if ranged => {
                    return Err(self.invalid("a range cannot start with a class escape"));
                }
                item => items.push(item),
            }
        }
        Ok(Node::Class(Class { negated, items }))
    }

    fn emit(&self, node: &Node, program: &mut Vec<Instruction>) -> Result<(), QueryError> {
        if program.len() > MAX_PROGRAM {
            return Err(self.unsupported("the pattern is too large"));
        }
        match node {
            Node::Empty => {}
            Node::Char(character) => program.push(Instruction::Char(*character)),
            Node::Any => program.push(Instruction::Any),
            Node::Class(class) => program.push(Instruction::Class(class.clone())),
            Node::Start => program.push(Instruction::Start),
            Node::End => program.push(Instruction::End),
            Node::Concat(nodes) => {
                for node in nodes {
                    self.emit(node, program)?;
                }
            }
            Node::Alternation(branches) => {
                let mut jumps = Vec::new();
                let last = branches.len().saturating_sub(1);
                for (index, branch) in branches.iter().enumerate() {
                    if index == last {
                        self.emit(branch, program)?;
                    } else {
                        let split = program.len();
                        program.push(Instruction::Split(split + 1, 0));
                        self.emit(branch, program)?;
                        jumps.push(program.len());
                        program.push(Instruction::Jump(0));
                        program[split] = Instruction::Split(split + 1, program.len());
                    }
                }
                let end = program.len();
                for jump in jumps {
                    program[jump] = Instruction::Jump(end);
                }
            }
            Node::Repeat { node, min, max } => {
                for _ in 0..*min {
                    self.emit(node, program)?;
                }
                match max {
                    None => {
                        let split = program.len();
                        program.push(Instruction::Split(split + 1, 0));
                        self.emit(node, program)?;
                        program.push(Instruction::Jump(split));
                        program[split] = Instruction::Split(split + 1, program.len());
                    }
                    Some(max) => {
                        for _ in *min..*max {
                            let split = program.len();
                            program.push(Instruction::Split(split + 1, 0));
                            self.emit(node, program)?;
                            program[split] = Instruction::Split(split + 1, program.len());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Repetition bounds: (min, max), `None` for no maximum.
type Bounds = (u32, Option<u32>);

enum Escaped {
    Char(char),
    Class(ClassItem),
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;
    fn regex(pattern: &str, options: &str, text: &str) -> Result<bool, QueryError> {
        Ok(Regex::new(pattern, options)?.is_match(text))
    }

    #[test]
    fn regex_basics() -> TestResult {
        assert!(regex("abc", "", "xxabcxx")?);
        assert!(!regex("abd", "", "xxabcxx")?);
        assert!(regex("^ab", "", "abc")?);
        assert!(!regex("^bc", "", "abc")?);
        assert!(regex("bc$", "", "abc")?);
        assert!(!regex("ab$", "", "abc")?);
        assert!(regex("^$", "", "")?);
        assert!(regex("a.c", "", "abc")?);
        assert!(!regex("a.c", "", "a\nc")?);
        assert!(regex("a.c", "s", "a\nc")?);
        assert!(regex("^ab*c$", "", "ac")?);
        assert!(regex("^ab+c$", "", "abbbc")?);
        assert!(!regex("^ab+c$", "", "ac")?);
        assert!(regex("^ab?c$", "", "abc")?);
        assert!(!regex("^ab?c$", "", "abbc")?);
        assert!(regex("^a{2,3}$", "", "aaa")?);
        assert!(!regex("^a{2,3}$", "", "aaaa")?);
        assert!(regex("^a{2}$", "", "aa")?);
        assert!(regex("^a{2,}$", "", "aaaaa")?);
        assert!(regex("^(ab|cd)+$", "", "abcdab")?);
        assert!(!regex("^(ab|cd)+$", "", "abce")?);
        assert!(regex("^(?:x|)y$", "", "y")?);
        assert!(regex("^a*?b$", "", "aab")?);
        assert!(regex("^(a*)*$", "", &"a".repeat(200))?);
        assert!(!regex("^(a*)*b$", "", &"a".repeat(2_000))?);
        Ok(())
    }

    #[test]
    fn regex_classes_and_escapes() -> TestResult {
        assert!(regex("^[abc]+$", "", "cab")?);
        assert!(!regex("^[abc]+$", "", "cad")?);
        assert!(regex("^[a-z0-9_]+$", "", "user_42")?);
        assert!(regex("^[^x]+$", "", "abc")?);
        assert!(!regex("^[^x]+$", "", "axc")?);
        assert!(regex("^[]a]+$", "", "]a")?);
        assert!(regex("^[a-]+$", "", "a-")?);
        assert!(regex("^[\\d.]+$", "", "1.5")?);
        assert!(regex("^\\d+\\.\\d+$", "", "1.25")?);
        assert!(!regex("^\\d+\\.\\d+$", "", "1x25")?);
        assert!(regex("^\\w+\\s\\w+$", "", "hello world")?);
        assert!(regex("^\\D\\W\\S$", "", "a-b")?);
        assert!(regex("^\\x41\\u00e9\\x{1F600}$", "", "Aé😀")?);
        assert!(regex(
            "\\(\\)\\[\\]\\{\\}\\*\\+\\?\\|\\^\\$\\\\",
            "",
            "()[]{}*+?|^$\\"
        )?);
        assert!(regex("^é+$", "", "ééé")?);
        Ok(())
    }

    #[test]
    fn regex_options() -> TestResult {
        assert!(regex("^hello$", "i", "HeLLo")?);
        assert!(!regex("^hello$", "", "HeLLo")?);
        assert!(regex("^[a-c]+$", "i", "ABC")?);
        assert!(!regex("^[^a]$", "i", "A")?);
        assert!(regex("^ÉTÉ$", "i", "été")?);
        assert!(regex("^two$", "m", "one\ntwo\nthree")?);
        assert!(!regex("^two$", "", "one\ntwo\nthree")?);
        Ok(())
    }

    #[test]
    fn regex_rejections() {
        for (pattern, options) in [
            ("(?=a)", ""),
            ("(?i)a", ""),
            ("(a)\\1", ""),
            ("\\bword", ""),
            ("\\p{L}", ""),
            ("a*+", ""),
            ("[[:alpha:]]", ""),
            ("a{", ""),
            ("a{1001}", ""),
            ("a", "x"),
            ("a", "u"),
        ] {
            assert!(
                matches!(
                    Regex::new(pattern, options),
                    Err(QueryError::UnsupportedRegex { .. })
                ),
                "{pattern} /{options}"
            );
        }
        for pattern in [
            "(a", "a)", "*a", "a**", "a|*", "[abc", "[z-a]", "\\", "^*", "a{3,2}", "\\x4", "\\xZZ",
            "[\\d-z]",
        ] {
            assert!(
                matches!(
                    Regex::new(pattern, ""),
                    Err(QueryError::InvalidRegex { .. })
                ),
                "{pattern}"
            );
        }
    }
}
