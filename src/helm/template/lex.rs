//! Splits template source into text and the tokens of `{{ … }}` actions, as Go's
//! `text/template/parse` lexer does: trim markers, comments, quoted and raw strings, character
//! constants, numbers, fields, variables and identifiers.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Text(String),
    Open,
    Close,
    Ident(String),
    /// `.Name` (without the dot).
    Field(String),
    /// `$name`, or `$` alone.
    Var(String),
    Dot,
    Str(String),
    Number(String),
    Char(char),
    Bool(bool),
    Nil,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) line: usize,
    /// Whether white space separates this token from the previous one in the action.
    pub(super) spaced: bool,
}

#[derive(Debug)]
pub(super) struct LexError {
    pub(super) line: usize,
    pub(super) message: String,
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    Lexer {
        src,
        pos: 0,
        line: 1,
        toks: Vec::new(),
    }
    .run()
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_space_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn newlines(s: &str) -> usize {
    s.bytes().filter(|b| *b == b'\n').count()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    toks: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn err<T>(&self, line: usize, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            line,
            message: message.into(),
        })
    }

    fn push(&mut self, tok: Tok, line: usize, spaced: bool) {
        self.toks.push(Token { tok, line, spaced });
    }

    fn run(mut self) -> Result<Vec<Token>, LexError> {
        let mut trim_next = false;
        loop {
            let rest = self.rest();
            let open = rest.find("{{");
            let text_len = open.unwrap_or(rest.len());
            let bytes = rest.as_bytes();
            let left_trim = open.is_some_and(|i| {
                bytes.get(i + 2) == Some(&b'-') && bytes.get(i + 3).is_some_and(|b| is_space(*b))
            });
            let mut text = &rest[..text_len];
            let mut text_line = self.line;
            if trim_next {
                let trimmed = text.trim_start_matches(is_space_char);
                text_line += newlines(&text[..text.len() - trimmed.len()]);
                text = trimmed;
            }
            if left_trim {
                text = text.trim_end_matches(is_space_char);
            }
            if !text.is_empty() {
                self.push(Tok::Text(text.to_owned()), text_line, false);
            }
            self.line += newlines(&rest[..text_len]);
            self.pos += text_len;
            if open.is_none() {
                return Ok(self.toks);
            }
            trim_next = self.action(left_trim)?;
        }
    }

    /// Lexes one action starting at `{{`; returns whether it ended with a trim marker.
    fn action(&mut self, left_trim: bool) -> Result<bool, LexError> {
        let start = self.line;
        self.pos += 2;
        if left_trim {
            if self.rest().as_bytes().get(1) == Some(&b'\n') {
                self.line += 1;
            }
            self.pos += 2;
        }
        if self.rest().starts_with("/*") {
            return self.comment(start);
        }
        self.push(Tok::Open, start, false);
        let mut spaced = false;
        loop {
            let rest = self.rest();
            let b = rest.as_bytes();
            let Some(&first) = b.first() else {
                return self.err(start, "unclosed action");
            };
            if b.len() >= 4 && is_space(first) && &b[1..4] == b"-}}" {
                self.line += usize::from(first == b'\n');
                self.pos += 4;
                self.push(Tok::Close, self.line, spaced);
                return Ok(true);
            }
            if rest.starts_with("}}") {
                self.pos += 2;
                self.push(Tok::Close, self.line, spaced);
                return Ok(false);
            }
            if is_space(first) {
                self.line += usize::from(first == b'\n');
                self.pos += 1;
                spaced = true;
                continue;
            }
            let line = self.line;
            let tok = self.token(rest)?;
            self.push(tok, line, spaced);
            spaced = false;
        }
    }

    fn comment(&mut self, start: usize) -> Result<bool, LexError> {
        let rest = self.rest();
        let Some(end) = rest[2..].find("*/").map(|i| i + 4) else {
            return self.err(start, "unclosed comment");
        };
        self.line += newlines(&rest[..end]);
        self.pos += end;
        let after = self.rest().as_bytes();
        if after.starts_with(b"}}") {
            self.pos += 2;
            return Ok(false);
        }
        if after.len() >= 4 && is_space(after[0]) && &after[1..4] == b"-}}" {
            self.line += usize::from(after[0] == b'\n');
            self.pos += 4;
            return Ok(true);
        }
        self.err(self.line, "comment ends before closing delimiter")
    }

    /// Lexes the token at the start of `rest` (not white space, not a closing delimiter).
    fn token(&mut self, rest: &'a str) -> Result<Tok, LexError> {
        let line = self.line;
        let mut chars = rest.chars();
        let c = chars.next().unwrap_or(' ');
        let next = chars.next();
        let single = |tok: Tok, this: &mut Self| {
            this.pos += 1;
            Ok(tok)
        };
        match c {
            '|' => single(Tok::Pipe, self),
            '(' => single(Tok::LParen, self),
            ')' => single(Tok::RParen, self),
            ',' => single(Tok::Comma, self),
            '=' => single(Tok::Assign, self),
            ':' if next == Some('=') => {
                self.pos += 2;
                Ok(Tok::Declare)
            }
            ':' => self.err(line, "expected :="),
            '"' => self.quoted(rest),
            '`' => self.raw(rest),
            '\'' => self.char_constant(rest),
            '$' => {
                let name = word(&rest[1..]);
                self.pos += 1 + name.len();
                self.check_terminator()?;
                Ok(Tok::Var(format!("${name}")))
            }
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => self.number(rest),
            '.' => {
                let name = word(&rest[1..]);
                self.pos += 1 + name.len();
                if name.is_empty() {
                    return Ok(Tok::Dot);
                }
                self.check_terminator()?;
                Ok(Tok::Field(name.to_owned()))
            }
            '+' | '-' | '0'..='9' => self.number(rest),
            c if is_word(c) => {
                let name = word(rest);
                self.pos += name.len();
                self.check_terminator()?;
                Ok(match name {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    _ => Tok::Ident(name.to_owned()),
                })
            }
            c => self.err(line, format!("unrecognized character in action: {c:?}")),
        }
    }

    /// After a word, Go requires white space, punctuation or the end of the action.
    fn check_terminator(&self) -> Result<(), LexError> {
        let rest = self.rest();
        match rest.chars().next() {
            None => Ok(()),
            Some(c) if is_space_char(c) || ".,|:()".contains(c) || rest.starts_with("}}") => Ok(()),
            Some(c) => self.err(self.line, format!("bad character {c:?}")),
        }
    }

    fn number(&mut self, rest: &'a str) -> Result<Tok, LexError> {
        let b = rest.as_bytes();
        let mut i = 0;
        let run = |i: &mut usize, set: &[u8]| {
            while b.get(*i).is_some_and(|c| set.contains(c)) {
                *i += 1;
            }
        };
        if matches!(b.first(), Some(b'+' | b'-')) {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        if b.get(i) == Some(&b'0') {
            let prefixed: Option<&[u8]> = match b.get(i + 1) {
                Some(b'x' | b'X') => Some(b"0123456789abcdefABCDEF_"),
                Some(b'o' | b'O') => Some(b"01234567_"),
                Some(b'b' | b'B') => Some(b"01_"),
                _ => None,
            };
            if let Some(set) = prefixed {
                digits = set;
                i += 2;
            }
        }
        run(&mut i, digits);
        if b.get(i) == Some(&b'.') {
            i += 1;
            run(&mut i, digits);
        }
        if digits.len() == 11 && matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            run(&mut i, b"0123456789_");
        }
        if b.get(i) == Some(&b'i') {
            i += 1;
        }
        let text = &rest[..i];
        if rest[i..].chars().next().is_some_and(is_word) {
            let bad: String = rest
                .chars()
                .take_while(|c| is_word(*c) || *c == '.')
                .collect();
            return self.err(self.line, format!("bad number syntax: {bad:?}"));
        }
        self.pos += i;
        Ok(Tok::Number(text.to_owned()))
    }

    /// Finds the closing `quote` after an opening one, honouring backslash escapes.
    fn scan_escaped(&self, rest: &str, quote: u8, what: &str) -> Result<usize, LexError> {
        let b = rest.as_bytes();
        let mut i = 1;
        loop {
            match b.get(i) {
                None | Some(b'\n') => return self.err(self.line, format!("unterminated {what}")),
                Some(b'\\') if matches!(b.get(i + 1), None | Some(b'\n')) => {
                    return self.err(self.line, format!("unterminated {what}"));
                }
                Some(b'\\') => i += 2,
                Some(c) if *c == quote => return Ok(i),
                Some(_) => i += 1,
            }
        }
    }

    fn quoted(&mut self, rest: &str) -> Result<Tok, LexError> {
        let end = self.scan_escaped(rest, b'"', "quoted string")?;
        let text = unescape(&rest[1..end], '"').map_err(|m| LexError {
            line: self.line,
            message: m,
        })?;
        self.pos += end + 1;
        Ok(Tok::Str(text))
    }

    fn raw(&mut self, rest: &str) -> Result<Tok, LexError> {
        let Some(end) = rest[1..].find('`').map(|i| i + 1) else {
            return self.err(self.line, "unterminated raw quoted string");
        };
        let text = &rest[1..end];
        self.line += newlines(text);
        self.pos += end + 1;
        Ok(Tok::Str(text.to_owned()))
    }

    fn char_constant(&mut self, rest: &str) -> Result<Tok, LexError> {
        let end = self.scan_escaped(rest, b'\'', "character constant")?;
        let text = unescape(&rest[1..end], '\'').map_err(|m| LexError {
            line: self.line,
            message: m,
        })?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => {
                self.pos += end + 1;
                Ok(Tok::Char(c))
            }
            _ => self.err(
                self.line,
                format!("malformed character constant: {}", &rest[..=end]),
            ),
        }
    }
}

