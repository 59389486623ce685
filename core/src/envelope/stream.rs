//! Incremental encryption and decryption in constant memory (docs/FORMAT.md §4.3–4.5).
//!
//! Both sides are push-style (`update` with any slice, then `finish`) so the same code
//! serves files on native platforms, `ReadableStream`s in JS and byte arrays over FFI.

use std::{collections::HashSet, fmt};

use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Tag, aead::AeadInOut};
use ed25519_dalek::{Signature, Signer, SigningKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use super::{DecryptError, EncryptError, Recipient, Verified, header};
use crate::{
    card::{Card, verify_chain},
    keys::{IdentityKeyPair, KeyId},
    random::random_array,
    time::Timestamp,
};

/// Plaintext bytes per payload chunk.
pub const CHUNK_LENGTH: usize = 64 * 1024;
const TAG_LENGTH: usize = 16;
const SEALED_CHUNK_LENGTH: usize = CHUNK_LENGTH + TAG_LENGTH;
/// Signer key id (8) and Ed25519 signature (64), at the end of the encrypted stream.
pub const TRAILER_LENGTH: usize = 8 + 64;
const PAYLOAD_INFO: &[u8] = b"tessera/v1/payload";
const SIGNATURE_PREFIX: &[u8] = b"tessera/v1/message-signature\0";
/// The STREAM counter is 11 bytes; stop long before it could wrap.
const MAX_CHUNKS: u64 = u64::MAX;

/// The per-message randomness: content key, payload nonce, ephemeral secret.
pub(crate) struct Randomness {
    pub(crate) content_key: Zeroizing<[u8; 32]>,
    pub(crate) payload_nonce: [u8; header::PAYLOAD_NONCE_LENGTH],
    pub(crate) ephemeral_secret: Zeroizing<[u8; 32]>,
}

impl Randomness {
    pub(crate) fn fresh() -> Result<Self, EncryptError> {
        Ok(Self {
            content_key: Zeroizing::new(random_array()?),
            payload_nonce: random_array()?,
            ephemeral_secret: Zeroizing::new(random_array()?),
        })
    }
}

fn payload_cipher(
    content_key: &[u8; 32],
    payload_nonce: &[u8; header::PAYLOAD_NONCE_LENGTH],
    header: &[u8],
) -> ChaCha20Poly1305 {
    let mut info = Vec::with_capacity(PAYLOAD_INFO.len() + 32);
    info.extend_from_slice(PAYLOAD_INFO);
    info.extend_from_slice(&Sha256::digest(header));
    let mut key = Zeroizing::new([0u8; 32]);
    let _ = Hkdf::<Sha256>::new(Some(payload_nonce), content_key).expand(&info, key.as_mut());
    ChaCha20Poly1305::new(&(*key).into())
}

fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// The BLAKE3 digest the sender signs: header length, header, then the plaintext.
fn start_digest(header: &[u8]) -> blake3::Hasher {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(header.len() as u64).to_be_bytes());
    hasher.update(header);
    hasher
}

fn signature_input(digest: &blake3::Hash) -> Vec<u8> {
    [SIGNATURE_PREFIX, digest.as_bytes()].concat()
}

/// Encrypts and signs a stream for a set of recipients.
///
/// Output: the header, then 64 KiB chunks. Call [`Encryptor::update`] with the data in
/// pieces of any size and [`Encryptor::finish`] once; together they emit the complete
/// envelope. Memory use is one chunk, whatever the data size.
pub struct Encryptor {
    header: Option<Vec<u8>>,
    cipher: ChaCha20Poly1305,
    digest: blake3::Hasher,
    signer: SigningKey,
    signer_id: KeyId,
    chunk: Vec<u8>,
    counter: u64,
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("chunks", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Starts an envelope from `sender` to `recipients` (1..=100 000, duplicates removed).
    pub fn new(sender: &IdentityKeyPair, recipients: &[Recipient]) -> Result<Self, EncryptError> {
        Self::with_randomness(sender, recipients, Randomness::fresh()?)
    }

    pub(crate) fn with_randomness(
        sender: &IdentityKeyPair,
        recipients: &[Recipient],
        randomness: Randomness,
    ) -> Result<Self, EncryptError> {
        let mut seen = HashSet::with_capacity(recipients.len());
        let unique: Vec<Recipient> = recipients
            .iter()
            .filter(|r| seen.insert(r.encryption_key))
            .copied()
            .collect();
        let ephemeral = StaticSecret::from(*randomness.ephemeral_secret);
        let mut header_bytes = Vec::new();
        header::write(
            &mut header_bytes,
            &randomness.payload_nonce,
            &ephemeral,
            &randomness.content_key,
            &unique,
        )?;
        let cipher = payload_cipher(
            &randomness.content_key,
            &randomness.payload_nonce,
            &header_bytes,
        );
        let digest = start_digest(&header_bytes);
        Ok(Self {
            header: Some(header_bytes),
            cipher,
            digest,
            signer: sender.signing_key().clone(),
            signer_id: sender.public_keys().signing_key_id(),
            chunk: Vec::with_capacity(CHUNK_LENGTH),
            counter: 0,
        })
    }

    /// Encrypts the next piece of plaintext, appending ciphertext to `out`.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.emit_header(out);
        self.digest.update(data);
        self.push(data, out)
    }

