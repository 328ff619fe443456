//! Words a canister's code knows: identifier-like strings in its data segments (field names its JSON or Candid
//! decoder looks for, symbols, method names). Generated inputs from outside the IC (HTTP responses) draw on them,
//! so a parser's happy path is reachable without knowing its format.

/// Most words kept per module (the first ones found).
const MAX_WORDS: usize = 512;

/// The identifier-like strings (a letter, then letters, digits, `_`, `-` or `.`; 3 to 32 bytes) in the data
/// segments of a module (plain or gzipped), in order of appearance, without repeats. A malformed module has none.
pub(crate) fn module_words(wasm: &[u8]) -> Vec<String> {
    let Some(wasm) = crate::interface::maybe_gunzip(wasm) else { return Vec::new() };
    let mut words = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        let Ok(wasmparser::Payload::DataSection(reader)) = payload else { continue };
        for data in reader.into_iter().flatten() {
            for word in data.data.split(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))) {
                if (3..=32).contains(&word.len()) && word[0].is_ascii_alphabetic() && seen.insert(word) {
                    words.push(String::from_utf8_lossy(word).into_owned());
                    if words.len() == MAX_WORDS {
                        return words;
                    }
                }
            }
        }
    }
    words
}

/// Whether a module's code names the management method `http_request` (the method name of a call is data).
pub(crate) fn makes_outcalls(words: &[String]) -> bool {
    words.iter().any(|w| w == "http_request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_come_from_data_segments_only() {
        use wasm_encoder::{ConstExpr, DataSection, MemorySection, MemoryType, Module};
        let mut module = Module::new();
        let mut memory = MemorySection::new();
        memory.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
        module.section(&memory);
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(0), b"price\0not a price: \xff http_request ab x.y.z 9lives price".iter().copied());
        module.section(&data);
        let words = module_words(&module.finish());
        assert_eq!(words, ["price", "not", "http_request", "x.y.z"]);
        assert!(makes_outcalls(&words));
        assert!(module_words(b"not wasm").is_empty());
    }
}
