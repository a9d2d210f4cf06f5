//! Each detector against normal traffic (nothing raised) and against its attack (raised,
//! with evidence), on event times chosen by the test.

use std::collections::{BTreeMap, HashMap};

use portcullis_audit::{Actor, AuditEvent, Decision, EventKind};

use super::*;
use crate::alert::{AlertKind, Subject};
use crate::config::{MonitorConfig, RegionRange};

/// 2027-01-15 12:00:00 UTC.
pub(crate) const NOON: i64 = 1_800_014_400_000;

pub(crate) fn api(time_ms: i64, partner: &str, op: &str, account: &str, status: u16) -> AuditEvent {
    AuditEvent {
        time_ms,
        kind: EventKind::GatewayRequest,
        environment: Some(portcullis_core::Environment::Production),
        actor: Actor {
            partner_id: Some(partner.into()),
            client_id: Some(format!("{partner}-client")),
            admin: None,
        },
        action: op.into(),
        target: BTreeMap::from([("account_id".to_string(), account.to_string())]),
        decision: if status < 400 {
            Decision::Allow
        } else {
            Decision::Deny
        },
        reason: if status < 400 { "allowed" } else { "denied" }.into(),
        status: Some(status),
        latency_us: Some(2000),
        source_ip: Some("10.1.0.5".into()),
        request_id: Some(format!("req-{time_ms}")),
        fields_removed: Default::default(),
        trace: None,
    }
}

fn token_refused(time_ms: i64, client: &str, source: &str) -> AuditEvent {
    AuditEvent {
        kind: EventKind::TokenRefused,
        action: "token".into(),
        target: BTreeMap::new(),
        actor: Actor {
            partner_id: None,
            client_id: Some(client.into()),
            admin: None,
        },
        source_ip: Some(source.into()),
        status: Some(401),
        reason: "invalid_client".into(),
        ..api(time_ms, "x", "token", "", 401)
    }
}

fn detectors() -> Detectors {
    let mut config = MonitorConfig::default();
    config.geography.regions = vec![
        RegionRange {
            region: "GB".into(),
            cidrs: vec!["10.1.0.0/16".into()],
        },
        RegionRange {
            region: "SG".into(),
            cidrs: vec!["10.9.0.0/16".into()],
        },
    ];
    let table = RegionTable::from_config(&config.geography).unwrap();
    Detectors::new(&config, table)
}

/// Ten minutes of a partner's ordinary traffic: about 20 requests a second over 30
/// accounts, mostly balances and accounts, a few transactions, the odd 404.
fn normal(d: &mut Detectors, partner: &str, from_ms: i64, seconds: i64) -> Vec<crate::Finding> {
    let mut found = Vec::new();
    let ops = [
        "getAccount",
        "getBalances",
        "getAccount",
        "getBalances",
        "getTransactions",
    ];
    let mut n = 0u64;
    for s in 0..seconds {
        // 15 to 25 requests a second.
        let per_second = 15 + (s * 7 % 11);
        for i in 0..per_second {
            n += 1;
            let t = from_ms + s * 1000 + i * 1000 / per_second;
            let account = format!("acc-{}", n * 13 % 30);
            let status = if n.is_multiple_of(200) { 404 } else { 200 };
            found.extend(d.observe(&api(t, partner, ops[(n % 5) as usize], &account, status)));
        }
    }
    found
}

