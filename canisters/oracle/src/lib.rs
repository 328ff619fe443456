//! A price oracle: `refresh` fetches the ICP/USD price from an exchange API over an HTTP outcall, whose response
//! every replica passes through `transform` (keeping the status and body, dropping headers that differ between
//! replicas) before consensus; `price` serves the last price and when it was fetched.
//!
//! The exchange's answer is untrusted input: a price that does not parse, or is zero, is refused rather than
//! stored.

use std::cell::Cell;

use ic_cdk::management_canister::{
    http_request, transform_context_from_query, HttpMethod, HttpRequestArgs, HttpRequestResult, TransformArgs,
};
use serde::Deserialize;

const URL: &str = "https://api.exchange.example/v1/ticker?symbol=ICPUSD";
const MAX_RESPONSE_BYTES: u64 = 4_096;

thread_local! {
    /// (price in micro-dollars, nanoseconds since the epoch when fetched)
    static PRICE: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

#[derive(Deserialize)]
struct Ticker {
    /// The price in dollars, as the exchange prints it (`"7.1234"`).
    price: String,
}

/// Parses a decimal price into micro-dollars.
fn micro_dollars(price: &str) -> Result<u64, String> {
    let (whole, fraction) = price.split_once('.').unwrap_or((price, ""));
    if fraction.len() > 6 || whole.is_empty() {
        return Err(format!("not a price: {price:?}"));
    }
    let whole: u64 = whole.parse().map_err(|_| format!("not a price: {price:?}"))?;
    let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| format!("not a price: {price:?}"))?;
    whole.checked_mul(1_000_000).and_then(|w| w.checked_add(fraction)).ok_or_else(|| format!("price too large: {price:?}"))
}

/// Fetches the current price and stores it; returns it in micro-dollars.
#[ic_cdk::update]
async fn refresh() -> Result<u64, String> {
    let request = HttpRequestArgs {
        url: URL.to_owned(),
        max_response_bytes: Some(MAX_RESPONSE_BYTES),
        method: HttpMethod::GET,
        transform: Some(transform_context_from_query("transform".to_owned(), vec![])),
        ..Default::default()
    };
    let response = http_request(&request).await.map_err(|e| format!("http_request failed: {e}"))?;
    if response.status != 200u16 {
        return Err(format!("the exchange answered {}", response.status));
    }
    let ticker: Ticker = serde_json::from_slice(&response.body).map_err(|e| format!("bad ticker: {e}"))?;
    let price = micro_dollars(&ticker.price)?;
    if price == 0 {
        return Err("the exchange quoted a zero price".to_owned());
    }
    PRICE.set(Some((price, ic_cdk::api::time())));
    Ok(price)
}

/// The last price (micro-dollars) and when it was fetched (nanoseconds since the epoch).
#[ic_cdk::query]
fn price() -> Option<(u64, u64)> {
    PRICE.get()
}

/// Keeps what every replica saw alike: the status and the body.
#[ic_cdk::query(hidden = true)]
fn transform(args: TransformArgs) -> HttpRequestResult {
    HttpRequestResult { status: args.response.status, headers: vec![], body: args.response.body }
}

ic_cdk::export_candid!();
