//! What the server process costs: resident memory and CPU time, from /proc.

use std::sync::OnceLock;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// utime + stime, seconds.
    pub cpu_secs: f64,
    /// stime alone: time in the kernel on the process's behalf (system calls, and the
    /// network stack's work they trigger), seconds.
    pub sys_secs: f64,
}

/// Reads /proc/<pid>/status and /proc/<pid>/stat. `None` if the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count fields after its ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = clock_ticks() as f64;
    Some(ProcSample {
        rss_kib,
        cpu_secs: (utime + stime) as f64 / ticks,
        sys_secs: stime as f64 / ticks,
    })
}

/// USER_HZ (clock ticks per second of /proc/<pid>/stat), from `getconf CLK_TCK`.
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The (soft) limit of open files of this process (and of the servers it starts).
pub fn open_files_limit() -> u64 {
    limit_field(3)
}

/// The hard limit of open files, up to which the soft limit can be raised.
pub fn open_files_hard_limit() -> u64 {
    limit_field(4)
}

fn limit_field(field: usize) -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(field).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let s = super::sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_kib > 0);
        assert!(super::open_files_limit() > 0);
    }
}
