//! Which edges the next `ninja` would run: Ninja's dirty scan (`DependencyScan::RecomputeDirty`) and
//! plan (`Plan::AddTarget`), reproduced over a [`Manifest`], the deps log, the build log and file
//! timestamps, without running anything.
//!
//! The rules, as in Ninja:
//! - a file no edge produces is dirty when it is missing;
//! - an edge is dirty when an explicit or implicit input is dirty, when an output is missing, older
//!   than the newest input (for `restat` edges, the mtime the build log recorded counts instead),
//!   when the build log has no entry for an output or a different command hash (not for
//!   `generator` edges), when the log's recorded mtime is older than the newest input, or when its
//!   discovered dependencies (deps log or depfile) are missing or stale;
//! - order-only inputs are built first when dirty but never make the edge dirty;
//! - phony edges are dirty only without inputs and with a missing output; a phony output takes the
//!   newest mtime of its inputs;
//! - the edges that run are the dirty ones reachable from the targets through edges whose outputs
//!   are not ready; validations are targets too. If the manifest itself is out of date, Ninja
//!   regenerates it first, and a dry run (`ninja -n`) stops there.
//!
//! In a dry run `restat` never prunes anything (nothing ran), so the result here is what `ninja -n`
//! prints; a real build may skip some dependents of a `restat` edge whose output did not change.
//! [`ChangedFiles`] answers "what if these files changed": they look newer than everything.

use std::io;
use std::path::{Path, PathBuf};

use super::build_log::BuildLog;
use super::canon::{Location, Normalizer, canonicalize};
use super::depfile;
use super::deps_log::DepsLog;
use super::dyndep;
use super::hash::{FastMap, FastSet};
use super::manifest::{EdgeId, FileReader, Manifest, NodeId, VariableCycle};

/// Timestamps and contents, as Ninja sees them from the build directory.
pub trait FileSystem {
    /// Ninja's timestamp of `path` (relative to the build directory, or absolute): nanoseconds on
    /// POSIX, never 0 for an existing file; `None` when missing.
    fn stat(&self, path: &str) -> io::Result<Option<i64>>;
    /// A file's contents; `None` when missing.
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;
}

/// The real file system, relative paths resolved against the build directory.
#[derive(Debug, Clone)]
pub struct RealFileSystem {
    pub dir: PathBuf,
}

impl RealFileSystem {
    pub fn new(build_dir: &Path) -> RealFileSystem {
        RealFileSystem {
            dir: build_dir.to_path_buf(),
        }
    }
}

/// Ninja's timestamp of file metadata.
pub fn ninja_timestamp(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    if meta.mtime() == 0 {
        // Ninja keeps 0 for "missing".
        return 1;
    }
    meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
}

impl FileSystem for RealFileSystem {
    fn stat(&self, path: &str) -> io::Result<Option<i64>> {
        match std::fs::metadata(self.dir.join(path)) {
            Ok(m) => Ok(Some(ninja_timestamp(&m))),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.dir.join(path)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// Another file system where some files look changed: newer than anything else (their real
/// timestamp, or now if that is later), and existing even if they are not there.
pub struct ChangedFiles<'a> {
    base: &'a dyn FileSystem,
    normalizer: Normalizer,
    changed: FastSet<Location>,
    mtime: i64,
}

impl<'a> ChangedFiles<'a> {
    /// `paths` are relative to the build directory or absolute; absolute and relative names of one
    /// file are recognised as the same.
    pub fn new(
        base: &'a dyn FileSystem,
        build_dir: &Path,
        paths: impl IntoIterator<Item = impl AsRef<Path>>,
    ) -> ChangedFiles<'a> {
        let normalizer = Normalizer::new(build_dir);
        let changed = paths
            .into_iter()
            .map(|p| normalizer.locate(&p.as_ref().to_string_lossy()))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(1);
        ChangedFiles {
            base,
            normalizer,
            changed,
            mtime: now,
        }
    }

    /// Use this timestamp for the changed files instead of "now".
    pub fn with_mtime(mut self, mtime: i64) -> Self {
        self.mtime = mtime;
        self
    }

    /// Another name of the build directory (CMake's `cmake_ninja_workdir`).
    pub fn with_alias(mut self, alias: &Path) -> Self {
        self.normalizer.add_alias(alias);
        self
    }
}

impl FileSystem for ChangedFiles<'_> {
    fn stat(&self, path: &str) -> io::Result<Option<i64>> {
        let real = self.base.stat(path)?;
        if self.changed.contains(&self.normalizer.locate(path)) {
            return Ok(Some(real.unwrap_or(0).max(self.mtime)));
        }
        Ok(real)
    }

    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        self.base.read(path)
    }
}

