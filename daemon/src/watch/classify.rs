//! What a changed path means for the next build: [`classify`] gives each path a
//! [`ChangeClass`] and a reason, [`summarize`] the batch's class and reason.
//!
//! The rules follow ESP-IDF's build: files CMake reads (CMakeLists.txt, `*.cmake`, Kconfig,
//! sdkconfig, `idf_component.yml`) and the project's espctl settings make CMake run again, and
//! so does a file that appears or vanishes where a SRC_DIRS or file(GLOB) looks, which CMake
//! would not notice by itself; sources and headers recompile; linker fragments, scripts and
//! prebuilt libraries only relink; editor temporary files, version control metadata and files
//! outside every component change nothing.

use std::path::{Path, PathBuf};

use espctl_protocol::watch::{ChangeClass, PathChange};

/// What happened to a path, from the batch's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEvent {
    Created,
    Modified,
    Removed,
}

impl PathEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            PathEvent::Created => "created",
            PathEvent::Modified => "modified",
            PathEvent::Removed => "removed",
        }
    }
}

/// A component of the plan, as classification needs it.
#[derive(Debug, Clone)]
pub struct ComponentDir {
    pub name: String,
    pub dir: PathBuf,
}

/// What classification knows about the project.
pub struct Context<'a> {
    pub project_dir: &'a Path,
    /// Build directories: nothing under them is a change of the project.
    pub build_dirs: &'a [PathBuf],
    /// The build's components (the innermost directory containing a path wins).
    pub components: &'a [ComponentDir],
    /// sdkconfig, its defaults files, `.espctl.toml`, `.idf-version` (absolute).
    pub config_files: &'a [PathBuf],
    /// Config files whose content is the same as before the event (a configure rewrote them).
    pub unchanged_content: &'a [PathBuf],
    /// Files a running build of this project writes itself (its configure's sdkconfig).
    pub written_by_build: &'a [PathBuf],
    /// The plan's source files.
    pub sources: &'a std::collections::HashSet<PathBuf>,
    /// When a created or removed path changes what a recorded glob matches: the glob's pattern.
    pub glob_change: &'a dyn Fn(&Path) -> Option<String>,
    /// Whether Ninja's build files name the path (an input of some step of the build).
    pub known_to_ninja: &'a dyn Fn(&Path) -> bool,
}

/// Directory names whose contents are never part of a build.
const VCS_DIRS: [&str; 3] = [".git", ".svn", ".hg"];

const SOURCE_EXTENSIONS: [&str; 11] = [
    "c", "cc", "cpp", "cxx", "c++", "s", "S", "asm", "m", "mm", "rs",
];
const HEADER_EXTENSIONS: [&str; 6] = ["h", "hh", "hpp", "hxx", "inc", "inl"];

