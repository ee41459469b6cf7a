//! Kconfig semantics with the values kconfgen gives (checked against the real kconfgen by
//! `peer_tests`; these run without it).

use std::path::{Path, PathBuf};

use super::*;
use crate::project::config::sdkconfig::{self, FileKind};

fn tree(text: &str) -> KconfigTree {
    KconfigTree::load_text("Kconfig", text, &KconfigEnv::new())
}

fn tree_env(text: &str, vars: &[(&str, &str)]) -> KconfigTree {
    let mut env = KconfigEnv::new();
    for (k, v) in vars {
        env.set(*k, *v);
    }
    KconfigTree::load_text("Kconfig", text, &env)
}

fn eval_with(t: &KconfigTree, sdk: &str) -> Evaluation {
    let (file, w) = sdkconfig::parse(Path::new("sdkconfig"), sdk, FileKind::Sdkconfig);
    assert!(w.is_empty(), "{w:?}");
    let (user, w) = t.user_values(&[&file], &[], &[false]);
    assert!(w.is_empty(), "{w:?}");
    t.evaluate(&user)
}

/// The sdkconfig line kconfgen would write, or None.
fn line(e: &Evaluation, name: &str) -> Option<String> {
    e.get(name).and_then(|v| v.sdkconfig_line())
}

fn text(e: &Evaluation, name: &str) -> String {
    e.get(name).unwrap().text.clone()
}

#[test]
fn syntax_coverage() {
    let t = tree_env(
        r#"
mainmenu "Everything"
# comment
VAR := immediate
LAZY = $(VAR)-lazy

config A
    bool "A" if !NOPE
    default y
    help
      Help text with keywords: config B, endmenu, select X.

      Second paragraph.
menuconfig B
    boolean
    prompt "B"
    depends on A
config C
    int "C"
    range 1 10 if A
    default 20
config D
    hex
    default 0x0010
config E
    string
    default "$(LAZY) ${HOME_DIR} $HOME_DIR \$ESCAPED \"q\""
config F
    tristate "F"
    default y
config G
    bool
    default y if (A || B) && !(C < 5) && C >= 10 && D != 0x11 && E = "immediate-lazy /h /h \$ESCAPED \"q\""
menu "M"
    depends on A
    visible if !A
comment "C1"
    depends on A
config H
    bool "H"
    default y
endmenu
if A
choice CH
    bool "choice"
    default CH_B
config CH_A
    bool "a"
config CH_B
    bool "b"
endchoice
endif
config I
    bool
    option env="ENV_Y"
config J
    string
    option env="ENV_S"
config K
    bool
    default y
    select L
    imply M
config L
    bool
config M
    bool "M"
config N
    bool "N"
    set default C=7
    set J="set while N is y"
"#,
        &[("HOME_DIR", "/h"), ("ENV_Y", "y"), ("ENV_S", "from env")],
    );
    let w: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("Kconfig:29: tristate"), "{w:?}");
    let e = t.evaluate(&UserValues::none());
    assert_eq!(line(&e, "A").as_deref(), Some("CONFIG_A=y"));
    assert_eq!(line(&e, "B").as_deref(), Some("# CONFIG_B is not set"));
    assert_eq!(
        line(&e, "C").as_deref(),
        Some("CONFIG_C=10"),
        "clamped to the active range"
    );
    assert_eq!(line(&e, "D").as_deref(), Some("CONFIG_D=0x0010"));
    assert_eq!(e.get("D").unwrap().cmake_value().as_deref(), Some("0x10"));
    assert_eq!(text(&e, "E"), "immediate-lazy /h /h $ESCAPED \"q\"");
    assert_eq!(line(&e, "F").as_deref(), Some("CONFIG_F=y"));
    assert_eq!(text(&e, "G"), "y");
    // `visible if` hides H's prompt; its default still applies.
    assert_eq!(line(&e, "H").as_deref(), Some("CONFIG_H=y"));
    assert_eq!(
        line(&e, "CH_A").as_deref(),
        Some("# CONFIG_CH_A is not set")
    );
    assert_eq!(line(&e, "CH_B").as_deref(), Some("CONFIG_CH_B=y"));
    // A bool `option env` symbol is written when its value is y; a string one never is.
    assert_eq!(line(&e, "I").as_deref(), Some("CONFIG_I=y"));
    assert_eq!(text(&e, "J"), "from env");
    assert_eq!(line(&e, "J"), None);
    assert_eq!(line(&e, "L").as_deref(), Some("CONFIG_L=y"));
    assert_eq!(line(&e, "M").as_deref(), Some("CONFIG_M=y"));
    assert!(matches!(
        e.get("L").unwrap().source,
        ValueSource::Select { line: 62, .. }
    ));
    assert!(matches!(
        e.get("M").unwrap().source,
        ValueSource::Imply { line: 63, .. }
    ));
}

