//! Harnesses for end-to-end tests: start a real process with a config, wait for it with a
//! deadline (never a fixed sleep), read what it printed, and stop it.
//!
//! The tests of each binary live beside it (`linkerd/tests`, `namerd/tests`) so that Cargo
//! builds the binary for them; scenarios that span several binaries and real peers live in
//! `integration/tests` as later issues add them.

#![warn(missing_docs)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod control;
pub mod mux_peer;
pub mod thrift_peers;

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// A child process with its output captured as it runs, killed if the test drops it.
pub struct Process {
    child: Child,
    stdout: Captured,
    stderr: Captured,
}

/// Output read from a pipe by a background thread, so a test can look at it while the
/// process runs.
struct Captured {
    text: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    fn spawn(pipe: Option<impl Read + Send + 'static>) -> Captured {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let reader = pipe.map(|mut pipe| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let chunk = String::from_utf8_lossy(&buf[..n]);
                    sink.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_str(&chunk);
                }
            })
        });
        Captured { text, reader }
    }

    fn snapshot(&self) -> String {
        self.text.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn finish(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.snapshot()
    }
}

/// What a finished process printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Process {
    /// Starts `program` with `args`, capturing stdout and stderr.
    pub fn start(program: &Path, args: &[&str]) -> Process {
        Self::start_with_input(program, args, None)
    }

    /// Starts `program` with `args` in the directory `dir` (relative paths in its
    /// arguments and config resolve there).
    pub fn start_in(dir: &Path, program: &Path, args: &[&str]) -> Process {
        Self::spawn(Command::new(program).current_dir(dir), args, None)
    }

    /// Starts `program` with `args` and these environment variables added.
    pub fn start_with_env(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut command = Command::new(program);
        command.envs(env.iter().copied());
        Self::spawn(&mut command, args, None)
    }

    /// Starts `program` with `args` and writes `input` to its standard input, then closes it.
    pub fn start_with_input(program: &Path, args: &[&str], input: Option<&str>) -> Process {
        Self::spawn(&mut Command::new(program), args, input)
    }

    fn spawn(command: &mut Command, args: &[&str], input: Option<&str>) -> Process {
        let program = command.get_program().to_string_lossy().to_string();
        let mut child = command
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(text.as_bytes())
                .expect("write the process's input");
        }
        let stdout = Captured::spawn(child.stdout.take());
        let stderr = Captured::spawn(child.stderr.take());
        Process {
            child,
            stdout,
            stderr,
        }
    }

    /// The address it logged after `marker` ("admin server listening on "), once it has.
    pub fn logged_addr(&mut self, marker: &str) -> std::net::SocketAddr {
        self.wait_for_stderr(marker, Duration::from_secs(30));
        let log = self.stderr.snapshot();
        log.lines()
            .find_map(|l| l.split(marker).nth(1))
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no address after {marker:?} in:\n{log}"))
    }

    /// What it has written to standard error so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.snapshot()
    }

    /// Waits until its standard error contains `needle`; panics with what it printed if it
    /// does not within `timeout` or exits first.
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr.snapshot().contains(needle) {
                return;
            }
            let exited = self.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "no {needle:?} on stderr (exited: {exited:?}); it printed:\n{}",
                self.stderr.snapshot()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (`TERM`, `INT`, ...) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.id().to_string())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "kill -{name} failed"
        );
    }

    /// Waits up to `timeout` for the process to exit and returns what it printed.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        let status = eventually("the process to exit", timeout, || {
            self.child.try_wait().ok().flatten()
        });
        let stdout = self.stdout.finish();
        let stderr = self.stderr.finish();
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the system temp dir for one test's files, unique per call.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("l5d-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A linkerd process started for a test, and the addresses it logged.
pub struct Linkerd {
    /// The process (stopped when this drops).
    pub process: Process,
    /// Where the router's first server listens.
    pub addr: std::net::SocketAddr,
    /// Where the admin server listens.
    pub admin: std::net::SocketAddr,
}

