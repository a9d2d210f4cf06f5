//! Signed checkpoints: (tree size, root hash, time) signed with Ed25519, one JSON line each
//! in `checkpoints.jsonl`. A verifier holding the public key can prove the log's first
//! `tree_size` entries are exactly those the writer committed to.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::merkle::Hash;

pub const CHECKPOINTS_FILE: &str = "checkpoints.jsonl";
pub const SIGNING_KEY_FILE: &str = "checkpoint-signing-key.pk8";
pub const PUBLIC_KEY_FILE: &str = "checkpoint-public-key.b64";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tree_size: u64,
    /// Base64 of the RFC 9162 root hash.
    pub root: String,
    pub time_ms: i64,
    /// Base64 Ed25519 signature over [`Checkpoint::signed_text`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed: a fixed, line-oriented text, so other tools can check it.
    pub fn signed_text(tree_size: u64, root: &str, time_ms: i64) -> String {
        format!("portcullis-audit-checkpoint/v1\n{tree_size}\n{root}\n{time_ms}\n")
    }

    pub fn sign(key: &Ed25519KeyPair, tree_size: u64, root: &Hash, time_ms: i64) -> Self {
        let root = STANDARD.encode(root);
        let signature =
            STANDARD.encode(key.sign(Self::signed_text(tree_size, &root, time_ms).as_bytes()));
        Self {
            tree_size,
            root,
            time_ms,
            signature,
        }
    }

    pub fn verify(&self, public_key: &[u8]) -> bool {
        let Ok(signature) = STANDARD.decode(&self.signature) else {
            return false;
        };
        let text = Self::signed_text(self.tree_size, &self.root, self.time_ms);
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(text.as_bytes(), &signature)
            .is_ok()
    }

    pub fn root_hash(&self) -> Option<Hash> {
        let bytes = STANDARD.decode(&self.root).ok()?;
        bytes.try_into().ok()
    }
}

/// The checkpoint key of the log in `dir`, created on first use.
pub fn load_or_create_key(dir: &Path) -> std::io::Result<Ed25519KeyPair> {
    load_or_create_key_at(&dir.join(SIGNING_KEY_FILE), dir)
}

/// The checkpoint key at `path` (created on first use), publishing its public half in
/// `dir`. Keep `path` where those who can write the log cannot: whoever holds the key can
/// re-sign a rewritten log.
pub fn load_or_create_key_at(path: &Path, dir: &Path) -> std::io::Result<Ed25519KeyPair> {
    let path = path.to_path_buf();
    if !path.exists() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| std::io::Error::other("key generation failed"))?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(pkcs8.as_ref())?;
        f.sync_all()?;
    }
    let der = fs::read(&path)?;
    let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| {
        std::io::Error::other(format!("{} is not an Ed25519 PKCS#8 key", path.display()))
    })?;
    // Always rewritten: a public key left over from another signing key would mislead.
    fs::write(
        dir.join(PUBLIC_KEY_FILE),
        format!("{}\n", STANDARD.encode(key.public_key().as_ref())),
    )?;
    Ok(key)
}

pub fn read_public_key(path: &Path) -> Result<Vec<u8>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = STANDARD
        .decode(text.trim())
        .map_err(|_| format!("{}: not base64", path.display()))?;
    if key.len() != 32 {
        return Err(format!(
            "{}: an Ed25519 public key is 32 bytes",
            path.display()
        ));
    }
    Ok(key)
}
