//! The configuration of one planned build, the way the planner asks for it: the defaults files as
//! ESP-IDF lists them, sdkconfig and a fresh sdkconfig.json, the build's own overrides, then (once the
//! components are known) their Kconfig files for the values nobody set.
//!
//! [`ConfigCache`] keeps parsed Kconfig files between plans, so a re-plan after a change re-parses
//! only the files that changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use espctl_protocol::plan::PlanDiagnostic;

use std::sync::{Arc, Mutex};

use super::kconfig::{
    IdfKconfig, KconfigCache, KconfigEnv, KconfigTree, TreeInputs, resolve_source,
};
use super::sdkconfig::{self, RawValue};
use super::set::{Layers, read_layers};
use super::{
    ConfigPaths, ConfigSet, ConfigValue, ConfigWarning, Provenance, absolutize, defaults_files,
};
use crate::project::fsview::{FileCheck, FileStamp, FsView, read_stamped};
use crate::sync::LockExt;

/// What to load for one build.
#[derive(Debug, Clone)]
pub struct ConfigRequest<'a> {
    pub project_dir: &'a Path,
    pub build_dir: &'a Path,
    pub sdkconfig: &'a Path,
    /// `SDKCONFIG_DEFAULTS` as the configure will see it (the CMake variable, else the environment
    /// variable): a `;` list relative to the project. `None`: ESP-IDF's default, `sdkconfig.defaults`.
    pub sdkconfig_defaults: Option<String>,
    pub target: &'a str,
    /// The build replaces sdkconfig (a target change): only defaults files and Kconfig count.
    pub ignore_existing: bool,
    /// Overrides for this build (`CONFIG_` prefix optional).
    pub overrides: &'a BTreeMap<String, String>,
    pub idf_path: Option<&'a Path>,
    /// Kconfig and Kconfig.projbuild files of the components, when already known.
    pub kconfig_files: Vec<PathBuf>,
}

/// A build's configuration.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub set: Arc<ConfigSet>,
    /// `CONFIG_<NAME>` to the value CMake sees, for every symbol kconfgen writes.
    pub cmake_values: Arc<BTreeMap<String, String>>,
    /// Symbols whose values were guessed (defaults files, Kconfig defaults), sorted.
    pub guessed: Vec<String>,
    /// Files whose change makes CMake reconfigure: sdkconfig and the generated `config/sdkconfig.h`
    /// and `config/sdkconfig.cmake` (ESP-IDF's `CMAKE_CONFIGURE_DEPENDS`). Defaults files are not
    /// among them: they only count when sdkconfig is created.
    pub inputs: Vec<PathBuf>,
    /// The defaults files, in load order.
    pub defaults_files: Vec<PathBuf>,
    pub warnings: Vec<PlanDiagnostic>,
    /// Problems the configure would stop on (a listed defaults file that does not exist).
    pub errors: Vec<PlanDiagnostic>,
    /// The Kconfig tree the values were evaluated with, once known.
    pub tree: Option<KconfigTree>,
    layers: Layers,
}

impl LoadedConfig {
    /// What CMake sees in `CONFIG_<NAME>` (`name` with or without the prefix); `None`: undefined.
    pub fn value(&self, name: &str) -> Option<String> {
        self.set.cmake_value(name)
    }

    /// The typed value and where it came from.
    pub fn get(&self, name: &str) -> Option<(ConfigValue, Provenance)> {
        self.set.get(name)
    }

    fn finish(&mut self, warnings: Vec<ConfigWarning>) {
        self.cmake_values = Arc::new(
            self.set
                .names()
                .filter_map(|n| self.set.cmake_value(n).map(|v| (format!("CONFIG_{n}"), v)))
                .collect(),
        );
        self.guessed = self.set.guessed();
        self.warnings.extend(warnings.into_iter().map(diagnostic));
    }
}

fn diagnostic(w: ConfigWarning) -> PlanDiagnostic {
    PlanDiagnostic {
        message: w.message,
        file: Some(w.file.display().to_string()),
        line: (w.line > 0).then_some(w.line),
    }
}

/// Caches shared by every plan of a daemon.
#[derive(Debug, Default)]
pub struct ConfigCache {
    kconfig: KconfigCache,
    /// Configurations evaluated with Kconfig, most recent last.
    evaluated: Mutex<Vec<Evaluated>>,
}

