//! `.ninja_deps`: the binary log where Ninja keeps the dependencies it read from depfiles (rules
//! with `deps = gcc` or `deps = msvc`).
//!
//! Layout (all integers little-endian, as Ninja writes them on the machines it runs on):
//! - the signature `# ninjadeps\n` and a 4-byte version, 4 (Ninja 1.10 and later);
//! - records, each a 4-byte header (size in the low 31 bits, the high bit set for a deps record)
//!   followed by `size` bytes:
//!   - path record: the path, NUL-padded to a multiple of 4, then a 4-byte checksum that is the
//!     bitwise complement of the path's id (ids count path records from 0);
//!   - deps record: the output's id, its mtime as two 4-byte halves (low, high; nanoseconds on
//!     POSIX), then one id per dependency. A later record for the same output replaces an earlier.
//!
//! Like Ninja, a file with a bad signature or version counts as empty, and a damaged record ends
//! the log there (Ninja truncates the file to the last good record; this reader only reports it).

use std::io;
use std::path::Path;

use super::hash::FastMap;

pub const SIGNATURE: &[u8] = b"# ninjadeps\n";
pub const VERSION: u32 = 4;
/// The largest record Ninja writes or reads.
pub const MAX_RECORD_SIZE: u32 = (1 << 19) - 1;

/// The dependencies recorded for one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deps {
    /// The output's mtime when the deps were recorded (Ninja's timestamp: nanoseconds on POSIX).
    pub mtime: i64,
    /// Path ids of the dependencies.
    pub inputs: Vec<u32>,
}

/// How loading went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepsLogStatus {
    Loaded,
    /// No log (nothing built with `deps =` yet).
    NotFound,
    /// Ninja would throw the log away and start over (its message).
    Discarded(String),
    /// The log is damaged at byte `offset`: what came before is usable, the rest is not
    /// (Ninja's message, then it truncates the file there).
    Truncated {
        offset: u64,
        reason: String,
    },
}

/// A loaded deps log.
#[derive(Debug, Clone)]
pub struct DepsLog {
    paths: Vec<String>,
    ids: FastMap<String, u32>,
    deps: Vec<Option<Deps>>,
    status: DepsLogStatus,
    total_records: usize,
}

impl DepsLog {
    fn empty(status: DepsLogStatus) -> DepsLog {
        DepsLog {
            paths: Vec::new(),
            ids: FastMap::default(),
            deps: Vec::new(),
            status,
            total_records: 0,
        }
    }

    /// Read the log at `path`; a missing file is an empty log with [`DepsLogStatus::NotFound`].
    pub fn load(path: &Path) -> io::Result<DepsLog> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Self::parse(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Ok(Self::empty(DepsLogStatus::NotFound))
            }
            Err(e) => Err(e),
        }
    }

    /// Parse a log's bytes.
    pub fn parse(bytes: &[u8]) -> DepsLog {
        let header_ok = bytes.len() >= SIGNATURE.len() + 4 && bytes.starts_with(SIGNATURE);
        let version = if bytes.len() >= SIGNATURE.len() + 4 {
            u32_at(bytes, SIGNATURE.len())
        } else {
            0
        };
        if !header_ok || version != VERSION {
            let reason = if version == 1 {
                "deps log version change; rebuilding"
            } else {
                "bad deps log signature or version; starting over"
            };
            return Self::empty(DepsLogStatus::Discarded(reason.to_string()));
        }

        let mut log = Self::empty(DepsLogStatus::Loaded);
        let mut pos = SIGNATURE.len() + 4;
        loop {
            let offset = pos;
            if pos + 4 > bytes.len() {
                // Ninja stops quietly at a clean end, and at a partial header too.
                break;
            }
            let header = u32_at(bytes, pos);
            pos += 4;
            let is_deps = header >> 31 != 0;
            let size = (header & 0x7FFF_FFFF) as usize;
            if size as u32 > MAX_RECORD_SIZE || pos + size > bytes.len() {
                log.status = truncated(offset, "premature end of file");
                break;
            }
            let record = &bytes[pos..pos + size];
            pos += size;
            if is_deps {
                if !size.is_multiple_of(4) || size < 12 {
                    log.status = truncated(offset, "malformed deps record");
                    break;
                }
                let out_id = u32_at(record, 0);
                let mtime =
                    (u64::from(u32_at(record, 8)) << 32 | u64::from(u32_at(record, 4))) as i64;
                let inputs: Vec<u32> = record[12..]
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                let known = log.paths.len() as u32;
                if out_id >= known || inputs.iter().any(|&i| i >= known) {
                    log.status = truncated(offset, "deps record names an unknown path id");
                    break;
                }
                log.total_records += 1;
                let slot = out_id as usize;
                if log.deps.len() <= slot {
                    log.deps.resize(slot + 1, None);
                }
                log.deps[slot] = Some(Deps { mtime, inputs });
            } else {
                if size < 5 {
                    log.status = truncated(offset, "malformed path record");
                    break;
                }
                let mut path_len = size - 4;
                for _ in 0..3 {
                    if path_len > 0 && record[path_len - 1] == 0 {
                        path_len -= 1;
                    }
                }
                let checksum = u32_at(record, size - 4);
                let id = log.paths.len() as u32;
                if !checksum != id {
                    log.status = truncated(offset, "premature end of file");
                    break;
                }
                let path = String::from_utf8_lossy(&record[..path_len]).into_owned();
                if log.ids.contains_key(&path) {
                    log.status = truncated(offset, "path recorded twice");
                    break;
                }
                log.ids.insert(path.clone(), id);
                log.paths.push(path);
            }
        }
        log
    }

    pub fn status(&self) -> &DepsLogStatus {
        &self.status
    }

    /// Every path the log has an id for, by id.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn path(&self, id: u32) -> &str {
        &self.paths[id as usize]
    }

    pub fn id(&self, path: &str) -> Option<u32> {
        self.ids.get(path).copied()
    }

    /// The recorded deps of an output (by its canonical path), if any.
    pub fn deps(&self, output: &str) -> Option<&Deps> {
        let id = self.id(output)?;
        self.deps.get(id as usize)?.as_ref()
    }

    /// The dependency paths of an output.
    pub fn dep_paths(&self, output: &str) -> Option<(i64, Vec<&str>)> {
        let d = self.deps(output)?;
        Some((d.mtime, d.inputs.iter().map(|&i| self.path(i)).collect()))
    }

    /// Outputs with deps recorded, with their deps.
    pub fn outputs(&self) -> impl Iterator<Item = (&str, &Deps)> {
        self.deps
            .iter()
            .enumerate()
            .filter_map(|(id, d)| d.as_ref().map(|d| (self.paths[id].as_str(), d)))
    }

    /// Deps records in the file, superseded ones included.
    pub fn total_records(&self) -> usize {
        self.total_records
    }
}

