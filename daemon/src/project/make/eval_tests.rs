//! Tests of the Make-language evaluator. Expected values are what GNU Make 4.3 gives (the
//! `matches_gnu_make` test checks a sample of them against the real program when it is installed).

use std::collections::HashMap;
use std::path::Path;

use super::*;

/// Evaluate makefile text in a fresh temp directory (the working and include directory).
fn run_in(dir: &Path, text: &str) -> Evaluator<'static> {
    let mut ev = Evaluator::new(dir, dir, dir);
    let mk = dir.join("test.mk");
    std::fs::write(&mk, text).unwrap();
    assert!(ev.eval_file(&mk));
    ev
}

fn run(text: &str) -> (tempfile::TempDir, Evaluator<'static>) {
    let dir = tempfile::tempdir().unwrap();
    let ev = run_in(dir.path(), text);
    (dir, ev)
}

fn val(text: &str, name: &str) -> String {
    let (_d, mut ev) = run(text);
    ev.value(name)
}

fn warnings(text: &str) -> Vec<String> {
    run(text).1.warnings
}

// --- assignments ----------------------------------------------------------------------------

#[test]
fn assignment_flavours() {
    let text = "\
X := a
X += b
Y = c
Y += $(X)
X := z
Z ?= 1
Z ?= 2
E :=
E ?= not-used
";
    let (_d, mut ev) = run(text);
    assert_eq!(ev.value("X"), "z");
    assert_eq!(ev.value("Y"), "c z", "recursive += stays recursive");
    assert_eq!(ev.value("Z"), "1");
    assert_eq!(ev.value("E"), "", "?= only assigns undefined variables");
    assert_eq!(ev.get("Y").unwrap().flavor, Flavor::Recursive);
    assert_eq!(ev.get("X").unwrap().flavor, Flavor::Simple);
}

#[test]
fn simple_append_expands_now() {
    let text = "\
A := 1
S := x
S += $(A)
A := 2
";
    assert_eq!(val(text, "S"), "x 1");
}

#[test]
fn append_to_undefined_is_recursive() {
    let text = "L += $(LATER)\nLATER := late\n";
    assert_eq!(val(text, "L"), "late");
}

#[test]
fn value_whitespace() {
    // Leading whitespace after the operator goes, trailing whitespace (before a comment) stays.
    assert_eq!(val("V :=    a  b   # comment\n", "V"), "a  b   ");
    assert_eq!(val("V=x\n", "V"), "x");
    assert_eq!(val("V ::= y\n", "V"), "y");
}

#[test]
fn computed_variable_names() {
    let text = "N := comp\n$(N)_SRCS := a.c\nR := $($(N)_SRCS)\n";
    assert_eq!(val(text, "comp_SRCS"), "a.c");
    assert_eq!(val(text, "R"), "a.c");
}

#[test]
fn shell_assignment_is_not_run() {
    let (_d, mut ev) = run("X != echo hi\n");
    assert_eq!(ev.value("X"), "");
    assert_eq!(ev.warnings.len(), 1);
    assert!(
        ev.warnings[0].starts_with("test.mk:1: "),
        "{:?}",
        ev.warnings
    );
    assert!(ev.warnings[0].contains("not run"));
}

#[test]
fn command_line_variables_win_unless_override() {
    let dir = tempfile::tempdir().unwrap();
    let mut ev = Evaluator::new(dir.path(), dir.path(), dir.path());
    ev.set("B", "cmd", Flavor::Simple, Origin::CommandLine, true);
    ev.set("C", "cmd", Flavor::Simple, Origin::CommandLine, true);
    std::fs::write(dir.path().join("m.mk"), "B := file\noverride C := forced\n").unwrap();
    ev.eval_file(&dir.path().join("m.mk"));
    assert_eq!(ev.value("B"), "cmd");
    assert_eq!(ev.value("C"), "forced");
    assert_eq!(ev.ignored_assignments.len(), 1);
    assert_eq!(ev.ignored_assignments[0].0, "B");
}

