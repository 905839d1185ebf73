//! Child processes that are killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repo root")
}

/// A built binary of the workspace: `target/debug`, or the profile `LEADGEN_E2E_PROFILE` names
/// (`release` for the benchmarks).
pub fn binary(name: &str) -> PathBuf {
    #[expect(
        clippy::disallowed_methods,
        reason = "the harness picks the build profile from its environment"
    )]
    let profile = std::env::var("LEADGEN_E2E_PROFILE").unwrap_or_else(|_| "debug".to_owned());
    let path = repo_root().join("target").join(profile).join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` (make test does)",
        path.display()
    );
    path
}

/// A free local port for a server a test starts, taken below Linux's ephemeral range
/// (32768–60999): a port the kernel handed out with `bind(0)` can be given again to an outgoing
/// connection (a database client's) before the server binds it, which once failed nginx's bind.
/// Random in 20000–32767, checked by binding it; the kernel's choice if none is free. Never a
/// port this process handed out already: a system picks all its ports before its servers bind
/// them, so a free check alone once gave the gateway lead-api's port (nginx could not bind,
/// and the test talked to lead-api: 404 for auth-api's paths).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seed = RandomState::new();
    for attempt in 0u32..256 {
        let port = 20_000 + u16::try_from(seed.hash_one(attempt) % 12_768).unwrap_or(0);
        if !handed_out.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    handed_out.insert(port);
    port
}

/// A running child; killed on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command, log_dir: &Path) -> Proc {
        let log = log_dir.join(format!("{name}.log"));
        // Append: a restarted process keeps the log of its previous run above.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        command
            .current_dir(repo_root())
            .stdout(Stdio::null())
            .stderr(file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM` or `KILL`) and waits for the exit; returns the exit status.
    pub fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status();
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
