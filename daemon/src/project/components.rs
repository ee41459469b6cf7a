//! Which components a build has, and in which order: ESP-IDF's component search and requirement
//! expansion, reproduced.
//!
//! - [`discover`] walks the component directories in ESP-IDF's order and applies its override rule
//!   (two copies of a name: the one found later wins, keeping the first one's position; every loser is
//!   reported as shadowed). The order changed in ESP-IDF v4.3: before it, `EXTRA_COMPONENT_DIRS` was
//!   searched last (and won); from v4.3 on, the project's `components/` is searched last.
//! - [`resolve`] expands requirements from the root components exactly as `build.cmake`'s
//!   `__build_expand_requirements` does: depth-first over public requirements (with the common ones
//!   appended) then private ones, a component appended after its requirements, cycles cut by a
//!   "seen" set. The result is `BUILD_COMPONENTS` order. Unknown requirements are errors naming the
//!   requiring component and its file; cycles are reported with their full path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use espctl_protocol::plan::ComponentSource;

use crate::project::fsview::FsView;

/// One component directory found by the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub name: String,
    pub dir: PathBuf,
    pub source: ComponentSource,
    /// Copies of the same name that lost, in the order they were found.
    pub shadowed: Vec<PathBuf>,
}

/// Where to look, from the project's CMakeLists and the IDF.
#[derive(Debug, Clone, Default)]
pub struct SearchDirs {
    pub idf_components: Option<PathBuf>,
    pub project_dir: PathBuf,
    /// `COMPONENT_DIRS` when the project sets it: replaces the default search entirely.
    pub component_dirs: Option<Vec<PathBuf>>,
    pub extra_component_dirs: Vec<PathBuf>,
    /// `EXTRA_COMPONENT_EXCLUDE_DIRS` build property.
    pub exclude_dirs: Vec<PathBuf>,
    /// ESP-IDF before v4.3 searched EXTRA_COMPONENT_DIRS after the project's components.
    pub extra_dirs_searched_last: bool,
}

/// A problem found while searching, with the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchProblem {
    pub message: String,
    pub fatal: bool,
}

/// ESP-IDF's quick check: a directory is a component when it holds a CMakeLists.txt and its name does
/// not start with a dot.
fn is_component_dir(fs: &FsView, dir: &Path) -> bool {
    let hidden = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'));
    !hidden && fs.is_file(&dir.join("CMakeLists.txt"))
}

fn sorted_subdirs(fs: &FsView, dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = match fs.list(dir) {
        Some(entries) => entries
            .iter()
            .map(|e| (dir.join(&e.name), e.kind))
            .filter(|(p, kind)| fs.entry_is_dir(p, *kind))
            .map(|(p, _)| p)
            .collect(),
        None => Vec::new(),
    };
    dirs.sort();
    dirs
}

struct Collector<'f, 'a> {
    fs: &'f FsView<'a>,
    order: Vec<String>,
    by_name: HashMap<String, Discovered>,
}

impl Collector<'_, '_> {
    fn add(&mut self, dir: PathBuf, source: ComponentSource) {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            return;
        };
        match self.by_name.get_mut(&name) {
            Some(existing) => {
                if existing.dir == dir {
                    return;
                }
                // The later copy wins; the position stays where the name was first seen.
                let loser = std::mem::replace(&mut existing.dir, dir);
                existing.shadowed.push(loser);
                existing.source = source;
            }
            None => {
                self.order.push(name.clone());
                self.by_name.insert(
                    name.clone(),
                    Discovered {
                        name,
                        dir,
                        source,
                        shadowed: Vec::new(),
                    },
                );
            }
        }
    }

    /// ESP-IDF's `__project_component_dir`: the directory itself when it is a component, otherwise its
    /// component subdirectories.
    fn add_dir(&mut self, dir: &Path, source: ComponentSource, exclude: &[PathBuf]) {
        if self.fs.is_file(&dir.join("CMakeLists.txt")) {
            self.add(dir.to_path_buf(), source);
            return;
        }
        for sub in sorted_subdirs(self.fs, dir) {
            if !exclude.contains(&sub) && is_component_dir(self.fs, &sub) {
                self.add(sub, source);
            }
        }
    }
}

