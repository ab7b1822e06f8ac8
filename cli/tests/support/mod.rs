//! Harness for the command-line tests: a private Mosquitto per test, and child processes
//! (midge, mosquitto_pub, mosquitto_sub) run with bounded waits and stopped by PID.
#![allow(dead_code)]

// The library's own per-test Mosquitto (tests/support/mosquitto.rs), shared, not copied.
#[path = "../../../tests/support/mosquitto.rs"]
pub mod mosquitto;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The bound on every wait that is expected to succeed.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const MIDGE: &str = env!("CARGO_BIN_EXE_midge");
pub const MOSQUITTO_PUB: &str = "/usr/bin/mosquitto_pub";
pub const MOSQUITTO_SUB: &str = "/usr/bin/mosquitto_sub";

/// A child process whose output is collected when it exits.
pub struct Running {
    pid: u32,
    name: String,
    done: mpsc::Receiver<Output>,
}

/// Starts `program args`, writing `stdin` to it (then closing it).
pub fn start(program: &str, args: &[&str], stdin: &[u8]) -> Running {
    let mut child: Child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let pid = child.id();
    let (tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(out) = child.wait_with_output() {
            let _ = tx.send(out);
        }
    });
    Running {
        pid,
        name: format!("{program} {}", args.join(" ")),
        done,
    }
}

impl Running {
    /// Sends SIGTERM to the process (by its PID) and waits (bounded) for its exit.
    pub fn terminate(self) -> Output {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        self.wait()
    }

    /// Kills the process by its PID (SIGKILL) and reaps it.
    pub fn kill(self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.done.recv_timeout(TIMEOUT);
    }

    /// Waits (bounded) for the exit; on timeout kills the process by its PID and panics.
    pub fn wait(self) -> Output {
        if let Ok(out) = self.done.recv_timeout(TIMEOUT) {
            return out;
        }
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let out = self.done.recv_timeout(TIMEOUT);
        panic!(
            "{} did not exit within {TIMEOUT:?}; output: {:?}",
            self.name,
            out.map(|o| (
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned()
            ))
        );
    }
}

/// Runs `program args` to its end (bounded), with `stdin`.
pub fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    start(program, args, stdin).wait()
}

/// Runs midge and asserts it succeeded.
pub fn midge_ok(args: &[&str]) -> Output {
    let out = run(MIDGE, args, b"");
    assert_ok(&out, "midge", args);
    out
}

pub fn assert_ok(out: &Output, program: &str, args: &[&str]) {
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The exit code and stderr of midge run with `args`.
pub fn midge_status(args: &[&str]) -> (i32, String) {
    let out = run(MIDGE, args, b"");
    (
        out.status.code().expect("an exit code, not a signal"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A listener on a free loopback port that answers as a NATS server does: with its INFO
/// line, then reading until the client leaves.
pub fn nats_like() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let _ = s.write_all(
                b"INFO {\"server_id\":\"NCZBWJHASFBF4LTJKQ5BNJS6RW3TQMGF4CGXCOYQKLJTZUVLK3KBCHLY\",\
                  \"version\":\"2.10.18\",\"proto\":1,\"max_payload\":1048576}\r\n",
            );
            let mut buf = [0; 1024];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    port
}
