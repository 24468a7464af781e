//! The real `scholia` binary as a process: a server whose start-up log names its address, and
//! one-shot commands. For what only the binary does (the command line, start-up checks, logs).

use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const BIN: &str = env!("CARGO_BIN_EXE_scholia");

/// A `scholia` command with the environment a developer's shell might leak into it removed, so
/// a test sees only what it sets.
pub fn scholia(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("SCHOLIA_DATABASE_URL")
        .env_remove("SCHOLIA_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    cmd
}

/// Runs a command to its end (at most 60 s) and returns what it printed.
pub async fn output(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null());
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the command finished within 60 s")
        .expect("run scholia")
}

/// Runs a command that must succeed and returns its last line of output.
pub async fn last_line(cmd: Command) -> String {
    let out = output(cmd).await;
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// A running `scholia serve`, its standard output and error read line by line.
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The lines before the one that named the address, then every line as it comes.
    pub lines: mpsc::UnboundedReceiver<String>,
    pub before: Vec<String>,
}

/// Starts `cmd` (a `scholia serve` with `--listen 127.0.0.1:0`) and waits until its start-up log
/// names the bound address.
pub async fn start(mut cmd: Command) -> ServerProcess {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scholia serve");
    let (tx, mut lines) = mpsc::unbounded_channel();
    forward(child.stdout.take().unwrap(), tx.clone());
    forward(child.stderr.take().unwrap(), tx);
    let mut before = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.recv().await {
            if let Some(rest) = line.split("scholia listening on ").nth(1) {
                let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                return Some(addr.trim_end_matches(':').to_owned());
            }
            before.push(line);
        }
        None
    })
    .await;
    let addr = match found {
        Ok(Some(addr)) => addr,
        Ok(None) => panic!("the server exited before listening:\n{}", before.join("\n")),
        Err(_) => panic!("no address within 30 s:\n{}", before.join("\n")),
    };
    ServerProcess {
        child,
        base: format!("http://{addr}"),
        lines,
        before,
    }
}

fn forward(stream: impl AsyncRead + Unpin + Send + 'static, tx: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

impl ServerProcess {
    /// The start-up line (before the one naming the address) that contains `text`.
    pub fn logged_before(&self, text: &str) -> Option<&str> {
        self.before
            .iter()
            .find(|l| l.contains(text))
            .map(String::as_str)
    }

    /// The next line that contains `text`, within 30 s.
    pub async fn line_with(&mut self, text: &str) -> String {
        let seen = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = self.lines.recv().await {
                if line.contains(text) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match seen {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the server exited before logging {text:?}"),
            Err(_) => panic!("no line with {text:?} within 30 s"),
        }
    }

    /// Stops the server with SIGTERM and asserts that it exits cleanly within 10 s.
    pub async fn stop(mut self) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("exited within 10 s of SIGTERM")
            .unwrap();
        let mut log = self.before;
        while let Ok(line) = self.lines.try_recv() {
            log.push(line);
        }
        assert!(status.success(), "{status}:\n{}", log.join("\n"));
    }
}

/// Runs `cmd` (a `scholia serve` expected to refuse to start) and returns whether it exited
/// successfully and its standard error; fails the test if it is still running after 20 s.
pub async fn refused(mut cmd: Command) -> (bool, String) {
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.stdin(Stdio::null()).output())
        .await
        .expect("exited (refused to start) within 20 s")
        .expect("run scholia");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