#[test]
fn environment_variables_are_overridden_and_stay_exported() {
    let dir = tempfile::tempdir().unwrap();
    let mut ev = Evaluator::new(dir.path(), dir.path(), dir.path());
    ev.set(
        "IDF_PATH",
        "/env",
        Flavor::Simple,
        Origin::Environment,
        true,
    );
    std::fs::write(
        dir.path().join("m.mk"),
        "IDF_PATH := /mine\nLOCAL := 1\nexport EXP := 2\n",
    )
    .unwrap();
    ev.eval_file(&dir.path().join("m.mk"));
    assert_eq!(ev.value("IDF_PATH"), "/mine");
    let exported: HashMap<String, String> = ev.exported_values().into_iter().collect();
    assert_eq!(exported.get("IDF_PATH").map(String::as_str), Some("/mine"));
    assert_eq!(exported.get("EXP").map(String::as_str), Some("2"));
    assert!(!exported.contains_key("LOCAL"));
}

#[test]
fn export_forms() {
    let text = "\
A := 1
B := 2
C := 3
export A
export D := 4
unexport B
";
    let (_d, mut ev) = run(text);
    let exported: HashMap<String, String> = ev.exported_values().into_iter().collect();
    assert!(exported.contains_key("A"));
    assert!(exported.contains_key("D"));
    assert!(!exported.contains_key("B"));
    assert!(!exported.contains_key("C"));
    let (_d, mut ev) = run("X := 1\nexport\nY := 2\n");
    let exported: HashMap<String, String> = ev.exported_values().into_iter().collect();
    assert!(exported.contains_key("X") && exported.contains_key("Y"));
}

#[test]
fn undefine_removes() {
    let (_d, ev) = run("X := 1\nundefine X\n");
    assert!(ev.get("X").is_none());
}

// --- references and functions ---------------------------------------------------------------

#[test]
fn reference_forms() {
    let text = "\
X := x
R1 := $(X) ${X} $X
R2 := $$(X) $$$$
";
    assert_eq!(val(text, "R1"), "x x x");
    assert_eq!(val(text, "R2"), "$(X) $$");
}

#[test]
fn substitution_references() {
    let text = "OBJS := a.o b.o c.x\nD := $(OBJS:.o=.d)\nP := $(OBJS:%.o=src/%.c)\n";
    assert_eq!(val(text, "D"), "a.d b.d c.x");
    assert_eq!(val(text, "P"), "src/a.c src/b.c c.x");
}

#[test]
fn text_functions() {
    let cases: &[(&str, &str)] = &[
        ("$(subst a,b,banana)", "bbnbnb"),
        ("$(subst .c,.o,x.c y.c)", "x.o y.o"),
        ("$(patsubst %.c,%.o,a.c  b.c   c.h)", "a.o b.o c.h"),
        ("$(patsubst src/%,%,src/a.c lib/b.c)", "a.c lib/b.c"),
        ("$(patsubst a.c,z,a.c b.c)", "z b.c"),
        ("$(strip   a   b  )", "a b"),
        ("$(findstring an,banana)", "an"),
        ("$(findstring x,banana)", ""),
        ("$(filter %.c a%,a.c b.h ax)", "a.c ax"),
        ("$(filter-out %.h,a.c b.h c.S)", "a.c c.S"),
        ("$(sort c b a b)", "a b c"),
        ("$(word 2,a b c)", "b"),
        ("$(word 5,a b c)", ""),
        ("$(wordlist 2,3,a b c d)", "b c"),
        ("$(words a b c)", "3"),
        ("$(firstword a b c)", "a"),
        ("$(lastword a b c)", "c"),
        ("$(dir a/b c ./x.c /r/s/)", "a/ ./ ./ /r/s/"),
        ("$(notdir a/b c d/)", "b c"),
        ("$(suffix a.c b c.d.e x.y/z)", ".c .e"),
        ("$(basename a.b/c d.e.f ./x.c)", "a.b/c d.e ./x"),
        ("$(addsuffix .o,a  b)", "a.o b.o"),
        ("$(addprefix p/,a b)", "p/a p/b"),
        ("$(join a b,1 2 3)", "a1 b2 3"),
        ("$(if ,yes,no)", "no"),
        ("$(if  x ,yes,no)", "yes"),
        ("$(if ,yes)", ""),
        ("$(if x,a,b,c)", "a"),
        ("$(if ,a,b,c)", "b,c"),
        ("$(or ,,c,d)", "c"),
        ("$(and a,b,c)", "c"),
        ("$(and a,,c)", ""),
        ("$(foreach x,a b,[$(x)] )", "[a]  [b] "),
        ("$(foreach d,src lib,$(d)/*.c)", "src/*.c lib/*.c"),
        ("$(subst #,H,a#b)", "aHb"),
    ];
    for (expr, want) in cases {
        assert_eq!(val(&format!("R := {expr}\n"), "R"), *want, "{expr}");
    }
}

