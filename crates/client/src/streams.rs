//! Data of any size in constant memory (64 KiB chunks, the same envelope as messages):
//! push-style [`EncryptStream`] / [`DecryptStream`] with progress reporting and
//! cancellation, and `pipe` helpers over `std::io::Read` / `Write`.
//!
//! Push-style suits every platform: files natively, `ReadableStream`s in JS (the npm
//! adapter feeds chunks), byte arrays over FFI.

use std::{
    fmt,
    io::{Read, Write},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{
    Error, Tessera, card_cache::Chain, messages::recipient_keys, platform::SendOutsideWasm,
};
use tessera_format::{
    card::Card,
    envelope::{CHUNK_LENGTH, Decryptor, Encryptor, Recipient, Verified},
    keys::IdentityKeyPair,
    time::Timestamp,
};
use zeroize::Zeroizing;

/// How far a stream has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes processed so far.
    pub processed_bytes: u64,
    /// The total the app announced with [`StreamOptions::with_total_bytes`], if any.
    pub total_bytes: Option<u64>,
}

/// Receives progress reports (any `FnMut(Progress)` is one).
pub trait ProgressListener: SendOutsideWasm {
    /// Called after each piece of input is processed.
    fn on_progress(&mut self, progress: Progress);
}

impl<F: FnMut(Progress) + SendOutsideWasm> ProgressListener for F {
    fn on_progress(&mut self, progress: Progress) {
        self(progress)
    }
}

/// Cancels a stream from anywhere (another task, a UI button); the next `update` fails
/// with [`Error::Cancelled`]. Clones share the same flag (like JS's `AbortSignal`).
#[derive(Debug, Clone, Default)]
pub struct CancellationToken {
    cancelled: Arc<AtomicBool>,
}

impl CancellationToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every stream watching this token.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Progress reporting and cancellation for a stream.
#[derive(Default)]
pub struct StreamOptions {
    progress: Option<Box<dyn ProgressListener>>,
    cancellation: Option<CancellationToken>,
    total_bytes: Option<u64>,
}

impl fmt::Debug for StreamOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamOptions")
            .field("progress", &self.progress.is_some())
            .field("cancellation", &self.cancellation)
            .field("total_bytes", &self.total_bytes)
            .finish()
    }
}

impl StreamOptions {
    /// No progress reports, no cancellation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports progress to `listener` after each piece of input.
    pub fn with_progress(mut self, listener: impl ProgressListener + 'static) -> Self {
        self.progress = Some(Box::new(listener));
        self
    }

    /// Stops with [`Error::Cancelled`] once `token` is cancelled.
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancellation = Some(token);
        self
    }

    /// The input's total size, passed through in [`Progress::total_bytes`].
    pub fn with_total_bytes(mut self, total: u64) -> Self {
        self.total_bytes = Some(total);
        self
    }

    fn check_cancelled(&self) -> Result<(), Error> {
        match &self.cancellation {
            Some(token) if token.is_cancelled() => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }

    fn report(&mut self, processed_bytes: u64) {
        let total_bytes = self.total_bytes;
        if let Some(listener) = self.progress.as_mut() {
            listener.on_progress(Progress {
                processed_bytes,
                total_bytes,
            });
        }
    }
}

/// Encrypts a stream: [`EncryptStream::update`] with pieces of any size, then
/// [`EncryptStream::finish`]. After an error every call fails ([`Error::InvalidState`], or
/// [`Error::Cancelled`] once cancelled).
pub struct EncryptStream {
    encryptor: Option<Encryptor>,
    options: StreamOptions,
    processed: u64,
}

impl fmt::Debug for EncryptStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptStream")
            .field("processed", &self.processed)
            .finish_non_exhaustive()
    }
}

impl EncryptStream {
    /// [`Error::Cancelled`] at once when the token already is.
    pub(crate) fn new(encryptor: Encryptor, options: StreamOptions) -> Result<Self, Error> {
        options.check_cancelled()?;
        Ok(Self {
            encryptor: Some(encryptor),
            options,
            processed: 0,
        })
    }

    /// Starts an envelope signed by `sender` for `recipients`, with keys the app manages
    /// itself (no client); [`Tessera::encrypt_stream`] is the client's way.
    pub fn with_keys(
        sender: &IdentityKeyPair,
        recipients: &[Recipient],
        options: StreamOptions,
    ) -> Result<Self, Error> {
        Self::new(Encryptor::new(sender, recipients)?, options)
    }

