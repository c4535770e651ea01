//! Keys and kinds that Linkerd 1 renamed or removed, with what to write instead.
//!
//! A config written for an older Linkerd should fail with a message that says what
//! changed, not with a bare "unknown field". Renames that Linkerd 1 itself still accepted
//! (`baseDtab`) are accepted with a warning.

/// What became of a key that is no longer in the schema.
pub(crate) enum Renamed {
    /// Still accepted under its old name, as `to`; the message says so.
    Moved {
        to: &'static str,
        message: &'static str,
    },
    /// Refused; the message names the replacement.
    Removed(&'static str),
}

/// The fate of `key` in a mapping of `family` (`router`, `server`, ...), if it had one.
pub(crate) fn key(family: &str, key: &str) -> Option<Renamed> {
    use Renamed::*;
    Some(match (family, key) {
        ("router", "baseDtab") => Moved {
            to: "dtab",
            message: "'baseDtab' is deprecated since Linkerd 0.9.0: write 'dtab'",
        },
        ("router", "timeoutMs") => Removed(
            "'timeoutMs' was removed from routers in Linkerd 1.0.0: use \
             client.requestAttemptTimeoutMs (per attempt) or service.totalTimeoutMs \
             (the whole request, retries included)",
        ),
        ("router", "tracers") => Removed(
            "router 'tracers' were removed in Linkerd 0.9.0: configure tracing with a \
             top-level 'telemetry' entry (for instance kind io.l5d.zipkin)",
        ),
        ("router", "maxRequestKB") => Removed(
            "'maxRequestKB' was removed in Linkerd 1.7.0 (requests are streamed): use \
             streamAfterContentLengthKB to set the size above which a message is streamed",
        ),
        ("router", "maxResponseKB") => Removed(
            "'maxResponseKB' was removed in Linkerd 1.7.0 (responses are streamed): use \
             streamAfterContentLengthKB to set the size above which a message is streamed",
        ),
        ("router", "responseClassifier") => Removed(
            "'responseClassifier' belongs under 'service' since Linkerd 1.0.0: write \
             service.responseClassifier",
        ),
        ("router", "retries") => {
            Removed("'retries' belongs under 'service' since Linkerd 1.0.0: write service.retries")
        }
        ("router", "loadBalancer") => Removed(
            "'loadBalancer' belongs under 'client' since Linkerd 1.0.0: write \
             client.loadBalancer",
        ),
        ("router", "failureAccrual") => Removed(
            "'failureAccrual' belongs under 'client' since Linkerd 1.0.0: write \
             client.failureAccrual",
        ),
        ("router", "hostConnectionPool") => Removed(
            "'hostConnectionPool' belongs under 'client' since Linkerd 1.0.0: write \
             client.hostConnectionPool",
        ),
        _ => return None,
    })
}

/// Why `kind` is no longer a kind of `family`, if it once was.
pub(crate) fn kind(family: &str, kind: &str) -> Option<&'static str> {
    Some(match (family, kind) {
        ("identifier", "io.l5d.headerToken") => {
            "identifier kind 'io.l5d.headerToken' was renamed to 'io.l5d.header.token'"
        }
        ("identifier", "io.l5d.headerPath") => {
            "identifier kind 'io.l5d.headerPath' was renamed to 'io.l5d.header.path'"
        }
        ("identifier", "io.l5d.http.ingress") => {
            "identifier kind 'io.l5d.http.ingress' was renamed to 'io.l5d.ingress'"
        }
        ("identifier", "io.l5d.h2.ingress") => {
            "identifier kind 'io.l5d.h2.ingress' was renamed to 'io.l5d.ingress'"
        }
        ("response classifier", "io.l5d.nonRetryable5XX") => {
            "response classifier kind 'io.l5d.nonRetryable5XX' was renamed to \
             'io.l5d.http.nonRetryable5XX' (on h2 routers: 'io.l5d.h2.nonRetryable5XX')"
        }
        ("response classifier", "io.l5d.retryableRead5XX") => {
            "response classifier kind 'io.l5d.retryableRead5XX' was renamed to \
             'io.l5d.http.retryableRead5XX' (on h2 routers: 'io.l5d.h2.retryableRead5XX')"
        }
        ("response classifier", "io.l5d.retryableIdempotent5XX") => {
            "response classifier kind 'io.l5d.retryableIdempotent5XX' was renamed to \
             'io.l5d.http.retryableIdempotent5XX' (on h2 routers: \
             'io.l5d.h2.retryableIdempotent5XX')"
        }
        ("response classifier", "io.l5d.retryableAll5XX") => {
            "response classifier kind 'io.l5d.retryableAll5XX' was renamed to \
             'io.l5d.http.retryableAll5XX' (on h2 routers: 'io.l5d.h2.retryableAll5XX')"
        }
        ("response classifier", "io.l5d.allSuccessful") => {
            "response classifier kind 'io.l5d.allSuccessful' was renamed to \
             'io.l5d.http.allSuccessful' (on h2 routers: 'io.l5d.h2.allSuccessful')"
        }
        ("telemeter", "io.l5d.commonMetrics") => {
            "telemeter kind 'io.l5d.commonMetrics' was removed in Linkerd 0.9.0: metrics are \
             always served at /admin/metrics.json (use io.l5d.prometheus for Prometheus)"
        }
        _ => return None,
    })
}
