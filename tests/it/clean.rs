//! Clean plans against real CMake and Ninja: a plain CMake C project configured with `-G Ninja` and
//! built, then our plan compared with `ninja -n -t clean`, with what `cmake --build --target clean`
//! really removes, and with idf.py's fullclean rules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use espctl_protocol::ErrorCode;
use espctl_protocol::plan::{CleanPlan, CleanScope};
use espctl_tests::{
    TreeEntry, cmake_and_ninja_available, cmake_configure_and_build, run_ok, stdout_of,
    tree_snapshot, write_demo_cmake_project,
};
use espctld::ninja::canon::lexical_normalize;
use espctld::project::clean::{CleanError, clean_plan, delete_plan};

macro_rules! require_tools {
    () => {
        if !cmake_and_ninja_available() {
            eprintln!("skipped: cmake and ninja are needed");
            return;
        }
    };
}

/// A configured and built demo project, with the files its ADDITIONAL_CLEAN_FILES name created.
struct Demo {
    _tmp: tempfile::TempDir,
    /// The temp dir's real path.
    root: PathBuf,
    project: PathBuf,
    build: PathBuf,
}

fn demo(build_outside: bool) -> Demo {
    let tmp = tempfile::Builder::new()
        .prefix("espctl-clean")
        .tempdir()
        .unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let project = root.join("proj");
    let build = if build_outside {
        root.join("elsewhere/build")
    } else {
        project.join("build")
    };
    write_demo_cmake_project(&project);
    cmake_configure_and_build(&project, &build);
    std::fs::write(build.join("extra.txt"), "extra").unwrap();
    std::fs::write(build.join("dirclean.txt"), "dir").unwrap();
    std::fs::create_dir_all(build.join("extradir/sub")).unwrap();
    std::fs::write(build.join("extradir/sub/x"), "xx").unwrap();
    std::fs::write(build.join("extradir/y"), "yyy").unwrap();
    Demo {
        _tmp: tmp,
        root,
        project,
        build,
    }
}

/// The absolute path a plan entry names.
fn resolve(project: &Path, entry: &str) -> PathBuf {
    let e = entry.strip_suffix('/').unwrap_or(entry);
    if Path::new(e).is_absolute() {
        PathBuf::from(e)
    } else {
        lexical_normalize(&project.join(e))
    }
}

/// The set of paths `ninja -C build -n -t clean` prints, absolute.
fn ninja_dry_run_clean(build: &Path) -> BTreeSet<PathBuf> {
    let out = run_ok(
        Command::new("ninja")
            .arg("-C")
            .arg(build)
            .args(["-n", "-t", "clean"]),
    );
    stdout_of(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("Remove "))
        .map(|p| lexical_normalize(&build.join(p)))
        .collect()
}

/// Every path a plan would delete, expanded below listed directories, from a tree snapshot.
fn expand(
    plan: &CleanPlan,
    project: &Path,
    tree: &BTreeMap<PathBuf, TreeEntry>,
) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for entry in &plan.would_delete {
        let abs = resolve(project, entry);
        if entry.ends_with('/') {
            out.extend(tree.keys().filter(|p| p.starts_with(&abs)).cloned());
        }
        out.insert(abs);
    }
    out
}

fn plan_totals(
    plan: &CleanPlan,
    project: &Path,
    tree: &BTreeMap<PathBuf, TreeEntry>,
) -> (u64, u64) {
    let all = expand(plan, project, tree);
    let files: Vec<&TreeEntry> = all
        .iter()
        .filter_map(|p| tree.get(p))
        .filter(|e| !e.is_dir)
        .collect();
    (files.len() as u64, files.iter().map(|e| e.len).sum())
}

