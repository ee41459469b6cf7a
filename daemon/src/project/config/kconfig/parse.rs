//! Kconfig files to syntax trees, one file at a time.
//!
//! The result depends on the file's text only: strings keep their raw form (escapes, `$VAR`,
//! `$(macro)`) and `source` statements are not followed, so a parsed file can be cached by content
//! and reused whatever the environment. [`super::link`] expands and connects the files.
//!
//! The lexical rules are kconfiglib's (esp-idf-kconfig's parser version 1, which kconfgen uses): a
//! logical line may continue with a trailing `\`; a line starts with a keyword, or is a preprocessor
//! assignment (`NAME := value`); identifiers are `[A-Za-z0-9_$/.-]+`; `#` starts a comment; a help
//! text runs until the first non-blank line indented less than its first line.

use std::sync::Arc;

/// A parsed file.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub stmts: Vec<Stmt>,
    /// Syntax problems: (line, message). The statement is skipped, parsing goes on.
    pub warnings: Vec<(u32, String)>,
}

/// A quoted string or a bare word as written (escapes and `$` references not yet expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawText {
    pub raw: Arc<str>,
    /// Written without quotes (`menu Title`, `choice NAME`).
    pub bare: bool,
}

/// A leaf of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// An unquoted word: a symbol name (or `y`/`n`, or a number, which are undefined symbols whose
    /// value is their name).
    Name(Arc<str>),
    /// A quoted string: a constant.
    Quoted(Arc<str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Leaf(Leaf),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Rel(RelOp, Leaf, Leaf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKw {
    Bool,
    Tristate,
    Int,
    Hex,
    String,
    Float,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `source`: relative to the source tree root, must exist.
    Source,
    /// `rsource`: relative to the including file, must exist.
    Rsource,
    /// `osource`: relative to the source tree root, optional.
    Osource,
    /// `orsource`: relative to the including file, optional.
    Orsource,
}

impl SourceKind {
    pub fn relative(self) -> bool {
        matches!(self, SourceKind::Rsource | SourceKind::Orsource)
    }
    pub fn optional(self) -> bool {
        matches!(self, SourceKind::Osource | SourceKind::Orsource)
    }
}

/// A property line of a config, choice, menu or comment entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    Type {
        ty: TypeKw,
        prompt: Option<(RawText, Option<Expr>)>,
    },
    Prompt(RawText, Option<Expr>),
    Default(Expr, Option<Expr>),
    DependsOn(Expr),
    Select(Leaf, Option<Expr>),
    Imply(Leaf, Option<Expr>),
    Range(Leaf, Leaf, Option<Expr>),
    VisibleIf(Expr),
    OptionEnv(RawText),
    /// `option defconfig_list`, `option allnoconfig_y`: no effect on values.
    OptionOther,
    Optional,
    Help,
    Warning(RawText),
    /// `set SYM=value [if cond]`, `set default SYM=value [if cond]`.
    Set {
        weak: bool,
        target: Leaf,
        value: Leaf,
        cond: Option<Expr>,
    },
}

/// A property with the line it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropAt {
    pub line: u32,
    pub prop: Prop,
}

