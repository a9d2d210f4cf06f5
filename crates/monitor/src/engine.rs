//! The monitor at run time: takes events from the gateways without making them wait,
//! feeds metrics and detectors, turns findings into alerts, runs the playbooks (containment
//! first, then the record), and keeps alerts and incidents for the admin API.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_audit::{AuditEvent, AuditLog, EventKind};
use portcullis_core::clock::Clock;
use portcullis_policy::RateLimit;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::alert::{ActionTaken, Alert, AlertKind, AlertStatus, Finding, Severity, Subject};
use crate::config::MonitorConfig;
use crate::detect::{AccessHours, Detectors, RegionTable};
use crate::guard::Guard;
use crate::incident::{Incident, IncidentUpdate};
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::otlp::OtlpExporter;
use crate::playbook::{default_playbooks, Action, Playbook};
use crate::webhook::Webhook;

/// What the monitor cannot do alone: change credentials in the store, and read contracts.
#[async_trait]
pub trait Responder: Send + Sync {
    async fn suspend_credential(&self, client_id: &str) -> Result<(), String>;
    async fn reinstate_credential(&self, client_id: &str) -> Result<(), String>;
    /// Contract access hours by partner, for the off-hours detector.
    async fn access_hours(&self) -> HashMap<String, AccessHours>;
}

/// What each gateway holds: hands an event over, never waits. When the monitor is behind,
/// the event is counted and skipped (the audit log still has it).
#[derive(Clone)]
pub struct EventFeed {
    tx: mpsc::Sender<AuditEvent>,
    dropped: Arc<AtomicU64>,
}

/// The most events the engine takes from its queue in one turn.
const EVENT_BATCH: usize = 64;

impl EventFeed {
    pub fn observe(&self, event: AuditEvent) {
        if self.tx.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Failed(String),
}

#[derive(Default)]
struct Records {
    alerts: BTreeMap<String, Alert>,
    incidents: BTreeMap<String, Incident>,
    last_raised: HashMap<(AlertKind, Subject), i64>,
    /// When the alerts of the last minute were raised, for the rate cap.
    raised_recently: std::collections::VecDeque<i64>,
    suppressed: u64,
    /// Actions being reverted now: a second revert of the same one waits its turn.
    reverting: std::collections::HashSet<String>,
}

/// Filters for listing alerts.
#[derive(Debug, Default, Clone)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub kind: Option<AlertKind>,
    pub partner_id: Option<String>,
    pub min_severity: Option<Severity>,
    pub since_ms: Option<i64>,
    pub limit: usize,
}

pub struct Monitor {
    config: MonitorConfig,
    playbooks: Vec<Playbook>,
    guard: Arc<Guard>,
    feed: EventFeed,
    records: Mutex<Records>,
    metrics: Mutex<Metrics>,
    journal: Journal,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    responder: Arc<dyn Responder>,
    webhooks: Vec<Webhook>,
    /// Alerts closed since the engine last looked: their detector state is forgotten.
    closed: Mutex<Vec<Alert>>,
    any_closed: AtomicBool,
    traces: Option<Mutex<OtlpExporter>>,
}

/// Who the monitor's own actions are recorded as.
pub const MONITOR_ACTOR: &str = "monitor";