#[test]
fn unmet_dependencies_hide_values_and_ignore_user_values() {
    let t = tree(
        "config OFF\n    bool \"off\"\nconfig DEP\n    bool \"dep\"\n    depends on OFF\n    default y\nconfig DEP_S\n    string \"s\"\n    depends on OFF\n    default \"x\"\nconfig DEP_I\n    int \"i\"\n    depends on OFF\n",
    );
    let e = eval_with(&t, "CONFIG_DEP=y\nCONFIG_DEP_S=\"user\"\nCONFIG_DEP_I=5\n");
    for name in ["DEP", "DEP_S", "DEP_I"] {
        let v = e.get(name).unwrap();
        assert!(!v.written, "{name}");
        assert_eq!(v.cmake_value(), None, "{name}");
        assert_eq!(v.source, ValueSource::None, "{name}");
    }
    assert_eq!(text(&e, "DEP"), "n");
    assert_eq!(text(&e, "DEP_S"), "");
    // Once the dependency holds, the user values count.
    let e = eval_with(
        &t,
        "CONFIG_OFF=y\nCONFIG_DEP=n\nCONFIG_DEP_S=\"user\"\nCONFIG_DEP_I=5\n",
    );
    assert_eq!(line(&e, "DEP").as_deref(), Some("# CONFIG_DEP is not set"));
    assert_eq!(line(&e, "DEP_S").as_deref(), Some("CONFIG_DEP_S=\"user\""));
    assert_eq!(line(&e, "DEP_I").as_deref(), Some("CONFIG_DEP_I=5"));
    assert_eq!(
        e.get("DEP_I").unwrap().source,
        ValueSource::User { layer: 0 }
    );
}

#[test]
fn prompt_conditions_hide_but_defaults_still_apply() {
    let t = tree(
        "config HIDE\n    bool\n    default y\nconfig P_Y\n    bool \"p\" if !HIDE\n    default y\nconfig P_N\n    bool \"p\" if !HIDE\nconfig P_S\n    string \"s\" if !HIDE\n    default \"d\"\nconfig P_S_NONE\n    string \"s\" if !HIDE\n",
    );
    let e = eval_with(&t, "CONFIG_P_Y=n\nCONFIG_P_S=\"user\"\n");
    // Invisible: the user values are ignored, defaults apply; an n bool is then not written.
    assert_eq!(line(&e, "P_Y").as_deref(), Some("CONFIG_P_Y=y"));
    assert_eq!(line(&e, "P_N"), None);
    assert_eq!(line(&e, "P_S").as_deref(), Some("CONFIG_P_S=\"d\""));
    assert_eq!(line(&e, "P_S_NONE"), None);
}

