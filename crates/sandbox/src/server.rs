//! The HTTP/1.1 server: accept loop, graceful shutdown, routing and the response headers
//! every answer carries.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::data::Bank;
use crate::error::{code, ErrorDetail, ObError};
use crate::payments::{Payments, IDEMPOTENCY_CAPACITY};
use crate::routes;

/// Slow-loris guard: a client must finish sending headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// And the body within this time.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Payment initiations are a few hundred bytes; anything near this is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

const INTERACTION_ID: &str = "x-fapi-interaction-id";
const IDEMPOTENCY_KEY: &str = "idempotency-key";
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

struct State {
    bank: Arc<Bank>,
    payments: Payments,
}

/// Serves the bank on an already-bound listener until `shutdown` resolves; graceful
/// (in-flight requests finish).
///
/// Once `shutdown` resolves the listener is closed, idle keep-alive connections are closed,
/// and connections with a request in progress finish it before closing. Returns when the last
/// connection is gone. Payment idempotency state lives as long as this call.
pub async fn serve(
    listener: TcpListener,
    bank: Arc<Bank>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let state = Arc::new(State {
        bank,
        payments: Payments::new(IDEMPOTENCY_CAPACITY),
    });
    // Tells connections to wind down.
    let (stop_tx, stop_rx) = watch::channel(());
    // Every connection task holds a sender; `recv` yields `None` once all are dropped.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);

    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "sandbox bank: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let state = Arc::clone(&state);
        let mut stop = stop_rx.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, "sandbox bank: connection ended with an error");
            }
        });
    }

    drop(listener);
    drop(stop_tx);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    Ok(())
}

/// One request to one response; never fails (errors become OB error bodies).
async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let interaction_id = req.headers().get(INTERACTION_ID).cloned();
    let result = route(state, req).await;
    let (status, body, allow) = match result {
        Ok((status, body)) => (status, body, None),
        Err(error) => {
            let id = error_id(interaction_id.as_ref());
            (error.status, Bytes::from(error.to_json(&id)), error.allow)
        }
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, APPLICATION_JSON);
    if let Some(id) = interaction_id {
        headers.insert(INTERACTION_ID, id);
    }
    if let Some(allow) = allow {
        headers.insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

async fn route(state: &State, req: Request<Incoming>) -> Result<(StatusCode, Bytes), ObError> {
    let bank = &*state.bank;
    let path = req.uri().path();
    let query = req.uri().query();
    let self_link = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let ok = |body| Ok((StatusCode::OK, body));
    let get = |method: &Method| {
        if method == Method::GET {
            Ok(())
        } else {
            Err(ObError::method_not_allowed("GET"))
        }
    };
    match segments.as_slice() {
        ["accounts"] => {
            get(req.method())?;
            ok(routes::accounts(bank, &self_link)?)
        }
        ["accounts", id] if !id.is_empty() => {
            get(req.method())?;
            ok(routes::account(bank, id, &self_link)?)
        }
        ["accounts", id, "balances"] if !id.is_empty() => {
            get(req.method())?;
            ok(routes::balances(bank, id, &self_link)?)
        }
        ["accounts", id, "transactions"] if !id.is_empty() => {
            get(req.method())?;
            ok(routes::transactions(bank, id, query, &self_link)?)
        }
        ["customers", id, "kyc"] if !id.is_empty() => {
            get(req.method())?;
            ok(routes::kyc(bank, id, &self_link)?)
        }
        ["payments"] => {
            if req.method() != Method::POST {
                return Err(ObError::method_not_allowed("POST"));
            }
            let key = idempotency_key(req.headers())?;
            let body = read_body(req.into_body()).await?;
            let created =
                state
                    .payments
                    .submit(key.as_deref(), &body, time::OffsetDateTime::now_utc())?;
            Ok((StatusCode::CREATED, created))
        }
        _ => Err(ObError::not_found("Resource")),
    }
}

/// The `Idempotency-Key` header as text, `None` when absent.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ObError> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(value) => value.to_str().map(|s| Some(s.to_owned())).map_err(|_| {
            ObError::bad_request(vec![ErrorDetail::new(
                code::HEADER_INVALID,
                "Idempotency-Key must be printable ASCII",
            )
            .at("Idempotency-Key")])
        }),
    }
}

async fn read_body(body: Incoming) -> Result<Bytes, ObError> {
    let collected = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(body, MAX_BODY_BYTES).collect(),
    )
    .await;
    match collected {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ObError::single(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorDetail::new(
                    code::RESOURCE_INVALID_FORMAT,
                    format!("The body is larger than {MAX_BODY_BYTES} bytes"),
                ),
            ))
        }
        Ok(Err(_)) => Err(ObError::bad_request(vec![ErrorDetail::new(
            code::RESOURCE_INVALID_FORMAT,
            "The body could not be read",
        )])),
        Err(_) => Err(ObError::single(
            StatusCode::REQUEST_TIMEOUT,
            ErrorDetail::new(
                code::RESOURCE_INVALID_FORMAT,
                "The body was not received in time",
            ),
        )),
    }
}

/// The `Id` of an error body: the caller's interaction id when it sent a usable one, so the
/// error can be matched to its request, otherwise a fresh UUID.
fn error_id(interaction_id: Option<&HeaderValue>) -> String {
    interaction_id
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}
