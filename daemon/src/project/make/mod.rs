//! Legacy GNU Make ESP-IDF projects: detection, the build plan and the clean plan, without running
//! anything.
//!
//! A legacy project is a directory whose Makefile sets `PROJECT_NAME` (and optionally other project
//! variables) and then includes `$(IDF_PATH)/make/project.mk`. That file, with
//! `make/component_wrapper.mk`, is the whole build system: it finds the components, evaluates each
//! component's `component.mk` in a sub-make run in the component's build directory, archives each
//! component's objects into `build/<component>/lib<component>.a` and links them into
//! `build/<PROJECT_NAME>.elf` (plus `.bin` and `.map`).
//!
//! This module reproduces those decisions with its own evaluator of the Make language (the `eval`
//! submodule), so a plan can say which components are built, from which directories, into which
//! objects, and what `make clean` would delete.
//!
//! # The rules followed
//!
//! Project level (`project.mk`):
//! - `PROJECT_PATH` defaults to the Makefile's directory, `PROJECT_NAME` to its last path element,
//!   `BUILD_DIR_BASE` to `$(PROJECT_PATH)/build`.
//! - `COMPONENT_DIRS` defaults to `$(PROJECT_PATH)/components $(EXTRA_COMPONENT_DIRS)
//!   $(IDF_PATH)/components` — all three locations the build-system documentation lists, in the
//!   order project.mk searches them. Setting `COMPONENT_DIRS` replaces the whole list.
//! - An entry of `COMPONENT_DIRS` that itself holds a `component.mk` is one component; otherwise
//!   each immediate subdirectory holding a `component.mk` is. A directory without `component.mk`
//!   is not a component (an empty `component.mk` is one, with every default).
//! - `COMPONENTS` defaults to every component name found, sorted; `EXCLUDE_COMPONENTS` removes names.
//! - When a name exists in several directories the first in `COMPONENT_DIRS` order wins: a project
//!   component replaces an extra or IDF one of the same name, an extra one replaces an IDF one. The
//!   losers are recorded in [`MakeComponent::shadowed`].
//! - `SRCDIRS` (default `main`) lists directories under the project that are components themselves
//!   (pseudo-components such as `main`); they follow the components above and lose a name clash.
//!
//! Component level (`component_wrapper.mk`), defaults before `component.mk` is read:
//! `COMPONENT_SRCDIRS = .`, `COMPONENT_ADD_INCLUDEDIRS = include`,
//! `COMPONENT_ADD_LDFLAGS = -l$(COMPONENT_NAME)`, `COMPONENT_LIBRARY = lib$(COMPONENT_NAME).a`;
//! the rest empty. After it: when `COMPONENT_OBJS` is empty it becomes one object per `*.c`,
//! `*.cpp`, `*.cc` and `*.S` file in each `COMPONENT_SRCDIRS` entry (paths relative to the component,
//! so objects land in the same relative place under the component build directory);
//! `COMPONENT_EMBED_FILES`/`TXTFILES` add `<file>.bin.o`/`<file>.txt.o`.
//!
//! The evaluation context matches Make's: `component.mk` sees the project's exported variables
//! (`IDF_PATH`, `PROJECT_PATH`, `PROJECT_NAME`, `BUILD_DIR_BASE`, `COMPONENTS`, ..., and whatever
//! the project Makefile exports), the `CONFIG_*` values, `COMPONENT_PATH`, `COMPONENT_NAME` and
//! `COMPONENT_BUILD_DIR`; its working directory is the component build directory (so a relative
//! `$(wildcard)` looks there, as in Make). A relative `include` that Make would look for in that
//! build directory is read from the component directory instead, with a warning that Make itself
//! would not find it. The project Makefile is read only up to the `include` of `project.mk`, with
//! `IDF_PATH` from the environment and no `CONFIG_*` values (project.mk reads the configuration
//! later).
//!
//! # The build step
//!
//! One `make -j<N> all` in the project directory, plus `BUILD_DIR_BASE=<dir>` when the requested
//! build directory is not the one the Makefile would use, with `IDF_PATH` and `BATCH_BUILD=1` (no
//! terminal: IDF versions that know it create a missing `sdkconfig` non-interactively instead of
//! starting menuconfig, and echo every command) added to the environment.
//!
//! # Not modelled
//!
//! `$(shell ...)` and `!=` are not run (they expand to nothing, with a warning). The targets, flags
//! and clean steps `Makefile.projbuild` files add to the top-level pass (the IDF's bootloader,
//! partition table and linker-script generation among them) are not evaluated; each such file is a
//! warning. Variables of the daemon's environment other than `IDF_PATH`, Make's built-in defaults
//! (`CC`, `CFLAGS`, ...) and `COMPONENT_INCLUDES` are not visible to the makefiles read here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use espctl_protocol::plan::{CleanPlan, CleanScope, PipelineStep};
use serde::Serialize;

