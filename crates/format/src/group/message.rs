//! Group messages: a clear header naming the group and epoch, then the envelope payload
//! keyed by the epoch secret and signed by the sender (docs/FORMAT.md §8.3).

use std::{fmt, sync::Arc};

use super::{EpochKey, GroupError, GroupId, GroupKeys};
use crate::{
    card::Card,
    encoding::Reader,
    envelope::{DecryptError, Decryptor, Encryptor, Purpose, Verified},
    keys::IdentityKeyPair,
    random::random_array,
    time::Timestamp,
};

const MAGIC: &[u8; 4] = b"TSGM";
const VERSION: u8 = 2;
const NONCE_LENGTH: usize = 16;

/// What a group message says in clear: which group and epoch it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessageHeader {
    /// The group.
    pub group_id: GroupId,
    /// The epoch whose secret encrypts the message.
    pub epoch: u32,
}

/// A parsed header, or how many bytes it needs at least.
enum Parsed {
    Complete {
        header: GroupMessageHeader,
        nonce: [u8; NONCE_LENGTH],
        length: usize,
    },
    Incomplete,
}

fn encode_header(group_id: &GroupId, epoch: u32, nonce: &[u8; NONCE_LENGTH]) -> Vec<u8> {
    let id = group_id.as_str().as_bytes();
    let mut out = Vec::with_capacity(4 + 1 + 1 + id.len() + 4 + NONCE_LENGTH);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    // GroupId::new bounds the length to 128 bytes.
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(nonce);
    out
}

fn parse_header(bytes: &[u8]) -> Result<Parsed, GroupError> {
    let mut r = Reader::new(bytes);
    let Some(magic) = r.take(4) else {
        return Ok(Parsed::Incomplete);
    };
    if magic != MAGIC {
        return Err(GroupError::Malformed("not a group message (bad magic)"));
    }
    let Some(version) = r.u8() else {
        return Ok(Parsed::Incomplete);
    };
    if version != VERSION {
        return Err(GroupError::UnsupportedVersion(version));
    }
    let Some(id_length) = r.u8() else {
        return Ok(Parsed::Incomplete);
    };
    let Some(id) = r.take(usize::from(id_length)) else {
        return Ok(Parsed::Incomplete);
    };
    let id = std::str::from_utf8(id).map_err(|_| GroupError::InvalidGroupId("not UTF-8"))?;
    let group_id = GroupId::new(id)?;
    let Some(epoch) = r.u32() else {
        return Ok(Parsed::Incomplete);
    };
    let Some(nonce) = r.array() else {
        return Ok(Parsed::Incomplete);
    };
    Ok(Parsed::Complete {
        header: GroupMessageHeader { group_id, epoch },
        nonce,
        length: r.position(),
    })
}

impl GroupMessageHeader {
    /// Reads the clear header at the start of a group message (to route it to a group).
    /// A message cut inside its header is [`DecryptError::Truncated`], as decrypting it
    /// reports (docs/FORMAT.md §8).
    pub fn parse(message: &[u8]) -> Result<Self, GroupError> {
        match parse_header(message)? {
            Parsed::Complete { header, .. } => Ok(header),
            Parsed::Incomplete => Err(GroupError::Decrypt(DecryptError::Truncated)),
        }
    }
}

/// Encrypts and signs a group message of any size in constant memory.
pub struct GroupEncryptor {
    inner: Encryptor,
}

impl fmt::Debug for GroupEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupEncryptor").finish_non_exhaustive()
    }
}

impl GroupEncryptor {
    /// Starts a message from `sender` in `group_id` at `epoch`.
    pub fn new(
        sender: &IdentityKeyPair,
        group_id: &GroupId,
        epoch: &EpochKey,
    ) -> Result<Self, GroupError> {
        Ok(Self::with_nonce(sender, group_id, epoch, random_array()?))
    }

    pub(crate) fn with_nonce(
        sender: &IdentityKeyPair,
        group_id: &GroupId,
        epoch: &EpochKey,
        nonce: [u8; NONCE_LENGTH],
    ) -> Self {
        let header = encode_header(group_id, epoch.epoch, &nonce);
        Self {
            inner: Encryptor::from_header(
                Purpose::GroupMessage,
                header,
                &epoch.secret,
                &nonce,
                sender,
            ),
        }
    }

    /// Encrypts the next piece of plaintext into `out`.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), GroupError> {
        Ok(self.inner.update(data, out)?)
    }

    /// Signs and finishes the message.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), GroupError> {
        Ok(self.inner.finish(out)?)
    }
}

/// Encrypts `plaintext` for the participants of `epoch` in one call.
pub fn encrypt_group_message(
    sender: &IdentityKeyPair,
    group_id: &GroupId,
    epoch: &EpochKey,
    plaintext: &[u8],
) -> Result<Vec<u8>, GroupError> {
    let mut encryptor = GroupEncryptor::new(sender, group_id, epoch)?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    encryptor.update(plaintext, &mut out)?;
    encryptor.finish(&mut out)?;
    Ok(out)
}

