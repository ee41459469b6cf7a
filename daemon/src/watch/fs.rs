//! The file system side of a watch: which directories to watch, and the notify watcher behind a
//! debouncer (notify-debouncer-full), native or polling.
//!
//! A project's trees (the project, component directories elsewhere) are watched without the
//! build directories, version control directories and any other CMake build directory inside
//! them: [`layout`] walks each tree once and splits it into recursive roots (subtrees with nothing
//! excluded) and flat roots (directories watched alone, because an excluded directory sits below
//! them). The build directory itself gets a flat watch, for the files that mark a configure or a
//! build finishing. A native watch costs one inotify watch per directory; the walk counts them
//! first so the daemon's budget ([`super::WatchSettings::max_watches`]) decides native or polling
//! before the kernel refuses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, NoCache, RecommendedCache, new_debouncer_opt,
};

use tokio::sync::mpsc::UnboundedSender as Sender;

use super::classify::in_vcs_dir;

/// Directories and files of the roots, split by how they are watched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roots {
    /// Watched with their whole subtree.
    pub recursive: Vec<PathBuf>,
    /// Watched alone (their files and direct subdirectories' appearance).
    pub flat: Vec<PathBuf>,
    /// Directories covered: one native watch each.
    pub dirs: u64,
    /// Files covered: what polling scans.
    pub files: u64,
}

impl Roots {
    pub fn extend(&mut self, other: Roots) {
        self.recursive.extend(other.recursive);
        self.flat.extend(other.flat);
        self.dirs += other.dirs;
        self.files += other.files;
    }

    /// Whether `path` is covered by a root.
    pub fn covers(&self, path: &Path) -> bool {
        self.recursive.iter().any(|r| path.starts_with(r))
            || self
                .flat
                .iter()
                .any(|f| path == f || path.parent() == Some(f))
    }

    /// Native watches these roots take.
    pub fn native_cost(&self) -> u64 {
        self.dirs
    }
}

/// Which directories a watch leaves out.
pub struct Exclusions<'a> {
    pub build_dirs: &'a [PathBuf],
}

impl Exclusions<'_> {
    pub fn excludes(&self, dir: &Path) -> bool {
        self.build_dirs.iter().any(|b| b == dir)
            || in_vcs_dir(dir)
            // Another profile's or tool's CMake build directory.
            || dir.join("CMakeCache.txt").is_file()
    }
}

/// Deepest directory level walked (a symlink loop cannot happen: links are not followed).
const MAX_DEPTH: usize = 64;

/// Splits the tree at `root` into recursive and flat roots around the excluded directories.
pub fn layout(root: &Path, exclusions: &Exclusions) -> Roots {
    layout_with(root, exclusions, false)
}

/// [`layout`], with `root` itself always flat: for a project, whose build directory may appear
/// later and must not be followed into.
pub fn layout_project(root: &Path, exclusions: &Exclusions) -> Roots {
    layout_with(root, exclusions, true)
}

fn layout_with(root: &Path, exclusions: &Exclusions, split_top: bool) -> Roots {
    let mut roots = Roots::default();
    if exclusions.excludes(root) || !root.is_dir() {
        return roots;
    }
    let clean = walk(root, exclusions, &mut roots, 0, split_top);
    if clean {
        roots.recursive.push(root.to_path_buf());
    }
    roots
}

/// Counts `dir`'s subtree into `roots`; returns whether nothing in it is excluded (then the
/// caller may watch it whole). Otherwise (or when `split` asks for it) `dir` becomes a flat root
/// and its clean children recursive roots.
fn walk(dir: &Path, exclusions: &Exclusions, roots: &mut Roots, depth: usize, split: bool) -> bool {
    roots.dirs += 1;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    let mut children: Vec<(PathBuf, bool)> = Vec::new();
    let mut clean = true;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let path = entry.path();
            if exclusions.excludes(&path) || depth >= MAX_DEPTH {
                clean = false;
                continue;
            }
            let child_clean = walk(&path, exclusions, roots, depth + 1, false);
            clean &= child_clean;
            children.push((path, child_clean));
        } else {
            roots.files += 1;
        }
    }
    if split {
        clean = false;
    }
    if !clean {
        roots.flat.push(dir.to_path_buf());
        roots
            .recursive
            .extend(children.into_iter().filter(|(_, c)| *c).map(|(p, _)| p));
    }
    clean
}

/// What the debouncer hands over: a batch of settled events, or errors.
pub type Batch = DebounceEventResult;

/// The watcher behind the debouncer.
enum Backend {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Polling(Debouncer<PollWatcher, NoCache>),
}

impl Backend {
    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        match self {
            Backend::Native(d) => d.watch(path, mode),
            Backend::Polling(d) => d.watch(path, mode),
        }
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        match self {
            Backend::Native(d) => d.unwatch(path),
            Backend::Polling(d) => d.unwatch(path),
        }
    }
}

/// A running watcher.
pub struct FsWatch {
    backend: Backend,
    /// The roots watched now.
    pub roots: Roots,
}