#[test]
fn choices() {
    let k = "\
config X
    bool \"x\"
choice C
    prompt \"c\"
    default C_B if X
    default C_C
config C_A
    bool \"a\"
config C_B
    bool \"b\"
config C_C
    bool \"c\"
    depends on X
endchoice
choice HIDDEN
    prompt \"h\" if X
config H_A
    bool \"a\"
endchoice
";
    let t = tree(k);
    // Default C_C is invisible (X is n): the first visible member wins.
    let e = t.evaluate(&UserValues::none());
    assert_eq!(text(&e, "C_A"), "y");
    assert!(matches!(
        e.get("C_A").unwrap().source,
        ValueSource::Choice { line: 3, .. }
    ));
    assert_eq!(line(&e, "C_C"), None);
    assert_eq!(line(&e, "H_A"), None, "an invisible choice writes nothing");
    // X on: the first default whose condition holds.
    let e = eval_with(&t, "CONFIG_X=y\n");
    assert_eq!(text(&e, "C_B"), "y");
    assert!(matches!(
        e.get("C_B").unwrap().source,
        ValueSource::Choice { line: 5, .. }
    ));
    assert_eq!(line(&e, "C_A").as_deref(), Some("# CONFIG_C_A is not set"));
    assert_eq!(line(&e, "H_A").as_deref(), Some("CONFIG_H_A=y"));
    // A user selection wins while visible; the last y wins; an invisible one is ignored.
    let e = eval_with(&t, "CONFIG_X=y\nCONFIG_C_A=y\nCONFIG_C_C=y\n");
    assert_eq!(text(&e, "C_C"), "y");
    assert_eq!(e.get("C_C").unwrap().source, ValueSource::User { layer: 0 });
    let e = eval_with(&t, "CONFIG_C_C=y\n");
    assert_eq!(text(&e, "C_A"), "y");
    // Setting the selected member to n alone does not deselect it.
    let e = eval_with(&t, "CONFIG_X=y\n# CONFIG_C_B is not set\n");
    assert_eq!(text(&e, "C_B"), "y");
}

#[test]
fn select_and_imply() {
    let t = tree(
        "\
config S
    bool \"s\"
    select T
    select T_COND if COND
    imply I
config COND
    bool \"cond\"
config T
    bool \"t\"
config T_COND
    bool
config I
    bool \"i\"
    depends on COND
",
    );
    let e = t.evaluate(&UserValues::none());
    assert_eq!(line(&e, "T").as_deref(), Some("# CONFIG_T is not set"));
    assert_eq!(line(&e, "T_COND"), None);
    // A select beats the user's n; imply only raises while the target's dependencies hold.
    let e = eval_with(&t, "CONFIG_S=y\n# CONFIG_T is not set\n");
    assert_eq!(line(&e, "T").as_deref(), Some("CONFIG_T=y"));
    assert_eq!(line(&e, "T_COND"), None);
    assert_eq!(line(&e, "I"), None);
    let e = eval_with(&t, "CONFIG_S=y\nCONFIG_COND=y\n");
    assert_eq!(line(&e, "T_COND").as_deref(), Some("CONFIG_T_COND=y"));
    assert_eq!(line(&e, "I").as_deref(), Some("CONFIG_I=y"));
    // The user may still turn an implied symbol off.
    let e = eval_with(&t, "CONFIG_S=y\nCONFIG_COND=y\n# CONFIG_I is not set\n");
    assert_eq!(line(&e, "I").as_deref(), Some("# CONFIG_I is not set"));
}

#[test]
fn numbers_ranges_and_forms() {
    let t = tree(
        "\
config I
    int \"i\"
    range 10 20
    default 5
config H
    hex \"h\"
    range 0x100 0x1FF
    default 0x00000180
config I_REF
    int
    default I
config I_USER
    int \"u\"
    range 0 100
    default 50
config NEG
    int \"n\"
    default -3
",
    );
    let e = t.evaluate(&UserValues::none());
    assert_eq!(text(&e, "I"), "10");
    assert_eq!(text(&e, "H"), "0x00000180");
    assert_eq!(e.get("H").unwrap().cmake_value().as_deref(), Some("0x180"));
    assert_eq!(e.get("H").unwrap().value(), Some(ConfigValue::Hex(0x180)));
    assert_eq!(text(&e, "I_REF"), "10");
    assert_eq!(e.get("NEG").unwrap().value(), Some(ConfigValue::Int(-3)));
    // An out-of-range user value is ignored; an in-range one is kept as written.
    let e = eval_with(&t, "CONFIG_I_USER=500\nCONFIG_I=015\nCONFIG_H=0x1ff\n");
    assert_eq!(text(&e, "I_USER"), "50");
    assert!(matches!(
        e.get("I_USER").unwrap().source,
        ValueSource::Default { .. }
    ));
    assert_eq!(text(&e, "I"), "015");
    assert_eq!(e.get("I").unwrap().cmake_value().as_deref(), Some("015"));
    assert_eq!(e.get("H").unwrap().cmake_value().as_deref(), Some("0x1ff"));
}

