//! Synthetic transaction histories with consistent running balances.
//!
//! A customer's accounts are generated together so that transfers between them appear on both
//! sides (a standing order out of the current account is the matching credit on the savings
//! account). Entries are first collected per account as signed amounts, then sorted by booking
//! time and posted, which fixes the running balance and the transaction ids.

use time::{Date, Duration, OffsetDateTime, Time, Weekday};

use super::accounts::{Kind, Opened};
use super::customers::Person;
use super::model::{
    gbp, indicator, BankTransactionCode, MerchantDetails, ProprietaryBankTransactionCode,
    Transaction, TransactionBalance,
};
use crate::format;
use crate::iban::BANK_CODE;
use crate::names::{self, Merchant};
use crate::prng::Prng;

/// Days of history before the reference date.
pub(crate) const HISTORY_DAYS: i64 = 90;

/// The span the history covers: `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start: OffsetDateTime,
    pub(crate) end: OffsetDateTime,
}

impl Window {
    pub(crate) fn ending_at(end: OffsetDateTime) -> Self {
        Self {
            start: end.saturating_sub(Duration::days(HISTORY_DAYS)),
            end,
        }
    }

    fn days(&self) -> impl Iterator<Item = Date> {
        let start = self.start.date();
        (0..HISTORY_DAYS).map(move |i| start.saturating_add(Duration::days(i)))
    }

    /// A random moment on a random day in the window, during waking hours.
    fn random_daytime(&self, prng: &mut Prng) -> OffsetDateTime {
        let day = self
            .start
            .date()
            .saturating_add(Duration::days(prng.range(0, HISTORY_DAYS - 1)));
        at(day, prng.range(7 * 3600, 23 * 3600 - 1))
    }
}

fn at(day: Date, seconds_into_day: i64) -> OffsetDateTime {
    OffsetDateTime::new_utc(day, Time::MIDNIGHT).saturating_add(Duration::seconds(seconds_into_day))
}

/// What kind of movement an entry is; fixes its bank transaction codes.
#[derive(Debug, Clone, Copy)]
enum Channel {
    Card,
    CardRefund,
    Atm,
    DirectDebit,
    StandingOrderOut,
    StandingOrderIn,
    FasterPaymentOut,
    FasterPaymentIn,
    Bacs,
    Interest,
}

impl Channel {
    fn codes(self) -> ((&'static str, &'static str), &'static str) {
        match self {
            Channel::Card => (("CustomerCardTransactions", "PointOfSalePayment"), "DEB"),
            Channel::CardRefund => (("CustomerCardTransactions", "Reimbursement"), "CR"),
            Channel::Atm => (("CustomerCardTransactions", "CashWithdrawal"), "CPT"),
            Channel::DirectDebit => (("ReceivedDirectDebits", "DirectDebitPayment"), "DD"),
            Channel::StandingOrderOut => (("IssuedCreditTransfers", "StandingOrder"), "SO"),
            Channel::StandingOrderIn => (("ReceivedCreditTransfers", "StandingOrder"), "SO"),
            Channel::FasterPaymentOut => {
                (("IssuedCreditTransfers", "DomesticCreditTransfer"), "FPO")
            }
            Channel::FasterPaymentIn => {
                (("ReceivedCreditTransfers", "DomesticCreditTransfer"), "FPI")
            }
            Channel::Bacs => (("ReceivedCreditTransfers", "DomesticCreditTransfer"), "BGC"),
            Channel::Interest => (("MiscellaneousCreditOperations", "Interest"), "INT"),
        }
    }
}

/// One movement before posting. `pence` is signed: positive credits, negative debits.
struct Entry {
    booked_at: OffsetDateTime,
    value_at: OffsetDateTime,
    pence: i64,
    information: String,
    reference: Option<String>,
    channel: Channel,
    merchant: Option<&'static Merchant>,
}

impl Entry {
    fn new(at: OffsetDateTime, pence: i64, channel: Channel, information: String) -> Self {
        Self {
            booked_at: at,
            value_at: at,
            pence,
            information,
            reference: None,
            channel,
            merchant: None,
        }
    }

    fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }
}

/// The unposted history of one account.
pub(crate) struct Ledger {
    opening_pence: i64,
    entries: Vec<Entry>,
}

/// Histories for all of one customer's accounts, in the same order as `accounts`.
/// `accounts[0]` is the customer's main current account; the rest are savings.
pub(crate) fn histories(
    prng: &mut Prng,
    owner: &Person,
    accounts: &[Opened],
    window: Window,
) -> Vec<Ledger> {
    let mut ledgers: Vec<Ledger> = accounts
        .iter()
        .map(|a| Ledger {
            opening_pence: match a.kind {
                Kind::Current => prng.range(300, 3_000) * 100,
                Kind::Savings => prng.range(500, 15_000) * 100,
            },
            entries: Vec::new(),
        })
        .collect();

    let target = prng.range(110, 130) as usize;
    current_account(prng, owner, accounts, &mut ledgers, window, target);
    for ledger in ledgers.iter_mut().skip(1) {
        savings_account(prng, ledger, window);
    }
    ledgers
}

/// Fills the main current account (`accounts[0]`) and, for transfers, the savings accounts'
/// ledgers.
fn current_account(
    prng: &mut Prng,
    owner: &Person,
    accounts: &[Opened],
    ledgers: &mut [Ledger],
    window: Window,
    target: usize,
) {
    let (Some((main, savings)), Some((ledger, savings_ledgers))) =
        (accounts.split_first(), ledgers.split_first_mut())
    else {
        return;
    };
    let town = owner.town.to_ascii_uppercase();
    let salary = prng.range(1_900, 4_800) * 100;
    let housing = salary * prng.range(25, 38) / 100 / 100 * 100;
    let (housing_payee, mortgage) = *prng.pick(names::HOUSING);
    let housing_ref = format!(
        "{}{}",
        if mortgage { "MTG" } else { "RENT" },
        prng.digits(6)
    );

    let mut bill_indices: Vec<usize> = (0..names::BILLS.len()).collect();
    prng.shuffle(&mut bill_indices);
    bill_indices.truncate(prng.range(5, names::BILLS.len() as i64) as usize);
    let bills: Vec<(&names::Bill, i64, String)> = bill_indices
        .iter()
        .filter_map(|&i| names::BILLS.get(i))
        .map(|b| (b, prng.range(b.min_pence, b.max_pence), prng.digits(8)))
        .collect();
    let monthly_saving: Vec<i64> = savings.iter().map(|_| prng.range(5, 40) * 1_000).collect();
    let employer = owner.employer.to_ascii_uppercase();

    // Regular payments, day by day.
    for day in window.days() {
        let payday = payday(day);
        if day == payday {
            let t = at(day, prng.range(3600, 6 * 3600));
            ledger.entries.push(
                Entry::new(t, salary, Channel::Bacs, format!("{employer} SALARY"))
                    .reference("SALARY"),
            );
        }
        if day.day() == 1 {
            let t = at(day, prng.range(6 * 3600, 9 * 3600));
            let (channel, what) = if mortgage {
                (Channel::DirectDebit, "MORTGAGE")
            } else {
                (Channel::StandingOrderOut, "RENT")
            };
            ledger.entries.push(
                Entry::new(t, -housing, channel, format!("{housing_payee} {what}"))
                    .reference(housing_ref.clone()),
            );
        }
        for (bill, pence, mandate) in &bills {
            if day.day() == bill.day {
                let t = at(day, prng.range(6 * 3600, 9 * 3600));
                ledger.entries.push(
                    Entry::new(t, -pence, Channel::DirectDebit, bill.payee.to_owned())
                        .reference(mandate.clone()),
                );
            }
        }
        if day == payday.saturating_add(Duration::days(1)) {
            for ((to, to_ledger), &pence) in savings
                .iter()
                .zip(savings_ledgers.iter_mut())
                .zip(&monthly_saving)
            {
                let t = at(day, prng.range(6 * 3600, 9 * 3600));
                ledger.entries.push(
                    Entry::new(
                        t,
                        -pence,
                        Channel::StandingOrderOut,
                        format!("TO {}", to.display_number),
                    )
                    .reference("SAVINGS"),
                );
                to_ledger.entries.push(
                    Entry::new(
                        t,
                        pence,
                        Channel::StandingOrderIn,
                        format!("FROM {}", main.display_number),
                    )
                    .reference("SAVINGS"),
                );
            }
        }
    }

    // Occasional transfers from savings back to the current account.
    for (from, from_ledger) in savings.iter().zip(savings_ledgers.iter_mut()) {
        if prng.chance(30) {
            let t = window.random_daytime(prng);
            let pence = prng.range(100, (from_ledger.opening_pence / 200).max(100)) * 100;
            from_ledger.entries.push(
                Entry::new(
                    t,
                    -pence,
                    Channel::FasterPaymentOut,
                    format!("TO {}", main.display_number),
                )
                .reference("TOP UP"),
            );
            ledger.entries.push(
                Entry::new(
                    t,
                    pence,
                    Channel::FasterPaymentIn,
                    format!("FROM {}", from.display_number),
                )
                .reference("TOP UP"),
            );
        }
    }

    // Payments between people.
    for _ in 0..prng.range(0, 3) {
        let t = window.random_daytime(prng);
        let reference = *prng.pick(names::P2P_REFERENCES);
        let who = counterparty(prng);
        ledger.entries.push(
            Entry::new(
                t,
                prng.range(10, 200) * 100,
                Channel::FasterPaymentIn,
                format!("{who} {reference}"),
            )
            .reference(reference),
        );
    }
    for _ in 0..prng.range(2, 6) {
        let t = window.random_daytime(prng);
        let reference = *prng.pick(names::P2P_REFERENCES);
        let who = counterparty(prng);
        let pence = prng.range(1_000, 15_000);
        ledger.entries.push(
            Entry::new(
                t,
                -pence,
                Channel::FasterPaymentOut,
                format!("{who} {reference}"),
            )
            .reference(reference),
        );
    }

    // Cash.
    for _ in 0..prng.range(2, 5) {
        let t = window.random_daytime(prng);
        let pence = *prng.pick(&[1_000, 2_000, 2_000, 3_000, 4_000, 5_000, 10_000]);
        ledger.entries.push(Entry::new(
            t,
            -pence,
            Channel::Atm,
            format!("CASH {BANK_CODE} ATM {town}"),
        ));
    }

    // Card purchases fill the history up to the target size, with the odd refund.
    let refunds = prng.range(0, 2) as usize;
    let cards = target
        .saturating_sub(ledger.entries.len() + refunds)
        .max(40);
    for i in 0..cards + refunds {
        let merchant = weighted_merchant(prng);
        let booked = window.random_daytime(prng);
        let pence = prng.range(merchant.min_pence, merchant.max_pence);
        let place = if merchant.mcc == "5999" {
            "WWW".to_owned()
        } else {
            town.clone()
        };
        let name = merchant.name.to_ascii_uppercase();
        let mut entry = if i < cards {
            Entry::new(booked, -pence, Channel::Card, format!("{name} {place}"))
        } else {
            Entry::new(
                booked,
                pence,
                Channel::CardRefund,
                format!("REFUND {name} {place}"),
            )
        };
        // Card payments are often posted the day after the purchase.
        if prng.chance(35) {
            entry.value_at = booked.saturating_sub(Duration::days(1));
        }
        entry.merchant = Some(merchant);
        ledger.entries.push(entry);
    }
}

