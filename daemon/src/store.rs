//! The task store: a SQLite database in the data dir.
//!
//! Invariant: every state change that matters is written here before it is announced to anyone. The
//! database runs in WAL mode with `synchronous=NORMAL`: a killed daemon loses nothing that was committed,
//! and a commit costs no fsync.

use std::path::Path;
use std::sync::Mutex;

use crate::sync::LockExt;
use espctl_protocol::task::{TaskId, TaskInfo, TaskKind, TaskStatus};
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt row for task {id}: {what}")]
    Corrupt { id: String, what: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The process group a task's child processes run in, recorded so a restarted daemon can kill leftovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroupRecord {
    pub pgid: i32,
    /// Start time of the group leader (clock ticks since boot, from /proc), so a recycled pid is never killed.
    pub leader_start_time: u64,
}

pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tasks (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    progress     REAL NOT NULL DEFAULT 0,
    phase        TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    params       TEXT,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    error        TEXT,
    exit_code    INTEGER,
    result       TEXT,
    pgid         INTEGER,
    pgid_start   INTEGER,
    seq          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_seq ON tasks(seq DESC);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks(status);
CREATE TABLE IF NOT EXISTS build_durations (
    project      TEXT NOT NULL,
    target       TEXT NOT NULL,
    profile      TEXT NOT NULL,
    seconds      REAL NOT NULL,
    finished_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS build_durations_by_key ON build_durations(project, target, profile, finished_at DESC);
"#;

const COLUMNS: &str = "id, kind, status, progress, phase, title, created_at, started_at, updated_at, \
                       finished_at, error, exit_code, result, diagnostics";

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        // Columns added after the first release of the schema.
        let has_diagnostics: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('tasks') WHERE name = 'diagnostics'")?
            .exists([])?;
        if !has_diagnostics {
            conn.execute_batch("ALTER TABLE tasks ADD COLUMN diagnostics TEXT")?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.locked()
    }

    pub fn insert(&self, task: &TaskInfo, params_json: Option<&str>) -> Result<()> {
        let conn = self.conn();
        let seq: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks", [], |r| {
            r.get(0)
        })?;
        conn.execute(
            "INSERT INTO tasks (id, kind, status, progress, phase, title, params, created_at, started_at, \
             updated_at, finished_at, error, exit_code, result, seq, diagnostics) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                task.task_id.as_str(),
                task.kind.as_str(),
                task.status.as_str(),
                task.progress,
                task.phase,
                task.title,
                params_json,
                task.created_at,
                task.started_at,
                task.updated_at,
                task.finished_at,
                task.error,
                task.exit_code,
                task.result.as_ref().map(|v| v.to_string()),
                seq,
                diagnostics_json(task),
            ],
        )?;
        Ok(())
    }

    /// Writes every mutable field of `task`.
    pub fn update(&self, task: &TaskInfo) -> Result<()> {
        self.conn().execute(
            "UPDATE tasks SET status = ?2, progress = ?3, phase = ?4, started_at = ?5, updated_at = ?6, \
             finished_at = ?7, error = ?8, exit_code = ?9, result = ?10, diagnostics = ?11 WHERE id = ?1",
            params![
                task.task_id.as_str(),
                task.status.as_str(),
                task.progress,
                task.phase,
                task.started_at,
                task.updated_at,
                task.finished_at,
                task.error,
                task.exit_code,
                task.result.as_ref().map(|v| v.to_string()),
                diagnostics_json(task),
            ],
        )?;
        Ok(())
    }

    /// Records how long a successful build took, for the plan's estimate.
    pub fn record_build_duration(
        &self,
        project: &str,
        target: &str,
        profile: &str,
        seconds: f64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO build_durations (project, target, profile, seconds, finished_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![project, target, profile, seconds, crate::tasks::now_secs()],
        )?;
        Ok(())
    }

    /// The median of the last five durations of builds of this project, target and profile.
    pub fn median_build_duration(
        &self,
        project: &str,
        target: &str,
        profile: &str,
    ) -> Result<Option<f64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seconds FROM build_durations WHERE project = ?1 AND target = ?2 AND profile = ?3 \
             ORDER BY finished_at DESC, rowid DESC LIMIT 5",
        )?;
        let mut v: Vec<f64> = stmt
            .query_map(params![project, target, profile], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        if v.is_empty() {
            return Ok(None);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        Ok(Some(v[v.len() / 2]))
    }

    pub fn set_process_group(&self, id: &TaskId, group: Option<ProcessGroupRecord>) -> Result<()> {
        self.conn().execute(
            "UPDATE tasks SET pgid = ?2, pgid_start = ?3 WHERE id = ?1",
            params![
                id.as_str(),
                group.map(|g| g.pgid),
                group.map(|g| g.leader_start_time as i64)
            ],
        )?;
        Ok(())
    }

    pub fn get(&self, id: &TaskId) -> Result<Option<TaskInfo>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"))?;
        let row = stmt
            .query_row([id.as_str()], |r| Ok(row_to_raw(r)))
            .optional()?;
        row.transpose()?.map(RawTask::into_info).transpose()
    }

    /// Tasks, newest first, filtered by status and kind (empty filter = any).
    pub fn list(
        &self,
        statuses: &[TaskStatus],
        kinds: &[TaskKind],
        limit: u32,
    ) -> Result<Vec<TaskInfo>> {
        let mut sql = format!("SELECT {COLUMNS} FROM tasks");
        let mut clauses = Vec::new();
        if !statuses.is_empty() {
            let list: Vec<String> = statuses
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            clauses.push(format!("status IN ({})", list.join(",")));
        }
        if !kinds.is_empty() {
            let list: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
            clauses.push(format!("kind IN ({})", list.join(",")));
        }
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY seq DESC LIMIT ?1");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([limit], |r| Ok(row_to_raw(r)))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??.into_info()?);
        }
        Ok(out)
    }

    /// Tasks left pending or running by a daemon that is gone, with their recorded process groups.
    pub fn unfinished(&self) -> Result<Vec<(TaskInfo, Option<ProcessGroupRecord>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS}, pgid, pgid_start FROM tasks WHERE status IN ('pending', 'running')"
        ))?;
        let rows = stmt.query_map([], |r| {
            let raw = row_to_raw(r);
            let pgid: Option<i32> = r.get(14)?;
            let start: Option<i64> = r.get(15)?;
            Ok((raw, pgid, start))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (raw, pgid, start) = row?;
            let group = pgid.map(|pgid| ProcessGroupRecord {
                pgid,
                leader_start_time: start.unwrap_or(0) as u64,
            });
            out.push((raw?.into_info()?, group));
        }
        Ok(out)
    }

    /// Ids of finished tasks that fall outside retention: finished before `older_than` (unix secs), or
    /// beyond the newest `keep_last` tasks. Pending and running tasks are never returned.
    pub fn prunable(&self, older_than: i64, keep_last: u32) -> Result<Vec<TaskId>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM tasks WHERE status NOT IN ('pending', 'running') AND (\
                 COALESCE(finished_at, updated_at) < ?1 \
                 OR seq NOT IN (SELECT seq FROM tasks ORDER BY seq DESC LIMIT ?2))",
        )?;
        let rows = stmt.query_map(params![older_than, keep_last], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let id = row?;
            out.push(id.parse().map_err(|_| StoreError::Corrupt {
                id: id.clone(),
                what: "id".into(),
            })?);
        }
        Ok(out)
    }

    pub fn delete(&self, ids: &[TaskId]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM tasks WHERE id = ?1", [id.as_str()])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn count(&self) -> Result<u64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get::<_, i64>(0))? as u64)
    }
}