/// Finds the components, in ESP-IDF's `__COMPONENT_TARGETS` order.
pub fn discover(search: &SearchDirs) -> (Vec<Discovered>, Vec<SearchProblem>) {
    discover_in(search, &FsView::uncached())
}

/// [`discover`], with the file system seen through one plan's `fs`.
pub fn discover_in(search: &SearchDirs, fs: &FsView) -> (Vec<Discovered>, Vec<SearchProblem>) {
    let exists = |p: &Path| fs.exists(p);
    let mut c = Collector {
        fs,
        order: Vec::new(),
        by_name: HashMap::new(),
    };
    let mut problems = Vec::new();
    if let Some(idf) = &search.idf_components {
        for dir in sorted_subdirs(fs, idf) {
            if is_component_dir(fs, &dir) {
                c.add(dir, ComponentSource::Idf);
            }
        }
    }
    let project = &search.project_dir;
    match &search.component_dirs {
        Some(dirs) => {
            for dir in dirs {
                let dir = absolute(project, dir);
                if !exists(&dir) {
                    problems.push(SearchProblem {
                        message: format!(
                            "Directory specified in COMPONENT_DIRS doesn't exist: {}",
                            dir.display()
                        ),
                        fatal: true,
                    });
                    continue;
                }
                c.add_dir(&dir, ComponentSource::Project, &search.exclude_dirs);
            }
        }
        None => {
            let main = project.join("main");
            if exists(&main) {
                c.add_dir(&main, ComponentSource::Project, &search.exclude_dirs);
            }
            let add_extra = |c: &mut Collector, problems: &mut Vec<SearchProblem>| {
                for dir in &search.extra_component_dirs {
                    let dir = absolute(project, dir);
                    if !exists(&dir) {
                        problems.push(SearchProblem {
                            message: format!(
                                "Directory specified in EXTRA_COMPONENT_DIRS doesn't exist: {}",
                                dir.display()
                            ),
                            fatal: true,
                        });
                        continue;
                    }
                    c.add_dir(&dir, ComponentSource::Extra, &search.exclude_dirs);
                }
            };
            if search.extra_dirs_searched_last {
                c.add_dir(
                    &project.join("components"),
                    ComponentSource::Project,
                    &search.exclude_dirs,
                );
                add_extra(&mut c, &mut problems);
            } else {
                add_extra(&mut c, &mut problems);
                c.add_dir(
                    &project.join("components"),
                    ComponentSource::Project,
                    &search.exclude_dirs,
                );
            }
        }
    }
    // Components the component manager downloaded: they never override the project's own.
    let managed = project.join("managed_components");
    for dir in sorted_subdirs(fs, &managed) {
        if !is_component_dir(fs, &dir) {
            continue;
        }
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        match c.by_name.get_mut(&name) {
            Some(existing) if existing.source != ComponentSource::Idf => {
                existing.shadowed.push(dir);
            }
            _ => c.add(dir, ComponentSource::Managed),
        }
    }
    let Collector {
        order, mut by_name, ..
    } = c;
    let list = order
        .into_iter()
        .filter_map(|n| by_name.remove(&n))
        .collect();
    (list, problems)
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// What resolution needs to know about each discovered component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// False when the component's CMakeLists never called `idf_component_register` (it returned early
    /// or is a pure CMake library): ESP-IDF leaves such components out unless something requires them,
    /// in which case it is an error.
    pub registered: bool,
    pub requires: Vec<String>,
    pub priv_requires: Vec<String>,
    /// The file the requirements were declared in, for error messages.
    pub file: PathBuf,
}

/// Why a component is in the build: what pulled it in first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A root: listed in COMPONENTS, or every component when COMPONENTS is not set.
    Root,
    /// A requirement of `by` (public, private or common).
    Required { by: String, kind: RequirementKind },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequirementKind {
    Public,
    Private,
    Common,
}

impl RequirementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequirementKind::Public => "REQUIRES",
            RequirementKind::Private => "PRIV_REQUIRES",
            RequirementKind::Common => "common requirement",
        }
    }
}

/// A requirement that cannot be satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    pub message: String,
    pub file: PathBuf,
}

/// The components of a build.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// Dependencies first: ESP-IDF's BUILD_COMPONENTS order.
    pub build_order: Vec<String>,
    pub reasons: BTreeMap<String, Reason>,
    pub errors: Vec<ResolveError>,
    /// Each cycle once, as a path that starts and ends with the same component.
    pub cycles: Vec<Vec<String>>,
}

