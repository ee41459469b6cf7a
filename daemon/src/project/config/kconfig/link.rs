//! Parsed files to one tree of symbols and choices: `source` statements followed, strings and names
//! expanded in the environment, and dependencies propagated as kconfiglib's `_finalize_node` does.
//!
//! For each entry, its dependencies are its own `depends on` ANDed with those of the enclosing
//! entries (a `menu`'s `depends on`, an `if` condition, or, inside a `choice`, the choice's mode).
//! They are folded into the entry's prompt condition (together with the `visible if` of enclosing
//! menus), its defaults, ranges, selects, implies and sets. A symbol's direct dependencies are the OR
//! of its definitions'.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::parse::{self, Expr, Leaf, Prop, PropAt, SourceKind, Stmt, TypeKw};
use super::{
    Choice, ChoiceId, E, EXPR_N, EXPR_Y, ExprId, KconfigCache, KconfigEnv, Loc, Sym, SymId,
    SymNode, TreeData,
};
use crate::project::config::{ConfigWarning, SymbolType, pyfmt};

/// A top-level input.
pub enum Top {
    File(PathBuf),
    /// Text with the name to use for it.
    Text(PathBuf, String),
}

/// Bool defaults that esp-idf-kconfig treats as `n` (only `y` and `n` are valid bool literals).
const INVALID_BOOL_LITERALS: &[&str] = &[
    "true", "True", "false", "False", "yes", "Yes", "no", "No", "1", "0",
];

/// How deep `source` may nest before we assume a loop through generated names.
const MAX_SOURCE_DEPTH: usize = 64;

#[derive(Clone, Copy)]
struct Ctx {
    dep: ExprId,
    visible_if: ExprId,
    choice: Option<ChoiceId>,
}

struct PreVar {
    value: String,
    recursive: bool,
}

struct Linker<'a> {
    env: &'a KconfigEnv,
    cache: &'a KconfigCache,
    data: TreeData,
    file_index: HashMap<Arc<Path>, u32>,
    const_index: HashMap<Arc<str>, ExprId>,
    named_choices: HashMap<Arc<str>, ChoiceId>,
    variables: HashMap<String, PreVar>,
    /// Files being read, outermost first, to refuse recursive `source`.
    stack: Vec<Arc<Path>>,
    srctree: PathBuf,
    /// Current file and line, for `$(filename)`, `$(lineno)` and warnings.
    here: (u32, u32),
    warned_tristate: bool,
}

/// The files a `source` of `full` (a path or a pattern) reads, in order.
pub(crate) fn resolve_source(full: &Path, is_file: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    if is_file(full) {
        vec![full.to_path_buf()]
    } else {
        super::glob::glob(full)
            .into_iter()
            .filter(|p| is_file(p))
            .collect()
    }
}

pub fn link(tops: &[Top], env: &KconfigEnv, cache: &KconfigCache) -> TreeData {
    let srctree = env.srctree.clone().unwrap_or_else(|| match tops.first() {
        Some(Top::File(p)) | Some(Top::Text(p, _)) => {
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        }
        None => PathBuf::new(),
    });
    let mut l = Linker {
        env,
        cache,
        data: TreeData::default(),
        file_index: HashMap::new(),
        const_index: HashMap::new(),
        named_choices: HashMap::new(),
        variables: HashMap::new(),
        stack: Vec::new(),
        srctree,
        here: (0, 0),
        warned_tristate: false,
    };
    l.data.exprs.push(E::Y);
    l.data.exprs.push(E::N);
    let ctx = Ctx {
        dep: EXPR_Y,
        visible_if: EXPR_Y,
        choice: None,
    };
    for top in tops {
        match top {
            Top::File(path) => l.source_file(path, ctx),
            Top::Text(name, text) => {
                let parsed = parse::parse(text);
                l.walk_file(name, &parsed, ctx);
            }
        }
    }
    l.finish();
    l.data
}

