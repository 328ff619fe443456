//! Cycle fees and the freezing threshold, as far as canister code can observe them (ic-semantics §9).
//!
//! One fee model serves both what the engine charges and what `ic0.cost_*` reports, so ic-cdk's pre-call check
//! (`liquid balance ≥ cost_call + attached cycles`) agrees with `call_perform`, as on the IC. The constants are a
//! 13-node application subnet's; [`Fees::ZERO`] turns charging off.

use crate::limits::MAX_REPLY_REPLICATED;
use crate::types::Cycles;

/// Seconds in the default freezing threshold (30 days).
pub const DEFAULT_FREEZING_THRESHOLD_SECONDS: u64 = 30 * 24 * 3600;

const GIB: u128 = 1 << 30;

/// The cycle prices the engine charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fees {
    /// Base fee of every replicated execution (`update_message_execution_fee`).
    pub execution_base: Cycles,
    /// Fee per 10 instructions executed (doubled for wasm64, as on the IC).
    pub per_ten_instructions: Cycles,
    /// Base fee of an inter-canister call (`xnet_call_fee`).
    pub call_base: Cycles,
    /// Fee per byte of a request or response (`xnet_byte_transmission_fee`).
    pub call_per_byte: Cycles,
    /// Base fee of receiving an ingress message.
    pub ingress_base: Cycles,
    /// Fee per byte of an ingress message.
    pub ingress_per_byte: Cycles,
    /// Storage fee per GiB per second (heap and stable memory).
    pub storage_per_gib_second: Cycles,
    /// Fee of `create_canister` called by a canister.
    pub create_canister: Cycles,
    /// Fee of one `sign_with_ecdsa` with a key held by a 13-node subnet (scaled by the holder's size).
    pub ecdsa_signature: Cycles,
    /// Fee of one `sign_with_schnorr`, likewise.
    pub schnorr_signature: Cycles,
    /// Fee of one `vetkd_derive_key`, likewise.
    pub vetkd: Cycles,
    /// HTTP outcall fee per node: base, plus per node of the subnet, per request byte and per byte of
    /// `max_response_bytes` (`http_request_fee`, multiplied by the subnet's 13 nodes).
    pub http_base: Cycles,
    /// See [`Fees::http_base`].
    pub http_per_node: Cycles,
    /// See [`Fees::http_base`].
    pub http_per_request_byte: Cycles,
    /// See [`Fees::http_base`].
    pub http_per_response_byte: Cycles,
}

/// Nodes of the subnet the fees are those of.
const SUBNET_NODES: Cycles = 13;

impl Fees {
    /// No fees: balances change only by what canister code moves.
    pub const ZERO: Fees = Fees {
        execution_base: 0,
        per_ten_instructions: 0,
        call_base: 0,
        call_per_byte: 0,
        ingress_base: 0,
        ingress_per_byte: 0,
        storage_per_gib_second: 0,
        create_canister: 0,
        ecdsa_signature: 0,
        schnorr_signature: 0,
        vetkd: 0,
        http_base: 0,
        http_per_node: 0,
        http_per_request_byte: 0,
        http_per_response_byte: 0,
    };

    /// A 13-node application subnet.
    pub const APPLICATION_SUBNET: Fees = Fees {
        execution_base: 5_000_000,
        per_ten_instructions: 10,
        call_base: 260_000,
        call_per_byte: 1_000,
        ingress_base: 1_200_000,
        ingress_per_byte: 2_000,
        storage_per_gib_second: 127_000,
        create_canister: 500_000_000_000,
        ecdsa_signature: 10_000_000_000,
        schnorr_signature: 10_000_000_000,
        vetkd: 10_000_000_000,
        http_base: 3_000_000,
        http_per_node: 60_000,
        http_per_request_byte: 400,
        http_per_response_byte: 800,
    };

