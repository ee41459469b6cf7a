//! `.ninja_log`: the text log of every command Ninja ran, one line per output.
//!
//! The first line is `# ninja log v<N>`; every other line is five tab-separated fields: start and
//! end time of the command in milliseconds since the build began, the output's mtime as Ninja
//! recorded it (its restat time), the output path, and the command's hash in hex (version 4 has the
//! command text there instead). Each build appends; a later line for an output wins.
//!
//! Versions: 4 (text commands) and 5 are read by Ninja 1.10 and 1.11, 6 by 1.12 (same layout, new
//! mtime semantics), 7 by 1.13 (the hash becomes rapidhash). Each Ninja throws away a log of a
//! version it does not read and starts over, so "will this output rebuild" depends on the Ninja
//! that will run: see [`BuildLog::usable_by`].

use std::io;
use std::path::Path;

use super::hash::{FastMap, murmur_hash_64a};

/// One output's last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub output: String,
    pub command_hash: u64,
    /// Milliseconds since the start of the build that ran it.
    pub start_ms: i32,
    pub end_ms: i32,
    /// The output's mtime as recorded (Ninja's timestamp units: nanoseconds on POSIX).
    pub mtime: i64,
}

/// How loading went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildLogStatus {
    Loaded,
    NotFound,
    /// No `# ninja log vN` line, or a version no Ninja reads.
    Discarded(String),
}

/// The hash function the log's command hashes were made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandHash {
    /// Versions 4 to 6: MurmurHash64A with Ninja's seed.
    Murmur64A,
    /// Version 7: rapidhash. Not computed here: commands cannot be compared with such a log.
    RapidHash,
}

/// A loaded `.ninja_log`.
#[derive(Debug, Clone)]
pub struct BuildLog {
    version: u32,
    entries: FastMap<String, LogEntry>,
    status: BuildLogStatus,
    total_entries: usize,
}

impl BuildLog {
    fn empty(status: BuildLogStatus) -> BuildLog {
        BuildLog {
            version: 0,
            entries: FastMap::default(),
            status,
            total_entries: 0,
        }
    }

    /// Read the log at `path`; a missing file is an empty log with [`BuildLogStatus::NotFound`].
    pub fn load(path: &Path) -> io::Result<BuildLog> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Self::parse(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Ok(Self::empty(BuildLogStatus::NotFound))
            }
            Err(e) => Err(e),
        }
    }

    /// Parse a log's text.
    pub fn parse(bytes: &[u8]) -> BuildLog {
        let mut lines = bytes.split(|&b| b == b'\n');
        let first = lines.next().unwrap_or_default();
        let version = first
            .strip_prefix(b"# ninja log v")
            .map(|rest| atoi(rest) as u32)
            .unwrap_or(0);
        if bytes.is_empty() {
            return Self::empty(BuildLogStatus::Loaded);
        }
        if !(4..=7).contains(&version) {
            return Self::empty(BuildLogStatus::Discarded(format!(
                "build log version {version} is not one Ninja reads; starting over"
            )));
        }
        let mut log = Self::empty(BuildLogStatus::Loaded);
        log.version = version;
        // The piece after the last newline is an unfinished line: Ninja skips it.
        let complete = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(last) => &bytes[..last],
            None => &[][..],
        };
        for line in complete.split(|&b| b == b'\n').skip(1) {
            let mut fields = line.splitn(5, |&b| b == b'\t');
            let (Some(start), Some(end), Some(mtime), Some(output), Some(rest)) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            ) else {
                continue;
            };
            let command_hash = if version >= 5 {
                u64_hex(rest)
            } else {
                murmur_hash_64a(rest)
            };
            let output = String::from_utf8_lossy(output).into_owned();
            log.total_entries += 1;
            let entry = LogEntry {
                output: output.clone(),
                command_hash,
                start_ms: atoi(start) as i32,
                end_ms: atoi(end) as i32,
                mtime: atoi(mtime),
            };
            log.entries.insert(output, entry);
        }
        log
    }

    pub fn status(&self) -> &BuildLogStatus {
        &self.status
    }

    /// The log's format version (0 when empty or discarded).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether a given Ninja (major, minor) reads this log rather than starting over.
    pub fn usable_by(&self, ninja: (u32, u32)) -> bool {
        if self.status != BuildLogStatus::Loaded || self.version == 0 {
            return false;
        }
        let accepted = match ninja {
            (1, minor) if minor <= 11 => 4..=5,
            (1, 12) => 6..=6,
            _ => 7..=7,
        };
        accepted.contains(&self.version)
    }

    /// How the command hashes of this log were computed.
    pub fn hash_kind(&self) -> CommandHash {
        if self.version >= 7 {
            CommandHash::RapidHash
        } else {
            CommandHash::Murmur64A
        }
    }

    /// The hash this log would record for `command`, when it can be computed here.
    pub fn hash_command(&self, command: &str) -> Option<u64> {
        match self.hash_kind() {
            CommandHash::Murmur64A => Some(murmur_hash_64a(command.as_bytes())),
            CommandHash::RapidHash => None,
        }
    }

    /// The last run of `output` (its canonical path).
    pub fn lookup(&self, output: &str) -> Option<&LogEntry> {
        self.entries.get(output)
    }

    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.values()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lines in the file, superseded ones included.
    pub fn total_entries(&self) -> usize {
        self.total_entries
    }
}

