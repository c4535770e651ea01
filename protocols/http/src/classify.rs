//! Response classification (`service.responseClassifier`): whether a response is a
//! success, and whether a failed request may be retried, as Linkerd 1's HTTP classifiers
//! decide; and the `l5d-success-class` header that carries the decision between linkerds.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::config::StatusClassifier;
use crate::error::RouteError;

/// The classification a linkerd puts on its responses (`1.0` success, `0.0` failure); a
/// linkerd receiving it from the next hop uses it instead of its own.
pub const L5D_SUCCESS_CLASS: HeaderName = HeaderName::from_static("l5d-success-class");
/// Set on a failure the next hop knows is safe to retry.
pub const L5D_RETRYABLE: HeaderName = HeaderName::from_static("l5d-retryable");

/// What a response means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A success.
    Success,
    /// A failure; `retryable` when sending the request again is safe.
    Failure {
        /// Whether it may be retried.
        retryable: bool,
    },
}

impl Class {
    /// Whether it is a success.
    pub fn is_success(self) -> bool {
        self == Class::Success
    }
}

fn is_read(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_idempotent(m: &Method) -> bool {
    is_read(m) || matches!(*m, Method::PUT | Method::DELETE)
}

/// Classifies a response to a `method` request with `classifier`; a response carrying
/// `l5d-success-class` (from a linkerd further on) is classified by it, and one carrying
/// `l5d-retryable: true` is retryable.
pub fn classify(
    classifier: StatusClassifier,
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
) -> Class {
    let retryable_header = headers
        .get(&L5D_RETRYABLE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let success = match headers
        .get(&L5D_SUCCESS_CLASS)
        .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
    {
        Some(class) => class > 0.0,
        None => !status.is_server_error() || classifier == StatusClassifier::AllSuccessful,
    };
    if success {
        return Class::Success;
    }
    let retryable = retryable_header || may_retry(classifier, method);
    Class::Failure { retryable }
}

/// Whether `classifier` may call a failed `method` request retryable (so its body is
/// worth keeping for another attempt).
pub fn may_retry(classifier: StatusClassifier, method: &Method) -> bool {
    match classifier {
        StatusClassifier::NonRetryable5XX | StatusClassifier::AllSuccessful => false,
        StatusClassifier::RetryableRead5XX => is_read(method),
        StatusClassifier::RetryableIdempotent5XX => is_idempotent(method),
        StatusClassifier::RetryableAll5XX => true,
    }
}

/// Classifies a request linkerd could not get a response for: one that provably never
/// reached a server may always be retried; a failed exchange (a connection closed or
/// reset mid-way) may be retried when the classifier retries 5XX for its method, as
/// Linkerd 1's classifiers treat exceptions; linkerd's own refusals are not retried.
pub fn classify_error(classifier: StatusClassifier, method: &Method, err: &RouteError) -> Class {
    let retryable = match err {
        RouteError::Unsent(_) | RouteError::Refused(_) => true,
        RouteError::Backend(_) => may_retry(classifier, method),
        _ => false,
    };
    Class::Failure { retryable }
}

/// Records the classification on a response for the linkerd (or client) before this one.
pub fn mark(headers: &mut HeaderMap, class: Class) {
    let v = if class.is_success() { "1.0" } else { "0.0" };
    headers.insert(L5D_SUCCESS_CLASS, HeaderValue::from_static(v));
}

#[cfg(test)]
mod tests {
    use super::*;
    use StatusClassifier::*;

    fn c(k: StatusClassifier, m: Method, s: u16) -> Class {
        classify(k, &m, StatusCode::from_u16(s).unwrap(), &HeaderMap::new())
    }

    #[test]
    fn each_classifier_decides_failures_and_retries_like_linkerd_1() {
        let fail = |retryable| Class::Failure { retryable };
        assert_eq!(c(NonRetryable5XX, Method::GET, 200), Class::Success);
        assert_eq!(c(NonRetryable5XX, Method::GET, 404), Class::Success);
        assert_eq!(c(NonRetryable5XX, Method::GET, 503), fail(false));
        assert_eq!(c(RetryableRead5XX, Method::GET, 500), fail(true));
        assert_eq!(c(RetryableRead5XX, Method::PUT, 500), fail(false));
        assert_eq!(c(RetryableIdempotent5XX, Method::PUT, 500), fail(true));
        assert_eq!(c(RetryableIdempotent5XX, Method::DELETE, 502), fail(true));
        assert_eq!(c(RetryableIdempotent5XX, Method::POST, 500), fail(false));
        assert_eq!(c(RetryableAll5XX, Method::POST, 500), fail(true));
        assert_eq!(c(AllSuccessful, Method::GET, 500), Class::Success);
    }

    #[test]
    fn failed_exchanges_follow_the_classifier_and_unsent_requests_always_retry() {
        let backend = RouteError::Backend("reset".into());
        let unsent = RouteError::Unsent("refused".into());
        let fail = |retryable| Class::Failure { retryable };
        assert_eq!(
            classify_error(NonRetryable5XX, &Method::POST, &unsent),
            fail(true)
        );
        assert_eq!(
            classify_error(NonRetryable5XX, &Method::GET, &backend),
            fail(false)
        );
        assert_eq!(
            classify_error(RetryableRead5XX, &Method::GET, &backend),
            fail(true)
        );
        assert_eq!(
            classify_error(RetryableRead5XX, &Method::POST, &backend),
            fail(false)
        );
        let timeout = RouteError::Timeout("t".into());
        assert_eq!(
            classify_error(RetryableAll5XX, &Method::GET, &timeout),
            fail(false)
        );
    }

    #[test]
    fn the_next_linkerds_classification_wins() {
        let mut h = HeaderMap::new();
        h.insert(L5D_SUCCESS_CLASS, HeaderValue::from_static("0.0"));
        let got = classify(NonRetryable5XX, &Method::GET, StatusCode::OK, &h);
        assert_eq!(got, Class::Failure { retryable: false });
        h.insert(L5D_RETRYABLE, HeaderValue::from_static("true"));
        let got = classify(NonRetryable5XX, &Method::POST, StatusCode::OK, &h);
        assert_eq!(got, Class::Failure { retryable: true });
        h.insert(L5D_SUCCESS_CLASS, HeaderValue::from_static("1.0"));
        let got = classify(NonRetryable5XX, &Method::GET, StatusCode::BAD_GATEWAY, &h);
        assert_eq!(got, Class::Success);
        let mut out = HeaderMap::new();
        mark(&mut out, Class::Failure { retryable: true });
        assert_eq!(out[&L5D_SUCCESS_CLASS], "0.0");
    }
}
