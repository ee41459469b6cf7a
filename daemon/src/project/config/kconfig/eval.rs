//! Symbol values, computed as kconfiglib computes them (esp-idf-kconfig's `Symbol.str_value` and
//! `bool_value`), lazily and memoized, so that a symbol's value is computed once from the values of
//! what it depends on.
//!
//! Bool (non-choice): a visible symbol's user value wins; otherwise the first default whose condition
//! holds, raised by an `imply` whose target's dependencies hold; a `select` then forces `y`. A choice
//! member is `y` when the choice is visible and selects it. String: `set` values, then the user value
//! while visible, then `set default`, then the first default that applies. Int and hex: the same, with
//! user values outside the active `range` ignored and the result clamped to it (clamping rewrites it
//! as `str()`/`hex()` would). "Written" follows kconfiglib's `_write_to_conf`: visible symbols, and
//! invisible ones that an active default (with a non-`n` value for a bool), select, imply or set gave
//! a value.

use std::path::Path;
use std::sync::Arc;

use super::parse::RelOp;
use super::{ChoiceId, E, ExprId, Loc, SymId, TreeData, UserValues};
use crate::project::config::{ConfigValue, ConfigWarning, SymbolType, pyfmt};

/// Deeper than this, a chain of symbol values is taken for a dependency loop.
const MAX_DEPTH: usize = 4000;

/// Why a symbol has its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource {
    /// A user value from the layer with this index (see [`super::KconfigTree::user_values`]).
    User { layer: usize },
    /// A `# default:` value of that layer, standing in for the Kconfig defaults.
    LayerDefault { layer: usize },
    /// The first `default` whose condition held.
    Default { file: Arc<Path>, line: u32 },
    /// A `select` forced it to `y`.
    Select { file: Arc<Path>, line: u32 },
    /// An `imply` raised it to `y`.
    Imply { file: Arc<Path>, line: u32 },
    /// A `set` or `set default` gave it.
    Set { file: Arc<Path>, line: u32 },
    /// The choice it belongs to selected it (or another member): the choice's `default`, or the choice
    /// itself when its first visible member was taken.
    Choice { file: Arc<Path>, line: u32 },
    /// Nothing: Kconfig's "no value".
    None,
}

/// The computed value of one defined symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolValue {
    pub name: Arc<str>,
    /// `None` for a symbol defined without a type.
    pub ty: Option<SymbolType>,
    /// The value as kconfiglib keeps it: `y`/`n`, numbers as written, the raw string.
    pub text: String,
    /// kconfgen writes the symbol to sdkconfig, sdkconfig.json and sdkconfig.cmake.
    pub written: bool,
    pub source: ValueSource,
}

impl SymbolValue {
    /// The typed value (`None` for an int/hex/float without a valid value, or an untyped symbol).
    pub fn value(&self) -> Option<ConfigValue> {
        ConfigValue::from_kconfig_text(self.ty?, &self.text)
    }

    /// What `CONFIG_<NAME>` holds in CMake after including kconfgen's `sdkconfig.cmake`: `None` when
    /// the symbol is not written (the variable is undefined).
    pub fn cmake_value(&self) -> Option<String> {
        if !self.written {
            return None;
        }
        Some(cmake_text(self.ty?, &self.text))
    }

    /// The line kconfgen writes for it in an sdkconfig (`None` when not written).
    pub fn sdkconfig_line(&self) -> Option<String> {
        if !self.written {
            return None;
        }
        Some(match self.ty? {
            SymbolType::Bool if self.text == "n" => format!("# CONFIG_{} is not set", self.name),
            SymbolType::String => format!(
                "CONFIG_{}=\"{}\"",
                self.name,
                crate::project::config::escape_string(&self.text)
            ),
            _ => format!("CONFIG_{}={}", self.name, self.text),
        })
    }
}

