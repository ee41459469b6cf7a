//! [`ConfigSet`]: the configuration values a build will see, with where each came from.
//!
//! Most exact first:
//! 1. `build/config/sdkconfig.json`, when it is newer than `sdkconfig` (or there is no sdkconfig):
//!    the last configure's own output, exact for every symbol (symbols it lacks are not set);
//! 2. `sdkconfig`;
//! 3. the defaults files (`sdkconfig.defaults`, `sdkconfig.defaults.<target>`, `SDKCONFIG_DEFAULTS`),
//!    later files overriding earlier ones;
//! 4. the `default` of the symbol's Kconfig entry.
//!
//! With a [`KconfigTree`], layers 2 to 4 are combined exactly as kconfgen combines them (defaults
//! files and sdkconfig are loaded as user values, then every symbol is evaluated), so a value from a
//! defaults file that Kconfig would reject (its dependencies do not hold) is not taken, and symbols
//! nobody set get their Kconfig default. Without a tree, layers simply override each other and the
//! type of a value is read from its form.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::kconfig::{KconfigTree, ValueSource, cmake_text};
use super::sdkconfig::{self, FileKind, JsonValue, RawValue, Rename, SdkconfigFile};
use super::{ConfigValue, ConfigWarning, Provenance, SymbolType, bare_name, pyfmt};

/// Where a project's configuration files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPaths {
    /// The sdkconfig (`<project>/sdkconfig` unless `SDKCONFIG` says otherwise).
    pub sdkconfig: PathBuf,
    /// `<build>/config/sdkconfig.json`.
    pub sdkconfig_json: PathBuf,
    /// The defaults files in load order (see [`super::defaults_files`]).
    pub defaults: Vec<PathBuf>,
    /// `sdkconfig.rename` files (ESP-IDF's and the components'), for old option names.
    pub renames: Vec<PathBuf>,
}

impl ConfigPaths {
    /// The usual places: `<project>/sdkconfig`, `<build>/config/sdkconfig.json`, no defaults files.
    pub fn new(project_dir: &Path, build_dir: &Path) -> Self {
        ConfigPaths {
            sdkconfig: project_dir.join("sdkconfig"),
            sdkconfig_json: build_dir.join("config").join("sdkconfig.json"),
            defaults: Vec::new(),
            renames: Vec::new(),
        }
    }
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).ok()?.modified().ok()
}

/// `sdkconfig.json` is exact only if it exists and is newer than `sdkconfig` (when that exists): an
/// sdkconfig edited since the last configure makes it stale.
pub fn json_is_fresh(json: &Path, sdkconfig: &Path) -> bool {
    let Some(j) = mtime(json) else { return false };
    match mtime(sdkconfig) {
        Some(s) => j > s,
        None => true,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    value: Option<ConfigValue>,
    provenance: Provenance,
    /// What CMake sees in `CONFIG_<NAME>`; `None`: not defined.
    cmake: Option<String>,
}

#[derive(Debug, Clone)]
enum Alias {
    /// `sdkconfig.rename`: the old name reads the new one (inverted for an inverted bool).
    Renamed { new: String, inverted: bool },
    /// The deprecated block of sdkconfig, when no rename file says more.
    Literal(Entry),
}

/// The configuration values of a project, each with its [`Provenance`].
#[derive(Debug, Clone, Default)]
pub struct ConfigSet {
    entries: BTreeMap<String, Entry>,
    aliases: BTreeMap<String, Alias>,
    used_json: bool,
}

/// The parsed inputs of a [`ConfigSet`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layers {
    /// `sdkconfig.json` values, used as exact (check freshness with [`json_is_fresh`] first).
    pub json: Option<BTreeMap<String, JsonValue>>,
    pub sdkconfig: Option<SdkconfigFile>,
    /// Defaults files in load order.
    pub defaults: Vec<SdkconfigFile>,
    /// Overrides for this build, on top of everything (see [`sdkconfig::from_overrides`]).
    pub overrides: Option<SdkconfigFile>,
    pub renames: Vec<Rename>,
}