impl Monitor {
    /// Opens the monitor's records in `dir`, re-applies containment that is still in
    /// force, and starts the engine task, which stops when `shutdown` turns true.
    pub fn start(
        config: MonitorConfig,
        dir: PathBuf,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        responder: Arc<dyn Responder>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(Arc<Self>, JoinHandle<()>), String> {
        config.validate()?;
        let regions = RegionTable::from_config(&config.geography)?;
        let webhooks = config
            .webhooks
            .iter()
            .enumerate()
            .map(|(i, w)| Webhook::from_config(w, &format!("monitor.webhooks[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let playbooks = if config.playbooks.is_empty() {
            default_playbooks()
        } else {
            config.playbooks.clone()
        };
        let traces = config
            .tracing
            .as_ref()
            .map(OtlpExporter::from_config)
            .transpose()?
            .map(Mutex::new);
        let (journal, loaded) = Journal::open(&dir)?;
        let guard = Arc::new(Guard::default());
        let now = clock.now_ms();
        for alert in loaded.alerts.values() {
            for a in &alert.actions {
                reapply(&guard, a, now);
            }
        }
        let (tx, mut rx) = mpsc::channel(config.queue_capacity);
        let mut detectors = Detectors::new(&config, regions);
        let monitor = Arc::new(Self {
            config,
            playbooks,
            guard,
            feed: EventFeed {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            records: Mutex::new(Records {
                alerts: loaded.alerts,
                incidents: loaded.incidents,
                ..Records::default()
            }),
            metrics: Mutex::new(Metrics::default()),
            journal,
            audit,
            clock,
            responder,
            webhooks,
            closed: Mutex::new(Vec::new()),
            any_closed: AtomicBool::new(false),
            traces,
        });
        let engine = monitor.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            let mut export = tokio::time::interval(Duration::from_secs(1));
            // Events are taken as many as are queued at once: one turn of the loop (its
            // timers polled, its locks taken) per batch rather than per request.
            let mut batch = Vec::with_capacity(EVENT_BATCH);
            loop {
                tokio::select! {
                    received = rx.recv_many(&mut batch, EVENT_BATCH) => {
                        if received == 0 {
                            return;
                        }
                        {
                            let mut metrics = engine.metrics();
                            batch.iter().for_each(|event| metrics.record(event));
                        }
                        if let Some(traces) = &engine.traces {
                            let mut traces = traces.lock().unwrap_or_else(|p| p.into_inner());
                            batch.iter().for_each(|event| traces.record(event));
                        }
                        for event in batch.drain(..) {
                            // Per event: an alert closed while a finding was being raised
                            // is forgotten before the next event is judged.
                            if engine.any_closed.swap(false, Ordering::AcqRel) {
                                let closed = std::mem::take(&mut *engine.closed.lock().unwrap_or_else(|p| p.into_inner()));
                                closed.iter().for_each(|a| detectors.forget(a));
                            }
                            for finding in detectors.observe(&event) {
                                engine.raise(finding).await;
                            }
                        }
                    }
                    _ = export.tick() => engine.export_traces(),
                    _ = tick.tick() => {
                        detectors.set_access_hours(engine.responder.access_hours().await);
                        engine.guard.sweep(engine.clock.now_ms());
                    }
                    _ = shutdown.changed() => return,
                }
            }
        });
        Ok((monitor, task))
    }

    pub fn feed(&self) -> EventFeed {
        self.feed.clone()
    }

    pub fn guard(&self) -> Arc<Guard> {
        self.guard.clone()
    }

    /// Sends the spans buffered since the last export, in the background.
    fn export_traces(&self) {
        let Some(traces) = &self.traces else { return };
        let Some((sender, request)) = traces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_request()
        else {
            return;
        };
        tokio::spawn(async move {
            match sender.send(request).await {
                Ok(status) if (200..300).contains(&status) => {}
                Ok(status) => tracing::warn!(status, "trace collector refused a batch"),
                Err(e) => tracing::warn!(error = %e, "trace collector not reached"),
            }
        });
    }

    fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn metrics(&self) -> MutexGuard<'_, Metrics> {
        self.metrics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns a finding into an alert unless the same one was raised within the cooldown,
    /// then runs the matching playbooks.
    pub async fn raise(&self, finding: Finding) {
        let now = self.clock.now_ms();
        {
            let mut r = self.records();
            let key = (finding.kind, finding.subject.clone());
            let cooldown = (self.config.cooldown_seconds as i64).saturating_mul(1000);
            if r.last_raised.get(&key).is_some_and(|&t| now - t < cooldown) {
                return;
            }
            // However many subjects an attacker rotates through, alerts (and their
            // fsyncs and audit entries) are capped per minute; the excess is counted.
            while r
                .raised_recently
                .front()
                .is_some_and(|&t| t <= now - 60_000)
            {
                r.raised_recently.pop_front();
            }
            if r.raised_recently.len() >= self.config.max_alerts_per_minute {
                r.suppressed += 1;
                return;
            }
            r.raised_recently.push_back(now);
            r.last_raised.insert(key, now);
        }
        let mut alert = Alert::from_finding(new_id(), finding, now);
        tracing::warn!(alert_id = %alert.id, kind = alert.kind.as_str(), severity = alert.severity.as_str(), summary = %alert.summary, "alert raised");
        // Each action once, from the first playbook that names it; containment first.
        let mut planned: Vec<(Action, &Playbook)> = Vec::new();
        for playbook in self.playbooks.iter().filter(|p| p.matches(&alert)) {
            for action in &playbook.actions {
                if !planned.iter().any(|(a, _)| a == action) {
                    planned.push((*action, playbook));
                }
            }
        }
        planned.sort_by_key(|(a, _)| match a {
            Action::BlockSource | Action::SuspendCredential | Action::Throttle => 0,
            Action::OpenIncident => 1,
            Action::Notify => 2,
        });
        for (action, playbook) in planned {
            let taken = self.act(action, playbook, &mut alert, now).await;
            self.metrics().response(&taken.action, taken.dry_run);
            alert.actions.push(taken);
        }
        self.metrics()
            .alert_raised(alert.kind.as_str(), alert.severity.as_str());
        if let Err(e) = self.journal.alert(&alert) {
            tracing::error!(error = %e, "alert not stored");
        }
        self.records()
            .alerts
            .insert(alert.id.clone(), alert.clone());
        self.record_alert(&alert).await;
        if alert
            .actions
            .iter()
            .any(|a| a.action == Action::Notify.as_str() && !a.dry_run)
        {
            self.notify(&alert);
        }
    }

    async fn act(
        &self,
        action: Action,
        playbook: &Playbook,
        alert: &mut Alert,
        now: i64,
    ) -> ActionTaken {
        let minutes = |m: u32| now + i64::from(m) * 60_000;
        let until_ms = match action {
            Action::Throttle => Some(minutes(playbook.throttle_minutes)),
            Action::BlockSource => Some(minutes(playbook.block_minutes)),
            _ => None,
        };
        let target = match action {
            Action::Notify => Ok(format!("{} webhook(s)", self.webhooks.len())),
            Action::Throttle => alert.partner_id.clone().ok_or("the alert names no partner"),
            Action::SuspendCredential => alert
                .client_id
                .clone()
                .ok_or("the alert names no credential"),
            Action::BlockSource => alert
                .source_ip
                .clone()
                .ok_or("the alert names no source address"),
            Action::OpenIncident => Ok(new_id()),
        };
        let mut taken = ActionTaken {
            id: new_id(),
            action: action.as_str().to_string(),
            target: target.clone().unwrap_or_default(),
            dry_run: playbook.dry_run,
            at_ms: now,
            until_ms,
            per_second: (action == Action::Throttle).then_some(playbook.throttle_per_second),
            reverted_by: None,
            error: None,
        };
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                taken.error = Some(e.to_string());
                return taken;
            }
        };
        if playbook.dry_run {
            tracing::info!(alert_id = %alert.id, action = action.as_str(), %target, playbook = %playbook.name, "dry run: not acted on");
            return taken;
        }
        let result = match action {
            Action::Throttle => {
                let limit = RateLimit {
                    per_second: playbook.throttle_per_second,
                    burst: playbook.throttle_per_second,
                };
                self.guard
                    .throttle_partner(&target, limit, until_ms.unwrap_or(now));
                Ok(())
            }
            Action::BlockSource => match target.parse::<IpAddr>() {
                Ok(ip) => {
                    self.guard.block(ip, until_ms.unwrap_or(now));
                    Ok(())
                }
                Err(_) => Err(format!("{target} is not an IP address")),
            },
            Action::SuspendCredential => self.responder.suspend_credential(&target).await,
            Action::OpenIncident => {
                let mut incident = Incident::open(
                    target.clone(),
                    alert.summary.clone(),
                    alert.severity,
                    &alert.id,
                    alert.partner_id.clone(),
                    alert.raised_at_ms,
                    MONITOR_ACTOR,
                );
                let contained = alert
                    .actions
                    .iter()
                    .filter(|a| a.error.is_none() && !a.dry_run)
                    .map(|a| format!("{} {}", a.action, a.target))
                    .collect::<Vec<_>>();
                if !contained.is_empty() {
                    let _ = incident.apply(
                        IncidentUpdate {
                            stage: Some("contained".into()),
                            note: Some(format!("automated: {}", contained.join("; "))),
                            ..IncidentUpdate::default()
                        },
                        MONITOR_ACTOR,
                        now,
                    );
                }
                alert.incident_id = Some(target.clone());
                self.store_incident(incident)
            }
            Action::Notify => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!(alert_id = %alert.id, action = action.as_str(), %target, error = %e, "playbook action failed");
            taken.error = Some(e);
        }
        taken
    }

