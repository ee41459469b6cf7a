//! The tokenizer shared by the manifest and dyndep parsers. It follows Ninja's own lexer token for
//! token (the same longest-match rules, the same `$` escapes, the same error messages), because
//! what a build file means depends on those details: a line of spaces ends a rule's variable block,
//! `$ ` is a space inside a path, `$\n` continues a line and eats the next line's indentation.

use std::fmt;

use super::eval::Tok;

/// A token of Ninja's manifest grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Error,
    Build,
    Colon,
    Default,
    Equals,
    Ident,
    Include,
    Indent,
    Newline,
    Pipe,
    Pipe2,
    PipeAt,
    Pool,
    Rule,
    Subninja,
    Eof,
}

impl Token {
    /// The name Ninja's messages use for the token.
    pub fn name(self) -> &'static str {
        match self {
            Token::Error => "lexing error",
            Token::Build => "'build'",
            Token::Colon => "':'",
            Token::Default => "'default'",
            Token::Equals => "'='",
            Token::Ident => "identifier",
            Token::Include => "'include'",
            Token::Indent => "indent",
            Token::Newline => "newline",
            Token::Pipe2 => "'||'",
            Token::Pipe => "'|'",
            Token::PipeAt => "'|@'",
            Token::Pool => "'pool'",
            Token::Rule => "'rule'",
            Token::Subninja => "'subninja'",
            Token::Eof => "eof",
        }
    }

    /// Extra advice appended to "expected X, got Y".
    pub fn error_hint(self) -> &'static str {
        match self {
            Token::Colon => " ($ also escapes ':')",
            _ => "",
        }
    }
}

