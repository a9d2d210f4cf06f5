//! Arguments to requests, and answers to text, without a network.

use std::path::PathBuf;

use bytes::Bytes;
use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::client::{resolve, url_of, AdminError, Answer, ApiProblem};
use super::render::{self, cell, clean, key_values, table, utc};
use super::*;

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The admin subcommands as `main.rs` mounts them.
#[derive(Subcommand, Debug)]
enum Command {
    Partners(Resource<PartnersCommand>),
    Grants(Resource<GrantsCommand>),
    Clients(Resource<ClientsCommand>),
    Approvals(Resource<ApprovalsCommand>),
    Reviews(Resource<ReviewsCommand>),
    Governance(Resource<GovernanceCommand>),
    Reports(Resource<ReportsCommand>),
}

/// Parses a command line (split at whitespace) after `portcullis`.
fn parse(line: &str) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("portcullis").chain(line.split_whitespace()))
}

fn try_request(line: &str) -> Result<ApiRequest, AdminError> {
    let cli = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    match cli.command {
        Command::Partners(r) => r.command.to_request(),
        Command::Grants(r) => r.command.to_request(),
        Command::Clients(r) => r.command.to_request(),
        Command::Approvals(r) => r.command.to_request(),
        Command::Reviews(r) => r.command.to_request(),
        Command::Governance(r) => r.command.to_request(),
        Command::Reports(r) => r.command.to_request(),
    }
}

fn request(line: &str) -> ApiRequest {
    try_request(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// (method, path, body) of a command line's request.
fn call(line: &str) -> (Method, String, Option<Value>) {
    let r = request(line);
    (r.method, r.path, r.body)
}

fn get(path: &str) -> (Method, String, Option<Value>) {
    (Method::GET, path.to_string(), None)
}

fn usage_error(line: &str) -> ErrorKind {
    match parse(line) {
        Ok(cli) => panic!("{line} parsed: {cli:?}"),
        Err(e) => e.kind(),
    }
}

fn query(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn json_file(dir: &tempfile::TempDir, name: &str, value: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn partner_subcommands_map_to_their_operations() {
    assert_eq!(call("partners list"), get("/admin/v1/partners"));
    assert_eq!(call("partners show acme"), get("/admin/v1/partners/acme"));
    assert_eq!(
        call("partners onboarding acme"),
        get("/admin/v1/partners/acme/onboarding")
    );
    // A value with a space, as a shell passes it.
    let args = [
        "portcullis",
        "partners",
        "create",
        "--id",
        "acme",
        "--name",
        "Acme Ltd",
    ];
    let Command::Partners(r) = Cli::try_parse_from(args).unwrap().command else {
        unreachable!()
    };
    assert_eq!(
        r.command.to_request().unwrap().body,
        Some(json!({"id": "acme", "name": "Acme Ltd"})),
        "without --risk-tier the API's default applies: the field is left out, not null"
    );
    assert_eq!(
        call("partners create --id acme --name Acme --risk-tier high"),
        (
            Method::POST,
            "/admin/v1/partners".into(),
            Some(json!({"id": "acme", "name": "Acme", "risk_tier": "high"}))
        )
    );
    assert_eq!(
        call("partners risk-tier acme --to low --justification audit"),
        (
            Method::PUT,
            "/admin/v1/partners/acme/risk-tier".into(),
            Some(json!({"risk_tier": "low", "justification": "audit"}))
        )
    );
    assert_eq!(
        call("partners transition acme --to due_diligence --justification agreed"),
        (
            Method::POST,
            "/admin/v1/partners/acme/transitions".into(),
            Some(json!({"to": "due_diligence", "justification": "agreed"}))
        )
    );
    let evidence = request("partners sandbox-evidence acme");
    assert_eq!(evidence.path, "/admin/v1/partners/acme/sandbox-evidence");
    assert_eq!(evidence.view, View::Evidence);
    let sla = request("partners sla acme --from 2025-01-01 --to 2025-02-01");
    assert_eq!(sla.path, "/admin/v1/partners/acme/sla");
    assert_eq!(
        sla.query,
        query(&[("from", "2025-01-01"), ("to", "2025-02-01")])
    );
    assert!(request("partners sla acme").query.is_empty());
}

#[test]
fn partner_documents_are_read_from_files_and_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let use_case = json!({
        "business_objective": "budgeting", "data_elements": ["balances"],
        "scopes": ["balances:read"], "regulatory_constraints": [], "success_criteria": ["x"],
    });
    let file = json_file(&dir, "use-case.json", &use_case);
    for kind in [
        "use-case",
        "due-diligence",
        "security-assessment",
        "contract",
    ] {
        assert_eq!(
            call(&format!("partners {kind} set acme --file {file}")),
            (
                Method::PUT,
                format!("/admin/v1/partners/acme/{kind}"),
                Some(use_case.clone())
            )
        );
        assert_eq!(
            call(&format!("partners {kind} get acme")),
            get(&format!("/admin/v1/partners/acme/{kind}"))
        );
    }
}

#[test]
fn a_file_that_is_not_a_json_object_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let array = json_file(&dir, "array.json", &json!([1]));
    let e = try_request(&format!("partners use-case set acme --file {array}")).unwrap_err();
    assert_eq!(e.to_string(), format!("{array}: expected a JSON object"));

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"scopes\": [").unwrap();
    let broken = broken.to_str().unwrap();
    let e = try_request(&format!("partners contract set acme --file {broken}")).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("{broken}: not JSON: ")),
        "{e}"
    );

    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().unwrap();
    let e = try_request(&format!("grants set acme sandbox --file {missing}")).unwrap_err();
    assert!(e.to_string().starts_with(missing), "{e}");
}

