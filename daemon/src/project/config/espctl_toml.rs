//! `.espctl.toml`: a project's espctl settings, in the project directory. Every key is optional; a
//! missing file means all defaults.
//!
//! ```toml
//! # Chip used when no --target is given (one of esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c5,
//! # esp32c6, esp32c61, esp32h2, esp32p4, or linux). `espctl set-target` keeps it up to date.
//! default_target = "esp32c3"
//! # ESP-IDF version to build with, used when the project has no .idf-version file.
//! idf_version = "5.3.1"
//! # Build directory of the debug profile, relative to the project (default "build").
//! build_dir = "build"
//!
//! [profile.debug]              # the default profile
//! build_dir = "build"          # overrides the top-level build_dir
//! sdkconfig = "sdkconfig"      # the SDKCONFIG file
//! sdkconfig_defaults = []      # defaults files added after the project's own (SDKCONFIG_DEFAULTS)
//! cmake_args = []              # extra arguments for the CMake configure step
//!
//! [profile.release]            # defaults: build-release/, sdkconfig.release
//! sdkconfig_defaults = ["sdkconfig.defaults.prod"]
//! cmake_args = ["-DPROD=1"]
//!
//! [flash]
//! port = "/dev/ttyUSB0"        # serial port (default: the one port found)
//! baud = 460800                # baud rate while flashing
//! before = "default-reset"     # default-reset | usb-reset | no-reset | no-reset-no-sync
//! after = "hard-reset"         # hard-reset | soft-reset | no-reset | no-reset-no-stub | watchdog-reset
//! no_stub = false              # talk to the ROM loader instead of uploading the flasher stub
//! erase_all = false            # erase the whole flash before writing
//!
//! [monitor]
//! port = "/dev/ttyUSB0"        # default: flash.port
//! baud = 115200                # default: CONFIG_ESP_CONSOLE_UART_BAUDRATE
//! filters = ["wifi:W", "*:I"]  # log filters, TAG:LEVEL with LEVEL one of N E W I D V *
//! timestamps = false           # prefix each line with the time it arrived
//! eol = "CRLF"                 # line ending sent: CRLF | CR | LF
//!
//! [idf]
//! search_paths = ["~/esp", "/opt/esp-idf"]  # more places to look for ESP-IDF installs
//! tools_path = "~/.espressif"               # IDF_TOOLS_PATH for installs found there
//! ```
//!
//! Relative paths are relative to the project directory; `~/` is the user's home. An unknown key is
//! a warning (with its line, its full key path, and the closest known key when it looks like a typo);
//! a value of the wrong type or outside its allowed set is an error with the line and what was
//! expected. [`set_default_target`] rewrites only `default_target`, keeping comments and order, and
//! replaces the file atomically. The ESP-IDF version pin can also live in `.idf-version`
//! ([`read_idf_version_file`]), which wins over `idf_version` here.

use std::ops::Range;
use std::path::{Path, PathBuf};

use espctl_protocol::Chip;
use espctl_protocol::plan::Profile;
use toml_edit::{Item, Value};

use super::{ConfigError, ConfigWarning};

/// The file name, in the project directory.
pub const FILE_NAME: &str = ".espctl.toml";
/// The one-line ESP-IDF version pin, in the project directory.
pub const IDF_VERSION_FILE: &str = ".idf-version";

/// The settings of `.espctl.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EspctlToml {
    pub default_target: Option<String>,
    pub idf_version: Option<String>,
    pub build_dir: Option<String>,
    pub debug: Option<ProfileConfig>,
    pub release: Option<ProfileConfig>,
    pub flash: FlashConfig,
    pub monitor: MonitorConfig,
    pub idf: IdfConfig,
    /// The file the settings came from; `None` when there is none.
    pub path: Option<PathBuf>,
}

/// `[profile.debug]`, `[profile.release]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileConfig {
    pub build_dir: Option<String>,
    pub sdkconfig: Option<String>,
    /// Defaults files, in order, added after the project's own.
    pub sdkconfig_defaults: Vec<String>,
    pub cmake_args: Vec<String>,
}

