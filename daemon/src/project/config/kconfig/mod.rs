//! The Kconfig language as ESP-IDF uses it (kconfiglib / esp-idf-kconfig syntax), and the values it
//! gives each symbol.
//!
//! [`KconfigTree::load`] parses a list of top-level files (following `source`, `rsource`, `osource`,
//! `orsource`, with `$VAR`, `${VAR}` and `$(VAR)` expanded from a [`KconfigEnv`]) into symbols and
//! choices with their dependencies propagated the way kconfiglib does it: a `depends on`, an
//! enclosing `if` or `menu` limits the entry's prompt, defaults, selects and ranges; `visible if`
//! limits prompts only. [`KconfigTree::load_idf`] builds the tree ESP-IDF's configure builds: its root
//! `Kconfig` with `$COMPONENT_KCONFIGS_SOURCE_FILE` and friends standing for the given component
//! files.
//!
//! [`KconfigTree::evaluate`] computes every symbol's value from the values sdkconfig and the defaults
//! files assign ([`UserValues`]), with kconfgen's rules: a user value only counts while its symbol is
//! visible, the first `default` whose condition holds wins, `select` forces a bool to `y`, `imply`
//! raises it while its dependencies hold, `range` clamps, a choice takes the user's visible
//! selection, else its first applicable `default`, else its first visible member; a symbol whose
//! dependencies do not hold gets no value and is not written. Which symbols are "written" decides
//! what kconfgen puts in `sdkconfig`, `sdkconfig.json` and `sdkconfig.cmake`.
//!
//! Parsed files are cached by content ([`KconfigCache`]); unknown syntax is a warning with
//! `file:line`, never a panic, and evaluation of a dependency loop stops instead of recursing.

mod eval;
mod glob;
mod link;
mod parse;

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

pub use eval::{Evaluation, SymbolValue, ValueSource, cmake_text};
pub(crate) use link::resolve_source;

use super::sdkconfig::{RawValue, Rename, SdkconfigFile};
use super::{ConfigValue, ConfigWarning, SymbolType};
use crate::project::fsview::{FileStamp, read_stamped};
use parse::{ParsedFile, RelOp};

pub(crate) type SymId = u32;
pub(crate) type ChoiceId = u32;
pub(crate) type ExprId = u32;

/// Where a property was written: an index into [`TreeData::files`] and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: u32,
    pub line: u32,
}

/// An expression node. Operands of relations are leaves (constants or symbols).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum E {
    Y,
    N,
    /// A constant that is neither `y` nor `n` (a quoted string): its text, bool value n.
    Const(Arc<str>),
    Sym(SymId),
    /// The mode of a choice: what the members of a choice depend on.
    Choice(ChoiceId),
    Not(ExprId),
    And(ExprId, ExprId),
    Or(ExprId, ExprId),
    Rel(RelOp, ExprId, ExprId),
}

pub(crate) const EXPR_Y: ExprId = 0;
pub(crate) const EXPR_N: ExprId = 1;

