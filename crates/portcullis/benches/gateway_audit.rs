//! What the audit log costs the gateway: requests/s through the full pipeline (TLS,
//! token verification, authorization, proxy to the synthetic bank) with every request
//! durably audited, against the same system with the gateway's audit hook off.
//!
//! Keep-alive HTTPS connections, closed loop; runs alternate on/off several times and the
//! medians are compared, because this machine is shared and noisy.
//! `cargo bench -p portcullis --bench gateway_audit` (BENCH_SECONDS, BENCH_ROUNDS).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use portcullis_core::SystemClock;
use rustls_pki_types::ServerName;

/// CPU seconds (user + system) this process has used so far, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

async fn measure(audit_on: bool, connections: usize, seconds: u64) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, demo) =
        portcullis::demo::start_with_config(dir.path(), Arc::new(SystemClock), |c| {
            c.audit.off_for_benchmark = !audit_on;
            // BENCH_COMMIT_DELAY_US tries another commit pacing than the default.
            if let Some(us) = std::env::var("BENCH_COMMIT_DELAY_US")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                c.audit.commit_delay_microseconds = us;
            }
            // BENCH_WRITTEN_SYNC_MS another pace of written acknowledgement's fsyncs.
            if let Some(ms) = std::env::var("BENCH_WRITTEN_SYNC_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                c.audit.written_sync_interval_milliseconds = ms;
            }
            // BENCH_ACK=written answers once entries are written, fsyncing behind.
            if std::env::var("BENCH_ACK").as_deref() == Ok("written") {
                c.audit.acknowledge = portcullis_audit::Acknowledge::Written;
            }
        })
        .await
        .expect("start");
    // The benchmark measures the gateway, not Finch's contract: lift its rate limit and
    // quota (the limiter still runs on every request).
    let mut grant = running
        .store
        .get_grant("finch-lending", portcullis_core::Environment::Production)
        .await
        .expect("grant");
    grant.policy.rate_limit = Some(portcullis_policy::RateLimit {
        per_second: 1_000_000,
        burst: 1_000_000,
    });
    grant.policy.quota = Default::default();
    running.store.put_grant(&grant).await.expect("put grant");
    running.loader.reload().await.expect("reload");
    let token_out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["token", "--demo"])
        .arg(dir.path().join("demo.json"))
        .args(["--client-id", "finch-lending-prod"])
        .output()
        .expect("token");
    let token = String::from_utf8(token_out.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    let gateway = demo["environments"]["production"]["gateway_url"]
        .as_str()
        .expect("url")
        .trim_start_matches("https://")
        .to_string();
    let account = demo["sample"]["account_id"]
        .as_str()
        .expect("account")
        .to_string();
    let tls = portcullis_tls::client_config(
        std::path::Path::new(demo["ca_cert"].as_str().expect("ca")),
        None,
    )
    .expect("tls");

    let done = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (tls, gateway, token, account, done, shed) = (
            tls.clone(),
            gateway.clone(),
            token.clone(),
            account.clone(),
            done.clone(),
            shed.clone(),
        );
        workers.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(&gateway)
                .await
                .expect("connect");
            tcp.set_nodelay(true).ok();
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
                .await
                .expect("tls");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let req = http::Request::get(format!("/accounts/{account}/balances"))
                    .header("host", &gateway)
                    .header("authorization", format!("Bearer {token}"))
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let response = sender.send_request(req).await.expect("send");
                let status = response.status();
                response.into_body().collect().await.expect("body");
                // Written acknowledgement sheds load (503) when fsyncs fall behind: counted
                // apart, never as throughput.
                if status == 503 {
                    shed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                assert_eq!(status, 200);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    for w in workers {
        w.await.expect("worker");
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    eprintln!(
        "  cpu {:.2} s over {:.1} s wall ({:.0}% of 2 cores), {:.2} cpu-s per 10k requests (client, gateway and bank together)",
        cpu,
        started.elapsed().as_secs_f64(),
        cpu / started.elapsed().as_secs_f64() / 2.0 * 100.0,
        cpu / done.load(Ordering::Relaxed).max(1) as f64 * 10_000.0
    );
    let shed = shed.load(Ordering::Relaxed);
    if shed > 0 {
        eprintln!("  {shed} requests shed with 503 (audit log behind)");
    }
    if audit_on {
        let c = running.audit.committed();
        eprintln!(
            "  {} entries in {} group commits: {:.1} per fsync",
            c.entries_since_open,
            c.commits,
            c.entries_since_open as f64 / c.commits.max(1) as f64
        );
    }
    running.shutdown().await;
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (seconds, rounds) = (env("BENCH_SECONDS", 5), env("BENCH_ROUNDS", 3));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("| keep-alive HTTPS connections | audit off, requests/s | audit on, requests/s | on / off |");
    println!("| ---: | ---: | ---: | ---: |");
    // Few connections show the latency an fsync per answer adds; many saturate the
    // gateway and show the throughput cost.
    // BENCH_CONNECTIONS=a,b,... measures other concurrencies.
    let concurrencies: Vec<usize> = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![32, 256]);
    for connections in concurrencies {
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so drift on the machine hits both equally.
            let order = if round % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            // BENCH_ONLY=on|off runs one side only (for profiling).
            let only = std::env::var("BENCH_ONLY").ok();
            for audit_on in order
                .into_iter()
                .filter(|on| only.as_deref().is_none_or(|o| (o == "on") == *on))
            {
                let rate = runtime.block_on(measure(audit_on, connections, seconds));
                eprintln!(
                    "{connections} connections, round {round}: audit {}: {rate:.0} requests/s",
                    if audit_on { "on " } else { "off" }
                );
                if audit_on {
                    on.push(rate)
                } else {
                    off.push(rate)
                }
            }
        }
        if on.is_empty() || off.is_empty() {
            continue;
        }
        let (on, off) = (median(on), median(off));
        println!("| {connections} | {off:.0} | {on:.0} | {:.3} |", on / off);
    }
}
