//! The parser fuzz targets (`fuzz/fuzz_targets/parse_*.rs`), run for a bounded number of deterministic mutations
//! of the repository's own inputs (example configs, `.did` files, saved scenarios, their checks and arguments),
//! plus the hostile inputs found before: no panic, no input that takes minutes, and no allocation beyond a stated
//! bound (measured by this binary's allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fastrand::Rng;
use icfuzz_fuzzers::parsers::{run, Parser, Verdict};

/// Counts live heap bytes and their peak, so a parser that allocates out of proportion to its input shows.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The bound: 16 MiB plus 512 bytes per input byte (a parser keeps a few copies and a tree of its input).
fn allocation_bound(input_len: usize) -> usize {
    (16 << 20) + 512 * input_len
}

/// Longest input, as libFuzzer's `-max_len` for these targets.
const MAX_LEN: usize = 64 << 10;

/// Far beyond any parse of 64 KiB in a debug build: an input this slow is a hang.
const HANG: Duration = Duration::from_secs(30);

/// Tests measure the allocator one at a time.
static MEASURING: Mutex<()> = Mutex::new(());

/// Runs one input, checking time and allocation; panics (naming the input) when a bound is broken.
fn check(parser: Parser, input: &[u8]) -> Verdict {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    let verdict = std::panic::catch_unwind(|| run(parser, input))
        .unwrap_or_else(|_| panic!("{parser:?} panicked on {:?}", String::from_utf8_lossy(input)));
    let took = started.elapsed();
    let allocated = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(took < HANG, "{parser:?} took {took:?} on {} bytes: {:?}", input.len(), String::from_utf8_lossy(input));
    assert!(
        allocated <= allocation_bound(input.len()),
        "{parser:?} allocated {allocated} bytes for {} input bytes: {:?}",
        input.len(),
        String::from_utf8_lossy(&input[..input.len().min(400)])
    );
    verdict
}

fn repo() -> PathBuf {
    icfuzz_test_canisters::canisters_dir().parent().expect("the repository").to_owned()
}

/// Files under `dir` (not build output) whose name satisfies `keep`.
fn files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if path.is_dir() && !matches!(name, "target" | "node_modules" | ".git") {
            out.extend(files(&path, keep));
        } else if path.is_file() && keep(name) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Seeds per parser: what users feed icfuzz, taken from the repository.
fn seeds(parser: Parser) -> Vec<Vec<u8>> {
    let canisters = icfuzz_test_canisters::canisters_dir();
    let configs = files(&canisters, &|n| n == "icfuzz.toml");
    let parsed: Vec<icfuzz::config::Config> =
        configs.iter().map(|p| icfuzz::config::Config::parse(&std::fs::read_to_string(p).unwrap()).unwrap()).collect();
    let texts: Vec<String> = match parser {
        Parser::Config => configs.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect(),
        Parser::Did => files(&canisters, &|n| n.ends_with(".did"))
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .chain(["type t = record { a : opt vec t; b : variant { x; y : nat8 } }; service : { f : (t, blob) -> (text) query }".into()])
            .collect(),
        Parser::Scenario => {
            let v1 = std::fs::read_to_string(repo().join("harness/fuzzers/tests/data/stale_balance_v1.json")).unwrap();
            let current = icfuzz::Scenario::from_json(&v1).unwrap().to_json();
            // Scenarios of every step kind: the example environments decode their seed corpora.
            let ex = icfuzz_fuzzers::examples::example("stale_balance").unwrap();
            let harness = ex.harness(icfuzz_fuzzers::examples::Twin::Vulnerable);
            let corpus = files(&repo().join("corpus/stale_balance"), &|_| true);
            let generated = corpus.iter().take(20).map(|p| harness.generate(&std::fs::read(p).unwrap()).to_json());
            [v1, current].into_iter().chain(generated).collect()
        }
        Parser::Check => parsed
            .iter()
            .flat_map(|c| c.invariants.iter().map(|i| i.check.clone()))
            .chain(["bank.balance({alice}).Ok.amount * 10 <= ledger.total(record { owner = {bank}; sub = null })".into()])
            .collect(),
        Parser::Project => vec![
            r#"{"canisters": {"bank": {"type": "rust", "package": "bank", "candid": "bank.did"}, "web": {"type": "assets"}, "x": {"type": "custom", "wasm": "x.wasm", "init_arg": "(record { a = 1 })"}}}"#.into(),
            "canisters:\n  - name: backend\n    recipe:\n      type: \"@dfinity/rust\"\n      configuration:\n        package: backend\n  - name: dep\n    build:\n      steps:\n        - type: pre-built\n          path: dep.wasm\n".into(),
        ],
        Parser::CandidArgs => parsed
            .iter()
            .flat_map(|c| c.canisters.iter().filter_map(|k| k.init_args.clone()))
            .chain([
                "(record { owner = principal \"aaaaa-aa\"; fee = opt (10 : nat64); subaccount = blob \"\\00\\01\" }, vec { 1; 2 }, variant { Ok = \"x\" })".into(),
                "(-5 : int8, 3.5 : float64, null, true, func \"aaaaa-aa\".f, service \"aaaaa-aa\")".into(),
            ])
            .collect(),
    };
    assert!(!texts.is_empty(), "{parser:?}: no seeds found");
    texts.into_iter().map(String::into_bytes).collect()
}