#[test]
fn normal_traffic_raises_nothing() {
    let mut d = detectors();
    let found = normal(&mut d, "acme", NOON, 600);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn credential_stuffing_from_one_address_is_caught_with_its_evidence() {
    let mut d = detectors();
    let mut found = Vec::new();
    for i in 0..6 {
        found.extend(d.observe(&token_refused(
            NOON + i * 100,
            &format!("guess-{i}"),
            "203.0.113.9",
        )));
    }
    let f = found
        .iter()
        .find(|f| f.kind == AlertKind::CredentialStuffing)
        .expect("stuffing");
    assert_eq!(f.subject, Subject::Source("203.0.113.9".into()));
    assert_eq!(f.evidence.count, 5);
    assert_eq!(f.evidence.sample_request_ids.len(), 5);
    assert_eq!(f.onset_ms, NOON);
    // The same failures spread over more than the window are not a burst.
    let mut d = detectors();
    let slow: Vec<_> = (0..6)
        .flat_map(|i| {
            d.observe(&token_refused(
                NOON + i * 31_000,
                &format!("guess-{i}"),
                "203.0.113.9",
            ))
        })
        .collect();
    assert!(slow.is_empty(), "{slow:?}");
}

#[test]
fn repeated_failures_for_one_client_are_a_burst() {
    let mut d = detectors();
    let found: Vec<_> = (0..20)
        .flat_map(|i| {
            d.observe(&token_refused(
                NOON + i * 500,
                "acme-client",
                &format!("198.51.100.{i}"),
            ))
        })
        .collect();
    assert!(found.iter().any(|f| f.kind == AlertKind::AuthFailureBurst
        && f.subject == Subject::Client("acme-client".into())));
}

#[test]
fn enumeration_of_account_ids_is_caught() {
    let mut d = detectors();
    assert!(normal(&mut d, "acme", NOON, 120).is_empty());
    let start = NOON + 120_000;
    let found: Vec<_> = (0..200)
        .flat_map(|i| {
            d.observe(&api(
                start + i * 20,
                "acme",
                "getAccount",
                &format!("acc-{}", 1000 + i),
                404,
            ))
        })
        .collect();
    let f = found
        .iter()
        .find(|f| f.kind == AlertKind::Enumeration)
        .expect("enumeration");
    assert_eq!(f.subject, Subject::Client("acme-client".into()));
    assert!(f.evidence.details.contains_key("distinct_ids"));
}

#[test]
fn a_spike_against_the_learned_baseline_is_caught_and_steady_growth_is_not() {
    let mut d = detectors();
    assert!(normal(&mut d, "acme", NOON, 300).is_empty());
    let start = NOON + 300_000;
    // 200 requests a second, ten times the usual.
    let found: Vec<_> = (0..1000)
        .flat_map(|i| d.observe(&api(start + i * 5, "acme", "getAccount", "acc-1", 200)))
        .collect();
    let f = found
        .iter()
        .find(|f| f.kind == AlertKind::TrafficSpike)
        .expect("spike");
    assert!(
        f.evidence.baseline.unwrap() > 15.0 && f.evidence.baseline.unwrap() < 25.0,
        "{f:?}"
    );
    assert!(f.onset_ms >= start - 5000);
    // Before learning, nothing is compared.
    let mut d = detectors();
    let early: Vec<_> = (0..1000)
        .flat_map(|i| d.observe(&api(NOON + i * 5, "acme", "getAccount", "acc-1", 200)))
        .collect();
    assert!(early.iter().all(|f| f.kind != AlertKind::TrafficSpike));
}

#[test]
fn the_baseline_is_per_hour_of_day() {
    let mut d = detectors();
    // A quiet hour at 03:00 (1/s) and a busy one at 12:00 (20/s) on the day before.
    let night = NOON - 9 * 3_600_000 - 86_400_000;
    for s in 0..3600 {
        d.observe(&api(night + s * 1000, "acme", "getAccount", "acc-1", 200));
    }
    let noon_before = NOON - 86_400_000;
    normal(&mut d, "acme", noon_before, 3600);
    // 30/s at noon is ordinary; at 03:00 it is thirty times the norm.
    let at = |base: i64, d: &mut Detectors| -> Vec<crate::Finding> {
        (0..300)
            .flat_map(|i| d.observe(&api(base + i * 33, "acme", "getAccount", "acc-1", 200)))
            .collect()
    };
    assert!(at(NOON, &mut d)
        .iter()
        .all(|f| f.kind != AlertKind::TrafficSpike));
    let found = at(NOON + 15 * 3_600_000, &mut d);
    assert!(
        found.iter().any(|f| f.kind == AlertKind::TrafficSpike),
        "{found:#?}"
    );
}

#[test]
fn a_sudden_change_of_operation_mix_is_caught() {
    let mut d = detectors();
    assert!(normal(&mut d, "acme", NOON, 120).is_empty());
    let start = NOON + 120_000;
    // Only statements now, at the usual rate: scraping without a spike.
    let found: Vec<_> = (0..400)
        .flat_map(|i| {
            d.observe(&api(
                start + i * 50,
                "acme",
                "getStatements",
                &format!("acc-{}", i % 30),
                200,
            ))
        })
        .collect();
    let f = found
        .iter()
        .find(|f| f.kind == AlertKind::OperationMix)
        .expect("mix");
    assert!(f.evidence.details["distance"].as_f64().unwrap() >= 0.5);
}

#[test]
fn access_from_a_region_never_seen_for_the_partner_is_caught() {
    let mut d = detectors();
    assert!(normal(&mut d, "acme", NOON, 120).is_empty());
    let mut e = api(NOON + 121_000, "acme", "getAccount", "acc-1", 200);
    e.source_ip = Some("10.9.3.3".into());
    let found = d.observe(&e);
    let f = found
        .iter()
        .find(|f| f.kind == AlertKind::UnexpectedRegion)
        .expect("region");
    assert_eq!(f.evidence.details["region"], "SG");
    assert_eq!(
        f.evidence.details["expected_regions"],
        serde_json::json!(["GB"])
    );
    // An address in no region raises nothing.
    e.source_ip = Some("172.16.0.1".into());
    assert!(d.observe(&e).is_empty());
}

#[test]
fn use_outside_contract_hours_is_caught() {
    let mut d = detectors();
    d.set_access_hours(HashMap::from([(
        "acme".to_string(),
        AccessHours::parse("07:00-19:00").unwrap(),
    )]));
    assert!(normal(&mut d, "acme", NOON, 60).is_empty());
    let night = NOON + 10 * 3_600_000;
    let found: Vec<_> = (0..3)
        .flat_map(|i| d.observe(&api(night + i * 1000, "acme", "getAccount", "acc-1", 200)))
        .collect();
    let f = found
        .iter()
        .find(|f| f.kind == AlertKind::OffHours)
        .expect("off hours");
    assert_eq!(f.evidence.details["contract_hours"], "07:00-19:00 UTC");
}

#[test]
fn access_hours_parse_strictly_and_wrap_past_midnight() {
    let night = AccessHours::parse("22:00-06:00").unwrap();
    assert!(night.allows(NOON - 12 * 3_600_000));
    assert!(!night.allows(NOON));
    for bad in [
        "",
        "7-19",
        "07:00",
        "25:00-01:00",
        "07:60-08:00",
        "08:00-08:00",
        "24:30-01:00",
    ] {
        assert!(AccessHours::parse(bad).is_err(), "{bad}");
    }
    assert!(AccessHours::parse("00:00-24:00").unwrap().allows(NOON));
}

#[test]
fn scraping_one_usual_operation_in_bulk_changes_the_mix() {
    let mut d = detectors();
    assert!(normal(&mut d, "acme", NOON, 120).is_empty());
    let start = NOON + 120_000;
    // Six times the usual rate, all transactions, with the usual traffic going on.
    let mut found = Vec::new();
    for i in 0..2400 {
        let t = start + i * 5;
        found.extend(d.observe(&api(
            t,
            "acme",
            "getTransactions",
            &format!("acc-{}", i % 30),
            200,
        )));
        if i % 6 == 0 {
            found.extend(d.observe(&api(t, "acme", "getBalances", "acc-1", 200)));
        }
    }
    let kinds: Vec<_> = found.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&AlertKind::OperationMix), "no mix alert");
    assert!(kinds.contains(&AlertKind::TrafficSpike), "no spike alert");
}

