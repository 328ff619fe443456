//! Writes the seed corpora `corpus/<example>/`: inputs that reach new canister code in the fixed twin of each
//! example, and find nothing in it, so every campaign starts from varied, valid scenarios.
//!
//! `cargo run --release -p icfuzz-fuzzers --example seed_corpus [<example>...]`. Deterministic: the same
//! canisters give the same files (named by the SHA-1 of their bytes, as libFuzzer names corpus files).

use icfuzz::fuzz::{fuzz, FuzzOptions};
use icfuzz_fuzzers::examples::{Twin, EXAMPLES};

/// Most seeds per example.
const SEEDS: usize = 24;

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus");
    for example in EXAMPLES.iter().filter(|e| wanted.is_empty() || wanted.iter().any(|w| w == e.name)) {
        let mut fixed = example.builder(Twin::Fixed).coverage(true).build().expect("the fixed twin builds");
        let options = FuzzOptions { executions: 600, seed: 1, stop_on_first: false, ..FuzzOptions::default() };
        let report = fuzz(&mut fixed, &options).expect("the campaign runs");
        let dir = root.join(example.name);
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        let mut written = 0;
        for input in report.corpus.iter().take(SEEDS) {
            let name = sha1_smol::Sha1::from(input).digest().to_string();
            let path = dir.join(name);
            if !path.exists() {
                std::fs::write(&path, input).expect("write a seed");
                written += 1;
            }
        }
        println!("{}: {} corpus inputs, {written} new seed(s) in {}", example.name, report.corpus.len(), dir.display());
    }
}