/// The text kconfgen's `write_cmake` puts between the quotes of `set(CONFIG_X "...")`, unescaped:
/// `y` or empty for a bool, `hex(int(v, 16))` for a hex, the value itself otherwise.
pub fn cmake_text(ty: SymbolType, text: &str) -> String {
    match ty {
        SymbolType::Bool => {
            if text == "n" {
                String::new()
            } else {
                text.to_string()
            }
        }
        SymbolType::Hex => match pyfmt::py_int(text, 16) {
            Some(v) => pyfmt::py_hex(v),
            None => text.to_string(),
        },
        _ => text.to_string(),
    }
}

/// Every defined symbol's value.
#[derive(Debug, Clone)]
pub struct Evaluation {
    data: Arc<TreeData>,
    values: Vec<Option<SymbolValue>>,
    warnings: Vec<ConfigWarning>,
}

impl Evaluation {
    pub fn get(&self, name: &str) -> Option<&SymbolValue> {
        let id = self.data.lookup(crate::project::config::bare_name(name))?;
        self.values.get(id as usize)?.as_ref()
    }

    /// Defined symbols in definition order.
    pub fn iter(&self) -> impl Iterator<Item = &SymbolValue> {
        self.data
            .order
            .iter()
            .filter_map(|&id| self.values[id as usize].as_ref())
    }

    /// Dependency loops met while evaluating.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The assignments kconfgen would write to sdkconfig, in order, without comments.
    pub fn sdkconfig_lines(&self) -> Vec<String> {
        self.iter()
            .filter_map(SymbolValue::sdkconfig_line)
            .collect()
    }
}

#[derive(Clone)]
enum Slot<T> {
    Todo,
    Busy,
    Done(T),
}

#[derive(Clone)]
struct Computed {
    text: Arc<str>,
    /// 0 or 2.
    bool_val: u8,
    written: bool,
    source: ValueSource,
}

struct Ev<'a> {
    data: &'a TreeData,
    user: &'a UserValues,
    syms: Vec<Slot<Computed>>,
    vis: Vec<Slot<u8>>,
    choice_vis: Vec<Slot<u8>>,
    selection: Vec<Slot<Option<(SymId, ValueSource)>>>,
    depth: usize,
    warnings: Vec<ConfigWarning>,
    warned_loop: std::collections::HashSet<SymId>,
}

pub fn evaluate(data: Arc<TreeData>, user: &UserValues) -> Evaluation {
    // Deep dependency chains recurse deeply: evaluate on a thread with room for them.
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("kconfig-eval".into())
            .stack_size(256 << 20)
            .spawn_scoped(scope, || evaluate_here(data.clone(), user));
        match handle {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => evaluate_here(data.clone(), user),
        }
    })
}

fn evaluate_here(data: Arc<TreeData>, user: &UserValues) -> Evaluation {
    let n = data.syms.len();
    let mut ev = Ev {
        data: &data,
        user,
        syms: vec![Slot::Todo; n],
        vis: vec![Slot::Todo; n],
        choice_vis: vec![Slot::Todo; data.choices.len()],
        selection: vec![Slot::Todo; data.choices.len()],
        depth: 0,
        warnings: Vec::new(),
        warned_loop: Default::default(),
    };
    let mut values: Vec<Option<SymbolValue>> = vec![None; n];
    for &id in &data.order {
        let c = ev.sym(id);
        let sym = &data.syms[id as usize];
        values[id as usize] = Some(SymbolValue {
            name: sym.name.clone(),
            ty: sym.ty,
            text: c.text.to_string(),
            written: c.written,
            source: c.source,
        });
    }
    let warnings = ev.warnings;
    Evaluation {
        data: data.clone(),
        values,
        warnings,
    }
}

fn loc_source(data: &TreeData, loc: Loc, make: fn(Arc<Path>, u32) -> ValueSource) -> ValueSource {
    make(data.file(loc).clone(), loc.line)
}

enum Num {
    I(i128),
    F(f64),
}

impl<'a> Ev<'a> {
    fn loop_warning(&mut self, id: SymId) {
        if self.warned_loop.insert(id) {
            let sym = &self.data.syms[id as usize];
            let (file, line) = sym
                .nodes
                .first()
                .map(|n| (self.data.file(n.loc).to_path_buf(), n.loc.line))
                .unwrap_or_default();
            self.warnings.push(ConfigWarning::new(
                file,
                line,
                format!(
                    "dependency loop involving {}: its value is taken as unset",
                    sym.name
                ),
            ));
        }
    }

