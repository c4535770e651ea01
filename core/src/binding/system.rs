//! The system namers under `/$/`: Finagle's global namer (`inet`, `fixedinet`, `fail`,
//! `nil`) and the path rewriters Linkerd 1 ships as `/$/io.buoyant.*` classes.
//!
//! Finagle loads `/$/<class>` by reflection; here the classes users name in dtabs are a
//! fixed table, and any other kind is the same error Linkerd 1 reports for a missing
//! class. Matching is on the UTF-8 decoding of the elements, as Finagle's `Path.Utf8`.

use crate::naming::{NameTree, Path};
use crate::var::{Error, State};

use super::inet::resolve_inet;
use super::{Bound, Name};

/// Finagle's `Namer.global` plus Linkerd 1's `io.buoyant` system namers.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemNamer;

/// `Integer.parseInt`: an optional sign, then decimal digits of any script, within i32.
fn java_parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.chars() {
        let d = crate::naming::java_digit_value(c)?;
        v = v.checked_mul(10)?.checked_add(i64::from(d))?;
        if v > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    i32::try_from(v).ok().map(i64::from)
}

fn leaf_path(elems: Vec<String>) -> State<NameTree<Name>> {
    match Path::try_from_elems(&elems) {
        Some(p) => State::Ok(NameTree::Leaf(Name::Path(p))),
        None => State::Ok(NameTree::Neg),
    }
}

fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b))
}

fn is_port_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn strip_port(host: &str) -> &str {
    host.split(':').next().unwrap_or(host)
}

impl SystemNamer {
    /// Looks up a full path; anything not under `/$/` is `Neg`.
    pub fn lookup(&self, path: &Path) -> State<NameTree<Name>> {
        let elems: Vec<String> = path.strs().map(|s| s.into_owned()).collect();
        let strs: Vec<&str> = elems.iter().map(String::as_str).collect();
        let ["$", kind, rest @ ..] = strs.as_slice() else {
            return State::Ok(NameTree::Neg);
        };
        let owned = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let bound = |consumed: usize, host: &str, port: i64| {
            let residual = Path::from_elems(&elems[consumed..]);
            let id = path.take(consumed);
            State::Ok(NameTree::Leaf(Name::Bound(Bound::new(
                id,
                residual,
                resolve_inet(host, port),
            ))))
        };
        match (*kind, rest) {
            ("inet" | "fixedinet", [host, port, ..]) if java_parse_int(port).is_some() => {
                bound(4, host, java_parse_int(port).expect("checked"))
            }
            ("inet" | "fixedinet", [port, ..]) if java_parse_int(port).is_some() => {
                bound(3, "", java_parse_int(port).expect("checked"))
            }
            ("fail", _) => State::Ok(NameTree::Fail),
            ("nil", _) => State::Ok(NameTree::Empty),
            ("com.twitter.finagle.namer.global", _) => self.lookup(&path.drop(2)),
            ("io.buoyant.rinet", [port, host, ..]) if java_parse_int(port).is_some() => {
                bound(4, host, java_parse_int(port).expect("checked"))
            }
            ("io.buoyant.rinet", _) => State::Ok(NameTree::Neg),
            ("io.buoyant.hostportPfx" | "io.buoyant.porthostPfx", [pfx, hostport, tail @ ..]) => {
                match hostport.rsplit_once(':') {
                    Some((host, port)) if is_host(host) && is_port_name(port) => {
                        let (a, b) = if *kind == "io.buoyant.hostportPfx" {
                            (host, port)
                        } else {
                            (port, host)
                        };
                        leaf_path([owned(&[pfx, a, b]), owned(tail)].concat())
                    }
                    _ => State::Ok(NameTree::Neg),
                }
            }
            ("io.buoyant.http.domainToPathPfx", [pfx, host, tail @ ..]) if is_host(host) => {
                let mut out = vec![pfx.to_string()];
                out.extend(strip_port(host).split('.').rev().map(str::to_string));
                leaf_path([out, owned(tail)].concat())
            }
            ("io.buoyant.http.domainToPath", [host, tail @ ..]) if is_host(host) => {
                let out: Vec<String> = strip_port(host)
                    .split('.')
                    .rev()
                    .map(str::to_string)
                    .collect();
                leaf_path([out, owned(tail)].concat())
            }
            ("io.buoyant.http.subdomainOfPfx", [domain, pfx, host, tail @ ..]) if is_host(host) => {
                match strip_port(host).strip_suffix(&format!(".{domain}")) {
                    Some(sub) if !sub.is_empty() => {
                        leaf_path([owned(&[pfx, sub]), owned(tail)].concat())
                    }
                    _ => State::Ok(NameTree::Neg),
                }
            }
            ("io.buoyant.http.subdomainOf", [domain, host, tail @ ..]) if is_host(host) => {
                match strip_port(host).strip_suffix(&format!(".{domain}")) {
                    Some(sub) if !sub.is_empty() => {
                        leaf_path([owned(&[sub]), owned(tail)].concat())
                    }
                    _ => State::Ok(NameTree::Neg),
                }
            }
            (
                "io.buoyant.http.anyMethodPfx" | "io.buoyant.http.anyHostPfx",
                [pfx, _, tail @ ..],
            ) => leaf_path([owned(&[pfx]), owned(tail)].concat()),
            ("io.buoyant.http.anyMethod" | "io.buoyant.http.anyHost", [_, tail @ ..]) => {
                leaf_path(owned(tail))
            }
            (
                "io.buoyant.hostportPfx"
                | "io.buoyant.porthostPfx"
                | "io.buoyant.http.domainToPathPfx"
                | "io.buoyant.http.domainToPath"
                | "io.buoyant.http.subdomainOfPfx"
                | "io.buoyant.http.subdomainOf"
                | "io.buoyant.http.anyMethodPfx"
                | "io.buoyant.http.anyHostPfx"
                | "io.buoyant.http.anyMethod"
                | "io.buoyant.http.anyHost",
                _,
            ) => State::Ok(NameTree::Neg),
            (kind, _) => State::Failed(Error::new(format!(
                "Unknown namer: {kind} for path: {path}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_follows_the_jvm() {
        assert_eq!(java_parse_int("+80"), Some(80));
        assert_eq!(java_parse_int("-1"), Some(-1));
        assert_eq!(java_parse_int("0080"), Some(80));
        assert_eq!(java_parse_int("\u{663}"), Some(3));
        assert_eq!(java_parse_int("2147483647"), Some(2147483647));
        assert_eq!(java_parse_int("-2147483648"), Some(-2147483648));
        assert_eq!(java_parse_int("2147483648"), None);
        assert_eq!(java_parse_int("+"), None);
        assert_eq!(java_parse_int("8a"), None);
        assert_eq!(java_parse_int(""), None);
    }
}