#[test]
fn default_marked_values_stand_in_for_kconfig_defaults() {
    let t = tree(
        "\
config P
    int \"p\"
    default 1
config PROMPTLESS
    int
    default 2
config HIDDEN
    int \"h\" if NEVER
    default 3
config NEVER
    bool
choice C
    prompt \"c\"
config C_A
    bool \"a\"
config C_B
    bool \"b\"
endchoice
",
    );
    let sdk = "# default:\nCONFIG_P=9\n# default:\nCONFIG_PROMPTLESS=9\n# default:\nCONFIG_HIDDEN=9\n# default:\n# CONFIG_C_A is not set\n# default:\nCONFIG_C_B=y\n";
    let e = eval_with(&t, sdk);
    assert_eq!(text(&e, "P"), "9");
    assert_eq!(
        e.get("P").unwrap().source,
        ValueSource::LayerDefault { layer: 0 }
    );
    assert_eq!(
        text(&e, "PROMPTLESS"),
        "2",
        "kconfgen recomputes promptless symbols"
    );
    assert_eq!(
        text(&e, "HIDDEN"),
        "3",
        "an invisible symbol keeps its Kconfig default"
    );
    assert_eq!(text(&e, "C_B"), "y");
}

#[test]
fn renamed_and_mistyped_assignments() {
    let t =
        tree("config NEW\n    bool \"n\"\nconfig POS\n    bool \"p\"\nconfig NUM\n    int \"x\"\n");
    let (file, _) = sdkconfig::parse(
        Path::new("sdkconfig"),
        "CONFIG_OLD=y\n# CONFIG_OLD_NEG is not set\nCONFIG_NUM=abc\nCONFIG_UNKNOWN=1\n",
        FileKind::Sdkconfig,
    );
    let renames = [
        sdkconfig::Rename {
            old: "OLD".into(),
            new: "NEW".into(),
            inverted: false,
        },
        sdkconfig::Rename {
            old: "OLD_NEG".into(),
            new: "POS".into(),
            inverted: true,
        },
    ];
    let (user, w) = t.user_values(&[&file], &renames, &[true]);
    let w: Vec<String> = w.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("sdkconfig:3: CONFIG_NUM: 'abc' is not a valid int value"),
        "{w:?}"
    );
    assert!(
        w[1].starts_with("sdkconfig:4: unknown Kconfig symbol CONFIG_UNKNOWN"),
        "{w:?}"
    );
    let e = t.evaluate(&user);
    assert_eq!(text(&e, "NEW"), "y");
    // `# CONFIG_OLD_NEG is not set` with an inverted rename means POS=y.
    assert_eq!(text(&e, "POS"), "y");
    assert_eq!(e.get("POS").unwrap().source, ValueSource::User { layer: 0 });
}

#[test]
fn multiple_definitions_merge() {
    let t = tree(
        "config M\n    bool \"first\"\n    depends on A\nconfig A\n    bool\nconfig M\n    bool\n    default y if B\nconfig B\n    bool\n    default y\n",
    );
    let e = t.evaluate(&UserValues::none());
    // Invisible (A is n), but the second definition's default applies.
    assert_eq!(line(&e, "M").as_deref(), Some("CONFIG_M=y"));
    assert_eq!(t.symbols().filter(|s| *s == "M").count(), 1);
}

