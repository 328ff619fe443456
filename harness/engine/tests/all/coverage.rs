//! Coverage instrumentation is invisible to canisters: same results and states with and without it, and the
//! counters report what ran, by function name.

use candid::{Encode, Principal};
use icfuzz_engine::{Config, Delivery, InstructionLimits, Subnet};
use icfuzz_test_canisters::uc::Program;
use icfuzz_test_canisters::{motoko_wasm, Motoko};

use crate::*;

fn subnet_with_coverage(coverage: bool) -> Subnet {
    let config = Config { instruction_limits: InstructionLimits::uniform(TEST_INSTRUCTION_LIMIT), coverage, ..Config::default() };
    Subnet::new(config).unwrap()
}

/// A corpus of interactions; returns every observable result, plus the state hashes at the end.
fn run_corpus(s: &mut Subnet) -> (Vec<String>, Vec<[u8; 32]>) {
    let mut seen = Vec::new();
    let (a, b) = (install_uc(s), install_uc(s));
    let ledger = install(s, "ledger", vec![]);
    let bank = install(s, "bank", vec![]);
    let mo32 = s.create_canister();
    s.install_canister(mo32, &motoko_wasm("counter", Motoko::Wasm32), Encode!().unwrap(), None).unwrap();
    let mo64 = s.create_canister();
    s.install_canister(mo64, &motoko_wasm("counter", Motoko::Wasm64), Encode!().unwrap(), None).unwrap();

    let programs = vec![
        Program::new().push_bytes(b"x").set_global().inc_counter().reply_data_append().reply(),
        Program::new().push_int(3).stable_grow().drop().push_int(7).push_bytes(b"stable!").stable_write().reply(),
        Program::new().push_int(7).push_int(7).stable_read().reply_data_append().reply(),
        Program::new().push_bytes(b"boom").trap(),
        Program::new().loop_forever(),
        Program::new().push_int(100_000_000).recurse_native(),
        call_and_relay(b, Program::new().inc_counter().reply_data_append().reply()),
        call_and_relay(b, Program::new().push_bytes(b"no").reject()),
        Program::new().push_int(16).wasm_memory_grow().reply_data_append().reply(),
        Program::new().cycles_balance128().drop().time().reply_data_append().reply(),
    ];
    for p in programs {
        seen.push(format!("{:?}", update(s, a, p)));
    }
    seen.push(format!("{:?}", query(s, a, Program::new().get_global().reply_data_append().reply())));
    for amount in [30u64, 50, 500] {
        seen.push(format!("{:?}", s.update_call(bank, user(), "deposit", Encode!(&amount).unwrap())));
        let m1 = s.submit_call(bank, user(), "withdraw", Encode!(&ledger, &amount).unwrap()).unwrap();
        let m2 = s.submit_call(bank, user(), "withdraw", Encode!(&ledger, &amount).unwrap()).unwrap();
        s.deliver(Delivery::Ingress(m2)).unwrap();
        s.deliver(Delivery::Ingress(m1)).unwrap();
        s.run_until_quiet(100).unwrap();
        seen.push(format!("{:?} {:?}", s.ingress_status(m1).unwrap(), s.ingress_status(m2).unwrap()));
    }
    seen.push(format!("{:?}", s.update_call(bank, user(), "locked_call", Encode!(&ledger).unwrap())));
    for mo in [mo32, mo64] {
        for _ in 0..3 {
            seen.push(format!("{:?}", s.update_call(mo, user(), "inc", Encode!().unwrap())));
        }
    }
    let hashes = [a, b, ledger, bank, mo32, mo64].iter().map(|&c| s.state_hash(c).unwrap()).collect();
    for c in [a, b, ledger, bank, mo32, mo64] {
        seen.push(format!("{:?}", s.canister_logs(c).unwrap().iter().map(|r| r.content.clone()).collect::<Vec<_>>()));
    }
    (seen, hashes)
}

#[test]
fn instrumented_and_uninstrumented_canisters_behave_identically() {
    let plain = run_corpus(&mut subnet_with_coverage(false));
    let mut s = subnet_with_coverage(true);
    let instrumented = run_corpus(&mut s);
    assert_eq!(plain.0.len(), instrumented.0.len());
    for (p, i) in plain.0.iter().zip(&instrumented.0) {
        assert_eq!(p, i);
    }
    assert_eq!(plain.1, instrumented.1, "state hashes");
    assert!(!s.coverage().is_empty());
}

#[test]
fn coverage_reports_functions_by_name_and_grows_with_new_paths() {
    let mut s = subnet_with_coverage(true);
    let ledger = install(&mut s, "ledger", vec![]);
    let bank = install(&mut s, "bank", vec![]);
    let bank_coverage = |s: &Subnet| {
        s.coverage().into_iter().find(|m| m.canisters.contains(&bank)).expect("bank is instrumented").counters
    };
    let before = bank_coverage(&s).blocks_hit();
    s.update_call(bank, user(), "deposit", Encode!(&10u64).unwrap()).unwrap();
    let after_deposit = bank_coverage(&s).blocks_hit();
    assert!(after_deposit > before);
    s.update_call(bank, user(), "withdraw", Encode!(&ledger, &5u64).unwrap()).unwrap();
    let counters = bank_coverage(&s);
    assert!(counters.blocks_hit() > after_deposit, "a new method covers new blocks");
    let functions = counters.functions();
    let withdraw = functions.iter().find(|f| f.name.contains("withdraw")).expect("names come from the name section");
    assert!(withdraw.hit > 0 && withdraw.hit <= withdraw.blocks, "{withdraw:?}");
    assert!(functions.iter().any(|f| f.hit == 0), "not everything ran");
    // Each installed module appears once, with the canisters that run it.
    let uc1 = install_uc(&mut s);
    let uc2 = install_uc(&mut s);
    let uc = s.coverage().into_iter().find(|m| m.canisters.contains(&uc1)).unwrap();
    assert_eq!(uc.canisters, vec![uc1, uc2]);
    let _ = Principal::anonymous();
}

/// Subnets of one process share compiled code (compiling is most of what building one costs), never counters:
/// what one subnet runs does not show in another's coverage.
#[test]
fn subnets_sharing_compiled_code_keep_their_own_counters() {
    let mut first = subnet_with_coverage(true);
    let mut second = subnet_with_coverage(true);
    let bank1 = install(&mut first, "bank", vec![]);
    let bank2 = install(&mut second, "bank", vec![]);
    let hit = |s: &Subnet, id| s.coverage().into_iter().find(|m| m.canisters.contains(&id)).unwrap().counters.blocks_hit();
    let before = hit(&second, bank2);
    first.update_call(bank1, user(), "deposit", Encode!(&10u64).unwrap()).unwrap();
    assert!(hit(&first, bank1) > before);
    assert_eq!(hit(&second, bank2), before, "the second subnet ran nothing");
    second.update_call(bank2, user(), "deposit", Encode!(&10u64).unwrap()).unwrap();
    assert_eq!(hit(&second, bank2), hit(&first, bank1), "the same code covers the same blocks");
}