    /// Signs, encrypts the trailer and the last chunk, appending them to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.emit_header(out);
        let signature = self.signer.sign(&signature_input(&self.digest.finalize()));
        let mut trailer = [0u8; TRAILER_LENGTH];
        trailer[..8].copy_from_slice(&self.signer_id.0);
        trailer[8..].copy_from_slice(&signature.to_bytes());
        self.push(&trailer, out)?;
        self.seal_chunk(true, out)
    }

    fn emit_header(&mut self, out: &mut Vec<u8>) {
        if let Some(header) = self.header.take() {
            out.extend_from_slice(&header);
        }
    }

    fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        while !data.is_empty() {
            if self.chunk.len() == CHUNK_LENGTH {
                self.seal_chunk(false, out)?;
            }
            let take = data.len().min(CHUNK_LENGTH - self.chunk.len());
            let (now, rest) = data.split_at(take);
            self.chunk.extend_from_slice(now);
            data = rest;
        }
        Ok(())
    }

    fn seal_chunk(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), EncryptError> {
        if self.counter == MAX_CHUNKS {
            return Err(EncryptError::TooLarge);
        }
        let start = out.len();
        out.extend_from_slice(&self.chunk);
        let sealed = out.get_mut(start..).unwrap_or_default();
        let tag = self
            .cipher
            .encrypt_inout_detached(&chunk_nonce(self.counter, last).into(), &[], sealed.into())
            .map_err(|_| EncryptError::TooLarge)?;
        out.extend_from_slice(&tag);
        self.chunk.clear();
        self.counter += 1;
        Ok(())
    }
}

#[allow(clippy::large_enum_variant)] // One instance per decryptor; boxing buys nothing.
enum DecryptState {
    /// Collecting header bytes: how many are needed before parsing again, and how far
    /// parsing got.
    Header {
        needed: usize,
        progress: header::Progress,
    },
    /// Decrypting chunks.
    Payload {
        cipher: ChaCha20Poly1305,
        digest: blake3::Hasher,
    },
    /// A previous call failed; every later call fails too.
    Failed,
}

/// Decrypts a stream made by [`Encryptor`], releasing plaintext chunk by chunk and
/// verifying the sender's signature in [`Decryptor::finish`].
///
/// Plaintext released by `update` is confidential and protected against modification,
/// reordering and truncation by anyone who is not a recipient, but who wrote it is only
/// established when `finish` succeeds; a failed `finish` means the released bytes must be
/// discarded (docs/FORMAT.md §4.5).
pub struct Decryptor {
    secret: StaticSecret,
    own_key_id: KeyId,
    state: DecryptState,
    /// Unprocessed input: header bytes, or at most one sealed chunk plus a partial one.
    input: Vec<u8>,
    /// Decrypted bytes held back because they may belong to the trailer.
    held: Vec<u8>,
    counter: u64,
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("chunks", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Starts decrypting with the recipient's keys.
    pub fn new(recipient: &IdentityKeyPair) -> Self {
        Self {
            secret: recipient.encryption_secret().clone(),
            own_key_id: recipient.public_keys().encryption_key_id(),
            state: DecryptState::Header {
                needed: header::FIXED_LENGTH,
                progress: header::Progress::default(),
            },
            input: Vec::new(),
            held: Vec::new(),
            counter: 0,
        }
    }

    /// Feeds the next piece of the envelope, appending released plaintext to `out`.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        let result = self.update_inner(data, out);
        if result.is_err() {
            self.state = DecryptState::Failed;
        }
        result
    }

    fn update_inner(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        loop {
            match &mut self.state {
                DecryptState::Failed => return Err(DecryptError::DecryptionFailed),
                DecryptState::Header { needed, .. } => {
                    let want = needed.saturating_sub(self.input.len()).min(data.len());
                    let (now, rest) = data.split_at(want);
                    self.input.extend_from_slice(now);
                    data = rest;
                    if self.input.len() < *needed {
                        return Ok(());
                    }
                    self.parse_header()?;
                }
                DecryptState::Payload { .. } => {
                    // Keep one sealed chunk back: it may be the last one.
                    while self.input.len() + data.len() > SEALED_CHUNK_LENGTH {
                        let want = (SEALED_CHUNK_LENGTH - self.input.len()).min(data.len());
                        if want == 0 {
                            self.open_chunk(false, out)?;
                            continue;
                        }
                        let (now, rest) = data.split_at(want);
                        self.input.extend_from_slice(now);
                        data = rest;
                    }
                    self.input.extend_from_slice(data);
                    return Ok(());
                }
            }
        }
    }

