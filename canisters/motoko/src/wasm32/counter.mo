// Classic (wasm32) flavour, compiled by motoko@3.x with the `base` library.
// `stable` makes `count` survive an upgrade (serialised to stable memory in
// pre_upgrade and restored in post_upgrade by the Motoko runtime).
actor Counter {
  stable var count : Nat = 0;

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
