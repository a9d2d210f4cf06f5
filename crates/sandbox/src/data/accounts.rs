//! Synthetic accounts: identifiers (sort code, account number, IBAN) and account metadata.

use time::{Duration, OffsetDateTime, Time};

use super::customers::Person;
use super::model::{Account, AccountIdentifier, Servicer};
use crate::format;
use crate::iban;
use crate::names;
use crate::prng::Prng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Current,
    Savings,
}

/// A generated account and the facts the transaction generator needs.
pub(crate) struct Opened {
    pub(crate) account: Account,
    pub(crate) kind: Kind,
    /// "99-01-23 41234567", how counterparties see it on statements.
    pub(crate) display_number: String,
    /// Arranged overdraft in pence (0 for savings).
    pub(crate) overdraft_pence: i64,
}

pub(crate) fn open(
    prng: &mut Prng,
    account_id: String,
    kind: Kind,
    owner: &Person,
    reference: OffsetDateTime,
) -> Opened {
    // Synthetic sort codes all sit in one "branch range" of the synthetic bank.
    let sort_code = format!("9901{}", prng.digits(2));
    let account_number = format!("{}{}", prng.range(1, 9), prng.digits(7));
    let iban = iban::gb_iban(&sort_code, &account_number);

    // Opened at least 120 days before the reference date (so it predates the transaction
    // history), at most 15 years before, and never before the owner turned 18.
    let adult_since = owner
        .date_of_birth
        .saturating_add(Duration::days(18 * 365 + 5));
    let latest = reference.date() - Duration::days(120);
    let earliest = (reference.date() - Duration::days(15 * 365)).max(adult_since);
    let span_days = (latest - earliest).whole_days().max(0);
    let opened_on = earliest.saturating_add(Duration::days(prng.range(0, span_days)));
    let opened_at = OffsetDateTime::new_utc(opened_on, Time::MIDNIGHT);

    let (sub_type, nickname, overdraft_pence) = match kind {
        Kind::Current => (
            "CurrentAccount",
            *prng.pick(names::NICKNAMES_CURRENT),
            prng.range(5, 15) * 100 * 100,
        ),
        Kind::Savings => ("Savings", *prng.pick(names::NICKNAMES_SAVINGS), 0),
    };

    let account = Account {
        account_id,
        status: "Enabled",
        status_update_date_time: format::date_time(opened_at),
        currency: "GBP",
        account_type: "Personal",
        account_sub_type: sub_type,
        nickname: nickname.to_owned(),
        opening_date: format::date_time(opened_at),
        account: vec![
            AccountIdentifier {
                scheme_name: "UK.OBIE.SortCodeAccountNumber",
                identification: format!("{sort_code}{account_number}"),
                name: owner.account_name.clone(),
            },
            AccountIdentifier {
                scheme_name: "UK.OBIE.IBAN",
                identification: iban,
                name: owner.account_name.clone(),
            },
        ],
        servicer: Servicer {
            scheme_name: "UK.OBIE.BICFI",
            identification: iban::BIC,
        },
    };
    Opened {
        account,
        kind,
        display_number: format!(
            "{}-{}-{} {account_number}",
            &sort_code[0..2],
            &sort_code[2..4],
            &sort_code[4..6]
        ),
        overdraft_pence,
    }
}
