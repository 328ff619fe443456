// A subscriber of the publisher (wasm32/publisher.mo, wasm64/publisher.mo): `on_event` is a one-way shared
// function (it returns `()`, not `async`), the usual Motoko shape for notifications nobody awaits.
persistent actor Subscriber {
  var received : Nat = 0;
  var last : Text = "";

  public func on_event(event : Text) : () {
    received += 1;
    last := event;
  };

  public query func count() : async Nat {
    received
  };

  public query func last_event() : async Text {
    last
  };
};