    // ---- expressions ----

    fn expr(&mut self, e: ExprId) -> u8 {
        match &self.data.exprs[e as usize] {
            E::Y => 2,
            E::N => 0,
            E::Const(_) => 0,
            E::Sym(id) => self.bool_value(*id),
            E::Choice(c) => self.choice_mode(*c),
            E::Not(a) => 2 - self.expr(*a),
            E::And(a, b) => {
                let (a, b) = (*a, *b);
                let l = self.expr(a);
                if l == 0 { 0 } else { l.min(self.expr(b)) }
            }
            E::Or(a, b) => {
                let (a, b) = (*a, *b);
                let l = self.expr(a);
                if l == 2 { 2 } else { l.max(self.expr(b)) }
            }
            E::Rel(op, a, b) => {
                let (op, a, b) = (*op, *a, *b);
                self.relation(op, a, b)
            }
        }
    }

    /// The type of a leaf, as kconfiglib's `orig_type`: `y`/`n` are bools, other constants and
    /// undefined symbols have none.
    fn leaf_type(&self, e: ExprId) -> Option<SymbolType> {
        match &self.data.exprs[e as usize] {
            E::Y | E::N => Some(SymbolType::Bool),
            E::Sym(id) => {
                let s = &self.data.syms[*id as usize];
                if s.defined() { s.ty } else { None }
            }
            E::Choice(_) => Some(SymbolType::Bool),
            _ => None,
        }
    }

    fn num(&mut self, e: ExprId) -> Option<Num> {
        let ty = self.leaf_type(e);
        if ty == Some(SymbolType::Bool) {
            return Some(Num::I(self.expr(e) as i128));
        }
        let s = self.str_value(e);
        let base = match ty {
            Some(SymbolType::Hex) => 16,
            Some(SymbolType::Int) => 10,
            _ => 0,
        };
        if let Some(i) = pyfmt::py_int(&s, base) {
            return Some(Num::I(i));
        }
        pyfmt::py_float(&s).map(Num::F)
    }

    fn relation(&mut self, op: RelOp, a: ExprId, b: ExprId) -> u8 {
        let both_strings = self.leaf_type(a) == Some(SymbolType::String)
            && self.leaf_type(b) == Some(SymbolType::String);
        // None: the numbers differ by NaN, which Python finds unequal and neither less nor greater.
        let ord: Option<std::cmp::Ordering> = if both_strings {
            Some(self.str_value(a).cmp(&self.str_value(b)))
        } else {
            match (self.num(a), self.num(b)) {
                (Some(Num::I(x)), Some(Num::I(y))) => Some(x.cmp(&y)),
                (Some(x), Some(y)) => {
                    let f = |n: Num| match n {
                        Num::I(i) => i as f64,
                        Num::F(f) => f,
                    };
                    (f(x) - f(y)).partial_cmp(&0.0)
                }
                _ => Some(self.str_value(a).cmp(&self.str_value(b))),
            }
        };
        use std::cmp::Ordering::*;
        let truth = match ord {
            None => op == RelOp::Ne,
            Some(o) => match op {
                RelOp::Eq => o == Equal,
                RelOp::Ne => o != Equal,
                RelOp::Lt => o == Less,
                RelOp::Le => o != Greater,
                RelOp::Gt => o == Greater,
                RelOp::Ge => o != Less,
            },
        };
        if truth { 2 } else { 0 }
    }

    /// The string value of an expression used as a value (defaults of non-bool symbols, range
    /// limits, relation operands).
    fn str_value(&mut self, e: ExprId) -> Arc<str> {
        match &self.data.exprs[e as usize] {
            E::Y => Arc::from("y"),
            E::N => Arc::from("n"),
            E::Const(s) => s.clone(),
            E::Sym(id) => {
                let id = *id;
                let s = &self.data.syms[id as usize];
                if !s.defined() || s.ty.is_none() {
                    return s.name.clone();
                }
                self.sym(id).text
            }
            _ => {
                // An expression where a single symbol was expected: take its truth value.
                if self.expr(e) == 2 {
                    Arc::from("y")
                } else {
                    Arc::from("n")
                }
            }
        }
    }

