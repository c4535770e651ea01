//! `namerctl`: namerd's dtabs from the command line, as Linkerd 1's namerctl offers them —
//! `dtab list`, `dtab get <ns>`, `dtab create <ns> <file>`, `dtab update <ns> <file>`,
//! `dtab delete <ns>` — against namerd's HTTP API (`--base-url`, or `NAMERCTL_BASE_URL`,
//! default `http://localhost:4180`).
//!
//! `get` prints the dtab's version as a `# version <v>` line; `update` sends the version
//! it was given (`--version`, or that line in the file, or else the version current when
//! it starts), so an edit made meanwhile by someone else is refused rather than lost.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::Method;
use l5d_core::http_client::{encode, request, Response};
use l5d_core::naming::Dtab;

#[derive(Parser)]
#[command(name = "namerctl", version, about = "Manage namerd's dtabs")]
struct Cli {
    /// namerd's HTTP API.
    #[arg(
        long,
        env = "NAMERCTL_BASE_URL",
        default_value = "http://localhost:4180"
    )]
    base_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Dtab namespaces.
    Dtab {
        #[command(subcommand)]
        command: DtabCommand,
    },
}

#[derive(Subcommand)]
enum DtabCommand {
    /// Lists the namespaces.
    List,
    /// Prints a namespace's dtab and its version.
    Get {
        /// The namespace.
        namespace: String,
    },
    /// Creates a namespace from a dtab file (`-` reads standard input).
    Create {
        /// The namespace.
        namespace: String,
        /// The dtab file.
        file: String,
    },
    /// Replaces a namespace's dtab from a file, if it is still at the version read.
    Update {
        /// The namespace.
        namespace: String,
        /// The dtab file.
        file: String,
        /// The version the edit was made from (default: the file's `# version` line,
        /// else the current one).
        #[arg(long)]
        version: Option<String>,
    },
    /// Deletes a namespace.
    Delete {
        /// The namespace.
        namespace: String,
    },
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn base(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--base-url {url}: only http:// URLs are supported"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    authority
        .to_socket_addrs()
        .map_err(|e| format!("--base-url {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("--base-url {url}: no address"))
}

fn read_file(file: &str) -> Result<String, String> {
    if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| e.to_string())?;
        return Ok(s);
    }
    std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))
}

/// The dtab in a file, without `#` comment lines, checked before it is sent; and the
/// version its `# version` line names.
fn dtab_text(text: &str) -> Result<(String, Option<String>), String> {
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("# version "))
        .map(|v| v.trim().to_string());
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    Dtab::read(&body).map_err(|e| format!("not a valid dtab: {e}"))?;
    Ok((body, version))
}

fn fail(what: &str, rsp: &Response) -> String {
    let why = match rsp.status {
        404 => "no such namespace".to_string(),
        409 => "the namespace exists already".to_string(),
        412 => "the dtab changed since the version this edit was made from; get it again and reapply the edit".to_string(),
        _ => format!("namerd answered {}: {}", rsp.status, rsp.text().trim()),
    };
    format!("{what}: {why}")
}

async fn run(cli: Cli) -> Result<String, String> {
    let addr = base(&cli.base_url)?;
    let Command::Dtab { command } = cli.command;
    let dtab_url = |ns: &str| format!("/api/1/dtabs/{}", encode(ns));
    let call = |method: Method,
                target: String,
                headers: Vec<(&'static str, String)>,
                body: String| async move {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(addr, method, &target, &h, Bytes::from(body), TIMEOUT).await
    };
    match command {
        DtabCommand::List => {
            let rsp = call(Method::GET, "/api/1/dtabs".into(), vec![], String::new()).await?;
            if rsp.status != 200 {
                return Err(fail("list", &rsp));
            }
            let names: Vec<String> =
                serde_json::from_slice(&rsp.body).map_err(|e| format!("list: {e}"))?;
            Ok(names.join("\n"))
        }
        DtabCommand::Get { namespace } => {
            let accept = vec![("accept", "application/dtab".to_string())];
            let rsp = call(Method::GET, dtab_url(&namespace), accept, String::new()).await?;
            if rsp.status != 200 {
                return Err(fail(&namespace, &rsp));
            }
            let dtab = Dtab::read(rsp.text().trim()).map_err(|e| e.to_string())?;
            let mut out = format!("# version {}\n", rsp.header("etag").unwrap_or(""));
            for d in dtab.dentries() {
                out.push_str(&format!("{} => {};\n", d.prefix, d.dst));
            }
            Ok(out.trim_end().to_string())
        }
        DtabCommand::Create { namespace, file } => {
            let (body, _) = dtab_text(&read_file(&file)?)?;
            let ct = vec![("content-type", "application/dtab".to_string())];
            let rsp = call(Method::POST, dtab_url(&namespace), ct, body).await?;
            if rsp.status != 204 {
                return Err(fail(&namespace, &rsp));
            }
            Ok(format!("Created {namespace}"))
        }
        DtabCommand::Update {
            namespace,
            file,
            version,
        } => {
            let (body, in_file) = dtab_text(&read_file(&file)?)?;
            let version = match version.or(in_file) {
                Some(v) => v,
                None => {
                    let rsp =
                        call(Method::HEAD, dtab_url(&namespace), vec![], String::new()).await?;
                    if rsp.status != 200 {
                        return Err(fail(&namespace, &rsp));
                    }
                    rsp.header("etag").unwrap_or("").to_string()
                }
            };
            let headers = vec![
                ("content-type", "application/dtab".to_string()),
                ("if-match", version),
            ];
            let rsp = call(Method::PUT, dtab_url(&namespace), headers, body).await?;
            if rsp.status != 204 {
                return Err(fail(&namespace, &rsp));
            }
            Ok(format!("Updated {namespace}"))
        }
        DtabCommand::Delete { namespace } => {
            let rsp = call(Method::DELETE, dtab_url(&namespace), vec![], String::new()).await?;
            if rsp.status != 204 {
                return Err(fail(&namespace, &rsp));
            }
            Ok(format!("Deleted {namespace}"))
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
