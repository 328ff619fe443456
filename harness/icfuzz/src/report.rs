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
    execution.render()
}

/// The SHA-1 of `data` in hex: how libFuzzer names corpus and crash files (`crash-<sha1>`).
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1_smol::Sha1;
    Sha1::from(data).digest().to_string()
}

/// `text` as a lowercase identifier and file stem: ASCII letters and digits, every other run of characters one `_`,
/// none at either end (test names, files named after a finding or a feature).
pub fn identifier(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.truncate(out.trim_end_matches('_').len());
    out
}

/// The source of a Rust `#[test]` that replays a finding's scenario in the environment of `config` (an
/// `icfuzz.toml`, paths absolute) and fails while the finding (by signature) is still produced: a regression test
/// that fails on the vulnerable canister and passes once it is fixed. `origin` says where the finding came from.
pub fn regression_test(config: &std::path::Path, scenario: &crate::Scenario, finding: &crate::Finding, origin: &str) -> String {
    let json = scenario.to_json();
    let signature = finding.signature();
    let hashes = "#".repeat(longest_hash_run(&json).max(longest_hash_run(&signature)) + 1);
    let digest = sha1_hex(json.as_bytes());
    let name = identifier(&format!(
        "icfuzz_{}_{}_{}_{}",
        finding.kind.id(),
        finding.canister.as_deref().unwrap_or("env"),
        finding.method.as_deref().unwrap_or(&finding.oracle),
        &digest[..8]
    ));
    let finding_text = finding.to_string().replace('\n', " ");
    // Plain `//` comments, not `//!`: the test can then be appended to an existing test file or `include!`d.
    format!(
        r#"// Regression test written by `icfuzz regress` from {origin}.
//
// Finding: {finding_text}
//
// The test replays the finding's scenario in the environment of the icfuzz configuration below and fails while
// the same finding (by signature) comes out: it fails on the vulnerable canister and passes once the canister is
// fixed and rebuilt. It needs `icfuzz` as a dev-dependency. `ICFUZZ_CONFIG` overrides the configuration path.

const CONFIG: &str = {config:?};
const SIGNATURE: &str = r{hashes}"{signature}"{hashes};
const SCENARIO: &str = r{hashes}"{json}"{hashes};

#[test]
fn {name}() {{
    let path = std::env::var("ICFUZZ_CONFIG").unwrap_or_else(|_| CONFIG.to_owned());
    let loaded = icfuzz::config::Config::load(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{{e}}"));
    let builder = loaded.builder(None, icfuzz::engine::Config::default()).unwrap_or_else(|e| panic!("{{e}}"));
    let mut harness = builder.build().unwrap_or_else(|e| panic!("setting up the environment: {{e}}"));
    let scenario = icfuzz::Scenario::from_json(SCENARIO).expect("the scenario is valid JSON");
    let execution = harness.run(&scenario).unwrap_or_else(|e| panic!("running the scenario: {{e}}"));
    if let Some(finding) = &execution.finding {{
        assert_ne!(
            finding.signature(),
            SIGNATURE,
            "the finding is still there:\n{{}}",
            icfuzz::report::render_trace(&execution)
        );
    }}
}}
"#,
        config = config.display().to_string(),
    )
}

/// The longest run of `#` that follows a `"` in `text` (a raw string needs one more).
fn longest_hash_run(text: &str) -> usize {
    text.split('"').skip(1).map(|rest| rest.chars().take_while(|c| *c == '#').count()).max().unwrap_or(0)
}
