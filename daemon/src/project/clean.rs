//! `get_clean_plan`: what `idf.py clean` or `idf.py fullclean` would delete, without deleting it;
//! and [`delete_plan`], which deletes exactly what a plan lists.
//!
//! `clean` is CMake's `clean` target in a Ninja build: it runs the `CMakeFiles/clean.additional`
//! step (`cmake -P CMakeFiles/clean_additional.cmake`, which `file(REMOVE_RECURSE)`s the
//! `ADDITIONAL_CLEAN_FILES`), then `ninja -t clean`. The plan is the union of both, computed from the
//! build files with [`crate::ninja::clean`] and a small reader for the CMake script. What is listed
//! is what would really disappear: files and symlinks that exist, directories that CMake removes
//! recursively, and directory outputs only when empty (Ninja removes outputs with `remove()`, which
//! fails on a non-empty directory).
//!
//! `fullclean` is idf.py's: every entry inside the build directory (the directory itself stays),
//! refused where idf.py refuses. The plan lists the top-level entries; directories end with `/` and
//! stand for everything below them, which the totals count.
//!
//! Paths in a plan are relative to the project directory when they are inside it (including through
//! the build directory's own name for itself), and absolute otherwise; a build directory outside the
//! project therefore gives absolute paths. Each file appears once, however many names Ninja knows it
//! by (CMake lists some outputs under an absolute and a relative name), and nothing inside a listed
//! directory is listed again.
//!
//! Planning never writes, creates or deletes anything.

use std::io;
use std::path::{Path, PathBuf};

use espctl_protocol::ErrorCode;
use espctl_protocol::plan::{CleanPlan, CleanScope};

use crate::ninja::canon::{Location, Normalizer, absolute, lexical_normalize};
use crate::ninja::hash::{FastMap, FastSet};
use crate::ninja::manifest::{DiskReader, Escape, Manifest, ParseOptions};

/// Entries whose presence makes idf.py refuse `fullclean` (it checks them in this order).
pub const FULLCLEAN_RED_FLAGS: [&str; 3] = ["CMakeLists.txt", ".git", ".svn"];

/// Where CMake's Ninja generator writes the additional-clean script, relative to the build dir.
pub const CLEAN_ADDITIONAL_SCRIPT: &str = "CMakeFiles/clean_additional.cmake";

/// Why a clean cannot be planned or carried out.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    #[error(
        "the build directory {dir} is the project directory; idf.py does not support that and a \
         clean there would delete project files. Use a separate build directory (the default is \
         `build` inside the project)"
    )]
    BuildDirIsProject { dir: PathBuf },

    #[error(
        "the build directory {build_dir} contains the project directory {project_dir}; cleaning it \
         would delete the project. Use a build directory inside the project or beside it"
    )]
    BuildDirContainsProject {
        build_dir: PathBuf,
        project_dir: PathBuf,
    },

    #[error(
        "directory '{dir}' doesn't seem to be a CMake build directory (it has no CMakeCache.txt); \
         refusing to automatically delete files in it, as idf.py fullclean does. Delete the \
         directory manually to clean it, or check the build directory setting"
    )]
    NotCMakeBuildDir { dir: PathBuf },

    #[error(
        "refusing to automatically delete files in directory containing '{entry}', as idf.py \
         fullclean does: it looks like sources, not build output. Delete files manually if you're \
         sure, or check the build directory setting"
    )]
    RedFlag { entry: PathBuf },

    #[error(
        "{dir} has no build.ninja: the project is not configured for Ninja yet, so there is no list \
         of built files to clean. Build once (which configures), or use fullclean to empty the \
         directory"
    )]
    NotConfigured { dir: PathBuf },

    #[error(
        "{dir} was configured with CMake's Unix Makefiles generator (it has a Makefile and no \
         build.ninja); espctl plans clean for Ninja builds only. Reconfigure with Ninja (the ESP-IDF \
         default) or use fullclean"
    )]
    NotNinja { dir: PathBuf },

    #[error(
        "cannot read the Ninja build files in {dir}: {message}; reconfigure the project (fullclean, then build)"
    )]
    Manifest { dir: PathBuf, message: String },

    #[error(
        "cannot read {path}: {message}; it is not a file CMake generated as espctl expects. \
         Reconfigure the project (fullclean, then build)"
    )]
    CleanScript { path: PathBuf, message: String },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "the clean plan lists paths outside the build directory {build_dir}: {}; refusing to delete \
         them. Such files come from ADDITIONAL_CLEAN_FILES or custom commands writing outside the \
         build directory: run `idf.py clean` yourself if you mean it",
        .paths.join(", ")
    )]
    OutsideBuildDir {
        build_dir: PathBuf,
        paths: Vec<String>,
    },

    #[error("could not delete {path}: {source}")]
    DeleteFailed {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl CleanError {
    /// The JSON-RPC error code the daemon answers with.
    pub fn code(&self) -> ErrorCode {
        use CleanError::*;
        match self {
            BuildDirIsProject { .. }
            | BuildDirContainsProject { .. }
            | NotCMakeBuildDir { .. }
            | RedFlag { .. }
            | NotConfigured { .. }
            | NotNinja { .. }
            | Manifest { .. }
            | CleanScript { .. } => ErrorCode::Config,
            OutsideBuildDir { .. } => ErrorCode::InvalidInput,
            Io { .. } | DeleteFailed { .. } => ErrorCode::Runtime,
        }
    }
}

impl From<CleanError> for crate::error::DaemonError {
    fn from(e: CleanError) -> Self {
        crate::error::DaemonError::new(e.code(), e.to_string())
    }
}

/// What [`delete_plan`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Plan entries deleted.
    pub deleted: Vec<String>,
    /// Plan entries that no longer existed.
    pub already_gone: Vec<String>,
    /// Plan entries left alone because they changed kind since planning (a file that became a
    /// directory), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Files (and symlinks) deleted, counting those inside deleted directories.
    pub files_deleted: u64,
    /// Their total size.
    pub bytes_freed: u64,
}

