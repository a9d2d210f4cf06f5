//! Daily and monthly quotas from a partner's contract, counted per calendar day and month in
//! UTC so a partner's statement and ours agree on what "a day" is.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_month: Option<u64>,
}

impl Quota {
    pub fn validate(&self) -> Result<(), String> {
        if self.per_day == Some(0) || self.per_month == Some(0) {
            return Err("quotas must be at least 1; to stop traffic, suspend the partner".into());
        }
        Ok(())
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_day.is_none() && self.per_month.is_none()
    }
}

/// Which calendar period a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodUsage {
    pub period: Period,
    pub limit: u64,
    pub used: u64,
    /// Seconds until the period rolls over.
    pub reset_seconds: u64,
    /// Length of the whole period in seconds (a month's varies).
    pub window_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaDecision {
    /// Counted; the usage after this request for each limited period.
    Allowed(Vec<PeriodUsage>),
    /// Not counted: the period whose quota is spent.
    Exhausted(PeriodUsage),
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    day: i64,
    day_used: u64,
    month: i64,
    month_used: u64,
}

/// Request counts per key for the current day and month.
pub struct QuotaCounter<K> {
    counts: Mutex<HashMap<K, Counts>>,
}

impl<K: Hash + Eq + Clone> Default for QuotaCounter<K> {
    fn default() -> Self {
        Self {
            counts: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone> QuotaCounter<K> {
    /// Counts one request against `quota` unless a period's quota is already spent. The
    /// key is borrowed and copied only the first time it is seen.
    pub fn take<Q>(&self, key: &Q, quota: &Quota, now: i64) -> QuotaDecision
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let calendar = Calendar::at(now);
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) {
            map.insert(key.to_owned(), Counts::default());
        }
        // Inserted just above; the lookup cannot miss.
        let Some(counts) = map.get_mut(key) else {
            return QuotaDecision::Allowed(Vec::new());
        };
        if counts.day != calendar.day {
            counts.day = calendar.day;
            counts.day_used = 0;
        }
        if counts.month != calendar.month {
            counts.month = calendar.month;
            counts.month_used = 0;
        }
        let periods = [
            (
                Period::Day,
                quota.per_day,
                counts.day_used,
                calendar.day_reset,
                86_400,
            ),
            (
                Period::Month,
                quota.per_month,
                counts.month_used,
                calendar.month_reset,
                calendar.month_length,
            ),
        ];
        let mut usage = Vec::new();
        for (period, limit, used, reset_seconds, window_seconds) in periods {
            let Some(limit) = limit else { continue };
            if used >= limit {
                return QuotaDecision::Exhausted(PeriodUsage {
                    period,
                    limit,
                    used,
                    reset_seconds,
                    window_seconds,
                });
            }
            usage.push(PeriodUsage {
                period,
                limit,
                used: used + 1,
                reset_seconds,
                window_seconds,
            });
        }
        counts.day_used += 1;
        counts.month_used += 1;
        QuotaDecision::Allowed(usage)
    }

    /// Requests counted for `key` in the current day and month.
    pub fn used(&self, key: &K, now: i64) -> (u64, u64) {
        let calendar = Calendar::at(now);
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).map_or((0, 0), |c| {
            (
                if c.day == calendar.day { c.day_used } else { 0 },
                if c.month == calendar.month {
                    c.month_used
                } else {
                    0
                },
            )
        })
    }
}

/// The UTC day and month containing an instant, and the seconds until each ends.
struct Calendar {
    day: i64,
    month: i64,
    day_reset: u64,
    month_reset: u64,
    month_length: u64,
}

impl Calendar {
    fn at(now: i64) -> Self {
        let day = now.div_euclid(86_400);
        let day_reset = ((day + 1) * 86_400 - now) as u64;
        let date = OffsetDateTime::from_unix_timestamp(now)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .date();
        let (year, month) = (date.year(), date.month());
        let month_start = time::Date::from_calendar_date(year, month, 1)
            .map(|d| d.midnight().assume_utc().unix_timestamp())
            .unwrap_or(now);
        let next_month_start = match time::Date::from_calendar_date(
            if month == time::Month::December {
                year + 1
            } else {
                year
            },
            month.next(),
            1,
        ) {
            Ok(d) => d.midnight().assume_utc().unix_timestamp(),
            Err(_) => now + 31 * 86_400,
        };
        Self {
            day,
            month: i64::from(year) * 12 + i64::from(month as u8),
            day_reset,
            month_reset: (next_month_start - now).max(0) as u64,
            month_length: (next_month_start - month_start).max(0) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-30T23:59:50Z
    const END_OF_NOVEMBER: i64 = 1_796_083_190;

    #[test]
    fn a_daily_quota_is_spent_and_rolls_over_at_utc_midnight() {
        let counter = QuotaCounter::default();
        let quota = Quota {
            per_day: Some(3),
            per_month: None,
        };
        for used in 1..=3 {
            match counter.take(&"p", &quota, END_OF_NOVEMBER) {
                QuotaDecision::Allowed(usage) => {
                    assert_eq!(usage[0].used, used);
                    assert_eq!(usage[0].reset_seconds, 10);
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            counter.take(&"p", &quota, END_OF_NOVEMBER + 9),
            QuotaDecision::Exhausted(PeriodUsage {
                period: Period::Day,
                used: 3,
                reset_seconds: 1,
                ..
            })
        ));
        // A refused request is not counted; the next day starts at zero.
        assert_eq!(counter.used(&"p", END_OF_NOVEMBER), (3, 3));
        assert!(matches!(
            counter.take(&"p", &quota, END_OF_NOVEMBER + 10),
            QuotaDecision::Allowed(_)
        ));
        assert_eq!(counter.used(&"p", END_OF_NOVEMBER + 10), (1, 1));
    }

    #[test]
    fn a_monthly_quota_spans_days_and_rolls_over_with_the_month() {
        let counter = QuotaCounter::default();
        let quota = Quota {
            per_day: Some(100),
            per_month: Some(2),
        };
        let early = END_OF_NOVEMBER - 20 * 86_400;
        assert!(matches!(
            counter.take(&1, &quota, early),
            QuotaDecision::Allowed(_)
        ));
        assert!(matches!(
            counter.take(&1, &quota, early + 86_400),
            QuotaDecision::Allowed(_)
        ));
        match counter.take(&1, &quota, END_OF_NOVEMBER) {
            QuotaDecision::Exhausted(u) => {
                assert_eq!(u.period, Period::Month);
                assert_eq!(u.reset_seconds, 10);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            counter.take(&1, &quota, END_OF_NOVEMBER + 10),
            QuotaDecision::Allowed(_)
        ));
    }

    #[test]
    fn december_rolls_into_january() {
        // 2026-12-31T23:00:00Z
        let c = Calendar::at(1_798_758_000);
        assert_eq!(c.month_reset, 3600);
        assert_eq!(c.day_reset, 3600);
        assert_eq!(c.month_length, 31 * 86_400);
        assert_eq!(Calendar::at(END_OF_NOVEMBER).month_length, 30 * 86_400);
    }
}
