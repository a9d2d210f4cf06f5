//! `portcullis-bench simulate`: replays ordinary traffic for the demo's partners against a
//! running `portcullis demo`, then one attack at a time while that traffic goes on, and
//! reports for each attack how long the monitor took from its onset to an alert and to
//! containment (the first answer that refuses the attacker), and every alert raised during
//! ordinary traffic (false positives).
//!
//! Set-up goes through the admin API like an operator's: each partner's rate limits and
//! quota are raised for the run (maker-checker: the demo's approver approves), so that
//! any refusal the simulator sees comes from the monitor, not from ordinary limits.

mod lane;
mod traffic;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use portcullis_tls::HttpsClient;
use serde_json::{json, Value};

use lane::{Answer, Lane};
use traffic::{ordinary, Partner, Rng, Tally};

#[derive(clap::Args)]
pub struct Args {
    /// The demo.json `portcullis demo` wrote.
    #[arg(long)]
    demo: PathBuf,
    /// Seconds of ordinary traffic before the attacks (the monitor learns, and any alert
    /// raised counts as a false positive).
    #[arg(long, default_value_t = 600)]
    normal_seconds: u64,
    /// Ordinary requests per second, shared by the partners.
    #[arg(long, default_value_t = 320.0)]
    rate: f64,
    /// Append the report to this markdown file.
    #[arg(long)]
    results: Option<PathBuf>,
}

/// Loopback addresses the demo's region table places in the UK (home: each partner has
/// its own egress address there, from 127.0.0.11 on), Singapore and the US.
const HOME: [u8; 4] = [127, 0, 0, 11];
const SINGAPORE: [u8; 4] = [127, 0, 0, 70];
const UNITED_STATES: [u8; 4] = [127, 0, 0, 150];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Admin {
    url: String,
    token: String,
    approver: String,
    client: HttpsClient,
}

impl Admin {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: &str,
    ) -> Result<(u16, Value), String> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {token}"));
        let body = match body {
            Some(b) => {
                request = request.header("content-type", "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let answer = self
            .client
            .send(request.body(Full::new(body)).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| format!("admin API {method} {path}: {e}"))?;
        let value = serde_json::from_slice(answer.body()).unwrap_or(Value::Null);
        Ok((answer.status().as_u16(), value))
    }

    async fn as_admin(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let (status, value) = self.call(method, path, body, &self.token).await?;
        if !(200..300).contains(&status) {
            return Err(format!("admin API {method} {path}: {status} {value}"));
        }
        Ok(value)
    }

    async fn alerts_since(&self, since_ms: i64) -> Result<Vec<Value>, String> {
        let v = self
            .as_admin(
                "GET",
                &format!("/admin/v1/alerts?since_ms={since_ms}&limit=1000"),
                None,
            )
            .await?;
        Ok(v["alerts"].as_array().cloned().unwrap_or_default())
    }

    /// Raises the partner's limits and quota for the run, with the approver's approval
    /// in production.
    async fn open_capacity(&self, partner_id: &str, environment: &str) -> Result<(), String> {
        let path = format!("/admin/v1/partners/{partner_id}/grants/{environment}");
        let grant = self.as_admin("GET", &path, None).await?;
        let mut policy = grant["policy"].clone();
        policy["rate_limit"] = json!({"per_second": 5000, "burst": 5000});
        policy["partner_rate_limit"] = json!({"per_second": 5000, "burst": 5000});
        policy["quota"] = json!({"per_day": 100_000_000u64});
        let mut body = json!({"scopes": grant["scopes"], "policy": policy});
        if environment == "production" {
            body["justification"] =
                json!("traffic simulation: capacity so only the monitor refuses");
            let mut why = serde_json::Map::new();
            for scope in grant["scopes"].as_array().cloned().unwrap_or_default() {
                if let Some(s) = scope.as_str() {
                    why.insert(
                        s.to_string(),
                        json!("part of the partner's simulated traffic"),
                    );
                }
            }
            body["justifications"] = Value::Object(why);
        }
        let answer = self.as_admin("PUT", &path, Some(body)).await?;
        if let Some(id) = answer["id"]
            .as_str()
            .filter(|_| environment == "production")
        {
            let (status, v) = self
                .call(
                    "POST",
                    &format!("/admin/v1/approvals/{id}/approve"),
                    Some(json!({"justification": "simulation capacity reviewed"})),
                    &self.approver,
                )
                .await?;
            if status != 200 || v["status"] != "approved" {
                return Err(format!("approving {partner_id}'s capacity: {status} {v}"));
            }
        }
        Ok(())
    }

    /// Undoes what the monitor did about these alerts and closes them.
    async fn clean_up(&self, alerts: &[Value]) -> Result<(), String> {
        for alert in alerts {
            for action in alert["actions"].as_array().cloned().unwrap_or_default() {
                let reversible = ["throttle", "block_source", "suspend_credential"]
                    .contains(&action["action"].as_str().unwrap_or(""));
                if reversible
                    && action["dry_run"] == false
                    && action["error"].is_null()
                    && action["reverted_by"].is_null()
                {
                    let id = action["id"].as_str().unwrap_or_default();
                    self.as_admin(
                        "POST",
                        &format!("/admin/v1/responses/{id}/revert"),
                        Some(json!({"justification": "simulated attack over"})),
                    )
                    .await?;
                }
            }
            if alert["status"] != "closed" {
                let id = alert["id"].as_str().unwrap_or_default();
                self.as_admin(
                    "POST",
                    &format!("/admin/v1/alerts/{id}/close"),
                    Some(json!({"note": "simulation"})),
                )
                .await?;
            }
        }
        Ok(())
    }
}

fn address(url: &str) -> Result<SocketAddr, String> {
    url.trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{url}: {e}"))
}

/// What one attack produced.
struct Outcome {
    scenario: &'static str,
    expected: &'static [&'static str],
    onset_ms: i64,
    alert_ms: Option<i64>,
    contained_ms: Option<i64>,
    sent: u64,
    alerts: Vec<Value>,
}

