//! A `redis-server` child process on a free port of 127.0.0.1 that saves nothing, for the
//! benchmark and the tests of RouteChat's Redis backend.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{cpu_time_of, free_port, installed};

/// How long a starting `redis-server` may take to answer PING.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A `redis-server` child process; killed when dropped.
pub struct RedisProcess {
    child: Option<Child>,
    port: u16,
    /// Its working directory (it writes nothing there but may want one).
    dir: PathBuf,
    /// The CPU it is pinned to, when `taskset` is to pin it.
    cpu: Option<usize>,
}

impl RedisProcess {
    /// Whether `redis-server` can be run from `PATH`.
    pub fn installed() -> bool {
        installed("redis-server")
    }

    /// Starts `redis-server` on a free port, working in `dir`, pinned to `cpu` when given; returns
    /// once it answers PING.
    /// The port is found free, then handed to `redis-server`; if something else takes it in
    /// between, another port is tried.
    pub fn start(dir: &Path, cpu: Option<usize>) -> Result<Self, String> {
        let mut tries = 0;
        loop {
            let port = free_port()
                .map_err(|e| format!("cannot find a free port for redis-server: {e}"))?;
            let dir = dir.join(format!("redis-{port}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let mut redis = RedisProcess {
                child: None,
                port,
                dir,
                cpu,
            };
            match redis.start_again() {
                Ok(()) => return Ok(redis),
                Err(e) if tries >= 3 => return Err(e),
                Err(_) => tries += 1,
            }
        }
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// User plus system CPU time the server has used so far.
    pub fn cpu_time(&self) -> Result<Duration, String> {
        let child = self.child.as_ref().ok_or("redis-server is not running")?;
        cpu_time_of(child.id())
    }

    /// Kills the server, as a crash or a lost host would end it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on its port, empty, and waits until it answers PING.
    pub fn start_again(&mut self) -> Result<(), String> {
        self.stop();
        let mut command = match self.cpu {
            Some(cpu) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", &cpu.to_string(), "redis-server"]);
                taskset
            }
            None => Command::new("redis-server"),
        };
        let child = command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        self.child = Some(child);
        let client = redis::Client::open(self.url()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let pong = client
                .get_connection_with_timeout(Duration::from_secs(1))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("redis-server exited at start ({status})"));
            }
            match pong {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("redis-server did not answer PING: {e}"));
                }
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
