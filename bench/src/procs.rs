//! The process table (`/proc`), read the way the daemon's `proc` module reads it: a build's
//! processes, followed from its process group down to every descendant (Ninja starts each job in a
//! process group of its own), and whether any of them still lives (zombies do not count).

use std::collections::HashMap;
use std::path::Path;

/// One process, from `/proc/<pid>/stat`.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    /// `R`, `S`, `Z`, ...
    pub state: char,
    /// The command name (at most 15 bytes).
    pub comm: String,
    /// Clock ticks since boot: with the pid, it names one process even after the pid is reused.
    pub start_time: u64,
}

impl Proc {
    /// Neither a zombie nor dead: it still runs (or sleeps).
    pub fn live(&self) -> bool {
        self.state != 'Z' && self.state != 'X'
    }
}

/// Reads `/proc/<pid>/stat`.
pub fn stat(pid: i32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    // Field 22 overall; after the state (3), ppid (4) and pgid (5) it is the 17th of the rest.
    let start_time = fields.nth(16)?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        pgid,
        state,
        comm,
        start_time,
    })
}

/// Every process of the table.
pub fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}

/// The process groups a daemon's build steps run in: its children that lead a group of their own.
pub fn step_groups(daemon_pid: i32) -> Vec<i32> {
    all()
        .into_iter()
        .filter(|p| p.ppid == daemon_pid && p.pgid == p.pid && p.live())
        .map(|p| p.pid)
        .collect()
}

/// The processes of a build, as they come and go: the members of its process groups and every
/// descendant of a process already tracked. A process stays tracked once seen (by pid and start
/// time), so one whose parent died and that was handed to another parent is not lost.
#[derive(Debug, Default)]
pub struct Tracker {
    groups: Vec<i32>,
    seen: HashMap<i32, (u64, String)>,
}

impl Tracker {
    pub fn new(groups: Vec<i32>) -> Tracker {
        Tracker {
            groups,
            seen: HashMap::new(),
        }
    }

    /// Reads the table once: adds new members and descendants, and returns the tracked processes
    /// that still live.
    pub fn update(&mut self) -> Vec<Proc> {
        let table = all();
        let by_pid: HashMap<i32, &Proc> = table.iter().map(|p| (p.pid, p)).collect();
        // A child may be listed before its parent; repeat until nothing new is found.
        loop {
            let mut added = false;
            for p in &table {
                if !p.live() || self.is_tracked(p) {
                    continue;
                }
                let parent_tracked = by_pid.get(&p.ppid).is_some_and(|q| self.is_tracked(q));
                if self.groups.contains(&p.pgid) || parent_tracked {
                    self.seen.insert(p.pid, (p.start_time, p.comm.clone()));
                    added = true;
                }
            }
            if !added {
                break;
            }
        }
        table
            .into_iter()
            .filter(|p| p.live() && self.is_tracked(p))
            .collect()
    }

    fn is_tracked(&self, p: &Proc) -> bool {
        self.seen
            .get(&p.pid)
            .is_some_and(|(start, _)| *start == p.start_time)
    }

    /// How many processes were ever seen.
    pub fn seen(&self) -> usize {
        self.seen.len()
    }

    /// The command names seen, with how many processes had each.
    pub fn commands(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for (_, comm) in self.seen.values() {
            *out.entry(comm.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// Live processes (other than `except`) whose command line mentions `needle`, as `pid: command`.
pub fn mentioning(needle: &Path, except: &[i32]) -> Vec<String> {
    let needle = needle.display().to_string();
    let me = std::process::id() as i32;
    all()
        .into_iter()
        .filter(|p| p.live() && p.pid != me && !except.contains(&p.pid))
        .filter_map(|p| {
            let cmd = std::fs::read(format!("/proc/{}/cmdline", p.pid)).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&needle)
                .then(|| format!("{}: {}", p.pid, cmd.trim_end()))
        })
        .collect()
}

/// SIGKILL to every live tracked process (the baseline's forced stop).
pub fn kill_all(procs: &[Proc]) {
    for p in procs {
        // Only the process that was tracked: a reused pid has another start time.
        if stat(p.pid).is_some_and(|now| now.start_time == p.start_time) {
            // SAFETY: kill(2) with a pid read from the table and checked just now.
            unsafe {
                libc::kill(p.pid, libc::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself() {
        let me = stat(std::process::id() as i32).unwrap();
        assert!(me.live());
        assert!(me.start_time > 0);
        assert_eq!(me.ppid, std::os::unix::process::parent_id() as i32);
    }

    #[test]
    fn tracks_a_grandchild_in_another_group_until_it_is_gone() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let mut tracker = Tracker::new(vec![pgid]);
        let mut live = Vec::new();
        for _ in 0..200 {
            live = tracker.update();
            if live.iter().any(|p| p.comm == "sleep") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let sleeper = live
            .iter()
            .find(|p| p.comm == "sleep")
            .expect("the grandchild is tracked")
            .clone();
        assert_ne!(sleeper.pgid, pgid, "setsid gave it a group of its own");
        kill_all(&live);
        let _ = child.wait();
        for _ in 0..200 {
            if tracker.update().is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("still alive: {:?}", tracker.update());
    }
}