/// Editor and tool scratch files: vim (`.swp`, `4913`, `~` backups), Emacs (`.#x`, `#x#`),
/// Kate, JetBrains and GNOME save-by-rename temporaries, generic `.tmp`.
pub fn is_editor_temp(name: &str) -> bool {
    name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#') && name.len() > 1)
        || name == "4913"
        || name.starts_with(".goutputstream-")
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".kate-swp")
        || [".swp", ".swo", ".swx", ".swn", ".tmp"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Whether `path` is under a version control directory.
pub fn in_vcs_dir(path: &Path) -> bool {
    path.components()
        .any(|c| VCS_DIRS.iter().any(|v| c.as_os_str() == *v))
}

fn extension(name: &str) -> Option<&str> {
    name.rsplit_once('.').map(|(_, ext)| ext)
}

fn is_source(name: &str) -> bool {
    extension(name).is_some_and(|e| SOURCE_EXTENSIONS.contains(&e))
}

fn is_header(name: &str) -> bool {
    extension(name).is_some_and(|e| HEADER_EXTENSIONS.contains(&e))
}

/// Files CMake reads while configuring an ESP-IDF project.
fn is_cmake_input(name: &str) -> bool {
    name == "CMakeLists.txt"
        || name.ends_with(".cmake")
        || name.starts_with("Kconfig")
        || name.starts_with("sdkconfig")
        || name == "idf_component.yml"
        || name == "component.mk"
        || name == "Makefile"
}

/// What the link reads but no compile does.
fn is_link_input(name: &str) -> bool {
    name.ends_with(".lf")
        || name.ends_with(".ld")
        || name.ends_with(".ld.in")
        || name.ends_with(".a")
}

/// `path` for people: relative to the project when inside it.
pub fn display(path: &Path, project_dir: &Path) -> String {
    path.strip_prefix(project_dir)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

/// The class of one changed path, and why.
pub fn classify(path: &Path, event: PathEvent, ctx: &Context) -> (ChangeClass, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let shown = display(path, ctx.project_dir);
    let verb = match event {
        PathEvent::Created => "appeared",
        PathEvent::Modified => "changed",
        PathEvent::Removed => "vanished",
    };
    if ctx.build_dirs.iter().any(|b| path.starts_with(b)) {
        return (
            ChangeClass::Nothing,
            format!("{shown} is in the build directory"),
        );
    }
    if in_vcs_dir(path) {
        return (
            ChangeClass::Nothing,
            format!("{shown} is version control metadata"),
        );
    }
    if is_editor_temp(&name) {
        return (
            ChangeClass::Nothing,
            format!("{shown} is an editor temporary file"),
        );
    }
    if ctx.written_by_build.iter().any(|c| c == path) {
        return (
            ChangeClass::Nothing,
            format!("{shown} was written by the running build's configure"),
        );
    }
    if ctx.config_files.iter().any(|c| c == path) {
        if ctx.unchanged_content.iter().any(|c| c == path) {
            return (
                ChangeClass::Nothing,
                format!("{shown} was rewritten with the same content"),
            );
        }
        let what = if name == ".espctl.toml" || name == ".idf-version" {
            "the project's espctl settings (target, ESP-IDF version, build directory) may differ"
        } else {
            "the configuration changes: CMake runs again"
        };
        return (ChangeClass::Reconfigure, format!("{shown} {verb}: {what}"));
    }
    if event == PathEvent::Removed {
        if let Some(gone) = ctx.components.iter().find(|c| c.dir.starts_with(path)) {
            return (
                ChangeClass::Reconfigure,
                format!(
                    "{shown} vanished with component {}: CMake must configure without it",
                    gone.name
                ),
            );
        }
        if ctx.sources.iter().any(|s| s.starts_with(path) && s != path) {
            return (
                ChangeClass::Reconfigure,
                format!(
                    "{shown} vanished with sources of the build: CMake must configure without them"
                ),
            );
        }
    }
    let component = ctx
        .components
        .iter()
        .filter(|c| path.starts_with(&c.dir))
        .max_by_key(|c| c.dir.as_os_str().len());
    let in_project_root = path.parent() == Some(ctx.project_dir);
    if component.is_none() && !(in_project_root && is_cmake_input(&name)) {
        if (ctx.known_to_ninja)(path) {
            return (
                ChangeClass::Recompile,
                format!("{shown} {verb}: an input of the build"),
            );
        }
        return (
            ChangeClass::Nothing,
            format!("{shown} is outside every component of the build"),
        );
    }
    let owner = component
        .map(|c| format!("component {}", c.name))
        .unwrap_or_else(|| "the project".to_string());
    if is_cmake_input(&name) {
        return (
            ChangeClass::Reconfigure,
            format!("{shown} {verb}: CMake runs again ({owner})"),
        );
    }
    if event != PathEvent::Modified
        && let Some(pattern) = (ctx.glob_change)(path)
    {
        return (
            ChangeClass::Reconfigure,
            format!(
                "{shown} {verb} where `{pattern}` looks ({owner}): CMake collects those files only \
                 when it configures"
            ),
        );
    }
    if event == PathEvent::Removed && ctx.sources.contains(path) {
        return (
            ChangeClass::Reconfigure,
            format!("{shown}, a source of {owner}, vanished: CMake must configure without it"),
        );
    }
    if is_link_input(&name) {
        return (
            ChangeClass::RelinkOnly,
            format!("{shown} {verb}: the link reads it ({owner})"),
        );
    }
    if is_header(&name) {
        return (
            ChangeClass::Recompile,
            format!("{shown} {verb}: sources including it recompile ({owner})"),
        );
    }
    if is_source(&name) {
        if event == PathEvent::Created && !ctx.sources.contains(path) {
            return (
                ChangeClass::Nothing,
                format!("{shown} appeared but {owner} does not list it as a source"),
            );
        }
        return (
            ChangeClass::Recompile,
            format!("{shown} {verb}: a source of {owner}"),
        );
    }
    if (ctx.known_to_ninja)(path) {
        return (
            ChangeClass::Recompile,
            format!("{shown} {verb}: an input of the build ({owner})"),
        );
    }
    (
        ChangeClass::Nothing,
        format!("{shown} is not a source, header or build file of {owner}"),
    )
}

/// The batch's class (the most expensive of its paths) and reason (that path's, with how many
/// other paths came with it).
pub fn summarize(changes: &[PathChange]) -> (ChangeClass, String) {
    let Some(decisive) = changes.iter().min_by_key(|c| c.class) else {
        return (ChangeClass::Nothing, "no change".into());
    };
    let others = changes.len() - 1;
    let reason = match others {
        0 => decisive.reason.clone(),
        1 => format!("{} (and 1 more change)", decisive.reason),
        n => format!("{} (and {n} more changes)", decisive.reason),
    };
    (decisive.class, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    struct Fixture {
        project: PathBuf,
        builds: Vec<PathBuf>,
        components: Vec<ComponentDir>,
        config: Vec<PathBuf>,
        unchanged: Vec<PathBuf>,
        written: Vec<PathBuf>,
        sources: HashSet<PathBuf>,
    }

    fn fixture() -> Fixture {
        let project = PathBuf::from("/p");
        Fixture {
            builds: vec![project.join("build")],
            components: vec![
                ComponentDir {
                    name: "main".into(),
                    dir: project.join("main"),
                },
                ComponentDir {
                    name: "greeting".into(),
                    dir: PathBuf::from("/shared/greeting"),
                },
            ],
            config: vec![
                project.join("sdkconfig"),
                project.join("sdkconfig.defaults"),
                project.join(".espctl.toml"),
            ],
            unchanged: vec![],
            written: vec![],
            sources: [project.join("main/main.c"), project.join("main/old.c")]
                .into_iter()
                .collect(),
            project,
        }
    }

    fn run(f: &Fixture, path: &str, event: PathEvent) -> (ChangeClass, String) {
        let glob = |p: &Path| {
            (p.parent() == Some(Path::new("/p/main")) && p.extension().is_some_and(|e| e == "c"))
                .then(|| "/p/main/*.c".to_string())
        };
        let known = |p: &Path| p == Path::new("/p/partitions.csv");
        let ctx = Context {
            project_dir: &f.project,
            build_dirs: &f.builds,
            components: &f.components,
            config_files: &f.config,
            unchanged_content: &f.unchanged,
            written_by_build: &f.written,
            sources: &f.sources,
            glob_change: &glob,
            known_to_ninja: &known,
        };
        classify(Path::new(path), event, &ctx)
    }

    use ChangeClass::*;
    use PathEvent::*;

    #[test]
    fn cmake_inputs_reconfigure() {
        let f = fixture();
        for p in [
            "/p/CMakeLists.txt",
            "/p/main/CMakeLists.txt",
            "/p/main/project_include.cmake",
            "/p/main/Kconfig.projbuild",
            "/p/main/idf_component.yml",
            "/shared/greeting/Kconfig",
            "/p/sdkconfig.defaults",
            "/p/.espctl.toml",
        ] {
            let (class, reason) = run(&f, p, Modified);
            assert_eq!(class, Reconfigure, "{p}: {reason}");
        }
        let (_, reason) = run(&f, "/p/main/CMakeLists.txt", Modified);
        assert_eq!(
            reason,
            "main/CMakeLists.txt changed: CMake runs again (component main)"
        );
    }

    #[test]
    fn files_appearing_under_a_glob_reconfigure_but_not_elsewhere() {
        let f = fixture();
        let (class, reason) = run(&f, "/p/main/new.c", Created);
        assert_eq!(class, Reconfigure);
        assert!(reason.contains("`/p/main/*.c`"), "{reason}");
        let (class, _) = run(&f, "/p/main/old.c", Removed);
        assert_eq!(class, Reconfigure);
        // Not under a glob: a new source nobody lists is not built.
        let (class, reason) = run(&f, "/shared/greeting/extra.c", Created);
        assert_eq!(class, Nothing, "{reason}");
        // A directory holding sources, or a whole component, vanishing.
        assert_eq!(run(&f, "/p/main", Removed).0, Reconfigure);
        assert_eq!(run(&f, "/shared/greeting", Removed).0, Reconfigure);
        assert_eq!(run(&f, "/shared", Removed).0, Reconfigure);
        // Modifying an existing source never reconfigures.
        assert_eq!(run(&f, "/p/main/main.c", Modified).0, Recompile);
    }

    #[test]
    fn sources_headers_and_link_inputs() {
        let f = fixture();
        assert_eq!(
            run(&f, "/shared/greeting/include/g.h", Modified).0,
            Recompile
        );
        assert_eq!(run(&f, "/p/main/linker.lf", Modified).0, RelinkOnly);
        assert_eq!(run(&f, "/p/main/lib/libblob.a", Modified).0, RelinkOnly);
        assert_eq!(run(&f, "/p/partitions.csv", Modified).0, Recompile);
    }

    #[test]
    fn noise_changes_nothing() {
        let mut f = fixture();
        for p in [
            "/p/main/.main.c.swp",
            "/p/main/main.c~",
            "/p/main/4913",
            "/p/main/.#main.c",
            "/p/.git/index",
            "/p/README.md",
            "/p/build/esp-idf/main/x.obj",
            "/p/main/notes.txt",
        ] {
            let (class, reason) = run(&f, p, Modified);
            assert_eq!(class, Nothing, "{p}: {reason}");
        }
        f.written.push(PathBuf::from("/p/sdkconfig"));
        let (class, reason) = run(&f, "/p/sdkconfig", Modified);
        assert_eq!(class, Nothing);
        assert!(reason.contains("running build"), "{reason}");
        f.written.clear();
        assert_eq!(run(&f, "/p/sdkconfig", Modified).0, Reconfigure);
        f.unchanged.push(PathBuf::from("/p/sdkconfig"));
        let (class, reason) = run(&f, "/p/sdkconfig", Modified);
        assert_eq!(class, Nothing);
        assert!(reason.contains("same content"), "{reason}");
    }

    #[test]
    fn the_most_expensive_change_decides() {
        let change = |class, reason: &str| PathChange {
            path: "/x".into(),
            event: "modified".into(),
            class,
            reason: reason.into(),
        };
        let (class, reason) = summarize(&[
            change(Nothing, "temp"),
            change(Recompile, "a.c changed"),
            change(Reconfigure, "CMakeLists.txt changed"),
        ]);
        assert_eq!(class, Reconfigure);
        assert_eq!(reason, "CMakeLists.txt changed (and 2 more changes)");
        assert_eq!(summarize(&[]).0, Nothing);
    }
}
