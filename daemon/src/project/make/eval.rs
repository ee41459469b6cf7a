//! An evaluator for the part of the GNU Make language that ESP-IDF project Makefiles and
//! `component.mk` files use.
//!
//! It reads makefiles the way GNU Make 4.x does (logical lines, comments, conditionals, `include`,
//! `define`, `export`/`override`, the six assignment flavours, target-specific lines and recipes),
//! keeps each variable's flavour (recursive or simple) and origin, and expands references and the
//! text functions. Nothing outside the evaluator is ever changed: `$(shell)` and `!=` are not run,
//! `$(file)` is not written, recipes are skipped. Whatever it cannot model becomes a warning naming
//! `file:line`; it never panics on input.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::paths;

/// Looks up `CONFIG_*` values (as they appear in `sdkconfig`: `y`, numbers, quoted strings).
pub(crate) type ConfigLookup<'c> = &'c dyn Fn(&str) -> Option<String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `=`: the value is kept as written and expanded on every use.
    Recursive,
    /// `:=`: the value was expanded when assigned.
    Simple,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Default,
    Environment,
    File,
    CommandLine,
    Override,
    Automatic,
}

impl Origin {
    fn name(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::Environment => "environment",
            Origin::File => "file",
            Origin::CommandLine => "command line",
            Origin::Override => "override",
            Origin::Automatic => "automatic",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub value: String,
    pub flavor: Flavor,
    pub origin: Origin,
    pub exported: bool,
}

/// Where the evaluator stopped at an `include` of `.../make/project.mk`.
#[derive(Debug, Clone)]
pub(crate) struct ProjectMkInclude {
    pub file: PathBuf,
    pub line: usize,
    /// The include's argument as written, e.g. `$(IDF_PATH)/make/project.mk`.
    pub written: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AssignOp {
    Recursive,
    Simple,
    Append,
    Conditional,
    Shell,
}

/// One level of `ifdef`/`ifeq` nesting.
struct Cond {
    /// The enclosing text is being read.
    parent_active: bool,
    /// This branch is being read.
    active: bool,
    /// Some branch of this conditional has been taken.
    taken: bool,
    else_seen: bool,
}

/// A `define` block being collected.
struct Define {
    name_raw: String,
    op: AssignOp,
    origin: Origin,
    export: bool,
    body: Vec<String>,
    nest: usize,
    active: bool,
}

const MAX_EXPANSION_DEPTH: usize = 200;
const MAX_INCLUDE_DEPTH: usize = 16;

pub(crate) struct Evaluator<'c> {
    vars: HashMap<String, Var>,
    config: Option<ConfigLookup<'c>>,
    /// Make's working directory: relative `$(wildcard)`/`$(abspath)` resolve against it.
    cwd: PathBuf,
    /// Relative `include` paths resolve against this (the component or project directory).
    include_base: PathBuf,
    /// Files in warnings are shown relative to this when inside it.
    display_base: PathBuf,
    pub warnings: Vec<String>,
    /// Targets of explicit rules read so far (expanded).
    pub rule_targets: Vec<String>,
    /// Command-line variables a makefile tried to assign (and Make ignored): (name, value, where).
    pub ignored_assignments: Vec<(String, String, String)>,
    /// Stop reading at the first `include` of `make/project.mk`.
    pub stop_at_project_mk: bool,
    pub project_mk: Option<ProjectMkInclude>,
    stopped: bool,
    expanding: Vec<String>,
    depth: usize,
    include_depth: usize,
    file: Rc<str>,
    file_path: PathBuf,
    line: usize,
    export_all: bool,
    export_names: HashSet<String>,
    unexport_names: HashSet<String>,
    in_rule: bool,
    seen_rule: bool,
}

/// Whitespace-separated words, as Make splits them.
pub(crate) fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split_ascii_whitespace()
}

