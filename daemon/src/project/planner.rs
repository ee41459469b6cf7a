//! The planner: everything `generate_build_plan` knows about a project, computed without running CMake.
//!
//! It puts the pieces together in ESP-IDF's own order: read `.espctl.toml`, evaluate the top-level
//! CMakeLists up to `project()`, pick the IDF install and the target, load the configuration, search
//! for components, evaluate each component's CMakeLists in ESP-IDF's early-expansion pass (for
//! requirements) and, for those in the build, its processing pass (for sources), expand requirements,
//! and derive the pipeline and the artifacts. Component evaluations are cached by their inputs, so a
//! re-plan after one change re-evaluates only what that change can affect.
//!
//! Invariant: planning has no side effects: it writes nothing anywhere.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use espctl_protocol::ErrorCode;
use espctl_protocol::plan::{
    BuildPlan, BuildPlanParams, ComponentSource, Exactness, PlanComponent, PlanDiagnostic, Profile,
    RequiredBy,
};

use super::cmake::{self, ComponentPass, Evaluator, InputValues};
use super::components::{self, Discovered, Requirements, SearchDirs};
use super::config::{self as project_config};
use super::detect::{self, ProjectKind};
use super::fsview::{DirCache, FastMap, FsView};
use super::{idf, metadata, pipeline, target};
use crate::error::DaemonError;
use crate::sync::LockExt;

/// What the planner needs from the daemon around it.
pub struct PlanContext<'a> {
    /// The user's home (for `~/esp` and `~/.espressif`).
    pub home: Option<PathBuf>,
    /// IDF trees (or directories of them) configured for the daemon.
    pub idf_paths: Vec<PathBuf>,
    /// The daemon's default IDF version pin, if configured.
    pub default_idf_version: Option<String>,
    /// Past build durations: (project dir, target, profile) → seconds.
    pub history: &'a (dyn Fn(&Path, &str, Profile) -> Option<f64> + Sync),
    /// Whether ccache would be used (ESP-IDF's IDF_CCACHE_ENABLE semantics, decided by the caller).
    pub ccache: bool,
    /// The sandbox builds run in (`bubblewrap` or `none`), and why there is none.
    pub sandbox: (String, Option<String>),
}

/// The planner, with its caches. One per daemon.
#[derive(Default)]
pub struct Planner {
    pub evaluator: Evaluator,
    pub config: project_config::ConfigCache,
    /// Directory listings, reused while the directories' modification times vouch for them.
    pub dirs: DirCache,
    /// The latest plan of each params (as JSON).
    latest: Mutex<HashMap<String, Latest>>,
    /// Recent evaluation inputs: a plan that builds equal values gets the same `Arc`, which cached
    /// evaluations confirmed against it accept without comparing the values they read.
    values: Mutex<Vec<Arc<InputValues>>>,
    /// Recent processing-pass values by what they are made of: the (interned) early values, the
    /// configuration's values and `BUILD_COMPONENTS`.
    processing: Mutex<Vec<ProcessingValues>>,
    /// Recent requirement expansions and what they were computed from.
    resolutions: Mutex<Vec<(ResolutionInputs, Arc<components::Resolution>)>>,
    /// Plan components by the evaluations they were assembled from.
    components: Mutex<FastMap<(usize, usize), ComponentMemo>>,
}

/// The latest plan of one params.
struct Latest {
    /// Its plan number ([`FsView::seq`]).
    seq: u64,
    /// The plan, while it may be handed out again (see [`Reusable`]).
    reuse: Option<Arc<Reusable>>,
    /// Files changed since that plan started which a reused plan did not need to look at; the next
    /// plan of these params counts them as changed.
    pending: Vec<PathBuf>,
}

/// A finished plan and what it depends on. While only files it does not depend on change (the
/// usual edit of a source or a header), [`Planner::plan_with_changes`] answers with it again:
/// nothing the plan is made of can have moved. Sources and headers the plan lists are only
/// checked for existence, and an edit keeps them existing.
struct Reusable {
    plan: BuildPlan,
    reads: Reads,
    /// What the plan took from the daemon.
    ccache: bool,
    sandbox: (String, Option<String>),
}

/// File names that always count as plan inputs, wherever they are: configuration, CMake,
/// Kconfig and component manager files, and the IDF's version header.
fn plan_input_name(name: &str) -> bool {
    name.starts_with("sdkconfig")
        || name.starts_with("Kconfig")
        || name.ends_with(".cmake")
        || matches!(
            name,
            "CMakeLists.txt"
                | ".espctl.toml"
                | ".idf-version"
                | "idf_component.yml"
                | "dependencies.lock"
                | "esp_idf_version.h"
                | "eim_idf.json"
                | "Makefile"
                | "component.mk"
        )
}

impl Reusable {
    /// Whether `changed` (a path reported changed) leaves the plan as it is: an existing regular
    /// file (so not a directory whose entries changed, nor a file that appeared or vanished) that
    /// the plan did not read.
    fn unaffected_by(&self, changed: &Path) -> bool {
        let normal = normalized(changed);
        let plain_file = std::fs::symlink_metadata(&normal).is_ok_and(|m| m.is_file());
        plain_file
            && !normal
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(plan_input_name)
            && !self.reads.files.iter().any(|r| normalized(r) == normal)
            && !self
                .reads
                .volatile
                .iter()
                .any(|d| normal.starts_with(normalized(d)))
    }

    /// The plan once more, with what may have changed outside its inputs brought up to date: the
    /// past build durations.
    fn again(&self, ctx: &PlanContext) -> BuildPlan {
        let mut plan = self.plan.clone();
        let (secs, note) = estimate(
            ctx,
            Path::new(&plan.project_dir),
            &plan.target,
            plan.profile,
        );
        plan.estimated_duration_secs = secs;
        plan.estimate_note = note;
        plan
    }
}

/// `path` without `.` and `..` components (as spelled, links not followed); borrowed when it
/// has none.
fn normalized(path: &Path) -> std::borrow::Cow<'_, Path> {
    let plain = path.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::RootDir
        )
    });
    if plain {
        std::borrow::Cow::Borrowed(path)
    } else {
        std::borrow::Cow::Owned(cmake::paths::normalize(path))
    }
}

/// The build time estimate from past builds, and where it comes from.
fn estimate(
    ctx: &PlanContext,
    project_dir: &Path,
    target: &str,
    profile: Profile,
) -> (Option<f64>, String) {
    match (ctx.history)(project_dir, target, profile) {
        Some(s) => (
            Some(s),
            "median of past builds of this project, target and profile".to_string(),
        ),
        None => (
            None,
            "no past build of this project, target and profile".to_string(),
        ),
    }
}