#[derive(Debug)]
pub enum Stmt {
    Config {
        name: Arc<str>,
        line: u32,
        props: Vec<PropAt>,
    },
    Menu {
        line: u32,
        props: Vec<PropAt>,
        body: Vec<Stmt>,
    },
    Choice {
        name: Option<Arc<str>>,
        line: u32,
        props: Vec<PropAt>,
        body: Vec<Stmt>,
    },
    If {
        cond: Expr,
        line: u32,
        body: Vec<Stmt>,
    },
    Comment,
    Source {
        kind: SourceKind,
        path: RawText,
        line: u32,
    },
    MainMenu,
    /// A preprocessor assignment or a bare macro line, kept raw.
    Assignment {
        text: Arc<str>,
        line: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Config,
    Menuconfig,
    Choice,
    Endchoice,
    Menu,
    Endmenu,
    If,
    Endif,
    Comment,
    Mainmenu,
    Source(SourceKind),
    Type(TypeKw),
    Prompt,
    Default,
    Depends,
    On,
    Select,
    Imply,
    Range,
    Visible,
    Option,
    Env,
    DefconfigList,
    AllnoconfigY,
    Optional,
    Help,
    Warning,
    Set,
}

fn keyword(word: &str) -> Option<Kw> {
    Some(match word {
        "config" => Kw::Config,
        "menuconfig" => Kw::Menuconfig,
        "choice" => Kw::Choice,
        "endchoice" => Kw::Endchoice,
        "menu" => Kw::Menu,
        "endmenu" => Kw::Endmenu,
        "if" => Kw::If,
        "endif" => Kw::Endif,
        "comment" => Kw::Comment,
        "mainmenu" => Kw::Mainmenu,
        "source" => Kw::Source(SourceKind::Source),
        "rsource" => Kw::Source(SourceKind::Rsource),
        "osource" | "gsource" => Kw::Source(SourceKind::Osource),
        "orsource" | "grsource" => Kw::Source(SourceKind::Orsource),
        "bool" | "boolean" => Kw::Type(TypeKw::Bool),
        "tristate" => Kw::Type(TypeKw::Tristate),
        "int" => Kw::Type(TypeKw::Int),
        "hex" => Kw::Type(TypeKw::Hex),
        "string" => Kw::Type(TypeKw::String),
        "float" => Kw::Type(TypeKw::Float),
        "prompt" => Kw::Prompt,
        "default" => Kw::Default,
        "depends" => Kw::Depends,
        "on" => Kw::On,
        "select" => Kw::Select,
        "imply" => Kw::Imply,
        "range" => Kw::Range,
        "visible" => Kw::Visible,
        "option" => Kw::Option,
        "env" => Kw::Env,
        "defconfig_list" => Kw::DefconfigList,
        "allnoconfig_y" => Kw::AllnoconfigY,
        "optional" => Kw::Optional,
        "help" | "---help---" => Kw::Help,
        "warning" => Kw::Warning,
        "set" => Kw::Set,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Kw(Kw),
    Word(Arc<str>),
    Str(Arc<str>),
    And,
    Or,
    Not,
    Rel(RelOp),
    LParen,
    RParen,
}

/// A logical line: its tokens and the line number where it starts.
enum LineToks {
    Blank,
    Toks(Vec<Tok>),
    /// Not starting with a keyword: a preprocessor assignment or a bare macro.
    Assignment(String),
    Error(String),
}

fn is_first_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'-'
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'/' | b'.' | b'-')
}

/// Finds the end of a `$(...)` starting at `i` (pointing at `$`), honouring nested parentheses.
fn macro_end(s: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i + 2;
    while j < s.len() {
        match s[j] {
            b'(' => depth += 1,
            b')' if depth == 0 => return Some(j + 1),
            b')' => depth -= 1,
            _ => {}
        }
        j += 1;
    }
    None
}

fn tokenize(line: &str) -> LineToks {
    let s = line.as_bytes();
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    if i == s.len() || s[i] == b'#' {
        return LineToks::Blank;
    }
    let start = i;
    while i < s.len() && is_first_word_char(s[i]) {
        i += 1;
    }
    if i == start {
        return LineToks::Error("unknown token at start of line".into());
    }
    let first = &line[start..i];
    let Some(first_kw) = keyword(first) else {
        if line.trim_matches([' ', '\t', '\n', '\r', '-']) == "help" {
            return LineToks::Toks(vec![Tok::Kw(Kw::Help)]);
        }
        return LineToks::Assignment(line.to_string());
    };
    let mut toks = vec![Tok::Kw(first_kw)];
    loop {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= s.len() {
            break;
        }
        let c = s[i];
        if is_word_char(c) {
            let st = i;
            while i < s.len() {
                if is_word_char(s[i]) {
                    // A `$(` inside a word is a macro call that is part of the name.
                    if s[i] == b'$' && s.get(i + 1) == Some(&b'(') {
                        match macro_end(s, i) {
                            Some(end) => {
                                i = end;
                                continue;
                            }
                            None => {
                                return LineToks::Error(
                                    "missing end parenthesis in macro expansion".into(),
                                );
                            }
                        }
                    }
                    i += 1;
                } else {
                    break;
                }
            }
            let word = &line[st..i];
            match keyword(word) {
                Some(k) => toks.push(Tok::Kw(k)),
                None => toks.push(Tok::Word(Arc::from(word))),
            }
            continue;
        }
        match c {
            b'"' | b'\'' => {
                let st = i + 1;
                let mut j = st;
                loop {
                    if j >= s.len() {
                        return LineToks::Error("unterminated string".into());
                    }
                    match s[j] {
                        b'\\' => j += 2,
                        b'$' if s.get(j + 1) == Some(&b'(') => match macro_end(s, j) {
                            Some(end) => j = end,
                            None => {
                                return LineToks::Error(
                                    "missing end parenthesis in macro expansion".into(),
                                );
                            }
                        },
                        q if q == c => break,
                        _ => j += 1,
                    }
                }
                if j > s.len() {
                    return LineToks::Error("unterminated string".into());
                }
                toks.push(Tok::Str(Arc::from(&line[st..j])));
                i = j + 1;
            }
            b'&' if s.get(i + 1) == Some(&b'&') => {
                toks.push(Tok::And);
                i += 2;
            }
            b'|' if s.get(i + 1) == Some(&b'|') => {
                toks.push(Tok::Or);
                i += 2;
            }
            b'=' => {
                toks.push(Tok::Rel(RelOp::Eq));
                i += 1;
            }
            b'!' if s.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Rel(RelOp::Ne));
                i += 2;
            }
            b'!' => {
                toks.push(Tok::Not);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b'#' => break,
            b'<' if s.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Rel(RelOp::Le));
                i += 2;
            }
            b'<' => {
                toks.push(Tok::Rel(RelOp::Lt));
                i += 1;
            }
            b'>' if s.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Rel(RelOp::Ge));
                i += 2;
            }
            b'>' => {
                toks.push(Tok::Rel(RelOp::Gt));
                i += 1;
            }
            _ => return LineToks::Error("unknown tokens in line".into()),
        }
    }
    LineToks::Toks(toks)
}