#[test]
fn call_binds_parameters() {
    let text = "\
pair = $(1)-$(2)
wrap = [$(call pair,$(1),x)]
R1 := $(call pair,a,b)
R2 := $(call wrap,q)
R3 := $(call pair,only)
";
    assert_eq!(val(text, "R1"), "a-b");
    assert_eq!(val(text, "R2"), "[q-x]");
    assert_eq!(val(text, "R3"), "only-");
}

#[test]
fn value_origin_flavor() {
    let text = "\
R = $(X)
S := s
V := $(value R)
O1 := $(origin S)
O2 := $(origin NOPE)
F1 := $(flavor R)
F2 := $(flavor S)
";
    let (_d, mut ev) = run(text);
    assert_eq!(ev.value("V"), "$(X)");
    assert_eq!(ev.value("O1"), "file");
    assert_eq!(ev.value("O2"), "undefined");
    assert_eq!(ev.value("F1"), "recursive");
    assert_eq!(ev.value("F2"), "simple");
}

#[test]
fn eval_defines_variables_and_rules() {
    let text = "\
define make_var
$(1)_OBJS := $(1).o
$(1).o: $(1).c
endef
$(foreach n,alpha beta,$(eval $(call make_var,$(n))))
";
    let (_d, mut ev) = run(text);
    assert_eq!(ev.value("alpha_OBJS"), "alpha.o");
    assert_eq!(ev.value("beta_OBJS"), "beta.o");
    assert!(ev.rule_targets.contains(&"alpha.o".to_string()));
    assert!(ev.warnings.is_empty(), "{:?}", ev.warnings);
}