/// Which Ninja the prediction is for: the build log versions it reads and its `restat` rule
/// differ between releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    pub ninja_version: (u32, u32),
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            ninja_version: (1, 11),
        }
    }
}

/// A reason the scan cannot answer (Ninja would stop with the same message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("dependency cycle: {0}")]
    Cycle(String),
    #[error("{0}")]
    MissingInput(String),
    #[error("{0}")]
    Depfile(String),
    #[error("{0}")]
    Dyndep(String),
    #[error("stat({path}): {message}")]
    Stat { path: String, message: String },
    #[error(transparent)]
    Variable(#[from] VariableCycle),
    #[error("unknown target '{0}'")]
    UnknownTarget(String),
}

/// What the next `ninja` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirtyReport {
    /// Edges that regenerate the manifest (CMake's re-run): Ninja runs these first, then reloads;
    /// `ninja -n` stops after them. Empty when the manifest is up to date.
    pub manifest_edges: Vec<EdgeId>,
    /// Non-phony edges that would run for the targets, dependencies first. When `manifest_edges`
    /// is not empty this is computed on the current manifest, before regeneration.
    pub edges: Vec<EdgeId>,
    /// Ninja's `-d explain` lines (without the `ninja explain: ` prefix), in order.
    pub explanations: Vec<String>,
    /// Things that make the prediction less certain (a build log Ninja would discard...).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Stat {
    #[default]
    Unknown,
    Missing,
    Exists,
}

#[derive(Debug, Clone, Copy, Default)]
struct NodeState {
    stat: Stat,
    mtime: i64,
    dirty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mark {
    #[default]
    None,
    InStack,
    Done,
}

#[derive(Debug, Clone, Copy, Default)]
struct EdgeState {
    mark: Mark,
    outputs_ready: bool,
    deps_loaded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Nothing,
    ToStart,
}

/// Adapts a [`FileSystem`] to the manifest's [`FileReader`] (for dyndep files).
struct FsReader<'a>(&'a dyn FileSystem);

impl FileReader for FsReader<'_> {
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        self.0
            .read(path)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

/// Ninja's dependency scan over one manifest.
pub struct DirtyScan<'a> {
    m: &'a mut Manifest,
    fs: &'a dyn FileSystem,
    deps_log: Option<&'a DepsLog>,
    build_log: Option<&'a BuildLog>,
    options: ScanOptions,
    nodes: Vec<NodeState>,
    edges: Vec<EdgeState>,
    want: FastMap<EdgeId, Want>,
    explanations: Vec<String>,
    notes: Vec<String>,
}

