//! The command pipeline of an ESP-IDF CMake build: which steps run, with which argv, and why.
//!
//! Invariant: this is the one place that decides what a build runs. `generate_build_plan` returns
//! these steps and a build executes exactly them. Steps whose argv starts with `espctld:` are done by
//! the daemon itself (deleting a build dir's contents, renaming sdkconfig, writing the bundle).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use espctl_protocol::plan::PipelineStep;

use super::metadata;

/// Internal step programs.
pub const FULLCLEAN: &str = "espctld:fullclean";
pub const RENAME: &str = "espctld:rename";
pub const BUNDLE: &str = "espctld:bundle";

/// What the pipeline needs to know.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub project_dir: &'a Path,
    pub build_dir: &'a Path,
    pub target: &'a str,
    /// The sdkconfig file the build uses (`-DSDKCONFIG=` when it is not `<project>/sdkconfig`).
    pub sdkconfig: &'a Path,
    /// `-DSDKCONFIG_DEFAULTS=` when the build needs its own defaults list (release profile).
    pub sdkconfig_defaults: Option<String>,
    pub idf_path: Option<&'a Path>,
    pub clean: bool,
    /// The target the build dir is configured for, when it differs from `target`.
    pub reconfigure_from: Option<&'a str>,
    /// Files whose change means CMake must run again (CMakeLists, .cmake, sdkconfig*, Kconfig*,
    /// idf_component.yml).
    pub configure_inputs: &'a [PathBuf],
    /// Directories scanned by SRC_DIRS or file(GLOB) with what they held at plan time, so a file that
    /// appeared or vanished since the last configure can be noticed (CMake itself would not).
    pub globbed: &'a [(PathBuf, Vec<PathBuf>)],
    pub cmake_cache: &'a BTreeMap<String, String>,
    pub ccache: bool,
    pub jobs: Option<u32>,
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Why CMake must run before Ninja, or None when Ninja alone will do (Ninja re-runs CMake by itself
/// when a file CMake recorded changes; we only force it for what CMake cannot notice).
pub fn configure_reason(i: &Inputs) -> Option<String> {
    let build_ninja = i.build_dir.join("build.ninja");
    if i.clean {
        return Some("the build directory is cleaned first".into());
    }
    if let Some(from) = i.reconfigure_from {
        return Some(format!(
            "target differs: configured for {from}, building for {}",
            i.target
        ));
    }
    if !build_ninja.exists() {
        return Some("build.ninja missing".into());
    }
    if !i.build_dir.join("CMakeCache.txt").exists() {
        return Some("CMakeCache.txt missing".into());
    }
    if let Some(changed) = metadata::newer_input(&build_ninja, i.configure_inputs) {
        let name = changed
            .strip_prefix(i.project_dir)
            .unwrap_or(changed)
            .display()
            .to_string();
        return Some(format!("{name} changed since last configure"));
    }
    if !i.cmake_cache.is_empty() {
        let cache = std::fs::read_to_string(i.build_dir.join("CMakeCache.txt")).unwrap_or_default();
        for (k, v) in i.cmake_cache {
            let present = cache.lines().any(|l| {
                l.split_once('=').is_some_and(|(key, value)| {
                    key.split(':').next() == Some(k.as_str()) && value == v
                })
            });
            if !present {
                return Some(format!("cache entry {k}={v} is new"));
            }
        }
    }
    if let Some(stamp) = metadata::mtime(&build_ninja) {
        for (dir, files_now) in i.globbed {
            for f in files_now {
                if metadata::mtime(f).is_some_and(|t| t > stamp)
                    && is_new_since_configure(i.build_dir, f)
                {
                    let name = f
                        .strip_prefix(i.project_dir)
                        .unwrap_or(f)
                        .display()
                        .to_string();
                    return Some(format!(
                        "{name} appeared under {} since last configure (a glob CMake would not re-run)",
                        dir.strip_prefix(i.project_dir).unwrap_or(dir).display()
                    ));
                }
            }
        }
    }
    None
}

/// True when the build files do not mention `file`: it was not there when CMake last ran.
fn is_new_since_configure(build_dir: &Path, file: &Path) -> bool {
    let Ok(ninja) = std::fs::read_to_string(build_dir.join("build.ninja")) else {
        return true;
    };
    !ninja.contains(&*file.to_string_lossy())
}

/// The steps, in order.
pub fn steps(i: &Inputs) -> Vec<PipelineStep> {
    let project = s(i.project_dir);
    let mut env = BTreeMap::new();
    if let Some(idf) = i.idf_path {
        env.insert("IDF_PATH".to_string(), s(idf));
    }
    env.insert("IDF_TARGET".to_string(), i.target.to_string());
    let step = |name: &str, argv: Vec<String>, reason: String| PipelineStep {
        name: name.to_string(),
        argv,
        cwd: project.clone(),
        env: env.clone(),
        reason,
    };
    let mut out = Vec::new();
    if i.clean {
        out.push(step(
            "fullclean",
            vec![FULLCLEAN.into(), s(i.build_dir)],
            "clean build requested".into(),
        ));
    }
    if let Some(from) = i.reconfigure_from {
        if !i.clean {
            out.push(step(
                "fullclean",
                vec![FULLCLEAN.into(), s(i.build_dir)],
                format!("set-target: the build dir is configured for {from}"),
            ));
        }
        if i.sdkconfig.exists() {
            let mut old = i.sdkconfig.as_os_str().to_owned();
            old.push(".old");
            out.push(step(
                "sdkconfig-backup",
                vec![RENAME.into(), s(i.sdkconfig), s(Path::new(&old))],
                format!("set-target: the {from} configuration is kept as sdkconfig.old"),
            ));
        }
    }
    if let Some(reason) = configure_reason(i) {
        let mut argv = vec![
            "cmake".to_string(),
            "-G".into(),
            "Ninja".into(),
            "-S".into(),
            project.clone(),
            "-B".into(),
            s(i.build_dir),
            "-DPYTHON_DEPS_CHECKED=1".into(),
            "-DESP_PLATFORM=1".into(),
            format!("-DIDF_TARGET={}", i.target),
            format!("-DCCACHE_ENABLE={}", u8::from(i.ccache)),
        ];
        if i.sdkconfig != i.project_dir.join("sdkconfig") {
            argv.push(format!("-DSDKCONFIG={}", s(i.sdkconfig)));
        }
        if let Some(defaults) = &i.sdkconfig_defaults {
            argv.push(format!("-DSDKCONFIG_DEFAULTS={defaults}"));
        }
        for (k, v) in i.cmake_cache {
            argv.push(format!("-D{k}={v}"));
        }
        out.push(step("cmake-configure", argv, reason));
    }
    let mut ninja = vec!["ninja".to_string(), "-C".into(), s(i.build_dir)];
    if let Some(j) = i.jobs {
        ninja.push(format!("-j{j}"));
    }
    ninja.push("all".into());
    let reason = if out.iter().any(|s| s.name == "cmake-configure") {
        "compile and link".to_string()
    } else {
        "incremental build: Ninja decides what is out of date".to_string()
    };
    out.push(step("ninja-build", ninja, reason));
    out.push(step(
        "bundle",
        vec![BUNDLE.into(), s(&i.build_dir.join("flash_bundle.tar.gz"))],
        "package the images flasher_args.json lists".into(),
    ));
    out
}

/// What `idf.py set-target` does: a full clean, `sdkconfig` kept as `sdkconfig.old`, and a configure
/// for the new target.
pub fn set_target_steps(i: &Inputs) -> Vec<PipelineStep> {
    let mut forced = i.clone();
    forced.reconfigure_from = Some(i.reconfigure_from.unwrap_or("its current target"));
    let mut out: Vec<PipelineStep> = steps(&forced)
        .into_iter()
        .filter(|s| s.name != "ninja-build" && s.name != "bundle")
        .collect();
    if !i.build_dir.exists() {
        out.retain(|s| s.name != "fullclean");
    }
    for s in &mut out {
        if s.name == "cmake-configure" {
            s.reason = format!("set-target: configure for {}", i.target);
        }
    }
    out
}

/// Files the build will produce, as the target and configuration make them.
pub fn expected_artifacts(
    build_dir: &Path,
    project_name: &str,
    target: &str,
    config: &dyn Fn(&str) -> Option<String>,
    components: &[String],
) -> Vec<String> {
    let yes = |name: &str| config(name).is_some_and(|v| v == "y");
    let has = |c: &str| components.iter().any(|n| n == c);
    let mut out = vec![
        build_dir.join(format!("{project_name}.elf")),
        build_dir.join(format!("{project_name}.map")),
    ];
    let host = target == "linux";
    // ESP-IDF generates the app binary unless told not to (CONFIG_APP_BUILD_GENERATE_BINARIES).
    let binaries = !host && config("APP_BUILD_GENERATE_BINARIES").is_none_or(|v| v == "y");
    if binaries {
        out.push(build_dir.join(format!("{project_name}.bin")));
    }
    if !host && has("bootloader") && config("APP_BUILD_BOOTLOADER").is_none_or(|v| v == "y") {
        out.push(build_dir.join("bootloader/bootloader.elf"));
        out.push(build_dir.join("bootloader/bootloader.bin"));
    }
    if !host && has("partition_table") && !yes("PARTITION_TABLE_NONE") {
        out.push(build_dir.join("partition_table/partition-table.bin"));
    }
    out.push(build_dir.join("project_description.json"));
    if !host {
        out.push(build_dir.join("flasher_args.json"));
        out.push(build_dir.join("flash_bundle.tar.gz"));
    }
    out.into_iter().map(|p| s(&p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(
        project: &'a Path,
        build: &'a Path,
        sdk: &'a Path,
        cache: &'a BTreeMap<String, String>,
    ) -> Inputs<'a> {
        Inputs {
            project_dir: project,
            build_dir: build,
            target: "esp32c3",
            sdkconfig: sdk,
            sdkconfig_defaults: None,
            idf_path: Some(Path::new("/idf")),
            clean: false,
            reconfigure_from: None,
            configure_inputs: &[],
            globbed: &[],
            cmake_cache: cache,
            ccache: false,
            jobs: None,
        }
    }

    #[test]
    fn fresh_project_configures_builds_bundles() {
        let t = tempfile::tempdir().unwrap();
        let project = t.path();
        let build = project.join("build");
        let sdk = project.join("sdkconfig");
        let cache = BTreeMap::new();
        let steps = steps(&inputs(project, &build, &sdk, &cache));
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cmake-configure", "ninja-build", "bundle"]);
        assert_eq!(steps[0].reason, "build.ninja missing");
        assert!(steps[0].argv.contains(&"-DIDF_TARGET=esp32c3".to_string()));
        assert!(!steps[0].argv.iter().any(|a| a.starts_with("-DSDKCONFIG=")));
        assert_eq!(steps[0].env["IDF_PATH"], "/idf");
    }

    #[test]
    fn configured_dir_only_runs_ninja_unless_something_cmake_misses_changed() {
        let t = tempfile::tempdir().unwrap();
        let project = t.path();
        let build = project.join("build");
        std::fs::create_dir_all(&build).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        for f in ["build.ninja", "CMakeCache.txt"] {
            std::fs::write(build.join(f), "build main/a.c.obj: cc /p/main/a.c\n").unwrap();
            std::fs::File::options()
                .write(true)
                .open(build.join(f))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let sdk = project.join("sdkconfig");
        let cache = BTreeMap::new();
        let mut i = inputs(project, &build, &sdk, &cache);
        let names: Vec<String> = steps(&i).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["ninja-build", "bundle"]);

        // A new file under a SRC_DIRS directory: CMake would not notice, so configure explicitly.
        let new_src = project.join("main/b.c");
        std::fs::create_dir_all(project.join("main")).unwrap();
        std::fs::write(&new_src, "").unwrap();
        let globbed = vec![(project.join("main"), vec![new_src.clone()])];
        i.globbed = &globbed;
        let s = steps(&i);
        assert_eq!(s[0].name, "cmake-configure");
        assert!(
            s[0].reason.contains("main/b.c appeared under main"),
            "{}",
            s[0].reason
        );

        // A changed CMakeLists is named.
        i.globbed = &[];
        let cml = project.join("CMakeLists.txt");
        std::fs::write(&cml, "").unwrap();
        let inputs_list = vec![cml];
        i.configure_inputs = &inputs_list;
        assert_eq!(
            steps(&i)[0].reason,
            "CMakeLists.txt changed since last configure"
        );
    }

    #[test]
    fn set_target_steps_when_the_target_differs() {
        let t = tempfile::tempdir().unwrap();
        let project = t.path();
        let build = project.join("build");
        let sdk = project.join("sdkconfig");
        std::fs::write(&sdk, "CONFIG_IDF_TARGET=\"esp32\"\n").unwrap();
        let cache = BTreeMap::new();
        let mut i = inputs(project, &build, &sdk, &cache);
        i.reconfigure_from = Some("esp32");
        let s = steps(&i);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "fullclean",
                "sdkconfig-backup",
                "cmake-configure",
                "ninja-build",
                "bundle"
            ]
        );
        assert_eq!(s[1].argv[2], format!("{}.old", sdk.display()));
        assert!(s[2].reason.contains("target differs"));
    }

    #[test]
    fn set_target_is_clean_rename_configure() {
        let t = tempfile::tempdir().unwrap();
        let project = t.path();
        let build = project.join("build");
        std::fs::create_dir_all(&build).unwrap();
        let sdk = project.join("sdkconfig");
        std::fs::write(&sdk, "").unwrap();
        let cache = BTreeMap::new();
        let i = inputs(project, &build, &sdk, &cache);
        let names: Vec<String> = set_target_steps(&i).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["fullclean", "sdkconfig-backup", "cmake-configure"]);
    }

    #[test]
    fn artifacts_follow_target_and_config() {
        let comps = vec!["bootloader".to_string(), "partition_table".to_string()];
        let none = |_: &str| None;
        let a = expected_artifacts(Path::new("/b"), "hello", "esp32c3", &none, &comps);
        assert!(a.contains(&"/b/hello.bin".to_string()));
        assert!(a.contains(&"/b/bootloader/bootloader.bin".to_string()));
        assert!(a.contains(&"/b/flash_bundle.tar.gz".to_string()));
        let host = expected_artifacts(Path::new("/b"), "hello", "linux", &none, &comps);
        assert!(!host.iter().any(|p| p.ends_with(".bin")));
        let no_pt = |n: &str| (n == "PARTITION_TABLE_NONE").then(|| "y".to_string());
        let a = expected_artifacts(Path::new("/b"), "hello", "esp32", &no_pt, &comps);
        assert!(!a.iter().any(|p| p.contains("partition-table")));
    }
}
