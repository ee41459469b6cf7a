//! The flash bundle of an ESP-IDF build: the images `flasher_args.json` lists, one segment per offset,
//! in the same manifest format (and vocabulary: `80mhz`, `2mb`) as Rust no_std bundles.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use espctl_protocol::ErrorCode;
use espctl_protocol::bundle::{
    MANIFEST_SCHEMA_VERSION, Manifest, ManifestBuild, ManifestFlash, Segment,
};

use crate::bundle::{FILES_DIR, sha256_hex, write_bundle};
use crate::error::DaemonError;
use crate::project::metadata::FlasherArgs;

/// Who made the bundle.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub project: String,
    pub task_id: String,
    pub idf_version: String,
    pub target: String,
    pub project_dir: PathBuf,
}

/// `80m` → `80mhz`, `26.7m` → `26.7mhz`, `80mhz` unchanged.
pub fn normalise_freq(freq: &str) -> String {
    let f = freq.trim().to_ascii_lowercase();
    if f.ends_with("mhz") {
        f
    } else if let Some(n) = f.strip_suffix('m') {
        format!("{n}mhz")
    } else {
        format!("{f}mhz")
    }
}

/// `2MB` → `2mb`, `detect`/`keep` kept as they are.
pub fn normalise_size(size: &str) -> String {
    size.trim().to_ascii_lowercase()
}

