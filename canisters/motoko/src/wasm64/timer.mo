// Enhanced-orthogonal-persistence (wasm64) flavour of the one-shot timer
// canister; same Candid interface as src/wasm32/timer.mo. core's Duration
// (core/Time) also has #seconds.
import Timer "mo:core/Timer";

persistent actor TimerCanister {
  var fired_count : Nat = 0;

  public func arm(seconds : Nat) : async () {
    ignore Timer.setTimer<system>(#seconds seconds, func() : async () {
      fired_count += 1
    })
  };

  public query func fired() : async Nat {
    fired_count
  };
};