/// How the chip is reset before flashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetBefore {
    DefaultReset,
    UsbReset,
    NoReset,
    NoResetNoSync,
}

/// How the chip is reset after flashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetAfter {
    HardReset,
    SoftReset,
    NoReset,
    NoResetNoStub,
    WatchdogReset,
}

/// `[flash]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlashConfig {
    pub port: Option<String>,
    pub baud: Option<u32>,
    pub before: Option<ResetBefore>,
    pub after: Option<ResetAfter>,
    pub no_stub: Option<bool>,
    pub erase_all: Option<bool>,
}

/// The line ending the monitor sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eol {
    Crlf,
    Cr,
    Lf,
}

/// `[monitor]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorConfig {
    pub port: Option<String>,
    pub baud: Option<u32>,
    /// `TAG:LEVEL` filters, as `idf.py monitor --print-filter` takes them.
    pub filters: Vec<String>,
    pub timestamps: Option<bool>,
    pub eol: Option<Eol>,
}

/// `[idf]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdfConfig {
    pub search_paths: Vec<String>,
    pub tools_path: Option<String>,
}

impl EspctlToml {
    /// The settings of a profile, when the file has them.
    pub fn profile(&self, profile: Profile) -> Option<&ProfileConfig> {
        match profile {
            Profile::Debug => self.debug.as_ref(),
            Profile::Release => self.release.as_ref(),
        }
    }

    /// `[idf] search_paths`, with relative paths made absolute against the project and `~/` expanded.
    pub fn idf_search_paths(&self, project_dir: &Path) -> Vec<PathBuf> {
        self.idf
            .search_paths
            .iter()
            .map(|p| resolve_path(project_dir, p))
            .collect()
    }
}

/// A path from the file: `~/...` under the user's home, relative ones under the project directory.
pub fn resolve_path(project_dir: &Path, p: &str) -> PathBuf {
    if (p == "~" || p.starts_with("~/"))
        && let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())
    {
        return home.join(p.trim_start_matches('~').trim_start_matches('/'));
    }
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        project_dir.join(path)
    }
}

/// Reads `<project_dir>/.espctl.toml`. A missing file gives the defaults and no warnings.
pub fn load(project_dir: &Path) -> Result<(EspctlToml, Vec<ConfigWarning>), ConfigError> {
    let path = project_dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((EspctlToml::default(), Vec::new()));
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    parse(&path, &text)
}

/// Parses `.espctl.toml` text; `path` is used in messages.
pub fn parse(path: &Path, text: &str) -> Result<(EspctlToml, Vec<ConfigWarning>), ConfigError> {
    let doc = toml_edit::Document::parse(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
        message: format!("not valid TOML: {}", e.message().trim_end()),
    })?;
    let mut r = Reader {
        path,
        text,
        warnings: Vec::new(),
    };
    let mut out = EspctlToml {
        path: Some(path.to_path_buf()),
        ..Default::default()
    };
    let root = doc.as_table();
    for (key, item) in root.iter() {
        let line = r.key_line(root, key, 1);
        match key {
            "default_target" => {
                let t = r.string(item, key, line)?;
                check_target(&mut r, &t, line);
                out.default_target = Some(t);
            }
            "idf_version" => out.idf_version = Some(r.string(item, key, line)?),
            "build_dir" => out.build_dir = Some(r.string(item, key, line)?),
            "profile" => {
                let t = r.table(item, key, line)?;
                for (name, pitem) in t.iter() {
                    let pline = r.key_line_like(t, name, line);
                    let full = format!("profile.{name}");
                    let cfg = r.profile(pitem, &full, pline)?;
                    match name {
                        "debug" => out.debug = Some(cfg),
                        "release" => out.release = Some(cfg),
                        _ => r.unknown(&full, pline, &["profile.debug", "profile.release"]),
                    }
                }
            }
            "flash" => out.flash = r.flash(item, line)?,
            "monitor" => out.monitor = r.monitor(item, line)?,
            "idf" => out.idf = r.idf(item, line)?,
            _ => r.unknown(key, line, ROOT_KEYS),
        }
    }
    Ok((out, r.warnings))
}

