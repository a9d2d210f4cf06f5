//! The admin CLI as an operator runs it, against a running `portcullis demo`: a new partner
//! goes from proposal to production with `portcullis partners|grants|clients|approvals`
//! alone. Every promotion, the production grant and the production credential wait for a
//! second person (the demo's approver token, `--as-approver`); the partner's own traffic
//! in the sandbox, through `portcullis token` and the sandbox gateway, is the evidence that
//! lets it leave.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use portcullis_core::jose::{Algorithm, JwsSigner};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
const PARTNER: &str = "orbit-savings";
/// What the partner asked for in its use case, and the operation that exercises each.
const SCOPES: [(&str, &str); 2] = [
    ("accounts:read", "/accounts"),
    ("balances:read", "/accounts/{account}/balances"),
];

/// `portcullis demo` in a temporary directory; stopped with SIGTERM when dropped, so a
/// failing assertion does not leave it running.
struct Demo {
    child: Child,
    dir: tempfile::TempDir,
    json: Value,
}

impl Demo {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(BIN)
            .args(["demo", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let file = dir.path().join("demo.json");
        // Owned from here on, so a failure below still stops the process.
        let mut demo = Self {
            child,
            dir,
            json: Value::Null,
        };
        let started = Instant::now();
        while !file.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no demo.json within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        demo.json = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for key in ["admin_url", "admin_token", "approver_token", "ca_cert"] {
            assert!(demo.json[key].is_string(), "demo.json lacks {key}");
        }
        demo
    }

    fn s(&self, pointer: &str) -> String {
        self.json
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("demo.json has no {pointer}"))
            .to_string()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a JSON document for `--file` and returns its path.
    fn write(&self, name: &str, value: &Value) -> String {
        let path = self.file(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Runs `portcullis <args> --demo demo.json`, ambient admin settings removed. Asserts
    /// that neither admin token ever appears in what the CLI prints.
    fn cli(&self, args: &[&str]) -> Run {
        let out = Command::new(BIN)
            .args(args)
            .arg("--demo")
            .arg(self.file("demo.json"))
            .env_remove("PORTCULLIS_ADMIN_URL")
            .env_remove("PORTCULLIS_ADMIN_TOKEN")
            .env_remove("PORTCULLIS_CA_CERT")
            .output()
            .unwrap();
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args: args.join(" "),
        };
        for token in [self.s("/admin_token"), self.s("/approver_token")] {
            assert!(
                !run.stdout.contains(&token) && !run.stderr.contains(&token),
                "`{}` printed an admin token",
                run.args
            );
        }
        run
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.cli(args);
        assert_eq!(run.code, Some(0), "{run}");
        run.stdout
    }

    /// Runs a command that must succeed with `--output json`; returns the API's answer.
    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(&[args, &["--output", "json"][..]].concat());
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("`{}`: not JSON ({e}):\n{stdout}", args.join(" ")))
    }

    /// The second person approves; the change must have been applied.
    fn approve(&self, approval_id: &str) -> Value {
        let decided = self.json(&[
            "approvals",
            "approve",
            approval_id,
            "--justification",
            "evidence reviewed by a second person",
            "--as-approver",
        ]);
        assert_eq!(decided["status"], "approved", "{decided:#}");
        decided
    }

    fn status(&self) -> Value {
        self.json(&["partners", "show", PARTNER])["status"].clone()
    }

    /// Requests a promotion (an approval, 202) in table output, and returns the approval id
    /// the CLI names.
    fn request_transition(&self, to: &str) -> String {
        let stdout = self.ok(&[
            "partners",
            "transition",
            PARTNER,
            "--to",
            to,
            "--justification",
            &format!("{to}: the evidence for this step is recorded"),
        ]);
        approval_id_in(&stdout)
    }