/// The two directories, resolved once.
struct Dirs {
    /// Absolute, lexically normal project dir as given.
    project: PathBuf,
    /// The project dir's real path, when it exists.
    project_real: Option<PathBuf>,
    /// Absolute, lexically normal build dir as given.
    build: PathBuf,
    build_real: Option<PathBuf>,
}

impl Dirs {
    fn new(project_dir: &Path, build_dir: &Path) -> Result<Dirs, CleanError> {
        let project = absolute(project_dir);
        let build = absolute(build_dir);
        let dirs = Dirs {
            project_real: std::fs::canonicalize(&project).ok(),
            build_real: std::fs::canonicalize(&build).ok(),
            project,
            build,
        };
        let same = dirs.build == dirs.project
            || matches!((&dirs.build_real, &dirs.project_real), (Some(b), Some(p)) if b == p);
        if same {
            return Err(CleanError::BuildDirIsProject { dir: dirs.build });
        }
        let contains = dirs.project.starts_with(&dirs.build)
            || matches!((&dirs.build_real, &dirs.project_real), (Some(b), Some(p)) if p.starts_with(b));
        if contains {
            return Err(CleanError::BuildDirContainsProject {
                build_dir: dirs.build,
                project_dir: dirs.project,
            });
        }
        Ok(dirs)
    }

    /// The plan's name for an absolute path: relative to the project when inside it.
    fn display(&self, abs: &Path) -> String {
        for base in std::iter::once(&self.project).chain(self.project_real.iter()) {
            if let Ok(rel) = abs.strip_prefix(base) {
                return rel.to_string_lossy().into_owned();
            }
        }
        abs.to_string_lossy().into_owned()
    }

    /// The plan's name for the build directory (empty if it is... never: see `Dirs::new`).
    fn build_display(&self) -> String {
        self.display(&self.build)
    }

    /// Resolve a plan entry back to an absolute path.
    fn resolve(&self, entry: &str) -> PathBuf {
        let trimmed = entry.strip_suffix('/').unwrap_or(entry);
        let p = Path::new(trimmed);
        if p.is_absolute() {
            lexical_normalize(p)
        } else {
            lexical_normalize(&self.project.join(p))
        }
    }
}

fn is_missing_or_not_dir(path: &Path) -> bool {
    !std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false)
}

fn dir_is_empty(path: &Path) -> Result<bool, CleanError> {
    let mut rd = std::fs::read_dir(path).map_err(|source| CleanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(rd.next().is_none())
}

/// What `idf.py clean` (`scope = Clean`) or `idf.py fullclean` (`scope = Fullclean`) would delete.
pub fn clean_plan(
    project_dir: &Path,
    build_dir: &Path,
    scope: CleanScope,
) -> Result<CleanPlan, CleanError> {
    let dirs = Dirs::new(project_dir, build_dir)?;
    let empty = CleanPlan {
        scope,
        would_delete: Vec::new(),
        total_files: 0,
        total_bytes: 0,
    };
    // idf.py: "Build directory '...' not found. Nothing to clean." / "... is empty."
    if is_missing_or_not_dir(&dirs.build) || dir_is_empty(&dirs.build)? {
        return Ok(empty);
    }
    match scope {
        CleanScope::Fullclean => {
            check_fullclean(&dirs.build)?;
            fullclean_plan(&dirs)
        }
        CleanScope::Clean => ninja_clean_plan(&dirs),
    }
}

/// idf.py's refusals for fullclean, on an existing, non-empty build directory.
fn check_fullclean(build: &Path) -> Result<(), CleanError> {
    if std::fs::symlink_metadata(build.join("CMakeCache.txt")).is_err() {
        return Err(CleanError::NotCMakeBuildDir {
            dir: build.to_path_buf(),
        });
    }
    for flag in FULLCLEAN_RED_FLAGS {
        let entry = build.join(flag);
        if std::fs::symlink_metadata(&entry).is_ok() {
            return Err(CleanError::RedFlag { entry });
        }
    }
    Ok(())
}

/// Totals of one entry: 1 and its size for a file or symlink, everything below for a directory.
fn measure(path: &Path, files: &mut u64, bytes: &mut u64) -> Result<(), CleanError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CleanError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_dir() {
        *files += 1;
        *bytes += meta.len();
        return Ok(());
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CleanError::Io { path: dir, source }),
        };
        for entry in rd {
            let entry = entry.map_err(|source| CleanError::Io {
                path: dir.clone(),
                source,
            })?;
            let ft = entry.file_type().map_err(|source| CleanError::Io {
                path: entry.path(),
                source,
            })?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else {
                *files += 1;
                if let Ok(m) = entry.metadata() {
                    *bytes += m.len();
                }
            }
        }
    }
    Ok(())
}