impl<'a> DirtyScan<'a> {
    /// `deps_log`/`build_log`: the loaded logs, `None` when the files do not exist. A log the
    /// chosen Ninja would discard counts as empty, as it would for Ninja.
    pub fn new(
        m: &'a mut Manifest,
        fs: &'a dyn FileSystem,
        deps_log: Option<&'a DepsLog>,
        build_log: Option<&'a BuildLog>,
        options: ScanOptions,
    ) -> DirtyScan<'a> {
        let mut notes = Vec::new();
        let build_log = match build_log {
            Some(log) if log.is_empty() || log.usable_by(options.ninja_version) => Some(log),
            Some(log) => {
                notes.push(format!(
                    "Ninja {}.{} would discard the build log (version {}) and rebuild everything",
                    options.ninja_version.0,
                    options.ninja_version.1,
                    log.version()
                ));
                None
            }
            None => None,
        };
        if let Some(log) = build_log
            && !log.is_empty()
            && log.hash_command("").is_none()
        {
            notes.push(
                "the build log's command hashes (rapidhash) are not computed here: changed \
                 commands are not detected"
                    .to_string(),
            );
        }
        DirtyScan {
            m,
            fs,
            deps_log,
            build_log,
            options,
            nodes: Vec::new(),
            edges: Vec::new(),
            want: FastMap::default(),
            explanations: Vec::new(),
            notes,
        }
    }

    fn explain(&mut self, s: String) {
        self.explanations.push(s);
    }

    fn grow(&mut self) {
        let (n, e) = (self.m.nodes().len(), self.m.edges().len());
        if self.nodes.len() < n {
            self.nodes.resize(n, NodeState::default());
        }
        if self.edges.len() < e {
            self.edges.resize(e, EdgeState::default());
        }
    }

    fn node(&mut self, n: NodeId) -> &mut NodeState {
        self.grow();
        &mut self.nodes[n.index()]
    }

    fn edge_state(&mut self, e: EdgeId) -> &mut EdgeState {
        self.grow();
        &mut self.edges[e.index()]
    }

    fn stat_if_necessary(&mut self, n: NodeId) -> Result<(), ScanError> {
        if self.node(n).stat != Stat::Unknown {
            return Ok(());
        }
        let path = self.m.node(n).path().to_string();
        let r = self.fs.stat(&path).map_err(|e| ScanError::Stat {
            path: path.clone(),
            message: super::manifest::io_message(&e),
        })?;
        let st = self.node(n);
        match r {
            Some(t) => {
                st.stat = Stat::Exists;
                st.mtime = t;
            }
            None => {
                st.stat = Stat::Missing;
                st.mtime = 0;
            }
        }
        Ok(())
    }

    fn exists(&mut self, n: NodeId) -> bool {
        self.node(n).stat == Stat::Exists
    }

    fn path(&self, n: NodeId) -> String {
        self.m.node(n).path().to_string()
    }

    /// `RecomputeDirty`: scan from `node`, then from the validation nodes it brings in. Returns
    /// those validation nodes.
    fn recompute_dirty(&mut self, node: NodeId) -> Result<Vec<NodeId>, ScanError> {
        let mut queue = std::collections::VecDeque::from([node]);
        let mut all_validations = Vec::new();
        while let Some(n) = queue.pop_front() {
            let mut stack = Vec::new();
            let mut validations = Vec::new();
            self.recompute_node_dirty(n, &mut stack, &mut validations)?;
            queue.extend(validations.iter().copied());
            all_validations.extend(validations);
        }
        Ok(all_validations)
    }

    fn recompute_node_dirty(
        &mut self,
        node: NodeId,
        stack: &mut Vec<NodeId>,
        validations: &mut Vec<NodeId>,
    ) -> Result<(), ScanError> {
        let Some(edge) = self.m.node(node).in_edge() else {
            if self.node(node).stat != Stat::Unknown {
                return Ok(());
            }
            self.stat_if_necessary(node)?;
            let exists = self.exists(node);
            if !exists {
                let p = self.path(node);
                self.explain(format!("{p} has no in-edge and is missing"));
            }
            self.node(node).dirty = !exists;
            return Ok(());
        };
        if self.edge_state(edge).mark == Mark::Done {
            return Ok(());
        }
        self.verify_dag(node, stack)?;
        self.edge_state(edge).mark = Mark::InStack;
        stack.push(node);

        let mut dirty = false;
        self.edge_state(edge).outputs_ready = true;

        if !self.edge_state(edge).deps_loaded
            && let Some(dd) = self.m.edge(edge).dyndep
            && self.m.node(dd).dyndep_pending
        {
            self.recompute_node_dirty(dd, stack, validations)?;
            let ready = match self.m.node(dd).in_edge() {
                None => true,
                Some(e) => self.edge_state(e).outputs_ready,
            };
            if ready {
                let p = self.path(dd);
                self.explain(format!("loading dyndep file '{p}'"));
                let mut reader = FsReader(self.fs);
                dyndep::load(self.m, dd, &mut reader).map_err(ScanError::Dyndep)?;
                self.grow();
            }
        }

        let outputs = self.m.edge(edge).outputs.clone();
        for &o in &outputs {
            self.stat_if_necessary(o)?;
        }

        if !self.edge_state(edge).deps_loaded {
            self.edge_state(edge).deps_loaded = true;
            if !self.load_deps(edge)? {
                dirty = true;
            }
        }

        validations.extend(self.m.edge(edge).validations.iter().copied());

        let mut most_recent: Option<NodeId> = None;
        let mut i = 0;
        while i < self.m.edge(edge).inputs.len() {
            let input = self.m.edge(edge).inputs[i];
            self.recompute_node_dirty(input, stack, validations)?;
            if let Some(in_edge) = self.m.node(input).in_edge()
                && !self.edge_state(in_edge).outputs_ready
            {
                self.edge_state(edge).outputs_ready = false;
            }
            if !self.m.edge(edge).is_order_only(i) {
                if self.node(input).dirty {
                    let p = self.path(input);
                    self.explain(format!("{p} is dirty"));
                    dirty = true;
                } else {
                    let t = self.node(input).mtime;
                    if most_recent.is_none_or(|m| t > self.nodes[m.index()].mtime) {
                        most_recent = Some(input);
                    }
                }
            }
            i += 1;
        }

        if !dirty {
            dirty = self.recompute_outputs_dirty(edge, most_recent)?;
        }
        if dirty {
            for &o in &self.m.edge(edge).outputs.clone() {
                self.node(o).dirty = true;
            }
        }
        let e = self.m.edge(edge);
        if dirty && !(e.is_phony() && e.inputs.is_empty()) {
            self.edge_state(edge).outputs_ready = false;
        }
        self.edge_state(edge).mark = Mark::Done;
        stack.pop();
        Ok(())
    }

    fn verify_dag(&mut self, node: NodeId, stack: &mut [NodeId]) -> Result<(), ScanError> {
        let edge = self
            .m
            .node(node)
            .in_edge()
            .expect("verify_dag needs an in-edge");
        if self.edge_state(edge).mark != Mark::InStack {
            return Ok(());
        }
        let start = stack
            .iter()
            .position(|&n| self.m.node(n).in_edge() == Some(edge))
            .unwrap_or(0);
        stack[start] = node;
        let mut msg = String::new();
        for &n in &stack[start..] {
            msg.push_str(self.m.node(n).path());
            msg.push_str(" -> ");
        }
        msg.push_str(self.m.node(stack[start]).path());
        let e = self.m.edge(edge);
        if start + 1 == stack.len()
            && e.is_phony()
            && e.outputs.len() == 1
            && e.implicit_outs == 0
            && e.implicit_deps == 0
        {
            msg.push_str(" [-w phonycycle=err]");
        }
        Err(ScanError::Cycle(msg))
    }

    fn restat(&self, edge: EdgeId) -> Result<bool, ScanError> {
        Ok(self.m.edge(edge).dyndep_restat || self.m.edge_bool(edge, "restat")?)
    }

    fn recompute_outputs_dirty(
        &mut self,
        edge: EdgeId,
        most_recent: Option<NodeId>,
    ) -> Result<bool, ScanError> {
        let command = if self.build_log.is_some() && !self.m.edge(edge).is_phony() {
            Some(self.m.edge_command(edge, true)?)
        } else {
            None
        };
        for o in self.m.edge(edge).outputs.clone() {
            if self.recompute_output_dirty(edge, most_recent, command.as_deref(), o)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn recompute_output_dirty(
        &mut self,
        edge: EdgeId,
        most_recent: Option<NodeId>,
        command: Option<&str>,
        output: NodeId,
    ) -> Result<bool, ScanError> {
        let recent_mtime = most_recent.map(|n| self.nodes[n.index()].mtime);
        let recent_path = most_recent.map(|n| self.path(n)).unwrap_or_default();
        let out_path = self.path(output);
        if self.m.edge(edge).is_phony() {
            if self.m.edge(edge).inputs.is_empty() && !self.exists(output) {
                self.explain(format!(
                    "output {out_path} of phony edge with no inputs doesn't exist"
                ));
                return Ok(true);
            }
            if let Some(t) = recent_mtime
                && !self.exists(output)
            {
                let st = self.node(output);
                st.mtime = st.mtime.max(t);
            }
            return Ok(false);
        }
        if !self.exists(output) {
            self.explain(format!("output {out_path} doesn't exist"));
            return Ok(true);
        }
        let out_mtime = self.node(output).mtime;
        let restat = self.restat(edge)?;
        let log = self.build_log;
        let mut entry = None;
        let modern = self.options.ninja_version >= (1, 12);
        if modern {
            let used_restat = restat && log.is_some() && {
                entry = log.and_then(|l| l.lookup(&out_path));
                entry.is_some()
            };
            if !used_restat
                && let Some(t) = recent_mtime
                && out_mtime < t
            {
                self.explain(format!(
                    "output {out_path} older than most recent input {recent_path} ({out_mtime} vs {t})"
                ));
                return Ok(true);
            }
        } else if let Some(t) = recent_mtime
            && out_mtime < t
        {
            let mut output_mtime = out_mtime;
            let mut used_restat = false;
            if restat
                && let Some(l) = log
                && let Some(e) = l.lookup(&out_path)
            {
                entry = Some(e);
                output_mtime = e.mtime;
                used_restat = true;
            }
            if output_mtime < t {
                let prefix = if used_restat { "restat of " } else { "" };
                self.explain(format!(
                    "{prefix}output {out_path} older than most recent input {recent_path} ({output_mtime} vs {t})"
                ));
                return Ok(true);
            }
        }
        if let Some(l) = log {
            let generator = self.m.edge_bool(edge, "generator")?;
            if entry.is_none() {
                entry = l.lookup(&out_path);
            }
            if let Some(e) = entry {
                if !generator
                    && let Some(command) = command
                    && let Some(hash) = l.hash_command(command)
                    && hash != e.command_hash
                {
                    self.explain(format!("command line changed for {out_path}"));
                    return Ok(true);
                }
                if let Some(t) = recent_mtime
                    && e.mtime < t
                {
                    self.explain(format!(
                        "recorded mtime of {out_path} older than most recent input {recent_path} ({} vs {t})",
                        e.mtime
                    ));
                    return Ok(true);
                }
            }
            if entry.is_none() && !generator {
                self.explain(format!("command line not found in log for {out_path}"));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `ImplicitDepLoader::LoadDeps`: false when the deps are missing or stale (the edge is dirty).
    fn load_deps(&mut self, edge: EdgeId) -> Result<bool, ScanError> {
        let deps_type = self.m.edge_binding(edge, "deps")?;
        if !deps_type.is_empty() {
            return Ok(self.load_deps_from_log(edge));
        }
        let depfile = self.m.edge_depfile(edge)?;
        if !depfile.is_empty() {
            return self.load_depfile(edge, &depfile);
        }
        Ok(true)
    }

    fn load_deps_from_log(&mut self, edge: EdgeId) -> bool {
        let output = self.m.edge(edge).outputs[0];
        let out_path = self.path(output);
        let Some(deps) = self.deps_log.and_then(|l| l.deps(&out_path)) else {
            self.explain(format!("deps for '{out_path}' are missing"));
            return false;
        };
        let out_mtime = self.node(output).mtime;
        if out_mtime > deps.mtime {
            self.explain(format!(
                "stored deps info out of date for '{out_path}' ({} vs {out_mtime})",
                deps.mtime
            ));
            return false;
        }
        let log = self.deps_log.expect("checked above");
        for &id in &deps.inputs {
            let node = self.m.get_node(log.path(id));
            self.m.add_implicit_input(edge, node);
            self.m.create_phony_in_edge(node);
        }
        self.grow();
        true
    }

    fn load_depfile(&mut self, edge: EdgeId, path: &str) -> Result<bool, ScanError> {
        let content = self.fs.read(path).map_err(|e| {
            ScanError::Depfile(format!(
                "loading '{path}': {}",
                super::manifest::io_message(&e)
            ))
        })?;
        let content = content.unwrap_or_default();
        if content.is_empty() {
            self.explain(format!("depfile '{path}' is missing"));
            return Ok(false);
        }
        let parsed =
            depfile::parse(&content).map_err(|e| ScanError::Depfile(format!("{path}: {e}")))?;
        let Some(primary) = parsed.outs.first() else {
            return Err(ScanError::Depfile(format!("{path}: no outputs declared")));
        };
        let primary = canonicalize(primary);
        let first_output = self.path(self.m.edge(edge).outputs[0]);
        if primary != first_output {
            self.explain(format!(
                "expected depfile '{path}' to mention '{first_output}', got '{primary}'"
            ));
            return Ok(false);
        }
        for o in &parsed.outs[1..] {
            let declared = self
                .m
                .edge(edge)
                .outputs
                .iter()
                .any(|&n| self.m.node(n).path() == o);
            if !declared {
                return Err(ScanError::Depfile(format!(
                    "{path}: depfile mentions '{o}' as an output, but no such output was declared"
                )));
            }
        }
        for input in &parsed.ins {
            let node = self.m.get_node(&canonicalize(input));
            self.m.add_implicit_input(edge, node);
            self.m.create_phony_in_edge(node);
        }
        self.grow();
        Ok(true)
    }

    /// `Plan::AddSubTarget`.
    fn add_sub_target(
        &mut self,
        node: NodeId,
        dependent: Option<NodeId>,
        order: &mut Vec<EdgeId>,
    ) -> Result<(), ScanError> {
        let Some(edge) = self.m.node(node).in_edge() else {
            if self.node(node).dirty {
                let referenced = dependent
                    .map(|d| format!(", needed by '{}',", self.path(d)))
                    .unwrap_or_default();
                return Err(ScanError::MissingInput(format!(
                    "'{}'{referenced} missing and no known rule to make it",
                    self.path(node)
                )));
            }
            return Ok(());
        };
        if self.edge_state(edge).outputs_ready {
            return Ok(());
        }
        let first = !self.want.contains_key(&edge);
        let want = *self.want.entry(edge).or_insert(Want::Nothing);
        let mut newly_wanted = false;
        if self.node(node).dirty && want == Want::Nothing {
            self.want.insert(edge, Want::ToStart);
            newly_wanted = true;
        }
        if first {
            let inputs = self.m.edge(edge).inputs.clone();
            for input in inputs {
                self.add_sub_target(input, Some(node), order)?;
            }
        }
        if newly_wanted && !self.m.edge(edge).is_phony() {
            order.push(edge);
        }
        Ok(())
    }

    /// `Builder::AddTarget` for each target.
    fn add_targets(
        &mut self,
        targets: &[NodeId],
        order: &mut Vec<EdgeId>,
    ) -> Result<(), ScanError> {
        for &t in targets {
            let validations = self.recompute_dirty(t)?;
            if let Some(e) = self.m.node(t).in_edge()
                && !self.edge_state(e).outputs_ready
            {
                self.add_sub_target(t, None, order)?;
            }
            for v in validations {
                if let Some(e) = self.m.node(v).in_edge()
                    && !self.edge_state(e).outputs_ready
                {
                    self.add_sub_target(v, None, order)?;
                }
            }
        }
        Ok(())
    }

    /// Scan: first the manifest (`manifest_file`, usually `build.ninja`), as Ninja does before
    /// anything else, then `targets` (empty: the default targets).
    pub fn run(
        mut self,
        manifest_file: &str,
        targets: &[NodeId],
    ) -> Result<DirtyReport, ScanError> {
        let mut report = DirtyReport::default();
        if let Some(node) = self.m.lookup(&canonicalize(manifest_file))
            && self.m.node(node).in_edge().is_some()
        {
            let mut order = Vec::new();
            self.add_targets(&[node], &mut order)?;
            report.manifest_edges = order;
        }
        let targets = if targets.is_empty() {
            self.m.default_targets()
        } else {
            targets.to_vec()
        };
        let mut order = Vec::new();
        self.add_targets(&targets, &mut order)?;
        report.edges = order;
        report.explanations = std::mem::take(&mut self.explanations);
        report.notes = std::mem::take(&mut self.notes);
        Ok(report)
    }
}

/// Resolve target names (as a user would type them) to nodes.
pub fn find_targets(m: &Manifest, names: &[&str]) -> Result<Vec<NodeId>, ScanError> {
    names
        .iter()
        .map(|n| {
            m.find(n)
                .ok_or_else(|| ScanError::UnknownTarget(n.to_string()))
        })
        .collect()
}

/// Everything in one call: load the manifest and logs from `build_dir`, pretend `changed` files
/// changed (none: the disk as it is), and report what `ninja <targets>` would run.
pub fn predict(
    build_dir: &Path,
    changed: &[PathBuf],
    targets: &[&str],
    options: ScanOptions,
) -> Result<(Manifest, DirtyReport), PredictError> {
    let mut m = Manifest::load(build_dir)?;
    let log_dir = match m.var("builddir") {
        Some(d) if !d.is_empty() => build_dir.join(d),
        _ => build_dir.to_path_buf(),
    };
    let deps = DepsLog::load(&log_dir.join(".ninja_deps")).map_err(PredictError::Io)?;
    let log = BuildLog::load(&log_dir.join(".ninja_log")).map_err(PredictError::Io)?;
    let real = RealFileSystem::new(build_dir);
    let mut overlay = ChangedFiles::new(&real, build_dir, changed);
    if let Some(w) = m.var("cmake_ninja_workdir") {
        overlay = overlay.with_alias(Path::new(w));
    }
    let targets = find_targets(&m, targets)?;
    let report = DirtyScan::new(&mut m, &overlay, Some(&deps), Some(&log), options)
        .run("build.ninja", &targets)?;
    Ok((m, report))
}

/// Why [`predict`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Manifest(#[from] super::lexer::ParseError),
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("reading Ninja's logs: {0}")]
    Io(io::Error),
}

#[cfg(test)]
#[path = "dirty_tests.rs"]
mod tests;
