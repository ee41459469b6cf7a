//! `build.rust_elf`: a Rust no_std ELF in, a flash bundle with one merged image out.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use espctl_protocol::bundle::{
    MANIFEST_SCHEMA_VERSION, Manifest, ManifestBuild, ManifestFlash, Segment,
};
use espctl_protocol::chip::Chip;

use super::archive::{sha256_hex, write_bundle};
use super::error::BundleError;
use super::{elf, image, settings};

/// What `idf_version` says in a bundle built from a Rust no_std ELF, where ESP-IDF plays no part.
pub const RUST_NO_STD_IDF_VERSION: &str = "n/a-rust-no_std";
/// The merged image's path inside the bundle.
pub const FIRMWARE_FILE: &str = "files/firmware.bin";
/// The target when the caller names none.
pub const DEFAULT_RUST_TARGET: Chip = Chip::Esp32s3;

/// The parameters of `build.rust_elf`, after the target was validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustElfRequest {
    /// The firmware ELF; must be absolute, since the daemon's working directory is not the caller's.
    pub elf_path: PathBuf,
    /// One of [`Chip::RUST_NO_STD`], as [`validate_rust_target`] returns it.
    pub target: Chip,
    /// Where to write the bundle; `None` writes `<elf name without .elf>-flash-bundle.tar.gz` next
    /// to the ELF.
    pub out_path: Option<PathBuf>,
    /// `qio`, `qout`, `dio` or `dout`; default `dio`.
    pub flash_mode: Option<String>,
    /// For example `40mhz` or `80m`; default `80mhz` (or the chip's fastest, when lower).
    pub flash_freq: Option<String>,
    /// `1mb` to `128mb`; default `16mb`.
    pub flash_size: Option<String>,
    /// The daemon task building the bundle, recorded in the manifest.
    pub task_id: Option<String>,
}

/// A bundle that was written.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleOutput {
    pub bundle_path: PathBuf,
    pub bundle_size_bytes: u64,
    pub manifest: Manifest,
}

/// Parse and check the `target` param of `build.rust_elf`; `None` means esp32s3.
pub fn validate_rust_target(target: Option<&str>) -> Result<Chip, BundleError> {
    let Some(name) = target else {
        return Ok(DEFAULT_RUST_TARGET);
    };
    let chip: Chip = name.parse().map_err(|_| BundleError::UnknownTarget {
        name: name.to_string(),
    })?;
    if !chip.supports_rust_no_std() {
        return Err(BundleError::UnsupportedTarget { chip });
    }
    Ok(chip)
}

/// The project name of an ELF: its file name with a trailing `.elf` dropped.
pub fn project_name(elf_path: &Path) -> String {
    let name = elf_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "firmware".to_string());
    match name.strip_suffix(".elf") {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => name,
    }
}

/// Where the bundle goes when the caller names no path: next to the ELF.
pub fn default_out_path(elf_path: &Path) -> PathBuf {
    let file = format!("{}-flash-bundle.tar.gz", project_name(elf_path));
    match elf_path.parent() {
        Some(dir) => dir.join(file),
        None => PathBuf::from(file),
    }
}

/// Build the flash bundle for `req`. `log` receives progress lines for the task log.
pub fn build_rust_elf_bundle(
    req: &RustElfRequest,
    log: &mut dyn FnMut(&str),
) -> Result<BundleOutput, BundleError> {
    build_at(req, Utc::now(), log)
}