    /// `portcullis token` for a private_key_jwt client of `environment`.
    fn token(&self, client_id: &str, environment: &str, key: &Path) -> String {
        let out = Command::new(BIN)
            .args(["token", "--client-id", client_id, "--token-url"])
            .arg(self.s(&format!("/environments/{environment}/token_url")))
            .arg("--issuer")
            .arg(self.s(&format!("/environments/{environment}/issuer")))
            .arg("--ca-cert")
            .arg(self.s("/ca_cert"))
            .arg("--private-key")
            .arg(key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token for {client_id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A GET through `environment`'s gateway; returns the status.
    fn get(&self, environment: &str, path: &str, token: &str) -> u16 {
        let url = format!(
            "{}{path}",
            self.s(&format!("/environments/{environment}/gateway_url"))
        );
        let tls = portcullis_tls::client_config(Path::new(&self.s("/ca_cert")), None).unwrap();
        let request = http::Request::get(url)
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let response = runtime
            .block_on(portcullis_tls::HttpsClient::new(tls).send(request))
            .unwrap();
        response.status().as_u16()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    args: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`portcullis {}` exited {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

/// The id in the CLI's `approval requested: <id> (...)` line.
fn approval_id_in(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("approval requested: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `approval requested:` line in:\n{stdout}"))
        .to_string()
}

/// A new ES256 key for private_key_jwt: the PEM private key for `portcullis token`, and the
/// JWK set to register, with the RFC 7638 thumbprint as kid (what `portcullis token` uses).
fn partner_key(demo: &Demo, name: &str) -> (PathBuf, String) {
    let (signer, der) = JwsSigner::generate(String::new(), Algorithm::ES256).unwrap();
    let key_file = demo.file(&format!("{name}.pem"));
    portcullis_tls::pki::write_private_key_pem(&key_file, &der).unwrap();
    let public = signer.verifying_key();
    let mut jwk = public.to_jwk();
    jwk["kid"] = json!(public.thumbprint());
    let jwks = demo.write(&format!("{name}.jwks.json"), &json!({"keys": [jwk]}));
    (key_file, jwks)
}

/// The UTC day `offset` days from today, YYYY-MM-DD.
fn day(offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // H. Hinnant's civil_from_days.
    let z = now.div_euclid(86_400) + offset + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A grant of the use case's scopes with every field of their operations, for `--file`.
fn grant(environment: &str) -> Value {
    let justifications: serde_json::Map<String, Value> = SCOPES
        .iter()
        .map(|(scope, _)| {
            (
                scope.to_string(),
                json!(format!("{scope}: needed for budgeting")),
            )
        })
        .collect();
    json!({
        "scopes": SCOPES.iter().map(|(s, _)| s).collect::<Vec<_>>(),
        "justifications": justifications,
        "policy": {"fields": {
            "listAccounts": {"allow": ["*"]},
            "getAccountBalances": {"allow": ["*"]},
        }},
        "justification": format!("{environment} access for the agreed use case"),
    })
}

#[test]
fn a_partner_is_onboarded_to_production_from_the_cli_alone() {
    let demo = Demo::start();
    let account = demo.s("/sample/account_id");

    // 1. The operator proposes the partner and records its use case.
    let created = demo.json(&[
        "partners",
        "create",
        "--id",
        PARTNER,
        "--name",
        "Orbit Savings Ltd",
        "--risk-tier",
        "high",
    ]);
    assert_eq!(created["status"], "proposed", "{created:#}");
    let listed = demo.ok(&["partners", "list"]);
    assert!(listed.starts_with("ID "), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(PARTNER) && l.contains("proposed") && l.contains("high")),
        "{listed}"
    );
    let use_case = demo.write(
        "use-case.json",
        &json!({
            "business_objective": "Show customers their balances across banks",
            "data_elements": ["account list", "balances"],
            "scopes": SCOPES.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            "regulatory_constraints": ["PSD2 AIS consent"],
            "success_criteria": ["balances shown within 2 s"],
        }),
    );
    demo.ok(&["partners", "use-case", "set", PARTNER, "--file", &use_case]);

    // 2. Promotion to due diligence: the requester cannot approve their own request.
    let requested = demo.json(&[
        "partners",
        "transition",
        PARTNER,
        "--to",
        "due_diligence",
        "--justification",
        "use case agreed with the business owner",
    ]);
    assert_eq!(requested["status"], "pending", "{requested:#}");
    assert_eq!(requested["kind"], "transition", "{requested:#}");
    let approval = requested["id"].as_str().unwrap().to_string();
    let own = demo.cli(&[
        "approvals",
        "approve",
        &approval,
        "--justification",
        "approving my own request",
    ]);
    assert_eq!(own.code, Some(1), "{own}");
    let first = own.stderr.lines().next().unwrap_or_default();
    // error: <status> <title>: <detail>, with the API's detail present.
    let (status, rest) = first
        .strip_prefix("error: ")
        .and_then(|e| e.split_once(' '))
        .unwrap_or_else(|| panic!("{own}"));
    assert!(matches!(status, "403" | "409"), "{own}");
    assert!(
        rest.split_once(": ")
            .is_some_and(|(_, d)| !d.trim().is_empty()),
        "{own}"
    );
    assert_eq!(
        demo.json(&["approvals", "show", &approval])["status"],
        "pending"
    );
    demo.approve(&approval);
    assert_eq!(demo.status(), "due_diligence");

    // 3. Due diligence, then the sandbox (the approval id read from the table output).
    let due_diligence = demo.write(
        "due-diligence.json",
        &json!({
            "questionnaire": {"Do you store customer data outside the UK?": "No"},
            "certifications": [
                {"name": "ISO/IEC 27001", "issuer": "BSI", "expires_on": day(365)},
            ],
            "penetration_test": {"date": day(-30), "outcome": "passed", "tester": "NCC Group"},
        }),
    );
    demo.ok(&[
        "partners",
        "due-diligence",
        "set",
        PARTNER,
        "--file",
        &due_diligence,
    ]);
    let approval = demo.request_transition("sandbox");
    demo.approve(&approval);
    assert_eq!(demo.status(), "sandbox");

    // 4. A sandbox grant applies at once; a sandbox credential is created at once (201).
    let sandbox_grant = demo.write("sandbox-grant.json", &grant("sandbox"));
    let applied = demo.json(&[
        "grants",
        "set",
        PARTNER,
        "sandbox",
        "--file",
        &sandbox_grant,
    ]);
    assert_eq!(applied["environment"], "sandbox", "{applied:#}");
    let (sandbox_key, sandbox_jwks) = partner_key(&demo, "sandbox");
    let client = demo.json(&[
        "clients",
        "create",
        "--partner",
        PARTNER,
        "--environment",
        "sandbox",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        &sandbox_jwks,
        "--client-id",
        "orbit-savings-sandbox",
    ]);
    assert_eq!(client["client_id"], "orbit-savings-sandbox", "{client:#}");
    assert_eq!(client["status"], "active", "{client:#}");
    let clients = demo.ok(&["clients", "list", "--partner", PARTNER]);
    assert!(clients.starts_with("CLIENT_ID "), "{clients}");
    assert!(
        clients
            .lines()
            .any(|l| l.starts_with("orbit-savings-sandbox")
                && l.contains("private_key_jwt")
                && l.contains("active")),
        "{clients}"
    );

    // 5. The partner's sandbox traffic: each scope's operation once, and an error it
    // recovers from (an unknown account, then a real one).
    let token = demo.token("orbit-savings-sandbox", "sandbox", &sandbox_key);
    assert_eq!(
        demo.get("sandbox", "/accounts/acc-00000000/balances", &token),
        404
    );
    for (scope, path) in SCOPES {
        let path = path.replace("{account}", &account);
        assert_eq!(
            demo.get("sandbox", &path, &token),
            200,
            "{scope} via {path}"
        );
    }
    let started = Instant::now();
    let evidence = loop {
        let evidence = demo.json(&["partners", "sandbox-evidence", PARTNER]);
        if evidence["sufficient"] == true || started.elapsed() > Duration::from_secs(5) {
            break evidence;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(evidence["sufficient"], true, "{evidence:#}");
    assert_eq!(evidence["scopes_missing"], json!([]), "{evidence:#}");
    let shown = demo.ok(&["partners", "sandbox-evidence", PARTNER]);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("sufficient:") && l.ends_with(" yes")),
        "{shown}"
    );
    assert!(shown.contains("OPERATION "), "{shown}");

    // 6. Security assessment (every finding remediated) and the contract.
    let approval = demo.request_transition("security_assessment");
    demo.approve(&approval);
    assert_eq!(demo.status(), "security_assessment");
    let assessment = demo.write(
        "security-assessment.json",
        &json!({
            "assessor": "Internal security team",
            "completed_on": day(0),
            "summary": "Key handling and token storage reviewed",
            "findings": [{
                "id": "F-1", "severity": "medium", "title": "Verbose error pages",
                "status": "remediated", "remediation": "Generic error pages deployed",
            }],
        }),
    );
    demo.ok(&[
        "partners",
        "security-assessment",
        "set",
        PARTNER,
        "--file",
        &assessment,
    ]);
    let contract = demo.write(
        "contract.json",
        &json!({
            "starts_on": day(0), "ends_on": day(365), "quota_per_day": 10000,
            "availability_target_percent": 99.9, "latency_p95_ms_target": 500,
        }),
    );
    demo.ok(&["partners", "contract", "set", PARTNER, "--file", &contract]);
    let onboarding = demo.json(&["partners", "onboarding", PARTNER]);
    assert_eq!(onboarding["next"], "production", "{onboarding:#}");
    assert_eq!(onboarding["missing"], json!([]), "{onboarding:#}");

    // 7. Production: the promotion, the grant (202) and the credential (202) each need
    // the second person.
    let approval = demo.request_transition("production");
    demo.approve(&approval);
    assert_eq!(demo.status(), "production");

    let production_grant = demo.write("production-grant.json", &grant("production"));
    let requested = demo.json(&[
        "grants",
        "set",
        PARTNER,
        "production",
        "--file",
        &production_grant,
    ]);
    assert_eq!(requested["kind"], "grant", "{requested:#}");
    assert_eq!(requested["status"], "pending", "{requested:#}");
    demo.approve(requested["id"].as_str().unwrap());
    let granted = demo.json(&["grants", "show", PARTNER, "production"]);
    assert_eq!(
        granted["scopes"],
        json!(SCOPES.iter().map(|(s, _)| s).collect::<Vec<_>>()),
        "{granted:#}"
    );

    let (production_key, production_jwks) = partner_key(&demo, "production");
    let requested = demo.json(&[
        "clients",
        "create",
        "--partner",
        PARTNER,
        "--environment",
        "production",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        &production_jwks,
        "--client-id",
        "orbit-savings-prod",
        "--lifetime-days",
        "90",
        "--justification",
        "go-live agreed in the contract",
    ]);
    assert_eq!(requested["kind"], "credential", "{requested:#}");
    demo.approve(requested["id"].as_str().unwrap());
    let client = demo.json(&["clients", "show", "orbit-savings-prod"]);
    assert_eq!(client["status"], "active", "{client:#}");
    assert!(
        client["expires_at"].is_i64(),
        "production credentials expire: {client:#}"
    );

    // 8. The partner calls production.
    let token = demo.token("orbit-savings-prod", "production", &production_key);
    assert_eq!(demo.get("production", "/accounts", &token), 200);

    // Every decision is on record.
    let approvals = demo.ok(&["approvals", "list", "--partner", PARTNER]);
    assert!(approvals.starts_with("ID "), "{approvals}");
    let decided = approvals.lines().filter(|l| l.contains("approved")).count();
    assert_eq!(decided, 6, "{approvals}");
}
