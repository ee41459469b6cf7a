//! Plans from long-lived planners (plain re-plans, and re-plans told what changed) against plans
//! of a fresh planner, across edits of every kind of input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use espctl_protocol::plan::{BuildPlan, BuildPlanParams, Profile};

use super::{PlanContext, Planner};

fn standin_idf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/standin-idf")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Sets a file's (or directory's) modification time.
fn set_mtime(path: &Path, t: SystemTime) {
    let f = std::fs::File::open(path).unwrap();
    f.set_times(std::fs::FileTimes::new().set_modified(t))
        .unwrap();
}

fn no_history(_: &Path, _: &str, _: Profile) -> Option<f64> {
    None
}

fn ctx() -> PlanContext<'static> {
    PlanContext {
        home: None,
        idf_paths: Vec::new(),
        default_idf_version: None,
        history: &no_history,
        ccache: false,
        sandbox: ("none".into(), None),
    }
}

/// A project with a SRC_DIRS component, a component whose sources follow its Kconfig options, and
/// a header nobody lists.
fn project(root: &Path) -> PathBuf {
    let p = root.join("proj");
    write(
        &p.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.22)\n\
         include($ENV{IDF_PATH}/tools/cmake/project.cmake)\n\
         project(watched)\n",
    );
    write(
        &p.join("main/CMakeLists.txt"),
        "idf_component_register(SRC_DIRS \"src\" INCLUDE_DIRS \"include\" REQUIRES comp)\n",
    );
    write(&p.join("main/src/main.c"), "int main(void) { return 0; }\n");
    write(&p.join("main/include/main.h"), "#pragma once\n");
    write(
        &p.join("components/comp/CMakeLists.txt"),
        "set(srcs \"comp.c\")\n\
         if(CONFIG_COMP_EXTRA)\n    list(APPEND srcs \"extra.c\")\nendif()\n\
         if(CONFIG_COMP_LEVEL EQUAL 4)\n    list(APPEND srcs \"level4.c\")\nendif()\n\
         idf_component_register(SRCS ${srcs} INCLUDE_DIRS \"include\")\n",
    );
    for f in ["comp.c", "zomp.c", "extra.c", "level4.c", "other.c"] {
        write(&p.join("components/comp").join(f), "\n");
    }
    write(&p.join("components/comp/include/comp.h"), "\n");
    write(
        &p.join("components/comp/Kconfig"),
        "menu \"comp\"\n\
         config COMP_EXTRA\n    bool \"extra\"\n    default n\n\
         config COMP_LEVEL\n    int \"level\"\n    default 3\n\
         endmenu\n",
    );
    p
}

fn params(project: &Path) -> BuildPlanParams {
    BuildPlanParams {
        path: project.display().to_string(),
        target: Some("esp32c3".into()),
        env: BTreeMap::from([(
            "IDF_PATH".to_string(),
            std::fs::canonicalize(standin_idf())
                .unwrap()
                .display()
                .to_string(),
        )]),
        ..BuildPlanParams::default()
    }
}

fn fresh(params: &BuildPlanParams) -> BuildPlan {
    Planner::new().plan(params, &ctx()).unwrap()
}

