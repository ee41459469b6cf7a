//! CMake source text to command invocations, then to a tree of blocks.
//!
//! The grammar is the one `cmake-language(7)` documents: command invocations made of bracket,
//! quoted and unquoted arguments, line and bracket comments, nested parentheses inside argument
//! lists (kept as `(` and `)` arguments, which `if()` needs), line continuations in quoted
//! arguments. Escape sequences and variable references are left in the argument text: they are
//! processed when the command runs (see [`super::expand`]), exactly as CMake does.
//!
//! Flow-control commands (`if`/`elseif`/`else`/`endif`, `foreach`, `while`, `function`, `macro`,
//! `block`) are matched here, once per file content, so the interpreter walks a tree instead of
//! searching for the matching `end*()` on every execution.

use std::sync::Arc;

/// How an argument was written; it matters for list splitting and for `if()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgKind {
    Unquoted,
    Quoted,
    Bracket,
}

/// One argument as written, escapes and `${}` references not yet processed.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub(crate) text: String,
    pub(crate) kind: ArgKind,
}

impl Arg {
    /// True when expansion cannot change the text (no escape, no variable reference, no list
    /// separator): the common case, worth skipping the expansion machinery for.
    pub(crate) fn is_literal(&self) -> bool {
        match self.kind {
            ArgKind::Bracket => true,
            ArgKind::Quoted => !self.text.bytes().any(|b| b == b'\\' || b == b'$'),
            ArgKind::Unquoted => !self
                .text
                .bytes()
                .any(|b| b == b'\\' || b == b'$' || b == b';'),
        }
    }
}

/// A command invocation: lower-cased name (CMake command names are case-insensitive).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) name: String,
    pub(crate) args: Vec<Arg>,
    pub(crate) line: u32,
}

/// The block structure of a file.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Command(Call),
    If(IfNode),
    Foreach { head: Call, body: Vec<Node> },
    While { head: Call, body: Vec<Node> },
    Function { head: Call, body: Arc<[Node]> },
    Macro { head: Call, body: Arc<[Node]> },
    Block { head: Call, body: Vec<Node> },
}

/// `if()` with its `elseif()` branches and optional `else()`.
#[derive(Debug, Clone)]
pub(crate) struct IfNode {
    /// The `if` call first, then each `elseif`, each with its body.
    pub(crate) branches: Vec<(Call, Vec<Node>)>,
    pub(crate) otherwise: Option<Vec<Node>>,
}

impl Node {
    /// A copy with every non-bracket argument rewritten by `f`: how `macro()` substitutes its
    /// parameters into the recorded body before running it.
    pub(crate) fn map_args(&self, f: &dyn Fn(&str) -> String) -> Node {
        fn call(c: &Call, f: &dyn Fn(&str) -> String) -> Call {
            Call {
                name: c.name.clone(),
                line: c.line,
                args: c
                    .args
                    .iter()
                    .map(|a| match a.kind {
                        ArgKind::Bracket => a.clone(),
                        kind => Arg {
                            text: f(&a.text),
                            kind,
                        },
                    })
                    .collect(),
            }
        }
        fn body(nodes: &[Node], f: &dyn Fn(&str) -> String) -> Vec<Node> {
            nodes.iter().map(|n| n.map_args(f)).collect()
        }
        match self {
            Node::Command(c) => Node::Command(call(c, f)),
            Node::If(node) => Node::If(IfNode {
                branches: node
                    .branches
                    .iter()
                    .map(|(c, b)| (call(c, f), body(b, f)))
                    .collect(),
                otherwise: node.otherwise.as_ref().map(|b| body(b, f)),
            }),
            Node::Foreach { head, body: b } => Node::Foreach {
                head: call(head, f),
                body: body(b, f),
            },
            Node::While { head, body: b } => Node::While {
                head: call(head, f),
                body: body(b, f),
            },
            Node::Function { head, body: b } => Node::Function {
                head: call(head, f),
                body: body(b, f).into(),
            },
            Node::Macro { head, body: b } => Node::Macro {
                head: call(head, f),
                body: body(b, f).into(),
            },
            Node::Block { head, body: b } => Node::Block {
                head: call(head, f),
                body: body(b, f),
            },
        }
    }
}

