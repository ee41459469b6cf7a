//! Legacy GNU Make projects: espctld's plans against what GNU Make really does.
//!
//! Each fixture is copied to a temp dir and built with real `make` and the stand-in IDF's legacy
//! make support (`tests/fixtures/standin-idf/make/`, host toolchain), using the command, working
//! directory and environment of the planned `make` step. Then:
//! (a) the objects the plan predicts are exactly the `.o` files the build produced;
//! (b) the clean plan is exactly what a real `make clean` deletes;
//! (c) detecting and planning write nothing, before or after a build.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use espctl_protocol::plan::CleanScope;
use espctl_tests::repo_path;
use espctld::project::make::{self, ComponentSource, MakeInputs, MakePlan, MakeProject};

/// One entry of a directory snapshot: a directory, or a file with its size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File(u64, Option<SystemTime>),
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                walk(root, &p, out);
            } else {
                out.insert(rel, Entry::File(meta.len(), meta.modified().ok()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn files_of(snap: &BTreeMap<PathBuf, Entry>) -> BTreeMap<PathBuf, u64> {
    snap.iter()
        .filter_map(|(p, e)| match e {
            Entry::File(len, _) => Some((p.clone(), *len)),
            Entry::Dir => None,
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read fixture dir").flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("copy fixture file");
        }
    }
}

/// `CONFIG_X=value` lines of an sdkconfig (values as written, quotes kept).
fn read_sdkconfig(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn standin_idf() -> PathBuf {
    std::fs::canonicalize(repo_path("tests/fixtures/standin-idf")).expect("stand-in IDF")
}

/// A fixture copied into a temp dir.
struct Project {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    idf: PathBuf,
    config: HashMap<String, String>,
}

impl Project {
    fn copy(name: &str) -> Project {
        let tmp = tempfile::Builder::new()
            .prefix("espctl-make")
            .tempdir()
            .expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).expect("canonical tempdir");
        let dir = root.join(name);
        copy_dir(&repo_path(&format!("tests/fixtures/projects/{name}")), &dir);
        let config = read_sdkconfig(&dir.join("sdkconfig"));
        Project {
            _tmp: tmp,
            dir,
            idf: standin_idf(),
            config,
        }
    }
}

fn lookup(config: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |k: &str| config.get(k).cloned()
}

/// Run a command the way the daemon would run the planned step: its argv, cwd and env, with no
/// make state inherited from whatever runs the tests.
fn run(argv: &[String], cwd: &str, env: &BTreeMap<String, String>) {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(cwd)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("IDF_PATH")
        .envs(env)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?} (GNU make must be installed): {e}"));
    assert!(
        out.status.success(),
        "{argv:?} in {cwd} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Plan (asserting that nothing is written), build with the planned step, compare objects, then
/// `make clean` and compare with the clean plan. Returns the plan for fixture-specific checks.
fn build_and_check(p: &Project, build_dir: &Path) -> (MakeProject, MakePlan) {
    let cfg = lookup(&p.config);
    let inputs = MakeInputs {
        project_dir: &p.dir,
        idf_path: Some(&p.idf),
        config: &cfg,
        target: "esp32",
        build_dir,
        jobs: Some(2),
    };
    // The temp root holds the project and any build directory outside it.
    let root = p.dir.parent().expect("temp root").to_path_buf();
    let idf_before = snapshot(&p.idf);
    let tree_before = snapshot(&root);
    let detected = make::detect(&p.dir).expect("a legacy make project");
    let plan = make::plan(&detected, &inputs);
    let clean_unbuilt = make::clean_plan(&detected, &inputs, CleanScope::Clean);
    let full_unbuilt = make::clean_plan(&detected, &inputs, CleanScope::Fullclean);
    assert_eq!(
        snapshot(&root),
        tree_before,
        "(c) planning wrote into the project"
    );
    assert_eq!(
        snapshot(&p.idf),
        idf_before,
        "(c) planning wrote into the IDF"
    );
    assert!(
        !build_dir.exists(),
        "(c) planning created the build directory"
    );
    assert_eq!(clean_unbuilt.total_files, 0);
    assert_eq!(full_unbuilt.total_files, 0);
    assert_eq!(
        plan.warnings,
        Vec::<String>::new(),
        "fixture plans have no warnings"
    );

    // Build with exactly the planned step.
    assert_eq!(plan.pipeline.len(), 1);
    let step = &plan.pipeline[0];
    assert_eq!(step.name, "make");
    assert_eq!(&step.argv[..3], ["make", "-j2", "all"]);
    assert_eq!(step.env.get("IDF_PATH"), Some(&p.idf.display().to_string()));
    assert!(!step.reason.is_empty());
    run(&step.argv, &step.cwd, &step.env);

    // (a) predicted objects == objects built.
    let built = snapshot(build_dir);
    let built_objs: BTreeSet<PathBuf> = built
        .keys()
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .map(|p| build_dir.join(p))
        .collect();
    let predicted: BTreeSet<PathBuf> = plan
        .components
        .iter()
        .flat_map(|c| {
            c.objs
                .iter()
                .chain(&c.embed_objs)
                .map(|o| c.build_dir.join(o))
        })
        .collect();
    assert_eq!(
        predicted, built_objs,
        "(a) predicted objects vs the real build"
    );
    for a in &plan.expected_artifacts {
        assert!(
            a.is_file(),
            "expected artifact {} was not built",
            a.display()
        );
    }
    let built_component_dirs: BTreeSet<String> = std::fs::read_dir(build_dir)
        .expect("build dir")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "include")
        .collect();
    let planned_names: BTreeSet<String> = plan.components.iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        built_component_dirs, planned_names,
        "component build directories"
    );

    // (c) again, now that there is build output.
    let tree_built = snapshot(&root);
    let replanned = make::plan(&detected, &inputs);
    let clean = make::clean_plan(&detected, &inputs, CleanScope::Clean);
    let full = make::clean_plan(&detected, &inputs, CleanScope::Fullclean);
    assert_eq!(
        snapshot(&root),
        tree_built,
        "(c) planning after a build wrote something"
    );
    assert_eq!(replanned.components, plan.components);
    assert!(
        replanned.pipeline[0].reason.contains("rebuilds"),
        "{}",
        replanned.pipeline[0].reason
    );

    let build_files = files_of(&snapshot(build_dir));
    assert_eq!(full.total_files, build_files.len() as u64);
    assert_eq!(full.total_bytes, build_files.values().sum::<u64>());
    assert_eq!(full.would_delete.len(), 1);
    assert!(full.would_delete[0].ends_with('/'));

    // (b) the clean plan == what `make clean` deletes.
    let files_before = files_of(&snapshot(&root));
    let mut clean_argv = vec!["make".to_string(), "clean".to_string()];
    clean_argv.extend(step.argv[3..].iter().cloned());
    run(&clean_argv, &step.cwd, &step.env);
    let files_after = files_of(&snapshot(&root));
    // Paths relative to the project directory, as the clean plan shows them.
    let rel = |path: &Path| -> String { pathdiff(&root.join(path), &p.dir) };
    let deleted: BTreeSet<String> = files_before
        .keys()
        .filter(|f| !files_after.contains_key(*f))
        .map(|f| rel(f))
        .collect();
    let created: Vec<&PathBuf> = files_after
        .keys()
        .filter(|f| !files_before.contains_key(*f))
        .collect();
    assert!(created.is_empty(), "make clean created files: {created:?}");
    let existing: BTreeSet<String> = files_before.keys().map(|f| rel(f)).collect();
    let mut planned_existing = BTreeSet::new();
    for entry in &clean.would_delete {
        if let Some(dir) = entry.strip_suffix('/') {
            let prefix = format!("{dir}/");
            planned_existing.extend(existing.iter().filter(|f| f.starts_with(&prefix)).cloned());
        } else if existing.contains(entry) {
            planned_existing.insert(entry.clone());
        }
    }
    assert_eq!(
        planned_existing, deleted,
        "(b) clean plan vs what make clean deleted"
    );
    assert_eq!(clean.total_files, deleted.len() as u64);
    let deleted_bytes: u64 = files_before
        .iter()
        .filter(|(f, _)| deleted.contains(&rel(f)))
        .map(|(_, len)| len)
        .sum();
    assert_eq!(clean.total_bytes, deleted_bytes);
    let mut sorted = clean.would_delete.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted, clean.would_delete,
        "clean plan is sorted and de-duplicated"
    );
    (detected, plan)
}

/// `path` relative to `base` with `..` where needed (both absolute).
fn pathdiff(path: &Path, base: &Path) -> String {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out.display().to_string()
}

fn component<'p>(plan: &'p MakePlan, name: &str) -> &'p make::MakeComponent {
    plan.components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no component {name} in the plan"))
}