    // ---- visibility and choices ----

    fn sym_visibility(&mut self, id: SymId) -> u8 {
        match &self.vis[id as usize] {
            Slot::Done(v) => return *v,
            Slot::Busy => {
                self.loop_warning(id);
                return 0;
            }
            Slot::Todo => {}
        }
        self.vis[id as usize] = Slot::Busy;
        let mut v = 0;
        let data = self.data;
        for node in &data.syms[id as usize].nodes {
            if let Some(p) = node.prompt {
                v = v.max(self.expr(p));
                if v == 2 {
                    break;
                }
            }
        }
        self.vis[id as usize] = Slot::Done(v);
        v
    }

    /// A choice's mode: its visibility (esp-idf-kconfig has no `n` mode for a visible choice).
    fn choice_mode(&mut self, c: ChoiceId) -> u8 {
        match &self.choice_vis[c as usize] {
            Slot::Done(v) => return *v,
            Slot::Busy => return 0,
            Slot::Todo => {}
        }
        self.choice_vis[c as usize] = Slot::Busy;
        let mut v = 0;
        let data = self.data;
        for (prompt, _, _) in &data.choices[c as usize].nodes {
            if let Some(p) = prompt {
                v = v.max(self.expr(*p));
            }
        }
        self.choice_vis[c as usize] = Slot::Done(v);
        v
    }

    fn selection(&mut self, c: ChoiceId) -> Option<(SymId, ValueSource)> {
        match &self.selection[c as usize] {
            Slot::Done(v) => return v.clone(),
            Slot::Busy => return None,
            Slot::Todo => {}
        }
        self.selection[c as usize] = Slot::Busy;
        let result = self.compute_selection(c);
        self.selection[c as usize] = Slot::Done(result.clone());
        result
    }

    fn compute_selection(&mut self, c: ChoiceId) -> Option<(SymId, ValueSource)> {
        if self.choice_mode(c) != 2 {
            return None;
        }
        if let Some(&(s, layer)) = self.user.selection.get(&c)
            && self.sym_visibility(s) != 0
        {
            return Some((s, ValueSource::User { layer }));
        }
        if let Some(&(s, layer)) = self.user.injected_selection.get(&c)
            && self.sym_visibility(s) != 0
        {
            return Some((s, ValueSource::LayerDefault { layer }));
        }
        let data = self.data;
        let choice = &data.choices[c as usize];
        for &(s, cond, loc) in &choice.defaults {
            if self.expr(cond) != 0 && self.sym_visibility(s) != 0 {
                return Some((
                    s,
                    loc_source(data, loc, |file, line| ValueSource::Choice { file, line }),
                ));
            }
        }
        for &s in &choice.syms {
            if self.sym_visibility(s) != 0 {
                let loc = choice.nodes[0].2;
                return Some((
                    s,
                    loc_source(data, loc, |file, line| ValueSource::Choice { file, line }),
                ));
            }
        }
        None
    }

    // ---- symbols ----

    fn bool_value(&mut self, id: SymId) -> u8 {
        let s = &self.data.syms[id as usize];
        if !s.defined() || s.ty != Some(SymbolType::Bool) {
            return 0;
        }
        self.sym(id).bool_val
    }

    fn sym(&mut self, id: SymId) -> Computed {
        match &self.syms[id as usize] {
            Slot::Done(c) => return c.clone(),
            Slot::Busy => {
                self.loop_warning(id);
                return Computed {
                    text: Arc::from(""),
                    bool_val: 0,
                    written: false,
                    source: ValueSource::None,
                };
            }
            Slot::Todo => {}
        }
        if self.depth >= MAX_DEPTH {
            self.loop_warning(id);
            return Computed {
                text: Arc::from(""),
                bool_val: 0,
                written: false,
                source: ValueSource::None,
            };
        }
        self.syms[id as usize] = Slot::Busy;
        self.depth += 1;
        let c = self.compute(id);
        self.depth -= 1;
        self.syms[id as usize] = Slot::Done(c.clone());
        c
    }