/// Deterministic [`encrypt_group_message`] for fuzz targets: the payload nonce given
/// explicitly. Compiled only for tests and under `cfg(fuzzing)` (set by cargo-fuzz), never
/// into a release build: reusing a nonce within an epoch breaks the messages.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub fn encrypt_group_message_with(
    sender: &IdentityKeyPair,
    group_id: &GroupId,
    epoch: &EpochKey,
    plaintext: &[u8],
    payload_nonce: [u8; NONCE_LENGTH],
) -> Result<Vec<u8>, GroupError> {
    let mut encryptor = GroupEncryptor::with_nonce(sender, group_id, epoch, payload_nonce);
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    encryptor.update(plaintext, &mut out)?;
    encryptor.finish(&mut out)?;
    Ok(out)
}

/// Decrypts a group message of any size in constant memory, then verifies that a
/// participant of the message's epoch signed it.
pub struct GroupDecryptor {
    group_id: GroupId,
    keys: GroupKeys,
    header: Vec<u8>,
    inner: Option<(Decryptor, Arc<EpochKey>)>,
    /// A previous call failed; every later call fails too.
    failed: bool,
}

impl fmt::Debug for GroupDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupDecryptor")
            .field("group_id", &self.group_id)
            .finish_non_exhaustive()
    }
}

impl GroupDecryptor {
    /// Starts decrypting a message of `group_id` with the epochs this device holds.
    pub fn new(group_id: GroupId, keys: GroupKeys) -> Self {
        Self {
            group_id,
            keys,
            header: Vec::new(),
            inner: None,
            failed: false,
        }
    }

    /// Feeds the next piece of the message, appending released plaintext to `out`
    /// (authenticated as in docs/FORMAT.md §4.6: only `finish` establishes the sender).
    /// After an error every later call fails too.
    pub fn update(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), GroupError> {
        if self.failed {
            return Err(GroupError::Decrypt(DecryptError::DecryptionFailed));
        }
        let result = self.update_inner(data, out);
        self.failed = result.is_err();
        result
    }

    fn update_inner(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), GroupError> {
        if let Some((decryptor, _)) = &mut self.inner {
            return Ok(decryptor.update(data, out)?);
        }
        // Parse straight from the caller's slice when nothing is buffered yet, so a
        // one-shot message is never copied; buffer only an incomplete header.
        let buffered;
        let bytes = if self.header.is_empty() {
            data
        } else {
            self.header.extend_from_slice(data);
            buffered = std::mem::take(&mut self.header);
            buffered.as_slice()
        };
        let Parsed::Complete {
            header,
            nonce,
            length,
        } = parse_header(bytes)?
        else {
            self.header = bytes.to_vec();
            return Ok(());
        };
        if header.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        let epoch = self
            .keys
            .get_shared(header.epoch)
            .ok_or(GroupError::UnknownEpoch(header.epoch))?;
        let (header_bytes, payload) = bytes.split_at(length);
        let mut decryptor =
            Decryptor::for_payload(Purpose::GroupMessage, header_bytes, &epoch.secret, &nonce);
        decryptor.update(payload, out)?;
        self.inner = Some((decryptor, epoch));
        Ok(())
    }

    /// Verifies the sender's signature (see [`Decryptor::finish`] for `sender_chain` and
    /// `made_at`) and that the sender was a participant of the message's epoch.
    pub fn finish(
        self,
        out: &mut Vec<u8>,
        sender_chain: &[Card],
        made_at: Option<Timestamp>,
    ) -> Result<Verified, GroupError> {
        if self.failed {
            return Err(GroupError::Decrypt(DecryptError::DecryptionFailed));
        }
        let Some((decryptor, epoch)) = self.inner else {
            return Err(GroupError::Decrypt(DecryptError::Truncated));
        };
        let mut tail = Vec::new();
        let verified = decryptor.finish(&mut tail, sender_chain, made_at)?;
        if !epoch.participants.contains(&verified.signer) {
            return Err(GroupError::SenderNotParticipant);
        }
        out.extend_from_slice(&tail);
        Ok(verified)
    }
}

/// Decrypts and verifies a group message in one call.
pub fn decrypt_group_message(
    group_id: &GroupId,
    keys: &GroupKeys,
    message: &[u8],
    sender_chain: &[Card],
    made_at: Option<Timestamp>,
) -> Result<(Vec<u8>, Verified), GroupError> {
    let mut decryptor = GroupDecryptor::new(group_id.clone(), keys.clone());
    let mut plaintext = Vec::with_capacity(message.len());
    decryptor.update(message, &mut plaintext)?;
    let verified = decryptor.finish(&mut plaintext, sender_chain, made_at)?;
    Ok((plaintext, verified))
}