fn paths(v: &[&str]) -> Vec<PathBuf> {
    v.iter().map(PathBuf::from).collect()
}

#[test]
fn make_basic_builds_what_was_planned() {
    let p = Project::copy("make-basic");
    let build = p.dir.join("build");
    let (detected, plan) = build_and_check(&p, &build);
    assert_eq!(detected.project_name, "basic-app");
    assert_eq!(detected.makefile, p.dir.join("Makefile"));
    assert_eq!(detected.project_mk, "$(IDF_PATH)/make/project.mk");
    assert_eq!(plan.project_name, "basic-app");
    let names: Vec<&str> = plan.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["greet", "util", "main"]);
    let greet = component(&plan, "greet");
    assert_eq!(greet.source, ComponentSource::Project);
    assert_eq!(greet.srcdirs, paths(&["src"]));
    assert_eq!(greet.objs, paths(&["src/greet.o", "src/prefix.o"]));
    assert_eq!(
        greet.add_includedirs,
        vec![p.dir.join("components/greet/include")]
    );
    assert_eq!(
        greet.priv_includedirs,
        vec![p.dir.join("components/greet/private")]
    );
    let util = component(&plan, "util");
    assert_eq!(
        util.objs,
        paths(&["util.o", "twice.o", "scale.o", "table.o"])
    );
    assert_eq!(util.add_ldflags, ["-lutil"]);
    let main = component(&plan, "main");
    assert_eq!(main.objs, paths(&["main.o"]));
    assert!(
        plan.expected_artifacts
            .contains(&build.join("basic-app.elf"))
    );
}

