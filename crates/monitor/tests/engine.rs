//! The monitor end to end on a real audit log: events in, alerts out, playbooks contain
//! (block, throttle, suspend), everything recorded, reversible, and surviving a restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_audit::query::{query, Filter};
use portcullis_audit::{Actor, AuditConfig, AuditEvent, AuditLog, Decision, EventKind};
use portcullis_core::clock::{Clock, ManualClock};
use portcullis_monitor::detect::AccessHours;
use portcullis_monitor::playbook::{Action, Playbook};
use portcullis_monitor::{AlertFilter, AlertKind, AlertStatus, Monitor, MonitorConfig, Responder};
use tokio::sync::watch;

#[derive(Default)]
struct Credentials {
    suspended: Mutex<HashSet<String>>,
}

#[async_trait]
impl Responder for Credentials {
    async fn suspend_credential(&self, client_id: &str) -> Result<(), String> {
        self.suspended.lock().unwrap().insert(client_id.to_string());
        Ok(())
    }
    async fn reinstate_credential(&self, client_id: &str) -> Result<(), String> {
        self.suspended.lock().unwrap().remove(client_id);
        Ok(())
    }
    async fn access_hours(&self) -> HashMap<String, AccessHours> {
        HashMap::new()
    }
}

const T0: i64 = 1_800_014_400;

fn refused(clock: &ManualClock, client: &str) -> AuditEvent {
    AuditEvent {
        time_ms: clock.now_ms(),
        kind: EventKind::TokenRefused,
        environment: Some(portcullis_core::Environment::Production),
        actor: Actor {
            partner_id: None,
            client_id: Some(client.into()),
            admin: None,
        },
        action: "token".into(),
        target: BTreeMap::new(),
        decision: Decision::Deny,
        reason: "invalid_client".into(),
        status: Some(401),
        latency_us: Some(900),
        source_ip: Some("203.0.113.50".into()),
        request_id: Some(format!("r-{client}")),
        fields_removed: Default::default(),
        trace: None,
    }
}

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never happened");
}

struct Running {
    monitor: Arc<Monitor>,
    audit: Arc<AuditLog>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start(
    dir: &std::path::Path,
    config: MonitorConfig,
    clock: Arc<ManualClock>,
    creds: Arc<Credentials>,
) -> Running {
    let audit = Arc::new(AuditLog::open(AuditConfig::new(dir.join("audit"))).unwrap());
    let (stop, rx) = watch::channel(false);
    let (monitor, task) =
        Monitor::start(config, dir.join("monitor"), audit.clone(), clock, creds, rx).unwrap();
    Running {
        monitor,
        audit,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
        self.audit.close();
    }
}

#[tokio::test]
async fn stuffing_is_blocked_recorded_reverted_and_the_block_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let creds = Arc::new(Credentials::default());
    let run = start(
        dir.path(),
        MonitorConfig::default(),
        clock.clone(),
        creds.clone(),
    );
    let feed = run.monitor.feed();
    for i in 0..6 {
        feed.observe(refused(&clock, &format!("guess-{i}")));
        clock.advance_ms(100);
    }
    let alert = eventually("the stuffing alert", || {
        run.monitor
            .list_alerts(&AlertFilter::default())
            .into_iter()
            .find(|a| a.kind == AlertKind::CredentialStuffing)
    })
    .await;
    let ip = "203.0.113.50".parse().unwrap();
    let now = clock.now_ms();
    assert!(run.monitor.guard().is_blocked(ip, now));
    assert!(alert.incident_id.is_some());
    let incident = run
        .monitor
        .incident(alert.incident_id.as_ref().unwrap())
        .unwrap();
    assert_eq!(incident.alert_ids, vec![alert.id.clone()]);
    assert_eq!(
        incident.timeline.len(),
        2,
        "detected and contained: {incident:?}"
    );
    let actions: Vec<&str> = alert.actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["block_source", "open_incident", "notify"]);
    // Raised once within the cooldown, however long the attack goes on.
    for i in 6..20 {
        feed.observe(refused(&clock, &format!("guess-{i}")));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(run.monitor.list_alerts(&AlertFilter::default()).len(), 1);

    // In the audit trail: the alert and each action, by the monitor.
    let recorded = eventually("the audit entries", || {
        let rows = query(&dir.path().join("audit"), &Filter::default()).unwrap();
        let actions: Vec<String> = rows.iter().map(|r| r.event.action.clone()).collect();
        (actions.len() >= 4).then_some(actions)
    })
    .await;
    assert_eq!(
        recorded,
        [
            "monitor.alert",
            "monitor.block_source",
            "monitor.open_incident",
            "monitor.notify"
        ]
    );

    // The block outlives a restart.
    run.stop().await;
    let run = start(
        dir.path(),
        MonitorConfig::default(),
        clock.clone(),
        creds.clone(),
    );
    assert!(run.monitor.guard().is_blocked(ip, clock.now_ms()));
    let block = &run.monitor.alert(&alert.id).unwrap().actions[0];
    let (_, reverted) = run.monitor.revert(&block.id, "ops-alice").await.unwrap();
    assert_eq!(reverted.reverted_by.as_deref(), Some("ops-alice"));
    assert!(!run.monitor.guard().is_blocked(ip, clock.now_ms()));
    assert!(
        run.monitor.revert(&block.id, "ops-alice").await.is_err(),
        "reverted twice"
    );
    let notify = &run.monitor.alert(&alert.id).unwrap().actions[2];
    assert!(run.monitor.revert(&notify.id, "ops-alice").await.is_err());

    // Operators acknowledge and close.
    let acked = run
        .monitor
        .set_alert_status(&alert.id, AlertStatus::Acknowledged, "ops-alice", None)
        .unwrap();
    assert_eq!(acked.acknowledged_by.as_deref(), Some("ops-alice"));
    run.monitor
        .set_alert_status(
            &alert.id,
            AlertStatus::Closed,
            "ops-bob",
            Some("blocked upstream".into()),
        )
        .unwrap();
    assert!(run
        .monitor
        .set_alert_status(&alert.id, AlertStatus::Acknowledged, "ops", None)
        .is_err());
    run.stop().await;
    let run = start(dir.path(), MonitorConfig::default(), clock.clone(), creds);
    assert_eq!(
        run.monitor.alert(&alert.id).unwrap().status,
        AlertStatus::Closed
    );
    assert!(
        !run.monitor.guard().is_blocked(ip, clock.now_ms()),
        "a reverted block came back"
    );
    run.stop().await;
}

