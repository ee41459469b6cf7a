//! Checks against the real thing: esp-idf-kconfig's `kconfgen` on fixture trees (needs Python with
//! `kconfgen`: `$IDF_PYTHON`, else `python3`), and a real ESP-IDF tree's Kconfig defaults against an
//! sdkconfig a real configure wrote (needs `$ESPCTL_IDF_PATH`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::kconfig::{IdfKconfig, KconfigCache, KconfigEnv, KconfigTree};
use super::sdkconfig::{self, FileKind, RawValue};
use super::{ConfigPaths, ConfigSet, SymbolType};

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
        panic!("ESPCTL_REQUIRE_PEERS=1 but no Python with esp-idf-kconfig (kconfgen) was found: set IDF_PYTHON");
    }
    eprintln!("skipping: no Python with esp-idf-kconfig (kconfgen); set IDF_PYTHON to run this test");
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
    env: &[(&str, &str)],
) -> KconfgenOut {
    let out_dir = tempfile::tempdir().unwrap();
    let out_config = out_dir.path().join("sdkconfig.out");
    if let Some(c) = config {
        std::fs::copy(c, &out_config).unwrap();
    }
    let mut cmd = Command::new(py);
    cmd.args(["-m", "kconfgen", "--kconfig"]).arg(kconfig);
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
        let Some(rest) = line.strip_prefix("set(CONFIG_") else { continue };
        let Some((name, value)) = rest.split_once(" \"") else { continue };
        let value = value.strip_suffix("\")").expect("kconfgen quotes every value");
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

fn reference_sdkconfig() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ESPCTL_IDF_REFERENCE") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/idf-reference/hello_world_esp32c3.sdkconfig");
    p.is_file().then_some(p)
}

/// The real ESP-IDF tree (`$ESPCTL_IDF_PATH`) evaluated for esp32c3 with no sdkconfig, against the
/// sdkconfig a real configure of hello_world wrote (it has no sdkconfig.defaults, so its values are
/// the Kconfig defaults). hello_world is a MINIMAL_BUILD: the components whose symbols appear in the
/// reference are the ones in its build.
#[test]
fn real_idf_defaults_match_a_real_configure() {
    let Some(idf) = std::env::var_os("ESPCTL_IDF_PATH").map(PathBuf::from) else {
        eprintln!("skipping: set ESPCTL_IDF_PATH to an ESP-IDF tree to compare with a real configure");
        return;
    };
    let Some(reference) = reference_sdkconfig() else {
        eprintln!("skipping: no reference sdkconfig (shared/idf-reference or $ESPCTL_IDF_REFERENCE)");
        return;
    };
    let (refcfg, w) = sdkconfig::read(&reference, FileKind::Sdkconfig).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let ref_names: BTreeSet<&str> = refcfg.assignments.iter().map(|a| a.name.as_str()).collect();

    // Every component first, to find which ones the reference's build had.
    let comps = idf_components(&idf);
    let mut all = IdfKconfig::new(&idf, "esp32c3");
    all.idf_version = "6.2.0".into();
    all.minimal_build = true;
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
                used.insert(first.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    let mut idf_in = IdfKconfig::new(&idf, "esp32c3");
    idf_in.idf_version = "6.2.0".into();
    idf_in.minimal_build = true;
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
        "real ESP-IDF esp32c3 (components {}, load {load_time:?}): {same} symbols match, {} differ",
        used.len(),
        differ.len()
    );
    for d in &differ {
        eprintln!("  {d}");
    }
    assert!(differ.is_empty(), "{} symbols differ from the real configure", differ.len());
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
            None => differ.push(format!("sdkconfig {name}: ours not written, kconfgen `{line}`")),
        }
    }
    for (name, line) in &ours {
        if !out.sdkconfig.contains_key(name) {
            differ.push(format!("sdkconfig {name}: ours `{line}`, kconfgen not written"));
        }
    }
    for v in eval.iter() {
        let theirs = out.cmake.get(&*v.name);
        if v.cmake_value().as_ref() != theirs {
            differ.push(format!("cmake {}: ours {:?}, kconfgen {:?}", v.name, v.cmake_value(), theirs));
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
            differ.push(format!("json {}: ours {ours_json:?}, kconfgen {json:?}", v.name));
        }
    }
    (same, differ)
}

/// The whole real ESP-IDF tree (every component), for several targets, against kconfgen run on the
/// same files the way ESP-IDF's build runs it.
#[test]
fn real_idf_all_components_match_kconfgen() {
    let Some(idf) = std::env::var_os("ESPCTL_IDF_PATH").map(PathBuf::from) else {
        eprintln!("skipping: set ESPCTL_IDF_PATH to an ESP-IDF tree to compare with kconfgen on it");
        return;
    };
    let Some(py) = kconfgen_python() else { return };
    let comps = idf_components(&idf);
    let targets = std::env::var("ESPCTL_IDF_TARGETS").unwrap_or_else(|_| "esp32,esp32c3,esp32s3,esp32c6,esp32p4,esp32h2".into());
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
        let out = run_kconfgen(&py, &idf.join("Kconfig"), None, &[], &env);
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
    assert!(failures.is_empty(), "differences from kconfgen for {failures:?}");
}
