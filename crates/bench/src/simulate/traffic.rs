//! Simulated partners: each gets its token as it really would (mTLS or private_key_jwt),
//! refreshes it before expiry, and calls a realistic mix of operations over a few
//! keep-alive connections at a steady rate, with the odd request for an account it does
//! not have.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use super::lane::{Answer, Lane};

/// A tiny xorshift generator: reproducible choices without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Clone)]
pub struct Partner {
    pub partner_id: String,
    pub client_id: String,
    pub environment: String,
    pub gateway: SocketAddr,
    pub issuer: String,
    pub tls: Arc<rustls::ClientConfig>,
    /// private_key_jwt key; `None` for mTLS clients.
    pub key_file: Option<PathBuf>,
    /// Requests per second of ordinary traffic.
    pub rate: f64,
    /// Operations and their weights.
    pub mix: Vec<(&'static str, u32)>,
    pub accounts: Vec<String>,
    pub customer_id: String,
    /// The partner's egress address.
    pub source: IpAddr,
}

impl Partner {
    /// A fresh access token over `lane`.
    pub async fn token(&self, lane: &mut Lane) -> Result<String, String> {
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        match &self.key_file {
            Some(key) => {
                let assertion =
                    portcullis::token_cmd::client_assertion(&self.client_id, &self.issuer, key)?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion", assertion));
            }
            None => form.push(("client_id", self.client_id.clone())),
        }
        let body = serde_urlencoded::to_string(&form).map_err(|e| e.to_string())?;
        let answer = lane
            .send(
                http::Method::POST,
                "/oauth2/token",
                &[("content-type", "application/x-www-form-urlencoded".into())],
                Bytes::from(body),
            )
            .await?;
        if answer.status != 200 {
            return Err(format!(
                "{}: token refused ({}): {}",
                self.client_id,
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
        let v: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
        v["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "no access_token in the answer".into())
    }

    pub fn lane(&self, source: IpAddr) -> Lane {
        Lane::new(self.gateway, source, self.tls.clone())
    }

    /// The path of one request of the ordinary mix; now and then for an unknown account.
    pub fn pick(&self, rng: &mut Rng) -> String {
        let total: u32 = self.mix.iter().map(|(_, w)| w).sum();
        let mut at = (rng.next() % u64::from(total.max(1))) as u32;
        let mut op = self.mix[0].0;
        for (name, weight) in &self.mix {
            if at < *weight {
                op = name;
                break;
            }
            at -= weight;
        }
        let account = if rng.below(400) == 0 {
            format!("acc-{:08x}", rng.next() as u32)
        } else {
            self.accounts[rng.below(self.accounts.len())].clone()
        };
        match op {
            "listAccounts" => "/accounts".into(),
            "getAccountBalances" => format!("/accounts/{account}/balances"),
            "getAccountTransactions" => format!("/accounts/{account}/transactions"),
            "getCustomerKyc" => format!("/customers/{}/kyc", self.customer_id),
            _ => format!("/accounts/{account}"),
        }
    }
}

/// Counts answers by status.
#[derive(Default)]
pub struct Tally {
    pub sent: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    pub errors: AtomicU64,
}

impl Tally {
    pub fn note(&self, result: &Result<Answer, String>) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(a) => {
                *self
                    .statuses
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(a.status)
                    .or_default() += 1
            }
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A partner's access token, shared by its connections. Like a well-behaved client, a
/// partner whose token request fails waits before asking again, and only one connection
/// asks at a time.
#[derive(Default)]
struct TokenState {
    token: String,
    obtained_at: Option<Instant>,
    next_attempt: Option<Instant>,
}

enum Step {
    Use(String),
    Fetch,
    Wait,
}

impl TokenState {
    fn next_step(&mut self) -> Step {
        let now = Instant::now();
        // Tokens last five minutes; renew after four.
        let fresh = self
            .obtained_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(240));
        if !self.token.is_empty() && fresh {
            return Step::Use(self.token.clone());
        }
        if self.next_attempt.is_some_and(|t| now < t) {
            return Step::Wait;
        }
        self.next_attempt = Some(now + Duration::from_secs(10));
        Step::Fetch
    }

    fn obtained(&mut self, token: &str) {
        self.token = token.to_string();
        self.obtained_at = Some(Instant::now());
        self.next_attempt = None;
    }
}

/// Runs a partner's ordinary traffic until `stop`; skips its turns while `paused`.
pub async fn ordinary(
    partner: Partner,
    lanes: usize,
    seed: u64,
    tally: Arc<Tally>,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let token = Arc::new(Mutex::new(TokenState::default()));
    let mut tasks = Vec::new();
    for i in 0..lanes {
        let (partner, tally, paused, stop, token) = (
            partner.clone(),
            tally.clone(),
            paused.clone(),
            stop.clone(),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lane = partner.lane(partner.source);
            let mut rng = Rng::new(seed.wrapping_add(i as u64 * 7919));
            let period = Duration::from_secs_f64(lanes as f64 / partner.rate);
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                if paused.load(Ordering::Relaxed) {
                    continue;
                }
                let next = token.lock().unwrap_or_else(|p| p.into_inner()).next_step();
                let bearer = match next {
                    Step::Use(t) => t,
                    Step::Wait => continue,
                    Step::Fetch => match partner.token(&mut lane).await {
                        Ok(t) => {
                            token.lock().unwrap_or_else(|p| p.into_inner()).obtained(&t);
                            t
                        }
                        Err(e) => {
                            tracing::warn!(client = %partner.client_id, error = %e, "token not obtained; retrying in 10 s");
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    },
                };
                let path = partner.pick(&mut rng);
                let result = lane
                    .send(
                        http::Method::GET,
                        &path,
                        &[("authorization", format!("Bearer {bearer}"))],
                        Bytes::new(),
                    )
                    .await;
                if result.as_ref().is_ok_and(|a| a.status == 401) {
                    // Suspended, revoked or expired early: get a new one.
                    token.lock().unwrap_or_else(|p| p.into_inner()).token.clear();
                }
                tally.note(&result);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
