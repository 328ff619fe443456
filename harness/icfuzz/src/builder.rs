//! Building an environment: canisters, adversaries, actors, setup calls, oracles and invariants, resolved into an
//! [`Environment`] (ids, interfaces, init arguments, adversary modules) and set up on the engine as a
//! [`Harness`] ready to run scenarios.

use std::sync::Arc;

use candid::Principal;

use crate::adversary;
use crate::backend::EngineBackend;
use crate::engine::{canister_id_from_index, Config, Subnet};
use crate::environment::{
    controller_principal, substitute, untyped_args, user_principal, AdversaryInfo, CanisterInfo, Environment, Error, Names,
    SetupCall,
};
use crate::interface::Interface;
use crate::oracle::{Invariant, Oracles};
use crate::scenario::values::ValueGen;
use crate::scenario::GeneratorOptions;
use crate::session::{Harness, Session};

/// Most canisters (adversaries included) one environment has.
const MAX_CANISTERS: usize = 1024;

/// A canister of the environment.
#[derive(Clone, Debug)]
pub struct CanisterSpec {
    name: String,
    wasm: Vec<u8>,
    did: Option<String>,
    init_args: Option<String>,
    target: bool,
    upgradable: bool,
    exclude: Vec<String>,
    include: Option<Vec<String>>,
    weights: std::collections::BTreeMap<String, u32>,
    cycles: Option<u128>,
    id: Option<Principal>,
}

impl CanisterSpec {
    /// A canister called `name` running `wasm`, installed with no arguments, not a fuzz target.
    pub fn new(name: &str, wasm: Vec<u8>) -> CanisterSpec {
        CanisterSpec {
            name: name.to_owned(),
            wasm,
            did: None,
            init_args: None,
            target: false,
            upgradable: false,
            exclude: Vec::new(),
            include: None,
            weights: Default::default(),
            cycles: None,
            id: None,
        }
    }

    /// Place it at a fixed id, for code that names it by id (a ledger or the cycles minting canister hard-coded
    /// in the canister under test). Other canisters get ids in order, skipping fixed ones.
    pub fn id(mut self, id: Principal) -> Self {
        self.id = Some(id);
        self
    }

    /// Its Candid interface (otherwise read from the module's metadata or its `__get_candid_interface_tmp_hack`).
    pub fn did(mut self, did: &str) -> Self {
        self.did = Some(did.to_owned());
        self
    }

    /// Init arguments as Candid text; `{name}` stands for `principal "<id>"` of a named actor or canister.
    /// Without them, a canister whose interface declares init arguments gets the smallest well-typed values, with
    /// principals naming adversaries first (so a canister configured with "the ledger" talks to an adversary).
    pub fn init_args(mut self, args: &str) -> Self {
        self.init_args = Some(args.to_owned());
        self
    }

    /// Make it a fuzz target: scenarios call its update methods, and the built-in oracles watch it.
    pub fn target(mut self) -> Self {
        self.target = true;
        self
    }

    /// Let scenarios upgrade it (to the same module, with the init arguments). Off by default: an upgrade drops
    /// heap state, which canisters that keep state only on the heap do by design.
    pub fn upgradable(mut self) -> Self {
        self.upgradable = true;
        self
    }

    /// Never call this method from scenarios (e.g. controller-only setup methods).
    pub fn exclude(mut self, method: &str) -> Self {
        self.exclude.push(method.to_owned());
        self
    }

    /// How often scenarios call this method relative to the others (default 1; 0 never calls it).
    pub fn weight(mut self, method: &str, weight: u32) -> Self {
        self.weights.insert(method.to_owned(), weight);
        self
    }

    /// Call only these methods (every other update method is excluded).
    pub fn include(mut self, methods: &[&str]) -> Self {
        self.include = Some(methods.iter().map(|m| m.to_string()).collect());
        self
    }