/// How the debouncer is set up.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub debounce: Duration,
    pub poll_interval: Duration,
}

impl Timing {
    /// The debouncer checks for settled events this often: a twentieth of the debounce, so a
    /// change is reported within about 5% of the debounce after it settles.
    fn tick(&self) -> Duration {
        (self.debounce / 20).max(Duration::from_millis(1))
    }
}

fn handler(sender: Sender<Batch>) -> impl FnMut(Batch) + Send + 'static {
    move |batch| {
        let _ = sender.send(batch);
    }
}

impl FsWatch {
    /// A native watcher on `roots`. Fails (without leaving anything watched) when the system
    /// refuses a watch, for example at its inotify limit.
    pub fn native(roots: Roots, timing: Timing, sender: Sender<Batch>) -> notify::Result<FsWatch> {
        let debouncer = new_debouncer_opt::<_, RecommendedWatcher, RecommendedCache>(
            timing.debounce,
            Some(timing.tick()),
            handler(sender),
            RecommendedCache::new(),
            notify::Config::default().with_follow_symlinks(false),
        )?;
        let mut watch = FsWatch {
            backend: Backend::Native(debouncer),
            roots: Roots::default(),
        };
        watch.add(roots)?;
        Ok(watch)
    }

    /// A polling watcher on `roots`: every file is looked at every `poll_interval`.
    pub fn polling(roots: Roots, timing: Timing, sender: Sender<Batch>) -> notify::Result<FsWatch> {
        let debouncer = new_debouncer_opt::<_, PollWatcher, NoCache>(
            timing.debounce,
            Some(timing.tick()),
            handler(sender),
            NoCache,
            // Polling compares modification times in whole seconds: contents too, so a save
            // within the second of the last scan is seen.
            notify::Config::default()
                .with_poll_interval(timing.poll_interval)
                .with_compare_contents(true)
                .with_follow_symlinks(false),
        )?;
        let mut watch = FsWatch {
            backend: Backend::Polling(debouncer),
            roots: Roots::default(),
        };
        watch.add(roots)?;
        Ok(watch)
    }

    pub fn is_native(&self) -> bool {
        matches!(self.backend, Backend::Native(_))
    }

    /// Watches more roots. A root that vanished in the meantime is skipped.
    pub fn add(&mut self, roots: Roots) -> notify::Result<()> {
        for r in &roots.recursive {
            self.watch_one(r, RecursiveMode::Recursive)?;
        }
        for f in &roots.flat {
            self.watch_one(f, RecursiveMode::NonRecursive)?;
        }
        self.roots.extend(roots);
        Ok(())
    }

    fn watch_one(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        match self.backend.watch(path, mode) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) || !path.exists() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stops watching the roots that are not in `keep`.
    pub fn retain(&mut self, keep: &dyn Fn(&Path) -> bool) {
        let (recursive, dropped_r): (Vec<_>, Vec<_>) =
            self.roots.recursive.drain(..).partition(|r| keep(r));
        let (flat, dropped_f): (Vec<_>, Vec<_>) = self.roots.flat.drain(..).partition(|f| keep(f));
        for p in dropped_r.iter().chain(&dropped_f) {
            let _ = self.backend.unwatch(p);
        }
        self.roots.recursive = recursive;
        self.roots.flat = flat;
    }
}

/// Whether a notify error means the system's watch limit was reached.
pub fn is_limit_error(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        notify::ErrorKind::Io(io) => io.raw_os_error() == Some(libc::ENOSPC),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_vcs_directories_split_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in [
            "main/sub",
            "components/a/include",
            "build/esp-idf/main",
            ".git/objects",
            "other-build/x",
        ] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        std::fs::write(p.join("other-build/CMakeCache.txt"), "").unwrap();
        std::fs::write(p.join("main/main.c"), "").unwrap();
        std::fs::write(p.join("CMakeLists.txt"), "").unwrap();
        let builds = [p.join("build")];
        let roots = layout(
            p,
            &Exclusions {
                build_dirs: &builds,
            },
        );
        let mut recursive = roots.recursive.clone();
        recursive.sort();
        assert_eq!(recursive, [p.join("components"), p.join("main")]);
        assert_eq!(roots.flat, [p.to_path_buf()]);
        // p, main, main/sub, components, components/a, components/a/include.
        assert_eq!(roots.dirs, 6);
        assert_eq!(roots.files, 2);
        assert!(roots.covers(&p.join("main/sub/x.c")));
        assert!(roots.covers(&p.join("sdkconfig")));
        assert!(!roots.covers(&p.join("build/build.ninja")));

        // Nothing excluded: one recursive root.
        let clean = layout(&p.join("main"), &Exclusions { build_dirs: &[] });
        assert_eq!(clean.recursive, [p.join("main")]);
        assert!(clean.flat.is_empty());
        // A project's top level is flat even then: a build directory may appear later.
        let top = layout_project(&p.join("main"), &Exclusions { build_dirs: &[] });
        assert_eq!(top.recursive, [p.join("main/sub")]);
        assert_eq!(top.flat, [p.join("main")]);
    }
}
