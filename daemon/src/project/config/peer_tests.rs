//! Checks against the real thing: esp-idf-kconfig's `kconfgen` on fixture trees (needs Python with
//! `kconfgen`: `$IDF_PYTHON`, else `python3`), and a real ESP-IDF tree's Kconfig defaults against an
//! sdkconfig a real configure wrote (needs `$ESPCTL_IDF_PATH`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::kconfig::{IdfKconfig, KconfigCache, KconfigEnv, KconfigTree};
use super::sdkconfig::{self, FileKind, RawValue};
use super::set::Layers;
use super::{ConfigSet, SymbolType};

/// A Python that can `import kconfgen`, or `None` (with a message) when there is none and the peers
/// are not required.
pub(super) fn kconfgen_python() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("IDF_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![PathBuf::from("python3")],
    };
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import kconfgen"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(py);
        }
    }
    if std::env::var("ESPCTL_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "ESPCTL_REQUIRE_PEERS=1 but no Python with esp-idf-kconfig (kconfgen) was found: set IDF_PYTHON"
        );
    }
    eprintln!(
        "skipping: no Python with esp-idf-kconfig (kconfgen); set IDF_PYTHON to run this test"
    );
    None
}

/// What kconfgen wrote.
pub(super) struct KconfgenOut {
    /// sdkconfig assignments (name without CONFIG_ to the line as written).
    pub sdkconfig: BTreeMap<String, String>,
    /// `set(CONFIG_X "v")` lines of sdkconfig.cmake, unescaped.
    pub cmake: BTreeMap<String, String>,
    pub json: BTreeMap<String, serde_json::Value>,
}

/// Runs kconfgen on `kconfig` with optional `config` and `defaults`, in a scratch directory.
pub(super) fn run_kconfgen(
    py: &Path,
    kconfig: &Path,
    config: Option<&Path>,
    defaults: &[PathBuf],
    rename: Option<&Path>,
    env: &[(&str, &str)],
) -> KconfgenOut {
    let out_dir = tempfile::tempdir().unwrap();
    let out_config = out_dir.path().join("sdkconfig.out");
    if let Some(c) = config {
        std::fs::copy(c, &out_config).unwrap();
    }
    let mut cmd = Command::new(py);
    cmd.args(["-m", "kconfgen", "--kconfig"]).arg(kconfig);
    if let Some(r) = rename {
        cmd.arg("--sdkconfig-rename").arg(r);
    }
    if config.is_some() {
        cmd.arg("--config").arg(&out_config);
    }
    for d in defaults {
        cmd.arg("--defaults").arg(d);
    }
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    let cmake = out_dir.path().join("sdkconfig.cmake");
    let json = out_dir.path().join("sdkconfig.json");
    cmd.args(["--output", "config"]).arg(&out_config);
    cmd.args(["--output", "cmake"]).arg(&cmake);
    cmd.args(["--output", "json"]).arg(&json);
    cmd.env("KCONFIG_REPORT_VERBOSITY", "quiet");
    cmd.current_dir(out_dir.path());
    let output = cmd.output().expect("run kconfgen");
    assert!(
        output.status.success(),
        "kconfgen failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let (file, w) = sdkconfig::read(&out_config, FileKind::Sdkconfig).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let sdk = file
        .assignments
        .iter()
        .map(|a| {
            let text = match &a.value {
                RawValue::NotSet => format!("# CONFIG_{} is not set", a.name),
                RawValue::Quoted(s) => format!("CONFIG_{}=\"{}\"", a.name, super::escape_string(s)),
                RawValue::Bare(v) | RawValue::Loose(v) => format!("CONFIG_{}={v}", a.name),
            };
            (a.name.clone(), text)
        })
        .collect();
    let cmake_text = std::fs::read_to_string(&cmake).unwrap();
    let json_text = std::fs::read_to_string(&json).unwrap();
    KconfgenOut {
        sdkconfig: sdk,
        cmake: parse_cmake_sets(&cmake_text),
        json: serde_json::from_str(&json_text).unwrap(),
    }
}

/// `set(CONFIG_NAME "value")` lines, with CMake's `\\` and `\"` escapes undone.
pub(super) fn parse_cmake_sets(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("set(CONFIG_") else {
            continue;
        };
        let Some((name, value)) = rest.split_once(" \"") else {
            continue;
        };
        let value = value
            .strip_suffix("\")")
            .expect("kconfgen quotes every value");
        let mut v = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                v.extend(chars.next());
            } else {
                v.push(c);
            }
        }
        out.insert(name.to_string(), v);
    }
    out
}

