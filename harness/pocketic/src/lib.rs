//! The PocketIC backend of icfuzz: replay scenarios and findings on the replica.
//!
//! [`PocketIcBackend`] implements [`icfuzz::backend::Backend`] on the `pocket-ic` crate's blocking
//! [`PocketIc`] API. It drives progress only with `submit_call`, `tick` and `advance_time` — never
//! `auto_progress` — so a replay makes exactly the rounds its plan says.
//!
//! Canisters are created with `create_canister_with_id` at the ids the engine gave them (the engine numbers
//! canisters from 0 as the IC does, and those ids are the NNS subnet's range, so the instance has one NNS
//! subnet): principals in saved scenarios and encoded init arguments stay valid, no rewriting needed.
//!
//! Entry points: [`dry_run`] (the PocketIC operation sequence, no server needed) and [`replay`] (run it on a
//! server from `POCKET_IC_BIN`). See `docs/pocket-ic.md` for how to get a server and what replays exactly.

#![deny(missing_docs)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Duration;

use candid::{Encode, Principal};
use icfuzz::backend::{Backend, BackendError, CallId, Capabilities, Outcome, Reject};
use icfuzz::engine::ErrorCode;
use icfuzz::session::{self, Replay};
use icfuzz::engine::CanisterStatus;
use icfuzz::{Harness, Scenario};
use pocket_ic::common::rest::{RawEffectivePrincipal, RawMessageId};
use pocket_ic::{CanisterSettings, PocketIc, PocketIcBuilder, RejectResponse, Time};

/// The `pocket-ic` crate version this backend is written against; the server release must match its major
/// version (the crate accepts servers 16.x).
pub const POCKET_IC_CRATE_VERSION: &str = "16.1.0";

/// The environment variable naming the PocketIC server binary.
pub const SERVER_ENV: &str = "POCKET_IC_BIN";

/// Rounds a stop, start or snapshot waits for (a canister that holds calls never stops).
const MAX_MANAGEMENT_TICKS: usize = 100;

/// What PocketIC can do beyond the common operations.
pub const CAPABILITIES: Capabilities = Capabilities {
    // A round executes every message deliverable in it, in the replica's order.
    exact_delivery_order: false,
    // No API injects SYS_TRANSIENT or sheds messages.
    faults: false,
    // The adversary canister holds calls by polling itself; that works on any replica.
    hold_and_release: true,
    snapshots: true,
    stop_start: true,
    upgrade: true,
    canister_logs: true,
    exact_canister_ids: true,
    // The replica reports a trap only as the reject of the call it ended.
    execution_events: false,
    exact_quiescence: false,
    // PocketIC can mock outcall responses (`mock_canister_http_response`); this backend does not drive it yet, so
    // scenarios that answer outcalls are not reproducible on it.
    http_outcalls: false,
};

/// Errors of the PocketIC backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No PocketIC server binary is available.
    #[error("no PocketIC server: {0}")]
    NoServer(String),
    /// The server failed (it crashed, refused the instance, or a request failed).
    #[error("PocketIC server: {0}")]
    Server(String),
    /// The scenario or the environment is wrong (unknown names, setup failed, ...).
    #[error(transparent)]
    Harness(#[from] icfuzz::Error),
}

/// How to reach a PocketIC server.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The server binary; `None`: the `POCKET_IC_BIN` environment variable.
    pub server_binary: Option<PathBuf>,
    /// Without a binary, let the `pocket-ic` crate download the server (needs access to GitHub releases).
    /// Off by default, so a missing server is an error that says what to do, not a download attempt.
    pub download: bool,
}

impl Options {
    /// The server binary these options name (argument, then `POCKET_IC_BIN`), checked to exist.
    pub fn server(&self) -> Result<Option<PathBuf>, Error> {
        let path = self.server_binary.clone().or_else(|| std::env::var_os(SERVER_ENV).map(PathBuf::from));
        match path {
            Some(path) => {
                check_binary(&path)?;
                Ok(Some(path))
            }
            None if self.download => Ok(None),
            None => Err(Error::NoServer(no_server_hint())),
        }
    }
}

/// What to do without a server, in one line.
pub fn no_server_hint() -> String {
    format!(
        "set {SERVER_ENV} to a PocketIC server binary (release {POCKET_IC_CRATE_VERSION} from https://github.com/dfinity/pocketic/releases, \
         gunzip it and chmod +x it); see docs/pocket-ic.md"
    )
}

