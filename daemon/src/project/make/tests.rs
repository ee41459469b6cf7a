//! Tests of detection, the project and component rules, the build plan and the clean plan, on
//! projects written into temp directories (and the repository's make fixtures, read-only).

use std::collections::HashMap;

use super::*;

/// A temp directory holding files; a path ending in `/` is an empty directory.
struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

fn tree(files: &[(&str, &str)]) -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    for (path, content) in files {
        let p = root.join(path);
        if path.ends_with('/') {
            std::fs::create_dir_all(&p).unwrap();
            continue;
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    Tree { _tmp: tmp, root }
}

const MAKEFILE: &str = "PROJECT_NAME := app\ninclude $(IDF_PATH)/make/project.mk\n";

/// Plan `proj` (relative to the tree) with `idf` (relative) and CONFIG values.
fn plan_with(t: &Tree, proj: &str, idf: &str, config: &[(&str, &str)]) -> MakePlan {
    let dir = t.root.join(proj);
    let idf = t.root.join(idf);
    let cfg: HashMap<String, String> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = |k: &str| cfg.get(k).cloned();
    let build = dir.join("build");
    let inputs = MakeInputs {
        project_dir: &dir,
        idf_path: Some(&idf),
        config: &lookup,
        target: "esp32",
        build_dir: &build,
        jobs: Some(3),
    };
    let project = detect(&dir).expect("detected");
    plan(&project, &inputs)
}

fn names(plan: &MakePlan) -> Vec<&str> {
    plan.components.iter().map(|c| c.name.as_str()).collect()
}

fn comp<'p>(plan: &'p MakePlan, name: &str) -> &'p MakeComponent {
    plan.components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no component {name}: {:?}", names(plan)))
}

fn pb(v: &[&str]) -> Vec<PathBuf> {
    v.iter().map(PathBuf::from).collect()
}

fn has_warning(plan: &MakePlan, needle: &str) -> bool {
    plan.warnings.iter().any(|w| w.contains(needle))
}

// --- detection ------------------------------------------------------------------------------

#[test]
fn detects_the_include_of_project_mk() {
    for include in [
        "include $(IDF_PATH)/make/project.mk",
        "include ${IDF_PATH}/make/project.mk",
        "-include $(IDF_PATH)/make/project.mk",
        "include /opt/esp-idf/make/project.mk",
        "IDF_MK := $(IDF_PATH)/make\ninclude $(IDF_MK)/project.mk",
    ] {
        let t = tree(&[("p/Makefile", &format!("PROJECT_NAME := x\n{include}\n"))]);
        let p = detect(&t.root.join("p")).unwrap_or_else(|| panic!("not detected: {include}"));
        assert_eq!(p.project_name, "x");
        assert_eq!(p.include_line, if include.contains('\n') { 3 } else { 2 });
    }
}

#[test]
fn not_detected() {
    for makefile in [
        "# include $(IDF_PATH)/make/project.mk\nall:\n",
        "ifdef NEVER\ninclude $(IDF_PATH)/make/project.mk\nendif\n",
        "all:\n\t$(MAKE) -f $(IDF_PATH)/make/project.mk\n",
        "include $(IDF_PATH)/tools/cmake/project.cmake\n",
    ] {
        let t = tree(&[("p/Makefile", makefile)]);
        assert!(detect(&t.root.join("p")).is_none(), "{makefile}");
    }
    let t = tree(&[("p/CMakeLists.txt", "project(x)\n")]);
    assert!(detect(&t.root.join("p")).is_none());
    assert!(detect(&t.root.join("missing")).is_none());
}

