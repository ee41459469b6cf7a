//! What the evaluator is given and what it answers.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which of ESP-IDF's two evaluations of a component CMakeLists.txt to mirror.
///
/// ESP-IDF runs every component's CMakeLists.txt twice, with different rules, and takes different
/// answers from each run:
/// - [`ComponentPass::EarlyExpansion`] is `tools/cmake/scripts/component_get_requirements.cmake`:
///   CMake script mode, `CMAKE_BUILD_EARLY_EXPANSION` is 1, sdkconfig is not loaded yet (every
///   `CONFIG_*` variable is undefined), and `idf_component_register()` is a macro that records its
///   arguments and `return()`s, so the first registration ends the file. ESP-IDF takes REQUIRES,
///   PRIV_REQUIRES, KCONFIG and KCONFIG_PROJBUILD from this run, and only from it.
/// - [`ComponentPass::Processing`] is the `add_subdirectory()` of the component during
///   `idf_build_process()`: `CONFIG_*` are defined, the whole file runs, `idf_component_register()`
///   creates the library from SRCS / SRC_DIRS / EXCLUDE_SRCS, and what follows it (`target_*`,
///   `add_prebuilt_library`, `add_subdirectory` of ports adding `target_sources`) runs too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentPass {
    EarlyExpansion,
    Processing,
}

/// The values an evaluation starts from, shared by every component of a plan.
///
/// Build properties are readable with `idf_build_get_property` and, as in ESP-IDF, also as plain
/// variables (ESP-IDF defines every build property as a variable in both passes). Variable
/// lookups fall back from `variables` to `build_properties` to `cache`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputValues {
    /// Project-level variables: `CONFIG_*` from sdkconfig as ESP-IDF's sdkconfig.cmake sets them
    /// (`"y"` for enabled booleans, `""` for disabled ones, strings unquoted), `IDF_TARGET`,
    /// `IDF_PATH`, `IDF_VERSION_MAJOR`/`MINOR`/`PATCH`, `PROJECT_DIR`, `CMAKE_SOURCE_DIR`, ...
    pub variables: HashMap<String, String>,
    /// The environment `$ENV{}` reads.
    pub env: HashMap<String, String>,
    /// CMake cache entries (`-D` values): `$CACHE{}`, and the last fallback of `${}`.
    pub cache: HashMap<String, String>,
    /// ESP-IDF build properties (`IDF_TARGET`, `IDF_PATH`, `BUILD_DIR`, `BUILD_COMPONENTS`, ...).
    pub build_properties: HashMap<String, String>,
    /// Other components' properties by component name (`COMPONENT_DIR`, ...), for
    /// `idf_component_get_property`. `COMPONENT_NAME`, `COMPONENT_LIB`, `COMPONENT_ALIAS` and
    /// `COMPONENT_TARGET` are derived from the name when absent.
    pub component_properties: HashMap<String, HashMap<String, String>>,
}

/// One value an evaluation read from its [`InputValues`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKey {
    /// A variable that the evaluated code did not set itself (lookup: variables, then build
    /// properties, then cache).
    Variable(String),
    Env(String),
    Cache(String),
    BuildProperty(String),
    /// (component, property)
    ComponentProperty(String, String),
}

impl InputValues {
    /// The value `key` has in these inputs (what an evaluation that read it would have seen).
    pub fn lookup(&self, key: &InputKey) -> Option<&str> {
        match key {
            InputKey::Variable(name) => self.variable(name),
            InputKey::Env(name) => self.env.get(name).map(String::as_str),
            InputKey::Cache(name) => self.cache.get(name).map(String::as_str),
            InputKey::BuildProperty(name) => self.build_properties.get(name).map(String::as_str),
            InputKey::ComponentProperty(component, property) => {
                self.component_property(component, property)
            }
        }
    }

