//! The linkerd binary.

fn main() {}