impl ConfigSet {
    /// Reads the files named by `paths` and resolves them, with `tree` when the Kconfig files are
    /// known. A missing sdkconfig or sdkconfig.json is normal; a defaults file or rename file that
    /// cannot be read is a warning.
    pub fn load(
        paths: &ConfigPaths,
        tree: Option<&KconfigTree>,
    ) -> (ConfigSet, Vec<ConfigWarning>) {
        let (layers, mut warnings) = read_layers(paths, true);
        let (set, w) = Self::resolve(&layers, tree);
        warnings.extend(w);
        (set, warnings)
    }

    /// Resolves parsed layers.
    ///
    /// With a tree, sdkconfig.json is not needed when there are overrides: sdkconfig is evaluated with
    /// them instead, so that Kconfig decides what the overrides change.
    pub fn resolve(layers: &Layers, tree: Option<&KconfigTree>) -> (ConfigSet, Vec<ConfigWarning>) {
        let mut set = ConfigSet::default();
        let mut warnings = Vec::new();
        let use_json = layers.json.is_some() && (tree.is_none() || layers.overrides.is_none());
        if let (true, Some(json)) = (use_json, &layers.json) {
            set.used_json = true;
            set.fill_from_json(json, layers.sdkconfig.as_ref(), tree);
            if let Some(o) = &layers.overrides {
                set.fill_from_layers(None, std::slice::from_ref(o), Provenance::Override);
            }
        } else if let Some(tree) = tree {
            warnings.extend(set.fill_from_tree(layers, tree));
        } else {
            set.fill_from_layers(
                layers.sdkconfig.as_ref(),
                &layers.defaults,
                Provenance::Unset,
            );
            if let Some(o) = &layers.overrides {
                set.fill_from_layers(None, std::slice::from_ref(o), Provenance::Override);
            }
        }
        for r in &layers.renames {
            set.aliases.insert(
                r.old.clone(),
                Alias::Renamed {
                    new: r.new.clone(),
                    inverted: r.inverted,
                },
            );
        }
        if let Some(sdk) = &layers.sdkconfig {
            let prov = if set.used_json {
                Provenance::SdkconfigJson
            } else {
                Provenance::Sdkconfig
            };
            for a in &sdk.deprecated {
                if set.aliases.contains_key(&a.name) || set.entries.contains_key(&a.name) {
                    continue;
                }
                let value = a.value.guess();
                let cmake = Some(cmake_of_raw(&a.value, &value));
                set.aliases.insert(
                    a.name.clone(),
                    Alias::Literal(Entry {
                        value: Some(value),
                        provenance: prov.clone(),
                        cmake,
                    }),
                );
            }
        }
        (set, warnings)
    }

    fn fill_from_json(
        &mut self,
        json: &BTreeMap<String, JsonValue>,
        sdk: Option<&SdkconfigFile>,
        tree: Option<&KconfigTree>,
    ) {
        for (name, jv) in json {
            let ty = tree.and_then(|t| t.symbol_type(name)).or_else(|| {
                // Without Kconfig, sdkconfig's spelling tells a hex from an int.
                let a = sdk?.get(name)?;
                match &a.value {
                    RawValue::Bare(v) if v.starts_with("0x") || v.starts_with("0X") => {
                        Some(SymbolType::Hex)
                    }
                    _ => None,
                }
            });
            let value = jv.typed(ty);
            // A `null` is an int or hex written without a value: CMake sees it empty.
            let cmake = Some(value.as_ref().map(cmake_of_value).unwrap_or_default());
            self.entries.insert(
                name.clone(),
                Entry {
                    value,
                    provenance: Provenance::SdkconfigJson,
                    cmake,
                },
            );
        }
        if let Some(tree) = tree {
            // Defined symbols the configure did not write: not set.
            for name in tree.symbols() {
                if !self.entries.contains_key(name) {
                    let value = (tree.symbol_type(name) == Some(SymbolType::Bool))
                        .then_some(ConfigValue::Bool(false));
                    self.entries.insert(
                        name.to_string(),
                        Entry {
                            value,
                            provenance: Provenance::Unset,
                            cmake: None,
                        },
                    );
                }
            }
        }
    }