const ROOT_KEYS: &[&str] = &[
    "default_target",
    "idf_version",
    "build_dir",
    "profile",
    "flash",
    "monitor",
    "idf",
];

fn check_target(r: &mut Reader<'_>, t: &str, line: u32) {
    let known: Vec<&str> = Chip::ALL
        .iter()
        .map(|c| c.name())
        .chain(["linux"])
        .collect();
    if !known.contains(&t) {
        let hint = closest(t, &known)
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        r.warnings.push(ConfigWarning::new(
            r.path,
            line,
            format!(
                "default_target `{t}` is not a chip espctl knows ({}){hint}",
                known.join(", ")
            ),
        ));
    }
}

fn line_of(text: &str, offset: usize) -> u32 {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
    warnings: Vec<ConfigWarning>,
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

impl<'a> Reader<'a> {
    fn line(&self, span: Option<Range<usize>>, fallback: u32) -> u32 {
        span.map(|s| line_of(self.text, s.start))
            .unwrap_or(fallback)
    }

    fn key_line(&self, table: &toml_edit::Table, key: &str, fallback: u32) -> u32 {
        let span = table
            .get_key_value(key)
            .and_then(|(k, v)| k.span().or_else(|| v.span()));
        self.line(span, fallback)
    }

    fn key_line_like(&self, table: &dyn toml_edit::TableLike, key: &str, fallback: u32) -> u32 {
        let span = table
            .get_key_value(key)
            .and_then(|(k, v)| k.span().or_else(|| v.span()));
        self.line(span, fallback)
    }

    fn wrong(&self, key: &str, line: u32, expected: &str, item: &Item) -> ConfigError {
        ConfigError::WrongType {
            path: self.path.to_path_buf(),
            line,
            key: key.to_string(),
            expected: expected.to_string(),
            found: type_name(item).to_string(),
        }
    }

    fn unknown(&mut self, key: &str, line: u32, known: &[&str]) {
        let (prefix, last) = match key.rsplit_once('.') {
            Some((p, l)) => (Some(p), l),
            None => (None, key),
        };
        let bare: Vec<&str> = known
            .iter()
            .map(|k| k.rsplit('.').next().unwrap_or(k))
            .collect();
        let hint = closest(last, &bare)
            .map(|k| match prefix {
                Some(p) => format!("; did you mean `{p}.{k}`?"),
                None => format!("; did you mean `{k}`?"),
            })
            .unwrap_or_default();
        self.warnings.push(ConfigWarning::new(
            self.path,
            line,
            format!("unknown key `{key}`, ignored{hint}"),
        ));
    }

    fn string(&self, item: &Item, key: &str, line: u32) -> Result<String, ConfigError> {
        match item.as_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(self.wrong(key, line, "a string (in double quotes)", item)),
        }
    }

    fn boolean(&self, item: &Item, key: &str, line: u32) -> Result<bool, ConfigError> {
        item.as_bool()
            .ok_or_else(|| self.wrong(key, line, "true or false", item))
    }

    fn baud(&self, item: &Item, key: &str, line: u32) -> Result<u32, ConfigError> {
        let Some(v) = item.as_integer() else {
            return Err(self.wrong(
                key,
                line,
                "a positive integer (a baud rate such as 115200)",
                item,
            ));
        };
        u32::try_from(v)
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| ConfigError::InvalidValue {
                path: self.path.to_path_buf(),
                line,
                key: key.to_string(),
                message: format!("{v} is not a baud rate; use a positive integer such as 115200"),
            })
    }

    fn strings(&self, item: &Item, key: &str, line: u32) -> Result<Vec<String>, ConfigError> {
        let expected = "an array of strings";
        let Some(arr) = item.as_array() else {
            return Err(self.wrong(key, line, expected, item));
        };
        arr.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ConfigError::WrongType {
                        path: self.path.to_path_buf(),
                        line: self.line(v.span(), line),
                        key: key.to_string(),
                        expected: expected.to_string(),
                        found: format!(
                            "an array containing {}",
                            type_name(&Item::Value(v.clone()))
                        ),
                    })
            })
            .collect()
    }

    fn choice<T: Copy>(
        &self,
        item: &Item,
        key: &str,
        line: u32,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let s = item
            .as_str()
            .ok_or_else(|| self.wrong(key, line, &format!("one of {}", names.join(", ")), item))?;
        let norm = s.replace('_', "-");
        options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&norm))
            .map(|(_, v)| *v)
            .ok_or_else(|| ConfigError::InvalidValue {
                path: self.path.to_path_buf(),
                line,
                key: key.to_string(),
                message: format!(
                    "`{s}` is not one of {}{}",
                    names.join(", "),
                    closest(&norm, &names)
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default()
                ),
            })
    }

    fn table<'i>(
        &self,
        item: &'i Item,
        key: &str,
        line: u32,
    ) -> Result<&'i dyn toml_edit::TableLike, ConfigError> {
        item.as_table_like()
            .ok_or_else(|| self.wrong(key, line, "a table", item))
    }

    fn profile(&mut self, item: &Item, key: &str, line: u32) -> Result<ProfileConfig, ConfigError> {
        let t = self.table(item, key, line)?;
        let mut cfg = ProfileConfig::default();
        for (k, v) in t.iter() {
            let kline = self.key_line_like(t, k, line);
            let full = format!("{key}.{k}");
            match k {
                "build_dir" => cfg.build_dir = Some(self.string(v, &full, kline)?),
                "sdkconfig" => cfg.sdkconfig = Some(self.string(v, &full, kline)?),
                "sdkconfig_defaults" => cfg.sdkconfig_defaults = self.strings(v, &full, kline)?,
                "cmake_args" => cfg.cmake_args = self.strings(v, &full, kline)?,
                _ => self.unknown(
                    &full,
                    kline,
                    &["build_dir", "sdkconfig", "sdkconfig_defaults", "cmake_args"],
                ),
            }
        }
        Ok(cfg)
    }

    fn flash(&mut self, item: &Item, line: u32) -> Result<FlashConfig, ConfigError> {
        let t = self.table(item, "flash", line)?;
        let mut cfg = FlashConfig::default();
        for (k, v) in t.iter() {
            let kline = self.key_line_like(t, k, line);
            let full = format!("flash.{k}");
            match k {
                "port" => cfg.port = Some(self.string(v, &full, kline)?),
                "baud" => cfg.baud = Some(self.baud(v, &full, kline)?),
                "before" => {
                    cfg.before = Some(self.choice(
                        v,
                        &full,
                        kline,
                        &[
                            ("default-reset", ResetBefore::DefaultReset),
                            ("usb-reset", ResetBefore::UsbReset),
                            ("no-reset", ResetBefore::NoReset),
                            ("no-reset-no-sync", ResetBefore::NoResetNoSync),
                        ],
                    )?)
                }
                "after" => {
                    cfg.after = Some(self.choice(
                        v,
                        &full,
                        kline,
                        &[
                            ("hard-reset", ResetAfter::HardReset),
                            ("soft-reset", ResetAfter::SoftReset),
                            ("no-reset", ResetAfter::NoReset),
                            ("no-reset-no-stub", ResetAfter::NoResetNoStub),
                            ("watchdog-reset", ResetAfter::WatchdogReset),
                        ],
                    )?)
                }
                "no_stub" => cfg.no_stub = Some(self.boolean(v, &full, kline)?),
                "erase_all" => cfg.erase_all = Some(self.boolean(v, &full, kline)?),
                _ => self.unknown(
                    &full,
                    kline,
                    &["port", "baud", "before", "after", "no_stub", "erase_all"],
                ),
            }
        }
        Ok(cfg)
    }

    fn monitor(&mut self, item: &Item, line: u32) -> Result<MonitorConfig, ConfigError> {
        let t = self.table(item, "monitor", line)?;
        let mut cfg = MonitorConfig::default();
        for (k, v) in t.iter() {
            let kline = self.key_line_like(t, k, line);
            let full = format!("monitor.{k}");
            match k {
                "port" => cfg.port = Some(self.string(v, &full, kline)?),
                "baud" => cfg.baud = Some(self.baud(v, &full, kline)?),
                "filters" => {
                    let filters = self.strings(v, &full, kline)?;
                    for f in &filters {
                        if !valid_filter(f) {
                            return Err(ConfigError::InvalidValue {
                                path: self.path.to_path_buf(),
                                line: kline,
                                key: full,
                                message: format!(
                                    "`{f}` is not a log filter; write TAG:LEVEL (LEVEL one of N E W I D V *), \
                                     or TAG alone, with `*` for every tag"
                                ),
                            });
                        }
                    }
                    cfg.filters = filters;
                }
                "timestamps" => cfg.timestamps = Some(self.boolean(v, &full, kline)?),
                "eol" => {
                    cfg.eol = Some(self.choice(
                        v,
                        &full,
                        kline,
                        &[("CRLF", Eol::Crlf), ("CR", Eol::Cr), ("LF", Eol::Lf)],
                    )?)
                }
                _ => self.unknown(
                    &full,
                    kline,
                    &["port", "baud", "filters", "timestamps", "eol"],
                ),
            }
        }
        Ok(cfg)
    }

    fn idf(&mut self, item: &Item, line: u32) -> Result<IdfConfig, ConfigError> {
        let t = self.table(item, "idf", line)?;
        let mut cfg = IdfConfig::default();
        for (k, v) in t.iter() {
            let kline = self.key_line_like(t, k, line);
            let full = format!("idf.{k}");
            match k {
                "search_paths" => cfg.search_paths = self.strings(v, &full, kline)?,
                "tools_path" => cfg.tools_path = Some(self.string(v, &full, kline)?),
                _ => self.unknown(&full, kline, &["search_paths", "tools_path"]),
            }
        }
        Ok(cfg)
    }
}

