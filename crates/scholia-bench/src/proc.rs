//! What the kernel accounts for a process and the machine, read from `/proc`: the load
//! generator's measure of server CPU and memory (not wall time alone).

use std::process::Command;

/// utime + stime of a process, in seconds; `None` when it cannot be read.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

/// Kernel clock ticks per second (the unit of `/proc` times).
pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// Kernel slab memory of the whole machine, in KiB (socket structures live there).
pub fn slab_kib() -> u64 {
    status_field("/proc/meminfo", "Slab:")
}

fn status_field(path: &str, name: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Open file descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Busy and steal ticks of one CPU (`cpuN` in `/proc/stat`), to report the steal share of a
/// phase: the hypervisor taking the vCPU away skews every timing on these machines.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTicks {
    pub total: u64,
    pub steal: u64,
}

pub fn cpu_ticks(cpu: usize) -> CpuTicks {
    let name = format!("cpu{cpu} ");
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return CpuTicks::default();
    };
    let Some(line) = stat.lines().find(|l| l.starts_with(&name)) else {
        return CpuTicks::default();
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    CpuTicks {
        total: v.iter().sum(),
        steal: v.get(7).copied().unwrap_or(0),
    }
}

/// Steal as a share (0..1) of the CPU's time between two readings.
pub fn steal_share(before: CpuTicks, after: CpuTicks) -> f64 {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return 0.0;
    }
    after.steal.saturating_sub(before.steal) as f64 / total as f64
}

/// The median (upper middle for an even count) and the range of a set of runs.
pub fn median_range(v: &[f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    (s[s.len() / 2], s[0], s[s.len() - 1])
}