    /// A variable's value as the bottom of the scope stack sees it.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .get(name)
            .or_else(|| self.build_properties.get(name))
            .or_else(|| self.cache.get(name))
            .map(String::as_str)
    }

    /// A component property, explicit or derived from the component name.
    pub fn component_property(&self, component: &str, property: &str) -> Option<&str> {
        self.component_properties
            .get(component)
            .and_then(|p| p.get(property))
            .map(String::as_str)
    }
}

/// One component CMakeLists.txt to evaluate.
#[derive(Debug, Clone)]
pub struct ComponentInput {
    /// The component name (its directory name, as ESP-IDF derives it).
    pub name: String,
    /// Absolute component directory: `COMPONENT_DIR`, `CMAKE_CURRENT_SOURCE_DIR`.
    pub dir: PathBuf,
    /// The file to evaluate, normally `<dir>/CMakeLists.txt`.
    pub list_file: PathBuf,
    pub pass: ComponentPass,
    pub values: Arc<InputValues>,
    /// Files whose top-level `function()` / `macro()` definitions are visible to the component,
    /// as those of every `project_include.cmake` are in ESP-IDF's processing pass. Only the
    /// definitions are taken; the rest of these files does not run. Commands the evaluator
    /// implements itself (the ESP-IDF API) take precedence over these definitions.
    pub command_files: Arc<[PathBuf]>,
}

impl ComponentInput {
    pub fn new(
        name: impl Into<String>,
        dir: impl Into<PathBuf>,
        pass: ComponentPass,
        values: Arc<InputValues>,
    ) -> Self {
        let dir = dir.into();
        ComponentInput {
            name: name.into(),
            list_file: dir.join("CMakeLists.txt"),
            dir,
            pass,
            values,
            command_files: Arc::from([]),
        }
    }
}

/// A project's top-level CMakeLists.txt to evaluate up to `project()`.
#[derive(Debug, Clone)]
pub struct ProjectInput {
    /// Absolute project directory: `CMAKE_SOURCE_DIR`, `CMAKE_CURRENT_SOURCE_DIR`.
    pub dir: PathBuf,
    /// Normally `<dir>/CMakeLists.txt`.
    pub list_file: PathBuf,
    pub values: Arc<InputValues>,
}

impl ProjectInput {
    pub fn new(dir: impl Into<PathBuf>, values: Arc<InputValues>) -> Self {
        let dir = dir.into();
        ProjectInput {
            list_file: dir.join("CMakeLists.txt"),
            dir,
            values,
        }
    }
}

/// Something the evaluator could not evaluate, or an error, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalDiagnostic {
    pub file: PathBuf,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for EvalDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// A command that only matters for compilation, linking or build-time steps, kept with its
/// expanded arguments so the planner can read what it needs (`target_sources`,
/// `target_include_directories`, `target_link_libraries`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCommand {
    /// Lower-case command name.
    pub name: String,
    /// Arguments after expansion and list splitting.
    pub args: Vec<String>,
    pub file: PathBuf,
    pub line: u32,
    /// `CMAKE_CURRENT_SOURCE_DIR` when the command ran: relative paths in `args` are relative to it.
    pub source_dir: PathBuf,
}

/// `message()` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageLevel {
    FatalError,
    SendError,
    Warning,
    AuthorWarning,
    Deprecation,
    Notice,
    Status,
    Verbose,
    Debug,
    Trace,
    CheckStart,
    CheckPass,
    CheckFail,
    ConfigureLog,
}

/// A `message()` the evaluated code printed (FATAL_ERROR ones also end up in `fatal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmakeMessage {
    pub level: MessageLevel,
    pub text: String,
    pub file: PathBuf,
    pub line: u32,
}

/// `idf_build_set_property(name value [APPEND])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPropertySet {
    pub name: String,
    pub value: String,
    pub append: bool,
    pub file: PathBuf,
    pub line: u32,
}

/// `idf_component_set_property(component name value [APPEND])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentPropertySet {
    pub component: String,
    pub name: String,
    pub value: String,
    pub append: bool,
    pub file: PathBuf,
    pub line: u32,
}

