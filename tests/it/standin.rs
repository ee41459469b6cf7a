//! The stand-in ESP-IDF (`tests/fixtures/standin-idf`) with real CMake, Ninja and kconfgen: each fixture project
//! is copied to a temp dir, configured with `cmake -G Ninja -S <project> -B <project>/build -DIDF_TARGET=...` in
//! the environment that the stand-in's `export.sh` sets up, built with `ninja`, and checked against the rule of
//! ESP-IDF's build system it is there for, and against ESP-IDF's output formats (project_description.json,
//! flasher_args.json, the flash argument files, the partition table binary).
//!
//! Skipped with a message when CMake, Ninja or a Python with kconfgen is missing, unless
//! `ESPCTL_REQUIRE_PEERS=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use espctl_tests::{copy_fixture, describe, standin_env, standin_idf_path};
use serde_json::Value;

/// A configured project: its directory, build directory and the environment the build runs in.
struct Project {
    dir: PathBuf,
    build: PathBuf,
    env: Vec<(String, String)>,
}

impl Project {
    fn new(dir: &Path, env: &[(String, String)]) -> Project {
        Project {
            dir: dir.to_path_buf(),
            build: dir.join("build"),
            env: env.to_vec(),
        }
    }

    fn command(&self, program: &str, extra_env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // The build must not depend on knobs or a target set in the test runner's own environment.
        for knob in [
            "IDF_TARGET",
            "SDKCONFIG_DEFAULTS",
            "STANDIN_FAIL_COMPONENT",
            "STANDIN_SLOW_MS",
            "STANDIN_FLOOD_LINES",
            "STANDIN_WRITE_OUTSIDE",
        ] {
            cmd.env_remove(knob);
        }
        cmd.envs(extra_env.iter().copied());
        cmd
    }

    /// `cmake -G Ninja -S <dir> -B <build> [-DIDF_TARGET=<target>] <args>`.
    fn configure(&self, target: Option<&str>, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command("cmake", extra_env);
        cmd.arg("-G")
            .arg("Ninja")
            .arg("-S")
            .arg(&self.dir)
            .arg("-B")
            .arg(&self.build);
        if let Some(target) = target {
            cmd.arg(format!("-DIDF_TARGET={target}"));
        }
        cmd.args(args);
        cmd.output().expect("run cmake")
    }

    fn configure_ok(&self, target: Option<&str>) -> Output {
        let out = self.configure(target, &[], &[]);
        assert!(
            out.status.success(),
            "configure of {} failed:\n{}",
            self.dir.display(),
            describe(&out)
        );
        out
    }

    fn ninja(&self, extra_env: &[(&str, &str)]) -> Output {
        self.command("ninja", extra_env)
            .arg("-C")
            .arg(&self.build)
            .output()
            .expect("run ninja")
    }

    fn build_ok(&self) -> Output {
        let out = self.ninja(&[]);
        assert!(
            out.status.success(),
            "build of {} failed:\n{}",
            self.dir.display(),
            describe(&out)
        );
        out
    }

    fn json(&self, name: &str) -> Value {
        let path = self.build.join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{text}", path.display()))
    }

    fn description(&self) -> Value {
        self.json("project_description.json")
    }

    /// The compiler command line of each source file, from compile_commands.json.
    fn compile_commands(&self) -> BTreeMap<String, String> {
        self.json("compile_commands.json")
            .as_array()
            .expect("array")
            .iter()
            .map(|entry| {
                (
                    entry["file"].as_str().expect("file").to_string(),
                    entry["command"].as_str().expect("command").to_string(),
                )
            })
            .collect()
    }

    fn compile_command_of(&self, file_suffix: &str) -> String {
        let commands = self.compile_commands();
        let matches: Vec<&String> = commands
            .iter()
            .filter(|(file, _)| file.ends_with(file_suffix))
            .map(|(_, command)| command)
            .collect();
        assert_eq!(
            matches.len(),
            1,
            "one compile command for {file_suffix}: {:?}",
            commands.keys()
        );
        matches[0].clone()
    }

