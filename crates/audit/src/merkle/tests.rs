//! Checked against a separate, deliberately naive model of RFC 9162: the tree is built
//! level by level as an explicit array of nodes, and proofs are read off that array. It
//! shares nothing with the recursive code above but the two hash functions.

use super::*;

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

/// Root by explicit levels, as in RFC 9162's description of an unbalanced tree: pair up
/// nodes left to right; an odd node at the end is carried up unchanged.
fn naive_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return empty_root();
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| {
                if c.len() == 2 {
                    node_hash(&c[0], &c[1])
                } else {
                    c[0]
                }
            })
            .collect();
    }
    level[0]
}

#[test]
fn roots_match_the_naive_model_and_the_frontier() {
    let all = leaves(70);
    let mut frontier = Frontier::default();
    assert_eq!(frontier.root(), empty_root());
    for n in 1..=all.len() {
        frontier.push(all[n - 1]);
        assert_eq!(root_of(&all[..n]), naive_root(&all[..n]), "size {n}");
        assert_eq!(frontier.root(), naive_root(&all[..n]), "frontier size {n}");
        assert_eq!(frontier.size(), n as u64);
    }
}

#[test]
fn known_answer_for_the_empty_tree_and_one_leaf() {
    // SHA-256("") and SHA-256(0x00): fixed values anyone can recompute.
    let hex = |h: Hash| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(
        hex(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(leaf_hash(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
}

#[test]
fn inclusion_proofs_verify_for_every_leaf_and_fail_when_wrong() {
    let all = leaves(37);
    for n in 1..=all.len() {
        let tree = &all[..n];
        let root = naive_root(tree);
        for i in 0..n {
            let proof = inclusion_proof(i, tree).unwrap();
            assert!(
                verify_inclusion(i as u64, n as u64, &tree[i], &proof, &root),
                "leaf {i} of {n}"
            );
            // Wrong leaf, wrong index, wrong root all fail.
            let other = leaf_hash(b"forged");
            assert!(!verify_inclusion(i as u64, n as u64, &other, &proof, &root));
            if n > 1 {
                assert!(
                    !verify_inclusion(((i + 1) % n) as u64, n as u64, &tree[i], &proof, &root)
                        || tree[i] == tree[(i + 1) % n]
                );
            }
            assert!(!verify_inclusion(
                i as u64, n as u64, &tree[i], &proof, &other
            ));
        }
        assert!(inclusion_proof(n, tree).is_none());
    }
}

#[test]
fn consistency_proofs_verify_between_every_pair_of_sizes() {
    let all = leaves(33);
    for new in 1..=all.len() {
        let new_root = naive_root(&all[..new]);
        for old in 1..=new {
            let old_root = naive_root(&all[..old]);
            let proof = consistency_proof(old, &all[..new]).unwrap();
            assert!(
                verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof),
                "{old} -> {new}"
            );
            let forged = leaf_hash(b"x");
            if old != new {
                assert!(
                    !verify_consistency(old as u64, new as u64, &forged, &new_root, &proof),
                    "{old} -> {new}"
                );
                assert!(
                    !verify_consistency(old as u64, new as u64, &old_root, &forged, &proof),
                    "{old} -> {new}"
                );
            }
        }
    }
    assert!(consistency_proof(0, &all).is_none());
    assert!(consistency_proof(34, &all).is_none());
}

#[test]
fn a_rewritten_history_is_not_consistent() {
    let mut all = leaves(20);
    let old_root = naive_root(&all[..10]);
    all[3] = leaf_hash(b"rewritten");
    let new_root = naive_root(&all);
    let proof = consistency_proof(10, &all).unwrap();
    assert!(!verify_consistency(10, 20, &old_root, &new_root, &proof));
}