    /// Start with this many cycles instead of the engine's default.
    pub fn cycles(mut self, cycles: u128) -> Self {
        self.cycles = Some(cycles);
        self
    }
}

/// An adversary slot: a malicious canister that answers the methods it impersonates as scripted.
#[derive(Clone, Debug)]
pub struct AdversarySpec {
    name: String,
    methods: Vec<String>,
    did: Option<String>,
    like: Option<String>,
}

impl AdversarySpec {
    /// An adversary called `name`.
    pub fn new(name: &str) -> AdversarySpec {
        AdversarySpec { name: name.to_owned(), methods: Vec::new(), did: None, like: None }
    }

    /// Answer these methods (untyped: scripted replies default to `()`).
    pub fn impersonate(mut self, methods: &[&str]) -> Self {
        self.methods.extend(methods.iter().map(|m| m.to_string()));
        self
    }

    /// Answer every method of this interface, with well-typed replies by default.
    pub fn impersonate_did(mut self, did: &str) -> Self {
        self.did = Some(did.to_owned());
        self
    }

    /// Answer every method of another canister of the environment (a malicious stand-in for it).
    pub fn like(mut self, canister: &str) -> Self {
        self.like = Some(canister.to_owned());
        self
    }
}

/// Builds a [`Harness`]: `Environment::builder()`.
pub struct EnvironmentBuilder {
    config: Config,
    canisters: Vec<CanisterSpec>,
    adversaries: Vec<AdversarySpec>,
    adversary_wasm: Option<Vec<u8>>,
    users: Vec<String>,
    anonymous: bool,
    controller_calls: bool,
    setup: Vec<SetupCall>,
    invariants: Vec<Box<dyn Invariant>>,
    oracles: Oracles,
    generator: GeneratorOptions,
}

impl Environment {
    /// A builder with the engine's default configuration, the anonymous actor, and the default oracles.
    pub fn builder() -> EnvironmentBuilder {
        EnvironmentBuilder::new()
    }
}

impl EnvironmentBuilder {
    fn new() -> EnvironmentBuilder {
        EnvironmentBuilder {
            config: Config::default(),
            canisters: Vec::new(),
            adversaries: Vec::new(),
            adversary_wasm: None,
            users: Vec::new(),
            anonymous: true,
            controller_calls: false,
            setup: Vec::new(),
            invariants: Vec::new(),
            oracles: Oracles::default(),
            generator: GeneratorOptions::default(),
        }
    }

    /// Engine configuration (limits, fees, time, coverage).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Instruments canisters for coverage feedback ([`Config::coverage`]), keeping the rest of the configuration.
    pub fn coverage(mut self, on: bool) -> Self {
        self.config.coverage = on;
        self
    }

    /// Instruction limits ([`Config::instruction_limits`]), keeping the rest of the configuration.
    pub fn instruction_limits(mut self, limits: crate::engine::InstructionLimits) -> Self {
        self.config.instruction_limits = limits;
        self
    }

    /// Adds a canister.
    pub fn canister(mut self, spec: CanisterSpec) -> Self {
        self.canisters.push(spec);
        self
    }

    /// Adds an adversary slot.
    pub fn adversary(mut self, spec: AdversarySpec) -> Self {
        self.adversaries.push(spec);
        self
    }

    /// The adversary canister's module (`canisters/adversary`); required when there are adversaries.
    pub fn adversary_wasm(mut self, wasm: Vec<u8>) -> Self {
        self.adversary_wasm = Some(wasm);
        self
    }

    /// Adds a user actor (an ingress sender with its own principal).
    pub fn user(mut self, name: &str) -> Self {
        self.users.push(name.to_owned());
        self
    }

    /// Whether the anonymous principal sends calls (default: yes).
    pub fn anonymous(mut self, on: bool) -> Self {
        self.anonymous = on;
        self
    }

