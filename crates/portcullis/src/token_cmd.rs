//! `portcullis token`: the partner developer's helper. Authenticates to a token endpoint by
//! `private_key_jwt` (signing a short-lived client assertion with the partner's key) or by
//! mutual TLS, and prints the access token.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Args;
use http_body_util::Full;
use portcullis_core::jose::JwsSigner;
use portcullis_tls::HttpsClient;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Read everything else from a demo.json written by `portcullis demo`.
    #[arg(long, value_name = "DEMO_JSON")]
    demo: Option<PathBuf>,
    /// The client to act as (with --demo: which partner entry).
    #[arg(long)]
    client_id: Option<String>,
    /// Token endpoint, e.g. https://127.0.0.1:8443/oauth2/token.
    #[arg(long)]
    token_url: Option<String>,
    /// Issuer identifier, the `aud` of the client assertion (default: the token URL's origin).
    #[arg(long)]
    issuer: Option<String>,
    /// PEM PKCS#8 private key for private_key_jwt.
    #[arg(long)]
    private_key: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (tls_client_auth, and certificate binding).
    #[arg(long)]
    cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long)]
    key: Option<PathBuf>,
    /// CA certificate that signed the server certificate.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Space-separated scopes to ask for (default: all granted).
    #[arg(long)]
    scope: Option<String>,
    /// Print the whole token response as JSON instead of the bare token.
    #[arg(long)]
    json: bool,
}

struct Resolved {
    client_id: String,
    token_url: String,
    issuer: String,
    private_key: Option<PathBuf>,
    cert: Option<(PathBuf, PathBuf)>,
    ca_cert: PathBuf,
}

fn resolve(args: &TokenArgs) -> Result<Resolved, String> {
    let mut r = Resolved {
        client_id: args.client_id.clone().unwrap_or_default(),
        token_url: args.token_url.clone().unwrap_or_default(),
        issuer: args.issuer.clone().unwrap_or_default(),
        private_key: args.private_key.clone(),
        cert: args.cert.clone().zip(args.key.clone()),
        ca_cert: args.ca_cert.clone().unwrap_or_default(),
    };
    if let Some(path) = &args.demo {
        let demo: Value = serde_json::from_str(
            &std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )
        .map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
        let partners = demo["partners"].as_array().cloned().unwrap_or_default();
        let partner = match &args.client_id {
            Some(id) => partners.iter().find(|p| p["client_id"] == json!(id)),
            None => partners.first(),
        }
        .ok_or_else(|| {
            format!(
                "{}: no partner with client_id {:?}",
                path.display(),
                args.client_id
            )
        })?;
        let env = &demo["environments"][partner["environment"].as_str().unwrap_or_default()];
        let text = |v: &Value| v.as_str().map(str::to_string);
        r.client_id = text(&partner["client_id"]).unwrap_or_default();
        r.token_url = args
            .token_url
            .clone()
            .or_else(|| text(&env["token_url"]))
            .unwrap_or_default();
        r.issuer = args
            .issuer
            .clone()
            .or_else(|| text(&env["issuer"]))
            .unwrap_or_default();
        r.ca_cert = args
            .ca_cert
            .clone()
            .or_else(|| text(&demo["ca_cert"]).map(PathBuf::from))
            .unwrap_or_default();
        r.private_key = r
            .private_key
            .or_else(|| text(&partner["private_key"]).map(PathBuf::from));
        r.cert = r.cert.or_else(|| {
            text(&partner["client_cert"])
                .map(PathBuf::from)
                .zip(text(&partner["client_key"]).map(PathBuf::from))
        });
    }
    let mut missing = Vec::new();
    for (name, value) in [("--client-id", &r.client_id), ("--token-url", &r.token_url)] {
        if value.is_empty() {
            missing.push(name);
        }
    }
    if r.ca_cert.as_os_str().is_empty() {
        missing.push("--ca-cert");
    }
    if r.private_key.is_none() && r.cert.is_none() {
        missing.push("--private-key or --cert/--key");
    }
    if !missing.is_empty() {
        return Err(format!(
            "missing {} (or use --demo DIR/demo.json)",
            missing.join(", ")
        ));
    }
    if r.issuer.is_empty() {
        r.issuer = r
            .token_url
            .trim_end_matches(portcullis_authorization_server::TOKEN_PATH)
            .to_string();
    }
    Ok(r)
}

/// A fresh `private_key_jwt` client assertion (RFC 7523), valid for 60 s.
pub fn client_assertion(
    client_id: &str,
    audience: &str,
    key_file: &Path,
) -> Result<String, String> {
    let der = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("{}: not a PEM private key: {e}", key_file.display()))?;
    let signer = JwsSigner::from_pkcs8_any(String::new(), der.secret_der())
        .map_err(|e| format!("{}: {e}", key_file.display()))?;
    // The kid is the RFC 7638 thumbprint, as the registration computes it.
    let kid = signer.verifying_key().thumbprint();
    let signer = JwsSigner::from_pkcs8(kid, signer.algorithm(), der.secret_der())
        .map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": audience,
        "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
    });
    signer.sign("JWT", &claims).map_err(|e| e.to_string())
}

pub async fn run(args: TokenArgs) -> Result<(), String> {
    let r = resolve(&args)?;
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    if let Some(key) = &r.private_key {
        form.push((
            "client_assertion_type",
            portcullis_authorization_server::JWT_BEARER_ASSERTION.to_string(),
        ));
        form.push((
            "client_assertion",
            client_assertion(&r.client_id, &r.issuer, key)?,
        ));
    } else {
        form.push(("client_id", r.client_id.clone()));
    }
    if let Some(scope) = &args.scope {
        form.push(("scope", scope.clone()));
    }
    let body = serde_urlencoded::to_string(&form).map_err(|e| e.to_string())?;
    let identity = r.cert.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    let tls = portcullis_tls::client_config(&r.ca_cert, identity).map_err(|e| e.to_string())?;
    let request = http::Request::post(&r.token_url)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("--token-url: {e}"))?;
    let response = HttpsClient::new(tls)
        .send(request)
        .await
        .map_err(|e| e.to_string())?;
    let parsed: Value = serde_json::from_slice(response.body())
        .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(response.body())}));
    if !response.status().is_success() {
        return Err(format!(
            "token endpoint answered {}: {}",
            response.status(),
            parsed
        ));
    }
    if args.json {
        println!("{parsed:#}");
    } else {
        println!(
            "{}",
            parsed["access_token"]
                .as_str()
                .ok_or("no access_token in the response")?
        );
    }
    Ok(())
}
