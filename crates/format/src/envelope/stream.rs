//! Incremental encryption and decryption in constant memory (docs/FORMAT.md §4.3–4.5).
//!
//! Both sides are push-style (`update` with any slice, then `finish`) so the same code
//! serves files on native platforms, `ReadableStream`s in JS and byte arrays over FFI.

use std::{
    collections::HashSet,
    fmt,
    io::{self, Read, Write},
};

use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit, Tag,
    aead::{AeadInOut, inout::InOutBuf},
};
use ed25519_dalek::{Signature, Signer, SigningKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

#[cfg(not(target_arch = "wasm32"))]
use super::chunk_worker::{ChunkWorker, Direction, LazyWorker, WorkerError};
use super::{DecryptError, EncryptError, Purpose, Recipient, Verified, header};
use crate::{
    card::{Card, verify_chain},
    keys::{IdentityKeyPair, KeyId, PublicKeys},
    random::random_array,
    time::Timestamp,
};

/// Plaintext bytes per payload chunk.
pub const CHUNK_LENGTH: usize = 64 * 1024;
pub(crate) const TAG_LENGTH: usize = 16;
const SEALED_CHUNK_LENGTH: usize = CHUNK_LENGTH + TAG_LENGTH;
/// Signer key id (8) and Ed25519 signature (64), at the end of the encrypted stream.
pub const TRAILER_LENGTH: usize = 8 + 64;
#[cfg(not(target_arch = "wasm32"))]
const WORKER_LOST: &str = "the stream's worker thread failed";
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

/// `"tessera/v2/" || purpose || suffix`: the labels of the payload key and the signature.
fn label(purpose: Purpose, suffix: &str) -> Vec<u8> {
    ["tessera/v2/", purpose.name(), suffix]
        .concat()
        .into_bytes()
}

fn payload_cipher(
    purpose: Purpose,
    content_key: &[u8; 32],
    payload_nonce: &[u8; header::PAYLOAD_NONCE_LENGTH],
    header: &[u8],
) -> ChaCha20Poly1305 {
    let mut info = label(purpose, "-payload");
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

fn signature_input(purpose: Purpose, digest: &blake3::Hash) -> Vec<u8> {
    let mut input = label(purpose, "-signature\0");
    input.extend_from_slice(digest.as_bytes());
    input
}

/// Encrypts and signs a stream for a set of recipients.
///
/// Output: the header, then 64 KiB chunks. Call [`Encryptor::update`] with the data in
/// pieces of any size and [`Encryptor::finish`] once; together they emit the complete
/// envelope. Memory use is one chunk, whatever the data size (on native platforms with
/// more than one core, streams past 256 KiB are sealed on a worker thread with up to four
/// more chunks in flight; see `envelope/chunk_worker.rs`, which [`Decryptor`] uses
/// too). For files and sockets,
/// [`Encryptor::update_from_reader`] and [`Encryptor::finish_to`] read plaintext straight
/// into the chunk buffer and write sealed chunks from it, without an intermediate copy.
pub struct Encryptor {
    purpose: Purpose,
    header: Option<Vec<u8>>,
    cipher: ChaCha20Poly1305,
    digest: blake3::Hasher,
    signer: SigningKey,
    signer_id: KeyId,
    /// Plaintext waiting for a chunk to fill (`stage[..staged]`); the reader path seals it
    /// in place, so it grows up to one sealed chunk. Zeroized on drop.
    stage: Zeroizing<Vec<u8>>,
    staged: usize,
    counter: u64,
    /// Seals full chunks once the stream is long enough (native, multi-core).
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) worker: LazyWorker,
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("chunks", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Starts a data envelope from `sender` to `recipients` (1..=100 000, duplicates
    /// removed).
    pub fn new(sender: &IdentityKeyPair, recipients: &[Recipient]) -> Result<Self, EncryptError> {
        Self::for_purpose(Purpose::Data, sender, recipients)
    }

    pub(crate) fn for_purpose(
        purpose: Purpose,
        sender: &IdentityKeyPair,
        recipients: &[Recipient],
    ) -> Result<Self, EncryptError> {
        Self::with_randomness(purpose, sender, recipients, Randomness::fresh()?)
    }

    pub(crate) fn with_randomness(
        purpose: Purpose,
        sender: &IdentityKeyPair,
        recipients: &[Recipient],
        randomness: Randomness,
    ) -> Result<Self, EncryptError> {
        let mut seen = HashSet::with_capacity(recipients.len());
        let unique: Vec<Recipient> = recipients
            .iter()
            .filter(|r| seen.insert((r.keys.signing, r.keys.encryption)))
            .copied()
            .collect();
        let ephemeral = StaticSecret::from(*randomness.ephemeral_secret);
        let mut header_bytes = Vec::new();
        header::write(
            &mut header_bytes,
            purpose,
            &randomness.payload_nonce,
            &ephemeral,
            &randomness.content_key,
            &unique,
        )?;
        Ok(Self::from_header(
            purpose,
            header_bytes,
            &randomness.content_key,
            &randomness.payload_nonce,
            sender,
        ))
    }

    /// An encryptor for any header whose payload is keyed by `content_key` (envelopes and
    /// group messages share the payload construction, docs/FORMAT.md §4.3–4.5).
    pub(crate) fn from_header(
        purpose: Purpose,
        header_bytes: Vec<u8>,
        content_key: &[u8; 32],
        payload_nonce: &[u8; header::PAYLOAD_NONCE_LENGTH],
        sender: &IdentityKeyPair,
    ) -> Self {
        let cipher = payload_cipher(purpose, content_key, payload_nonce, &header_bytes);
        let digest = start_digest(&header_bytes);
        Self {
            purpose,
            header: Some(header_bytes),
            cipher,
            digest,
            signer: sender.signing_key().clone(),
            signer_id: sender.public_keys().signing_key_id(),
            stage: Zeroizing::new(Vec::new()),
            staged: 0,
            counter: 0,
            #[cfg(not(target_arch = "wasm32"))]
            worker: LazyWorker::new(Direction::Seal),
        }
    }

    /// Encrypts the next piece of plaintext, appending ciphertext to `out`.
    pub fn update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.emit_header(out);
        // The trailer always follows the data, so a chunk filled with data is never the
        // last chunk and can be sealed as soon as it is full.
        if self.staged > 0 {
            let take = data.len().min(CHUNK_LENGTH - self.staged);
            let (now, rest) = data.split_at(take);
            self.stage_bytes(now);
            if self.staged < CHUNK_LENGTH {
                return Ok(());
            }
            self.staged = 0;
            let stage = std::mem::take(&mut self.stage);
            let sealed = self.seal_full_chunk(stage.get(..CHUNK_LENGTH).unwrap_or_default(), out);
            self.stage = stage;
            sealed?;
            data = rest;
        }
        while data.len() >= CHUNK_LENGTH {
            let (chunk, rest) = data.split_at(CHUNK_LENGTH);
            self.seal_full_chunk(chunk, out)?;
            data = rest;
        }
        self.stage_bytes(data);
        Ok(())
    }

    /// Reads the next piece of plaintext from `reader` (one successful `read`, retried
    /// when interrupted) into the chunk buffer and, when a chunk is full, seals it in
    /// place and writes it to `writer`, preceded by the header the first time. Returns
    /// the number of bytes read; 0 means `reader` is at its end. Encryption errors come
    /// back as `io::Error`s wrapping an [`EncryptError`].
    pub fn update_from_reader<R, W>(&mut self, reader: &mut R, writer: &mut W) -> io::Result<usize>
    where
        R: Read + ?Sized,
        W: Write + ?Sized,
    {
        self.grow_stage(SEALED_CHUNK_LENGTH);
        let free = self
            .stage
            .get_mut(self.staged..CHUNK_LENGTH)
            .unwrap_or_default();
        let read = loop {
            match reader.read(free) {
                Ok(read) => break read.min(free.len()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        };
        self.staged += read;
        if self.staged == CHUNK_LENGTH {
            if let Some(header) = self.header.take() {
                writer.write_all(&header)?;
            }
            self.staged = 0;
            #[cfg(not(target_arch = "wasm32"))]
            {
                let stage = std::mem::take(&mut self.stage);
                let handed =
                    self.seal_on_worker(stage.get(..CHUNK_LENGTH).unwrap_or_default(), writer);
                self.stage = stage;
                if handed? {
                    return Ok(read);
                }
            }
            let sealed = self
                .stage
                .get_mut(..SEALED_CHUNK_LENGTH)
                .unwrap_or_default();
            let (chunk, tag_space) = sealed.split_at_mut(CHUNK_LENGTH.min(sealed.len()));
            self.digest.update(chunk);
            let tag = seal_chunk(&self.cipher, &mut self.counter, chunk, false)
                .map_err(io::Error::other)?;
            if tag_space.len() != TAG_LENGTH {
                return Err(io::Error::other(EncryptError::TooLarge));
            }
            tag_space.copy_from_slice(&tag);
            writer.write_all(sealed)?;
        }
        Ok(read)
    }

    /// Signs, encrypts the trailer and the last chunk, appending them to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.emit_header(out);
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(worker) = self.worker.running() {
            // Writing to a `Vec` cannot fail.
            while write_sealed(worker, true, out)
                .map_err(|_| EncryptError::Internal(WORKER_LOST))?
            {}
        }
        let staged = self.stage.get(..self.staged).unwrap_or_default();
        self.digest.update(staged);
        let signature = self
            .signer
            .sign(&signature_input(self.purpose, &self.digest.finalize()));
        let mut start = out.len();
        out.extend_from_slice(staged);
        out.extend_from_slice(&self.signer_id.0);
        out.extend_from_slice(&signature.to_bytes());
        // Data and trailer together may overflow into one more (last) chunk.
        if out.len() - start > CHUNK_LENGTH {
            let chunk = out.get_mut(start..start + CHUNK_LENGTH).unwrap_or_default();
            let tag = seal_chunk(&self.cipher, &mut self.counter, chunk, false)?;
            let tag_at = start + CHUNK_LENGTH;
            out.splice(tag_at..tag_at, tag);
            start += SEALED_CHUNK_LENGTH;
        }
        let chunk = out.get_mut(start..).unwrap_or_default();
        let tag = seal_chunk(&self.cipher, &mut self.counter, chunk, true)?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// [`Encryptor::finish`], writing the rest of the envelope to `writer`.
    pub fn finish_to<W: Write + ?Sized>(self, writer: &mut W) -> io::Result<()> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            self.header.as_ref().map_or(0, Vec::len)
                + self.staged
                + 2 * TAG_LENGTH
                + TRAILER_LENGTH,
        ));
        self.finish(&mut out).map_err(io::Error::other)?;
        writer.write_all(&out)
    }

    /// Hashes and seals one full, non-final chunk, appending it to `out`: copied once,
    /// into `out`, and sealed there while in cache; or, past the first few chunks on a
    /// multi-core machine, handed to the sealing worker (`out` then gets the chunks the
    /// worker has finished, in order).
    fn seal_full_chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        #[cfg(not(target_arch = "wasm32"))]
        // Writing to a `Vec` cannot fail.
        if self
            .seal_on_worker(chunk, out)
            .map_err(|_| EncryptError::Internal(WORKER_LOST))?
        {
            return Ok(());
        }
        let start = out.len();
        out.extend_from_slice(chunk);
        self.seal_appended(start, false, out)
    }

    /// Hands a full, non-final chunk to the sealing worker, starting it once the stream
    /// is long enough, and writes the chunks it has sealed by now to `out`; `Ok(false)`
    /// when this stream seals on the caller's thread.
    #[cfg(not(target_arch = "wasm32"))]
    fn seal_on_worker<W: Write + ?Sized>(&mut self, chunk: &[u8], out: &mut W) -> io::Result<bool> {
        self.worker.start_if_due(self.counter, &self.cipher);
        let Some(worker) = self.worker.running() else {
            return Ok(false);
        };
        if self.counter == MAX_CHUNKS {
            return Err(io::Error::other(EncryptError::TooLarge));
        }
        while !worker.has_room() {
            write_sealed(worker, true, out)?;
        }
        self.digest.update(chunk);
        worker
            .hand_over(chunk, chunk_nonce(self.counter, false))
            .map_err(sealing_failed)?;
        self.counter += 1;
        while write_sealed(worker, false, out)? {}
        Ok(true)
    }

    fn emit_header(&mut self, out: &mut Vec<u8>) {
        if let Some(header) = self.header.take() {
            out.extend_from_slice(&header);
        }
    }

    /// Hashes and encrypts the full chunk just appended at `out[start..]`, then appends
    /// its tag.
    fn seal_appended(
        &mut self,
        start: usize,
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        let chunk = out.get_mut(start..).unwrap_or_default();
        self.digest.update(chunk);
        let tag = seal_chunk(&self.cipher, &mut self.counter, chunk, last)?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Appends `data` (less than a chunk in all) to the staged plaintext.
    fn stage_bytes(&mut self, data: &[u8]) {
        let end = self.staged + data.len();
        self.grow_stage(end);
        if let Some(target) = self.stage.get_mut(self.staged..end) {
            target.copy_from_slice(data);
            self.staged = end;
        }
    }

    /// Makes the stage at least `length` bytes long. It grows into a fresh buffer so that
    /// the old one is zeroized rather than freed by a reallocation with plaintext in it;
    /// small messages never pay for a whole chunk.
    fn grow_stage(&mut self, length: usize) {
        if self.stage.len() >= length {
            return;
        }
        let size = length.max(2 * self.stage.len()).min(SEALED_CHUNK_LENGTH);
        let mut grown = Zeroizing::new(vec![0u8; size.max(length)]);
        if let (Some(to), Some(from)) =
            (grown.get_mut(..self.staged), self.stage.get(..self.staged))
        {
            to.copy_from_slice(from);
        }
        self.stage = grown;
    }
}

/// An opening worker's failure as the error the stream reports: a refused chunk is not
/// authentic.
#[cfg(not(target_arch = "wasm32"))]
fn opening_failed(error: WorkerError) -> DecryptError {
    match error {
        WorkerError::Refused => DecryptError::DecryptionFailed,
        WorkerError::Lost => DecryptError::Internal(WORKER_LOST),
    }
}

/// Writes the oldest chunk the worker has sealed to `out`, if any (waiting for it if
/// `wait`); `Ok(false)` when none was ready.
#[cfg(not(target_arch = "wasm32"))]
fn write_sealed<W: Write + ?Sized>(
    worker: &mut ChunkWorker,
    wait: bool,
    out: &mut W,
) -> io::Result<bool> {
    let Some(sealed) = worker.take_back(wait).map_err(sealing_failed)? else {
        return Ok(false);
    };
    out.write_all(&sealed)?;
    worker.recycle(sealed);
    Ok(true)
}

/// A sealing worker's failure as the error the stream reports.
#[cfg(not(target_arch = "wasm32"))]
fn sealing_failed(_: WorkerError) -> io::Error {
    io::Error::other(EncryptError::Internal(WORKER_LOST))
}

/// Encrypts one chunk in place under the next counter and returns its tag.
fn seal_chunk(
    cipher: &ChaCha20Poly1305,
    counter: &mut u64,
    chunk: &mut [u8],
    last: bool,
) -> Result<Tag, EncryptError> {
    if *counter == MAX_CHUNKS {
        return Err(EncryptError::TooLarge);
    }
    let tag = cipher
        .encrypt_inout_detached(&chunk_nonce(*counter, last).into(), &[], chunk.into())
        .map_err(|_| EncryptError::TooLarge)?;
    *counter += 1;
    Ok(tag)
}

/// What a recipient needs to find and open its stanza.
struct RecipientSecret {
    secret: StaticSecret,
    own: PublicKeys,
}

#[allow(clippy::large_enum_variant)] // One instance per decryptor; boxing buys nothing.
enum DecryptState {
    /// Collecting envelope header bytes until `needed` are buffered, then parsing again
    /// from where the last attempt stopped.
    Header {
        needed: usize,
        progress: header::Progress,
        recipient: Box<RecipientSecret>,
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
/// discarded (docs/FORMAT.md §4.6).
pub struct Decryptor {
    purpose: Purpose,
    state: DecryptState,
    /// Header bytes while parsing; afterwards at most one sealed chunk held back because
    /// it may be the last.
    pending: Vec<u8>,
    /// Decrypted bytes held back because they may belong to the trailer.
    held: Zeroizing<Vec<u8>>,
    counter: u64,
    /// Opens full chunks once the stream is long enough (native, multi-core).
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) worker: LazyWorker,
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("chunks", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Starts decrypting a data envelope with the recipient's keys.
    pub fn new(recipient: &IdentityKeyPair) -> Self {
        Self::for_purpose(Purpose::Data, recipient)
    }

    pub(crate) fn for_purpose(purpose: Purpose, recipient: &IdentityKeyPair) -> Self {
        let recipient = Box::new(RecipientSecret {
            secret: recipient.encryption_secret().clone(),
            own: *recipient.public_keys(),
        });
        Self::with_state(
            purpose,
            DecryptState::Header {
                needed: header::FIXED_LENGTH,
                progress: header::Progress::default(),
                recipient,
            },
        )
    }

    /// A decryptor for the payload after an already parsed header whose content key is
    /// known (group messages).
    pub(crate) fn for_payload(
        purpose: Purpose,
        header_bytes: &[u8],
        content_key: &[u8; 32],
        payload_nonce: &[u8; header::PAYLOAD_NONCE_LENGTH],
    ) -> Self {
        let cipher = payload_cipher(purpose, content_key, payload_nonce, header_bytes);
        let digest = start_digest(header_bytes);
        Self::with_state(purpose, DecryptState::Payload { cipher, digest })
    }

    fn with_state(purpose: Purpose, state: DecryptState) -> Self {
        Self {
            purpose,
            state,
            pending: Vec::new(),
            held: Zeroizing::new(Vec::with_capacity(TRAILER_LENGTH)),
            counter: 0,
            #[cfg(not(target_arch = "wasm32"))]
            worker: LazyWorker::new(Direction::Open),
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

    fn update_inner(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        match &self.state {
            DecryptState::Failed => Err(DecryptError::DecryptionFailed),
            &DecryptState::Header { needed, .. } => {
                if self.pending.len() + data.len() < needed {
                    self.pending.extend_from_slice(data);
                    return Ok(());
                }
                // Parse from the buffered bytes plus the caller's slice without copying the
                // payload part: only the header is ever buffered.
                self.pending.extend_from_slice(data);
                let buffered = std::mem::take(&mut self.pending);
                let consumed = self.parse_header(&buffered)?;
                match consumed {
                    None => {
                        self.pending = buffered;
                        Ok(())
                    }
                    Some(length) => self.payload(buffered.get(length..).unwrap_or_default(), out),
                }
            }
            DecryptState::Payload { .. } => self.payload(data, out),
        }
    }

    /// Parses the header at the start of `bytes`; `Some(length)` once complete.
    fn parse_header(&mut self, bytes: &[u8]) -> Result<Option<usize>, DecryptError> {
        let DecryptState::Header { progress, .. } = &mut self.state else {
            return Err(DecryptError::DecryptionFailed);
        };
        match header::parse(bytes, self.purpose, progress)? {
            header::Parsed::Incomplete(more) => {
                if let DecryptState::Header { needed, .. } = &mut self.state {
                    *needed = more;
                }
                Ok(None)
            }
            header::Parsed::Complete(parsed, length) => {
                let DecryptState::Header { recipient, .. } = &self.state else {
                    return Err(DecryptError::DecryptionFailed);
                };
                let content_key = parsed.unwrap_content_key(&recipient.secret, &recipient.own)?;
                let header_bytes = bytes.get(..length).unwrap_or_default();
                let cipher = payload_cipher(
                    self.purpose,
                    &content_key,
                    &parsed.payload_nonce,
                    header_bytes,
                );
                let digest = start_digest(header_bytes);
                self.state = DecryptState::Payload { cipher, digest };
                Ok(Some(length))
            }
        }
    }

    /// Decrypts every chunk known not to be the last; keeps the rest in `pending`.
    fn payload(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        if !self.pending.is_empty() {
            let take = data.len().min(SEALED_CHUNK_LENGTH - self.pending.len());
            let (now, rest) = data.split_at(take);
            self.pending.extend_from_slice(now);
            data = rest;
            if data.is_empty() {
                return Ok(());
            }
            let pending = std::mem::take(&mut self.pending);
            self.open_full(&pending, out)?;
            self.pending = pending;
            self.pending.clear();
        }
        while data.len() > SEALED_CHUNK_LENGTH {
            let (sealed, rest) = data.split_at(SEALED_CHUNK_LENGTH);
            self.open_full(sealed, out)?;
            data = rest;
        }
        self.pending.extend_from_slice(data);
        Ok(())
    }

    /// Decrypts a full sealed chunk known not to be the last, appending what it releases
    /// to `out`: here, or, past the first few chunks on a multi-core machine, on the
    /// opening worker (`out` then gets what the chunks it has opened by now release).
    fn open_full(&mut self, sealed: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            if let DecryptState::Payload { cipher, .. } = &self.state {
                self.worker.start_if_due(self.counter, cipher);
            }
            if self.worker.is_running() {
                if self.counter == MAX_CHUNKS {
                    return Err(DecryptError::DecryptionFailed);
                }
                while self
                    .worker
                    .running()
                    .is_some_and(|worker| !worker.has_room())
                {
                    self.release_opened(true, out)?;
                }
                if let Some(worker) = self.worker.running() {
                    worker
                        .hand_over(sealed, chunk_nonce(self.counter, false))
                        .map_err(opening_failed)?;
                }
                self.counter += 1;
                while self.release_opened(false, out)? {}
                return Ok(());
            }
        }
        self.open(sealed, false, out)
    }

    /// Releases the oldest chunk the worker has opened, if any (waiting for it if `wait`);
    /// `Ok(false)` when none was ready.
    #[cfg(not(target_arch = "wasm32"))]
    fn release_opened(&mut self, wait: bool, out: &mut Vec<u8>) -> Result<bool, DecryptError> {
        let Some(worker) = self.worker.running() else {
            return Ok(false);
        };
        let Some(plaintext) = worker.take_back(wait).map_err(opening_failed)? else {
            return Ok(false);
        };
        let released_from = out.len();
        out.append(&mut self.held);
        out.extend_from_slice(&plaintext);
        if let Some(worker) = self.worker.running() {
            worker.recycle(plaintext);
        }
        self.hold_back_trailer(released_from, out)?;
        Ok(true)
    }

    /// Decrypts one sealed chunk into `out` here, on the caller's thread.
    fn open(&mut self, sealed: &[u8], last: bool, out: &mut Vec<u8>) -> Result<(), DecryptError> {
        let DecryptState::Payload { cipher, .. } = &mut self.state else {
            return Err(DecryptError::DecryptionFailed);
        };
        if sealed.len() < TAG_LENGTH || self.counter == MAX_CHUNKS {
            return Err(DecryptError::DecryptionFailed);
        }
        let (body, tag) = sealed.split_at(sealed.len() - TAG_LENGTH);
        // Only the final chunk may be empty, and only when it is also the first.
        if last && body.is_empty() && self.counter > 0 {
            return Err(DecryptError::DecryptionFailed);
        }
        let tag = Tag::try_from(tag).map_err(|_| DecryptError::DecryptionFailed)?;
        // Bytes held back so far are followed by this chunk, so they are plaintext.
        let released_from = out.len();
        out.append(&mut self.held);
        let start = out.len();
        out.resize(start + body.len(), 0);
        let target = out.get_mut(start..).unwrap_or_default();
        let buffer = InOutBuf::new(body, target).map_err(|_| DecryptError::DecryptionFailed)?;
        if cipher
            .decrypt_inout_detached(&chunk_nonce(self.counter, last).into(), &[], buffer, &tag)
            .is_err()
        {
            out.truncate(released_from);
            return Err(DecryptError::DecryptionFailed);
        }
        self.counter += 1;
        self.hold_back_trailer(released_from, out)
    }

    /// After plaintext was appended to `out` from `released_from` on: moves the newest
    /// `TRAILER_LENGTH` bytes into `held` (they may be the trailer) and hashes the rest,
    /// which is released.
    fn hold_back_trailer(
        &mut self,
        released_from: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptError> {
        let DecryptState::Payload { digest, .. } = &mut self.state else {
            return Err(DecryptError::DecryptionFailed);
        };
        let keep_from = out.len().saturating_sub(TRAILER_LENGTH).max(released_from);
        self.held
            .extend_from_slice(out.get(keep_from..).unwrap_or_default());
        out.truncate(keep_from);
        digest.update(out.get(released_from..).unwrap_or_default());
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
        match self.state {
            DecryptState::Payload { .. } => {}
            DecryptState::Header { .. } => return Err(DecryptError::Truncated),
            DecryptState::Failed => return Err(DecryptError::DecryptionFailed),
        }
        #[cfg(not(target_arch = "wasm32"))]
        while self.release_opened(true, out)? {}
        let pending = std::mem::take(&mut self.pending);
        let mut tail = Zeroizing::new(Vec::with_capacity(pending.len()));
        self.open(&pending, true, &mut tail)?;
        let DecryptState::Payload { digest, .. } = &mut self.state else {
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
        card.verifying_key()
            .verify_strict(
                &signature_input(self.purpose, &digest.finalize()),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| DecryptError::SignatureInvalid)?;
        out.extend_from_slice(&tail);
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

/// Seals an already-assembled inner stream (plaintext followed by a trailer) after
/// `header`; lets tests build envelopes a conforming sender would never produce.
#[cfg(test)]
pub(crate) fn seal_inner(
    purpose: Purpose,
    header: &[u8],
    content_key: &[u8; 32],
    payload_nonce: &[u8; header::PAYLOAD_NONCE_LENGTH],
    inner: &[u8],
) -> Vec<u8> {
    let cipher = payload_cipher(purpose, content_key, payload_nonce, header);
    let mut out = header.to_vec();
    let chunks: Vec<&[u8]> = inner.chunks(CHUNK_LENGTH).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(chunk);
        let last = i + 1 == chunks.len();
        let tag = cipher
            .encrypt_inout_detached(
                &chunk_nonce(i as u64, last).into(),
                &[],
                (&mut out[start..]).into(),
            )
            .unwrap();
        out.extend_from_slice(&tag);
    }
    out
}

/// Opens the payload of an envelope whose content key is known, returning the inner
/// stream (plaintext followed by the trailer).
#[cfg(test)]
pub(crate) fn open_inner(envelope: &[u8], content_key: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
    let header::Parsed::Complete(parsed, length) =
        header::parse(envelope, Purpose::Data, &mut header::Progress::default()).unwrap()
    else {
        unreachable!("test envelopes are complete")
    };
    let header_bytes = &envelope[..length];
    let cipher = payload_cipher(
        Purpose::Data,
        content_key,
        &parsed.payload_nonce,
        header_bytes,
    );
    let sealed: Vec<&[u8]> = envelope[length..].chunks(SEALED_CHUNK_LENGTH).collect();
    let mut inner = Vec::new();
    for (i, chunk) in sealed.iter().enumerate() {
        let mut body = chunk[..chunk.len() - TAG_LENGTH].to_vec();
        let tag = Tag::try_from(&chunk[chunk.len() - TAG_LENGTH..]).unwrap();
        let last = i + 1 == sealed.len();
        cipher
            .decrypt_inout_detached(
                &chunk_nonce(i as u64, last).into(),
                &[],
                body.as_mut_slice().into(),
                &tag,
            )
            .unwrap();
        inner.extend_from_slice(&body);
    }
    (header_bytes.to_vec(), inner)
}