    fn fill_from_tree(&mut self, input: &Layers, tree: &KconfigTree) -> Vec<ConfigWarning> {
        let mut layers: Vec<&SdkconfigFile> = input.defaults.iter().collect();
        let mut provs: Vec<Provenance> = input
            .defaults
            .iter()
            .map(|d| Provenance::Defaults(d.path.clone()))
            .collect();
        let mut warn_unknown = vec![true; input.defaults.len()];
        if let Some(sdk) = &input.sdkconfig {
            layers.push(sdk);
            provs.push(Provenance::Sdkconfig);
            warn_unknown.push(false);
        }
        if let Some(o) = &input.overrides {
            layers.push(o);
            provs.push(Provenance::Override);
            warn_unknown.push(true);
        }
        let (user, mut warnings) = tree.user_values(&layers, &input.renames, &warn_unknown);
        let eval = tree.evaluate(&user);
        warnings.extend(eval.warnings().iter().cloned());
        for v in eval.iter() {
            let provenance = match &v.source {
                ValueSource::User { layer } | ValueSource::LayerDefault { layer } => {
                    provs[*layer].clone()
                }
                ValueSource::Default { file, line }
                | ValueSource::Select { file, line }
                | ValueSource::Imply { file, line }
                | ValueSource::Set { file, line }
                | ValueSource::Choice { file, line } => {
                    Provenance::KconfigDefault(file.to_path_buf(), *line)
                }
                ValueSource::None => Provenance::Unset,
            };
            let value = if v.written || v.ty == Some(SymbolType::Bool) {
                v.value()
            } else {
                None
            };
            self.entries.insert(
                v.name.to_string(),
                Entry {
                    value,
                    provenance,
                    cmake: v.cmake_value(),
                },
            );
        }
        warnings
    }

    /// Layers without Kconfig: later ones override earlier ones. `defaults_provenance` is used for
    /// the `defaults` layers unless it is `Unset` (then each is `Defaults(path)`).
    fn fill_from_layers(
        &mut self,
        sdk: Option<&SdkconfigFile>,
        defaults: &[SdkconfigFile],
        defaults_provenance: Provenance,
    ) {
        let layers = defaults
            .iter()
            .map(|d| {
                let p = match &defaults_provenance {
                    Provenance::Unset => Provenance::Defaults(d.path.clone()),
                    other => other.clone(),
                };
                (d, p)
            })
            .chain(sdk.map(|s| (s, Provenance::Sdkconfig)));
        for (file, prov) in layers {
            for a in &file.assignments {
                let value = a.value.guess();
                let cmake = Some(cmake_of_raw(&a.value, &value));
                self.entries.insert(
                    a.name.clone(),
                    Entry {
                        value: Some(value),
                        provenance: prov.clone(),
                        cmake,
                    },
                );
            }
        }
    }

    /// The value of `name` (with or without `CONFIG_`) and where it came from. `None` when nothing
    /// gives it a value. A bool that is off has `Bool(false)`, whether kconfgen writes it or not.
    pub fn get(&self, name: &str) -> Option<(ConfigValue, Provenance)> {
        let name = bare_name(name);
        if let Some(e) = self.entries.get(name) {
            return e.value.clone().map(|v| (v, e.provenance.clone()));
        }
        match self.aliases.get(name)? {
            Alias::Renamed { new, inverted } => {
                let e = self.entries.get(new)?;
                let v = e.value.clone()?;
                let v = match v {
                    ConfigValue::Bool(b) if *inverted => ConfigValue::Bool(!b),
                    other => other,
                };
                Some((v, e.provenance.clone()))
            }
            Alias::Literal(e) => e.value.clone().map(|v| (v, e.provenance.clone())),
        }
    }

