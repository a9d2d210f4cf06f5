//! Hostile input through the real TLS listener: generated garbage in every part of a
//! request must be answered with a 4xx (or a closed connection), never a 5xx or a crash.

mod common;

use common::*;
use portcullis_core::Environment::Production;

/// xorshift64*: deterministic, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() % max as u64) as usize;
        (0..n).map(|_| (self.next() & 0xff) as u8).collect()
    }
}

fn request(rng: &mut Rng, token: &str) -> Vec<u8> {
    let method = rng.pick(&[
        "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "G\x01T", "get", "",
    ]);
    let path = rng.pick(&[
        "/accounts",
        "/accounts/acc-1/balances",
        "/payments",
        "/oauth2/token",
        "/oauth2/introspect",
        "/oauth2/revoke",
        "/.well-known/oauth-authorization-server",
        "/%00",
        "/accounts/%ff",
        "*",
        "http://evil.example/accounts",
        "/accounts?x=%zz&&&=",
        "/a/b/c/d/e/f/g",
        "",
    ]);
    let auth = match rng.next() % 6 {
        0 => String::new(),
        1 => format!("Authorization: Bearer {token}\r\n"),
        2 => format!("Authorization: Bearer {}\r\n", &token[..token.len() / 2]),
        3 => "Authorization: Bearer e30.e30.e30\r\n".to_string(),
        4 => "Authorization: Basic YWRtaW46YWRtaW4=\r\n".to_string(),
        _ => format!(
            "Authorization: Bearer {}.{}.{}\r\n",
            token.split('.').next().unwrap_or(""),
            "eyJleHAiOiJ4In0",
            "AA"
        ),
    };
    let content_type = rng.pick(&[
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "\u{7f}",
    ]);
    let mut body = rng.bytes(300);
    if rng.next().is_multiple_of(3) {
        body = b"grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c".to_vec();
    }
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n{auth}Idempotency-Key: k\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    if rng.next().is_multiple_of(10) {
        out = rng.bytes(200); // not HTTP at all
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_garbage_never_gets_a_5xx() {
    let h = Harness::start().await;
    let token = h.token_jwt(FINCH, Production).await;
    let mut rng = Rng(0x005e_ed0f_90a7_c011);
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..300 {
        let req = request(&mut rng, &token);
        let answer = h.raw(Production, &req).await;
        if let Some(status) = answer.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()) {
            assert!(
                status < 500,
                "{status} for request {:?}:\n{answer}",
                String::from_utf8_lossy(&req)
            );
            *seen.entry(status).or_insert(0) += 1;
        }
    }
    // The sweep really reached the pipeline's checks, not just the HTTP parser.
    let answered: u32 = seen.values().sum();
    assert!(
        answered > 250,
        "only {answered} of 300 requests were answered: {seen:?}"
    );
    for status in [400, 401, 404] {
        assert!(seen.contains_key(&status), "no {status} among {seen:?}");
    }
    // Still serving afterwards.
    assert_eq!(
        h.status(Production, "/accounts", Some(&token), None).await,
        200
    );
    h.stop().await;
}