#[test]
fn gnumakefile_is_read_first_and_name_defaults_to_the_directory() {
    let t = tree(&[
        (
            "my-proj/GNUmakefile",
            "include $(IDF_PATH)/make/project.mk\n",
        ),
        (
            "my-proj/Makefile",
            "PROJECT_NAME := other\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
    ]);
    let p = detect(&t.root.join("my-proj")).unwrap();
    assert_eq!(p.makefile, t.root.join("my-proj/GNUmakefile"));
    assert_eq!(p.project_name, "my-proj");
}

#[test]
fn detection_records_variables_before_the_include() {
    let t = tree(&[(
        "p/Makefile",
        "\
PROJECT_NAME := demo
EXTRA_COMPONENT_DIRS = $(PROJECT_PATH)/ext $(IDF_PATH)/examples/common
SRCDIRS := app
EXCLUDE_COMPONENTS := \"a b\"
BUILD_DIR_BASE := $(abspath out)
include $(IDF_PATH)/make/project.mk
AFTER := ignored
",
    )]);
    let dir = t.root.join("p");
    let p = detect(&dir).unwrap();
    let v = &p.variables;
    assert_eq!(v["PROJECT_NAME"], "demo");
    assert_eq!(
        v["EXTRA_COMPONENT_DIRS"],
        format!("{}/ext $(IDF_PATH)/examples/common", dir.display())
    );
    assert_eq!(v["SRCDIRS"], "app");
    assert_eq!(v["EXCLUDE_COMPONENTS"], "\"a b\"");
    assert_eq!(v["BUILD_DIR_BASE"], format!("{}/out", dir.display()));
    assert!(!v.contains_key("AFTER"));
    assert_eq!(p.project_mk, "$(IDF_PATH)/make/project.mk");
}

// --- project-level rules --------------------------------------------------------------------

#[test]
fn default_component_dirs_order_and_override_rule() {
    let t = tree(&[
        (
            "p/Makefile",
            "PROJECT_NAME := app\nEXTRA_COMPONENT_DIRS := $(CURDIR)/../extra\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
        ("p/sdkconfig", ""),
        ("p/main/component.mk", ""),
        ("p/components/dup/component.mk", ""),
        ("p/components/proj_only/component.mk", ""),
        ("extra/dup/component.mk", ""),
        ("extra/ext_dup/component.mk", ""),
        ("idf/components/dup/component.mk", ""),
        ("idf/components/ext_dup/component.mk", ""),
        ("idf/components/idf_only/component.mk", ""),
        ("idf/components/no_mk/x.c", ""),
        ("idf/components/.hidden/component.mk", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert_eq!(
        names(&plan),
        ["dup", "ext_dup", "idf_only", "proj_only", "main"]
    );
    assert_eq!(
        plan.component_dirs,
        vec![
            t.root.join("p/components"),
            t.root.join("extra"),
            t.root.join("idf/components")
        ]
    );
    let dup = comp(&plan, "dup");
    assert_eq!(dup.dir, t.root.join("p/components/dup"));
    assert_eq!(dup.source, ComponentSource::Project);
    assert_eq!(
        dup.shadowed,
        vec![t.root.join("extra/dup"), t.root.join("idf/components/dup")]
    );
    let ext = comp(&plan, "ext_dup");
    assert_eq!(ext.source, ComponentSource::Extra);
    assert_eq!(ext.shadowed, vec![t.root.join("idf/components/ext_dup")]);
    assert_eq!(comp(&plan, "idf_only").source, ComponentSource::Idf);
    assert_eq!(comp(&plan, "main").source, ComponentSource::Project);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn component_dirs_replaces_the_search_list() {
    let t = tree(&[
        (
            "p/Makefile",
            "COMPONENT_DIRS := $(CURDIR)/mine $(CURDIR)/single\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
        ("p/main/component.mk", ""),
        ("p/components/ignored/component.mk", ""),
        ("p/mine/a/component.mk", ""),
        ("p/single/component.mk", ""),
        ("idf/components/ignored_too/component.mk", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert_eq!(names(&plan), ["a", "single", "main"]);
    assert_eq!(comp(&plan, "single").dir, t.root.join("p/single"));
}

#[test]
fn srcdirs_components_and_clashes() {
    let t = tree(&[
        (
            "p/Makefile",
            "SRCDIRS := app lib nomk\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
        ("p/main/component.mk", ""),
        ("p/app/component.mk", ""),
        ("p/lib/component.mk", ""),
        ("p/nomk/x.c", ""),
        ("p/components/lib/component.mk", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert_eq!(names(&plan), ["lib", "app"]);
    assert_eq!(comp(&plan, "lib").dir, t.root.join("p/components/lib"));
    assert_eq!(comp(&plan, "lib").shadowed, vec![t.root.join("p/lib")]);
    assert!(has_warning(
        &plan,
        "SRCDIRS component lib has the same name"
    ));
    assert!(has_warning(&plan, "SRCDIRS entry nomk has no component.mk"));
}

#[test]
fn components_and_exclude_components() {
    let t = tree(&[
        (
            "p/Makefile",
            "COMPONENTS := zeta alpha ghost\nEXCLUDE_COMPONENTS := \"alpha\"\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
        ("p/main/component.mk", ""),
        ("idf/components/alpha/component.mk", ""),
        ("idf/components/beta/component.mk", ""),
        ("idf/components/zeta/component.mk", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert_eq!(names(&plan), ["zeta", "main"]);
    assert!(has_warning(&plan, "COMPONENTS names `ghost`"));
}

#[test]
fn project_name_build_dir_and_idf_path_from_the_makefile() {
    let t = tree(&[
        (
            "p/Makefile",
            "IDF_PATH := $(CURDIR)/../other-idf\nBUILD_DIR_BASE := $(CURDIR)/build\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
        ("p/main/component.mk", ""),
        ("other-idf/components/from_other/component.mk", ""),
        ("idf/components/from_env/component.mk", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert_eq!(plan.project_name, "p");
    assert_eq!(plan.idf_path, Some(t.root.join("other-idf")));
    assert_eq!(names(&plan), ["from_other", "main"]);
    assert_eq!(plan.build_dir, t.root.join("p/build"));
    assert_eq!(plan.pipeline[0].argv, ["make", "-j3", "all"]);
}

#[test]
fn another_build_dir_goes_on_the_command_line() {
    let t = tree(&[
        (
            "p/Makefile",
            "BUILD_DIR_BASE := $(CURDIR)/out\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
        ("p/main/component.mk", ""),
        ("p/main/m.c", ""),
        ("idf/components/", ""),
    ]);
    let dir = t.root.join("p");
    let idf = t.root.join("idf");
    let cfg = |_: &str| None;
    let project = detect(&dir).unwrap();
    // The Makefile's own choice: nothing to pass.
    let out = dir.join("out");
    let inputs = MakeInputs {
        project_dir: &dir,
        idf_path: Some(&idf),
        config: &cfg,
        target: "esp32",
        build_dir: &out,
        jobs: Some(1),
    };
    let plan1 = plan(&project, &inputs);
    assert_eq!(plan1.pipeline[0].argv, ["make", "-j1", "all"]);
    assert_eq!(plan1.build_dir, out);
    // Another directory: BUILD_DIR_BASE=... on the command line, which wins over the Makefile.
    let elsewhere = t.root.join("elsewhere");
    let inputs = MakeInputs {
        build_dir: &elsewhere,
        ..inputs
    };
    let plan2 = plan(&project, &inputs);
    assert_eq!(
        plan2.pipeline[0].argv,
        [
            "make".to_string(),
            "-j1".to_string(),
            "all".to_string(),
            format!("BUILD_DIR_BASE={}", elsewhere.display())
        ]
    );
    assert_eq!(plan2.build_dir, elsewhere);
    assert_eq!(comp(&plan2, "main").build_dir, elsewhere.join("main"));
    assert!(has_warning(&plan2, "overrides it"));
    let clean = clean_plan(&project, &inputs, CleanScope::Clean);
    assert!(
        clean
            .would_delete
            .contains(&"../elsewhere/main/m.o".to_string())
    );
}

#[test]
fn pipeline_step_env_and_reason() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    let step = &plan.pipeline[0];
    assert_eq!(step.name, "make");
    assert_eq!(step.cwd, t.root.join("p").display().to_string());
    assert_eq!(
        step.env["IDF_PATH"],
        t.root.join("idf").display().to_string()
    );
    assert_eq!(step.env["BATCH_BUILD"], "1");
    assert!(
        step.reason.contains("1 component (main)"),
        "{}",
        step.reason
    );
    assert!(
        step.reason.contains("no build output yet"),
        "{}",
        step.reason
    );
    assert!(has_warning(&plan, "sdkconfig is missing"));
    assert_eq!(
        plan.expected_artifacts,
        vec![
            t.root.join("p/build/main/libmain.a"),
            t.root.join("p/build/app.elf"),
            t.root.join("p/build/app.bin"),
            t.root.join("p/build/app.map"),
        ]
    );
}

#[test]
fn environment_problems_are_warnings() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", ""),
        ("p/sdkconfig", ""),
    ]);
    let dir = t.root.join("p");
    let cfg = |_: &str| None;
    let build = dir.join("build");
    let project = detect(&dir).unwrap();
    let inputs = MakeInputs {
        project_dir: &dir,
        idf_path: None,
        config: &cfg,
        target: "esp32c3",
        build_dir: &build,
        jobs: None,
    };
    let plan = plan(&project, &inputs);
    assert!(has_warning(&plan, "IDF_PATH is not set"));
    assert!(has_warning(&plan, "target esp32c3 is not supported"));
    assert!(!plan.pipeline[0].env.contains_key("IDF_PATH"));
    assert!(plan.pipeline[0].argv[1].starts_with("-j"));
    assert_eq!(names(&plan), ["main"]);
}

// --- component rules ------------------------------------------------------------------------

#[test]
fn empty_component_mk_uses_every_default() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", ""),
        ("p/main/b.c", ""),
        ("p/main/a.c", ""),
        ("p/main/z.cpp", ""),
        ("p/main/y.cc", ""),
        ("p/main/x.S", ""),
        ("p/main/w.s", ""),
        ("p/main/h.h", ""),
        ("p/main/sub/ignored.c", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    let main = comp(&plan, "main");
    assert_eq!(main.srcdirs, pb(&["."]));
    assert_eq!(main.objs, pb(&["a.o", "b.o", "z.o", "y.o", "x.o"]));
    assert_eq!(main.add_includedirs, vec![t.root.join("p/main/include")]);
    assert!(main.priv_includedirs.is_empty());
    assert_eq!(main.add_ldflags, ["-lmain"]);
    assert_eq!(main.library, t.root.join("p/build/main/libmain.a"));
    assert_eq!(main.build_dir, t.root.join("p/build/main"));
    assert!(main.depends.is_empty() && main.extra_clean.is_empty() && main.embed_files.is_empty());
    assert!(!main.own_build_target && !main.own_clean_target);
}

#[test]
fn component_variables_are_read() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/sdkconfig", ""),
        ("p/main/component.mk", "COMPONENT_DEPENDS := lib\n"),
        (
            "p/components/lib/component.mk",
            "\
COMPONENT_SRCDIRS := src src/more
COMPONENT_ADD_INCLUDEDIRS := include include/../api
COMPONENT_PRIV_INCLUDEDIRS = priv
COMPONENT_EXTRA_INCLUDES := $(IDF_PATH)/extra
COMPONENT_ADD_LDFLAGS := -L$(COMPONENT_PATH)/bin -lprebuilt -l$(COMPONENT_NAME)
COMPONENT_ADD_LINKER_DEPS := bin/libprebuilt.a
COMPONENT_EMBED_FILES := certs/ca.der
COMPONENT_EMBED_TXTFILES := page.html other/readme.txt
COMPONENT_EXTRA_CLEAN := gen.h
",
        ),
        ("p/components/lib/src/a.c", ""),
        ("p/components/lib/src/more/b.c", ""),
        ("p/components/lib/src/more/c.cpp", ""),
        ("p/components/lib/certs/ca.der", ""),
        ("p/components/lib/page.html", ""),
        ("p/components/lib/other/readme.txt", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    let lib = comp(&plan, "lib");
    let d = t.root.join("p/components/lib");
    assert_eq!(lib.srcdirs, pb(&["src", "src/more"]));
    assert_eq!(lib.objs, pb(&["src/a.o", "src/more/b.o", "src/more/c.o"]));
    assert_eq!(lib.add_includedirs, vec![d.join("include"), d.join("api")]);
    assert_eq!(lib.priv_includedirs, vec![d.join("priv")]);
    assert_eq!(
        lib.extra_includes,
        [format!("{}/extra", t.root.join("idf").display())]
    );
    assert_eq!(
        lib.add_ldflags,
        [
            format!("-L{}/bin", d.display()),
            "-lprebuilt".to_string(),
            "-llib".to_string()
        ]
    );
    assert_eq!(lib.add_linker_deps, vec![d.join("bin/libprebuilt.a")]);
    assert_eq!(lib.embed_files, pb(&["certs/ca.der"]));
    assert_eq!(lib.embed_txtfiles, pb(&["page.html", "other/readme.txt"]));
    assert_eq!(
        lib.embed_objs,
        pb(&["ca.der.bin.o", "page.html.txt.o", "readme.txt.txt.o"])
    );
    assert_eq!(lib.extra_clean, pb(&["gen.h"]));
    assert_eq!(comp(&plan, "main").depends, ["lib"]);
    assert_eq!(plan.build_order, ["lib", "main"]);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn objects_chosen_by_configuration() {
    let mk = "\
COMPONENT_OBJS := base.o
ifdef CONFIG_FAST
COMPONENT_OBJS += fast.o
else
COMPONENT_OBJS += slow.o
endif
ifeq ($(CONFIG_BUS),\"spi\")
COMPONENT_OBJS += ./bus/spi.o
endif
ifneq ($(CONFIG_LEVEL),0)
COMPONENT_OBJS += level$(CONFIG_LEVEL).o
endif
COMPONENT_SRCDIRS := . bus
";
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", mk),
        ("p/main/base.c", ""),
        ("p/main/fast.c", ""),
        ("p/main/slow.c", ""),
        ("p/main/level0.c", ""),
        ("p/main/level2.c", ""),
        ("p/main/bus/spi.c", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(
        &t,
        "p",
        "idf",
        &[
            ("CONFIG_FAST", "y"),
            ("CONFIG_BUS", "\"spi\""),
            ("CONFIG_LEVEL", "2"),
        ],
    );
    assert_eq!(
        comp(&plan, "main").objs,
        pb(&["base.o", "fast.o", "bus/spi.o", "level2.o"])
    );
    let plan = plan_with(&t, "p", "idf", &[("CONFIG_LEVEL", "0")]);
    assert_eq!(comp(&plan, "main").objs, pb(&["base.o", "slow.o"]));
}

#[test]
fn empty_component_objs_means_the_default() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", "COMPONENT_OBJS :=\n"),
        ("p/main/m.c", ""),
        ("idf/components/", ""),
    ]);
    assert_eq!(
        comp(&plan_with(&t, "p", "idf", &[]), "main").objs,
        pb(&["m.o"])
    );
}

#[test]
fn object_exclusion_helpers() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        (
            "p/main/component.mk",
            "\
COMPONENT_OBJEXCLUDE := ./gone.o
$(call compile_only_if,$(CONFIG_YES),kept.o)
$(call compile_only_if,$(CONFIG_NO),dropped.o)
$(call compile_only_if_not,$(CONFIG_NO),kept_too.o)
",
        ),
        ("p/main/gone.c", ""),
        ("p/main/kept.c", ""),
        ("p/main/dropped.c", ""),
        ("p/main/kept_too.c", ""),
        ("p/main/other.c", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[("CONFIG_YES", "y")]);
    assert_eq!(
        comp(&plan, "main").objs,
        pb(&["kept.o", "kept_too.o", "other.o"])
    );
}

#[test]
fn component_context_matches_the_sub_make() {
    let t = tree(&[
        (
            "p/Makefile",
            "export SHARED := from-project\nLOCAL := not-exported\ninclude $(IDF_PATH)/make/project.mk\n",
        ),
        (
            "p/main/component.mk",
            "\
COMPONENT_OBJS := $(if $(SHARED),shared.o) $(if $(LOCAL),local.o)
COMPONENT_OBJS += $(if $(filter main other,$(COMPONENTS)),both.o)
COMPONENT_OBJS += $(notdir $(COMPONENT_BUILD_DIR)).o $(PROJECT_NAME).o
COMPONENT_OBJS += $(patsubst %.c,%.o,$(wildcard *.c))
COMPONENT_OBJS += $(words $(wildcard $(COMPONENT_PATH)/*.c)).o
",
        ),
        ("p/main/x.c", ""),
        ("p/main/y.c", ""),
        ("p/components/other/component.mk", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    // LOCAL is not exported; $(wildcard *.c) looks in the (empty) build directory.
    assert_eq!(
        comp(&plan, "main").objs,
        pb(&["shared.o", "both.o", "main.o", "p.o", "2.o"])
    );
}

#[test]
fn own_targets_config_only_and_projbuild() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", ""),
        (
            "p/components/ext/component.mk",
            "COMPONENT_OWNBUILDTARGET := true\nCOMPONENT_OWNCLEANTARGET := true\nbuild:\n\t$(MAKE) -C src\nclean:\n\trm -rf out\n",
        ),
        ("p/components/ext/Makefile.projbuild", "CFLAGS += -DEXT\n"),
        (
            "p/components/cfg/component.mk",
            "COMPONENT_CONFIG_ONLY := 1\n",
        ),
        ("p/components/cfg/ignored.c", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    let ext = comp(&plan, "ext");
    assert!(ext.own_build_target && ext.own_clean_target);
    assert!(has_warning(&plan, "COMPONENT_OWNBUILDTARGET is set"));
    assert!(has_warning(
        &plan,
        "Makefile.projbuild is read by the top-level make pass"
    ));
    let cfg = comp(&plan, "cfg");
    assert!(cfg.config_only && cfg.objs.is_empty());
    assert!(!plan.expected_artifacts.contains(&cfg.library));
    assert!(plan.expected_artifacts.contains(&ext.library));
}

#[test]
fn problems_in_component_mk_are_warnings_with_locations() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        (
            "p/main/component.mk",
            "\
VERSION := $(shell git describe)
COMPONENT_OBJS := here.o missing.o made.o
COMPONENT_SRCDIRS := . nowhere
COMPONENT_DEPENDS := ghost
COMPONENT_EMBED_FILES := absent.bin
made.o:
\ttouch $@
",
        ),
        ("p/main/here.c", ""),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    let w = &plan.warnings;
    assert!(
        w.iter()
            .any(|w| w.starts_with("main/component.mk:1: $(shell git describe)")),
        "{w:?}"
    );
    assert!(has_warning(&plan, "no source for missing.o"));
    assert!(!has_warning(&plan, "no source for made.o"));
    assert!(!has_warning(&plan, "no source for here.o"));
    assert!(has_warning(
        &plan,
        "COMPONENT_SRCDIRS entry `nowhere` does not exist"
    ));
    assert!(has_warning(&plan, "depends on `ghost`"));
    assert!(has_warning(&plan, "embedded file absent.bin is missing"));
}

#[test]
fn build_order_follows_depends_and_reports_cycles() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", ""),
        ("p/components/a/component.mk", "COMPONENT_DEPENDS := c\n"),
        ("p/components/b/component.mk", ""),
        ("p/components/c/component.mk", "COMPONENT_DEPENDS := b\n"),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert_eq!(plan.build_order, ["b", "c", "a", "main"]);

    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        ("p/main/component.mk", "COMPONENT_DEPENDS := x\n"),
        ("p/components/x/component.mk", "COMPONENT_DEPENDS := main\n"),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert!(has_warning(&plan, "cycle"));
    assert_eq!(plan.build_order.len(), 2);
}

#[test]
fn old_component_common_include_is_read() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        (
            "p/main/component.mk",
            "include $(IDF_PATH)/make/component_common.mk\n",
        ),
        (
            "idf/make/component_common.mk",
            "$(warning including component_common.mk is no longer needed)\n",
        ),
        ("idf/components/", ""),
    ]);
    let plan = plan_with(&t, "p", "idf", &[]);
    assert!(
        has_warning(&plan, "no longer needed"),
        "{:?}",
        plan.warnings
    );
}

// --- clean plans ----------------------------------------------------------------------------

#[test]
fn clean_plan_lists_what_make_clean_removes() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        (
            "p/main/component.mk",
            "COMPONENT_EXTRA_CLEAN := gen.h sub/out.lst $(COMPONENT_BUILD_DIR)/abs.txt *.tmp adir\nCOMPONENT_EMBED_TXTFILES := web/page.html\n",
        ),
        ("p/main/m.c", ""),
        ("p/main/web/page.html", ""),
        ("p/build/main/m.o", "12345"),
        ("p/build/main/gen.h", "1"),
        ("p/build/main/x.tmp", "22"),
        ("p/build/main/y.tmp", "333"),
        ("p/build/main/adir/", ""),
        ("p/build/main/unrelated.txt", "keep"),
        ("p/build/include/config/auto.conf", "CONFIG_A=y\n"),
        ("p/build/include/config/sub/deep.h", "x"),
        ("idf/components/", ""),
    ]);
    let dir = t.root.join("p");
    let idf = t.root.join("idf");
    let cfg = |_: &str| None;
    let build = dir.join("build");
    let inputs = MakeInputs {
        project_dir: &dir,
        idf_path: Some(&idf),
        config: &cfg,
        target: "esp32",
        build_dir: &build,
        jobs: Some(1),
    };
    let project = detect(&dir).unwrap();
    let clean = clean_plan(&project, &inputs, CleanScope::Clean);
    assert_eq!(clean.scope, CleanScope::Clean);
    assert_eq!(
        clean.would_delete,
        [
            "build/app.bin",
            "build/app.elf",
            "build/app.map",
            "build/include/config/",
            "build/include/sdkconfig.h",
            "build/main/abs.txt",
            "build/main/component_project_vars.mk",
            "build/main/embed_txt/page.html",
            "build/main/gen.h",
            "build/main/libmain.a",
            "build/main/m.d",
            "build/main/m.o",
            "build/main/page.html.txt.o",
            "build/main/sub/out.lst",
            "build/main/x.tmp",
            "build/main/y.tmp",
        ]
    );
    // m.o, gen.h, x.tmp, y.tmp, auto.conf, deep.h
    assert_eq!(clean.total_files, 6);
    assert_eq!(clean.total_bytes, 5 + 1 + 2 + 3 + 11 + 1);

    let full = clean_plan(&project, &inputs, CleanScope::Fullclean);
    assert_eq!(full.would_delete, ["build/"]);
    assert_eq!(full.total_files, 7);
    assert_eq!(full.total_bytes, 5 + 1 + 2 + 3 + 4 + 11 + 1);
}

#[test]
fn clean_plan_respects_own_clean_targets() {
    let t = tree(&[
        ("p/Makefile", MAKEFILE),
        (
            "p/main/component.mk",
            "COMPONENT_OWNCLEANTARGET := 1\nclean:\n\trm -rf everything\n",
        ),
        ("p/main/m.c", ""),
        ("idf/components/", ""),
    ]);
    let dir = t.root.join("p");
    let idf = t.root.join("idf");
    let cfg = |_: &str| None;
    let build = dir.join("build");
    let inputs = MakeInputs {
        project_dir: &dir,
        idf_path: Some(&idf),
        config: &cfg,
        target: "esp32",
        build_dir: &build,
        jobs: Some(1),
    };
    let clean = clean_plan(&detect(&dir).unwrap(), &inputs, CleanScope::Clean);
    assert!(
        !clean
            .would_delete
            .iter()
            .any(|p| p.starts_with("build/main/"))
    );
    assert!(clean.would_delete.contains(&"build/app.elf".to_string()));
}

// --- the repository's fixtures, planned without building -------------------------------------

fn fixture(name: &str) -> PathBuf {
    std::fs::canonicalize(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/projects")
            .join(name),
    )
    .unwrap()
}

#[test]
fn fixtures_plan_without_warnings() {
    let idf = std::fs::canonicalize(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/standin-idf"),
    )
    .unwrap();
    for name in [
        "make-basic",
        "make-extra-clean",
        "make-conditional",
        "make-extra-dirs",
    ] {
        let dir = fixture(name);
        let config: HashMap<String, String> = std::fs::read_to_string(dir.join("sdkconfig"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.starts_with("CONFIG_"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |k: &str| config.get(k).cloned();
        let build = dir.join("build");
        let inputs = MakeInputs {
            project_dir: &dir,
            idf_path: Some(&idf),
            config: &lookup,
            target: "esp32",
            build_dir: &build,
            jobs: Some(2),
        };
        let project = detect(&dir).expect(name);
        let plan = plan(&project, &inputs);
        assert!(plan.warnings.is_empty(), "{name}: {:?}", plan.warnings);
        assert!(!plan.components.is_empty());
        assert!(
            !build.exists(),
            "planning {name} created its build directory"
        );
    }
}