fn fullclean_plan(dirs: &Dirs) -> Result<CleanPlan, CleanError> {
    let rd = std::fs::read_dir(&dirs.build).map_err(|source| CleanError::Io {
        path: dirs.build.clone(),
        source,
    })?;
    let base = dirs.build_display();
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| CleanError::Io {
            path: dirs.build.clone(),
            source,
        })?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut shown = join_display(&base, &name);
        if is_dir {
            shown.push('/');
        }
        entries.push((shown, entry.path()));
    }
    entries.sort();
    let (mut files, mut bytes) = (0, 0);
    for (_, path) in &entries {
        measure(path, &mut files, &mut bytes)?;
    }
    Ok(CleanPlan {
        scope: CleanScope::Fullclean,
        would_delete: entries.into_iter().map(|(s, _)| s).collect(),
        total_files: files,
        total_bytes: bytes,
    })
}

fn join_display(base: &str, rel: &str) -> String {
    if base.is_empty() {
        rel.to_string()
    } else if base.ends_with('/') {
        format!("{base}{rel}")
    } else {
        format!("{base}/{rel}")
    }
}

/// How one location would be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A file or symlink.
    File,
    /// A directory and everything in it.
    Tree,
}

/// The `clean` target's two halves, as the manifest defines them.
struct CleanTarget {
    /// `ninja -f <file>` for the `-t clean` step, when not `build.ninja`.
    manifest_file: Option<String>,
    /// `-t clean <targets>`; empty means everything.
    targets: Vec<String>,
    /// The additional-clean script and the CONFIG it runs with.
    additional: Option<(String, String)>,
}

/// Read what CMake's `clean` edge does. Without one (a hand-written manifest), `ninja -t clean`.
fn clean_target(m: &Manifest) -> CleanTarget {
    let mut target = CleanTarget {
        manifest_file: None,
        targets: Vec::new(),
        additional: None,
    };
    let Some(edge) = m.find("clean").and_then(|n| m.node(n).in_edge()) else {
        return target;
    };
    if m.edge(edge).is_phony() {
        return target;
    }
    let command = m
        .edge_var(edge, "command", Escape::None)
        .unwrap_or_default();
    let words = shell_words(&command);
    if let Some(t) = words.iter().position(|w| w == "-t")
        && words.get(t + 1).map(String::as_str) == Some("clean")
    {
        let mut i = 0;
        while i < t {
            if words[i] == "-f" && i + 1 < t {
                target.manifest_file = Some(words[i + 1].clone());
                i += 1;
            }
            i += 1;
        }
        target.targets = words[t + 2..]
            .iter()
            .filter(|w| !w.starts_with('-'))
            .cloned()
            .collect();
    }
    for &input in m.edge(edge).explicit_inputs() {
        let Some(e) = m.node(input).in_edge() else {
            continue;
        };
        let cmd = m.edge_var(e, "command", Escape::None).unwrap_or_default();
        let words = shell_words(&cmd);
        if let Some(p) = words.iter().position(|w| w == "-P")
            && let Some(script) = words.get(p + 1)
        {
            let config = words
                .iter()
                .find_map(|w| w.strip_prefix("-DCONFIG="))
                .unwrap_or("")
                .to_string();
            target.additional = Some((script.clone(), config));
        }
    }
    target
}

/// Split a POSIX shell command line into words (quotes and backslashes; enough for the commands
/// CMake writes).
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(&n) = chars.peek()
                                && matches!(n, '"' | '\\' | '$' | '`')
                            {
                                cur.push(n);
                                chars.next();
                                continue;
                            }
                            cur.push('\\');
                        }
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() || c == ';' || c == '&' || c == '|' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