    /// Whether the controller is an actor of scenarios too (default: no; it is trusted).
    pub fn controller_calls(mut self, on: bool) -> Self {
        self.controller_calls = on;
        self
    }

    /// A setup call by the controller; Candid text arguments with `{name}` placeholders.
    pub fn setup(mut self, canister: &str, method: &str, args: &str) -> Self {
        self.setup.push(SetupCall { actor: None, canister: canister.into(), method: method.into(), args: args.into() });
        self
    }

    /// A setup call by a named actor.
    pub fn setup_as(mut self, actor: &str, canister: &str, method: &str, args: &str) -> Self {
        self.setup.push(SetupCall {
            actor: Some(actor.into()),
            canister: canister.into(),
            method: method.into(),
            args: args.into(),
        });
        self
    }

    /// Adds an invariant.
    pub fn invariant(mut self, invariant: impl Invariant + 'static) -> Self {
        self.invariants.push(Box::new(invariant));
        self
    }

    /// Sets the built-in oracles.
    pub fn oracles(mut self, oracles: Oracles) -> Self {
        self.oracles = oracles;
        self
    }

    /// Sets the scenario generator's options.
    pub fn generator(mut self, options: GeneratorOptions) -> Self {
        self.generator = options;
        self
    }

    /// Resolves the environment (ids, interfaces, init arguments, adversary modules) and sets it up on a fresh
    /// engine: installs everything, runs the setup calls, and snapshots the result.
    pub fn build(self) -> Result<Harness, Error> {
        let oracles = self.oracles.clone();
        let generator = self.generator.clone();
        let (environment, invariants) = self.resolve()?;
        let backend = EngineBackend::new(environment.config.clone()).map_err(|e| Error::Setup(e.to_string()))?;
        Session::start(Arc::new(environment), backend, oracles.into_set(invariants), generator)
    }