/// Evaluated configurations kept (one per project, target and profile in use).
const EVALUATED_LIMIT: usize = 16;

/// What [`ConfigCache::with_kconfig`] computed, with everything it depends on.
#[derive(Debug)]
struct Evaluated {
    key: EvaluatedKey,
    /// Rename files looked for: the stamp of the read, or None when there was no file.
    renames: Vec<(PathBuf, Option<FileStamp>)>,
    /// The files and `source` answers the tree was read from.
    inputs: TreeInputs,
    /// The plan ([`FsView::seq`]) that last confirmed it.
    checked: u64,
    set: Arc<ConfigSet>,
    tree: KconfigTree,
    cmake_values: Arc<BTreeMap<String, String>>,
    guessed: Vec<String>,
    warnings: Vec<PlanDiagnostic>,
}

/// The inputs of an evaluation that are not files.
#[derive(Debug, Clone, PartialEq)]
struct EvaluatedKey {
    layers: Layers,
    kconfig_files: Vec<PathBuf>,
    idf_path: Option<PathBuf>,
    target: String,
    env: KconfigEnv,
    /// Whether `$IDF_PATH/Kconfig` is a file and `$IDF_PATH/components` a directory.
    idf_root: (bool, bool),
}

impl Evaluated {
    /// Whether the files it read would read the same; refreshes the stamps of files touched
    /// without a change.
    fn still_valid(&mut self, fs: &FsView) -> bool {
        let checked = self.checked;
        let check = |stamp: &mut FileStamp| match fs.check_file(stamp, checked) {
            FileCheck::Unchanged => true,
            FileCheck::Changed => false,
            FileCheck::SameContent { len, modified } => {
                stamp.len = len;
                stamp.modified = modified;
                stamp.read_at = std::time::SystemTime::now();
                true
            }
        };
        let inputs = &mut self.inputs;
        let sources_same = inputs.sources.iter().all(|(full, files)| {
            if fs.trusted(checked, full) && files.iter().all(|f| fs.trusted(checked, f)) {
                return true;
            }
            resolve_source(full, &|p| fs.is_file(p)) == *files
        });
        if !sources_same
            || !inputs
                .unreadable
                .iter()
                .all(|p| fs.trusted(checked, p) || fs.content_hash(p).is_none())
            || !inputs.files.iter_mut().all(check)
        {
            return false;
        }
        self.renames.iter_mut().all(|(path, stamp)| match stamp {
            Some(stamp) => check(stamp),
            None => fs.trusted(checked, path) || !fs.is_file(path),
        })
    }

    fn apply(&self, mut config: LoadedConfig) -> LoadedConfig {
        config.set = self.set.clone();
        config.tree = Some(self.tree.clone());
        config.cmake_values = self.cmake_values.clone();
        config.guessed = self.guessed.clone();
        config.warnings.extend(self.warnings.iter().cloned());
        config
    }
}