fn savings_account(prng: &mut Prng, ledger: &mut Ledger, window: Window) {
    let rate_bps = prng.range(150, 450);
    let interest = (ledger.opening_pence * rate_bps / 10_000 / 12).max(1);
    for day in window.days() {
        if day.day() == 1 {
            let t = at(day, prng.range(3600, 3 * 3600));
            ledger.entries.push(Entry::new(
                t,
                interest,
                Channel::Interest,
                "INTEREST PAID".to_owned(),
            ));
        }
    }
    for _ in 0..prng.range(0, 2) {
        let t = window.random_daytime(prng);
        let who = counterparty(prng);
        ledger.entries.push(
            Entry::new(
                t,
                prng.range(20, 500) * 100,
                Channel::FasterPaymentIn,
                format!("{who} GIFT"),
            )
            .reference("GIFT"),
        );
    }
}

/// Monthly pay day: the 25th, or the Friday before when it falls on a weekend.
fn payday(day: Date) -> Date {
    let the_25th = day.replace_day(25).unwrap_or(day);
    match the_25th.weekday() {
        Weekday::Saturday => the_25th.saturating_sub(Duration::days(1)),
        Weekday::Sunday => the_25th.saturating_sub(Duration::days(2)),
        _ => the_25th,
    }
}

/// "J PATEL": a synthetic counterparty as printed on a statement.
fn counterparty(prng: &mut Prng) -> String {
    let given = if prng.chance(50) {
        prng.pick(names::FEMALE_GIVEN_NAMES)
    } else {
        prng.pick(names::MALE_GIVEN_NAMES)
    };
    let initial = given.chars().next().unwrap_or('X');
    format!(
        "{initial} {}",
        prng.pick(names::FAMILY_NAMES).to_ascii_uppercase()
    )
}

