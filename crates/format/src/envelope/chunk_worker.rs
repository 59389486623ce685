//! Sealing or opening a long stream's chunks on a worker thread (native platforms with
//! more than one core; docs/DECISIONS.md "Using a second core").
//!
//! The caller's thread copies each full chunk into a zeroized piece and hands it over
//! with its nonce; the worker seals or opens it in place and gives it back, in order. The
//! AEAD, a stream's largest cost, then runs alone on one core, while the caller's thread
//! does the copies and the digest of the plaintext beside it. At most [`MAX_IN_FLIGHT`]
//! pieces exist, so memory stays constant.

use std::{
    sync::{
        OnceLock,
        mpsc::{self, Receiver, SyncSender, TryRecvError},
    },
    thread::JoinHandle,
};

use chacha20poly1305::{ChaCha20Poly1305, Tag, aead::AeadInOut};
use zeroize::Zeroizing;

use super::stream::{CHUNK_LENGTH, TAG_LENGTH};

/// Chunks a stream handles on the caller's thread before it considers a worker: below
/// this, starting a thread costs more than the overlap saves.
pub(crate) const WORKER_AFTER_CHUNKS: u64 = 4;
/// Pieces handed over and not yet taken back, at most.
const MAX_IN_FLIGHT: usize = 4;

/// Whether this machine has a second core for a worker (asked once).
pub(crate) fn multi_core() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) > 1
}

/// A chunk on its way to the worker or back. Zeroized on drop.
pub(crate) type Piece = Zeroizing<Vec<u8>>;

/// What the worker does to each piece.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    /// Plaintext in; ciphertext followed by its tag out.
    Seal,
    /// Ciphertext followed by its tag in; plaintext out, if the tag is right.
    Open,
}

/// Why a piece did not come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkerError {
    /// The AEAD refused the piece (opening: the chunk is not authentic).
    Refused,
    /// The worker thread is gone (it could only have panicked).
    Lost,
}

struct Job {
    piece: Piece,
    nonce: [u8; 12],
}

/// See the module documentation.
pub(crate) struct ChunkWorker {
    jobs: SyncSender<Job>,
    results: Receiver<Option<Piece>>,
    free: Vec<Piece>,
    /// Pieces handed over and not yet taken back.
    in_flight: usize,
    /// Nobody joins it: when the stream is dropped, `jobs` closes and the thread ends.
    _thread: JoinHandle<()>,
}

impl ChunkWorker {
    /// A worker with its own copy of `cipher`; `None` when no thread can start.
    pub(crate) fn start(cipher: ChaCha20Poly1305, direction: Direction) -> Option<Self> {
        let (jobs, to_do) = mpsc::sync_channel::<Job>(MAX_IN_FLIGHT);
        let (give_back, results) = mpsc::channel::<Option<Piece>>();
        let thread = std::thread::Builder::new()
            .name("tessera-chunks".into())
            .spawn(move || {
                for Job { mut piece, nonce } in to_do {
                    let done = match direction {
                        Direction::Seal => seal(&cipher, nonce, &mut piece),
                        Direction::Open => open(&cipher, nonce, &mut piece),
                    };
                    // A refused piece is dropped (zeroized) here.
                    if give_back.send(done.then_some(piece)).is_err() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Self {
            jobs,
            results,
            free: Vec::new(),
            in_flight: 0,
            _thread: thread,
        })
    }

    /// Whether [`ChunkWorker::hand_over`] can take another chunk now; if not, take one
    /// back with [`ChunkWorker::take_back`] first.
    pub(crate) fn has_room(&self) -> bool {
        self.in_flight < MAX_IN_FLIGHT
    }

    /// Hands over a copy of `chunk` to be sealed or opened under `nonce`.
    pub(crate) fn hand_over(&mut self, chunk: &[u8], nonce: [u8; 12]) -> Result<(), WorkerError> {
        if !self.has_room() {
            return Err(WorkerError::Lost);
        }
        let mut piece = self
            .free
            .pop()
            .unwrap_or_else(|| Zeroizing::new(Vec::with_capacity(CHUNK_LENGTH + TAG_LENGTH)));
        piece.clear();
        piece.extend_from_slice(chunk);
        self.jobs
            .send(Job { piece, nonce })
            .map_err(|_| WorkerError::Lost)?;
        self.in_flight += 1;
        Ok(())
    }

    /// The oldest piece handed over, done, if there is one (waiting for it if `wait`);
    /// give it back with [`ChunkWorker::recycle`] once used.
    pub(crate) fn take_back(&mut self, wait: bool) -> Result<Option<Piece>, WorkerError> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        let done = if wait {
            self.results.recv().map_err(|_| WorkerError::Lost)?
        } else {
            match self.results.try_recv() {
                Ok(done) => done,
                Err(TryRecvError::Empty) => return Ok(None),
                Err(TryRecvError::Disconnected) => return Err(WorkerError::Lost),
            }
        };
        self.in_flight -= 1;
        done.map(Some).ok_or(WorkerError::Refused)
    }

    /// Keeps a piece taken back for the next hand-over.
    pub(crate) fn recycle(&mut self, piece: Piece) {
        self.free.push(piece);
    }
}

/// A stream's worker, started once the stream has handled [`WORKER_AFTER_CHUNKS`] chunks
/// on a machine with a second core; until then, or without a thread, the stream works on
/// the caller's thread.
pub(crate) struct LazyWorker {
    worker: Option<ChunkWorker>,
    may_start: bool,
    direction: Direction,
}

impl LazyWorker {
    pub(crate) fn new(direction: Direction) -> Self {
        Self {
            worker: None,
            may_start: multi_core(),
            direction,
        }
    }

    /// Starts the worker (at most once) if the stream has handled enough chunks.
    pub(crate) fn start_if_due(&mut self, chunks_done: u64, cipher: &ChaCha20Poly1305) {
        if self.may_start && chunks_done >= WORKER_AFTER_CHUNKS {
            self.may_start = false;
            self.worker = ChunkWorker::start(cipher.clone(), self.direction);
        }
    }

    /// The worker, once started.
    pub(crate) fn running(&mut self) -> Option<&mut ChunkWorker> {
        self.worker.as_mut()
    }

    pub(crate) fn is_running(&self) -> bool {
        self.worker.is_some()
    }

    /// Lets (or forbids) the stream to start a worker whatever the machine (tests).
    #[cfg(test)]
    pub(crate) fn allow(&mut self, allowed: bool) {
        self.may_start = allowed;
    }
}

fn seal(cipher: &ChaCha20Poly1305, nonce: [u8; 12], piece: &mut Piece) -> bool {
    match cipher.encrypt_inout_detached(&nonce.into(), &[], piece.as_mut_slice().into()) {
        Ok(tag) => {
            piece.extend_from_slice(&tag);
            true
        }
        Err(_) => false,
    }
}

fn open(cipher: &ChaCha20Poly1305, nonce: [u8; 12], piece: &mut Piece) -> bool {
    let Some(body_length) = piece.len().checked_sub(TAG_LENGTH) else {
        return false;
    };
    let Some(tag) = piece.get(body_length..).and_then(|t| Tag::try_from(t).ok()) else {
        return false;
    };
    let body = piece.get_mut(..body_length).unwrap_or_default();
    let opened = cipher
        .decrypt_inout_detached(&nonce.into(), &[], body.into(), &tag)
        .is_ok();
    piece.truncate(body_length);
    opened
}