/// What [`Planner::plan_cmake`] read, for [`Reusable`].
#[derive(Default)]
struct Reads {
    /// Files whose content the plan depends on: every CMake file and file read by an evaluation,
    /// the Kconfig tree, the configuration files and defaults.
    files: Vec<PathBuf>,
    /// Directories under which any change needs a new plan: the build directory (read afresh by
    /// every plan) and the IDF's `tools` (its version and build files).
    volatile: Vec<PathBuf>,
}

/// Processing-pass values and what they were made of.
struct ProcessingValues {
    early: Arc<InputValues>,
    config: Arc<BTreeMap<String, String>>,
    build_components: String,
    values: Arc<InputValues>,
}

/// What a requirement expansion is computed from.
#[derive(PartialEq)]
struct ResolutionInputs {
    requirements: BTreeMap<String, Requirements>,
    roots: Vec<String>,
    common: Vec<String>,
}

/// Entries kept in each of the planner's small memos.
const MEMO_LIMIT: usize = 8;

/// Plans remembered for [`Planner::plan_with_changes`] before the list is emptied.
const LATEST_LIMIT: usize = 1024;

/// Where things are for one project and profile.
#[derive(Debug, Clone)]
pub struct Layout {
    pub project_dir: PathBuf,
    pub profile: Profile,
    pub build_dir: PathBuf,
    pub sdkconfig: PathBuf,
    /// The release profile's defaults list (`-DSDKCONFIG_DEFAULTS=`), or None to let the project's own apply.
    pub sdkconfig_defaults: Option<String>,
}

fn diag(message: impl Into<String>) -> PlanDiagnostic {
    PlanDiagnostic {
        message: message.into(),
        file: None,
        line: None,
    }
}

fn diag_at(message: impl Into<String>, file: &Path, line: Option<u32>) -> PlanDiagnostic {
    PlanDiagnostic {
        message: message.into(),
        file: Some(file.display().to_string()),
        line,
    }
}

/// The project directory from a request: absolute, existing.
pub fn project_dir(path: &str) -> Result<PathBuf, DaemonError> {
    let p = PathBuf::from(path);
    if !p.is_absolute() {
        return Err(DaemonError::invalid_input(format!(
            "path `{path}` is relative; the daemon needs the absolute project directory"
        ))
        .with_hint(
            "espctl sends its working directory; other clients must send an absolute path",
        ));
    }
    std::fs::canonicalize(&p).map_err(|e| {
        DaemonError::new(
            ErrorCode::Config,
            format!("cannot open project directory {path}: {e}"),
        )
        .with_hint("check the path")
    })
}

/// Build dir, sdkconfig and defaults for a profile. `debug` is ESP-IDF's default layout
/// (`build/`, `sdkconfig`); `release` has its own of each, so switching never reconfigures the other.
pub fn layout(
    project_dir: &Path,
    profile: Profile,
    build_dir_param: Option<&str>,
    toml: &project_config::EspctlToml,
) -> Layout {
    let profile_cfg = toml.profile(profile);
    let rel = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            project_dir.join(p)
        }
    };
    let build_dir = build_dir_param
        .map(rel)
        .or_else(|| profile_cfg.and_then(|p| p.build_dir.as_deref()).map(rel))
        .or_else(|| match profile {
            Profile::Debug => toml.build_dir.as_deref().map(rel),
            Profile::Release => None,
        })
        .unwrap_or_else(|| match profile {
            Profile::Debug => project_dir.join("build"),
            Profile::Release => project_dir.join("build-release"),
        });
    let sdkconfig = profile_cfg
        .and_then(|p| p.sdkconfig.as_deref())
        .map(rel)
        .unwrap_or_else(|| match profile {
            Profile::Debug => project_dir.join("sdkconfig"),
            Profile::Release => project_dir.join("sdkconfig.release"),
        });
    let sdkconfig_defaults = match profile {
        // The project's own defaults, unless `.espctl.toml` lists the debug profile's.
        Profile::Debug => profile_cfg
            .filter(|p| !p.sdkconfig_defaults.is_empty())
            .map(|p| {
                p.sdkconfig_defaults
                    .iter()
                    .map(|f| rel(f).display().to_string())
                    .collect::<Vec<_>>()
                    .join(";")
            }),
        Profile::Release => Some(release_defaults(project_dir, &build_dir, profile_cfg)),
    };
    Layout {
        project_dir: project_dir.to_path_buf(),
        profile,
        build_dir,
        sdkconfig,
        sdkconfig_defaults,
    }
}

/// The file holding the release overlay (written by the build before configuring).
pub fn release_overlay_path(build_dir: &Path) -> PathBuf {
    build_dir.join("sdkconfig.release-overlay")
}

/// The release overlay: size optimisation, silent assertions, quieter boot logs.
pub const RELEASE_OVERLAY: &str = "\
# Written by espctl for the release profile (see docs/profiles.md). Project defaults come first;
# these values override them; sdkconfig.defaults.release (if present) overrides these.
CONFIG_COMPILER_OPTIMIZATION_SIZE=y
CONFIG_COMPILER_OPTIMIZATION_ASSERTIONS_SILENT=y
CONFIG_BOOTLOADER_COMPILER_OPTIMIZATION_SIZE=y
CONFIG_BOOTLOADER_LOG_LEVEL_WARN=y
CONFIG_LOG_DEFAULT_LEVEL_WARN=y
";

fn release_defaults(
    project_dir: &Path,
    build_dir: &Path,
    profile_cfg: Option<&project_config::ProfileConfig>,
) -> String {
    let mut list: Vec<String> = Vec::new();
    let defaults = project_dir.join("sdkconfig.defaults");
    if defaults.exists() {
        list.push(defaults.display().to_string());
    }
    list.push(release_overlay_path(build_dir).display().to_string());
    let user = project_dir.join("sdkconfig.defaults.release");
    if user.exists() {
        list.push(user.display().to_string());
    }
    if let Some(p) = profile_cfg {
        for extra in &p.sdkconfig_defaults {
            let path = if Path::new(extra).is_absolute() {
                PathBuf::from(extra)
            } else {
                project_dir.join(extra)
            };
            list.push(path.display().to_string());
        }
    }
    list.join(";")
}