fn ninja_clean_plan(dirs: &Dirs) -> Result<CleanPlan, CleanError> {
    let build = &dirs.build;
    if std::fs::symlink_metadata(build.join("build.ninja")).is_err() {
        if std::fs::symlink_metadata(build.join("Makefile")).is_ok() {
            return Err(CleanError::NotNinja { dir: build.clone() });
        }
        return Err(CleanError::NotConfigured { dir: build.clone() });
    }
    let manifest_error = |e: &dyn std::fmt::Display| CleanError::Manifest {
        dir: build.clone(),
        message: e.to_string(),
    };
    let mut m = Manifest::load(build).map_err(|e| manifest_error(&e))?;
    let target = clean_target(&m);

    let mut normalizer = Normalizer::new(build);
    if let Some(workdir) = m.var("cmake_ninja_workdir") {
        normalizer.add_alias(Path::new(workdir));
    }

    // What `ninja -t clean` removes.
    if let Some(file) = &target.manifest_file {
        m = Manifest::load_file(build, file, ParseOptions::default())
            .map_err(|e| manifest_error(&e))?;
    }
    let mut reader = DiskReader { dir: build.clone() };
    let candidates = if target.targets.is_empty() {
        crate::ninja::clean::clean_all(&mut m, false, &mut reader)
    } else {
        let mut nodes = Vec::new();
        for t in &target.targets {
            match m.find(t) {
                Some(n) => nodes.push(n),
                None => {
                    return Err(manifest_error(&format!(
                        "the clean target names unknown target '{t}'"
                    )));
                }
            }
        }
        crate::ninja::clean::clean_targets(&mut m, &nodes, &mut reader)
    }
    .map_err(|e| manifest_error(&e))?;

    // Each location once, with what would happen to it (None: nothing, it is missing or a
    // non-empty directory remove() refuses), and the size of a file.
    let mut found: FastMap<Location, Option<(Kind, u64)>> = FastMap::default();
    let mut order: Vec<Location> = Vec::new();
    let mut abs = String::new();
    for path in &candidates {
        let loc = normalizer.locate(path);
        if found.contains_key(&loc) {
            continue;
        }
        normalizer.absolute_into(&loc, &mut abs);
        let outcome = match std::fs::symlink_metadata(&abs) {
            Err(_) => None,
            // remove() only takes empty directories.
            Ok(meta) if meta.is_dir() => dir_is_empty(Path::new(&abs))?.then_some((Kind::Tree, 0)),
            Ok(meta) => Some((Kind::File, meta.len())),
        };
        if outcome.is_some() {
            order.push(loc.clone());
        }
        found.insert(loc, outcome);
    }

    // What CMake's additional-clean step removes (recursively).
    if let Some((script, config)) = &target.additional {
        let script_path = build.join(script);
        match std::fs::read(&script_path) {
            Ok(text) => {
                let files = clean_script::remove_list(&String::from_utf8_lossy(&text), config)
                    .map_err(|message| CleanError::CleanScript {
                        path: script_path.clone(),
                        message,
                    })?;
                for (f, recursive) in files {
                    let loc = normalizer.locate(&f);
                    if let Some(Some(_)) = found.get(&loc) {
                        continue;
                    }
                    normalizer.absolute_into(&loc, &mut abs);
                    let outcome = match std::fs::symlink_metadata(&abs) {
                        Err(_) => None,
                        Ok(meta) if meta.is_dir() => recursive.then_some((Kind::Tree, 0)),
                        Ok(meta) => Some((Kind::File, meta.len())),
                    };
                    if outcome.is_some() {
                        order.push(loc.clone());
                    }
                    found.insert(loc, outcome);
                }
            }
            // A configured project without additional clean files has no script (CMake deletes
            // it); the clean step would then fail, and nothing more would be removed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(CleanError::Io {
                    path: script_path,
                    source,
                });
            }
        }
    }

    // Plan names: relative to the project when inside it.
    let build_shown = dirs.build_display();
    let shown = |loc: &Location| -> String {
        match loc {
            Location::Build(rel) => join_display(&build_shown, rel),
            Location::Outside(p) => dirs.display(Path::new(p)),
        }
    };
    let mut entries: Vec<(String, Kind, u64, &Location)> = order
        .iter()
        .filter_map(|loc| {
            found
                .get(loc)
                .copied()
                .flatten()
                .map(|(kind, size)| (shown(loc), kind, size, loc))
        })
        .collect();

    // Nothing inside a directory that goes as a whole is listed again.
    let trees: FastSet<String> = entries
        .iter()
        .filter(|e| e.1 == Kind::Tree)
        .map(|e| e.0.clone())
        .collect();
    if !trees.is_empty() {
        entries.retain(|(name, _, _, _)| {
            let mut prefix = name.as_str();
            while let Some(slash) = prefix.rfind('/') {
                prefix = &prefix[..slash];
                if trees.contains(prefix) {
                    return false;
                }
            }
            true
        });
    }

    let (mut files, mut bytes) = (0, 0);
    let mut would_delete = Vec::with_capacity(entries.len());
    for (mut name, kind, size, loc) in entries {
        match kind {
            Kind::File => {
                files += 1;
                bytes += size;
            }
            Kind::Tree => {
                measure(&normalizer.absolute(loc), &mut files, &mut bytes)?;
                name.push('/');
            }
        }
        would_delete.push(name);
    }
    would_delete.sort_unstable();
    would_delete.dedup();
    Ok(CleanPlan {
        scope: CleanScope::Clean,
        would_delete,
        total_files: files,
        total_bytes: bytes,
    })
}

/// Delete what `plan` lists, and nothing else. Every entry must be inside the build directory;
/// for a fullclean plan idf.py's refusals are checked again first. Entries that vanished since
/// planning are reported, not errors.
pub fn delete_plan(
    project_dir: &Path,
    build_dir: &Path,
    plan: &CleanPlan,
) -> Result<DeleteReport, CleanError> {
    let dirs = Dirs::new(project_dir, build_dir)?;
    let mut report = DeleteReport::default();
    if plan.would_delete.is_empty() {
        return Ok(report);
    }
    if plan.scope == CleanScope::Fullclean && !is_missing_or_not_dir(&dirs.build) {
        check_fullclean(&dirs.build)?;
    }

    // Check everything before deleting anything.
    let build_real = dirs.build_real.clone();
    let mut outside = Vec::new();
    let mut resolved = Vec::with_capacity(plan.would_delete.len());
    for entry in &plan.would_delete {
        let abs = dirs.resolve(entry);
        let mut inside = abs != dirs.build && abs.starts_with(&dirs.build);
        // The parent must really be inside the build directory too (no symlinked way out).
        if inside
            && let (Some(parent), Some(build_real)) = (abs.parent(), &build_real)
            && let Ok(parent_real) = std::fs::canonicalize(parent)
            && !parent_real.starts_with(build_real)
        {
            inside = false;
        }
        if !inside {
            outside.push(entry.clone());
        }
        resolved.push((entry, abs, entry.ends_with('/')));
    }
    if !outside.is_empty() {
        return Err(CleanError::OutsideBuildDir {
            build_dir: dirs.build,
            paths: outside,
        });
    }

    for (entry, abs, listed_as_dir) in resolved {
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.already_gone.push(entry.clone());
                continue;
            }
            Err(source) => return Err(CleanError::Io { path: abs, source }),
        };
        if meta.is_dir() && !listed_as_dir {
            report.skipped.push((
                entry.clone(),
                "planned as a file, now a directory".to_string(),
            ));
            continue;
        }
        let (mut files, mut bytes) = (0, 0);
        measure(&abs, &mut files, &mut bytes)?;
        let result = if meta.is_dir() {
            std::fs::remove_dir_all(&abs)
        } else {
            std::fs::remove_file(&abs)
        };
        match result {
            Ok(()) => {
                report.deleted.push(entry.clone());
                report.files_deleted += files;
                report.bytes_freed += bytes;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.already_gone.push(entry.clone());
            }
            Err(source) => return Err(CleanError::DeleteFailed { path: abs, source }),
        }
    }
    Ok(report)
}