/// One definition (`config` entry) of a symbol.
#[derive(Debug, Clone)]
pub(crate) struct SymNode {
    /// The prompt's condition with dependencies and `visible if` folded in; `None`: no prompt.
    pub prompt: Option<ExprId>,
    /// The entry's dependencies, including those of enclosing `if`/`menu`/`choice`.
    pub dep: ExprId,
    pub loc: Loc,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Sym {
    pub name: Arc<str>,
    pub ty: Option<SymbolType>,
    pub nodes: Vec<SymNode>,
    /// (value, condition, where), conditions with dependencies folded in, in definition order.
    pub defaults: Vec<(ExprId, ExprId, Loc)>,
    pub ranges: Vec<(ExprId, ExprId, ExprId)>,
    /// OR of the node dependencies.
    pub direct_dep: ExprId,
    /// `select`s of this symbol: (selecting symbol && condition, where).
    pub rev_dep: Vec<(ExprId, Loc)>,
    /// `imply`s of this symbol.
    pub weak_rev_dep: Vec<(ExprId, Loc)>,
    /// `set SYM=value`: (value leaf, selecting symbol && condition, where).
    pub rev_values: Vec<(ExprId, ExprId, Loc)>,
    /// `set default SYM=value`.
    pub weak_rev_values: Vec<(ExprId, ExprId, Loc)>,
    /// `option env=...`: never written to the outputs.
    pub env_var: bool,
    pub choice: Option<ChoiceId>,
}

impl Sym {
    pub fn defined(&self) -> bool {
        !self.nodes.is_empty()
    }
    pub fn has_prompt(&self) -> bool {
        self.nodes.iter().any(|n| n.prompt.is_some())
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Choice {
    /// (prompt condition, dependencies, where) per definition.
    pub nodes: Vec<(Option<ExprId>, ExprId, Loc)>,
    pub defaults: Vec<(SymId, ExprId, Loc)>,
    pub syms: Vec<SymId>,
    pub ty: Option<SymbolType>,
}

/// Everything a loaded tree holds; shared with evaluations.
#[derive(Debug, Default)]
pub(crate) struct TreeData {
    pub files: Vec<Arc<Path>>,
    /// What the tree was read from, to tell later whether it would read the same.
    pub inputs: TreeInputs,
    pub exprs: Vec<E>,
    pub syms: Vec<Sym>,
    pub sym_index: HashMap<Arc<str>, SymId>,
    pub choices: Vec<Choice>,
    /// Defined symbols in definition order (the order kconfgen writes them).
    pub order: Vec<SymId>,
    pub warnings: Vec<ConfigWarning>,
}

/// The file-system inputs of a linked tree.
#[derive(Debug, Clone, Default)]
pub(crate) struct TreeInputs {
    /// Every file read.
    pub files: Vec<FileStamp>,
    /// Every `source` resolved against the file system: the path (or pattern) and the files found.
    pub sources: Vec<(PathBuf, Vec<PathBuf>)>,
    /// Files found but not readable.
    pub unreadable: Vec<PathBuf>,
}

impl TreeData {
    pub fn file(&self, loc: Loc) -> &Arc<Path> {
        &self.files[loc.file as usize]
    }
    pub fn lookup(&self, name: &str) -> Option<SymId> {
        self.sym_index.get(name).copied()
    }
}

/// The environment a tree is read in: the variables `$VAR`, `${VAR}` and `$(VAR)` see, and file lists
/// that stand for the files ESP-IDF's build generates (`$COMPONENT_KCONFIGS_SOURCE_FILE` ...).
///
/// Nothing is taken from the daemon's own environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KconfigEnv {
    pub vars: BTreeMap<String, String>,
    /// Where `source`/`osource` resolve relative paths; default: the directory of the first file.
    pub srctree: Option<PathBuf>,
    virtual_files: BTreeMap<String, String>,
}

impl KconfigEnv {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Makes `$var` name a generated file that `source`s each of `files` in order, as
    /// ESP-IDF's `prepare_kconfig_files.py` writes for `COMPONENT_KCONFIGS_SOURCE_FILE`.
    pub fn set_file_list(&mut self, var: &str, files: &[PathBuf]) -> &mut Self {
        let name = format!("<{var}>");
        let text = files
            .iter()
            .map(|f| format!("source \"{}\"", f.display()))
            .collect::<Vec<_>>()
            .join("\n");
        self.virtual_files.insert(name.clone(), text);
        self.vars.insert(var.to_string(), name);
        self
    }

    pub(crate) fn virtual_file(&self, name: &str) -> Option<&str> {
        self.virtual_files.get(name).map(String::as_str)
    }
}

/// Parsed Kconfig files, by path, reused while their content is unchanged.
#[derive(Debug, Default)]
pub struct KconfigCache {
    files: Mutex<HashMap<PathBuf, (u64, Arc<ParsedFile>)>>,
}

static GLOBAL_CACHE: LazyLock<KconfigCache> = LazyLock::new(KconfigCache::default);

impl KconfigCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide cache that [`KconfigTree::load`] uses.
    pub fn global() -> &'static KconfigCache {
        &GLOBAL_CACHE
    }

