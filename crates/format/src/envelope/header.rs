//! The envelope header: magic, version, purpose, payload nonce, one shared ephemeral X25519
//! key and one stanza per recipient (docs/FORMAT.md §4.1–4.2).

use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Tag, aead::AeadInOut};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::Zeroizing;

use super::{DecryptError, EncryptError, Purpose, Recipient};
use crate::{encoding::Reader, keys::PublicKeys};

pub(crate) const MAGIC: &[u8; 4] = b"TSEV";
pub(crate) const VERSION: u8 = 2;
pub(crate) const PAYLOAD_NONCE_LENGTH: usize = 16;
/// Bytes before the first stanza: magic, version, purpose, payload nonce, ephemeral key,
/// count.
pub(crate) const FIXED_LENGTH: usize = 4 + 1 + 1 + PAYLOAD_NONCE_LENGTH + 32 + 4;
/// Stanza algorithm 1: X25519 + HKDF-SHA-256 + ChaCha20-Poly1305 key wrap.
pub(crate) const ALG_X25519: u8 = 1;
const STANZA_PREFIX_LENGTH: usize = 1 + 8 + 2;
const WRAPPED_KEY_LENGTH: usize = 32 + 16;
/// Bytes one X25519 stanza adds to the header.
pub const X25519_STANZA_LENGTH: usize = STANZA_PREFIX_LENGTH + WRAPPED_KEY_LENGTH;
/// Most recipients one envelope may address.
pub const MAX_RECIPIENTS: usize = 100_000;
/// Largest header a reader buffers (100 000 X25519 stanzas take 5.9 MB; the rest is room
/// for larger future stanza kinds).
pub const MAX_HEADER_LENGTH: usize = 16 << 20;
/// Most stanzas carrying a reader's stanza id that the reader tries to open; honest
/// senders write one, and a hostile header full of copies costs no more than this.
pub const MAX_STANZAS_TRIED: usize = 4;
const STANZA_INFO: &[u8] = b"tessera/v2/x25519-stanza";
const STANZA_ID_LENGTH: usize = 8;

/// A parsed stanza, borrowed from the header bytes.
pub(crate) struct Stanza<'a> {
    pub(crate) algorithm: u8,
    pub(crate) stanza_id: [u8; STANZA_ID_LENGTH],
    pub(crate) body: &'a [u8],
}

/// A parsed header.
pub(crate) struct Header<'a> {
    pub(crate) payload_nonce: [u8; PAYLOAD_NONCE_LENGTH],
    pub(crate) ephemeral: [u8; 32],
    pub(crate) stanzas: Vec<Stanza<'a>>,
}

/// The outcome of trying to parse a header from the start of a buffer.
pub(crate) enum Parsed<'a> {
    /// A complete header of this many bytes.
    Complete(Header<'a>, usize),
    /// More input is needed; at least this many bytes in total.
    Incomplete(usize),
}

/// What one recipient's stanza is found and opened with: a stanza id only sender and
/// recipient can compute, and the key that wraps the content key. Both are bound to the
/// recipient's whole card key pair, so a card that copies someone else's X25519 key does
/// not make messages to it readable as messages to that someone (docs/FORMAT.md §4.2).
struct StanzaKeys {
    id: [u8; STANZA_ID_LENGTH],
    wrap_key: Zeroizing<[u8; 32]>,
}

fn stanza_keys(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &PublicKeys) -> StanzaKeys {
    let salt = [ephemeral.as_slice(), &recipient.encryption].concat();
    let info = [STANZA_INFO, &recipient.signing].concat();
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut okm = Zeroizing::new([0u8; STANZA_ID_LENGTH + 32]);
    // 40 bytes are always within HKDF-SHA-256's limit.
    let _ = hkdf.expand(&info, okm.as_mut());
    let (id, wrap_key) = okm
        .split_first_chunk::<STANZA_ID_LENGTH>()
        .unwrap_or((&[0; 8], &[]));
    StanzaKeys {
        id: *id,
        wrap_key: Zeroizing::new(wrap_key.try_into().unwrap_or_default()),
    }
}

