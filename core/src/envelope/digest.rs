//! The digest a stream's signature covers (docs/FORMAT.md §4.5): BLAKE3 over the header's
//! length, the header, then the plaintext.
//!
//! Hashing costs about half as much as the AEAD over the same bytes, and the two do not
//! depend on each other. Encryption moves the AEAD to a worker instead
//! (`seal_worker.rs`) and hashes here, inline. Decryption must open a chunk before its
//! plaintext can be hashed, so on native platforms with more than one core a long
//! decryption hashes on a worker thread of its own: the caller's thread opens the next
//! chunks while the worker hashes the previous ones. The worker gets copies of the
//! plaintext in zeroized buffers of [`PIECE_LENGTH`], at most [`MAX_IN_FLIGHT`] at a time
//! (memory stays constant), and hands the hasher back at the end. Short streams,
//! single-core machines and wasm hash inline; the digest is the same either way.

#[cfg(not(target_arch = "wasm32"))]
use std::{
    sync::mpsc::{self, Receiver, SyncSender},
    thread::JoinHandle,
};

#[cfg(not(target_arch = "wasm32"))]
use zeroize::Zeroizing;

#[cfg(not(target_arch = "wasm32"))]
use super::stream::CHUNK_LENGTH;

/// Plaintext hashed inline before a stream considers a worker: below this, starting a
/// thread costs more than the overlap saves.
#[cfg(not(target_arch = "wasm32"))]
const WORKER_AFTER: u64 = 4 * CHUNK_LENGTH as u64;
/// Plaintext bytes a worker is handed at a time: a few chunks, so that waking it up is
/// rare next to the hashing.
#[cfg(not(target_arch = "wasm32"))]
const PIECE_LENGTH: usize = 4 * CHUNK_LENGTH;
/// Pieces being filled, queued for or being hashed by a worker, at most.
#[cfg(not(target_arch = "wasm32"))]
const MAX_IN_FLIGHT: usize = 3;

/// The worker could not hand its hasher back (it panicked): the digest is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DigestLost;

/// See the module documentation.
pub(crate) struct PlaintextDigest {
    state: State,
    /// Plaintext bytes hashed so far (inline or handed over).
    hashed: u64,
    /// Hash on a worker once this many plaintext bytes are hashed; `None`: never.
    #[cfg(not(target_arch = "wasm32"))]
    worker_after: Option<u64>,
}

#[allow(clippy::large_enum_variant)] // One per stream, inline hasher included; boxing adds an allocation per message.
enum State {
    Inline(blake3::Hasher),
    #[cfg(not(target_arch = "wasm32"))]
    Worker(Worker),
    /// The worker died; [`PlaintextDigest::finalize`] reports it.
    Lost,
}

impl PlaintextDigest {
    /// Starts the digest of a stream with this header.
    pub(crate) fn new(header: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(header.len() as u64).to_be_bytes());
        hasher.update(header);
        Self {
            state: State::Inline(hasher),
            hashed: 0,
            #[cfg(not(target_arch = "wasm32"))]
            worker_after: worker_policy(),
        }
    }

    /// A digest that always hashes on the caller's thread.
    pub(crate) fn inline(header: &[u8]) -> Self {
        Self {
            #[cfg(not(target_arch = "wasm32"))]
            worker_after: None,
            ..Self::new(header)
        }
    }

    /// Hashes the next plaintext bytes.
    pub(crate) fn update(&mut self, plaintext: &[u8]) {
        #[cfg(not(target_arch = "wasm32"))]
        self.consider_worker();
        match &mut self.state {
            State::Inline(hasher) => {
                hasher.update(plaintext);
            }
            #[cfg(not(target_arch = "wasm32"))]
            State::Worker(worker) => {
                if worker.send(plaintext).is_err() {
                    self.state = State::Lost;
                }
            }
            State::Lost => {}
        }
        self.hashed = self.hashed.saturating_add(plaintext.len() as u64);
    }

    /// The digest of everything hashed. Afterwards the digest is spent: later calls fail.
    pub(crate) fn finalize(&mut self) -> Result<blake3::Hash, DigestLost> {
        match std::mem::replace(&mut self.state, State::Lost) {
            State::Inline(hasher) => Ok(hasher.finalize()),
            #[cfg(not(target_arch = "wasm32"))]
            State::Worker(worker) => worker.finish().map(|hasher| hasher.finalize()),
            State::Lost => Err(DigestLost),
        }
    }

    /// Moves hashing to a worker once the stream is long enough.
    #[cfg(not(target_arch = "wasm32"))]
    fn consider_worker(&mut self) {
        if self.worker_after.is_none_or(|after| self.hashed < after) {
            return;
        }
        self.worker_after = None;
        if let State::Inline(hasher) = &self.state {
            // Without a thread the stream goes on hashing inline.
            if let Some(worker) = Worker::start(hasher.clone()) {
                self.state = State::Worker(worker);
            }
        }
    }

    /// A digest that moves to a worker after `worker_after` bytes whatever the machine
    /// (tests).
    #[cfg(all(test, not(target_arch = "wasm32")))]
    fn with_worker_after(header: &[u8], worker_after: u64) -> Self {
        Self {
            worker_after: Some(worker_after),
            ..Self::new(header)
        }
    }
}

/// When streams on this machine move hashing to a worker: only with a second core.
#[cfg(not(target_arch = "wasm32"))]
fn worker_policy() -> Option<u64> {
    super::seal_worker::multi_core().then_some(WORKER_AFTER)
}