fn check_plan_against_ninja_and_cmake(d: &Demo) {
    let before = tree_snapshot(&d.root);
    let plan = clean_plan(&d.project, &d.build, CleanScope::Clean).unwrap();
    // Planning wrote nothing: same entries, sizes and mtimes everywhere under the temp dir.
    assert_eq!(tree_snapshot(&d.root), before, "planning changed the tree");

    // Sorted, no duplicates.
    let mut sorted = plan.would_delete.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(plan.would_delete, sorted);

    // The Ninja half: exactly `ninja -n -t clean`, once each file (CMake names some outputs twice,
    // absolute and relative).
    let ninja = ninja_dry_run_clean(&d.build);
    assert!(
        ninja.contains(&d.build.join("table.c")) && ninja.contains(&d.build.join("libutil.a")),
        "unexpected ninja output: {ninja:?}"
    );
    let additional: BTreeSet<PathBuf> = ["extra.txt", "dirclean.txt", "extradir"]
        .iter()
        .map(|p| d.build.join(p))
        .collect();
    let planned: BTreeSet<PathBuf> = plan
        .would_delete
        .iter()
        .map(|e| resolve(&d.project, e))
        .collect();
    let planned_ninja: BTreeSet<PathBuf> = planned.difference(&additional).cloned().collect();
    assert_eq!(planned_ninja, ninja, "plan vs ninja -n -t clean");
    assert!(
        additional.is_subset(&planned),
        "additional clean files missing: {planned:?}"
    );
    assert!(plan.would_delete.iter().any(|e| e.ends_with("extradir/")));
    assert_eq!(plan.total_files, plan_totals(&plan, &d.project, &before).0);
    assert_eq!(plan.total_bytes, plan_totals(&plan, &d.project, &before).1);
    assert!(plan.total_files >= 12, "{plan:?}");

    // What really disappears with CMake's clean target, run last (it is destructive). Cleaning a
    // copy of the tree instead would not work: the build files name absolute paths of the original.
    run_ok(
        Command::new("cmake")
            .arg("--build")
            .arg(&d.build)
            .args(["--target", "clean"]),
    );
    let after = tree_snapshot(&d.root);
    let gone: BTreeSet<PathBuf> = before
        .keys()
        .filter(|p| !after.contains_key(*p))
        .cloned()
        .collect();
    assert_eq!(
        expand(&plan, &d.project, &before),
        gone,
        "plan vs cmake --build --target clean"
    );
}

#[test]
fn clean_plan_matches_ninja_and_cmake() {
    require_tools!();
    let d = demo(false);
    let plan = clean_plan(&d.project, &d.build, CleanScope::Clean).unwrap();
    // Relative to the project.
    assert!(
        plan.would_delete.iter().all(|e| e.starts_with("build/")),
        "{plan:?}"
    );
    assert!(plan.would_delete.contains(&"build/table.c".to_string()));
    assert!(
        plan.would_delete
            .contains(&"build/gen/version.h".to_string())
    );
    assert!(
        plan.would_delete
            .contains(&"build/CMakeFiles/util.dir/src/a.c.o".to_string())
    );
    // The generator's outputs stay, and so does what CMake's configure wrote.
    assert!(
        !plan
            .would_delete
            .iter()
            .any(|e| e == "build/build.ninja" || e.contains("CMakeCache"))
    );
    check_plan_against_ninja_and_cmake(&d);
}

#[test]
fn build_dir_outside_the_project_gives_absolute_paths() {
    require_tools!();
    let d = demo(true);
    let plan = clean_plan(&d.project, &d.build, CleanScope::Clean).unwrap();
    assert!(
        plan.would_delete
            .iter()
            .all(|e| Path::new(e).is_absolute() && Path::new(e).starts_with(&d.build)),
        "{plan:?}"
    );
    check_plan_against_ninja_and_cmake(&d);
}

#[test]
fn delete_plan_deletes_what_the_plan_lists() {
    require_tools!();
    let d = demo(false);
    let plan = clean_plan(&d.project, &d.build, CleanScope::Clean).unwrap();
    let before = tree_snapshot(&d.project);
    let report = delete_plan(&d.project, &d.build, &plan).unwrap();
    assert_eq!(report.deleted, plan.would_delete);
    assert!(report.already_gone.is_empty());
    assert_eq!(report.files_deleted, plan.total_files);
    assert_eq!(report.bytes_freed, plan.total_bytes);
    let after = tree_snapshot(&d.project);
    let gone: BTreeSet<PathBuf> = before
        .keys()
        .filter(|p| !after.contains_key(*p))
        .cloned()
        .collect();
    assert_eq!(gone, expand(&plan, &d.project, &before));
    // Ninja agrees there is nothing left to clean, and the plan is now empty.
    assert!(ninja_dry_run_clean(&d.build).is_empty());
    let again = clean_plan(&d.project, &d.build, CleanScope::Clean).unwrap();
    assert!(again.would_delete.is_empty(), "{again:?}");
    // Deleting the same plan again only finds it gone.
    let report = delete_plan(&d.project, &d.build, &plan).unwrap();
    assert_eq!(report.already_gone, plan.would_delete);
}