fn join_words<I: IntoIterator<Item = S>, S: AsRef<str>>(it: I) -> String {
    let mut out = String::new();
    for w in it {
        let w = w.as_ref();
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Index of the `close` matching an already-open reference that started before `from`, counting
/// nested `open`/`close` pairs.
fn find_close(b: &[u8], from: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = from;
    while i < b.len() {
        if b[i] == open {
            depth += 1;
        } else if b[i] == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// Split function arguments at top-level commas. At most `max` arguments: the last one keeps any
/// further commas (`$(if a,b,c,d)` has the else-part `c,d`).
fn split_args(s: &str, max: usize) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 && out.len() + 1 < max => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The stem when `word` matches a `%` pattern (or the exact word when there is no `%`).
fn pattern_stem<'w>(pattern: &str, word: &'w str) -> Option<&'w str> {
    match pattern.find('%') {
        Some(pos) => {
            let (prefix, suffix) = (&pattern[..pos], &pattern[pos + 1..]);
            if word.len() >= prefix.len() + suffix.len()
                && word.starts_with(prefix)
                && word.ends_with(suffix)
            {
                Some(&word[prefix.len()..word.len() - suffix.len()])
            } else {
                None
            }
        }
        None => (word == pattern).then_some(""),
    }
}

/// `$(patsubst)` on one word.
fn pattern_subst(pattern: &str, replacement: &str, word: &str) -> String {
    match pattern_stem(pattern, word) {
        Some(stem) if pattern.contains('%') => match replacement.find('%') {
            Some(pos) => format!("{}{}{}", &replacement[..pos], stem, &replacement[pos + 1..]),
            None => replacement.to_string(),
        },
        Some(_) => replacement.to_string(),
        None => word.to_string(),
    }
}

pub(crate) fn patsubst(pattern: &str, replacement: &str, text: &str) -> String {
    join_words(words(text).map(|w| pattern_subst(pattern, replacement, w)))
}

/// Remove a `#` comment, except inside variable references and function calls, and unescape `\#`.
fn strip_comment(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut depth = 0usize;
    let mut i = 0;
    let mut seg_start = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() && b[i + 1] == b'#' => {
                out.push_str(&line[seg_start..i]);
                out.push('#');
                i += 2;
                seg_start = i;
                continue;
            }
            b'$' if i + 1 < b.len() && (b[i + 1] == b'(' || b[i + 1] == b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'(' | b'{' if depth > 0 => depth += 1,
            b')' | b'}' if depth > 0 => depth -= 1,
            b'#' if depth == 0 => {
                out.push_str(&line[seg_start..i]);
                return out;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&line[seg_start..]);
    out
}

/// Number of backslashes at the end of a line: odd means the line continues.
fn continues(line: &str) -> bool {
    line.bytes().rev().take_while(|&c| c == b'\\').count() % 2 == 1
}

/// First whitespace-separated word and the rest (trimmed at the start).
fn split_first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(|c: char| c.is_ascii_whitespace()) {
        Some(pos) => (&s[..pos], s[pos..].trim_start()),
        None => (s, ""),
    }
}

/// Find an assignment operator at the top level of a line: (name, op, value as written).
/// `None` means the line is not an assignment (a rule, or an expression line).
fn parse_assignment(line: &str) -> Option<(&str, AssignOp, &str)> {
    let b = line.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'$' && i + 1 < b.len() && (b[i + 1] == b'(' || b[i + 1] == b'{') {
            depth += 1;
            i += 2;
            continue;
        }
        if depth > 0 {
            match c {
                b'(' | b'{' => depth += 1,
                b')' | b'}' => depth -= 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b':' => {
                let rest = &line[i..];
                for (tok, op) in [
                    (":::=", AssignOp::Simple),
                    ("::=", AssignOp::Simple),
                    (":=", AssignOp::Simple),
                ] {
                    if rest.starts_with(tok) {
                        return Some((&line[..i], op, &line[i + tok.len()..]));
                    }
                }
                return None;
            }
            b';' => return None,
            b'=' => {
                let (name_end, op) = match i.checked_sub(1).map(|p| b[p]) {
                    Some(b'+') => (i - 1, AssignOp::Append),
                    Some(b'?') => (i - 1, AssignOp::Conditional),
                    Some(b'!') => (i - 1, AssignOp::Shell),
                    _ => (i, AssignOp::Recursive),
                };
                return Some((&line[..name_end], op, &line[i + 1..]));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Split a line at its first top-level `;` (the start of an inline recipe).
fn split_inline_recipe(line: &str) -> &str {
    let b = line.as_bytes();
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.saturating_sub(1),
            b';' if depth == 0 => return &line[..i],
            _ => {}
        }
    }
    line
}

const FUNCTIONS: &[&str] = &[
    "subst",
    "patsubst",
    "strip",
    "findstring",
    "filter",
    "filter-out",
    "sort",
    "word",
    "wordlist",
    "words",
    "firstword",
    "lastword",
    "dir",
    "notdir",
    "suffix",
    "basename",
    "addsuffix",
    "addprefix",
    "join",
    "wildcard",
    "realpath",
    "abspath",
    "if",
    "or",
    "and",
    "foreach",
    "file",
    "call",
    "value",
    "eval",
    "origin",
    "flavor",
    "shell",
    "error",
    "warning",
    "info",
    "let",
    "intcmp",
    "guile",
];

impl<'c> Evaluator<'c> {
    /// A fresh evaluator with Make's working directory `cwd`; relative includes resolve against
    /// `include_base`; warnings show files relative to `display_base`.
    pub(crate) fn new(cwd: &Path, include_base: &Path, display_base: &Path) -> Self {
        let mut ev = Evaluator {
            vars: HashMap::new(),
            config: None,
            cwd: cwd.to_path_buf(),
            include_base: include_base.to_path_buf(),
            display_base: display_base.to_path_buf(),
            warnings: Vec::new(),
            rule_targets: Vec::new(),
            ignored_assignments: Vec::new(),
            stop_at_project_mk: false,
            project_mk: None,
            stopped: false,
            expanding: Vec::new(),
            depth: 0,
            include_depth: 0,
            file: Rc::from("<make>"),
            file_path: PathBuf::new(),
            line: 0,
            export_all: false,
            export_names: HashSet::new(),
            unexport_names: HashSet::new(),
            in_rule: false,
            seen_rule: false,
        };
        ev.set("MAKE", "make", Flavor::Simple, Origin::Default, false);
        ev.set("SHELL", "/bin/sh", Flavor::Simple, Origin::Default, false);
        ev.set(
            "CURDIR",
            &cwd.display().to_string(),
            Flavor::Simple,
            Origin::File,
            false,
        );
        ev.set("MAKEFILE_LIST", "", Flavor::Simple, Origin::File, false);
        ev
    }

    pub(crate) fn with_config(mut self, config: ConfigLookup<'c>) -> Self {
        self.config = Some(config);
        self
    }

    /// Set a variable directly (presets: environment, command line, defaults).
    pub(crate) fn set(
        &mut self,
        name: &str,
        value: &str,
        flavor: Flavor,
        origin: Origin,
        exported: bool,
    ) {
        self.vars.insert(
            name.to_string(),
            Var {
                value: value.to_string(),
                flavor,
                origin,
                exported,
            },
        );
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Var> {
        self.vars.get(name)
    }

    /// Name the place later expansions are reported at (for warnings outside any makefile line).
    pub(crate) fn set_location(&mut self, file: &str, line: usize) {
        self.file = Rc::from(file);
        self.line = line;
    }

    /// `ifdef` semantics: defined with a non-empty value (a recursive variable's value as written).
    pub(crate) fn is_set(&self, name: &str) -> bool {
        match self.vars.get(name) {
            Some(v) => !v.value.is_empty(),
            None => self.config_value(name).is_some_and(|v| !v.is_empty()),
        }
    }

    /// Whether the variable is defined at all (`?=` semantics).
    pub(crate) fn is_defined(&self, name: &str) -> bool {
        self.vars.contains_key(name) || self.config_value(name).is_some()
    }

    fn config_value(&self, name: &str) -> Option<String> {
        if !name.starts_with("CONFIG_") {
            return None;
        }
        self.config.and_then(|f| f(name))
    }

    /// The expanded value of a variable (`$(NAME)`).
    pub(crate) fn value(&mut self, name: &str) -> String {
        self.expand_var(name)
    }

    /// The words of a variable's expanded value.
    pub(crate) fn value_words(&mut self, name: &str) -> Vec<String> {
        let v = self.value(name);
        words(&v).map(str::to_string).collect()
    }

    /// Variables the makefiles read so far assigned (file or override origin), unexpanded.
    pub(crate) fn file_variables(&self) -> Vec<(String, Var)> {
        let mut out: Vec<(String, Var)> = self
            .vars
            .iter()
            .filter(|(_, v)| matches!(v.origin, Origin::File | Origin::Override))
            .filter(|(n, _)| !matches!(n.as_str(), "CURDIR" | "MAKEFILE_LIST"))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Variables a sub-make would inherit through its environment: those exported (explicitly, by
    /// `export` with no names, or because they came from the environment), expanded.
    pub(crate) fn exported_values(&mut self) -> Vec<(String, String)> {
        let mut names: Vec<String> = self
            .vars
            .iter()
            .filter(|(n, v)| {
                !self.unexport_names.contains(*n)
                    && (v.exported
                        || self.export_names.contains(*n)
                        || v.origin == Origin::Environment
                        || (self.export_all
                            && matches!(v.origin, Origin::File | Origin::Override)
                            && is_exportable_name(n)))
            })
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let v = self.value(&n);
                (n, v)
            })
            .collect()
    }

    fn warn(&mut self, msg: impl AsRef<str>) {
        let w = format!("{}:{}: {}", self.file, self.line, msg.as_ref());
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Reading makefiles
    // ---------------------------------------------------------------------------------------

    /// Read and evaluate a makefile. Returns false when it cannot be read.
    pub(crate) fn eval_file(&mut self, path: &Path) -> bool {
        let Ok(text) = std::fs::read_to_string(path) else {
            return false;
        };
        let saved = (self.file.clone(), self.file_path.clone(), self.line);
        self.file = Rc::from(paths::display(path, &self.display_base));
        self.file_path = path.to_path_buf();
        let list = self.vars.get("MAKEFILE_LIST").map(|v| v.value.clone());
        let list = join_words([list.unwrap_or_default(), path.display().to_string()]);
        self.set("MAKEFILE_LIST", &list, Flavor::Simple, Origin::File, false);
        self.in_rule = false;
        self.run_text(&text, 1, false);
        self.in_rule = false;
        (self.file, self.file_path, self.line) = saved;
        true
    }

    /// Evaluate makefile text. Lines are numbered from `first_line`, or all reported at
    /// `first_line` when `fixed_line` (text produced by `$(eval)`).
    pub(crate) fn run_text(&mut self, text: &str, first_line: usize, fixed_line: bool) {
        let lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let mut conds: Vec<Cond> = Vec::new();
        let mut define: Option<Define> = None;
        let mut idx = 0;
        let line_no = |i: usize| {
            if fixed_line {
                first_line
            } else {
                first_line + i
            }
        };
        while idx < lines.len() {
            if self.stopped {
                return;
            }
            self.line = line_no(idx);
            let raw = lines[idx];

            if let Some(def) = define.as_mut() {
                idx += 1;
                let (w, _) = split_first_word(raw);
                let first = strip_comment(w);
                if first == "endef" {
                    if def.nest == 0 {
                        let def = define.take().expect("define in progress");
                        if def.active {
                            let body = def.body.join("\n");
                            self.define_var(def, body);
                        }
                        continue;
                    }
                    def.nest -= 1;
                } else if w == "define"
                    || ((w == "override" || w == "export" || w == "private")
                        && split_first_word(split_first_word(raw).1).0 == "define")
                {
                    def.nest += 1;
                }
                def.body.push(raw.to_string());
                continue;
            }

            let active = conds.last().is_none_or(|c| c.active);

            // Recipe lines: a tab-started line after a rule has been seen.
            if raw.starts_with('\t') && (self.in_rule || self.seen_rule) {
                if active && !self.in_rule && !raw.trim().is_empty() {
                    self.warn("recipe line outside any rule (make stops: \"recipe commences before first target\")");
                }
                while continues(lines[idx]) && idx + 1 < lines.len() {
                    idx += 1;
                }
                idx += 1;
                continue;
            }

            // Join continuation lines into one logical line.
            let mut logical = raw.to_string();
            while continues(&logical) && idx + 1 < lines.len() {
                logical.pop();
                let trimmed_len = logical.trim_end().len();
                logical.truncate(trimmed_len);
                idx += 1;
                logical.push(' ');
                logical.push_str(lines[idx].trim_start());
            }
            if continues(&logical) {
                logical.pop();
            }
            idx += 1;

            let line = strip_comment(&logical);
            // Trailing whitespace is part of an assigned value; leading whitespace is not.
            let full = line.trim_start();
            let t = full.trim_end();
            if t.is_empty() {
                continue;
            }
            let (word, rest) = split_first_word(full);
            let (word, rest) = split_conditional_paren(word, rest, t);

            match word {
                "ifdef" | "ifndef" | "ifeq" | "ifneq" => {
                    let parent_active = active;
                    let value = if parent_active {
                        self.eval_condition(word, rest)
                    } else {
                        false
                    };
                    conds.push(Cond {
                        parent_active,
                        active: parent_active && value,
                        taken: value,
                        else_seen: false,
                    });
                    continue;
                }
                "else" => {
                    let Some(top) = conds.last() else {
                        self.warn("`else` without a matching `if` (make stops here)");
                        continue;
                    };
                    let (parent_active, taken, else_seen) =
                        (top.parent_active, top.taken, top.else_seen);
                    if else_seen {
                        self.warn("only one `else` per conditional (make stops here)");
                    }
                    let (cw, crest) = split_first_word(rest);
                    let (cw, crest) = split_conditional_paren(cw, crest, rest);
                    let (new_active, new_taken, seen) = if rest.is_empty() {
                        (parent_active && !taken, true, true)
                    } else if matches!(cw, "ifdef" | "ifndef" | "ifeq" | "ifneq") {
                        if parent_active && !taken {
                            let v = self.eval_condition(cw, crest);
                            (v, v, false)
                        } else {
                            (false, taken, false)
                        }
                    } else {
                        self.warn(format!("extraneous text after `else`: {rest}"));
                        (parent_active && !taken, true, true)
                    };
                    let top = conds.last_mut().expect("checked above");
                    top.active = new_active;
                    top.taken = new_taken;
                    top.else_seen = seen;
                    continue;
                }
                "endif" => {
                    if conds.pop().is_none() {
                        self.warn("`endif` without a matching `if` (make stops here)");
                    }
                    continue;
                }
                _ => {}
            }

            if !active {
                if let Some(d) = self.define_start(t, Origin::File, false) {
                    define = Some(Define { active: false, ..d });
                }
                continue;
            }
            if let Some(d) = self.define_start(t, Origin::File, false) {
                define = Some(d);
                continue;
            }
            self.statement(full, word, rest);
        }
        if define.is_some() {
            self.warn("missing `endef` (make stops here)");
        }
        if !conds.is_empty() && !self.stopped {
            self.warn("missing `endif` (make stops here)");
        }
    }

    /// A `define` line (possibly with `override`/`export`/`private` in front): the block to collect.
    fn define_start(&mut self, t: &str, origin: Origin, export: bool) -> Option<Define> {
        let (w, rest) = split_first_word(t);
        match w {
            "define" => {
                let (name, op) = match parse_define_op(rest) {
                    Some(x) => x,
                    None => (rest.trim().to_string(), AssignOp::Recursive),
                };
                Some(Define {
                    name_raw: name,
                    op,
                    origin,
                    export,
                    body: Vec::new(),
                    nest: 0,
                    active: true,
                })
            }
            "override" => self.define_start(rest, Origin::Override, export),
            "export" => self.define_start(rest, origin, true),
            "private" => self.define_start(rest, origin, export),
            _ => None,
        }
    }

    fn define_var(&mut self, def: Define, body: String) {
        let name = self.expand(&def.name_raw).trim().to_string();
        if name.is_empty() {
            self.warn("`define` with an empty variable name");
            return;
        }
        self.assign_named(&name, def.op, &body, def.origin, def.export);
    }

    /// One active logical line that is not a conditional.
    fn statement(&mut self, t: &str, word: &str, rest: &str) {
        // A directive word followed directly by an assignment operator is a variable of that name.
        let directive_is_variable = ["=", ":=", "::=", "+=", "?=", "!="]
            .iter()
            .any(|op| rest.starts_with(op));
        if !directive_is_variable {
            match word {
                "include" | "-include" | "sinclude" => {
                    self.in_rule = false;
                    self.include(rest, word == "include");
                    return;
                }
                "endef" => {
                    self.warn("`endef` without `define`");
                    return;
                }
                "override" => {
                    self.in_rule = false;
                    match parse_assignment(rest) {
                        Some((name, op, value)) => {
                            self.assign(name, op, value, Origin::Override, false)
                        }
                        None => self.warn(format!("`override` without an assignment: {rest}")),
                    }
                    return;
                }
                "export" | "unexport" => {
                    self.in_rule = false;
                    let export = word == "export";
                    if rest.is_empty() {
                        self.export_all = export;
                        return;
                    }
                    if export && let Some((name, op, value)) = parse_assignment(rest) {
                        self.assign(name, op, value, Origin::File, true);
                        return;
                    }
                    let names = self.expand(rest);
                    for n in words(&names) {
                        if export {
                            self.unexport_names.remove(n);
                            self.export_names.insert(n.to_string());
                        } else {
                            self.export_names.remove(n);
                            self.unexport_names.insert(n.to_string());
                        }
                    }
                    return;
                }
                "undefine" => {
                    let rest = rest.strip_prefix("override").map_or(rest, str::trim_start);
                    let names = self.expand(rest);
                    for n in words(&names) {
                        if self
                            .vars
                            .get(n)
                            .is_some_and(|v| v.origin == Origin::CommandLine)
                        {
                            continue;
                        }
                        self.vars.remove(n);
                    }
                    return;
                }
                "private" => {
                    let (w2, r2) = split_first_word(rest);
                    self.statement(rest, w2, r2);
                    return;
                }
                "vpath" => return,
                "load" | "-load" => {
                    self.warn("`load` of a Make plugin is not supported; ignored");
                    return;
                }
                _ => {}
            }
        }
        if let Some((name, op, value)) = parse_assignment(t) {
            self.in_rule = false;
            self.assign(name, op, value, Origin::File, false);
            return;
        }
        // A rule, or a line of function calls ($(eval ...), $(info ...)).
        let head = split_inline_recipe(t);
        let expanded = self.expand(head);
        let e = expanded.trim();
        if e.is_empty() {
            return;
        }
        match e.find(':') {
            Some(pos) => {
                let targets = e[..pos].to_string();
                for target in words(&targets) {
                    self.rule_targets.push(target.to_string());
                }
                self.in_rule = true;
                self.seen_rule = true;
            }
            None => self.warn(format!(
                "missing separator: `{}` is not a rule or assignment (make stops here)",
                shorten(t)
            )),
        }
    }

    fn include(&mut self, rest: &str, required: bool) {
        let names = self.expand(rest);
        let written_ends = rest.trim_end().ends_with("/make/project.mk");
        let mut list = Vec::new();
        for word in words(&names) {
            if paths::has_glob(word) {
                // `include *.mk` includes whatever matches (nothing when nothing does).
                let cwd = self.cwd.clone();
                list.extend(paths::wildcard(word, &cwd));
            } else {
                list.push(word.to_string());
            }
        }
        for name in list {
            if self.stop_at_project_mk
                && (name.ends_with("/make/project.mk") || name == "make/project.mk" || written_ends)
            {
                self.project_mk = Some(ProjectMkInclude {
                    file: self.file_path.clone(),
                    line: self.line,
                    written: rest.trim().to_string(),
                });
                self.stopped = true;
                return;
            }
            if self.include_depth >= MAX_INCLUDE_DEPTH {
                self.warn(format!("include of {name} nested too deeply; not read"));
                continue;
            }
            let path = self.include_path(&name);
            self.include_depth += 1;
            let ok = self.eval_file(&path);
            self.include_depth -= 1;
            if !ok && required {
                self.warn(format!(
                    "include {name}: no such file (make stops unless a rule creates it)"
                ));
            }
            if self.stopped {
                return;
            }
        }
    }

    /// Where an included file is read from. Make looks for a relative name in its working
    /// directory; for a component that is the build directory, so a file next to component.mk is
    /// read from there, with a warning that Make itself would not find it.
    fn include_path(&mut self, name: &str) -> PathBuf {
        let in_cwd = paths::resolve(&self.cwd, Path::new(name));
        if Path::new(name).is_absolute() || in_cwd.exists() || self.cwd == self.include_base {
            return in_cwd;
        }
        let in_base = paths::resolve(&self.include_base, Path::new(name));
        if in_base.exists() {
            self.warn(format!(
                "include {name}: read from {}; make looks in its working directory {} and stops                  there (write `include $(COMPONENT_PATH)/{name}`)",
                paths::display(&in_base, &self.display_base),
                paths::display(&self.cwd, &self.display_base)
            ));
        }
        in_base
    }

    /// `ifdef NAME`, `ifeq (a,b)`, `ifeq "a" "b"` and the negations.
    fn eval_condition(&mut self, kind: &str, rest: &str) -> bool {
        match kind {
            "ifdef" | "ifndef" => {
                let name = self.expand(rest);
                let name = name.trim();
                if name.contains(|c: char| c.is_ascii_whitespace()) {
                    self.warn(format!("`{kind}` takes one variable name, got `{name}`"));
                }
                let set = self.is_set(name);
                if kind == "ifdef" { set } else { !set }
            }
            _ => {
                let Some((a, b)) = parse_ifeq_args(rest) else {
                    self.warn(format!("malformed `{kind} {rest}`: treated as false"));
                    return false;
                };
                let a = self.expand(&a);
                let b = self.expand(&b);
                if kind == "ifeq" { a == b } else { a != b }
            }
        }
    }

    fn assign(
        &mut self,
        name_raw: &str,
        op: AssignOp,
        value_raw: &str,
        origin: Origin,
        export: bool,
    ) {
        let name = self.expand(name_raw.trim());
        let name = name.trim();
        if name.is_empty() {
            self.warn("assignment to an empty variable name (make stops here)");
            return;
        }
        if name.contains(|c: char| c.is_ascii_whitespace()) {
            self.warn(format!(
                "invalid variable name `{name}`; assignment ignored"
            ));
            return;
        }
        let name = name.to_string();
        self.assign_named(&name, op, value_raw.trim_start(), origin, export);
    }

    fn assign_named(
        &mut self,
        name: &str,
        op: AssignOp,
        value: &str,
        origin: Origin,
        export: bool,
    ) {
        if let Some(existing) = self.vars.get(name)
            && existing.origin == Origin::CommandLine
            && origin != Origin::Override
        {
            let shown = value.to_string();
            let loc = format!("{}:{}", self.file, self.line);
            self.ignored_assignments
                .push((name.to_string(), shown, loc));
            return;
        }
        // Variables that came from the environment stay exported when a makefile assigns them.
        let exported = export
            || self
                .vars
                .get(name)
                .is_some_and(|v| v.exported || v.origin == Origin::Environment);
        // Environment variables become file variables once a makefile assigns them.
        let origin = if origin == Origin::Override {
            Origin::Override
        } else {
            Origin::File
        };
        match op {
            AssignOp::Recursive => self.set(name, value, Flavor::Recursive, origin, exported),
            AssignOp::Simple => {
                let v = self.expand(value);
                self.set(name, &v, Flavor::Simple, origin, exported);
            }
            AssignOp::Conditional => {
                if !self.is_defined(name) {
                    self.set(name, value, Flavor::Recursive, origin, exported);
                } else if export && let Some(v) = self.vars.get_mut(name) {
                    v.exported = true;
                }
            }
            AssignOp::Append => {
                if !self.vars.contains_key(name)
                    && let Some(cv) = self.config_value(name)
                {
                    self.set(name, &cv, Flavor::Simple, Origin::File, false);
                }
                match self.vars.get(name).map(|v| (v.flavor, v.value.clone())) {
                    Some((Flavor::Recursive, old)) => {
                        let v = join_appended(&old, value);
                        self.set(name, &v, Flavor::Recursive, origin, exported);
                    }
                    Some((Flavor::Simple, old)) => {
                        let add = self.expand(value);
                        let v = join_appended(&old, &add);
                        self.set(name, &v, Flavor::Simple, origin, exported);
                    }
                    None => self.set(name, value, Flavor::Recursive, origin, exported),
                }
            }
            AssignOp::Shell => {
                self.warn(format!(
                    "`{name} != {}`: shell commands are not run while planning; {name} is empty",
                    shorten(value)
                ));
                self.set(name, "", Flavor::Simple, origin, exported);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Expansion
    // ---------------------------------------------------------------------------------------

    /// Expand variable references and function calls in `s`.
    pub(crate) fn expand(&mut self, s: &str) -> String {
        if !s.contains('$') {
            return s.to_string();
        }
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        let mut lit = 0;
        while i < b.len() {
            if b[i] != b'$' {
                i += 1;
                continue;
            }
            out.push_str(&s[lit..i]);
            if i + 1 >= b.len() {
                i += 1;
                lit = i;
                break;
            }
            match b[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                }
                open @ (b'(' | b'{') => {
                    let close = if open == b'(' { b')' } else { b'}' };
                    match find_close(b, i + 2, open, close) {
                        Some(end) => {
                            let inner = &s[i + 2..end];
                            let v = self.expand_reference(inner);
                            out.push_str(&v);
                            i = end + 1;
                        }
                        None => {
                            self.warn(format!(
                                "unterminated variable reference `{}` (make stops here)",
                                shorten(&s[i..])
                            ));
                            i = b.len();
                        }
                    }
                }
                _ => {
                    let ch = s[i + 1..].chars().next().unwrap_or(' ');
                    let v = self.expand_var(&ch.to_string());
                    out.push_str(&v);
                    i += 1 + ch.len_utf8();
                }
            }
            lit = i;
        }
        if lit < s.len() {
            out.push_str(&s[lit..]);
        }
        out
    }

    /// The text inside `$(...)`: a function call, a substitution reference, or a variable name.
    fn expand_reference(&mut self, inner: &str) -> String {
        // Function call: a known name followed by whitespace.
        let name_end = inner
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(inner.len());
        let fname = &inner[..name_end];
        if name_end < inner.len() && FUNCTIONS.contains(&fname) {
            let args = inner[name_end..].trim_start();
            return self.call_function(fname, args);
        }
        // Substitution reference: $(VAR:from=to).
        if let Some((var, from, to)) = split_subst_ref(inner) {
            let name = self.expand(var);
            let value = self.expand_var(name.trim());
            let from = self.expand(from);
            let to = self.expand(to);
            return if from.contains('%') {
                patsubst(&from, &to, &value)
            } else {
                patsubst(&format!("%{from}"), &format!("%{to}"), &value)
            };
        }
        let name = self.expand(inner);
        if name_end < inner.len()
            && !fname.is_empty()
            && fname.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
        {
            self.warn(format!("unknown function `{fname}`: expands to nothing"));
            return String::new();
        }
        self.expand_var(&name)
    }

    fn expand_var(&mut self, name: &str) -> String {
        // Automatic variables only have values inside recipes, which are never expanded here.
        let b = name.as_bytes();
        if matches!(name, "@" | "<" | "^" | "+" | "?" | "*" | "%" | "|")
            || (b.len() == 2
                && matches!(b[0], b'@' | b'<' | b'^' | b'+' | b'?' | b'*' | b'%')
                && matches!(b[1], b'D' | b'F'))
        {
            return String::new();
        }
        let Some(var) = self.vars.get(name) else {
            return self.config_value(name).unwrap_or_default();
        };
        match var.flavor {
            Flavor::Simple => var.value.clone(),
            Flavor::Recursive => {
                if self.expanding.iter().any(|n| n == name) {
                    self.warn(format!(
                        "recursive variable `{name}` references itself (make stops here)"
                    ));
                    return String::new();
                }
                if self.depth >= MAX_EXPANSION_DEPTH {
                    self.warn("expansion nested too deeply; stopped expanding");
                    return String::new();
                }
                let value = var.value.clone();
                self.expanding.push(name.to_string());
                self.depth += 1;
                let out = self.expand(&value);
                self.depth -= 1;
                self.expanding.pop();
                out
            }
        }
    }

    fn call_function(&mut self, name: &str, args: &str) -> String {
        if self.depth >= MAX_EXPANSION_DEPTH {
            self.warn("expansion nested too deeply; stopped expanding");
            return String::new();
        }
        self.depth += 1;
        let out = self.call_function_inner(name, args);
        self.depth -= 1;
        out
    }

    fn call_function_inner(&mut self, name: &str, args: &str) -> String {
        let n_args = match name {
            "subst" | "patsubst" | "wordlist" | "foreach" | "if" | "let" => 3,
            "findstring" | "filter" | "filter-out" | "word" | "addsuffix" | "addprefix"
            | "join" | "file" => 2,
            "or" | "and" | "call" | "intcmp" => usize::MAX,
            _ => 1,
        };
        let raw = split_args(args, n_args);
        let arg = |i: usize| raw.get(i).copied().unwrap_or("");
        match name {
            "subst" => {
                let from = self.expand(arg(0));
                let to = self.expand(arg(1));
                let text = self.expand(arg(2));
                if from.is_empty() {
                    // GNU Make appends the replacement when there is nothing to find.
                    text + &to
                } else {
                    text.replace(&from, &to)
                }
            }
            "patsubst" => {
                let p = self.expand(arg(0));
                let r = self.expand(arg(1));
                let t = self.expand(arg(2));
                patsubst(p.trim(), r.trim(), &t)
            }
            "strip" => join_words(words(&self.expand(arg(0)))),
            "findstring" => {
                let find = self.expand(arg(0));
                let text = self.expand(arg(1));
                if text.contains(&find) {
                    find
                } else {
                    String::new()
                }
            }
            "filter" | "filter-out" => {
                let pats = self.expand(arg(0));
                let text = self.expand(arg(1));
                let pats: Vec<&str> = words(&pats).collect();
                let keep = name == "filter";
                join_words(
                    words(&text)
                        .filter(|w| pats.iter().any(|p| pattern_stem(p, w).is_some()) == keep),
                )
            }
            "sort" => {
                let text = self.expand(arg(0));
                let mut ws: Vec<&str> = words(&text).collect();
                ws.sort_unstable();
                ws.dedup();
                join_words(ws)
            }
            "word" => {
                let n = self.expand(arg(0));
                let text = self.expand(arg(1));
                match n.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => words(&text).nth(n - 1).unwrap_or("").to_string(),
                    _ => {
                        self.warn(format!(
                            "$(word {n},...): not a positive number (make stops here)"
                        ));
                        String::new()
                    }
                }
            }
            "wordlist" => {
                let s = self.expand(arg(0));
                let e = self.expand(arg(1));
                let text = self.expand(arg(2));
                match (s.trim().parse::<usize>(), e.trim().parse::<usize>()) {
                    (Ok(s), Ok(e)) if s >= 1 => {
                        join_words(words(&text).skip(s - 1).take((e + 1).saturating_sub(s)))
                    }
                    _ => {
                        self.warn("$(wordlist ...): bad index (make stops here)");
                        String::new()
                    }
                }
            }
            "words" => words(&self.expand(arg(0))).count().to_string(),
            "firstword" => words(&self.expand(arg(0))).next().unwrap_or("").to_string(),
            "lastword" => words(&self.expand(arg(0))).last().unwrap_or("").to_string(),
            "dir" => join_words(words(&self.expand(arg(0))).map(|w| match w.rfind('/') {
                Some(p) => w[..=p].to_string(),
                None => "./".to_string(),
            })),
            "notdir" => join_words(words(&self.expand(arg(0))).map(|w| match w.rfind('/') {
                Some(p) => w[p + 1..].to_string(),
                None => w.to_string(),
            })),
            "suffix" => join_words(words(&self.expand(arg(0))).filter_map(|w| {
                let base = w.rfind('/').map_or(0, |p| p + 1);
                w[base..].rfind('.').map(|d| w[base + d..].to_string())
            })),
            "basename" => join_words(words(&self.expand(arg(0))).map(|w| {
                let base = w.rfind('/').map_or(0, |p| p + 1);
                match w[base..].rfind('.') {
                    Some(d) => w[..base + d].to_string(),
                    None => w.to_string(),
                }
            })),
            "addsuffix" | "addprefix" => {
                let fix = self.expand(arg(0));
                let text = self.expand(arg(1));
                join_words(words(&text).map(|w| {
                    if name == "addsuffix" {
                        format!("{w}{fix}")
                    } else {
                        format!("{fix}{w}")
                    }
                }))
            }
            "join" => {
                let a = self.expand(arg(0));
                let b = self.expand(arg(1));
                let (a, b): (Vec<&str>, Vec<&str>) = (words(&a).collect(), words(&b).collect());
                join_words(
                    (0..a.len().max(b.len()))
                        .map(|i| format!("{}{}", a.get(i).unwrap_or(&""), b.get(i).unwrap_or(&""))),
                )
            }
            "wildcard" => {
                let pats = self.expand(arg(0));
                let cwd = self.cwd.clone();
                join_words(words(&pats).flat_map(|p| paths::wildcard(p, &cwd)))
            }
            "abspath" => {
                let text = self.expand(arg(0));
                let cwd = self.cwd.clone();
                join_words(
                    words(&text).map(|w| paths::resolve(&cwd, Path::new(w)).display().to_string()),
                )
            }
            "realpath" => {
                let text = self.expand(arg(0));
                let cwd = self.cwd.clone();
                join_words(words(&text).filter_map(|w| {
                    std::fs::canonicalize(cwd.join(w))
                        .ok()
                        .map(|p| p.display().to_string())
                }))
            }
            "if" => {
                let cond = self.expand(arg(0));
                if !cond.trim().is_empty() {
                    self.expand(arg(1))
                } else if raw.len() > 2 {
                    self.expand(arg(2))
                } else {
                    String::new()
                }
            }
            "or" => {
                for a in &raw {
                    let v = self.expand(a);
                    if !v.trim().is_empty() {
                        return v;
                    }
                }
                String::new()
            }
            "and" => {
                let mut last = String::new();
                for a in &raw {
                    last = self.expand(a);
                    if last.trim().is_empty() {
                        return String::new();
                    }
                }
                last
            }
            "foreach" => {
                let var = self.expand(arg(0)).trim().to_string();
                let list = self.expand(arg(1));
                let body = arg(2).to_string();
                let saved = self.vars.get(&var).cloned();
                let mut parts = Vec::new();
                for w in words(&list).map(str::to_string).collect::<Vec<_>>() {
                    self.set(&var, &w, Flavor::Simple, Origin::Automatic, false);
                    parts.push(self.expand(&body));
                }
                self.restore(&var, saved);
                parts.join(" ")
            }
            "call" => {
                let fname = self.expand(arg(0)).trim().to_string();
                let values: Vec<String> = raw.iter().skip(1).map(|a| self.expand(a)).collect();
                if FUNCTIONS.contains(&fname.as_str()) {
                    self.warn(format!(
                        "$(call {fname},...) of a built-in function is not supported"
                    ));
                    return String::new();
                }
                let Some(var) = self.vars.get(&fname).cloned() else {
                    return String::new();
                };
                // Bind $(0)..$(n); hide higher-numbered parameters of an enclosing call.
                let mut saved = Vec::new();
                let mut bound = values.len();
                while self.vars.contains_key(&(bound + 1).to_string()) {
                    bound += 1;
                }
                for i in 0..=bound {
                    let key = i.to_string();
                    saved.push((key.clone(), self.vars.get(&key).cloned()));
                    let v = if i == 0 {
                        fname.clone()
                    } else {
                        values.get(i - 1).cloned().unwrap_or_default()
                    };
                    self.set(&key, &v, Flavor::Simple, Origin::Automatic, false);
                }
                let out = match var.flavor {
                    Flavor::Simple => var.value.clone(),
                    Flavor::Recursive => self.expand(&var.value),
                };
                for (key, old) in saved {
                    self.restore(&key, old);
                }
                out
            }
            "value" => {
                let n = self.expand(arg(0));
                self.vars
                    .get(n.trim())
                    .map(|v| v.value.clone())
                    .or_else(|| self.config_value(n.trim()))
                    .unwrap_or_default()
            }
            "origin" => {
                let n = self.expand(arg(0));
                let n = n.trim();
                match self.vars.get(n) {
                    Some(v) => v.origin.name().to_string(),
                    None if self.config_value(n).is_some() => "file".to_string(),
                    None => "undefined".to_string(),
                }
            }
            "flavor" => {
                let n = self.expand(arg(0));
                let n = n.trim();
                match self.vars.get(n) {
                    Some(v) if v.flavor == Flavor::Recursive => "recursive".to_string(),
                    Some(_) => "simple".to_string(),
                    None if self.config_value(n).is_some() => "simple".to_string(),
                    None => "undefined".to_string(),
                }
            }
            "eval" => {
                let text = self.expand(arg(0));
                let line = self.line;
                let in_rule = self.in_rule;
                self.run_text(&text, line, true);
                self.line = line;
                self.in_rule = in_rule || self.in_rule;
                String::new()
            }
            "shell" => {
                self.warn(format!(
                    "$(shell {}) is not run while planning; it expands to nothing",
                    shorten(arg(0).trim())
                ));
                String::new()
            }
            "info" => {
                let _ = self.expand(arg(0));
                String::new()
            }
            "warning" => {
                let msg = self.expand(arg(0));
                self.warn(format!("$(warning): {}", msg.trim()));
                String::new()
            }
            "error" => {
                let msg = self.expand(arg(0));
                self.warn(format!("$(error) would stop make: {}", msg.trim()));
                String::new()
            }
            "file" => {
                self.warn("$(file ...) is not run while planning; it expands to nothing");
                String::new()
            }
            other => {
                self.warn(format!(
                    "$({other} ...) is not supported; it expands to nothing"
                ));
                String::new()
            }
        }
    }

    fn restore(&mut self, name: &str, saved: Option<Var>) {
        match saved {
            Some(v) => {
                self.vars.insert(name.to_string(), v);
            }
            None => {
                self.vars.remove(name);
            }
        }
    }
}

/// Names `export` with no arguments exports (Make skips names that are not shell identifiers).
fn is_exportable_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !n.as_bytes()[0].is_ascii_digit()
}

/// `a` then `b` with one space between (no space when `a` is empty).
fn join_appended(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a} {b}")
    }
}

/// `ifeq(a,b)` written without a space: split the keyword from its parenthesis.
fn split_conditional_paren<'a>(word: &'a str, rest: &'a str, line: &'a str) -> (&'a str, &'a str) {
    for kw in ["ifeq", "ifneq"] {
        if word.len() > kw.len() && word.starts_with(kw) && word[kw.len()..].starts_with('(') {
            let start = line.find(kw).map_or(0, |p| p + kw.len());
            return (&word[..kw.len()], line[start..].trim());
        }
    }
    (word, rest)
}

/// The two arguments of `ifeq`, as written: `(a,b)` or two quoted strings. In the parenthesised
/// form GNU Make drops whitespace before the comma and after it, and keeps the rest.
fn parse_ifeq_args(rest: &str) -> Option<(String, String)> {
    let rest = rest.trim();
    let b = rest.as_bytes();
    if b.first() == Some(&b'(') {
        let mut depth = 0usize;
        let mut comma = None;
        let mut close = None;
        for (i, &c) in b.iter().enumerate() {
            match c {
                b'(' | b'{' => depth += 1,
                b')' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                b',' if depth == 1 && comma.is_none() => comma = Some(i),
                _ => {}
            }
        }
        let (comma, close) = (comma?, close?);
        if !rest[close + 1..].trim().is_empty() {
            return None;
        }
        let a = rest[1..comma].trim_end();
        let b = rest[comma + 1..close].trim_start();
        return Some((a.to_string(), b.to_string()));
    }
    let quoted = |s: &str| -> Option<(String, usize)> {
        let q = s.chars().next()?;
        if q != '"' && q != '\'' {
            return None;
        }
        let end = s[1..].find(q)? + 1;
        Some((s[1..end].to_string(), end + 1))
    };
    let (a, used) = quoted(rest)?;
    let tail = rest[used..].trim_start();
    let (b, used2) = quoted(tail)?;
    if !tail[used2..].trim().is_empty() {
        return None;
    }
    Some((a, b))
}

/// `define NAME op`: the name and the assignment flavour.
fn parse_define_op(rest: &str) -> Option<(String, AssignOp)> {
    let rest = rest.trim();
    for (tok, op) in [
        (":::=", AssignOp::Simple),
        ("::=", AssignOp::Simple),
        (":=", AssignOp::Simple),
        ("+=", AssignOp::Append),
        ("?=", AssignOp::Conditional),
        ("!=", AssignOp::Shell),
        ("=", AssignOp::Recursive),
    ] {
        if let Some(name) = rest.strip_suffix(tok) {
            return Some((name.trim().to_string(), op));
        }
    }
    None
}

/// `VAR:from=to` at the top level of a reference.
fn split_subst_ref(inner: &str) -> Option<(&str, &str, &str)> {
    let b = inner.as_bytes();
    let mut depth = 0usize;
    let mut colon = None;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && colon.is_none() => colon = Some(i),
            b'=' if depth == 0 => {
                if let Some(c) = colon {
                    return Some((&inner[..c], &inner[c + 1..i], &inner[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// A line or command shortened for a warning.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
