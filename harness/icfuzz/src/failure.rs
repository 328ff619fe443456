//! What a failure message says about its cause: a classification shared by the campaign's warnings (a method
//! that never succeeds), `icfuzz init` (controller-only methods) and the oracles (argument-decoding traps).

/// Why a method fails every call, when its most common failure message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureCause {
    /// It wants cycles attached, which ingress cannot attach.
    WantsCycles,
    /// Its arguments do not decode as it expects.
    Undecodable,
    /// It checks the caller (controller- or owner-only).
    ChecksCaller,
    /// The canister is out of cycles.
    OutOfCycles,
    /// The canister is stopped.
    Stopped,
}

impl FailureCause {
    /// The cause a failure message names, if any.
    pub fn of(message: &str) -> Option<FailureCause> {
        let m = message.to_ascii_lowercase();
        let caller_words = ["controller", "owner", "unauthori", "not allowed", "permission", "caller"];
        if m.contains("cycles") && !m.contains("out of cycles") {
            Some(FailureCause::WantsCycles)
        } else if m.contains("decod") || m.contains("deserializ") || m.contains("candid") {
            Some(FailureCause::Undecodable)
        } else if caller_words.iter().any(|w| m.contains(w)) {
            Some(FailureCause::ChecksCaller)
        } else if m.contains("out of cycles") || m.contains("ic0207") || m.contains("frozen") {
            Some(FailureCause::OutOfCycles)
        } else if m.contains("stopped") || m.contains("stopping") {
            Some(FailureCause::Stopped)
        } else {
            None
        }
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            FailureCause::WantsCycles => {
                "it seems to want cycles attached: ingress cannot attach any, only a canister can (an adversary's attack)"
            }
            FailureCause::Undecodable => {
                "its arguments do not decode as it expects: give its interface (--did, or `did` in icfuzz.toml)"
            }
            FailureCause::ChecksCaller => {
                "it checks the caller: make an allowed principal an actor (`[actors]`), or exclude the method"
            }
            FailureCause::OutOfCycles => "the canister is out of cycles: give it more (`cycles` in `[[canister]]`)",
            FailureCause::Stopped => "the canister is stopped: check the setup",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FailureCause;

    #[test]
    fn failures_that_say_why_get_a_hint() {
        let hint = |message: &str| FailureCause::of(message).map(FailureCause::hint);
        assert!(hint("Canister trapped: deposit needs at least 1000 cycles attached")
            .unwrap()
            .contains("only a canister"));
        assert!(hint("Canister trapped: failed to decode call arguments: Custom(...)").unwrap().contains("--did"));
        assert_eq!(FailureCause::of("2vxsx-fae is not the owner"), Some(FailureCause::ChecksCaller));
        assert!(hint("2vxsx-fae is not the owner").unwrap().contains("checks the caller"));
        assert!(hint("Canister rrkah is out of cycles").unwrap().contains("more"));
        assert_eq!(hint("index out of bounds: the len is 3"), None);
    }
}