#[test]
fn delete_plan_refuses_paths_outside_the_build_dir() {
    require_tools!();
    let d = demo(false);
    let mut plan = clean_plan(&d.project, &d.build, CleanScope::Clean).unwrap();
    plan.would_delete.push("CMakeLists.txt".into());
    plan.would_delete.push("build/../src/a.c".into());
    let before = tree_snapshot(&d.root);
    let err = delete_plan(&d.project, &d.build, &plan).unwrap_err();
    assert!(
        matches!(err, CleanError::OutsideBuildDir { ref paths, .. } if paths.len() == 2),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert_eq!(tree_snapshot(&d.root), before, "nothing may be deleted");
}

#[test]
fn fullclean_plan_lists_the_whole_build_dir() {
    require_tools!();
    let d = demo(false);
    let before = tree_snapshot(&d.root);
    let plan = clean_plan(&d.project, &d.build, CleanScope::Fullclean).unwrap();
    assert_eq!(tree_snapshot(&d.root), before);
    assert!(
        plan.would_delete
            .contains(&"build/CMakeCache.txt".to_string())
    );
    assert!(plan.would_delete.contains(&"build/CMakeFiles/".to_string()));
    assert!(plan.would_delete.contains(&"build/build.ninja".to_string()));
    let under_build: Vec<&TreeEntry> = before
        .iter()
        .filter(|(p, e)| p.starts_with(&d.build) && !e.is_dir)
        .map(|(_, e)| e)
        .collect();
    assert_eq!(plan.total_files, under_build.len() as u64);
    assert_eq!(
        plan.total_bytes,
        under_build.iter().map(|e| e.len).sum::<u64>()
    );

    let report = delete_plan(&d.project, &d.build, &plan).unwrap();
    assert_eq!(report.files_deleted, plan.total_files);
    // The directory itself stays, empty.
    assert!(d.build.is_dir());
    assert_eq!(std::fs::read_dir(&d.build).unwrap().count(), 0);
}

#[test]
fn fullclean_refusals_and_nothing_to_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("proj");
    let build = project.join("build");
    std::fs::create_dir_all(&project).unwrap();

    // No build dir, or an empty one: nothing to clean.
    for scope in [CleanScope::Clean, CleanScope::Fullclean] {
        let plan = clean_plan(&project, &build, scope).unwrap();
        assert!(plan.would_delete.is_empty() && plan.total_files == 0);
    }
    std::fs::create_dir(&build).unwrap();
    let plan = clean_plan(&project, &build, CleanScope::Fullclean).unwrap();
    assert!(plan.would_delete.is_empty());

    // Not a CMake build directory.
    std::fs::write(build.join("notes.txt"), "mine").unwrap();
    let err = clean_plan(&project, &build, CleanScope::Fullclean).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(
        err.to_string()
            .contains("doesn't seem to be a CMake build directory"),
        "{err}"
    );
    assert!(
        err.to_string().contains("Delete the directory manually"),
        "{err}"
    );
    // ...and `clean` has no build.ninja to go by.
    let err = clean_plan(&project, &build, CleanScope::Clean).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.to_string().contains("no build.ninja"), "{err}");

    // A CMake build directory that holds sources.
    std::fs::write(build.join("CMakeCache.txt"), "").unwrap();
    for flag in ["CMakeLists.txt", ".git", ".svn"] {
        let p = build.join(flag);
        std::fs::write(&p, "").unwrap();
        let err = clean_plan(&project, &build, CleanScope::Fullclean).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Config);
        assert!(
            err.to_string()
                .contains(&format!("directory containing '{}'", p.display())),
            "{err}"
        );
        // delete_plan checks again.
        let plan = CleanPlan {
            scope: CleanScope::Fullclean,
            would_delete: vec!["build/notes.txt".into()],
            total_files: 1,
            total_bytes: 4,
        };
        assert!(matches!(
            delete_plan(&project, &build, &plan),
            Err(CleanError::RedFlag { .. })
        ));
        std::fs::remove_file(&p).unwrap();
    }
    assert!(build.join("notes.txt").exists());

    // The project itself as the build directory, or a build directory around it.
    let err = clean_plan(&project, &project, CleanScope::Fullclean).unwrap_err();
    assert!(matches!(err, CleanError::BuildDirIsProject { .. }));
    let err = clean_plan(&project, tmp.path(), CleanScope::Fullclean).unwrap_err();
    assert!(matches!(err, CleanError::BuildDirContainsProject { .. }));
    assert_eq!(err.code(), ErrorCode::Config);
}

