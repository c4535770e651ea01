//! HTTP and H2 response classifier kinds: which responses are failures, and which
//! failures may be retried (`service.responseClassifier`).

use l5d_core::config::{ClassifierConfig, NoKeys, Protocol, RegistryError, Variant};
use serde::Deserialize;

/// An HTTP or H2 response classifier without keys: which responses are failures, and
/// which failures may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClassifier {
    /// 5XX are failures, none retryable.
    NonRetryable5XX,
    /// 5XX are failures, retryable for GET, HEAD, OPTIONS and TRACE.
    RetryableRead5XX,
    /// Also for PUT and DELETE.
    RetryableIdempotent5XX,
    /// For every method.
    RetryableAll5XX,
    /// Every response is a success.
    AllSuccessful,
}
impl ClassifierConfig for StatusClassifier {}

/// Turns a classifier's keys into the boxed config.
type IntoClassifier<T> = fn(T) -> Result<Box<dyn ClassifierConfig>, String>;

pub(super) fn status_classifiers(p: &mut Protocol, prefix: &str) -> Result<(), RegistryError> {
    use StatusClassifier::*;
    let kinds: [(&str, IntoClassifier<NoKeys>); 5] = [
        ("nonRetryable5XX", |_| Ok(Box::new(NonRetryable5XX))),
        ("retryableRead5XX", |_| Ok(Box::new(RetryableRead5XX))),
        ("retryableIdempotent5XX", |_| {
            Ok(Box::new(RetryableIdempotent5XX))
        }),
        ("retryableAll5XX", |_| Ok(Box::new(RetryableAll5XX))),
        ("allSuccessful", |_| Ok(Box::new(AllSuccessful))),
    ];
    for (name, into) in kinds {
        p.add_classifier_variant(&format!("{prefix}.{name}"), Variant::new(false, into))?;
    }
    Ok(())
}

fn zero_codes() -> Vec<u32> {
    vec![0]
}

/// A gRPC classifier's keys: which `grpc-status` codes are successes.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcCodes {
    /// Codes that are successes (default `[0]`).
    #[serde(default = "zero_codes")]
    pub success_status_codes: Vec<u32>,
}

/// `io.l5d.h2.grpc.retryableStatusCodes` keys.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcRetryableCodes {
    /// Codes that may be retried.
    pub retryable_status_codes: Vec<u32>,
    /// Codes that are successes (default `[0]`).
    #[serde(default = "zero_codes")]
    pub success_status_codes: Vec<u32>,
}

/// An H2 gRPC response classifier (by the `grpc-status` trailer).
#[derive(Debug, Clone, PartialEq)]
pub enum GrpcClassifier {
    /// `io.l5d.h2.grpc.default`: only UNAVAILABLE (14) is retryable.
    Default(GrpcCodes),
    /// `io.l5d.h2.grpc.compliant`: 14, REFUSED_STREAM, HTTP 429/502/503/504.
    Compliant(GrpcCodes),
    /// `io.l5d.h2.grpc.alwaysRetryable`.
    AlwaysRetryable(GrpcCodes),
    /// `io.l5d.h2.grpc.neverRetryable`.
    NeverRetryable(GrpcCodes),
    /// `io.l5d.h2.grpc.retryableStatusCodes`.
    RetryableStatusCodes(GrpcRetryableCodes),
}
impl ClassifierConfig for GrpcClassifier {}

pub(super) fn grpc_classifiers(p: &mut Protocol) -> Result<(), RegistryError> {
    use GrpcClassifier::*;
    let kinds: [(&str, IntoClassifier<GrpcCodes>); 4] = [
        ("default", |c| Ok(Box::new(Default(c)))),
        ("compliant", |c| Ok(Box::new(Compliant(c)))),
        ("alwaysRetryable", |c| Ok(Box::new(AlwaysRetryable(c)))),
        ("neverRetryable", |c| Ok(Box::new(NeverRetryable(c)))),
    ];
    for (name, into) in kinds {
        p.add_classifier_variant(&format!("io.l5d.h2.grpc.{name}"), Variant::new(false, into))?;
    }
    p.add_classifier_variant(
        "io.l5d.h2.grpc.retryableStatusCodes",
        Variant::new::<GrpcRetryableCodes>(false, |c| Ok(Box::new(RetryableStatusCodes(c)))),
    )
}
