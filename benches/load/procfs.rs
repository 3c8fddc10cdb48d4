//! CPU accounting of the processes under load, read from `/proc`.

use std::time::Duration;

/// CPU time (user, system) a process has used so far, from `/proc/<pid>/stat` (all its threads).
pub(crate) fn cpu_of(pid: u32, tick: f64) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((
        Duration::from_secs_f64(ticks(11)? / tick),
        Duration::from_secs_f64(ticks(12)? / tick),
    ))
}

/// The children of `pid` (Manifold's upstream processes).
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux in practice).
pub(crate) fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The processes of one mode whose CPU time is accounted: the testkit, the gateway (if any) and
/// this client.
pub(crate) struct Servers {
    pub(crate) pids: [Option<u32>; 3],
    tick: f64,
}

impl Servers {
    pub(crate) fn new(testkit: Option<u32>, gateway: Option<u32>, tick: f64) -> Servers {
        Servers {
            pids: [testkit, gateway, Some(std::process::id())],
            tick,
        }
    }

    pub(crate) fn cpu(&self) -> Vec<(Duration, Duration)> {
        self.pids
            .iter()
            .map(|pid| {
                pid.and_then(|pid| cpu_of(pid, self.tick))
                    .unwrap_or_default()
            })
            .collect()
    }
}
