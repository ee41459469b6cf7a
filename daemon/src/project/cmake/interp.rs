//! The interpreter: scopes, flow control, user-defined commands, `include()` and
//! `add_subdirectory()`, diagnostics and input recording. Commands live in `commands/` and `idf.rs`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use super::cmregex::RegexCache;
use super::expand::{self, Expanded, RefKind};
use super::fsops;
use super::scope::{Found, FrameKind, Scopes};
use super::syntax::{self, Call, IfNode, Node, ParseError};
use super::types::*;

/// Commands run by one evaluation before it gives up (a runaway recursion or loop).
pub(crate) const MAX_STEPS: u64 = 200_000;
/// Directory entries all globs of one evaluation may visit.
pub(crate) const GLOB_BUDGET: usize = 400_000;
/// Nesting of function/macro calls, includes and subdirectories.
pub(crate) const MAX_DEPTH: usize = 64;
/// Nesting of blocks of any kind (calls, includes, if, loops) across files: bounds the
/// interpreter's recursion, hence its stack use.
pub(crate) const MAX_BLOCK_NESTING: usize = 256;
/// Iterations of one `foreach()`.
pub(crate) const MAX_FOREACH: usize = 100_000;
/// Iterations of one `while()`.
pub(crate) const MAX_WHILE: usize = 10_000;
/// Largest string a command may build (`string(REPEAT)`, ...).
pub(crate) const MAX_VALUE_LEN: usize = 16 << 20;

/// A parsed file: its block tree, or the syntax error that makes CMake refuse it.
pub(crate) type Parsed = Arc<Result<Arc<[Node]>, ParseError>>;

/// State shared by every evaluation of an [`super::Evaluator`].
#[derive(Default)]
pub(crate) struct Shared {
    /// Parsed files by content hash.
    pub(crate) parsed: Mutex<HashMap<u64, Parsed>>,
    /// The last read of each CMake file: reused without reading while its size and modification
    /// time are unchanged (and old enough to be trusted), so that files every component sees
    /// (`project_include.cmake`, shared `.cmake` helpers) are not re-read per component.
    pub(crate) files: Mutex<HashMap<PathBuf, (FileInput, Parsed)>>,
    pub(crate) regexes: RegexCache,
}

const PARSE_CACHE_LIMIT: usize = 8192;

impl Shared {
    /// A previous read of `path` that its current stat still vouches for.
    fn file_unchanged_since_read(&self, path: &Path) -> Option<(FileInput, Parsed)> {
        let cached = self.files.lock().ok()?.get(path).cloned()?;
        fsops::stat_unchanged(&cached.0).then_some(cached)
    }

    fn remember_file(&self, input: FileInput, parsed: Parsed) {
        if let Ok(mut map) = self.files.lock() {
            if map.len() >= PARSE_CACHE_LIMIT {
                map.clear();
            }
            map.insert(input.path.clone(), (input, parsed));
        }
    }

    pub(crate) fn parse_cached(&self, hash: u64, bytes: &[u8]) -> Parsed {
        if let Ok(map) = self.parsed.lock()
            && let Some(found) = map.get(&hash)
        {
            return found.clone();
        }
        let text = String::from_utf8_lossy(bytes);
        let parsed = Arc::new(syntax::parse(&text).map(Arc::from));
        if let Ok(mut map) = self.parsed.lock() {
            if map.len() >= PARSE_CACHE_LIMIT {
                map.clear();
            }
            map.insert(hash, parsed.clone());
        }
        parsed
    }
}

/// What is being evaluated.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    Component {
        name: String,
        dir: PathBuf,
        pass: ComponentPass,
    },
    Project,
}

/// How a block of commands ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
    Normal,
    Break,
    Continue,
    /// `return()`, with the variables of `return(PROPAGATE ...)`.
    Return(Vec<String>),
    /// Evaluation is over (fatal error, `project()` reached in a project file).
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserKind {
    Function,
    Macro,
}

