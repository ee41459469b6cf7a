//! `build.ninja`: the parser and the build graph it produces.
//!
//! [`Manifest::load`] reads a manifest the way `ninja -C <dir>` does: `include` and `subninja`
//! paths are relative to the build directory (Ninja's working directory), not to the including
//! file. Paths are canonicalised exactly like Ninja does ([`super::canon::canonicalize`]), so a
//! [`Node`] is one file *as Ninja sees it*; [`super::canon::Normalizer`] goes one step further and
//! recognises an absolute and a relative name of the same file.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::canon::{canonicalize, is_canonical};
use super::eval::{EvalString, Piece, RuleId, Scope, ScopeId, Tok};
use super::hash::FastMap;
use super::lexer::{Lexer, ParseError, Token};

/// Index of a [`Node`] in its [`Manifest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of an [`Edge`] in its [`Manifest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeId(pub u32);

impl EdgeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a [`Pool`]. `PoolId(0)` is the default pool, `PoolId(1)` the built-in `console`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolId(pub u32);

impl PoolId {
    pub const DEFAULT: PoolId = PoolId(0);
    pub const CONSOLE: PoolId = PoolId(1);
}

/// A file (or a phony name) of the build graph.
#[derive(Debug, Clone)]
pub struct Node {
    path: Arc<str>,
    in_edge: Option<EdgeId>,
    out_edges: Vec<EdgeId>,
    validation_out_edges: Vec<EdgeId>,
    pub(crate) dyndep_pending: bool,
    pub(crate) generated_by_dep_loader: bool,
}

impl Node {
    /// The canonical path, as Ninja names the node (relative to the build directory, or absolute).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The edge that produces this node, if any.
    pub fn in_edge(&self) -> Option<EdgeId> {
        self.in_edge
    }

    /// The edges that use this node as an input of any kind.
    pub fn out_edges(&self) -> &[EdgeId] {
        &self.out_edges
    }

    /// The edges that name this node as a validation (`|@`).
    pub fn validation_out_edges(&self) -> &[EdgeId] {
        &self.validation_out_edges
    }

    pub(crate) fn clear_in_edge(&mut self) {
        self.in_edge = None;
    }

    /// Whether the node only exists because a deps log or depfile mentioned it.
    pub fn generated_by_dep_loader(&self) -> bool {
        self.generated_by_dep_loader
    }
}

/// A `rule`: its name and its (unevaluated) variables.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    bindings: Vec<(String, EvalString)>,
}

impl Rule {
    /// The variables a rule may set (Ninja rejects any other).
    pub const RESERVED: [&'static str; 11] = [
        "command",
        "depfile",
        "dyndep",
        "description",
        "deps",
        "generator",
        "pool",
        "restat",
        "rspfile",
        "rspfile_content",
        "msvc_deps_prefix",
    ];

    pub fn is_reserved_binding(name: &str) -> bool {
        Self::RESERVED.contains(&name)
    }

    /// The unevaluated value of one of the rule's variables.
    pub fn binding(&self, name: &str) -> Option<&EvalString> {
        self.bindings
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn bindings(&self) -> impl Iterator<Item = (&str, &EvalString)> {
        self.bindings.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn set(&mut self, name: &str, value: EvalString) {
        if let Some(slot) = self.bindings.iter_mut().find(|(k, _)| k == name) {
            slot.1 = value;
        } else {
            self.bindings.push((name.to_string(), value));
        }
    }
}

/// A `pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub depth: u32,
}

/// A `build` statement.
#[derive(Debug, Clone)]
pub struct Edge {
    pub rule: RuleId,
    pub pool: PoolId,
    /// The scope the statement appears in.
    pub scope: ScopeId,
    /// Whether the statement has its own variables (Ninja then gives it a scope of its own; without
    /// any, variables of the enclosing scope take precedence over the rule's, as in Ninja).
    own_env: bool,
    /// The edge's own variables: a range of [`Manifest`]'s variable store.
    bindings: Range<u32>,
    /// Explicit outputs, then implicit ones.
    pub outputs: Vec<NodeId>,
    pub implicit_outs: usize,
    /// Explicit inputs, then implicit ones (including deps loaded later), then order-only ones.
    pub inputs: Vec<NodeId>,
    pub implicit_deps: usize,
    pub order_only_deps: usize,
    pub validations: Vec<NodeId>,
    /// The `dyndep` file, when the edge has one.
    pub dyndep: Option<NodeId>,
    /// Set when a loaded dyndep file said `restat = 1` for this edge.
    pub dyndep_restat: bool,
    /// A phony edge the deps loader invented for a dependency no statement produces.
    pub generated_by_dep_loader: bool,
}

impl Edge {
    pub fn explicit_inputs(&self) -> &[NodeId] {
        &self.inputs[..self.inputs.len() - self.implicit_deps - self.order_only_deps]
    }

    /// Explicit and implicit inputs: the ones whose changes make the edge dirty.
    pub fn non_order_only_inputs(&self) -> &[NodeId] {
        &self.inputs[..self.inputs.len() - self.order_only_deps]
    }