#[test]
fn invalid_bool_literals_are_n() {
    let t = tree(
        "config T\n    bool \"t\"\n    default true\nconfig O\n    bool \"o\"\n    default 1\n",
    );
    assert_eq!(t.warnings().len(), 2);
    assert_eq!(t.warnings()[0].line, 3);
    let e = t.evaluate(&UserValues::none());
    assert_eq!(text(&e, "T"), "n");
    assert_eq!(text(&e, "O"), "n");
}

#[test]
fn dependency_loops_end_with_a_warning() {
    let t = tree(
        "config A\n    bool\n    default B\nconfig B\n    bool\n    default A\nconfig S\n    string\n    default S\n",
    );
    let e = t.evaluate(&UserValues::none());
    assert_eq!(text(&e, "A"), "n");
    assert!(!e.warnings().is_empty());
    assert!(
        e.warnings()[0].message.contains("dependency loop"),
        "{:?}",
        e.warnings()
    );
}

#[test]
fn long_dependency_chains_evaluate() {
    let mut k = String::from("config C0\n    bool\n    default y\n");
    for i in 1..3000 {
        k.push_str(&format!("config C{i}\n    bool\n    default C{}\n", i - 1));
    }
    let e = tree(&k).evaluate(&UserValues::none());
    assert_eq!(text(&e, "C2999"), "y");
    assert!(e.warnings().is_empty());
}

#[test]
fn unknown_syntax_is_a_warning_with_file_and_line() {
    let t = tree(
        "config A\n    bool \"a\"\n    frobnicate 3\nendif\n    default y\nconfig B\n    bool\n",
    );
    let w: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter().any(|m| m.starts_with("Kconfig:3: syntax error")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m.starts_with("Kconfig:4: `endif` without")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|m| m.starts_with("Kconfig:5: unrecognized construct")),
        "{w:?}"
    );
    assert!(t.is_defined("B"));
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn sourcing_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(
        dir.path(),
        "Kconfig",
        "source \"$TOP/a/Kconfig\"\nrsource \"b/Kconfig*\"\nosource \"$TOP/missing\"\norsource \"missing/*\"\nsource \"$TOP/also-missing\"\nsource \"$(LIST)\"\n",
    );
    write(
        dir.path(),
        "a/Kconfig",
        "config A\n    bool\n    default y\nrsource \"../Kconfig\"\n",
    );
    write(dir.path(), "b/Kconfig.2", "config B2\n    bool\n");
    write(dir.path(), "b/Kconfig.1", "config B1\n    bool\n");
    let listed = write(dir.path(), "listed/Kconfig", "config L\n    bool\n");
    let mut env = KconfigEnv::new();
    env.set("TOP", dir.path().to_string_lossy());
    env.set_file_list("LIST", std::slice::from_ref(&listed));
    let cache = KconfigCache::new();
    let t = KconfigTree::load_with_cache(std::slice::from_ref(&root), &env, &cache);
    let symbols: Vec<&str> = t.symbols().collect();
    assert_eq!(symbols, ["A", "B1", "B2", "L"]);
    let w: Vec<String> = t.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("recursive source"), "{w:?}");
    assert!(
        w[0].starts_with(&format!("{}:4:", dir.path().join("a/Kconfig").display())),
        "{w:?}"
    );
    assert!(
        w[1].starts_with("Kconfig:5:") || w[1].contains("also-missing"),
        "{w:?}"
    );
    let files: Vec<&Path> = t.files().collect();
    assert!(files.contains(&listed.as_path()));
}

#[test]
fn parsed_files_are_reused_until_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "Kconfig", "config A\n    bool\n    default y\n");
    let cache = KconfigCache::new();
    let first = cache.parse_file(&root).unwrap();
    let again = cache.parse_file(&root).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert!(cache.holds(&root, &first));
    write(dir.path(), "Kconfig", "config A\n    bool\n    default n\n");
    let changed = cache.parse_file(&root).unwrap();
    assert!(!Arc::ptr_eq(&first, &changed));
    let t = KconfigTree::load_with_cache(&[root], &KconfigEnv::new(), &cache);
    assert_eq!(t.evaluate(&UserValues::none()).get("A").unwrap().text, "n");
    assert_eq!(cache.len(), 1);
}