/// A plaintext copy on its way to the worker (or back, for reuse).
#[cfg(not(target_arch = "wasm32"))]
type Piece = Zeroizing<Vec<u8>>;

/// A thread that hashes the pieces it is sent, in order, and returns the hasher when the
/// sending side closes.
#[cfg(not(target_arch = "wasm32"))]
struct Worker {
    pieces: SyncSender<Piece>,
    returned: Receiver<Piece>,
    /// The piece being filled, sent when full (or at the end).
    filling: Option<Piece>,
    /// Pieces allocated so far (each is being filled, queued, hashed, or returned).
    allocated: usize,
    thread: JoinHandle<blake3::Hasher>,
}

#[cfg(not(target_arch = "wasm32"))]
impl Worker {
    /// `None` when no thread can be started.
    fn start(mut hasher: blake3::Hasher) -> Option<Self> {
        let (pieces, to_hash) = mpsc::sync_channel::<Piece>(MAX_IN_FLIGHT);
        let (give_back, returned) = mpsc::channel::<Piece>();
        let thread = std::thread::Builder::new()
            .name("tessera-digest".into())
            .spawn(move || {
                for piece in to_hash {
                    hasher.update(&piece);
                    // The stream may be gone; the piece is then zeroized here.
                    let _ = give_back.send(piece);
                }
                hasher
            })
            .ok()?;
        Some(Self {
            pieces,
            returned,
            filling: None,
            allocated: 0,
            thread,
        })
    }

    /// Copies `plaintext` into pieces, handing each over when full. `Err` when the worker
    /// has died.
    fn send(&mut self, mut plaintext: &[u8]) -> Result<(), DigestLost> {
        while !plaintext.is_empty() {
            let piece = match &mut self.filling {
                Some(piece) => piece,
                None => {
                    let piece = self.free_piece()?;
                    self.filling.insert(piece)
                }
            };
            let take = plaintext.len().min(PIECE_LENGTH - piece.len());
            let (now, rest) = plaintext.split_at(take);
            piece.extend_from_slice(now);
            plaintext = rest;
            if piece.len() == PIECE_LENGTH {
                self.hand_over()?;
            }
        }
        Ok(())
    }

    /// An empty piece: one the worker gave back, a new one while fewer than
    /// [`MAX_IN_FLIGHT`] exist, or else the next one the worker gives back.
    fn free_piece(&mut self) -> Result<Piece, DigestLost> {
        let mut piece = match self.returned.try_recv() {
            Ok(piece) => piece,
            Err(_) if self.allocated < MAX_IN_FLIGHT => {
                self.allocated += 1;
                Zeroizing::new(Vec::with_capacity(PIECE_LENGTH))
            }
            Err(_) => self.returned.recv().map_err(|_| DigestLost)?,
        };
        piece.clear();
        Ok(piece)
    }

    fn hand_over(&mut self) -> Result<(), DigestLost> {
        match self.filling.take() {
            Some(piece) => self.pieces.send(piece).map_err(|_| DigestLost),
            None => Ok(()),
        }
    }

    /// Hands over the last piece, waits for every piece to be hashed and takes the
    /// hasher back.
    fn finish(mut self) -> Result<blake3::Hasher, DigestLost> {
        self.hand_over()?;
        drop(self.pieces);
        self.thread.join().map_err(|_| DigestLost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(header: &[u8], plaintext: &[u8]) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(header.len() as u64).to_be_bytes());
        hasher.update(header);
        hasher.update(plaintext);
        hasher.finalize()
    }

    /// Pieces of every awkward size: empty, one byte, just under and over a chunk, many
    /// chunks at once.
    fn pieces(data: &[u8]) -> Vec<&[u8]> {
        let sizes = [0, 1, 65_535, 65_537, 3 * 65_536 + 7, 13, 0, 200_000];
        let mut rest = data;
        let mut out = Vec::new();
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            out.push(piece);
            rest = tail;
        }
        out
    }

    #[test]
    fn inline_and_worker_digests_equal_one_pass_blake3() {
        let header = b"header bytes";
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let want = expected(header, &data);

        let mut inline = PlaintextDigest::new(header);
        #[cfg(not(target_arch = "wasm32"))]
        {
            inline.worker_after = None;
        }
        for piece in pieces(&data) {
            inline.update(piece);
        }
        assert!(matches!(inline.state, State::Inline(_)));
        assert_eq!(inline.finalize(), Ok(want));
        assert_eq!(
            inline.finalize(),
            Err(DigestLost),
            "a digest is spent once taken"
        );

        #[cfg(not(target_arch = "wasm32"))]
        for after in [0, 1, 65_536, 1_000_000] {
            let mut threaded = PlaintextDigest::with_worker_after(header, after);
            for piece in pieces(&data) {
                threaded.update(piece);
            }
            assert!(matches!(threaded.state, State::Worker(_)), "after {after}");
            assert_eq!(threaded.finalize(), Ok(want), "after {after}");
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn an_abandoned_stream_lets_its_worker_end() {
        let mut digest = PlaintextDigest::with_worker_after(b"h", 0);
        digest.update(&[1; 100_000]);
        let State::Worker(Worker {
            pieces,
            returned,
            thread,
            ..
        }) = std::mem::replace(&mut digest.state, State::Lost)
        else {
            panic!("the worker did not start");
        };
        drop((pieces, returned));
        // The channels closed: the thread ends by itself, and join returns.
        assert!(thread.join().is_ok());
    }
}