impl ConfigCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The configuration from the project's files; Kconfig defaults too when `kconfig_files` is
    /// given (otherwise see [`ConfigCache::with_kconfig`]).
    pub fn load(&self, req: &ConfigRequest<'_>) -> LoadedConfig {
        let mut errors = Vec::new();
        let defaults = match defaults_files(
            req.project_dir,
            req.target,
            req.sdkconfig_defaults.as_deref(),
            None,
        ) {
            Ok(files) => files.into_iter().map(|f| f.path).collect(),
            Err(e) => {
                errors.push(PlanDiagnostic {
                    message: e.to_string(),
                    file: None,
                    line: None,
                });
                Vec::new()
            }
        };
        let mut paths = ConfigPaths::new(req.project_dir, req.build_dir);
        paths.sdkconfig = absolutize(req.project_dir, req.sdkconfig);
        paths.defaults = defaults;
        let (mut layers, warnings) = read_layers(&paths, !req.ignore_existing);
        if !req.overrides.is_empty() {
            layers.overrides = Some(sdkconfig::from_overrides(
                Path::new("params.sdkconfig"),
                req.overrides,
            ));
        }
        let config_dir = req.build_dir.join("config");
        let inputs = [
            paths.sdkconfig.clone(),
            config_dir.join("sdkconfig.h"),
            config_dir.join("sdkconfig.cmake"),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
        let mut loaded = LoadedConfig {
            set: Arc::default(),
            cmake_values: Arc::default(),
            guessed: Vec::new(),
            inputs,
            defaults_files: paths.defaults.clone(),
            warnings: Vec::new(),
            errors,
            tree: None,
            layers,
        };
        if req.kconfig_files.is_empty() {
            let (set, w) = ConfigSet::resolve(&loaded.layers, None);
            loaded.set = Arc::new(set);
            let mut all = warnings;
            all.extend(w);
            loaded.finish(all);
            loaded
        } else {
            loaded.warnings.extend(warnings.into_iter().map(diagnostic));
            self.with_kconfig(loaded, &req.kconfig_files, req.idf_path, req.target)
        }
    }

    /// The same configuration evaluated with the Kconfig files of the components (`Kconfig` and
    /// `Kconfig.projbuild`, in component order) under ESP-IDF's root Kconfig, so that symbols nobody
    /// set get their Kconfig defaults and `sdkconfig.rename` files give the old names.
    pub fn with_kconfig(
        &self,
        config: LoadedConfig,
        kconfig_files: &[PathBuf],
        idf_path: Option<&Path>,
        target: &str,
    ) -> LoadedConfig {
        self.with_kconfig_in(config, kconfig_files, idf_path, target, &FsView::uncached())
    }

    /// [`Self::with_kconfig`] with the file system seen through one plan's `fs`. The evaluation is
    /// reused while its inputs are the same: the values of the layers, the component files, the
    /// environment of the tree, and the content of every file it read (and the answer of every
    /// `source` it resolved).
    pub fn with_kconfig_in(
        &self,
        config: LoadedConfig,
        kconfig_files: &[PathBuf],
        idf_path: Option<&Path>,
        target: &str,
        fs: &FsView,
    ) -> LoadedConfig {
        let idf = idf_kconfig(kconfig_files, idf_path, target, &config.layers);
        let idf_root = match idf_path {
            Some(p) if !p.as_os_str().is_empty() => (
                fs.is_file(&p.join("Kconfig")),
                fs.is_dir(&p.join("components")),
            ),
            _ => (false, false),
        };
        let key = EvaluatedKey {
            layers: config.layers.clone(),
            kconfig_files: kconfig_files.to_vec(),
            idf_path: idf_path.map(Path::to_path_buf),
            target: target.to_string(),
            env: idf.env(),
            idf_root,
        };
        {
            let mut evaluated = self.evaluated.locked();
            if let Some(i) = evaluated.iter().position(|e| e.key == key) {
                let mut found = evaluated.remove(i);
                if found.still_valid(fs) {
                    found.checked = found.checked.max(fs.seq());
                    let config = found.apply(config);
                    evaluated.push(found);
                    return config;
                }
            }
        }
        let tree = self.tree(&idf);
        let mut warnings: Vec<ConfigWarning> = tree.warnings().to_vec();
        // Old option names: ESP-IDF's list and the components' (the target's own after each).
        let mut rename_files: Vec<PathBuf> = Vec::new();
        if let Some(idf) = idf_path {
            rename_files.push(idf.join("sdkconfig.rename"));
        }
        let mut dirs: Vec<&Path> = kconfig_files.iter().filter_map(|f| f.parent()).collect();
        dirs.dedup();
        for d in dirs {
            rename_files.push(d.join("sdkconfig.rename"));
            rename_files.push(d.join(format!("sdkconfig.rename.{target}")));
        }
        let mut layers = config.layers.clone();
        let mut renames = Vec::new();
        for f in rename_files {
            if !f.is_file() {
                renames.push((f, None));
                continue;
            }
            match read_stamped(&f) {
                Ok((bytes, stamp)) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let (r, w) = sdkconfig::parse_rename(&f, &text);
                    layers.renames.extend(r);
                    warnings.extend(w);
                    renames.push((f, Some(stamp)));
                }
                Err(e) => {
                    warnings.push(ConfigWarning::new(&f, 0, format!("cannot read: {e}")));
                    // Unreadable now: a later read must not look unchanged.
                    renames.push((
                        f.clone(),
                        Some(FileStamp {
                            path: f,
                            hash: 0,
                            len: u64::MAX,
                            modified: None,
                            read_at: std::time::SystemTime::now(),
                        }),
                    ));
                }
            }
        }
        let (set, w) = ConfigSet::resolve(&layers, Some(&tree));
        warnings.extend(w);
        let mut evaluated = LoadedConfig {
            set: Arc::new(set),
            cmake_values: Arc::default(),
            guessed: Vec::new(),
            inputs: Vec::new(),
            defaults_files: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
            tree: Some(tree.clone()),
            layers: Layers::default(),
        };
        evaluated.finish(warnings);
        let entry = Evaluated {
            key,
            renames,
            inputs: tree.inputs().clone(),
            checked: fs.seq(),
            set: evaluated.set,
            tree,
            cmake_values: evaluated.cmake_values,
            guessed: evaluated.guessed,
            warnings: evaluated.warnings,
        };
        let config = entry.apply(config);
        let mut cache = self.evaluated.locked();
        if cache.len() >= EVALUATED_LIMIT {
            cache.remove(0);
        }
        cache.push(entry);
        config
    }

    /// The Kconfig tree of an ESP-IDF configure, with parsed files reused from earlier plans.
    pub fn tree(&self, idf: &IdfKconfig) -> KconfigTree {
        KconfigTree::load_idf_with_cache(idf, &self.kconfig)
    }
}