    /// The environment these specifications describe, and the invariants to check in it. Canister ids are the ones
    /// the engine allocates in creation order (adversaries first), which every backend reproduces.
    pub fn resolve(self) -> Result<(Environment, Vec<Box<dyn Invariant>>), Error> {
        let setup = |m: String| Error::Setup(m);
        let controller = controller_principal();
        let mut names = Names::default();
        names.insert("controller", controller);
        names.insert("anonymous", Principal::anonymous());
        let mut actors = Vec::new();
        for user in &self.users {
            let p = user_principal(user);
            names.insert(user, p);
            actors.push((user.clone(), p));
        }
        if self.anonymous {
            actors.push(("anonymous".to_owned(), Principal::anonymous()));
        }
        if self.controller_calls {
            actors.push(("controller".to_owned(), controller));
        }
        if self.adversaries.len() + self.canisters.len() > MAX_CANISTERS {
            return Err(setup(format!("an environment has at most {MAX_CANISTERS} canisters and adversaries")));
        }
        // Name every canister before resolving any, so init arguments can name any of them.
        let fixed: Vec<Principal> = self.canisters.iter().filter_map(|c| c.id).collect();
        if let Some(twice) = fixed.iter().enumerate().find_map(|(i, id)| fixed[..i].contains(id).then_some(id)) {
            return Err(setup(format!("two canisters are placed at id {twice}")));
        }
        let mut index = 0;
        let mut next_id = || loop {
            index += 1;
            let id = canister_id_from_index(index - 1);
            if !fixed.contains(&id) {
                break id;
            }
        };
        let mut adversary_ids = Vec::new();
        for spec in &self.adversaries {
            check_name(&names, &spec.name)?;
            let id = next_id();
            names.insert(&spec.name, id);
            adversary_ids.push(id);
        }
        let mut canister_ids = Vec::new();
        for spec in &self.canisters {
            check_name(&names, &spec.name)?;
            let id = spec.id.unwrap_or_else(&mut next_id);
            names.insert(&spec.name, id);
            canister_ids.push(id);
        }

        let mut canisters = Vec::new();
        for (spec, &id) in self.canisters.iter().zip(&canister_ids) {
            let mut declared = match &spec.did {
                Some(did) => Some(Interface::parse(did)?),
                None => Interface::from_wasm_metadata(&spec.wasm).transpose()?,
            };
            if let (Some(interface), Ok(module)) = (&declared, crate::engine::check_module(&spec.wasm)) {
                // A `.did` of another module (or version) would run a whole campaign of calls that all fail.
                let missing: Vec<&str> =
                    interface.methods.iter().map(|m| m.name.as_str()).filter(|m| !module.methods.contains(*m)).collect();
                if !missing.is_empty() {
                    return Err(setup(format!(
                        "the interface of `{}` names methods its module does not export: {}; is the .did for this module?",
                        spec.name,
                        missing.join(", ")
                    )));
                }
            }
            if declared.is_none() && spec.init_args.is_none() && crate::interface::has_export(&spec.wasm, "canister_init") {
                // Init arguments are typed by the interface, which only the canister can tell (its
                // __get_candid_interface_tmp_hack query); ask a copy that skips init, so init cannot fail for
                // want of the arguments it is about to get.
                declared = probe_interface(&self.config, &spec.wasm, None);
            }
            let (init_text, init_arg, init_probed) = match (&spec.init_args, &declared) {
                (Some(text), _) => {
                    let text = substitute(text, &names)?;
                    let arg = match &declared {
                        Some(i) if !i.init_args.is_empty() => i.encode_args(&text, &i.init_args)?,
                        _ => untyped_args(&text)?,
                    };
                    (text, arg, false)
                }
                (None, Some(i)) if !i.init_args.is_empty() => {
                    let (text, arg, probed) = probe_init_args(&self.config, &spec.wasm, id, i, &adversary_ids, &names)
                        .map_err(|e| setup(format!("`{}`: {e}; give its init arguments with CanisterSpec::init_args", spec.name)))?;
                    (text, arg, probed)
                }
                (None, _) => ("()".to_owned(), untyped_args("()")?, false),
            };
            let interface = match declared {
                Some(i) => i,
                // Ask the canister itself, installed as it will be (at its id, with its init arguments) on a
                // throwaway subnet.
                None => fetch_installed_interface(&self.config, &spec.wasm, id, &init_arg)
                    .map_err(|e| setup(format!("`{}` has no Candid interface: {e}; pass one with CanisterSpec::did", spec.name)))?,
            };
            let mut exclude = spec.exclude.clone();
            if let Some(include) = &spec.include {
                for m in include {
                    interface.method(m).map_err(|_| setup(format!("`{}` has no method `{m}` to include", spec.name)))?;
                }
                exclude.extend(interface.methods.iter().filter(|m| !include.contains(&m.name)).map(|m| m.name.clone()));
            }
            for excluded in &spec.exclude {
                interface.method(excluded).map_err(|_| setup(format!("`{}` has no method `{excluded}` to exclude", spec.name)))?;
            }
            for weighted in spec.weights.keys() {
                interface.method(weighted).map_err(|_| setup(format!("`{}` has no method `{weighted}` to weigh", spec.name)))?;
            }
            canisters.push(CanisterInfo {
                name: spec.name.clone(),
                id,
                interface,
                wasm: spec.wasm.clone(),
                init_arg,
                init_text,
                init_probed,
                cycles: spec.cycles,
                target: spec.target,
                upgradable: spec.upgradable,
                exclude,
                weights: spec.weights.clone(),
                words: crate::words::module_words(&spec.wasm),
            });
        }
        if !canisters.iter().any(|c| c.target) {
            return Err(setup("no canister is a target: mark at least one with CanisterSpec::target()".into()));
        }

        let mut adversaries = Vec::new();
        for (spec, &id) in self.adversaries.iter().zip(&adversary_ids) {
            let wasm = self
                .adversary_wasm
                .as_ref()
                .ok_or_else(|| setup("adversaries need the adversary canister's module: EnvironmentBuilder::adversary_wasm".into()))?;
            let interface = match (&spec.did, &spec.like) {
                (Some(did), _) => Some(Interface::parse(did)?),
                (None, Some(like)) => Some(
                    canisters
                        .iter()
                        .find(|c| &c.name == like)
                        .ok_or_else(|| setup(format!("adversary `{}` is like `{like}`, which is not a canister", spec.name)))?
                        .interface
                        .clone(),
                ),
                (None, None) => None,
            };
            let mut methods = spec.methods.clone();
            if let Some(i) = &interface {
                for m in &i.methods {
                    if !methods.contains(&m.name) {
                        methods.push(m.name.clone());
                    }
                }
            }
            // An adversary impersonating nothing still attacks and still is a principal canisters may be handed
            // (calls to it are rejected by the system); zero-config discovery starts from there.
            let module = adversary::impersonate(wasm, &methods)?;
            adversaries.push(AdversaryInfo { name: spec.name.clone(), id, methods, interface, module });
        }
        let environment =
            Environment { config: self.config, names, controller, canisters, adversaries, actors, setup: self.setup };
        Ok((environment, self.invariants))
    }
}

