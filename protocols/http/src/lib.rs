//! The HTTP/1.1 router's protocol pieces: its config schema (`config`), Linkerd 1's
//! identifiers and per-request dtab headers (`identify`), the header rules applied to every
//! forwarded message (`headers`) and linkerd's own error responses (`error`). The server,
//! client and router glue that use them arrive with the HTTP router issue.

#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod headers;
pub mod identify;