/// Writes a complete header for `recipients` into `out`, stanzas in ascending order of
/// stanza id (pseudorandom to an observer, so the order reveals nothing).
pub(crate) fn write(
    out: &mut Vec<u8>,
    purpose: Purpose,
    payload_nonce: &[u8; PAYLOAD_NONCE_LENGTH],
    ephemeral_secret: &StaticSecret,
    content_key: &[u8; 32],
    recipients: &[Recipient],
) -> Result<(), EncryptError> {
    if recipients.is_empty() {
        return Err(EncryptError::NoRecipients);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(EncryptError::TooManyRecipients(recipients.len()));
    }
    let ephemeral = X25519Public::from(ephemeral_secret).to_bytes();
    out.reserve(FIXED_LENGTH + recipients.len() * X25519_STANZA_LENGTH);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(purpose.header_byte());
    out.extend_from_slice(payload_nonce);
    out.extend_from_slice(&ephemeral);
    // MAX_RECIPIENTS fits in u32.
    out.extend_from_slice(&(recipients.len() as u32).to_be_bytes());
    let mut stanzas = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let shared =
            ephemeral_secret.diffie_hellman(&X25519Public::from(recipient.keys.encryption));
        if !shared.was_contributory() {
            return Err(EncryptError::InvalidRecipientKey);
        }
        let keys = stanza_keys(shared.as_bytes(), &ephemeral, &recipient.keys);
        let mut body = [0u8; WRAPPED_KEY_LENGTH];
        body[..32].copy_from_slice(content_key);
        // Each wrap key is used exactly once (fresh ephemeral key), so a zero nonce is safe.
        let tag = ChaCha20Poly1305::new(&(*keys.wrap_key).into())
            .encrypt_inout_detached(&[0u8; 12].into(), &[], (&mut body[..32]).into())
            .map_err(|_| EncryptError::InvalidRecipientKey)?;
        body[32..].copy_from_slice(&tag);
        stanzas.push((keys.id, body));
    }
    stanzas.sort_unstable();
    for (id, body) in stanzas {
        out.push(ALG_X25519);
        out.extend_from_slice(&id);
        out.extend_from_slice(&(WRAPPED_KEY_LENGTH as u16).to_be_bytes());
        out.extend_from_slice(&body);
    }
    Ok(())
}

/// How far [`parse`] got through a header that is still arriving, so the next call resumes
/// there: a header of n stanzas costs O(n) however its bytes are split, not O(n²).
#[derive(Default)]
pub(crate) struct Progress {
    /// Stanzas already checked to be complete and well-formed.
    stanzas: usize,
    /// Where the first unchecked stanza starts (0 before the first stanza).
    offset: usize,
}

/// The stanza at a reader's position, or how many bytes in total it needs.
enum Next<'a> {
    Stanza(Stanza<'a>),
    Needs(usize),
}

/// Reads the stanza at `r`'s position, checking an X25519 stanza's length.
fn read_stanza<'a>(r: &mut Reader<'a>) -> Result<Next<'a>, DecryptError> {
    let Some(prefix) = r.take(STANZA_PREFIX_LENGTH) else {
        return Ok(Next::Needs(r.position() + STANZA_PREFIX_LENGTH));
    };
    let mut p = Reader::new(prefix);
    let algorithm = p.u8().unwrap_or_default();
    let stanza_id = p.array().unwrap_or_default();
    let body_length = usize::from(p.u16().unwrap_or_default());
    if algorithm == ALG_X25519 && body_length != WRAPPED_KEY_LENGTH {
        return Err(DecryptError::Malformed(
            "X25519 stanza has the wrong length",
        ));
    }
    let needed = r.position() + body_length;
    if needed > MAX_HEADER_LENGTH {
        return Err(DecryptError::Malformed("envelope header too large"));
    }
    let Some(body) = r.take(body_length) else {
        return Ok(Next::Needs(needed));
    };
    Ok(Next::Stanza(Stanza {
        algorithm,
        stanza_id,
        body,
    }))
}