    fn store_incident(&self, incident: Incident) -> Result<(), String> {
        self.journal.incident(&incident)?;
        self.records()
            .incidents
            .insert(incident.id.clone(), incident);
        Ok(())
    }

    /// The alert and each action taken, in the audit log.
    async fn record_alert(&self, alert: &Alert) {
        let now = self.clock.now_ms();
        let mut events = vec![AuditEvent::by_admin(
            now,
            EventKind::AdminChange,
            MONITOR_ACTOR,
            "monitor.alert",
            BTreeMap::from([
                ("alert_id".to_string(), alert.id.clone()),
                ("kind".to_string(), alert.kind.as_str().to_string()),
                ("severity".to_string(), alert.severity.as_str().to_string()),
                ("subject".to_string(), subject_text(&alert.subject)),
            ]),
        )];
        for a in &alert.actions {
            let mut target = BTreeMap::from([
                ("alert_id".to_string(), alert.id.clone()),
                ("action_id".to_string(), a.id.clone()),
                ("target".to_string(), a.target.clone()),
                ("dry_run".to_string(), a.dry_run.to_string()),
            ]);
            if let Some(until) = a.until_ms {
                target.insert("until_ms".into(), until.to_string());
            }
            if let Some(e) = &a.error {
                target.insert("error".into(), e.clone());
            }
            events.push(AuditEvent::by_admin(
                now,
                EventKind::AdminChange,
                MONITOR_ACTOR,
                &format!("monitor.{}", a.action),
                target,
            ));
        }
        for event in events {
            if let Err(e) = self.audit.append(&event).await {
                tracing::error!(error = %e, action = %event.action, "monitor action not recorded in the audit log");
            }
        }
    }