fn sources(plan: &BuildPlan, component: &str) -> Vec<String> {
    let c = plan
        .components
        .iter()
        .find(|c| c.name == component)
        .unwrap_or_else(|| panic!("{component} is not in the plan"));
    c.sources
        .iter()
        .map(|s| {
            Path::new(s)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn replans_told_what_changed_equal_fresh_plans_after_every_kind_of_edit() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let p = project(&root);
    let params = params(&p);
    let ctx = ctx();
    let watched = Planner::new();
    let replanned = Planner::new();

    let first = fresh(&params);
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(sources(&first, "main"), ["main.c"]);
    assert_eq!(sources(&first, "comp"), ["comp.c"]);
    // No previous plan of these params: a full plan.
    assert_eq!(
        watched.plan_with_changes(&params, &ctx, &[]).unwrap(),
        first
    );
    assert_eq!(replanned.plan(&params, &ctx).unwrap(), first);

    type Edit = Box<dyn Fn(&Path) -> Vec<PathBuf>>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "a source file added under SRC_DIRS",
            Box::new(|p: &Path| {
                write(&p.join("main/src/added.c"), "\n");
                vec![p.join("main/src/added.c"), p.join("main/src")]
            }),
        ),
        (
            "a CMakeLists edited",
            Box::new(|p: &Path| {
                let f = p.join("components/comp/CMakeLists.txt");
                let text = std::fs::read_to_string(&f).unwrap();
                write(
                    &f,
                    &text.replace("set(srcs \"comp.c\")", "set(srcs \"comp.c\" \"other.c\")"),
                );
                vec![f]
            }),
        ),
        (
            "sdkconfig edited",
            Box::new(|p: &Path| {
                write(&p.join("sdkconfig"), "CONFIG_COMP_EXTRA=y\n");
                vec![p.join("sdkconfig"), p.to_path_buf()]
            }),
        ),
        (
            "a Kconfig edited",
            Box::new(|p: &Path| {
                let f = p.join("components/comp/Kconfig");
                let text = std::fs::read_to_string(&f).unwrap();
                write(&f, &text.replace("default 3", "default 4"));
                vec![f]
            }),
        ),
        (
            "a header edited",
            Box::new(|p: &Path| {
                let f = p.join("main/include/main.h");
                write(&f, "#pragma once\nint helper(void);\n");
                vec![f]
            }),
        ),
        (
            "a file deleted",
            Box::new(|p: &Path| {
                std::fs::remove_file(p.join("main/src/added.c")).unwrap();
                vec![p.join("main/src/added.c"), p.join("main/src")]
            }),
        ),
        (
            "a component directory added",
            Box::new(|p: &Path| {
                write(
                    &p.join("components/late/CMakeLists.txt"),
                    "idf_component_register(SRCS \"late.c\")\n",
                );
                write(&p.join("components/late/late.c"), "\n");
                vec![p.join("components/late"), p.join("components")]
            }),
        ),
        ("nothing", Box::new(|_: &Path| Vec::new())),
    ];
    for (what, edit) in &edits {
        let changed = edit(&p);
        let want = fresh(&params);
        assert_eq!(
            watched.plan_with_changes(&params, &ctx, &changed).unwrap(),
            want,
            "plan_with_changes after {what}"
        );
        assert_eq!(
            replanned.plan(&params, &ctx).unwrap(),
            want,
            "plan after {what}"
        );
    }
    let last = fresh(&params);
    assert_eq!(
        sources(&last, "main"),
        ["main.c"],
        "the deleted source is gone"
    );
    assert_eq!(
        sources(&last, "comp"),
        ["comp.c", "other.c", "extra.c", "level4.c"]
    );
    assert!(last.build_order.contains(&"late".to_string()));
}

#[test]
fn replans_told_what_changed_reuse_what_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let p = project(&root);
    let params = params(&p);
    let ctx = ctx();
    let watched = Planner::new();
    let first = watched.plan_with_changes(&params, &ctx, &[]).unwrap();
    // An edit nobody reports is not looked for: the previous answer stands. (A watcher that
    // misses events gets what it asked for; this shows the file was not read again.)
    let f = p.join("components/comp/CMakeLists.txt");
    let text = std::fs::read_to_string(&f).unwrap();
    write(
        &f,
        &text.replace("set(srcs \"comp.c\")", "set(srcs \"comp.c\" \"other.c\")"),
    );
    let evaluations = watched.evaluator.stats().evaluations;
    assert_eq!(
        watched.plan_with_changes(&params, &ctx, &[]).unwrap(),
        first
    );
    assert_eq!(watched.evaluator.stats().evaluations, evaluations);
    // Reported, it is evaluated again (both passes), and nothing else is.
    let plan = watched
        .plan_with_changes(&params, &ctx, std::slice::from_ref(&f))
        .unwrap();
    assert_eq!(sources(&plan, "comp"), ["comp.c", "other.c"]);
    assert_eq!(watched.evaluator.stats().evaluations, evaluations + 2);
    assert_eq!(plan, fresh(&params));
    // Other params (another target) have no previous plan: a full plan.
    let mut other = params.clone();
    other.target = Some("esp32".into());
    assert_eq!(
        watched.plan_with_changes(&other, &ctx, &[]).unwrap(),
        fresh(&other)
    );
}

