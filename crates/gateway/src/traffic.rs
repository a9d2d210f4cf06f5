//! Step 5 of the pipeline: rate limits per credential and per partner, then the partner's
//! contract quotas. Keys are the authenticated client and partner, never anything the
//! client wrote in a header.
//!
//! Answers carry the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the
//! policies in `RateLimit-Policy` (`q` quota units per `w` seconds: the sustained rate for
//! a rate limit, the contract's number for a quota) and their state in `RateLimit` (`r`
//! requests that may be made now, burst included; `t` seconds until the quota is whole
//! again). When a request is refused, `Retry-After` says when the next one may be made.

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

/// Appends an item to a list field: `"name";k1=v1;k2=v2`. Numbers are written with
/// `itoa`: through `write!` the formatting machinery cost more than the rest of this
/// module on a request (seen in profiles).
fn item(list: &mut String, name: &str, parameters: [(&str, u64); 2]) {
    if list.is_empty() {
        // Room for a rate limit, a partner limit and a quota or two: grown once.
        list.reserve(96);
    } else {
        list.push_str(", ");
    }
    list.push('"');
    list.push_str(name);
    list.push('"');
    let mut number = itoa::Buffer::new();
    for (key, value) in parameters {
        list.push(';');
        list.push_str(key);
        list.push('=');
        list.push_str(number.format(value));
    }
}

impl RateHeaders {
    fn limit(&mut self, name: &str, limit: RateLimit, remaining: u32, reset: u64) {
        item(
            &mut self.policy,
            name,
            [("q", limit.per_second.into()), ("w", 1)],
        );
        item(
            &mut self.state,
            name,
            [("r", remaining.into()), ("t", reset)],
        );
    }

    fn quota(&mut self, usage: &PeriodUsage) {
        let name = usage.period.as_str();
        item(
            &mut self.policy,
            name,
            [("q", usage.limit), ("w", usage.window_seconds)],
        );
        item(
            &mut self.state,
            name,
            [
                ("r", usage.limit.saturating_sub(usage.used)),
                ("t", usage.reset_seconds),
            ],
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

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_policy::Period;

    #[test]
    fn fields_list_each_limit_and_quota_in_the_draft_syntax() {
        let mut headers = RateHeaders::default();
        let limit = RateLimit {
            per_second: 20,
            burst: 40,
        };
        headers.limit("credential", limit, 39, 0);
        headers.limit("partner", limit, u32::MAX, u64::MAX);
        headers.quota(&PeriodUsage {
            period: Period::Month,
            limit: 2_000_000,
            used: 2_000_001,
            reset_seconds: 86_399,
            window_seconds: 2_678_400,
        });
        assert_eq!(
            headers.policy,
            r#""credential";q=20;w=1, "partner";q=20;w=1, "month";q=2000000;w=2678400"#
        );
        assert_eq!(
            headers.state,
            r#""credential";r=39;t=0, "partner";r=4294967295;t=18446744073709551615, "month";r=0;t=86399"#
        );
        let mut answer = HeaderMap::new();
        headers.apply(&mut answer);
        assert_eq!(answer[RATELIMIT].to_str().unwrap().matches(", ").count(), 2);
    }
}