/// What one `idf_component_register()` received. Paths are absolute, resolved as ESP-IDF
/// resolves them: SRCS and SRC_DIRS against `COMPONENT_DIR`; INCLUDE_DIRS and PRIV_INCLUDE_DIRS
/// against the directory of the list file that made the call; EXCLUDE_SRCS, EMBED_*,
/// LDFRAGMENTS, KCONFIG* against `CMAKE_CURRENT_SOURCE_DIR`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentRegistration {
    pub srcs: Vec<PathBuf>,
    pub src_dirs: Vec<PathBuf>,
    pub exclude_srcs: Vec<PathBuf>,
    pub include_dirs: Vec<PathBuf>,
    pub priv_include_dirs: Vec<PathBuf>,
    pub embed_files: Vec<PathBuf>,
    pub embed_txtfiles: Vec<PathBuf>,
    pub kconfig: Option<PathBuf>,
    pub kconfig_projbuild: Option<PathBuf>,
    pub ldfragments: Vec<PathBuf>,
    /// As ESP-IDF keeps them: split on spaces, duplicates and the component itself removed.
    pub requires: Vec<String>,
    pub priv_requires: Vec<String>,
    pub required_idf_targets: Vec<String>,
    pub whole_archive: bool,
    /// The sources ESP-IDF compiles ([`ComponentPass::Processing`] only): SRCS when given, else
    /// the `*.c`, `*.cpp`, `*.S` files of SRC_DIRS (sorted per directory) minus EXCLUDE_SRCS,
    /// duplicates removed. Sources added later with `target_sources` are in `recorded`, see
    /// [`ComponentEval::target_sources`].
    pub sources: Vec<PathBuf>,
    /// Arguments no keyword claimed (ESP-IDF ignores them; usually a misspelt keyword).
    pub unparsed_arguments: Vec<String>,
    pub file: PathBuf,
    pub line: u32,
}

/// `idf_component_optional_requires(PUBLIC|PRIVATE|INTERFACE names...)`: link to these
/// components when they are part of the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalRequires {
    pub visibility: String,
    pub components: Vec<String>,
    pub file: PathBuf,
    pub line: u32,
}

/// `add_prebuilt_library(target lib_path [REQUIRES ...] [PRIV_REQUIRES ...])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrebuiltLibrary {
    pub target: String,
    /// Absolute (resolved against the calling list file's directory, as ESP-IDF does).
    pub path: PathBuf,
    pub requires: Vec<String>,
    pub priv_requires: Vec<String>,
    pub file: PathBuf,
    pub line: u32,
}

/// A plain CMake `add_library()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmakeLibrary {
    pub name: String,
    /// STATIC, SHARED, MODULE, OBJECT, INTERFACE or UNKNOWN; empty when not given.
    pub kind: String,
    pub imported: bool,
    /// For `add_library(name ALIAS target)`.
    pub alias_of: Option<String>,
    /// Source arguments made absolute against `CMAKE_CURRENT_SOURCE_DIR` (generator expressions
    /// are kept as written).
    pub sources: Vec<PathBuf>,
    pub file: PathBuf,
    pub line: u32,
}

/// `add_subdirectory()`: the subdirectory's CMakeLists.txt was evaluated as part of the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subdirectory {
    pub source_dir: PathBuf,
    pub file: PathBuf,
    pub line: u32,
}