    /// Encrypts the next piece, appending ciphertext to `out` (whole 64 KiB chunks as they
    /// fill up).
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if let Err(error) = self.options.check_cancelled() {
            self.encryptor = None;
            return Err(error);
        }
        let encryptor = self.encryptor.as_mut().ok_or(Error::InvalidState)?;
        if let Err(error) = encryptor.update(data, out) {
            self.encryptor = None;
            return Err(error.into());
        }
        self.processed = self.processed.saturating_add(data.len() as u64);
        self.options.report(self.processed);
        Ok(())
    }

    /// Signs and writes the last chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.options.check_cancelled()?;
        let encryptor = self.encryptor.take().ok_or(Error::InvalidState)?;
        encryptor.finish(out)?;
        Ok(())
    }

    /// Reads `reader` to its end, writing the envelope to `writer`; returns the number of
    /// plaintext bytes read. Plaintext is read straight into the encryptor's chunk buffer
    /// and sealed there, so nothing is copied on the way.
    pub fn pipe(mut self, mut reader: impl Read, mut writer: impl Write) -> Result<u64, Error> {
        loop {
            if let Err(error) = self.options.check_cancelled() {
                self.encryptor = None;
                return Err(error);
            }
            let encryptor = self.encryptor.as_mut().ok_or(Error::InvalidState)?;
            let read = match encryptor.update_from_reader(&mut reader, &mut writer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) => {
                    self.encryptor = None;
                    return Err(io_error(error));
                }
            };
            self.processed = self.processed.saturating_add(read as u64);
            self.options.report(self.processed);
        }
        self.options.check_cancelled()?;
        let encryptor = self.encryptor.take().ok_or(Error::InvalidState)?;
        encryptor.finish_to(&mut writer).map_err(io_error)?;
        writer.flush().map_err(io_error)?;
        Ok(self.processed)
    }
}

/// Decrypts a stream: [`DecryptStream::update`] with pieces of any size, then
/// [`DecryptStream::finish`], which verifies the sender's signature. After an error every
/// call fails ([`Error::InvalidState`], or [`Error::Cancelled`] once cancelled).
///
/// Plaintext released by `update` is confidential and cannot have been modified by anyone
/// but a recipient, but who wrote it is only proven when `finish` succeeds: if it fails,
/// discard everything written.
pub struct DecryptStream {
    decryptor: Option<Decryptor>,
    chain: Chain,
    made_at: Option<Timestamp>,
    options: StreamOptions,
    processed: u64,
}

impl fmt::Debug for DecryptStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptStream")
            .field("processed", &self.processed)
            .finish_non_exhaustive()
    }
}

impl DecryptStream {
    /// [`Error::Cancelled`] at once when the token already is.
    pub(crate) fn new(
        decryptor: Decryptor,
        chain: Chain,
        made_at: Option<Timestamp>,
        options: StreamOptions,
    ) -> Result<Self, Error> {
        options.check_cancelled()?;
        Ok(Self {
            decryptor: Some(decryptor),
            chain,
            made_at,
            options,
            processed: 0,
        })
    }

    /// Starts decrypting with `recipient`'s keys; `finish` verifies against the sender's
    /// card chain (oldest first), with keys the app manages itself (no client);
    /// [`Tessera::decrypt_stream`] is the client's way.
    pub fn with_keys(
        recipient: &IdentityKeyPair,
        sender_chain: Vec<Card>,
        made_at: Option<Timestamp>,
        options: StreamOptions,
    ) -> Result<Self, Error> {
        Self::new(
            Decryptor::new(recipient),
            Arc::new(sender_chain),
            made_at,
            options,
        )
    }

    /// Feeds the next piece of the envelope, appending released plaintext to `out`.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if let Err(error) = self.options.check_cancelled() {
            self.decryptor = None;
            return Err(error);
        }
        let decryptor = self.decryptor.as_mut().ok_or(Error::InvalidState)?;
        if let Err(error) = decryptor.update(data, out) {
            self.decryptor = None;
            return Err(error.into());
        }
        self.processed = self.processed.saturating_add(data.len() as u64);
        self.options.report(self.processed);
        Ok(())
    }

    /// Decrypts the last chunk and verifies the signature against the sender's chain.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<Verified, Error> {
        self.options.check_cancelled()?;
        let decryptor = self.decryptor.take().ok_or(Error::InvalidState)?;
        Ok(decryptor.finish(out, &self.chain, self.made_at)?)
    }

    /// Reads the envelope from `reader` to its end, writing plaintext to `writer`; returns
    /// who signed it. On error, discard what was written.
    pub fn pipe(
        mut self,
        mut reader: impl Read,
        mut writer: impl Write,
    ) -> Result<Verified, Error> {
        let mut buffer = vec![0u8; CHUNK_LENGTH];
        // Released plaintext passes through here; zeroized when done.
        let mut out = Zeroizing::new(Vec::with_capacity(2 * CHUNK_LENGTH));
        loop {
            let read = read_some(&mut reader, &mut buffer)?;
            if read == 0 {
                break;
            }
            self.update(buffer.get(..read).unwrap_or_default(), &mut out)?;
            write_out(&mut writer, &mut out)?;
        }
        let verified = self.finish(&mut out)?;
        write_out(&mut writer, &mut out)?;
        writer.flush().map_err(io_error)?;
        Ok(verified)
    }
}

fn io_error(error: std::io::Error) -> Error {
    Error::Io {
        message: error.to_string(),
    }
}

