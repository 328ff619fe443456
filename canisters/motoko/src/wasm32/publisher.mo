// Classic (wasm32) flavour of a pub/sub publisher: `publish` notifies every subscriber
// with a one-way call (`s.on_event(event)` without `await`), as Motoko
// pub/sub canisters do. moc compiles such a call with callback index -1 for
// reply and reject, so the response, when it comes, invokes no code: on the IC
// that callback fails with IC0513 (function not found) and nothing changes.
import Principal "mo:base/Principal";

actor Publisher {
  type Subscriber = actor { on_event : shared Text -> () };
  // A list without a library: newest subscriber first.
  type Subscribers = ?(Principal, Subscribers);

  stable var subscribers : Subscribers = null;
  stable var published : Nat = 0;

  public func subscribe(subscriber : Principal) : async () {
    subscribers := ?(subscriber, subscribers);
  };

  // Sends `event` to every subscriber and returns how many were notified.
  public func publish(event : Text) : async Nat {
    var next = subscribers;
    var sent = 0;
    label sending loop {
      switch next {
        case null { break sending };
        case (?(p, rest)) {
          let s : Subscriber = actor (Principal.toText(p));
          s.on_event(event);
          sent += 1;
          next := rest;
        };
      };
    };
    published += 1;
    sent
  };

  public query func get_published() : async Nat {
    published
  };
};