/// `git describe --always --dirty` in the project, else `unknown`.
pub fn git_describe(project_dir: &Path) -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(project_dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes `<build_dir>/flash_bundle.tar.gz` from `flasher_args.json`; returns its path, size and manifest.
pub fn write_idf_bundle(
    build_dir: &Path,
    flasher: &FlasherArgs,
    who: &Provenance,
) -> Result<(PathBuf, u64, Manifest), DaemonError> {
    if flasher.flash_files.is_empty() {
        return Err(DaemonError::new(
            ErrorCode::Runtime,
            "flasher_args.json lists no flash files, so there is nothing to bundle",
        )
        .with_hint(
            "check that the build produced the app, bootloader and partition table images",
        ));
    }
    let mut files = Vec::new();
    let mut segments = Vec::new();
    let mut used = BTreeSet::new();
    // Offsets sorted numerically, as they are laid out in flash.
    let mut entries: Vec<(u64, &String, &String)> = flasher
        .flash_files
        .iter()
        .map(|(off, file)| {
            let n = u64::from_str_radix(off.trim_start_matches("0x").trim_start_matches("0X"), 16)
                .map_err(|_| {
                    DaemonError::new(
                        ErrorCode::Runtime,
                        format!("flasher_args.json has an offset that is not hex: {off}"),
                    )
                })?;
            Ok((n, off, file))
        })
        .collect::<Result<_, DaemonError>>()?;
    entries.sort_by_key(|(n, _, _)| *n);
    for (offset, _, rel) in entries {
        let path = build_dir.join(rel);
        let data = std::fs::read(&path).map_err(|e| {
            DaemonError::new(
                ErrorCode::Runtime,
                format!(
                    "cannot read {} listed in flasher_args.json: {e}",
                    path.display()
                ),
            )
        })?;
        let base = Path::new(rel)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("image-{offset:x}.bin"));
        // Two images with one file name (unlikely, but legal) must not overwrite each other.
        let mut name = base.clone();
        let mut n = 1;
        while !used.insert(name.clone()) {
            n += 1;
            name = format!("{n}-{base}");
        }
        let inside = format!("{FILES_DIR}{name}");
        segments.push(Segment {
            offset: format!("0x{offset:x}"),
            file: inside.clone(),
            sha256: sha256_hex(&data),
        });
        files.push((inside, data));
    }
    let now = chrono::Utc::now();
    let settings = &flasher.flash_settings;
    let manifest = Manifest {
        schema_version: MANIFEST_SCHEMA_VERSION,
        build: ManifestBuild {
            job_id: format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), who.project),
            task_id: Some(who.task_id.clone()),
            project: who.project.clone(),
            git_ref: git_describe(&who.project_dir),
            idf_version: who.idf_version.clone(),
            target: who.target.clone(),
            created_at: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
        flash: ManifestFlash {
            segments,
            flash_mode: settings
                .flash_mode
                .clone()
                .unwrap_or_else(|| "dio".into())
                .to_ascii_lowercase(),
            flash_freq: normalise_freq(settings.flash_freq.as_deref().unwrap_or("80m")),
            flash_size: normalise_size(settings.flash_size.as_deref().unwrap_or("2MB")),
        },
    };
    let out = build_dir.join("flash_bundle.tar.gz");
    let size = write_bundle(&out, &manifest, &files).map_err(|e| {
        let mut err = DaemonError::new(e.code(), e.to_string());
        err.hint = e.hint();
        err
    })?;
    Ok((out, size, manifest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn vocabulary_matches_rust_bundles() {
        assert_eq!(normalise_freq("80m"), "80mhz");
        assert_eq!(normalise_freq("40MHz"), "40mhz");
        assert_eq!(normalise_size("2MB"), "2mb");
    }

    #[test]
    fn bundle_from_flasher_args_round_trips() {
        let t = tempfile::tempdir().unwrap();
        let b = t.path();
        std::fs::create_dir_all(b.join("bootloader")).unwrap();
        std::fs::create_dir_all(b.join("partition_table")).unwrap();
        std::fs::write(b.join("bootloader/bootloader.bin"), b"boot").unwrap();
        std::fs::write(b.join("partition_table/partition-table.bin"), b"pt").unwrap();
        std::fs::write(b.join("hello.bin"), b"app").unwrap();
        let flasher = FlasherArgs {
            flash_files: BTreeMap::from([
                ("0x10000".to_string(), "hello.bin".to_string()),
                ("0x0".to_string(), "bootloader/bootloader.bin".to_string()),
                (
                    "0x8000".to_string(),
                    "partition_table/partition-table.bin".to_string(),
                ),
            ]),
            flash_settings: crate::project::metadata::FlashSettings {
                flash_mode: Some("dio".into()),
                flash_size: Some("2MB".into()),
                flash_freq: Some("80m".into()),
            },
            ..Default::default()
        };
        let who = Provenance {
            project: "hello".into(),
            task_id: "t".into(),
            idf_version: "5.3.1".into(),
            target: "esp32c3".into(),
            project_dir: t.path().to_path_buf(),
        };
        let (path, size, manifest) = write_idf_bundle(b, &flasher, &who).unwrap();
        assert!(size > 0);
        let offsets: Vec<&str> = manifest
            .flash
            .segments
            .iter()
            .map(|s| s.offset.as_str())
            .collect();
        assert_eq!(offsets, ["0x0", "0x8000", "0x10000"]);
        assert_eq!(manifest.flash.flash_freq, "80mhz");
        assert_eq!(manifest.flash.flash_size, "2mb");
        let read = crate::bundle::read_bundle(&path).unwrap();
        assert_eq!(read.manifest, manifest);
        assert_eq!(read.files.len(), 3);
    }

    #[test]
    fn missing_images_are_runtime_errors() {
        let t = tempfile::tempdir().unwrap();
        let flasher = FlasherArgs {
            flash_files: BTreeMap::from([("0x10000".to_string(), "gone.bin".to_string())]),
            ..Default::default()
        };
        let who = Provenance {
            project: "x".into(),
            task_id: "t".into(),
            idf_version: "5.3".into(),
            target: "esp32".into(),
            project_dir: t.path().to_path_buf(),
        };
        let err = write_idf_bundle(t.path(), &flasher, &who).unwrap_err();
        assert_eq!(err.code, ErrorCode::Runtime);
        assert!(err.message.contains("gone.bin"));
        assert!(!t.path().join("flash_bundle.tar.gz").exists());
    }
}
