//! The CMake language, evaluated the way ESP-IDF runs component and project CMakeLists.txt files,
//! so that a plan knows each component's sources and requirements without running CMake.
//!
//! Main types:
//! - [`Evaluator`]: evaluates files and caches results; lives as long as the daemon.
//! - [`ComponentInput`] → [`ComponentEval`]: one component CMakeLists.txt in one of ESP-IDF's two
//!   passes ([`ComponentPass`]): what `idf_component_register()` received, optional requirements,
//!   prebuilt libraries, build properties set, compile-only commands (recorded with their
//!   arguments), warnings for what was not evaluated, the fatal error if any.
//! - [`ProjectInput`] → [`ProjectEval`]: a project's top-level CMakeLists.txt up to `project()`.
//! - [`EvalInputs`]: everything a result depends on (files with content hashes, input values
//!   read, globs, existence tests), replayable with [`EvalInputs::still_valid`].
//!
//! Layout: `syntax` (lexer, parser, block tree), `expand` (escapes, `${}` references, lists),
//! `scope` (variable scopes), `interp` (the interpreter: dispatch, variables, inputs,
//! diagnostics), `flow` (loops, `block()`, functions and macros), `files` (`include()`,
//! `add_subdirectory()`), `condition` (`if()`), `commands/` (set, list, string, math, file,
//! paths, properties, targets), `idf` (the ESP-IDF API), `cmregex` (CMake regular expressions),
//! `fsops` (hashing, stamps, globbing), `paths` (CMake path arithmetic).
//!
//! Invariants: evaluation never panics and never fails silently — everything it does not evaluate
//! is a warning naming the file and line, every CMake error is `fatal`; loops, recursion and
//! command counts are bounded. A cached result is returned only when every input it read is
//! unchanged, so a plan never uses a stale evaluation.

mod cmregex;
mod commands;
mod condition;
mod expand;
mod files;
mod flow;
mod fsops;
mod idf;
mod interp;
pub(crate) mod paths;
mod scope;
mod syntax;
mod types;

#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use types::*;

use crate::project::fsview::{FastMap, FileCheck, FsView};

use interp::{Interp, Mode, Shared};

/// Evaluates CMakeLists files. Holds the parse cache (by file content hash) and the result
/// caches, so it lives as long as the daemon. Send + Sync: evaluations may run in parallel.
pub struct Evaluator {
    shared: Shared,
    components: Mutex<FastMap<ComponentKey, CacheEntry<ComponentEval>>>,
    projects: Mutex<FastMap<ProjectKey, CacheEntry<ProjectEval>>>,
    evaluations: AtomicU64,
    cache_hits: AtomicU64,
}

/// What identifies a component evaluation besides its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ComponentKey {
    list_file: PathBuf,
    name: String,
    dir: PathBuf,
    pass: ComponentPass,
    command_files: Arc<[PathBuf]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProjectKey {
    list_file: PathBuf,
    dir: PathBuf,
}

/// Hashes a path by its bytes (`Path`'s own hash walks its components). Equal paths in the keys
/// are spelled the same, so this agrees with their equality.
fn hash_path<H: std::hash::Hasher>(path: &Path, state: &mut H) {
    state.write(path.as_os_str().as_encoded_bytes());
}

impl std::hash::Hash for ComponentKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_path(&self.list_file, state);
        self.name.hash(state);
        self.pass.hash(state);
        state.write_usize(self.command_files.len());
    }
}

impl std::hash::Hash for ProjectKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_path(&self.list_file, state);
    }
}

struct CacheEntry<T> {
    result: Arc<T>,
    /// File stamps, refreshed when a re-hash shows a touched file is unchanged, so that the
    /// next check is stat-only again.
    stamps: Vec<FileInput>,
    /// The plan ([`FsView::seq`]) that last confirmed the result.
    checked: u64,
    /// The input values it was last confirmed against: the same `Arc` needs no comparison.
    values: Arc<InputValues>,
}

/// Counters for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvaluatorStats {
    /// Files actually evaluated.
    pub evaluations: u64,
    /// Cached results returned after validation.
    pub cache_hits: u64,
}

/// Entries kept per cache before it is emptied (a daemon watching many projects).
const RESULT_CACHE_LIMIT: usize = 4096;

impl Default for Evaluator {
    fn default() -> Self {
        Self::new()
    }
}

