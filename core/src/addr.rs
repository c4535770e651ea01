//! Runtime addresses of bound names.
