//! Task logs: one append-only file per task, addressed by line number.
//!
//! A live task's log has a writer that keeps an in-memory index of line starts and wakes followers
//! through a watch channel after each flushed append. Finished logs are indexed on first read and the
//! index is cached. Invariant: lines are only ever appended, so an offset once valid stays valid and a
//! follower that reads from its offset never skips or repeats a line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::sync::LockExt;
use espctl_protocol::task::TaskId;
use tokio::sync::watch;

/// Index of a log file: byte offset of the start of each line, plus the end.
#[derive(Debug, Default, Clone)]
struct LineIndex {
    /// `starts[i]` is where line i starts; the last element is the end of the file.
    starts: Vec<u64>,
}

impl LineIndex {
    fn new() -> Self {
        LineIndex { starts: vec![0] }
    }

    fn lines(&self) -> u64 {
        (self.starts.len() - 1) as u64
    }

    fn end(&self) -> u64 {
        *self.starts.last().unwrap_or(&0)
    }

    fn build(path: &Path) -> io::Result<LineIndex> {
        let mut index = LineIndex::new();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(index),
            Err(e) => return Err(e),
        };
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut pos = 0u64;
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let len = buf.len();
            for (i, b) in buf.iter().enumerate() {
                if *b == b'\n' {
                    index.starts.push(pos + i as u64 + 1);
                }
            }
            pos += len as u64;
            reader.consume(len);
        }
        // A final line without a terminator (a writer killed mid-line) still counts as a line.
        if pos > index.end() {
            index.starts.push(pos);
        }
        Ok(index)
    }
}

/// The writing side of one task's log.
pub struct LogWriter {
    file: File,
    shared: Arc<LiveLog>,
}

/// State shared between a live log's writer and its readers.
struct LiveLog {
    index: Mutex<LineIndex>,
    /// Number of lines written so far; followers wait on it.
    lines: watch::Sender<u64>,
}

impl LogWriter {
    /// Appends lines (without terminators; embedded newlines are split into several lines).
    pub fn append(&mut self, lines: &[&str]) -> io::Result<()> {
        let mut buf = Vec::new();
        let mut index = self.shared.index.locked();
        let mut pos = index.end();
        for line in lines {
            for part in line.split('\n') {
                let part = part.strip_suffix('\r').unwrap_or(part);
                buf.extend_from_slice(part.as_bytes());
                buf.push(b'\n');
                pos += part.len() as u64 + 1;
                index.starts.push(pos);
            }
        }
        self.file.write_all(&buf)?;
        let count = index.lines();
        drop(index);
        self.shared.lines.send_replace(count);
        Ok(())
    }
}

/// All task logs under one directory.
pub struct LogStore {
    dir: PathBuf,
    live: Mutex<HashMap<TaskId, Arc<LiveLog>>>,
    /// Indexes of finished logs, built on first read.
    finished: Mutex<HashMap<TaskId, Arc<LineIndex>>>,
}

/// How many finished-log indexes to keep in memory.
const FINISHED_INDEX_CACHE: usize = 64;

/// A slice of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRange {
    pub offset: u64,
    pub lines: Vec<String>,
    pub next_offset: u64,
    pub total_lines: u64,
}

impl LogStore {
    pub fn new(dir: PathBuf) -> io::Result<LogStore> {
        std::fs::create_dir_all(&dir)?;
        Ok(LogStore {
            dir,
            live: Mutex::new(HashMap::new()),
            finished: Mutex::new(HashMap::new()),
        })
    }

    pub fn path(&self, id: &TaskId) -> PathBuf {
        self.dir.join(format!("{id}.log"))
    }

    /// Opens (creating or appending to) the log of a task that is about to run.
    pub fn writer(&self, id: &TaskId) -> io::Result<LogWriter> {
        let path = self.path(id);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let index = LineIndex::build(&path)?;
        let (lines, _) = watch::channel(index.lines());
        let shared = Arc::new(LiveLog {
            index: Mutex::new(index),
            lines,
        });
        self.live.locked().insert(id.clone(), shared.clone());
        Ok(LogWriter { file, shared })
    }

    /// Marks a task's log finished: readers use the file alone from now on, and followers are woken so
    /// they notice the end.
    pub fn finish(&self, id: &TaskId) {
        let live = self.live.locked().remove(id);
        if let Some(live) = live {
            let index = live.index.locked().clone();
            self.cache_finished(id, Arc::new(index));
            live.lines.send_modify(|_| {});
        }
    }

