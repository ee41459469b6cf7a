//! Project configuration: the sdkconfig values a build will see, where each came from, the Kconfig
//! defaults behind the ones nobody set, and the project's own `.espctl.toml`.
//!
//! - [`sdkconfig`]: readers for `sdkconfig`, `sdkconfig.defaults` (same syntax), kconfgen's
//!   `build/config/sdkconfig.json` and `sdkconfig.rename` files. Malformed lines are warnings with
//!   `file:line`, never panics.
//! - [`defaults_files`]: the list of defaults files exactly as ESP-IDF's `project.cmake` and
//!   `kconfig.cmake` compute it (`SDKCONFIG_DEFAULTS`, then `F.<target>` after each `F`).
//! - [`kconfig`]: a parser and evaluator for the Kconfig language ESP-IDF uses. [`KconfigTree`] loads
//!   the files (parsed files are cached by content), [`KconfigTree::evaluate`] computes every symbol's
//!   value the way kconfgen does, given the values that sdkconfig and the defaults files assign.
//! - [`ConfigSet`]: the resolver the planner asks. Values come, most exact first, from a fresh
//!   `build/config/sdkconfig.json`, then `sdkconfig`, then the defaults files, then Kconfig defaults;
//!   every value carries its [`Provenance`], and [`ConfigSet::cmake_value`] gives the string CMake
//!   sees in `CONFIG_<NAME>`.
//! - [`ConfigCache`]: what the planner calls: [`ConfigCache::load`] for a [`ConfigRequest`], then
//!   [`ConfigCache::with_kconfig`] once the components (and so the Kconfig files) are known.
//! - [`espctl_toml`]: the `.espctl.toml` project file and the `.idf-version` pin.
//!
//! Symbol names are given without the `CONFIG_` prefix everywhere in this module.

pub mod defaults_files;
pub mod espctl_toml;
pub mod kconfig;
mod load;
mod pyfmt;
pub mod sdkconfig;
mod set;

#[cfg(test)]
mod peer_tests;

use std::fmt;
use std::path::{Path, PathBuf};

use espctl_protocol::ErrorCode;

pub use defaults_files::defaults_files;
pub use espctl_toml::{
    EspctlToml, ProfileConfig, load as load_espctl_toml, read_idf_version_file, set_default_target,
};
pub use kconfig::{Evaluation, IdfKconfig, KconfigEnv, KconfigTree, UserValues, ValueSource};
pub use load::{ConfigCache, ConfigRequest, LoadedConfig, defaults_target};
pub use set::{ConfigPaths, ConfigSet, Layers, json_is_fresh};

/// The type of a Kconfig symbol, as declared in its `config` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolType {
    Bool,
    Int,
    Hex,
    /// esp-idf-kconfig's `float` type.
    Float,
    String,
}

impl SymbolType {
    pub fn name(self) -> &'static str {
        match self {
            SymbolType::Bool => "bool",
            SymbolType::Int => "int",
            SymbolType::Hex => "hex",
            SymbolType::Float => "float",
            SymbolType::String => "string",
        }
    }
}

impl fmt::Display for SymbolType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Bool(bool),
    Int(i64),
    Hex(u64),
    Float(f64),
    String(String),
}

impl ConfigValue {
    pub fn symbol_type(&self) -> SymbolType {
        match self {
            ConfigValue::Bool(_) => SymbolType::Bool,
            ConfigValue::Int(_) => SymbolType::Int,
            ConfigValue::Hex(_) => SymbolType::Hex,
            ConfigValue::Float(_) => SymbolType::Float,
            ConfigValue::String(_) => SymbolType::String,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ConfigValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            ConfigValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an int or hex symbol as a number.
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            ConfigValue::Int(v) => Some(*v as i128),
            ConfigValue::Hex(v) => Some(*v as i128),
            _ => None,
        }
    }

    /// Reads a value in the form Kconfig keeps it (`y`/`n`, `123`, `0x1f`, unquoted string text) for a
    /// symbol of type `ty`. `None` when the text is not a valid value of that type.
    pub fn from_kconfig_text(ty: SymbolType, text: &str) -> Option<ConfigValue> {
        match ty {
            SymbolType::Bool => match text {
                "y" => Some(ConfigValue::Bool(true)),
                "n" => Some(ConfigValue::Bool(false)),
                _ => None,
            },
            SymbolType::Int => {
                let v = pyfmt::py_int(text, 10)?;
                i64::try_from(v).ok().map(ConfigValue::Int)
            }
            SymbolType::Hex => {
                let v = pyfmt::py_int(text, 16)?;
                u64::try_from(v).ok().map(ConfigValue::Hex)
            }
            SymbolType::Float => pyfmt::py_float(text)
                .filter(|f| f.is_finite())
                .map(ConfigValue::Float),
            SymbolType::String => Some(ConfigValue::String(text.to_string())),
        }
    }