#[test]
fn grant_subcommands_map_to_their_operations() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        call("grants list acme"),
        get("/admin/v1/partners/acme/grants")
    );
    assert_eq!(
        call("grants show acme production"),
        get("/admin/v1/partners/acme/grants/production")
    );
    let change = json!({"scopes": ["accounts:read"], "justification": "from the file"});
    let file = json_file(&dir, "grant.json", &change);
    assert_eq!(
        call(&format!("grants set acme sandbox --file {file}")),
        (
            Method::PUT,
            "/admin/v1/partners/acme/grants/sandbox".into(),
            Some(change)
        )
    );
    // --justification replaces the file's.
    assert_eq!(
        call(&format!(
            "grants set acme production --file {file} --justification flag"
        ))
        .2,
        Some(json!({"scopes": ["accounts:read"], "justification": "flag"}))
    );
    assert_eq!(
        usage_error("grants show acme staging"),
        ErrorKind::InvalidValue
    );
}

#[test]
fn client_subcommands_map_to_their_operations() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k"}]});
    let jwks_file = json_file(&dir, "k.json", &jwks);
    let create = "clients create --partner acme --environment sandbox";
    assert_eq!(
        call(&format!(
            "{create} --auth-method private_key_jwt --jwks-file {jwks_file}"
        )),
        (
            Method::POST,
            "/admin/v1/clients".into(),
            Some(json!({
                "partner_id": "acme", "environment": "sandbox",
                "auth_method": "private_key_jwt", "jwks": jwks,
            }))
        )
    );
    assert_eq!(
        call(
            "clients create --partner acme --environment production --auth-method tls_client_auth \
             --tls-subject-dn CN=acme --client-id acme-prod --lifetime-days 90 \
             --justification go-live"
        )
        .2,
        Some(json!({
            "partner_id": "acme", "environment": "production", "auth_method": "tls_client_auth",
            "tls_subject_dn": "CN=acme", "client_id": "acme-prod", "lifetime_days": 90,
            "justification": "go-live",
        }))
    );
    // Each method needs its key material, and only one kind of it.
    for method in ["private_key_jwt", "tls_client_auth"] {
        assert_eq!(
            usage_error(&format!("{create} --auth-method {method}")),
            ErrorKind::MissingRequiredArgument
        );
    }
    assert_eq!(
        usage_error(&format!(
            "{create} --auth-method private_key_jwt --jwks-file {jwks_file} --tls-subject-dn CN=x"
        )),
        ErrorKind::ArgumentConflict
    );

    assert_eq!(
        call(&format!(
            "clients rotate acme-sandbox --jwks-file {jwks_file} --overlap-hours 24 \
             --new-client-id acme-sandbox-2"
        )),
        (
            Method::POST,
            "/admin/v1/clients/acme-sandbox/rotate".into(),
            Some(json!({"jwks": jwks, "overlap_hours": 24, "client_id": "acme-sandbox-2"}))
        )
    );
    assert_eq!(
        usage_error("clients rotate acme-sandbox --overlap-hours 24"),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        call("clients revoke acme-sandbox"),
        (
            Method::POST,
            "/admin/v1/clients/acme-sandbox/revoke".into(),
            None
        )
    );
    let list = request("clients list --partner acme");
    assert_eq!(list.path, "/admin/v1/clients");
    assert_eq!(list.query, query(&[("partner_id", "acme")]));
    assert!(request("clients list").query.is_empty());
}

