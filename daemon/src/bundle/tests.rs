//! End-to-end tests of `build.rust_elf`: ELF file in, bundle file out, read back and checked, for every
//! chip, the example application, every error case, and against the real esptool.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{TimeZone, Utc};
use espctl_protocol::bundle::MANIFEST_SCHEMA_VERSION;
use espctl_protocol::chip::{Arch, Chip};
use espctl_protocol::error::ErrorCode;

use super::rust_elf::build_at;
use super::synth::{synth_app_elf, synth_app_elf_for};
use super::*;

const EXAMPLE_ELF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/blink-c3/blink-c3.elf"
);

fn request(elf_path: PathBuf, target: Chip) -> RustElfRequest {
    RustElfRequest {
        elf_path,
        target,
        out_path: None,
        flash_mode: None,
        flash_freq: None,
        flash_size: None,
        task_id: None,
    }
}

/// Build and collect the progress lines.
fn build(req: &RustElfRequest) -> (Result<BundleOutput, BundleError>, Vec<String>) {
    let mut lines = Vec::new();
    let result = build_rust_elf_bundle(req, &mut |line| lines.push(line.to_string()));
    (result, lines)
}

fn write_elf(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, data).unwrap();
    path
}

/// The names in `dir`, sorted: tests use it to prove a failure left nothing behind.
fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The merged image of a bundle that was just built.
fn firmware(output: &BundleOutput) -> Vec<u8> {
    let bundle = read_bundle(&output.bundle_path).unwrap();
    assert_eq!(bundle.manifest, output.manifest);
    assert_eq!(bundle.files.len(), 1);
    assert_eq!(bundle.files[0].0, FIRMWARE_FILE);
    bundle.files.into_iter().next().unwrap().1
}

/// The ESP image header's chip ID (`esp_chip_id_t`), bytes 12-13 of an app image.
fn image_chip_id(image: &[u8]) -> u16 {
    u16::from_le_bytes([image[12], image[13]])
}

fn espflash_chip_id(chip: Chip) -> u16 {
    super::settings::espflash_chip(chip).id()
}

#[test]
fn bundles_every_rust_chip_from_synthesized_elfs() {
    for chip in Chip::RUST_NO_STD {
        let dir = tempfile::tempdir().unwrap();
        let elf = write_elf(dir.path(), "app.elf", &synth_app_elf_for(chip, true));
        let mut req = request(elf, chip);
        req.task_id = Some("task-42".to_string());

        let (result, lines) = build(&req);
        let output = result.unwrap_or_else(|e| panic!("{chip}: {e}"));
        assert_eq!(
            output.bundle_path,
            dir.path().join("app-flash-bundle.tar.gz")
        );
        assert_eq!(
            output.bundle_size_bytes,
            fs::metadata(&output.bundle_path).unwrap().len()
        );
        assert!(
            lines.iter().any(|l| l.contains("app at 0x10000")),
            "{lines:?}"
        );

        let manifest = &output.manifest;
        assert_eq!(manifest.schema_version, MANIFEST_SCHEMA_VERSION);
        assert_eq!(manifest.build.target, chip.name());
        assert_eq!(manifest.build.project, "app");
        assert_eq!(manifest.build.idf_version, "n/a-rust-no_std");
        assert_eq!(manifest.build.task_id.as_deref(), Some("task-42"));
        assert_eq!(manifest.build.git_ref, "unknown");
        assert_eq!(manifest.flash.flash_mode, "dio");
        assert_eq!(manifest.flash.flash_size, "16mb");
        let expected_freq = match chip {
            Chip::Esp32c2 => "60mhz",
            Chip::Esp32h2 => "48mhz",
            _ => "80mhz",
        };
        assert_eq!(manifest.flash.flash_freq, expected_freq, "{chip}");
        assert_eq!(manifest.flash.segments.len(), 1);
        assert_eq!(manifest.flash.segments[0].offset, "0x0");
        assert_eq!(manifest.flash.segments[0].file, "files/firmware.bin");

        let image = firmware(&output);
        assert_eq!(manifest.flash.segments[0].sha256, sha256_hex(&image));
        let boot = chip.bootloader_offset() as usize;
        assert_eq!(image[boot], 0xE9, "{chip}: bootloader magic");
        assert_eq!(
            image_chip_id(&image[boot..]),
            espflash_chip_id(chip),
            "{chip}"
        );
        assert_eq!(
            &image[0x8000..0x8002],
            &[0xAA, 0x50],
            "{chip}: partition table"
        );
        assert_eq!(image[0x10000], 0xE9, "{chip}: app magic");
        assert_eq!(
            image_chip_id(&image[0x10000..]),
            espflash_chip_id(chip),
            "{chip}"
        );
        assert_eq!(
            dir_listing(dir.path()),
            ["app-flash-bundle.tar.gz", "app.elf"]
        );
    }
}