fn check_binary(path: &Path) -> Result<(), Error> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::NoServer(format!("{SERVER_ENV}={}: {e}; {}", path.display(), no_server_hint())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(Error::NoServer(format!(
                "{SERVER_ENV}={} is not an executable file (gunzip the release and chmod +x it)",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// A PocketIC instance as an icfuzz backend.
pub struct PocketIcBackend {
    pic: PocketIc,
    calls: Vec<RawMessageId>,
    snapshots: Vec<(Principal, Vec<u8>)>,
}

impl PocketIcBackend {
    /// A fresh instance with one NNS subnet (where the engine's canister ids live), its time set to
    /// `initial_time_nanos` (the engine's start time, so time-dependent behaviour matches).
    ///
    /// The `pocket-ic` crate panics when the server cannot be started; this returns that as [`Error::Server`].
    pub fn new(options: &Options, initial_time_nanos: u64) -> Result<PocketIcBackend, Error> {
        let server = options.server()?;
        let pic = guard(|| {
            let mut builder = PocketIcBuilder::new()
                .with_nns_subnet()
                .with_initial_time(Time::from_nanos_since_unix_epoch(initial_time_nanos));
            if let Some(server) = server {
                builder = builder.with_server_binary(server);
            }
            builder.build()
        })?;
        Ok(PocketIcBackend { pic, calls: Vec::new(), snapshots: Vec::new() })
    }

    /// The PocketIC instance, for inspection.
    pub fn pocket_ic(&self) -> &PocketIc {
        &self.pic
    }

    fn message(&self, call: CallId) -> Option<&RawMessageId> {
        self.calls.get(call.0 as usize)
    }

    fn track(&mut self, id: RawMessageId) -> CallId {
        self.calls.push(id);
        CallId(self.calls.len() as u64 - 1)
    }

    /// Submits a management call about `canister` and ticks until it completes (bounded).
    fn management(&mut self, method: &str, canister: Principal, sender: Principal) -> Result<(), BackendError> {
        let arg = Encode!(&CanisterIdRecord { canister_id: canister }).expect("encodes");
        let call = self.submit_management(method, canister, sender, arg).map_err(|r| BackendError::Failed(format!("{method}: {r}")))?;
        for _ in 0..MAX_MANAGEMENT_TICKS {
            self.pic.tick();
            match self.status(call) {
                Some(Ok(_)) => return Ok(()),
                Some(Err(r)) => return Err(BackendError::Failed(format!("{method} {canister}: {r}"))),
                None => {}
            }
        }
        Err(BackendError::Failed(format!("{method} {canister} did not complete in {MAX_MANAGEMENT_TICKS} rounds (calls held open?)")))
    }
}

#[derive(candid::CandidType)]
struct CanisterIdRecord {
    canister_id: Principal,
}

fn reject(r: RejectResponse) -> Reject {
    // PocketIC numbers its error codes as the IC does (`IC0xxx`); the engine's enum names the same numbers.
    Reject { code: r.reject_code as u32, error_code: ErrorCode::from_u32(r.error_code as u32), message: r.reject_message }
}

/// Runs `f`, turning a panic of the `pocket-ic` crate (how it reports server failures) into [`Error::Server`].
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| Error::Server(panic_message(&panic)))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the pocket-ic crate panicked".into())
}

impl Backend for PocketIcBackend {
    fn name(&self) -> &'static str {
        "pocket-ic"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn create_canister(&mut self, id: Principal, controller: Principal, cycles: Option<u128>) -> Result<Principal, BackendError> {
        let settings = CanisterSettings { controllers: Some(vec![controller]), ..CanisterSettings::default() };
        let got = self.pic.create_canister_with_id(Some(controller), Some(settings), id).map_err(BackendError::Failed)?;
        if let Some(cycles) = cycles {
            self.pic.add_cycles(got, cycles);
        }
        Ok(got)
    }

    fn install(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        // `install_canister` panics on a reject (it expects success); a bad module is a canister outcome here.
        let pic = &self.pic;
        catch_unwind(AssertUnwindSafe(|| pic.install_canister(canister, wasm.to_vec(), arg, Some(sender))))
            .map_err(|panic| Reject::other(panic_message(&panic)))
    }

    fn upgrade(&mut self, canister: Principal, wasm: &[u8], arg: Vec<u8>, sender: Principal) -> Result<(), Reject> {
        // As dfx and icp do: a module with enhanced orthogonal persistence is upgraded keeping its heap.
        if icfuzz::engine::check_module(wasm).is_ok_and(|m| m.enhanced_orthogonal_persistence) {
            return self.pic.upgrade_eop_canister(canister, wasm.to_vec(), arg, Some(sender)).map_err(reject);
        }
        self.pic.upgrade_canister(canister, wasm.to_vec(), arg, Some(sender)).map_err(reject)
    }

    fn submit(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Result<CallId, Reject> {
        let id = self.pic.submit_call(canister, sender, method, arg).map_err(reject)?;
        Ok(self.track(id))
    }

    fn submit_management(&mut self, method: &str, canister: Principal, sender: Principal, arg: Vec<u8>) -> Result<CallId, Reject> {
        let effective = RawEffectivePrincipal::CanisterId(canister.as_slice().to_vec());
        let id = self
            .pic
            .submit_call_with_effective_principal(Principal::management_canister(), effective, sender, method, arg)
            .map_err(reject)?;
        Ok(self.track(id))
    }

    fn status(&mut self, call: CallId) -> Option<Outcome> {
        let id = self.message(call)?.clone();
        self.pic.ingress_status(id).map(|r| r.map_err(reject))
    }

    fn tick(&mut self) {
        self.pic.tick();
    }

    fn advance_time(&mut self, nanos: u64) {
        self.pic.advance_time(Duration::from_nanos(nanos));
    }

    fn time_nanos(&mut self) -> u64 {
        self.pic.get_time().as_nanos_since_unix_epoch()
    }

    fn query(&mut self, canister: Principal, sender: Principal, method: &str, arg: Vec<u8>) -> Outcome {
        self.pic.query_call(canister, sender, method, arg).map_err(reject)
    }

    fn canister_status(&mut self, canister: Principal, sender: Principal) -> Result<CanisterStatus, BackendError> {
        use ic_management_canister_types_pocket_ic::CanisterStatusType;
        let status = self.pic.canister_status(canister, Some(sender)).map_err(|r| BackendError::Failed(reject(r).to_string()))?;
        Ok(match status.status {
            CanisterStatusType::Running => CanisterStatus::Running,
            CanisterStatusType::Stopping => CanisterStatus::Stopping,
            CanisterStatusType::Stopped => CanisterStatus::Stopped,
        })
    }

    fn memory_bytes(&mut self, canister: Principal, sender: Principal) -> Option<u64> {
        // The replica counts more than heap and stable memory (module, metadata, snapshots): budgets compare
        // with some slack.
        let status = self.pic.canister_status(canister, Some(sender)).ok()?;
        let digits = status.memory_size.0.to_u64_digits();
        Some(if digits.len() > 1 { u64::MAX } else { digits.first().copied().unwrap_or(0) })
    }

    fn canister_logs(&mut self, canister: Principal, sender: Principal, from: usize) -> Result<Vec<String>, BackendError> {
        let logs = self.pic.fetch_canister_logs(canister, sender).map_err(|r| BackendError::Failed(reject(r).to_string()))?;
        Ok(logs.into_iter().skip(from).map(|r| String::from_utf8_lossy(&r.content).into_owned()).collect())
    }

    fn log_len(&mut self, canister: Principal, sender: Principal) -> usize {
        self.pic.fetch_canister_logs(canister, sender).map(|logs| logs.len()).unwrap_or(0)
    }

    fn snapshot(&mut self, canisters: &[Principal], controller: Principal) -> Result<(), BackendError> {
        // Snapshots are taken of stopped canisters, so no message is half-way through one.
        let mut taken = Vec::new();
        for &canister in canisters {
            let replace = self.snapshots.iter().find(|(c, _)| *c == canister).map(|(_, id)| id.clone());
            self.management("stop_canister", canister, controller)?;
            let snapshot = self
                .pic
                .take_canister_snapshot(canister, Some(controller), replace)
                .map_err(|r| BackendError::Failed(format!("take_canister_snapshot {canister}: {}", reject(r))))?;
            self.management("start_canister", canister, controller)?;
            taken.push((canister, snapshot.id));
        }
        self.snapshots = taken;
        Ok(())
    }

    fn restore(&mut self, controller: Principal) -> Result<(), BackendError> {
        if self.snapshots.is_empty() {
            return Err(BackendError::Failed("no snapshot taken".into()));
        }
        for (canister, id) in self.snapshots.clone() {
            self.management("stop_canister", canister, controller)?;
            self.pic
                .load_canister_snapshot(canister, Some(controller), id)
                .map_err(|r| BackendError::Failed(format!("load_canister_snapshot {canister}: {}", reject(r))))?;
            self.management("start_canister", canister, controller)?;
        }
        Ok(())
    }
}

/// The PocketIC operation sequence of `scenario` in `harness`'s environment, with per-step notes (exact,
/// approximated as what, or not reproducible and why). Needs no server.
pub fn dry_run(harness: &Harness, scenario: &Scenario) -> Result<String, Error> {
    let plan = harness.plan_for(scenario, "pocket-ic", &CAPABILITIES)?;
    let time = harness.environment().config().initial_time_nanos;
    let mut out = format!(
        "PocketIcBuilder::new().with_nns_subnet().with_initial_time({time} ns).build()   (server from {SERVER_ENV}; pocket-ic {POCKET_IC_CRATE_VERSION})\n"
    );
    out.push_str(&plan.render());
    Ok(out)
}

/// Runs `scenario` on a fresh PocketIC instance: creates the environment's canisters at the engine's ids,
/// installs them and the adversaries, runs the setup calls, then the steps, checking invariants (their queries
/// go to PocketIC) and the oracles PocketIC supports. Without a server: [`Error::NoServer`].
pub fn replay(harness: &mut Harness, scenario: &Scenario, options: &Options) -> Result<Replay, Error> {
    let backend = PocketIcBackend::new(options, harness.environment().config().initial_time_nanos)?;
    guard(|| session::replay(harness, backend, scenario))?.map_err(Error::from)
}
