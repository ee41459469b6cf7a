//! Unevaluated strings (`$var` references and text) and the variable scopes they are evaluated in.
//!
//! Ninja's evaluation rules, which the manifest parser follows:
//! - a top-level `name = value` is evaluated immediately, in the current file's scope;
//! - `include` shares the including file's scope, `subninja` gets a child scope (it sees the parent's
//!   variables and rules, its own definitions stay inside);
//! - a `build` statement's own variables are evaluated immediately in the enclosing scope, and its
//!   paths in the edge's scope (its own variables, then the enclosing scopes);
//! - rule variables (`command`, `depfile`, ...) are evaluated lazily, per edge, when asked for: they
//!   see `$in`/`$out`, the edge's variables, the other rule variables, then the enclosing scopes.

use super::hash::FastMap;

/// A piece of an [`EvalString`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Var(String),
}

/// A piece of a string as the lexer reads it, borrowed from the file: text (escapes already
/// resolved) or a variable reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// A string with `$var` references not yet evaluated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalString {
    pieces: Vec<Piece>,
}

impl EvalString {
    /// An owned copy of lexer pieces (adjacent text merged).
    pub fn from_toks(toks: &[Tok<'_>]) -> EvalString {
        let mut e = EvalString::default();
        for t in toks {
            match t {
                Tok::Text(s) => e.add_text(s),
                Tok::Var(v) => e.add_var(v),
            }
        }
        e
    }

    pub fn add_text(&mut self, text: &str) {
        if let Some(Piece::Text(last)) = self.pieces.last_mut() {
            last.push_str(text);
        } else {
            self.pieces.push(Piece::Text(text.to_string()));
        }
    }

    pub fn add_var(&mut self, name: &str) {
        self.pieces.push(Piece::Var(name.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn clear(&mut self) {
        self.pieces.clear();
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The text, when there are no variable references in it.
    pub fn as_plain(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// Evaluate, looking variables up with `lookup` (which appends a variable's value to the string
    /// it is given).
    pub fn evaluate_with<E>(
        &self,
        out: &mut String,
        mut lookup: impl FnMut(&str, &mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => lookup(v, out)?,
            }
        }
        Ok(())
    }

    /// Ninja's debugging form: `[text][$var]`.
    pub fn serialize(&self) -> String {
        let mut s = String::new();
        for piece in &self.pieces {
            s.push('[');
            match piece {
                Piece::Text(t) => s.push_str(t),
                Piece::Var(v) => {
                    s.push('$');
                    s.push_str(v);
                }
            }
            s.push(']');
        }
        s
    }

    /// Back to manifest syntax, with `${var}` references (text is not re-escaped).
    pub fn unparse(&self) -> String {
        let mut s = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => s.push_str(t),
                Piece::Var(v) => {
                    s.push_str("${");
                    s.push_str(v);
                    s.push('}');
                }
            }
        }
        s
    }
}

/// Index of a [`Scope`] in a manifest. The root (the top-level file's) scope is `ScopeId(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId(pub u32);

impl ScopeId {
    pub const ROOT: ScopeId = ScopeId(0);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a [`Rule`](super::manifest::Rule) in a manifest. `RuleId(0)` is the built-in `phony`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

impl RuleId {
    pub const PHONY: RuleId = RuleId(0);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A variable and rule scope: the top-level file with its `include`s, or a `subninja`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub parent: Option<ScopeId>,
    pub(crate) vars: FastMap<String, String>,
    pub(crate) rules: FastMap<String, RuleId>,
}

impl Scope {
    /// A variable defined in this scope itself.
    pub fn own_var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The variables defined in this scope itself.
    pub fn own_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A rule defined in this scope itself.
    pub fn own_rule(&self, name: &str) -> Option<RuleId> {
        self.rules.get(name).copied()
    }
}
