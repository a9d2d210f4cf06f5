//! Step 5 of the pipeline: rate limits per credential and per partner, then the partner's
//! contract quotas. Keys are the authenticated client and partner, never anything the
//! client wrote in a header.
//!
//! Answers carry the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the
//! policies in `RateLimit-Policy` (`q` quota units per `w` seconds: the sustained rate for
//! a rate limit, the contract's number for a quota) and their state in `RateLimit` (`r`
//! requests that may be made now, burst included; `t` seconds until the quota is whole
//! again). When a request is refused, `Retry-After` says when the next one may be made.

use std::fmt::Write as _;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use portcullis_core::problem::Problem;
use portcullis_core::GrantPolicy;
use portcullis_policy::{
    PeriodUsage, QuotaCounter, QuotaDecision, RateDecision, RateLimit, RateLimiter,
};

pub struct Traffic {
    per_credential: RateLimiter<String>,
    per_partner: RateLimiter<String>,
    /// The lower limit an automated response put on a partner.
    containment: RateLimiter<String>,
    quotas: QuotaCounter<String>,
}

/// The RateLimit fields for one answer, each a comma-separated list written in place (no
/// string per item: this runs on every request).
#[derive(Debug, Default, Clone)]
pub struct RateHeaders {
    policy: String,
    state: String,
}

/// Starts the next item of a list field.
fn next_item(list: &mut String) -> &mut String {
    if list.is_empty() {
        // Room for a rate limit, a partner limit and a quota or two: grown once.
        list.reserve(96);
    } else {
        list.push_str(", ");
    }
    list
}

impl RateHeaders {
    fn limit(&mut self, name: &str, limit: RateLimit, remaining: u32, reset: u64) {
        let _ = write!(
            next_item(&mut self.policy),
            "\"{name}\";q={};w=1",
            limit.per_second
        );
        let _ = write!(
            next_item(&mut self.state),
            "\"{name}\";r={remaining};t={reset}"
        );
    }

    fn quota(&mut self, usage: &PeriodUsage) {
        let name = usage.period.as_str();
        let _ = write!(
            next_item(&mut self.policy),
            "\"{name}\";q={};w={}",
            usage.limit,
            usage.window_seconds
        );
        let _ = write!(
            next_item(&mut self.state),
            "\"{name}\";r={};t={}",
            usage.limit.saturating_sub(usage.used),
            usage.reset_seconds
        );
    }

    /// Sets the fields on an answer; their values take the lists' bytes without a copy.
    pub fn apply(self, headers: &mut HeaderMap) {
        for (name, list) in [(RATELIMIT_POLICY, self.policy), (RATELIMIT, self.state)] {
            if list.is_empty() {
                continue;
            }
            if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(list)) {
                headers.insert(name, v);
            }
        }
    }
}

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A refusal: the answer, why (for the audit entry) and the fields to send with it.
pub struct Refusal {
    pub problem: Box<Problem>,
    pub reason: &'static str,
    pub headers: RateHeaders,
}

impl Default for Traffic {
    fn default() -> Self {
        Self {
            per_credential: RateLimiter::new(100_000),
            per_partner: RateLimiter::new(100_000),
            containment: RateLimiter::new(10_000),
            quotas: QuotaCounter::default(),
        }
    }
}

impl Traffic {
    pub fn admit(
        &self,
        client_id: &str,
        partner_id: &str,
        policy: &GrantPolicy,
        default_limit: RateLimit,
        containment: Option<RateLimit>,
        now_us: i64,
    ) -> Result<RateHeaders, Refusal> {
        // Sized for a credential's and a partner's limit and two quotas: no regrowth.
        let mut headers = RateHeaders {
            policy: String::with_capacity(160),
            state: String::with_capacity(160),
        };
        let credential_limit = policy.rate_limit.unwrap_or(default_limit);
        let checks = [
            Some((
                "credential",
                &self.per_credential,
                client_id,
                credential_limit,
            )),
            policy
                .partner_rate_limit
                .map(|l| ("partner", &self.per_partner, partner_id, l)),
            containment.map(|l| ("containment", &self.containment, partner_id, l)),
        ];
        for (name, limiter, key, limit) in checks.into_iter().flatten() {
            match limiter.check(key, limit, now_us) {
                RateDecision::Allowed {
                    remaining,
                    reset_seconds,
                } => headers.limit(name, limit, remaining, reset_seconds),
                RateDecision::Limited {
                    retry_after_seconds,
                    reset_seconds,
                } => {
                    headers.limit(name, limit, 0, reset_seconds);
                    return Err(Refusal {
                        problem: too_many(
                            format!("the {name} rate limit of {} requests per second (burst {}) is exceeded; retry after {retry_after_seconds} s", limit.per_second, limit.burst),
                            retry_after_seconds,
                        ),
                        reason: match name {
                            "credential" => "rate_limited_credential",
                            "partner" => "rate_limited_partner",
                            _ => "rate_limited_containment",
                        },
                        headers,
                    });
                }
            }
        }
        if !policy.quota.is_unlimited() {
            match self
                .quotas
                .take(partner_id, &policy.quota, now_us.div_euclid(1_000_000))
            {
                QuotaDecision::Allowed(usage) => usage.iter().for_each(|u| headers.quota(u)),
                QuotaDecision::Exhausted(usage) => {
                    headers.quota(&usage);
                    return Err(Refusal {
                        problem: too_many(
                            format!(
                                "the contract's {} quota of {} requests is used up; it renews in {} s",
                                usage.period.as_str(),
                                usage.limit,
                                usage.reset_seconds
                            ),
                            usage.reset_seconds,
                        ),
                        reason: "quota_exhausted",
                        headers,
                    });
                }
            }
        }
        Ok(headers)
    }
}

fn too_many(detail: String, retry_after_seconds: u64) -> Box<Problem> {
    let mut p = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too Many Requests",
        detail,
    );
    p.retry_after_seconds = Some(u32::try_from(retry_after_seconds).unwrap_or(u32::MAX));
    Box::new(p)
}
