//! Processes: the one place that spawns build processes and signals process groups.
//!
//! Invariants:
//! - Every child a task starts runs in a process group of its own (the leader calls `setpgid(0, 0)`),
//!   recorded in the store, so that cancel, daemon shutdown and the restart sweep can end all of it.
//! - On Linux the leader has `PR_SET_PDEATHSIG = SIGKILL`. That signal fires when the *thread* that
//!   spawned the child exits, so all spawning happens on one [`Spawner`] thread that lives as long as the
//!   daemon: a `kill -9` of the daemon takes its builds down with it.
//! - A recorded group is only signalled when its leader is gone or is still the process that was
//!   recorded (same start time), so a recycled pid is never hit.
//! - stdout and stderr of a child go to one pipe, so the log keeps the order the child wrote in.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;

use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use crate::store::ProcessGroupRecord;
use crate::sync::LockExt;

/// What to run.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// The complete environment of the child (nothing is inherited from the daemon).
    pub env: BTreeMap<String, String>,
}

/// A running child: its group, its merged output, and a way to wait for it.
pub struct Spawned {
    pub pid: i32,
    pub group: ProcessGroupRecord,
    pub output: tokio::net::unix::pipe::Receiver,
    child: Child,
}

impl Spawned {
    /// Waits for the group leader to exit (on a blocking thread).
    pub async fn wait(self) -> io::Result<ExitStatus> {
        let mut child = self.child;
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .map_err(io::Error::other)?
    }

    /// Splits into the output reader and a waiter, so both can be driven at once.
    pub fn into_parts(self) -> (tokio::net::unix::pipe::Receiver, ChildWaiter) {
        (
            self.output,
            ChildWaiter {
                child: self.child,
                group: self.group,
            },
        )
    }
}

/// Waits for a child spawned by the [`Spawner`].
pub struct ChildWaiter {
    child: Child,
    pub group: ProcessGroupRecord,
}

impl ChildWaiter {
    pub async fn wait(self) -> io::Result<ExitStatus> {
        let mut child = self.child;
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .map_err(io::Error::other)?
    }
}

type Reply = oneshot::Sender<io::Result<(Child, OwnedFd)>>;

/// The one thread that starts build processes (see the module docs for why it must be one thread
/// that outlives them).
pub struct Spawner {
    tx: Mutex<mpsc::Sender<(SpawnRequest, Reply)>>,
}

impl Spawner {
    pub fn start() -> io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<(SpawnRequest, Reply)>();
        std::thread::Builder::new()
            .name("espctld-spawner".into())
            .spawn(move || {
                while let Ok((request, reply)) = rx.recv() {
                    let _ = reply.send(spawn_now(&request));
                }
            })?;
        Ok(Spawner { tx: Mutex::new(tx) })
    }

    /// Starts `request` in a new process group with its output on one pipe.
    pub async fn spawn(&self, request: SpawnRequest) -> io::Result<Spawned> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .locked()
            .send((request, reply))
            .map_err(|_| io::Error::other("the spawner thread is gone"))?;
        let (child, reader) = answer
            .await
            .map_err(|_| io::Error::other("the spawner thread dropped the request"))??;
        let pid = child.id() as i32;
        let group = ProcessGroupRecord {
            pgid: pid,
            leader_start_time: process_start_time(pid).unwrap_or(0),
        };
        let output = tokio::net::unix::pipe::Receiver::from_owned_fd(reader)?;
        Ok(Spawned {
            pid,
            group,
            output,
            child,
        })
    }
}

fn spawn_now(request: &SpawnRequest) -> io::Result<(Child, OwnedFd)> {
    use std::os::unix::process::CommandExt;
    let (program, args) = request
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty argv"))?;
    let (reader, writer) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let writer2 = writer.try_clone()?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(&request.cwd)
        .env_clear()
        .envs(&request.env)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2));
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The daemon may have died between fork and prctl: then nobody would kill us.
                if libc::getppid() != parent {
                    libc::_exit(137);
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // `cmd` (and with it our copies of the pipe's write end) is dropped here, so the reader sees EOF
    // once the child and its descendants close their ends.
    drop(cmd);
    Ok((child, reader))
}