    /// The first term of an OR list that holds, with its location.
    fn first_true(&mut self, terms: &[(ExprId, Loc)]) -> Option<Loc> {
        for &(t, loc) in terms {
            if self.expr(t) == 2 {
                return Some(loc);
            }
        }
        None
    }

    /// The defaults in force: a layer's `# default:` value while the symbol is visible, else the
    /// Kconfig ones. Each as (value text or expression, condition, source).
    fn injected(&mut self, id: SymId, vis: u8) -> Option<(String, usize)> {
        if vis == 0 {
            return None;
        }
        self.user.injected.get(&id).cloned()
    }

    /// The AND of a symbol's node dependencies: the condition of an injected default.
    fn node_deps(&mut self, id: SymId) -> u8 {
        let data = self.data;
        let mut v = 2;
        for node in &data.syms[id as usize].nodes {
            v = v.min(self.expr(node.dep));
            if v == 0 {
                break;
            }
        }
        v
    }

    fn compute(&mut self, id: SymId) -> Computed {
        let data = self.data;
        let sym = &data.syms[id as usize];
        let Some(ty) = sym.ty else {
            return Computed {
                text: sym.name.clone(),
                bool_val: 0,
                written: false,
                source: ValueSource::None,
            };
        };
        let vis = self.sym_visibility(id);
        let mut written = vis != 0;
        let mut source = ValueSource::None;

        if ty == SymbolType::Bool {
            let mut val: u8 = 0;
            if let Some(choice) = sym.choice {
                if vis == 2 {
                    let sel = self.selection(choice);
                    if let Some((s, src)) = sel {
                        val = if s == id { 2 } else { 0 };
                        source = src;
                    }
                }
            } else {
                let user = if vis != 0 {
                    self.user.user.get(&id)
                } else {
                    None
                };
                if let Some((text, layer)) = user {
                    val = if text == "y" { vis } else { 0 };
                    source = ValueSource::User { layer: *layer };
                } else {
                    if let Some((text, layer)) = self.injected(id, vis) {
                        let dv = self.node_deps(id);
                        if dv != 0 {
                            val = if text == "y" { dv } else { 0 };
                            if val != 0 {
                                written = true;
                            }
                            source = ValueSource::LayerDefault { layer };
                        }
                    } else {
                        for &(v, cond, loc) in &sym.defaults {
                            let dv = self.expr(cond);
                            if dv != 0 {
                                val = self.expr(v).min(dv);
                                if val != 0 {
                                    written = true;
                                }
                                source = loc_source(data, loc, |file, line| ValueSource::Default {
                                    file,
                                    line,
                                });
                                break;
                            }
                        }
                    }
                    if let Some(loc) = self.first_true(&sym.weak_rev_dep)
                        && self.expr(sym.direct_dep) != 0
                    {
                        if val < 2 {
                            source = loc_source(data, loc, |file, line| ValueSource::Imply {
                                file,
                                line,
                            });
                        }
                        val = 2;
                        written = true;
                    }
                }
                if let Some(loc) = self.first_true(&sym.rev_dep) {
                    if val < 2 {
                        source =
                            loc_source(data, loc, |file, line| ValueSource::Select { file, line });
                    }
                    val = 2;
                    written = true;
                }
            }
            return Computed {
                text: Arc::from(if val == 2 { "y" } else { "n" }),
                bool_val: val,
                written,
                source,
            };
        }

        let mut val = String::new();
        match ty {
            SymbolType::String => {
                let mut indirect = false;
                for &(v, cond, loc) in &sym.rev_values {
                    if self.expr(cond) != 0 {
                        val = self.str_value(v).to_string();
                        written = true;
                        indirect = true;
                        source =
                            loc_source(data, loc, |file, line| ValueSource::Set { file, line });
                        break;
                    }
                }
                if !indirect {
                    let user = if vis != 0 {
                        self.user.user.get(&id)
                    } else {
                        None
                    };
                    if let Some((text, layer)) = user {
                        val = text.clone();
                        source = ValueSource::User { layer: *layer };
                    } else {
                        for &(v, cond, loc) in &sym.weak_rev_values {
                            if self.expr(cond) != 0 && self.expr(sym.direct_dep) != 0 {
                                val = self.str_value(v).to_string();
                                written = true;
                                source = loc_source(data, loc, |file, line| ValueSource::Set {
                                    file,
                                    line,
                                });
                                break;
                            }
                        }
                        if val.is_empty() {
                            if let Some((text, layer)) = self.injected(id, vis) {
                                if self.node_deps(id) != 0 {
                                    val = text;
                                    written = true;
                                    source = ValueSource::LayerDefault { layer };
                                }
                            } else {
                                for &(v, cond, loc) in &sym.defaults {
                                    if self.expr(cond) != 0 {
                                        val = self.str_value(v).to_string();
                                        written = true;
                                        source = loc_source(data, loc, |file, line| {
                                            ValueSource::Default { file, line }
                                        });
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            SymbolType::Int | SymbolType::Hex => {
                let base = if ty == SymbolType::Hex { 16 } else { 10 };
                let fmt = |n: i128| {
                    if base == 10 {
                        n.to_string()
                    } else {
                        pyfmt::py_hex(n)
                    }
                };
                let mut range: Option<(i128, i128)> = None;
                for &(lo, hi, cond) in &sym.ranges {
                    if self.expr(cond) != 0 {
                        let lo = pyfmt::py_int(&self.str_value(lo), base).unwrap_or(0);
                        let hi = pyfmt::py_int(&self.str_value(hi), base).unwrap_or(0);
                        range = Some((lo, hi));
                        break;
                    }
                }
                let mut num: i128 = 0;
                let mut indirect = false;
                for &(v, cond, loc) in &sym.rev_values {
                    if self.expr(cond) != 0 {
                        let name = self.leaf_name(v);
                        if let Some(n) = pyfmt::py_int(&name, base) {
                            val = name;
                            num = n;
                            written = true;
                            indirect = true;
                            source =
                                loc_source(data, loc, |file, line| ValueSource::Set { file, line });
                        }
                        break;
                    }
                }
                let mut use_defaults = !indirect;
                if vis != 0
                    && !indirect
                    && let Some((text, layer)) = self.user.user.get(&id)
                    && !text.is_empty()
                {
                    let user_val = pyfmt::py_int(text, base).unwrap_or(0);
                    let in_range = range.is_none_or(|(lo, hi)| lo <= user_val && user_val <= hi);
                    if in_range {
                        val = text.clone();
                        num = user_val;
                        use_defaults = false;
                        source = ValueSource::User { layer: *layer };
                    }
                }
                if use_defaults {
                    for &(v, cond, loc) in &sym.weak_rev_values {
                        if self.expr(cond) != 0 && self.expr(sym.direct_dep) != 0 {
                            let name = self.leaf_name(v);
                            if let Some(n) = pyfmt::py_int(&name, base) {
                                val = name;
                                num = n;
                                written = true;
                                source = loc_source(data, loc, |file, line| ValueSource::Set {
                                    file,
                                    line,
                                });
                            }
                            break;
                        }
                    }
                    if val.is_empty() {
                        let mut has_default = false;
                        if let Some((text, layer)) = self.injected(id, vis) {
                            if self.node_deps(id) != 0 {
                                val = text;
                                has_default = true;
                                source = ValueSource::LayerDefault { layer };
                            }
                        } else {
                            for &(v, cond, loc) in &sym.defaults {
                                if self.expr(cond) != 0 {
                                    val = self.str_value(v).to_string();
                                    has_default = true;
                                    source = loc_source(data, loc, |file, line| {
                                        ValueSource::Default { file, line }
                                    });
                                    break;
                                }
                            }
                        }
                        if has_default {
                            written = true;
                        }
                        num = pyfmt::py_int(&val, base).unwrap_or(0);
                    }
                }
                if let Some((lo, hi)) = range {
                    let clamp = if num < lo {
                        Some(lo)
                    } else if num > hi {
                        Some(hi)
                    } else {
                        None
                    };
                    if let Some(c) = clamp {
                        val = fmt(c);
                    }
                }
            }
            SymbolType::Float => {
                let mut range: Option<(f64, f64)> = None;
                for &(lo, hi, cond) in &sym.ranges {
                    if self.expr(cond) != 0 {
                        let f =
                            |s: &str| pyfmt::py_float(s).filter(|f| f.is_finite()).unwrap_or(0.0);
                        range = Some((f(&self.str_value(lo)), f(&self.str_value(hi))));
                        break;
                    }
                }
                let finite = |s: &str| pyfmt::py_float(s).filter(|f| f.is_finite());
                let mut num = 0.0;
                let mut indirect = false;
                for &(v, cond, loc) in &sym.rev_values {
                    if self.expr(cond) != 0 {
                        let name = self.leaf_name(v);
                        if let Some(f) = finite(&name) {
                            val = pyfmt::float_repr(f);
                            num = f;
                            written = true;
                            indirect = true;
                            source =
                                loc_source(data, loc, |file, line| ValueSource::Set { file, line });
                        }
                        break;
                    }
                }
                let mut use_defaults = !indirect;
                if vis != 0
                    && !indirect
                    && let Some((text, layer)) = self.user.user.get(&id)
                {
                    let user_val = finite(text).unwrap_or(0.0);
                    if range.is_none_or(|(lo, hi)| lo <= user_val && user_val <= hi) {
                        val = text.clone();
                        num = user_val;
                        use_defaults = false;
                        source = ValueSource::User { layer: *layer };
                    }
                }
                if use_defaults {
                    for &(v, cond, loc) in &sym.weak_rev_values {
                        if self.expr(cond) != 0 && self.expr(sym.direct_dep) != 0 {
                            let name = self.leaf_name(v);
                            if let Some(f) = finite(&name) {
                                val = pyfmt::float_repr(f);
                                num = f;
                                written = true;
                                source = loc_source(data, loc, |file, line| ValueSource::Set {
                                    file,
                                    line,
                                });
                            }
                            break;
                        }
                    }
                    if val.is_empty() {
                        let mut picked: Option<(String, ValueSource)> = None;
                        if let Some((text, layer)) = self.injected(id, vis) {
                            if self.node_deps(id) != 0 {
                                picked = Some((text, ValueSource::LayerDefault { layer }));
                            }
                        } else {
                            for &(v, cond, loc) in &sym.defaults {
                                if self.expr(cond) != 0 {
                                    let s = self.str_value(v).to_string();
                                    picked = Some((
                                        s,
                                        loc_source(data, loc, |file, line| ValueSource::Default {
                                            file,
                                            line,
                                        }),
                                    ));
                                    break;
                                }
                            }
                        }
                        if let Some((s, src)) = picked {
                            val = pyfmt::py_float(&s).map(pyfmt::float_repr).unwrap_or(s);
                            num = finite(&val).unwrap_or(0.0);
                            written = true;
                            source = src;
                        }
                    }
                }
                if let Some((lo, hi)) = range {
                    if num < lo {
                        val = pyfmt::float_repr(lo);
                    } else if num > hi {
                        val = pyfmt::float_repr(hi);
                    }
                }
            }
            SymbolType::Bool => unreachable!("handled above"),
        }
        if sym.env_var {
            written = false;
        }
        Computed {
            text: Arc::from(val),
            bool_val: 0,
            written,
            source,
        }
    }

    /// The name of a leaf (kconfiglib reads `set` values by their symbol's name, not its value).
    fn leaf_name(&self, e: ExprId) -> String {
        match &self.data.exprs[e as usize] {
            E::Y => "y".into(),
            E::N => "n".into(),
            E::Const(s) => s.to_string(),
            E::Sym(id) => self.data.syms[*id as usize].name.to_string(),
            _ => String::new(),
        }
    }
}