/// A syntax or semantic error in a Ninja file, located like Ninja locates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file, as the manifest named it (relative to the build directory).
    pub file: String,
    /// 1-based line of the token the error is about.
    pub line: usize,
    /// 0-based column of that token, when known.
    pub column: Option<usize>,
    pub message: String,
    /// The offending line (truncated to 72 characters) with a caret under the column, as Ninja
    /// prints it; empty when the error is at the start of a line.
    pub context: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return f.write_str(&self.message);
        }
        write!(f, "{}:{}: {}", self.file, self.line, self.message)?;
        if !self.context.is_empty() {
            write!(f, "\n{}", self.context)?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

#[inline]
fn is_varname(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.'
}

#[inline]
fn is_simple_varname(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Ninja's lexer over one file's bytes. The end of the input, like a NUL byte in it, is end of file.
pub struct Lexer<'a> {
    filename: String,
    text: &'a str,
    input: &'a [u8],
    ofs: usize,
    last_token: Option<usize>,
}

impl<'a> Lexer<'a> {
    pub fn new(filename: &str, text: &'a str) -> Lexer<'a> {
        Lexer {
            filename: filename.to_string(),
            text,
            input: text.as_bytes(),
            ofs: 0,
            last_token: None,
        }
    }

    pub fn filename(&self) -> &str {
        &self.filename
    }

    #[inline]
    fn at(&self, i: usize) -> u8 {
        match self.input.get(i) {
            Some(&c) => c,
            None => 0,
        }
    }

    /// An error located at the last token read.
    pub fn error(&self, message: impl Into<String>) -> ParseError {
        let message = message.into();
        let pos = self.last_token.unwrap_or(0).min(self.input.len());
        let mut line = 1;
        let mut line_start = 0;
        for (i, &c) in self.input[..pos].iter().enumerate() {
            if c == b'\n' {
                line += 1;
                line_start = i + 1;
            }
        }
        let col = if self.last_token.is_some() {
            pos - line_start
        } else {
            0
        };
        const TRUNCATE: usize = 72;
        let mut context = String::new();
        if col > 0 && col < TRUNCATE {
            let rest = &self.input[line_start..];
            let mut len = 0;
            let mut truncated = true;
            while len < TRUNCATE {
                match rest.get(len) {
                    None | Some(0) | Some(b'\n') => {
                        truncated = false;
                        break;
                    }
                    _ => len += 1,
                }
            }
            context.push_str(&String::from_utf8_lossy(&rest[..len]));
            if truncated {
                context.push_str("...");
            }
            context.push('\n');
            context.push_str(&" ".repeat(col));
            context.push_str("^ near here");
        }
        ParseError {
            file: self.filename.clone(),
            line,
            column: self.last_token.map(|_| col),
            message,
            context,
        }
    }

    /// The message for a lexing error at the last token.
    pub fn describe_last_error(&self) -> &'static str {
        if let Some(pos) = self.last_token
            && self.at(pos) == b'\t'
        {
            return "tabs are not allowed, use spaces";
        }
        "lexing error"
    }

    /// Go back to before the last token read.
    pub fn unread_token(&mut self) {
        if let Some(pos) = self.last_token {
            self.ofs = pos;
        }
    }

    /// Read the next token, skipping comments.
    pub fn read_token(&mut self) -> Token {
        let mut p = self.ofs;
        let start;
        let token;
        loop {
            let s = p;
            let mut q = p;
            while self.at(q) == b' ' {
                q += 1;
            }
            let c = self.at(q);
            if c == b'#' {
                // A comment runs to the newline, which it includes; without one it is no comment.
                let mut r = q + 1;
                while !matches!(self.at(r), 0 | b'\n') {
                    r += 1;
                }
                if self.at(r) == b'\n' {
                    p = r + 1;
                    continue;
                }
            }
            if c == b'\r' && self.at(q + 1) == b'\n' {
                start = s;
                p = q + 2;
                token = Token::Newline;
                break;
            }
            if c == b'\n' {
                start = s;
                p = q + 1;
                token = Token::Newline;
                break;
            }
            if q > s {
                start = s;
                p = q;
                token = Token::Indent;
                break;
            }
            start = s;
            if is_varname(c) {
                let mut r = q;
                while is_varname(self.at(r)) {
                    r += 1;
                }
                token = match &self.input[q..r] {
                    b"build" => Token::Build,
                    b"pool" => Token::Pool,
                    b"rule" => Token::Rule,
                    b"default" => Token::Default,
                    b"include" => Token::Include,
                    b"subninja" => Token::Subninja,
                    _ => Token::Ident,
                };
                p = r;
                break;
            }
            (token, p) = match c {
                b'=' => (Token::Equals, q + 1),
                b':' => (Token::Colon, q + 1),
                b'|' => match self.at(q + 1) {
                    b'@' => (Token::PipeAt, q + 2),
                    b'|' => (Token::Pipe2, q + 2),
                    _ => (Token::Pipe, q + 1),
                },
                0 => (Token::Eof, q),
                _ => (Token::Error, q + 1),
            };
            break;
        }
        self.last_token = Some(start);
        self.ofs = p;
        if token != Token::Newline && token != Token::Eof {
            self.eat_whitespace();
        }
        token
    }

    /// Read the next token if it is `token`; otherwise leave it.
    pub fn peek_token(&mut self, token: Token) -> bool {
        let t = self.read_token();
        if t == token {
            return true;
        }
        self.unread_token();
        false
    }

    fn eat_whitespace(&mut self) {
        let mut p = self.ofs;
        loop {
            match self.at(p) {
                b' ' => p += 1,
                b'$' if self.at(p + 1) == b'\n' => p += 2,
                b'$' if self.at(p + 1) == b'\r' && self.at(p + 2) == b'\n' => p += 3,
                _ => break,
            }
        }
        self.ofs = p;
    }

    /// Read a variable name (`[a-zA-Z0-9_.-]+`).
    pub fn read_ident(&mut self) -> Option<&'a str> {
        let start = self.ofs;
        let mut p = start;
        while is_varname(self.at(p)) {
            p += 1;
        }
        self.last_token = Some(start);
        if p == start {
            return None;
        }
        self.ofs = p;
        self.eat_whitespace();
        Some(&self.text[start..p])
    }

    /// Read a path, appending its pieces to `out`: stops, without consuming it, at an unescaped
    /// space, `:`, `|` or newline. Returns false when there was no path (nothing appended).
    pub fn read_path(&mut self, out: &mut Vec<Tok<'a>>) -> Result<bool, ParseError> {
        let before = out.len();
        self.read_eval_string(out, true)?;
        Ok(out.len() > before)
    }

    /// Read the value of `name = value`, up to and including the end of the line.
    pub fn read_var_value(&mut self, out: &mut Vec<Tok<'a>>) -> Result<(), ParseError> {
        self.read_eval_string(out, false)
    }

    fn read_eval_string(&mut self, eval: &mut Vec<Tok<'a>>, path: bool) -> Result<(), ParseError> {
        let mut p = self.ofs;
        let mut start;
        loop {
            start = p;
            let c = self.at(p);
            match c {
                b'$' => {
                    let d = self.at(p + 1);
                    match d {
                        b'$' => {
                            eval.push(Tok::Text("$"));
                            p += 2;
                        }
                        b' ' => {
                            eval.push(Tok::Text(" "));
                            p += 2;
                        }
                        b':' => {
                            eval.push(Tok::Text(":"));
                            p += 2;
                        }
                        b'\n' => {
                            p += 2;
                            while self.at(p) == b' ' {
                                p += 1;
                            }
                        }
                        b'\r' if self.at(p + 2) == b'\n' => {
                            p += 3;
                            while self.at(p) == b' ' {
                                p += 1;
                            }
                        }
                        b'{' => {
                            let mut r = p + 2;
                            while is_varname(self.at(r)) {
                                r += 1;
                            }
                            if r > p + 2 && self.at(r) == b'}' {
                                eval.push(Tok::Var(self.str_at(p + 2, r)));
                                p = r + 1;
                            } else {
                                self.last_token = Some(start);
                                return Err(
                                    self.error("bad $-escape (literal $ must be written as $$)")
                                );
                            }
                        }
                        d if is_simple_varname(d) => {
                            let mut r = p + 1;
                            while is_simple_varname(self.at(r)) {
                                r += 1;
                            }
                            eval.push(Tok::Var(self.str_at(p + 1, r)));
                            p = r;
                        }
                        _ => {
                            self.last_token = Some(start);
                            return Err(
                                self.error("bad $-escape (literal $ must be written as $$)")
                            );
                        }
                    }
                }
                b'\r' => {
                    if self.at(p + 1) == b'\n' {
                        if !path {
                            p += 2;
                        }
                        break;
                    }
                    self.last_token = Some(start);
                    return Err(self.error(self.describe_last_error()));
                }
                b' ' | b':' | b'|' | b'\n' => {
                    if path {
                        break;
                    }
                    p += 1;
                    if c == b'\n' {
                        break;
                    }
                    eval.push(Tok::Text(if c == b' ' {
                        " "
                    } else if c == b':' {
                        ":"
                    } else {
                        "|"
                    }));
                }
                0 => {
                    self.last_token = Some(start);
                    return Err(self.error("unexpected EOF"));
                }
                _ => {
                    let mut r = p + 1;
                    while !matches!(self.at(r), b'$' | b' ' | b':' | b'\r' | b'\n' | b'|' | 0) {
                        r += 1;
                    }
                    eval.push(Tok::Text(self.str_at(p, r)));
                    p = r;
                }
            }
        }
        self.last_token = Some(start);
        self.ofs = p;
        if path {
            self.eat_whitespace();
        }
        Ok(())
    }

    /// The input between two offsets the lexer found at ASCII bytes (so at character boundaries).
    fn str_at(&self, from: usize, to: usize) -> &'a str {
        &self.text[from..to.min(self.text.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ninja::eval::EvalString;

    fn tokens(input: &str) -> Vec<Token> {
        let mut lexer = Lexer::new("input", input);
        let mut out = Vec::new();
        loop {
            let t = lexer.read_token();
            out.push(t);
            if matches!(t, Token::Eof | Token::Error) {
                return out;
            }
        }
    }

    #[test]
    fn keywords_and_punctuation() {
        use Token::*;
        assert_eq!(
            tokens("build out: cc in | imp || oo |@ val\n"),
            vec![
                Build, Ident, Colon, Ident, Ident, Pipe, Ident, Pipe2, Ident, PipeAt, Ident,
                Newline, Eof
            ]
        );
        // `builder` is an identifier, not `build` followed by `er`.
        assert_eq!(tokens("builder = 1\n")[0], Ident);
        assert_eq!(tokens("rule\n")[0], Rule);
        assert_eq!(tokens("subninja x\n")[0], Subninja);
        assert_eq!(tokens("  x = 1\n")[..2], [Indent, Ident]);
    }

    #[test]
    fn comments_and_blank_lines() {
        use Token::*;
        assert_eq!(tokens("# comment\nfoo\n"), vec![Ident, Newline, Eof]);
        assert_eq!(
            tokens("   # indented comment\nfoo\n"),
            vec![Ident, Newline, Eof]
        );
        // A line of spaces is a newline, not an indent.
        assert_eq!(tokens("   \n"), vec![Newline, Eof]);
        assert_eq!(tokens("\r\n"), vec![Newline, Eof]);
        // A comment with no newline at the end of the file is not a comment.
        assert_eq!(tokens("# trailing"), vec![Error]);
    }

    #[test]
    fn tabs_are_rejected_with_ninjas_message() {
        let mut lexer = Lexer::new("input", "\tfoo\n");
        assert_eq!(lexer.read_token(), Token::Error);
        assert_eq!(
            lexer.describe_last_error(),
            "tabs are not allowed, use spaces"
        );
    }

    #[test]
    fn eval_strings_and_escapes() {
        let mut lexer = Lexer::new("input", "a$ b$:c$$d$\n   e ${v.x}f $v.x g|h\n");
        let path = |lexer: &mut Lexer<'_>| {
            let mut toks = Vec::new();
            assert!(lexer.read_path(&mut toks).unwrap());
            EvalString::from_toks(&toks).serialize()
        };
        assert_eq!(path(&mut lexer), "[a b:c$de]");
        assert_eq!(path(&mut lexer), "[$v.x][f]");
        assert_eq!(path(&mut lexer), "[$v][.x]");
        assert_eq!(path(&mut lexer), "[g]");
        assert_eq!(lexer.read_token(), Token::Pipe);
        assert_eq!(path(&mut lexer), "[h]");
        // At the newline: no more paths.
        assert!(!lexer.read_path(&mut Vec::new()).unwrap());
    }

    #[test]
    fn var_values_keep_spaces_colons_and_pipes() {
        let mut lexer = Lexer::new("input", "a b: c | d $\n    e\nnext");
        let mut toks = Vec::new();
        lexer.read_var_value(&mut toks).unwrap();
        assert_eq!(EvalString::from_toks(&toks).serialize(), "[a b: c | d e]");
        assert_eq!(lexer.read_token(), Token::Ident);
    }

    #[test]
    fn bad_escape_is_located() {
        let mut lexer = Lexer::new("build.ninja", "x = 1\ny = a$!b\n");
        assert_eq!(lexer.read_token(), Token::Ident);
        assert_eq!(lexer.read_token(), Token::Equals);
        lexer.read_var_value(&mut Vec::new()).unwrap();
        assert_eq!(lexer.read_token(), Token::Ident);
        assert_eq!(lexer.read_token(), Token::Equals);
        let err = lexer.read_var_value(&mut Vec::new()).unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(
            err.to_string(),
            "build.ninja:2: bad $-escape (literal $ must be written as $$)\ny = a$!b\n     ^ near here"
        );
    }

    #[test]
    fn eof_inside_a_value_is_an_error() {
        let mut lexer = Lexer::new("input", "foo");
        let err = lexer.read_var_value(&mut Vec::new()).unwrap_err();
        assert_eq!(err.message, "unexpected EOF");
    }
}