impl Linkerd {
    /// Writes `yaml` to a fresh config file, starts the linkerd binary `bin` on it, waits
    /// until it runs and reads where router `label`'s first server and the admin server
    /// listen (the config should ask for port 0 on both).
    pub fn start(bin: &Path, yaml: &str, label: &str) -> Linkerd {
        Linkerd::start_router(bin, yaml, label, "http")
    }

    /// As [`Linkerd::start`], for a router of `protocol`.
    pub fn start_router(bin: &Path, yaml: &str, label: &str, protocol: &str) -> Linkerd {
        Linkerd::start_with_env(bin, yaml, label, protocol, &[])
    }

    /// As [`Linkerd::start_router`], with these environment variables added.
    pub fn start_with_env(
        bin: &Path,
        yaml: &str,
        label: &str,
        protocol: &str,
        env: &[(&str, &str)],
    ) -> Linkerd {
        let config = temp_dir("linkerd").join("linkerd.yaml");
        std::fs::write(&config, yaml).expect("write the config");
        let config = config.to_str().expect("a UTF-8 temp path").to_string();
        let mut process = Process::start_with_env(bin, &[&config], env);
        process.wait_for_stderr("linkerd is running", Duration::from_secs(30));
        let addr = process.logged_addr(&format!(
            "serving router '{label}' (protocol {protocol}) on "
        ));
        let admin = process.logged_addr("admin server listening on ");
        Linkerd {
            process,
            addr,
            admin,
        }
    }

    /// Where the first server of router `label` (of `protocol`) listens.
    pub fn addr_of(&mut self, label: &str, protocol: &str) -> std::net::SocketAddr {
        self.process.logged_addr(&format!(
            "serving router '{label}' (protocol {protocol}) on "
        ))
    }

    /// `/admin/metrics.json`, parsed.
    pub fn metrics(&self) -> serde_json::Value {
        let (status, _, body) = http_get(self.admin, "/admin/metrics.json", &[]);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }
}