impl<'a> Linker<'a> {
    fn warn(&mut self, loc: Loc, msg: impl Into<String>) {
        let file = self
            .data
            .files
            .get(loc.file as usize)
            .map(|f| f.to_path_buf())
            .unwrap_or_default();
        self.data
            .warnings
            .push(ConfigWarning::new(file, loc.line, msg));
    }

    fn file_id(&mut self, path: &Path) -> u32 {
        if let Some(&id) = self.file_index.get(path) {
            return id;
        }
        let arc: Arc<Path> = Arc::from(path);
        let id = self.data.files.len() as u32;
        self.data.files.push(arc.clone());
        self.file_index.insert(arc, id);
        id
    }

    fn source_file(&mut self, path: &Path, ctx: Ctx) {
        match self.cache.parse_file_stamped(path) {
            Ok((parsed, stamp)) => {
                self.data.inputs.files.push(stamp);
                self.walk_file(path, &parsed, ctx)
            }
            Err(e) => {
                self.data.inputs.unreadable.push(path.to_path_buf());
                let loc = Loc {
                    file: self.here.0,
                    line: self.here.1,
                };
                if self.data.files.is_empty() {
                    self.data.warnings.push(ConfigWarning::new(
                        path,
                        0,
                        format!("cannot read Kconfig file: {e}"),
                    ));
                } else {
                    self.warn(loc, format!("cannot read {}: {e}", path.display()));
                }
            }
        }
    }

    fn walk_file(&mut self, path: &Path, parsed: &parse::ParsedFile, ctx: Ctx) {
        let id = self.file_id(path);
        for (line, msg) in &parsed.warnings {
            self.warn(
                Loc {
                    file: id,
                    line: *line,
                },
                msg.clone(),
            );
        }
        let saved = self.here;
        self.stack.push(self.data.files[id as usize].clone());
        self.walk(&parsed.stmts, id, ctx);
        self.stack.pop();
        self.here = saved;
    }

    // ---- expressions ----

    fn push(&mut self, e: E) -> ExprId {
        self.data.exprs.push(e);
        (self.data.exprs.len() - 1) as ExprId
    }

    fn and(&mut self, a: ExprId, b: ExprId) -> ExprId {
        if a == EXPR_Y {
            return b;
        }
        if b == EXPR_Y {
            return a;
        }
        if a == EXPR_N || b == EXPR_N {
            return EXPR_N;
        }
        self.push(E::And(a, b))
    }

    fn or(&mut self, a: ExprId, b: ExprId) -> ExprId {
        if a == EXPR_N {
            return b;
        }
        if b == EXPR_N {
            return a;
        }
        if a == EXPR_Y || b == EXPR_Y {
            return EXPR_Y;
        }
        self.push(E::Or(a, b))
    }

    fn constant(&mut self, text: &str) -> ExprId {
        match text {
            "y" => EXPR_Y,
            "n" => EXPR_N,
            _ => {
                if let Some(&id) = self.const_index.get(text) {
                    return id;
                }
                let arc: Arc<str> = Arc::from(text);
                let id = self.push(E::Const(arc.clone()));
                self.const_index.insert(arc, id);
                id
            }
        }
    }

    fn intern(&mut self, name: &str) -> SymId {
        if let Some(&id) = self.data.sym_index.get(name) {
            return id;
        }
        let arc: Arc<str> = Arc::from(name);
        let id = self.data.syms.len() as SymId;
        self.data.syms.push(Sym {
            name: arc.clone(),
            direct_dep: EXPR_N,
            ..Default::default()
        });
        self.data.sym_index.insert(arc, id);
        id
    }

    fn sym_expr(&mut self, id: SymId) -> ExprId {
        self.push(E::Sym(id))
    }

    /// A symbol name as written, macros expanded.
    fn name(&mut self, raw: &str) -> String {
        if raw.contains("$(") {
            self.expand_macros(raw)
        } else {
            raw.to_string()
        }
    }