    pub fn implicit_inputs(&self) -> &[NodeId] {
        let n = self.inputs.len();
        &self.inputs[n - self.implicit_deps - self.order_only_deps..n - self.order_only_deps]
    }

    pub fn order_only_inputs(&self) -> &[NodeId] {
        &self.inputs[self.inputs.len() - self.order_only_deps..]
    }

    pub fn is_order_only(&self, index: usize) -> bool {
        index >= self.inputs.len() - self.order_only_deps
    }

    pub fn explicit_outputs(&self) -> &[NodeId] {
        &self.outputs[..self.outputs.len() - self.implicit_outs]
    }

    pub fn is_phony(&self) -> bool {
        self.rule == RuleId::PHONY
    }

    /// Ninja's heuristic for the self-referencing phony edges old CMake versions wrote.
    fn maybe_phonycycle_diagnostic(&self) -> bool {
        self.is_phony()
            && self.outputs.len() == 1
            && self.implicit_outs == 0
            && self.implicit_deps == 0
    }
}

/// How `$in` and `$out` are spelled in an evaluated variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Quoted for `/bin/sh` where needed, as in commands.
    Shell,
    /// As they are, as in `depfile` and `rspfile` paths.
    None,
}

/// Evaluating a rule variable failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cycle in rule variables: {0}")]
pub struct VariableCycle(pub String);

/// Parser options; the defaults are Ninja's.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// Two statements producing the same output is an error (`-w dupbuild=err`, the default since
    /// Ninja 1.9 and the only choice since 1.12). With `false` the later statement loses the output.
    pub dupe_edges_are_errors: bool,
    /// A phony statement naming itself as an input is an error (`-w phonycycle=err`). By default it
    /// is tolerated and the self-reference dropped, as Ninja does for old CMake output.
    pub phony_cycles_are_errors: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            dupe_edges_are_errors: true,
            phony_cycles_are_errors: false,
        }
    }
}

/// Where the parser gets file contents from.
pub trait FileReader {
    /// Read a file named as in the manifest (relative to the build directory, or absolute).
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>>;
}

/// Files on disk, relative paths resolved against the build directory.
pub struct DiskReader {
    pub dir: PathBuf,
}

impl FileReader for DiskReader {
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.dir.join(path))
    }
}

/// Files held in memory, for tests and for manifests that do not live on disk.
#[derive(Debug, Default, Clone)]
pub struct MemoryReader {
    pub files: FastMap<String, Vec<u8>>,
}

impl MemoryReader {
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> MemoryReader {
        MemoryReader {
            files: files
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        }
    }
}

impl FileReader for MemoryReader {
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

/// Ninja's wording for a failed read ("No such file or directory", without " (os error 2)").
pub(crate) fn io_message(e: &io::Error) -> String {
    if let Some(code) = e.raw_os_error() {
        let s = e.to_string();
        let suffix = format!(" (os error {code})");
        return s.strip_suffix(&suffix).unwrap_or(&s).to_string();
    }
    match e.kind() {
        io::ErrorKind::NotFound => "No such file or directory".to_string(),
        _ => e.to_string(),
    }
}

/// A parsed build manifest: nodes, edges, rules, pools, scopes and default targets.
#[derive(Debug, Clone)]
pub struct Manifest {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    rules: Vec<Rule>,
    pools: Vec<Pool>,
    scopes: Vec<Scope>,
    defaults: Vec<NodeId>,
    paths: FastMap<Arc<str>, NodeId>,
    /// Edge variables: (key, value range in `var_text`), edges own contiguous ranges.
    vars: Vec<(u32, Range<u32>)>,
    var_keys: Vec<Box<str>>,
    var_key_ids: FastMap<Box<str>, u32>,
    var_text: String,
    files: Vec<String>,
    required_version: Option<String>,
    warnings: Vec<String>,
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

impl Manifest {
    /// An empty graph with Ninja's built-ins: the `phony` rule and the `console` pool.
    pub fn new() -> Manifest {
        let mut root = Scope::default();
        root.rules.insert("phony".to_string(), RuleId::PHONY);
        Manifest {
            nodes: Vec::new(),
            edges: Vec::new(),
            rules: vec![Rule {
                name: "phony".to_string(),
                bindings: Vec::new(),
            }],
            pools: vec![
                Pool {
                    name: String::new(),
                    depth: 0,
                },
                Pool {
                    name: "console".to_string(),
                    depth: 1,
                },
            ],
            scopes: vec![root],
            defaults: Vec::new(),
            paths: FastMap::default(),
            vars: Vec::new(),
            var_keys: Vec::new(),
            var_key_ids: FastMap::default(),
            var_text: String::new(),
            files: Vec::new(),
            required_version: None,
            warnings: Vec::new(),
        }
    }

    /// Load `build.ninja` from `build_dir`, as `ninja -C build_dir` does.
    pub fn load(build_dir: &Path) -> Result<Manifest, ParseError> {
        Self::load_file(build_dir, "build.ninja", ParseOptions::default())
    }