    /// Number of files held.
    pub fn len(&self) -> usize {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parsed file at `path`: reused when the content hashes the same as last time.
    #[cfg(test)]
    pub(crate) fn parse_file(&self, path: &Path) -> std::io::Result<Arc<ParsedFile>> {
        self.parse_file_stamped(path).map(|(parsed, _)| parsed)
    }

    /// [`Self::parse_file`], with the stamp of the read.
    pub(crate) fn parse_file_stamped(
        &self,
        path: &Path,
    ) -> std::io::Result<(Arc<ParsedFile>, FileStamp)> {
        let (bytes, stamp) = read_stamped(path)?;
        {
            let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((h, parsed)) = files.get(path)
                && *h == stamp.hash
            {
                return Ok((parsed.clone(), stamp));
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let parsed = Arc::new(parse::parse(&text));
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf(), (stamp.hash, parsed.clone()));
        Ok((parsed, stamp))
    }

    /// Whether the cache holds exactly this parse for `path` (for tests of reuse).
    #[cfg(test)]
    pub(crate) fn holds(&self, path: &Path, parsed: &Arc<ParsedFile>) -> bool {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.get(path).is_some_and(|(_, p)| Arc::ptr_eq(p, parsed))
    }
}

/// The inputs of an ESP-IDF configure that decide the Kconfig tree.
#[derive(Debug, Clone)]
pub struct IdfKconfig {
    /// The ESP-IDF tree. Its root `Kconfig` is parsed when it exists; otherwise a built-in root with
    /// the same target symbols is used.
    pub idf_path: PathBuf,
    pub target: String,
    /// `Kconfig` files of the components in the build (and the bootloader's), in component order.
    pub kconfigs: Vec<PathBuf>,
    /// `Kconfig.projbuild` files, in component order.
    pub kconfig_projbuilds: Vec<PathBuf>,
    /// `gcc` or `clang`.
    pub toolchain: String,
    /// The ESP-IDF version (`IDF_VERSION`, e.g. `6.2.0`).
    pub idf_version: String,
    /// `CONFIG_IDF_INIT_VERSION` of an existing sdkconfig; defaults to `idf_version`.
    pub init_version: Option<String>,
    /// The project sets `MINIMAL_BUILD`.
    pub minimal_build: bool,
    /// `$IDF_ENV_FPGA` as the build sees it (usually empty).
    pub env_fpga: String,
    /// Further environment variables the configure sees (`IDF_CI_BUILD`, ...).
    pub extra_env: BTreeMap<String, String>,
}

impl IdfKconfig {
    pub fn new(idf_path: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        IdfKconfig {
            idf_path: idf_path.into(),
            target: target.into(),
            kconfigs: Vec::new(),
            kconfig_projbuilds: Vec::new(),
            toolchain: "gcc".into(),
            idf_version: String::new(),
            init_version: None,
            minimal_build: false,
            env_fpga: String::new(),
            extra_env: BTreeMap::new(),
        }
    }

    /// The environment kconfgen gets from ESP-IDF's `config.env` and command line.
    pub fn env(&self) -> KconfigEnv {
        let mut env = KconfigEnv::new();
        for (k, v) in &self.extra_env {
            env.set(k.clone(), v.clone());
        }
        let join = |files: &[PathBuf]| {
            files
                .iter()
                .map(|f| f.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(";")
        };
        env.set("IDF_PATH", self.idf_path.to_string_lossy())
            .set("IDF_TARGET", self.target.clone())
            .set("IDF_TOOLCHAIN", self.toolchain.clone())
            .set("IDF_VERSION", self.idf_version.clone())
            .set(
                "IDF_INIT_VERSION",
                self.init_version
                    .clone()
                    .unwrap_or_else(|| self.idf_version.clone()),
            )
            .set("IDF_ENV_FPGA", self.env_fpga.clone())
            .set(
                "IDF_MINIMAL_BUILD",
                if self.minimal_build { "y" } else { "n" },
            )
            .set("COMPONENT_KCONFIGS", join(&self.kconfigs))
            .set(
                "COMPONENT_KCONFIGS_PROJBUILD",
                join(&self.kconfig_projbuilds),
            )
            .set("KCONFIG_PROMPTLESS_NO_WARN", "IDF_TARGET");
        env.set_file_list("COMPONENT_KCONFIGS_SOURCE_FILE", &self.kconfigs);
        env.set_file_list(
            "COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE",
            &self.kconfig_projbuilds,
        );
        env.srctree = Some(self.idf_path.clone());
        env
    }
}

/// A loaded Kconfig tree. Cheap to clone.
#[derive(Debug, Clone)]
pub struct KconfigTree {
    pub(crate) data: Arc<TreeData>,
}

/// Values assigned by sdkconfig-format files, resolved against a tree the way kconfgen loads them.
#[derive(Debug, Clone, Default)]
pub struct UserValues {
    /// Per symbol: the user value's text and the layer that gave it.
    pub(crate) user: HashMap<SymId, (String, usize)>,
    /// Per symbol: a `# default:` value that replaces the Kconfig defaults while the symbol is visible.
    pub(crate) injected: HashMap<SymId, (String, usize)>,
    /// Per choice: the member a layer set to `y` (last one wins).
    pub(crate) selection: HashMap<ChoiceId, (SymId, usize)>,
    /// Per choice: the member a `# default:` line set to `y`.
    pub(crate) injected_selection: HashMap<ChoiceId, (SymId, usize)>,
}

impl UserValues {
    /// No values at all: evaluation gives the pure Kconfig defaults.
    pub fn none() -> Self {
        Self::default()
    }
}

/// A synthesized root for when the IDF tree has no root `Kconfig`: the target symbols ESP-IDF's root
/// derives from `$IDF_TARGET`, then the component files.
fn builtin_root(target_env_has_idf_path: bool) -> String {
    // (target, symbol suffix, arch, single core, firmware chip id)
    const TARGETS: &[(&str, &str, &str, bool, u32)] = &[
        ("esp32", "ESP32", "XTENSA", false, 0x0000),
        ("esp32s2", "ESP32S2", "XTENSA", true, 0x0002),
        ("esp32s3", "ESP32S3", "XTENSA", false, 0x0009),
        ("esp32c3", "ESP32C3", "RISCV", true, 0x0005),
        ("esp32c2", "ESP32C2", "RISCV", true, 0x000C),
        ("esp32c6", "ESP32C6", "RISCV", true, 0x000D),
        ("esp32c5", "ESP32C5", "RISCV", true, 0x0017),
        ("esp32p4", "ESP32P4", "RISCV", false, 0x0012),
        ("esp32h2", "ESP32H2", "RISCV", true, 0x0010),
        ("esp32c61", "ESP32C61", "RISCV", true, 0x0014),
        ("esp32h21", "ESP32H21", "RISCV", true, 0x0019),
        ("esp32h4", "ESP32H4", "RISCV", false, 0x001C),
    ];
    let mut k = String::from("mainmenu \"Espressif IoT Development Framework Configuration\"\n");
    if target_env_has_idf_path {
        k.push_str(
            "osource \"$IDF_PATH/components/soc/$IDF_TARGET/include/soc/Kconfig.soc_caps.in\"\n",
        );
    }
    k.push_str(
        "config IDF_CMAKE\n bool\n default y\n\
         config IDF_ENV_FPGA\n bool\n option env=\"IDF_ENV_FPGA\"\n\
         config IDF_TOOLCHAIN\n string\n default \"$IDF_TOOLCHAIN\"\n\
         config IDF_TOOLCHAIN_CLANG\n bool\n default y if IDF_TOOLCHAIN=\"clang\"\n\
         config IDF_TOOLCHAIN_GCC\n bool\n default y if IDF_TOOLCHAIN=\"gcc\"\n\
         config IDF_TARGET_ARCH_RISCV\n bool\n default n\n\
         config IDF_TARGET_ARCH_XTENSA\n bool\n default n\n\
         config IDF_TARGET_ARCH\n string\n default \"riscv\" if IDF_TARGET_ARCH_RISCV\n default \"xtensa\" if IDF_TARGET_ARCH_XTENSA\n\
         config IDF_TARGET\n string\n default \"$IDF_TARGET\"\n\
         config IDF_INIT_VERSION\n string\n default \"$IDF_INIT_VERSION\"\n",
    );
    for (name, sym, arch, single_core, _) in TARGETS {
        k.push_str(&format!(
            "config IDF_TARGET_{sym}\n bool\n default y if IDF_TARGET=\"{name}\"\n select IDF_TARGET_ARCH_{arch}\n"
        ));
        if *single_core {
            k.push_str(" select FREERTOS_UNICORE\n");
        }
    }
    k.push_str("config IDF_TARGET_LINUX\n bool\n default y if IDF_TARGET=\"linux\"\n select FREERTOS_UNICORE\n");
    k.push_str("config IDF_FIRMWARE_CHIP_ID\n hex\n");
    for (_, sym, _, _, id) in TARGETS {
        k.push_str(&format!(" default {id:#06X} if IDF_TARGET_{sym}\n").replace("0X", "0x"));
    }
    k.push_str(" default 0xFFFF\n");
    k.push_str("source \"$COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE\"\n");
    k.push_str("menu \"Component config\"\nsource \"$COMPONENT_KCONFIGS_SOURCE_FILE\"\nendmenu\n");
    k
}

impl KconfigTree {
    /// Loads `files` as if they were one file in that order, with the process-wide cache.
    pub fn load(files: &[PathBuf], env: &KconfigEnv) -> KconfigTree {
        Self::load_with_cache(files, env, KconfigCache::global())
    }

    pub fn load_with_cache(
        files: &[PathBuf],
        env: &KconfigEnv,
        cache: &KconfigCache,
    ) -> KconfigTree {
        let tops: Vec<link::Top> = files.iter().map(|f| link::Top::File(f.clone())).collect();
        KconfigTree {
            data: Arc::new(link::link(&tops, env, cache)),
        }
    }

    /// Loads Kconfig text that is not in a file (named `name` in warnings and provenance).
    pub fn load_text(name: &str, text: &str, env: &KconfigEnv) -> KconfigTree {
        let tops = [link::Top::Text(PathBuf::from(name), text.to_string())];
        KconfigTree {
            data: Arc::new(link::link(&tops, env, KconfigCache::global())),
        }
    }

    /// The tree of an ESP-IDF configure: `$IDF_PATH/Kconfig` (or a built-in root with the same target
    /// symbols when the tree has none) with the component files in place of the generated lists.
    pub fn load_idf(idf: &IdfKconfig) -> KconfigTree {
        Self::load_idf_with_cache(idf, KconfigCache::global())
    }

    pub fn load_idf_with_cache(idf: &IdfKconfig, cache: &KconfigCache) -> KconfigTree {
        let env = idf.env();
        let root = idf.idf_path.join("Kconfig");
        let top = if root.is_file() {
            link::Top::File(root)
        } else {
            link::Top::Text(
                PathBuf::from("<built-in ESP-IDF root Kconfig>"),
                builtin_root(
                    !idf.idf_path.as_os_str().is_empty()
                        && idf.idf_path.join("components").is_dir(),
                ),
            )
        };
        KconfigTree {
            data: Arc::new(link::link(&[top], &env, cache)),
        }
    }

    /// What the tree was read from.
    pub(crate) fn inputs(&self) -> &TreeInputs {
        &self.data.inputs
    }

    /// Problems found while reading the files (syntax, missing sourced files, ...).
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.data.warnings
    }

    /// Every file read, in the order first read.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.data.files.iter().map(|f| &**f)
    }

    /// Names of the defined symbols, in definition order.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.data
            .order
            .iter()
            .map(|&id| &*self.data.syms[id as usize].name)
    }

