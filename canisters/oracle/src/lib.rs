//! A price oracle: `refresh` fetches the ICP/USD price from an exchange API over an HTTP outcall, whose response
//! every replica passes through `transform` (keeping the status and body, dropping headers that differ between
//! replicas) before consensus; `price` serves the last price and when it was fetched, `refreshes` how many
//! refreshes stored one, and `certified_price` the price with the subnet's certificate of it.
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
    /// Successful refreshes.
    static REFRESHES: Cell<u64> = const { Cell::new(0) };
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
    let now = ic_cdk::api::time();
    PRICE.set(Some((price, now)));
    // Certify the price and its time, so clients can check what a single replica's query answers.
    let mut certified = price.to_be_bytes().to_vec();
    certified.extend_from_slice(&now.to_be_bytes());
    ic_cdk::api::certified_data_set(&certified);
    REFRESHES.set(REFRESHES.get() + 1);
    Ok(price)
}

/// The last price (micro-dollars) and when it was fetched (nanoseconds since the epoch).
#[ic_cdk::query]
fn price() -> Option<(u64, u64)> {
    PRICE.get()
}

/// The last price and its time with the subnet's certificate of them (the certified data is the price and the
/// time, 8 bytes each, big-endian).
#[ic_cdk::query]
fn certified_price() -> Option<(u64, u64, Vec<u8>)> {
    let (price, time) = PRICE.get()?;
    let certificate = ic_cdk::api::data_certificate()?;
    Some((price, time, certificate))
}

/// How many refreshes stored a price.
#[ic_cdk::query]
fn refreshes() -> u64 {
    REFRESHES.get()
}

/// Keeps what every replica saw alike: the status and the body.
#[ic_cdk::query(hidden = true)]
fn transform(args: TransformArgs) -> HttpRequestResult {
    HttpRequestResult { status: args.response.status, headers: vec![], body: args.response.body }
}

ic_cdk::export_candid!();