/// A command defined with `function()` or `macro()`.
#[derive(Debug)]
pub(crate) struct UserCommand {
    pub(crate) name: String,
    pub(crate) kind: UserKind,
    pub(crate) params: Vec<String>,
    pub(crate) body: Arc<[Node]>,
    pub(crate) file: Arc<Path>,
    pub(crate) line: u32,
}

/// Everything the evaluation produces besides its inputs.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) registrations: Vec<ComponentRegistration>,
    pub(crate) optional_requires: Vec<OptionalRequires>,
    pub(crate) cmake_library: bool,
    pub(crate) libraries: Vec<CmakeLibrary>,
    pub(crate) prebuilt_libraries: Vec<PrebuiltLibrary>,
    pub(crate) build_property_sets: Vec<BuildPropertySet>,
    pub(crate) component_property_sets: Vec<ComponentPropertySet>,
    pub(crate) subdirectories: Vec<Subdirectory>,
    pub(crate) recorded: Vec<RecordedCommand>,
    pub(crate) messages: Vec<CmakeMessage>,
    pub(crate) warnings: Vec<EvalDiagnostic>,
    pub(crate) fatal: Option<EvalDiagnostic>,
    pub(crate) project_name: Option<String>,
    pub(crate) includes_idf_project_cmake: bool,
}

/// Properties set with `set_property()` and friends, by (scope, object) then name.
#[derive(Debug, Default)]
pub(crate) struct Properties {
    pub(crate) values: HashMap<(String, String), HashMap<String, String>>,
}

pub(crate) struct Interp<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) values: &'a InputValues,
    pub(crate) mode: Mode,
    pub(crate) scopes: Scopes,
    /// Commands defined by evaluated code.
    pub(crate) commands: HashMap<String, Rc<UserCommand>>,
    /// Definitions taken from `command_files`: used only when no built-in command has the name.
    pub(crate) fallback_commands: HashMap<String, Rc<UserCommand>>,
    /// The files those definitions come from, recorded as inputs only once the evaluation
    /// depends on them (so that a change to a helper file a component never uses does not
    /// invalidate it).
    pub(crate) fallback_files: Vec<FileInput>,
    /// `set(ENV{...})` / `unset(ENV{...})`.
    pub(crate) env: HashMap<String, Option<String>>,
    /// Cache entries set by evaluated code.
    pub(crate) cache: HashMap<String, Option<String>>,
    /// Targets created by evaluated code.
    pub(crate) targets: HashSet<String>,
    /// Sources given to each of those targets (for `get_target_property(... SOURCES)`).
    pub(crate) target_sources: HashMap<String, Vec<String>>,
    pub(crate) properties: Properties,
    /// Build properties set by evaluated code.
    pub(crate) build_properties: HashMap<String, String>,
    /// Component properties set by evaluated code: (component, property).
    pub(crate) component_properties: HashMap<(String, String), String>,
    pub(crate) out: Output,
    pub(crate) inputs: EvalInputs,
    pub(crate) recorded_files: HashSet<PathBuf>,
    pub(crate) include_guards: HashSet<PathBuf>,
    /// The file whose commands are running and the line of the current command.
    pub(crate) file: Arc<Path>,
    pub(crate) line: u32,
    /// Call sites of the user commands being run (for diagnostics).
    pub(crate) call_sites: Vec<(Arc<Path>, u32, String)>,
    pub(crate) depth: usize,
    pub(crate) block_nesting: usize,
    pub(crate) steps: u64,
    pub(crate) glob_budget: usize,
    pub(crate) warned: HashSet<(PathBuf, u32, String)>,
    /// Set once evaluation must end (fatal error, `project()` in a project file).
    pub(crate) stopped: bool,
}

macro_rules! try_flow {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Flow::Stop,
        }
    };
}
pub(crate) use try_flow;