#[test]
fn edits_of_files_no_evaluation_read_reuse_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let p = project(&root);
    // A component whose sources follow the content of a file it reads.
    write(
        &p.join("components/ver/CMakeLists.txt"),
        "file(READ \"${CMAKE_CURRENT_LIST_DIR}/version.txt\" v)\n\
         string(STRIP \"${v}\" v)\n\
         idf_component_register(SRCS \"v${v}.c\")\n",
    );
    write(&p.join("components/ver/version.txt"), "1\n");
    for f in ["v1.c", "v2.c"] {
        write(&p.join("components/ver").join(f), "\n");
    }
    let params = params(&p);
    let ctx = ctx();
    let watched = Planner::new();
    let first = watched.plan_with_changes(&params, &ctx, &[]).unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(sources(&first, "ver"), ["v1.c"]);

    // Sources and headers: listed or included, never read by an evaluation. The plan is handed
    // out again without asking the evaluator anything.
    let stats = watched.evaluator.stats();
    for f in [
        "main/src/main.c",
        "main/include/main.h",
        "components/comp/comp.c",
    ] {
        let f = p.join(f);
        write(&f, "int edited;\n");
        assert_eq!(
            watched
                .plan_with_changes(&params, &ctx, std::slice::from_ref(&f))
                .unwrap(),
            fresh(&params),
            "after an edit of {}",
            f.display()
        );
    }
    assert_eq!(watched.evaluator.stats(), stats, "the evaluator was asked");

    // The past build durations are not an input of the plan's files: they are asked again.
    let twelve = |_: &Path, _: &str, _: Profile| Some(12.0);
    let with_history = PlanContext {
        history: &twelve,
        ..super::tests::ctx()
    };
    let f = p.join("main/src/main.c");
    write(&f, "int edited_again;\n");
    let plan = watched
        .plan_with_changes(&params, &with_history, std::slice::from_ref(&f))
        .unwrap();
    assert_eq!(plan.estimated_duration_secs, Some(12.0));
    assert_eq!(watched.evaluator.stats(), stats);

    // A file an evaluation read, even with an unremarkable name: planned.
    let version = p.join("components/ver/version.txt");
    write(&version, "2\n");
    let plan = watched
        .plan_with_changes(&params, &ctx, std::slice::from_ref(&version))
        .unwrap();
    assert_eq!(sources(&plan, "ver"), ["v2.c"]);
    assert_eq!(plan, fresh(&params));
    assert!(watched.evaluator.stats().evaluations > stats.evaluations);

    // A file that appeared (its directory is reported too): planned.
    write(&p.join("main/src/late.c"), "\n");
    let plan = watched
        .plan_with_changes(
            &params,
            &ctx,
            &[p.join("main/src/late.c"), p.join("main/src")],
        )
        .unwrap();
    assert_eq!(sources(&plan, "main"), ["late.c", "main.c"]);
    assert_eq!(plan, fresh(&params));

    // Another sandbox or ccache setting changes the commands: planned.
    let with_ccache = PlanContext {
        ccache: true,
        ..super::tests::ctx()
    };
    write(&f, "int edited_once_more;\n");
    let plan = watched
        .plan_with_changes(&params, &with_ccache, std::slice::from_ref(&f))
        .unwrap();
    assert_eq!(plan, Planner::new().plan(&params, &with_ccache).unwrap());
    assert_ne!(plan, fresh(&params));
}

#[test]
fn plain_replans_see_same_size_edits_within_the_same_second() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let p = project(&root);
    let params = params(&p);
    let ctx = ctx();
    let planner = Planner::new();
    let f = p.join("components/comp/CMakeLists.txt");
    let src_dir = p.join("main/src");
    // Settled inputs: the stat-only checks are the ones in use.
    let old = SystemTime::now() - Duration::from_secs(60);
    for entry in walk(&p) {
        set_mtime(&entry, old);
    }
    let first = planner.plan(&params, &ctx).unwrap();
    assert_eq!(sources(&first, "comp"), ["comp.c"]);

    // The same size, one second later: the stamp moved, the content is compared.
    let text = std::fs::read_to_string(&f).unwrap();
    let edited = text.replace("\"comp.c\")", "\"zomp.c\")");
    assert_eq!(edited.len(), text.len());
    write(&f, &edited);
    set_mtime(&f, old + Duration::from_secs(1));
    let plan = planner.plan(&params, &ctx).unwrap();
    assert_eq!(sources(&plan, "comp"), ["zomp.c"]);
    assert_eq!(plan, fresh(&params));

    // An edit within the racy window of the read: the stamp is not trusted, the content is hashed.
    let planner = Planner::new();
    write(&f, &text);
    let before = planner.plan(&params, &ctx).unwrap();
    assert_eq!(sources(&before, "comp"), ["comp.c"]);
    let t = std::fs::metadata(&f).unwrap().modified().unwrap();
    write(&f, &edited);
    set_mtime(&f, t);
    let plan = planner.plan(&params, &ctx).unwrap();
    assert_eq!(sources(&plan, "comp"), ["zomp.c"]);

    // A source added to a settled SRC_DIRS directory whose time is then put back within the
    // racy window of the listing: listed again.
    let planner = Planner::new();
    set_mtime(&src_dir, SystemTime::now());
    let before = planner.plan(&params, &ctx).unwrap();
    assert_eq!(sources(&before, "main"), ["main.c"]);
    let t = std::fs::metadata(&src_dir).unwrap().modified().unwrap();
    write(&src_dir.join("new.c"), "\n");
    set_mtime(&src_dir, t);
    let plan = planner.plan(&params, &ctx).unwrap();
    assert_eq!(sources(&plan, "main"), ["main.c", "new.c"]);
    assert_eq!(plan, fresh(&params));

    // A settled directory gains an entry: its time moves, so it is listed again.
    for entry in walk(&p) {
        set_mtime(&entry, old);
    }
    let planner = Planner::new();
    planner.plan(&params, &ctx).unwrap();
    std::fs::remove_file(src_dir.join("new.c")).unwrap();
    let plan = planner.plan(&params, &ctx).unwrap();
    assert_eq!(sources(&plan, "main"), ["main.c"]);
    assert_eq!(plan, fresh(&params));
}