/// Reads a child's output as lines (splitting on `\n`; a `\r` before it is dropped, a lone `\r`
/// ends a line too, as progress printers use it) and hands each batch of complete lines to `sink`.
pub async fn read_lines(
    mut output: tokio::net::unix::pipe::Receiver,
    mut sink: impl FnMut(&[&str]),
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = output.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        let Some(last) = pending.iter().rposition(|b| *b == b'\n' || *b == b'\r') else {
            continue;
        };
        let complete: Vec<u8> = pending.drain(..=last).collect();
        let text = String::from_utf8_lossy(&complete);
        let lines: Vec<&str> = text
            .split(['\n', '\r'])
            .enumerate()
            .filter(|(i, l)| !l.is_empty() || text_has_blank_line(&text, *i))
            .map(|(_, l)| l)
            .collect();
        let lines: Vec<&str> = if lines.last() == Some(&"") {
            lines[..lines.len() - 1].to_vec()
        } else {
            lines
        };
        if !lines.is_empty() {
            sink(&lines);
        }
    }
    if !pending.is_empty() {
        let text = String::from_utf8_lossy(&pending);
        sink(&[text.as_ref()]);
    }
    Ok(())
}

/// Keeps real blank lines (`\n\n`) while dropping the empty piece a `\r\n` pair leaves between them.
fn text_has_blank_line(text: &str, index: usize) -> bool {
    // Piece `index` is empty. It is a real blank line unless it sits between a \r and a \n.
    let mut pos = 0usize;
    for (i, piece) in text.split(['\n', '\r']).enumerate() {
        if i == index {
            let sep_before = pos
                .checked_sub(1)
                .and_then(|p| text.as_bytes().get(p))
                .copied();
            let sep_after = text.as_bytes().get(pos + piece.len()).copied();
            return !(sep_before == Some(b'\r') && sep_after == Some(b'\n'));
        }
        pos += piece.len() + 1;
    }
    false
}

/// Start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields after it start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True when a recorded group may be signalled: a real group whose leader is gone or is still the
/// recorded process (same start time), so a recycled pid is never hit.
#[cfg(unix)]
fn still_ours(group: ProcessGroupRecord) -> bool {
    if group.pgid <= 1 {
        return false;
    }
    match process_start_time(group.pgid) {
        Some(start) => group.leader_start_time == 0 || start == group.leader_start_time,
        None => true,
    }
}

/// Signals every process of a recorded group. Returns true when a signal was delivered.
#[cfg(unix)]
pub fn signal_group(group: ProcessGroupRecord, signal: nix::sys::signal::Signal) -> bool {
    use nix::unistd::Pid;
    if !still_ours(group) {
        return false;
    }
    nix::sys::signal::killpg(Pid::from_raw(group.pgid), signal).is_ok()
}

/// Signals the members of a recorded group one by one, leaving out those `skip` names (by pid and
/// command name, as `/proc/<pid>/stat` gives it). Returns how many were signalled; none when the
/// leader is no longer the recorded process.
#[cfg(target_os = "linux")]
pub fn signal_members(
    group: ProcessGroupRecord,
    signal: nix::sys::signal::Signal,
    skip: impl Fn(i32, &str) -> bool,
) -> usize {
    use nix::unistd::Pid;
    if !still_ours(group) {
        return 0;
    }
    group_members(group.pgid)
        .into_iter()
        .filter(|pid| !skip(*pid, &command_name(*pid).unwrap_or_default()))
        .filter(|pid| nix::sys::signal::kill(Pid::from_raw(*pid), signal).is_ok())
        .count()
}

/// The command name of a process (field 2 of `/proc/<pid>/stat`, without its parentheses).
#[cfg(target_os = "linux")]
pub fn command_name(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, _) = stat.rsplit_once(')')?;
    Some(head.split_once('(')?.1.to_string())
}