/// A reader for the `clean_additional.cmake` scripts CMake's Ninja generator writes:
///
/// ```cmake
/// # Additional clean files
/// cmake_minimum_required(VERSION 3.16)
///
/// if("${CONFIG}" STREQUAL "" OR "${CONFIG}" STREQUAL "Debug")
///   file(REMOVE_RECURSE
///   "some/file"
///   )
/// endif()
/// ```
///
/// (CMake before 3.17 wrote a bare `file(REMOVE_RECURSE ...)`.) This understands exactly that: the
/// commands `cmake_minimum_required`, `if`/`elseif`/`else`/`endif` with `STREQUAL`, `AND`, `OR`,
/// `NOT` conditions over `${CONFIG}`, and `file(REMOVE|REMOVE_RECURSE ...)`; anything else is an
/// error rather than a guess.
pub mod clean_script {
    /// One command invocation: its name and arguments (quoted or not, variables not yet expanded).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Command {
        pub name: String,
        pub args: Vec<Arg>,
        pub line: usize,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Arg {
        Quoted(String),
        Unquoted(String),
    }

    /// Split a script into commands.
    pub fn parse(text: &str) -> Result<Vec<Command>, String> {
        let b = text.as_bytes();
        let mut i = 0;
        let mut line = 1;
        let mut out = Vec::new();
        loop {
            // Skip whitespace and comments between commands.
            while i < b.len() {
                match b[i] {
                    b'\n' => {
                        line += 1;
                        i += 1;
                    }
                    c if c.is_ascii_whitespace() => i += 1,
                    b'#' => {
                        while i < b.len() && b[i] != b'\n' {
                            i += 1;
                        }
                    }
                    _ => break,
                }
            }
            if i >= b.len() {
                return Ok(out);
            }
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if start == i {
                return Err(format!("line {line}: expected a command name"));
            }
            let name = text[start..i].to_ascii_lowercase();
            let cmd_line = line;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i >= b.len() || b[i] != b'(' {
                return Err(format!("line {line}: expected '(' after {name}"));
            }
            i += 1;
            let mut args = Vec::new();
            let mut depth = 0;
            loop {
                if i >= b.len() {
                    return Err(format!("line {cmd_line}: unterminated {name}("));
                }
                match b[i] {
                    b'\n' => {
                        line += 1;
                        i += 1;
                    }
                    c if c.is_ascii_whitespace() => i += 1,
                    b'#' => {
                        while i < b.len() && b[i] != b'\n' {
                            i += 1;
                        }
                    }
                    b'(' => {
                        depth += 1;
                        args.push(Arg::Unquoted("(".into()));
                        i += 1;
                    }
                    b')' => {
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                        depth -= 1;
                        args.push(Arg::Unquoted(")".into()));
                    }
                    b'"' => {
                        i += 1;
                        let mut s = String::new();
                        loop {
                            if i >= b.len() {
                                return Err(format!("line {line}: unterminated string"));
                            }
                            match b[i] {
                                b'"' => {
                                    i += 1;
                                    break;
                                }
                                b'\\' if i + 1 < b.len() => {
                                    let c = b[i + 1];
                                    match c {
                                        b'n' => s.push('\n'),
                                        b't' => s.push('\t'),
                                        b'r' => s.push('\r'),
                                        b';' => s.push_str("\\;"),
                                        b'\n' => line += 1,
                                        _ => {
                                            // `\$` stays distinguishable from a reference.
                                            if c == b'$' {
                                                s.push('\u{0}');
                                            } else {
                                                s.push(c as char);
                                            }
                                        }
                                    }
                                    i += 2;
                                }
                                b'\n' => {
                                    line += 1;
                                    s.push('\n');
                                    i += 1;
                                }
                                _ => {
                                    let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                                    s.push(ch);
                                    i += ch.len_utf8();
                                }
                            }
                        }
                        args.push(Arg::Quoted(s));
                    }
                    _ => {
                        let mut s = String::new();
                        while i < b.len()
                            && !b[i].is_ascii_whitespace()
                            && !matches!(b[i], b'(' | b')' | b'"' | b'#')
                        {
                            if b[i] == b'\\' && i + 1 < b.len() {
                                let c = b[i + 1];
                                s.push(if c == b'$' { '\u{0}' } else { c as char });
                                i += 2;
                                continue;
                            }
                            let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                        args.push(Arg::Unquoted(s));
                    }
                }
            }
            out.push(Command {
                name,
                args,
                line: cmd_line,
            });
        }
    }

    /// Expand `${CONFIG}` (the only variable the script uses); `\$` stays a literal `$`.
    fn expand(s: &str, config: &str, line: usize) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(p) = rest.find("${") {
            out.push_str(&rest[..p]);
            let after = &rest[p + 2..];
            let Some(end) = after.find('}') else {
                return Err(format!("line {line}: unterminated variable reference"));
            };
            let name = &after[..end];
            if name != "CONFIG" {
                return Err(format!("line {line}: unexpected variable ${{{name}}}"));
            }
            out.push_str(config);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out.replace('\u{0}', "$"))
    }