    fn sdkconfig(&self) -> String {
        std::fs::read_to_string(self.dir.join("sdkconfig")).expect("sdkconfig")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The text without ANSI escape sequences (compilers colour their diagnostics, as in ESP-IDF builds).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

fn string_set(value: &Value) -> BTreeSet<String> {
    strings(value).into_iter().collect()
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Components every component requires on a RISC-V chip (ESP-IDF v6.0), the architecture component last.
const COMMON_RISCV: [&str; 13] = [
    "cxx",
    "esp_libc",
    "freertos",
    "esp_hw_support",
    "heap",
    "log",
    "soc",
    "hal",
    "esp_rom",
    "esp_common",
    "esp_system",
    "esp_stdio",
    "riscv",
];

/// One entry of an ESP partition table binary.
#[derive(Debug, PartialEq, Eq)]
struct Partition {
    name: String,
    kind: u8,
    subtype: u8,
    offset: u32,
    size: u32,
}

/// Parses ESP-IDF's partition table format: 32-byte entries (magic 0xAA 0x50), then an MD5 entry (0xEB 0xEB,
/// 14 x 0xFF, the digest of the entries before it), padded with 0xFF. Returns the entries and the MD5 entry's
/// digest.
fn parse_partition_table(data: &[u8]) -> (Vec<Partition>, Option<[u8; 16]>) {
    let mut partitions = Vec::new();
    let mut digest = None;
    for entry in data.chunks(32) {
        let word = |at: usize| u32::from_le_bytes(entry[at..at + 4].try_into().unwrap());
        if entry[..2] == [0xAA, 0x50] {
            let name_bytes = &entry[12..28];
            let end = name_bytes.iter().position(|&b| b == 0).unwrap_or(16);
            partitions.push(Partition {
                name: String::from_utf8(name_bytes[..end].to_vec()).expect("name"),
                kind: entry[2],
                subtype: entry[3],
                offset: word(4),
                size: word(8),
            });
        } else if entry[..2] == [0xEB, 0xEB] {
            assert!(entry[2..16].iter().all(|&b| b == 0xFF), "MD5 entry padding");
            digest = Some(entry[16..32].try_into().unwrap());
            break;
        } else {
            break;
        }
    }
    (partitions, digest)
}

/// MD5 of a file's first `len` bytes, by the Python that runs kconfgen.
fn python_md5(env: &[(String, String)], file: &Path, len: usize) -> String {
    let python = env
        .iter()
        .find(|(k, _)| k == "IDF_PYTHON_ENV_PATH")
        .map(|(_, v)| PathBuf::from(v).join("bin/python3"))
        .filter(|p| p.exists())
        .or_else(|| std::env::var_os("IDF_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let out = Command::new(python)
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.md5(open(sys.argv[1], 'rb').read()[:int(sys.argv[2])]).hexdigest())",
        ])
        .arg(file)
        .arg(len.to_string())
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a flash argument file: write-flash arguments on the first line, then "<offset> <file>" lines whose
/// files exist in the build directory. Returns the offset of each file.
fn check_flash_args(build: &Path, name: &str) -> BTreeMap<String, String> {
    let path = build.join(name);
    let content =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = content.lines();
    assert_eq!(
        lines.next(),
        Some("--flash-mode dio --flash-freq 80m --flash-size 2MB"),
        "{name}:\n{content}"
    );
    let mut images = BTreeMap::new();
    for line in lines {
        let (offset, file) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{name}: bad line {line:?}"));
        assert!(offset.starts_with("0x"), "{name}: offset {offset}");
        assert!(build.join(file).is_file(), "{name}: {file} does not exist");
        images.insert(file.to_string(), offset.to_string());
    }
    images
}

#[test]
fn hello_builds_for_esp32c3_with_esp_idf_outputs() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("hello");
    let project = Project::new(dir.path(), &env);

    let started = Instant::now();
    let configured = project.configure_ok(Some("esp32c3"));
    let configure_time = started.elapsed();
    let started = Instant::now();
    let built = project.build_ok();
    let build_time = started.elapsed();
    eprintln!("hello for esp32c3: configure {configure_time:?}, build {build_time:?}");

    let configure_output = text(&configured);
    assert!(configure_output.contains("-- Building ESP-IDF components for target esp32c3"));
    assert!(configure_output.contains("-- Components: "));
    let build_output = text(&built);
    assert!(
        build_output
            .lines()
            .any(|l| l.starts_with('[') && l.contains('/') && l.contains("] Building C object")),
        "Ninja's [N/M] progress lines:\n{build_output}"
    );
    // The component libraries hold C++ objects, so CMake links with the C++ driver, as ESP-IDF builds do.
    assert!(
        build_output.contains("Linking CXX executable hello.elf"),
        "{build_output}"
    );

    // project_description.json
    let description = project.description();
    assert!(description["version"].as_str().unwrap().starts_with("1."));
    assert_eq!(description["project_name"], "hello");
    assert_eq!(description["target"], "esp32c3");
    assert_eq!(description["app_elf"], "hello.elf");
    assert_eq!(description["app_bin"], "hello.bin");
    assert_eq!(description["monitor_baud"], "115200");
    assert_eq!(description["monitor_toolprefix"], "riscv32-esp-elf-");
    assert_eq!(description["git_revision"], "v6.0.0");
    assert_eq!(
        canonical(Path::new(description["build_dir"].as_str().unwrap())),
        canonical(&project.build)
    );
    assert_eq!(
        description["config_file"].as_str().unwrap(),
        dir.path().join("sdkconfig").to_str().unwrap()
    );
    let bootloader_elf = PathBuf::from(description["bootloader_elf"].as_str().unwrap());
    assert!(bootloader_elf.ends_with("bootloader/bootloader.elf") && bootloader_elf.is_file());
    assert_eq!(strings(&description["common_component_reqs"]), COMMON_RISCV);

    // build_components is sorted by name, as ESP-IDF writes it, and has an entry and a path for each.
    let build_components = strings(&description["build_components"]);
    let mut sorted = build_components.clone();
    sorted.sort();
    assert_eq!(build_components, sorted);
    let info = description["build_component_info"].as_object().unwrap();
    assert_eq!(info.keys().cloned().collect::<Vec<_>>(), build_components);
    let paths = strings(&description["build_component_paths"]);
    assert_eq!(paths.len(), build_components.len());
    for (name, path) in build_components.iter().zip(&paths) {
        let entry = &info[name.as_str()];
        assert_eq!(entry["dir"].as_str().unwrap(), path);
        assert_eq!(entry["alias"], format!("idf::{name}"));
        assert_eq!(entry["target"], format!("___idf_{name}"));
        assert_eq!(entry["lib"], format!("__idf_{name}"));
        assert_eq!(entry["prefix"], "idf");
        // Every requirement is itself part of the build.
        for requirement in strings(&entry["reqs"])
            .iter()
            .chain(&strings(&entry["priv_reqs"]))
        {
            assert!(
                build_components.contains(requirement),
                "{name} requires {requirement}"
            );
        }
        match entry["type"].as_str().unwrap() {
            "LIBRARY" => {
                let file = PathBuf::from(entry["file"].as_str().unwrap());
                assert!(
                    file.ends_with(format!("esp-idf/{name}/lib{name}.a")),
                    "{name}: {}",
                    file.display()
                );
                assert!(file.is_file(), "{} was not built", file.display());
                for source in strings(&entry["sources"]) {
                    assert!(Path::new(&source).is_absolute(), "{source}");
                }
            }
            "CONFIG_ONLY" => assert_eq!(entry["file"], ""),
            other => panic!("{name}: type {other}"),
        }
    }
    // hello is a minimal build: main, what it requires, and what every component requires.
    for expected in COMMON_RISCV.iter().chain(&[
        "main",
        "spi_flash",
        "esptool_py",
        "bootloader",
        "partition_table",
    ]) {
        assert!(
            build_components.iter().any(|c| c == expected),
            "{expected} missing from {build_components:?}"
        );
    }
    for not_expected in [
        "nvs_flash",
        "mbedtls",
        "console",
        "xtensa",
        "linux",
        "esp_phy",
    ] {
        assert!(
            !build_components.iter().any(|c| c == not_expected),
            "{not_expected} in a minimal build"
        );
    }
    assert_eq!(info["main"]["priv_reqs"], serde_json::json!(["spi_flash"]));
    assert_eq!(
        info["main"]["dir"].as_str().unwrap(),
        dir.path().join("main").to_str().unwrap()
    );
    assert_eq!(info["esptool_py"]["type"], "CONFIG_ONLY");
    let all = description["all_component_info"].as_object().unwrap();
    assert!(all.len() >= 30, "{} components known", all.len());
    assert_eq!(all["xtensa"]["source"], "idf_components");
    assert_eq!(all["main"]["source"], "project_components");

    // Configuration outputs.
    let sdkconfig = project.sdkconfig();
    assert!(sdkconfig.contains("CONFIG_IDF_TARGET=\"esp32c3\""));
    assert!(sdkconfig.contains("CONFIG_IDF_TARGET_ESP32C3=y"));
    assert!(sdkconfig.contains("CONFIG_IDF_INIT_VERSION=\"6.0.0\""));
    let sdkconfig_json = project.json("config/sdkconfig.json");
    assert_eq!(sdkconfig_json["IDF_TARGET"], "esp32c3");
    assert_eq!(sdkconfig_json["ESPTOOLPY_FLASHSIZE"], "2MB");
    let header = std::fs::read_to_string(project.build.join("config/sdkconfig.h")).unwrap();
    assert!(header.contains("#define CONFIG_IDF_TARGET \"esp32c3\""));
    assert!(project.build.join("config/sdkconfig.cmake").is_file());

    // flasher_args.json
    let flasher = project.json("flasher_args.json");
    assert_eq!(
        flasher["write_flash_args"],
        serde_json::json!([
            "--flash-mode",
            "dio",
            "--flash-size",
            "2MB",
            "--flash-freq",
            "80m"
        ])
    );
    assert_eq!(
        flasher["flash_settings"],
        serde_json::json!({"flash_mode": "dio", "flash_size": "2MB", "flash_freq": "80m"})
    );
    let flash_files: BTreeMap<String, String> = flasher["flash_files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(offset, file)| (file.as_str().unwrap().to_string(), offset.clone()))
        .collect();
    let expected_files: BTreeMap<String, String> = [
        ("bootloader/bootloader.bin", "0x0"),
        ("partition_table/partition-table.bin", "0x8000"),
        ("hello.bin", "0x10000"),
    ]
    .into_iter()
    .map(|(f, o)| (f.to_string(), o.to_string()))
    .collect();
    assert_eq!(flash_files, expected_files);
    for (part, offset, file) in [
        ("bootloader", "0x0", "bootloader/bootloader.bin"),
        (
            "partition-table",
            "0x8000",
            "partition_table/partition-table.bin",
        ),
        ("app", "0x10000", "hello.bin"),
    ] {
        assert_eq!(flasher[part]["offset"], offset, "{part}");
        assert_eq!(flasher[part]["file"], file, "{part}");
        assert_eq!(flasher[part]["encrypted"], "false", "{part}");
        assert!(project.build.join(file).is_file(), "{file}");
    }
    assert_eq!(
        flasher["extra_esptool_args"],
        serde_json::json!({"after": "hard-reset", "before": "default-reset", "stub": true, "chip": "esp32c3"})
    );

    // The flash argument files.
    assert_eq!(
        check_flash_args(&project.build, "flash_args"),
        expected_files
    );
    assert_eq!(
        check_flash_args(&project.build, "flash_project_args"),
        expected_files
    );
    let app_only: BTreeMap<String, String> =
        [("hello.bin".to_string(), "0x10000".to_string())].into();
    assert_eq!(check_flash_args(&project.build, "flash_app_args"), app_only);
    let bootloader_only: BTreeMap<String, String> =
        [("bootloader/bootloader.bin".to_string(), "0x0".to_string())].into();
    assert_eq!(
        check_flash_args(&project.build, "flash_bootloader_args"),
        bootloader_only
    );

    // The partition table binary: the single-app table, with its MD5 entry.
    let table_path = project.build.join("partition_table/partition-table.bin");
    let table = std::fs::read(&table_path).unwrap();
    assert_eq!(table.len(), 0xC00);
    let (partitions, digest) = parse_partition_table(&table);
    let part = |name: &str, kind, subtype, offset, size| Partition {
        name: name.to_string(),
        kind,
        subtype,
        offset,
        size,
    };
    assert_eq!(
        partitions,
        vec![
            part("nvs", 0x01, 0x02, 0x9000, 0x6000),
            part("phy_init", 0x01, 0x01, 0xf000, 0x1000),
            part("factory", 0x00, 0x00, 0x10000, 0x100000),
        ]
    );
    let digest = digest.expect("an MD5 entry");
    assert_eq!(
        hex(&digest),
        python_md5(&env, &table_path, partitions.len() * 32)
    );
    assert!(
        table[(partitions.len() + 1) * 32..]
            .iter()
            .all(|&b| b == 0xFF)
    );

    // The app and bootloader images and the map file.
    assert!(
        std::fs::metadata(project.build.join("hello.bin"))
            .unwrap()
            .len()
            > 0
    );
    assert!(
        std::fs::metadata(project.build.join("bootloader/bootloader.bin"))
            .unwrap()
            .len()
            > 0
    );
    let map = std::fs::read_to_string(project.build.join("hello.map")).unwrap();
    assert!(map.contains("app_main"));
    assert!(project.build.join("bootloader/bootloader.map").is_file());

    // Nothing changed: nothing to do.
    let again = project.build_ok();
    assert!(
        text(&again).contains("ninja: no work to do."),
        "{}",
        describe(&again)
    );
}

#[test]
fn car_requirements_follow_requires_and_priv_requires() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("car");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let description = project.description();
    let info = &description["build_component_info"];
    assert_eq!(info["car"]["reqs"], serde_json::json!(["engine"]));
    assert_eq!(info["car"]["priv_reqs"], serde_json::json!([]));
    assert_eq!(info["car"]["include_dirs"], serde_json::json!(["."]));
    assert_eq!(info["engine"]["reqs"], serde_json::json!([]));
    assert_eq!(
        info["engine"]["priv_reqs"],
        serde_json::json!(["spark_plug"])
    );
    assert_eq!(info["spark_plug"]["reqs"], serde_json::json!([]));
    // main names no requirements, so it requires every other component of the build.
    assert_eq!(info["main"]["reqs"], serde_json::json!([]));

    let components = dir.path().join("components");
    let engine_include = format!("-I{}", components.join("engine/include").display());
    let spark_plug_include = format!("-I{}", components.join("spark_plug").display());
    // car sees engine's public headers; engine's private requirement does not reach car.
    let car = project.compile_command_of("components/car/car.c");
    assert!(car.contains(&engine_include), "{car}");
    assert!(!car.contains(&spark_plug_include), "{car}");
    let engine = project.compile_command_of("components/engine/engine.c");
    assert!(engine.contains(&spark_plug_include), "{engine}");
    // main requires everything, so it sees all public include directories.
    let main = project.compile_command_of("main/main.c");
    assert!(
        main.contains(&engine_include) && main.contains(&spark_plug_include),
        "{main}"
    );

    // Asking for car alone builds car and its requirements, recursively, plus the common components.
    let trimmed = Project {
        dir: dir.path().to_path_buf(),
        build: dir.path().join("build-car-only"),
        env: env.clone(),
    };
    let out = trimmed.configure(Some("esp32c3"), &["-DCOMPONENTS=car"], &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let build_components = string_set(&trimmed.description()["build_components"]);
    for expected in ["car", "engine", "spark_plug"].iter().chain(&COMMON_RISCV) {
        assert!(
            build_components.contains(*expected),
            "{expected} missing: {build_components:?}"
        );
    }
    assert!(!build_components.contains("main"));

    // EXCLUDE_COMPONENTS takes components out of the request (here: "all components"). One that another
    // component requires is built all the same (esp_phy requires nvs_flash).
    let excluding = Project {
        dir: dir.path().to_path_buf(),
        build: dir.path().join("build-excluding"),
        env: env.clone(),
    };
    let out = excluding.configure(
        Some("esp32c3"),
        &["-DEXCLUDE_COMPONENTS=console;esp-tls;http_parser;nvs_flash"],
        &[],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let build_components = string_set(&excluding.description()["build_components"]);
    assert!(build_components.contains("car") && build_components.contains("main"));
    for excluded in ["console", "esp-tls", "http_parser"] {
        assert!(!build_components.contains(excluded), "{excluded} was built");
    }
    assert!(build_components.contains("nvs_flash"));
    assert!(string_set(&project.description()["build_components"]).contains("console"));
}

#[test]
fn renamed_main_gets_only_the_requirements_it_names() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("renamed-main");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let description = project.description();
    let build_components = string_set(&description["build_components"]);
    assert!(!build_components.contains("main"));
    assert!(build_components.contains("firmware"));
    // Without COMPONENTS every component is built, required or not.
    assert!(build_components.contains("helper"));
    let firmware = &description["build_component_info"]["firmware"];
    assert_eq!(
        firmware["dir"].as_str().unwrap(),
        dir.path().join("firmware").to_str().unwrap()
    );
    assert_eq!(firmware["reqs"], serde_json::json!(["nvs_flash"]));
    assert_eq!(
        description["all_component_info"]["firmware"]["source"],
        "project_extra_components"
    );

    let standin = standin_idf_path();
    let command = project.compile_command_of("firmware/firmware.c");
    assert!(command.contains(&format!(
        "-I{}",
        standin.join("components/nvs_flash/include").display()
    )));
    // Not required, so not visible: unlike main, a renamed main does not require every component.
    assert!(!command.contains(&format!(
        "-I{}",
        dir.path().join("components/helper/include").display()
    )));
    assert!(!command.contains(&format!(
        "-I{}",
        standin.join("components/esp_event/include").display()
    )));
}

#[test]
fn config_only_component_has_options_but_no_library() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("config-only");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let info = &project.description()["build_component_info"]["board_config"];
    assert_eq!(info["type"], "CONFIG_ONLY");
    assert_eq!(info["file"], "");
    assert_eq!(info["sources"], serde_json::json!([]));
    assert!(
        !project
            .build
            .join("esp-idf/board_config/libboard_config.a")
            .exists()
    );
    let sdkconfig = project.sdkconfig();
    assert!(
        sdkconfig.contains("CONFIG_BOARD_NAME=\"devkit\""),
        "{sdkconfig}"
    );
    assert!(sdkconfig.contains("CONFIG_BOARD_LED_GPIO=8"), "{sdkconfig}");
}

#[test]
fn circular_requirements_configure_and_link() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("circular");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let info = &project.description()["build_component_info"];
    assert_eq!(info["alpha"]["reqs"], serde_json::json!(["beta"]));
    assert_eq!(info["beta"]["priv_reqs"], serde_json::json!(["alpha"]));
    assert!(project.build.join("circular.elf").is_file());
}

#[test]
fn project_components_override_idf_components() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("override");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let description = project.description();
    let info = &description["build_component_info"];
    // esp_timer: ESP-IDF's, the vendor's (EXTRA_COMPONENT_DIRS) and the project's; the project's wins.
    assert_eq!(
        info["esp_timer"]["dir"].as_str().unwrap(),
        dir.path().join("components/esp_timer").to_str().unwrap()
    );
    assert_eq!(
        description["all_component_info"]["esp_timer"]["source"],
        "project_components"
    );
    // http_parser: ESP-IDF's and the vendor's; the vendor's wins.
    assert_eq!(
        info["http_parser"]["dir"].as_str().unwrap(),
        dir.path().join("vendor/http_parser").to_str().unwrap()
    );
    assert_eq!(
        description["all_component_info"]["http_parser"]["source"],
        "project_extra_components"
    );