/// The IDF version request, in the documented order.
fn version_request(
    params: &BuildPlanParams,
    project_dir: &Path,
    toml: &project_config::EspctlToml,
    ctx: &PlanContext,
) -> Option<(String, String)> {
    if let Some(v) = params.idf_version.as_ref().filter(|v| !v.trim().is_empty()) {
        return Some((v.trim().to_string(), "param".into()));
    }
    if let Some((v, _)) = project_config::read_idf_version_file(project_dir) {
        return Some((v, ".idf-version".into()));
    }
    if let Some(v) = &toml.idf_version {
        return Some((v.clone(), ".espctl.toml".into()));
    }
    ctx.default_idf_version
        .as_ref()
        .map(|v| (v.clone(), "daemon default".into()))
}

impl Planner {
    pub fn new() -> Planner {
        Planner::default()
    }

    /// `generate_build_plan`.
    pub fn plan(
        &self,
        params: &BuildPlanParams,
        ctx: &PlanContext,
    ) -> Result<BuildPlan, DaemonError> {
        let key = params_key(params);
        let fs = FsView::new(&self.dirs);
        self.plan_in(params, ctx, &fs, key)
    }

    /// `generate_build_plan` when the caller watches the file system: the same plan as
    /// [`Self::plan`], given that since the previous plan of the same `params` started, only the
    /// `changed` paths differ (files, or directories whose entries changed; everything at or below
    /// a changed directory counts as changed). Paths are absolute and spelled as the plans name
    /// them. Cached results confirmed by that previous plan (or later) are then reused without
    /// looking at their other inputs again. Without a previous plan of these params it is a full
    /// plan.
    pub fn plan_with_changes(
        &self,
        params: &BuildPlanParams,
        ctx: &PlanContext,
        changed: &[PathBuf],
    ) -> Result<BuildPlan, DaemonError> {
        let key = params_key(params);
        let mut changed = changed.to_vec();
        let since = {
            let mut latest = self.latest.locked();
            match latest.get_mut(&key) {
                Some(l) => {
                    if let Some(reuse) = l.reuse.clone()
                        && reuse.ccache == ctx.ccache
                        && reuse.sandbox == ctx.sandbox
                        && changed.iter().all(|p| reuse.unaffected_by(p))
                    {
                        l.pending.extend(changed);
                        drop(latest);
                        return Ok(reuse.again(ctx));
                    }
                    changed.append(&mut l.pending);
                    Some(l.seq)
                }
                None => None,
            }
        };
        let fs = match since {
            Some(since) => FsView::trusting(&self.dirs, since, &changed),
            None => FsView::new(&self.dirs),
        };
        self.plan_in(params, ctx, &fs, key)
    }

    fn plan_in(
        &self,
        params: &BuildPlanParams,
        ctx: &PlanContext,
        fs: &FsView,
        key: String,
    ) -> Result<BuildPlan, DaemonError> {
        {
            let mut latest = self.latest.locked();
            if latest.len() >= LATEST_LIMIT {
                latest.clear();
            }
            latest.insert(
                key.clone(),
                Latest {
                    seq: fs.seq(),
                    reuse: None,
                    pending: Vec::new(),
                },
            );
        }
        let project_dir = project_dir(&params.path)?;
        match detect::detect(&project_dir)? {
            ProjectKind::IdfCmake { cmakelists } => {
                let mut reads = Reads::default();
                let plan =
                    self.plan_cmake(params, ctx, fs, &project_dir, &cmakelists, &mut reads)?;
                let reuse = Reusable {
                    plan: plan.clone(),
                    reads,
                    ccache: ctx.ccache,
                    sandbox: ctx.sandbox.clone(),
                };
                // Unless a newer plan of these params started meanwhile.
                if let Some(l) = self.latest.locked().get_mut(&key)
                    && l.seq == fs.seq()
                {
                    l.reuse = Some(Arc::new(reuse));
                }
                Ok(plan)
            }
            ProjectKind::IdfMake { .. } => self.plan_make(params, ctx, &project_dir),
        }
    }

