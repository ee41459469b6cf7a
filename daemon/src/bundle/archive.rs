//! The bundle file itself: [`write_bundle`] writes a `tar.gz` atomically, [`read_bundle`] reads one
//! back and checks it entry by entry into a [`VerifiedBundle`].

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use espctl_protocol::bundle::{MANIFEST_SCHEMA_VERSION, Manifest};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tar::EntryType;

use super::error::BundleError;

/// The manifest's path inside a bundle.
pub const MANIFEST_PATH: &str = "manifest.json";
/// The folder inside a bundle that holds the images.
pub const FILES_DIR: &str = "files/";

/// Flash chips top out at 128 MB; anything larger in a bundle is a decompression bomb or garbage.
const MAX_FILE_BYTES: u64 = 128 << 20;
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
const MAX_TOTAL_BYTES: u64 = 256 << 20;

/// A bundle whose every entry was checked: the paths are safe, every file is listed in the manifest and
/// matches its SHA-256, and nothing else is in the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBundle {
    pub manifest: Manifest,
    /// `(path inside the bundle, contents)`, in the order of `manifest.flash.segments`.
    pub files: Vec<(String, Vec<u8>)>,
}

impl VerifiedBundle {
    /// `(flash offset, image)` for each segment, in manifest order: what a flasher writes.
    pub fn segments(&self) -> Vec<(u32, &[u8])> {
        self.manifest
            .flash
            .segments
            .iter()
            .filter_map(|segment| {
                let offset = parse_offset(&segment.offset)?;
                let (_, data) = self.files.iter().find(|(name, _)| *name == segment.file)?;
                Some((offset, data.as_slice()))
            })
            .collect()
    }
}

/// Lowercase hex SHA-256, as the manifest records it.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Write a bundle holding `manifest.json` and `files`, each given as `(path inside the bundle, e.g.
/// "files/firmware.bin", contents)`. Returns the size of the written bundle in bytes.
///
/// The bundle is written to a temporary file in the destination directory, flushed to disk and renamed
/// over `out_path`, so `out_path` holds either the old file or the complete new one, never a partial
/// one. `files` must match the manifest (every segment's file present with its SHA-256, nothing else):
/// a bundle [`read_bundle`] would refuse is never written.
pub fn write_bundle(
    out_path: &Path,
    manifest: &Manifest,
    files: &[(String, Vec<u8>)],
) -> Result<u64, BundleError> {
    check_consistent(manifest, files)?;

    if out_path.is_dir() {
        return Err(BundleError::OutPathIsDirectory {
            path: out_path.to_path_buf(),
        });
    }
    let dir = match out_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let write_failed = |source: io::Error| BundleError::WriteFailed {
        path: out_path.to_path_buf(),
        source,
    };
    if !dir.exists() {
        return Err(BundleError::OutDirMissing {
            path: out_path.to_path_buf(),
            dir,
        });
    }
    if !dir.is_dir() {
        return Err(write_failed(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is a file, not a directory", dir.display()),
        )));
    }

    // Dropping the temporary file on any early return removes it, so a failure leaves no trace.
    let temp = tempfile::Builder::new()
        .prefix(".espctl-bundle-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(write_failed)?;

    let manifest_json =
        serde_json::to_vec_pretty(manifest).map_err(|e| BundleError::InconsistentBundle {
            detail: format!("the manifest does not serialise: {e}"),
        })?;
    let mtime = chrono::DateTime::parse_from_rfc3339(&manifest.build.created_at)
        .map(|t| t.timestamp().max(0) as u64)
        .unwrap_or(0);

    let encoder = GzEncoder::new(BufWriter::new(temp.as_file()), Compression::default());
    let mut builder = tar::Builder::new(encoder);
    append_file(&mut builder, MANIFEST_PATH, &manifest_json, mtime).map_err(write_failed)?;
    for (name, data) in files {
        append_file(&mut builder, name, data, mtime).map_err(write_failed)?;
    }
    let encoder = builder.into_inner().map_err(write_failed)?;
    let mut buffered = encoder.finish().map_err(write_failed)?;
    buffered.flush().map_err(write_failed)?;
    drop(buffered);

    #[cfg(unix)]
    {
        // tempfile creates 0600; a bundle is no secret and is often handed to other users or CI.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))
            .map_err(write_failed)?;
    }
    temp.as_file().sync_all().map_err(write_failed)?;
    let size = temp.as_file().metadata().map_err(write_failed)?.len();
    temp.persist(out_path).map_err(|e| write_failed(e.error))?;
    // The rename is durable only once the directory entry is on disk; some filesystems refuse to sync
    // a directory, and the bundle itself is complete either way.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(size)
}

fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    mtime: u64,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    builder.append_data(&mut header, name, data)
}

/// Check that `files` are exactly the manifest's segment files, with matching digests and safe names.
fn check_consistent(manifest: &Manifest, files: &[(String, Vec<u8>)]) -> Result<(), BundleError> {
    let inconsistent = |detail: String| Err(BundleError::InconsistentBundle { detail });
    if manifest.schema_version != MANIFEST_SCHEMA_VERSION {
        return inconsistent(format!(
            "schema_version is {}, expected {MANIFEST_SCHEMA_VERSION}",
            manifest.schema_version
        ));
    }
    if manifest.flash.segments.is_empty() {
        return inconsistent("the manifest lists no segments".to_string());
    }
    let mut names = HashSet::new();
    for (name, _) in files {
        if let Err(reason) = check_file_name(name) {
            return inconsistent(reason);
        }
        if !names.insert(name.as_str()) {
            return inconsistent(format!("{name} is given twice"));
        }
        if !manifest.flash.segments.iter().any(|s| s.file == *name) {
            return inconsistent(format!("{name} is not listed in the manifest"));
        }
    }
    for segment in &manifest.flash.segments {
        if parse_offset(&segment.offset).is_none() {
            return inconsistent(format!(
                "segment offset `{}` is not a 0x-prefixed hex number",
                segment.offset
            ));
        }
        let Some((_, data)) = files.iter().find(|(name, _)| *name == segment.file) else {
            return inconsistent(format!("{} is listed but not given", segment.file));
        };
        if sha256_hex(data) != segment.sha256 {
            return inconsistent(format!("{} does not match its sha256", segment.file));
        }
    }
    Ok(())
}

/// A bundle file name must be a plain relative path under `files/` with no `.` or `..` parts.
fn check_file_name(name: &str) -> Result<(), String> {
    let rest = name
        .strip_prefix(FILES_DIR)
        .ok_or_else(|| format!("`{name}` is not under {FILES_DIR}"))?;
    if rest.is_empty()
        || rest
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        || name.contains('\\')
    {
        return Err(format!("`{name}` is not a plain path under {FILES_DIR}"));
    }
    Ok(())
}