    /// Load `file` (relative to `build_dir`, like `ninja -C build_dir -f file`).
    pub fn load_file(
        build_dir: &Path,
        file: &str,
        options: ParseOptions,
    ) -> Result<Manifest, ParseError> {
        let mut reader = DiskReader {
            dir: build_dir.to_path_buf(),
        };
        Self::parse(&mut reader, file, options)
    }

    /// Parse `file` and everything it includes, reading through `reader`.
    pub fn parse(
        reader: &mut dyn FileReader,
        file: &str,
        options: ParseOptions,
    ) -> Result<Manifest, ParseError> {
        let contents = reader.read(file).map_err(|e| ParseError {
            file: file.to_string(),
            line: 0,
            column: None,
            message: format!("loading '{file}': {}", io_message(&e)),
            context: String::new(),
        })?;
        let mut parser = Parser {
            m: Manifest::new(),
            reader,
            options,
        };
        parser.parse_file(file, &contents, ScopeId::ROOT)?;
        Ok(parser.m)
    }

    /// Parse manifest text held in memory (no `include`s unless `reader` provides them).
    pub fn parse_str(text: &str) -> Result<Manifest, ParseError> {
        let mut reader = MemoryReader::new([("build.ninja", text)]);
        Self::parse(&mut reader, "build.ninja", ParseOptions::default())
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    pub fn edge(&self, id: EdgeId) -> &Edge {
        &self.edges[id.index()]
    }

    pub fn edge_ids(&self) -> impl Iterator<Item = EdgeId> + use<> {
        (0..self.edges.len() as u32).map(EdgeId)
    }

    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.index()]
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn scope(&self, id: ScopeId) -> &Scope {
        &self.scopes[id.index()]
    }

    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    pub fn pool(&self, id: PoolId) -> &Pool {
        &self.pools[id.0 as usize]
    }

    /// The manifest files read, the top-level one first, in the order they were read.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// `ninja_required_version`, when the manifest sets it.
    pub fn required_version(&self) -> Option<&str> {
        self.required_version.as_deref()
    }

    /// What Ninja would have printed as warnings while loading.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The node with exactly this (canonical) path.
    pub fn lookup(&self, canonical_path: &str) -> Option<NodeId> {
        self.paths.get(canonical_path).copied()
    }

    /// The node for a path as a user would type it (canonicalised first).
    pub fn find(&self, path: &str) -> Option<NodeId> {
        self.lookup(&canonicalize(path))
    }

    /// An edge's own variables (`build ...` followed by indented `name = value` lines), evaluated,
    /// in the order written (a repeated name: the last one counts).
    pub fn edge_own_bindings(&self, edge: EdgeId) -> impl Iterator<Item = (&str, &str)> {
        let r = self.edges[edge.index()].bindings.clone();
        self.vars[r.start as usize..r.end as usize]
            .iter()
            .map(|(k, v)| {
                (
                    &*self.var_keys[*k as usize],
                    &self.var_text[v.start as usize..v.end as usize],
                )
            })
    }

    fn own_binding(&self, edge: &Edge, name: &str) -> Option<&str> {
        let r = edge.bindings.clone();
        self.vars[r.start as usize..r.end as usize]
            .iter()
            .rev()
            .find(|(k, _)| &*self.var_keys[*k as usize] == name)
            .map(|(_, v)| &self.var_text[v.start as usize..v.end as usize])
    }

    /// A top-level variable (root scope).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.scopes[0].own_var(name)
    }

    /// A variable as seen from `scope`, looking through enclosing scopes.
    pub fn lookup_var(&self, scope: ScopeId, name: &str) -> Option<&str> {
        let mut s = Some(scope);
        while let Some(id) = s {
            let sc = &self.scopes[id.index()];
            if let Some(v) = sc.vars.get(name) {
                return Some(v);
            }
            s = sc.parent;
        }
        None
    }

    /// A rule as seen from `scope`.
    pub fn lookup_rule(&self, scope: ScopeId, name: &str) -> Option<RuleId> {
        let mut s = Some(scope);
        while let Some(id) = s {
            let sc = &self.scopes[id.index()];
            if let Some(r) = sc.rules.get(name) {
                return Some(*r);
            }
            s = sc.parent;
        }
        None
    }

    /// The `default` targets, in order.
    pub fn defaults(&self) -> &[NodeId] {
        &self.defaults
    }

    /// Nodes produced by an edge that no edge uses: what `ninja` builds without `default`.
    pub fn root_nodes(&self) -> Vec<NodeId> {
        let mut roots = Vec::new();
        for edge in &self.edges {
            for &out in &edge.outputs {
                if self.nodes[out.index()].out_edges.is_empty() {
                    roots.push(out);
                }
            }
        }
        roots
    }

    /// What a plain `ninja` builds: the defaults, or else the root nodes.
    pub fn default_targets(&self) -> Vec<NodeId> {
        if self.defaults.is_empty() {
            self.root_nodes()
        } else {
            self.defaults.clone()
        }
    }