/// One row of the process table.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy)]
struct ProcRow {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    /// Start time in clock ticks since boot, to recognise a recycled pid.
    start: u64,
    /// Zombie or dead: already gone, only waiting to be reaped.
    dead: bool,
}

/// The process table, from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn process_table() -> Vec<ProcRow> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name (which may hold spaces and parentheses).
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(ProcRow {
                pid,
                dead: matches!(fields.first(), Some(&"Z") | Some(&"X")),
                ppid: fields.get(1)?.parse().ok()?,
                pgrp: fields.get(2)?.parse().ok()?,
                start: fields.get(19)?.parse().ok()?,
            })
        })
        .collect()
}

/// Live (not zombie) processes whose process group is `pgid`, from the process table.
#[cfg(target_os = "linux")]
pub fn group_members(pgid: i32) -> Vec<i32> {
    process_table()
        .into_iter()
        .filter(|r| r.pgrp == pgid && !r.dead)
        .map(|r| r.pid)
        .collect()
}

/// Kills a recorded group and every process descending from it, whatever group those are in: Ninja
/// starts each job in a process group of its own, so a job that ignores SIGINT would otherwise
/// outlive a forced cancel as an orphan. The tree is frozen first (SIGSTOP, repeated until no new
/// process appears), so nothing can fork away while it is being killed. Returns how many processes
/// were killed.
#[cfg(target_os = "linux")]
pub fn kill_tree(group: ProcessGroupRecord) -> usize {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    if !still_ours(group) {
        return 0;
    }
    let me = std::process::id() as i32;
    let mut frozen: std::collections::HashMap<i32, u64> = std::collections::HashMap::new();
    for _ in 0..16 {
        let table = process_table();
        let mut tree: std::collections::HashSet<i32> = table
            .iter()
            .filter(|r| r.pgrp == group.pgid && !r.dead)
            .map(|r| r.pid)
            .collect();
        tree.extend(frozen.keys().copied());
        // Descendants, to a fixed point (the table is not ordered by parenthood).
        loop {
            let before = tree.len();
            for r in &table {
                if !r.dead && r.pid != me && tree.contains(&r.ppid) {
                    tree.insert(r.pid);
                }
            }
            if tree.len() == before {
                break;
            }
        }
        let fresh: Vec<&ProcRow> = table
            .iter()
            .filter(|r| tree.contains(&r.pid) && !frozen.contains_key(&r.pid) && r.pid != me)
            .collect();
        if fresh.is_empty() {
            break;
        }
        for r in fresh {
            if kill(Pid::from_raw(r.pid), Signal::SIGSTOP).is_ok() {
                frozen.insert(r.pid, r.start);
            }
        }
    }
    let _ = nix::sys::signal::killpg(Pid::from_raw(group.pgid), Signal::SIGKILL);
    frozen
        .iter()
        .filter(|&(&pid, &start)| process_start_time(pid) == Some(start))
        .filter(|&(&pid, _)| kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok())
        .count()
}

