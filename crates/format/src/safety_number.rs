//! Safety numbers: a 60-digit code two people compare (in person or over a call) to make
//! sure each holds the other's real keys. Same construction idea as Signal's numeric
//! fingerprints; exact bytes in docs/FORMAT.md §7.

use sha2::{Digest, Sha512};

use crate::{card::Identity, keys::PublicKeys};

const FINGERPRINT_VERSION: [u8; 2] = [0, 1];
/// Hash iterations per fingerprint: makes finding a colliding key ~2^13 times costlier.
const ITERATIONS: usize = 5200;

/// The 30-digit half of a safety number that belongs to one identity.
fn fingerprint(identity: &Identity, keys: &PublicKeys) -> String {
    let mut hash = Sha512::new()
        .chain_update(FINGERPRINT_VERSION)
        .chain_update(keys.signing)
        .chain_update(keys.encryption)
        .chain_update(identity.as_str().as_bytes())
        .finalize();
    for _ in 0..ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(keys.signing)
            .finalize();
    }
    let mut digits = String::with_capacity(30);
    for chunk in hash.chunks_exact(5).take(6) {
        let value = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        digits.push_str(&format!("{:05}", value % 100_000));
    }
    digits
}

/// The safety number of two identities: 60 digits in 12 groups of 5, identical whichever
/// side computes it (the two halves are sorted).
pub fn safety_number(
    identity_a: &Identity,
    keys_a: &PublicKeys,
    identity_b: &Identity,
    keys_b: &PublicKeys,
) -> String {
    let mut halves = [
        fingerprint(identity_a, keys_a),
        fingerprint(identity_b, keys_b),
    ];
    halves.sort();
    let all = halves.concat();
    let groups: Vec<&str> = (0..12).filter_map(|i| all.get(i * 5..i * 5 + 5)).collect();
    groups.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{IdentityKeyPair, RootSecret};

    #[test]
    fn stable_regardless_of_order_and_sensitive_to_keys() {
        let a = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([1; 32]));
        let b = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([2; 32]));
        let c = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([3; 32]));
        let alice = Identity::new("alice").unwrap();
        let bob = Identity::new("bob").unwrap();
        let ab = safety_number(&alice, a.public_keys(), &bob, b.public_keys());
        let ba = safety_number(&bob, b.public_keys(), &alice, a.public_keys());
        assert_eq!(ab, ba);
        assert_eq!(ab.len(), 60 + 11);
        assert!(ab.chars().all(|c| c.is_ascii_digit() || c == ' '));
        let ac = safety_number(&alice, a.public_keys(), &bob, c.public_keys());
        assert_ne!(ab, ac);
    }
}
