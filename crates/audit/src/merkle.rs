//! RFC 9162 Merkle tree hashing: leaf `H(0x00 || entry)`, node `H(0x01 || left || right)`,
//! with an append-only frontier for the running root, and inclusion and consistency proofs
//! (RFC 9162 §2.1.3, §2.1.4).

use ring::digest::{Context, SHA256};

pub type Hash = [u8; 32];

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[0x00]);
    ctx.update(entry);
    to_hash(ctx)
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[0x01]);
    ctx.update(left);
    ctx.update(right);
    to_hash(ctx)
}

fn to_hash(ctx: Context) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The hash of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    to_hash(Context::new(&SHA256))
}

/// The roots of the perfect subtrees that make up a tree of `size` leaves, largest first:
/// enough to compute the root and to append in O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// One entry per set bit of `size`, from the most significant bit down.
    subtrees: Vec<Hash>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        // Each trailing one bit of the old size is a subtree of the same height as the
        // carry: merge them, like binary addition.
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.subtrees.pop().unwrap_or(carry);
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.subtrees.push(carry);
        self.size += 1;
    }

    /// The tree root (RFC 9162 MTH) over all leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.subtrees.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// MTH over a slice of leaf hashes (RFC 9162 §2.1.1).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n` (n >= 2).
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 9162 §2.1.3.1).
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut roots = slice_roots(leaves);
    inclusion_proof_with(index as u64, leaves.len() as u64, &mut roots).ok()
}

/// The consistency proof between the first `old_size` leaves and all of `leaves`
/// (RFC 9162 §2.1.4.1).
pub fn consistency_proof(old_size: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if old_size == 0 || old_size > leaves.len() {
        return None;
    }
    let mut roots = slice_roots(leaves);
    consistency_proof_with(old_size as u64, leaves.len() as u64, &mut roots).ok()
}

fn slice_roots(
    leaves: &[Hash],
) -> impl FnMut(u64, u64) -> Result<Hash, std::convert::Infallible> + '_ {
    |lo, hi| Ok(root_of(&leaves[lo as usize..hi as usize]))
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves, computed
/// from `root(lo, hi)`, the MTH of leaves `lo..hi`. The algorithm asks only for the roots
/// of nodes of the tree, and every such node starts at a multiple of the power of two
/// at or above its width: a log can answer from stored subtree roots, reading leaves only
/// for the small subtrees it does not keep. Callers ensure `index < size`.
pub fn inclusion_proof_with<E>(
    index: u64,
    size: u64,
    root: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut proof = Vec::new();
    path(index, 0, size, root, &mut proof)?;
    Ok(proof)
}

/// `m` is relative to `lo`.
fn path<E>(
    m: u64,
    lo: u64,
    hi: u64,
    root: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(m, lo, lo + k, root, out)?;
        out.push(root(lo + k, hi)?);
    } else {
        path(m - k, lo + k, hi, root, out)?;
        out.push(root(lo, lo + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of the first `old_size` and `size` leaves,
/// from subtree roots as for [`inclusion_proof_with`]. Callers ensure
/// `0 < old_size <= size`.
pub fn consistency_proof_with<E>(
    old_size: u64,
    size: u64,
    root: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut proof = Vec::new();
    subproof(old_size, 0, size, true, root, &mut proof)?;
    Ok(proof)
}

/// `m` is relative to `lo`.
fn subproof<E>(
    m: u64,
    lo: u64,
    hi: u64,
    complete: bool,
    root: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push(root(lo, hi)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(m, lo, lo + k, complete, root, out)?;
        out.push(root(lo + k, hi)?);
    } else {
        subproof(m - k, lo + k, hi, false, root, out)?;
        out.push(root(lo, lo + k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && &r == root
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut items = path.iter();
    let Some(first) = items.next() else {
        return false;
    };
    let (mut f_r, mut s_r) = (*first, *first);
    for c in items {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    &f_r == old_root && &s_r == new_root && s_n == 0
}

#[cfg(test)]
mod tests;