    fn arg_values(args: &[Arg], config: &str, line: usize) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for a in args {
            match a {
                Arg::Quoted(s) => out.push(expand(s, config, line)?),
                Arg::Unquoted(s) => {
                    // Unquoted arguments are lists: `a;b` is two, an empty one vanishes.
                    for part in expand(s, config, line)?.split(';') {
                        if !part.is_empty() {
                            out.push(part.to_string());
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Evaluate an `if()` condition of `STREQUAL` comparisons joined by `AND`/`OR`, with `NOT`,
    /// left to right with `AND` binding tighter, as CMake does.
    fn condition(args: &[Arg], config: &str, line: usize) -> Result<bool, String> {
        let words: Vec<(String, bool)> = args
            .iter()
            .map(|a| match a {
                Arg::Quoted(s) => expand(s, config, line).map(|v| (v, true)),
                Arg::Unquoted(s) => expand(s, config, line).map(|v| (v, false)),
            })
            .collect::<Result<_, _>>()?;
        let unsupported = || format!("line {line}: unsupported if() condition");
        let mut i = 0;
        let mut or_terms = Vec::new();
        let mut and_acc = true;
        loop {
            let mut negate = false;
            while i < words.len() && !words[i].1 && words[i].0 == "NOT" {
                negate = !negate;
                i += 1;
            }
            if i + 2 >= words.len() {
                return Err(unsupported());
            }
            let (lhs, op, rhs) = (&words[i], &words[i + 1], &words[i + 2]);
            if op.1 || op.0 != "STREQUAL" {
                return Err(unsupported());
            }
            let value = (lhs.0 == rhs.0) != negate;
            and_acc = and_acc && value;
            i += 3;
            if i == words.len() {
                or_terms.push(and_acc);
                break;
            }
            match (words[i].0.as_str(), words[i].1) {
                ("AND", false) => {}
                ("OR", false) => {
                    or_terms.push(and_acc);
                    and_acc = true;
                }
                _ => return Err(unsupported()),
            }
            i += 1;
        }
        Ok(or_terms.into_iter().any(|t| t))
    }

    /// The paths the script removes when run with `-DCONFIG=<config>`, in order, each with whether
    /// directories go too (`REMOVE_RECURSE`) or only files (`REMOVE`).
    pub fn remove_list(text: &str, config: &str) -> Result<Vec<(String, bool)>, String> {
        let commands = parse(text)?;
        // Per open `if`: (this branch is active, some branch was taken, the enclosing is active).
        let mut stack: Vec<(bool, bool, bool)> = Vec::new();
        let active = |stack: &Vec<(bool, bool, bool)>| stack.last().is_none_or(|s| s.0);
        let mut files = Vec::new();
        for cmd in &commands {
            let line = cmd.line;
            match cmd.name.as_str() {
                "cmake_minimum_required" | "cmake_policy" => {}
                "if" => {
                    let outer = active(&stack);
                    let taken = outer && condition(&cmd.args, config, line)?;
                    stack.push((taken, taken, outer));
                }
                "elseif" => {
                    let Some(&(_, done, outer)) = stack.last() else {
                        return Err(format!("line {line}: elseif() without if()"));
                    };
                    let taken = outer && !done && condition(&cmd.args, config, line)?;
                    *stack.last_mut().unwrap() = (taken, done || taken, outer);
                }
                "else" => {
                    let Some(&(_, done, outer)) = stack.last() else {
                        return Err(format!("line {line}: else() without if()"));
                    };
                    *stack.last_mut().unwrap() = (outer && !done, true, outer);
                }
                "endif" => {
                    if stack.pop().is_none() {
                        return Err(format!("line {line}: endif() without if()"));
                    }
                }
                "file" => {
                    if !active(&stack) {
                        continue;
                    }
                    let values = arg_values(&cmd.args, config, line)?;
                    let recursive = match values.first().map(String::as_str) {
                        Some("REMOVE_RECURSE") => true,
                        Some("REMOVE") => false,
                        _ => return Err(format!("line {line}: unexpected file() operation")),
                    };
                    files.extend(
                        values[1..]
                            .iter()
                            .filter(|v| !v.is_empty())
                            .map(|v| (v.clone(), recursive)),
                    );
                }
                other => return Err(format!("line {line}: unexpected command {other}()")),
            }
        }
        if !stack.is_empty() {
            return Err("if() without endif()".to_string());
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::clean_script::remove_list;
    use super::*;

    #[test]
    fn clean_script_as_cmake_3_17_and_later_write_it() {
        let text = r#"# Additional clean files
cmake_minimum_required(VERSION 3.16)

if("${CONFIG}" STREQUAL "" OR "${CONFIG}" STREQUAL "")
  file(REMOVE_RECURSE
  "dirclean.txt"
  "extra.txt"
  "/abs/extradir"
  )
endif()
"#;
        assert_eq!(
            remove_list(text, "").unwrap(),
            [
                ("dirclean.txt".to_string(), true),
                ("extra.txt".to_string(), true),
                ("/abs/extradir".to_string(), true)
            ]
        );
    }

    #[test]
    fn clean_script_per_configuration() {
        let text = r#"# Additional clean files
cmake_minimum_required(VERSION 3.16)

if("${CONFIG}" STREQUAL "" OR "${CONFIG}" STREQUAL "Debug")
  file(REMOVE_RECURSE
  "debug.txt"
  )
endif()

if("${CONFIG}" STREQUAL "" OR "${CONFIG}" STREQUAL "Release")
  file(REMOVE_RECURSE
  "release.txt"
  )
endif()
"#;
        let names = |config: &str| -> Vec<String> {
            remove_list(text, config)
                .unwrap()
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        };
        assert_eq!(names("Debug"), ["debug.txt"]);
        assert_eq!(names("Release"), ["release.txt"]);
        assert_eq!(names(""), ["debug.txt", "release.txt"]);
        assert!(names("MinSizeRel").is_empty());
    }

    #[test]
    fn clean_script_older_format_escapes_and_else() {
        // CMake before 3.17: no condition. Quoted escapes as EscapeForCMake writes them.
        let text = "# Additional clean files\n\nfile(REMOVE_RECURSE\n  \"a \\\"q\\\" \\\\ \\$x\"\n  \
                    unquoted;list\n  \"\"\n)\nif(NOT \"${CONFIG}\" STREQUAL \"x\" AND \"a\" STREQUAL \"a\")\n  \
                    file(REMOVE only-files)\nelse()\n  file(REMOVE_RECURSE never)\nendif()\n";
        assert_eq!(
            remove_list(text, "").unwrap(),
            [
                ("a \"q\" \\ $x".to_string(), true),
                ("unquoted".to_string(), true),
                ("list".to_string(), true),
                ("only-files".to_string(), false),
            ]
        );
        let text = "if(\"${CONFIG}\" STREQUAL \"x\")\nfile(REMOVE_RECURSE a)\nelseif(\"${CONFIG}\" \
                    STREQUAL \"y\")\nfile(REMOVE_RECURSE b)\nelse()\nfile(REMOVE_RECURSE c)\nendif()\n";
        assert_eq!(remove_list(text, "y").unwrap(), [("b".to_string(), true)]);
        assert_eq!(remove_list(text, "z").unwrap(), [("c".to_string(), true)]);
    }

    #[test]
    fn clean_script_refuses_what_it_does_not_understand() {
        for (text, message) in [
            ("message(hi)\n", "unexpected command message()"),
            ("file(WRITE x y)\n", "unexpected file() operation"),
            ("if(EXISTS x)\nendif()\n", "unsupported if() condition"),
            (
                "file(REMOVE_RECURSE ${OTHER})\n",
                "unexpected variable ${OTHER}",
            ),
            ("if(\"a\" STREQUAL \"a\")\n", "if() without endif()"),
            ("endif()\n", "endif() without if()"),
            ("file(REMOVE_RECURSE \"x\"\n", "unterminated file("),
        ] {
            let err = remove_list(text, "").unwrap_err();
            assert!(err.contains(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn shell_words_split_like_sh() {
        assert_eq!(
            shell_words("/usr/bin/ninja -f 'a b.ninja' -t clean x\\ y \"q\\\"z\" && echo"),
            [
                "/usr/bin/ninja",
                "-f",
                "a b.ninja",
                "-t",
                "clean",
                "x y",
                "q\"z",
                "echo"
            ]
        );
    }

    /// A hand-written build directory exercising Ninja's clean rules without CMake.
    fn synthetic_build() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let project = root.join("proj");
        let build = project.join("build");
        std::fs::create_dir_all(build.join("CMakeFiles/obj.dir")).unwrap();
        let b = build.display();
        let manifest = format!(
            "cmake_ninja_workdir = {b}/
rule cc
  command = cc -c $in -o $out
  depfile = $out.d
  deps = gcc
rule link
  command = ld @$out.rsp -o $out
  rspfile = $out.rsp
  rspfile_content = $in
rule gen
  command = cmake
  generator = 1
rule custom
  command = $COMMAND
rule CLEAN_ADDITIONAL
  command = /usr/bin/cmake -DCONFIG=$CONFIG -P CMakeFiles/clean_additional.cmake
rule CLEAN
  command = /usr/bin/ninja $FILE_ARG -t clean $TARGETS
build CMakeFiles/obj.dir/a.o: cc ../a.c
build CMakeFiles/obj.dir/b.o: cc ../b.c
build app: link CMakeFiles/obj.dir/a.o CMakeFiles/obj.dir/b.o
build build.ninja: gen ../CMakeLists.txt
build gen.h | ${{cmake_ninja_workdir}}gen.h: custom
  COMMAND = touch gen.h
build outdir emptydir link missing: custom
  COMMAND = mkdir
build alias: phony app
build ../in-source.c: custom
  COMMAND = gen
build swept/x.o: custom
  COMMAND = x
build CMakeFiles/clean.additional: CLEAN_ADDITIONAL
build clean: CLEAN CMakeFiles/clean.additional
"
        );
        let w = |rel: &str, text: &str| {
            let p = build.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("build.ninja", &manifest);
        w(
            "CMakeFiles/clean_additional.cmake",
            "if(\"${CONFIG}\" STREQUAL \"\" OR \"${CONFIG}\" STREQUAL \"\")\n  file(REMOVE_RECURSE\n  \"swept\"\n  \"extra.txt\"\n  \"nothing-here\"\n  )\nendif()\n",
        );
        w("CMakeFiles/obj.dir/a.o", "aaaa");
        w("CMakeFiles/obj.dir/a.o.d", "a.o: a.c");
        w("app", "app");
        w("app.rsp", "a.o b.o");
        w("gen.h", "#define X");
        w("outdir/inside", "keep me");
        std::fs::create_dir_all(build.join("emptydir")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/target", build.join("link")).unwrap();
        w("alias", "a file named like a phony target");
        w("swept/x.o", "x");
        w("swept/deeper/y", "yy");
        w("extra.txt", "e");
        std::fs::write(project.join("in-source.c"), "int x;").unwrap();
        (tmp, project, build)
    }

    fn snapshot(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let m = std::fs::symlink_metadata(e.path()).unwrap();
                if m.is_dir() {
                    stack.push(e.path());
                }
                out.push((e.path(), m.len(), m.modified().unwrap()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn clean_plan_follows_ninja_and_cmake_rules() {
        let (tmp, project, build) = synthetic_build();
        let before = snapshot(tmp.path());
        let plan = clean_plan(&project, &build, CleanScope::Clean).unwrap();
        assert_eq!(snapshot(tmp.path()), before, "planning wrote something");
        assert_eq!(
            plan.would_delete,
            [
                "build/CMakeFiles/obj.dir/a.o",
                "build/CMakeFiles/obj.dir/a.o.d",
                "build/app",
                "build/app.rsp",
                // Empty directory output: remove() takes it. `outdir` is not empty: it stays.
                "build/emptydir/",
                "build/extra.txt",
                // Listed once although the manifest names it relative and absolute.
                "build/gen.h",
                // A dangling symlink is removed (remove() does not follow it).
                "build/link",
                // REMOVE_RECURSE takes the directory; the output inside is not listed again.
                "build/swept/",
                // An output outside the build directory is cleaned too.
                "in-source.c",
            ]
        );
        // Files: a.o a.o.d app app.rsp extra.txt gen.h link swept/x.o swept/deeper/y in-source.c.
        assert_eq!(plan.total_files, 10);
        let link_len = std::fs::symlink_metadata(build.join("link")).unwrap().len();
        assert_eq!(
            plan.total_bytes,
            4 + 8 + 3 + 7 + 1 + 9 + link_len + 1 + 2 + 6
        );

        // delete_plan refuses the source file outside the build directory, before deleting anything.
        let err = delete_plan(&project, &build, &plan).unwrap_err();
        assert!(
            matches!(&err, CleanError::OutsideBuildDir { paths, .. } if paths == &["in-source.c"]),
            "{err}"
        );
        assert_eq!(snapshot(tmp.path()), before);

        // Without it, everything listed goes, and only that.
        let mut inside = plan.clone();
        inside.would_delete.retain(|e| e != "in-source.c");
        let report = delete_plan(&project, &build, &inside).unwrap();
        assert_eq!(report.deleted, inside.would_delete);
        assert_eq!(report.files_deleted, 9);
        assert!(build.join("outdir/inside").exists() && build.join("alias").exists());
        assert!(build.join("build.ninja").exists());
        assert!(!build.join("swept").exists() && !build.join("emptydir").exists());
        assert!(std::fs::symlink_metadata(build.join("link")).is_err());
    }

    #[test]
    fn build_dir_outside_the_project_is_listed_absolute() {
        let (_tmp, project, build) = synthetic_build();
        let outside = project.parent().unwrap().join("out");
        std::fs::rename(&build, &outside).unwrap();
        // The manifest still names the old absolute paths; refer to the new place only.
        let text = std::fs::read_to_string(outside.join("build.ninja"))
            .unwrap()
            .replace(&build.display().to_string(), &outside.display().to_string());
        std::fs::write(outside.join("build.ninja"), text).unwrap();
        let plan = clean_plan(&project, &outside, CleanScope::Clean).unwrap();
        let o = outside.display().to_string();
        assert!(plan.would_delete.contains(&format!("{o}/app")), "{plan:?}");
        assert!(plan.would_delete.contains(&format!("{o}/swept/")));
        // `../in-source.c` is now beside the project, not in it: it does not exist there...
        assert!(!plan.would_delete.iter().any(|e| e.ends_with("in-source.c")));
        // ...and once it does, it is listed by its absolute path.
        let beside = project.parent().unwrap().join("in-source.c");
        std::fs::write(&beside, "int y;").unwrap();
        let plan = clean_plan(&project, &outside, CleanScope::Clean).unwrap();
        assert!(plan.would_delete.contains(&beside.display().to_string()));
        assert!(plan.would_delete.iter().all(|e| Path::new(e).is_absolute()));
    }

    #[test]
    fn clean_without_a_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("p");
        let build = project.join("build");
        std::fs::create_dir_all(&build).unwrap();
        std::fs::write(build.join("Makefile"), "all:\n").unwrap();
        let err = clean_plan(&project, &build, CleanScope::Clean).unwrap_err();
        assert!(matches!(err, CleanError::NotNinja { .. }));
        assert_eq!(err.code(), ErrorCode::Config);
        std::fs::write(build.join("build.ninja"), "build x: nope\n").unwrap();
        let err = clean_plan(&project, &build, CleanScope::Clean).unwrap_err();
        assert!(
            err.to_string().contains("unknown build rule 'nope'"),
            "{err}"
        );
        assert_eq!(err.code(), ErrorCode::Config);
    }

    #[test]
    fn fullclean_lists_top_level_entries() {
        let (_tmp, project, build) = synthetic_build();
        std::fs::write(build.join("CMakeCache.txt"), "# cache").unwrap();
        let plan = clean_plan(&project, &build, CleanScope::Fullclean).unwrap();
        assert!(plan.would_delete.contains(&"build/CMakeFiles/".to_string()));
        assert!(
            plan.would_delete
                .contains(&"build/CMakeCache.txt".to_string())
        );
        assert!(plan.would_delete.contains(&"build/link".to_string()));
        assert!(
            plan.would_delete
                .iter()
                .all(|e| !e["build/".len()..].trim_end_matches('/').contains('/'))
        );
        let report = delete_plan(&project, &build, &plan).unwrap();
        assert_eq!(report.files_deleted, plan.total_files);
        assert_eq!(report.bytes_freed, plan.total_bytes);
        assert_eq!(std::fs::read_dir(&build).unwrap().count(), 0);
        assert!(project.join("in-source.c").exists());
    }
}
