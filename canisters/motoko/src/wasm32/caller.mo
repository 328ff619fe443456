// Classic (wasm32) flavour of the inter-canister caller.
import Debug "mo:base/Debug";
import Principal "mo:base/Principal";

actor Caller {
  // Only the method we call is declared; the callee may have more.
  type Target = actor { inc : () -> async Nat };

  // Counts call_inc calls whose callee replied; stable so an upgrade does not
  // reset what a test observed.
  stable var calls : Nat = 0;

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
    Debug.trap("after await")
  };

  public query func get_calls() : async Nat {
    calls
  };
};
