//! A small deterministic mutation fuzzer: a generator, a byte mutator parameterised by the
//! tokens a format is made of, seed files, and a runner that counts panics.
use std::path::Path;

/// xorshift64*: a tiny deterministic generator (no dependency needed for mutation).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The generator for iteration `it` of a run salted with `salt`.
    pub fn for_iteration(salt: u64, it: usize) -> Self {
        Rng(salt ^ (it as u64 + 1).wrapping_mul(0x9E37_79B9))
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// What a format's mutations favour.
#[derive(Debug, Clone, Copy)]
pub struct Mutations<'a> {
    /// Byte values written over random bytes (besides random ones): 0x00, 0xFF, digits …
    pub bytes: &'a [u8],
    /// Tokens inserted at random places (separators, brackets, huge numbers …).
    pub tokens: &'a [&'a [u8]],
    /// Length of the header region (sizes, magic numbers) that overwrites and insertions
    /// hit more often.
    pub head: usize,
}

impl Mutations<'static> {
    /// Binary formats: extreme byte values, a 64-byte header.
    pub const BINARY: Mutations<'static> = Mutations {
        bytes: &[0x00, 0xFF, 0x7F, 0x80],
        tokens: &[],
        head: 64,
    };
}

/// One to four random mutations of `seed`: bit flips, byte overwrites (with `m.bytes`), header
/// overwrites, truncation, insertion of random bytes or of `m.tokens`, duplication of a chunk,
/// deletion of a short range.
pub fn mutate(seed: &[u8], rng: &mut Rng, m: &Mutations<'_>) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        if b.is_empty() {
            b.push(rng.next_u64() as u8);
            continue;
        }
        let head = b.len().min(m.head.max(1));
        match rng.below(8) {
            0 => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(b.len());
                let k = rng.below(m.bytes.len() + 1);
                b[i] = m.bytes.get(k).copied().unwrap_or(rng.next_u64() as u8);
            }
            2 => {
                let n = rng.below(b.len());
                b.truncate(n);
            }
            3 => {
                let i = rng.below(head + 1);
                let extra: Vec<u8> = (0..1 + rng.below(16))
                    .map(|_| rng.next_u64() as u8)
                    .collect();
                b.splice(i..i, extra);
            }
            4 if !m.tokens.is_empty() => {
                let i = rng.below(b.len() + 1);
                let t = m.tokens[rng.below(m.tokens.len())];
                b.splice(i..i, t.iter().copied());
            }
            4 | 5 => {
                // Header fields (sizes, counts) live early: hit them more often.
                let i = rng.below(head);
                b[i] = if rng.below(2) == 0 {
                    rng.next_u64() as u8
                } else {
                    b"0123456789"[rng.below(10)]
                };
            }
            6 => {
                // Duplicate a chunk (repeats rows, nests opcodes).
                let i = rng.below(b.len());
                let n = (1 + rng.below(b.len() - i)).min(256);
                let chunk = b[i..i + n].to_vec();
                let j = rng.below(b.len() + 1);
                b.splice(j..j, chunk);
            }
            _ => {
                let i = rng.below(b.len());
                let j = (i + 1 + rng.below(8)).min(b.len());
                b.drain(i..j);
            }
        }
    }
    b
}

/// `VLADAPT_FUZZ_ITERS` from the environment, else `default`.
pub fn iterations(default: usize) -> usize {
    std::env::var("VLADAPT_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed files of `dir` as `(file name, bytes)`, sorted by name; panics when there are none.
pub fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("directory entry").path();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Run `f` on `n` iterations, each with its own generator ([`Rng::for_iteration`]); catch
/// panics and fail listing the first five if there were any.
pub fn run(target: &str, salt: u64, n: usize, f: impl Fn(usize, &mut Rng)) {
    let mut panics = Vec::new();
    for it in 0..n {
        let mut rng = Rng::for_iteration(salt, it);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(it, &mut rng)));
        if let Err(p) = r {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panics.push(format!("iteration {it}: {msg}"));
        }
    }
    eprintln!("fuzz {target}: {n} executions, {} panics", panics.len());
    assert!(
        panics.is_empty(),
        "{target}: {} panics, first: {}",
        panics.len(),
        panics[..panics.len().min(5)].join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_xorshift64_star() {
        // xorshift64* from state 1: x ^= x>>12 (1), x ^= x<<25 (0x2000001), x ^= x>>27
        // (0x2000001); output x · 0x2545F4914F6CDD1D mod 2^64.
        let mut r = Rng(1);
        assert_eq!(
            r.next_u64(),
            0x2000001u64.wrapping_mul(0x2545_F491_4F6C_DD1D)
        );
        assert_eq!(r.0, 0x2000001);
        assert_eq!(Rng(7).below(0), 0);
    }

    #[test]
    fn mutations_change_the_input_and_stay_deterministic() {
        let seed = b"label,path\n0,a.png\n1,b.png\n".to_vec();
        let m = Mutations {
            bytes: b",\"",
            tokens: &[b"\r\n", b"99999999999"],
            head: 8,
        };
        let mut changed = 0;
        for it in 0..200 {
            let a = mutate(&seed, &mut Rng::for_iteration(3, it), &m);
            let b = mutate(&seed, &mut Rng::for_iteration(3, it), &m);
            assert_eq!(a, b);
            changed += usize::from(a != seed);
        }
        assert!(changed > 180, "{changed} of 200 mutated");
        assert!(!mutate(&[], &mut Rng(9), &Mutations::BINARY).is_empty());
    }
}
