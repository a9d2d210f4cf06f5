use super::*;

const GOOD: &str = r#"
data_dir = "data"
[tls]
dev_pki_dir = "data/pki"
[admin]
listen = "127.0.0.1:9443"
[sandbox_bank]
listen = "127.0.0.1:9080"
[[environments]]
name = "production"
listen = "127.0.0.1:8443"
upstream_url = "builtin:sandbox-bank"
"#;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    let c: Config = toml::from_str(text).map_err(|e| ConfigErrors(vec![e.to_string()]))?;
    c.validate()?;
    Ok(c)
}

#[test]
fn a_minimal_config_is_valid_with_documented_defaults() {
    let c = parse(GOOD).unwrap();
    let env = &c.environments[0];
    assert_eq!(env.token_lifetime_seconds, 300);
    assert_eq!(env.upstream_max_connections, 1024);
    assert_eq!(env.client_certificates, ClientCertificates::Optional);
    assert_eq!(c.limits.max_body_bytes, 1024 * 1024);
    assert!(c.store_url().starts_with("sqlite://"));
}

#[test]
fn unknown_keys_are_named() {
    let err = parse(&GOOD.replace("[admin]", "[admin]\nlisten_port = 1"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `listen_port`"), "{err}");
    let err = parse(&GOOD.replace("name = \"production\"", "name = \"staging\""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("staging"), "{err}");
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let bad = GOOD
        .replace(
            "upstream_url = \"builtin:sandbox-bank\"",
            r#"upstream_url = "ftp://x"
issuer = "http://plain"
token_lifetime_seconds = 86400
[limits]
max_headers = 2"#,
        )
        .replace("listen = \"127.0.0.1:9080\"", "listen = \"127.0.0.1:9443\"");
    let err = parse(&bad).unwrap_err();
    let text = err.to_string();
    for expected in [
        "environments[0].upstream_url",
        "environments[0].issuer",
        "environments[0].token_lifetime_seconds: 86400 is outside 30..=3600",
        "limits.max_headers",
        "sandbox_bank.listen: 127.0.0.1:9443 is used by another listener",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(err.0.len(), 5, "{text}");
}

#[test]
fn tls_needs_one_source_and_client_ca_for_mtls() {
    let err = parse(&GOOD.replace("dev_pki_dir = \"data/pki\"", ""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("tls: set either dev_pki_dir"), "{err}");
    let both = GOOD.replace(
        "dev_pki_dir = \"data/pki\"",
        "dev_pki_dir = \"x\"\ncert_file = \"a\"\nkey_file = \"b\"",
    );
    assert!(parse(&both).is_err());
}

#[test]
fn duplicate_environments_and_bad_operations_are_refused() {
    let dup = format!("{GOOD}\n[[environments]]\nname = \"production\"\nlisten = \"127.0.0.1:8444\"\nupstream_url = \"http://127.0.0.1:1\"\n");
    assert!(parse(&dup)
        .unwrap_err()
        .to_string()
        .contains("environments[1].name: production is configured twice"));
    let ops = format!(
        "{GOOD}\n[[operations]]\nid = \"x\"\nmethod = \"GET\"\npath = \"/a/../b\"\nscope = \"s\"\n"
    );
    assert!(parse(&ops).unwrap_err().to_string().contains("operations"));
}

#[test]
fn the_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/portcullis.toml");
    Config::load(&path).unwrap();
}

#[test]
fn bound_tokens_need_client_certificates() {
    let bad = GOOD.replace(
        "upstream_url = \"builtin:sandbox-bank\"",
        "upstream_url = \"builtin:sandbox-bank\"\nrequire_bound_tokens = true\nclient_certificates = \"none\"",
    );
    let err = parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("environments[0].require_bound_tokens: needs client_certificates"),
        "{err}"
    );
    let ok = GOOD.replace(
        "upstream_url = \"builtin:sandbox-bank\"",
        "upstream_url = \"builtin:sandbox-bank\"\nrequire_bound_tokens = true",
    );
    assert!(parse(&ok).unwrap().environments[0].require_bound_tokens);
}

#[test]
fn plain_http_listeners_cannot_ask_for_client_certificates() {
    let bad = GOOD.replace(
        "upstream_url = \"builtin:sandbox-bank\"",
        "upstream_url = \"builtin:sandbox-bank\"\ntransport = \"http\"\nclient_certificates = \"optional\"",
    );
    let err = parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("environments[0].transport: plain HTTP carries no client certificate"),
        "{err}"
    );
    let ok = GOOD.replace(
        "upstream_url = \"builtin:sandbox-bank\"",
        "upstream_url = \"builtin:sandbox-bank\"\ntransport = \"http\"\nclient_certificates = \"none\"",
    );
    assert_eq!(
        parse(&ok).unwrap().environments[0].transport,
        ListenerTransport::Http
    );
    let unknown = GOOD.replace(
        "upstream_url = \"builtin:sandbox-bank\"",
        "upstream_url = \"builtin:sandbox-bank\"\ntransport = \"quic\"",
    );
    assert!(parse(&unknown)
        .unwrap_err()
        .to_string()
        .contains("transport"));
}

#[test]
fn audit_settings_are_checked() {
    let bad = format!("{GOOD}\n[audit]\nqueue_capacity = 1\ncommit_delay_microseconds = 99999\nwritten_sync_interval_milliseconds = 0\nretention_days = 0\narchive_dir = \"x\"\n");
    let err = parse(&bad).unwrap_err().to_string();
    for expected in [
        "audit.queue_capacity: 1 is outside",
        "audit.commit_delay_microseconds",
        "audit.written_sync_interval_milliseconds: 0 is outside 1..=1000",
        "audit.retention_days: 0 is outside",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
    let ok = format!("{GOOD}\n[audit]\nretention_days = 365\narchive_dir = \"archive\"\n");
    assert_eq!(parse(&ok).unwrap().audit.retention_days, Some(365));
    let lonely = format!("{GOOD}\n[audit]\narchive_dir = \"archive\"\n");
    assert!(parse(&lonely)
        .unwrap_err()
        .to_string()
        .contains("audit.archive_dir: has no effect"));
}

/// The commented grant in the example is what an operator will copy: it must be valid.
#[test]
fn the_example_grant_is_valid_once_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/portcullis.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("# [[grants]]").unwrap();
    let grant: String = text[start..]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .collect::<Vec<_>>()
        .join("\n");
    let config = parse(&format!("{GOOD}\n{grant}\n")).unwrap();
    let g = &config.grants[0];
    assert_eq!(g.partner_id, "finch-lending");
    assert_eq!(g.policy.fields["getCustomerKyc"].mask.len(), 3);
    assert_eq!(g.policy.allowed_sources.len(), 2);
}

#[test]
fn traffic_settings_and_stated_grants_are_checked() {
    let bad = format!(
        "{GOOD}\n[traffic]\ntrusted_proxies = [\"10.0.0.0/33\"]\ndefault_rate_limit = {{ per_second = 0, burst = 1 }}\nmax_json_depth = 1000\n\n[[grants]]\npartner_id = \"p\"\nenvironment = \"production\"\nscopes = [\"a b\"]\npolicy.fields.listAccounts.allow = [\"Data..x\"]\n\n[[grants]]\npartner_id = \"p\"\nenvironment = \"production\"\nscopes = []\n"
    );
    let err = parse(&bad).unwrap_err().to_string();
    for expected in [
        "traffic.trusted_proxies[0]",
        "traffic.default_rate_limit: per_second",
        "traffic.max_json_depth",
        "grants[0].scopes[0]",
        "grants[0].policy.fields.listAccounts.allow[0]",
        "grants[1]: a second grant for p in production",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
    let typo = format!("{GOOD}\n[[grants]]\npartner_id = \"p\"\nenvironment = \"production\"\nscopes = [\"account:read\"]\npolicy.fields.listAcounts.allow = [\"*\"]\n");
    let err = parse(&typo).unwrap_err().to_string();
    assert!(
        err.contains("grants[0].policy.fields.listAcounts: no operation"),
        "{err}"
    );
    assert!(
        err.contains("grants[0].scopes[0]: no operation needs \"account:read\""),
        "{err}"
    );
    let unknown = format!("{GOOD}\n[[grants]]\npartner_id = \"p\"\nenvironment = \"production\"\nscopes = []\npolicy.rate = 1\n");
    assert!(parse(&unknown)
        .unwrap_err()
        .to_string()
        .contains("unknown field `rate`"));
}

#[test]
fn audit_acknowledgement_is_durable_unless_chosen_otherwise() {
    assert_eq!(
        parse(GOOD).unwrap().audit.acknowledge,
        portcullis_audit::Acknowledge::Durable
    );
    let written = format!("{GOOD}\n[audit]\nacknowledge = \"written\"\n");
    assert_eq!(
        parse(&written).unwrap().audit.acknowledge,
        portcullis_audit::Acknowledge::Written
    );
    let typo = format!("{GOOD}\n[audit]\nacknowledge = \"fsync\"\n");
    let err = parse(&typo).unwrap_err().to_string();
    assert!(err.contains("durable") && err.contains("written"), "{err}");
}

#[test]
fn governance_settings_are_checked() {
    let bad = format!(
        "{GOOD}\n[governance]\ncredential_max_lifetime_days = 0\nrotation_overlap_hours = 500\nreview_grace_days = 400\nsweep_interval_seconds = 0\n"
    );
    let err = parse(&bad).unwrap_err().to_string();
    for expected in [
        "governance.credential_max_lifetime_days: 0 is outside 1..=366",
        "governance.rotation_overlap_hours: 500 exceeds rotation_overlap_max_hours 168",
        "governance.review_grace_days: 400 is outside 0..=365",
        "governance.sweep_interval_seconds: must be at least 1",
    ] {
        assert!(err.contains(expected), "{expected} missing from: {err}");
    }
    let typo = format!("{GOOD}\n[governance]\nreview_days = 3\n");
    assert!(parse(&typo)
        .unwrap_err()
        .to_string()
        .contains("review_days"));
}

#[test]
fn monitor_settings_are_checked_and_named() {
    let cases = [
        (
            "[monitor.spike]\nfactor = 0.5\n",
            "monitor.spike.factor is 0.5",
        ),
        (
            "[monitor.operation_mix]\ndistance = 1.5\n",
            "monitor.operation_mix.distance",
        ),
        (
            "[monitor.auth_failures]\nwindow_seconds = 0\n",
            "monitor.auth_failures.window_seconds must be at least 1",
        ),
        (
            "[monitor.enumeration]\ndenied_share_percent = 150\n",
            "denied_share_percent is 150",
        ),
        (
            "[monitor.geography]\nregions = [{ region = \"GB\", cidrs = [\"10.0.0.0/40\"] }]\n",
            "monitor.geography.regions[0].cidrs[0]",
        ),
        (
            "[[monitor.webhooks]]\nurl = \"https://soc.example\"\nsecret_file = \"k\"\n",
            "monitor.webhooks[0].ca_file is needed",
        ),
        (
            "[[monitor.webhooks]]\nurl = \"ftp://soc.example\"\nsecret_file = \"k\"\n",
            "must start with http:// or https://",
        ),
        (
            "[[monitor.playbooks]]\nname = \"p\"\nkinds = []\nactions = [\"notify\"]\n",
            "monitor.playbooks[0]: playbook \"p\" names no alert kinds",
        ),
        ("[monitor]\nthreshold = 3\n", "unknown field `threshold`"),
        (
            "[[monitor.playbooks]]\nname = \"p\"\nkinds = [\"spike\"]\nactions = [\"notify\"]\n",
            "unknown variant `spike`",
        ),
    ];
    for (section, expected) in cases {
        let err = parse(&format!("{GOOD}\n{section}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{section}: {err}");
    }
}

#[test]
fn the_upstream_connection_limit_is_checked_and_named() {
    for (value, ok) in [("0", false), ("1", true), ("65536", true), ("65537", false)] {
        let text = GOOD.replace(
            "upstream_url = \"builtin:sandbox-bank\"",
            &format!("upstream_url = \"builtin:sandbox-bank\"\nupstream_max_connections = {value}"),
        );
        match parse(&text) {
            Ok(c) => {
                assert!(ok, "{value} accepted");
                assert_eq!(
                    c.environments[0].upstream_max_connections.to_string(),
                    value
                );
            }
            Err(e) => {
                assert!(!ok, "{value} refused: {e}");
                let expected = format!(
                    "environments[0].upstream_max_connections: {value} is outside 1..=65536"
                );
                assert!(e.to_string().contains(&expected), "{e}");
            }
        }
    }
}