    let commands = project.compile_commands();
    assert!(
        commands
            .keys()
            .any(|f| f.ends_with("components/esp_timer/esp_timer_project.c"))
    );
    assert!(!commands.keys().any(|f| f.ends_with("esp_timer_vendor.c")));
    assert!(
        !commands
            .keys()
            .any(|f| f.contains("standin-idf/components/esp_timer/"))
    );
    assert!(
        commands
            .keys()
            .any(|f| f.ends_with("vendor/http_parser/http_parser_vendor.c"))
    );
}

#[test]
fn trimmed_build_has_only_the_requested_components_and_their_requirements() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("trimmed");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let description = project.description();
    let all = description["all_component_info"].as_object().unwrap();
    let common: Vec<String> = strings(&description["common_component_reqs"]);
    // The closure of COMPONENTS (main, sensor) over REQUIRES, PRIV_REQUIRES and the common requirements.
    let mut expected = BTreeSet::new();
    let mut pending: Vec<String> = vec!["main".into(), "sensor".into()];
    while let Some(name) = pending.pop() {
        if !expected.insert(name.clone()) {
            continue;
        }
        let entry = &all[name.as_str()];
        pending.extend(strings(&entry["reqs"]));
        pending.extend(strings(&entry["priv_reqs"]));
        pending.extend(common.iter().filter(|c| **c != name).cloned());
    }
    let build_components = string_set(&description["build_components"]);
    assert_eq!(build_components, expected);
    assert!(build_components.contains("esp_driver_gpio"));
    for excluded in ["unused", "nvs_flash", "mbedtls", "console", "esp_event"] {
        assert!(all.contains_key(excluded), "{excluded} is known");
        assert!(!build_components.contains(excluded), "{excluded} was built");
    }
    assert!(!project.build.join("esp-idf/unused").exists());
}