mod clean;
mod eval;
mod model;
mod paths;

#[cfg(test)]
mod tests;

/// A legacy GNU Make project, as [`detect`] found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MakeProject {
    /// The project directory (absolute).
    pub project_dir: PathBuf,
    /// `PROJECT_NAME`, or the directory name when the Makefile does not set it.
    pub project_name: String,
    /// The project Makefile (`GNUmakefile`, `makefile` or `Makefile`, the one GNU Make reads).
    pub makefile: PathBuf,
    /// Line of the `include` of `make/project.mk` in [`MakeProject::makefile`] (or a file it includes).
    pub include_line: usize,
    /// The include as written, e.g. `$(IDF_PATH)/make/project.mk`.
    pub project_mk: String,
    /// Variables the Makefile sets before that include (`EXTRA_COMPONENT_DIRS`, `COMPONENT_DIRS`,
    /// `SRCDIRS`, `COMPONENTS`, `EXCLUDE_COMPONENTS`, `BUILD_DIR_BASE`, ...), expanded as project.mk
    /// would see them. Detection knows no IDF, so an unset `IDF_PATH` shows as the text
    /// `$(IDF_PATH)`; [`plan`] evaluates the Makefile again with the real one.
    pub variables: BTreeMap<String, String>,
    /// Problems met while reading the Makefile.
    pub warnings: Vec<String>,
}

/// Everything [`plan`] and [`clean_plan`] need besides the project.
pub struct MakeInputs<'a> {
    pub project_dir: &'a Path,
    /// `IDF_PATH` for the build's environment. A Makefile that sets `IDF_PATH` itself wins, as in Make.
    pub idf_path: Option<&'a Path>,
    /// `CONFIG_*` values as written in `sdkconfig` (`"y"`, numbers, quoted strings); `None` when unset.
    pub config: &'a dyn Fn(&str) -> Option<String>,
    /// The chip. The GNU Make build system builds only `esp32`.
    pub target: &'a str,
    /// The build directory (`BUILD_DIR_BASE`). When the Makefile would use another one, the build's
    /// command line sets `BUILD_DIR_BASE=` so that this one is used.
    pub build_dir: &'a Path,
    /// Parallel jobs for `make -j`; the machine's parallelism when `None`.
    pub jobs: Option<u32>,
}

/// Where a component comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentSource {
    /// Under `IDF_PATH`.
    Idf,
    /// Found through `EXTRA_COMPONENT_DIRS`, or a `COMPONENT_DIRS` entry outside the project and IDF.
    Extra,
    /// The project's own components directory or a `SRCDIRS` pseudo-component such as `main`.
    Project,
}

/// One component of the build, with its `component.mk` evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MakeComponent {
    pub name: String,
    /// The component directory (`COMPONENT_PATH`).
    pub dir: PathBuf,
    pub source: ComponentSource,
    pub component_mk: PathBuf,
    /// `$(BUILD_DIR_BASE)/<name>`, where its objects and library are built.
    pub build_dir: PathBuf,
    /// The static library (`COMPONENT_LIBRARY` in the build directory).
    pub library: PathBuf,
    /// `COMPONENT_SRCDIRS`, relative to [`MakeComponent::dir`].
    pub srcdirs: Vec<PathBuf>,
    /// The objects compiled from sources (`COMPONENT_OBJS`), relative to [`MakeComponent::build_dir`].
    pub objs: Vec<PathBuf>,
    /// Objects made from `COMPONENT_EMBED_FILES`/`TXTFILES`, relative to [`MakeComponent::build_dir`].
    pub embed_objs: Vec<PathBuf>,
    /// `COMPONENT_ADD_INCLUDEDIRS`, absolute: on every component's include path.
    pub add_includedirs: Vec<PathBuf>,
    /// `COMPONENT_PRIV_INCLUDEDIRS`, absolute: on this component's include path only.
    pub priv_includedirs: Vec<PathBuf>,
    /// `COMPONENT_EXTRA_INCLUDES`, as written.
    pub extra_includes: Vec<String>,
    /// `COMPONENT_DEPENDS`: components built before this one.
    pub depends: Vec<String>,
    /// `COMPONENT_EXTRA_CLEAN`, as written (relative to [`MakeComponent::build_dir`]).
    pub extra_clean: Vec<PathBuf>,
    /// `COMPONENT_EMBED_FILES`, as written (relative to [`MakeComponent::dir`]).
    pub embed_files: Vec<PathBuf>,
    /// `COMPONENT_EMBED_TXTFILES`, as written.
    pub embed_txtfiles: Vec<PathBuf>,
    /// `COMPONENT_ADD_LDFLAGS` words.
    pub add_ldflags: Vec<String>,
    /// `COMPONENT_ADD_LINKER_DEPS`, absolute: files whose change re-links the app.
    pub add_linker_deps: Vec<PathBuf>,
    /// `COMPONENT_OWNBUILDTARGET` is set: the component.mk's own `build` target makes the library,
    /// so [`MakeComponent::objs`] is only what the defaults would give.
    pub own_build_target: bool,
    /// `COMPONENT_OWNCLEANTARGET` is set: its own `clean` target decides what is deleted.
    pub own_clean_target: bool,
    /// `COMPONENT_CONFIG_ONLY` is set: nothing is compiled.
    pub config_only: bool,
    /// Directories with a `component.mk` of the same name that lost to this one.
    pub shadowed: Vec<PathBuf>,
}