#[test]
fn one_riscv_elf_suits_every_riscv_chip() {
    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(dir.path(), "fw", &synth_app_elf(Arch::Riscv, true));
    for chip in Chip::RUST_NO_STD
        .into_iter()
        .filter(|c| c.arch() == Arch::Riscv)
    {
        let mut req = request(elf.clone(), chip);
        req.out_path = Some(dir.path().join(format!("{chip}.tar.gz")));
        let output = build(&req).0.unwrap_or_else(|e| panic!("{chip}: {e}"));
        assert_eq!(output.manifest.build.project, "fw");
        assert_eq!(
            image_chip_id(&firmware(&output)[0x10000..]),
            espflash_chip_id(chip)
        );
    }
    let xtensa = write_elf(dir.path(), "x", &synth_app_elf(Arch::Xtensa, true));
    let output = build(&request(xtensa, Chip::Esp32s3)).0.unwrap();
    assert_eq!(output.bundle_path, dir.path().join("x-flash-bundle.tar.gz"));
}

#[test]
fn bundles_the_example_application() {
    let dir = tempfile::tempdir().unwrap();
    let elf = dir.path().join("blink-c3.elf");
    fs::copy(EXAMPLE_ELF, &elf).expect("examples/blink-c3/blink-c3.elf is committed");
    let mut req = request(elf, Chip::Esp32c3);
    req.flash_size = Some("4MB".to_string());
    req.flash_freq = Some("40m".to_string());
    req.flash_mode = Some("QIO".to_string());

    let output = build(&req).0.unwrap();
    assert_eq!(
        output.bundle_path,
        dir.path().join("blink-c3-flash-bundle.tar.gz")
    );
    assert_eq!(output.manifest.build.project, "blink-c3");
    assert_eq!(output.manifest.flash.flash_size, "4mb");
    assert_eq!(output.manifest.flash.flash_freq, "40mhz");
    assert_eq!(output.manifest.flash.flash_mode, "qio");

    let image = firmware(&output);
    let app = &image[0x10000..];
    // The descriptor is the first thing in the app's first segment (24-byte image header, 8-byte
    // segment header), and espflash filled in the ELF's SHA-256.
    assert_eq!(&app[32..36], &0xABCD5432u32.to_le_bytes());
    assert_eq!(&app[32 + 48..32 + 56], b"blink-c3");
    let elf_sha = sha256_hex(&fs::read(EXAMPLE_ELF).unwrap());
    assert_eq!(hex::encode(&app[32 + 144..32 + 176]), elf_sha);
}