fn check_name(names: &Names, name: &str) -> Result<(), Error> {
    if names.principal(name).is_some() || name.is_empty() || name.contains(['{', '}', ' ']) {
        return Err(Error::Setup(format!("name `{name}` is taken or invalid (names are unique, without spaces or braces)")));
    }
    Ok(())
}

/// The interface of a module that has no metadata, from its `__get_candid_interface_tmp_hack` query, asked of a
/// throwaway copy installed without its `canister_init` (which may need arguments). `None` if that fails.
fn probe_interface(config: &Config, wasm: &[u8], at: Option<Principal>) -> Option<Interface> {
    let stripped = crate::interface::without_export(wasm, "canister_init")?;
    let id = at.unwrap_or_else(|| canister_id_from_index(0));
    fetch_installed_interface(config, &stripped, id, &candid::encode_args(()).ok()?).ok()
}

/// The interface a canister reports once installed at `id` with `init_arg`, on a throwaway subnet.
fn fetch_installed_interface(config: &Config, wasm: &[u8], id: Principal, init_arg: &[u8]) -> Result<Interface, String> {
    let mut subnet = Subnet::new(Config { coverage: false, ..config.clone() }).map_err(|e| e.to_string())?;
    let controller = controller_principal();
    // At the id it will have: canisters read their own id.
    subnet.create_canister_at(id, vec![controller], config.default_cycles).map_err(|e| e.to_string())?;
    subnet.install_canister(id, wasm, init_arg.to_vec(), Some(controller)).map_err(|r| format!("installing it: {}", r.reject_message))?;
    fetch_interface(&mut subnet, id, controller)
}

/// Most init arguments tried before giving up.
const MAX_INIT_PROBES: usize = 32;

