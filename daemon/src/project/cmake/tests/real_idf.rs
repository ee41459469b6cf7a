//! Every component of a real ESP-IDF tree, when one is available (not part of the normal run):
//!
//! ```text
//! ESPCTL_IDF_TREE=/path/to/esp-idf ESPCTL_IDF_SDKCONFIG=/path/to/sdkconfig \
//!   cargo test -p espctld --lib project::cmake::tests::real_idf -- --ignored --nocapture
//! ```
//!
//! Prints, per pass, how many components evaluate without warnings, the distinct commands that
//! were not evaluated, and every fatal error. When `cmake` is on PATH it also runs ESP-IDF's own
//! early-expansion script (`tools/cmake/scripts/component_get_requirements.cmake`) over the same
//! components with the same build properties, and fails on any difference in REQUIRES,
//! PRIV_REQUIRES or whether the component registered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use super::*;

/// Reads an sdkconfig the way ESP-IDF's sdkconfig.cmake presents it: `y` stays `"y"`, `# ... is
/// not set` becomes `""`, strings lose their quotes and escapes.
pub(super) fn read_sdkconfig(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# CONFIG_")
            && let Some(name) = rest.strip_suffix(" is not set")
        {
            out.insert(format!("CONFIG_{name}"), String::new());
        } else if let Some((name, value)) = line.split_once('=')
            && name.starts_with("CONFIG_")
        {
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => value.to_owned(),
            };
            out.insert(name.to_owned(), value);
        }
    }
    out
}

#[test]
fn sdkconfig_values_mirror_sdkconfig_cmake() {
    let values = read_sdkconfig(
        "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x \\\"q\\\"\"\nCONFIG_D=0x10\n# comment\n",
    );
    assert_eq!(values["CONFIG_A"], "y");
    assert_eq!(values["CONFIG_B"], "");
    assert_eq!(values["CONFIG_C"], "x \"q\"");
    assert_eq!(values["CONFIG_D"], "0x10");
}

