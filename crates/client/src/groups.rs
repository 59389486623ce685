//! Group conversations on the client (docs/CLIENT.md "Groups"): create, load, update,
//! add, remove, re-add, delete, and group messages, over the formats of
//! [`tessera_format::group`] and the server's group tickets (docs/API.md).
//!
//! Local state of each group (the initiator's card, and every epoch this device can read:
//! secret and participants) lives in the key store entry `tessera/<me>/groups/<group id>`,
//! so groups work offline and survive restarts; `cleanup` removes it with the rest.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    sync::{Arc, RwLock},
};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Error, FoundUsers, Tessera, entries};
use tessera_format::{
    card::{Card, Identity},
    encoding::{b64url_decode, b64url_encode},
    envelope::Recipient,
    group::{
        EpochKey, GroupDecryptor, GroupEncryptor, GroupError, GroupId, GroupKeys,
        GroupMessageHeader, open_ticket_blob, seal_ticket_blob,
    },
    time::Timestamp,
};

/// Most participants of a group epoch (the server stores up to 10 000 per ticket).
pub const MAX_GROUP_PARTICIPANTS: usize = 10_000;

/// What a device remembers about a group.
#[derive(Clone)]
struct GroupState {
    id: GroupId,
    initiator: Card,
    keys: GroupKeys,
    /// When each epoch started (the server's ticket time): a message in an old epoch from
    /// someone no longer a participant is only accepted if made before the next epoch.
    started: BTreeMap<u32, u64>,
}

impl GroupState {
    fn latest(&self) -> Result<&EpochKey, Error> {
        self.keys.latest().ok_or_else(|| Error::GroupNotFound {
            group_id: self.id.to_string(),
        })
    }