#[test]
fn the_example_is_refused_for_an_xtensa_chip() {
    let (result, _) = build(&request(PathBuf::from(EXAMPLE_ELF), Chip::Esp32s3));
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains(
            "blink-c3.elf is a RISC-V ELF but esp32s3 is an Xtensa chip; pass --target esp32c3"
        ),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

#[test]
fn manifest_times_and_job_id_follow_the_build_time() {
    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(
        dir.path(),
        "handshake-full",
        &synth_app_elf_for(Chip::Esp32s3, true),
    );
    let now = Utc.with_ymd_and_hms(2026, 5, 5, 2, 52, 56).unwrap();
    let output = build_at(&request(elf, Chip::Esp32s3), now, &mut |_| {}).unwrap();
    assert_eq!(
        output.manifest.build.job_id,
        "20260505T025256Z-handshake-full"
    );
    assert_eq!(output.manifest.build.created_at, "2026-05-05T02:52:56Z");
    assert_eq!(output.manifest.build.project, "handshake-full");
    assert_eq!(
        output.bundle_path,
        dir.path().join("handshake-full-flash-bundle.tar.gz")
    );

    // The manifest serialises exactly as the protocol documents it.
    let json = serde_json::to_value(&output.manifest).unwrap();
    assert_eq!(json["build"]["ref"], "unknown");
    assert_eq!(json["flash"]["segments"][0]["offset"], "0x0");
    assert!(json["build"].get("task_id").is_none());
}

#[test]
fn default_out_path_naming() {
    let cases = [
        ("/w/app.elf", "/w/app-flash-bundle.tar.gz"),
        (
            "/w/release/handshake-full",
            "/w/release/handshake-full-flash-bundle.tar.gz",
        ),
        ("/w/fw.v2.elf", "/w/fw.v2-flash-bundle.tar.gz"),
        ("/w/app.ELF", "/w/app.ELF-flash-bundle.tar.gz"),
        ("/w/.elf", "/w/.elf-flash-bundle.tar.gz"),
    ];
    for (elf, bundle) in cases {
        assert_eq!(
            default_out_path(Path::new(elf)),
            PathBuf::from(bundle),
            "{elf}"
        );
    }
    assert_eq!(project_name(Path::new("/w/app.elf")), "app");
    assert_eq!(
        project_name(Path::new("/w/handshake-full")),
        "handshake-full"
    );
}

#[test]
fn git_ref_comes_from_the_elf_directory() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        Command::new("git")
            .args([
                "-c",
                "user.name=espctl",
                "-c",
                "user.email=espctl@example.invalid",
            ])
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
    };
    match git(&["init", "-q"]) {
        Ok(out) if out.status.success() => {}
        _ => {
            eprintln!("skipping: git is not available");
            return;
        }
    }
    fs::write(dir.path().join("README"), "firmware\n").unwrap();
    assert!(git(&["add", "README"]).unwrap().status.success());
    assert!(
        git(&["commit", "-q", "-m", "first"])
            .unwrap()
            .status
            .success()
    );
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap();
    let head = String::from_utf8(head.stdout).unwrap().trim().to_string();

    let elf = write_elf(
        dir.path(),
        "app.elf",
        &synth_app_elf_for(Chip::Esp32c3, true),
    );
    let output = build(&request(elf, Chip::Esp32c3)).0.unwrap();
    assert_eq!(output.manifest.build.git_ref, head);
}

#[test]
fn rust_targets_are_validated() {
    assert_eq!(validate_rust_target(None).unwrap(), Chip::Esp32s3);
    assert_eq!(
        validate_rust_target(Some("esp32c3")).unwrap(),
        Chip::Esp32c3
    );
    assert_eq!(
        validate_rust_target(Some("ESP32-H2")).unwrap(),
        Chip::Esp32h2
    );
    for chip in Chip::RUST_NO_STD {
        assert_eq!(validate_rust_target(Some(chip.name())).unwrap(), chip);
    }

    for refused in ["esp32p4", "esp32c5", "esp32c61"] {
        let err = validate_rust_target(Some(refused)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidTarget);
        let text = err.to_string();
        assert!(text.contains(refused), "{text}");
        assert!(
            text.contains("Rust no_std Xtensa/RISC-V toolchain doesn't cover it yet"),
            "{text}"
        );
        assert!(text.contains("espctl build"), "{text}");
        assert!(
            text.contains("esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c6, esp32h2"),
            "{text}"
        );
    }

    let err = validate_rust_target(Some("esp8266")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidTarget);
    let text = err.to_string();
    assert!(text.contains("unknown target `esp8266`"), "{text}");
    assert!(
        text.contains("esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c6, esp32h2"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("esp32s3"));
}

#[test]
fn a_request_for_a_refused_chip_is_refused_before_reading_anything() {
    let err = build(&request(
        PathBuf::from("/nonexistent/app.elf"),
        Chip::Esp32p4,
    ))
    .0
    .unwrap_err();
    assert!(matches!(
        err,
        BundleError::UnsupportedTarget {
            chip: Chip::Esp32p4
        }
    ));
}

/// Build `data` as `name` for `chip` and check the error: its kind, its code, a phrase it must contain,
/// and that the directory holds nothing but the ELF afterwards.
fn assert_build_fails(
    name: &str,
    data: &[u8],
    chip: Chip,
    code: ErrorCode,
    needle: &str,
) -> BundleError {
    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(dir.path(), name, data);
    let (result, _) = build(&request(elf, chip));
    let err = result.unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    assert!(err.to_string().contains(needle), "`{needle}` not in: {err}");
    assert_eq!(dir_listing(dir.path()), [name], "{err}");
    err
}

#[test]
fn build_errors_name_the_problem_and_leave_nothing_behind() {
    let not_elf = assert_build_fails(
        "app.bin",
        &[0xE9, 0x03, 0x02, 0x40, 0, 0, 0, 0],
        Chip::Esp32c3,
        ErrorCode::InvalidInput,
        "app.bin is not an ELF file",
    );
    assert!(matches!(not_elf, BundleError::NotAnElf { .. }));

    let wrong_arch = assert_build_fails(
        "app.elf",
        &synth_app_elf(Arch::Riscv, true),
        Chip::Esp32s3,
        ErrorCode::InvalidInput,
        "app.elf is a RISC-V ELF but esp32s3 is an Xtensa chip; pass --target esp32c3",
    );
    assert!(matches!(wrong_arch, BundleError::WrongArchitecture { .. }));

    let no_desc = assert_build_fails(
        "app.elf",
        &synth_app_elf(Arch::Xtensa, false),
        Chip::Esp32s3,
        ErrorCode::InvalidInput,
        "esp_app_desc!",
    );
    assert!(matches!(no_desc, BundleError::NoAppDescriptor { .. }));

    let full = synth_app_elf_for(Chip::Esp32c6, true);
    let truncated = assert_build_fails(
        "app.elf",
        &full[..full.len() - 7],
        Chip::Esp32c6,
        ErrorCode::InvalidInput,
        "corrupt or truncated",
    );
    assert!(matches!(truncated, BundleError::CorruptElf { .. }));
}

#[test]
fn a_missing_elf_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let elf = dir.path().join("target/release/app");
    let err = build(&request(elf.clone(), Chip::Esp32s3)).0.unwrap_err();
    assert!(matches!(err, BundleError::ElfNotFound { .. }));
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(
        err.to_string().contains(&elf.display().to_string()),
        "{err}"
    );
    assert!(err.hint().is_some());

    let err = build(&request(dir.path().to_path_buf(), Chip::Esp32s3))
        .0
        .unwrap_err();
    assert!(matches!(err, BundleError::ElfIsDirectory { .. }), "{err}");
}