/// The inputs of the Kconfig tree for these component files.
fn idf_kconfig(
    kconfig_files: &[PathBuf],
    idf_path: Option<&Path>,
    target: &str,
    layers: &Layers,
) -> IdfKconfig {
    let mut idf = IdfKconfig::new(idf_path.map(Path::to_path_buf).unwrap_or_default(), target);
    for f in kconfig_files {
        let is_projbuild = f.file_name().is_some_and(|n| {
            n.to_string_lossy()
                .eq_ignore_ascii_case("Kconfig.projbuild")
        });
        if is_projbuild {
            idf.kconfig_projbuilds.push(f.clone());
        } else {
            idf.kconfigs.push(f.clone());
        }
    }
    if let Some(p) = idf_path
        && let Some(v) = crate::project::idf::read_version(p)
    {
        idf.idf_version = v.to_string();
    }
    // An existing sdkconfig keeps the version it was first made with.
    idf.init_version =
        layers
            .sdkconfig
            .as_ref()
            .and_then(|s| match &s.get("IDF_INIT_VERSION")?.value {
                RawValue::Quoted(v) => Some(v.clone()),
                _ => None,
            });
    idf
}

/// The target named by `CONFIG_IDF_TARGET="..."` in the defaults files, as ESP-IDF guesses a target
/// from them (`tools/cmake/targets.cmake`): the files of `sdkconfig_defaults` (a `;` list relative to
/// the project), else `sdkconfig.defaults`; the first file with such a line wins. Returns the target
/// and the file (relative to the project when inside it).
pub fn defaults_target(
    project_dir: &Path,
    sdkconfig_defaults: Option<&str>,
) -> Option<(String, String)> {
    let list: Vec<PathBuf> = match sdkconfig_defaults.filter(|s| !s.trim().is_empty()) {
        Some(s) => s
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| absolutize(project_dir, Path::new(p)))
            .collect(),
        None => vec![project_dir.join("sdkconfig.defaults")],
    };
    for file in list {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("CONFIG_IDF_TARGET=\"") else {
                continue;
            };
            let Some(target) = rest.strip_suffix('"') else {
                continue;
            };
            if target.is_empty() || target.contains('"') {
                continue;
            }
            let shown = file
                .strip_prefix(project_dir)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| file.display().to_string());
            return Some((target.to_string(), shown));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn target_from_defaults_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(defaults_target(dir.path(), None), None);
        write(
            dir.path(),
            "sdkconfig.defaults",
            "CONFIG_FOO=y\nCONFIG_IDF_TARGET=\"esp32s3\"\n",
        );
        assert_eq!(
            defaults_target(dir.path(), None),
            Some(("esp32s3".into(), "sdkconfig.defaults".into()))
        );
        write(
            dir.path(),
            "a",
            "# CONFIG_IDF_TARGET=\"esp32\"\n CONFIG_IDF_TARGET=\"esp32\"\n",
        );
        write(dir.path(), "b", "CONFIG_IDF_TARGET=\"esp32c6\"\n");
        assert_eq!(
            defaults_target(dir.path(), Some("a;b")),
            Some(("esp32c6".into(), "b".into()))
        );
    }

    fn project(kconfig: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let k = write(dir.path(), "components/c/Kconfig", kconfig);
        (dir, k)
    }

    #[test]
    fn load_then_kconfig_defaults() {
        let (dir, k) = project(
            "config A\n    bool \"a\"\n    default y\nconfig N\n    int \"n\"\n    default 7\nconfig S\n    string \"s\"\n    default \"x\"\n",
        );
        write(dir.path(), "sdkconfig.defaults", "CONFIG_N=9\n");
        write(
            dir.path(),
            "sdkconfig.defaults.esp32c3",
            "CONFIG_S=\"from target defaults\"\n",
        );
        let overrides = BTreeMap::from([("CONFIG_A".to_string(), "n".to_string())]);
        let build = dir.path().join("build");
        let sdk = dir.path().join("sdkconfig");
        let req = ConfigRequest {
            project_dir: dir.path(),
            build_dir: &build,
            sdkconfig: &sdk,
            sdkconfig_defaults: None,
            target: "esp32c3",
            ignore_existing: false,
            overrides: &overrides,
            idf_path: None,
            kconfig_files: Vec::new(),
        };
        let cache = ConfigCache::new();
        let loaded = cache.load(&req);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert_eq!(loaded.defaults_files.len(), 2);
        // Without Kconfig: the layers as written.
        assert_eq!(loaded.value("N").as_deref(), Some("9"));
        assert_eq!(loaded.value("CONFIG_A").as_deref(), Some(""));
        assert_eq!(
            loaded.get("A"),
            Some((ConfigValue::Bool(false), Provenance::Override))
        );
        assert_eq!(
            loaded.cmake_values.get("CONFIG_S").map(String::as_str),
            Some("from target defaults")
        );

        let loaded = cache.with_kconfig(loaded, std::slice::from_ref(&k), None, "esp32c3");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.value("N").as_deref(), Some("9"));
        assert_eq!(
            loaded.get("N").unwrap().1,
            Provenance::Defaults(dir.path().join("sdkconfig.defaults"))
        );
        assert_eq!(loaded.value("A").as_deref(), Some(""));
        assert_eq!(loaded.value("S").as_deref(), Some("from target defaults"));
        // The built-in root gives the target symbols.
        assert_eq!(loaded.value("IDF_TARGET").as_deref(), Some("esp32c3"));
        assert_eq!(loaded.value("IDF_TARGET_ESP32C3").as_deref(), Some("y"));
        assert_eq!(loaded.value("IDF_TARGET_ARCH_RISCV").as_deref(), Some("y"));
        assert_eq!(loaded.value("IDF_FIRMWARE_CHIP_ID").as_deref(), Some("0x5"));
        assert!(loaded.guessed.contains(&"N".to_string()));
        assert!(!loaded.guessed.contains(&"A".to_string()));
        assert!(loaded.tree.is_some());
    }

    #[test]
    fn missing_listed_defaults_file_is_an_error_and_existing_files_can_be_ignored() {
        let (dir, k) = project("config A\n    bool \"a\"\n");
        write(dir.path(), "sdkconfig", "CONFIG_A=y\n");
        let build = dir.path().join("build");
        let sdk = dir.path().join("sdkconfig");
        let none = BTreeMap::new();
        let mut req = ConfigRequest {
            project_dir: dir.path(),
            build_dir: &build,
            sdkconfig: &sdk,
            sdkconfig_defaults: Some("nope".into()),
            target: "esp32",
            ignore_existing: false,
            overrides: &none,
            idf_path: None,
            kconfig_files: vec![k],
        };
        let cache = ConfigCache::new();
        let loaded = cache.load(&req);
        assert_eq!(loaded.errors.len(), 1);
        assert!(loaded.errors[0].message.contains("nope"));
        assert_eq!(loaded.value("A").as_deref(), Some("y"));
        assert_eq!(loaded.inputs, std::slice::from_ref(&sdk));
        req.sdkconfig_defaults = None;
        req.ignore_existing = true;
        let loaded = cache.load(&req);
        assert_eq!(loaded.value("A").as_deref(), Some(""));
        assert!(
            loaded.guessed.contains(&"A".to_string()),
            "{:?}",
            loaded.guessed
        );
    }
}
