//! A private Mosquitto broker per test: its own temporary directory, configuration, log and
//! ephemeral port on 127.0.0.1. Never touches the system broker on 1883.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::TIMEOUT;

/// The Debian broker binary.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// The Debian password tool.
pub const MOSQUITTO_PASSWD: &str = "/usr/bin/mosquitto_passwd";

/// How many fresh ports [`Builder::start`] tries before giving up.
const PORT_ATTEMPTS: usize = 5;
/// How many times [`Mosquitto::restart`] tries to bring the broker back on its port.
const RESTART_ATTEMPTS: usize = 10;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Configures a [`Mosquitto`]; [`Mosquitto::builder`] makes one.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    credentials: Option<(String, String)>,
    persistence: bool,
    extra: Vec<String>,
}

impl Builder {
    /// Requires this user name and password; anonymous clients are refused.
    #[must_use]
    pub fn password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Keeps sessions and messages in a database in the instance's directory, written when
    /// the broker stops ([`Mosquitto::stop`], [`Mosquitto::restart`]).
    #[must_use]
    pub fn persistence(mut self, on: bool) -> Self {
        self.persistence = on;
        self
    }

    /// Appends one line to the configuration file, e.g. `max_keepalive 10`. May be repeated.
    #[must_use]
    pub fn extra_config(mut self, line: impl Into<String>) -> Self {
        self.extra.push(line.into());
        self
    }

    /// Starts the broker and waits until it accepts TCP connections; panics (with the log)
    /// if it does not within a few attempts on fresh ports.
    pub fn start(self) -> Mosquitto {
        let dir = unique_dir();
        let password_file = self.credentials.as_ref().map(|(user, password)| {
            let path = dir.join("passwd");
            make_password_file(&path, user, password);
            path
        });
        let mut broker = Mosquitto {
            conf: dir.join("mosquitto.conf"),
            dir,
            port: 0,
            child: None,
        };
        let mut failures = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            broker.port = free_port();
            let conf = self.config(&broker.dir, broker.port, password_file.as_deref());
            fs::write(&broker.conf, conf).expect("write mosquitto.conf");
            match broker.spawn_and_wait() {
                Ok(()) => return broker,
                Err(e) => {
                    let _ = writeln!(failures, "attempt {attempt} on port {}: {e}", broker.port);
                }
            }
        }
        panic!(
            "mosquitto did not start:\n{failures}\n--- log ---\n{}",
            broker.log()
        );
    }

    fn config(&self, dir: &Path, port: u16, password_file: Option<&Path>) -> String {
        let mut conf = String::new();
        let _ = writeln!(conf, "listener {port} 127.0.0.1");
        if let Some(path) = password_file {
            let _ = writeln!(conf, "allow_anonymous false");
            let _ = writeln!(conf, "password_file {}", path.display());
        } else {
            let _ = writeln!(conf, "allow_anonymous true");
        }
        if self.persistence {
            let _ = writeln!(conf, "persistence true");
            let _ = writeln!(conf, "persistence_location {}/", dir.display());
        }
        let _ = writeln!(
            conf,
            "log_dest file {}",
            dir.join("mosquitto.log").display()
        );
        let _ = writeln!(conf, "log_type all");
        let _ = writeln!(conf, "log_timestamp_format %H:%M:%S");
        if running_as_root() {
            // As root, Mosquitto would otherwise switch to the `mosquitto` user, which
            // cannot write to this directory.
            let _ = writeln!(conf, "user root");
        }
        for line in &self.extra {
            let _ = writeln!(conf, "{line}");
        }
        conf
    }
}