    fn leaf(&mut self, leaf: &Leaf) -> ExprId {
        match leaf {
            Leaf::Name(raw) => {
                let name = self.name(raw);
                match name.as_str() {
                    "y" => EXPR_Y,
                    "n" => EXPR_N,
                    _ => {
                        let id = self.intern(&name);
                        self.sym_expr(id)
                    }
                }
            }
            Leaf::Quoted(raw) => {
                let text = self.string(raw);
                self.constant(&text)
            }
        }
    }

    fn expr(&mut self, e: &Expr) -> ExprId {
        match e {
            Expr::Leaf(l) => self.leaf(l),
            Expr::Not(a) => {
                let a = self.expr(a);
                match a {
                    EXPR_Y => EXPR_N,
                    EXPR_N => EXPR_Y,
                    _ => self.push(E::Not(a)),
                }
            }
            Expr::And(a, b) => {
                let a = self.expr(a);
                let b = self.expr(b);
                self.and(a, b)
            }
            Expr::Or(a, b) => {
                let a = self.expr(a);
                let b = self.expr(b);
                self.or(a, b)
            }
            Expr::Rel(op, a, b) => {
                let a = self.leaf(a);
                let b = self.leaf(b);
                self.push(E::Rel(*op, a, b))
            }
        }
    }

    fn cond(&mut self, c: &Option<Expr>) -> ExprId {
        match c {
            Some(e) => self.expr(e),
            None => EXPR_Y,
        }
    }

    // ---- strings and the preprocessor ----

    fn lookup_env(&self, name: &str) -> Option<String> {
        self.env.vars.get(name).cloned()
    }