#[test]
fn relative_paths_are_refused() {
    let err = build(&request(PathBuf::from("target/app.elf"), Chip::Esp32s3))
        .0
        .unwrap_err();
    assert!(matches!(err, BundleError::RelativeElfPath { .. }));
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("pass an absolute path"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(
        dir.path(),
        "app.elf",
        &synth_app_elf_for(Chip::Esp32s3, true),
    );
    let mut req = request(elf, Chip::Esp32s3);
    req.out_path = Some(PathBuf::from("out/bundle.tar.gz"));
    let err = build(&req).0.unwrap_err();
    assert!(matches!(err, BundleError::RelativeOutPath { .. }), "{err}");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

#[test]
fn bad_flash_settings_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(
        dir.path(),
        "app.elf",
        &synth_app_elf_for(Chip::Esp32s3, true),
    );
    let settings: [(Option<&str>, Option<&str>, Option<&str>); 3] = [
        (Some("fastest"), None, None),
        (None, Some("100mhz"), None),
        (None, None, Some("3mb")),
    ];
    for (mode, freq, size) in settings {
        let mut req = request(elf.clone(), Chip::Esp32s3);
        req.flash_mode = mode.map(str::to_string);
        req.flash_freq = freq.map(str::to_string);
        req.flash_size = size.map(str::to_string);
        let err = build(&req).0.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    }
    assert_eq!(dir_listing(dir.path()), ["app.elf"]);
}

#[test]
fn an_unwritable_out_path_is_a_runtime_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(
        dir.path(),
        "app.elf",
        &synth_app_elf_for(Chip::Esp32c3, true),
    );

    let missing_dir = dir.path().join("missing/out.tar.gz");
    let mut req = request(elf.clone(), Chip::Esp32c3);
    req.out_path = Some(missing_dir.clone());
    let err = build(&req).0.unwrap_err();
    assert!(matches!(err, BundleError::OutDirMissing { .. }), "{err}");
    assert_eq!(err.code(), ErrorCode::Runtime);
    assert!(
        err.to_string().contains(&missing_dir.display().to_string()),
        "{err}"
    );
    assert_eq!(dir_listing(dir.path()), ["app.elf"]);

    // procfs refuses new files even to root, so this fails however the tests are run.
    if cfg!(target_os = "linux") && Path::new("/proc/self").is_dir() {
        let proc_path = PathBuf::from("/proc/espctl-test-bundle.tar.gz");
        req.out_path = Some(proc_path.clone());
        let err = build(&req).0.unwrap_err();
        assert!(matches!(err, BundleError::WriteFailed { .. }), "{err}");
        assert_eq!(err.code(), ErrorCode::Runtime);
        assert!(
            err.to_string().contains("/proc/espctl-test-bundle.tar.gz"),
            "{err}"
        );
        assert!(!proc_path.exists());
    }
}