/// Times our clean plan against `ninja -n -t clean` on a ~20,000-file build tree. Ignored by
/// default (building the tree compiles 10,000 sources); run with
/// `cargo test --release -p espctl-tests --test it clean_plan_timing -- --ignored --nocapture`.
/// Set `ESPCTL_LARGE_TREE` to a directory to build the tree there once and reuse it.
#[test]
#[ignore]
fn clean_plan_timing_on_a_large_tree() {
    require_tools!();
    let tmp = tempfile::tempdir().unwrap();
    let root = std::env::var_os("ESPCTL_LARGE_TREE")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let project = root.join("large");
    let build = project.join("build");
    if !build.join("build.ninja").exists() || !build.join("app").exists() {
        std::fs::create_dir_all(&root).unwrap();
        espctl_tests::make_large_cmake_build(&root, 10_000);
    }
    let files = tree_snapshot(&build).values().filter(|e| !e.is_dir).count();
    eprintln!("build tree: {files} files");

    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    // CPU time of this thread (user + system), to compare with Ninja's own under a busy machine.
    let cpu = || {
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage fills the struct it is given.
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        let t = |tv: libc::timeval| {
            std::time::Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000)
        };
        t(u.ru_utime) + t(u.ru_stime)
    };
    let cpu_before = cpu();
    for _ in 0..5 {
        clean_plan(&project, &build, CleanScope::Clean).unwrap();
    }
    let ours_cpu = (cpu() - cpu_before) / 5;
    let ninja_cpu = {
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        for _ in 0..5 {
            ninja_dry_run_clean(&build);
        }
        // SAFETY: as above; children's usage (the five ninja runs, waited for).
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
        let t = |tv: libc::timeval| {
            std::time::Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000)
        };
        (t(u.ru_utime) + t(u.ru_stime)) / 5
    };
    eprintln!(
        "CPU per run: clean plan {ours_cpu:?}, ninja -n -t clean {ninja_cpu:?} (upper bound: all children so far)"
    );
    let mut plan = None;
    let ours = best(&mut || plan = Some(clean_plan(&project, &build, CleanScope::Clean).unwrap()));
    let mut listed = 0;
    let ninja = best(&mut || listed = ninja_dry_run_clean(&build).len());
    let plan = plan.unwrap();
    let parse = best(&mut || {
        espctld::ninja::Manifest::load(&build).unwrap();
    });
    let candidates = best(&mut || {
        let mut m = espctld::ninja::Manifest::load(&build).unwrap();
        let mut reader = espctld::ninja::manifest::DiskReader { dir: build.clone() };
        espctld::ninja::clean::clean_all(&mut m, false, &mut reader).unwrap();
    });
    eprintln!("parsing build.ninja: {parse:?}; with clean candidates: {candidates:?}");
    eprintln!(
        "clean plan: {} entries, {} files, {} bytes in {ours:?}; ninja -n -t clean: {listed} paths in {ninja:?}",
        plan.would_delete.len(),
        plan.total_files,
        plan.total_bytes
    );
    assert_eq!(plan.would_delete.len(), listed);

    // The next-build prediction on the same tree, against `ninja -n` (which also loads the logs
    // and stats every node).
    let mut predicted = 0;
    let ours = best(&mut || {
        let (_, report) = espctld::ninja::dirty::predict(
            &build,
            &[],
            &[],
            espctld::ninja::dirty::ScanOptions::default(),
        )
        .unwrap();
        predicted = report.edges.len();
    });
    let ninja = best(&mut || {
        run_ok(Command::new("ninja").arg("-C").arg(&build).arg("-n"));
    });
    eprintln!("next-build prediction: {predicted} edges in {ours:?}; ninja -n: {ninja:?}");
}