impl Resolution {
    /// The chain of requirements that pulls `name` into the build, root first.
    pub fn why(&self, name: &str) -> Option<Vec<(String, Option<RequirementKind>)>> {
        let mut chain = Vec::new();
        let mut current = name.to_string();
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(current.clone()) {
                break;
            }
            match self.reasons.get(&current)? {
                Reason::Root => {
                    chain.push((current, None));
                    break;
                }
                Reason::Required { by, kind } => {
                    chain.push((current.clone(), Some(*kind)));
                    current = by.clone();
                }
            }
        }
        chain.reverse();
        Some(chain)
    }
}

/// Expands requirements from `roots` (in order) the way ESP-IDF does.
pub fn resolve(
    components: &BTreeMap<String, Requirements>,
    roots: &[String],
    common: &[String],
) -> Resolution {
    struct Walk<'a> {
        components: &'a BTreeMap<String, Requirements>,
        common: &'a [String],
        seen: HashSet<String>,
        /// The components being expanded, each with the kind of edge that led to it.
        stack: Vec<(String, Option<RequirementKind>)>,
        out: Resolution,
        reported_errors: HashSet<(String, String)>,
        cycle_keys: HashSet<Vec<String>>,
    }

    impl Walk<'_> {
        fn expand(&mut self, name: &str, via: Option<RequirementKind>) {
            let Some(reqs) = self.components.get(name) else {
                return;
            };
            if self.seen.contains(name) || !reqs.registered {
                if let Some(pos) = self.stack.iter().position(|(n, _)| n == name) {
                    // Only cycles of declared requirements are worth reporting: the common
                    // components require each other, so implicit edges close cycles everywhere.
                    let declared = self.stack[pos + 1..]
                        .iter()
                        .map(|(_, k)| *k)
                        .chain(std::iter::once(via))
                        .all(|k| {
                            matches!(k, Some(RequirementKind::Public | RequirementKind::Private))
                        });
                    if declared {
                        let mut cycle: Vec<String> =
                            self.stack[pos..].iter().map(|(n, _)| n.clone()).collect();
                        cycle.push(name.to_string());
                        // One report per cycle, whichever component it was entered from.
                        let mut key = cycle[..cycle.len() - 1].to_vec();
                        key.sort();
                        if self.cycle_keys.insert(key) {
                            self.out.cycles.push(cycle);
                        }
                    }
                }
                return;
            }
            self.seen.insert(name.to_string());
            self.stack.push((name.to_string(), via));

            let components = self.components;
            let mut unique: HashSet<&str> = HashSet::new();
            let public = reqs
                .requires
                .iter()
                .map(|r| (r, RequirementKind::Public))
                .chain(self.common.iter().map(|r| (r, RequirementKind::Common)))
                .filter(|(r, _)| r.as_str() != name && unique.insert(r.as_str()));
            let private = reqs
                .priv_requires
                .iter()
                .map(|r| (r, RequirementKind::Private));
            let edges: Vec<(&String, RequirementKind)> = public.chain(private).collect();

            for (req, kind) in edges {
                match components.get(req) {
                    None => self.error(
                        name,
                        req,
                        format!(
                            "Failed to resolve component '{req}' required by component '{name}': unknown name."
                        ),
                    ),
                    Some(r) if !r.registered => self.error(
                        name,
                        req,
                        format!(
                            "Failed to resolve component '{req}' required by component '{name}': component not registered."
                        ),
                    ),
                    Some(_) => {
                        if !self.out.reasons.contains_key(req) {
                            self.out.reasons.insert(
                                req.clone(),
                                Reason::Required {
                                    by: name.to_string(),
                                    kind,
                                },
                            );
                        }
                        self.expand(req, Some(kind));
                    }
                }
            }
            self.stack.pop();
            // `seen` lets each component through once, so it is appended once.
            self.out.build_order.push(name.to_string());
        }

        fn error(&mut self, by: &str, req: &str, message: String) {
            if self
                .reported_errors
                .insert((by.to_string(), req.to_string()))
            {
                let file = self
                    .components
                    .get(by)
                    .map(|r| r.file.clone())
                    .unwrap_or_default();
                self.out.errors.push(ResolveError { message, file });
            }
        }
    }

    let mut walk = Walk {
        components,
        common,
        seen: HashSet::new(),
        stack: Vec::new(),
        out: Resolution::default(),
        reported_errors: HashSet::new(),
        cycle_keys: HashSet::new(),
    };
    for root in roots {
        if components.get(root).is_some_and(|r| r.registered) {
            walk.out.reasons.entry(root.clone()).or_insert(Reason::Root);
        }
        walk.expand(root, None);
    }
    walk.out
}

