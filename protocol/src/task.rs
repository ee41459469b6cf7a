//! Tasks: every long job the daemon runs (a build, a bundle, later flashes) is a task.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A task id: 128 random bits written as 32 lowercase hex characters.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct TaskId(String);

impl TaskId {
    /// Builds an id from 16 bytes of randomness.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let mut s = String::with_capacity(32);
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        TaskId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that is not 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTaskId(pub String);

impl fmt::Display for InvalidTaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a task id (task ids are 32 lowercase hex characters; `espctl tasks` lists them)",
            self.0
        )
    }
}

impl std::error::Error for InvalidTaskId {}

impl FromStr for TaskId {
    type Err = InvalidTaskId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(TaskId(s.to_string()))
        } else {
            Err(InvalidTaskId(s.to_string()))
        }
    }
}

impl TryFrom<String> for TaskId {
    type Error = InvalidTaskId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TaskId> for String {
    fn from(id: TaskId) -> String {
        id.0
    }
}

/// A task's state. `pending` and `running` are live; the other three are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Canceled => "canceled",
        }
    }

    /// True once the task can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Canceled
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status `{s}`; use pending, running, succeeded, failed or canceled")
            })
    }
}

/// What kind of work a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// `build.rust_elf`: a flash bundle from a Rust no_std ELF.
    RustElf,
    /// `build` / `build.start`: an ESP-IDF project build.
    Build,
    /// `set_target.run`: idf.py set-target.
    SetTarget,
}

impl TaskKind {
    pub const ALL: [TaskKind; 3] = [TaskKind::RustElf, TaskKind::Build, TaskKind::SetTarget];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::RustElf => "rust_elf",
            TaskKind::Build => "build",
            TaskKind::SetTarget => "set_target",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = TaskKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown task kind `{s}`; known kinds: {}", all.join(", "))
            })
    }
}

/// Everything known about a task. `build.status` returns it and `task.status` notifications carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskInfo {
    pub task_id: TaskId,
    pub kind: TaskKind,
    pub status: TaskStatus,
    /// 0.0 to 1.0.
    pub progress: f64,
    /// Free-form phase, for example `queued`, `bundling`, `compiling`.
    pub phase: String,
    /// Unix seconds when the task was created.
    pub created_at: i64,
    /// Unix seconds when the task started running (null while pending).
    pub started_at: Option<i64>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Unix seconds when the task reached a final status.
    pub finished_at: Option<i64>,
    /// On failure or cancel: what went wrong.
    pub error: Option<String>,
    /// On failure: the exit code a CLI reports (1 runtime failure, 2 configuration or invalid input).
    pub exit_code: Option<i32>,
    /// Short human description, for example the ELF or project it works on.
    pub title: String,
    /// On success: the task's result (the same JSON the starting method documents).
    pub result: Option<serde_json::Value>,
    /// Compiler and CMake diagnostics found in the log so far (builds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

/// One compiler (GCC/Clang) or CMake diagnostic, for editors and assistants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnostic {
    /// `error`, `warning` or `note`.
    pub severity: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The component whose directory holds the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}