    pub fn is_defined(&self, name: &str) -> bool {
        self.data
            .lookup(super::bare_name(name))
            .is_some_and(|id| self.data.syms[id as usize].defined())
    }

    /// The declared type of a defined symbol.
    pub fn symbol_type(&self, name: &str) -> Option<SymbolType> {
        let id = self.data.lookup(super::bare_name(name))?;
        let sym = &self.data.syms[id as usize];
        if sym.defined() { sym.ty } else { None }
    }

    /// Resolves the assignments of sdkconfig-format files (loaded in order: defaults files, then
    /// sdkconfig) against this tree, as kconfgen loads them: old names from `renames` map to new ones,
    /// values that do not fit the symbol's type are ignored with a warning, assignments to unknown
    /// symbols are ignored, a `# default:` value of a prompted symbol replaces its Kconfig defaults,
    /// and the last member of a choice set to `y` becomes the choice's selection.
    ///
    /// `warn_unknown[i]` says whether assignments to unknown symbols in layer `i` are warnings
    /// (kconfgen notes them for defaults files).
    pub fn user_values(
        &self,
        layers: &[&SdkconfigFile],
        renames: &[Rename],
        warn_unknown: &[bool],
    ) -> (UserValues, Vec<ConfigWarning>) {
        let data = &self.data;
        let rename_map: HashMap<&str, &Rename> =
            renames.iter().map(|r| (r.old.as_str(), r)).collect();
        let mut out = UserValues::default();
        let mut warnings = Vec::new();
        for (layer, file) in layers.iter().enumerate() {
            // Choice members assigned by this file without `# default:`, in order.
            let mut choice_sets: Vec<(ChoiceId, SymId, bool)> = Vec::new();
            for a in &file.assignments {
                let mut value = a.value.clone();
                let mut marked_default = a.marked_default;
                let mut id = data
                    .lookup(&a.name)
                    .filter(|&id| data.syms[id as usize].defined());
                if id.is_none()
                    && let Some(r) = rename_map.get(a.name.as_str())
                    && let Some(new_id) = data
                        .lookup(&r.new)
                        .filter(|&id| data.syms[id as usize].defined())
                {
                    id = Some(new_id);
                    marked_default = false;
                    if r.inverted && data.syms[new_id as usize].ty == Some(SymbolType::Bool) {
                        value = match value {
                            RawValue::NotSet => RawValue::Bare("y".into()),
                            RawValue::Bare(v) | RawValue::Loose(v) if v.starts_with('y') => {
                                RawValue::Bare("n".into())
                            }
                            _ => RawValue::Bare("y".into()),
                        };
                    }
                }
                let Some(id) = id else {
                    if warn_unknown.get(layer).copied().unwrap_or(false) {
                        warnings.push(ConfigWarning::new(
                            &file.path,
                            a.line,
                            format!(
                                "unknown Kconfig symbol CONFIG_{}: assignment ignored",
                                a.name
                            ),
                        ));
                    }
                    continue;
                };
                let sym = &data.syms[id as usize];
                let Some(ty) = sym.ty else { continue };
                if value == RawValue::NotSet && ty != SymbolType::Bool {
                    continue;
                }
                let Some(text) = value.kconfig_text(ty) else {
                    let why = value.typed(ty).err().unwrap_or_default();
                    warnings.push(ConfigWarning::new(
                        &file.path,
                        a.line,
                        format!("CONFIG_{}: {why}; assignment ignored", a.name),
                    ));
                    continue;
                };
                if let Some(choice) = sym.choice {
                    if marked_default {
                        if text == "y" && sym.has_prompt() {
                            out.injected_selection.insert(choice, (id, layer));
                        }
                    } else {
                        choice_sets.push((choice, id, text == "y"));
                        out.user.insert(id, (text, layer));
                    }
                    continue;
                }
                if marked_default {
                    // kconfgen ignores `# default:` values of promptless symbols: Kconfig decides.
                    if sym.has_prompt() {
                        out.injected.insert(id, (text, layer));
                    }
                } else {
                    out.user.insert(id, (text, layer));
                }
            }
            for (choice, id, is_y) in choice_sets {
                if is_y {
                    out.selection.insert(choice, (id, layer));
                }
            }
        }
        (out, warnings)
    }