#[test]
fn a_failed_rebuild_keeps_the_previous_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(
        dir.path(),
        "app.elf",
        &synth_app_elf_for(Chip::Esp32c3, true),
    );
    let first = build(&request(elf.clone(), Chip::Esp32c3)).0.unwrap();
    let before = fs::read(&first.bundle_path).unwrap();

    fs::write(&elf, b"not an elf any more").unwrap();
    build(&request(elf, Chip::Esp32c3)).0.unwrap_err();
    assert_eq!(fs::read(&first.bundle_path).unwrap(), before);
    assert_eq!(
        dir_listing(dir.path()),
        ["app-flash-bundle.tar.gz", "app.elf"]
    );
}

/// How to run esptool here: `$ESPTOOL`, else `esptool` or `esptool.py` on PATH.
fn find_esptool() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ESPTOOL").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["esptool", "esptool.py"].into_iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The real esptool, or `None` with a message when it is absent and the peers are not required.
fn esptool_or_skip() -> Option<PathBuf> {
    match find_esptool() {
        Some(path) => Some(path),
        None if std::env::var("ESPCTL_REQUIRE_PEERS").as_deref() == Ok("1") => {
            panic!(
                "ESPCTL_REQUIRE_PEERS=1 but esptool was not found: set ESPTOOL or put esptool on PATH"
            )
        }
        None => {
            eprintln!("skipping: esptool not found (set ESPTOOL or put esptool on PATH)");
            None
        }
    }
}

/// The names esptool prints for each chip.
fn esptool_chip_name(chip: Chip) -> &'static str {
    match chip {
        Chip::Esp32 => "ESP32",
        Chip::Esp32s2 => "ESP32-S2",
        Chip::Esp32s3 => "ESP32-S3",
        Chip::Esp32c2 => "ESP32-C2",
        Chip::Esp32c3 => "ESP32-C3",
        Chip::Esp32c5 => "ESP32-C5",
        Chip::Esp32c6 => "ESP32-C6",
        Chip::Esp32c61 => "ESP32-C61",
        Chip::Esp32h2 => "ESP32-H2",
        Chip::Esp32p4 => "ESP32-P4",
    }
}

/// Run `esptool image-info` on the app image at 0x10000 of `output`'s firmware and check that esptool
/// recognises the chip and finds the checksum and hash valid.
fn assert_esptool_accepts(esptool: &Path, output: &BundleOutput, chip: Chip) {
    let image = firmware(output);
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.bin");
    fs::write(&app, &image[0x10000..]).unwrap();

    let result = Command::new(esptool)
        .arg("image-info")
        .arg(&app)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", esptool.display()));
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "esptool image-info failed for {chip}:\n{stdout}\n{stderr}"
    );
    let name = esptool_chip_name(chip);
    assert!(
        stdout.contains(&format!("Detected image type: {name}\n")),
        "{chip}:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("Chip ID: {} ({name})", espflash_chip_id(chip))),
        "{chip}:\n{stdout}"
    );
    assert!(
        stdout.contains("Checksum:") && stdout.contains("(valid)"),
        "{chip}:\n{stdout}"
    );
    assert!(!stdout.contains("(invalid)"), "{chip}:\n{stdout}");
}

#[test]
fn esptool_reads_the_app_image_of_every_chip() {
    let Some(esptool) = esptool_or_skip() else {
        return;
    };
    for chip in Chip::RUST_NO_STD {
        let dir = tempfile::tempdir().unwrap();
        let elf = write_elf(dir.path(), "app.elf", &synth_app_elf_for(chip, true));
        let output = build(&request(elf, chip)).0.unwrap();
        assert_esptool_accepts(&esptool, &output, chip);
    }
}

#[test]
fn esptool_reads_the_example_app_image() {
    let Some(esptool) = esptool_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let elf = dir.path().join("blink-c3.elf");
    fs::copy(EXAMPLE_ELF, &elf).unwrap();
    let output = build(&request(elf, Chip::Esp32c3)).0.unwrap();
    assert_esptool_accepts(&esptool, &output, Chip::Esp32c3);
}
