//! The real `portcullis` binary, as a user runs it: the demo writes demo.json and serves,
//! `portcullis token` gets tokens from it, SIGTERM stops it cleanly; `serve` runs the
//! example configuration exactly as checked in.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not happen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("process did not stop within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn token(args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("token").args(args).output().unwrap()
}

#[test]
fn demo_serves_the_walkthrough_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["demo", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let demo_json = dir.path().join("demo.json");
    wait_for("demo.json", || demo_json.exists());
    let demo: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&demo_json).unwrap()).unwrap();
    for key in [
        "environments",
        "admin_url",
        "admin_token",
        "ca_cert",
        "partners",
        "bank_url",
        "sample",
    ] {
        assert!(demo.get(key).is_some(), "demo.json lacks {key}");
    }
    for env in ["production", "sandbox"] {
        for key in ["gateway_url", "token_url", "issuer", "jwks_url"] {
            assert!(
                demo["environments"][env][key].is_string(),
                "demo.json lacks environments.{env}.{key}"
            );
        }
    }
    for path in [
        &demo["ca_cert"],
        &demo["partners"][0]["client_cert"],
        &demo["partners"][1]["private_key"],
    ] {
        assert!(
            Path::new(path.as_str().unwrap()).is_absolute()
                && Path::new(path.as_str().unwrap()).exists(),
            "{path}"
        );
    }
    let demo_arg = demo_json.to_str().unwrap();
    for client in [
        "acme-payments-prod",
        "finch-lending-prod",
        "nova-budgeting-sandbox",
    ] {
        let out = token(&["--demo", demo_arg, "--client-id", client]);
        assert!(
            out.status.success(),
            "{client}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t = String::from_utf8(out.stdout).unwrap();
        assert_eq!(t.trim().split('.').count(), 3, "{client}: {t}");
    }
    // Asking for a scope that was not granted fails with the OAuth error, exit code 1.
    let out = token(&[
        "--demo",
        demo_arg,
        "--client-id",
        "finch-lending-prod",
        "--scope",
        "payments:write",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_scope"));

    let status = terminate(child);
    assert!(status.success(), "demo exited with {status}");
    // Its store, PKI and token survive for the next start.
    assert!(dir.path().join("portcullis.db").exists() && dir.path().join("pki/ca.pem").exists());
}

#[test]
fn serve_runs_the_example_config_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/portcullis.toml");
    let config = dir.path().join("portcullis.toml");
    std::fs::copy(&example, &config).unwrap();

    let check = Command::new(BIN)
        .args(["serve", "--check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let admin_token = dir.path().join("data/admin-token");
    wait_for("the bootstrap admin token", || admin_token.exists());
    let ca = dir.path().join("data/pki/ca.pem");
    wait_for("the gateway", || {
        Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(&ca)
            .arg("https://127.0.0.1:18443/.well-known/oauth-authorization-server")
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    let status = terminate(child);
    assert!(status.success(), "serve exited with {status}");
}

#[test]
fn serve_reports_every_config_problem_and_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "data_dir = \"d\"\n[tls]\n[admin]\nlisten = \"127.0.0.1:0\"\n[[environments]]\nname = \"production\"\nlisten = \"127.0.0.1:0\"\nupstream_url = \"builtin:sandbox-bank\"\ntoken_lifetime_seconds = 5\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "tls: set either dev_pki_dir",
        "environments[0].upstream_url",
        "environments[0].token_lifetime_seconds",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}