/// Physical lines joined into logical ones.
struct Lines<'a> {
    raw: Vec<&'a str>,
    /// Index of the next physical line.
    pos: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            raw: text.split('\n').collect(),
            pos: 0,
        }
    }

    /// The next physical line (without its newline) and its 1-based number.
    fn next_physical(&mut self) -> Option<(u32, &'a str)> {
        // `split` yields a final empty piece after a trailing newline: that is not a line.
        if self.pos >= self.raw.len()
            || (self.pos == self.raw.len() - 1 && self.raw[self.pos].is_empty())
        {
            return None;
        }
        let l = self.raw[self.pos];
        self.pos += 1;
        Some((self.pos as u32, l.strip_suffix('\r').unwrap_or(l)))
    }

    /// The next logical line: physical lines ending in `\` are joined to the next one.
    fn next_logical(&mut self) -> Option<(u32, String)> {
        let (no, first) = self.next_physical()?;
        if !first.ends_with('\\') {
            return Some((no, first.to_string()));
        }
        let mut joined = first[..first.len() - 1].to_string();
        // A backslash on the last line of the file joins with nothing.
        while let Some((_, next)) = self.next_physical() {
            if let Some(stripped) = next.strip_suffix('\\') {
                joined.push_str(stripped);
            } else {
                joined.push_str(next);
                break;
            }
        }
        Some((no, joined))
    }
}

/// Expanded tab width, as Python's `str.expandtabs()`.
fn indent_width(line: &str) -> usize {
    let mut col = 0;
    for c in line.chars() {
        match c {
            ' ' => col += 1,
            '\t' => col = (col / 8 + 1) * 8,
            _ => break,
        }
    }
    col
}