#[test]
fn make_extra_clean_removes_generated_files() {
    let p = Project::copy("make-extra-clean");
    let build = p.dir.join("build");
    let (_, plan) = build_and_check(&p, &build);
    let logo = component(&plan, "logo");
    assert_eq!(
        logo.extra_clean,
        paths(&["logo.h", "listing/logo.lst", "*.tmp", "stale.log"])
    );
    assert_eq!(logo.embed_txtfiles, paths(&["banner.txt"]));
    assert_eq!(logo.embed_objs, paths(&["banner.txt.txt.o"]));
    assert!(logo.add_includedirs.is_empty());

    // Before the build, the clean plan lists the generated files it knows by name.
    let q = Project::copy("make-extra-clean");
    let cfg = lookup(&q.config);
    let build_q = q.dir.join("build");
    let inputs = MakeInputs {
        project_dir: &q.dir,
        idf_path: Some(&q.idf),
        config: &cfg,
        target: "esp32",
        build_dir: &build_q,
        jobs: Some(2),
    };
    let detected = make::detect(&q.dir).expect("detected");
    let clean = make::clean_plan(&detected, &inputs, CleanScope::Clean);
    for f in [
        "build/logo/logo.h",
        "build/logo/listing/logo.lst",
        "build/logo/stale.log",
        "build/logo/embed_txt/banner.txt",
        "build/logo/banner.txt.txt.o",
        "build/extra-clean.elf",
        "build/include/config/",
    ] {
        assert!(
            clean.would_delete.contains(&f.to_string()),
            "{f} missing from {:?}",
            clean.would_delete
        );
    }
}

