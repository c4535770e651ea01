//! The identifier trait.