/// What a `make` build of the project would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MakePlan {
    pub project_name: String,
    /// `BUILD_DIR_BASE` (absolute).
    pub build_dir: PathBuf,
    /// The real `IDF_PATH` the build uses, when known.
    pub idf_path: Option<PathBuf>,
    /// The directories searched for components, in order.
    pub component_dirs: Vec<PathBuf>,
    /// The components, in project.mk's order.
    pub components: Vec<MakeComponent>,
    /// Component names with every component after those in its `COMPONENT_DEPENDS`.
    pub build_order: Vec<String>,
    /// One `make` step.
    pub pipeline: Vec<PipelineStep>,
    /// Component libraries and the app's `.elf`, `.bin` and `.map` (absolute).
    pub expected_artifacts: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Names GNU Make tries, in order, when run without `-f`.
const MAKEFILE_NAMES: &[&str] = &["GNUmakefile", "makefile", "Makefile"];

/// Detect a legacy project: the Makefile GNU Make would read includes a path ending in
/// `make/project.mk` (normally `$(IDF_PATH)/make/project.mk`) outside any false conditional.
pub fn detect(project_dir: &Path) -> Option<MakeProject> {
    let project_dir = paths::normalize(&std::path::absolute(project_dir).ok()?);
    let makefile = MAKEFILE_NAMES
        .iter()
        .map(|n| project_dir.join(n))
        .find(|p| p.is_file())?;
    let mut ev = eval::Evaluator::new(&project_dir, &project_dir, &project_dir);
    // Without an IDF the include still has to be recognised; keep the reference as text.
    ev.set(
        "IDF_PATH",
        "$(IDF_PATH)",
        eval::Flavor::Simple,
        eval::Origin::Environment,
        true,
    );
    ev.stop_at_project_mk = true;
    ev.eval_file(&makefile);
    let hit = ev.project_mk.clone()?;
    let file_vars = ev.file_variables();
    if !ev.is_set("PROJECT_PATH") {
        ev.set(
            "PROJECT_PATH",
            &project_dir.display().to_string(),
            eval::Flavor::Simple,
            eval::Origin::Default,
            true,
        );
    }
    let mut variables = BTreeMap::new();
    for (name, _) in &file_vars {
        let v = ev.value(name);
        variables.insert(name.clone(), v.trim().to_string());
    }
    let named = variables
        .get("PROJECT_NAME")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let project_name = named.unwrap_or_else(|| {
        project_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Some(MakeProject {
        project_dir,
        project_name,
        makefile,
        include_line: hit.line,
        project_mk: hit.written,
        variables,
        warnings: std::mem::take(&mut ev.warnings),
    })
}

/// Plan a build: the components with their objects, the order, the `make` step and what it makes.
/// Reads the project, its components and the IDF's component files; writes nothing.
pub fn plan(project: &MakeProject, inputs: &MakeInputs) -> MakePlan {
    let model = model::evaluate_project(project, inputs, "all");
    let mut warnings = model.warnings.clone();
    if inputs.target != "esp32" {
        warnings.push(format!(
            "target {} is not supported by the GNU Make build system, which builds only esp32; \
             use the CMake build system (idf.py) for this chip",
            inputs.target
        ));
    }
    let (components, mut comp_warnings) = evaluate_components(&model, inputs, "build");
    warnings.append(&mut comp_warnings);
    warnings.extend(model::projbuild_warnings(&model));
    let build_order = model::build_order(&components, &mut warnings);
    let sdkconfig = model.project_path.join("sdkconfig");
    if !sdkconfig.is_file() {
        warnings.push(
            "sdkconfig is missing: make creates it first (non-interactively from defaults and \
             sdkconfig.defaults with BATCH_BUILD; IDF versions without BATCH_BUILD start menuconfig)"
                .to_string(),
        );
    }

    let mut expected_artifacts: Vec<PathBuf> = components
        .iter()
        .filter(|c| !c.config_only)
        .map(|c| c.library.clone())
        .collect();
    expected_artifacts.extend(clean::app_files(&model.build_dir, &model.project_name));

    let pipeline = vec![make_step(&model, inputs, &components)];
    MakePlan {
        project_name: model.project_name.clone(),
        build_dir: model.build_dir.clone(),
        idf_path: model.idf_path.clone(),
        component_dirs: model.component_dirs.clone(),
        components,
        build_order,
        pipeline,
        expected_artifacts,
        warnings: dedup(warnings),
    }
}

/// Plan a clean. [`CleanScope::Clean`] is what `make clean` deletes: per component the library,
/// objects and their `.d` files, embedded-file objects, `COMPONENT_EXTRA_CLEAN` (relative to the
/// component build directory) and `component_project_vars.mk`; the app's `.elf`/`.bin`/`.map`;
/// the generated configuration under `include/`. [`CleanScope::Fullclean`] is the whole build
/// directory. Paths are relative to the project directory; totals count the files that exist.
pub fn clean_plan(project: &MakeProject, inputs: &MakeInputs, scope: CleanScope) -> CleanPlan {
    let model = model::evaluate_project(project, inputs, "clean");
    let targets = match scope {
        CleanScope::Fullclean => clean::fullclean_targets(&model.build_dir),
        CleanScope::Clean => {
            let (components, _) = evaluate_components(&model, inputs, "clean");
            let mut warnings = Vec::new();
            clean::make_clean_targets(
                &components,
                &model.build_dir,
                &model.project_name,
                &mut warnings,
            )
        }
    };
    clean::to_plan(scope, &targets, &model.project_dir)
}

fn evaluate_components(
    model: &model::ProjectModel,
    inputs: &MakeInputs,
    goal: &str,
) -> (Vec<MakeComponent>, Vec<String>) {
    let mut components = Vec::with_capacity(model.resolved.len());
    let mut warnings = Vec::new();
    for r in &model.resolved {
        let (c, mut w) = model::evaluate_component(model, r, inputs.config, goal);
        warnings.append(&mut w);
        components.push(c);
    }
    (components, warnings)
}

fn make_step(
    model: &model::ProjectModel,
    inputs: &MakeInputs,
    components: &[MakeComponent],
) -> PipelineStep {
    let jobs = inputs.jobs.filter(|&j| j > 0).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)
    });
    let mut argv = vec!["make".to_string(), format!("-j{jobs}"), "all".to_string()];
    for (k, v) in &model.command_line {
        argv.push(format!("{k}={v}"));
    }
    let mut env = BTreeMap::new();
    if let Some(idf) = inputs.idf_path {
        let idf = std::path::absolute(idf).unwrap_or_else(|_| idf.to_path_buf());
        env.insert(
            "IDF_PATH".to_string(),
            paths::normalize(&idf).display().to_string(),
        );
    }
    // No terminal: configuration steps must not go interactive (menuconfig).
    env.insert("BATCH_BUILD".to_string(), "1".to_string());

    let build_rel = paths::display(&model.build_dir, &model.project_dir);
    let state = if !model.build_dir.exists() {
        "no build output yet".to_string()
    } else if clean::app_files(&model.build_dir, &model.project_name)[0].exists() {
        "make rebuilds what changed since the last build".to_string()
    } else {
        "the build directory has no app yet".to_string()
    };
    let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    let reason = format!(
        "legacy GNU Make project (the Makefile includes make/project.mk): make compiles {} \
         component{} ({}) in {} and links {}.elf; {}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        build_rel,
        model.project_name.trim_matches('"'),
        state
    );
    PipelineStep {
        name: "make".to_string(),
        argv,
        cwd: model.project_dir.display().to_string(),
        env,
        reason,
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|w| seen.insert(w.clone())).collect()
}
