//! The synthetic bank's data set, generated once from a seed and then read-only.

mod accounts;
mod customers;
pub(crate) mod model;
mod transactions;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;

use time::{Duration, OffsetDateTime, Time};

use self::accounts::Kind;
use self::model::{gbp, indicator, Account, Balance, CreditLine, Kyc, Transaction};
use self::transactions::Window;
use crate::format;
use crate::prng::Prng;

/// How many accounts each customer holds; shuffled per seed, so every bank has 6 customers and
/// 12 accounts.
const ACCOUNTS_PER_CUSTOMER: [usize; 6] = [1, 2, 3, 2, 1, 3];

/// A deterministic synthetic bank: customers with identity data, their accounts, balances and
/// about three months of transactions. The same seed always yields byte-identical data.
pub struct Bank {
    seed: u64,
    window: Window,
    customers: Vec<CustomerRecord>,
    accounts: Vec<AccountRecord>,
    account_index: HashMap<String, usize>,
    customer_index: HashMap<String, usize>,
}

struct CustomerRecord {
    kyc: Kyc,
}

struct AccountRecord {
    account: Account,
    /// Oldest first.
    transactions: Vec<Transaction>,
    balances: [Balance; 2],
}

impl Bank {
    /// Generates the bank for `seed`.
    pub fn generate(seed: u64) -> Bank {
        let mut prng = Prng::new(seed);
        let window = Window::ending_at(reference_time(seed));
        let mut customer_ids = HashSet::new();
        let mut account_ids = HashSet::new();
        let mut counts = ACCOUNTS_PER_CUSTOMER;
        prng.shuffle(&mut counts);

        let mut customers = Vec::with_capacity(counts.len());
        let mut accounts = Vec::new();
        for count in counts {
            let mut prng = prng.fork();
            let customer_id = unique_id(&mut prng, "cus-", &mut customer_ids);
            let person = customers::generate(&mut prng, customer_id, window.end);
            let opened: Vec<_> = (0..count)
                .map(|i| {
                    let kind = if i == 0 { Kind::Current } else { Kind::Savings };
                    let id = unique_id(&mut prng, "acc-", &mut account_ids);
                    accounts::open(&mut prng, id, kind, &person, window.end)
                })
                .collect();
            let ledgers = transactions::histories(&mut prng, &person, &opened, window);
            for (opened, ledger) in opened.into_iter().zip(ledgers) {
                let (transactions, closing) =
                    transactions::post(ledger, &opened.account.account_id);
                let balances = balances(
                    &opened.account.account_id,
                    closing,
                    opened.overdraft_pence,
                    window.end,
                );
                accounts.push(AccountRecord {
                    account: opened.account,
                    transactions,
                    balances,
                });
            }
            customers.push(CustomerRecord { kyc: person.kyc });
        }

        let account_index = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.account.account_id.clone(), i))
            .collect();
        let customer_index = customers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.kyc.customer_id.clone(), i))
            .collect();
        Bank {
            seed,
            window,
            customers,
            accounts,
            account_index,
            customer_index,
        }
    }

    /// An account that exists: the first customer's main current account.
    pub fn sample_account_id(&self) -> &str {
        self.accounts
            .first()
            .map_or("", |a| a.account.account_id.as_str())
    }

    /// The customer owning [`Bank::sample_account_id`].
    pub fn sample_customer_id(&self) -> &str {
        self.customers
            .first()
            .map_or("", |c| c.kyc.customer_id.as_str())
    }

    /// All customer ids, in generation order.
    pub fn customer_ids(&self) -> Vec<&str> {
        self.customers
            .iter()
            .map(|c| c.kyc.customer_id.as_str())
            .collect()
    }

    /// All account ids, in generation order (grouped by customer).
    pub fn account_ids(&self) -> Vec<&str> {
        self.accounts
            .iter()
            .map(|a| a.account.account_id.as_str())
            .collect()
    }

    pub(crate) fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().map(|a| &a.account)
    }

    pub(crate) fn account(&self, account_id: &str) -> Option<&Account> {
        self.record(account_id).map(|a| &a.account)
    }

    pub(crate) fn balances(&self, account_id: &str) -> Option<&[Balance]> {
        self.record(account_id).map(|a| &a.balances[..])
    }

    /// Transactions oldest first.
    pub(crate) fn transactions(&self, account_id: &str) -> Option<&[Transaction]> {
        self.record(account_id).map(|a| &a.transactions[..])
    }

    pub(crate) fn kyc(&self, customer_id: &str) -> Option<&Kyc> {
        self.customer_index
            .get(customer_id)
            .and_then(|&i| self.customers.get(i))
            .map(|c| &c.kyc)
    }

    /// The span the transaction history covers, `[first, last)`.
    pub(crate) fn history(&self) -> (OffsetDateTime, OffsetDateTime) {
        (self.window.start, self.window.end)
    }

    fn record(&self, account_id: &str) -> Option<&AccountRecord> {
        self.account_index
            .get(account_id)
            .and_then(|&i| self.accounts.get(i))
    }
}

/// Only counts: the data is personal (if synthetic) and does not belong in logs.
impl fmt::Debug for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bank")
            .field("seed", &self.seed)
            .field("reference", &format::date_time(self.window.end))
            .field("customers", &self.customers.len())
            .field("accounts", &self.accounts.len())
            .finish_non_exhaustive()
    }
}

/// The fixed "now" of the data set: midnight UTC on a day in 2025 chosen by the seed. Never
/// the wall clock, so the data is identical on every run.
fn reference_time(seed: u64) -> OffsetDateTime {
    let day =
        time::macros::date!(2025 - 01 - 01).saturating_add(Duration::days((seed % 365) as i64));
    OffsetDateTime::new_utc(day, Time::MIDNIGHT)
}

fn unique_id(prng: &mut Prng, prefix: &str, taken: &mut HashSet<String>) -> String {
    loop {
        let id = format!("{prefix}{}", prng.hex(8));
        if taken.insert(id.clone()) {
            return id;
        }
    }
}

/// OB balances at the reference time. Both equal the closing running balance; the arranged
/// overdraft is reported as a credit line that is not included in the amount.
fn balances(
    account_id: &str,
    closing: i64,
    overdraft_pence: i64,
    at: OffsetDateTime,
) -> [Balance; 2] {
    let credit_line = if overdraft_pence > 0 {
        vec![CreditLine {
            included: false,
            amount: gbp(overdraft_pence),
            kind: "Pre-Agreed",
        }]
    } else {
        Vec::new()
    };
    let balance = |kind, credit_line| Balance {
        account_id: account_id.to_owned(),
        amount: gbp(closing),
        credit_debit_indicator: indicator(closing),
        kind,
        date_time: format::date_time(at),
        credit_line,
    };
    [
        balance("InterimAvailable", credit_line),
        balance("InterimBooked", Vec::new()),
    ]
}