/// `TAG` or `TAG:LEVEL`, as idf.py monitor's print filter takes them.
fn valid_filter(f: &str) -> bool {
    let (tag, level) = match f.split_once(':') {
        Some((t, l)) => (t, Some(l)),
        None => (f, None),
    };
    !tag.is_empty()
        && !tag.contains(char::is_whitespace)
        && level.is_none_or(|l| matches!(l, "N" | "E" | "W" | "I" | "D" | "V" | "*"))
}

/// The known name closest to `word`, when it is close enough to be a likely typo.
fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let w = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&w, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.len().max(w.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Damerau-Levenshtein distance (with adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Writes `default_target = "<chip>"` into `<project_dir>/.espctl.toml`, creating the file when
/// there is none. Everything else in the file (comments, order, formatting, a comment after the old
/// value) stays as it was. The new content goes to a temporary file in the same directory that then
/// replaces the old one, so a reader never sees a half-written file. A file that is not valid TOML is
/// left alone (error).
pub fn set_default_target(project_dir: &Path, chip: &str) -> Result<(), ConfigError> {
    let path = project_dir.join(FILE_NAME);
    // Write through a symlink to the file it points at.
    let target_path = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?
        }
        _ => path.clone(),
    };
    let (old, perms) = match std::fs::read_to_string(&target_path) {
        Ok(t) => {
            let perms = std::fs::metadata(&target_path)
                .ok()
                .map(|m| m.permissions());
            (Some(t), perms)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let new_text = match &old {
        None => format!(
            "# espctl project settings (see docs/espctl-toml.md)\ndefault_target = \"{chip}\"\n"
        ),
        Some(text) => {
            let mut doc: toml_edit::DocumentMut =
                text.parse()
                    .map_err(|e: toml_edit::TomlError| ConfigError::Syntax {
                        path: path.clone(),
                        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
                        message: format!(
                            "not valid TOML ({}); fix the file before changing default_target",
                            e.message().trim_end()
                        ),
                    })?;
            match doc.get_mut("default_target") {
                Some(item) if item.is_value() => {
                    let decor = item.as_value().map(|v| v.decor().clone());
                    *item = toml_edit::value(chip);
                    if let (Some(decor), Some(v)) = (decor, item.as_value_mut()) {
                        *v.decor_mut() = decor;
                    }
                }
                _ => {
                    doc.insert("default_target", toml_edit::value(chip));
                }
            }
            doc.to_string()
        }
    };
    write_atomically(&target_path, new_text.as_bytes(), perms)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(
    path: &Path,
    bytes: &[u8],
    perms: Option<std::fs::Permissions>,
) -> Result<(), ConfigError> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".espctl.toml.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    let perms = perms.unwrap_or_else(|| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::Permissions::from_mode(0o644)
        }
        #[cfg(not(unix))]
        {
            tmp.as_file()
                .metadata()
                .map(|m| m.permissions())
                .expect("temp file metadata")
        }
    });
    tmp.as_file().set_permissions(perms).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// The version pinned in `<project_dir>/.idf-version`: its first line that is neither blank nor a