    fn plan_cmake(
        &self,
        params: &BuildPlanParams,
        ctx: &PlanContext,
        fs: &FsView,
        project_dir: &Path,
        cmakelists: &Path,
        reads: &mut Reads,
    ) -> Result<BuildPlan, DaemonError> {
        let mut warnings: Vec<PlanDiagnostic> = Vec::new();
        let mut errors: Vec<PlanDiagnostic> = Vec::new();
        let (toml, toml_warnings) =
            project_config::load_espctl_toml(project_dir).map_err(config_error)?;
        warnings.extend(
            toml_warnings
                .into_iter()
                .map(|w| diag_at(w.message, &w.file, Some(w.line))),
        );
        let profile = params.profile.unwrap_or_default();
        let layout = layout(
            project_dir,
            profile,
            params.params.build_dir.as_deref(),
            &toml,
        );
        let env = &params.env;

        // The IDF install.
        let resolved = resolve_idf(params, ctx, project_dir, &toml, &mut warnings);
        let idf_path = resolved.install.as_ref().map(|i| i.path.clone());
        let idf_version = resolved.install.as_ref().and_then(|i| i.version);
        let linux_supported = idf_path
            .as_ref()
            .is_some_and(|p| p.join("tools/cmake/toolchain-linux.cmake").exists());

        // The top-level CMakeLists, up to project().
        let mut base = InputValues {
            env: env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ..Default::default()
        };
        for (k, v) in &params.params.cmake_cache {
            base.cache.insert(k.clone(), v.clone());
        }
        if let Some(p) = &idf_path {
            base.env.insert("IDF_PATH".into(), p.display().to_string());
            base.variables
                .insert("IDF_PATH".into(), p.display().to_string());
        }
        let project_eval = self.evaluator.eval_project_in(
            &cmake::ProjectInput::new(project_dir, Arc::new(base.clone())),
            fs,
        );
        for w in &project_eval.warnings {
            warnings.push(diag_at(w.message.clone(), &w.file, Some(w.line)));
        }
        if let Some(f) = &project_eval.fatal {
            errors.push(diag_at(f.message.clone(), &f.file, Some(f.line)));
        }
        let project_name = project_eval.project_name.clone().unwrap_or_else(|| {
            project_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        });
        let pvar = |name: &str| -> Option<String> {
            project_eval
                .variables
                .get(name)
                .cloned()
                .or_else(|| params.params.cmake_cache.get(name).cloned())
                .filter(|v| !v.is_empty())
        };
        let list = |name: &str| -> Vec<String> {
            pvar(name)
                .map(|v| {
                    v.split([';', ' '])
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };

        // The target.
        let configured = target::configured_target(&layout.build_dir, &layout.sdkconfig);
        let project_sdkconfig_defaults = pvar("SDKCONFIG_DEFAULTS");
        let defaults_target = project_config::defaults_target(
            project_dir,
            layout
                .sdkconfig_defaults
                .as_deref()
                .or(project_sdkconfig_defaults.as_deref()),
        );
        let choice = target::choose(&target::Inputs {
            explicit: params.target.clone().or_else(|| pvar("IDF_TARGET")),
            espctl_toml: toml.default_target.clone(),
            configured,
            env: env.get("IDF_TARGET").cloned(),
            defaults: defaults_target,
            linux_supported,
        })?;
        let target_name = choice.target.clone();

        // Configuration values: a set-target replaces sdkconfig, so then only defaults count.
        let config = self.config.load(&project_config::ConfigRequest {
            project_dir,
            build_dir: &layout.build_dir,
            sdkconfig: &layout.sdkconfig,
            sdkconfig_defaults: layout
                .sdkconfig_defaults
                .clone()
                .or(project_sdkconfig_defaults.clone()),
            target: &target_name,
            ignore_existing: choice.reconfigure_from.is_some(),
            overrides: &params.params.sdkconfig,
            idf_path: idf_path.as_deref(),
            kconfig_files: Vec::new(),
        });
        // (Kconfig defaults are filled in below once the components are known.)

        // Components.
        let search_dirs = SearchDirs {
            idf_components: idf_path.as_ref().map(|p| p.join("components")),
            project_dir: project_dir.to_path_buf(),
            component_dirs: pvar("COMPONENT_DIRS").map(|_| {
                list("COMPONENT_DIRS")
                    .into_iter()
                    .map(PathBuf::from)
                    .collect()
            }),
            extra_component_dirs: list("EXTRA_COMPONENT_DIRS")
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            exclude_dirs: project_eval
                .build_property_sets
                .iter()
                .filter(|p| p.name == "EXTRA_COMPONENT_EXCLUDE_DIRS")
                .flat_map(|p| p.value.split(';').map(PathBuf::from).collect::<Vec<_>>())
                .collect(),
            extra_dirs_searched_last: idf_version.is_some_and(|v| !v.at_least(4, 3)),
        };
        let (discovered, problems) = components::discover_in(&search_dirs, fs);
        let by_name: HashMap<&str, &Discovered> =
            discovered.iter().map(|d| (d.name.as_str(), d)).collect();
        for p in problems {
            if p.fatal {
                errors.push(diag_at(p.message, cmakelists, None));
            } else {
                warnings.push(diag(p.message));
            }
        }
        for d in &discovered {
            for lost in &d.shadowed {
                warnings.push(diag(format!(
                    "component {} at {} overrides the one at {}",
                    d.name,
                    d.dir.display(),
                    lost.display()
                )));
            }
        }

        // Values every component evaluation starts from.
        let version = idf_version.unwrap_or(idf::IdfVersion {
            major: 5,
            minor: 0,
            patch: 0,
        });
        let arch = if target_name == "linux" {
            ""
        } else {
            idf::arch_component(&target_name)
        };
        let mut common_values = base.clone();
        for (k, v) in [
            ("IDF_TARGET", target_name.clone()),
            ("IDF_TARGET_ARCH", arch.to_string()),
            ("PROJECT_DIR", project_dir.display().to_string()),
            ("PROJECT_NAME", project_name.clone()),
            ("BUILD_DIR", layout.build_dir.display().to_string()),
            ("IDF_VERSION_MAJOR", version.major.to_string()),
            ("IDF_VERSION_MINOR", version.minor.to_string()),
            ("IDF_VERSION_PATCH", version.patch.to_string()),
            ("SDKCONFIG", layout.sdkconfig.display().to_string()),
        ] {
            common_values
                .build_properties
                .insert(k.to_string(), v.clone());
            common_values.variables.insert(k.to_string(), v);
        }
        common_values
            .variables
            .insert("ESP_PLATFORM".into(), "1".into());
        common_values
            .env
            .insert("IDF_TARGET".into(), target_name.clone());
        for d in &discovered {
            let mut props = HashMap::new();
            props.insert(
                "COMPONENT_DIR".to_string(),
                d.dir.to_string_lossy().into_owned(),
            );
            props.insert("COMPONENT_NAME".to_string(), d.name.clone());
            common_values
                .component_properties
                .insert(d.name.clone(), props);
        }
        let early_values = self.intern(common_values.clone());

        // Early expansion: requirements.
        let mut requirements: BTreeMap<String, Requirements> = BTreeMap::new();
        let mut early: HashMap<String, Arc<cmake::ComponentEval>> = HashMap::new();
        for d in &discovered {
            let input = cmake::ComponentInput::new(
                &d.name,
                &d.dir,
                ComponentPass::EarlyExpansion,
                early_values.clone(),
            );
            let eval = self.evaluator.eval_component_in(&input, fs);
            // ESP-IDF runs every discovered component's CMakeLists in this pass (up to its
            // idf_component_register), so a FATAL_ERROR reached here stops the configure even for a
            // component the build would not use.
            if let Some(f) = &eval.fatal {
                errors.push(diag_at(f.message.clone(), &f.file, Some(f.line)));
            }
            let reg = eval.registration();
            requirements.insert(
                d.name.clone(),
                Requirements {
                    // A pure CMake component (add_library only) registered itself before ESP-IDF 5.0;
                    // from 5.0 on, early expansion only counts idf_component_register().
                    registered: reg.is_some()
                        || (eval.cmake_library && idf_version.is_some_and(|v| !v.at_least(5, 0))),
                    requires: reg.map(|r| r.requires.clone()).unwrap_or_default(),
                    priv_requires: reg.map(|r| r.priv_requires.clone()).unwrap_or_default(),
                    file: d.dir.join("CMakeLists.txt"),
                },
            );
            early.insert(d.name.clone(), eval);
        }

        // The roots (COMPONENTS, MINIMAL_BUILD, EXCLUDE_COMPONENTS) and the expansion.
        let minimal_build = project_eval
            .build_property_sets
            .iter()
            .rev()
            .find(|p| p.name == "MINIMAL_BUILD")
            .is_some_and(|p| cmake_truthy(&p.value));
        let components_var = pvar("COMPONENTS").map(|_| list("COMPONENTS"));
        let roots_filter: Option<Vec<String>> = match (&components_var, minimal_build) {
            (Some(c), true) => {
                warnings.push(diag("The MINIMAL_BUILD property is disregarded because the COMPONENTS variable is defined."));
                Some(c.clone())
            }
            (Some(c), false) => Some(c.clone()),
            (None, true) if idf_version.is_none_or(|v| v.at_least(5, 4)) => {
                if !by_name.contains_key("main") {
                    errors.push(diag(
                        "MINIMAL_BUILD is enabled but component main was not found.",
                    ));
                }
                Some(vec!["main".to_string()])
            }
            (None, true) => {
                warnings.push(diag(format!(
                    "MINIMAL_BUILD is set but ESP-IDF {version} does not support it (5.4 and later do); it has no effect"
                )));
                None
            }
            (None, false) => None,
        };
        if let Some(names) = &roots_filter {
            for n in names {
                if !by_name.contains_key(n.as_str()) {
                    errors.push(diag_at(
                        format!("Failed to resolve component '{n}'."),
                        cmakelists,
                        None,
                    ));
                }
            }
        }
        let exclude = list("EXCLUDE_COMPONENTS");
        let roots = components::roots(&discovered, roots_filter.as_deref(), &exclude);
        let common = idf_path
            .as_ref()
            .and_then(|p| idf::common_requirements(p, &target_name))
            .unwrap_or_else(|| idf::documented_common_requirements(&target_name));
        // Without an IDF, common components cannot exist: requiring them would be noise.
        let common: Vec<String> = if idf_path.is_some() {
            common
        } else {
            common
                .into_iter()
                .filter(|c| requirements.contains_key(c))
                .collect()
        };
        let resolution = self.resolve(requirements, roots, common.clone());
        for e in &resolution.errors {
            if idf_path.is_none() {
                warnings.push(diag_at(e.message.clone(), &e.file, None));
            } else {
                errors.push(diag_at(e.message.clone(), &e.file, None));
            }
        }

        // The configuration with the Kconfig files of the components in the build, in build order
        // (ESP-IDF generates its configuration from those only), so unset symbols get their defaults.
        let kconfig_files: Vec<PathBuf> = resolution
            .build_order
            .iter()
            .filter_map(|n| by_name.get(n.as_str()))
            .flat_map(|d| {
                let reg = early.get(&d.name).and_then(|e| e.registration());
                let kconfig = reg
                    .and_then(|r| r.kconfig.clone())
                    .unwrap_or_else(|| d.dir.join("Kconfig"));
                let projbuild = reg
                    .and_then(|r| r.kconfig_projbuild.clone())
                    .unwrap_or_else(|| d.dir.join("Kconfig.projbuild"));
                [kconfig, projbuild]
            })
            .filter(|p| fs.is_file(p))
            .collect();
        let config = self.config.with_kconfig_in(
            config,
            &kconfig_files,
            idf_path.as_deref(),
            &target_name,
            fs,
        );
        for w in &config.warnings {
            warnings.push(w.clone());
        }

        // Processing pass for the components in the build: sources, include dirs, target checks.
        let build_components = resolution.build_order.join(";");
        let processing_values = self.processing_values(
            &early_values,
            &config.cmake_values,
            build_components,
            || common_values,
        );
        let command_files: Arc<[PathBuf]> = resolution
            .build_order
            .iter()
            .filter_map(|n| by_name.get(n.as_str()))
            .map(|d| d.dir.join("project_include.cmake"))
            .filter(|p| fs.exists(p))
            .collect();
        let mut plan_components = Vec::new();
        let mut configure_inputs: Vec<PathBuf> =
            vec![cmakelists.to_path_buf(), layout.sdkconfig.clone()];
        configure_inputs.extend(project_eval.inputs.files.iter().map(|f| f.path.clone()));
        configure_inputs.extend(config.inputs.iter().cloned());
        let mut globbed: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
        for name in &resolution.build_order {
            let Some(d) = by_name.get(name.as_str()) else {
                continue;
            };
            let mut input = cmake::ComponentInput::new(
                &d.name,
                &d.dir,
                ComponentPass::Processing,
                processing_values.clone(),
            );
            input.command_files = command_files.clone();
            let eval = self.evaluator.eval_component_in(&input, fs);
            for w in &eval.warnings {
                warnings.push(diag_at(
                    format!("{name}: {}", w.message),
                    &w.file,
                    Some(w.line),
                ));
            }
            if let Some(f) = &eval.fatal {
                // The same error reached in early expansion is reported once.
                let d = diag_at(f.message.clone(), &f.file, Some(f.line));
                if !errors.contains(&d) {
                    errors.push(d);
                }
            }
            configure_inputs.extend(eval.inputs.files.iter().map(|f| f.path.clone()));
            for g in &eval.inputs.globs {
                if let Some(dir) = g.patterns.first().and_then(|p| Path::new(p).parent()) {
                    globbed.push((dir.to_path_buf(), g.matched.clone()));
                }
            }
            let early_reg = early.get(name).and_then(|e| e.registration());
            let reg = eval.registration().or(early_reg);
            if let Some(r) = reg
                && !r.required_idf_targets.is_empty()
                && !r.required_idf_targets.contains(&target_name)
            {
                errors.push(diag_at(
                    format!(
                        "Component {name} only supports targets: {}",
                        r.required_idf_targets.join(";")
                    ),
                    &r.file,
                    Some(r.line),
                ));
            }
            let required_by = match resolution.reasons.get(name) {
                Some(components::Reason::Required { by, kind }) => Some(RequiredBy {
                    component: by.clone(),
                    kind: kind.as_str().to_string(),
                }),
                _ => None,
            };
            plan_components.push(self.plan_component(
                d,
                &eval,
                early.get(name),
                &layout.build_dir,
                required_by,
            ));
        }
        configure_inputs.sort();
        configure_inputs.dedup();

        // Fresh metadata from a real configure beats the estimate.
        let mut exactness = Exactness::Estimated;
        let mut build_order = resolution.build_order.clone();
        let description_path = layout.build_dir.join("project_description.json");
        if choice.reconfigure_from.is_none()
            && !params.clean
            && metadata::mtime(&description_path).is_some()
            && metadata::newer_input(&description_path, &configure_inputs).is_none()
            && let Some(desc) = metadata::read_project_description(&layout.build_dir)
            && desc.target == target_name
        {
            exactness = Exactness::Configured;
            // The JSON lists the components sorted (ESP-IDF sorts them before writing it), so it says
            // what is in the build, not the order: keep the expansion's order for those it lists.
            let listed: std::collections::HashSet<&String> = desc.build_components.iter().collect();
            build_order.retain(|n| listed.contains(n));
            let mut kept: std::collections::HashSet<String> = build_order.iter().cloned().collect();
            for n in &desc.build_components {
                if kept.insert(n.clone()) {
                    build_order.push(n.clone());
                }
            }
            plan_components =
                configured_components(&desc, &discovered, &plan_components, &build_order);
        }

        let cmake_config = |name: &str| config.value(name);
        let expected_artifacts = pipeline::expected_artifacts(
            &layout.build_dir,
            &project_name,
            &target_name,
            &cmake_config,
            &build_order,
        );
        let steps = pipeline::steps(&pipeline::Inputs {
            project_dir,
            build_dir: &layout.build_dir,
            target: &target_name,
            sdkconfig: &layout.sdkconfig,
            sdkconfig_defaults: layout.sdkconfig_defaults.clone(),
            idf_path: idf_path.as_deref(),
            clean: params.clean,
            reconfigure_from: choice.reconfigure_from.as_deref(),
            configure_inputs: &configure_inputs,
            globbed: &globbed,
            cmake_cache: &params.params.cmake_cache,
            ccache: ctx.ccache,
            jobs: params.params.jobs,
        });
        let (estimated_duration_secs, estimate_note) =
            estimate(ctx, project_dir, &target_name, profile);
        reads.files.extend(configure_inputs.iter().cloned());
        reads.files.extend(kconfig_files.iter().cloned());
        reads.files.extend(config.defaults_files.iter().cloned());
        if let Some(tree) = &config.tree {
            reads.files.extend(tree.files().map(Path::to_path_buf));
        }
        for eval in early.values() {
            reads
                .files
                .extend(eval.inputs.files.iter().map(|f| f.path.clone()));
        }
        reads.volatile.push(layout.build_dir.clone());
        if let Some(p) = &idf_path {
            reads.volatile.push(p.join("tools"));
        }
        Ok(BuildPlan {
            recipe_id: "idf-cmake".into(),
            project_dir: project_dir.display().to_string(),
            project_name,
            idf_version_resolved: resolved.report,
            target: target_name,
            target_source: choice.source,
            profile,
            build_dir: layout.build_dir.display().to_string(),
            command_pipeline: steps,
            expected_artifacts,
            components: plan_components,
            common_requirements: common,
            build_order,
            cycles: resolution.cycles.clone(),
            warnings,
            errors,
            exactness,
            guessed_config: config.guessed.clone(),
            estimated_duration_secs,
            estimate_note,
            environment: params.env.clone(),
            sandbox: ctx.sandbox.0.clone(),
        })
        .map(|mut plan| {
            if let Some(why) = &ctx.sandbox.1 {
                plan.warnings
                    .push(diag(format!("the build would run unsandboxed: {why}")));
            }
            plan
        })
    }

    /// `values`, as the same `Arc` as an equal value of a recent plan.
    fn intern(&self, values: InputValues) -> Arc<InputValues> {
        let mut memo = self.values.locked();
        if let Some(i) = memo.iter().position(|v| **v == values) {
            let found = memo.remove(i);
            memo.push(found.clone());
            return found;
        }
        if memo.len() >= MEMO_LIMIT {
            memo.remove(0);
        }
        let values = Arc::new(values);
        memo.push(values.clone());
        values
    }

    /// The processing pass's values: the early values (`common`) with the configuration's values
    /// and `BUILD_COMPONENTS`, the same `Arc` as last time when made of the same parts.
    fn processing_values(
        &self,
        early: &Arc<InputValues>,
        config: &Arc<BTreeMap<String, String>>,
        build_components: String,
        common: impl FnOnce() -> InputValues,
    ) -> Arc<InputValues> {
        let mut memo = self.processing.locked();
        if let Some(found) = memo.iter().find(|p| {
            Arc::ptr_eq(&p.early, early)
                && Arc::ptr_eq(&p.config, config)
                && p.build_components == build_components
        }) {
            return found.values.clone();
        }
        drop(memo);
        let mut values = common();
        for (k, v) in config.iter() {
            values.variables.insert(k.clone(), v.clone());
        }
        values
            .build_properties
            .insert("BUILD_COMPONENTS".into(), build_components.clone());
        let values = self.intern(values);
        memo = self.processing.locked();
        if memo.len() >= MEMO_LIMIT {
            memo.remove(0);
        }
        memo.push(ProcessingValues {
            early: early.clone(),
            config: config.clone(),
            build_components,
            values: values.clone(),
        });
        values
    }

    /// [`components::resolve`], reused while its inputs are equal.
    fn resolve(
        &self,
        requirements: BTreeMap<String, Requirements>,
        roots: Vec<String>,
        common: Vec<String>,
    ) -> Arc<components::Resolution> {
        let inputs = ResolutionInputs {
            requirements,
            roots,
            common,
        };
        let mut memo = self.resolutions.locked();
        if let Some(i) = memo.iter().position(|(k, _)| *k == inputs) {
            let found = memo.remove(i);
            let resolution = found.1.clone();
            memo.push(found);
            return resolution;
        }
        let resolution = Arc::new(components::resolve(
            &inputs.requirements,
            &inputs.roots,
            &inputs.common,
        ));
        if memo.len() >= MEMO_LIMIT {
            memo.remove(0);
        }
        memo.push((inputs, resolution.clone()));
        resolution
    }

    fn plan_make(
        &self,
        params: &BuildPlanParams,
        ctx: &PlanContext,
        project_dir: &Path,
    ) -> Result<BuildPlan, DaemonError> {
        let project = super::make::detect(project_dir).ok_or_else(|| {
            DaemonError::new(
                ErrorCode::Config,
                format!("no legacy Make project in {}", project_dir.display()),
            )
        })?;
        let mut warnings: Vec<PlanDiagnostic> =
            project.warnings.iter().map(|w| diag(w.clone())).collect();
        let mut errors = Vec::new();
        let (toml, toml_warnings) =
            project_config::load_espctl_toml(project_dir).map_err(config_error)?;
        warnings.extend(
            toml_warnings
                .into_iter()
                .map(|w| diag_at(w.message, &w.file, Some(w.line))),
        );
        let profile = params.profile.unwrap_or_default();
        let layout = layout(
            project_dir,
            profile,
            params.params.build_dir.as_deref(),
            &toml,
        );
        let resolved = resolve_idf(params, ctx, project_dir, &toml, &mut warnings);
        let idf_path = resolved.install.as_ref().map(|i| i.path.clone());
        let choice = target::choose(&target::Inputs {
            explicit: params.target.clone(),
            espctl_toml: toml.default_target.clone(),
            configured: target::configured_target(&layout.build_dir, &layout.sdkconfig),
            env: params.env.get("IDF_TARGET").cloned(),
            defaults: project_config::defaults_target(project_dir, None),
            linux_supported: false,
        })?;
        if choice.target != "esp32" {
            errors.push(diag(format!(
                "the legacy GNU Make build system builds for esp32 only, not {} (from {}); port the \
                 project to CMake (see ESP-IDF's migration guide) to build for other chips",
                choice.target, choice.source
            )));
        }
        let config = self.config.load(&project_config::ConfigRequest {
            project_dir,
            build_dir: &layout.build_dir,
            sdkconfig: &layout.sdkconfig,
            sdkconfig_defaults: None,
            target: &choice.target,
            ignore_existing: false,
            overrides: &params.params.sdkconfig,
            idf_path: idf_path.as_deref(),
            kconfig_files: Vec::new(),
        });
        warnings.extend(config.warnings.iter().cloned());
        let config_fn = |name: &str| config.value(name.trim_start_matches("CONFIG_"));
        let inputs = super::make::MakeInputs {
            project_dir,
            idf_path: idf_path.as_deref(),
            config: &config_fn,
            target: &choice.target,
            build_dir: &layout.build_dir,
            jobs: params.params.jobs,
        };
        let make_plan = super::make::plan(&project, &inputs);
        warnings.extend(make_plan.warnings.iter().map(|w| diag(w.clone())));
        let components: Vec<PlanComponent> = make_plan
            .components
            .iter()
            .map(|c| PlanComponent {
                name: c.name.clone(),
                dir: c.dir.display().to_string(),
                source: match c.source {
                    super::make::ComponentSource::Idf => ComponentSource::Idf,
                    super::make::ComponentSource::Extra => ComponentSource::Extra,
                    super::make::ComponentSource::Project => ComponentSource::Project,
                },
                reqs: c.depends.clone(),
                priv_reqs: Vec::new(),
                sources: c
                    .objs
                    .iter()
                    .map(|o| c.build_dir.join(o).display().to_string())
                    .collect(),
                include_dirs: c
                    .add_includedirs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                shadowed: c.shadowed.iter().map(|p| p.display().to_string()).collect(),
                file: c.component_mk.display().to_string(),
                required_by: None,
            })
            .collect();
        let (estimated_duration_secs, estimate_note) =
            estimate(ctx, project_dir, &choice.target, profile);
        Ok(BuildPlan {
            recipe_id: "idf-make".into(),
            project_dir: project_dir.display().to_string(),
            project_name: make_plan.project_name.clone(),
            idf_version_resolved: resolved.report,
            target: choice.target,
            target_source: choice.source,
            profile,
            build_dir: make_plan.build_dir.display().to_string(),
            command_pipeline: make_plan.pipeline.clone(),
            expected_artifacts: make_plan
                .expected_artifacts
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            components: components.into_iter().map(Arc::new).collect(),
            common_requirements: Vec::new(),
            build_order: make_plan.build_order.clone(),
            cycles: Vec::new(),
            warnings,
            errors,
            exactness: Exactness::Estimated,
            guessed_config: config.guessed.clone(),
            estimated_duration_secs,
            estimate_note,
            environment: params.env.clone(),
            sandbox: ctx.sandbox.0.clone(),
        })
    }

    /// `get_clean_plan`.
    pub fn clean_plan(
        &self,
        params: &espctl_protocol::plan::CleanPlanParams,
    ) -> Result<espctl_protocol::plan::CleanPlan, DaemonError> {
        let project_dir = project_dir(&params.path)?;
        let (toml, _) = project_config::load_espctl_toml(&project_dir).map_err(config_error)?;
        let profile = params.profile.unwrap_or_default();
        let layout = layout(
            &project_dir,
            profile,
            params.params.build_dir.as_deref(),
            &toml,
        );
        match detect::detect(&project_dir)? {
            ProjectKind::IdfCmake { .. } => Ok(super::clean::clean_plan(
                &project_dir,
                &layout.build_dir,
                params.scope,
            )?),
            ProjectKind::IdfMake { .. } => {
                let project = super::make::detect(&project_dir).ok_or_else(|| {
                    DaemonError::new(
                        ErrorCode::Config,
                        "the Makefile no longer includes project.mk",
                    )
                })?;
                let installs = idf::find_installs(&params.env, &idf::SearchConfig::default());
                let idf_path = installs.first().map(|i| i.path.clone());
                let config = self.config.load(&project_config::ConfigRequest {
                    project_dir: &project_dir,
                    build_dir: &layout.build_dir,
                    sdkconfig: &layout.sdkconfig,
                    sdkconfig_defaults: None,
                    target: "esp32",
                    ignore_existing: false,
                    overrides: &params.params.sdkconfig,
                    idf_path: idf_path.as_deref(),
                    kconfig_files: Vec::new(),
                });
                let config_fn = |name: &str| config.value(name.trim_start_matches("CONFIG_"));
                let inputs = super::make::MakeInputs {
                    project_dir: &project_dir,
                    idf_path: idf_path.as_deref(),
                    config: &config_fn,
                    target: "esp32",
                    build_dir: &layout.build_dir,
                    jobs: None,
                };
                Ok(super::make::clean_plan(&project, &inputs, params.scope))
            }
        }
    }
}

/// The IDF install a plan uses: the version request in the documented order, resolved against the
/// installs visible from the caller's environment. What is missing becomes a warning.
fn resolve_idf(
    params: &BuildPlanParams,
    ctx: &PlanContext,
    project_dir: &Path,
    toml: &project_config::EspctlToml,
    warnings: &mut Vec<PlanDiagnostic>,
) -> idf::Resolved {
    let request = version_request(params, project_dir, toml, ctx);
    let mut search = idf::SearchConfig {
        home: ctx.home.clone(),
        extra_paths: ctx.idf_paths.clone(),
    };
    search
        .extra_paths
        .extend(toml.idf_search_paths(project_dir));
    let resolved = idf::resolve(request, idf::find_installs(&params.env, &search));
    if let Some(missing) = &resolved.pin_missing {
        warnings.push(diag(missing.clone()));
    } else if resolved.install.is_none() {
        warnings.push(diag(format!(
            "{}; the plan covers the project's own components only",
            idf::NO_INSTALL_HINT
        )));
    }
    resolved
}

/// Plan components assembled from evaluations, by the evaluations' identity.
struct ComponentMemo {
    /// Held (never read) so that the addresses in the key stay theirs.
    _eval: Arc<cmake::ComponentEval>,
    _early: Option<Arc<cmake::ComponentEval>>,
    build_dir: PathBuf,
    component: Arc<PlanComponent>,
}

/// Assembled plan components kept before the memo is emptied.
const COMPONENT_MEMO_LIMIT: usize = 4096;

impl Planner {
    /// The plan's entry for component `d`: assembled from its processing-pass evaluation (and its
    /// early-expansion one, for requirements), or the same `Arc` as last time when neither
    /// evaluation nor anything else it is made of changed.
    fn plan_component(
        &self,
        d: &Discovered,
        eval: &Arc<cmake::ComponentEval>,
        early: Option<&Arc<cmake::ComponentEval>>,
        build_dir: &Path,
        required_by: Option<RequiredBy>,
    ) -> Arc<PlanComponent> {
        let key = (
            Arc::as_ptr(eval) as usize,
            early.map_or(0, |e| Arc::as_ptr(e) as usize),
        );
        let same = |m: &ComponentMemo| {
            let c = &m.component;
            m.build_dir == build_dir
                && c.name == d.name
                && c.dir == d.dir.to_string_lossy()
                && c.source == d.source
                && c.required_by == required_by
                && c.shadowed.len() == d.shadowed.len()
                && c.shadowed
                    .iter()
                    .zip(&d.shadowed)
                    .all(|(a, b)| *a == b.to_string_lossy())
        };
        if let Some(m) = self.components.locked().get(&key)
            && same(m)
        {
            return m.component.clone();
        }
        let component = Arc::new(assemble_component(
            d,
            eval,
            early.and_then(|e| e.registration()),
            build_dir,
            required_by,
        ));
        let mut memo = self.components.locked();
        if memo.len() >= COMPONENT_MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(
            key,
            ComponentMemo {
                _eval: eval.clone(),
                _early: early.cloned(),
                build_dir: build_dir.to_path_buf(),
                component: component.clone(),
            },
        );
        component
    }
}

/// [`Planner::plan_component`] without the memo.
fn assemble_component(
    d: &Discovered,
    eval: &cmake::ComponentEval,
    early_reg: Option<&cmake::ComponentRegistration>,
    build_dir: &Path,
    required_by: Option<RequiredBy>,
) -> PlanComponent {
    let name = d.name.as_str();
    let reg = eval.registration().or(early_reg);
    let mut sources: Vec<String> = reg
        .map(|r| {
            r.sources
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for extra in eval.target_sources(&format!("__idf_{name}")) {
        let s = extra.to_string_lossy().into_owned();
        if !sources.contains(&s) {
            sources.push(s);
        }
    }
    // Embedded files become generated assembly sources (`target_add_binary_data`).
    let mut add_generated = |embedded: &std::ffi::OsStr| {
        let mut generated = embedded.to_os_string();
        generated.push(".S");
        let s = build_dir.join(generated).to_string_lossy().into_owned();
        if !sources.contains(&s) {
            sources.push(s);
        }
    };
    if let Some(r) = reg {
        for f in r.embed_files.iter().chain(&r.embed_txtfiles) {
            if let Some(name) = f.file_name() {
                add_generated(name);
            }
        }
    }
    // ... and so do direct `target_add_binary_data(${COMPONENT_LIB} <file> ...)` calls.
    for cmd in eval
        .recorded
        .iter()
        .filter(|c| c.name == "target_add_binary_data")
    {
        if cmd.args.first().map(String::as_str) == Some(&format!("__idf_{name}"))
            && let Some(name) = cmd.args.get(1).and_then(|f| Path::new(f).file_name())
        {
            add_generated(name);
        }
    }
    if reg.is_none() {
        for lib in &eval.libraries {
            sources.extend(lib.sources.iter().map(|p| p.to_string_lossy().into_owned()));
        }
    }
    PlanComponent {
        name: name.to_string(),
        dir: d.dir.to_string_lossy().into_owned(),
        source: d.source,
        reqs: early_reg.map(|r| r.requires.clone()).unwrap_or_default(),
        priv_reqs: early_reg
            .map(|r| r.priv_requires.clone())
            .unwrap_or_default(),
        sources,
        include_dirs: reg
            .map(|r| {
                r.include_dirs
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        shadowed: d
            .shadowed
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        file: d.dir.join("CMakeLists.txt").to_string_lossy().into_owned(),
        required_by,
    }
}

/// Components as a real configure recorded them, with our source classification and reasons kept.
fn configured_components(
    desc: &metadata::ProjectDescription,
    discovered: &[Discovered],
    estimated: &[Arc<PlanComponent>],
    order: &[String],
) -> Vec<Arc<PlanComponent>> {
    let estimated: HashMap<&str, &PlanComponent> =
        estimated.iter().map(|c| (c.name.as_str(), &**c)).collect();
    let discovered: HashMap<&str, &Discovered> =
        discovered.iter().map(|d| (d.name.as_str(), d)).collect();
    order
        .iter()
        .map(|name| {
            let info = desc
                .build_component_info
                .get(name)
                .cloned()
                .unwrap_or_default();
            let ours = estimated.get(name.as_str());
            let found = discovered.get(name.as_str());
            Arc::new(PlanComponent {
                name: name.clone(),
                dir: info.dir.clone(),
                source: found.map(|d| d.source).unwrap_or(ComponentSource::Idf),
                reqs: info.reqs.clone(),
                priv_reqs: info.priv_reqs.clone(),
                sources: info.sources.clone(),
                // ESP-IDF records include dirs as written (relative to the component).
                include_dirs: info
                    .include_dirs
                    .iter()
                    .map(|d| {
                        if Path::new(d).is_absolute() {
                            d.clone()
                        } else {
                            Path::new(&info.dir).join(d).display().to_string()
                        }
                    })
                    .collect(),
                shadowed: ours.map(|c| c.shadowed.clone()).unwrap_or_default(),
                file: info
                    .file
                    .clone()
                    .unwrap_or_else(|| format!("{}/CMakeLists.txt", info.dir)),
                required_by: ours.and_then(|c| c.required_by.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;

/// What identifies "the same params" for [`Planner::plan_with_changes`].
fn params_key(params: &BuildPlanParams) -> String {
    serde_json::to_string(params).unwrap_or_default()
}

/// CMake's truthiness for a property value.
fn cmake_truthy(v: &str) -> bool {
    let u = v.trim().to_ascii_uppercase();
    !(u.is_empty()
        || matches!(
            u.as_str(),
            "0" | "OFF" | "NO" | "FALSE" | "N" | "IGNORE" | "NOTFOUND"
        )
        || u.ends_with("-NOTFOUND"))
}

fn config_error(e: project_config::ConfigError) -> DaemonError {
    DaemonError::new(e.code(), e.to_string())
}