struct Parser<'a> {
    lines: Lines<'a>,
    /// A logical line read ahead and given back.
    pending: Option<(u32, LineToks)>,
    warnings: Vec<(u32, String)>,
}

/// What ends the block being parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    File,
    Endif,
    Endmenu,
    Endchoice,
}

impl End {
    fn name(self) -> &'static str {
        match self {
            End::File => "end of file",
            End::Endif => "endif",
            End::Endmenu => "endmenu",
            End::Endchoice => "endchoice",
        }
    }
}

pub fn parse(text: &str) -> ParsedFile {
    let mut p = Parser {
        lines: Lines::new(text),
        pending: None,
        warnings: Vec::new(),
    };
    let stmts = p.block(End::File, 0);
    ParsedFile {
        stmts,
        warnings: p.warnings,
    }
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Option<(u32, LineToks)> {
        if let Some(p) = self.pending.take() {
            return Some(p);
        }
        let (no, line) = self.lines.next_logical()?;
        Some((no, tokenize(&line)))
    }

    fn unget(&mut self, line: u32, toks: LineToks) {
        self.pending = Some((line, toks));
    }

    fn warn(&mut self, line: u32, msg: impl Into<String>) {
        self.warnings.push((line, msg.into()));
    }

    /// Parses statements until `end` (or the end of the file, which is an error for anything but
    /// `End::File`).
    fn block(&mut self, end: End, opened_at: u32) -> Vec<Stmt> {
        let mut out = Vec::new();
        while let Some((line, toks)) = self.next() {
            let toks = match toks {
                LineToks::Blank => continue,
                LineToks::Error(e) => {
                    self.warn(line, e);
                    continue;
                }
                LineToks::Assignment(text) => {
                    out.push(Stmt::Assignment {
                        text: Arc::from(text),
                        line,
                    });
                    continue;
                }
                LineToks::Toks(t) => t,
            };
            let Tok::Kw(kw) = toks[0] else {
                unreachable!("tokenize starts every line with a keyword")
            };
            let mut cur = Cursor { toks: &toks, i: 1 };
            match kw {
                Kw::Config | Kw::Menuconfig => {
                    let name = match cur.next() {
                        Some(Tok::Word(w)) if cur.at_end() => w.clone(),
                        _ => {
                            self.warn(line, "missing or bad symbol name after `config`");
                            // Still consume its properties so that they are not taken as statements.
                            let _ = self.props(line);
                            continue;
                        }
                    };
                    let props = self.props(line);
                    out.push(Stmt::Config { name, line, props });
                }
                Kw::Source(kind) => match cur.text() {
                    Some(path) if cur.at_end() => out.push(Stmt::Source { kind, path, line }),
                    _ => self.warn(line, "expected a file name in quotes"),
                },
                Kw::If => match parse_expr_all(&mut cur) {
                    Ok(cond) => {
                        let body = self.block(End::Endif, line);
                        out.push(Stmt::If { cond, line, body });
                    }
                    Err(e) => {
                        self.warn(line, e);
                        // Keep the block structure: the matching endif still closes it.
                        let body = self.block(End::Endif, line);
                        out.push(Stmt::If {
                            cond: Expr::Leaf(Leaf::Name(Arc::from("n"))),
                            line,
                            body,
                        });
                    }
                },
                Kw::Menu => {
                    if cur.text().is_none() {
                        self.warn(line, "expected a menu title");
                    }
                    let props = self.props(line);
                    let body = self.block(End::Endmenu, line);
                    out.push(Stmt::Menu { line, props, body });
                }
                Kw::Choice => {
                    let name = match cur.next() {
                        None => None,
                        Some(Tok::Word(w)) | Some(Tok::Str(w)) => Some(w.clone()),
                        Some(_) => {
                            self.warn(line, "bad choice name");
                            None
                        }
                    };
                    let props = self.props(line);
                    let body = self.block(End::Endchoice, line);
                    out.push(Stmt::Choice {
                        name,
                        line,
                        props,
                        body,
                    });
                }
                Kw::Comment => {
                    if cur.text().is_none() {
                        self.warn(line, "expected comment text");
                    }
                    // A comment's properties (`depends on`) only decide whether it is shown.
                    let _ = self.props(line);
                    out.push(Stmt::Comment);
                }
                Kw::Mainmenu => out.push(Stmt::MainMenu),
                Kw::Endif | Kw::Endmenu | Kw::Endchoice => {
                    let this = match kw {
                        Kw::Endif => End::Endif,
                        Kw::Endmenu => End::Endmenu,
                        _ => End::Endchoice,
                    };
                    if this == end {
                        if !cur.at_end() {
                            self.warn(line, format!("extra tokens after `{}`", end.name()));
                        }
                        return out;
                    }
                    let what = match this {
                        End::Endif => "if",
                        End::Endmenu => "menu",
                        _ => "choice",
                    };
                    self.warn(
                        line,
                        format!(
                            "`{}` without a corresponding '{what}'; ignored",
                            this.name()
                        ),
                    );
                }
                _ => self.warn(
                    line,
                    "unrecognized construct (a property outside a config, menu or choice entry)",
                ),
            }
        }
        if end != End::File {
            self.warn(
                opened_at,
                format!(
                    "expected `{}` before the end of the file; the block ends there",
                    end.name()
                ),
            );
        }
        out
    }

    /// Parses the property lines that follow an entry header, until a line that is not a property.
    fn props(&mut self, entry_line: u32) -> Vec<PropAt> {
        let mut out = Vec::new();
        while let Some((line, toks)) = self.next() {
            let toks = match toks {
                LineToks::Blank => continue,
                LineToks::Toks(t) => t,
                other => {
                    self.unget(line, other);
                    break;
                }
            };
            let Tok::Kw(kw) = toks[0] else {
                unreachable!("tokenize starts every line with a keyword")
            };
            let mut cur = Cursor { toks: &toks, i: 1 };
            let prop = match kw {
                Kw::Type(ty) => {
                    if cur.at_end() {
                        Ok(Prop::Type { ty, prompt: None })
                    } else {
                        match prompt(&mut cur) {
                            Ok(p) => Ok(Prop::Type {
                                ty,
                                prompt: Some(p),
                            }),
                            Err(e) => Err(e),
                        }
                    }
                }
                Kw::Prompt => prompt(&mut cur).map(|(t, c)| Prop::Prompt(t, c)),
                Kw::Default => {
                    parse_expr(&mut cur).and_then(|e| cond(&mut cur).map(|c| Prop::Default(e, c)))
                }
                Kw::Depends => {
                    if cur.next() != Some(&Tok::Kw(Kw::On)) {
                        Err("expected 'on' after 'depends'".to_string())
                    } else {
                        parse_expr_all(&mut cur).map(Prop::DependsOn)
                    }
                }
                Kw::Select | Kw::Imply => match cur.leaf() {
                    Some(Leaf::Name(n)) => cond(&mut cur).map(|c| {
                        if kw == Kw::Select {
                            Prop::Select(Leaf::Name(n), c)
                        } else {
                            Prop::Imply(Leaf::Name(n), c)
                        }
                    }),
                    _ => Err("expected a symbol name".to_string()),
                },
                Kw::Range => match (cur.leaf(), cur.leaf()) {
                    (Some(lo), Some(hi)) => cond(&mut cur).map(|c| Prop::Range(lo, hi, c)),
                    _ => Err("expected two range limits".to_string()),
                },
                Kw::Visible => {
                    if cur.next() != Some(&Tok::Kw(Kw::If)) {
                        Err("expected 'if' after 'visible'".to_string())
                    } else {
                        parse_expr_all(&mut cur).map(Prop::VisibleIf)
                    }
                }
                Kw::Option => match cur.next() {
                    Some(Tok::Kw(Kw::Env)) => {
                        if cur.next() != Some(&Tok::Rel(RelOp::Eq)) {
                            Err("expected '=' after 'env'".to_string())
                        } else {
                            match cur.text() {
                                Some(t) => Ok(Prop::OptionEnv(t)),
                                None => Err("expected an environment variable name".to_string()),
                            }
                        }
                    }
                    Some(Tok::Kw(Kw::DefconfigList)) | Some(Tok::Kw(Kw::AllnoconfigY)) => {
                        Ok(Prop::OptionOther)
                    }
                    _ => Err("unrecognized option".to_string()),
                },
                Kw::Optional => Ok(Prop::Optional),
                Kw::Warning => match cur.text() {
                    Some(t) => Ok(Prop::Warning(t)),
                    None => Err("expected warning message".to_string()),
                },
                Kw::Set => {
                    let weak = cur.peek() == Some(&Tok::Kw(Kw::Default));
                    if weak {
                        cur.i += 1;
                    }
                    match (cur.leaf(), cur.next(), cur.leaf()) {
                        (Some(target), Some(Tok::Rel(RelOp::Eq)), Some(value)) => cond(&mut cur)
                            .map(|c| Prop::Set {
                                weak,
                                target,
                                value,
                                cond: c,
                            }),
                        _ => Err(
                            "'set' syntax is 'set [default] <config>=<value> [if <condition>]'"
                                .to_string(),
                        ),
                    }
                }
                Kw::Help => {
                    self.skip_help();
                    Ok(Prop::Help)
                }
                _ => {
                    // Not a property: the next entry starts here.
                    self.unget(line, LineToks::Toks(toks));
                    break;
                }
            };
            match prop {
                Ok(prop) => out.push(PropAt { line, prop }),
                Err(e) => self.warn(line, format!("{e} (in the entry at line {entry_line})")),
            }
        }
        out
    }

    /// Skips a help text: blank lines, then every line indented at least as much as the first
    /// non-blank one. The first less indented line is given back.
    fn skip_help(&mut self) {
        // The help keyword's own line was a whole logical line; the text is read physically.
        let first_indent = loop {
            let Some((no, line)) = self.lines.next_physical() else {
                return;
            };
            if line.trim().is_empty() {
                continue;
            }
            let indent = indent_width(line);
            if indent == 0 {
                self.give_back_physical(no, line);
                return;
            }
            break indent;
        };
        while let Some((no, line)) = self.lines.next_physical() {
            if line.trim().is_empty() {
                continue;
            }
            if indent_width(line) < first_indent {
                self.give_back_physical(no, line);
                return;
            }
        }
    }

    /// Gives back a physical line read past a help text, joining continuations as a logical line.
    fn give_back_physical(&mut self, no: u32, line: &str) {
        let mut joined = line.to_string();
        if let Some(stripped) = line.strip_suffix('\\') {
            joined = stripped.to_string();
            while let Some((_, next)) = self.lines.next_physical() {
                if let Some(s) = next.strip_suffix('\\') {
                    joined.push_str(s);
                } else {
                    joined.push_str(next);
                    break;
                }
            }
        }
        self.pending = Some((no, tokenize(&joined)));
    }
}

