// Classic (wasm32) flavour of the one-shot timer canister. The Motoko runtime
// keeps its own timer queue and drives it from canister_global_timer, so this
// exercises ic0.global_timer_set plus the self-call the runtime makes to run
// the job.
import Timer "mo:base/Timer";

actor TimerCanister {
  stable var fired_count : Nat = 0;

  public func arm(seconds : Nat) : async () {
    ignore Timer.setTimer<system>(#seconds seconds, func() : async () {
      fired_count += 1
    })
  };

  public query func fired() : async Nat {
    fired_count
  };
};