/// C's `atoi`/`strtoll`: optional spaces and sign, then digits; anything else stops it.
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        n = n.wrapping_mul(10).wrapping_add(i64::from(s[i] - b'0'));
        i += 1;
    }
    if neg { n.wrapping_neg() } else { n }
}

/// C's `strtoull(s, NULL, 16)`, without the `0x` prefix handling Ninja never writes.
fn u64_hex(s: &[u8]) -> u64 {
    let mut n: u64 = 0;
    for &c in s.iter().skip_while(|c| c.is_ascii_whitespace()) {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => break,
        };
        n = n.wrapping_mul(16).wrapping_add(u64::from(d));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_5_later_entries_win() {
        let log = BuildLog::parse(
            b"# ninja log v5\n\
              37\t77\t1795293438641353477\tCMakeFiles/util.dir/src/b.c.o\t119c402bafe2b3c5\n\
              1\t12\t0\t/tmp/cm1/build/stamp.txt\t8c01a22d32bf2fd9\n\
              100\t150\t1795293999000000000\tCMakeFiles/util.dir/src/b.c.o\tabc\n",
        );
        assert_eq!(log.status(), &BuildLogStatus::Loaded);
        assert_eq!(log.version(), 5);
        assert_eq!(log.len(), 2);
        assert_eq!(log.total_entries(), 3);
        let e = log.lookup("CMakeFiles/util.dir/src/b.c.o").unwrap();
        assert_eq!(
            (e.start_ms, e.end_ms, e.mtime, e.command_hash),
            (100, 150, 1_795_293_999_000_000_000, 0xabc)
        );
        let s = log.lookup("/tmp/cm1/build/stamp.txt").unwrap();
        assert_eq!(s.command_hash, 0x8c01_a22d_32bf_2fd9);
        assert_eq!(s.mtime, 0);
        assert!(log.usable_by((1, 11)));
        assert!(!log.usable_by((1, 12)));
        assert_eq!(log.hash_command("touch a"), Some(0x9544_b174_230a_39b3));
    }

    #[test]
    fn version_4_hashes_the_command_text() {
        let log = BuildLog::parse(b"# ninja log v4\n0\t6\t5\ta\ttouch a\n");
        assert_eq!(log.lookup("a").unwrap().command_hash, 0x9544_b174_230a_39b3);
    }

    #[test]
    fn version_6_and_7() {
        let log = BuildLog::parse(b"# ninja log v6\n1\t2\t3\tout\tff\n");
        assert_eq!(log.version(), 6);
        assert!(log.usable_by((1, 12)) && !log.usable_by((1, 11)) && !log.usable_by((1, 13)));
        let log = BuildLog::parse(b"# ninja log v7\n1\t2\t3\tout\tff\n");
        assert!(log.usable_by((1, 13)));
        assert_eq!(log.hash_command("x"), None);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let log = BuildLog::parse(
            b"# ninja log v5\nnot a record\n1\t2\t3\n1\t2\t3\tgood\t10\n4\t5\t6\tunfinished\t1",
        );
        assert_eq!(log.len(), 1);
        assert_eq!(log.lookup("good").unwrap().command_hash, 16);
        assert!(log.lookup("unfinished").is_none());
    }

    #[test]
    fn unknown_versions_are_discarded() {
        assert!(matches!(
            BuildLog::parse(b"# ninja log v3\n").status(),
            BuildLogStatus::Discarded(_)
        ));
        assert!(matches!(
            BuildLog::parse(b"garbage\n").status(),
            BuildLogStatus::Discarded(_)
        ));
        assert_eq!(BuildLog::parse(b"").status(), &BuildLogStatus::Loaded);
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = BuildLog::load(&dir.path().join(".ninja_log")).unwrap();
        assert_eq!(log.status(), &BuildLogStatus::NotFound);
        assert!(log.is_empty());
    }
}