    /// Fee of an execution that used `instructions`.
    pub fn execution(&self, instructions: u64, memory64: bool) -> Cycles {
        let factor = if memory64 { 2 } else { 1 };
        self.execution_base + Cycles::from(instructions) / 10 * self.per_ten_instructions * factor
    }

    /// Transmission fee of a request of `bytes` (method name plus argument).
    pub fn transmission(&self, bytes: usize) -> Cycles {
        self.call_base + bytes as Cycles * self.call_per_byte
    }

    /// Reserved at `call_perform` for the largest possible response; the unused part returns with the response.
    pub fn response_reservation(&self) -> Cycles {
        MAX_REPLY_REPLICATED as Cycles * self.call_per_byte
    }

    /// What `call_perform` takes beyond attached cycles, and what `ic0.cost_call` reports: transmission, response
    /// reservation, and the prepaid execution of the callback.
    pub fn call_cost(&self, bytes: usize, callback_instruction_limit: u64, memory64: bool) -> Cycles {
        self.transmission(bytes) + self.response_reservation() + self.execution(callback_instruction_limit, memory64)
    }

    /// Fee of an HTTP outcall whose variable parts (URL, headers, body, transform name and context) take
    /// `request_bytes` and that accepts up to `max_response_bytes`: what `ic0.cost_http_request` reports.
    pub fn http_request(&self, request_bytes: u64, max_response_bytes: u64) -> Cycles {
        (self.http_base
            + self.http_per_node * SUBNET_NODES
            + self.http_per_request_byte * Cycles::from(request_bytes)
            + self.http_per_response_byte * Cycles::from(max_response_bytes))
            * SUBNET_NODES
    }

    /// Fee of receiving an ingress message of `bytes`.
    pub fn ingress(&self, bytes: usize) -> Cycles {
        self.ingress_base + bytes as Cycles * self.ingress_per_byte
    }

    /// Cycles burned per second for holding `memory_bytes`.
    pub fn idle_per_second(&self, memory_bytes: u64) -> Cycles {
        Cycles::from(memory_bytes) * self.storage_per_gib_second / GIB
    }

    /// The balance a canister must keep to pay `threshold_seconds` of idle fees (its freezing limit).
    pub fn freezing_limit(&self, memory_bytes: u64, threshold_seconds: u64) -> Cycles {
        self.idle_per_second(memory_bytes) * Cycles::from(threshold_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_call_matches_the_documented_application_subnet_figure() {
        // ic-semantics §9: ≈ 260 K + 1,000/byte + 2,097,152,000 + 5 M + 40 B for wasm32 at the IC's limits.
        let fees = Fees::APPLICATION_SUBNET;
        let cost = fees.call_cost(10, 40_000_000_000, false);
        assert_eq!(cost, 260_000 + 10_000 + 2_097_152_000 + 5_000_000 + 40_000_000_000);
        assert!(fees.call_cost(10, 40_000_000_000, true) > cost + 39_000_000_000);
        assert_eq!(Fees::ZERO.call_cost(1 << 20, u64::MAX, true), 0);
    }

    #[test]
    fn http_outcall_fee_is_the_replicas_formula() {
        // (3 M + 60 K·13 + 400·req + 800·resp)·13: 49,140,000 + 5,200·req + 10,400·resp.
        let fees = Fees::APPLICATION_SUBNET;
        assert_eq!(fees.http_request(0, 0), 49_140_000);
        assert_eq!(fees.http_request(100, 2_000_000), 49_140_000 + 520_000 + 20_800_000_000);
        assert_eq!(Fees::ZERO.http_request(100, 2_000_000), 0);
    }

    #[test]
    fn freezing_limit_follows_memory_and_threshold() {
        let fees = Fees::APPLICATION_SUBNET;
        assert_eq!(fees.freezing_limit(1 << 30, 1), 127_000);
        assert_eq!(fees.freezing_limit(1 << 30, DEFAULT_FREEZING_THRESHOLD_SECONDS), 127_000 * 2_592_000);
    }
}
