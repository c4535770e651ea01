//! The load-balancer trait.