struct RawTask {
    id: String,
    kind: String,
    status: String,
    progress: f64,
    phase: String,
    title: String,
    created_at: i64,
    started_at: Option<i64>,
    updated_at: i64,
    finished_at: Option<i64>,
    error: Option<String>,
    exit_code: Option<i32>,
    result: Option<String>,
    diagnostics: Option<String>,
}

fn diagnostics_json(task: &TaskInfo) -> Option<String> {
    (!task.diagnostics.is_empty())
        .then(|| serde_json::to_string(&task.diagnostics).unwrap_or_default())
}

fn row_to_raw(r: &rusqlite::Row<'_>) -> Result<RawTask> {
    Ok(RawTask {
        id: r.get(0)?,
        kind: r.get(1)?,
        status: r.get(2)?,
        progress: r.get(3)?,
        phase: r.get(4)?,
        title: r.get(5)?,
        created_at: r.get(6)?,
        started_at: r.get(7)?,
        updated_at: r.get(8)?,
        finished_at: r.get(9)?,
        error: r.get(10)?,
        exit_code: r.get(11)?,
        result: r.get(12)?,
        diagnostics: r.get(13)?,
    })
}

impl RawTask {
    fn into_info(self) -> Result<TaskInfo> {
        let corrupt = |what: &str| StoreError::Corrupt {
            id: self.id.clone(),
            what: what.to_string(),
        };
        Ok(TaskInfo {
            task_id: self.id.parse().map_err(|_| corrupt("id"))?,
            kind: self.kind.parse().map_err(|_| corrupt("kind"))?,
            status: self.status.parse().map_err(|_| corrupt("status"))?,
            progress: self.progress,
            phase: self.phase.clone(),
            created_at: self.created_at,
            started_at: self.started_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
            error: self.error.clone(),
            exit_code: self.exit_code,
            title: self.title.clone(),
            result: match &self.result {
                Some(s) => Some(serde_json::from_str(s).map_err(|_| corrupt("result"))?),
                None => None,
            },
            diagnostics: match &self.diagnostics {
                Some(s) => serde_json::from_str(s).map_err(|_| corrupt("diagnostics"))?,
                None => Vec::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(n: u8, status: TaskStatus, finished_at: Option<i64>) -> TaskInfo {
        TaskInfo {
            task_id: TaskId::from_bytes([n; 16]),
            kind: TaskKind::RustElf,
            status,
            progress: 0.0,
            phase: "queued".into(),
            created_at: 100,
            started_at: None,
            updated_at: 100,
            finished_at,
            error: None,
            exit_code: None,
            title: format!("t{n}"),
            result: None,
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn insert_update_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        for n in 1..=3 {
            store
                .insert(&task(n, TaskStatus::Pending, None), None)
                .unwrap();
        }
        let mut t2 = task(2, TaskStatus::Succeeded, Some(200));
        t2.result = Some(serde_json::json!({"ok": 1}));
        store.update(&t2).unwrap();
        let all = store.list(&[], &[], 10).unwrap();
        let titles: Vec<_> = all.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["t3", "t2", "t1"]);
        let done = store.list(&[TaskStatus::Succeeded], &[], 10).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].result, Some(serde_json::json!({"ok": 1})));
        assert_eq!(store.list(&[], &[], 1).unwrap().len(), 1);
        assert_eq!(store.unfinished().unwrap().len(), 2);
    }

    #[test]
    fn pruning_never_touches_live_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .insert(&task(1, TaskStatus::Running, None), None)
            .unwrap();
        store
            .insert(&task(2, TaskStatus::Failed, Some(50)), None)
            .unwrap();
        store
            .insert(&task(3, TaskStatus::Succeeded, Some(500)), None)
            .unwrap();
        // Old by age: only task 2.
        let old = store.prunable(100, 100).unwrap();
        assert_eq!(old, vec![TaskId::from_bytes([2; 16])]);
        // Keep only the newest one: tasks 2 (finished), never 1 (running).
        let mut beyond = store.prunable(0, 1).unwrap();
        beyond.sort();
        assert_eq!(beyond, vec![TaskId::from_bytes([2; 16])]);
        store.delete(&old).unwrap();
        assert_eq!(store.count().unwrap(), 2);
    }

    #[test]
    fn diagnostics_and_durations_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mut t = task(4, TaskStatus::Failed, Some(10));
        store.insert(&t, None).unwrap();
        t.diagnostics.push(espctl_protocol::task::Diagnostic {
            severity: "error".into(),
            message: "boom".into(),
            file: Some("a.c".into()),
            line: Some(3),
            column: None,
            component: Some("main".into()),
        });
        store.update(&t).unwrap();
        assert_eq!(
            store.get(&t.task_id).unwrap().unwrap().diagnostics,
            t.diagnostics
        );
        assert_eq!(
            store.median_build_duration("/p", "esp32", "debug").unwrap(),
            None
        );
        for s in [10.0, 2.0, 4.0] {
            store
                .record_build_duration("/p", "esp32", "debug", s)
                .unwrap();
        }
        assert_eq!(
            store.median_build_duration("/p", "esp32", "debug").unwrap(),
            Some(4.0)
        );
    }
}