#[test]
fn wildcard_abspath_realpath() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    for f in ["src/b.c", "src/a.c", "src/x.h"] {
        std::fs::write(root.join(f), "").unwrap();
    }
    let text = "\
W := $(wildcard src/*.c)
A := $(abspath src/../src/./a.c)
RP := $(realpath src/a.c src/missing.c)
N := $(wildcard nothing/*.c)
";
    let mut ev = run_in(&root, text);
    assert_eq!(ev.value("W"), "src/a.c src/b.c");
    assert_eq!(ev.value("A"), format!("{}/src/a.c", root.display()));
    assert_eq!(ev.value("RP"), format!("{}/src/a.c", root.display()));
    assert_eq!(ev.value("N"), "");
}

#[test]
fn shell_warning_names_file_and_line() {
    let w = warnings("A := 1\n\nB := $(shell git describe)\n");
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("test.mk:3: $(shell git describe)"),
        "{w:?}"
    );
}

#[test]
fn warning_and_error_functions_are_reported() {
    let w = warnings("$(warning careful)\n$(error broken)\n$(info quiet)\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("test.mk:1:") && w[0].contains("careful"));
    assert!(
        w[1].contains("test.mk:2:") && w[1].contains("would stop make") && w[1].contains("broken")
    );
}

#[test]
fn unknown_function_is_a_warning() {
    let (_d, mut ev) = run("R := $(frobnicate a,b)\n");
    assert_eq!(ev.value("R"), "");
    assert!(
        ev.warnings[0].contains("unknown function `frobnicate`"),
        "{:?}",
        ev.warnings
    );
}

#[test]
fn self_reference_does_not_hang() {
    let (_d, mut ev) = run("X = $(X) more\n");
    assert_eq!(ev.value("X"), " more");
    assert!(ev.warnings.iter().any(|w| w.contains("references itself")));
    let (_d, mut ev) = run("f = $(call f,$(1))\nR := $(call f,x)\n");
    assert_eq!(ev.value("R"), "");
    assert!(
        ev.warnings.iter().any(|w| w.contains("too deeply")),
        "{:?}",
        ev.warnings
    );
}

#[test]
fn config_values_come_from_the_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = |k: &str| match k {
        "CONFIG_A" => Some("y".to_string()),
        "CONFIG_S" => Some("\"spi\"".to_string()),
        "CONFIG_EMPTY" => Some(String::new()),
        _ => None,
    };
    let mut ev = Evaluator::new(dir.path(), dir.path(), dir.path()).with_config(&cfg);
    std::fs::write(
        dir.path().join("c.mk"),
        "\
ifdef CONFIG_A
R += a
endif
ifdef CONFIG_EMPTY
R += empty
endif
ifndef CONFIG_MISSING
R += missing
endif
ifeq ($(CONFIG_S),\"spi\")
R += spi
endif
CONFIG_A += more
",
    )
    .unwrap();
    ev.eval_file(&dir.path().join("c.mk"));
    assert_eq!(ev.value("R"), "a missing spi");
    assert_eq!(ev.value("CONFIG_A"), "y more");
}

// --- conditionals ---------------------------------------------------------------------------

#[test]
fn ifdef_uses_the_unexpanded_value() {
    let text = "\
K = $(UNSET)
M := $(UNSET)
ifdef K
R += K
endif
ifdef M
R += M
endif
ifndef M
R += notM
endif
";
    assert_eq!(val(text, "R"), "K notM");
}

#[test]
fn ifeq_forms_and_whitespace() {
    let text = "\
A := x
S := $() x
ifeq ( x,x)
R += lead1
endif
ifeq (x,x )
R += trail2
endif
ifeq ($(A) ,x)
R += trail1
endif
ifeq ($(A), x)
R += lead2
endif
ifeq ($(S),x)
R += expanded-space
endif
ifeq \"$(A)\" \"x\"
R += dq
endif
ifeq '$(A)' \"x\"
R += mixed
endif
ifneq (,$(filter x,$(A)))
R += ifneq
endif
ifeq($(A),x)
R += nospace
endif
";
    assert_eq!(val(text, "R"), "trail1 lead2 dq mixed ifneq nospace");
}

#[test]
fn else_chains_and_nesting() {
    let text = "\
A := 2
ifeq ($(A),1)
R += one
else ifeq ($(A),2)
R += two
  ifdef NOPE
R += bad
  else
R += nested-else
  endif
else ifeq ($(A),2)
R += second-match
else
R += other
endif
ifdef NOPE
  ifeq (a,a)
R += inactive
  else
R += inactive-else
  endif
else
R += outer-else
endif
";
    assert_eq!(val(text, "R"), "two nested-else outer-else");
}

#[test]
fn unbalanced_conditionals_warn() {
    let w = warnings("endif\nelse\n");
    assert!(w.iter().any(|w| w.contains("`endif` without")), "{w:?}");
    assert!(w.iter().any(|w| w.contains("`else` without")), "{w:?}");
    let w = warnings("ifdef X\nA := 1\n");
    assert!(w.iter().any(|w| w.contains("missing `endif`")), "{w:?}");
    let w = warnings("ifeq (a,b\nendif\n");
    assert!(w.iter().any(|w| w.contains("malformed")), "{w:?}");
    let w = warnings("ifdef X\nelse\nelse\nendif\n");
    assert!(w.iter().any(|w| w.contains("only one `else`")), "{w:?}");
}

// --- lines, comments, define, include, rules ------------------------------------------------

#[test]
fn continuations_and_comments() {
    let text = "\
C = foo \\
    bar\\
baz
D := a # comment \\
   still comment
E := $(subst #,-,x#y) # real comment
F := a\\#b
# whole-line comment := ignored
";
    let (_d, mut ev) = run(text);
    assert_eq!(ev.value("C"), "foo bar baz");
    assert_eq!(ev.value("D"), "a ");
    assert_eq!(ev.value("E"), "x-y ");
    assert_eq!(ev.value("F"), "a#b");
}

#[test]
fn define_blocks() {
    let text = "\
define TWO_LINES
line1
line2 # kept
endef
define SIMPLE :=
$(X)
endef
X := later
define OUTER
define INNER
x
endef
endef
ifdef NOPE
define SKIPPED
endif
endef
endif
";
    let (_d, mut ev) = run(text);
    assert_eq!(ev.value("TWO_LINES"), "line1\nline2 # kept");
    assert_eq!(ev.value("SIMPLE"), "");
    assert_eq!(ev.get("OUTER").unwrap().value, "define INNER\nx\nendef");
    assert!(ev.get("SKIPPED").is_none());
    assert!(ev.warnings.is_empty(), "{:?}", ev.warnings);
}

#[test]
fn includes_resolve_and_missing_ones_warn() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(
        root.join("sub/inner.mk"),
        "INNER := yes\nFROM := $(lastword $(MAKEFILE_LIST))\n",
    )
    .unwrap();
    let mut ev = run_in(
        root,
        "include sub/inner.mk\n-include nothere.mk\nsinclude nothere2.mk\ninclude missing.mk\n",
    );
    assert_eq!(ev.value("INNER"), "yes");
    assert!(ev.value("FROM").ends_with("sub/inner.mk"));
    assert_eq!(ev.warnings.len(), 1, "{:?}", ev.warnings);
    assert!(ev.warnings[0].starts_with("test.mk:4: include missing.mk: no such file"));
}

#[test]
fn relative_include_from_another_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let comp = dir.path().join("comp");
    let build = dir.path().join("build");
    std::fs::create_dir_all(&comp).unwrap();
    std::fs::create_dir_all(&build).unwrap();
    std::fs::write(comp.join("opts.mk"), "OPT := 1\n").unwrap();
    std::fs::write(comp.join("component.mk"), "include opts.mk\n").unwrap();
    let mut ev = Evaluator::new(&build, &comp, dir.path());
    ev.eval_file(&comp.join("component.mk"));
    assert_eq!(ev.value("OPT"), "1");
    assert!(
        ev.warnings[0].contains("make looks in its working directory"),
        "{:?}",
        ev.warnings
    );
}

#[test]
fn stops_at_project_mk() {
    let text = "\
PROJECT_NAME := app
include $(IDF_PATH)/make/project.mk
AFTER := 1
";
    let dir = tempfile::tempdir().unwrap();
    let mut ev = Evaluator::new(dir.path(), dir.path(), dir.path());
    ev.stop_at_project_mk = true;
    std::fs::write(dir.path().join("Makefile"), text).unwrap();
    ev.eval_file(&dir.path().join("Makefile"));
    let hit = ev.project_mk.clone().expect("found");
    assert_eq!(hit.line, 2);
    assert_eq!(hit.written, "$(IDF_PATH)/make/project.mk");
    assert_eq!(ev.value("PROJECT_NAME"), "app");
    assert!(ev.get("AFTER").is_none());
    assert!(ev.warnings.is_empty(), "{:?}", ev.warnings);
}

#[test]
fn recipes_are_not_expanded() {
    let text = "\
logo.h: $(COMPONENT_PATH)/logo.bmp
\tbmp2h $(shell echo not-run) -o $@ \\
\t   continued $(shell also-not-run)

AFTER := 1
x.o: CFLAGS += -Wno-unused
\techo $(shell recipe)
a.o b.o: c.h ; echo $(shell inline)
";
    let (_d, mut ev) = run(text);
    assert!(ev.warnings.is_empty(), "{:?}", ev.warnings);
    assert_eq!(ev.value("AFTER"), "1");
    assert_eq!(ev.rule_targets, ["logo.h", "x.o", "a.o", "b.o"]);
}

#[test]
fn tab_lines_before_any_rule_are_makefile_lines() {
    let text = "ifdef NOPE\n\tA := no\nelse\n\tA := yes\nendif\n";
    let (_d, mut ev) = run(text);
    assert_eq!(ev.value("A"), "yes");
    let w = warnings("all:\n\techo\nX := 1\n\tY := 2\n");
    assert!(
        w.iter()
            .any(|w| w.contains("test.mk:4: recipe line outside any rule")),
        "{w:?}"
    );
}

#[test]
fn missing_separator_is_a_warning() {
    let w = warnings("this is not make\n");
    assert!(w[0].starts_with("test.mk:1: missing separator"), "{w:?}");
}

#[test]
fn garbage_never_panics() {
    let pieces = [
        "$(",
        "${",
        ")",
        "}",
        "$",
        ",",
        ":",
        "=",
        "+=",
        "?=",
        ":=",
        "!=",
        "#",
        "\\",
        "\n",
        "\t",
        " ",
        "ifdef",
        "ifeq (",
        "else",
        "endif",
        "define X",
        "endef",
        "include",
        "export",
        "override",
        "$(if",
        "$(call",
        "$(foreach",
        "$(eval",
        "%",
        "'",
        "\"",
        "é",
        "$(subst",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..300 {
        let mut text = String::new();
        for _ in 0..40 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        let mut ev = Evaluator::new(dir.path(), dir.path(), dir.path());
        ev.run_text(&text, 1, false);
        let names: Vec<String> = ev.vars.keys().cloned().collect();
        for n in names {
            let _ = ev.value(&n);
        }
    }
}

// --- against the real GNU Make ---------------------------------------------------------------

/// Expansions checked against GNU Make itself when it is installed.
#[test]
fn matches_gnu_make() {
    let Ok(out) = std::process::Command::new("make").arg("--version").output() else {
        eprintln!("GNU make is not installed: comparison skipped");
        return;
    };
    if !String::from_utf8_lossy(&out.stdout).contains("GNU Make") {
        eprintln!("make is not GNU Make: comparison skipped");
        return;
    }
    let snippets = [
        "R := $(patsubst $(CURDIR)/%,%,$(wildcard $(CURDIR)/./*.c))",
        "X := a.o b.o\nR := $(X:.o=.d) $(X:%.o=%.c)",
        "R := $(foreach s,c cpp,$(foreach d,. sub,$(d)/*.$(s)))",
        "L = one\nL += two\nR := [$(L)]",
        "ifeq ($(strip ),)\nR := empty\nendif",
        "A := 1\nifeq ($(A),2)\nR := x\nelse ifneq ($(A),1)\nR := y\nelse\nR := z\nendif",
        "R := $(sort $(notdir a/b c/b d/a)) $(dir a/b) $(basename x.tar.gz)",
        "f = <$(1)|$(2)>\nR := $(call f,a,b) $(call f,c)",
        "R := $(if $(filter y,$(CONFIG_NOPE)),on,off)",
        "define D\nR := from-define\nendef\n$(eval $(D))",
        "R := a\\#b # trailing",
        "R := $(subst ,x,abc) $(words $(wildcard *.c))",
        "S = $(T)\nT = t\nR := $(S)$(S)",
        "R = x\\\n   y\\\nz",
        "R := $(join a b c,1 2) $(wordlist 2,9,a b c) $(firstword ) $(lastword a)",
        "R := $(findstring a b,a b c)|$(strip \t a \t b \t)|",
        "A = 1\nB := $(A)\nA = 2\nR := $(B)$(A)",
        "R := $(patsubst %,-I%,a b) $(addprefix -I,$(wildcard sub)) $(dir $(wildcard sub/*.c))",
        "comma := ,\nx := a,b\nR := $(subst $(comma),;,$(x))",
        "R := $(if $(filter a,a),$(subst a,b,aaa),no)",
        "empty :=\nspace := $(empty) $(empty)\nR := [$(subst $(space),_,a b c)]",
        "define F\n$(1)+$(1)\nendef\nR := $(call F,z)",
        "O := x.o y.o\nR := $(foreach o,$(O),$(if $(filter x.o,$(o)),,$(o)))",
        "ifneq ($(filter y,$(CONFIG_A)),)\nR := a\nelse ifdef NOPE\nR := b\nelse\n  ifeq ($(R),)\n    R := nested\n  endif\nendif",
        "X := $(abspath ./sub/../sub/c.c)\nR := $(notdir $(X)) $(words $(subst /, ,$(dir $(X))))",
        "R := $(sort $(foreach d,sub .,$(wildcard $(d)/*.c)))",
    ];
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    for f in ["b.c", "a.c", "sub/c.c"] {
        std::fs::write(root.join(f), "").unwrap();
    }
    for snippet in snippets {
        let mk = root.join("Makefile");
        std::fs::write(
            &mk,
            format!("{snippet}\n$(info RESULT=[$(R)])\nall: ; @:\n"),
        )
        .unwrap();
        let out = std::process::Command::new("make")
            .args(["-s", "-f"])
            .arg(&mk)
            .current_dir(&root)
            .env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let real = stdout
            .split_once("RESULT=[")
            .and_then(|(_, rest)| rest.rsplit_once(']'))
            .map(|(v, _)| v.to_string())
            .unwrap_or_else(|| panic!("make gave no result for {snippet:?}: {stdout}"));
        let mut ev = Evaluator::new(&root, &root, &root);
        ev.eval_file(&mk);
        assert_eq!(ev.value("R"), real, "snippet {snippet:?}");
    }
}

#[test]
fn include_with_a_glob() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("parts")).unwrap();
    std::fs::write(root.join("parts/a.mk"), "R += a\n").unwrap();
    std::fs::write(root.join("parts/b.mk"), "R += b\n").unwrap();
    let mut ev = run_in(root, "include parts/*.mk\ninclude none/*.mk\n");
    assert_eq!(ev.value("R"), "a b");
    assert!(ev.warnings.is_empty(), "{:?}", ev.warnings);
}