#[test]
fn defaults_given_known_values() {
    let t = tree(
        "config A\n    bool \"a\"\nconfig B\n    int \"b\"\n    default 4 if A\n    default 2\nconfig C\n    bool\n    depends on A\n    default y\n",
    );
    let known = |name: &str| (name == "A").then_some(ConfigValue::Bool(true));
    let d = t.defaults(&known);
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d["B"], (ConfigValue::Int(4), PathBuf::from("Kconfig"), 5));
    assert_eq!(d["C"].0, ConfigValue::Bool(true));
    let none = |_: &str| None;
    let d = t.defaults(&none);
    assert_eq!(d["B"].0, ConfigValue::Int(2));
    assert!(!d.contains_key("C"));
}

#[test]
fn builtin_root_without_an_idf_tree() {
    let dir = tempfile::tempdir().unwrap();
    let k = write(
        dir.path(),
        "comp/Kconfig",
        "config MINE\n    bool\n    default y if IDF_TARGET_ARCH_XTENSA\n",
    );
    let mut idf = IdfKconfig::new(dir.path().join("no-idf"), "esp32s3");
    idf.kconfigs.push(k);
    let t = KconfigTree::load_idf(&idf);
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    let e = t.evaluate(&UserValues::none());
    assert_eq!(text(&e, "IDF_TARGET"), "esp32s3");
    assert_eq!(text(&e, "IDF_TARGET_ARCH"), "xtensa");
    assert_eq!(text(&e, "MINE"), "y");
    assert_eq!(
        e.get("IDF_FIRMWARE_CHIP_ID")
            .unwrap()
            .cmake_value()
            .as_deref(),
        Some("0x9")
    );
    assert_eq!(e.get("IDF_ENV_FPGA").unwrap().cmake_value(), None);
}

/// A small deterministic generator, for inputs nobody would write.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

#[test]
fn garbage_never_panics() {
    let pieces = [
        "config",
        "menuconfig",
        "choice",
        "endchoice",
        "menu",
        "endmenu",
        "if",
        "endif",
        "source",
        "rsource",
        "orsource",
        "bool",
        "int",
        "hex",
        "string",
        "float",
        "tristate",
        "default",
        "depends",
        "on",
        "select",
        "imply",
        "range",
        "visible",
        "option",
        "env=",
        "help",
        "prompt",
        "set",
        "A",
        "B",
        "C",
        "y",
        "n",
        "0x1F",
        "-3",
        "1.5",
        "\"",
        "\"s\"",
        "'q'",
        "\\",
        "$(",
        ")",
        "(",
        "$X",
        "${Y}",
        "&&",
        "||",
        "!",
        "=",
        "!=",
        "<",
        ">=",
        "#",
        "\n",
        "\n",
        "\n    ",
        "\t",
        " ",
        "€",
        "é",
        ":=",
        "+=",
        "$(shell,x)",
        "$(info,i)",
        "---help---",
    ];
    let mut rng = Lcg(7);
    for _ in 0..300 {
        let n = 5 + (rng.next() % 80) as usize;
        let text: String = (0..n)
            .map(|_| rng.pick(&pieces))
            .collect::<Vec<_>>()
            .join(" ");
        let t = tree_env(&text, &[("X", "x")]);
        let e = t.evaluate(&UserValues::none());
        for v in e.iter() {
            let _ = (v.cmake_value(), v.sdkconfig_line(), v.value());
        }
        let (file, _) =
            sdkconfig::parse(Path::new("s"), &text.replace(' ', ""), FileKind::Sdkconfig);
        let (user, _) = t.user_values(&[&file], &[], &[true]);
        let _ = t.evaluate(&user);
        let _ = crate::project::config::espctl_toml::parse(Path::new("t"), &text);
    }
}