    pub(crate) fn nodes_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.index()]
    }

    pub(crate) fn edges_mut(&mut self, id: EdgeId) -> &mut Edge {
        &mut self.edges[id.index()]
    }

    /// The node for a canonical path, created if new.
    pub(crate) fn get_node(&mut self, canonical_path: &str) -> NodeId {
        if let Some(&id) = self.paths.get(canonical_path) {
            return id;
        }
        self.new_node(canonical_path.into())
    }

    fn new_node(&mut self, path: Arc<str>) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.paths.insert(path.clone(), id);
        self.nodes.push(Node {
            path,
            in_edge: None,
            out_edges: Vec::new(),
            validation_out_edges: Vec::new(),
            dyndep_pending: false,
            generated_by_dep_loader: true,
        });
        id
    }

    /// Add `node` as an implicit input of `edge` (before its order-only inputs).
    pub(crate) fn add_implicit_input(&mut self, edge: EdgeId, node: NodeId) {
        let e = &mut self.edges[edge.index()];
        let at = e.inputs.len() - e.order_only_deps;
        e.inputs.insert(at, node);
        e.implicit_deps += 1;
        self.nodes[node.index()].out_edges.push(edge);
    }

    /// Add `node` as an implicit output of `edge`; fails if another edge produces it.
    pub(crate) fn add_implicit_output(&mut self, edge: EdgeId, node: NodeId) -> Result<(), String> {
        if self.nodes[node.index()].in_edge.is_some() {
            return Err(format!(
                "multiple rules generate {}",
                self.nodes[node.index()].path
            ));
        }
        self.nodes[node.index()].in_edge = Some(edge);
        let e = &mut self.edges[edge.index()];
        e.outputs.push(node);
        e.implicit_outs += 1;
        Ok(())
    }

    /// Give `node` a phony producer if it has none, as Ninja does for dependencies it discovers.
    pub(crate) fn create_phony_in_edge(&mut self, node: NodeId) {
        if self.nodes[node.index()].in_edge.is_some() {
            return;
        }
        let id = EdgeId(self.edges.len() as u32);
        self.edges.push(Edge {
            rule: RuleId::PHONY,
            pool: PoolId::DEFAULT,
            scope: ScopeId::ROOT,
            own_env: false,
            bindings: 0..0,
            outputs: vec![node],
            implicit_outs: 0,
            inputs: Vec::new(),
            implicit_deps: 0,
            order_only_deps: 0,
            validations: Vec::new(),
            dyndep: None,
            dyndep_restat: false,
            generated_by_dep_loader: true,
        });
        self.nodes[node.index()].in_edge = Some(id);
    }

    // ---- Evaluating an edge's variables ----

    /// The value of a variable for an edge, as Ninja computes it for `command` and friends:
    /// `$in`/`$out` (shell-escaped per `escape`), the edge's variables, the rule's variables
    /// (evaluated lazily, in this same environment), then the enclosing scopes.
    pub fn edge_var(
        &self,
        edge: EdgeId,
        name: &str,
        escape: Escape,
    ) -> Result<String, VariableCycle> {
        let mut out = String::new();
        let mut env = EdgeEnv {
            m: self,
            edge: &self.edges[edge.index()],
            escape,
            lookups: Vec::new(),
            recursive: false,
        };
        env.lookup(name, &mut out)?;
        Ok(out)
    }

    /// [`Manifest::edge_var`] with shell escaping, as `Edge::GetBinding`.
    pub fn edge_binding(&self, edge: EdgeId, name: &str) -> Result<String, VariableCycle> {
        self.edge_var(edge, name, Escape::Shell)
    }

    /// Whether a variable is set to a non-empty value (`generator`, `restat`...).
    pub fn edge_bool(&self, edge: EdgeId, name: &str) -> Result<bool, VariableCycle> {
        Ok(!self.edge_binding(edge, name)?.is_empty())
    }

    /// The command, with `;rspfile=<content>` appended when `incl_rsp_file` and the edge has
    /// `rspfile_content`: the text whose hash `.ninja_log` records.
    pub fn edge_command(&self, edge: EdgeId, incl_rsp_file: bool) -> Result<String, VariableCycle> {
        let mut command = self.edge_binding(edge, "command")?;
        if incl_rsp_file {
            let content = self.edge_binding(edge, "rspfile_content")?;
            if !content.is_empty() {
                command.push_str(";rspfile=");
                command.push_str(&content);
            }
        }
        Ok(command)
    }

    /// The depfile path (unescaped), empty if none.
    pub fn edge_depfile(&self, edge: EdgeId) -> Result<String, VariableCycle> {
        self.edge_var(edge, "depfile", Escape::None)
    }

    /// The rspfile path (unescaped), empty if none.
    pub fn edge_rspfile(&self, edge: EdgeId) -> Result<String, VariableCycle> {
        self.edge_var(edge, "rspfile", Escape::None)
    }

    /// The dyndep path (unescaped), empty if none.
    pub fn edge_dyndep_path(&self, edge: EdgeId) -> Result<String, VariableCycle> {
        self.edge_var(edge, "dyndep", Escape::None)
    }

    /// Evaluate lexer pieces in a plain scope (no edge).
    fn eval_in_scope(&self, toks: &[Tok<'_>], scope: ScopeId, out: &mut String) {
        for t in toks {
            match *t {
                Tok::Text(t) => out.push_str(t),
                Tok::Var(name) => {
                    if let Some(v) = self.lookup_var(scope, name) {
                        out.push_str(v);
                    }
                }
            }
        }
    }

    /// Evaluate a path of a `build` line: the edge's own variables, then the scope chain.
    fn eval_in_edge_scope(&self, toks: &[Tok<'_>], edge: &Edge, out: &mut String) {
        for t in toks {
            match *t {
                Tok::Text(t) => out.push_str(t),
                Tok::Var(name) => {
                    if let Some(v) = self.own_binding(edge, name) {
                        out.push_str(v);
                    } else if let Some(v) = self.lookup_var(edge.scope, name) {
                        out.push_str(v);
                    }
                }
            }
        }
    }

    fn intern_var_key(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.var_key_ids.get(key) {
            return id;
        }
        let id = self.var_keys.len() as u32;
        self.var_keys.push(key.into());
        self.var_key_ids.insert(key.into(), id);
        id
    }
}

/// Ninja's `EdgeEnv`: the environment a rule variable is evaluated in.
struct EdgeEnv<'a> {
    m: &'a Manifest,
    edge: &'a Edge,
    escape: Escape,
    lookups: Vec<&'a str>,
    recursive: bool,
}

