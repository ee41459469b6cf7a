//! The project-level half of the legacy build system (`make/project.mk`): project variables and
//! their defaults, where components are searched for and which copy of a component wins, and the
//! component half (`make/component_wrapper.mk`): each `component.mk` evaluated with the variables
//! the wrapper presets, and the objects it will compile.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::eval::{Evaluator, Flavor, Origin};
use super::paths;
use super::{ComponentSource, MakeComponent, MakeInputs, MakeProject};

/// Source suffixes compiled by default, in the order the wrapper collects them.
pub(crate) const SOURCE_SUFFIXES: &[&str] = &["c", "cpp", "cc", "S"];

/// What the top-level make pass settles before it recurses into components.
pub(crate) struct ProjectModel {
    /// The directory make runs in (the project Makefile's).
    pub project_dir: PathBuf,
    /// `PROJECT_PATH` (normally the same directory).
    pub project_path: PathBuf,
    pub idf_path: Option<PathBuf>,
    pub project_name: String,
    pub build_dir: PathBuf,
    /// The build's command line must carry `BUILD_DIR_BASE=` (the requested build directory is not
    /// the one the Makefile would use by itself).
    pub pass_build_dir: bool,
    pub component_dirs: Vec<PathBuf>,
    /// Components in the order project.mk lists them, with the copies they shadow.
    pub resolved: Vec<Resolved>,
    /// Variables sub-makes inherit through the environment.
    pub exported: Vec<(String, String)>,
    /// Variables on the make command line (passed down to sub-makes too).
    pub command_line: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

pub(crate) struct Resolved {
    pub name: String,
    pub dir: PathBuf,
    pub source: ComponentSource,
    pub shadowed: Vec<PathBuf>,
}

/// A directory holding `component.mk`, found in a search directory.
struct Candidate {
    name: String,
    dir: PathBuf,
    /// The `COMPONENT_DIRS`/`SRCDIRS` entry it was found through.
    via: PathBuf,
}

/// Evaluate the project Makefile up to its `include .../make/project.mk`, then apply project.mk's
/// defaults and component search.
pub(crate) fn evaluate_project(
    project: &MakeProject,
    inputs: &MakeInputs,
    goal: &str,
) -> ProjectModel {
    let project_dir = absolute(inputs.project_dir);
    let wanted_build = absolute(&paths::resolve(&project_dir, inputs.build_dir));
    let first = evaluate_project_once(project, inputs, &project_dir, goal, None);
    if first.build_dir == wanted_build {
        return first;
    }
    let mut second =
        evaluate_project_once(project, inputs, &project_dir, goal, Some(&wanted_build));
    second.pass_build_dir = true;
    if first.build_dir != project_dir.join("build") {
        second.warnings.push(format!(
            "the Makefile puts the build in {}; this build passes BUILD_DIR_BASE={} on the make \
             command line, which overrides it",
            paths::display(&first.build_dir, &project_dir),
            wanted_build.display()
        ));
    }
    second
}

fn absolute(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    paths::normalize(&abs)
}

fn evaluate_project_once(
    project: &MakeProject,
    inputs: &MakeInputs,
    project_dir: &Path,
    goal: &str,
    build_dir_cmdline: Option<&Path>,
) -> ProjectModel {
    let mut ev = Evaluator::new(project_dir, project_dir, project_dir);
    let mut warnings = Vec::new();
    let mut command_line = Vec::new();
    if let Some(idf) = inputs.idf_path {
        let idf = absolute(idf);
        ev.set(
            "IDF_PATH",
            &idf.display().to_string(),
            Flavor::Simple,
            Origin::Environment,
            true,
        );
    }
    if let Some(b) = build_dir_cmdline {
        let b = b.display().to_string();
        ev.set(
            "BUILD_DIR_BASE",
            &b,
            Flavor::Simple,
            Origin::CommandLine,
            true,
        );
        command_line.push(("BUILD_DIR_BASE".to_string(), b));
    }
    ev.set("MAKECMDGOALS", goal, Flavor::Simple, Origin::Default, false);
    ev.stop_at_project_mk = true;
    let makefile = if project.makefile.is_absolute() {
        project.makefile.clone()
    } else {
        project_dir.join(&project.makefile)
    };
    if !ev.eval_file(&makefile) {
        warnings.push(format!("{}: cannot be read", makefile.display()));
    }
    let include_at = match &ev.project_mk {
        Some(hit) => format!("{}:{}", paths::display(&hit.file, project_dir), hit.line),
        None => {
            warnings.push(format!(
                "{}: no longer includes make/project.mk (or only inside a false conditional)",
                paths::display(&makefile, project_dir)
            ));
            paths::display(&makefile, project_dir)
        }
    };
    ev.set_location(&format!("{include_at} (project.mk)"), 0);

    // IDF_PATH: project.mk makes it a real path and exports it.
    let idf_raw = ev.value("IDF_PATH").trim().to_string();
    let idf_path = if idf_raw.is_empty() {
        warnings.push(
            "IDF_PATH is not set: make cannot find $(IDF_PATH)/make/project.mk and stops"
                .to_string(),
        );
        None
    } else {
        let p = paths::resolve(project_dir, Path::new(&idf_raw));
        match std::fs::canonicalize(&p) {
            Ok(real) => Some(real),
            Err(_) => {
                warnings.push(format!(
                    "IDF_PATH {} does not exist: make stops (\"IDF_PATH variable is not set to a valid directory\")",
                    p.display()
                ));
                Some(p)
            }
        }
    };
    if let Some(idf) = &idf_path {
        ev.set(
            "IDF_PATH",
            &idf.display().to_string(),
            Flavor::Simple,
            Origin::File,
            true,
        );
    }
    if ev.is_set("IDF_TARGET") {
        let t = ev.value("IDF_TARGET").trim().to_string();
        if t != "esp32" {
            warnings.push(format!(
                "IDF_TARGET is {t}: the GNU Make build system only builds for esp32 and stops"
            ));
        }
    } else {
        ev.set("IDF_TARGET", "esp32", Flavor::Simple, Origin::File, true);
    }

    // PROJECT_PATH, PROJECT_NAME, BUILD_DIR_BASE.
    let project_path = if ev.is_set("PROJECT_PATH") {
        let v = ev.value("PROJECT_PATH");
        paths::resolve(project_dir, Path::new(v.trim()))
    } else {
        project_dir.to_path_buf()
    };
    ev.set(
        "PROJECT_PATH",
        &project_path.display().to_string(),
        Flavor::Simple,
        Origin::File,
        true,
    );
    if !ev.is_set("PROJECT_NAME") {
        let name = project_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ev.set("PROJECT_NAME", &name, Flavor::Simple, Origin::File, true);
    }
    let project_name = ev.value("PROJECT_NAME").trim().to_string();
    if project_name.contains(char::is_whitespace) {
        warnings.push(format!(
            "PROJECT_NAME `{project_name}` contains spaces: the app file names will be broken"
        ));
    }
    if !ev.is_set("BUILD_DIR_BASE") {
        let b = project_path.join("build").display().to_string();
        ev.set("BUILD_DIR_BASE", &b, Flavor::Simple, Origin::File, true);
    }
    let build_dir = paths::resolve(project_dir, Path::new(ev.value("BUILD_DIR_BASE").trim()));
    if let Some(v) = ev.get("BUILD_DIR_BASE")
        && v.origin != Origin::CommandLine
    {
        ev.set(
            "BUILD_DIR_BASE",
            &build_dir.display().to_string(),
            Flavor::Simple,
            Origin::File,
            true,
        );
    }

    // Component search directories.
    let extra_dirs: Vec<PathBuf> = ev
        .value_words("EXTRA_COMPONENT_DIRS")
        .iter()
        .map(|d| paths::resolve(project_dir, Path::new(d)))
        .collect();
    if !ev.is_set("COMPONENT_DIRS") {
        let v =
            ev.expand("$(PROJECT_PATH)/components $(EXTRA_COMPONENT_DIRS) $(IDF_PATH)/components");
        ev.set("COMPONENT_DIRS", &v, Flavor::Simple, Origin::File, true);
    }
    let mut component_dirs: Vec<PathBuf> = Vec::new();
    for d in ev.value_words("COMPONENT_DIRS") {
        let p = paths::resolve(project_dir, Path::new(&d));
        if !component_dirs.contains(&p) {
            component_dirs.push(p);
        }
    }
    for d in &extra_dirs {
        if !d.is_dir() && component_dirs.contains(d) {
            warnings.push(format!(
                "EXTRA_COMPONENT_DIRS entry {} does not exist",
                paths::display(d, project_dir)
            ));
        }
    }
    let component_dirs_text = component_dirs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    ev.set(
        "COMPONENT_DIRS",
        &component_dirs_text,
        Flavor::Simple,
        Origin::File,
        true,
    );
    if !ev.is_defined("SRCDIRS") {
        ev.set("SRCDIRS", "main", Flavor::Recursive, Origin::File, false);
    }
    let srcdirs: Vec<PathBuf> = ev
        .value_words("SRCDIRS")
        .iter()
        .map(|d| paths::resolve(project_dir, Path::new(d)))
        .collect();
    let explicit_components = ev
        .is_set("COMPONENTS")
        .then(|| ev.value_words("COMPONENTS"));
    let excluded: HashSet<String> = ev
        .value("EXCLUDE_COMPONENTS")
        .replace('"', "")
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect();

    let resolved = resolve_components(
        &component_dirs,
        &srcdirs,
        explicit_components.as_deref(),
        &excluded,
        &extra_dirs,
        idf_path.as_deref(),
        project_dir,
        &mut warnings,
    );
    let names = resolved
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    ev.set("COMPONENTS", &names, Flavor::Simple, Origin::File, true);
    let comp_paths = resolved
        .iter()
        .map(|r| r.dir.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    ev.set(
        "COMPONENT_PATHS",
        &comp_paths,
        Flavor::Simple,
        Origin::File,
        true,
    );

    for (name, value, loc) in std::mem::take(&mut ev.ignored_assignments) {
        if name != "BUILD_DIR_BASE" {
            warnings.push(format!(
                "{loc}: {name} is set on the make command line; this assignment (`{value}`) is ignored"
            ));
        }
    }
    let mut all_warnings = std::mem::take(&mut ev.warnings);
    all_warnings.append(&mut warnings);
    let exported = ev.exported_values();
    ProjectModel {
        project_dir: project_dir.to_path_buf(),
        project_path,
        idf_path,
        project_name,
        build_dir,
        pass_build_dir: false,
        component_dirs,
        resolved,
        exported,
        command_line,
        warnings: all_warnings,
    }
}

/// The components of the build, in project.mk's order: the names found in `COMPONENT_DIRS`
/// (or `COMPONENTS`), sorted, minus `EXCLUDE_COMPONENTS`, each taken from the first directory that
/// has it; then the `SRCDIRS` pseudo-components.
#[allow(clippy::too_many_arguments)]
fn resolve_components(
    component_dirs: &[PathBuf],
    srcdirs: &[PathBuf],
    explicit: Option<&[String]>,
    excluded: &HashSet<String>,
    extra_dirs: &[PathBuf],
    idf_path: Option<&Path>,
    project_dir: &Path,
    warnings: &mut Vec<String>,
) -> Vec<Resolved> {
    let mut candidates: Vec<Candidate> = Vec::new();
    for cd in component_dirs {
        if cd.join("component.mk").is_file() {
            // The search directory is itself a component.
            candidates.push(Candidate {
                name: file_name(cd),
                dir: cd.clone(),
                via: cd.clone(),
            });
            continue;
        }
        let Ok(entries) = std::fs::read_dir(cd) else {
            continue;
        };
        let mut subdirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| cd.join(e.file_name()))
            .filter(|p| p.join("component.mk").is_file())
            .collect();
        subdirs.sort();
        for dir in subdirs {
            candidates.push(Candidate {
                name: file_name(&dir),
                dir,
                via: cd.clone(),
            });
        }
    }
    let names: Vec<String> = match explicit {
        Some(list) => {
            let mut seen = HashSet::new();
            list.iter()
                .filter(|n| seen.insert(n.to_string()))
                .cloned()
                .collect()
        }
        None => candidates
            .iter()
            .map(|c| c.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let classify = |c: &Candidate| -> ComponentSource {
        if extra_dirs.contains(&c.via) {
            return ComponentSource::Extra;
        }
        if let Some(idf) = idf_path
            && (c.dir.starts_with(idf)
                || std::fs::canonicalize(&c.dir).is_ok_and(|d| d.starts_with(idf)))
        {
            return ComponentSource::Idf;
        }
        if c.dir.starts_with(project_dir) {
            ComponentSource::Project
        } else {
            ComponentSource::Extra
        }
    };
    let mut out: Vec<Resolved> = Vec::new();
    for name in names {
        if excluded.contains(&name) {
            continue;
        }
        let mut matching = candidates.iter().filter(|c| c.name == name);
        let Some(winner) = matching.next() else {
            warnings.push(format!(
                "COMPONENTS names `{name}`, but no directory in COMPONENT_DIRS has {name}/component.mk"
            ));
            continue;
        };
        out.push(Resolved {
            name: name.clone(),
            dir: winner.dir.clone(),
            source: classify(winner),
            shadowed: matching.map(|c| c.dir.clone()).collect(),
        });
    }
    for sd in srcdirs {
        let name = file_name(sd);
        if !sd.join("component.mk").is_file() {
            warnings.push(format!(
                "SRCDIRS entry {} has no component.mk: it is not built",
                paths::display(sd, project_dir)
            ));
            continue;
        }
        if excluded.contains(&name) {
            continue;
        }
        if let Some(existing) = out.iter_mut().find(|r| r.name == name) {
            if existing.dir != *sd {
                warnings.push(format!(
                    "SRCDIRS component {} has the same name as {}, which comes first and wins",
                    paths::display(sd, project_dir),
                    paths::display(&existing.dir, project_dir)
                ));
                if !existing.shadowed.contains(sd) {
                    existing.shadowed.push(sd.clone());
                }
            }
            continue;
        }
        out.push(Resolved {
            name,
            dir: sd.clone(),
            source: ComponentSource::Project,
            shadowed: Vec::new(),
        });
    }
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `"xtensa-esp32-elf-"` → `xtensa-esp32-elf-` (Make's `dequote`).
fn dequote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// Evaluate one component's `component.mk` the way `make/component_wrapper.mk` does.
pub(crate) fn evaluate_component(
    model: &ProjectModel,
    resolved: &Resolved,
    config: &dyn Fn(&str) -> Option<String>,
    goal: &str,
) -> (MakeComponent, Vec<String>) {
    let project_dir = &model.project_dir;
    let dir = &resolved.dir;
    let name = &resolved.name;
    let build_dir = model.build_dir.join(name);
    let component_mk = dir.join("component.mk");
    let mut ev = Evaluator::new(&build_dir, dir, project_dir).with_config(config);
    let mut warnings = Vec::new();

    for (k, v) in &model.exported {
        ev.set(k, v, Flavor::Simple, Origin::Environment, true);
    }
    for (k, v) in &model.command_line {
        ev.set(k, v, Flavor::Simple, Origin::CommandLine, true);
    }
    let cl = |ev: &mut Evaluator, k: &str, v: &str| {
        ev.set(k, v, Flavor::Simple, Origin::CommandLine, true);
    };
    cl(
        &mut ev,
        "COMPONENT_MAKEFILE",
        &component_mk.display().to_string(),
    );
    cl(&mut ev, "COMPONENT_NAME", name);
    ev.set("MAKECMDGOALS", goal, Flavor::Simple, Origin::Default, false);

    // Stage 1 of the wrapper: presets and defaults, before component.mk.
    let file = |ev: &mut Evaluator, k: &str, v: &str, flavor: Flavor| {
        ev.set(k, v, flavor, Origin::File, false);
    };
    ev.set(
        "COMPONENT_PATH",
        &dir.display().to_string(),
        Flavor::Simple,
        Origin::File,
        true,
    );
    file(
        &mut ev,
        "COMPONENT_BUILD_DIR",
        &build_dir.display().to_string(),
        Flavor::Simple,
    );
    let prefix = config("CONFIG_SDK_TOOLPREFIX")
        .or_else(|| config("CONFIG_TOOLPREFIX"))
        .map(|p| dequote(&p))
        .unwrap_or_else(|| "xtensa-esp32-elf-".to_string());
    for (var, tool) in [
        ("CC", "gcc"),
        ("CXX", "c++"),
        ("LD", "ld"),
        ("AR", "ar"),
        ("OBJCOPY", "objcopy"),
        ("OBJDUMP", "objdump"),
        ("SIZE", "size"),
    ] {
        if !ev.is_set(var) {
            ev.set(
                var,
                &format!("{prefix}{tool}"),
                Flavor::Simple,
                Origin::File,
                true,
            );
        }
    }
    file(
        &mut ev,
        "COMPONENT_LIBRARY",
        "lib$(COMPONENT_NAME).a",
        Flavor::Recursive,
    );
    file(&mut ev, "COMPONENT_SRCDIRS", ".", Flavor::Recursive);
    file(
        &mut ev,
        "COMPONENT_ADD_INCLUDEDIRS",
        "include",
        Flavor::Recursive,
    );
    file(
        &mut ev,
        "COMPONENT_ADD_LDFLAGS",
        "-l$(COMPONENT_NAME)",
        Flavor::Recursive,
    );
    for v in [
        "COMPONENT_EMBED_FILES",
        "COMPONENT_EMBED_TXTFILES",
        "COMPONENT_ADD_LINKER_DEPS",
        "COMPONENT_DEPENDS",
        "COMPONENT_EXTRA_CLEAN",
        "COMPONENT_EXTRA_INCLUDES",
        "COMPONENT_PRIV_INCLUDEDIRS",
        "COMPONENT_SUBMODULES",
        "COMPONENT_OBJEXCLUDE",
        "COMPONENT_OBJINCLUDE",
    ] {
        if !ev.is_defined(v) {
            file(&mut ev, v, "", Flavor::Recursive);
        }
    }
    // Helpers common.mk gives every component.mk.
    file(&mut ev, "dequote", "$(subst \",,$(1))", Flavor::Recursive);
    file(
        &mut ev,
        "resolvepath",
        "$(foreach p,$(1),$(if $(filter /%,$(p)),$(p),$(subst //,/,$(2)/$(p))))",
        Flavor::Recursive,
    );
    file(
        &mut ev,
        "prereq_if_explicit",
        "$(filter $(1),$(MAKECMDGOALS))",
        Flavor::Recursive,
    );
    if !ev.is_set("SDKCONFIG_MAKEFILE") {
        let auto_conf = model.build_dir.join("include/config/auto.conf");
        ev.set(
            "SDKCONFIG_MAKEFILE",
            &auto_conf.display().to_string(),
            Flavor::Simple,
            Origin::File,
            true,
        );
    }
    // Conditional-compilation helpers of later IDF versions: add an object to the include or
    // exclude list depending on a condition.
    file(
        &mut ev,
        "compile_only_if",
        "$(eval COMPONENT_OBJ$(if $(1),INCLUDE,EXCLUDE) += $(2))",
        Flavor::Recursive,
    );
    file(
        &mut ev,
        "compile_only_if_not",
        "$(eval COMPONENT_OBJ$(if $(1),EXCLUDE,INCLUDE) += $(2))",
        Flavor::Recursive,
    );
    file(
        &mut ev,
        "compile_include",
        "$(eval COMPONENT_OBJINCLUDE += $(1))",
        Flavor::Recursive,
    );
    file(
        &mut ev,
        "compile_exclude",
        "$(eval COMPONENT_OBJEXCLUDE += $(1))",
        Flavor::Recursive,
    );

    // Stage 2: the component's own makefile.
    if !ev.eval_file(&component_mk) {
        warnings.push(format!(
            "{}: cannot be read",
            paths::display(&component_mk, project_dir)
        ));
    }
    let loc = format!(
        "{} (after reading)",
        paths::display(&component_mk, project_dir)
    );
    ev.set_location(&loc, 0);

    // Stage 3: what depends on component.mk's values.
    let srcdirs = ev.value_words("COMPONENT_SRCDIRS");
    let mut objs: Vec<String> = if ev.is_set("COMPONENT_OBJS") {
        let mut v = ev.value_words("COMPONENT_OBJS");
        v.extend(ev.value_words("COMPONENT_OBJINCLUDE"));
        v
    } else {
        derive_objects(dir, &srcdirs)
    };
    let exclude: HashSet<PathBuf> = ev
        .value_words("COMPONENT_OBJEXCLUDE")
        .iter()
        .map(|o| paths::normalize(Path::new(o)))
        .collect();
    objs.retain(|o| !exclude.contains(&paths::normalize(Path::new(o))));
    let mut seen = HashSet::new();
    let objs: Vec<PathBuf> = objs
        .iter()
        .map(|o| paths::normalize(Path::new(o)))
        .filter(|o| seen.insert(o.clone()))
        .collect();

    let embed_files: Vec<PathBuf> = ev
        .value_words("COMPONENT_EMBED_FILES")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let embed_txtfiles: Vec<PathBuf> = ev
        .value_words("COMPONENT_EMBED_TXTFILES")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let embed_objs: Vec<PathBuf> = if ev.is_defined("COMPONENT_EMBED_OBJS") {
        ev.value_words("COMPONENT_EMBED_OBJS")
            .into_iter()
            .map(|o| paths::normalize(Path::new(&o)))
            .collect()
    } else {
        embed_files
            .iter()
            .map(|f| PathBuf::from(format!("{}.bin.o", file_name(f))))
            .chain(
                embed_txtfiles
                    .iter()
                    .map(|f| PathBuf::from(format!("{}.txt.o", file_name(f)))),
            )
            .collect()
    };
    let in_dir = |ws: Vec<String>| -> Vec<PathBuf> {
        ws.iter()
            .map(|w| paths::resolve(dir, Path::new(w)))
            .collect()
    };
    let add_includedirs = in_dir(ev.value_words("COMPONENT_ADD_INCLUDEDIRS"));
    let priv_includedirs = in_dir(ev.value_words("COMPONENT_PRIV_INCLUDEDIRS"));
    let extra_includes = ev.value_words("COMPONENT_EXTRA_INCLUDES");
    let depends = ev.value_words("COMPONENT_DEPENDS");
    let extra_clean: Vec<PathBuf> = ev
        .value_words("COMPONENT_EXTRA_CLEAN")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let add_ldflags = ev.value_words("COMPONENT_ADD_LDFLAGS");
    let add_linker_deps = in_dir(ev.value_words("COMPONENT_ADD_LINKER_DEPS"));
    let library_name = ev.value("COMPONENT_LIBRARY").trim().to_string();
    let library = paths::resolve(&build_dir, Path::new(&library_name));
    let own_build_target = ev.is_set("COMPONENT_OWNBUILDTARGET");
    let own_clean_target = ev.is_set("COMPONENT_OWNCLEANTARGET");
    let config_only = ev.is_set("COMPONENT_CONFIG_ONLY");

    // Checks that predict a failing or surprising build.
    let shown = paths::display(&component_mk, project_dir);
    if own_build_target {
        warnings.push(format!(
            "{shown}: COMPONENT_OWNBUILDTARGET is set: the component's own `build` target makes \
             {library_name}; its objects are not predicted"
        ));
    }
    for sd in &srcdirs {
        if !dir.join(sd).is_dir() {
            warnings.push(format!(
                "{shown}: COMPONENT_SRCDIRS entry `{sd}` does not exist in {}",
                paths::display(dir, project_dir)
            ));
        }
    }
    if !own_build_target && !config_only {
        let rule_targets: Vec<String> = ev.rule_targets.clone();
        for obj in &objs {
            if !has_source(dir, &srcdirs, obj) && !made_by_rule(&rule_targets, obj) {
                warnings.push(format!(
                    "{shown}: no source for {} in COMPONENT_SRCDIRS ({}) and no rule makes it: \
                     make stops with \"No rule to make target\"",
                    obj.display(),
                    srcdirs.join(" ")
                ));
            }
        }
        let made_here: HashSet<PathBuf> = rule_targets
            .iter()
            .map(|t| paths::resolve(&build_dir, Path::new(t)))
            .collect();
        for f in embed_files.iter().chain(embed_txtfiles.iter()) {
            let path = paths::resolve(dir, f);
            if !path.exists() && !made_here.contains(&path) {
                warnings.push(format!(
                    "{shown}: embedded file {} is missing: make stops",
                    f.display()
                ));
            }
        }
    }
    let mut all_warnings = std::mem::take(&mut ev.warnings);
    all_warnings.append(&mut warnings);

    let component = MakeComponent {
        name: name.clone(),
        dir: dir.clone(),
        source: resolved.source,
        component_mk,
        build_dir,
        library,
        srcdirs: srcdirs.into_iter().map(PathBuf::from).collect(),
        objs: if config_only { Vec::new() } else { objs },
        embed_objs: if config_only { Vec::new() } else { embed_objs },
        add_includedirs,
        priv_includedirs,
        extra_includes,
        depends,
        extra_clean,
        embed_files,
        embed_txtfiles,
        add_ldflags,
        add_linker_deps,
        own_build_target,
        own_clean_target,
        config_only,
        shadowed: resolved.shadowed.clone(),
    };
    (component, all_warnings)
}

/// The wrapper's default `COMPONENT_OBJS`: a `.o` for every `*.c`, `*.cpp`, `*.cc` and `*.S` in
/// each source directory, relative to the component directory.
fn derive_objects(dir: &Path, srcdirs: &[String]) -> Vec<String> {
    let base = dir.display().to_string();
    let mut out = Vec::new();
    for suffix in SOURCE_SUFFIXES {
        for sd in srcdirs {
            let pattern = format!("{base}/{sd}/*.{suffix}");
            for found in paths::wildcard(&pattern, dir) {
                let rel = found
                    .strip_prefix(&format!("{base}/"))
                    .unwrap_or(&found)
                    .to_string();
                let stem = &rel[..rel.len() - suffix.len() - 1];
                out.push(format!("{stem}.o"));
            }
        }
    }
    out
}

/// Whether one of the per-source-directory pattern rules can compile `obj`.
fn has_source(dir: &Path, srcdirs: &[String], obj: &Path) -> bool {
    let obj_s = obj.to_string_lossy();
    let Some(stem_all) = obj_s.strip_suffix(".o") else {
        return false;
    };
    srcdirs.iter().any(|sd| {
        let sd_norm = paths::normalize(Path::new(sd));
        let stem = if sd_norm == Path::new(".") {
            Some(stem_all.to_string())
        } else {
            Path::new(stem_all)
                .strip_prefix(&sd_norm)
                .ok()
                .map(|s| s.to_string_lossy().into_owned())
        };
        stem.is_some_and(|stem| {
            SOURCE_SUFFIXES
                .iter()
                .any(|suf| dir.join(&sd_norm).join(format!("{stem}.{suf}")).is_file())
        })
    })
}

/// Whether an explicit or pattern rule read from component.mk names `obj` as a target.
fn made_by_rule(targets: &[String], obj: &Path) -> bool {
    let obj_s = obj.to_string_lossy();
    targets.iter().any(|t| {
        let t_norm = paths::normalize(Path::new(t));
        let t_norm = t_norm.to_string_lossy();
        if t_norm.contains('%') {
            let (pre, post) = t_norm.split_once('%').unwrap_or(("", ""));
            obj_s.starts_with(pre) && obj_s.ends_with(post)
        } else {
            t_norm == obj_s
        }
    })
}

/// Components in an order where each comes after the ones in its `COMPONENT_DEPENDS`; otherwise
/// project.mk's order. Unknown names and cycles become warnings.
pub(crate) fn build_order(components: &[MakeComponent], warnings: &mut Vec<String>) -> Vec<String> {
    let index: HashMap<&str, usize> = components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(components.len());
    for c in components {
        let mut d = Vec::new();
        for dep in &c.depends {
            match index.get(dep.as_str()) {
                Some(&i) => d.push(i),
                None => warnings.push(format!(
                    "component {} depends on `{dep}`, which is not a component of this build: make \
                     stops with \"No rule to make target 'component-{dep}-build'\"",
                    c.name
                )),
            }
        }
        deps.push(d);
    }
    let mut done = vec![false; components.len()];
    let mut order = Vec::with_capacity(components.len());
    loop {
        let mut progressed = false;
        for i in 0..components.len() {
            if !done[i] && deps[i].iter().all(|&d| done[d] || d == i) {
                done[i] = true;
                order.push(components[i].name.clone());
                progressed = true;
                break;
            }
        }
        if order.len() == components.len() {
            break;
        }
        if !progressed {
            let stuck: Vec<&str> = (0..components.len())
                .filter(|&i| !done[i])
                .map(|i| components[i].name.as_str())
                .collect();
            warnings.push(format!(
                "COMPONENT_DEPENDS has a cycle among {}: make reports a circular dependency",
                stuck.join(", ")
            ));
            order.extend(stuck.into_iter().map(str::to_string));
            break;
        }
    }
    order
}

/// Components whose directory has a `Makefile.projbuild`: it joins the top-level make pass.
pub(crate) fn projbuild_warnings(model: &ProjectModel) -> Vec<String> {
    model
        .resolved
        .iter()
        .filter(|r| r.dir.join("Makefile.projbuild").is_file())
        .map(|r| {
            format!(
                "{}: Makefile.projbuild is read by the top-level make pass; the targets, flags and \
                 clean steps it adds are not evaluated here",
                paths::display(&r.dir.join("Makefile.projbuild"), &model.project_dir)
            )
        })
        .collect()
}
