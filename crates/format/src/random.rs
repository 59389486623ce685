//! Operating-system randomness (getrandom; `crypto.getRandomValues` on wasm).

use thiserror::Error;

/// The platform could not supply random bytes. Nothing can be generated safely without them.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("the operating system's random number generator failed")]
pub struct RandomnessUnavailable;

/// Fills an array with fresh random bytes from the OS.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N], RandomnessUnavailable> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| RandomnessUnavailable)?;
    Ok(out)
}