    /// The value in Kconfig's canonical text form: `y`/`n`, decimal, `0x`-prefixed lower-case hex,
    /// Python's float repr, the raw string.
    pub fn to_kconfig_text(&self) -> String {
        match self {
            ConfigValue::Bool(true) => "y".into(),
            ConfigValue::Bool(false) => "n".into(),
            ConfigValue::Int(v) => v.to_string(),
            ConfigValue::Hex(v) => format!("{v:#x}"),
            ConfigValue::Float(f) => pyfmt::float_repr(*f),
            ConfigValue::String(s) => s.clone(),
        }
    }
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::String(s) => write!(f, "\"{}\"", escape_string(s)),
            other => f.write_str(&other.to_kconfig_text()),
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Provenance {
    /// `build/config/sdkconfig.json`, written by the last configure and newer than `sdkconfig`: exact.
    SdkconfigJson,
    /// The project's `sdkconfig` (including the values it marks `# default:`).
    Sdkconfig,
    /// A defaults file (`sdkconfig.defaults`, `sdkconfig.defaults.<target>`, an `SDKCONFIG_DEFAULTS`
    /// entry).
    Defaults(PathBuf),
    /// Kconfig: the `default` line that applied, or the `select`/`imply` that forced the value, or
    /// the `choice` whose selection decided it (file and 1-based line).
    KconfigDefault(PathBuf, u32),
    /// An sdkconfig override given for this build (`params.sdkconfig`).
    Override,
    /// Nothing gave the symbol a value: it has Kconfig's "no value" (`n` for a bool, empty otherwise).
    Unset,
}

impl Provenance {
    /// True when the value was read from what a configure wrote (sdkconfig.json or sdkconfig) or was
    /// given for this build, rather than guessed from defaults.
    pub fn is_exact(&self) -> bool {
        matches!(
            self,
            Provenance::SdkconfigJson | Provenance::Sdkconfig | Provenance::Override
        )
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::SdkconfigJson => f.write_str("build/config/sdkconfig.json"),
            Provenance::Sdkconfig => f.write_str("sdkconfig"),
            Provenance::Defaults(p) => write!(f, "{}", p.display()),
            Provenance::KconfigDefault(p, line) => {
                write!(f, "Kconfig default at {}:{line}", p.display())
            }
            Provenance::Override => f.write_str("override"),
            Provenance::Unset => f.write_str("unset"),
        }
    }
}

/// Something worth telling the user that did not stop the work: a malformed line, an unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: PathBuf,
    /// 1-based; 0 when the warning is about the file as a whole.
    pub line: u32,
    pub message: String,
}

impl ConfigWarning {
    pub fn new(file: impl Into<PathBuf>, line: u32, message: impl Into<String>) -> Self {
        ConfigWarning {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Errors of this module. Each says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}; check that the directory is writable", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "SDKCONFIG_DEFAULTS names {} (from {origin}), which does not exist; create it or fix the list \
         (paths are relative to the project directory)",
        path.display()
    )]
    MissingDefaultsFile { path: PathBuf, origin: String },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: u32,
        message: String,
    },
    #[error("{}:{line}: `{key}` must be {expected}, found {found}", path.display())]
    WrongType {
        path: PathBuf,
        line: u32,
        key: String,
        expected: String,
        found: String,
    },
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    InvalidValue {
        path: PathBuf,
        line: u32,
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// The protocol error code: a bad or missing configuration file is a configuration error (exit 2).
    pub fn code(&self) -> ErrorCode {
        ErrorCode::Config
    }
}

impl From<ConfigError> for crate::error::DaemonError {
    fn from(e: ConfigError) -> Self {
        let err = crate::error::DaemonError::new(e.code(), e.to_string());
        match &e {
            ConfigError::WrongType { .. } | ConfigError::InvalidValue { .. } => {
                err.with_hint("docs/espctl-toml.md lists every key of .espctl.toml with its type")
            }
            ConfigError::Syntax { path, .. } if path.ends_with(espctl_toml::FILE_NAME) => {
                err.with_hint("docs/espctl-toml.md lists every key of .espctl.toml with its type")
            }
            ConfigError::MissingDefaultsFile { .. } => {
                err.with_hint("SDKCONFIG_DEFAULTS is a ;-separated list of files relative to the project directory")
            }
            _ => err,
        }
    }
}

/// Escapes a string the way kconfgen writes it between double quotes (in sdkconfig and
/// sdkconfig.cmake): `\` and `"` get a backslash.
pub fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Strips a leading `CONFIG_` so that callers may use either spelling.
pub(crate) fn bare_name(name: &str) -> &str {
    name.strip_prefix("CONFIG_").unwrap_or(name)
}

/// Joins `p` to `base` unless it is absolute, and removes `.` and `..` components lexically, as
/// CMake's `get_filename_component(... ABSOLUTE)` does.
pub(crate) fn absolutize(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for comp in joined.components() {
        match comp {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
