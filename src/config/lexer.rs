//! keepalived.conf tokens, over raw bytes, without allocation.
//!
//! keepalived's syntax is line oriented: a line holds a keyword and its
//! arguments, `{` opens a block and `}` closes it (both may share a line with
//! other words). The lexer therefore reports line ends as tokens.
//!
//! * Words are runs of bytes up to white space, `{` or `}`. Braces are always
//!   tokens of their own, so a password containing a brace must be quoted.
//! * `"..."` is a quoted string: it may hold spaces, braces, `!` and `#`.
//!   Inside, `\"` and `\\` stand for `"` and `\`; the token carries the raw
//!   bytes between the quotes (see [`unescape`]). A quote must close on the
//!   same line.
//! * `!` or `#` at the start of a token starts a comment up to the end of the
//!   line (inside a word, e.g. `pa#ss`, they are ordinary characters).
//! * Lines and columns are 1-based; columns count bytes.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Word,
    /// A `"..."` string; `text` is the raw content between the quotes.
    Quoted,
    LBrace,
    RBrace,
    Newline,
    /// A `"` without its closing quote on the same line; `text` is the rest
    /// of the line.
    UnterminatedQuote,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a [u8],
    pub line: u32,
    pub col: u32,
}

impl<'a> Token<'a> {
    /// True for tokens that carry a value (word or quoted string).
    pub fn is_value(&self) -> bool {
        matches!(self.kind, TokenKind::Word | TokenKind::Quoted)
    }
}

/// An iterator over the tokens of one file.
#[derive(Clone, Debug)]
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
            col: 1,
        }
    }

    /// Line and column of the next unread byte (the end of file once the
    /// iterator is exhausted).
    pub fn position(&self) -> (u32, u32) {
        (self.line, self.col)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) {
        if let Some(&b) = self.src.get(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                self.line = self.line.saturating_add(1);
                self.col = 1;
            } else {
                self.col = self.col.saturating_add(1);
            }
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        // Skip blanks and comments.
        loop {
            match self.peek() {
                Some(b) if is_space(b) => self.bump(),
                Some(b'!') | Some(b'#') => {
                    while let Some(b) = self.peek() {
                        if b == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                _ => break,
            }
        }
        let b = self.peek()?;
        let (line, col, start) = (self.line, self.col, self.pos);
        let tok = |kind, text| Token {
            kind,
            text,
            line,
            col,
        };
        match b {
            b'\n' => {
                self.bump();
                Some(tok(TokenKind::Newline, &self.src[start..self.pos]))
            }
            b'{' => {
                self.bump();
                Some(tok(TokenKind::LBrace, &self.src[start..self.pos]))
            }
            b'}' => {
                self.bump();
                Some(tok(TokenKind::RBrace, &self.src[start..self.pos]))
            }
            b'"' => {
                self.bump();
                let content = self.pos;
                loop {
                    match self.peek() {
                        None | Some(b'\n') => {
                            let end = self.pos;
                            return Some(tok(
                                TokenKind::UnterminatedQuote,
                                &self.src[content..end],
                            ));
                        }
                        Some(b'\\') => {
                            self.bump();
                            if matches!(self.peek(), Some(b'"') | Some(b'\\')) {
                                self.bump();
                            }
                        }
                        Some(b'"') => {
                            let end = self.pos;
                            self.bump();
                            return Some(tok(TokenKind::Quoted, &self.src[content..end]));
                        }
                        Some(_) => self.bump(),
                    }
                }
            }
            _ => {
                while let Some(b) = self.peek() {
                    if is_space(b) || matches!(b, b'\n' | b'{' | b'}') {
                        break;
                    }
                    self.bump();
                }
                Some(tok(TokenKind::Word, &self.src[start..self.pos]))
            }
        }
    }
}

/// Calls `f` with the bytes of a quoted string's content with `\"` and `\\`
/// replaced (other backslashes are kept as written), in chunks.
pub fn unescape(raw: &[u8], f: &mut dyn FnMut(&[u8])) {
    let mut start = 0;
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && matches!(raw.get(i + 1), Some(b'"') | Some(b'\\')) {
            f(&raw[start..i]);
            f(&raw[i + 1..i + 2]);
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    f(&raw[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenKind::*;

    fn lex(s: &str) -> std::vec::Vec<(TokenKind, &str, u32, u32)> {
        Lexer::new(s.as_bytes())
            .map(|t| (t.kind, core::str::from_utf8(t.text).unwrap(), t.line, t.col))
            .collect()
    }

    #[test]
    fn words_braces_and_positions() {
        assert_eq!(
            lex("vrrp_instance VI_1 {\n  state MASTER\n}"),
            [
                (Word, "vrrp_instance", 1, 1),
                (Word, "VI_1", 1, 15),
                (LBrace, "{", 1, 20),
                (Newline, "\n", 1, 21),
                (Word, "state", 2, 3),
                (Word, "MASTER", 2, 9),
                (Newline, "\n", 2, 15),
                (RBrace, "}", 3, 1),
            ]
        );
    }

    #[test]
    fn braces_split_words_on_one_line() {
        assert_eq!(
            lex("unicast_peer{192.0.2.2}"),
            [
                (Word, "unicast_peer", 1, 1),
                (LBrace, "{", 1, 13),
                (Word, "192.0.2.2", 1, 14),
                (RBrace, "}", 1, 23),
            ]
        );
    }

    #[test]
    fn comments() {
        assert_eq!(
            lex("! whole line\n# also\nprio 1 ! trailing\nauth_pass pa#ss # c"),
            [
                (Newline, "\n", 1, 13),
                (Newline, "\n", 2, 7),
                (Word, "prio", 3, 1),
                (Word, "1", 3, 6),
                (Newline, "\n", 3, 18),
                (Word, "auth_pass", 4, 1),
                (Word, "pa#ss", 4, 11),
            ]
        );
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            lex(r#"script "/bin/x a {b} !c" "q\"x""#),
            [
                (Word, "script", 1, 1),
                (Quoted, "/bin/x a {b} !c", 1, 8),
                (Quoted, r#"q\"x"#, 1, 26),
            ]
        );
        assert_eq!(
            lex("a \"open\nb"),
            [
                (Word, "a", 1, 1),
                (UnterminatedQuote, "open", 1, 3),
                (Newline, "\n", 1, 8),
                (Word, "b", 2, 1),
            ]
        );
    }

    #[test]
    fn tabs_and_crlf() {
        assert_eq!(
            lex("\ta\r\n\tb"),
            [(Word, "a", 1, 2), (Newline, "\n", 1, 4), (Word, "b", 2, 2)]
        );
    }

    #[test]
    fn unescape_quotes_and_backslashes() {
        let mut out = std::vec::Vec::new();
        unescape(br#"a\"b\\c\d"#, &mut |s| out.extend_from_slice(s));
        assert_eq!(out, br#"a"b\c\d"#);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut buf = [0u8; 64];
            for b in buf.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *b = b"ab {}\"\\!#\n\t\xff"[(seed % 12) as usize];
            }
            let n = Lexer::new(&buf).count();
            assert!(n <= buf.len() + 1);
        }
    }
}