impl<'a> EdgeEnv<'a> {
    fn lookup(&mut self, var: &str, out: &mut String) -> Result<(), VariableCycle> {
        if var == "in" || var == "in_newline" {
            let sep = if var == "in" { ' ' } else { '\n' };
            self.path_list(self.edge.explicit_inputs(), sep, out);
            return Ok(());
        }
        if var == "out" {
            self.path_list(self.edge.explicit_outputs(), ' ', out);
            return Ok(());
        }
        let rule = &self.m.rules[self.edge.rule.index()];
        // Look the name up in the rule to get a `'a` reference for the lookup stack.
        let entry = rule.bindings.iter().find(|(k, _)| k == var);
        if self.recursive && self.lookups.contains(&var) {
            let start = self.lookups.iter().position(|v| *v == var).unwrap_or(0);
            let mut cycle = String::new();
            for v in &self.lookups[start..] {
                cycle.push_str(v);
                cycle.push_str(" -> ");
            }
            cycle.push_str(var);
            return Err(VariableCycle(cycle));
        }
        let record = self.recursive && entry.is_some();
        if let Some((name, _)) = entry
            && record
        {
            self.lookups.push(name.as_str());
        }
        self.recursive = true;
        let result = self.lookup_with_fallback(var, entry.map(|(_, v)| v), out);
        if record {
            self.lookups.pop();
        }
        result
    }

    fn lookup_with_fallback(
        &mut self,
        var: &str,
        eval: Option<&'a EvalString>,
        out: &mut String,
    ) -> Result<(), VariableCycle> {
        let edge = self.edge;
        let m = self.m;
        // The edge's environment: its own scope if it has variables, else the enclosing scope.
        let parent = if edge.own_env {
            if let Some(v) = m.own_binding(edge, var) {
                out.push_str(v);
                return Ok(());
            }
            Some(edge.scope)
        } else {
            let scope = &m.scopes[edge.scope.index()];
            if let Some(v) = scope.vars.get(var) {
                out.push_str(v);
                return Ok(());
            }
            scope.parent
        };
        if let Some(eval) = eval {
            for piece in eval.pieces() {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Var(v) => self.lookup(v, out)?,
                }
            }
            return Ok(());
        }
        if let Some(p) = parent
            && let Some(v) = m.lookup_var(p, var)
        {
            out.push_str(v);
        }
        Ok(())
    }

    fn path_list(&self, nodes: &[NodeId], sep: char, out: &mut String) {
        for (i, n) in nodes.iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            let path = self.m.nodes[n.index()].path();
            match self.escape {
                Escape::Shell => shell_escape_into(path, out),
                Escape::None => out.push_str(path),
            }
        }
    }
}

/// Quote `s` for `/bin/sh` the way Ninja does: unchanged if it only has `[A-Za-z0-9_+-./]`, else
/// in single quotes with `'` written as `'\''`.
pub fn shell_escape_into(s: &str, out: &mut String) {
    let safe = s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'+' | b'-' | b'.' | b'/'));
    if safe {
        out.push_str(s);
        return;
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
}

/// Parse `major.minor` the way Ninja's `ParseVersion` does (missing parts are 0).
pub(crate) fn parse_version(v: &str) -> (u32, u32) {
    let mut parts = v.split('.');
    let num = |s: Option<&str>| -> u32 {
        s.map(|s| {
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().unwrap_or(0)
        })
        .unwrap_or(0)
    };
    let major = num(parts.next());
    let minor = num(parts.next());
    (major, minor)
}

struct Parser<'r> {
    m: Manifest,
    reader: &'r mut dyn FileReader,
    options: ParseOptions,
}

/// Reusable buffers for one file's statements.
struct Scratch<'a> {
    toks: Vec<Tok<'a>>,
    /// Token ranges of the paths of the current `build` line.
    spans: Vec<Range<usize>>,
    path: String,
}

