//! Running the real binaries: a server process on an ephemeral port whose log tells the port.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A `route_guide_server` process; killed when dropped if still running.
pub struct ServerProcess {
    child: Child,
    pub addr: String,
    /// Every line the server logged, as it logs them.
    log: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts the server binary on 127.0.0.1:0 with `extra` flags and waits until it listens.
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(super::standard_db_path())
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let (tx, log) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProcess {
            child,
            addr: String::new(),
            log,
        };
        let listening = server.wait_for_log("(port ");
        let port = listening
            .split("(port ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .expect("the log names the port");
        server.addr = format!("127.0.0.1:{port}");
        server
    }

    /// The first log line from now on that contains `text`, waiting up to 30 s for it.
    pub fn wait_for_log(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(_) => panic!("the server never logged {text:?}"),
            }
        }
    }

    /// Sends SIGTERM, as a service manager would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {limit:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line not read yet.
    pub fn remaining_log(&mut self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