/// The identifier at the start of `s`.
fn word(s: &str) -> &str {
    let end = s.find(|c: char| !is_word(c)).unwrap_or(s.len());
    &s[..end]
}

/// Decodes Go's escapes in a quoted string or character constant (`quote` is the delimiter).
fn unescape(s: &str, quote: char) -> Result<String, String> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    let bad = || format!("invalid syntax in quoted text: {s:?}");
    let hex = |chars: &mut std::str::Chars<'_>, n: usize, radix: u32| -> Option<u32> {
        let digits: String = chars.by_ref().take(n).collect();
        if digits.len() != n {
            return None;
        }
        u32::from_str_radix(&digits, radix).ok()
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(bad)?;
        let byte = match e {
            'a' => 7,
            'b' => 8,
            'f' => 12,
            'n' => b'\n',
            'r' => b'\r',
            't' => b'\t',
            'v' => 11,
            '\\' => b'\\',
            c if c == quote => c as u8,
            '0'..='7' => {
                let rest = hex(&mut chars, 2, 8).ok_or_else(bad)?;
                let v = (e as u32 - '0' as u32) * 64 + rest;
                u8::try_from(v).map_err(|_| bad())?
            }
            'x' => u8::try_from(hex(&mut chars, 2, 16).ok_or_else(bad)?).map_err(|_| bad())?,
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let c = hex(&mut chars, n, 16)
                    .and_then(char::from_u32)
                    .ok_or_else(bad)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return Err(bad()),
        };
        out.push(byte);
    }
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}