    fn cache_finished(&self, id: &TaskId, index: Arc<LineIndex>) {
        let mut cache = self.finished.locked();
        if cache.len() >= FINISHED_INDEX_CACHE {
            cache.clear();
        }
        cache.insert(id.clone(), index);
    }

    /// A receiver that changes whenever lines are appended, or `None` when the log is not live.
    pub fn follow(&self, id: &TaskId) -> Option<watch::Receiver<u64>> {
        self.live.locked().get(id).map(|l| l.lines.subscribe())
    }

    fn index(&self, id: &TaskId) -> io::Result<Arc<LineIndex>> {
        if let Some(live) = self.live.locked().get(id) {
            return Ok(Arc::new(live.index.locked().clone()));
        }
        if let Some(idx) = self.finished.locked().get(id) {
            return Ok(idx.clone());
        }
        let index = Arc::new(LineIndex::build(&self.path(id))?);
        self.cache_finished(id, index.clone());
        Ok(index)
    }

    /// Number of lines in a task's log.
    pub fn line_count(&self, id: &TaskId) -> io::Result<u64> {
        if let Some(live) = self.live.locked().get(id) {
            return Ok(live.index.locked().lines());
        }
        Ok(self.index(id)?.lines())
    }

    /// Reads up to `limit` lines starting at line `offset` (clamped to the end).
    pub fn read(&self, id: &TaskId, offset: u64, limit: u64) -> io::Result<LogRange> {
        let total = self.line_count(id)?;
        let offset = offset.min(total);
        let end_line = offset.saturating_add(limit).min(total);
        if end_line == offset {
            return Ok(LogRange {
                offset,
                lines: Vec::new(),
                next_offset: offset,
                total_lines: total,
            });
        }
        let (start_byte, end_byte) = {
            let live = self.live.locked().get(id).cloned();
            match live {
                Some(l) => {
                    let idx = l.index.locked();
                    (idx.starts[offset as usize], idx.starts[end_line as usize])
                }
                None => {
                    let idx = self.index(id)?;
                    (idx.starts[offset as usize], idx.starts[end_line as usize])
                }
            }
        };
        let mut file = File::open(self.path(id))?;
        file.seek(SeekFrom::Start(start_byte))?;
        let mut buf = vec![0u8; (end_byte - start_byte) as usize];
        file.read_exact(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let lines: Vec<String> = text
            .strip_suffix('\n')
            .unwrap_or(&text)
            .split('\n')
            .map(str::to_owned)
            .collect();
        Ok(LogRange {
            offset,
            next_offset: offset + lines.len() as u64,
            lines,
            total_lines: total,
        })
    }

    /// Deletes a finished task's log.
    pub fn remove(&self, id: &TaskId) {
        self.finished.locked().remove(id);
        let _ = std::fs::remove_file(self.path(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_read_and_reindex() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogStore::new(dir.path().to_path_buf()).unwrap();
        let id = TaskId::from_bytes([7; 16]);
        let mut w = logs.writer(&id).unwrap();
        w.append(&["one", "two\nthree", "four\r"]).unwrap();
        let r = logs.read(&id, 1, 2).unwrap();
        assert_eq!(r.lines, ["two", "three"]);
        assert_eq!((r.next_offset, r.total_lines), (3, 4));
        logs.finish(&id);
        drop(w);
        // A fresh store (as after a restart) rebuilds the index from the file.
        let logs = LogStore::new(dir.path().to_path_buf()).unwrap();
        let r = logs.read(&id, 0, 100).unwrap();
        assert_eq!(r.lines, ["one", "two", "three", "four"]);
        assert_eq!(logs.read(&id, 10, 5).unwrap().lines.len(), 0);
    }

    #[test]
    fn unterminated_last_line_counts() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogStore::new(dir.path().to_path_buf()).unwrap();
        let id = TaskId::from_bytes([8; 16]);
        std::fs::write(logs.path(&id), "a\nb").unwrap();
        assert_eq!(logs.read(&id, 0, 10).unwrap().lines, ["a", "b"]);
    }

    #[tokio::test]
    async fn followers_are_woken() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogStore::new(dir.path().to_path_buf()).unwrap();
        let id = TaskId::from_bytes([9; 16]);
        let mut w = logs.writer(&id).unwrap();
        let mut rx = logs.follow(&id).unwrap();
        w.append(&["x"]).unwrap();
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 1);
    }
}