    fn notify(&self, alert: &Alert) {
        let body = crate::webhook::body(alert);
        let now_s = self.clock.now();
        for webhook in self
            .webhooks
            .iter()
            .filter(|w| alert.severity >= w.min_severity)
        {
            let request = webhook.request(&body, now_s);
            let sender = webhook.sender();
            let alert_id = alert.id.clone();
            tokio::spawn(async move {
                match sender.send(request).await {
                    Ok(status) if (200..300).contains(&status) => {}
                    Ok(status) => tracing::warn!(%alert_id, status, "webhook refused the alert"),
                    Err(e) => tracing::warn!(%alert_id, error = %e, "webhook not reached"),
                }
            });
        }
    }

    pub fn list_alerts(&self, filter: &AlertFilter) -> Vec<Alert> {
        let r = self.records();
        let mut out: Vec<Alert> = r
            .alerts
            .values()
            .filter(|a| filter.status.is_none_or(|s| a.status == s))
            .filter(|a| filter.kind.is_none_or(|k| a.kind == k))
            .filter(|a| filter.min_severity.is_none_or(|s| a.severity >= s))
            .filter(|a| filter.since_ms.is_none_or(|t| a.raised_at_ms >= t))
            .filter(|a| {
                filter
                    .partner_id
                    .as_ref()
                    .is_none_or(|p| a.partner_id.as_ref() == Some(p))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| b.raised_at_ms.cmp(&a.raised_at_ms).then(a.id.cmp(&b.id)));
        out.truncate(if filter.limit == 0 {
            1000
        } else {
            filter.limit
        });
        out
    }

    pub fn alert(&self, id: &str) -> Result<Alert, MonitorError> {
        self.records()
            .alerts
            .get(id)
            .cloned()
            .ok_or_else(|| MonitorError::NotFound(format!("no alert {id}")))
    }

    /// Moves an alert to acknowledged or closed.
    pub fn set_alert_status(
        &self,
        id: &str,
        status: AlertStatus,
        by: &str,
        note: Option<String>,
    ) -> Result<Alert, MonitorError> {
        let now = self.clock.now_ms();
        let mut r = self.records();
        let alert = r
            .alerts
            .get_mut(id)
            .ok_or_else(|| MonitorError::NotFound(format!("no alert {id}")))?;
        match (alert.status, status) {
            (AlertStatus::Closed, _) => {
                return Err(MonitorError::Conflict(format!(
                    "alert {id} is already closed"
                )))
            }
            (AlertStatus::Acknowledged, AlertStatus::Acknowledged) => {
                return Err(MonitorError::Conflict(format!(
                    "alert {id} is already acknowledged"
                )))
            }
            (_, AlertStatus::Open) => {
                return Err(MonitorError::Invalid("an alert cannot be reopened".into()))
            }
            _ => {}
        }
        let mut updated = alert.clone();
        updated.status = status;
        updated.updated_at_ms = now;
        match status {
            AlertStatus::Acknowledged => updated.acknowledged_by = Some(by.to_string()),
            AlertStatus::Closed => updated.closed_by = Some(by.to_string()),
            AlertStatus::Open => {}
        }
        if note.is_some() {
            updated.note = note;
        }
        self.journal.alert(&updated).map_err(MonitorError::Failed)?;
        *alert = updated.clone();
        if status == AlertStatus::Closed {
            // Closed means dealt with: if it happens again, say so at once, judged on
            // what happens from now on.
            r.last_raised
                .remove(&(updated.kind, updated.subject.clone()));
            self.closed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(updated.clone());
            self.any_closed.store(true, Ordering::Release);
        }
        Ok(updated)
    }

    /// Undoes an automated action: lifts a block or throttle, reinstates a credential.
    pub async fn revert(
        &self,
        action_id: &str,
        by: &str,
    ) -> Result<(Alert, ActionTaken), MonitorError> {
        let (alert_id, action, others) = {
            let mut r = self.records();
            let (alert_id, action) = r
                .alerts
                .values()
                .find_map(|a| {
                    a.actions
                        .iter()
                        .find(|x| x.id == action_id)
                        .map(|x| (a.id.clone(), x.clone()))
                })
                .ok_or_else(|| MonitorError::NotFound(format!("no action {action_id}")))?;
            if let Some(who) = &action.reverted_by {
                return Err(MonitorError::Conflict(format!(
                    "action {action_id} was already reverted by {who}"
                )));
            }
            if action.dry_run || action.error.is_some() {
                return Err(MonitorError::Conflict(format!(
                    "action {action_id} changed nothing (dry run or failed); there is nothing to revert"
                )));
            }
            if !r.reverting.insert(action_id.to_string()) {
                return Err(MonitorError::Conflict(format!(
                    "action {action_id} is being reverted right now"
                )));
            }
            // Other alerts' actions of the same kind on the same target still stand.
            let others: Vec<ActionTaken> = r
                .alerts
                .values()
                .flat_map(|a| a.actions.iter())
                .filter(|x| {
                    x.id != action_id
                        && x.action == action.action
                        && x.target == action.target
                        && x.reverted_by.is_none()
                        && !x.dry_run
                        && x.error.is_none()
                })
                .cloned()
                .collect();
            (alert_id, action, others)
        };
        let undone = self.undo(&action, &others).await;
        let mut r = self.records();
        r.reverting.remove(action_id);
        undone?;
        let alert = r
            .alerts
            .get_mut(&alert_id)
            .ok_or_else(|| MonitorError::NotFound(format!("no alert {alert_id}")))?;
        let mut updated = alert.clone();
        let mut reverted = action.clone();
        for a in updated.actions.iter_mut().filter(|a| a.id == action_id) {
            a.reverted_by = Some(by.to_string());
            reverted = a.clone();
        }
        updated.updated_at_ms = self.clock.now_ms();
        self.journal.alert(&updated).map_err(MonitorError::Failed)?;
        *alert = updated.clone();
        Ok((updated, reverted))
    }

    /// Lifts what an action put in place, unless another alert's action on the same target
    /// still holds it.
    async fn undo(&self, action: &ActionTaken, others: &[ActionTaken]) -> Result<(), MonitorError> {
        let now = self.clock.now_ms();
        match action.action.as_str() {
            "throttle" => {
                self.guard.unthrottle(&action.target);
                others.iter().for_each(|o| reapply(&self.guard, o, now));
            }
            "block_source" => {
                if let Ok(ip) = action.target.parse::<IpAddr>() {
                    self.guard.unblock(ip);
                }
                others.iter().for_each(|o| reapply(&self.guard, o, now));
            }
            "suspend_credential" => {
                if let Some(other) = others.first() {
                    return Err(MonitorError::Conflict(format!(
                        "{} is also suspended by action {}; revert that one too (or instead)",
                        action.target, other.id
                    )));
                }
                self.responder
                    .reinstate_credential(&action.target)
                    .await
                    .map_err(MonitorError::Failed)?;
            }
            other => {
                return Err(MonitorError::Conflict(format!(
                    "a {other} action cannot be reverted"
                )))
            }
        }
        Ok(())
    }

    pub fn list_incidents(&self, open_only: bool) -> Vec<Incident> {
        let mut out: Vec<Incident> = self
            .records()
            .incidents
            .values()
            .filter(|i| !open_only || i.status == crate::incident::IncidentStatus::Open)
            .cloned()
            .collect();
        out.sort_by_key(|i| std::cmp::Reverse(i.created_at_ms));
        out
    }

    pub fn incident(&self, id: &str) -> Result<Incident, MonitorError> {
        self.records()
            .incidents
            .get(id)
            .cloned()
            .ok_or_else(|| MonitorError::NotFound(format!("no incident {id}")))
    }

    /// Opens an incident by hand, linking existing alerts.
    pub fn open_incident(
        &self,
        title: String,
        severity: Severity,
        alert_ids: Vec<String>,
        by: &str,
    ) -> Result<Incident, MonitorError> {
        let now = self.clock.now_ms();
        let mut r = self.records();
        for id in &alert_ids {
            if !r.alerts.contains_key(id) {
                return Err(MonitorError::Invalid(format!("alert_ids: no alert {id}")));
            }
        }
        let first = alert_ids.first().cloned().unwrap_or_default();
        let mut incident = Incident::open(new_id(), title, severity, &first, None, now, by);
        incident.alert_ids = alert_ids;
        self.journal
            .incident(&incident)
            .map_err(MonitorError::Failed)?;
        for id in &incident.alert_ids {
            if let Some(a) = r.alerts.get_mut(id) {
                if a.incident_id.is_none() {
                    a.incident_id = Some(incident.id.clone());
                    self.journal.alert(a).map_err(MonitorError::Failed)?;
                }
            }
        }
        r.incidents.insert(incident.id.clone(), incident.clone());
        Ok(incident)
    }

    pub fn update_incident(
        &self,
        id: &str,
        update: IncidentUpdate,
        by: &str,
    ) -> Result<Incident, MonitorError> {
        let now = self.clock.now_ms();
        let mut r = self.records();
        let incident = r
            .incidents
            .get_mut(id)
            .ok_or_else(|| MonitorError::NotFound(format!("no incident {id}")))?;
        let mut updated = incident.clone();
        updated
            .apply(update, by, now)
            .map_err(MonitorError::Invalid)?;
        self.journal
            .incident(&updated)
            .map_err(MonitorError::Failed)?;
        *incident = updated.clone();
        Ok(updated)
    }

    /// Prometheus text, with the gauges and totals read now.
    pub fn render_metrics(&self) -> String {
        use crate::metrics::ReadNow::{Gauge, Total};
        let now = self.clock.now_ms();
        let containment = self.guard.containment(now);
        let open_alerts = self
            .records()
            .alerts
            .values()
            .filter(|a| a.status != AlertStatus::Closed)
            .count();
        let refusals = self.audit.refusals();
        let traces_dropped = self
            .traces
            .as_ref()
            .map_or(0, |t| t.lock().unwrap_or_else(|p| p.into_inner()).dropped);
        let read_now = [
            Gauge("portcullis_audit_queue_depth", "Audit entries reserved or waiting to be made durable.", self.audit.queue_depth() as f64),
            Total("portcullis_audit_shed_total", "Requests refused with 503 because the audit log was behind (no entry: none could be taken).", refusals.no_slot),
            Total("portcullis_audit_withheld_total", "Answers withheld (503) because their audit entry could not be recorded.", refusals.not_recorded),
            Total("portcullis_monitor_events_skipped_total", "Events the monitor skipped because it was behind (they are still in the audit log).", self.feed.dropped.load(Ordering::Relaxed)),
            Gauge("portcullis_alerts_unresolved", "Alerts open or acknowledged.", open_alerts as f64),
            Total("portcullis_alerts_suppressed_total", "Alerts not raised because more than monitor.max_alerts_per_minute were due.", self.records().suppressed),
            Gauge("portcullis_blocked_sources", "Source addresses blocked now.", containment.blocked_sources.len() as f64),
            Gauge("portcullis_throttled_partners", "Partners throttled now.", containment.throttled_partners.len() as f64),
            Total("portcullis_trace_spans_dropped_total", "Spans dropped because the trace collector was away.", traces_dropped),
        ];
        self.metrics().render(&read_now)
    }
}

/// Puts a block or throttle that outlived a restart back in force.
fn reapply(guard: &Guard, a: &ActionTaken, now: i64) {
    if a.dry_run || a.error.is_some() || a.reverted_by.is_some() {
        return;
    }
    let Some(until) = a.until_ms.filter(|u| *u > now) else {
        return;
    };
    match a.action.as_str() {
        "block_source" => {
            if let Ok(ip) = a.target.parse() {
                guard.block(ip, until);
            }
        }
        "throttle" => {
            let per_second = a.per_second.unwrap_or(1);
            guard.throttle_partner(
                &a.target,
                RateLimit {
                    per_second,
                    burst: per_second,
                },
                until,
            );
        }
        _ => {}
    }
}

fn subject_text(s: &Subject) -> String {
    match s {
        Subject::Partner(p) => format!("partner:{p}"),
        Subject::Client(c) => format!("client:{c}"),
        Subject::Source(a) => format!("source:{a}"),
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
