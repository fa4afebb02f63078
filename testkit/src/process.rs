//! A server running as a child process, as the benchmark suite and the tests start one: its port
//! (from the file it writes with `--port-file`), its log lines, and what the kernel says it used
//! (CPU time, memory, threads, file descriptors, sockets).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How often a starting server's port file is looked for.
const PORT_FILE_POLL: Duration = Duration::from_millis(10);

/// A child process that serves RouteGuide and, once it listens, writes its port to the file named
/// by `--port-file`, as both `route_guide_server` and the interop suite's Python server do.
/// Killed when dropped.
pub struct ServerProcess {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    port_file: PathBuf,
}

impl ServerProcess {
    /// Starts `command` with `--port-file` added (its standard error piped) and waits up to
    /// `limit` for it to listen.
    pub fn start(mut command: Command, limit: Duration) -> Result<Self, String> {
        let port_file = fresh_port_file();
        let mut child = command
            .arg("--port-file")
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
        let stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let (tx, log) = mpsc::channel();
        thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProcess {
            child,
            port: 0,
            log,
            port_file,
        };
        server.port = server.wait_for_port(limit)?;
        Ok(server)
    }

    /// The port written to the port file, once it is there. The server writes the file whole or
    /// not at all (a rename), so a file that exists holds the whole port.
    fn wait_for_port(&mut self, limit: Duration) -> Result<u16, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.port_file) {
                return text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{}: {text:?} is not a port", self.port_file.display()));
            }
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                let log: Vec<String> = self.log.try_iter().collect();
                return Err(format!(
                    "the server exited ({status}) before listening: {}",
                    log.join("\n")
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!("the server did not listen within {limit:?}"));
            }
            thread::sleep(PORT_FILE_POLL);
        }
    }

    /// `route_guide_server` (the binary at `binary`) serving `db` on an ephemeral port of
    /// 127.0.0.1 with `extra` flags, logging at `log_level` (its `RUST_LOG`); waits up to a
    /// minute for it to listen.
    pub fn start_binary(
        binary: &Path,
        db: &Path,
        log_level: &str,
        extra: &[&str],
    ) -> Result<Self, String> {
        let mut command = Command::new(binary);
        command
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(extra)
            .env("RUST_LOG", log_level);
        ServerProcess::start(command, Duration::from_secs(60))
    }

    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first log line from now on that contains `text`, waiting up to `limit` for it.
    pub fn wait_for_log(&mut self, text: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return Ok(line),
                Ok(_) => continue,
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    return Err(match status {
                        Some(status) => {
                            format!("the server exited ({status}) before logging {text:?}")
                        }
                        None => format!("the server did not log {text:?} within {limit:?}"),
                    });
                }
            }
        }
    }

    /// Every log line from now on up to the first that contains `text` (included), waiting up to
    /// `limit` for it.
    pub fn log_until(&mut self, text: &str, limit: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + limit;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    lines.push(line);
                    if found {
                        return Ok(lines);
                    }
                }
                Err(_) => return Err(format!("no log line with {text:?} within {limit:?}")),
            }
        }
    }

    /// Every log line not read yet.
    pub fn remaining_log(&mut self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Sends SIGTERM, as a service manager would.
    pub fn terminate(&self) -> Result<(), String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -TERM {} failed", self.pid()))
        }
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(format!("the server did not exit within {limit:?}"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// User plus system CPU time the process has used so far (Linux: `/proc/PID/stat`).
    pub fn cpu_time(&self) -> Result<Duration, String> {
        cpu_time_of(self.pid())
    }

    /// Resident memory now and at its peak, in bytes (Linux: `/proc/PID/status`).
    pub fn memory(&self) -> Result<(u64, u64), String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("cannot read the server's memory use: {e}"))?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| n * 1024)
                .ok_or_else(|| format!("no {key} in /proc/{}/status", self.pid()))
        };
        Ok((kib("VmRSS:")?, kib("VmHWM:")?))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.port_file);
    }
}

/// A path in the system's temporary directory that no other server of this or another process
/// is told to write its port to.
fn fresh_port_file() -> PathBuf {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("routeguide-port-{}-{n}", std::process::id()))
}

impl ServerProcess {
    /// How many threads the process runs (Linux: `/proc/PID/task`).
    pub fn threads(&self) -> Result<usize, String> {
        count_entries(&format!("/proc/{}/task", self.pid()))
    }

    /// How many file descriptors the process has open (Linux: `/proc/PID/fd`).
    pub fn open_fds(&self) -> Result<usize, String> {
        count_entries(&format!("/proc/{}/fd", self.pid()))
    }

    /// How many of the process's file descriptors are sockets (Linux: the links of
    /// `/proc/PID/fd` that read `socket:[INODE]`). For a server that is its own sockets (the ones
    /// it listens on, and any it uses within itself) plus one per connection it holds, so a count
    /// back at its value from just after the start says that the server has closed every
    /// connection: a signal to wait for, where a pause would be a guess.
    pub fn open_sockets(&self) -> Result<usize, String> {
        let dir = format!("/proc/{}/fd", self.pid());
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {dir}: {e}"))?;
        Ok(entries
            .filter_map(Result::ok)
            // A descriptor closed between the listing and its reading is closed: not counted.
            .filter_map(|entry| std::fs::read_link(entry.path()).ok())
            .filter(|target| {
                target
                    .as_os_str()
                    .as_encoded_bytes()
                    .starts_with(b"socket:")
            })
            .count())
    }
}

fn count_entries(dir: &str) -> Result<usize, String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.count())
        .map_err(|e| format!("cannot read {dir}: {e}"))
}

/// The kernel's clock ticks per second, in which `/proc` counts CPU time (100 on Linux unless
/// `getconf` says otherwise).
fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Whether `program` can be run from `PATH`: `program --version` runs and succeeds. The tests
/// that need a tool of the system's (`redis-server`, `prometheus`, `promtool`) ask first.
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A port of 127.0.0.1 that nothing listens on right now (something may take it before it is
/// used: callers that bind it themselves should be ready to try again).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// User plus system CPU time process `pid` has used so far (Linux: `/proc/PID/stat`).
pub fn cpu_time_of(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read the CPU time of process {pid}: {e}"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok(Duration::from_secs_f64(
            (user + system) as f64 / clock_ticks_per_sec(),
        )),
        _ => Err(format!("unexpected /proc/{pid}/stat: {stat}")),
    }
}
