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

/// A Consul dev agent (Debian bullseye's consul 1.8, installed by
/// `integration/consul/install.sh`) on free loopback ports; its state is in memory, so a
/// restart forgets every registration, as a real agent restart without persistence does.
pub struct Consul {
    process: Option<Process>,
    dir: PathBuf,
    /// Its HTTP port.
    pub port: u16,
    ports: [u16; 4],
}

/// Installs Consul (once per test process).
pub fn install_consul() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("consul/install.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .expect("run integration/consul/install.sh");
        assert!(
            out.status.success(),
            "installing consul failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

impl Consul {
    /// Starts a dev agent in datacenter `dc1`.
    pub fn start() -> Consul {
        install_consul();
        let mut c = Consul {
            process: None,
            dir: temp_dir("consul"),
            port: free_port(),
            ports: [free_port(), free_port(), free_port(), free_port()],
        };
        c.run();
        c
    }

    /// Where clients reach it.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn run(&mut self) {
        let [dns, server, lan, wan] = self.ports;
        let config = serde_json::json!({
            "datacenter": "dc1",
            "node_name": "l5d-test-node",
            "bind_addr": "127.0.0.1",
            "client_addr": "127.0.0.1",
            "advertise_addr": "127.0.0.1",
            "ports": {"http": self.port, "dns": dns, "server": server, "serf_lan": lan, "serf_wan": wan, "grpc": -1, "https": -1},
            "disable_update_check": true,
            "enable_script_checks": false,
        });
        let file = self.dir.join("config.json");
        std::fs::write(&file, config.to_string()).expect("write consul's config");
        let file = file.to_str().expect("a UTF-8 path").to_string();
        self.process = Some(Process::start(
            Path::new("consul"),
            &["agent", "-dev", "-config-file", &file],
        ));
        let addr = self.addr();
        eventually("consul to elect itself", Duration::from_secs(30), || {
            std::net::TcpStream::connect(addr).ok()?;
            let (status, _, body) =
                crate::http_get(addr, "/v1/catalog/nodes", &[("Host", "127.0.0.1")]);
            (status == 200 && body.contains("l5d-test-node")).then_some(())
        });
    }

    fn curl(&self, method: &str, path: &str, body: &str) {
        let out = Command::new("curl")
            .args(["-sS", "-f", "-X", method, "--data-binary", body])
            .arg(format!("http://{}{path}", self.addr()))
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "{method} {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Registers instance `id` of `service` at `addr`, with `tags`.
    pub fn register(&self, id: &str, service: &str, addr: SocketAddr, tags: &[&str]) {
        let body = serde_json::json!({
            "ID": id, "Name": service, "Tags": tags,
            "Address": addr.ip().to_string(), "Port": addr.port(),
        });
        self.curl("PUT", "/v1/agent/service/register", &body.to_string());
    }

    /// Registers a service as the agent API takes it (`ID`, `Name`, `Tags`, `Address`,
    /// `Port`, `Check`, ...).
    pub fn register_json(&self, service: &serde_json::Value) {
        self.curl("PUT", "/v1/agent/service/register", &service.to_string());
    }

    /// Deregisters instance `id`.
    pub fn deregister(&self, id: &str) {
        self.curl("PUT", &format!("/v1/agent/service/deregister/{id}"), "");
    }

    /// Stops the agent.
    pub fn stop(&mut self) {
        if let Some(p) = self.process.take() {
            p.signal("KILL");
            let _ = p.wait(Duration::from_secs(30));
        }
    }

    /// Starts it again on the same ports (with nothing registered).
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

/// A standalone ZooKeeper 3.8 (Debian's zookeeper package, installed by
/// `integration/zookeeper/install.sh`) on a free loopback port, its data kept across
/// restarts; members are created with the package's own `zkCli.sh`.
pub struct ZooKeeper {
    process: Option<Process>,
    dir: PathBuf,
    /// Its client port.
    pub port: u16,
}

/// Installs ZooKeeper (once per test process).
pub fn install_zookeeper() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("zookeeper/install.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .expect("run integration/zookeeper/install.sh");
        assert!(
            out.status.success(),
            "installing zookeeper failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

impl ZooKeeper {
    /// Starts a server with an empty data directory.
    pub fn start() -> ZooKeeper {
        install_zookeeper();
        let mut z = ZooKeeper {
            process: None,
            dir: temp_dir("zookeeper"),
            port: free_port(),
        };
        std::fs::create_dir_all(z.dir.join("data")).expect("zookeeper's data dir");
        z.run();
        z
    }

    fn run(&mut self) {
        let cfg = format!(
            "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\nmaxClientCnxns=0\n",
            self.dir.join("data").display(),
            self.port
        );
        let file = self.dir.join("zoo.cfg");
        std::fs::write(&file, cfg).expect("write zoo.cfg");
        let classpath = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/netty-all.jar:/etc/zookeeper/conf";
        self.process = Some(Process::start(
            Path::new("java"),
            &[
                "-Xmx256m",
                "-cp",
                classpath,
                "org.apache.zookeeper.server.ZooKeeperServerMain",
                file.to_str().expect("a UTF-8 path"),
            ],
        ));
        let port = self.port;
        eventually("zookeeper to answer ruok", Duration::from_secs(60), || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            // A server still starting may accept and stay silent: never wait on it long.
            s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
            s.write_all(b"ruok").ok()?;
            let mut r = String::new();
            s.read_to_string(&mut r).ok()?;
            (r == "imok").then_some(())
        });
    }

    /// Runs one `zkCli.sh` command against the server; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        // Bounded: a CLI stuck on an unanswering server fails the test instead of hanging it.
        let out = Command::new("timeout")
            .args(["60", "/usr/share/zookeeper/bin/zkCli.sh"])
            .arg("-server")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(args)
            .output()
            .expect("zkCli.sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "zkCli {args:?}: {text}");
        text
    }

    /// Creates `path` and its parents (persistent, empty), if missing.
    pub fn ensure(&self, path: &str) {
        let mut at = String::new();
        for seg in path.trim_matches('/').split('/') {
            at.push('/');
            at.push_str(seg);
            let _ = Command::new("timeout")
                .args(["60", "/usr/share/zookeeper/bin/zkCli.sh"])
                .arg("-server")
                .arg(format!("127.0.0.1:{}", self.port))
                .args(["create", &at, ""])
                .output();
        }
    }

    /// Adds a serverset member for `addr` under `path`; the member's znode.
    pub fn add_member(&self, path: &str, addr: SocketAddr) -> String {
        self.ensure(path);
        let data = serde_json::json!({
            "serviceEndpoint": {"host": addr.ip().to_string(), "port": addr.port()},
            "additionalEndpoints": {"http": {"host": addr.ip().to_string(), "port": addr.port()}},
            "status": "ALIVE", "shard": 0,
        });
        let out = self.cli(&[
            "create",
            "-s",
            &format!("{path}/member_"),
            &data.to_string(),
        ]);
        out.lines()
            .find_map(|l| l.strip_prefix("Created "))
            .map(|p| p.trim().to_string())
            .unwrap_or_else(|| panic!("no member created: {out}"))
    }

    /// Deletes a znode.
    pub fn delete(&self, path: &str) {
        self.cli(&["delete", path]);
    }

    /// Stops the server (its data stays).
    pub fn stop(&mut self) {
        if let Some(p) = self.process.take() {
            p.signal("KILL");
            let _ = p.wait(Duration::from_secs(30));
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

/// dnsmasq serving SRV records on a free loopback port (Debian's dnsmasq-base, installed
/// by `integration/dns/install.sh`); records change by restarting it, as dnsmasq's own
/// configuration changes.
pub struct Dnsmasq {
    process: Option<Process>,
    /// Its port (UDP and TCP).
    pub port: u16,
}

impl Dnsmasq {
    /// Starts serving `records`: (SRV name, target host, port).
    pub fn start(records: &[(&str, &str, u16)]) -> Dnsmasq {
        static DONE: OnceLock<()> = OnceLock::new();
        DONE.get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("dns/install.sh");
            let out = Command::new("bash")
                .arg(script)
                .output()
                .expect("run dns/install.sh");
            assert!(out.status.success(), "installing dnsmasq failed: {out:?}");
        });
        let mut d = Dnsmasq {
            process: None,
            port: free_port(),
        };
        d.serve(records);
        d
    }

    /// Restarts it serving `records` instead.
    pub fn serve(&mut self, records: &[(&str, &str, u16)]) {
        if let Some(p) = self.process.take() {
            p.signal("KILL");
            let _ = p.wait(Duration::from_secs(30));
        }
        let mut args = vec![
            "--keep-in-foreground".to_string(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            "--no-daemon".into(),
            "--conf-file=/dev/null".into(),
            "--listen-address=127.0.0.1".into(),
            "--bind-interfaces".into(),
            // Names in the test domain that have no records are NXDOMAIN, not refused.
            "--local=/l5d.test/".into(),
            format!("--port={}", self.port),
        ];
        for (name, target, port) in records {
            args.push(format!("--srv-host={name},{target},{port}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut p = Process::start(Path::new("dnsmasq"), &args);
        let port = self.port;
        eventually("dnsmasq to listen", Duration::from_secs(20), || {
            if !p.is_running() {
                panic!("dnsmasq exited: {}", p.stderr_so_far());
            }
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(drop)
        });
        self.process = Some(p);
    }
}

/// A real kube-apiserver (built from Debian's kubernetes source package; see
/// `integration/k8s/build.sh`) with its own etcd, fronted by `kubectl proxy` as Linkerd
/// 1's k8s namers expect.
pub struct KubeApi {
    processes: Vec<Process>,
    /// The proxy's port (plain HTTP).
    pub port: u16,
}

impl KubeApi {
    /// Starts etcd, the apiserver at `apiserver` and the proxy.
    pub fn start(apiserver: &Path) -> KubeApi {
        let dir = temp_dir("kube");
        let (etcd_port, etcd_peer, secure, proxy) =
            (free_port(), free_port(), free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        let data = dir.join("etcd");
        let etcd = Process::start(
            Path::new("etcd"),
            &[
                "--name",
                "k8s",
                "--data-dir",
                data.to_str().unwrap(),
                "--listen-client-urls",
                &etcd_url,
                "--advertise-client-urls",
                &etcd_url,
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
                "--initial-cluster",
                &format!("k8s={peer_url}"),
            ],
        );
        let key = dir.join("sa.key");
        assert!(Command::new("openssl")
            .args(["genrsa", "-out", key.to_str().unwrap(), "2048"])
            .output()
            .unwrap()
            .status
            .success());
        std::fs::write(
            dir.join("tokens.csv"),
            "l5d-test-token,admin,admin,system:masters\n",
        )
        .unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!("apiVersion: v1\nkind: Config\nclusters: [{{name: t, cluster: {{server: \"https://127.0.0.1:{secure}\", insecure-skip-tls-verify: true}}}}]\nusers: [{{name: t, user: {{token: l5d-test-token}}}}]\ncontexts: [{{name: t, context: {{cluster: t, user: t}}}}]\ncurrent-context: t\n"),
        )
        .unwrap();
        let certs = dir.join("certs");
        let tokens = dir.join("tokens.csv");
        let api = Process::start(
            apiserver,
            &[
                "--etcd-servers",
                &etcd_url,
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                &secure.to_string(),
                "--advertise-address",
                "127.0.0.1",
                "--cert-dir",
                certs.to_str().unwrap(),
                "--service-cluster-ip-range",
                "10.250.0.0/24",
                "--service-account-issuer",
                "https://kubernetes.default.svc",
                "--service-account-key-file",
                key.to_str().unwrap(),
                "--service-account-signing-key-file",
                key.to_str().unwrap(),
                "--api-audiences",
                "kubernetes",
                "--token-auth-file",
                tokens.to_str().unwrap(),
                "--authorization-mode",
                "AlwaysAllow",
                "--disable-admission-plugins",
                "ServiceAccount",
                "--endpoint-reconciler-type",
                "none",
                "--profiling=false",
            ],
        );
        let proxy_proc = Process::start(
            Path::new("kubectl"),
            &[
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
                "proxy",
                "--address",
                "127.0.0.1",
                "--port",
                &proxy.to_string(),
                "--accept-hosts",
                "^(localhost|127\\.0\\.0\\.1)(:[0-9]+)?$",
            ],
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], proxy));
        eventually(
            "kube-apiserver to be ready",
            Duration::from_secs(120),
            || {
                std::net::TcpStream::connect(addr).ok()?;
                let (status, _, body) = crate::http_get(addr, "/readyz", &[("Host", "127.0.0.1")]);
                (status == 200 && body == "ok").then_some(())
            },
        );
        KubeApi {
            processes: vec![proxy_proc, api, etcd],
            port: proxy,
        }
    }

    /// Sends a JSON body with curl; the response body.
    pub fn send(&self, method: &str, path: &str, body: &serde_json::Value) -> String {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-X",
                method,
                "-H",
                "Content-Type: application/json",
                "--data-binary",
            ])
            .arg(body.to_string())
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        for p in self.processes.drain(..) {
            p.signal("KILL");
        }
    }
}
