//! Synthetic customers and their identity (KYC) records.

use time::{Date, Duration, Month, OffsetDateTime, Time};

use super::model::{Address, Document, Kyc, PersonName};
use crate::format;
use crate::names;
use crate::prng::Prng;

/// A generated customer: the KYC record plus what the account and transaction generators
/// need to stay consistent with it.
pub(crate) struct Person {
    pub(crate) kyc: Kyc,
    pub(crate) date_of_birth: Date,
    /// "Mr J Smith": how the name is printed on accounts.
    pub(crate) account_name: String,
    pub(crate) town: &'static str,
    pub(crate) employer: &'static str,
}

pub(crate) fn generate(prng: &mut Prng, customer_id: String, reference: OffsetDateTime) -> Person {
    let today = reference.date();
    let female = prng.chance(50);
    let given_name = *prng.pick(if female {
        names::FEMALE_GIVEN_NAMES
    } else {
        names::MALE_GIVEN_NAMES
    });
    let family_name = *prng.pick(names::FAMILY_NAMES);
    let title = if prng.chance(8) {
        "Dr"
    } else if female {
        *prng.pick(&["Ms", "Mrs", "Miss"])
    } else {
        "Mr"
    };

    // Adults only: 19 to 80 years old on the reference date.
    let age = prng.range(19, 80);
    let date_of_birth = calendar_date(
        today.year() - age as i32,
        prng.range(1, 12) as u8,
        prng.range(1, 28) as u8,
    );

    let nationality = *prng.pick(names::NATIONALITIES);
    let (town, area) = *prng.pick(names::TOWNS);
    let mut address_line = Vec::new();
    if prng.chance(20) {
        address_line.push(format!("Flat {}", prng.range(1, 24)));
    }
    address_line.push(format!(
        "{} {}",
        prng.range(1, 180),
        prng.pick(names::STREETS)
    ));
    let post_code = format!(
        "{area}{} {}{}{}",
        prng.range(1, 20),
        prng.range(0, 9),
        char::from(*prng.pick(names::POSTCODE_UNIT_LETTERS)),
        char::from(*prng.pick(names::POSTCODE_UNIT_LETTERS)),
    );

    let document = if prng.chance(50) {
        Document {
            kind: "Passport",
            // Nine digits, not starting with zero.
            number: format!("{}{}", prng.range(1, 9), prng.digits(8)),
            issuing_country: nationality,
            expiry_date: format::date(years_after(today, prng.range(1, 9), prng)),
        }
    } else {
        Document {
            kind: "DrivingLicence",
            number: driving_licence_number(prng, family_name, given_name, date_of_birth, female),
            issuing_country: "GB",
            expiry_date: format::date(years_after(today, prng.range(1, 10), prng)),
        }
    };

    let risk_rating = match prng.below(10) {
        0..=5 => "Low",
        6..=8 => "Medium",
        _ => "High",
    };
    let verified_at = (reference - Duration::days(prng.range(1, 365))).replace_time(Time::MIDNIGHT)
        + Duration::seconds(prng.range(8 * 3600, 18 * 3600));

    let email = format!(
        "{}.{}{}@example.com",
        given_name.to_ascii_lowercase(),
        family_name.to_ascii_lowercase(),
        prng.range(1, 99)
    );

    let kyc = Kyc {
        customer_id,
        name: PersonName {
            title,
            given_name,
            family_name,
        },
        date_of_birth: format::date(date_of_birth),
        nationality,
        address: Address {
            address_line,
            town_name: town,
            post_code,
            country: "GB",
        },
        document,
        email,
        // Ofcom reserves 07700 900000-900999 for fiction.
        phone: format!("+447700900{}", prng.digits(3)),
        risk_rating,
        verification_status: "Verified",
        verified_date_time: format::date_time(verified_at),
    };
    let initial = given_name.chars().next().unwrap_or('X');
    let employer = *prng.pick(names::EMPLOYERS);
    Person {
        kyc,
        date_of_birth,
        account_name: format!("{title} {initial} {family_name}"),
        town,
        employer,
    }
}

/// A date from parts the generator chose in range; falls back to a fixed date instead of
/// failing, so generation stays total.
fn calendar_date(year: i32, month: u8, day: u8) -> Date {
    Month::try_from(month)
        .and_then(|m| Date::from_calendar_date(year, m, day))
        .unwrap_or(time::macros::date!(1980 - 01 - 01))
}

fn years_after(from: Date, years: i64, prng: &mut Prng) -> Date {
    from.saturating_add(Duration::days(years * 365 + prng.range(0, 364)))
}

/// A GB driving licence number in the DVLA layout: 5 characters of surname (padded with 9),
/// decade digit of birth year, birth month (+50 for women), birth day, year digit, two
/// initials (padded with 9), an arbitrary digit and two check letters.
fn driving_licence_number(
    prng: &mut Prng,
    family_name: &str,
    given_name: &str,
    date_of_birth: Date,
    female: bool,
) -> String {
    let mut surname: String = family_name
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_uppercase())
        .take(5)
        .collect();
    while surname.len() < 5 {
        surname.push('9');
    }
    let year = date_of_birth.year().rem_euclid(100);
    let month = u8::from(date_of_birth.month()) + if female { 50 } else { 0 };
    let initial = given_name
        .chars()
        .next()
        .map_or('9', |c| c.to_ascii_uppercase());
    let letters = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    format!(
        "{surname}{}{month:02}{:02}{}{initial}9{}{}{}",
        year / 10,
        date_of_birth.day(),
        year % 10,
        prng.range(0, 9),
        char::from(*prng.pick(letters)),
        char::from(*prng.pick(letters)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn driving_licence_numbers_follow_the_dvla_layout() {
        let mut prng = Prng::new(3);
        let n = driving_licence_number(&mut prng, "Khan", "Priya", date!(1987 - 03 - 09), true);
        assert_eq!(n.len(), 16, "{n}");
        assert!(n.starts_with("KHAN9853097P9"), "{n}");
        let n = driving_licence_number(&mut prng, "MacLeod", "Euan", date!(2001 - 11 - 23), false);
        assert!(n.starts_with("MACLE011231E9"), "{n}");
    }

    #[test]
    fn customers_are_adults_with_complete_identity_data() {
        let reference = datetime!(2025-06-01 0:00 UTC);
        let mut prng = Prng::new(11);
        for i in 0..200 {
            let p = generate(&mut prng, format!("cus-{i:08x}"), reference);
            let age_days = (reference.date() - p.date_of_birth).whole_days();
            assert!(age_days >= 18 * 365, "too young: {}", p.kyc.date_of_birth);
            let doc = &p.kyc.document;
            match doc.kind {
                "Passport" => {
                    assert_eq!(doc.number.len(), 9);
                    assert!(doc.number.chars().all(|c| c.is_ascii_digit()));
                }
                "DrivingLicence" => assert_eq!(doc.number.len(), 16),
                other => panic!("unexpected document type {other}"),
            }
            assert!(doc.expiry_date.as_str() > "2025-06-01");
            assert!(p.kyc.email.ends_with("@example.com"));
            assert!(p.kyc.phone.starts_with("+447700900") && p.kyc.phone.len() == 13);
            assert!(!p.kyc.address.address_line.is_empty());
            assert!(p.kyc.address.post_code.contains(' '));
        }
    }
}
