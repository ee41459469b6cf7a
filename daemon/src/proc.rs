//! Processes: the one place that signals process groups (and, as builds arrive, spawns them).
//!
//! Invariant: every child process a task starts runs in a process group of its own, recorded in the
//! store, so that cancel, daemon shutdown and the restart sweep can end all of it and leave no orphans.
//! A recorded group is only signalled when its leader is gone or is still the process that was recorded
//! (same start time), so a recycled pid is never hit.

use crate::store::ProcessGroupRecord;

/// Start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields after it start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Signals every process of a recorded group. Returns true when a signal was delivered.
#[cfg(unix)]
pub fn signal_group(group: ProcessGroupRecord, signal: nix::sys::signal::Signal) -> bool {
    use nix::unistd::Pid;
    if group.pgid <= 1 {
        return false;
    }
    if let Some(start) = process_start_time(group.pgid)
        && group.leader_start_time != 0
        && start != group.leader_start_time
    {
        // The pid now belongs to an unrelated process.
        return false;
    }
    nix::sys::signal::killpg(Pid::from_raw(group.pgid), signal).is_ok()
}

/// True while any process of the group exists.
#[cfg(unix)]
pub fn group_alive(pgid: i32) -> bool {
    use nix::unistd::Pid;
    pgid > 1 && nix::sys::signal::killpg(Pid::from_raw(pgid), None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