/// The roots of the expansion, as `project.cmake` computes them: every component in search order,
/// filtered by COMPONENTS (when set) and EXCLUDE_COMPONENTS. MINIMAL_BUILD means COMPONENTS = main.
pub fn roots(
    discovered: &[Discovered],
    components: Option<&[String]>,
    exclude: &[String],
) -> Vec<String> {
    discovered
        .iter()
        .map(|d| d.name.clone())
        .filter(|n| components.is_none_or(|c| c.contains(n)))
        .filter(|n| !exclude.contains(n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(list: &[(&str, &[&str], &[&str])]) -> BTreeMap<String, Requirements> {
        list.iter()
            .map(|(name, public, private)| {
                (
                    name.to_string(),
                    Requirements {
                        registered: true,
                        requires: public.iter().map(|s| s.to_string()).collect(),
                        priv_requires: private.iter().map(|s| s.to_string()).collect(),
                        file: PathBuf::from(format!("/c/{name}/CMakeLists.txt")),
                    },
                )
            })
            .collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The seed's car example: car requires engine, engine privately requires spark_plug.
    #[test]
    fn car_engine_spark_plug() {
        let c = reqs(&[
            ("car", &["engine"], &[]),
            ("engine", &[], &["spark_plug"]),
            ("spark_plug", &[], &[]),
            ("main", &["car"], &[]),
            ("log", &[], &[]),
        ]);
        let r = resolve(
            &c,
            &names(&["car", "engine", "log", "main", "spark_plug"]),
            &names(&["log"]),
        );
        assert_eq!(
            r.build_order,
            names(&["log", "spark_plug", "engine", "car", "main"])
        );
        assert!(r.errors.is_empty());
        let why: Vec<String> = r
            .why("spark_plug")
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(why, names(&["car", "engine", "spark_plug"]));
    }

    #[test]
    fn trimming_keeps_requirements_and_common_ones() {
        let c = reqs(&[
            ("main", &["car"], &[]),
            ("car", &[], &[]),
            ("unused", &[], &[]),
            ("log", &[], &[]),
        ]);
        let r = resolve(&c, &names(&["main"]), &names(&["log"]));
        // Post-order: car's own common requirement (log) comes before car.
        assert_eq!(r.build_order, names(&["log", "car", "main"]));
    }

    #[test]
    fn cycles_are_reported_with_their_path_and_still_ordered() {
        let c = reqs(&[("a", &["b"], &[]), ("b", &["c"], &[]), ("c", &["a"], &[])]);
        let r = resolve(&c, &names(&["a", "b", "c"]), &[]);
        assert_eq!(r.build_order, names(&["c", "b", "a"]));
        assert_eq!(r.cycles, vec![names(&["a", "b", "c", "a"])]);
    }

    #[test]
    fn unknown_and_unregistered_requirements_are_errors_naming_the_file() {
        let mut c = reqs(&[("main", &["ghost", "quiet"], &[])]);
        c.insert(
            "quiet".into(),
            Requirements {
                registered: false,
                ..Default::default()
            },
        );
        let r = resolve(&c, &names(&["main", "quiet"]), &[]);
        assert_eq!(r.errors.len(), 2);
        assert!(
            r.errors[0]
                .message
                .contains("'ghost' required by component 'main': unknown name")
        );
        assert!(r.errors[1].message.contains("component not registered"));
        assert_eq!(r.errors[0].file, PathBuf::from("/c/main/CMakeLists.txt"));
        // A component that never registered and is not required is simply left out.
        assert_eq!(r.build_order, names(&["main"]));
    }

    #[test]
    fn self_requirement_and_duplicates_are_dropped() {
        let c = reqs(&[("a", &["a", "b", "b"], &[]), ("b", &[], &[])]);
        let r = resolve(&c, &names(&["a"]), &names(&["a"]));
        assert_eq!(r.build_order, names(&["b", "a"]));
        assert!(r.cycles.is_empty());
    }

    fn mkcomp(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("CMakeLists.txt"), "idf_component_register()\n").unwrap();
    }

    #[test]
    fn search_order_and_overrides() {
        let t = tempfile::tempdir().unwrap();
        let idf = t.path().join("idf/components");
        let proj = t.path().join("proj");
        let extra = t.path().join("extra");
        mkcomp(&idf.join("log"));
        mkcomp(&idf.join("esp_wifi"));
        mkcomp(&idf.join(".hidden"));
        std::fs::create_dir_all(idf.join("not_a_component")).unwrap();
        mkcomp(&proj.join("main"));
        mkcomp(&proj.join("components/log"));
        mkcomp(&proj.join("components/shared"));
        mkcomp(&extra.join("shared"));
        mkcomp(&extra.join("esp_wifi"));
        let mut search = SearchDirs {
            idf_components: Some(idf.clone()),
            project_dir: proj.clone(),
            extra_component_dirs: vec![extra.clone()],
            ..Default::default()
        };
        let (found, problems) = discover(&search);
        assert!(problems.is_empty());
        let order: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(order, ["esp_wifi", "log", "main", "shared"]);
        let by = |n: &str| found.iter().find(|d| d.name == n).unwrap().clone();
        // v4.3+: the project's components/ is searched last and wins over EXTRA_COMPONENT_DIRS.
        assert_eq!(by("shared").dir, proj.join("components/shared"));
        assert_eq!(by("shared").shadowed, vec![extra.join("shared")]);
        assert_eq!(by("log").source, ComponentSource::Project);
        assert_eq!(by("log").shadowed, vec![idf.join("log")]);
        assert_eq!(by("esp_wifi").source, ComponentSource::Extra);

        // Before v4.3 EXTRA_COMPONENT_DIRS came last and won.
        search.extra_dirs_searched_last = true;
        let (found, _) = discover(&search);
        let shared = found.iter().find(|d| d.name == "shared").unwrap();
        assert_eq!(shared.dir, extra.join("shared"));
        assert_eq!(shared.source, ComponentSource::Extra);
    }

    #[test]
    fn component_dirs_replaces_the_default_search_and_missing_dirs_are_fatal() {
        let t = tempfile::tempdir().unwrap();
        let proj = t.path().join("proj");
        mkcomp(&proj.join("main"));
        mkcomp(&proj.join("only/one"));
        let search = SearchDirs {
            project_dir: proj.clone(),
            component_dirs: Some(vec![PathBuf::from("only"), PathBuf::from("nope")]),
            ..Default::default()
        };
        let (found, problems) = discover(&search);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "one");
        assert!(problems[0].fatal && problems[0].message.contains("COMPONENT_DIRS doesn't exist"));
    }

    #[test]
    fn managed_components_never_override_the_project() {
        let t = tempfile::tempdir().unwrap();
        let proj = t.path().join("proj");
        mkcomp(&proj.join("main"));
        mkcomp(&proj.join("components/led"));
        mkcomp(&proj.join("managed_components/led"));
        mkcomp(&proj.join("managed_components/espressif__button"));
        let (found, _) = discover(&SearchDirs {
            project_dir: proj.clone(),
            ..Default::default()
        });
        let led = found.iter().find(|d| d.name == "led").unwrap();
        assert_eq!(led.source, ComponentSource::Project);
        assert_eq!(led.shadowed, vec![proj.join("managed_components/led")]);
        let button = found
            .iter()
            .find(|d| d.name == "espressif__button")
            .unwrap();
        assert_eq!(button.source, ComponentSource::Managed);
    }

    #[test]
    fn roots_follow_components_and_exclude() {
        let d = |n: &str| Discovered {
            name: n.into(),
            dir: PathBuf::from(n),
            source: ComponentSource::Idf,
            shadowed: vec![],
        };
        let all = vec![d("a"), d("b"), d("main")];
        assert_eq!(roots(&all, None, &[]), names(&["a", "b", "main"]));
        assert_eq!(
            roots(&all, Some(&names(&["main", "b"])), &[]),
            names(&["b", "main"])
        );
        assert_eq!(roots(&all, None, &names(&["a"])), names(&["b", "main"]));
    }
}
