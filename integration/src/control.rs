//! namerd and etcd for end-to-end tests of the control plane: namerd is the binary built
//! beside linkerd; etcd is Debian's `etcd-server` (3.4, the v2 keys API enabled as
//! Linkerd 1's `io.l5d.etcd` needs), installed by `integration/etcd/install.sh` and
//! started here on free loopback ports, its data kept across restarts.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::{eventually, temp_dir, Process};

/// A port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The binary `name` built beside `sibling` (a test's `CARGO_BIN_EXE_*`), built first
/// if it is not there yet (a test run of one package builds only its own binaries).
pub fn binary_beside(sibling: &Path, name: &str) -> PathBuf {
    let path = sibling.with_file_name(name);
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if !path.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(["build", "-p", name, "--bin", name])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "building {name} failed");
        }
    });
    path
}

/// A namerd process and where it serves.
pub struct Namerd {
    /// The process (stopped when this drops).
    pub process: Process,
    /// Where its `io.l5d.httpController` listens.
    pub http: SocketAddr,
    /// Where its `io.l5d.thriftNameInterpreter` listens, if it has one.
    pub thrift: Option<SocketAddr>,
    /// Where its admin server listens.
    pub admin: SocketAddr,
}

impl Namerd {
    /// Writes `yaml` to a fresh file and starts the namerd binary `bin` on it, waiting
    /// until its HTTP controller listens.
    pub fn start(bin: &Path, yaml: &str) -> Namerd {
        let config = temp_dir("namerd").join("namerd.yaml");
        std::fs::write(&config, yaml).expect("write the config");
        let mut process = Process::start(bin, &[config.to_str().expect("a UTF-8 path")]);
        let http = process.logged_addr("interface io.l5d.httpController listening on ");
        let thrift = yaml
            .contains("io.l5d.thriftNameInterpreter")
            .then(|| process.logged_addr("interface io.l5d.thriftNameInterpreter listening on "));
        let admin = process.logged_addr("admin server listening on ");
        Namerd {
            process,
            http,
            thrift,
            admin,
        }
    }
}

impl Namerd {
    /// `/admin/metrics.json`, parsed.
    pub fn metrics(&self) -> serde_json::Value {
        let (status, _, body) = crate::http_get(self.admin, "/admin/metrics.json", &[]);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }
}

/// A single-node etcd with the v2 API, on loopback.
pub struct Etcd {
    process: Option<Process>,
    dir: PathBuf,
    /// Its client port.
    pub port: u16,
    peer_port: u16,
}

/// Installs etcd-server (once per test process).
pub fn install_etcd() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("etcd/install.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .expect("run integration/etcd/install.sh");
        assert!(
            out.status.success(),
            "installing etcd failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

impl Etcd {
    /// Starts etcd with a fresh data directory.
    pub fn start() -> Etcd {
        install_etcd();
        let mut e = Etcd {
            process: None,
            dir: temp_dir("etcd"),
            port: free_port(),
            peer_port: free_port(),
        };
        e.run();
        e
    }

    /// Where clients reach it.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn run(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let data = self.dir.join("data");
        let args = [
            "--name",
            "l5d-test",
            "--data-dir",
            data.to_str().expect("a UTF-8 path"),
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &format!("l5d-test={peer}"),
            "--initial-cluster-state",
            "new",
            "--enable-v2=true",
        ];
        self.process = Some(Process::start(Path::new("etcd"), &args));
        let addr = self.addr();
        eventually("etcd to answer", Duration::from_secs(30), || {
            std::net::TcpStream::connect(addr).ok()?;
            let (status, _, body) = crate::http_get(addr, "/health", &[("Host", "127.0.0.1")]);
            (status == 200 && body.contains("true")).then_some(())
        });
    }

    /// Stops etcd (its data stays).
    pub fn stop(&mut self) {
        if let Some(p) = self.process.take() {
            p.signal("KILL");
            let _ = p.wait(Duration::from_secs(30));
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}