// ---- What the next build would run, on the same CMake project (the Ninja readers' other user) ----

/// `ninja -n -v -d explain`: the commands it would run and its explanations, both sorted.
fn ninja_would_run(build: &Path) -> (Vec<String>, Vec<String>) {
    let out = run_ok(
        Command::new("ninja")
            .arg("-C")
            .arg(build)
            .args(["-n", "-v", "-d", "explain"]),
    );
    let mut commands: Vec<String> = stdout_of(&out)
        .lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|r| r.split_once("] ")))
        .map(|(_, c)| c.to_string())
        .collect();
    let mut explanations: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("ninja explain: "))
        .map(str::to_string)
        .collect();
    commands.sort();
    explanations.sort();
    (commands, explanations)
}

/// Our prediction: (commands, explanations, whether the manifest is regenerated first).
fn we_predict(build: &Path, changed: &[PathBuf]) -> (Vec<String>, Vec<String>, bool) {
    use espctld::ninja::dirty::{ScanOptions, predict};
    let (m, report) = predict(build, changed, &[], ScanOptions::default()).unwrap();
    let regenerate = !report.manifest_edges.is_empty();
    // A dry run stops after regenerating the manifest.
    let edges = if regenerate {
        &report.manifest_edges
    } else {
        &report.edges
    };
    let mut commands: Vec<String> = edges
        .iter()
        .map(|&e| m.edge_command(e, false).unwrap())
        .collect();
    let mut explanations = report.explanations.clone();
    commands.sort();
    explanations.sort();
    (commands, explanations, regenerate)
}

fn set_mtime_future(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(100))
        .unwrap();
}

#[test]
fn next_build_prediction_matches_ninja_on_a_cmake_build() {
    require_tools!();
    let d = demo(false);
    // Built: only the custom target runs again (its stamp file never exists).
    let (ours, why, regen) = we_predict(&d.build, &[]);
    assert!(!regen);
    assert_eq!(ours.len(), 1, "{ours:?} {why:?}");
    assert!(ours[0].ends_with("cmake -E touch stamp.txt"), "{ours:?}");
    assert_eq!((ours, why), ninja_would_run(&d.build));

    // "What if src/a.c changed", without touching it: the object, the library, the executable
    // (and the custom target).
    let (ours, _, _) = we_predict(&d.build, &[d.project.join("src/a.c")]);
    assert_eq!(ours.len(), 4, "{ours:?}");
    assert!(ours.iter().any(|c| c.contains("src/a.c")));

    // A header found through the deps log, generated by a restat custom command.
    set_mtime_future(&d.project.join("gen.cmake"));
    let (ours, why, regen) = we_predict(&d.build, &[]);
    assert!(!regen);
    assert!(ours.iter().any(|c| c.contains("gen.cmake")), "{ours:?}");
    assert_eq!((ours, why), ninja_would_run(&d.build));

    // A source file.
    set_mtime_future(&d.project.join("src/main.c"));
    let (ours, why, _) = we_predict(&d.build, &[]);
    assert_eq!((ours, why), ninja_would_run(&d.build));

    // CMakeLists.txt: Ninja re-runs CMake first (and a dry run stops there).
    set_mtime_future(&d.project.join("CMakeLists.txt"));
    let (ours, _, regen) = we_predict(&d.build, &[]);
    assert!(regen);
    assert_eq!(ours.len(), 1);
    assert!(ours[0].contains("--regenerate-during-build"), "{ours:?}");
    assert_eq!(ours, ninja_would_run(&d.build).0);
}