/// [`build_rust_elf_bundle`] at a given time, so tests can pin the timestamps.
pub(crate) fn build_at(
    req: &RustElfRequest,
    now: DateTime<Utc>,
    log: &mut dyn FnMut(&str),
) -> Result<BundleOutput, BundleError> {
    let chip = req.target;
    if !chip.supports_rust_no_std() {
        return Err(BundleError::UnsupportedTarget { chip });
    }
    let elf_path = &req.elf_path;
    if !elf_path.is_absolute() {
        return Err(BundleError::RelativeElfPath {
            path: elf_path.clone(),
        });
    }
    let out_path = match &req.out_path {
        Some(path) if !path.is_absolute() => {
            return Err(BundleError::RelativeOutPath { path: path.clone() });
        }
        Some(path) => path.clone(),
        None => default_out_path(elf_path),
    };
    // Settings are checked before the ELF is read: a typo in them is cheaper to report first.
    let params = settings::resolve(
        chip,
        req.flash_mode.as_deref(),
        req.flash_freq.as_deref(),
        req.flash_size.as_deref(),
    )?;

    let data = read_elf(elf_path)?;
    let file = elf_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| elf_path.display().to_string());
    log(&format!(
        "reading {} ({} bytes) for {chip}",
        elf_path.display(),
        data.len()
    ));
    let facts = elf::check(&data, &file, chip)?;
    let built_for = facts
        .built_for
        .map(|chip| format!(", built for {chip}"))
        .unwrap_or_default();
    log(&format!(
        "{file}: {} ELF{built_for}, app descriptor at {:#010x}",
        facts.arch, facts.app_desc_addr
    ));
    if params.mode_name == "qout" {
        log(
            "espflash bundles no QOUT bootloader: the bootloader reads flash in DIO, the app \
             header says QOUT",
        );
    }

    let merged = image::merged_image(&data, &file, chip, &params)?;
    for part in &merged.parts {
        log(&format!(
            "{} at {:#07x}: {} bytes",
            part.name, part.offset, part.len
        ));
    }
    log(&format!(
        "app uses {} of {} bytes in its partition ({:.1}%); merged image {} bytes, {} {} {}",
        merged.app_size,
        merged.partition_size,
        f64::from(merged.app_size) * 100.0 / f64::from(merged.partition_size.max(1)),
        merged.data.len(),
        params.mode_name,
        params.freq_name,
        params.size_name,
    ));

    let project = project_name(elf_path);
    let manifest = Manifest {
        schema_version: MANIFEST_SCHEMA_VERSION,
        build: ManifestBuild {
            job_id: format!("{}-{project}", now.format("%Y%m%dT%H%M%SZ")),
            task_id: req.task_id.clone(),
            project,
            git_ref: git_short_ref(elf_path.parent()),
            idf_version: RUST_NO_STD_IDF_VERSION.to_string(),
            target: chip.name().to_string(),
            created_at: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
        flash: ManifestFlash {
            segments: vec![Segment {
                offset: "0x0".to_string(),
                file: FIRMWARE_FILE.to_string(),
                sha256: sha256_hex(&merged.data),
            }],
            flash_mode: params.mode_name.clone(),
            flash_freq: params.freq_name.clone(),
            flash_size: params.size_name.clone(),
        },
    };

    let size = write_bundle(
        &out_path,
        &manifest,
        &[(FIRMWARE_FILE.to_string(), merged.data)],
    )?;
    log(&format!("wrote {} ({size} bytes)", out_path.display()));
    Ok(BundleOutput {
        bundle_path: out_path,
        bundle_size_bytes: size,
        manifest,
    })
}

fn read_elf(path: &Path) -> Result<Vec<u8>, BundleError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(BundleError::ElfIsDirectory {
                path: path.to_path_buf(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BundleError::ElfNotFound {
                path: path.to_path_buf(),
            });
        }
        _ => {}
    }
    std::fs::read(path).map_err(|source| BundleError::ElfUnreadable {
        path: path.to_path_buf(),
        source,
    })
}

/// `git rev-parse --short HEAD` in `dir`, or `unknown` when git is missing, fails, or `dir` is not in
/// a checkout. Best effort by design: the ref is informational.
fn git_short_ref(dir: Option<&Path>) -> String {
    const UNKNOWN: &str = "unknown";
    let Some(dir) = dir.filter(|d| d.is_dir()) else {
        return UNKNOWN.to_string();
    };
    let output = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                text
            } else {
                UNKNOWN.to_string()
            }
        }
        _ => UNKNOWN.to_string(),
    }
}