#[tokio::test]
async fn a_dry_run_playbook_records_what_it_would_do_and_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let creds = Arc::new(Credentials::default());
    let config = MonitorConfig {
        playbooks: vec![Playbook {
            name: "trial".into(),
            kinds: vec![AlertKind::AuthFailureBurst],
            min_severity: portcullis_monitor::Severity::Low,
            actions: vec![Action::SuspendCredential, Action::BlockSource],
            dry_run: true,
            block_minutes: 10,
            throttle_minutes: 10,
            throttle_per_second: 1,
        }],
        ..MonitorConfig::default()
    };
    let run = start(dir.path(), config, clock.clone(), creds.clone());
    let feed = run.monitor.feed();
    for _ in 0..20 {
        feed.observe(refused(&clock, "acme-client"));
        clock.advance_ms(50);
    }
    let alert = eventually("the burst alert", || {
        run.monitor
            .list_alerts(&AlertFilter::default())
            .into_iter()
            .find(|a| a.kind == AlertKind::AuthFailureBurst && a.client_id.is_some())
    })
    .await;
    assert!(alert.actions.iter().all(|a| a.dry_run));
    assert_eq!(alert.actions.len(), 2);
    assert!(creds.suspended.lock().unwrap().is_empty());
    assert!(!run
        .monitor
        .guard()
        .is_blocked("203.0.113.50".parse().unwrap(), clock.now_ms()));
    let text = run.monitor.render_metrics();
    assert!(
        text.contains(
            "portcullis_responses_total{action=\"suspend_credential\",dry_run=\"true\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(
        "portcullis_tokens_refused_total{environment=\"production\",reason=\"invalid_client\"} 20"
    ));
    run.stop().await;
}

#[tokio::test]
async fn reverting_one_alert_leaves_another_alerts_block_in_force_and_alerts_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let creds = Arc::new(Credentials::default());
    let config = MonitorConfig {
        max_alerts_per_minute: 3,
        ..MonitorConfig::default()
    };
    let run = start(dir.path(), config, clock.clone(), creds);
    let feed = run.monitor.feed();
    // 30 failures as one client (a burst from the address, blocking, and the client's own
    // burst), then 5 more clients: stuffing, blocking the same address again.
    for i in 0..35 {
        let client = if i < 30 {
            "x".to_string()
        } else {
            format!("guess-{i}")
        };
        feed.observe(refused(&clock, &client));
        clock.advance_ms(100);
    }
    let alerts = eventually("three alerts", || {
        let a = run.monitor.list_alerts(&AlertFilter::default());
        (a.len() == 3).then_some(a)
    })
    .await;
    let blocks: Vec<String> = alerts
        .iter()
        .flat_map(|a| a.actions.iter())
        .filter(|a| a.action == "block_source")
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(blocks.len(), 2, "{alerts:#?}");
    let ip = "203.0.113.50".parse().unwrap();
    run.monitor.revert(&blocks[0], "ops").await.unwrap();
    assert!(
        run.monitor.guard().is_blocked(ip, clock.now_ms()),
        "the other alert's block stands"
    );
    run.monitor.revert(&blocks[1], "ops").await.unwrap();
    assert!(!run.monitor.guard().is_blocked(ip, clock.now_ms()));

    // A fourth alert within the minute is over the cap: counted, not raised.
    for _ in 0..30 {
        let mut e = refused(&clock, "y");
        e.source_ip = Some("198.51.100.7".into());
        feed.observe(e);
    }
    let text = eventually("the suppressed count", || {
        let t = run.monitor.render_metrics();
        (!t.contains("portcullis_alerts_suppressed_total 0")).then_some(t)
    })
    .await;
    assert!(text.contains("portcullis_alerts_unresolved 3"), "{text}");
    run.stop().await;
}
