//! Human-readable reports.

use std::fmt::Write;

use crate::engine::Subnet;

/// Per-canister coverage of everything executed so far in this process: for each instrumented module, the
/// canisters running it, blocks hit of blocks instrumented, and each function that ran (by name from the Wasm name
/// section), most-covered first. Unexecuted functions are counted, not listed.
pub fn coverage_report(subnet: &Subnet) -> String {
    let mut out = String::new();
    let modules = subnet.coverage();
    if modules.is_empty() {
        out.push_str("no coverage: create the subnet with Config { coverage: true, .. }\n");
    }
    for module in modules {
        let canisters: Vec<String> = module.canisters.iter().map(|c| c.to_text()).collect();
        let counters = &module.counters;
        let functions = counters.functions();
        let total = counters.blocks().max(1);
        let _ = writeln!(
            out,
            "module {} (canisters {}): {}/{} blocks ({:.1}%), {}/{} functions",
            module.module_hash[..6].iter().map(|b| format!("{b:02x}")).collect::<String>(),
            canisters.join(", "),
            counters.blocks_hit(),
            counters.blocks(),
            100.0 * counters.blocks_hit() as f64 / total as f64,
            functions.iter().filter(|f| f.hit > 0).count(),
            functions.len()
        );
        let mut hit: Vec<_> = functions.iter().filter(|f| f.hit > 0).collect();
        hit.sort_by(|a, b| b.hit.cmp(&a.hit).then(a.index.cmp(&b.index)));
        for f in hit {
            let _ = writeln!(out, "  {:>5}/{:<5} {}", f.hit, f.blocks, f.name);
        }
    }
    out
}

/// The readable trace of an execution: each step, what it delivered and ran, replies, logs, and the finding.
pub fn render_trace(execution: &crate::Execution) -> String {
    let mut out = String::new();
    for entry in &execution.trace {
        match entry.step {
            Some(i) => {
                let _ = writeln!(out, "step {}: {}", i + 1, entry.title);
            }
            None => {
                let _ = writeln!(out, "{}", entry.title);
            }
        }
        for line in &entry.lines {
            let _ = writeln!(out, "    {line}");
        }
    }
    match &execution.finding {
        Some(f) => {
            let _ = writeln!(out, "\nfinding: {f}\nsignature: {}", f.signature());
        }
        None => out.push_str("\nno finding\n"),
    }
    out
}