#[test]
fn a_partial_first_second_does_not_set_the_baseline() {
    let mut d = detectors();
    // Traffic starts late in a second (5 requests), then runs at 120/s.
    let mut found = Vec::new();
    for i in 0..5 {
        found.extend(d.observe(&api(
            NOON + 950 + i * 10,
            "acme",
            "getAccount",
            "acc-1",
            200,
        )));
    }
    for i in 0..(120 * 180) {
        let t = NOON + 1000 + i * 1000 / 120;
        found.extend(d.observe(&api(
            t,
            "acme",
            "getAccount",
            &format!("acc-{}", i % 20),
            200,
        )));
    }
    assert!(found.is_empty(), "{:?}", found.first());
}

#[test]
fn a_closed_alert_is_judged_afresh_on_what_follows() {
    let mut d = detectors();
    assert!(normal(&mut d, "acme", NOON, 60).is_empty());
    let start = NOON + 60_000;
    let found: Vec<_> = (0..200)
        .flat_map(|i| {
            d.observe(&api(
                start + i * 20,
                "acme",
                "getAccount",
                &format!("acc-{}", 1000 + i),
                404,
            ))
        })
        .collect();
    let finding = found
        .into_iter()
        .find(|f| f.kind == AlertKind::Enumeration)
        .unwrap();
    // Without forgetting, the window still full of probes raises it again at once.
    let after = start + 5_000;
    assert!(d
        .observe(&api(after, "acme", "getAccount", "acc-1", 200))
        .iter()
        .any(|f| f.kind == AlertKind::Enumeration));
    d.forget(&crate::Alert::from_finding("a1".into(), finding, after));
    assert!(d
        .observe(&api(after + 10, "acme", "getAccount", "acc-1", 200))
        .is_empty());
}

#[test]
fn a_partner_retrying_with_its_suspended_credential_never_gets_its_address_flagged() {
    let mut d = detectors();
    let mut found = Vec::new();
    for i in 0..60 {
        let mut e = token_refused(NOON + i * 100, "finch-client", "10.1.0.9");
        e.reason = "credential_suspended".into();
        found.extend(d.observe(&e));
    }
    assert!(
        found
            .iter()
            .all(|f| !matches!(f.subject, Subject::Source(_))),
        "{found:?}"
    );
    let client = found
        .iter()
        .find(|f| f.subject == Subject::Client("finch-client".into()))
        .expect("the client's own burst is still raised");
    assert_eq!(
        client.source_ip, None,
        "so no playbook can block its address"
    );
    // Refusals that are not authentication failures count for nothing.
    let mut d = detectors();
    for i in 0..60 {
        let mut e = token_refused(NOON + i * 100, &format!("c{i}"), "10.1.0.9");
        e.reason = "invalid_scope".into();
        assert!(d.observe(&e).is_empty());
    }
}

#[test]
fn ipv6_attackers_are_counted_per_slash_64() {
    let mut d = detectors();
    let found: Vec<_> = (0..6)
        .flat_map(|i| {
            d.observe(&token_refused(
                NOON + i * 100,
                &format!("guess-{i}"),
                &format!("2001:db8:7:7::{i:x}"),
            ))
        })
        .collect();
    let f = found
        .iter()
        .find(|f| f.kind == AlertKind::CredentialStuffing)
        .expect("stuffing");
    assert_eq!(f.subject, Subject::Source("2001:db8:7:7::/64".into()));
}
