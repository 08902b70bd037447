//! Bounded-time mutation fuzzing of every parser of user input: scope, report, scenario,
//! monitor bootstrap and kubeconfig. Deterministic (a fixed seed and case count, a few seconds
//! in a debug build): each seed of `crates/core/tests/corpus/<target>/seed*` is mutated
//! (byte flips, deletions, insertions of YAML syntax, chunk duplication, deep nesting) and
//! parsed; a parser may accept or reject, never panic. Every `crash-*` file of the corpus (inputs
//! that once hung or crashed a parser) is replayed first. A failure prints the input; keep it
//! as `crash-<what>.yaml` in the corpus once fixed. `SCS_KAAS_FUZZ_CASES` raises the count.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/corpus")
        .join(target)
}

/// A tiny deterministic generator (xorshift64*), so a failure is reproducible from its case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    "\"",
    "#",
    "|",
    ">",
    "&a ",
    "*a",
    "!!str ",
    "\n",
    "\n  ",
    "\t",
    "---\n",
    "...\n",
    "? ",
    "%YAML 1.2\n",
    "\u{feff}",
    "\0",
    "\u{fffd}",
    "~",
    "null",
    "-1",
    "99999999999999999999",
    "1e999",
    "0x",
    "2026-13-45",
    "<<: *a\n",
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                data.drain(at.min(end)..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, t.iter().copied());
            }
            3 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + 1 + rng.below(256)).min(data.len());
                let chunk = data[start..end].to_vec();
                data.splice(at..at, chunk);
            }
            4 => {
                let open = ["[", "{a: ", "- ", "\n "][rng.below(4)];
                let deep = open.repeat(1 + rng.below(600));
                data.splice(at..at, deep.bytes());
            }
            _ => data.truncate(at),
        }
    }
    data
}

/// Parse `bytes` as `target`; returns whether it was accepted. Panics are the failures.
fn parse(target: &str, bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    match target {
        "scope" => scs_kaas_core::scope::Scope::parse("fuzz.yaml", &text).is_ok(),
        "report" => scs_kaas_core::report::parse_stream(&text).is_ok(),
        "scenario" => scs_kaas_sim::scenario::parse_model(&text, "fuzz.yaml").is_ok(),
        "bootstrap" => scs_kaas_monitor::bootstrap::Bootstrap::parse(&text).is_ok(),
        "kubeconfig" => {
            scs_kaas_checks::kubeconfig::parse(&text, Path::new("/fuzz/kubeconfig")).is_ok()
        }
        other => panic!("unknown target {other}"),
    }
}

fn files(target: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus(target))
        .unwrap_or_else(|e| panic!("corpus/{target}: {e}"))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Run [`fuzz_here`] on a thread with the 8 MiB stack of the CLI's main thread, where scopes,
/// scenarios and kubeconfigs are parsed (test threads have 2 MiB; a debug build of the scope
/// parser needs more at its depth limit of 64).
fn fuzz(target: &'static str) {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || fuzz_here(target))
        .unwrap()
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

fn fuzz_here(target: &str) {
    let cases: usize = std::env::var("SCS_KAAS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for (name, bytes) in files(target, "crash-") {
        let result = catch_unwind(AssertUnwindSafe(|| parse(target, &bytes)));
        assert!(
            result.is_ok(),
            "{target}: corpus file {name} panics the parser"
        );
    }
    let seeds = files(target, "seed");
    assert!(!seeds.is_empty(), "corpus/{target} has no seed file");
    // The seeds themselves are valid input.
    for (name, bytes) in &seeds {
        assert!(
            parse(target, bytes),
            "{target}: seed {name} is not accepted"
        );
    }
    let mut rng = Rng(0x5C5_4AA5 ^ target.len() as u64);
    let mut accepted = 0;
    for case in 0..cases {
        let (_, seed) = &seeds[case % seeds.len()];
        let input = mutate(seed, &mut rng);
        match catch_unwind(AssertUnwindSafe(|| parse(target, &input))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => panic!(
                "{target}: case {case} panics the parser; input:\n{}",
                String::from_utf8_lossy(&input)
            ),
        }
    }
    // Mutations are mostly rejected, but not all: the harness exercises both paths.
    assert!(accepted < cases, "{target}: every mutation was accepted");
}

#[test]
fn scope_parser_survives_mutations() {
    fuzz("scope");
}

#[test]
fn report_parser_survives_mutations() {
    fuzz("report");
}

#[test]
fn scenario_parser_survives_mutations() {
    fuzz("scenario");
}

#[test]
fn bootstrap_parser_survives_mutations() {
    fuzz("bootstrap");
}

#[test]
fn kubeconfig_parser_survives_mutations() {
    fuzz("kubeconfig");
}