impl<'a> Interp<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        values: &'a InputValues,
        mode: Mode,
        file: &Path,
    ) -> Self {
        let mut scopes = Scopes::default();
        scopes.push(FrameKind::Base);
        Interp {
            shared,
            values,
            mode,
            scopes,
            commands: HashMap::new(),
            fallback_commands: HashMap::new(),
            fallback_files: Vec::new(),
            env: HashMap::new(),
            cache: HashMap::new(),
            targets: HashSet::new(),
            target_sources: HashMap::new(),
            properties: Properties::default(),
            build_properties: HashMap::new(),
            component_properties: HashMap::new(),
            out: Output::default(),
            inputs: EvalInputs::default(),
            recorded_files: HashSet::new(),
            include_guards: HashSet::new(),
            file: Arc::from(file),
            line: 0,
            call_sites: Vec::new(),
            depth: 0,
            block_nesting: 0,
            steps: 0,
            glob_budget: GLOB_BUDGET,
            warned: HashSet::new(),
            stopped: false,
        }
    }

    pub(crate) fn pass(&self) -> Option<ComponentPass> {
        match &self.mode {
            Mode::Component { pass, .. } => Some(*pass),
            Mode::Project => None,
        }
    }

    pub(crate) fn component_name(&self) -> Option<&str> {
        match &self.mode {
            Mode::Component { name, .. } => Some(name),
            Mode::Project => None,
        }
    }

    // ---------------------------------------------------------------- diagnostics

    fn location_note(&self) -> String {
        match self.call_sites.last() {
            Some((file, line, name)) => {
                format!(" (in `{name}()` called from {}:{line})", file.display())
            }
            None => String::new(),
        }
    }

    /// A plan warning at the current command: something was not evaluated.
    pub(crate) fn warn(&mut self, message: impl Into<String>) {
        let message = format!("{}{}", message.into(), self.location_note());
        let key = (self.file.to_path_buf(), self.line, message.clone());
        if self.warned.insert(key) {
            self.out.warnings.push(EvalDiagnostic {
                file: self.file.to_path_buf(),
                line: self.line,
                message,
            });
        }
    }

    /// The standard warning for a command nothing knows.
    pub(crate) fn warn_not_evaluated(&mut self, name: &str) {
        self.warn(format!(
            "command `{name}` is not evaluated; the plan assumes it has no effect on sources or requirements"
        ));
    }

    /// Ends the evaluation with an error at the current command.
    pub(crate) fn fail(&mut self, message: impl Into<String>) {
        if self.out.fatal.is_none() {
            let message = format!("{}{}", message.into(), self.location_note());
            self.out.fatal = Some(EvalDiagnostic {
                file: self.file.to_path_buf(),
                line: self.line,
                message,
            });
        }
        self.stopped = true;
    }

    /// Keeps a compile-only command with its expanded arguments.
    pub(crate) fn record(&mut self, name: &str, args: Vec<String>) {
        let source_dir = self.current_source_dir();
        self.out.recorded.push(RecordedCommand {
            name: name.to_owned(),
            args,
            file: self.file.to_path_buf(),
            line: self.line,
            source_dir,
        });
    }

    pub(crate) fn message(&mut self, level: MessageLevel, text: String) {
        self.out.messages.push(CmakeMessage {
            level,
            text,
            file: self.file.to_path_buf(),
            line: self.line,
        });
    }

    // ---------------------------------------------------------------- inputs

    pub(crate) fn note_input(&mut self, key: InputKey, value: Option<&str>) {
        self.inputs
            .variables
            .entry(key)
            .or_insert_with(|| value.map(str::to_owned));
    }

    pub(crate) fn note_exists(&mut self, path: &Path, kind: ExistsKind) -> bool {
        let result = fsops::exists_test(path, kind);
        if !self
            .inputs
            .exists_checks
            .iter()
            .any(|c| c.path == path && c.kind == kind)
        {
            self.inputs.exists_checks.push(ExistsCheck {
                path: path.to_path_buf(),
                kind,
                result,
            });
        }
        result
    }

    /// Runs a glob within the evaluation's budget, records it as an input, and warns when the
    /// budget cut it short.
    pub(crate) fn run_glob(
        &mut self,
        patterns: Vec<String>,
        recursive: bool,
        list_directories: bool,
        follow_symlinks: bool,
    ) -> Vec<PathBuf> {
        let limit = self.glob_budget.min(fsops::GLOB_ENTRY_LIMIT);
        let (matched, visited) = fsops::glob(
            &patterns,
            recursive,
            list_directories,
            follow_symlinks,
            limit,
        );
        self.glob_budget -= visited;
        if visited >= limit {
            self.warn(format!(
                "glob of {} stopped after visiting {visited} directory entries; its result is incomplete",
                patterns.join(" ")
            ));
        }
        let record = GlobRecord {
            patterns,
            recursive,
            list_directories,
            follow_symlinks,
            entry_limit: limit,
            matched: matched.clone(),
        };
        if !self.inputs.globs.contains(&record) {
            self.inputs.globs.push(record);
        }
        matched
    }

    /// Reads a file the evaluation depends on (for `file(READ)` and friends).
    pub(crate) fn read_input_file(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        match fsops::read_file(path) {
            Ok((bytes, input)) => {
                if self.recorded_files.insert(path.to_path_buf()) {
                    self.inputs.files.push(input);
                }
                Ok(bytes)
            }
            Err(e) => {
                self.note_exists(path, ExistsKind::Exists);
                Err(e)
            }
        }
    }

    /// Reads and parses a CMake file (parse results are shared by content hash).
    pub(crate) fn load(&mut self, path: &Path) -> Result<Arc<[Node]>, String> {
        let (input, parsed) = match self.read_parsed(path) {
            Ok(found) => found,
            Err(e) => {
                self.note_exists(path, ExistsKind::Exists);
                return Err(format!("cannot read {}: {e}", path.display()));
            }
        };
        self.record_file(input);
        match &*parsed {
            Ok(nodes) => Ok(nodes.clone()),
            Err(e) => {
                self.line = e.line;
                Err(format!("syntax error: {}", e.message))
            }
        }
    }

    /// A CMake file and its parse, without recording it as an input.
    pub(crate) fn read_parsed(&mut self, path: &Path) -> std::io::Result<(FileInput, Parsed)> {
        if let Some(found) = self.shared.file_unchanged_since_read(path) {
            return Ok(found);
        }
        let (bytes, input) = fsops::read_file(path)?;
        let parsed = self.shared.parse_cached(input.hash, &bytes);
        self.shared.remember_file(input.clone(), parsed.clone());
        Ok((input, parsed))
    }

    /// Records a file the result depends on.
    pub(crate) fn record_file(&mut self, input: FileInput) {
        if self.recorded_files.insert(input.path.clone()) {
            self.inputs.files.push(input);
        }
    }

    /// The result depends on every file of fallback definitions (an unknown command, or an
    /// `if(COMMAND)`, could be answered differently if one of them changed).
    pub(crate) fn record_fallback_files(&mut self) {
        for input in std::mem::take(&mut self.fallback_files) {
            self.record_file(input);
        }
    }

    // ---------------------------------------------------------------- variables

    /// `${name}`.
    pub(crate) fn var(&mut self, name: &str) -> Option<String> {
        match self.scopes.get(name) {
            Found::Set(v) => Some(v.to_owned()),
            Found::Unset => None,
            Found::Missing => self.base_variable(name),
        }
    }

    pub(crate) fn var_or_empty(&mut self, name: &str) -> String {
        self.var(name).unwrap_or_default()
    }

    /// A variable no scope defines: the evaluation inputs, recorded.
    fn base_variable(&mut self, name: &str) -> Option<String> {
        if self.pass() == Some(ComponentPass::EarlyExpansion) && name.starts_with("CONFIG_") {
            // sdkconfig is not loaded during ESP-IDF's early expansion.
            return self.cache.get(name).cloned().flatten();
        }
        let values = self.values;
        let recorded = values.variable(name);
        self.note_input(InputKey::Variable(name.to_owned()), recorded);
        if let Some(value) = values
            .variables
            .get(name)
            .or_else(|| values.build_properties.get(name))
        {
            return Some(value.clone());
        }
        // Cache entries set or unset by the evaluated code hide the input cache.
        match self.cache.get(name) {
            Some(entry) => entry.clone(),
            None => values.cache.get(name).cloned(),
        }
    }

    pub(crate) fn is_defined(&mut self, name: &str) -> bool {
        self.var(name).is_some()
    }

    pub(crate) fn set_var(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if value.len() > MAX_VALUE_LEN {
            self.fail(format!(
                "the value of `{name}` is too large ({} bytes; the limit is {MAX_VALUE_LEN})",
                value.len()
            ));
            return;
        }
        self.scopes.set(name, value);
    }

    pub(crate) fn unset_var(&mut self, name: &str) {
        self.scopes.unset(name);
    }

    /// `set(... PARENT_SCOPE)`; `None` unsets.
    pub(crate) fn set_parent(&mut self, name: &str, value: Option<String>) {
        let visible = self.var(name);
        self.scopes.set_parent(name, value, visible);
    }

    pub(crate) fn env_var(&mut self, name: &str) -> Option<String> {
        if let Some(v) = self.env.get(name) {
            return v.clone();
        }
        let value = self.values.env.get(name).cloned();
        self.note_input(InputKey::Env(name.to_owned()), value.as_deref());
        value
    }

    pub(crate) fn cache_var(&mut self, name: &str) -> Option<String> {
        if let Some(v) = self.cache.get(name) {
            return v.clone();
        }
        let value = self.values.cache.get(name).cloned();
        self.note_input(InputKey::Cache(name.to_owned()), value.as_deref());
        value
    }

    pub(crate) fn build_property(&mut self, name: &str) -> Option<String> {
        if let Some(v) = self.build_properties.get(name) {
            return Some(v.clone());
        }
        let value = self.values.build_properties.get(name).cloned();
        self.note_input(InputKey::BuildProperty(name.to_owned()), value.as_deref());
        value
    }

    pub(crate) fn current_source_dir(&mut self) -> PathBuf {
        PathBuf::from(self.var_or_empty("CMAKE_CURRENT_SOURCE_DIR"))
    }

    pub(crate) fn current_list_dir(&mut self) -> PathBuf {
        PathBuf::from(self.var_or_empty("CMAKE_CURRENT_LIST_DIR"))
    }

    pub(crate) fn current_binary_dir(&mut self) -> PathBuf {
        PathBuf::from(self.var_or_empty("CMAKE_CURRENT_BINARY_DIR"))
    }

    // ---------------------------------------------------------------- expansion

    fn resolve(&mut self, kind: RefKind, name: &str) -> Option<String> {
        match kind {
            RefKind::Normal => self.var(name),
            RefKind::Env => self.env_var(name),
            RefKind::Cache => self.cache_var(name),
        }
    }

    /// The arguments a command receives, with their quoting. None: a CMake error, already
    /// reported (evaluation stops).
    pub(crate) fn expand_args_quoted(&mut self, call: &Call) -> Option<Vec<Expanded>> {
        let mut out = Vec::with_capacity(call.args.len());
        let line = call.line;
        let mut total = 0usize;
        for arg in &call.args {
            let before = out.len();
            let result = expand::expand_arg(
                arg,
                line,
                &mut |kind, name| self.resolve(kind, name),
                &mut out,
            );
            if let Err(e) = result {
                self.fail(format!("{} in the arguments of `{}()`", e, call.name));
                return None;
            }
            total += out[before..]
                .iter()
                .map(|e| e.value.len() + 1)
                .sum::<usize>();
            if total > MAX_VALUE_LEN {
                self.fail(format!(
                    "the arguments of `{}()` are too large (the limit is {MAX_VALUE_LEN} bytes)",
                    call.name
                ));
                return None;
            }
        }
        Some(out)
    }

    pub(crate) fn expand_args(&mut self, call: &Call) -> Option<Vec<String>> {
        if call.args.iter().all(|a| a.is_literal()) {
            return Some(call.args.iter().map(|a| a.text.clone()).collect());
        }
        self.expand_args_quoted(call)
            .map(|v| v.into_iter().map(|e| e.value).collect())
    }

    // ---------------------------------------------------------------- running

    /// Runs a whole file in the current scope: the entry point for the evaluated file.
    pub(crate) fn run_top_file(&mut self, path: &Path) {
        let nodes = match self.load(path) {
            Ok(nodes) => nodes,
            Err(e) => {
                if self.line == 0 {
                    self.line = 1;
                }
                self.fail(e);
                return;
            }
        };
        self.scopes.push(FrameKind::Directory);
        let flow = self.run_block(&nodes);
        if let Flow::Break | Flow::Continue = flow {
            self.warn("`break()` or `continue()` outside of a loop");
        }
    }

    pub(crate) fn run_block(&mut self, nodes: &[Node]) -> Flow {
        if self.block_nesting >= MAX_BLOCK_NESTING {
            self.fail(format!("blocks, calls and includes nested too deeply (more than {MAX_BLOCK_NESTING} levels)"));
            return Flow::Stop;
        }
        self.block_nesting += 1;
        let flow = self.run_nodes(nodes);
        self.block_nesting -= 1;
        flow
    }

    fn run_nodes(&mut self, nodes: &[Node]) -> Flow {
        for node in nodes {
            if self.stopped {
                return Flow::Stop;
            }
            let flow = match node {
                Node::Command(call) => self.run_call(call),
                Node::If(node) => self.run_if(node),
                Node::Foreach { head, body } => self.run_foreach(head, body),
                Node::While { head, body } => self.run_while(head, body),
                Node::Function { head, body } => self.define(head, body, UserKind::Function),
                Node::Macro { head, body } => self.define(head, body, UserKind::Macro),
                Node::Block { head, body } => self.run_scoped_block(head, body),
            };
            if flow != Flow::Normal {
                return flow;
            }
        }
        if self.stopped {
            Flow::Stop
        } else {
            Flow::Normal
        }
    }

    pub(crate) fn step(&mut self) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            self.fail(format!(
                "evaluation stopped after {MAX_STEPS} commands (endless recursion or loop?)"
            ));
            return false;
        }
        true
    }

    pub(crate) fn run_call(&mut self, call: &Call) -> Flow {
        self.line = call.line;
        if !self.step() {
            return Flow::Stop;
        }
        if let Some(command) = self.commands.get(&call.name).cloned() {
            return self.invoke(&command, call);
        }
        if let Some(flow) = self.run_builtin(call) {
            return flow;
        }
        if let Some(command) = self.fallback_commands.get(&call.name).cloned() {
            if let Some(input) = self
                .fallback_files
                .iter()
                .find(|f| *f.path == *command.file)
                .cloned()
            {
                self.record_file(input);
            }
            return self.invoke(&command, call);
        }
        self.record_fallback_files();
        // Still expand the arguments: a malformed reference is an error whatever the command.
        let _ = try_flow!(self.expand_args(call));
        self.warn_not_evaluated(&call.name);
        Flow::Normal
    }

    fn run_if(&mut self, node: &IfNode) -> Flow {
        for (head, body) in &node.branches {
            self.line = head.line;
            if !self.step() {
                return Flow::Stop;
            }
            match self.condition(head) {
                Some(true) => return self.run_block(body),
                Some(false) => {}
                None => return Flow::Stop,
            }
        }
        match &node.otherwise {
            Some(body) => self.run_block(body),
            None => Flow::Normal,
        }
    }

    /// Evaluates the condition of an `if`/`elseif`/`while`. None: a CMake error (reported).
    pub(crate) fn condition(&mut self, head: &Call) -> Option<bool> {
        let args = self.expand_args_quoted(head)?;
        let shown: Vec<String> = args.iter().map(|a| a.value.clone()).collect();
        match self.eval_condition(args) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(format!(
                    "`{}()` given arguments \"{}\": {e}",
                    head.name,
                    shown.join("\" \"")
                ));
                None
            }
        }
    }

    /// Whether `name` is a command (for `if(COMMAND)`).
    pub(crate) fn command_exists(&mut self, name: &str) -> bool {
        self.record_fallback_files();
        let lower = name.to_ascii_lowercase();
        self.commands.contains_key(&lower)
            || self.fallback_commands.contains_key(&lower)
            || super::commands::is_builtin(&lower)
    }
}