    /// Every symbol's value, from `user` values and the Kconfig defaults.
    pub fn evaluate(&self, user: &UserValues) -> Evaluation {
        eval::evaluate(self.data.clone(), user)
    }

    /// The values Kconfig defaults give, when `known` gives the values already decided (each taken as
    /// a user value, as kconfgen takes sdkconfig's): name to (value, file, line) of the `default`,
    /// `select`, `imply` or `choice` that decided it, for written symbols that `known` does not give.
    pub fn defaults(
        &self,
        known: &dyn Fn(&str) -> Option<ConfigValue>,
    ) -> BTreeMap<String, (ConfigValue, PathBuf, u32)> {
        let mut user = UserValues::default();
        for &id in &self.data.order {
            let sym = &self.data.syms[id as usize];
            let Some(v) = known(&sym.name) else { continue };
            let text = v.to_kconfig_text();
            if let Some(choice) = sym.choice
                && v == ConfigValue::Bool(true)
            {
                user.selection.insert(choice, (id, 0));
            }
            user.user.insert(id, (text, 0));
        }
        let eval = self.evaluate(&user);
        let mut out = BTreeMap::new();
        for v in eval.iter() {
            if !v.written || known(&v.name).is_some() {
                continue;
            }
            let (file, line) = match &v.source {
                ValueSource::Default { file, line }
                | ValueSource::Select { file, line }
                | ValueSource::Imply { file, line }
                | ValueSource::Set { file, line }
                | ValueSource::Choice { file, line } => (file.to_path_buf(), *line),
                _ => continue,
            };
            if let Some(value) = v.value() {
                out.insert(v.name.to_string(), (value, file, line));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