#[test]
fn make_conditional_objects_follow_the_configuration() {
    let p = Project::copy("make-conditional");
    let build = p.dir.join("build");
    let (detected, plan) = build_and_check(&p, &build);
    let feature = component(&plan, "feature");
    assert_eq!(
        feature.objs,
        paths(&[
            "core.o",
            "fast.o",
            "nodebug.o",
            "backend/spi_backend.o",
            "level2.o",
            "turbo.o"
        ])
    );
    let drivers = component(&plan, "drivers");
    assert_eq!(drivers.srcdirs, paths(&[".", "uart", "spi", "i2c"]));
    assert_eq!(
        drivers.objs,
        paths(&[
            "drivers.o",
            "uart/uart_driver.o",
            "spi/spi_driver.o",
            "i2c/i2c_common.o"
        ])
    );

    // Another configuration, planned only.
    let mut other = p.config.clone();
    other.remove("CONFIG_FEATURE_FAST");
    other.insert("CONFIG_FEATURE_DEBUG".into(), "y".into());
    other.insert("CONFIG_FEATURE_BACKEND".into(), "\"i2c\"".into());
    other.insert("CONFIG_FEATURE_LEVEL".into(), "3".into());
    other.insert("CONFIG_DRIVERS_I2C".into(), "y".into());
    let cfg = lookup(&other);
    let inputs = MakeInputs {
        project_dir: &p.dir,
        idf_path: Some(&p.idf),
        config: &cfg,
        target: "esp32",
        build_dir: &build,
        jobs: Some(2),
    };
    let plan2 = make::plan(&detected, &inputs);
    assert_eq!(
        component(&plan2, "feature").objs,
        paths(&["core.o", "slow.o", "backend/i2c_backend.o", "level3.o"])
    );
    assert!(
        component(&plan2, "drivers")
            .objs
            .contains(&PathBuf::from("i2c/i2c_driver.o"))
    );
}

#[test]
fn make_extra_dirs_search_order_and_overrides() {
    let p = Project::copy("make-extra-dirs");
    let build = p.dir.join("build");
    let (detected, plan) = build_and_check(&p, &build);
    assert_eq!(
        detected.variables.get("SRCDIRS").map(String::as_str),
        Some("app")
    );
    assert_eq!(
        detected
            .variables
            .get("EXCLUDE_COMPONENTS")
            .map(String::as_str),
        Some("unwanted")
    );
    let names: Vec<&str> = plan.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["idfbase", "sensor", "shared", "solo", "app"]);
    let idf_make_components = p.idf.join("make/components");
    let shared = component(&plan, "shared");
    assert_eq!(shared.dir, p.dir.join("components/shared"));
    assert_eq!(shared.source, ComponentSource::Project);
    assert_eq!(
        shared.shadowed,
        vec![
            p.dir.join("vendor/shared"),
            idf_make_components.join("shared")
        ]
    );
    let sensor = component(&plan, "sensor");
    assert_eq!(sensor.dir, p.dir.join("vendor/sensor"));
    assert_eq!(sensor.source, ComponentSource::Extra);
    assert_eq!(sensor.shadowed, vec![idf_make_components.join("sensor")]);
    assert_eq!(sensor.depends, ["shared"]);
    assert_eq!(component(&plan, "solo").dir, p.dir.join("single/solo"));
    assert_eq!(component(&plan, "solo").source, ComponentSource::Extra);
    assert_eq!(component(&plan, "idfbase").source, ComponentSource::Idf);
    assert_eq!(component(&plan, "app").source, ComponentSource::Project);
    let pos = |n: &str| {
        plan.build_order
            .iter()
            .position(|x| x == n)
            .expect("in order")
    };
    assert!(pos("shared") < pos("sensor"));
}

#[test]
fn make_build_dir_outside_the_project() {
    let p = Project::copy("make-basic");
    let out = p.dir.parent().expect("temp root").join("out");
    let (_, plan) = build_and_check(&p, &out);
    let step = &plan.pipeline[0];
    assert_eq!(
        step.argv.last(),
        Some(&format!("BUILD_DIR_BASE={}", out.display()))
    );
    assert_eq!(plan.build_dir, out);
    assert!(!p.dir.join("build").exists());
}