    /// What CMake holds in `CONFIG_<NAME>` after including the `sdkconfig.cmake` kconfgen writes:
    /// `y` or empty for a bool, the number as written for an int, `0x` and lower-case digits for a hex
    /// (`hex(int(v, 16))`), the string itself. `None` when kconfgen does not write the symbol (its
    /// dependencies do not hold, or it is unknown), so the variable is undefined. Old names from
    /// `sdkconfig.rename` read their new symbol (inverted bools flipped), as in kconfgen's deprecated
    /// block.
    pub fn cmake_value(&self, name: &str) -> Option<String> {
        let name = bare_name(name);
        if let Some(e) = self.entries.get(name) {
            return e.cmake.clone();
        }
        match self.aliases.get(name)? {
            Alias::Renamed { new, inverted } => {
                let e = self.entries.get(new)?;
                let v = e.cmake.clone()?;
                let is_bool = matches!(e.value, Some(ConfigValue::Bool(_)));
                Some(if *inverted && is_bool {
                    if v.is_empty() {
                        "y".into()
                    } else {
                        String::new()
                    }
                } else {
                    v
                })
            }
            Alias::Literal(e) => e.cmake.clone(),
        }
    }

    /// Symbols CMake sees a value for that did not come from sdkconfig.json or sdkconfig (defaults
    /// files, Kconfig defaults), sorted.
    pub fn guessed(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, e)| e.cmake.is_some() && !e.provenance.is_exact())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// True when the values came from a fresh `sdkconfig.json`.
    pub fn used_json(&self) -> bool {
        self.used_json
    }

    /// Every symbol known, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads the files of `paths`; `with_existing` false skips sdkconfig and sdkconfig.json (a configure
/// that is about to replace them).
pub(crate) fn read_layers(
    paths: &ConfigPaths,
    with_existing: bool,
) -> (Layers, Vec<ConfigWarning>) {
    let mut warnings = Vec::new();
    let mut layers = Layers::default();
    if with_existing && json_is_fresh(&paths.sdkconfig_json, &paths.sdkconfig) {
        match std::fs::read_to_string(&paths.sdkconfig_json)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                sdkconfig::parse_json(&paths.sdkconfig_json, &t).map_err(|e| e.to_string())
            }) {
            Ok((values, w)) => {
                warnings.extend(w);
                layers.json = Some(values);
            }
            Err(e) => warnings.push(ConfigWarning::new(
                &paths.sdkconfig_json,
                0,
                format!("{e}; falling back to sdkconfig"),
            )),
        }
    }
    if with_existing && let Ok((f, w)) = sdkconfig::read(&paths.sdkconfig, FileKind::Sdkconfig) {
        warnings.extend(w);
        layers.sdkconfig = Some(f);
    }
    for path in &paths.defaults {
        match sdkconfig::read(path, FileKind::Defaults) {
            Ok((f, w)) => {
                warnings.extend(w);
                layers.defaults.push(f);
            }
            Err(e) => warnings.push(ConfigWarning::new(path, 0, e.to_string())),
        }
    }
    for path in &paths.renames {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let (r, w) = sdkconfig::parse_rename(path, &text);
                layers.renames.extend(r);
                warnings.extend(w);
            }
            Err(e) => warnings.push(ConfigWarning::new(path, 0, format!("cannot read: {e}"))),
        }
    }
    (layers, warnings)
}

fn cmake_of_value(v: &ConfigValue) -> String {
    match v {
        ConfigValue::Bool(true) => "y".into(),
        ConfigValue::Bool(false) => String::new(),
        ConfigValue::Int(i) => i.to_string(),
        ConfigValue::Hex(h) => pyfmt::py_hex(*h as i128),
        ConfigValue::Float(f) => pyfmt::float_repr(*f),
        ConfigValue::String(s) => s.clone(),
    }
}

/// CMake's view of a value read without Kconfig: numbers stay as written, except hex, which kconfgen
/// normalizes.
fn cmake_of_raw(raw: &RawValue, guessed: &ConfigValue) -> String {
    match (raw, guessed) {
        (RawValue::Bare(text) | RawValue::Loose(text), ConfigValue::Int(_)) => text.clone(),
        (RawValue::Bare(text) | RawValue::Loose(text), ConfigValue::Hex(_)) => {
            cmake_text(SymbolType::Hex, text)
        }
        (_, v) => cmake_of_value(v),
    }
}

#[cfg(test)]
mod tests;
