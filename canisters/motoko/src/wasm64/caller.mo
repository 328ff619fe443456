// Enhanced-orthogonal-persistence (wasm64) flavour of the inter-canister
// caller; same Candid interface as src/wasm32/caller.mo. `core` has no
// Debug.trap, its trap lives in Runtime.
import Principal "mo:core/Principal";
import Runtime "mo:core/Runtime";

persistent actor Caller {
  // Only the method we call is declared; the callee may have more.
  type Target = actor { inc : () -> async Nat };

  // Counts call_inc calls whose callee replied (stable: persistent actor).
  var calls : Nat = 0;

  public func call_inc(target : Principal) : async Nat {
    let t : Target = actor (Principal.toText(target));
    let n = await t.inc();
    calls += 1;
    n
  };

  // Traps in the callback, i.e. after the callee's `inc` has committed: the
  // callee's state change stays, this canister's changes since the await
  // are rolled back and the caller of call_then_trap gets a reject.
  public func call_then_trap(target : Principal) : async () {
    let t : Target = actor (Principal.toText(target));
    ignore await t.inc();
    Runtime.trap("after await")
  };

  public query func get_calls() : async Nat {
    calls
  };
};