#[test]
fn required_idf_targets_reject_other_targets() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("required-targets");
    let project = Project::new(dir.path(), &env);
    let out = project.configure(Some("esp32s3"), &[], &[]);
    assert!(
        !out.status.success(),
        "configuring for esp32s3 should fail:\n{}",
        describe(&out)
    );
    let output = text(&out);
    assert!(
        output.contains("Component riscv_only only supports targets: esp32c3;esp32c6"),
        "{output}"
    );

    let dir = copy_fixture("required-targets");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    let info = &project.description()["build_component_info"]["riscv_only"];
    assert_eq!(info["type"], "LIBRARY");
}

#[test]
fn foo_enable_bar_toggles_the_source_and_its_link() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("foo-enable-bar");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let foo_sources = |project: &Project| -> Vec<String> {
        strings(&project.description()["build_component_info"]["foo"]["sources"])
            .into_iter()
            .map(|s| {
                Path::new(&s)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    let bar_include = format!(
        "-I{}",
        dir.path().join("components/bar_driver/include").display()
    );
    assert_eq!(foo_sources(&project), ["foo.c", "more_foo.c"]);
    assert!(
        !project
            .compile_command_of("components/foo/foo.c")
            .contains(&bar_include)
    );
    assert!(
        project
            .sdkconfig()
            .contains("# CONFIG_FOO_ENABLE_BAR is not set")
    );

    // Turn the option on in sdkconfig: the next build re-runs CMake, as with ESP-IDF.
    let sdkconfig = project.sdkconfig().replace(
        "# CONFIG_FOO_ENABLE_BAR is not set",
        "CONFIG_FOO_ENABLE_BAR=y",
    );
    std::fs::write(dir.path().join("sdkconfig"), sdkconfig).unwrap();
    let out = project.build_ok();
    assert!(
        text(&out).contains("Re-running CMake"),
        "{}",
        describe(&out)
    );
    assert_eq!(foo_sources(&project), ["foo.c", "more_foo.c", "bar.c"]);
    assert!(
        project
            .compile_command_of("components/foo/bar.c")
            .contains(&bar_include)
    );
    assert!(
        project
            .compile_command_of("components/foo/foo.c")
            .contains(&bar_include)
    );
    // Requirements are collected before the configuration is known: the option does not change them.
    assert_eq!(
        project.description()["build_component_info"]["foo"]["priv_reqs"],
        serde_json::json!([])
    );
}

#[test]
fn sdkconfig_defaults_and_target_specific_defaults() {
    let Some(env) = standin_env() else { return };

    // No target given: sdkconfig.defaults names esp32c3, whose own defaults file applies after the common one.
    let dir = copy_fixture("target-defaults");
    let project = Project::new(dir.path(), &env);
    let out = project.configure_ok(None);
    assert!(
        text(&out).contains("IDF_TARGET is not set, guessed 'esp32c3' from sdkconfig"),
        "{}",
        describe(&out)
    );
    let sdkconfig = project.sdkconfig();
    assert!(sdkconfig.contains("CONFIG_IDF_TARGET=\"esp32c3\""));
    assert!(
        sdkconfig.contains("CONFIG_ESPTOOLPY_FLASHSIZE=\"8MB\""),
        "{sdkconfig}"
    );
    assert!(sdkconfig.contains("CONFIG_FREERTOS_HZ=500"));
    assert!(sdkconfig.contains("CONFIG_LOG_DEFAULT_LEVEL=2"));
    assert_eq!(
        project.json("flasher_args.json")["flash_settings"]["flash_size"],
        "8MB"
    );
    let defaults = project.description()["config_defaults"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(defaults.ends_with("sdkconfig.defaults"), "{defaults}");

    // A target that disagrees with the sdkconfig is refused, with ESP-IDF's message.
    let other = Project {
        dir: dir.path().to_path_buf(),
        build: dir.path().join("build-s3"),
        env: env.clone(),
    };
    let out = other.configure(None, &[], &[("IDF_TARGET", "esp32s3")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("Target 'esp32c3' in sdkconfig")
            && text(&out).contains("does not match currently selected IDF_TARGET 'esp32s3'"),
        "{}",
        describe(&out)
    );

    // ... and one that disagrees with the CMake cache of an existing build directory, too.
    let out = project.configure(None, &[], &[("IDF_TARGET", "esp32s3")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains(
            "IDF_TARGET 'esp32c3' in CMake cache does not match currently selected IDF_TARGET 'esp32s3'"
        ),
        "{}",
        describe(&out)
    );

    // esp32s3, from scratch: its defaults file wins over the common one.
    let dir = copy_fixture("target-defaults");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32s3"));
    let sdkconfig = project.sdkconfig();
    assert!(sdkconfig.contains("CONFIG_IDF_TARGET=\"esp32s3\""));
    assert!(
        sdkconfig.contains("CONFIG_ESPTOOLPY_FLASHSIZE=\"16MB\""),
        "{sdkconfig}"
    );
    assert!(sdkconfig.contains("CONFIG_FREERTOS_HZ=1000"));
    assert_eq!(
        project.description()["monitor_toolprefix"],
        "xtensa-esp32s3-elf-"
    );

    // SDKCONFIG_DEFAULTS names other defaults files, with their own per-target files.
    let dir = copy_fixture("target-defaults");
    let project = Project::new(dir.path(), &env);
    let out = project.configure(
        Some("esp32c3"),
        &[],
        &[("SDKCONFIG_DEFAULTS", "sdkconfig.ci")],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let sdkconfig = project.sdkconfig();
    assert!(sdkconfig.contains("CONFIG_PARTITION_TABLE_TWO_OTA=y"));
    assert!(
        sdkconfig.contains("CONFIG_ESPTOOLPY_FLASHSIZE=\"4MB\""),
        "{sdkconfig}"
    );
    assert!(
        sdkconfig.contains("CONFIG_FREERTOS_HZ=100"),
        "sdkconfig.defaults is not read: {sdkconfig}"
    );
    let flasher = project.json("flasher_args.json");
    assert_eq!(flasher["otadata"]["offset"], "0xd000");
    assert_eq!(flasher["otadata"]["file"], "ota_data_initial.bin");
}

#[test]
fn extra_component_dirs_outside_the_project() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("extra-dirs");
    let app = dir.path().join("app");
    let project = Project::new(&app, &env);
    project.configure_ok(Some("esp32c3"));
    project.build_ok();

    let description = project.description();
    let info = &description["build_component_info"];
    assert_eq!(
        canonical(Path::new(info["greeting"]["dir"].as_str().unwrap())),
        canonical(&dir.path().join("shared_components/greeting"))
    );
    assert_eq!(
        canonical(Path::new(info["units"]["dir"].as_str().unwrap())),
        canonical(&dir.path().join("standalone/units"))
    );
    assert_eq!(
        description["all_component_info"]["greeting"]["source"],
        "project_extra_components"
    );
    assert!(
        !description["all_component_info"]
            .as_object()
            .unwrap()
            .contains_key("shared_components")
    );
}

#[test]
fn knob_fail_component_gives_a_real_compiler_error() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("hello");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    let out = project.ninja(&[("STANDIN_FAIL_COMPONENT", "log")]);
    assert!(
        !out.status.success(),
        "the build should fail:\n{}",
        describe(&out)
    );
    let output = strip_ansi(&text(&out));
    assert!(
        output.contains("FAILED: esp-idf/log/CMakeFiles/__idf_log.dir/"),
        "{output}"
    );
    let error_line = output
        .lines()
        .find(|l| l.contains("fail_component.c:") && l.contains(": error: "))
        .unwrap_or_else(|| panic!("no compiler error line:\n{output}"));
    // file:line:col: error: ...
    let after_file = error_line.split("fail_component.c:").nth(1).unwrap();
    let mut fields = after_file.splitn(3, ':');
    assert!(
        fields.next().unwrap().parse::<u32>().is_ok(),
        "{error_line}"
    );
    assert!(
        fields.next().unwrap().parse::<u32>().is_ok(),
        "{error_line}"
    );
}

#[test]
fn knob_flood_lines_prints_that_many_lines() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("hello");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("esp32c3"));
    let out = project.ninja(&[("STANDIN_FLOOD_LINES", "5000")]);
    assert!(out.status.success(), "{}", describe(&out));
    let output = text(&out);
    let flood = output
        .lines()
        .filter(|l| l.starts_with("standin flood line "))
        .count();
    assert_eq!(flood, 5000);
    assert!(output.contains("standin flood line 5000 of 5000"));
}

#[test]
fn knob_slow_ms_delays_each_compile() {
    let Some(env) = standin_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.c"), "int one(void) { return 1; }\n").unwrap();
    let project = Project::new(dir.path(), &env);
    let compile = |slow: Option<&str>| -> Duration {
        let mut cmd = project.command("riscv32-esp-elf-gcc", &[]);
        if let Some(slow) = slow {
            cmd.env("STANDIN_SLOW_MS", slow);
        }
        let started = Instant::now();
        let out = cmd
            .current_dir(dir.path())
            .args(["-c", "one.c", "-o", "one.o"])
            .output()
            .expect("the stand-in compiler is on PATH");
        assert!(out.status.success(), "{}", describe(&out));
        started.elapsed()
    };
    assert!(compile(Some("400")) >= Duration::from_millis(400));
    assert!(dir.path().join("one.o").is_file());
}

#[test]
fn write_outside_fixture_writes_where_it_is_told() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("write-outside");
    let outside = tempfile::tempdir().unwrap();
    let target_file = outside.path().join("written.txt");
    let project = Project::new(dir.path(), &env);
    let out = project.configure(
        Some("esp32c3"),
        &[],
        &[("STANDIN_WRITE_OUTSIDE", target_file.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let written = std::fs::read_to_string(&target_file).unwrap();
    assert!(written.contains("written while configuring"), "{written}");
}

#[test]
fn linux_target_builds_a_host_app_without_flash_files() {
    let Some(env) = standin_env() else { return };
    let dir = copy_fixture("hello");
    let project = Project::new(dir.path(), &env);
    project.configure_ok(Some("linux"));
    project.build_ok();

    let description = project.description();
    assert_eq!(description["target"], "linux");
    assert_eq!(description["bootloader_elf"], "");
    let build_components = string_set(&description["build_components"]);
    assert!(build_components.contains("linux"));
    assert!(!build_components.contains("esptool_py") && !build_components.contains("riscv"));
    assert!(!project.build.join("flasher_args.json").exists());
    assert!(!project.build.join("bootloader").exists());
    // The app is a host program.
    let run = Command::new(project.build.join("hello.elf"))
        .output()
        .expect("run hello.elf");
    assert!(run.status.success(), "{}", describe(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("Hello world!"));
}

#[test]
fn export_sh_provides_the_cross_compilers() {
    let Some(env) = standin_env() else { return };
    let get = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(canonical(Path::new(&get("IDF_PATH"))), standin_idf_path());
    assert!(!get("IDF_PYTHON_ENV_PATH").is_empty());
    assert_eq!(get("ESP_IDF_VERSION"), "6.0");
    for compiler in [
        "riscv32-esp-elf-gcc",
        "xtensa-esp32-elf-gcc",
        "xtensa-esp32s2-elf-g++",
        "xtensa-esp32s3-elf-gcc",
    ] {
        let found = std::env::split_paths(&get("PATH")).any(|dir| dir.join(compiler).is_file());
        assert!(found, "{compiler} is not on the PATH export.sh sets");
    }
}

#[test]
fn many_generator_makes_a_project_of_the_requested_size() {
    let Some(env) = standin_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project_dir = dir.path().join("many");
    let out = Command::new("sh")
        .arg(espctl_tests::repo_path(
            "tests/fixtures/projects/many/gen.sh",
        ))
        .args(["45", project_dir.to_str().unwrap(), "4"])
        .output()
        .expect("run gen.sh");
    assert!(out.status.success(), "{}", describe(&out));
    let project = Project::new(&project_dir, &env);
    project.configure_ok(Some("esp32c3"));
    let info = &project.description()["build_component_info"];
    let counts: Vec<usize> = (0..4)
        .map(|i| {
            info[format!("bulk_{i}")]["sources"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(counts, [12, 11, 11, 11]);
}
