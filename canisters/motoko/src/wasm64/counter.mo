// Enhanced-orthogonal-persistence (wasm64) flavour, compiled by motoko@4.x with
// the `core` library. In a `persistent actor` every `var` is stable by default,
// so `count` survives an upgrade in place (no serialisation). The Candid
// interface is identical to src/wasm32/counter.mo.
persistent actor Counter {
  var count : Nat = 0;

  public func inc() : async Nat {
    count += 1;
    count
  };

  public query func get() : async Nat {
    count
  };

  public func set(n : Nat) : async () {
    count := n
  };
};