/// The components of an IDF tree that have Kconfig files: (Kconfig files, Kconfig.projbuild files)
/// per component directory name, in name order.
fn idf_components(idf: &Path) -> BTreeMap<String, (Vec<PathBuf>, Vec<PathBuf>)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(idf.join("components")).unwrap().flatten() {
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let k = dir.join("Kconfig");
        let p = dir.join("Kconfig.projbuild");
        let ks: Vec<PathBuf> = [k].into_iter().filter(|f| f.is_file()).collect();
        let ps: Vec<PathBuf> = [p].into_iter().filter(|f| f.is_file()).collect();
        if !ks.is_empty() || !ps.is_empty() {
            out.insert(name, (ks, ps));
        }
    }
    out
}

/// The sdkconfig files real configures wrote for esp32c3: `$ESPCTL_IDF_REFERENCE`, else every
/// `*_esp32c3.sdkconfig` in shared/idf-reference beside the repository.
fn reference_sdkconfigs() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("ESPCTL_IDF_REFERENCE") {
        return vec![PathBuf::from(p)];
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/idf-reference");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().ends_with("_esp32c3.sdkconfig"));
    out.sort();
    out
}

/// The real ESP-IDF tree (`$ESPCTL_IDF_PATH`) evaluated for esp32c3 with no sdkconfig, against the
/// sdkconfig files real configures of ESP-IDF examples wrote (hello_world, plugins: neither has
/// sdkconfig.defaults, so their values are the Kconfig defaults). Both trim their builds
/// (MINIMAL_BUILD, COMPONENTS): the components whose symbols appear in a reference are the ones in
/// its build.
#[test]
fn real_idf_defaults_match_real_configures() {
    let Some(idf) = std::env::var_os("ESPCTL_IDF_PATH").map(PathBuf::from) else {
        eprintln!(
            "skipping: set ESPCTL_IDF_PATH to an ESP-IDF tree to compare with a real configure"
        );
        return;
    };
    let references = reference_sdkconfigs();
    if references.is_empty() {
        eprintln!(
            "skipping: no reference sdkconfig (shared/idf-reference or $ESPCTL_IDF_REFERENCE)"
        );
    }
    let mut failed = Vec::new();
    for reference in references {
        let differ = compare_with_reference(&idf, &reference);
        if differ > 0 {
            failed.push(reference.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "symbols differ from the real configure for {failed:?}"
    );
}

/// Prints how our defaults compare with one reference; returns the number of differences.
fn compare_with_reference(idf: &Path, reference: &Path) -> usize {
    let minimal = std::fs::read_to_string(reference)
        .unwrap()
        .contains("MINIMAL_BUILD is enabled");
    let (refcfg, w) = sdkconfig::read(reference, FileKind::Sdkconfig).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let ref_names: BTreeSet<&str> = refcfg.assignments.iter().map(|a| a.name.as_str()).collect();

    // Every component first, to find which ones the reference's build had.
    let comps = idf_components(idf);
    let mut all = IdfKconfig::new(idf, "esp32c3");
    all.idf_version = "6.2.0".into();
    all.minimal_build = minimal;
    for (k, p) in comps.values() {
        all.kconfigs.extend(k.iter().cloned());
        all.kconfig_projbuilds.extend(p.iter().cloned());
    }
    let cache = KconfigCache::new();
    let tree = KconfigTree::load_idf_with_cache(&all, &cache);
    let comp_dir = idf.join("components");
    let mut used: BTreeSet<String> = BTreeSet::new();
    for name in tree.symbols() {
        if !ref_names.contains(name) {
            continue;
        }
        let id = tree.data.lookup(name).unwrap();
        for node in &tree.data.syms[id as usize].nodes {
            let file = tree.data.file(node.loc);
            if let Ok(rel) = file.strip_prefix(&comp_dir)
                && let Some(first) = rel.components().next()
            {
                // A file another component sources (`orsource "../x/Kconfig.y"`) counts for
                // the component that sources it, which has symbols of its own.
                let name = first.as_os_str().to_string_lossy().into_owned();
                if comps.contains_key(&name) {
                    used.insert(name);
                }
            }
        }
    }
    let mut idf_in = IdfKconfig::new(idf, "esp32c3");
    idf_in.idf_version = "6.2.0".into();
    idf_in.minimal_build = minimal;
    for c in &used {
        let (k, p) = &comps[c];
        idf_in.kconfigs.extend(k.iter().cloned());
        idf_in.kconfig_projbuilds.extend(p.iter().cloned());
    }
    let started = std::time::Instant::now();
    let tree = KconfigTree::load_idf_with_cache(&idf_in, &cache);
    let load_time = started.elapsed();
    for w in tree.warnings() {
        eprintln!("warning: {w}");
    }
    let eval = tree.evaluate(&super::UserValues::none());
    let ours: BTreeMap<String, String> = eval
        .iter()
        .filter_map(|v| v.sdkconfig_line().map(|l| (v.name.to_string(), l)))
        .collect();
    let theirs: BTreeMap<String, String> = refcfg
        .assignments
        .iter()
        .map(|a| {
            let text = match &a.value {
                RawValue::NotSet => format!("# CONFIG_{} is not set", a.name),
                RawValue::Quoted(s) => format!("CONFIG_{}=\"{}\"", a.name, super::escape_string(s)),
                RawValue::Bare(v) | RawValue::Loose(v) => format!("CONFIG_{}={v}", a.name),
            };
            (a.name.clone(), text)
        })
        .collect();
    let mut same = 0;
    let mut differ = Vec::new();
    for (name, line) in &theirs {
        match ours.get(name) {
            Some(l) if l == line => same += 1,
            Some(l) => differ.push(format!("{name}: ours `{l}`, real `{line}`")),
            None => differ.push(format!("{name}: ours not written, real `{line}`")),
        }
    }
    for (name, line) in &ours {
        if !theirs.contains_key(name) {
            differ.push(format!("{name}: ours `{line}`, real not written"));
        }
    }
    eprintln!(
        "{}: real ESP-IDF esp32c3 (components {}, load {load_time:?}): {same} symbols match, {} differ",
        reference.file_name().unwrap().to_string_lossy(),
        used.len(),
        differ.len()
    );
    for d in &differ {
        eprintln!("  {d}");
    }
    differ.len()
}

/// Our evaluation of `tree` against what kconfgen wrote: (matching symbols, differences).
fn compare_with_kconfgen(eval: &super::Evaluation, out: &KconfgenOut) -> (usize, Vec<String>) {
    let mut same = 0;
    let mut differ = Vec::new();
    let ours: BTreeMap<String, String> = eval
        .iter()
        .filter_map(|v| v.sdkconfig_line().map(|l| (v.name.to_string(), l)))
        .collect();
    for (name, line) in &out.sdkconfig {
        match ours.get(name) {
            Some(l) if l == line => same += 1,
            Some(l) => differ.push(format!("sdkconfig {name}: ours `{l}`, kconfgen `{line}`")),
            None => differ.push(format!(
                "sdkconfig {name}: ours not written, kconfgen `{line}`"
            )),
        }
    }
    for (name, line) in &ours {
        if !out.sdkconfig.contains_key(name) {
            differ.push(format!(
                "sdkconfig {name}: ours `{line}`, kconfgen not written"
            ));
        }
    }
    for v in eval.iter() {
        let theirs = out.cmake.get(&*v.name);
        if v.cmake_value().as_ref() != theirs {
            differ.push(format!(
                "cmake {}: ours {:?}, kconfgen {:?}",
                v.name,
                v.cmake_value(),
                theirs
            ));
        }
        let json = out.json.get(&*v.name);
        let ours_json = v.written.then(|| match v.value() {
            Some(super::ConfigValue::Bool(b)) => serde_json::Value::Bool(b),
            Some(super::ConfigValue::Int(i)) => serde_json::json!(i),
            Some(super::ConfigValue::Hex(h)) => serde_json::json!(h),
            Some(super::ConfigValue::Float(f)) => serde_json::json!(f),
            Some(super::ConfigValue::String(s)) => serde_json::Value::String(s),
            None => serde_json::Value::Null,
        });
        if ours_json.as_ref() != json {
            differ.push(format!(
                "json {}: ours {ours_json:?}, kconfgen {json:?}",
                v.name
            ));
        }
    }
    (same, differ)
}

/// The whole real ESP-IDF tree (every component), for several targets, against kconfgen run on the
/// same files the way ESP-IDF's build runs it.
#[test]
fn real_idf_all_components_match_kconfgen() {
    let Some(idf) = std::env::var_os("ESPCTL_IDF_PATH").map(PathBuf::from) else {
        eprintln!(
            "skipping: set ESPCTL_IDF_PATH to an ESP-IDF tree to compare with kconfgen on it"
        );
        return;
    };
    let Some(py) = kconfgen_python() else { return };
    let comps = idf_components(&idf);
    let targets = std::env::var("ESPCTL_IDF_TARGETS")
        .unwrap_or_else(|_| "esp32,esp32c3,esp32s3,esp32c6,esp32p4,esp32h2".into());
    let cache = KconfigCache::new();
    let mut failures = Vec::new();
    for target in targets.split(',') {
        let mut idf_in = IdfKconfig::new(&idf, target);
        idf_in.idf_version = "6.2.0".into();
        for (k, p) in comps.values() {
            idf_in.kconfigs.extend(k.iter().cloned());
            idf_in.kconfig_projbuilds.extend(p.iter().cloned());
        }
        let started = std::time::Instant::now();
        let tree = KconfigTree::load_idf_with_cache(&idf_in, &cache);
        let load = started.elapsed();
        let eval = tree.evaluate(&super::UserValues::none());
        let eval_time = started.elapsed() - load;
        for w in tree.warnings() {
            eprintln!("{target}: warning: {w}");
        }

        // kconfgen reads the generated source lists from files.
        let scratch = tempfile::tempdir().unwrap();
        let list = |files: &[PathBuf]| {
            files
                .iter()
                .map(|f| format!("source \"{}\"", f.display()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let kin = scratch.path().join("kconfigs.in");
        let pin = scratch.path().join("kconfigs_projbuild.in");
        std::fs::write(&kin, list(&idf_in.kconfigs)).unwrap();
        std::fs::write(&pin, list(&idf_in.kconfig_projbuilds)).unwrap();
        let idf_s = idf.to_string_lossy().into_owned();
        let kin_s = kin.to_string_lossy().into_owned();
        let pin_s = pin.to_string_lossy().into_owned();
        let env = [
            ("IDF_PATH", idf_s.as_str()),
            ("IDF_TARGET", target),
            ("IDF_TOOLCHAIN", "gcc"),
            ("IDF_VERSION", "6.2.0"),
            ("IDF_INIT_VERSION", "6.2.0"),
            ("IDF_ENV_FPGA", ""),
            ("IDF_MINIMAL_BUILD", "n"),
            ("COMPONENT_KCONFIGS_SOURCE_FILE", kin_s.as_str()),
            ("COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE", pin_s.as_str()),
        ];
        let out = run_kconfgen(&py, &idf.join("Kconfig"), None, &[], None, &env);
        let (same, differ) = compare_with_kconfgen(&eval, &out);
        eprintln!(
            "{target}: {} files, load {load:?}, evaluate {eval_time:?}: {same} symbols match kconfgen, {} differences",
            tree.files().count(),
            differ.len()
        );
        for d in differ.iter().take(40) {
            eprintln!("  {d}");
        }
        if !differ.is_empty() {
            failures.push(target.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "differences from kconfgen for {failures:?}"
    );
}

/// A fixture tree that uses every construct the parser knows.
const FIXTURE_ROOT: &str = r#"
mainmenu "Fixture"

# A comment line.
config ROOT_BOOL
    bool "root bool"
    default y

source "$SUBDIR/Kconfig.sub"
rsource "rel/Kconfig.rel"
osource "$SUBDIR/does-not-exist"
orsource "globbed/*/Kconfig.part"

menu "Numbers"
    depends on ROOT_BOOL

config N_INT
    int "an int"
    range 0 100
    default 150
config N_INT_NEG
    int "negative"
    default -5
config N_HEX
    hex "a hex"
    default 0x00FF
config N_HEX_RANGE
    hex "hex range"
    range 0x10 0x20
    default 0x5
config N_INT_FROM_SYM
    int
    default N_INT if N_INT > 50
    default 1
config N_INT_NODEF
    int "no default"
config N_HEX_USER
    hex "hex user"
    default 0x1
config N_FLOAT
    float "a float"
    default 2
endmenu

menu "Strings"
    visible if ROOT_BOOL && !N_HIDDEN_MENU

config S_PLAIN
    string "plain"
    default "hello \"world\" \\ back"
config S_ENV
    string
    default "$TARGET_NAME-$UNDEFINED_VAR-${TARGET_NAME}"
config S_MACRO
    string
    default "$(TARGET_NAME)/$(UNDEFINED_VAR)"
config S_COND
    string "cond"
    default "big" if N_INT >= 100
    default "small"
config S_EMPTY
    string "empty"
config S_COMPARE
    bool
    default y if S_PLAIN != "x" && S_ENV = "esp32c3-$UNDEFINED_VAR-esp32c3"
endmenu

config N_HIDDEN_MENU
    bool
    default n

if ROOT_BOOL
config IF_A
    bool "if a"
    default n
    select SEL_TARGET
    imply IMP_TARGET
config IF_B
    bool "if b"
    depends on IF_A
    default y
endif

config SEL_TARGET
    bool "selected"
    default n
config SEL_HIDDEN
    bool
    select SEL_TARGET2 if ROOT_BOOL
    default y
config SEL_TARGET2
    bool
config IMP_TARGET
    bool "implied"
    depends on ROOT_BOOL

choice CH_ONE
    prompt "one"
    default CH_ONE_B if !ROOT_BOOL
    default CH_ONE_C
config CH_ONE_A
    bool "a"
config CH_ONE_B
    bool "b"
config CH_ONE_C
    bool "c"
    depends on IF_A
endchoice

choice CH_HIDDEN
    prompt "hidden" if N_HIDDEN_MENU
config CH_HIDDEN_A
    bool "a"
config CH_HIDDEN_B
    bool "b"
endchoice

choice CH_DEP
    prompt "dep"
    depends on ROOT_BOOL
    default CH_DEP_Y
if ROOT_BOOL
config CH_DEP_X
    bool "x"
endif
config CH_DEP_Y
    bool "y"
endchoice

config MULTI
    bool "multi first"
    depends on IF_A
config MULTI
    bool
    default y if ROOT_BOOL

config INVALID_LITERAL
    bool "invalid literal"
    default 1

config ENV_OPT
    string
    option env="TARGET_NAME"

config PROMPT_COND
    bool "prompt cond" if N_HIDDEN_MENU
    default y

config TYPE_LATER
    default y
    bool "typed later"

config EXPR_DEFAULT
    bool
    default ROOT_BOOL && !IF_A

config LONG_LINE
    bool "joined" if ROOT_BOOL && \
        !N_HIDDEN_MENU
    default y

config NUM_COMPARE
    bool
    default y if N_HEX > 0x10 && N_INT_NEG < 0 && N_INT != 7
"#;

fn write_fixture(dir: &Path) -> PathBuf {
    let files: &[(&str, &str)] = &[
        ("Kconfig", FIXTURE_ROOT),
        (
            "sub/Kconfig.sub",
            "menuconfig SUB_MENU\n    bool \"sub menu\"\n    default y\nif SUB_MENU\nconfig SUB_CHILD\n    int \"child\"\n    default 3\n    help\n      Some help text\n      with lines.\n\n      And a paragraph.\nendif\n",
        ),
        (
            "rel/Kconfig.rel",
            "config REL_SYM\n    hex \"rel\"\n    default 0xABC\n",
        ),
        (
            "globbed/a/Kconfig.part",
            "config GLOB_A\n    bool\n    default y\n",
        ),
        (
            "globbed/b/Kconfig.part",
            "config GLOB_B\n    string\n    default \"b\"\n",
        ),
        (
            "defaults1",
            "CONFIG_N_INT=42\nCONFIG_IF_A=y\nCONFIG_S_EMPTY=\"from defaults\"\nCONFIG_UNKNOWN_SYM=y\nCONFIG_CH_ONE_A=y\nCONFIG_PROMPT_COND=n\nCONFIG_N_HEX_USER=10\nCONFIG_N_FLOAT=3\n",
        ),
        ("defaults2", "CONFIG_N_INT=60\nCONFIG_IMP_TARGET=\n"),
        (
            "sdkconfig",
            "CONFIG_ROOT_BOOL=y\nCONFIG_N_INT=200\nCONFIG_SEL_TARGET=n\n# default:\nCONFIG_N_INT_NEG=-7\n# default:\nCONFIG_N_INT_FROM_SYM=99\nCONFIG_CH_HIDDEN_B=y\n# default:\nCONFIG_S_COND=\"pragma\"\nCONFIG_IF_B=n\nCONFIG_CH_DEP_X=y\nCONFIG_S_PLAIN=\"user \\\"quoted\\\"\"\nCONFIG_N_HEX=0x0010\nCONFIG_OLD_NODEF=77\n# CONFIG_OLD_INVERTED is not set\nCONFIG_BAD_BOOL_VALUE_FOR_INT=x\n",
        ),
        (
            "sdkconfig.rename",
            "CONFIG_OLD_NODEF CONFIG_N_INT_NODEF\nCONFIG_OLD_INVERTED !CONFIG_EXPR_DEFAULT\nCONFIG_OLD_ROOT CONFIG_ROOT_BOOL\n",
        ),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir.join("Kconfig")
}

/// The fixture tree, with no values, with defaults files, and with defaults files plus a partial
/// sdkconfig (user values, `# default:` values, values Kconfig rejects, renamed options): our
/// evaluation must write exactly what kconfgen writes to sdkconfig, sdkconfig.cmake and sdkconfig.json,
/// and `ConfigSet::cmake_value` must give what sdkconfig.cmake sets, old names included.
#[test]
fn fixture_tree_matches_kconfgen() {
    let Some(py) = kconfgen_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = write_fixture(dir.path());
    let sub = dir.path().join("sub");
    let sub_s = sub.to_string_lossy().into_owned();
    let env_pairs = [("TARGET_NAME", "esp32c3"), ("SUBDIR", sub_s.as_str())];
    let mut env = KconfigEnv::new();
    for (k, v) in env_pairs {
        env.set(k, v);
    }
    let tree = KconfigTree::load(std::slice::from_ref(&root), &env);
    let warnings: Vec<String> = tree.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("INVALID_LITERAL"), "{warnings:?}");

    let read = |name: &str, kind| sdkconfig::read(&dir.path().join(name), kind).unwrap().0;
    let defaults = [
        read("defaults1", FileKind::Defaults),
        read("defaults2", FileKind::Defaults),
    ];
    let sdk = read("sdkconfig", FileKind::Sdkconfig);
    let rename_path = dir.path().join("sdkconfig.rename");
    let (renames, w) = sdkconfig::parse_rename(
        &rename_path,
        &std::fs::read_to_string(&rename_path).unwrap(),
    );
    assert!(w.is_empty());
    let defaults_paths = [dir.path().join("defaults1"), dir.path().join("defaults2")];

    let scenarios: [(&str, Vec<&sdkconfig::SdkconfigFile>, bool); 3] = [
        ("no values", vec![], false),
        ("defaults files", defaults.iter().collect(), false),
        (
            "defaults files and sdkconfig",
            defaults.iter().chain([&sdk]).collect(),
            true,
        ),
    ];
    for (what, layers, with_sdkconfig) in scenarios {
        let n_defaults = if layers.is_empty() { 0 } else { 2 };
        let warn_unknown: Vec<bool> = (0..layers.len()).map(|i| i < n_defaults).collect();
        let (user, _) = tree.user_values(&layers, &renames, &warn_unknown);
        let eval = tree.evaluate(&user);
        let out = run_kconfgen(
            &py,
            &root,
            with_sdkconfig
                .then(|| dir.path().join("sdkconfig"))
                .as_deref(),
            &defaults_paths[..n_defaults],
            Some(&rename_path),
            &env_pairs,
        );
        let (same, differ) = compare_with_kconfgen(&eval, &out);
        assert!(
            differ.is_empty(),
            "{what}: {same} match, differences:\n{}",
            differ.join("\n")
        );
        assert!(same > 30, "{what}: only {same} symbols written");

        // The same through ConfigSet, which also answers for the old names.
        let set_layers = Layers {
            json: None,
            sdkconfig: with_sdkconfig.then(|| sdk.clone()),
            defaults: defaults[..n_defaults].to_vec(),
            overrides: None,
            renames: renames.clone(),
        };
        let (set, _) = ConfigSet::resolve(&set_layers, Some(&tree));
        for (name, value) in &out.cmake {
            assert_eq!(
                set.cmake_value(name).as_ref(),
                Some(value),
                "{what}: CONFIG_{name}"
            );
        }
        for name in tree.symbols() {
            if !out.cmake.contains_key(name) {
                assert_eq!(
                    set.cmake_value(name),
                    None,
                    "{what}: CONFIG_{name} is not written by kconfgen"
                );
            }
        }
        // And from kconfgen's own sdkconfig.json, which is exact.
        let json_text = serde_json::to_string(&out.json).unwrap();
        let (json, _) = sdkconfig::parse_json(Path::new("sdkconfig.json"), &json_text).unwrap();
        let json_layers = Layers {
            json: Some(json),
            ..Layers::default()
        };
        let (set, _) = ConfigSet::resolve(&json_layers, Some(&tree));
        for name in tree.symbols() {
            let is_float = tree.symbol_type(name) == Some(SymbolType::Float);
            if !is_float {
                assert_eq!(
                    set.cmake_value(name),
                    eval.get(name)
                        .and_then(|v| v.cmake_value())
                        .filter(|_| out.json.contains_key(name)),
                    "{what}: CONFIG_{name} from sdkconfig.json"
                );
            }
        }
    }
}

/// `cmake_value` for every type against kconfgen's sdkconfig.cmake, with an sdkconfig that sets each
/// kind of value in its unusual spellings.
#[test]
fn cmake_values_of_every_type_match_kconfgen() {
    let Some(py) = kconfgen_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let kconfig = "\
config B_Y
    bool \"b\"
config B_N
    bool \"b\"
    default y
config B_HIDDEN_N
    bool
config I_PLAIN
    int \"i\"
config I_LEADING_ZERO
    int \"i\"
config I_NEG
    int \"i\"
config I_EMPTY_DEFAULT
    int \"i\"
    default 0
config H_UPPER
    hex \"h\"
config H_NO_PREFIX
    hex \"h\"
config H_ZEROS
    hex \"h\"
config H_BIG
    hex \"h\"
config S_SPECIAL
    string \"s\"
config S_EMPTY
    string \"s\"
config S_SEMI
    string \"s\"
config S_UNSET_DEP
    string \"s\"
    depends on B_N
    default \"unseen\"
";
    std::fs::write(dir.path().join("Kconfig"), kconfig).unwrap();
    let sdk = "\
CONFIG_B_Y=y
# CONFIG_B_N is not set
CONFIG_I_PLAIN=12
CONFIG_I_LEADING_ZERO=007
CONFIG_I_NEG=-42
CONFIG_H_UPPER=0XABCDEF
CONFIG_H_NO_PREFIX=1f
CONFIG_H_ZEROS=0x000
CONFIG_H_BIG=0xFFFFFFFFFFFF
CONFIG_S_SPECIAL=\"tab\\there ${VAR} $(X) \\\"q\\\" back\\\\slash\"
CONFIG_S_EMPTY=\"\"
CONFIG_S_SEMI=\"a;b;c\"
";
    std::fs::write(dir.path().join("sdkconfig"), sdk).unwrap();
    let out = run_kconfgen(
        &py,
        &dir.path().join("Kconfig"),
        Some(&dir.path().join("sdkconfig")),
        &[],
        None,
        &[],
    );
    let tree = KconfigTree::load(&[dir.path().join("Kconfig")], &KconfigEnv::new());
    assert!(tree.warnings().is_empty(), "{:?}", tree.warnings());
    let (file, _) = sdkconfig::read(&dir.path().join("sdkconfig"), FileKind::Sdkconfig).unwrap();
    let layers = Layers {
        sdkconfig: Some(file.clone()),
        ..Layers::default()
    };
    let (set, warnings) = ConfigSet::resolve(&layers, Some(&tree));
    assert!(warnings.is_empty(), "{warnings:?}");
    for name in tree.symbols() {
        assert_eq!(
            set.cmake_value(name),
            out.cmake.get(name).cloned(),
            "CONFIG_{name}"
        );
    }
    assert_eq!(set.cmake_value("H_UPPER").as_deref(), Some("0xabcdef"));
    assert_eq!(set.cmake_value("I_LEADING_ZERO").as_deref(), Some("007"));
    assert_eq!(set.cmake_value("B_N").as_deref(), Some(""));
    assert_eq!(set.cmake_value("B_HIDDEN_N"), None);
    // Without Kconfig, values read from the sdkconfig alone give the same strings, except a hex
    // written without `0x`, which nothing marks as hex.
    let (plain, _) = ConfigSet::resolve(&layers, None);
    for (name, value) in &out.cmake {
        if file.get(name).is_none() {
            continue;
        }
        let ours = plain.cmake_value(name);
        if name == "H_NO_PREFIX" {
            assert_eq!(ours.as_deref(), Some("1f"));
        } else {
            assert_eq!(ours.as_ref(), Some(value), "CONFIG_{name} without Kconfig");
        }
    }
}