/// A running (or stopped) private Mosquitto. Dropping it kills the process and removes its
/// directory.
#[derive(Debug)]
pub struct Mosquitto {
    dir: PathBuf,
    conf: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Mosquitto {
    /// A client of this broker with `options`, connected (a failure shows the broker's log).
    pub fn connected_client(
        &self,
        options: midge::runtime::ClientOptions,
    ) -> midge::runtime::Client {
        let c = midge::runtime::Client::new(&self.url(), options).unwrap();
        c.connect_and_wait(TIMEOUT)
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", self.log()));
        c
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    /// An anonymous broker with the default configuration.
    pub fn start() -> Self {
        Builder::default().start()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The instance's directory: configuration, log, password file, persistence database.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The broker's process id while it runs (`None` after [`Mosquitto::kill`] or
    /// [`Mosquitto::stop`]).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The broker's log (all restarts), followed by anything it wrote to stderr.
    pub fn log(&self) -> String {
        let mut log = fs::read_to_string(self.dir.join("mosquitto.log"))
            .unwrap_or_else(|e| format!("(no mosquitto.log: {e})\n"));
        for name in ["stdout.log", "stderr.log"] {
            if let Ok(s) = fs::read_to_string(self.dir.join(name))
                && !s.is_empty()
            {
                let _ = write!(log, "--- {name} ---\n{s}");
            }
        }
        log
    }

    /// Waits (bounded by the timeout) until the broker's log has a line containing `needle`,
    /// e.g. `Sending SUBACK to sub-1`: the event a test synchronises on.
    pub fn wait_for_log(&self, needle: &str) {
        self.wait_for_log_count(needle, 1);
    }

    /// [`Mosquitto::wait_for_log`] for the `n`th such line (the log spans restarts).
    pub fn wait_for_log_count(&self, needle: &str, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.log().matches(needle).count() < n {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the broker's log within {TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL: the broker dies without saving anything or sending anything to clients.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the process to exit, so a persistence database is written.
    /// Falls back to SIGKILL (and panics) if it does not exit within the timeout.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "mosquitto did not exit within {TIMEOUT:?} of SIGTERM\n{}",
                        self.log()
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Stops the broker gracefully if it runs (see [`Mosquitto::stop`]), then starts it again
    /// with the same configuration on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let mut failures = String::new();
        for attempt in 1..=RESTART_ATTEMPTS {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(e) => {
                    let _ = writeln!(failures, "attempt {attempt}: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        panic!(
            "mosquitto did not restart on port {}:\n{failures}\n--- log ---\n{}",
            self.port,
            self.log()
        );
    }

    /// Spawns the process and waits until the port accepts TCP connections. On failure the
    /// process is gone and `self.child` is `None`.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let output = |name: &str| -> Result<File, String> {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .map_err(|e| format!("open {name}: {e}"))
        };
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(output("stdout.log")?)
            .stderr(output("stderr.log")?)
            .spawn()
            .map_err(|e| format!("spawn {MOSQUITTO}: {e}"))?;
        self.child = Some(child);
        let result = self.wait_ready();
        if result.is_err() {
            self.kill();
        }
        result
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let addr = self.addr();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("a child to wait for");
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("mosquitto exited early: {status}"));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                // Make sure it is our process that answered, not a squatter on the port.
                return match child.try_wait() {
                    Ok(Some(status)) => Err(format!("mosquitto exited early: {status}")),
                    _ => Ok(()),
                };
            }
            if Instant::now() >= deadline {
                return Err(format!("not listening on {addr} within {TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- mosquitto on port {} ({}) ---\n{}",
                self.port,
                self.dir.display(),
                self.log()
            );
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory under the system temporary directory, unique per process and instance.
fn unique_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("midge-mosquitto-{}-{n}", std::process::id()));
    // A leftover from an earlier run that had the same pid.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A port that was free a moment ago (the kernel's pick for 127.0.0.1:0).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

fn make_password_file(path: &Path, user: &str, password: &str) {
    let tool = if Path::new(MOSQUITTO_PASSWD).exists() {
        MOSQUITTO_PASSWD
    } else {
        "mosquitto_passwd"
    };
    let out = Command::new(tool)
        .arg("-b")
        .arg("-c")
        .arg(path)
        .arg(user)
        .arg(password)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        out.status.success() && path.exists(),
        "{tool} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether this process runs with effective uid 0 (read from /proc, without libc).
fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
