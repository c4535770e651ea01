//! The namerd binary's wiring.

#![warn(missing_docs)]
