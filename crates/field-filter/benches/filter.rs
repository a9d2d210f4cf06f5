//! Throughput on a ~10 MB Open Banking transactions document, generated deterministically.
//!
//! `cargo bench -p portcullis-field-filter`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use portcullis_field_filter::{
    filter_document, CompiledFieldPolicy, FieldMask, FieldPolicy, HashKey, MaskRule,
};

/// A small linear congruential generator: deterministic data without extra dependencies.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

const MERCHANTS: [&str; 6] = [
    "TESCO STORES 3021",
    "SAINSBURYS S/MKT",
    "TFL TRAVEL CH",
    "AMAZON UK MARKETPLACE",
    "PRET A MANGER",
    "SHELL KINGS CROSS",
];

/// `{"Data":{"Transaction":[...]},"Links":{...},"Meta":{...}}` of at least `target` bytes.
fn transactions(target: usize) -> Vec<u8> {
    let mut rng = Lcg(42);
    let mut doc = String::from(r#"{"Data":{"Transaction":["#);
    let mut i = 0u64;
    while doc.len() < target {
        if i > 0 {
            doc.push(',');
        }
        let merchant = MERCHANTS[rng.next(MERCHANTS.len() as u64) as usize];
        let (day, hour, minute) = (1 + rng.next(28), rng.next(24), rng.next(60));
        doc.push_str(&format!(
            concat!(
                r#"{{"AccountId":"{acct}","TransactionId":"TX{i:010}","TransactionReference":"REF-{r:08}","#,
                r#""Amount":{{"Amount":"{a}.{c:02}","Currency":"GBP"}},"CreditDebitIndicator":"Debit","#,
                r#""Status":"Booked","BookingDateTime":"2026-03-{day:02}T{hour:02}:{minute:02}:00+00:00","#,
                r#""ValueDateTime":"2026-03-{day:02}T{hour:02}:{minute:02}:00+00:00","#,
                r#""TransactionInformation":"Card payment {merchant}","#,
                r#""MerchantDetails":{{"MerchantName":"{merchant}","MerchantCategoryCode":"5411"}},"#,
                r#""Balance":{{"Amount":{{"Amount":"{b}.{d:02}","Currency":"GBP"}},"#,
                r#""CreditDebitIndicator":"Credit","Type":"InterimBooked"}}}}"#
            ),
            acct = 22289 + rng.next(4),
            i = i,
            r = rng.next(100_000_000),
            a = rng.next(500),
            c = rng.next(100),
            day = day,
            hour = hour,
            minute = minute,
            merchant = merchant,
            b = rng.next(10_000),
            d = rng.next(100),
        ));
        i += 1;
    }
    doc.push_str(r#"]},"Links":{"Self":"https://api.bank.example/open-banking/v3.1/aisp/transactions"},"Meta":{"TotalPages":1}}"#);
    doc.into_bytes()
}

fn realistic() -> CompiledFieldPolicy {
    let allow = [
        "Data.Transaction[*].TransactionId",
        "Data.Transaction[*].Amount",
        "Data.Transaction[*].CreditDebitIndicator",
        "Data.Transaction[*].Status",
        "Data.Transaction[*].BookingDateTime",
        "Data.Transaction[*].Balance.Amount.Amount",
        "Links",
        "Meta",
    ];
    let policy = FieldPolicy {
        allow: allow.iter().map(|p| (*p).to_owned()).collect(),
        mask: vec![
            FieldMask {
                path: "Data.Transaction[*].TransactionReference".into(),
                rule: MaskRule::KeepLast { chars: 4 },
            },
            FieldMask {
                path: "Data.Transaction[*].AccountId".into(),
                rule: MaskRule::Hash,
            },
        ],
    };
    CompiledFieldPolicy::compile(&policy).expect("the benchmark policy is valid")
}

fn bench(c: &mut Criterion) {
    let doc = transactions(10 << 20);
    let key = HashKey::derive(b"bench master secret", "partner-1");
    let everything = CompiledFieldPolicy::compile(&FieldPolicy {
        allow: vec!["*".into()],
        mask: vec![],
    })
    .expect("`*` is valid");
    let cases = [
        ("realistic", realistic()),
        ("allow_all", everything),
        ("deny_all", CompiledFieldPolicy::deny_all()),
    ];

    let mut group = c.benchmark_group("filter_10MB_transactions");
    group.throughput(Throughput::Bytes(doc.len() as u64));
    group.sample_size(20);
    for (name, policy) in &cases {
        group.bench_with_input(BenchmarkId::from_parameter(name), &doc, |b, doc| {
            b.iter(|| filter_document(policy, &key, doc).expect("the document is valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