#[test]
#[ignore = "needs an ESP-IDF tree: set ESPCTL_IDF_TREE and ESPCTL_IDF_SDKCONFIG"]
fn every_component_of_a_real_esp_idf() {
    let (Ok(tree), Ok(sdkconfig)) = (
        std::env::var("ESPCTL_IDF_TREE"),
        std::env::var("ESPCTL_IDF_SDKCONFIG"),
    ) else {
        eprintln!("ESPCTL_IDF_TREE / ESPCTL_IDF_SDKCONFIG not set: skipped");
        return;
    };
    let tree = PathBuf::from(tree);
    let config = read_sdkconfig(&std::fs::read_to_string(&sdkconfig).expect("sdkconfig"));
    let target = config
        .get("CONFIG_IDF_TARGET")
        .cloned()
        .unwrap_or_else(|| "esp32c3".into());
    let components_dir = tree.join("components");
    let mut names: Vec<String> = std::fs::read_dir(&components_dir)
        .expect("components")
        .flatten()
        .filter(|e| e.path().join("CMakeLists.txt").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();

    let idf = paths::to_cmake(&tree);
    let project = "/tmp/espctl-real-idf/project".to_owned();
    let build = "/tmp/espctl-real-idf/project/build".to_owned();
    let mut values = InputValues::default();
    values.variables.extend(config.clone());
    for (k, v) in [
        ("IDF_VERSION_MAJOR", "6"),
        ("IDF_VERSION_MINOR", "2"),
        ("IDF_VERSION_PATCH", "0"),
        ("CMAKE_C_COMPILER_ID", "GNU"),
        ("CMAKE_CXX_COMPILER_ID", "GNU"),
        ("CMAKE_SYSTEM_NAME", "Generic"),
        ("CMAKE_HOST_UNIX", "1"),
        ("CMAKE_HOST_SYSTEM_NAME", "Linux"),
        ("CMAKE_VERSION", "3.28.3"),
        ("PROJECT_NAME", "hello_world"),
    ] {
        values.variables.insert(k.into(), v.into());
    }
    values
        .variables
        .insert("CMAKE_SOURCE_DIR".into(), project.clone());
    values
        .variables
        .insert("CMAKE_BINARY_DIR".into(), build.clone());
    values.variables.insert(
        "CMAKE_MODULE_PATH".into(),
        format!("{idf}/tools/cmake;{idf}/tools/cmake/third_party"),
    );
    values.env.insert("IDF_PATH".into(), idf.clone());
    let arch = if matches!(target.as_str(), "esp32" | "esp32s2" | "esp32s3") {
        "xtensa"
    } else {
        "riscv"
    };
    for (k, v) in [
        ("IDF_TARGET", target.clone()),
        ("IDF_TARGET_ARCH", arch.into()),
        ("IDF_PATH", idf.clone()),
        ("IDF_VER", "v6.2-dev".into()),
        ("IDF_VERSION_MAJOR", "6".into()),
        ("IDF_VERSION_MINOR", "2".into()),
        ("IDF_VERSION_PATCH", "0".into()),
        ("PROJECT_DIR", project.clone()),
        ("PROJECT_NAME", "hello_world".into()),
        ("PROJECT_VER", "1".into()),
        ("BUILD_DIR", build.clone()),
        ("PYTHON", "python".into()),
        ("SDKCONFIG", format!("{project}/sdkconfig")),
        ("SDKCONFIG_HEADER", format!("{build}/config/sdkconfig.h")),
        ("SDKCONFIG_CMAKE", format!("{build}/config/sdkconfig.cmake")),
        ("CONFIG_DIR", format!("{build}/config")),
        ("BUILD_COMPONENTS", names.join(";")),
        (
            "__COMPONENT_TARGETS",
            names
                .iter()
                .map(|n| format!("___idf_{n}"))
                .collect::<Vec<_>>()
                .join(";"),
        ),
        ("__PREFIX", "idf".into()),
        ("BOOTLOADER_BUILD", "".into()),
        ("NON_OS_BUILD", "".into()),
        ("ESP_TEE_BUILD", "".into()),
        ("MINIMAL_BUILD", "".into()),
        ("COMPILE_OPTIONS", "".into()),
        ("COMPILE_DEFINITIONS", "".into()),
    ] {
        values.build_properties.insert(k.into(), v);
    }
    for name in &names {
        let mut props = HashMap::new();
        props.insert(
            "COMPONENT_DIR".to_owned(),
            paths::to_cmake(&components_dir.join(name)),
        );
        values.component_properties.insert(name.clone(), props);
    }
    let values = Arc::new(values);
    let command_files: std::sync::Arc<[PathBuf]> = names
        .iter()
        .map(|n| components_dir.join(n).join("project_include.cmake"))
        .filter(|p| p.exists())
        .collect();

    let evaluator = Evaluator::new();
    let mut dump = String::new();
    let mut processing_dump = String::new();
    for pass in [ComponentPass::EarlyExpansion, ComponentPass::Processing] {
        let mut clean = 0;
        let mut unevaluated: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut fatals = Vec::new();
        let mut other_warnings = Vec::new();
        let started = Instant::now();
        for name in &names {
            let mut input = ComponentInput::new(
                name.clone(),
                components_dir.join(name),
                pass,
                values.clone(),
            );
            if pass == ComponentPass::Processing {
                input.command_files = command_files.clone();
            }
            let r = evaluator.eval_component_cached(&input);
            if pass == ComponentPass::EarlyExpansion {
                let reg = r.registration();
                dump.push_str(&format!(
                    "{name}\tREQUIRES\t{}\n{name}\tPRIV_REQUIRES\t{}\n{name}\tREGISTERED\t{}\n",
                    reg.map(|g| g.requires.join(";")).unwrap_or_default(),
                    reg.map(|g| g.priv_requires.join(";")).unwrap_or_default(),
                    u8::from(reg.is_some()),
                ));
            }
            if pass == ComponentPass::Processing {
                let join = |paths: &[PathBuf]| {
                    paths
                        .iter()
                        .map(|p| paths::to_cmake(p))
                        .collect::<Vec<_>>()
                        .join(";")
                };
                for reg in &r.registrations {
                    for (key, value) in [
                        ("SRCS", join(&reg.srcs)),
                        ("SRC_DIRS", join(&reg.src_dirs)),
                        ("INCLUDE_DIRS", join(&reg.include_dirs)),
                        ("PRIV_INCLUDE_DIRS", join(&reg.priv_include_dirs)),
                        ("REQUIRED_IDF_TARGETS", reg.required_idf_targets.join(";")),
                        ("REGISTERED", "1".into()),
                    ] {
                        processing_dump.push_str(&format!("{name}\t{key}\t{value}\n"));
                    }
                }
                let sources = r.target_sources(&format!("__idf_{name}"));
                if !sources.is_empty() {
                    processing_dump
                        .push_str(&format!("{name}\tTARGET_SOURCES\t{}\n", join(&sources)));
                }
            }
            if r.warnings.is_empty() && r.fatal.is_none() {
                clean += 1;
            }
            for w in &r.warnings {
                let command = w
                    .message
                    .strip_prefix("command `")
                    .and_then(|m| m.split_once('`'))
                    .map(|(c, _)| c.to_owned())
                    .or_else(|| {
                        w.message
                            .split_once('(')
                            .map(|(c, _)| c.to_owned())
                            .filter(|c| !c.contains(' '))
                    });
                match command {
                    Some(c) => {
                        unevaluated.entry(c).or_default().insert(name.clone());
                    }
                    None => other_warnings.push(w.to_string()),
                }
            }
            if let Some(f) = &r.fatal {
                fatals.push(format!("{name}: {f}"));
            }
        }
        let elapsed = started.elapsed();
        println!(
            "== {pass:?}: {} components, {clean} without warnings or errors, {:?} total, {:?} per component",
            names.len(),
            elapsed,
            elapsed / names.len() as u32
        );
        println!(
            "   not evaluated: {}",
            unevaluated
                .iter()
                .map(|(c, n)| format!("{c} ({})", n.iter().cloned().collect::<Vec<_>>().join(" ")))
                .collect::<Vec<_>>()
                .join("; ")
        );
        for w in &other_warnings {
            println!("   warning: {w}");
        }
        for f in &fatals {
            println!("   fatal: {f}");
        }
    }
    // A re-plan with nothing changed: every result comes back from the cache after validation.
    let before = evaluator.stats();
    let started = Instant::now();
    for pass in [ComponentPass::EarlyExpansion, ComponentPass::Processing] {
        for name in &names {
            let mut input = ComponentInput::new(
                name.clone(),
                components_dir.join(name),
                pass,
                values.clone(),
            );
            if pass == ComponentPass::Processing {
                input.command_files = command_files.clone();
            }
            evaluator.eval_component_cached(&input);
        }
    }
    let after = evaluator.stats();
    println!(
        "== cached re-plan, nothing changed: {} components x 2 passes in {:?}, {} re-evaluated",
        names.len(),
        started.elapsed(),
        after.evaluations - before.evaluations
    );
    assert_eq!(after.evaluations, before.evaluations);
    if let Ok(path) = std::env::var("ESPCTL_IDF_DUMP") {
        std::fs::write(path, &dump).expect("dump");
    }
    if let Ok(path) = std::env::var("ESPCTL_IDF_DUMP_PROCESSING") {
        std::fs::write(path, &processing_dump).expect("dump");
    }
    compare_with_cmake(&tree, &names, &values, &dump);
}

/// Runs ESP-IDF's early-expansion script with the real CMake and compares its requirements
/// with ours (`ours`: `name\tKEY\tvalue` lines).
fn compare_with_cmake(tree: &Path, names: &[String], values: &InputValues, ours: &str) {
    let work = tempfile::tempdir().expect("temporary directory");
    let quote = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    let mut build = String::new();
    for (k, v) in &values.build_properties {
        build.push_str(&format!("set({k} \"{}\")\n", quote(v)));
    }
    let mut components = String::new();
    for name in names {
        let dir = paths::to_cmake(&tree.join("components").join(name));
        for (k, v) in [
            ("COMPONENT_NAME", name.clone()),
            ("COMPONENT_DIR", dir),
            ("COMPONENT_LIB", format!("__idf_{name}")),
            ("COMPONENT_ALIAS", format!("idf::{name}")),
            ("COMPONENT_SOURCE", "idf_components".into()),
            ("__PREFIX", "idf".into()),
        ] {
            components.push_str(&format!(
                "set(__component____idf_{name}_{k} \"{}\")\n",
                quote(&v)
            ));
        }
    }
    let build_file = work.path().join("build.cmake");
    let components_file = work.path().join("components.cmake");
    let output_file = work.path().join("requires.cmake");
    std::fs::write(&build_file, build).expect("write");
    std::fs::write(&components_file, components).expect("write");
    let status = std::process::Command::new("cmake")
        .arg("-D")
        .arg("ESP_PLATFORM=1")
        .arg("-D")
        .arg(format!("BUILD_PROPERTIES_FILE={}", build_file.display()))
        .arg("-D")
        .arg(format!(
            "COMPONENT_PROPERTIES_FILE={}",
            components_file.display()
        ))
        .arg("-D")
        .arg(format!("COMPONENT_REQUIRES_FILE={}", output_file.display()))
        .arg("-P")
        .arg(tree.join("tools/cmake/scripts/component_get_requirements.cmake"))
        .current_dir(work.path())
        .output();
    match status {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("cmake failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => {
            println!("   cmake not runnable ({e}): early expansion not compared");
            return;
        }
    }
    let mut theirs = BTreeMap::new();
    for line in std::fs::read_to_string(&output_file)
        .expect("requirements")
        .lines()
    {
        let Some(rest) = line.trim().strip_prefix("__component_set_property(___idf_") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(' ') else {
            continue;
        };
        let Some((key, value)) = rest.split_once(' ') else {
            continue;
        };
        let key = key.trim_start_matches("__COMPONENT_");
        if matches!(key, "REQUIRES" | "PRIV_REQUIRES" | "REGISTERED") {
            let value = value.trim_end_matches(')').trim_matches('"').to_owned();
            theirs.insert((name.to_owned(), key.to_owned()), value);
        }
    }
    let mut differences = Vec::new();
    let mut compared = 0;
    for line in ours.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(key), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        compared += 1;
        match theirs.get(&(name.to_owned(), key.to_owned())) {
            Some(v) if v == value => {}
            other => differences.push(format!("{name} {key}: cmake {other:?}, espctl {value:?}")),
        }
    }
    println!(
        "   early expansion against cmake -P: {compared} values compared, {} differences",
        differences.len()
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