    /// A quoted string: backslash escapes and `$(macro)` calls resolved, then `$VAR`/`${VAR}` from the
    /// environment (unknown ones stay as written, as Python's `os.path.expandvars` leaves them).
    fn string(&mut self, raw: &str) -> String {
        if !raw.contains(['\\', '$']) {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        let bytes = raw.as_bytes();
        let mut i = 0;
        let mut lit_start = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    out.push_str(&raw[lit_start..i]);
                    let next = raw[i + 1..].chars().next();
                    if let Some(c) = next {
                        out.push(c);
                        i += 1 + c.len_utf8();
                    } else {
                        i += 1;
                    }
                    lit_start = i;
                }
                b'$' if bytes.get(i + 1) == Some(&b'(') => {
                    out.push_str(&raw[lit_start..i]);
                    let (value, end) = self.macro_call(raw, i, &[]);
                    out.push_str(&value);
                    i = end;
                    lit_start = i;
                }
                _ => i += 1,
            }
        }
        out.push_str(&raw[lit_start..]);
        let env = self.env;
        pyfmt::expandvars(&out, &|n| env.vars.get(n).cloned())
    }

    /// Expands every `$(...)` in `s`.
    fn expand_macros(&mut self, s: &str) -> String {
        self.expand_macros_args(s, &[])
    }

    fn expand_macros_args(&mut self, s: &str, args: &[String]) -> String {
        let mut out = String::new();
        let mut i = 0;
        while let Some(pos) = s[i..].find("$(") {
            out.push_str(&s[i..i + pos]);
            let (value, end) = self.macro_call(s, i + pos, args);
            out.push_str(&value);
            i = end;
        }
        out.push_str(&s[i..]);
        out
    }

    /// Expands the macro call at `s[start..]` (which starts with `$(`): its value and the index just
    /// past its closing parenthesis.
    fn macro_call(&mut self, s: &str, start: usize, args: &[String]) -> (String, usize) {
        let bytes = s.as_bytes();
        let mut i = start + 2;
        let mut depth = 0usize;
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        while i < bytes.len() {
            match bytes[i] {
                b'$' if bytes.get(i + 1) == Some(&b'(') => {
                    let (v, end) = self.macro_call(s, i, args);
                    cur.push_str(&v);
                    i = end;
                    continue;
                }
                b'(' => {
                    depth += 1;
                    cur.push('(');
                }
                b')' if depth > 0 => {
                    depth -= 1;
                    cur.push(')');
                }
                b')' => {
                    parts.push(cur);
                    let value = match parts[0].parse::<usize>().ok().and_then(|n| args.get(n)) {
                        Some(arg) => arg.clone(),
                        None => self.function(&parts),
                    };
                    return (value, i + 1);
                }
                b',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
                _ => {
                    let c = s[i..].chars().next().expect("in bounds");
                    cur.push(c);
                    i += c.len_utf8();
                    continue;
                }
            }
            i += 1;
        }
        let loc = Loc {
            file: self.here.0,
            line: self.here.1,
        };
        self.warn(loc, "missing end parenthesis in macro expansion");
        (String::new(), bytes.len())
    }

    /// A preprocessor variable, built-in function, or environment variable.
    fn function(&mut self, parts: &[String]) -> String {
        let name = parts[0].as_str();
        let loc = Loc {
            file: self.here.0,
            line: self.here.1,
        };
        if let Some(var) = self.variables.get(name) {
            let (value, recursive) = (var.value.clone(), var.recursive);
            if !recursive {
                return value;
            }
            let args: Vec<String> = parts.to_vec();
            // Bound self-reference: a recursive variable that names itself expands to nothing.
            let saved = self.variables.remove(name);
            let out = self.expand_macros_args(&value, &args);
            if let Some(v) = saved {
                self.variables.insert(name.to_string(), v);
            }
            return out;
        }
        match name {
            "filename" => {
                return self
                    .data
                    .files
                    .get(loc.file as usize)
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
            }
            "lineno" => return loc.line.to_string(),
            "info" => return String::new(),
            "warning-if" | "error-if" => {
                if parts.get(1).map(String::as_str) == Some("y") {
                    let msg = parts.get(2).cloned().unwrap_or_default();
                    self.warn(loc, format!("{name}: {msg}"));
                }
                return String::new();
            }
            "shell" => {
                self.warn(
                    loc,
                    "$(shell,...) is not run when reading Kconfig; it expands to nothing here",
                );
                return String::new();
            }
            _ => {}
        }
        self.lookup_env(name).unwrap_or_default()
    }

    /// `NAME = value`, `NAME := value`, `NAME += value`, or a bare macro line (expanded for its side
    /// effects). Macros in the name are expanded first; the value is kept raw for `=`.
    fn assignment(&mut self, text: &str, loc: Loc) {
        let mut s = text.trim_start().to_string();
        let mut i = 0;
        loop {
            i += s[i..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
                .count();
            if s[i..].starts_with("$(") {
                let (value, end) = self.macro_call(&s, i, &[]);
                s = format!("{}{}{}", &s[..i], value, &s[end..]);
                i += value.len();
            } else {
                break;
            }
        }
        if s.trim().is_empty() {
            return;
        }
        let name = s[..i].to_string();
        self.assign(&name, &s[i..], loc);
    }

    fn assign(&mut self, name: &str, rest: &str, loc: Loc) {
        let rest = rest.trim_start();
        let (op, value) = if let Some(v) = rest.strip_prefix(":=") {
            (":=", v)
        } else if let Some(v) = rest.strip_prefix("+=") {
            ("+=", v)
        } else if let Some(v) = rest.strip_prefix('=') {
            ("=", v)
        } else {
            self.warn(
                loc,
                format!(
                    "syntax error: `{}` is neither a Kconfig keyword nor a variable assignment",
                    name
                ),
            );
            return;
        };
        if name.is_empty() {
            self.warn(loc, "syntax error: assignment without a variable name");
            return;
        }
        let value = value.trim_start().to_string();
        match op {
            "=" => {
                self.variables.insert(
                    name.to_string(),
                    PreVar {
                        value,
                        recursive: true,
                    },
                );
            }
            ":=" => {
                let v = self.expand_macros(&value);
                self.variables.insert(
                    name.to_string(),
                    PreVar {
                        value: v,
                        recursive: false,
                    },
                );
            }
            _ => {
                let add = match self.variables.get(name) {
                    Some(v) if !v.recursive => self.expand_macros(&value),
                    _ => value,
                };
                match self.variables.get_mut(name) {
                    Some(v) => {
                        v.value.push(' ');
                        v.value.push_str(&add);
                    }
                    None => {
                        self.variables.insert(
                            name.to_string(),
                            PreVar {
                                value: add,
                                recursive: true,
                            },
                        );
                    }
                }
            }
        }
    }

    // ---- statements ----

    fn walk(&mut self, stmts: &[Stmt], file: u32, ctx: Ctx) {
        for stmt in stmts {
            match stmt {
                Stmt::Config {
                    name, line, props, ..
                } => {
                    self.here = (file, *line);
                    self.config(name, Loc { file, line: *line }, props, ctx);
                }
                Stmt::Menu {
                    line, props, body, ..
                } => {
                    self.here = (file, *line);
                    let mut dep = EXPR_Y;
                    let mut vis = EXPR_Y;
                    for p in props {
                        self.here = (file, p.line);
                        match &p.prop {
                            Prop::DependsOn(e) => {
                                let e = self.expr(e);
                                dep = self.and(dep, e);
                            }
                            Prop::VisibleIf(e) => {
                                let e = self.expr(e);
                                vis = self.and(vis, e);
                            }
                            Prop::Help => {}
                            _ => self.warn(
                                Loc { file, line: p.line },
                                "this property has no meaning on a menu; ignored",
                            ),
                        }
                    }
                    let dep = self.and(dep, ctx.dep);
                    let visible_if = self.and(ctx.visible_if, vis);
                    self.walk(
                        body,
                        file,
                        Ctx {
                            dep,
                            visible_if,
                            choice: None,
                        },
                    );
                }
                Stmt::Choice {
                    name,
                    line,
                    props,
                    body,
                    ..
                } => {
                    self.here = (file, *line);
                    let choice =
                        self.choice(name.as_deref(), Loc { file, line: *line }, props, ctx);
                    let dep = self.push(E::Choice(choice));
                    self.walk(
                        body,
                        file,
                        Ctx {
                            dep,
                            visible_if: ctx.visible_if,
                            choice: Some(choice),
                        },
                    );
                }
                Stmt::If { cond, line, body } => {
                    self.here = (file, *line);
                    let c = self.expr(cond);
                    let dep = self.and(c, ctx.dep);
                    self.walk(body, file, Ctx { dep, ..ctx });
                }
                Stmt::Comment | Stmt::MainMenu => {}
                Stmt::Source { kind, path, line } => {
                    self.here = (file, *line);
                    self.source(*kind, path, Loc { file, line: *line }, ctx);
                }
                Stmt::Assignment { text, line } => {
                    self.here = (file, *line);
                    self.assignment(text, Loc { file, line: *line });
                }
            }
        }
    }

    fn source(&mut self, kind: SourceKind, path: &parse::RawText, loc: Loc, ctx: Ctx) {
        let pattern = if path.bare {
            self.name(&path.raw)
        } else {
            self.string(&path.raw)
        };
        if let Some(text) = self.env.virtual_file(&pattern) {
            let text = text.to_string();
            let name = PathBuf::from(&pattern);
            if self.stack.iter().any(|p| **p == *name) {
                self.warn(loc, format!("recursive source of {pattern}; skipped"));
                return;
            }
            let parsed = parse::parse(&text);
            self.walk_file(&name, &parsed, ctx);
            return;
        }
        let prefix: PathBuf = if kind.relative() {
            let current = &self.data.files[loc.file as usize];
            let dir = current.parent().map(Path::to_path_buf).unwrap_or_default();
            if dir.is_absolute() {
                dir
            } else {
                self.srctree.join(dir)
            }
        } else {
            self.srctree.clone()
        };
        let full = crate::project::config::absolutize(Path::new(""), &prefix.join(&pattern));
        let files = resolve_source(&full, &|p| p.is_file());
        self.data.inputs.sources.push((full.clone(), files.clone()));
        if files.is_empty() {
            if !kind.optional() {
                self.warn(
                    loc,
                    format!(
                        "'{}' not found; check that the environment variables it uses are set (unset ones expand to \
                         nothing)",
                        full.display()
                    ),
                );
            }
            return;
        }
        for f in files {
            if self.stack.iter().any(|p| **p == *f) {
                self.warn(loc, format!("recursive source of {}; skipped", f.display()));
                continue;
            }
            if self.stack.len() >= MAX_SOURCE_DEPTH {
                self.warn(loc, "source statements nested too deeply; skipped");
                continue;
            }
            self.source_file(&f, ctx);
        }
    }

    fn set_type(
        &mut self,
        ty: Option<SymbolType>,
        new: TypeKw,
        loc: Loc,
        what: &str,
    ) -> SymbolType {
        let t = match new {
            TypeKw::Bool => SymbolType::Bool,
            TypeKw::Tristate => {
                if !self.warned_tristate {
                    self.warned_tristate = true;
                    self.warn(
                        loc,
                        "tristate is not supported by ESP-IDF's Kconfig; treated as bool",
                    );
                }
                SymbolType::Bool
            }
            TypeKw::Int => SymbolType::Int,
            TypeKw::Hex => SymbolType::Hex,
            TypeKw::String => SymbolType::String,
            TypeKw::Float => SymbolType::Float,
        };
        if let Some(old) = ty
            && old != t
        {
            self.warn(
                loc,
                format!("{what} defined with multiple types, {t} will be used"),
            );
        }
        t
    }

    fn config(&mut self, raw_name: &str, loc: Loc, props: &[PropAt], ctx: Ctx) {
        let name = self.name(raw_name);
        if name.is_empty() || name == "y" || name == "n" {
            self.warn(loc, format!("bad symbol name `{name}`"));
            return;
        }
        let id = self.intern(&name);
        let mut node_dep = EXPR_Y;
        let mut prompt: Option<ExprId> = None;
        let mut defaults: Vec<(ExprId, ExprId, Loc)> = Vec::new();
        let mut ranges: Vec<(ExprId, ExprId, ExprId)> = Vec::new();
        let mut selects: Vec<(SymId, ExprId, Loc)> = Vec::new();
        let mut implies: Vec<(SymId, ExprId, Loc)> = Vec::new();
        let mut sets: Vec<(bool, SymId, ExprId, ExprId, Loc)> = Vec::new();
        for p in props {
            let ploc = Loc {
                file: loc.file,
                line: p.line,
            };
            self.here = (loc.file, p.line);
            match &p.prop {
                Prop::Type { ty, prompt: pr } => {
                    let old = self.data.syms[id as usize].ty;
                    let t = self.set_type(old, *ty, ploc, &name);
                    self.data.syms[id as usize].ty = Some(t);
                    if let Some((_, c)) = pr {
                        prompt = Some(self.cond(c));
                    }
                }
                Prop::Prompt(_, c) => {
                    if prompt.is_some() {
                        self.warn(
                            ploc,
                            format!("{name} defined with multiple prompts in single location"),
                        );
                    }
                    prompt = Some(self.cond(c));
                }
                Prop::Default(e, c) => {
                    let v = self.expr(e);
                    let c = self.cond(c);
                    defaults.push((v, c, ploc));
                }
                Prop::DependsOn(e) => {
                    let e = self.expr(e);
                    node_dep = self.and(node_dep, e);
                }
                Prop::Select(target, c) | Prop::Imply(target, c) => {
                    let Leaf::Name(raw) = target else { continue };
                    let tname = self.name(raw);
                    let t = self.intern(&tname);
                    let c = self.cond(c);
                    if matches!(p.prop, Prop::Select(..)) {
                        selects.push((t, c, ploc));
                    } else {
                        implies.push((t, c, ploc));
                    }
                }
                Prop::Range(lo, hi, c) => {
                    let lo = self.leaf(lo);
                    let hi = self.leaf(hi);
                    let c = self.cond(c);
                    ranges.push((lo, hi, c));
                }
                Prop::VisibleIf(_) => {
                    self.warn(ploc, format!("config {name} has a \"visible if\" option, which is not supported for configs"));
                }
                Prop::OptionEnv(var) => {
                    let var = if var.bare {
                        self.name(&var.raw)
                    } else {
                        self.string(&var.raw)
                    };
                    self.data.syms[id as usize].env_var = true;
                    match self.lookup_env(&var) {
                        Some(value) => {
                            let v = self.constant(&value);
                            defaults.push((v, EXPR_Y, ploc));
                        }
                        None => {
                            self.warn(
                                ploc,
                                format!("{name} has 'option env=\"{var}\"', but {var} is not set"),
                            );
                        }
                    }
                }
                Prop::Set {
                    weak,
                    target,
                    value,
                    cond,
                } => {
                    let cur = self.data.syms[id as usize].ty;
                    if cur.is_some() && cur != Some(SymbolType::Bool) {
                        self.warn(
                            ploc,
                            format!("{name} is not a bool: its 'set' option is ignored"),
                        );
                        continue;
                    }
                    let Leaf::Name(raw) = target else {
                        self.warn(ploc, "'set' needs a symbol name before '='");
                        continue;
                    };
                    let tname = self.name(raw);
                    let t = self.intern(&tname);
                    let v = self.leaf(value);
                    let c = self.cond(cond);
                    sets.push((*weak, t, v, c, ploc));
                }
                Prop::Optional => self.warn(ploc, "\"optional\" is only valid for choices"),
                Prop::OptionOther | Prop::Help | Prop::Warning(_) => {}
            }
        }
        if self.data.syms[id as usize].ty == Some(SymbolType::Bool) {
            for d in &mut defaults {
                let invalid = match &self.data.exprs[d.0 as usize] {
                    E::Sym(s) => {
                        INVALID_BOOL_LITERALS.contains(&&*self.data.syms[*s as usize].name)
                    }
                    E::Const(c) => INVALID_BOOL_LITERALS.contains(&&**c),
                    _ => false,
                };
                if invalid {
                    self.data.warnings.push(ConfigWarning::new(
                        self.data.files[d.2.file as usize].to_path_buf(),
                        d.2.line,
                        format!("{name}: not a valid bool value (only y and n are); treated as n"),
                    ));
                    d.0 = EXPR_N;
                }
            }
        }

        // Propagate the enclosing dependencies.
        let dep = self.and(node_dep, ctx.dep);
        let prompt = prompt.map(|c| {
            let vis_dep = self.and(ctx.visible_if, dep);
            self.and(c, vis_dep)
        });
        let defaults: Vec<_> = defaults
            .into_iter()
            .map(|(v, c, l)| (v, self.and(c, dep), l))
            .collect();
        let ranges: Vec<_> = ranges
            .into_iter()
            .map(|(lo, hi, c)| (lo, hi, self.and(c, dep)))
            .collect();
        let self_expr = self.sym_expr(id);
        for (t, c, l) in selects {
            let c = self.and(c, dep);
            let term = self.and(self_expr, c);
            self.data.syms[t as usize].rev_dep.push((term, l));
        }
        for (t, c, l) in implies {
            let c = self.and(c, dep);
            let term = self.and(self_expr, c);
            self.data.syms[t as usize].weak_rev_dep.push((term, l));
        }
        for (weak, t, v, c, l) in sets {
            let c = self.and(c, dep);
            let term = self.and(self_expr, c);
            let target = &mut self.data.syms[t as usize];
            if weak {
                target.weak_rev_values.push((v, term, l));
            } else {
                target.rev_values.push((v, term, l));
            }
        }
        let old_direct = self.data.syms[id as usize].direct_dep;
        let direct = self.or(old_direct, dep);
        let sym = &mut self.data.syms[id as usize];
        if sym.nodes.is_empty() {
            self.data.order.push(id);
        }
        sym.direct_dep = direct;
        sym.nodes.push(SymNode { prompt, dep, loc });
        sym.defaults.extend(defaults);
        sym.ranges.extend(ranges);
        if let Some(choice) = ctx.choice
            && sym.choice.is_none()
        {
            sym.choice = Some(choice);
            self.data.choices[choice as usize].syms.push(id);
        }
    }

    fn choice(&mut self, name: Option<&str>, loc: Loc, props: &[PropAt], ctx: Ctx) -> ChoiceId {
        let id = match name {
            Some(n) => match self.named_choices.get(n) {
                Some(&id) => id,
                None => {
                    let id = self.new_choice();
                    self.named_choices.insert(Arc::from(n), id);
                    id
                }
            },
            None => self.new_choice(),
        };
        let mut node_dep = EXPR_Y;
        let mut prompt: Option<ExprId> = None;
        let mut defaults: Vec<(SymId, ExprId, Loc)> = Vec::new();
        for p in props {
            let ploc = Loc {
                file: loc.file,
                line: p.line,
            };
            self.here = (loc.file, p.line);
            match &p.prop {
                Prop::Type { ty, prompt: pr } => {
                    let old = self.data.choices[id as usize].ty;
                    let t = self.set_type(old, *ty, ploc, name.unwrap_or("<choice>"));
                    self.data.choices[id as usize].ty = Some(t);
                    if let Some((_, c)) = pr {
                        prompt = Some(self.cond(c));
                    }
                }
                Prop::Prompt(_, c) => prompt = Some(self.cond(c)),
                Prop::Default(e, c) => match e {
                    Expr::Leaf(Leaf::Name(raw)) => {
                        let n = self.name(raw);
                        let s = self.intern(&n);
                        let c = self.cond(c);
                        defaults.push((s, c, ploc));
                    }
                    _ => self.warn(
                        ploc,
                        "the default of a choice must be one of its symbols; ignored",
                    ),
                },
                Prop::DependsOn(e) => {
                    let e = self.expr(e);
                    node_dep = self.and(node_dep, e);
                }
                Prop::VisibleIf(_) => {
                    self.warn(ploc, "\"visible if\" is not supported for choices; ignored")
                }
                Prop::Optional | Prop::Help | Prop::Warning(_) | Prop::OptionOther => {}
                _ => self.warn(ploc, "this property has no meaning on a choice; ignored"),
            }
        }
        let dep = self.and(node_dep, ctx.dep);
        let prompt = prompt.map(|c| {
            let vis_dep = self.and(ctx.visible_if, dep);
            self.and(c, vis_dep)
        });
        let defaults: Vec<_> = defaults
            .into_iter()
            .map(|(s, c, l)| (s, self.and(c, dep), l))
            .collect();
        let choice = &mut self.data.choices[id as usize];
        choice.nodes.push((prompt, dep, loc));
        choice.defaults.extend(defaults);
        id
    }

    fn new_choice(&mut self) -> ChoiceId {
        self.data.choices.push(Choice::default());
        (self.data.choices.len() - 1) as ChoiceId
    }

    /// Choice types: an untyped choice takes its first typed member's type, untyped members take
    /// the choice's.
    fn finish(&mut self) {
        for c in 0..self.data.choices.len() {
            let syms = self.data.choices[c].syms.clone();
            if self.data.choices[c].ty.is_none() {
                self.data.choices[c].ty = syms.iter().find_map(|&s| self.data.syms[s as usize].ty);
            }
            let ty = self.data.choices[c].ty;
            for s in syms {
                let sym = &mut self.data.syms[s as usize];
                if sym.ty.is_none() {
                    sym.ty = ty;
                }
            }
        }
    }
}
