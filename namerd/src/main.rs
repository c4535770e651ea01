//! The namerd binary.

fn main() {}
