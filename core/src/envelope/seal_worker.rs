//! Sealing a long stream's chunks on a worker thread (native platforms with more than one
//! core; docs/DECISIONS.md "Sealing on a second thread").
//!
//! The caller's thread copies each full chunk into a zeroized piece, hands it over with
//! its nonce, and goes on hashing the plaintext for the signature while the worker
//! encrypts the piece in place; sealed pieces come back in order and are appended to the
//! output. The AEAD, the larger cost, then runs alone on one core, and the copies and the
//! digest fit in the caller's time beside it. At most [`MAX_IN_FLIGHT`] pieces exist, so
//! memory stays constant.

use std::{
    io::{self, Write},
    sync::{
        OnceLock,
        mpsc::{self, Receiver, SyncSender, TryRecvError},
    },
    thread::JoinHandle,
};

use chacha20poly1305::{ChaCha20Poly1305, Tag, aead::AeadInOut};
use zeroize::Zeroizing;

use super::stream::CHUNK_LENGTH;

/// Whether this machine has a second core for a worker (asked once).
pub(crate) fn multi_core() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) > 1
}

/// Pieces being sealed or waiting to be appended, at most.
const MAX_IN_FLIGHT: usize = 4;

/// A chunk on its way to the worker (plaintext) or back (ciphertext).
type Piece = Zeroizing<Vec<u8>>;

struct Job {
    piece: Piece,
    nonce: [u8; 12],
}

struct Sealed {
    piece: Piece,
    /// `None` if the AEAD refused (it cannot for a chunk this size).
    tag: Option<Tag>,
}

/// The worker died or refused a chunk: the stream cannot be completed.
#[derive(Debug)]
pub(crate) struct SealFailed;

/// See the module documentation.
pub(crate) struct SealWorker {
    jobs: SyncSender<Job>,
    results: Receiver<Sealed>,
    free: Vec<Piece>,
    /// Pieces allocated so far.
    allocated: usize,
    /// Pieces handed over and not yet appended.
    in_flight: usize,
    /// Joined by nobody: when the stream is dropped, `jobs` closes and the thread ends.
    _thread: JoinHandle<()>,
}

impl SealWorker {
    /// A worker sealing with its own copy of `cipher`; `None` when no thread can start.
    pub(crate) fn start(cipher: ChaCha20Poly1305) -> Option<Self> {
        let (jobs, to_seal) = mpsc::sync_channel::<Job>(MAX_IN_FLIGHT);
        let (give_back, results) = mpsc::channel::<Sealed>();
        let thread = std::thread::Builder::new()
            .name("tessera-seal".into())
            .spawn(move || {
                for Job { mut piece, nonce } in to_seal {
                    let tag = cipher
                        .encrypt_inout_detached(&nonce.into(), &[], piece.as_mut_slice().into())
                        .ok();
                    if give_back.send(Sealed { piece, tag }).is_err() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Self {
            jobs,
            results,
            free: Vec::new(),
            allocated: 0,
            in_flight: 0,
            _thread: thread,
        })
    }

    /// Hands over a copy of `chunk` to be sealed under `nonce`, then appends to `out`
    /// every piece sealed by now (waiting for one when all pieces are out).
    pub(crate) fn submit<W: Write + ?Sized>(
        &mut self,
        chunk: &[u8],
        nonce: [u8; 12],
        out: &mut W,
    ) -> Result<(), SealError> {
        let mut piece = match self.free.pop() {
            Some(piece) => piece,
            None if self.allocated < MAX_IN_FLIGHT => {
                self.allocated += 1;
                Zeroizing::new(Vec::with_capacity(CHUNK_LENGTH))
            }
            None => {
                self.append_next(out, true)?;
                self.free.pop().ok_or(SealError::Failed(SealFailed))?
            }
        };
        piece.clear();
        piece.extend_from_slice(chunk);
        self.jobs
            .send(Job { piece, nonce })
            .map_err(|_| SealError::Failed(SealFailed))?;
        self.in_flight += 1;
        while self.append_next(out, false)? {}
        Ok(())
    }

    /// Appends every piece still out to `out`, in order, waiting for each.
    pub(crate) fn flush<W: Write + ?Sized>(&mut self, out: &mut W) -> Result<(), SealError> {
        while self.in_flight > 0 {
            self.append_next(out, true)?;
        }
        Ok(())
    }

    /// Appends the next sealed piece to `out` if there is one (waiting for it if `wait`);
    /// `Ok(false)` when none was ready.
    fn append_next<W: Write + ?Sized>(
        &mut self,
        out: &mut W,
        wait: bool,
    ) -> Result<bool, SealError> {
        if self.in_flight == 0 {
            return Ok(false);
        }
        let sealed = if wait {
            self.results
                .recv()
                .map_err(|_| SealError::Failed(SealFailed))?
        } else {
            match self.results.try_recv() {
                Ok(sealed) => sealed,
                Err(TryRecvError::Empty) => return Ok(false),
                Err(TryRecvError::Disconnected) => return Err(SealError::Failed(SealFailed)),
            }
        };
        self.in_flight -= 1;
        let tag = sealed.tag.ok_or(SealError::Failed(SealFailed))?;
        out.write_all(&sealed.piece).map_err(SealError::Io)?;
        out.write_all(&tag).map_err(SealError::Io)?;
        self.free.push(sealed.piece);
        Ok(true)
    }
}

/// Why handing over or appending failed.
#[derive(Debug)]
pub(crate) enum SealError {
    Failed(SealFailed),
    /// Writing the sealed chunk failed (never for a `Vec`).
    Io(io::Error),
}
