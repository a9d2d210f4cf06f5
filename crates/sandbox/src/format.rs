//! Infallible text forms for money and dates, written out by hand so the generator has no
//! error paths and the output never depends on a formatting library's defaults.

use time::{Date, OffsetDateTime, UtcOffset};

/// Pence as an OB amount string: `1234` -> `"12.34"`. Uses the absolute value; the sign
/// travels separately as a `CreditDebitIndicator`.
pub(crate) fn amount(pence: i64) -> String {
    let p = pence.unsigned_abs();
    format!("{}.{:02}", p / 100, p % 100)
}

/// `YYYY-MM-DD`.
pub(crate) fn date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// RFC 3339 / ISO 8601 with an explicit `+00:00` offset, as in the OB examples, whole seconds.
pub(crate) fn date_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}+00:00",
        date(t.date()),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn amounts_have_two_decimals() {
        assert_eq!(amount(0), "0.00");
        assert_eq!(amount(5), "0.05");
        assert_eq!(amount(1234), "12.34");
        assert_eq!(amount(-100_000), "1000.00");
    }

    #[test]
    fn date_times_are_rfc3339_utc() {
        assert_eq!(
            date_time(datetime!(2025-03-04 05:06:07.89 +01:00)),
            "2025-03-04T04:06:07+00:00"
        );
        assert_eq!(date(datetime!(2025-12-31 0:00 UTC).date()), "2025-12-31");
    }
}
