//! A tiny, self-contained PRNG (SplitMix64).
//!
//! Written here instead of depending on `rand` so that the synthetic bank is byte-identical for
//! a given seed regardless of dependency versions: `rand` does not promise stable output
//! across releases, and demo walkthroughs and tests quote generated ids.

/// SplitMix64 (Steele, Lea & Flood 2014): one 64-bit word of state, full period, good enough
/// statistical quality for synthetic data. Not for anything security-relevant.
#[derive(Debug, Clone)]
pub(crate) struct Prng {
    state: u64,
}

impl Prng {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An independent stream, so that one entity's draws do not shift the next entity's data.
    pub(crate) fn fork(&mut self) -> Prng {
        Prng::new(self.next_u64())
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the tiny bias is irrelevant here).
    /// Returns 0 when `n` is 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`; `lo` when the range is empty.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.saturating_add_unsigned(self.below(span))
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice (the built-in lists are checked non-empty at compile
    /// time).
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[index]
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.below(i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }

    /// `n` lowercase hex digits.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..n)
            .map(|_| char::from(DIGITS[self.below(16) as usize]))
            .collect()
    }

    /// `n` decimal digits (leading zeros allowed).
    pub(crate) fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64_sequence() {
        // First outputs for seed 0 from the reference C implementation.
        let mut prng = Prng::new(0);
        assert_eq!(prng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(prng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(prng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut prng = Prng::new(42);
        for _ in 0..10_000 {
            let v = prng.range(-3, 7);
            assert!((-3..=7).contains(&v));
            assert!(prng.below(5) < 5);
        }
        assert_eq!(prng.range(5, 5), 5);
        assert_eq!(prng.range(5, 1), 5);
        assert_eq!(prng.below(0), 0);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut prng = Prng::new(7);
        let mut items: Vec<u32> = (0..50).collect();
        prng.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn hex_and_digits_have_the_requested_shape() {
        let mut prng = Prng::new(1);
        let h = prng.hex(8);
        assert_eq!(h.len(), 8);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let d = prng.digits(9);
        assert_eq!(d.len(), 9);
        assert!(d.chars().all(|c| c.is_ascii_digit()));
    }
}
