//! CPU time spent by the daemon and by the bench's own clients, to tell which side a figure's time
//! goes to.

use std::time::Duration;

use anyhow::Context as _;

/// User plus system CPU time of process `pid`, all its threads (from `/proc/<pid>/stat`, in clock
/// ticks: 10 ms resolution on most systems).
pub fn process(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // Fields after the command name, which is in parentheses and may hold spaces: state is field 3,
    // utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("malformed {path}"))
    };
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Ok(Duration::from_nanos(total * 1_000_000_000 / hz))
}

/// User plus system CPU time of this process (all threads), at microsecond resolution.
pub fn this_process() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

/// User plus system CPU time of the calling thread.
pub fn this_thread() -> Duration {
    #[cfg(target_os = "linux")]
    {
        rusage(libc::RUSAGE_THREAD)
    }
    #[cfg(not(target_os = "linux"))]
    {
        rusage(libc::RUSAGE_SELF)
    }
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes one rusage struct into the zeroed value we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Microseconds of `cpu` per call.
pub fn us_per_call(cpu: Duration, calls: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / calls.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_cpu_time() {
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(this_thread() > Duration::ZERO);
        assert!(this_process() >= this_thread());
        assert!(process(std::process::id()).is_ok());
    }
}