struct Cursor<'t> {
    toks: &'t [Tok],
    i: usize,
}

impl<'t> Cursor<'t> {
    fn peek(&self) -> Option<&'t Tok> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<&'t Tok> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }
    /// A string where one is expected: quoted, or a bare word (kconfiglib accepts missing quotes).
    fn text(&mut self) -> Option<RawText> {
        match self.peek()? {
            Tok::Str(s) => {
                self.i += 1;
                Some(RawText {
                    raw: s.clone(),
                    bare: false,
                })
            }
            Tok::Word(w) => {
                self.i += 1;
                Some(RawText {
                    raw: w.clone(),
                    bare: true,
                })
            }
            _ => None,
        }
    }
    fn leaf(&mut self) -> Option<Leaf> {
        match self.peek()? {
            Tok::Word(w) => {
                self.i += 1;
                Some(Leaf::Name(w.clone()))
            }
            Tok::Str(s) => {
                self.i += 1;
                Some(Leaf::Quoted(s.clone()))
            }
            _ => None,
        }
    }
}

fn prompt(cur: &mut Cursor<'_>) -> Result<(RawText, Option<Expr>), String> {
    let text = cur.text().ok_or("expected prompt string")?;
    Ok((text, cond(cur)?))
}

/// An optional `if <expr>` that must end the line.
fn cond(cur: &mut Cursor<'_>) -> Result<Option<Expr>, String> {
    match cur.next() {
        None => Ok(None),
        Some(Tok::Kw(Kw::If)) => parse_expr_all(cur).map(Some),
        Some(_) => Err("extra tokens at the end of the line".to_string()),
    }
}