impl<'a> Scratch<'a> {
    fn new() -> Scratch<'a> {
        Scratch {
            toks: Vec::new(),
            spans: Vec::new(),
            path: String::new(),
        }
    }

    /// Read paths until there are no more, recording their token ranges.
    fn read_paths(&mut self, lexer: &mut Lexer<'a>) -> Result<(), ParseError> {
        loop {
            let start = self.toks.len();
            if !lexer.read_path(&mut self.toks)? {
                return Ok(());
            }
            self.spans.push(start..self.toks.len());
        }
    }
}

impl Parser<'_> {
    fn parse_file(
        &mut self,
        filename: &str,
        contents: &[u8],
        scope: ScopeId,
    ) -> Result<(), ParseError> {
        self.m.files.push(filename.to_string());
        // Ninja works on bytes; paths that are not UTF-8 are replaced rather than refused.
        let text = match std::str::from_utf8(contents) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(contents),
        };
        let mut lexer = Lexer::new(filename, &text);
        let mut scratch = Scratch::new();
        loop {
            let token = lexer.read_token();
            match token {
                Token::Pool => self.parse_pool(&mut lexer, scope)?,
                Token::Build => self.parse_edge(&mut lexer, scope, &mut scratch)?,
                Token::Rule => self.parse_rule(&mut lexer, scope)?,
                Token::Default => self.parse_default(&mut lexer, scope)?,
                Token::Ident => {
                    lexer.unread_token();
                    let mut toks = Vec::new();
                    let name = parse_let(&mut lexer, &mut toks)?;
                    let mut evaluated = String::new();
                    self.m.eval_in_scope(&toks, scope, &mut evaluated);
                    if name == "ninja_required_version" {
                        self.m.required_version = Some(evaluated.clone());
                    }
                    self.m.scopes[scope.index()]
                        .vars
                        .insert(name.to_string(), evaluated);
                }
                Token::Include => self.parse_include(&mut lexer, scope, false)?,
                Token::Subninja => self.parse_include(&mut lexer, scope, true)?,
                Token::Error => return Err(lexer.error(lexer.describe_last_error())),
                Token::Eof => return Ok(()),
                Token::Newline => {}
                other => return Err(lexer.error(format!("unexpected {}", other.name()))),
            }
        }
    }

    fn parse_pool(&mut self, lexer: &mut Lexer<'_>, scope: ScopeId) -> Result<(), ParseError> {
        let Some(name) = lexer.read_ident() else {
            return Err(lexer.error("expected pool name"));
        };
        expect_token(lexer, Token::Newline)?;
        if self.m.pools.iter().any(|p| p.name == name) {
            return Err(lexer.error(format!("duplicate pool '{name}'")));
        }
        let mut depth: Option<i64> = None;
        while lexer.peek_token(Token::Indent) {
            let mut toks = Vec::new();
            let key = parse_let(lexer, &mut toks)?;
            if key == "depth" {
                let mut s = String::new();
                self.m.eval_in_scope(&toks, scope, &mut s);
                let d = atol(&s);
                if d < 0 {
                    return Err(lexer.error("invalid pool depth"));
                }
                depth = Some(d);
            } else {
                return Err(lexer.error(format!("unexpected variable '{key}'")));
            }
        }
        let Some(depth) = depth else {
            return Err(lexer.error("expected 'depth =' line"));
        };
        self.m.pools.push(Pool {
            name: name.to_string(),
            depth: depth.min(u32::MAX as i64) as u32,
        });
        Ok(())
    }

    fn parse_rule(&mut self, lexer: &mut Lexer<'_>, scope: ScopeId) -> Result<(), ParseError> {
        let Some(name) = lexer.read_ident() else {
            return Err(lexer.error("expected rule name"));
        };
        expect_token(lexer, Token::Newline)?;
        if self.m.scopes[scope.index()].rules.contains_key(name) {
            return Err(lexer.error(format!("duplicate rule '{name}'")));
        }
        let mut rule = Rule {
            name: name.to_string(),
            bindings: Vec::new(),
        };
        while lexer.peek_token(Token::Indent) {
            let mut toks = Vec::new();
            let key = parse_let(lexer, &mut toks)?;
            if Rule::is_reserved_binding(key) {
                rule.set(key, EvalString::from_toks(&toks));
            } else {
                return Err(lexer.error(format!("unexpected variable '{key}'")));
            }
        }
        let empty = |k: &str| rule.binding(k).is_none_or(EvalString::is_empty);
        if empty("rspfile") != empty("rspfile_content") {
            return Err(lexer.error("rspfile and rspfile_content need to be both specified"));
        }
        if empty("command") {
            return Err(lexer.error("expected 'command =' line"));
        }
        let id = RuleId(self.m.rules.len() as u32);
        self.m.rules.push(rule);
        self.m.scopes[scope.index()]
            .rules
            .insert(name.to_string(), id);
        Ok(())
    }

    fn parse_default(&mut self, lexer: &mut Lexer<'_>, scope: ScopeId) -> Result<(), ParseError> {
        let mut toks = Vec::new();
        if !lexer.read_path(&mut toks)? {
            return Err(lexer.error("expected target name"));
        }
        loop {
            let mut path = String::new();
            self.m.eval_in_scope(&toks, scope, &mut path);
            if path.is_empty() {
                return Err(lexer.error("empty path"));
            }
            let path = canonicalize(&path);
            match self.m.lookup(&path) {
                Some(node) => self.m.defaults.push(node),
                None => return Err(lexer.error(format!("unknown target '{path}'"))),
            }
            toks.clear();
            if !lexer.read_path(&mut toks)? {
                break;
            }
        }
        expect_token(lexer, Token::Newline)
    }

    /// Evaluate the path at `span` for `edge` into `scratch.path`, canonicalised. False if empty.
    fn eval_path(&self, edge: &Edge, scratch: &mut Scratch<'_>, span: Range<usize>) -> bool {
        let toks = &scratch.toks[span];
        scratch.path.clear();
        if let [Tok::Text(t)] = toks {
            scratch.path.push_str(t);
        } else if edge.own_env {
            self.m.eval_in_edge_scope(toks, edge, &mut scratch.path);
        } else {
            self.m.eval_in_scope(toks, edge.scope, &mut scratch.path);
        }
        if scratch.path.is_empty() {
            return false;
        }
        if !is_canonical(&scratch.path) {
            scratch.path = canonicalize(&scratch.path);
        }
        true
    }

    fn parse_edge<'a>(
        &mut self,
        lexer: &mut Lexer<'a>,
        scope: ScopeId,
        scratch: &mut Scratch<'a>,
    ) -> Result<(), ParseError> {
        scratch.toks.clear();
        scratch.spans.clear();
        scratch.read_paths(lexer)?;
        let explicit_outs = scratch.spans.len();
        if lexer.peek_token(Token::Pipe) {
            scratch.read_paths(lexer)?;
        }
        let n_outs = scratch.spans.len();
        let mut implicit_outs = n_outs - explicit_outs;
        if n_outs == 0 {
            return Err(lexer.error("expected path"));
        }
        expect_token(lexer, Token::Colon)?;
        let Some(rule_name) = lexer.read_ident() else {
            return Err(lexer.error("expected build command name"));
        };
        let Some(rule) = self.m.lookup_rule(scope, rule_name) else {
            return Err(lexer.error(format!("unknown build rule '{rule_name}'")));
        };

        scratch.read_paths(lexer)?;
        let explicit = scratch.spans.len() - n_outs;
        if lexer.peek_token(Token::Pipe) {
            scratch.read_paths(lexer)?;
        }
        let implicit = scratch.spans.len() - n_outs - explicit;
        if lexer.peek_token(Token::Pipe2) {
            scratch.read_paths(lexer)?;
        }
        let n_ins = scratch.spans.len() - n_outs;
        let order_only = n_ins - explicit - implicit;
        if lexer.peek_token(Token::PipeAt) {
            scratch.read_paths(lexer)?;
        }
        let n_validations = scratch.spans.len() - n_outs - n_ins;
        expect_token(lexer, Token::Newline)?;

        // The edge's own variables, evaluated in the enclosing scope.
        let vars_start = self.m.vars.len() as u32;
        let own_env = lexer.peek_token(Token::Indent);
        let mut has_indent = own_env;
        let mut value_toks = Vec::new();
        while has_indent {
            value_toks.clear();
            let key = parse_let(lexer, &mut value_toks)?;
            let key = self.m.intern_var_key(key);
            scratch.path.clear();
            self.m.eval_in_scope(&value_toks, scope, &mut scratch.path);
            let start = self.m.var_text.len() as u32;
            self.m.var_text.push_str(&scratch.path);
            let end = self.m.var_text.len() as u32;
            self.m.vars.push((key, start..end));
            has_indent = lexer.peek_token(Token::Indent);
        }
        let vars_end = self.m.vars.len() as u32;

        let edge_id = EdgeId(self.m.edges.len() as u32);
        self.m.edges.push(Edge {
            rule,
            pool: PoolId::DEFAULT,
            scope,
            own_env,
            bindings: vars_start..vars_end,
            outputs: Vec::new(),
            implicit_outs: 0,
            inputs: Vec::new(),
            implicit_deps: 0,
            order_only_deps: 0,
            validations: Vec::new(),
            dyndep: None,
            dyndep_restat: false,
            generated_by_dep_loader: false,
        });

        // `pool` is looked up before the edge has inputs and outputs, as in Ninja.
        let pool_name = self
            .m
            .edge_binding(edge_id, "pool")
            .map_err(|e| lexer.error(e.to_string()))?;
        // Taken out while its paths are added (the manifest is borrowed for evaluation).
        let mut edge = self.m.edges.pop().expect("just pushed");
        if !pool_name.is_empty() {
            match self.m.pools.iter().position(|p| p.name == pool_name) {
                Some(i) => edge.pool = PoolId(i as u32),
                None => return Err(lexer.error(format!("unknown pool name '{pool_name}'"))),
            }
        }
        edge.outputs.reserve_exact(n_outs);
        edge.inputs.reserve_exact(n_ins);
        edge.validations.reserve_exact(n_validations);

        for i in 0..n_outs {
            if !self.eval_path(&edge, scratch, scratch.spans[i].clone()) {
                return Err(lexer.error("empty path"));
            }
            let node = self.m.get_node(&scratch.path);
            let n = &mut self.m.nodes[node.index()];
            n.generated_by_dep_loader = false;
            if let Some(other) = n.in_edge {
                if self.options.dupe_edges_are_errors {
                    let msg = if other == edge_id {
                        format!("{} is defined as an output multiple times", n.path)
                    } else {
                        format!("multiple rules generate {}", n.path)
                    };
                    return Err(lexer.error(msg));
                }
                let msg = format!(
                    "multiple rules generate {}. builds involving this target will not be correct; continuing anyway",
                    n.path
                );
                self.m.warnings.push(msg);
                if i >= explicit_outs {
                    implicit_outs -= 1;
                }
                continue;
            }
            n.in_edge = Some(edge_id);
            edge.outputs.push(node);
        }
        if edge.outputs.is_empty() {
            // Every output is produced by an earlier statement: the edge is dropped.
            return Ok(());
        }

        for i in n_outs..n_outs + n_ins {
            if !self.eval_path(&edge, scratch, scratch.spans[i].clone()) {
                return Err(lexer.error("empty path"));
            }
            let node = self.m.get_node(&scratch.path);
            let n = &mut self.m.nodes[node.index()];
            n.generated_by_dep_loader = false;
            n.out_edges.push(edge_id);
            edge.inputs.push(node);
        }
        for i in n_outs + n_ins..scratch.spans.len() {
            if !self.eval_path(&edge, scratch, scratch.spans[i].clone()) {
                return Err(lexer.error("empty path"));
            }
            let node = self.m.get_node(&scratch.path);
            let n = &mut self.m.nodes[node.index()];
            n.generated_by_dep_loader = false;
            n.validation_out_edges.push(edge_id);
            edge.validations.push(node);
        }
        edge.implicit_outs = implicit_outs;
        edge.implicit_deps = implicit;
        edge.order_only_deps = order_only;

        if !self.options.phony_cycles_are_errors && edge.maybe_phonycycle_diagnostic() {
            let out = edge.outputs[0];
            let before = edge.inputs.len();
            edge.inputs.retain(|&n| n != out);
            if edge.inputs.len() != before {
                let path = self.m.nodes[out.index()].path.to_string();
                self.m.warnings.push(format!(
                    "phony target '{path}' names itself as an input; ignoring [-w phonycycle=warn]"
                ));
            }
        }
        self.m.edges.push(edge);

        let dyndep = self
            .m
            .edge_dyndep_path(edge_id)
            .map_err(|e| lexer.error(e.to_string()))?;
        if !dyndep.is_empty() {
            let dyndep = canonicalize(&dyndep);
            let node = self.m.get_node(&dyndep);
            self.m.nodes[node.index()].dyndep_pending = true;
            let edge = &mut self.m.edges[edge_id.index()];
            edge.dyndep = Some(node);
            if !edge.inputs.contains(&node) {
                return Err(lexer.error(format!("dyndep '{dyndep}' is not an input")));
            }
        }
        Ok(())
    }

    fn parse_include(
        &mut self,
        lexer: &mut Lexer<'_>,
        scope: ScopeId,
        new_scope: bool,
    ) -> Result<(), ParseError> {
        let mut toks = Vec::new();
        lexer.read_path(&mut toks)?;
        let mut path = String::new();
        self.m.eval_in_scope(&toks, scope, &mut path);
        let contents = match self.reader.read(&path) {
            Ok(c) => c,
            Err(e) => {
                return Err(lexer.error(format!("loading '{path}': {}", io_message(&e))));
            }
        };
        let sub_scope = if new_scope {
            let id = ScopeId(self.m.scopes.len() as u32);
            self.m.scopes.push(Scope {
                parent: Some(scope),
                ..Scope::default()
            });
            id
        } else {
            scope
        };
        self.parse_file(&path, &contents, sub_scope)?;
        expect_token(lexer, Token::Newline)
    }
}

/// C's `atol`: leading spaces, an optional sign, digits; anything else ends the number.
fn atol(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg { -n } else { n }
}

/// `name = value`: returns the name, appends the value's pieces to `value`.
pub(crate) fn parse_let<'a>(
    lexer: &mut Lexer<'a>,
    value: &mut Vec<Tok<'a>>,
) -> Result<&'a str, ParseError> {
    let Some(key) = lexer.read_ident() else {
        return Err(lexer.error("expected variable name"));
    };
    expect_token(lexer, Token::Equals)?;
    lexer.read_var_value(value)?;
    Ok(key)
}

pub(crate) fn expect_token(lexer: &mut Lexer<'_>, expected: Token) -> Result<(), ParseError> {
    let token = lexer.read_token();
    if token != expected {
        return Err(lexer.error(format!(
            "expected {}, got {}{}",
            expected.name(),
            token.name(),
            expected.error_hint()
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