/// Parses a header for `purpose` from the start of `bytes`, or says how much more input
/// it needs. Between calls `bytes` may only grow, and `progress` must come from the
/// previous call.
pub(crate) fn parse<'a>(
    bytes: &'a [u8],
    purpose: Purpose,
    progress: &mut Progress,
) -> Result<Parsed<'a>, DecryptError> {
    let mut r = Reader::new(bytes);
    let Some(fixed) = r.take(FIXED_LENGTH) else {
        return Ok(Parsed::Incomplete(FIXED_LENGTH));
    };
    let mut f = Reader::new(fixed);
    if f.take(4) != Some(MAGIC.as_slice()) {
        return Err(DecryptError::Malformed(
            "not a Tessera envelope (bad magic)",
        ));
    }
    let version = f.u8().unwrap_or_default();
    if version != VERSION {
        return Err(DecryptError::UnsupportedVersion(version));
    }
    let found = Purpose::from_header_byte(f.u8().unwrap_or_default())
        .ok_or(DecryptError::Malformed("unknown envelope purpose"))?;
    if found != purpose {
        return Err(DecryptError::WrongPurpose {
            expected: purpose.name(),
            found: found.name(),
        });
    }
    let payload_nonce = f.array().unwrap_or_default();
    let ephemeral = f.array().unwrap_or_default();
    let count = f.u32().unwrap_or_default() as usize;
    if count == 0 {
        return Err(DecryptError::Malformed("envelope has no recipients"));
    }
    if count > MAX_RECIPIENTS {
        return Err(DecryptError::Malformed("envelope has too many recipients"));
    }
    // Check the stanzas no earlier call has seen complete.
    let mut unchecked = Reader::new(bytes);
    let resume_at = progress.offset.max(FIXED_LENGTH);
    if unchecked.take(resume_at).is_none() {
        return Ok(Parsed::Incomplete(resume_at));
    }
    while progress.stanzas < count {
        if let Next::Needs(needed) = read_stanza(&mut unchecked)? {
            return Ok(Parsed::Incomplete(needed));
        }
        progress.stanzas += 1;
        progress.offset = unchecked.position();
    }
    // The header is complete: collect its stanzas in one more pass.
    let mut stanzas = Vec::with_capacity(count);
    for _ in 0..count {
        match read_stanza(&mut r)? {
            Next::Stanza(stanza) => stanzas.push(stanza),
            Next::Needs(needed) => return Ok(Parsed::Incomplete(needed)),
        }
    }
    Ok(Parsed::Complete(
        Header {
            payload_nonce,
            ephemeral,
            stanzas,
        },
        r.position(),
    ))
}

impl Header<'_> {
    /// Finds this recipient's stanza and unwraps the content key: one X25519 and one HKDF
    /// per envelope, then at most [`MAX_STANZAS_TRIED`] AEAD openings.
    pub(crate) fn unwrap_content_key(
        &self,
        secret: &StaticSecret,
        own: &PublicKeys,
    ) -> Result<Zeroizing<[u8; 32]>, DecryptError> {
        let shared = secret.diffie_hellman(&X25519Public::from(self.ephemeral));
        if !shared.was_contributory() {
            return Err(DecryptError::DecryptionFailed);
        }
        let keys = stanza_keys(shared.as_bytes(), &self.ephemeral, own);
        let cipher = ChaCha20Poly1305::new(&(*keys.wrap_key).into());
        let mut addressed = false;
        let matching = self
            .stanzas
            .iter()
            .filter(|stanza| stanza.algorithm == ALG_X25519 && stanza.stanza_id == keys.id)
            .take(MAX_STANZAS_TRIED);
        for stanza in matching {
            addressed = true;
            let (sealed, tag) = stanza.body.split_at(32);
            let mut content_key = Zeroizing::new([0u8; 32]);
            content_key.copy_from_slice(sealed);
            let opened = cipher.decrypt_inout_detached(
                &[0u8; 12].into(),
                &[],
                content_key.as_mut_slice().into(),
                &Tag::try_from(tag).map_err(|_| DecryptError::DecryptionFailed)?,
            );
            if opened.is_ok() {
                return Ok(content_key);
            }
        }
        Err(if addressed {
            DecryptError::DecryptionFailed
        } else {
            DecryptError::NotARecipient
        })
    }
}