#[test]
fn approval_review_governance_and_report_subcommands_map_to_their_operations() {
    let list = request("approvals list --status pending --partner acme");
    assert_eq!(list.path, "/admin/v1/approvals");
    assert_eq!(
        list.query,
        query(&[("status", "pending"), ("partner_id", "acme")])
    );
    for verb in ["approve", "reject"] {
        assert_eq!(
            call(&format!("approvals {verb} apr_1 --justification checked")),
            (
                Method::POST,
                format!("/admin/v1/approvals/apr_1/{verb}"),
                Some(json!({"justification": "checked"}))
            )
        );
    }
    assert_eq!(
        usage_error("approvals approve apr_1"),
        ErrorKind::MissingRequiredArgument
    );

    let dir = tempfile::tempdir().unwrap();
    let decisions = json!({"decisions": [
        {"environment": "production", "decision": "keep", "justification": "still needed"},
    ]});
    let file = json_file(&dir, "decisions.json", &decisions);
    assert_eq!(
        call(&format!("reviews decide rev_1 --file {file}")),
        (
            Method::POST,
            "/admin/v1/reviews/rev_1/decisions".into(),
            Some(decisions)
        )
    );
    assert_eq!(
        request("reviews list --status open").query,
        query(&[("status", "open")])
    );
    assert_eq!(
        call("governance sweep"),
        (Method::POST, "/admin/v1/governance/sweep".into(), None)
    );

    let json_report = request("reports compliance --from 2025-01-01");
    assert_eq!(json_report.accept, "application/json");
    assert_eq!(
        json_report.query,
        query(&[("from", "2025-01-01"), ("format", "json")])
    );
    let html = request("reports compliance --format html --out r.html");
    assert_eq!(html.path, "/admin/v1/reports/compliance");
    assert_eq!(html.accept, "text/html");
    assert_eq!(html.query, query(&[("format", "html")]));
    assert_eq!(
        html.view,
        View::Report {
            out: Some(PathBuf::from("r.html"))
        }
    );
}

#[test]
fn user_input_stays_one_path_segment_and_query_values_are_encoded() {
    assert_eq!(
        request("partners show ../clients").path,
        "/admin/v1/partners/%2E%2E%2Fclients"
    );
    assert_eq!(
        request("approvals show a?b#c%").path,
        "/admin/v1/approvals/a%3Fb%23c%25"
    );
    let list = request("clients list --partner a&b=c+d");
    assert_eq!(
        url_of("https://127.0.0.1:9443", &list).unwrap(),
        "https://127.0.0.1:9443/admin/v1/clients?partner_id=a%26b%3Dc%2Bd"
    );
    let empty = Cli::try_parse_from(["portcullis", "partners", "show", ""]).unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidValue);
}

#[test]
fn values_outside_the_api_vocabulary_are_usage_errors() {
    assert_eq!(
        usage_error("partners transition acme --to active --justification j"),
        ErrorKind::InvalidValue
    );
    for day in ["2025-13-01", "2025-1-01", "yesterday", "2025-01-32"] {
        assert_eq!(
            usage_error(&format!("partners sla acme --from {day}")),
            ErrorKind::ValueValidation,
            "{day}"
        );
    }
    assert_eq!(
        usage_error("partners list --output yaml"),
        ErrorKind::InvalidValue
    );
}

#[test]
fn connection_options_go_before_or_after_the_verb() {
    for line in ["partners --output json list", "partners list --output json"] {
        let Command::Partners(r) = parse(line).unwrap().command else {
            unreachable!()
        };
        assert_eq!(r.connection.output, Output::Json);
    }
    assert_eq!(
        usage_error("approvals list --as-approver"),
        ErrorKind::MissingRequiredArgument
    );
}

fn connection() -> Connection {
    Connection {
        admin_url: None,
        admin_token: None,
        ca_cert: None,
        demo: None,
        as_approver: false,
        output: Output::Table,
    }
}