/// Init arguments for a canister whose configuration gives none: the smallest well-typed values (principals
/// drawn from the adversaries first, then the other names) if the canister installs with them, else the first of
/// [`ValueGen::alternatives`] (other variant cases, options present, other principals, small numbers) it
/// installs with, each tried on a throwaway subnet at the canister's id. Returns the Candid text, its encoding,
/// and whether probing was needed.
fn probe_init_args(
    config: &Config,
    wasm: &[u8],
    id: Principal,
    interface: &Interface,
    adversaries: &[Principal],
    names: &Names,
) -> Result<(String, Vec<u8>, bool), String> {
    let mut scope = adversaries.to_vec();
    let controller = controller_principal();
    scope.extend(names.by_name.values().filter(|p| !adversaries.contains(p) && **p != Principal::anonymous() && **p != controller));
    let gen = ValueGen::new(&interface.env, &scope, &[]);
    let mut candidates = Vec::new();
    if let Ok(args) = gen.args(&mut arbitrary::Unstructured::new(&[]), &interface.init_args) {
        // Without input bytes the generator's principal is the anonymous one; a canister handed a principal at
        // init (its ledger, its oracle) should be handed the first adversary instead.
        let first = scope.first().copied().unwrap_or_else(Principal::anonymous);
        candidates.push(candid::IDLArgs::new(&args.args.iter().map(|v| with_principal(v, first)).collect::<Vec<_>>()));
    }
    candidates.extend(gen.alternatives(&interface.init_args, MAX_INIT_PROBES));
    let mut subnet = Subnet::new(Config { coverage: false, ..config.clone() }).map_err(|e| e.to_string())?;
    subnet.create_canister_at(id, vec![controller], config.default_cycles).map_err(|e| e.to_string())?;
    let mut first_error = None;
    let mut tried = std::collections::BTreeSet::new();
    for (n, args) in candidates.iter().enumerate() {
        let text = args.to_string();
        if !tried.insert(text.clone()) {
            continue;
        }
        let Ok(bytes) = interface.encode_args(&text, &interface.init_args) else { continue };
        match subnet.install_canister(id, wasm, bytes.clone(), Some(controller)) {
            Ok(()) => return Ok((text, bytes, n > 0)),
            Err(reject) => {
                first_error.get_or_insert_with(|| format!("with {text}: {}", reject.reject_message));
            }
        }
    }
    Err(format!(
        "it does not install with any of the {} init arguments tried (first: {})",
        tried.len(),
        first_error.unwrap_or_else(|| "none could be encoded".into())
    ))
}

/// `value` with every anonymous principal replaced by `principal`.
fn with_principal(value: &candid::types::value::IDLValue, principal: Principal) -> candid::types::value::IDLValue {
    use candid::types::value::{IDLField, IDLValue, VariantValue};
    let field = |f: &IDLField| IDLField { id: f.id.clone(), val: with_principal(&f.val, principal) };
    match value {
        IDLValue::Principal(p) if *p == Principal::anonymous() => IDLValue::Principal(principal),
        IDLValue::Opt(v) => IDLValue::Opt(Box::new(with_principal(v, principal))),
        IDLValue::Vec(items) => IDLValue::Vec(items.iter().map(|v| with_principal(v, principal)).collect()),
        IDLValue::Record(fields) => IDLValue::Record(fields.iter().map(field).collect()),
        IDLValue::Variant(v) => IDLValue::Variant(VariantValue(Box::new(field(&v.0)), v.1)),
        other => other.clone(),
    }
}

/// Reads a canister's interface from the module itself: the `get_candid_pointer` export of ic-cdk's
/// `export_candid!()` (what a plain cargo build has), else the `__get_candid_interface_tmp_hack` query.
fn fetch_interface(subnet: &mut Subnet, id: Principal, controller: Principal) -> Result<Interface, String> {
    match subnet.exported_candid(id) {
        Ok(Some(did)) => return Interface::parse(&did).map_err(|e| format!("the Candid text of get_candid_pointer: {e}")),
        Ok(None) => {}
        Err(r) => return Err(format!("no candid:service metadata and get_candid_pointer failed: {}", r.reject_message)),
    }
    let reply = subnet
        .query_call(id, controller, "__get_candid_interface_tmp_hack", candid::encode_args(()).expect("empty args"))
        .map_err(|r| {
            format!(
                "no candid:service metadata, no get_candid_pointer export (ic-cdk's export_candid!()), and \
                 __get_candid_interface_tmp_hack failed: {}",
                r.reject_message
            )
        })?;
    let (did,): (String,) = candid::decode_args(&reply).map_err(|e| format!("__get_candid_interface_tmp_hack: {e}"))?;
    Interface::parse(&did).map_err(|e| e.to_string())
}