/// A backend for end-to-end tests: Python's standard-library HTTP server (a peer nobody
/// here wrote), with a handler that answers every request with JSON naming the backend and
/// echoing the method, path, headers and body length it received; `/bytes/<n>` answers `n`
/// bytes instead. Keeps connections alive (HTTP/1.1).
pub struct PythonBackend {
    /// The server process.
    pub process: Process,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

const ECHO_SERVER: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
name = sys.argv[1]
status = int(sys.argv[2]) if len(sys.argv) > 2 else 200
port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle's algorithm holds
    # the body back until the proxy's delayed ACK (40 ms a response).
    disable_nagle_algorithm = True
    def answer(self):
        if self.path.startswith("/bytes/"):
            n = int(self.path[len("/bytes/"):])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"0123456789abcdef" * 4096
            while n > 0:
                self.wfile.write(chunk[:n])
                n -= len(chunk)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        out = json.dumps({"backend": name, "method": self.command, "path": self.path,
                          "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body_len": len(body)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *args):
        pass
ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer(("127.0.0.1", port), Echo)
print("listening on %d" % server.server_address[1], file=sys.stderr, flush=True)
server.serve_forever()
"#;

impl PythonBackend {
    /// Starts a backend that calls itself `name`, on an ephemeral port.
    pub fn start(name: &str) -> PythonBackend {
        Self::answering(name, 200)
    }

    /// Starts a backend that answers every echo with `status` (a failing instance).
    pub fn answering(name: &str, status: u16) -> PythonBackend {
        Self::spawn(name, status, 0)
    }

    /// Starts a backend on `port` (an instance coming back where it was).
    pub fn on_port(name: &str, port: u16) -> PythonBackend {
        Self::spawn(name, 200, port)
    }

    fn spawn(name: &str, status: u16, port: u16) -> PythonBackend {
        let (status, port) = (status.to_string(), port.to_string());
        let mut process = Process::start(
            Path::new("python3"),
            &["-c", ECHO_SERVER, name, &status, &port],
        );
        process.wait_for_stderr("listening on ", Duration::from_secs(30));
        let log = process.stderr_so_far();
        let port: u16 = log
            .lines()
            .find_map(|l| l.strip_prefix("listening on "))
            .and_then(|p| p.trim().parse().ok())
            .expect("the backend logs its port");
        PythonBackend {
            process,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and returns the status, headers and
/// body. A small client for tests that send many requests; curl is used where a real
/// client's behaviour matters.
pub fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    use std::io::BufRead;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("write");
    let mut reader = std::io::BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut body = String::new();
    reader.read_to_string(&mut body).expect("body");
    (status, headers, body)
}

/// Which backend answered a GET of `/` for `host` through `addr` (the Python backends'
/// `backend` field), with the status; the body when it is not a backend's answer.
pub fn backend_of(addr: std::net::SocketAddr, host: &str) -> (u16, String) {
    let (status, _, body) = http_get(addr, "/", &[("Host", host)]);
    let name = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["backend"].as_str().map(str::to_string))
        .unwrap_or(body);
    (status, name)
}

/// Requests for one host sent one after another, until finished; every answer kept —
/// what "no failed request while traffic moves" is checked against.
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    seen: Arc<Mutex<Vec<(u16, String)>>>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    /// Starts sending GETs of `/` for `host` to `addr`.
    pub fn start(addr: std::net::SocketAddr, host: &str) -> Load {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, v, host) = (stop.clone(), seen.clone(), host.to_string());
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let r = backend_of(addr, &host);
                v.lock().expect("the answers").push(r);
            }
        });
        Load {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// The answers so far: (status, backend).
    pub fn seen(&self) -> Vec<(u16, String)> {
        self.seen.lock().expect("the answers").clone()
    }

    /// Waits (up to 30 s) until the last `n` answers all came from `backend`.
    pub fn settles_on(&self, backend: &str, n: usize) {
        eventually(
            &format!("traffic to move to {backend}"),
            Duration::from_secs(30),
            || {
                let seen = self.seen();
                (seen.len() >= n && seen[seen.len() - n..].iter().all(|(_, b)| b == backend))
                    .then_some(())
            },
        );
    }

    /// Waits (up to 30 s) until some answer came from `backend`.
    pub fn reaches(&self, backend: &str) {
        eventually(
            &format!("traffic to reach {backend}"),
            Duration::from_secs(30),
            || self.seen().iter().any(|(_, b)| b == backend).then_some(()),
        );
    }

    /// Stops, and asserts that no request failed; the answers.
    pub fn finish_without_failures(mut self) -> Vec<(u16, String)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("the load thread");
        }
        let seen = self.seen();
        let failed: Vec<_> = seen.iter().filter(|(s, _)| *s != 200).collect();
        assert!(
            failed.is_empty(),
            "{} of {} requests failed: {failed:?}",
            failed.len(),
            seen.len()
        );
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventually_returns_the_first_answer() {
        let mut n = 0;
        let v = eventually("n to reach 3", Duration::from_secs(5), || {
            n += 1;
            (n >= 3).then_some(n)
        });
        assert_eq!(v, 3);
    }

    #[test]
    #[should_panic(expected = "timed out")]
    fn eventually_gives_up_at_the_deadline() {
        eventually::<()>("nothing", Duration::from_millis(20), || None);
    }

    #[test]
    fn processes_report_exit_status_and_output() {
        let p = Process::start(Path::new("sh"), &["-c", "echo out; echo err >&2; exit 3"]);
        let done = p.wait(Duration::from_secs(10));
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(
            (done.stdout.as_str(), done.stderr.as_str()),
            ("out\n", "err\n")
        );
    }
}