/// Tokens the mutator inserts: the syntax of each format, and values at its edges.
fn dictionary(parser: Parser) -> &'static [&'static str] {
    match parser {
        Parser::Config => &["[[canister]]", "[[invariant]]", "[[adversary]]", "[limits]", "[oracles]", "= \"", "= [", "{", "}", "\"\"\"", "'''", "\n", "1e999", "99999999999999999999", "-1", "name", "wasm", "check", "weights = { a = 4294967295, b = 4294967295 }", "\\u{10FFFF}"],
        Parser::Did => &["record {", "variant {", "opt ", "vec ", "}", ";", "func", "service :", "query", "type t = ", "t", "(", ")", "->", "nat", "blob", "principal", "reserved", "empty", "\"", "1 :"],
        Parser::Scenario => &["{", "}", "[", "]", "\"version\": ", "\"steps\": ", "\"deliver\"", "\"fault\"", "\"call\"", "null", "1e400", "-1", "18446744073709551616", ",", "\"\\u0000\""],
        Parser::Check => &["==", "<=", "!=", ".", "(", ")", "{", "}", "\"", "* ", "record {", "opt ", "vec {", "principal \"aaaaa-aa\"", "0", "-", ".Ok", ".0"],
        Parser::Project => &["{", "}", "[", "]", ":", "\"canisters\"", "\"type\"", "\"custom\"", "\"wasm\"", "- name: ", "\n  ", "&a", "*a", "!!binary", "null", ","],
        Parser::CandidArgs => &["(", ")", "opt ", "vec {", "record {", "variant {", "}", ";", "=", "\"", "blob \"", "\\", ": nat8", "principal \"", "1_000", "-0", "1e308", "0x", "{alice}"],
    }
}

/// A number below `n` (0 if `n` is 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.usize(..n.max(1))
}

/// One to eight edits of a seed: byte flips, insertions of dictionary tokens, deletions, duplicated ranges (which
/// build deep nesting), and splices with another seed.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], dictionary: &[&str]) -> Vec<u8> {
    let mut data = seeds[below(rng, seeds.len())].clone();
    for _ in 0..1 + below(rng, 8) {
        let at = below(rng, data.len() + 1);
        match below(rng, 6) {
            0 if !data.is_empty() => {
                let i = below(rng, data.len());
                data[i] ^= 1 << below(rng, 8);
            }
            1 => {
                let token = dictionary[below(rng, dictionary.len())];
                data.splice(at..at, token.bytes());
            }
            2 if at < data.len() => {
                let end = (at + 1 + below(rng, 32)).min(data.len());
                data.drain(at..end);
            }
            3 if at < data.len() => {
                let end = (at + 1 + below(rng, 64)).min(data.len());
                let copy: Vec<u8> = data[at..end].to_vec();
                for _ in 0..1 + below(rng, 64) {
                    data.splice(at..at, copy.iter().copied());
                }
            }
            4 => {
                let other = &seeds[below(rng, seeds.len())];
                let from = below(rng, other.len());
                data.splice(at..at, other[from..(from + below(rng, 200)).min(other.len())].iter().copied());
            }
            _ => data.insert(at, rng.u8(..)),
        }
        data.truncate(MAX_LEN);
    }
    data
}