/// A syntax error: CMake refuses the whole file, so evaluation cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) line: u32,
    pub(crate) message: String,
}

/// Nesting deeper than this is refused: real files nest a handful of levels, and the tree
/// builder and the interpreter recurse once per level.
const MAX_NESTING: usize = 200;

/// Parses a whole file into its block tree.
pub(crate) fn parse(source: &str) -> Result<Vec<Node>, ParseError> {
    let calls = Lexer::new(source).calls()?;
    build_tree(calls)
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        // A byte-order mark is allowed at the start of a file.
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            line: self.line,
            message: message.into(),
        })
    }

    fn calls(mut self) -> Result<Vec<Call>, ParseError> {
        let mut calls = Vec::new();
        // Whether a command already sits on the current line: CMake wants a newline between two.
        let mut command_on_line = false;
        loop {
            match self.peek() {
                None => return Ok(calls),
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    command_on_line = false;
                }
                Some(b'#') => self.comment()?,
                Some(b) if is_ident_start(b) => {
                    if command_on_line {
                        return self.error("expected a newline between two commands");
                    }
                    calls.push(self.command()?);
                    command_on_line = true;
                }
                Some(b) => {
                    let shown = self.src[self.pos..].chars().next().unwrap_or(b as char);
                    return self.error(format!("expected a command name, got `{shown}`"));
                }
            }
        }
    }

    /// A `#` comment: a bracket comment when `#` is followed by a bracket opening, else up to
    /// the end of the line (the newline itself is left for the caller).
    fn comment(&mut self) -> Result<(), ParseError> {
        self.pos += 1;
        if let Some(level) = self.bracket_open_level() {
            let start_line = self.line;
            self.bracket_body(level)
                .map(|_| ())
                .map_err(|_| ParseError {
                    line: start_line,
                    message: "unterminated bracket comment".into(),
                })
        } else {
            while let Some(b) = self.peek() {
                if b == b'\n' {
                    break;
                }
                self.pos += 1;
            }
            Ok(())
        }
    }

    /// At `[`: when a bracket opening `[=*[` starts here, consumes it and returns its level.
    fn bracket_open_level(&mut self) -> Option<usize> {
        if self.peek() != Some(b'[') {
            return None;
        }
        let mut level = 0;
        while self.peek_at(1 + level) == Some(b'=') {
            level += 1;
        }
        if self.peek_at(1 + level) == Some(b'[') {
            self.pos += level + 2;
            Some(level)
        } else {
            None
        }
    }

    /// The content of a bracket argument or comment up to its matching close.
    fn bracket_body(&mut self, level: usize) -> Result<String, ()> {
        // A newline right after the opening bracket is not part of the content.
        if self.peek() == Some(b'\r') && self.peek_at(1) == Some(b'\n') {
            self.pos += 2;
            self.line += 1;
        } else if self.peek() == Some(b'\n') {
            self.pos += 1;
            self.line += 1;
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b']' {
                let mut n = 0;
                while self.peek_at(1 + n) == Some(b'=') {
                    n += 1;
                }
                if n == level && self.peek_at(1 + n) == Some(b']') {
                    let content = self.src[start..self.pos].to_owned();
                    self.pos += level + 2;
                    return Ok(content);
                }
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
        Err(())
    }

    fn command(&mut self) -> Result<Call, ParseError> {
        let line = self.line;
        let start = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.pos += 1;
        }
        let name = self.src[start..self.pos].to_ascii_lowercase();
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        if self.peek() != Some(b'(') {
            return self.error(format!("expected `(` after command name `{name}`"));
        }
        self.pos += 1;
        let args = self.arguments(line, &name)?;
        Ok(Call { name, args, line })
    }

    fn arguments(&mut self, start_line: u32, name: &str) -> Result<Vec<Arg>, ParseError> {
        let mut args = Vec::new();
        let mut depth = 1usize;
        loop {
            let Some(b) = self.peek() else {
                return Err(ParseError {
                    line: start_line,
                    message: format!("unterminated argument list of `{name}(`: missing `)`"),
                });
            };
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                }
                b'#' => self.comment()?,
                b'(' => {
                    self.pos += 1;
                    depth += 1;
                    if depth > MAX_NESTING {
                        return self.error("parentheses nested too deeply");
                    }
                    args.push(Arg {
                        text: "(".into(),
                        kind: ArgKind::Unquoted,
                    });
                }
                b')' => {
                    self.pos += 1;
                    depth -= 1;
                    if depth == 0 {
                        return Ok(args);
                    }
                    args.push(Arg {
                        text: ")".into(),
                        kind: ArgKind::Unquoted,
                    });
                }
                b'"' => args.push(self.quoted()?),
                b'[' => {
                    let line = self.line;
                    if let Some(level) = self.bracket_open_level() {
                        let text = self.bracket_body(level).map_err(|_| ParseError {
                            line,
                            message: "unterminated bracket argument".into(),
                        })?;
                        args.push(Arg {
                            text,
                            kind: ArgKind::Bracket,
                        });
                    } else {
                        args.push(self.unquoted()?);
                    }
                }
                _ => args.push(self.unquoted()?),
            }
        }
    }

    fn quoted(&mut self) -> Result<Arg, ParseError> {
        let start_line = self.line;
        self.pos += 1;
        let mut text = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(ParseError {
                    line: start_line,
                    message: "unterminated quoted argument".into(),
                });
            };
            match b {
                b'"' => {
                    text.push_str(&self.src[run_start..self.pos]);
                    self.pos += 1;
                    return Ok(Arg {
                        text,
                        kind: ArgKind::Quoted,
                    });
                }
                b'\\' => match self.peek_at(1) {
                    // Line continuation: backslash-newline disappears.
                    Some(b'\n') => {
                        text.push_str(&self.src[run_start..self.pos]);
                        self.pos += 2;
                        self.line += 1;
                        run_start = self.pos;
                    }
                    Some(b'\r') if self.peek_at(2) == Some(b'\n') => {
                        text.push_str(&self.src[run_start..self.pos]);
                        self.pos += 3;
                        self.line += 1;
                        run_start = self.pos;
                    }
                    Some(next) => {
                        // Keep the escape for expansion time; skip the escaped character so an
                        // escaped quote does not end the argument.
                        if next == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1 + utf8_len(next);
                    }
                    None => self.pos += 1,
                },
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn unquoted(&mut self) -> Result<Arg, ParseError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b'#' => break,
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') | None => {
                        return self.error("a backslash cannot end an unquoted argument");
                    }
                    Some(next) => self.pos += 1 + utf8_len(next),
                },
                // A quoted run inside an unquoted argument (`-DX="a b"`): CMake's legacy
                // unquoted form keeps it, quotes included.
                b'"' if self.pos > start => {
                    let line = self.line;
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => {
                                return Err(ParseError {
                                    line,
                                    message: "unterminated quoted text".into(),
                                });
                            }
                            Some(b'"') => {
                                self.pos += 1;
                                break;
                            }
                            Some(b'\\') if self.peek_at(1).is_some() => {
                                let next = self.peek_at(1).unwrap_or(b' ');
                                self.pos += 1 + utf8_len(next);
                            }
                            Some(b'\n') => {
                                self.line += 1;
                                self.pos += 1;
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                b'"' => break,
                _ => self.pos += 1,
            }
        }
        if self.pos == start {
            // Cannot happen (callers dispatch on a byte that starts an argument), but never loop.
            self.pos += 1;
            return self.error("unexpected character in argument list");
        }
        Ok(Arg {
            text: self.src[start..self.pos].to_owned(),
            kind: ArgKind::Unquoted,
        })
    }
}

