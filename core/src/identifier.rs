//! The identifier trait: how a protocol names a request (Linkerd 1's `identifier`).
//!
//! Each protocol crate implements it for its request type (`io.l5d.header.token` for HTTP,
//! the method name for Thrift, the Tdispatch dst for Mux). The router then binds the
//! identified path under the identified dtab.

use crate::naming::{Dtab, Path};

/// Where a request goes: its logical name and the dtabs to bind it with (linkerd's
/// `Dst.Path`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dst {
    /// The logical name, `dstPrefix` followed by what the identifier read (`/svc/users`).
    pub path: Path,
    /// The router's dtab.
    pub base_dtab: Dtab,
    /// The request's own dtab (`l5d-ctx-dtab` then `l5d-dtab`, a Mux dispatch's dtab), which
    /// takes precedence over the base.
    pub local_dtab: Dtab,
}

impl Dst {
    /// A destination with no per-request dtab.
    pub fn new(path: Path, base_dtab: Dtab) -> Dst {
        Dst {
            path,
            base_dtab,
            local_dtab: Dtab::empty(),
        }
    }

    /// The dtab to bind with: the base, then the request's entries, which win.
    pub fn dtab(&self) -> Dtab {
        self.base_dtab.concat(&self.local_dtab)
    }
}

/// Why a request could not be named; protocols answer it as a client error (HTTP 400
/// with `l5d-err`, a Thrift application exception, a Mux Rdispatch error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unidentified(pub String);

/// Names requests of type `Req`.
///
/// Identification is synchronous because it runs on every request: an identifier whose
/// answer depends on remote state (Kubernetes ingresses, say) reads a watched snapshot of
/// it rather than waiting. It takes the request mutably because some identifiers rewrite it
/// (`io.l5d.path` with `consume: true` strips the segments it used).
pub trait Identifier<Req>: Send + Sync {
    /// The request's destination, or why it has none.
    fn identify(&self, req: &mut Req) -> Result<Dst, Unidentified>;
}

/// Tries identifiers in order and takes the first that names the request, as Linkerd 1
/// does with a list of identifiers.
pub struct FirstOf<Req>(pub Vec<Box<dyn Identifier<Req>>>);

impl<Req> Identifier<Req> for FirstOf<Req> {
    fn identify(&self, req: &mut Req) -> Result<Dst, Unidentified> {
        let mut reasons = Vec::new();
        for id in &self.0 {
            match id.identify(req) {
                Ok(dst) => return Ok(dst),
                Err(Unidentified(why)) => reasons.push(why),
            }
        }
        Err(Unidentified(if reasons.is_empty() {
            "no identifier configured".into()
        } else {
            reasons.join("; ")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Header(&'static str);

    impl Identifier<Vec<(&'static str, &'static str)>> for Header {
        fn identify(
            &self,
            req: &mut Vec<(&'static str, &'static str)>,
        ) -> Result<Dst, Unidentified> {
            let value = req.iter().find(|(k, _)| *k == self.0).map(|(_, v)| *v);
            let value = value.ok_or_else(|| Unidentified(format!("no {} header", self.0)))?;
            Ok(Dst::new(
                Path::from_elems(["svc", value]),
                Dtab::read("/svc=>/x").unwrap(),
            ))
        }
    }

    #[test]
    fn first_identifier_that_names_the_request_wins() {
        let ids = FirstOf(vec![Box::new(Header("a")), Box::new(Header("b"))]);
        let dst = ids.identify(&mut vec![("b", "users")]).unwrap();
        assert_eq!(dst.path.show(), "/svc/users");
        let err = ids.identify(&mut vec![]).unwrap_err();
        assert_eq!(err.0, "no a header; no b header");
    }

    #[test]
    fn local_dtab_entries_win_over_the_base() {
        let mut dst = Dst::new(
            Path::read("/svc/a").unwrap(),
            Dtab::read("/svc=>/b").unwrap(),
        );
        dst.local_dtab = Dtab::read("/svc=>/c").unwrap();
        assert_eq!(dst.dtab().show(), "/svc=>/b;/svc=>/c");
        assert_eq!(dst.dtab().lookup(&dst.path).to_string(), "/c/a | /b/a");
    }
}