fn truncated(offset: usize, reason: &str) -> DepsLogStatus {
    DepsLogStatus::Truncated {
        offset: offset as u64,
        reason: reason.to_string(),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Writes deps logs in Ninja's format, for tests and fixtures.
#[derive(Debug, Default)]
pub struct DepsLogWriter {
    bytes: Vec<u8>,
    ids: FastMap<String, u32>,
}

impl DepsLogWriter {
    pub fn new() -> DepsLogWriter {
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        DepsLogWriter {
            bytes,
            ids: FastMap::default(),
        }
    }

    /// The id of `path`, writing a path record if it is new.
    pub fn path_id(&mut self, path: &str) -> u32 {
        if let Some(&id) = self.ids.get(path) {
            return id;
        }
        let id = self.ids.len() as u32;
        let padding = (4 - path.len() % 4) % 4;
        let size = (path.len() + padding + 4) as u32;
        self.bytes.extend_from_slice(&size.to_le_bytes());
        self.bytes.extend_from_slice(path.as_bytes());
        self.bytes.extend(std::iter::repeat_n(0u8, padding));
        self.bytes.extend_from_slice(&(!id).to_le_bytes());
        self.ids.insert(path.to_string(), id);
        id
    }

    /// Record `output`'s deps.
    pub fn deps(&mut self, output: &str, mtime: i64, inputs: &[&str]) {
        let out = self.path_id(output);
        let ids: Vec<u32> = inputs.iter().map(|p| self.path_id(p)).collect();
        let size = (4 * (1 + 2 + ids.len())) as u32 | 0x8000_0000;
        self.bytes.extend_from_slice(&size.to_le_bytes());
        self.bytes.extend_from_slice(&out.to_le_bytes());
        self.bytes
            .extend_from_slice(&((mtime as u64 & 0xffff_ffff) as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&((mtime as u64 >> 32) as u32).to_le_bytes());
        for id in ids {
            self.bytes.extend_from_slice(&id.to_le_bytes());
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut b = b"# ninjadeps\n".to_vec();
        b.extend_from_slice(&4u32.to_le_bytes());
        b
    }

    fn path_record(b: &mut Vec<u8>, path: &str, id: u32) {
        let padded = path.len().div_ceil(4) * 4;
        b.extend_from_slice(&((padded + 4) as u32).to_le_bytes());
        b.extend_from_slice(path.as_bytes());
        b.resize(b.len() + padded - path.len(), 0);
        b.extend_from_slice(&(!id).to_le_bytes());
    }

    fn deps_record(b: &mut Vec<u8>, out: u32, mtime: i64, ins: &[u32]) {
        b.extend_from_slice(&((12 + 4 * ins.len()) as u32 | 0x8000_0000).to_le_bytes());
        b.extend_from_slice(&out.to_le_bytes());
        b.extend_from_slice(&(mtime as u64 as u32).to_le_bytes());
        b.extend_from_slice(&((mtime as u64 >> 32) as u32).to_le_bytes());
        for i in ins {
            b.extend_from_slice(&i.to_le_bytes());
        }
    }

    #[test]
    fn hand_written_log() {
        let mut b = header();
        path_record(&mut b, "out.o", 0);
        path_record(&mut b, "a.c", 1);
        path_record(&mut b, "inc/abcd.h", 2); // length 10: two bytes of padding
        path_record(&mut b, "four", 3); // length 4: no padding
        deps_record(&mut b, 0, 0x1_2345_6789, &[1, 2]);
        // A later record for the same output wins.
        deps_record(&mut b, 0, 0x2_0000_0001, &[1, 2, 3]);
        let log = DepsLog::parse(&b);
        assert_eq!(log.status(), &DepsLogStatus::Loaded);
        assert_eq!(log.paths(), ["out.o", "a.c", "inc/abcd.h", "four"]);
        let (mtime, deps) = log.dep_paths("out.o").unwrap();
        assert_eq!(mtime, 0x2_0000_0001);
        assert_eq!(deps, ["a.c", "inc/abcd.h", "four"]);
        assert!(log.deps("a.c").is_none());
        assert_eq!(log.total_records(), 2);
        assert_eq!(log.outputs().count(), 1);
    }

    #[test]
    fn writer_round_trip() {
        let mut w = DepsLogWriter::new();
        w.deps("x.o", 42, &["x.c", "x.h"]);
        w.deps("y.o", -1, &["y.c", "x.h"]);
        let log = DepsLog::parse(&w.into_bytes());
        assert_eq!(log.dep_paths("x.o").unwrap(), (42, vec!["x.c", "x.h"]));
        assert_eq!(log.dep_paths("y.o").unwrap(), (-1, vec!["y.c", "x.h"]));
    }

    #[test]
    fn bad_headers_are_discarded() {
        let log = DepsLog::parse(b"# ninjadeps\n\x03\0\0\0");
        assert!(matches!(log.status(), DepsLogStatus::Discarded(m) if m.contains("starting over")));
        let log = DepsLog::parse(b"# ninjadeps\n\x01\0\0\0");
        assert_eq!(
            log.status(),
            &DepsLogStatus::Discarded("deps log version change; rebuilding".into())
        );
        let log = DepsLog::parse(b"# ninja log v5\n");
        assert!(matches!(log.status(), DepsLogStatus::Discarded(_)));
        assert!(matches!(
            DepsLog::parse(b"").status(),
            DepsLogStatus::Discarded(_)
        ));
    }

    #[test]
    fn damage_ends_the_log_at_the_last_good_record() {
        let mut b = header();
        path_record(&mut b, "out.o", 0);
        path_record(&mut b, "a.c", 1);
        deps_record(&mut b, 0, 7, &[1]);
        let good = b.len();
        // A path record with the wrong checksum (a concurrent writer).
        path_record(&mut b, "b.c", 5);
        let log = DepsLog::parse(&b);
        assert_eq!(
            log.status(),
            &DepsLogStatus::Truncated {
                offset: good as u64,
                reason: "premature end of file".into()
            }
        );
        assert_eq!(log.dep_paths("out.o").unwrap(), (7, vec!["a.c"]));

        // A record cut short.
        let mut b = header();
        path_record(&mut b, "out.o", 0);
        let good = b.len();
        deps_record(&mut b, 0, 7, &[0]);
        b.truncate(b.len() - 2);
        let log = DepsLog::parse(&b);
        assert!(
            matches!(log.status(), DepsLogStatus::Truncated { offset, .. } if *offset == good as u64)
        );
        assert_eq!(log.paths(), ["out.o"]);

        // A trailing partial header is ignored, as Ninja does.
        let mut b = header();
        path_record(&mut b, "out.o", 0);
        b.extend_from_slice(&[1, 2]);
        assert_eq!(DepsLog::parse(&b).status(), &DepsLogStatus::Loaded);

        // Deps naming an id that has no path.
        let mut b = header();
        path_record(&mut b, "out.o", 0);
        deps_record(&mut b, 0, 7, &[9]);
        assert!(matches!(
            DepsLog::parse(&b).status(),
            DepsLogStatus::Truncated { .. }
        ));
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = DepsLog::load(&dir.path().join(".ninja_deps")).unwrap();
        assert_eq!(log.status(), &DepsLogStatus::NotFound);
    }
}
