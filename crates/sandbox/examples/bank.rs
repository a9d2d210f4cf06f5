//! Runs the synthetic bank on its own.
//!
//! ```text
//! cargo run -p portcullis-sandbox --example bank -- [SEED] [ADDR]
//! curl -s http://127.0.0.1:8099/accounts
//! ```
//! Defaults: seed 42, address 127.0.0.1:8099. Stops on Ctrl-C.

use std::sync::Arc;

use portcullis_sandbox::{serve, Bank};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let seed = match args.next() {
        Some(s) => s.parse().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("seed: {e}"))
        })?,
        None => 42,
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8099".to_owned());
    let bank = Arc::new(Bank::generate(seed));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "synthetic bank (seed {seed}) on http://{}",
        listener.local_addr()?
    );
    println!("  sample account:  {}", bank.sample_account_id());
    println!("  sample customer: {}", bank.sample_customer_id());
    serve(listener, bank, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