fn weighted_merchant(prng: &mut Prng) -> &'static Merchant {
    let total: u64 = names::MERCHANTS.iter().map(|m| m.weight).sum();
    let mut roll = prng.below(total);
    for merchant in names::MERCHANTS {
        if roll < merchant.weight {
            return merchant;
        }
        roll -= merchant.weight;
    }
    prng.pick(names::MERCHANTS)
}

/// Sorts a ledger by booking time and posts it: running balances, ids and the OB shape.
/// Returns the transactions (oldest first) and the closing balance in pence.
pub(crate) fn post(ledger: Ledger, account_id: &str) -> (Vec<Transaction>, i64) {
    let Ledger {
        opening_pence,
        mut entries,
    } = ledger;
    // Stable: entries at the same instant keep the order they were generated in.
    entries.sort_by_key(|e| e.booked_at);
    let id_stem = account_id.strip_prefix("acc-").unwrap_or(account_id);
    let mut running = opening_pence;
    let transactions = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            running += e.pence;
            let (code, proprietary) = e.channel.codes();
            Transaction {
                account_id: account_id.to_owned(),
                transaction_id: format!("txn-{id_stem}{:04x}", i + 1),
                transaction_reference: e.reference,
                amount: gbp(e.pence),
                credit_debit_indicator: indicator(e.pence),
                status: "Booked",
                booking_date_time: format::date_time(e.booked_at),
                value_date_time: format::date_time(e.value_at),
                transaction_information: e.information,
                bank_transaction_code: BankTransactionCode {
                    code: code.0,
                    sub_code: code.1,
                },
                proprietary_bank_transaction_code: ProprietaryBankTransactionCode {
                    code: proprietary,
                    issuer: BANK_CODE,
                },
                balance: TransactionBalance {
                    amount: gbp(running),
                    credit_debit_indicator: indicator(running),
                    kind: "InterimBooked",
                },
                merchant_details: e.merchant.map(|m| MerchantDetails {
                    merchant_name: m.name.to_owned(),
                    merchant_category_code: m.mcc,
                }),
                booked_at: e.booked_at,
            }
        })
        .collect();
    (transactions, running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn payday_moves_back_from_weekends() {
        // 2025-05-25 is a Sunday, 2025-10-25 a Saturday, 2025-06-25 a Wednesday.
        assert_eq!(payday(date!(2025 - 05 - 03)), date!(2025 - 05 - 23));
        assert_eq!(payday(date!(2025 - 10 - 30)), date!(2025 - 10 - 24));
        assert_eq!(payday(date!(2025 - 06 - 01)), date!(2025 - 06 - 25));
    }

    #[test]
    fn merchant_weights_cover_every_merchant() {
        let mut prng = Prng::new(5);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20_000 {
            seen.insert(weighted_merchant(&mut prng).name);
        }
        assert_eq!(seen.len(), names::MERCHANTS.len());
    }
}