impl Evaluator {
    pub fn new() -> Self {
        Evaluator {
            shared: Shared::default(),
            components: Mutex::new(FastMap::default()),
            projects: Mutex::new(FastMap::default()),
            evaluations: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> EvaluatorStats {
        EvaluatorStats {
            evaluations: self.evaluations.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// Evaluates a component CMakeLists.txt (see [`ComponentPass`] for what each pass mirrors).
    ///
    /// The scope starts with `input.values` plus what ESP-IDF defines for a component:
    /// `COMPONENT_NAME`, `COMPONENT_DIR`, `COMPONENT_PATH`, `CMAKE_CURRENT_SOURCE_DIR`,
    /// `CMAKE_CURRENT_LIST_DIR`, `CMAKE_CURRENT_LIST_FILE`, `ESP_PLATFORM`; in the early
    /// expansion `CMAKE_BUILD_EARLY_EXPANSION=1`; in processing `COMPONENT_ALIAS`, and
    /// `CMAKE_CURRENT_BINARY_DIR` (`<BUILD_DIR>/esp-idf/<name>`) when the `BUILD_DIR` build
    /// property is known.
    pub fn eval_component(&self, input: &ComponentInput) -> ComponentEval {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let run = || {
            let mode = Mode::Component {
                name: input.name.clone(),
                dir: input.dir.clone(),
                pass: input.pass,
            };
            let mut interp = Interp::new(&self.shared, &input.values, mode, &input.list_file);
            setup_component_scope(&mut interp, input);
            for file in input.command_files.iter() {
                interp.harvest_definitions(file);
            }
            interp.run_top_file(&input.list_file);
            component_result(input.pass, interp)
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(result) => result,
            Err(_) => ComponentEval {
                pass: input.pass,
                registrations: Vec::new(),
                optional_requires: Vec::new(),
                cmake_library: false,
                libraries: Vec::new(),
                prebuilt_libraries: Vec::new(),
                build_property_sets: Vec::new(),
                component_property_sets: Vec::new(),
                subdirectories: Vec::new(),
                recorded: Vec::new(),
                messages: Vec::new(),
                warnings: Vec::new(),
                fatal: Some(internal_error(&input.list_file)),
                // Empty inputs would make the result look valid forever: depend on the file.
                inputs: EvalInputs {
                    files: internal_error_inputs(&input.list_file),
                    ..EvalInputs::default()
                },
            },
        }
    }

    /// [`Self::eval_component`] through the cache: the previous result, the same `Arc`, when
    /// every input it read is unchanged (files by size and mtime then content hash, the input
    /// values it read, globs, existence tests). Values the file did not read do not matter:
    /// changing an unrelated `CONFIG_*` does not re-evaluate.
    pub fn eval_component_cached(&self, input: &ComponentInput) -> Arc<ComponentEval> {
        self.eval_component_in(input, &FsView::uncached())
    }

    /// [`Self::eval_component_cached`] with the file system seen through one plan's `fs`, so that
    /// the files and directories many results depend on are looked at once per plan.
    pub fn eval_component_in(&self, input: &ComponentInput, fs: &FsView) -> Arc<ComponentEval> {
        let key = ComponentKey {
            list_file: input.list_file.clone(),
            name: input.name.clone(),
            dir: input.dir.clone(),
            pass: input.pass,
            command_files: input.command_files.clone(),
        };
        if let Some(result) = self.cached(&self.components, &key, &input.values, fs) {
            return result;
        }
        let result = Arc::new(self.eval_component(input));
        store(
            &self.components,
            key,
            result.clone(),
            fs.seq(),
            &input.values,
        );
        result
    }

    /// Evaluates a project's top-level CMakeLists.txt up to and including `project()`.
    /// `include()` of a path ending in `tools/cmake/project.cmake` (or `idf.cmake`) is recorded,
    /// not evaluated.
    pub fn eval_project(&self, input: &ProjectInput) -> ProjectEval {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let run = || {
            let mut interp =
                Interp::new(&self.shared, &input.values, Mode::Project, &input.list_file);
            let dir = paths::to_cmake(&input.dir);
            let list_dir = input
                .list_file
                .parent()
                .map(paths::to_cmake)
                .unwrap_or_else(|| dir.clone());
            interp.set_var("CMAKE_SOURCE_DIR", dir.clone());
            interp.set_var("CMAKE_CURRENT_SOURCE_DIR", dir);
            interp.set_var("CMAKE_CURRENT_LIST_DIR", list_dir);
            interp.set_var("CMAKE_CURRENT_LIST_FILE", paths::to_cmake(&input.list_file));
            if let Some(binary) = input.values.variable("CMAKE_BINARY_DIR") {
                interp.set_var("CMAKE_CURRENT_BINARY_DIR", binary.to_owned());
            }
            interp.run_top_file(&input.list_file);
            project_result(interp)
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(result) => result,
            Err(_) => ProjectEval {
                project_name: None,
                includes_idf_project_cmake: false,
                variables: Default::default(),
                env: Default::default(),
                build_property_sets: Vec::new(),
                recorded: Vec::new(),
                messages: Vec::new(),
                warnings: Vec::new(),
                fatal: Some(internal_error(&input.list_file)),
                inputs: EvalInputs {
                    files: internal_error_inputs(&input.list_file),
                    ..EvalInputs::default()
                },
            },
        }
    }

    /// [`Self::eval_project`] through the cache.
    pub fn eval_project_cached(&self, input: &ProjectInput) -> Arc<ProjectEval> {
        self.eval_project_in(input, &FsView::uncached())
    }

    /// [`Self::eval_project_cached`] with the file system seen through one plan's `fs`.
    pub fn eval_project_in(&self, input: &ProjectInput, fs: &FsView) -> Arc<ProjectEval> {
        let key = ProjectKey {
            list_file: input.list_file.clone(),
            dir: input.dir.clone(),
        };
        if let Some(result) = self.cached(&self.projects, &key, &input.values, fs) {
            return result;
        }
        let result = Arc::new(self.eval_project(input));
        store(&self.projects, key, result.clone(), fs.seq(), &input.values);
        result
    }

    /// Drops every cached result (parsed files stay: they are keyed by content).
    pub fn clear_cache(&self) {
        if let Ok(mut map) = self.components.lock() {
            map.clear();
        }
        if let Ok(mut map) = self.projects.lock() {
            map.clear();
        }
    }

    /// The globs (`file(GLOB)`, SRC_DIRS) that cached evaluations of the CMakeLists.txt files in
    /// `dirs` ran, whatever the pass or the values: what a file watcher checks to tell whether a
    /// file that appeared or vanished changes what CMake would collect. De-duplicated.
    pub fn cached_globs(&self, dirs: &[&Path]) -> Vec<GlobRecord> {
        let mut out: Vec<GlobRecord> = Vec::new();
        let mut push = |records: &[GlobRecord]| {
            for g in records {
                if !out.contains(g) {
                    out.push(g.clone());
                }
            }
        };
        if let Ok(map) = self.components.lock() {
            for (key, entry) in map.iter() {
                if dirs.contains(&key.dir.as_path()) {
                    push(&entry.result.inputs.globs);
                }
            }
        }
        if let Ok(map) = self.projects.lock() {
            for (key, entry) in map.iter() {
                if dirs.contains(&key.dir.as_path()) {
                    push(&entry.result.inputs.globs);
                }
            }
        }
        out
    }

    fn cached<K, T>(
        &self,
        map: &Mutex<FastMap<K, CacheEntry<T>>>,
        key: &K,
        values: &Arc<InputValues>,
        fs: &FsView,
    ) -> Option<Arc<T>>
    where
        K: std::hash::Hash + Eq,
        T: HasInputs,
    {
        let (result, stamps, checked, same_values) = {
            let map = map.lock().ok()?;
            let entry = map.get(key)?;
            (
                entry.result.clone(),
                entry.stamps.clone(),
                entry.checked,
                Arc::ptr_eq(&entry.values, values),
            )
        };
        let values_to_check = (!same_values).then_some(&**values);
        let refreshed = result
            .inputs()
            .validate(values_to_check, &stamps, fs, checked)?;
        if let Ok(mut map) = map.lock()
            && let Some(entry) = map.get_mut(key)
            && Arc::ptr_eq(&entry.result, &result)
        {
            if let Some(stamps) = refreshed {
                entry.stamps = stamps;
            }
            entry.checked = entry.checked.max(fs.seq());
            entry.values = values.clone();
        }
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(result)
    }
}

/// Whether running a recorded glob again would match other paths than it did (a file appeared
/// or vanished where it looks).
pub fn glob_result_changed(record: &GlobRecord) -> bool {
    !fsops::glob_unchanged(&crate::project::fsview::FsView::uncached(), record, 0)
}

fn store<K: std::hash::Hash + Eq, T: HasInputs>(
    map: &Mutex<FastMap<K, CacheEntry<T>>>,
    key: K,
    result: Arc<T>,
    checked: u64,
    values: &Arc<InputValues>,
) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= RESULT_CACHE_LIMIT {
            map.clear();
        }
        let stamps = result.inputs().files.clone();
        map.insert(
            key,
            CacheEntry {
                result,
                stamps,
                checked,
                values: values.clone(),
            },
        );
    }
}

/// Results that carry their inputs.
trait HasInputs {
    fn inputs(&self) -> &EvalInputs;
}

impl HasInputs for ComponentEval {
    fn inputs(&self) -> &EvalInputs {
        &self.inputs
    }
}

impl HasInputs for ProjectEval {
    fn inputs(&self) -> &EvalInputs {
        &self.inputs
    }
}

impl EvalInputs {
    /// Whether a result with these inputs is still what an evaluation against `values` and the
    /// file system would give: every input value read is unchanged, every file has the same
    /// content, every existence test and glob gives the same answer.
    pub fn still_valid(&self, values: &InputValues) -> bool {
        self.validate(Some(values), &self.files, &FsView::uncached(), 0)
            .is_some()
    }

    /// None: invalid. Some(Some(stamps)): valid, and some files had to be re-hashed (their new
    /// stamps are returned). Some(None): valid with stat checks only.
    /// `checked`: the plan that last confirmed the result (see [`FsView::trusted`]).
    /// `values`: None when the result was confirmed against these very values.
    fn validate(
        &self,
        values: Option<&InputValues>,
        stamps: &[FileInput],
        fs: &FsView,
        checked: u64,
    ) -> Option<Option<Vec<FileInput>>> {
        if let Some(values) = values {
            for (key, seen) in &self.variables {
                if values.lookup(key) != seen.as_deref() {
                    return None;
                }
            }
        }
        if !self
            .exists_checks
            .iter()
            .all(|c| fsops::exists_unchanged(fs, c, checked))
        {
            return None;
        }
        let mut refreshed: Option<Vec<FileInput>> = None;
        for (i, stamp) in stamps.iter().enumerate() {
            match fs.check_file(stamp, checked) {
                FileCheck::Unchanged => {}
                FileCheck::Changed => return None,
                // Touched but not changed: remember the new stamp so the next check is a stat.
                FileCheck::SameContent { len, modified } => {
                    let stamps = refreshed.get_or_insert_with(|| stamps.to_vec());
                    stamps[i].len = len;
                    stamps[i].modified = modified;
                    stamps[i].read_at = std::time::SystemTime::now();
                }
            }
        }
        if !self
            .globs
            .iter()
            .all(|g| fsops::glob_unchanged(fs, g, checked))
        {
            return None;
        }
        Some(refreshed)
    }
}

fn setup_component_scope(interp: &mut Interp<'_>, input: &ComponentInput) {
    let dir = paths::to_cmake(&input.dir);
    let list_dir = input
        .list_file
        .parent()
        .map(paths::to_cmake)
        .unwrap_or_else(|| dir.clone());
    interp.set_var("COMPONENT_NAME", input.name.clone());
    interp.set_var("COMPONENT_DIR", dir.clone());
    interp.set_var("COMPONENT_PATH", dir.clone());
    interp.set_var("CMAKE_CURRENT_SOURCE_DIR", dir);
    interp.set_var("CMAKE_CURRENT_LIST_DIR", list_dir);
    interp.set_var("CMAKE_CURRENT_LIST_FILE", paths::to_cmake(&input.list_file));
    interp.set_var("ESP_PLATFORM", "1");
    match input.pass {
        ComponentPass::EarlyExpansion => interp.set_var("CMAKE_BUILD_EARLY_EXPANSION", "1"),
        ComponentPass::Processing => {
            interp.set_var("COMPONENT_ALIAS", format!("idf::{}", input.name));
            interp.set_var("__idf_component_context", "1");
            if let Some(build_dir) = interp.build_property("BUILD_DIR") {
                let binary = Path::new(&build_dir).join("esp-idf").join(&input.name);
                interp.set_var("CMAKE_CURRENT_BINARY_DIR", paths::to_cmake(&binary));
            }
        }
    }
}

fn component_result(pass: ComponentPass, interp: Interp<'_>) -> ComponentEval {
    let out = interp.out;
    ComponentEval {
        pass,
        registrations: out.registrations,
        optional_requires: out.optional_requires,
        cmake_library: out.cmake_library,
        libraries: out.libraries,
        prebuilt_libraries: out.prebuilt_libraries,
        build_property_sets: out.build_property_sets,
        component_property_sets: out.component_property_sets,
        subdirectories: out.subdirectories,
        recorded: out.recorded,
        messages: out.messages,
        warnings: out.warnings,
        fatal: out.fatal,
        inputs: interp.inputs,
    }
}

fn project_result(mut interp: Interp<'_>) -> ProjectEval {
    if interp.out.project_name.is_none() && interp.out.fatal.is_none() {
        interp.warn("the file never calls project(); it is not an ESP-IDF project CMakeLists.txt");
    }
    let variables = interp.scopes.visible_set_variables().into_iter().collect();
    let env = interp
        .env
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    let out = interp.out;
    ProjectEval {
        project_name: out.project_name,
        includes_idf_project_cmake: out.includes_idf_project_cmake,
        variables,
        env,
        build_property_sets: out.build_property_sets,
        recorded: out.recorded,
        messages: out.messages,
        warnings: out.warnings,
        fatal: out.fatal,
        inputs: interp.inputs,
    }
}

fn internal_error(file: &Path) -> EvalDiagnostic {
    EvalDiagnostic {
        file: file.to_path_buf(),
        line: 0,
        message: "internal error in the CMake evaluator; the plan cannot use this file".into(),
    }
}

fn internal_error_inputs(file: &Path) -> Vec<FileInput> {
    fsops::read_file(file)
        .map(|(_, input)| vec![input])
        .unwrap_or_default()
}