/// An expression that must end the line.
fn parse_expr_all(cur: &mut Cursor<'_>) -> Result<Expr, String> {
    let e = parse_expr(cur)?;
    if !cur.at_end() {
        return Err("extra tokens after the expression".to_string());
    }
    Ok(e)
}

/// `expr: and_expr ['||' expr]`.
fn parse_expr(cur: &mut Cursor<'_>) -> Result<Expr, String> {
    let left = parse_and(cur)?;
    if cur.peek() == Some(&Tok::Or) {
        cur.i += 1;
        let right = parse_expr(cur)?;
        return Ok(Expr::Or(Box::new(left), Box::new(right)));
    }
    Ok(left)
}

fn parse_and(cur: &mut Cursor<'_>) -> Result<Expr, String> {
    let left = parse_factor(cur)?;
    if cur.peek() == Some(&Tok::And) {
        cur.i += 1;
        let right = parse_and(cur)?;
        return Ok(Expr::And(Box::new(left), Box::new(right)));
    }
    Ok(left)
}

fn parse_factor(cur: &mut Cursor<'_>) -> Result<Expr, String> {
    match cur.peek() {
        Some(Tok::Word(_)) | Some(Tok::Str(_)) => {
            let leaf = cur.leaf().expect("peeked a leaf");
            if let Some(Tok::Rel(op)) = cur.peek() {
                cur.i += 1;
                let right = cur.leaf().ok_or("expected a symbol after a comparison")?;
                return Ok(Expr::Rel(*op, leaf, right));
            }
            Ok(Expr::Leaf(leaf))
        }
        Some(Tok::Not) => {
            cur.i += 1;
            Ok(Expr::Not(Box::new(parse_factor(cur)?)))
        }
        Some(Tok::LParen) => {
            cur.i += 1;
            let e = parse_expr(cur)?;
            if cur.next() != Some(&Tok::RParen) {
                return Err("malformed expression: missing ')'".to_string());
            }
            Ok(e)
        }
        _ => Err("malformed expression".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Expr {
        Expr::Leaf(Leaf::Name(Arc::from(s)))
    }

    #[test]
    fn entries_props_and_help() {
        let text = "\
mainmenu \"Test\"
# a comment
config A
    bool \"Enable A\" if B
    default y if !C && (D || E = \"x\")
    depends on B
    select F if G
    help
        Some help.

          Indented more.
    Still help? no: less indented than the first help line.
config H
\tint
\trange 0 10
\tdefault 5
menuconfig M
    bool \"m\"
";
        let f = parse(text);
        assert_eq!(f.stmts.len(), 5, "{:?}", f.stmts);
        let Stmt::Config {
            name: n,
            props,
            line,
            ..
        } = &f.stmts[1]
        else {
            panic!()
        };
        assert_eq!((&**n, *line), ("A", 3));
        assert_eq!(props.len(), 5);
        assert_eq!(
            props[1].prop,
            Prop::Default(
                name("y"),
                Some(Expr::And(
                    Box::new(Expr::Not(Box::new(name("C")))),
                    Box::new(Expr::Or(
                        Box::new(name("D")),
                        Box::new(Expr::Rel(
                            RelOp::Eq,
                            Leaf::Name(Arc::from("E")),
                            Leaf::Quoted(Arc::from("x"))
                        ))
                    ))
                ))
            )
        );
        assert_eq!(props[1].line, 5);
        // The line after the help text is not a property, so the entry has warnings for nothing and
        // "Still help?" becomes an (invalid) preprocessor line.
        assert!(
            matches!(f.stmts[2], Stmt::Assignment { line: 12, .. }),
            "{:?}",
            f.stmts[2]
        );
        assert!(matches!(&f.stmts[3], Stmt::Config { name, .. } if &**name == "H"));
        assert!(matches!(&f.stmts[4], Stmt::Config { name, .. } if &**name == "M"));
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn blocks_nest_and_unbalanced_blocks_warn() {
        let text = "\
menu \"Outer\"
    depends on X
    visible if Y
if Z
choice CH
    prompt \"pick\"
    default B
config A
    bool \"a\"
config B
    bool \"b\"
endchoice
endif
endmenu
endif
menu \"open\"
";
        let f = parse(text);
        let Stmt::Menu { body, props, .. } = &f.stmts[0] else {
            panic!()
        };
        assert_eq!(props.len(), 2);
        let Stmt::If { body: if_body, .. } = &body[0] else {
            panic!()
        };
        let Stmt::Choice { name, body: ch, .. } = &if_body[0] else {
            panic!()
        };
        assert_eq!(name.as_deref(), Some("CH"));
        assert_eq!(ch.len(), 2);
        let lines: Vec<u32> = f.warnings.iter().map(|w| w.0).collect();
        assert_eq!(lines, [15, 16], "{:?}", f.warnings);
    }

    #[test]
    fn strings_macros_and_continuations() {
        let text = "\
source \"$IDF_PATH/components/x/Kconfig\"
orsource \"./$(TARGET)/Kconfig.in\"
config S
    string \"a \\\"quoted\\\" prompt\"
    default \"v\" if A && \\
        B
config $(PREFIX)_NAME
    bool
";
        let f = parse(text);
        let Stmt::Source { kind, path, .. } = &f.stmts[0] else {
            panic!()
        };
        assert_eq!(
            (*kind, &*path.raw),
            (SourceKind::Source, "$IDF_PATH/components/x/Kconfig")
        );
        let Stmt::Source { path, .. } = &f.stmts[1] else {
            panic!()
        };
        assert_eq!(&*path.raw, "./$(TARGET)/Kconfig.in");
        let Stmt::Config { props, .. } = &f.stmts[2] else {
            panic!()
        };
        let Prop::Type {
            prompt: Some((t, None)),
            ..
        } = &props[0].prop
        else {
            panic!()
        };
        assert_eq!(&*t.raw, "a \\\"quoted\\\" prompt");
        assert!(matches!(
            &props[1].prop,
            Prop::Default(_, Some(Expr::And(..)))
        ));
        let Stmt::Config { name, line, .. } = &f.stmts[3] else {
            panic!()
        };
        assert_eq!((&**name, *line), ("$(PREFIX)_NAME", 7));
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }

    #[test]
    fn bad_lines_are_warnings_not_panics() {
        let text = "\
config
config OK
    bool \"x\"
    default
    depends X
    range 1
    select
    option bogus
\"stray string\"
endmenu
config T
    tristate \"t\"
    default y if (A
";
        let f = parse(text);
        assert!(f.warnings.len() >= 8, "{:?}", f.warnings);
        assert!(
            f.stmts
                .iter()
                .any(|s| matches!(s, Stmt::Config { name, .. } if &**name == "OK"))
        );
        assert!(
            f.stmts
                .iter()
                .any(|s| matches!(s, Stmt::Config { name, .. } if &**name == "T"))
        );
    }

    #[test]
    fn help_at_end_of_file_and_empty_help() {
        let f = parse("config A\n    bool\n    help\nconfig B\n    bool\n    help\n");
        assert_eq!(f.stmts.len(), 2);
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    }
}