/// Every file and directory under `dir`, `dir` included.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            for e in std::fs::read_dir(&out[i]).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

#[test]
fn a_fatal_error_before_the_registration_stops_the_plan_once() {
    let root = tempfile::tempdir().unwrap();
    let p = project(root.path());
    // Reached in early expansion (as ESP-IDF runs every component's CMakeLists up to its
    // registration), even though nothing requires the component.
    write(
        &p.join("components/unused/CMakeLists.txt"),
        "message(FATAL_ERROR \"unused needs a vendor SDK\")\n\
         idf_component_register(SRCS \"u.c\")\n",
    );
    write(&p.join("components/unused/u.c"), "\n");
    let plan = fresh(&params(&p));
    let hits: Vec<_> = plan
        .errors
        .iter()
        .filter(|e| e.message.contains("unused needs a vendor SDK"))
        .collect();
    assert_eq!(hits.len(), 1, "{:?}", plan.errors);
    assert_eq!(hits[0].line, Some(1));

    // A component in the build reaches it in both passes; it is still reported once.
    write(
        &p.join("components/unused/CMakeLists.txt"),
        "idf_component_register(SRCS \"u.c\")\n",
    );
    write(
        &p.join("components/comp/CMakeLists.txt"),
        "message(FATAL_ERROR \"comp is broken\")\n\
         idf_component_register(SRCS \"comp.c\" INCLUDE_DIRS \"include\")\n",
    );
    let plan = fresh(&params(&p));
    let hits = plan
        .errors
        .iter()
        .filter(|e| e.message.contains("comp is broken"))
        .count();
    assert_eq!(hits, 1, "{:?}", plan.errors);
    assert!(!plan.errors.iter().any(|e| e.message.contains("vendor SDK")));
}

#[test]
fn a_reusable_plan_is_affected_by_what_it_read_however_spelled() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    for f in [
        "ext/comp/version.txt",
        "proj/main/main.c",
        "proj/main/sdkconfig.defaults.extra",
        "proj/main/Kconfig.projbuild",
        "proj/build/config/sdkconfig.h",
        "idf/tools/cmake/version.cmake",
        "idf/components/esp_common/include/esp_idf_version.h",
    ] {
        write(&root.join(f), "\n");
    }
    let reuse = super::Reusable {
        plan: fresh(&params(&project(&root))),
        reads: super::Reads {
            // As an evaluation of a component found through `../ext` spells it.
            files: vec![root.join("proj/../ext/comp/version.txt")],
            volatile: vec![root.join("proj/build"), root.join("idf/tools")],
        },
        ccache: false,
        sandbox: ("none".into(), None),
    };
    assert!(reuse.unaffected_by(&root.join("proj/main/main.c")));
    assert!(reuse.unaffected_by(&root.join("proj/main/../main/main.c")));
    for affecting in [
        "ext/comp/version.txt",
        "proj/main/sdkconfig.defaults.extra",
        "proj/main/Kconfig.projbuild",
        "proj/build/config/sdkconfig.h",
        "idf/tools/cmake/version.cmake",
        "idf/components/esp_common/include/esp_idf_version.h",
        // Not a file (a directory whose entries changed), or gone.
        "proj/main",
        "proj/main/gone.c",
    ] {
        assert!(!reuse.unaffected_by(&root.join(affecting)), "{affecting}");
    }
}