/// `#` comment, trimmed, with the file's path. `None` when there is no file or no such line.
pub fn read_idf_version_file(project_dir: &Path) -> Option<(String, PathBuf)> {
    let path = project_dir.join(IDF_VERSION_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    let version = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    Some((version.to_string(), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<(EspctlToml, Vec<ConfigWarning>), ConfigError> {
        parse(Path::new("/p/.espctl.toml"), text)
    }

    #[test]
    fn a_full_valid_file() {
        let text = r#"
# settings
default_target = "esp32c3"
idf_version = "5.3.1"
build_dir = "out"

[profile.debug]
build_dir = "build-dbg"
sdkconfig = "sdkconfig.dbg"
sdkconfig_defaults = ["a", "b"]
cmake_args = ["-DX=1"]

[profile.release]
sdkconfig_defaults = ["sdkconfig.prod"]

[flash]
port = "/dev/ttyUSB0"
baud = 921600
before = "usb_reset"
after = "no-reset"
no_stub = true
erase_all = false

[monitor]
baud = 115200
filters = ["wifi:W", "*:I", "boot"]
timestamps = true
eol = "LF"

[idf]
search_paths = ["/opt/esp", "rel/idf"]
tools_path = "/opt/tools"
"#;
        let (cfg, warnings) = parse_str(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.default_target.as_deref(), Some("esp32c3"));
        assert_eq!(cfg.idf_version.as_deref(), Some("5.3.1"));
        assert_eq!(cfg.build_dir.as_deref(), Some("out"));
        let dbg = cfg.profile(Profile::Debug).unwrap();
        assert_eq!(dbg.build_dir.as_deref(), Some("build-dbg"));
        assert_eq!(dbg.sdkconfig_defaults, ["a", "b"]);
        assert_eq!(dbg.cmake_args, ["-DX=1"]);
        assert_eq!(
            cfg.profile(Profile::Release).unwrap().sdkconfig_defaults,
            ["sdkconfig.prod"]
        );
        assert_eq!(cfg.flash.baud, Some(921600));
        assert_eq!(cfg.flash.before, Some(ResetBefore::UsbReset));
        assert_eq!(cfg.flash.after, Some(ResetAfter::NoReset));
        assert_eq!(cfg.flash.no_stub, Some(true));
        assert_eq!(cfg.monitor.filters, ["wifi:W", "*:I", "boot"]);
        assert_eq!(cfg.monitor.eol, Some(Eol::Lf));
        assert_eq!(
            cfg.idf_search_paths(Path::new("/p")),
            [PathBuf::from("/opt/esp"), PathBuf::from("/p/rel/idf")]
        );
        assert_eq!(cfg.idf.tools_path.as_deref(), Some("/opt/tools"));
    }

    #[test]
    fn empty_and_missing_files_are_defaults() {
        let (cfg, w) = parse_str("").unwrap();
        assert!(w.is_empty());
        assert_eq!(cfg.default_target, None);
        let dir = tempfile::tempdir().unwrap();
        let (cfg, w) = load(dir.path()).unwrap();
        assert_eq!(cfg, EspctlToml::default());
        assert!(w.is_empty());
    }

    #[test]
    fn unknown_keys_warn_with_line_path_and_suggestion() {
        let text = "default_taget = \"esp32\"\n\n[flash]\nbuad = 115200\nport = \"/dev/x\"\n[profile.relase]\nbuild_dir = \"x\"\n[monitor]\ncolour = true\n";
        let (cfg, w) = parse_str(text).unwrap();
        assert_eq!(cfg.flash.port.as_deref(), Some("/dev/x"));
        let msgs: Vec<String> = w.iter().map(|w| w.to_string()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert_eq!(
            msgs[0],
            "/p/.espctl.toml:1: unknown key `default_taget`, ignored; did you mean `default_target`?"
        );
        assert_eq!(w[1].line, 4);
        assert!(
            msgs[1].contains("`flash.buad`") && msgs[1].contains("did you mean `flash.baud`?"),
            "{}",
            msgs[1]
        );
        assert_eq!(w[2].line, 6);
        assert!(
            msgs[2].contains("`profile.relase`") && msgs[2].contains("`profile.release`"),
            "{}",
            msgs[2]
        );
        assert_eq!(w[3].line, 9);
        assert!(
            msgs[3].contains("`monitor.colour`") && !msgs[3].contains("did you mean"),
            "{}",
            msgs[3]
        );
    }

    #[test]
    fn wrong_types_are_errors_with_line_and_expectation() {
        let cases: &[(&str, u32, &str, &str)] = &[
            ("default_target = 3\n", 1, "default_target", "a string"),
            ("\n\nidf_version = 5.3\n", 3, "idf_version", "a string"),
            (
                "[flash]\nbaud = \"fast\"\n",
                2,
                "flash.baud",
                "a positive integer",
            ),
            (
                "[monitor]\nfilters = \"*:I\"\n",
                2,
                "monitor.filters",
                "an array of strings",
            ),
            (
                "[monitor]\nfilters = [\n  \"a\",\n  3,\n]\n",
                4,
                "monitor.filters",
                "an array of strings",
            ),
            ("flash = 1\n", 1, "flash", "a table"),
            ("[profile]\ndebug = \"x\"\n", 2, "profile.debug", "a table"),
            (
                "[flash]\nno_stub = \"yes\"\n",
                2,
                "flash.no_stub",
                "true or false",
            ),
        ];
        for (text, line, key, expected) in cases {
            match parse_str(text) {
                Err(ConfigError::WrongType {
                    line: l,
                    key: k,
                    expected: e,
                    ..
                }) => {
                    assert_eq!((l, k.as_str()), (*line, *key), "{text}");
                    assert!(e.starts_with(expected), "{e} for {text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let err = parse_str("[flash]\nbaud = \"fast\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/p/.espctl.toml:2: `flash.baud` must be a positive integer (a baud rate such as 115200), found a string"
        );
        assert_eq!(err.code(), espctl_protocol::ErrorCode::Config);
    }

    #[test]
    fn bad_values_and_syntax_are_errors() {
        let err = parse_str("[flash]\nbefore = \"reset-now\"\n").unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidValue { line: 2, .. }),
            "{err}"
        );
        let err = parse_str("[flash]\nafter = \"hard-rest\"\n").unwrap_err();
        assert!(
            err.to_string().contains("did you mean `hard-reset`"),
            "{err}"
        );
        let err = parse_str("[monitor]\nfilters = [\"wifi:Q\"]\n").unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidValue { line: 2, .. }),
            "{err}"
        );
        let err = parse_str("[flash]\nbaud = 0\n").unwrap_err();
        assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err}");
        let err = parse_str("a = 1\nb = = 2\n").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
        // An unknown chip is only a warning: ESP-IDF may know chips espctl does not.
        let (_, w) = parse_str("default_target = \"esp32c33\"\n").unwrap();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].message.contains("did you mean `esp32c3`"),
            "{}",
            w[0].message
        );
    }

    #[test]
    fn inline_and_dotted_tables() {
        let (cfg, w) =
            parse_str("profile.release.build_dir = \"r\"\nflash = { baud = 1 }\n").unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(cfg.release.unwrap().build_dir.as_deref(), Some("r"));
        assert_eq!(cfg.flash.baud, Some(1));
    }

    #[test]
    fn set_default_target_keeps_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let original = "# My project\n\n[flash]   # the board\nport = \"/dev/ttyACM0\"  # left port\n\n# trailing comment\n";
        std::fs::write(&path, original).unwrap();
        set_default_target(dir.path(), "esp32s3").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# My project"), "{text}");
        assert!(
            text.contains("[flash]   # the board\nport = \"/dev/ttyACM0\"  # left port\n"),
            "{text}"
        );
        assert!(text.contains("# trailing comment"), "{text}");
        let (cfg, w) = load(dir.path()).unwrap();
        assert!(w.is_empty());
        assert_eq!(cfg.default_target.as_deref(), Some("esp32s3"));
        assert_eq!(cfg.flash.port.as_deref(), Some("/dev/ttyACM0"));

        // Updating keeps the key where it is, and the comment after the value.
        let with_target =
            "idf_version = \"5.3\"\ndefault_target = \"esp32\"   # chip\nbuild_dir = \"b\"\n";
        std::fs::write(&path, with_target).unwrap();
        set_default_target(dir.path(), "esp32c6").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "idf_version = \"5.3\"\ndefault_target = \"esp32c6\"   # chip\nbuild_dir = \"b\"\n"
        );
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn set_default_target_creates_the_file_and_refuses_broken_toml() {
        let dir = tempfile::tempdir().unwrap();
        set_default_target(dir.path(), "esp32c3").unwrap();
        let (cfg, _) = load(dir.path()).unwrap();
        assert_eq!(cfg.default_target.as_deref(), Some("esp32c3"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        let broken = "default_target = \n[[[";
        std::fs::write(dir.path().join(FILE_NAME), broken).unwrap();
        let err = set_default_target(dir.path(), "esp32").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(),
            broken
        );
    }

    #[cfg(unix)]
    #[test]
    fn set_default_target_is_atomic_and_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "build_dir = \"b\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // A reader holding the old file keeps seeing the old content: the file was replaced, not
        // rewritten in place.
        let old = std::fs::File::open(&path).unwrap();
        let old_ino = std::os::unix::fs::MetadataExt::ino(&old.metadata().unwrap());
        set_default_target(dir.path(), "esp32h2").unwrap();
        let new_meta = std::fs::metadata(&path).unwrap();
        assert_ne!(std::os::unix::fs::MetadataExt::ino(&new_meta), old_ino);
        assert_eq!(new_meta.permissions().mode() & 0o777, 0o600);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut &old, &mut s).unwrap();
        assert_eq!(s, "build_dir = \"b\"\n");

        // Through a symlink, the file it points at is updated and the link stays.
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        set_default_target(dir.path(), "esp32").unwrap();
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::read_to_string(&real)
                .unwrap()
                .contains("default_target = \"esp32\"")
        );
    }

    #[test]
    fn idf_version_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_idf_version_file(dir.path()), None);
        std::fs::write(
            dir.path().join(IDF_VERSION_FILE),
            "# pinned\n\n  v5.3.1  \nv9\n",
        )
        .unwrap();
        let (v, p) = read_idf_version_file(dir.path()).unwrap();
        assert_eq!(v, "v5.3.1");
        assert_eq!(p, dir.path().join(IDF_VERSION_FILE));
        std::fs::write(dir.path().join(IDF_VERSION_FILE), "# nothing\n\n").unwrap();
        assert_eq!(read_idf_version_file(dir.path()), None);
    }

    #[test]
    fn typo_distance() {
        assert_eq!(closest("buad", &["baud", "port"]), Some("baud"));
        assert_eq!(closest("xyz", &["baud", "port"]), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
