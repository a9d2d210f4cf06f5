//! The booking date filter on `GET /accounts/{id}/transactions`.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

use crate::error::{code, ErrorDetail, ObError};

const FROM: &str = "fromBookingDateTime";
const TO: &str = "toBookingDateTime";

/// An inclusive range of booking times; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BookingFilter {
    pub(crate) from: Option<OffsetDateTime>,
    pub(crate) to: Option<OffsetDateTime>,
}

impl BookingFilter {
    /// Reads the filter from a raw query string. Other parameters are ignored; a repeated or
    /// unparseable filter parameter, or `from` after `to`, is a 400 listing every problem.
    pub(crate) fn from_query(query: Option<&str>) -> Result<Self, ObError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| {
                ObError::bad_request(vec![ErrorDetail::new(
                    code::FIELD_INVALID,
                    "The query string is malformed",
                )])
            })?;
        let mut filter = BookingFilter::default();
        let mut errors = Vec::new();
        for (name, value) in &pairs {
            let (slot, end) = match name.as_str() {
                FROM => (&mut filter.from, End::Start),
                TO => (&mut filter.to, End::Finish),
                _ => continue,
            };
            if slot.is_some() {
                errors.push(
                    ErrorDetail::new(
                        code::FIELD_INVALID,
                        format!("{name} is given more than once"),
                    )
                    .at(name.as_str()),
                );
                continue;
            }
            match parse(value, end) {
                Some(t) => *slot = Some(t),
                None => errors.push(
                    ErrorDetail::new(
                        code::FIELD_INVALID_DATE,
                        format!("{name} must be an ISO 8601 date-time such as 2025-01-31T00:00:00 or 2025-01-31T00:00:00+00:00"),
                    )
                    .at(name.as_str()),
                ),
            }
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from > to {
                errors.push(
                    ErrorDetail::new(code::FIELD_INVALID_DATE, format!("{FROM} is after {TO}"))
                        .at(FROM),
                );
            }
        }
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(ObError::bad_request(errors))
        }
    }

    pub(crate) fn contains(&self, t: OffsetDateTime) -> bool {
        self.from.is_none_or(|from| t >= from) && self.to.is_none_or(|to| t <= to)
    }
}

#[derive(Clone, Copy)]
enum End {
    Start,
    Finish,
}

/// Accepts what OB clients send: RFC 3339 with an offset, a date-time without an offset (OB
/// asks for that form in query strings; read as UTC), or a bare date (the start of that day,
/// or its end when it closes the range).
fn parse(value: &str, end: End) -> Option<OffsetDateTime> {
    // An unencoded `+` in an offset arrives as a space; dates never contain spaces.
    let value = value.replace(' ', "+");
    if let Ok(t) = OffsetDateTime::parse(&value, &Rfc3339) {
        return Some(t);
    }
    let naive = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    if let Ok(t) = PrimitiveDateTime::parse(&value, naive) {
        return Some(t.assume_utc());
    }
    let date = Date::parse(&value, format_description!("[year]-[month]-[day]")).ok()?;
    let start = OffsetDateTime::new_utc(date, Time::MIDNIGHT);
    Some(match end {
        End::Start => start,
        End::Finish => start.saturating_add(Duration::days(1) - Duration::NANOSECOND),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ok(query: &str) -> BookingFilter {
        BookingFilter::from_query(Some(query)).unwrap()
    }

    #[test]
    fn accepts_the_ob_forms() {
        assert_eq!(
            ok("fromBookingDateTime=2025-03-01T10:00:00").from,
            Some(datetime!(2025-03-01 10:00 UTC))
        );
        assert_eq!(
            ok("fromBookingDateTime=2025-03-01T10:00:00.250").from,
            Some(datetime!(2025-03-01 10:00:00.25 UTC))
        );
        assert_eq!(
            ok("fromBookingDateTime=2025-03-01T10:00:00Z").from,
            Some(datetime!(2025-03-01 10:00 UTC))
        );
        assert_eq!(
            ok("fromBookingDateTime=2025-03-01T10:00:00%2B01:00").from,
            Some(datetime!(2025-03-01 09:00 UTC))
        );
        // `+` left unencoded decodes to a space.
        assert_eq!(
            ok("fromBookingDateTime=2025-03-01T10:00:00+01:00").from,
            Some(datetime!(2025-03-01 09:00 UTC))
        );
        let day = ok("fromBookingDateTime=2025-03-01&toBookingDateTime=2025-03-01");
        assert!(day.contains(datetime!(2025-03-01 0:00 UTC)));
        assert!(day.contains(datetime!(2025-03-01 23:59:59 UTC)));
        assert!(!day.contains(datetime!(2025-03-02 0:00 UTC)));
        assert_eq!(ok("page=2"), BookingFilter::default());
        assert_eq!(
            BookingFilter::from_query(None).unwrap(),
            BookingFilter::default()
        );
    }

    #[test]
    fn rejects_bad_values_with_every_problem() {
        let err = BookingFilter::from_query(Some(
            "fromBookingDateTime=yesterday&toBookingDateTime=2025-13-01",
        ))
        .unwrap_err();
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        let paths: Vec<_> = err
            .errors
            .iter()
            .map(|e| e.path.as_deref().unwrap())
            .collect();
        assert_eq!(paths, [FROM, TO]);
        assert!(err
            .errors
            .iter()
            .all(|e| e.error_code == code::FIELD_INVALID_DATE));

        for query in [
            "fromBookingDateTime=",
            "fromBookingDateTime=2025-03-01T10:00",
            "toBookingDateTime=2025-02-30T00:00:00",
            "fromBookingDateTime=2025-03-02&toBookingDateTime=2025-03-01",
            "fromBookingDateTime=2025-03-01&fromBookingDateTime=2025-03-02",
        ] {
            assert!(BookingFilter::from_query(Some(query)).is_err(), "{query}");
        }
    }
}