fn read_some(reader: &mut impl Read, buffer: &mut [u8]) -> Result<usize, Error> {
    loop {
        match reader.read(buffer) {
            Ok(read) => return Ok(read),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(io_error(error)),
        }
    }
}

fn write_out(writer: &mut impl Write, out: &mut Vec<u8>) -> Result<(), Error> {
    writer.write_all(out).map_err(io_error)?;
    out.clear();
    Ok(())
}

impl Tessera {
    /// Starts encrypting a stream to `recipients` and the user (works offline).
    pub async fn encrypt_stream<'a>(
        &self,
        recipients: impl IntoIterator<Item = &'a Card>,
        options: StreamOptions,
    ) -> Result<EncryptStream, Error> {
        let (local, own) = self.local_with_card().await?;
        let recipients = recipient_keys(&own, recipients);
        let encryptor = Encryptor::new(&local.keys, &recipients)?;
        EncryptStream::new(encryptor, options)
    }

    /// Starts decrypting a stream from `sender`. A stream cannot be read twice, so when the
    /// sender has rotated keys and the chain is not cached, the chain is fetched now
    /// (offline, only the card itself is used, and data signed by an earlier key fails).
    pub async fn decrypt_stream(
        &self,
        sender: &Card,
        made_at: Option<Timestamp>,
        options: StreamOptions,
    ) -> Result<DecryptStream, Error> {
        let local = self.require_local()?;
        let mut chain = self.known_chain(sender).await?;
        if chain.len() == 1 && sender.content().previous_card_id.is_some() {
            match self.fetch_and_cache_chain(sender).await {
                Ok(full) => chain = full,
                Err(Error::Network { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        DecryptStream::new(Decryptor::new(&local.keys), chain, made_at, options)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use tessera_format::{
        card::Identity,
        keys::{IdentityKeyPair, RootSecret},
    };

    fn alice() -> (IdentityKeyPair, Card) {
        let keys = IdentityKeyPair::from_root_secret(RootSecret::from_bytes([7; 32]));
        let card = Card::create(
            &keys,
            Identity::new("alice").unwrap(),
            Timestamp(1_800_000_000),
            None,
        )
        .unwrap();
        (keys, card)
    }

    #[test]
    fn pipe_round_trip_reports_progress() {
        let (keys, card) = alice();
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let options = StreamOptions::new()
            .with_total_bytes(data.len() as u64)
            .with_progress(move |p: Progress| sink.lock().unwrap().push(p));
        let mut envelope = Vec::new();
        let read = EncryptStream::with_keys(&keys, &[(&card).into()], options)
            .unwrap()
            .pipe(data.as_slice(), &mut envelope)
            .unwrap();
        assert_eq!(read, data.len() as u64);
        let reports = seen.lock().unwrap().clone();
        assert_eq!(reports.last().unwrap().processed_bytes, data.len() as u64);
        assert_eq!(reports.last().unwrap().total_bytes, Some(data.len() as u64));
        assert!(
            reports
                .windows(2)
                .all(|w| w[0].processed_bytes < w[1].processed_bytes)
        );

        let mut plaintext = Vec::new();
        let verified =
            DecryptStream::with_keys(&keys, vec![card.clone()], None, StreamOptions::new())
                .unwrap()
                .pipe(envelope.as_slice(), &mut plaintext)
                .unwrap();
        assert_eq!(plaintext, data);
        assert_eq!(verified.signer_card_id, card.id());
    }

    #[test]
    fn cancellation_stops_the_stream_for_good() {
        let (keys, card) = alice();
        let token = CancellationToken::new();
        let cancellable = || StreamOptions::new().with_cancellation(token.clone());
        let mut stream = EncryptStream::with_keys(&keys, &[(&card).into()], cancellable()).unwrap();
        let mut out = Vec::new();
        stream.update(&[1; 1000], &mut out).unwrap();
        token.cancel();
        assert_eq!(stream.update(&[1; 1000], &mut out), Err(Error::Cancelled));
        assert_eq!(stream.finish(&mut out), Err(Error::Cancelled));
        // A stream watching a cancelled token does not start.
        assert!(matches!(
            EncryptStream::with_keys(&keys, &[(&card).into()], cancellable()),
            Err(Error::Cancelled)
        ));
        assert!(matches!(
            DecryptStream::with_keys(&keys, vec![card], None, cancellable()),
            Err(Error::Cancelled)
        ));
    }

    #[test]
    fn a_failed_stream_refuses_further_use() {
        let (keys, card) = alice();
        let mut stream = DecryptStream::new(
            Decryptor::new(&keys),
            Arc::new(vec![card]),
            None,
            StreamOptions::new(),
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(stream.update(&[0xff; 64], &mut out).is_err());
        assert_eq!(stream.update(&[0; 1], &mut out), Err(Error::InvalidState));
        assert_eq!(stream.finish(&mut out), Err(Error::InvalidState));
    }
}