#[test]
fn demo_json_supplies_the_url_token_and_ca_and_wins_over_options() {
    let dir = tempfile::tempdir().unwrap();
    let demo = json_file(
        &dir,
        "demo.json",
        &json!({
            "admin_url": "https://127.0.0.1:9443/", "admin_token": "pcadm_operator",
            "approver_token": "pcadm_approver", "ca_cert": "/pki/ca.pem",
        }),
    );
    let mut c = Connection {
        admin_url: Some("https://elsewhere:1".into()),
        admin_token: Some(portcullis_core::Secret::new("pcadm_env".into())),
        demo: Some(demo.clone().into()),
        ..connection()
    };
    let target = resolve(&c).unwrap();
    assert_eq!(target.url, "https://127.0.0.1:9443");
    assert_eq!(target.token.expose(), "pcadm_operator");
    assert_eq!(target.ca_cert, PathBuf::from("/pki/ca.pem"));
    c.as_approver = true;
    assert_eq!(resolve(&c).unwrap().token.expose(), "pcadm_approver");
    // Neither the options nor the resolved target print the token.
    let printed = format!("{c:?} {:?}", resolve(&c).unwrap());
    assert!(!printed.contains("pcadm_"), "{printed}");

    let old = json_file(
        &dir,
        "old.json",
        &json!({"admin_url": "https://h:1", "admin_token": "t", "ca_cert": "c"}),
    );
    let e = resolve(&Connection {
        demo: Some(old.clone().into()),
        as_approver: true,
        ..connection()
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{old}: has no approver_token")),
        "{e}"
    );
}

#[test]
fn missing_connection_settings_are_all_named_with_the_way_to_give_them() {
    let e = resolve(&connection()).unwrap_err().to_string();
    for expected in [
        "--admin-url",
        "PORTCULLIS_ADMIN_TOKEN",
        "--ca-cert",
        "--demo",
    ] {
        assert!(e.contains(expected), "{expected} not in {e}");
    }
    let e = resolve(&Connection {
        admin_url: Some("https://h:1".into()),
        admin_token: Some(portcullis_core::Secret::new(String::new())),
        ca_cert: Some("ca.pem".into()),
        ..connection()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("an admin token") && !e.contains("--admin-url"),
        "{e}"
    );
    let e = resolve(&Connection {
        admin_url: Some("http://127.0.0.1:9443".into()),
        admin_token: Some(portcullis_core::Secret::new("t".into())),
        ca_cert: Some("ca.pem".into()),
        ..connection()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("expected https://host:port"), "{e}");
}

#[test]
fn unix_times_are_shown_as_utc_minutes() {
    assert_eq!(utc(0), "1970-01-01 00:00");
    assert_eq!(utc(951_829_620), "2000-02-29 13:07");
    assert_eq!(utc(1_763_946_000), "2025-11-24 01:00");
    assert_eq!(utc(-1), "1969-12-31 23:59");
    assert_eq!(utc(4_102_444_740), "2099-12-31 23:59");
}

#[test]
fn tables_align_columns_and_show_absent_values_as_a_dash() {
    const COLUMNS: &[Column] = &[
        Column::text("CLIENT_ID", "/client_id"),
        Column::text("SCOPES", "/scopes"),
        Column::time("EXPIRES", "/expires_at"),
        Column::text("LAST", "/policy/last"),
    ];
    let rows = [
        json!({"client_id": "acme-sandbox", "scopes": ["a:read", "b:read"], "expires_at": 0, "policy": {"last": "x"}}),
        json!({"client_id": "b", "scopes": []}),
    ];
    assert_eq!(
        table(COLUMNS, &rows),
        "CLIENT_ID     SCOPES          EXPIRES           LAST\n\
         acme-sandbox  a:read, b:read  1970-01-01 00:00  x\n\
         b             -               -                 -\n"
    );
    assert_eq!(table(COLUMNS, &[]), "CLIENT_ID  SCOPES  EXPIRES  LAST\n");
}

#[test]
fn server_text_cannot_drive_the_terminal() {
    assert_eq!(clean("Acme\u{1b}[2J Ltd\n"), "Acme\\u{1b}[2J Ltd\\u{a}");
    assert_eq!(clean("abc\u{202e}fed"), "abc\\u{202e}fed");
    assert_eq!(clean("Zoë Ltd"), "Zoë Ltd");
    assert_eq!(cell(&json!("a\u{9b}b"), false), "a\\u{9b}b");
    let p = ApiProblem::from_answer(
        StatusCode::CONFLICT,
        br#"{"title":"Conflict\u001b[31m","status":409,"detail":"x"}"#,
    );
    assert_eq!(p.to_string(), "409 Conflict\\u{1b}[31m: x");
}

#[test]
fn single_objects_are_key_value_lines_with_identifiers_first() {
    let approval = json!({
        "status": "pending", "requested_at": 1_763_946_000, "id": "apr_1",
        "change": {"to": "sandbox"}, "partner_id": "acme", "kind": "transition",
        "decided_by": null, "missing": ["use case", "due diligence"], "scopes": [],
    });
    assert_eq!(
        key_values(approval.as_object().unwrap()),
        "id:           apr_1\n\
         partner_id:   acme\n\
         kind:         transition\n\
         status:       pending\n\
         change:       {\"to\":\"sandbox\"}\n\
         decided_by:   -\n\
         missing:\n  - use case\n  - due diligence\n\
         requested_at: 2025-11-24 01:00\n\
         scopes:       -\n"
    );
}

fn answer(status: StatusCode, body: &Value) -> Answer {
    Answer {
        status,
        body: Bytes::from(body.to_string()),
    }
}

#[test]
fn an_approval_request_names_its_id_and_who_must_decide() {
    let approval =
        json!({"id": "apr_7", "partner_id": "acme", "kind": "grant", "status": "pending"});
    let table_out = render::answer(
        &View::Object,
        Output::Table,
        &answer(StatusCode::ACCEPTED, &approval),
    )
    .unwrap();
    assert!(
        table_out.starts_with(
            "approval requested: apr_7 (awaits a second person with the approver role)\n"
        ),
        "{table_out}"
    );
    let json_out = render::answer(
        &View::Object,
        Output::Json,
        &answer(StatusCode::ACCEPTED, &approval),
    )
    .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&json_out).unwrap(), approval);
    assert!(
        json_out.contains("\n  \"id\": \"apr_7\""),
        "pretty-printed: {json_out}"
    );
}

#[test]
fn sandbox_evidence_shows_its_summary_then_each_operation() {
    let evidence = json!({
        "partner_id": "acme", "sufficient": true, "scopes_missing": [],
        "operations": [
            {"operation": "listAccounts", "scope": "accounts:read", "successes": 2, "errors": {}, "errors_handled": 0},
            {"operation": "getAccountBalances", "scope": "balances:read", "successes": 1, "errors": {"404": 1}, "errors_handled": 1},
        ],
    });
    let out = render::answer(
        &View::Evidence,
        Output::Table,
        &answer(StatusCode::OK, &evidence),
    )
    .unwrap();
    assert_eq!(
        out,
        "partner_id:     acme\n\
         scopes_missing: -\n\
         sufficient:     yes\n\
         \n\
         OPERATION           SCOPE          SUCCESSES  ERRORS  ERRORS_HANDLED\n\
         listAccounts        accounts:read  2          -       0\n\
         getAccountBalances  balances:read  1          404:1   1\n"
    );
}

#[test]
fn lists_render_as_tables_and_json_output_is_the_body_pretty_printed() {
    const COLUMNS: &[Column] = &[Column::text("ID", "/id")];
    let body = json!([{"id": "a"}, {"id": "b"}]);
    let ok = answer(StatusCode::OK, &body);
    assert_eq!(
        render::answer(&View::Table(COLUMNS), Output::Table, &ok).unwrap(),
        "ID\na\nb\n"
    );
    assert_eq!(
        render::answer(&View::Table(COLUMNS), Output::Json, &ok).unwrap(),
        format!("{}\n", serde_json::to_string_pretty(&body).unwrap())
    );
    let report = Answer {
        status: StatusCode::OK,
        body: Bytes::from_static(b"<html><p>report</p></html>"),
    };
    assert_eq!(
        render::answer(&View::Report { out: None }, Output::Table, &report).unwrap(),
        "<html><p>report</p></html>"
    );
}

#[test]
fn problems_print_status_title_detail_and_each_invalid_parameter() {
    let body = json!({
        "type": "urn:portcullis:problem:bad-request", "title": "Bad Request", "status": 400,
        "detail": "the use case is incomplete", "request_id": "req-1",
        "invalid_params": [
            {"name": "body.scopes", "reason": "must not be empty", "rule": "minItems"},
            {"name": "body.business_objective", "reason": "required"},
        ],
    });
    let p = ApiProblem::from_answer(StatusCode::BAD_REQUEST, body.to_string().as_bytes());
    assert_eq!(
        AdminError::Api(p).to_string(),
        "400 Bad Request: the use case is incomplete\n  \
         body.scopes: must not be empty\n  \
         body.business_objective: required\n  \
         request id: req-1"
    );
    let p = ApiProblem::from_answer(
        StatusCode::UNAUTHORIZED,
        br#"{"title":"Unauthorized","status":401,"detail":"unknown admin token"}"#,
    );
    let text = p.to_string();
    assert!(
        text.starts_with("401 Unauthorized: unknown admin token\n  the admin token was refused"),
        "{text}"
    );
    // Not problem+json (a proxy in the way): the status and the start of the body.
    let p = ApiProblem::from_answer(StatusCode::BAD_GATEWAY, b"<html>upstream down</html>");
    assert_eq!(p.to_string(), "502 Bad Gateway: <html>upstream down</html>");
}