/// The result of evaluating one component CMakeLists.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentEval {
    pub pass: ComponentPass,
    /// Every `idf_component_register()` that ran, in call order (normally one; none for
    /// components that `return()` early or are pure CMake).
    pub registrations: Vec<ComponentRegistration>,
    pub optional_requires: Vec<OptionalRequires>,
    /// True when the file created a library named after the component (`add_library(<name> ...)`
    /// or `add_library(${COMPONENT_LIB} ...)`): a pure CMake component.
    pub cmake_library: bool,
    pub libraries: Vec<CmakeLibrary>,
    pub prebuilt_libraries: Vec<PrebuiltLibrary>,
    pub build_property_sets: Vec<BuildPropertySet>,
    pub component_property_sets: Vec<ComponentPropertySet>,
    pub subdirectories: Vec<Subdirectory>,
    /// Commands that only affect compilation or build steps, in order.
    pub recorded: Vec<RecordedCommand>,
    pub messages: Vec<CmakeMessage>,
    /// Everything that was not evaluated (the plan assumed it has no effect on sources or
    /// requirements), each with file and line.
    pub warnings: Vec<EvalDiagnostic>,
    /// Evaluation stopped here: `message(FATAL_ERROR)`, a CMake error (syntax, a bad `if()`, a
    /// missing include, an ESP-IDF check that fails), or a resource limit.
    pub fatal: Option<EvalDiagnostic>,
    /// What the result depends on.
    pub inputs: EvalInputs,
}

impl ComponentEval {
    /// The first registration, the one ESP-IDF's early expansion keeps.
    pub fn registration(&self) -> Option<&ComponentRegistration> {
        self.registrations.first()
    }

    /// Files added to `target` with `target_sources()` (any visibility), made absolute against
    /// the directory of the call; generator expressions are skipped.
    pub fn target_sources(&self, target: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for command in self.recorded.iter().filter(|c| c.name == "target_sources") {
            if command.args.first().map(String::as_str) != Some(target) {
                continue;
            }
            for arg in &command.args[1..] {
                if matches!(arg.as_str(), "PUBLIC" | "PRIVATE" | "INTERFACE") || arg.contains("$<")
                {
                    continue;
                }
                out.push(super::paths::absolute(Path::new(arg), &command.source_dir));
            }
        }
        out
    }
}

/// The result of evaluating a project's top-level CMakeLists.txt up to `project()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectEval {
    /// The first argument of `project()`; None when the file never reached it.
    pub project_name: Option<String>,
    /// `include(<...>/tools/cmake/project.cmake)` was seen (recorded, not evaluated).
    pub includes_idf_project_cmake: bool,
    /// Variables the file set (and did not unset) by the time `project()` ran:
    /// `EXTRA_COMPONENT_DIRS`, `COMPONENTS`, `SDKCONFIG_DEFAULTS`, ...
    pub variables: BTreeMap<String, String>,
    /// Environment variables the file set with `set(ENV{...})`.
    pub env: BTreeMap<String, String>,
    pub build_property_sets: Vec<BuildPropertySet>,
    pub recorded: Vec<RecordedCommand>,
    pub messages: Vec<CmakeMessage>,
    pub warnings: Vec<EvalDiagnostic>,
    pub fatal: Option<EvalDiagnostic>,
    pub inputs: EvalInputs,
}

/// A file an evaluation read, stamped for the validity check.
pub use crate::project::fsview::FileStamp as FileInput;

/// A `file(GLOB...)` or SRC_DIRS glob and what it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobRecord {
    /// Absolute patterns.
    pub patterns: Vec<String>,
    pub recursive: bool,
    pub list_directories: bool,
    pub follow_symlinks: bool,
    /// The walk visits at most this many directory entries (then the result is incomplete and
    /// the evaluation warned about it).
    pub entry_limit: usize,
    /// Absolute matched paths, sorted.
    pub matched: Vec<PathBuf>,
}

/// Which file-system test was made.
pub use crate::project::fsview::ExistsKind;

/// A file-system test and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistsCheck {
    pub path: PathBuf,
    pub kind: ExistsKind,
    pub result: bool,
}

/// Everything an evaluation result depends on besides the evaluator's own code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalInputs {
    /// The CMakeLists.txt and every file included or read, first read first.
    pub files: Vec<FileInput>,
    /// Every input value read, with the value seen (None: undefined).
    pub variables: BTreeMap<InputKey, Option<String>>,
    pub globs: Vec<GlobRecord>,
    pub exists_checks: Vec<ExistsCheck>,
}
