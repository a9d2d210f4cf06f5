//! The upstream every row of the benchmark proxies to: HTTP/1.1 keep-alive, and HTTPS for
//! the direct row over TLS, answering any GET with one account in the Open Banking shape.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    listen: SocketAddr,
    /// Also serve HTTPS here, with --cert and --key.
    #[arg(long, requires_all = ["cert", "key"])]
    tls_listen: Option<SocketAddr>,
    #[arg(long)]
    cert: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
}

/// One current account as a bank's account API returns it, about 1.5 KB; the gateway's
/// field filter keeps four of its fields for the benchmark's partner. The same document
/// feeds the field-filter microbenchmark.
const ACCOUNT_JSON: &[u8] = include_bytes!("../../gateway/benches/account.json");

pub async fn run(args: Args) -> Result<(), String> {
    // Before anyone can see the process is ready (see `StopSignal`).
    let stop = portcullis::StopSignal::watch();
    let body = Bytes::from_static(ACCOUNT_JSON);
    let plain = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("{}: {e}", args.listen))?;
    eprintln!(
        "upstream on {}: {} byte account JSON",
        args.listen,
        body.len()
    );
    let mut tasks = vec![tokio::spawn(accept(plain, None, body.clone()))];
    if let (Some(addr), Some(cert), Some(key)) = (args.tls_listen, &args.cert, &args.key) {
        let tls =
            portcullis_tls::server_config(cert, key, None, portcullis_tls::ClientCertMode::None)
                .map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        tasks.push(tokio::spawn(accept(listener, Some(tls), body)));
    }
    stop.received().await;
    for task in tasks {
        task.abort();
    }
    Ok(())
}

async fn accept(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    body: Bytes,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Typically out of file descriptors: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (body, acceptor) = (body.clone(), acceptor.clone());
        tokio::spawn(async move {
            let service = service_fn(move |_request| {
                let mut response = http::Response::new(Full::new(body.clone()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                async move { Ok::<_, Infallible>(response) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            let _ = match acceptor {
                None => http.serve_connection(TokioIo::new(tcp), service).await,
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(tls) => http.serve_connection(TokioIo::new(tls), service).await,
                    Err(_) => return,
                },
            };
        });
    }
}