    /// Accepts a verified message of `epoch` by `signer`, unless the signer has since been
    /// removed and the message is not shown (by `made_at`) to predate the removal.
    fn check_sender_still_allowed(
        &self,
        epoch: u32,
        signer: &Identity,
        made_at: Option<Timestamp>,
    ) -> Result<(), Error> {
        let latest = self.latest()?;
        if epoch >= latest.epoch || latest.participants.contains(signer) {
            return Ok(());
        }
        // The first later epoch without the signer is when they were removed.
        let removed_at = self
            .keys
            .iter()
            .filter(|e| e.epoch > epoch && !e.participants.contains(signer))
            .find_map(|e| self.started.get(&e.epoch));
        match (removed_at, made_at) {
            (Some(removed), Some(made)) if made.0 < *removed => Ok(()),
            _ => Err(Error::SenderNotParticipant),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredEpoch {
    epoch: u32,
    secret: String,
    participants: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct StoredGroup {
    version: u8,
    group_id: String,
    initiator_card: String,
    epochs: Vec<StoredEpoch>,
}

fn encode_state(state: &GroupState) -> Zeroizing<Vec<u8>> {
    let stored = StoredGroup {
        version: 1,
        group_id: state.id.to_string(),
        initiator_card: state.initiator.to_text(),
        epochs: state
            .keys
            .iter()
            .map(|epoch| StoredEpoch {
                epoch: epoch.epoch,
                secret: b64url_encode(epoch.secret.as_ref()),
                participants: epoch.participants.iter().map(|p| p.to_string()).collect(),
                started_at: state.started.get(&epoch.epoch).copied(),
            })
            .collect(),
    };
    // Serializing plain strings and numbers cannot fail.
    Zeroizing::new(serde_json::to_vec(&stored).unwrap_or_default())
}

fn decode_state(bytes: &[u8]) -> Result<GroupState, Error> {
    let corrupt = || Error::KeyStore {
        message: "a stored group is unreadable; it was modified outside Tessera".into(),
    };
    let stored: StoredGroup = serde_json::from_slice(bytes).map_err(|_| corrupt())?;
    if stored.version != 1 {
        return Err(corrupt());
    }
    let id = GroupId::new(stored.group_id).map_err(|_| corrupt())?;
    let initiator = Card::from_text(&stored.initiator_card).map_err(|_| corrupt())?;
    let mut keys = GroupKeys::default();
    let mut started = BTreeMap::new();
    for epoch in stored.epochs {
        if let Some(at) = epoch.started_at {
            started.insert(epoch.epoch, at);
        }
        let secret = Zeroizing::new(b64url_decode(&epoch.secret).ok_or_else(corrupt)?);
        let secret: [u8; 32] = secret.as_slice().try_into().map_err(|_| corrupt())?;
        let participants = epoch
            .participants
            .into_iter()
            .map(|p| Identity::new(p).map_err(|_| corrupt()))
            .collect::<Result<_, _>>()?;
        keys.insert(EpochKey {
            epoch: epoch.epoch,
            secret: Zeroizing::new(secret),
            participants,
        });
    }
    Ok(GroupState {
        id,
        initiator,
        keys,
        started,
    })
}

/// An end-to-end encrypted group conversation. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Group {
    tessera: Tessera,
    state: Arc<RwLock<GroupState>>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.snapshot();
        f.debug_struct("Group")
            .field("id", &state.as_ref().map(|s| s.id.to_string()))
            .field(
                "epoch",
                &state
                    .as_ref()
                    .and_then(|s| s.keys.latest().map(|e| e.epoch)),
            )
            .finish_non_exhaustive()
    }
}

fn parse_group_id(group_id: &str) -> Result<GroupId, Error> {
    GroupId::new(group_id).map_err(|error| Error::invalid_input(error.to_string()))
}

impl Tessera {
    /// Creates a group with the user as initiator and participant, and `participants`
    /// (cards from `find_users`). Epoch 0 is shared with everyone listed.
    pub async fn create_group(
        &self,
        group_id: &str,
        participants: &FoundUsers,
    ) -> Result<Group, Error> {
        let id = parse_group_id(group_id)?;
        let (local, own) = self.local_with_card().await?;
        let mut members: Vec<Card> = vec![own.clone()];
        members.extend(
            participants
                .cards()
                .filter(|card| card.identity() != own.identity())
                .cloned(),
        );
        if members.len() > MAX_GROUP_PARTICIPANTS {
            return Err(Error::invalid_input(format!(
                "a group has at most {MAX_GROUP_PARTICIPANTS} participants"
            )));
        }
        let epoch = EpochKey::generate(0, members.iter().map(|c| c.identity().clone()).collect())?;
        let recipients: Vec<Recipient> = members.iter().map(Recipient::from).collect();
        let blob = seal_ticket_blob(&local.keys, &id, &epoch, &recipients, None)?;
        let names: Vec<&str> = epoch.participants.iter().map(Identity::as_str).collect();
        match self.api().put_ticket(id.as_str(), 0, &names, &blob).await {
            Err(error) if error.is_server(409, "already_exists") => {
                return Err(Error::GroupAlreadyExists {
                    group_id: id.to_string(),
                });
            }
            other => other?,
        }
        let mut keys = GroupKeys::default();
        keys.insert(epoch);
        let started = BTreeMap::from([(0, Timestamp::now().0)]);
        let state = GroupState {
            id,
            initiator: own,
            keys,
            started,
        };
        self.save_group(&state).await?;
        Ok(self.group_handle(state))
    }

    /// Loads a group another user created, given the initiator's card: fetches and
    /// verifies every ticket this user can read.
    pub async fn load_group(&self, group_id: &str, initiator: &Card) -> Result<Group, Error> {
        let id = parse_group_id(group_id)?;
        let mut state = GroupState {
            id,
            initiator: initiator.clone(),
            keys: GroupKeys::default(),
            started: BTreeMap::new(),
        };
        self.fetch_epochs(&mut state, None).await?;
        if state.keys.latest().is_none() {
            return Err(Error::NotARecipient);
        }
        self.save_group(&state).await?;
        Ok(self.group_handle(state))
    }

    /// The group as this device last saw it, without any network access; `None` when
    /// this device does not know the group.
    pub async fn get_group(&self, group_id: &str) -> Result<Option<Group>, Error> {
        let id = parse_group_id(group_id)?;
        let Some(bytes) = self
            .store()
            .get(&entries::group(self.identity(), &id))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(self.group_handle(decode_state(&bytes)?)))
    }

    /// Deletes a group on the server (initiator only) and forgets it on this device.
    pub async fn delete_group(&self, group_id: &str) -> Result<(), Error> {
        let id = parse_group_id(group_id)?;
        match self.api().delete_group(id.as_str()).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::GroupNotFound {
                    group_id: id.to_string(),
                });
            }
            Err(error) if error.is_server(403, "forbidden") => {
                let initiator = match self.get_group(id.as_str()).await? {
                    Some(group) => group.initiator()?.to_string(),
                    None => "another user".into(),
                };
                return Err(Error::NotGroupInitiator { initiator });
            }
            Err(error) => return Err(error),
        }
        self.store()
            .delete_all(&[entries::group(self.identity(), &id)])
            .await
    }

    fn group_handle(&self, state: GroupState) -> Group {
        Group {
            tessera: self.clone(),
            state: Arc::new(RwLock::new(state)),
        }
    }

    async fn save_group(&self, state: &GroupState) -> Result<(), Error> {
        self.store()
            .put(
                &entries::group(self.identity(), &state.id),
                &encode_state(state),
            )
            .await
    }

    /// Fetches the tickets after `after` and opens those addressed to this user's key.
    async fn fetch_epochs(&self, state: &mut GroupState, after: Option<u32>) -> Result<(), Error> {
        let local = self.require_local()?;
        let group_id = state.id.to_string();
        let listed = self
            .api()
            .group_tickets(&group_id, after)
            .await?
            .ok_or_else(|| Error::GroupNotFound {
                group_id: group_id.clone(),
            })?;
        if listed.initiator != state.initiator.identity().as_str() {
            return Err(Error::card_verification(
                &listed.initiator,
                format!(
                    "the group's initiator is not {}",
                    state.initiator.identity()
                ),
            ));
        }
        if listed.tickets.is_empty() {
            return Ok(());
        }
        // Tickets signed before the initiator rotated keys verify with the older card.
        let chain = match self.known_chain(&state.initiator).await {
            Ok(chain)
                if chain.len() > 1 || state.initiator.content().previous_card_id.is_none() =>
            {
                chain
            }
            _ => self.fetch_chain(&state.initiator).await?,
        };
        for ticket in listed.tickets {
            state.started.insert(ticket.epoch, ticket.created_at);
            let made_at = Some(Timestamp(ticket.created_at));
            match open_ticket_blob(
                &ticket.ticket,
                &local.keys,
                &state.id,
                ticket.epoch,
                &chain,
                made_at,
            ) {
                Ok(epochs) => epochs
                    .into_iter()
                    .for_each(|epoch| state.keys.insert(epoch)),
                // Listed as a participant but addressed to an older key of this user: wait
                // for the initiator to re-add this user.
                Err(GroupError::NotInTicket) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

impl Group {
    fn snapshot(&self) -> Option<GroupState> {
        self.state.read().ok().map(|state| state.clone())
    }

    fn state(&self) -> Result<GroupState, Error> {
        self.snapshot().ok_or_else(|| Error::Internal {
            message: "group state lock poisoned".into(),
        })
    }

    fn replace(&self, state: GroupState) {
        if let Ok(mut slot) = self.state.write() {
            *slot = state;
        }
    }

    /// The group id.
    pub fn id(&self) -> Result<String, Error> {
        Ok(self.state()?.id.to_string())
    }

    /// The initiator's identity.
    pub fn initiator(&self) -> Result<Identity, Error> {
        Ok(self.state()?.initiator.identity().clone())
    }

    /// The participants of the current epoch.
    pub fn participants(&self) -> Result<Vec<Identity>, Error> {
        Ok(self.state()?.latest()?.participants.clone())
    }

    /// The current epoch number.
    pub fn epoch(&self) -> Result<u32, Error> {
        Ok(self.state()?.latest()?.epoch)
    }

    /// Encrypts `data` (any size) for the current participants, signed by the user.
    pub async fn encrypt(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let mut encryptor = self.encryptor()?;
        let mut out = Vec::with_capacity(data.len() + 256);
        encryptor.update(data, &mut out)?;
        encryptor.finish(&mut out)?;
        Ok(out)
    }

    /// A streaming encryptor for large data (constant memory).
    pub fn encryptor(&self) -> Result<GroupEncryptor, Error> {
        let state = self.state()?;
        let local = self.tessera.require_local()?;
        let latest = state.latest()?;
        if !latest.participants.contains(self.tessera.identity()) {
            return Err(Error::NotGroupParticipant);
        }
        Ok(GroupEncryptor::new(&local.keys, &state.id, latest)?)
    }

    /// Decrypts a group message and verifies that `sender` signed it and was a
    /// participant of its epoch. A message from an epoch this device does not know yet
    /// triggers one [`Group::update`]. `made_at` is as for `auth_decrypt`.
    pub async fn decrypt(
        &self,
        data: &[u8],
        sender: &Card,
        made_at: Option<Timestamp>,
    ) -> Result<Vec<u8>, Error> {
        let header = GroupMessageHeader::parse(data)?;
        if self.state()?.keys.get(header.epoch).is_none() {
            self.update().await?;
        }
        let state = self.state()?;
        let chain = self.tessera.known_chain(sender).await?;
        let mut decryptor = GroupDecryptor::new(state.id.clone(), state.keys.clone());
        let mut plaintext = Vec::with_capacity(data.len());
        decryptor.update(data, &mut plaintext)?;
        let verified = match decryptor.finish(&mut plaintext, &chain, made_at) {
            Ok(verified) => verified,
            Err(GroupError::Decrypt(tessera_format::envelope::DecryptError::WrongSender))
                if chain.len() == 1 && sender.content().previous_card_id.is_some() =>
            {
                // Signed with an older key of the sender: retry with the full history.
                let full = self.tessera.fetch_and_cache_chain(sender).await?;
                let mut decryptor = GroupDecryptor::new(state.id.clone(), state.keys.clone());
                plaintext.clear();
                decryptor.update(data, &mut plaintext)?;
                decryptor.finish(&mut plaintext, &full, made_at)?
            }
            Err(error) => return Err(error.into()),
        };
        state.check_sender_still_allowed(header.epoch, &verified.signer, made_at)?;
        Ok(plaintext)
    }

    /// Fetches epochs added since this device last looked (new members, removals).
    pub async fn update(&self) -> Result<(), Error> {
        let mut state = self.state()?;
        let after = state.keys.latest().map(|e| e.epoch);
        self.tessera.fetch_epochs(&mut state, after).await?;
        self.tessera.save_group(&state).await?;
        self.replace(state);
        Ok(())
    }

    /// Adds participants (initiator only). A new epoch starts with everyone; with
    /// `share_history` the newcomers also receive every earlier epoch, so they can read
    /// what was sent before they joined (E3Kit's behaviour); without it they cannot.
    pub async fn add(&self, participants: &FoundUsers, share_history: bool) -> Result<(), Error> {
        let state = self.state()?;
        let current: BTreeSet<Identity> = state.latest()?.participants.iter().cloned().collect();
        let newcomers: Vec<Card> = participants
            .cards()
            .filter(|card| !current.contains(card.identity()))
            .cloned()
            .collect();
        if newcomers.is_empty() {
            return Ok(());
        }
        let mut members: Vec<Identity> = state.latest()?.participants.clone();
        members.extend(newcomers.iter().map(|c| c.identity().clone()));
        let history: Vec<EpochKey> = if share_history {
            state.keys.iter().cloned().collect()
        } else {
            Vec::new()
        };
        self.start_epoch(state, members, &newcomers, &history, participants)
            .await
    }

    /// Removes participants (initiator only). A new epoch starts without them: they keep
    /// what they could read, and cannot read anything sent afterwards.
    pub async fn remove(&self, identities: &[impl AsRef<str>]) -> Result<(), Error> {
        let state = self.state()?;
        let removed: BTreeSet<&str> = identities.iter().map(AsRef::as_ref).collect();
        if removed.contains(state.initiator.identity().as_str()) {
            return Err(Error::invalid_input(
                "the initiator cannot be removed; delete the group instead",
            ));
        }
        let members: Vec<Identity> = state
            .latest()?
            .participants
            .iter()
            .filter(|p| !removed.contains(p.as_str()))
            .cloned()
            .collect();
        if members.len() == state.latest()?.participants.len() {
            return Ok(());
        }
        self.start_epoch(state, members, &[], &[], &FoundUsers::default())
            .await
    }

    /// Gives a participant who rotated their key (after losing it) access again
    /// (initiator only): a new epoch for everyone, and every earlier epoch they belonged
    /// to, encrypted to their new card.
    pub async fn re_add(&self, participant: &Card) -> Result<(), Error> {
        let state = self.state()?;
        let identity = participant.identity();
        if !state.latest()?.participants.contains(identity) {
            return Err(Error::invalid_input(format!(
                "{identity} is not a participant; use add instead"
            )));
        }
        let history: Vec<EpochKey> = state
            .keys
            .iter()
            .filter(|e| e.participants.contains(identity))
            .cloned()
            .collect();
        let members = state.latest()?.participants.clone();
        let known = FoundUsers::from_cards([participant.clone()]);
        self.start_epoch(
            state,
            members,
            std::slice::from_ref(participant),
            &history,
            &known,
        )
        .await
    }

    /// Publishes a new epoch for `members`, with `history` for `newcomers`.
    async fn start_epoch(
        &self,
        mut state: GroupState,
        members: Vec<Identity>,
        newcomers: &[Card],
        history: &[EpochKey],
        known: &FoundUsers,
    ) -> Result<(), Error> {
        let (local, own) = self.tessera.local_with_card().await?;
        if own.identity() != state.initiator.identity() {
            return Err(Error::NotGroupInitiator {
                initiator: state.initiator.identity().to_string(),
            });
        }
        if members.len() > MAX_GROUP_PARTICIPANTS {
            return Err(Error::invalid_input(format!(
                "a group has at most {MAX_GROUP_PARTICIPANTS} participants"
            )));
        }
        // Everyone's current card: the ones given, then cached or looked up for the rest.
        let missing: Vec<&str> = members
            .iter()
            .filter(|m| *m != own.identity() && known.get(m.as_str()).is_none())
            .map(Identity::as_str)
            .collect();
        let looked_up = if missing.is_empty() {
            FoundUsers::default()
        } else {
            self.tessera.find_users(&missing).await?
        };
        let recipients: Vec<Recipient> = members
            .iter()
            .filter_map(|m| {
                if m == own.identity() {
                    Some(&own)
                } else {
                    known.get(m.as_str()).or_else(|| looked_up.get(m.as_str()))
                }
            })
            .map(Recipient::from)
            .collect();
        let next = state.latest()?.epoch.checked_add(1).ok_or_else(|| {
            Error::invalid_input("the group has used every epoch number; create a new group")
        })?;
        let epoch = EpochKey::generate(next, members)?;
        let newcomer_keys: Vec<Recipient> = newcomers.iter().map(Recipient::from).collect();
        let shared = (!history.is_empty() && !newcomers.is_empty())
            .then_some((history, newcomer_keys.as_slice()));
        let blob = seal_ticket_blob(&local.keys, &state.id, &epoch, &recipients, shared)?;
        let names: Vec<&str> = epoch.participants.iter().map(Identity::as_str).collect();
        match self
            .tessera
            .api()
            .put_ticket(state.id.as_str(), next, &names, &blob)
            .await
        {
            Err(error) if error.is_server(409, "already_exists") => {
                return Err(Error::Conflict {
                    message: "another device of the initiator changed the group at the same \
                              time; call update() and try again"
                        .into(),
                });
            }
            other => other?,
        }
        state.keys.insert(epoch);
        state.started.insert(next, Timestamp::now().0);
        self.tessera.save_group(&state).await?;
        self.replace(state);
        Ok(())
    }
}