/// One attack: who sends what, how fast, and which answer shows it was contained.
struct Scenario {
    label: &'static str,
    expected: &'static [&'static str],
    lanes: Vec<Lane>,
    rate_per_lane: f64,
    max: Duration,
    request: MakeRequest,
    contained: fn(&Answer) -> bool,
}

impl Scenario {
    async fn run(self, admin: &Admin) -> Result<Outcome, String> {
        eprintln!("simulate: {}", self.label);
        let (onset, contained, sent) = attack(
            self.lanes,
            self.rate_per_lane,
            self.max,
            self.request,
            self.contained,
        )
        .await;
        finish(admin, self.label, self.expected, onset, contained, sent).await
    }
}

/// One attack request: method, path, headers, body.
type AttackRequest = (http::Method, String, Vec<(&'static str, String)>, Bytes);
type MakeRequest = Arc<dyn Fn(&mut Rng) -> AttackRequest + Send + Sync>;

/// Sends attack requests from `lanes` at `rate_per_lane` each until an answer shows
/// containment (plus a second, to see it hold) or `max` passes.
async fn attack(
    lanes: Vec<Lane>,
    rate_per_lane: f64,
    max: Duration,
    request: MakeRequest,
    contained: fn(&Answer) -> bool,
) -> (i64, Option<i64>, u64) {
    let onset = now_ms();
    let contained_at = Arc::new(AtomicI64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, mut lane) in lanes.into_iter().enumerate() {
        let (request, contained_at, sent) = (request.clone(), contained_at.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(now_ms() as u64 + i as u64);
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_per_lane));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let at = contained_at.load(Ordering::Relaxed);
                if started.elapsed() > max || (at > 0 && now_ms() - at > 1000) {
                    return;
                }
                let (method, path, headers, body) = request(&mut rng);
                sent.fetch_add(1, Ordering::Relaxed);
                if let Ok(answer) = lane.send(method, &path, &headers, body).await {
                    if contained(&answer) {
                        let _ = contained_at.compare_exchange(
                            0,
                            now_ms(),
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        );
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let at = contained_at.load(Ordering::SeqCst);
    (onset, (at > 0).then_some(at), sent.load(Ordering::Relaxed))
}

/// The first alert of an expected kind raised since `onset_ms`, waiting up to 15 s.
async fn alerts_for(
    admin: &Admin,
    onset_ms: i64,
    expected: &[&str],
) -> Result<(Option<i64>, Vec<Value>), String> {
    let waited = Instant::now();
    loop {
        let alerts = admin.alerts_since(onset_ms - 1000).await?;
        let first = alerts
            .iter()
            .filter(|a| expected.contains(&a["kind"].as_str().unwrap_or("")))
            .filter_map(|a| a["raised_at_ms"].as_i64())
            .min();
        if first.is_some() || waited.elapsed() > Duration::from_secs(15) {
            return Ok((first, alerts));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn refused_for(answer: &Answer, status: u16, marker: &str) -> bool {
    answer.status == status
        && (marker.is_empty()
            || String::from_utf8_lossy(&answer.body).contains(marker)
            || answer
                .headers
                .get("ratelimit-policy")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains(marker)))
}

pub async fn run(args: Args) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&args.demo).map_err(|e| format!("{}: {e}", args.demo.display()))?;
    let demo: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.demo.display()))?;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let ca = PathBuf::from(s(&demo["ca_cert"]));
    let plain_tls = portcullis_tls::client_config(&ca, None).map_err(|e| e.to_string())?;
    let admin = Admin {
        url: s(&demo["admin_url"]),
        token: s(&demo["admin_token"]),
        approver: s(&demo["approver_token"]),
        client: HttpsClient::new(plain_tls.clone()),
    };

    // The partners as demo.json describes them, with a share of the rate each.
    let shares = [
        ("acme-payments", 0.375),
        ("finch-lending", 0.375),
        ("nova-budgeting", 0.25),
    ];
    let mut partners = Vec::new();
    for p in demo["partners"].as_array().cloned().unwrap_or_default() {
        let environment = s(&p["environment"]);
        let env = &demo["environments"][&environment];
        let cert = p["client_cert"].as_str().map(PathBuf::from);
        let key = p["client_key"].as_str().map(PathBuf::from);
        let tls = match (&cert, &key) {
            (Some(c), Some(k)) => {
                portcullis_tls::client_config(&ca, Some((c.as_path(), k.as_path())))
                    .map_err(|e| e.to_string())?
            }
            _ => plain_tls.clone(),
        };
        let partner_id = s(&p["partner_id"]);
        let share = shares
            .iter()
            .find(|(id, _)| *id == partner_id)
            .map_or(0.2, |(_, s)| *s);
        let scopes: Vec<String> = p["scopes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(s)
            .collect();
        let mut mix = vec![
            ("listAccounts", 10),
            ("getAccount", 30),
            ("getAccountBalances", 40),
        ];
        if scopes.iter().any(|x| x == "transactions:read") {
            mix.push(("getAccountTransactions", 15));
        }
        if scopes.iter().any(|x| x == "kyc:read") {
            mix.push(("getCustomerKyc", 10));
        }
        partners.push(Partner {
            partner_id: partner_id.clone(),
            client_id: s(&p["client_id"]),
            environment: environment.clone(),
            gateway: address(&s(&env["gateway_url"]))?,
            issuer: s(&env["issuer"]),
            tls,
            key_file: p["private_key"].as_str().map(PathBuf::from),
            rate: args.rate * share,
            mix,
            accounts: Vec::new(),
            customer_id: s(&demo["sample"]["customer_id"]),
            source: IpAddr::from([HOME[0], HOME[1], HOME[2], HOME[3] + partners.len() as u8]),
        });
    }
    eprintln!("simulate: raising the partners' limits for the run (approved by the demo approver)");
    for p in &partners {
        admin.open_capacity(&p.partner_id, &p.environment).await?;
    }
    // Each partner's own accounts, as it would list them.
    for p in &mut partners {
        let mut lane = p.lane(p.source);
        let token = p.token(&mut lane).await?;
        let answer = lane
            .send(
                http::Method::GET,
                "/accounts",
                &[("authorization", format!("Bearer {token}"))],
                Bytes::new(),
            )
            .await?;
        let v: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        p.accounts = v["Data"]["Account"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a["AccountId"].as_str().map(str::to_string))
            .take(30)
            .collect();
        if p.accounts.is_empty() {
            p.accounts.push(s(&demo["sample"]["account_id"]));
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut running = Vec::new();
    let mut controls = Vec::new();
    for (i, p) in partners.iter().enumerate() {
        let tally = Arc::new(Tally::default());
        let paused = Arc::new(AtomicBool::new(false));
        let lanes = ((p.rate / 30.0).ceil() as usize).max(2);
        running.push(tokio::spawn(ordinary(
            p.clone(),
            lanes,
            1000 + i as u64,
            tally.clone(),
            paused.clone(),
            stop.clone(),
        )));
        controls.push((p.partner_id.clone(), tally, paused));
    }
    let normal_start = now_ms();
    eprintln!(
        "simulate: {} s of ordinary traffic at {} requests/s",
        args.normal_seconds, args.rate
    );
    let mut last_report = Instant::now();
    let normal_until = Instant::now() + Duration::from_secs(args.normal_seconds);
    while Instant::now() < normal_until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            let sent: u64 = controls
                .iter()
                .map(|(_, t, _)| t.sent.load(Ordering::Relaxed))
                .sum();
            eprintln!(
                "simulate: {:.0} s, {sent} requests, {} alerts",
                (now_ms() - normal_start) as f64 / 1000.0,
                admin.alerts_since(normal_start).await?.len()
            );
        }
    }
    let normal_end = now_ms();
    let false_positives = admin.alerts_since(normal_start).await?;
    let normal_sent: u64 = controls
        .iter()
        .map(|(_, t, _)| t.sent.load(Ordering::Relaxed))
        .sum();
    let normal_rate = normal_sent as f64 / ((normal_end - normal_start) as f64 / 1000.0);
    // What each partner saw during ordinary traffic alone.
    let normal_lines: Vec<String> = controls
        .iter()
        .map(|(partner, tally, _)| {
            format!(
                "- {partner}: {} requests, answers {:?}, transport or token errors {}",
                tally.sent.load(Ordering::Relaxed),
                tally.statuses(),
                tally.errors.load(Ordering::Relaxed),
            )
        })
        .collect();
    admin.clean_up(&false_positives).await?;

    let partner = |id: &str| {
        partners
            .iter()
            .find(|p| p.partner_id == id)
            .cloned()
            .ok_or(format!("demo.json has no {id}"))
    };
    let acme = partner("acme-payments")?;
    let finch = partner("finch-lending")?;
    let mut outcomes = Vec::new();

    // 1. Credential stuffing against the token endpoint from one address abroad.
    // No client certificate: the attacker has none.
    let lane = Lane::new(
        finch.gateway,
        IpAddr::from(UNITED_STATES),
        plain_tls.clone(),
    );
    outcomes.push(
        Scenario {
            label: "credential stuffing (token endpoint, 25/s from a US address)",
            expected: &["credential_stuffing", "auth_failure_burst"],
        lanes: vec![lane],
        rate_per_lane: 25.0,
        max: Duration::from_secs(15),
        request: Arc::new(|rng: &mut Rng| {
            let form = format!(
                "grant_type=client_credentials&client_id=stolen-{0:x}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.e30.{0:x}",
                rng.next()
            );
            (http::Method::POST, "/oauth2/token".to_string(), vec![("content-type", "application/x-www-form-urlencoded".to_string())], Bytes::from(form))
        }),
        contained: |a| refused_for(a, 403, "source-blocked"),
        }
        .run(&admin)
        .await?,
    );

    // 2. Enumeration: Finch's credential walks account ids it does not hold.
    let token = finch.token(&mut finch.lane(finch.source)).await?;
    let bearer = format!("Bearer {token}");
    outcomes.push(
        Scenario {
            label: "enumeration (random account ids, 40/s)",
            expected: &["enumeration"],
            lanes: vec![finch.lane(finch.source)],
            rate_per_lane: 40.0,
            max: Duration::from_secs(15),
            request: Arc::new(move |rng: &mut Rng| {
                (
                    http::Method::GET,
                    format!("/accounts/acc-{:08x}", rng.next() as u32),
                    vec![("authorization", bearer.clone())],
                    Bytes::new(),
                )
            }),
            contained: |a| a.status == 401,
        }
        .run(&admin)
        .await?,
    );

    // 3. A scraping spike: Acme pulls transactions at about six times its usual rate.
    let token = acme.token(&mut acme.lane(acme.source)).await?;
    let bearer = format!("Bearer {token}");
    let accounts = acme.accounts.clone();
    let spike_lanes: Vec<Lane> = (0..8).map(|_| acme.lane(acme.source)).collect();
    let per_lane = acme.rate * 6.0 / 8.0;
    outcomes.push(
        Scenario {
            label: "scraping spike (transactions at 6x the usual rate)",
            expected: &["traffic_spike", "operation_mix"],
            lanes: spike_lanes,
            rate_per_lane: per_lane,
            max: Duration::from_secs(20),
            request: Arc::new(move |rng: &mut Rng| {
                let account = &accounts[rng.below(accounts.len())];
                (
                    http::Method::GET,
                    format!("/accounts/{account}/transactions"),
                    vec![("authorization", bearer.clone())],
                    Bytes::new(),
                )
            }),
            contained: |a| refused_for(a, 429, "containment"),
        }
        .run(&admin)
        .await?,
    );

    // 4. A sudden change of geography: Acme's credential (certificate and token) used
    //    from Singapore.
    let token = acme.token(&mut acme.lane(acme.source)).await?;
    let bearer = format!("Bearer {token}");
    let account = acme.accounts[0].clone();
    outcomes.push(
        Scenario {
            label: "geography change (Acme's credential from Singapore)",
            expected: &["unexpected_region"],
            lanes: vec![acme.lane(IpAddr::from(SINGAPORE))],
            rate_per_lane: 10.0,
            max: Duration::from_secs(15),
            request: Arc::new(move |_: &mut Rng| {
                (
                    http::Method::GET,
                    format!("/accounts/{account}/balances"),
                    vec![("authorization", bearer.clone())],
                    Bytes::new(),
                )
            }),
            contained: |a| a.status == 401,
        }
        .run(&admin)
        .await?,
    );

    // 5. Off-hours use: Finch's contract allows 02:00 to 04:00 from now on, and Finch keeps
    //    calling. Its ordinary traffic pauses while the contract changes, so the onset is
    //    the first call outside the new hours.
    let finch_paused = controls
        .iter()
        .find(|(id, ..)| id == "finch-lending")
        .map(|(_, _, p)| p.clone());
    if let Some(p) = &finch_paused {
        p.store(true, Ordering::Relaxed);
    }
    let hour = (now_ms() / 3_600_000 + 2) % 24;
    let window = format!("{:02}:00-{:02}:00", hour, (hour + 2) % 24);
    let today = time::OffsetDateTime::now_utc().date();
    let contract = |hours: Option<&str>| {
        let mut c = json!({
            "starts_on": today.to_string(),
            "ends_on": (today + time::Duration::days(365)).to_string(),
            "availability_target_percent": 99.9,
            "latency_p95_ms_target": 300,
        });
        if let Some(h) = hours {
            c["access_hours_utc"] = json!(h);
        }
        c
    };
    admin
        .as_admin(
            "PUT",
            "/admin/v1/partners/finch-lending/contract",
            Some(contract(Some(&window))),
        )
        .await?;
    // The monitor reads contracts every five seconds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let token = finch.token(&mut finch.lane(finch.source)).await?;
    let bearer = format!("Bearer {token}");
    let finch_for_attack = finch.clone();
    outcomes.push(
        Scenario {
            label: "off-hours use (Finch outside its contract hours)",
            expected: &["off_hours"],
            lanes: vec![finch.lane(finch.source), finch.lane(finch.source)],
            rate_per_lane: finch.rate / 2.0,
            max: Duration::from_secs(15),
            request: Arc::new(move |rng: &mut Rng| {
                (
                    http::Method::GET,
                    finch_for_attack.pick(rng),
                    vec![("authorization", bearer.clone())],
                    Bytes::new(),
                )
            }),
            contained: |a| a.status == 401,
        }
        .run(&admin)
        .await?,
    );
    admin
        .as_admin(
            "PUT",
            "/admin/v1/partners/finch-lending/contract",
            Some(contract(None)),
        )
        .await?;
    if let Some(p) = &finch_paused {
        p.store(false, Ordering::Relaxed);
    }

    stop.store(true, Ordering::Relaxed);
    for r in running {
        let _ = r.await;
    }
    let report = report(
        &args,
        normal_start,
        normal_end,
        normal_rate,
        &false_positives,
        &outcomes,
        &normal_lines,
    );
    println!("{report}");
    if let Some(path) = &args.results {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, format!("{report}\n{old}"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

async fn finish(
    admin: &Admin,
    scenario: &'static str,
    expected: &'static [&'static str],
    onset_ms: i64,
    contained_ms: Option<i64>,
    sent: u64,
) -> Result<Outcome, String> {
    let (alert_ms, alerts) = alerts_for(admin, onset_ms, expected).await?;
    admin.clean_up(&alerts).await?;
    // Let the reinstated credentials and lifted limits reach the gateways.
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(Outcome {
        scenario,
        expected,
        onset_ms,
        alert_ms,
        contained_ms,
        sent,
        alerts,
    })
}

fn seconds(from: i64, to: Option<i64>) -> String {
    to.map_or("not within the run".into(), |t| {
        format!("{:.2} s", (t - from) as f64 / 1000.0)
    })
}

fn report(
    args: &Args,
    normal_start: i64,
    normal_end: i64,
    normal_rate: f64,
    false_positives: &[Value],
    outcomes: &[Outcome],
    normal_lines: &[String],
) -> String {
    let mut out = String::new();
    let date = time::OffsetDateTime::now_utc();
    out.push_str(&format!(
        "## Traffic simulation, {}-{:02}-{:02} {:02}:{:02} UTC\n\n",
        date.year(),
        date.month() as u8,
        date.day(),
        date.hour(),
        date.minute()
    ));
    out.push_str(&format!(
        "`portcullis-bench simulate --demo {} --normal-seconds {} --rate {}` against `portcullis demo`.\n\n",
        args.demo.display(),
        args.normal_seconds,
        args.rate
    ));
    out.push_str(&format!(
        "Ordinary traffic: {:.0} s at {normal_rate:.0} requests/s from {} partners; alerts raised meanwhile (false positives): **{}**.\n\n",
        (normal_end - normal_start) as f64 / 1000.0,
        normal_lines.len(),
        false_positives.len()
    ));
    for a in false_positives {
        out.push_str(&format!(
            "- false positive: {} — {}\n",
            a["kind"], a["summary"]
        ));
    }
    for line in normal_lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\n| scenario | attack requests | onset → alert | onset → contained | within 10 s | alerts raised |\n| --- | ---: | ---: | ---: | --- | --- |\n");
    for o in outcomes {
        let within = o.alert_ms.is_some_and(|t| t - o.onset_ms <= 10_000)
            && o.contained_ms.is_some_and(|t| t - o.onset_ms <= 10_000);
        let kinds: Vec<String> = o
            .alerts
            .iter()
            .map(|a| {
                let actions: Vec<&str> = a["actions"]
                    .as_array()
                    .map(|v| v.iter().filter_map(|x| x["action"].as_str()).collect())
                    .unwrap_or_default();
                format!(
                    "{} ({})",
                    a["kind"].as_str().unwrap_or("?"),
                    actions.join(", ")
                )
            })
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            o.scenario,
            o.sent,
            seconds(o.onset_ms, o.alert_ms),
            seconds(o.onset_ms, o.contained_ms),
            if within { "yes" } else { "**no**" },
            if kinds.is_empty() {
                format!("none of {}", o.expected.join("/"))
            } else {
                kinds.join("; ")
            }
        ));
    }
    out
}