    fn parse_header(&mut self) -> Result<(), DecryptError> {
        let DecryptState::Header { needed, progress } = &mut self.state else {
            return Err(DecryptError::DecryptionFailed);
        };
        match header::parse(&self.input, progress)? {
            header::Parsed::Incomplete(more) => *needed = more,
            header::Parsed::Complete(parsed, length) => {
                let content_key = parsed.unwrap_content_key(&self.secret, self.own_key_id)?;
                let header_bytes = self.input.get(..length).unwrap_or_default();
                let cipher = payload_cipher(&content_key, &parsed.payload_nonce, header_bytes);
                let digest = start_digest(header_bytes);
                self.input.drain(..length);
                self.state = DecryptState::Payload { cipher, digest };
            }
        }
        Ok(())
    }

    /// Decrypts the sealed chunk at the start of `input`.
    fn open_chunk(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), DecryptError> {
        let DecryptState::Payload { cipher, digest } = &mut self.state else {
            return Err(DecryptError::DecryptionFailed);
        };
        let sealed_length = if last {
            self.input.len()
        } else {
            SEALED_CHUNK_LENGTH
        };
        if sealed_length < TAG_LENGTH || self.counter == MAX_CHUNKS {
            return Err(DecryptError::DecryptionFailed);
        }
        let plain_length = sealed_length - TAG_LENGTH;
        // Only the final chunk may be short, and it may not be empty unless it is the first.
        if last && plain_length == 0 && self.counter > 0 {
            return Err(DecryptError::DecryptionFailed);
        }
        let (body, rest) = self.input.split_at_mut(plain_length);
        let tag = Tag::try_from(rest.get(..TAG_LENGTH).unwrap_or_default())
            .map_err(|_| DecryptError::DecryptionFailed)?;
        cipher
            .decrypt_inout_detached(
                &chunk_nonce(self.counter, last).into(),
                &[],
                body.into(),
                &tag,
            )
            .map_err(|_| DecryptError::DecryptionFailed)?;
        self.counter += 1;
        self.held.extend_from_slice(body);
        self.input.drain(..sealed_length);
        // Everything except the last TRAILER_LENGTH bytes is plaintext for sure.
        let release = self.held.len().saturating_sub(TRAILER_LENGTH);
        if release > 0 {
            let plain = self.held.get(..release).unwrap_or_default();
            digest.update(plain);
            out.extend_from_slice(plain);
            self.held.drain(..release);
        }
        Ok(())
    }

    /// Decrypts the last chunk and verifies the sender's signature.
    ///
    /// `sender_chain` is the sender's cards, oldest first, as returned by the directory's
    /// history (or just the current card). The message must be signed by the newest card,
    /// unless `made_at` (when the data was created, from the app's own records) falls
    /// inside an older card's lifetime: then that card is accepted, so data from before a
    /// key rotation stays verifiable.
    pub fn finish(
        mut self,
        out: &mut Vec<u8>,
        sender_chain: &[Card],
        made_at: Option<Timestamp>,
    ) -> Result<Verified, DecryptError> {
        if !matches!(self.state, DecryptState::Payload { .. }) {
            return Err(match self.state {
                DecryptState::Header { .. } => DecryptError::Truncated,
                _ => DecryptError::DecryptionFailed,
            });
        }
        self.open_chunk(true, out)?;
        let DecryptState::Payload { digest, .. } = &self.state else {
            return Err(DecryptError::DecryptionFailed);
        };
        if self.held.len() != TRAILER_LENGTH {
            return Err(DecryptError::DecryptionFailed);
        }
        let (signer_id, signature) = self.held.split_at(8);
        let signer_id = KeyId(
            signer_id
                .try_into()
                .map_err(|_| DecryptError::DecryptionFailed)?,
        );
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| DecryptError::DecryptionFailed)?;
        let card = select_signer_card(sender_chain, signer_id, made_at)?;
        let key = card
            .public_keys()
            .verifying_key()
            .map_err(|_| DecryptError::SignatureInvalid)?;
        key.verify_strict(
            &signature_input(&digest.finalize()),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| DecryptError::SignatureInvalid)?;
        Ok(Verified {
            signer: card.identity().clone(),
            signer_card_id: card.id(),
        })
    }
}

/// Picks the card of the sender's chain whose signing key made the signature, enforcing
/// that an older card is only accepted for data made during its lifetime.
fn select_signer_card(
    chain: &[Card],
    signer_id: KeyId,
    made_at: Option<Timestamp>,
) -> Result<&Card, DecryptError> {
    verify_chain(chain).map_err(DecryptError::InvalidSenderCards)?;
    let position = chain
        .iter()
        .rposition(|card| card.public_keys().signing_key_id() == signer_id)
        .ok_or(DecryptError::WrongSender)?;
    let card = chain.get(position).ok_or(DecryptError::WrongSender)?;
    let Some(successor) = chain.get(position + 1) else {
        return Ok(card);
    };
    match made_at {
        Some(t) if t < successor.content().created_at => Ok(card),
        Some(_) => Err(DecryptError::SignerKeyReplaced { card_id: card.id() }),
        None => Err(DecryptError::SignedWithPreviousKey { card_id: card.id() }),
    }
}