/// Length in bytes of the UTF-8 sequence starting with `first` (1 for continuation bytes, so a
/// scan always advances and always stays on character boundaries of valid text).
fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Matches flow-control commands into blocks.
fn build_tree(calls: Vec<Call>) -> Result<Vec<Node>, ParseError> {
    let mut iter = calls.into_iter();
    let (nodes, end) = block(&mut iter, &[], 0)?;
    match end {
        None => Ok(nodes),
        Some(call) => Err(unexpected(&call)),
    }
}

fn unexpected(call: &Call) -> ParseError {
    ParseError {
        line: call.line,
        message: format!(
            "`{}()` without a matching opening command (flow control is not properly nested)",
            call.name
        ),
    }
}

fn unclosed(head: &Call, close: &str) -> ParseError {
    ParseError {
        line: head.line,
        message: format!("`{}()` is never closed by `{close}()`", head.name),
    }
}

const CLOSERS: &[&str] = &[
    "elseif",
    "else",
    "endif",
    "endforeach",
    "endwhile",
    "endfunction",
    "endmacro",
    "endblock",
];

/// Collects nodes until one of `terminators` (returned) or the end of input (None).
fn block(
    iter: &mut std::vec::IntoIter<Call>,
    terminators: &[&str],
    depth: usize,
) -> Result<(Vec<Node>, Option<Call>), ParseError> {
    let mut nodes = Vec::new();
    while let Some(call) = iter.next() {
        if terminators.contains(&call.name.as_str()) {
            return Ok((nodes, Some(call)));
        }
        let opener = matches!(
            call.name.as_str(),
            "if" | "foreach" | "while" | "function" | "macro" | "block"
        );
        if opener && depth >= MAX_NESTING {
            return Err(ParseError {
                line: call.line,
                message: "blocks nested too deeply".into(),
            });
        }
        let node = match call.name.as_str() {
            "if" => {
                let mut branches = Vec::new();
                let mut otherwise = None;
                let mut head = call;
                loop {
                    let (body, end) = block(iter, &["elseif", "else", "endif"], depth + 1)?;
                    let Some(end) = end else {
                        return Err(unclosed(&head, "endif"));
                    };
                    branches.push((head, body));
                    match end.name.as_str() {
                        "elseif" => head = end,
                        "else" => {
                            let (body, close) = block(iter, &["endif"], depth + 1)?;
                            if close.is_none() {
                                return Err(unclosed(&end, "endif"));
                            }
                            otherwise = Some(body);
                            break;
                        }
                        _ => break,
                    }
                }
                Node::If(IfNode {
                    branches,
                    otherwise,
                })
            }
            "foreach" => {
                let (body, end) = block(iter, &["endforeach"], depth + 1)?;
                if end.is_none() {
                    return Err(unclosed(&call, "endforeach"));
                }
                Node::Foreach { head: call, body }
            }
            "while" => {
                let (body, end) = block(iter, &["endwhile"], depth + 1)?;
                if end.is_none() {
                    return Err(unclosed(&call, "endwhile"));
                }
                Node::While { head: call, body }
            }
            "function" => {
                let (body, end) = block(iter, &["endfunction"], depth + 1)?;
                if end.is_none() {
                    return Err(unclosed(&call, "endfunction"));
                }
                Node::Function {
                    head: call,
                    body: body.into(),
                }
            }
            "macro" => {
                let (body, end) = block(iter, &["endmacro"], depth + 1)?;
                if end.is_none() {
                    return Err(unclosed(&call, "endmacro"));
                }
                Node::Macro {
                    head: call,
                    body: body.into(),
                }
            }
            "block" => {
                let (body, end) = block(iter, &["endblock"], depth + 1)?;
                if end.is_none() {
                    return Err(unclosed(&call, "endblock"));
                }
                Node::Block { head: call, body }
            }
            name if CLOSERS.contains(&name) => return Err(unexpected(&call)),
            _ => Node::Command(call),
        };
        nodes.push(node);
    }
    Ok((nodes, None))
}