#[test]
fn parsers_survive_mutations_of_real_inputs() {
    let _measuring = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let runs = 5000;
    for parser in Parser::ALL {
        let seeds = seeds(parser);
        // Every seed is a real input: it must be accepted, or the mutations start from rejected text.
        for seed in &seeds {
            assert_eq!(check(parser, seed), Verdict::Accepted, "{parser:?} refuses a seed: {}", String::from_utf8_lossy(seed));
        }
        let dictionary = dictionary(parser);
        // Deterministic: the same mutations on every run.
        let mut rng = Rng::with_seed(0x1cf0_22 ^ parser as u64);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..runs {
            match check(parser, &mutate(&mut rng, &seeds, dictionary)) {
                Verdict::Accepted => accepted += 1,
                Verdict::Refused(_) => refused += 1,
                Verdict::NotText => {}
            }
        }
        eprintln!("{parser:?}: {} seeds, {runs} mutations: {accepted} accepted, {refused} refused", seeds.len());
        // Not vacuous: the mutations reach both the accepting and the refusing paths.
        assert!(accepted > 0 && refused > 0, "{parser:?}: {accepted} accepted, {refused} refused");
    }
}

/// Inputs that once panicked, hung or overflowed the stack.
#[test]
fn known_hostile_inputs_are_refused_in_bounded_time_and_memory() {
    let _measuring = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let nest = |open: &str, inner: &str, close: &str, n: usize| format!("{}{inner}{}", open.repeat(n), close.repeat(n));
    let cases: Vec<(Parser, String)> = vec![
        // 5,000 nested `opt` in a method argument: generating a value for it took minutes.
        (Parser::Did, format!("service : {{ f : ({}) -> () }}", nest("opt ", "nat", "", 5000))),
        (Parser::Did, format!("service : {{ f : ({}) -> () }}", nest("record {", "nat", "}", 100_000 / 8))),
        // Wide records nested to the generator's depth (by name): every level multiplies the value's size.
        (Parser::Did, {
            let fields = |inner: &str| (0..60).map(|i| format!("f{i} : {inner}")).collect::<Vec<_>>().join("; ");
            let types: String = (1..6).map(|level| format!("type t{level} = record {{ {} }};\n", fields(&format!("t{}", level - 1)))).collect();
            format!("type t0 = nat;\n{types}service : {{ f : (t5) -> () }}\0{}", "\u{ff}".repeat(4096))
        }),
        (Parser::CandidArgs, nest("(opt ", "1", ")", 20_000)),
        // A multi-byte character after a non-ASCII byte: the nesting pre-scan sliced the text inside it.
        (Parser::CandidArgs, "(opt \"\\\u{30d}\" ́x)".into()),
        (Parser::CandidArgs, format!("({})", nest("vec {", "", "}", 30_000))),
        (Parser::Check, format!("a.b({}) == 1", nest("opt ", "1", "", 20_000))),
        (Parser::Scenario, nest("[", "", "]", 60_000)),
        (Parser::Config, format!("x = {}", nest("[", "", "]", 30_000))),
        (Parser::Config, "[weights]\na = 4294967295\nb = 4294967295\n".into()),
        (Parser::Project, format!("{{\"canisters\": {}}}", nest("{\"a\":", "1", "}", 30_000))),
        (Parser::Project, "a: &a [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n".into()),
    ];
    for (parser, input) in cases {
        let verdict = check(parser, input.as_bytes());
        eprintln!("{parser:?} on {} bytes: {verdict:?}", input.len());
    }
}

/// Errors name the file and the position: what a user needs to fix a config, a project or a scenario.
#[test]
fn syntax_errors_name_the_file_and_the_line() {
    let dir = std::env::temp_dir().join(format!("icfuzz-parse-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("icfuzz.toml");
    std::fs::write(&config, "[[canister]]\nname = \"bank\"\nwasm = bank.wasm\n").unwrap();
    let error = icfuzz::config::Config::load(&config).unwrap_err().to_string();
    assert!(error.contains(&config.display().to_string()) && error.contains("line 3"), "{error}");
    let project = dir.join("dfx.json");
    std::fs::write(&project, "{\"canisters\": {\n  \"bank\": {\"type\": \"rust\",}\n}}").unwrap();
    let error = icfuzz::config::project::read(&project).unwrap_err().to_string();
    assert!(error.contains(&project.display().to_string()) && error.contains("line 2"), "{error}");
    let error = icfuzz::Scenario::from_json("{\n  \"version\": 3,\n  \"steps\": [\n    {\"call\": }\n  ]\n}").unwrap_err();
    assert!(error.contains("line 4"), "{error}");
    let error = icfuzz::interface::Interface::parse("service : {\n  f : (nat) -> ();\n  g : (nat -> ();\n}").unwrap_err().to_string();
    assert!(error.contains("line 3, column"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
