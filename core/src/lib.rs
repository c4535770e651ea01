//! The protocol-independent core of linkerd and namerd.
//!
//! It holds Finagle's naming model with Finagle's exact semantics ([`naming`]: `Path`,
//! `Dentry`, `Dtab`, `NameTree`, their parser and printer), name binding through dtabs,
//! configured namers and the system namers under `/$/` ([`binding`]), the delegation
//! explanation served by `/delegator.json` ([`delegate`]), runtime addresses ([`addr`]) and
//! the watchable values that carry live updates ([`var`]), the traits protocol crates
//! implement ([`identifier`], [`balance`]) and Linkerd 1's configuration system with its
//! plugin registry ([`config`]).
//!
//! It knows no protocol and no service-discovery backend: those live in `protocols/*` and
//! `namers`, and register themselves with the config registry.

#![warn(missing_docs)]

pub mod accrual;
pub mod addr;
pub mod admin;
pub mod balance;
pub mod binding;
pub mod clock;
pub mod config;
pub mod delegate;
pub mod http_client;
pub mod identifier;
pub mod metrics;
pub mod naming;
pub mod recursion;
pub mod retry;
pub mod router;
pub mod shutdown;
pub mod sync;
pub mod var;