/// `0x10000` → 0x10000; hex with a `0x` prefix only, as the manifest spells offsets.
pub(crate) fn parse_offset(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0x")?;
    if digits.is_empty() {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// Read and verify the bundle at `path`.
///
/// Refuses entries whose path is absolute or climbs out with `..`; symlinks, hard links, devices and
/// anything else that is not a regular file or a directory; files not listed in the manifest; listed
/// files that are missing or whose SHA-256 differs; a manifest with another schema version.
pub fn read_bundle(path: &Path) -> Result<VerifiedBundle, BundleError> {
    let invalid = |reason: String| BundleError::InvalidBundle {
        path: path.to_path_buf(),
        reason,
    };
    let unreadable = |source: io::Error| BundleError::BundleUnreadable {
        path: path.to_path_buf(),
        source,
    };

    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(BundleError::BundleNotFound {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(unreadable(e)),
    };
    if file.metadata().map_err(unreadable)?.is_dir() {
        return Err(invalid("it is a directory, not a .tar.gz file".to_string()));
    }

    // A corrupt gzip stream or tar header surfaces as an I/O error from the reader; report it as a bad
    // bundle, since the file itself could be read.
    let not_an_archive =
        |e: io::Error| invalid(format!("it is not a readable tar.gz archive ({e})"));

    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut manifest_bytes: Option<Vec<u8>> = None;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut total: u64 = 0;

    for entry in archive.entries().map_err(not_an_archive)? {
        let mut entry = entry.map_err(not_an_archive)?;
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let entry_type = entry.header().entry_type();
        let name = normalise_entry_path(&raw_path)
            .ok_or_else(|| invalid(format!("entry `{shown}` has an unsafe path")))?;

        match entry_type {
            EntryType::Regular | EntryType::Continuous => {}
            EntryType::Directory => continue,
            // Global pax headers (written by `git archive`) carry archive-wide metadata, not files.
            EntryType::XGlobalHeader => continue,
            EntryType::Symlink => {
                return Err(invalid(format!("entry `{shown}` is a symbolic link")));
            }
            EntryType::Link => return Err(invalid(format!("entry `{shown}` is a hard link"))),
            other => {
                return Err(invalid(format!(
                    "entry `{shown}` is not a regular file (type {:?})",
                    other
                )));
            }
        }

        let limit = if name == MANIFEST_PATH {
            MAX_MANIFEST_BYTES
        } else {
            MAX_FILE_BYTES
        };
        let size = entry.header().size().map_err(not_an_archive)?;
        if size > limit {
            return Err(invalid(format!(
                "entry `{shown}` is {size} bytes, more than the {limit} allowed"
            )));
        }
        total += size;
        if total > MAX_TOTAL_BYTES {
            return Err(invalid(format!(
                "its contents exceed {MAX_TOTAL_BYTES} bytes"
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(not_an_archive)?;

        if name == MANIFEST_PATH {
            if manifest_bytes.replace(data).is_some() {
                return Err(invalid("it holds manifest.json twice".to_string()));
            }
        } else if files.insert(name.clone(), data).is_some() {
            return Err(invalid(format!("it holds `{name}` twice")));
        }
    }

    let manifest_bytes =
        manifest_bytes.ok_or_else(|| invalid("it has no manifest.json".to_string()))?;
    let manifest = parse_manifest(path, &manifest_bytes)?;

    if manifest.flash.segments.is_empty() {
        return Err(invalid("its manifest lists no segments".to_string()));
    }
    let mut ordered = Vec::with_capacity(manifest.flash.segments.len());
    for segment in &manifest.flash.segments {
        check_file_name(&segment.file)
            .map_err(|reason| invalid(format!("the manifest names {reason}")))?;
        if parse_offset(&segment.offset).is_none() {
            return Err(invalid(format!(
                "segment offset `{}` is not a 0x-prefixed hex number",
                segment.offset
            )));
        }
        let data = files.get(&segment.file).ok_or_else(|| {
            invalid(format!(
                "`{}` is listed in the manifest but missing",
                segment.file
            ))
        })?;
        let actual = sha256_hex(data);
        if !actual.eq_ignore_ascii_case(&segment.sha256) {
            return Err(invalid(format!(
                "`{}` has sha256 {actual}, but the manifest says {}; the file was changed or damaged",
                segment.file, segment.sha256
            )));
        }
        if !ordered
            .iter()
            .any(|(name, _): &(String, Vec<u8>)| *name == segment.file)
        {
            ordered.push((segment.file.clone(), data.clone()));
        }
    }
    if let Some(extra) = files
        .keys()
        .find(|name| !manifest.flash.segments.iter().any(|s| s.file == **name))
    {
        return Err(invalid(format!(
            "it holds `{extra}`, which the manifest does not list"
        )));
    }

    Ok(VerifiedBundle {
        manifest,
        files: ordered,
    })
}

/// Parse the manifest, telling a newer schema apart from a damaged file.
fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest, BundleError> {
    let invalid = |reason: String| BundleError::InvalidBundle {
        path: path.to_path_buf(),
        reason,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("manifest.json is not valid JSON ({e})")))?;
    match value.get("schema_version") {
        Some(serde_json::Value::Number(n))
            if n.as_u64() == Some(MANIFEST_SCHEMA_VERSION.into()) => {}
        Some(other) => {
            return Err(BundleError::UnsupportedSchema {
                path: path.to_path_buf(),
                found: other.to_string(),
            });
        }
        None => return Err(invalid("manifest.json has no schema_version".to_string())),
    }
    serde_json::from_value(value).map_err(|e| {
        invalid(format!(
            "manifest.json does not match schema version 1 ({e})"
        ))
    })
}

/// The entry's path as a `/`-separated relative path without `.` parts, or `None` when it is absolute,
/// climbs with `..`, is empty or is not UTF-8.
fn normalise_entry_path(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.contains('\\') {
        return None;
    }
    let mut parts = Vec::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        // "./" on its own: the archive root, which only a directory entry can name.
        return Some(String::new());
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use espctl_protocol::bundle::{ManifestBuild, ManifestFlash, Segment};
    use espctl_protocol::error::ErrorCode;

    fn manifest_for(files: &[(&str, &[u8])]) -> Manifest {
        Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            build: ManifestBuild {
                job_id: "20260505T025256Z-demo".to_string(),
                task_id: Some("t1".to_string()),
                project: "demo".to_string(),
                git_ref: "unknown".to_string(),
                idf_version: "n/a-rust-no_std".to_string(),
                target: "esp32c3".to_string(),
                created_at: "2026-05-05T02:52:56Z".to_string(),
            },
            flash: ManifestFlash {
                segments: files
                    .iter()
                    .enumerate()
                    .map(|(i, (name, data))| Segment {
                        offset: format!("{:#x}", i * 0x10000),
                        file: name.to_string(),
                        sha256: sha256_hex(data),
                    })
                    .collect(),
                flash_mode: "dio".to_string(),
                flash_freq: "80mhz".to_string(),
                flash_size: "16mb".to_string(),
            },
        }
    }

    fn owned(files: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect()
    }

    /// How a raw tar entry is written by [`raw_bundle`].
    enum Raw<'a> {
        File(&'a str, &'a [u8]),
        Symlink(&'a str, &'a str),
        HardLink(&'a str, &'a str),
        Fifo(&'a str),
        Dir(&'a str),
    }

    /// A tar.gz built entry by entry, bypassing every check `write_bundle` makes.
    fn raw_bundle(dir: &Path, entries: &[Raw<'_>]) -> PathBuf {
        let path = dir.join("raw.tar.gz");
        let encoder = GzEncoder::new(File::create(&path).unwrap(), Compression::fast());
        let mut builder = tar::Builder::new(encoder);
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            let (name, data, kind, link): (&str, &[u8], EntryType, Option<&str>) = match entry {
                Raw::File(name, data) => (name, data, EntryType::Regular, None),
                Raw::Symlink(name, to) => (name, b"", EntryType::Symlink, Some(to)),
                Raw::HardLink(name, to) => (name, b"", EntryType::Link, Some(to)),
                Raw::Fifo(name) => (name, b"", EntryType::Fifo, None),
                Raw::Dir(name) => (name, b"", EntryType::Directory, None),
            };
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            // Written straight into the header: `append_data` would refuse `..` and absolute paths,
            // which is exactly what these tests need to produce.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if let Some(to) = link {
                header.set_link_name(to).unwrap();
            }
            header.set_cksum();
            builder.append(&header, data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    fn manifest_json(manifest: &Manifest) -> Vec<u8> {
        serde_json::to_vec(manifest).unwrap()
    }

    fn assert_invalid(result: Result<VerifiedBundle, BundleError>, needle: &str) {
        let err = result.unwrap_err();
        assert!(
            matches!(err, BundleError::InvalidBundle { .. }),
            "expected InvalidBundle, got {err}"
        );
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        let text = err.to_string();
        assert!(text.contains(needle), "`{needle}` not in: {text}");
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let image: &[u8] = &[0xE9, 1, 2, 3, 0xFF, 0xFF];
        let part: &[u8] = b"second";
        let manifest = manifest_for(&[("files/firmware.bin", image), ("files/part.bin", part)]);
        let out = dir.path().join("demo-flash-bundle.tar.gz");
        let files = owned(&[("files/firmware.bin", image), ("files/part.bin", part)]);

        let size = write_bundle(&out, &manifest, &files).unwrap();
        assert_eq!(size, fs::metadata(&out).unwrap().len());

        let bundle = read_bundle(&out).unwrap();
        assert_eq!(bundle.manifest, manifest);
        assert_eq!(bundle.files, files);
        assert_eq!(bundle.segments(), vec![(0, image), (0x10000, part)]);

        // Nothing but the bundle is left in the directory.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("demo-flash-bundle.tar.gz")]
        );
    }

    #[test]
    fn rewriting_replaces_the_old_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b.tar.gz");
        for content in [&b"old"[..], b"new contents"] {
            let manifest = manifest_for(&[("files/firmware.bin", content)]);
            write_bundle(&out, &manifest, &owned(&[("files/firmware.bin", content)])).unwrap();
        }
        assert_eq!(read_bundle(&out).unwrap().files[0].1, b"new contents");
    }

    #[test]
    fn write_refuses_files_that_do_not_match_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b.tar.gz");
        let manifest = manifest_for(&[("files/firmware.bin", b"abc")]);
        let cases: Vec<Vec<(String, Vec<u8>)>> = vec![
            owned(&[("files/firmware.bin", b"abd")]),
            owned(&[]),
            owned(&[("files/firmware.bin", b"abc"), ("files/extra.bin", b"x")]),
            owned(&[("files/../firmware.bin", b"abc")]),
        ];
        for files in cases {
            let err = write_bundle(&out, &manifest, &files).unwrap_err();
            assert!(
                matches!(err, BundleError::InconsistentBundle { .. }),
                "{err}"
            );
            assert!(!out.exists());
        }
    }

    #[test]
    fn write_to_a_missing_directory_is_a_runtime_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("no/such/dir/b.tar.gz");
        let manifest = manifest_for(&[("files/firmware.bin", b"abc")]);
        let err =
            write_bundle(&out, &manifest, &owned(&[("files/firmware.bin", b"abc")])).unwrap_err();
        assert!(matches!(err, BundleError::OutDirMissing { .. }), "{err}");
        assert_eq!(err.code(), ErrorCode::Runtime);
        assert!(err.to_string().contains(&out.display().to_string()));
        assert!(!out.exists());
    }

    #[test]
    fn write_below_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        let out = file.join("b.tar.gz");
        let manifest = manifest_for(&[("files/firmware.bin", b"abc")]);
        let err =
            write_bundle(&out, &manifest, &owned(&[("files/firmware.bin", b"abc")])).unwrap_err();
        assert!(matches!(err, BundleError::WriteFailed { .. }), "{err}");
        assert!(
            err.to_string().contains("is a file, not a directory"),
            "{err}"
        );
        assert_eq!(err.code(), ErrorCode::Runtime);
    }

    #[test]
    fn write_to_a_directory_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = manifest_for(&[("files/firmware.bin", b"abc")]);
        let err = write_bundle(
            dir.path(),
            &manifest,
            &owned(&[("files/firmware.bin", b"abc")]),
        )
        .unwrap_err();
        assert!(
            matches!(err, BundleError::OutPathIsDirectory { .. }),
            "{err}"
        );
        assert_eq!(err.code(), ErrorCode::Runtime);
    }

    #[cfg(unix)]
    #[test]
    fn write_to_a_read_only_directory_leaves_nothing_behind() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
        // Root ignores directory permissions; the check means nothing then.
        if File::create(locked.join("probe")).is_ok() {
            eprintln!("skipping: running with permission to write anywhere");
            return;
        }
        let out = locked.join("b.tar.gz");
        let manifest = manifest_for(&[("files/firmware.bin", b"abc")]);
        let err =
            write_bundle(&out, &manifest, &owned(&[("files/firmware.bin", b"abc")])).unwrap_err();
        assert!(matches!(err, BundleError::WriteFailed { .. }), "{err}");
        assert_eq!(err.code(), ErrorCode::Runtime);
        assert!(err.to_string().contains(&out.display().to_string()));
        assert_eq!(fs::read_dir(&locked).unwrap().count(), 0);
    }

    #[test]
    fn read_accepts_a_hand_made_bundle_with_dot_paths_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let image: &[u8] = b"image";
        let manifest = manifest_for(&[("files/firmware.bin", image)]);
        let json = manifest_json(&manifest);
        let path = raw_bundle(
            dir.path(),
            &[
                Raw::Dir("./"),
                Raw::File("./manifest.json", &json),
                Raw::Dir("./files/"),
                Raw::File("./files/firmware.bin", image),
            ],
        );
        let bundle = read_bundle(&path).unwrap();
        assert_eq!(bundle.files, owned(&[("files/firmware.bin", image)]));
    }

    #[test]
    fn read_rejects_path_traversal() {
        let dir = tempfile::tempdir().unwrap();
        let image: &[u8] = b"image";
        let manifest = manifest_for(&[("files/firmware.bin", image)]);
        let json = manifest_json(&manifest);
        for evil in ["../evil.bin", "files/../../evil.bin", "/etc/evil.bin"] {
            let path = raw_bundle(
                dir.path(),
                &[
                    Raw::File("manifest.json", &json),
                    Raw::File("files/firmware.bin", image),
                    Raw::File(evil, b"x"),
                ],
            );
            assert_invalid(read_bundle(&path), "unsafe path");
        }
    }

    #[test]
    fn read_rejects_links_and_devices() {
        let dir = tempfile::tempdir().unwrap();
        let image: &[u8] = b"image";
        let manifest = manifest_for(&[("files/firmware.bin", image)]);
        let json = manifest_json(&manifest);
        let cases = [
            (
                Raw::Symlink("files/firmware.bin", "/etc/passwd"),
                "symbolic link",
            ),
            (
                Raw::HardLink("files/firmware.bin", "manifest.json"),
                "hard link",
            ),
            (Raw::Fifo("files/firmware.bin"), "not a regular file"),
        ];
        for (entry, needle) in cases {
            let path = raw_bundle(dir.path(), &[Raw::File("manifest.json", &json), entry]);
            assert_invalid(read_bundle(&path), needle);
        }
    }

    #[test]
    fn read_rejects_unlisted_missing_and_altered_files() {
        let dir = tempfile::tempdir().unwrap();
        let image: &[u8] = b"image";
        let manifest = manifest_for(&[("files/firmware.bin", image)]);
        let json = manifest_json(&manifest);

        let path = raw_bundle(
            dir.path(),
            &[
                Raw::File("manifest.json", &json),
                Raw::File("files/firmware.bin", image),
                Raw::File("files/payload.bin", b"surprise"),
            ],
        );
        assert_invalid(read_bundle(&path), "does not list");

        let path = raw_bundle(dir.path(), &[Raw::File("manifest.json", &json)]);
        assert_invalid(read_bundle(&path), "missing");

        let path = raw_bundle(
            dir.path(),
            &[
                Raw::File("manifest.json", &json),
                Raw::File("files/firmware.bin", b"imagf"),
            ],
        );
        assert_invalid(read_bundle(&path), "sha256");

        let path = raw_bundle(dir.path(), &[Raw::File("files/firmware.bin", image)]);
        assert_invalid(read_bundle(&path), "no manifest.json");
    }

    #[test]
    fn read_rejects_other_schema_versions_and_bad_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let image: &[u8] = b"image";
        let mut value =
            serde_json::to_value(manifest_for(&[("files/firmware.bin", image)])).unwrap();
        value["schema_version"] = serde_json::json!(2);
        let json = serde_json::to_vec(&value).unwrap();
        let path = raw_bundle(
            dir.path(),
            &[
                Raw::File("manifest.json", &json),
                Raw::File("files/firmware.bin", image),
            ],
        );
        let err = read_bundle(&path).unwrap_err();
        assert!(
            matches!(err, BundleError::UnsupportedSchema { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("schema_version 2"), "{err}");

        let path = raw_bundle(
            dir.path(),
            &[
                Raw::File("manifest.json", b"{not json"),
                Raw::File("files/firmware.bin", image),
            ],
        );
        assert_invalid(read_bundle(&path), "not valid JSON");

        let mut traversing = manifest_for(&[("files/firmware.bin", image)]);
        traversing.flash.segments[0].file = "../firmware.bin".to_string();
        let json = manifest_json(&traversing);
        let path = raw_bundle(dir.path(), &[Raw::File("manifest.json", &json)]);
        assert_invalid(read_bundle(&path), "not under files/");
    }

    #[test]
    fn read_reports_missing_and_garbage_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_bundle(&dir.path().join("absent.tar.gz")).unwrap_err();
        assert!(matches!(err, BundleError::BundleNotFound { .. }), "{err}");

        let garbage = dir.path().join("garbage.tar.gz");
        fs::write(&garbage, b"this is not gzip").unwrap();
        assert_invalid(read_bundle(&garbage), "not a readable tar.gz");
    }

    #[test]
    fn offsets_parse_as_prefixed_hex_only() {
        assert_eq!(parse_offset("0x0"), Some(0));
        assert_eq!(parse_offset("0x10000"), Some(0x10000));
        assert_eq!(parse_offset("65536"), None);
        assert_eq!(parse_offset("0x"), None);
        assert_eq!(parse_offset("0xZZ"), None);
    }
}