/// True while any live process of the group exists (zombies do not count: they are already dead
/// and only wait for their parent, possibly an init that does not reap, to collect them).
#[cfg(unix)]
pub fn group_alive(pgid: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        !group_members(pgid).is_empty()
    }
    #[cfg(not(target_os = "linux"))]
    {
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        let mut e = BTreeMap::new();
        e.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        e.insert("ONLY_THIS".into(), "yes".into());
        e
    }

    #[tokio::test]
    async fn spawns_in_its_own_group_with_merged_output_and_a_clean_env() {
        let spawner = Spawner::start().unwrap();
        let child = spawner
            .spawn(SpawnRequest {
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "echo one; echo two >&2; printf 'a\\r\\nb\\n\\nc'; echo \"env=$ONLY_THIS home=${HOME:-unset}\"; exit 3".into(),
                ],
                cwd: std::env::temp_dir(),
                env: env(),
            })
            .await
            .unwrap();
        assert_eq!(child.group.pgid, child.pid);
        let pgid = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(child.pid))).unwrap();
        assert_eq!(pgid.as_raw(), child.pid);
        let (output, waiter) = child.into_parts();
        let mut lines = Vec::new();
        read_lines(output, |batch| {
            lines.extend(batch.iter().map(|s| s.to_string()))
        })
        .await
        .unwrap();
        assert_eq!(lines, ["one", "two", "a", "b", "", "cenv=yes home=unset"]);
        assert_eq!(waiter.wait().await.unwrap().code(), Some(3));
    }

    /// Runs `script` (which starts a grandchild and prints its pid first) in a group of its own.
    /// The spawner is returned so that its thread outlives the child.
    async fn spawn_with_grandchild(
        script: &str,
    ) -> (
        Spawner,
        ProcessGroupRecord,
        ChildWaiter,
        tokio::task::JoinHandle<io::Result<()>>,
        i32,
    ) {
        let spawner = Spawner::start().unwrap();
        let child = spawner
            .spawn(SpawnRequest {
                argv: vec!["sh".into(), "-c".into(), script.into()],
                cwd: std::env::temp_dir(),
                env: env(),
            })
            .await
            .unwrap();
        let group = child.group;
        let (output, waiter) = child.into_parts();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut tx = Some(tx);
        let reader = tokio::spawn(read_lines(output, move |l| {
            if let Some(tx) = tx.take() {
                let _ = tx.send(l[0].parse::<i32>().unwrap());
            }
        }));
        let grandchild = rx.await.unwrap();
        (spawner, group, waiter, reader, grandchild)
    }

    #[tokio::test]
    async fn a_group_signal_reaches_grandchildren() {
        let (_spawner, group, waiter, reader, grandchild) =
            spawn_with_grandchild("sleep 30 & echo $!; wait").await;
        assert!(signal_group(group, nix::sys::signal::Signal::SIGKILL));
        assert!(waiter.wait().await.unwrap().code().is_none());
        reader.await.unwrap().unwrap();
        // The grandchild was in the group too.
        for _ in 0..100 {
            if !group_alive(group.pgid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!group_alive(group.pgid), "grandchild {grandchild} survived");
    }

    #[tokio::test]
    async fn a_tree_kill_reaches_descendants_in_other_groups() {
        // The grandchild leaves the group (its own session, as a Ninja job has its own group) and
        // ignores SIGINT and SIGTERM; a group signal alone would miss it.
        let (_spawner, group, waiter, reader, grandchild) = spawn_with_grandchild(
            "trap '' INT TERM; setsid sh -c 'trap \"\" INT TERM; sleep 60' & echo $!; wait",
        )
        .await;
        // Wait until the grandchild has left the group.
        for _ in 0..200 {
            let pgid = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(grandchild)));
            if pgid.is_ok_and(|g| g.as_raw() != group.pgid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!group_members(group.pgid).contains(&grandchild));
        assert!(kill_tree(group) >= 1);
        assert!(waiter.wait().await.unwrap().code().is_none());
        let gone = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit_once(')')
                        .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(true)
        };
        // One second at most.
        for _ in 0..200 {
            if gone(grandchild) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            gone(grandchild),
            "descendant {grandchild} outside the group survived"
        );
        // With the whole tree gone, nothing holds the output pipe open any more.
        reader.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_missing_program_is_an_error() {
        let spawner = Spawner::start().unwrap();
        let err = spawner
            .spawn(SpawnRequest {
                argv: vec!["/nonexistent/tool".into()],
                cwd: std::env::temp_dir(),
                env: env(),
            })
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn start_time_of_self() {
        let me = std::process::id() as i32;
        assert!(process_start_time(me).unwrap() > 0);
        assert!(process_start_time(i32::MAX).is_none());
    }

    #[test]
    fn recycled_pid_is_not_signalled() {
        let me = std::process::id() as i32;
        let wrong = ProcessGroupRecord {
            pgid: me,
            leader_start_time: process_start_time(me).unwrap() + 1,
        };
        assert!(!signal_group(wrong, nix::sys::signal::Signal::SIGTERM));
    }
}
