// One signed-in user's chat: tessera-e2ee does every cryptographic step (keys, cards,
// sign-then-encrypt, groups, backup); the demo server's relay carries the ciphertext.
//
// Conversations are named by what the relay needs to route them:
//   dm:<a>:<b>                 two users, names sorted
//   group:<initiator>:<id>     a Tessera group (its display name travels encrypted)
// Group membership changes are announced with `system` messages, encrypted with
// authEncrypt for everyone concerned, so members know to load or update the group.

import { Tessera } from 'tessera-e2ee';

import { packFile, unpackFile } from './files.js';

/** Salts derivePasswords: one stable name for this app, the same on every device. */
const APP_ID = 'tessera-web-chat';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Names the chat accepts (a subset of Tessera identities: printable ASCII, no spaces). */
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/** A problem the user can act on; `main.js` shows `message` as it is. */
export class ChatError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ChatError';
    this.code = code;
  }
}

function dmConversation(a, b) {
  return `dm:${[a, b].sort().join(':')}`;
}

function groupConversation(initiator, groupId) {
  return `group:${initiator}:${groupId}`;
}

function randomGroupId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// Group errors after which fetching the membership changes may help.
const STALE_GROUP_CODES = new Set(['group_epoch_unknown', 'not_in_ticket']);

export class ChatSession extends EventTarget {
  #server;
  #tessera;
  #token = null;
  #tokenExpiresAt = 0;
  #cards = new Map();
  #after = 0;
  #pollTimer = null;
  #polling = null;
  #pollAgain = false;

  /** Conversation id → `{ id, kind, title, peer?, groupId?, initiator?, removed, youWereRemoved, messages }`. */
  conversations = new Map();
  /** `null` while the server answers; otherwise why it does not. */
  connectionProblem = null;

  /**
   * Signs `name` in on this browser: reuses the key kept in IndexedDB, or restores it from
   * the password backup, or registers `name` and backs the new key up under `password`.
   * `how` on the result says which.
   */
  static async signIn(server, name, password, { onStatus = () => {} } = {}) {
    if (!NAME_PATTERN.test(name)) {
      throw new ChatError(
        'invalid_name',
        'Names are 1 to 32 characters: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit.',
      );
    }
    if (password.length < 8) {
      throw new ChatError('weak_password', 'Choose a password of at least 8 characters: it protects your key backup.');
    }
    const session = new ChatSession(server, name);
    onStatus('Signing in…');
    await session.token();
    // The SDK keeps its token until shortly before it expires and asks again only then or
    // after the server refused it, so it gets a fresh one each time it asks.
    session.#tessera = await Tessera.initialize(() => session.token({ fresh: true }), { serverUrl: server.baseUrl });
    const tessera = session.#tessera;
    // The backup password is derived from the typed one, as an app whose backend also
    // checks a login password would do (E3Kit's derivePasswords), salted with the app's
    // name and the user's so that equal passwords of two users give unrelated keys.
    const { backupPassword } = await Tessera.derivePasswords(password, { appId: APP_ID, identity: name });
    if (await tessera.hasLocalPrivateKey()) {
      session.how = 'device';
    } else {
      try {
        onStatus('Looking for your key backup…');
        await tessera.restorePrivateKey(backupPassword);
        session.how = 'restored';
      } catch (error) {
        if (error.code === 'wrong_password') {
          throw new ChatError(
            'wrong_password',
            `Wrong password for ${name}'s key backup. Use the password chosen when ${name} first signed in.`,
          );
        }
        if (error.code !== 'no_backup') throw error;
        onStatus('Creating your keys…');
        try {
          await tessera.register();
        } catch (registerError) {
          if (registerError.code === 'already_registered') {
            throw new ChatError(
              'no_backup',
              `${name} is registered from another device without a key backup, so this browser cannot get the key. Choose another name.`,
            );
          }
          throw registerError;
        }
        onStatus('Backing your key up under your password…');
        await tessera.backupPrivateKey(backupPassword);
        session.how = 'registered';
      }
    }
    session.#cards.set(name, tessera.ownCard);
    return session;
  }

  constructor(server, identity) {
    super();
    this.#server = server;
    this.identity = identity;
  }

  /** A token for the server, fetched again a minute before it expires (or now: `fresh`). */
  async token({ fresh = false } = {}) {
    if (fresh || !this.#token || this.#tokenExpiresAt - Date.now() / 1000 < 60) {
      const login = await this.#server.login(this.identity);
      this.#token = login.token;
      this.#tokenExpiresAt = login.expires_at;
    }
    return this.#token;
  }

  /**
   * `call(token)` for a relay request. A demo server signs its tokens with a key that lives
   * only as long as its process, so after a restart it refuses the token held here: sign
   * in again then, and retry once.
   */
  async #withToken(call) {
    try {
      return await call(await this.token());
    } catch (error) {
      if (error?.code !== 'unauthorized') throw error;
      return call(await this.token({ fresh: true }));
    }
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }

  /** Someone's verified card (cached for the session). */
  async card(identity) {
    let card = this.#cards.get(identity);
    if (!card) {
      try {
        card = await this.#tessera.findUsers(identity);
      } catch (error) {
        if (error.code === 'users_not_found') {
          throw new ChatError('unknown_user', `Nobody called "${identity}" has signed in yet.`);
        }
        throw error;
      }
      this.#cards.set(identity, card);
    }
    return card;
  }

  /** Other users who have signed in at least once. */
  async contacts() {
    return (await this.#withToken((token) => this.#server.users(token))).filter((name) => name !== this.identity);
  }

  /** The 60-digit safety number of this user and `identity` (12 groups of 5 digits). */
  async safetyNumber(identity) {
    return this.#tessera.safetyNumber(await this.card(identity));
  }

  #conversation(id, init) {
    let conversation = this.conversations.get(id);
    if (!conversation) {
      conversation = { id, removed: new Set(), youWereRemoved: false, messages: [], ...init };
      this.conversations.set(id, conversation);
      this.#changed();
    }
    return conversation;
  }

  /** Opens (or creates) the conversation with `identity`; checks that they exist. */
  async openDirect(identity) {
    if (identity === this.identity) throw new ChatError('self', 'Pick someone else to talk to.');
    await this.card(identity);
    return this.#conversation(dmConversation(this.identity, identity), { kind: 'dm', title: identity, peer: identity });
  }

  // ---- sending -------------------------------------------------------------------------

  async #relay(conversation, kind, ciphertext, onUploadProgress) {
    let to;
    if (conversation.kind === 'dm') {
      to = [conversation.peer];
    } else {
      // Former members get later messages too, so the demo shows that they cannot read them.
      const group = await this.#group(conversation);
      to = [...new Set([...group.participants, ...conversation.removed])];
    }
    await this.#withToken((token) => this.#server.send(token, { to, conversation: conversation.id, kind, ciphertext }, onUploadProgress));
    this.pollNow();
  }

  /** Encrypts and sends a text message. */
  async sendText(conversationId, text) {
    const conversation = this.conversations.get(conversationId);
    const bytes = utf8.encode(text);
    const ciphertext =
      conversation.kind === 'dm'
        ? await this.#tessera.authEncrypt(bytes, await this.card(conversation.peer))
        : await (await this.#group(conversation)).encrypt(bytes);
    await this.#relay(conversation, 'text', ciphertext);
  }

  /**
   * Encrypts and sends a file; `onProgress(phase, done, total)` with phase "encrypting"
   * or "uploading".
   */
  async sendFile(conversationId, file, onProgress = () => {}) {
    const conversation = this.conversations.get(conversationId);
    const packed = packFile(file);
    let ciphertext;
    if (conversation.kind === 'dm') {
      const sealed = await this.#tessera.encryptFile(packed, await this.card(conversation.peer), {
        onProgress: ({ bytesProcessed }) => onProgress('encrypting', bytesProcessed, packed.size),
      });
      ciphertext = new Uint8Array(await sealed.arrayBuffer());
    } else {
      onProgress('encrypting', 0, packed.size);
      const group = await this.#group(conversation);
      ciphertext = await group.encrypt(new Uint8Array(await packed.arrayBuffer()));
    }
    onProgress('encrypting', packed.size, packed.size);
    await this.#relay(conversation, 'file', ciphertext, (sent, total) => onProgress('uploading', sent, total));
  }

  // ---- groups --------------------------------------------------------------------------

  async #announce(conversation, to, event) {
    const cards = await Promise.all(to.filter((name) => name !== this.identity).map((name) => this.card(name)));
    const ciphertext = await this.#tessera.authEncrypt(utf8.encode(JSON.stringify(event)), cards);
    await this.#withToken((token) => this.#server.send(token, { to, conversation: conversation.id, kind: 'system', ciphertext }));
    this.pollNow();
  }

  /** Creates a group of this user and `members`; tells them with an encrypted notice. */
  async createGroup(name, members) {
    const unique = [...new Set(members.filter((member) => member !== this.identity))];
    if (unique.length === 0) throw new ChatError('empty_group', 'Add at least one other member.');
    const cards = await Promise.all(unique.map((member) => this.card(member)));
    const groupId = randomGroupId();
    await this.#tessera.createGroup(groupId, cards);
    const conversation = this.#conversation(groupConversation(this.identity, groupId), {
      kind: 'group',
      title: name,
      groupId,
      initiator: this.identity,
    });
    const everyone = [this.identity, ...unique];
    await this.#announce(conversation, everyone, { type: 'group-created', groupId, name, members: everyone });
    return conversation;
  }

  /**
   * Adds `member` (initiator only). They read what is sent from now on: the relay never
   * delivered them the earlier messages, so the group's earlier keys are not shared.
   */
  async addMember(conversationId, member) {
    const conversation = this.conversations.get(conversationId);
    const group = await this.#group(conversation);
    await group.add(await this.card(member), { shareHistory: false });
    conversation.removed.delete(member);
    await this.#announce(conversation, group.participants, {
      type: 'group-added',
      groupId: conversation.groupId,
      name: conversation.title,
      member,
      members: group.participants,
    });
  }

  /** Removes `member` (initiator only): a new epoch, which they cannot read. */
  async removeMember(conversationId, member) {
    const conversation = this.conversations.get(conversationId);
    const group = await this.#group(conversation);
    await group.remove(member);
    conversation.removed.add(member);
    await this.#announce(conversation, [...group.participants, member], {
      type: 'group-removed',
      groupId: conversation.groupId,
      member,
    });
  }

  /** The group's current participants. */
  async participants(conversationId) {
    return (await this.#group(this.conversations.get(conversationId))).participants;
  }

  /** The conversation's Tessera group, loaded from this device or from the server. */
  async #group(conversation) {
    const existing = await this.#tessera.getGroup(conversation.groupId);
    if (existing) return existing;
    return this.#tessera.loadGroup(conversation.groupId, await this.card(conversation.initiator));
  }

  // ---- receiving -----------------------------------------------------------------------

  /** Polls the relay every `intervalMs` until `stop()`. */
  start(intervalMs = 1000) {
    const tick = async () => {
      await this.pollNow();
      this.#pollTimer = setTimeout(tick, intervalMs);
    };
    tick();
  }

  stop() {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
  }

  /** Fetches and decrypts new messages now (one fetch at a time, again if asked meanwhile). */
  pollNow() {
    if (this.#polling) {
      this.#pollAgain = true;
      return this.#polling;
    }
    this.#polling = (async () => {
      do {
        this.#pollAgain = false;
        await this.#pollOnce();
      } while (this.#pollAgain);
    })().finally(() => {
      this.#polling = null;
    });
    return this.#polling;
  }

  async #pollOnce() {
    let messages;
    try {
      messages = await this.#withToken((token) => this.#server.messages(token, this.#after));
      if (this.connectionProblem) {
        this.connectionProblem = null;
        this.#changed();
      }
    } catch (error) {
      this.connectionProblem = error;
      this.#changed();
      return;
    }
    for (const message of messages) {
      await this.#receive(message);
      this.#after = message.id;
    }
    // A page may stop short of `limit` (the server caps its bytes): read until one is empty.
    if (messages.length > 0) this.#pollAgain = true;
    if (messages.length > 0) this.#changed();
  }

  async #receive(stored) {
    const record = {
      id: stored.id,
      from: stored.from,
      kind: stored.kind,
      at: new Date(stored.created_at * 1000),
      stored: {
        to: stored.to,
        size: stored.ciphertext.length,
        head: stored.ciphertext.subarray(0, 48),
      },
    };
    const [scheme, first, second] = stored.conversation.split(':');
    let conversation;
    if (scheme === 'dm') {
      const peer = first === this.identity ? second : first;
      conversation = this.#conversation(stored.conversation, { kind: 'dm', title: peer, peer });
    } else if (scheme === 'group') {
      conversation = this.#conversation(stored.conversation, {
        kind: 'group',
        title: `group ${second}`,
        groupId: second,
        initiator: first,
      });
    } else {
      return;
    }
    conversation.messages.push(record);
    try {
      const sender = await this.card(stored.from);
      if (stored.kind === 'system') {
        const event = JSON.parse(fromUtf8.decode(await this.#tessera.authDecrypt(stored.ciphertext, sender, record.at)));
        record.system = await this.#applyGroupEvent(conversation, stored.from, event);
      } else if (conversation.kind === 'dm') {
        await this.#openDirect(record, stored, sender);
      } else {
        await this.#openGroup(record, conversation, stored, sender);
      }
    } catch (error) {
      record.unreadable = conversation.youWereRemoved
        ? 'Sent after you were removed from this group: you cannot read it.'
        : `Cannot read this message (${error.code ?? error.message}).`;
    }
  }

  async #openDirect(record, stored, sender) {
    if (stored.kind === 'text') {
      record.text = fromUtf8.decode(await this.#tessera.authDecrypt(stored.ciphertext, sender, record.at));
    } else {
      const blob = await this.#tessera.decryptFile(new Blob([stored.ciphertext]), sender, { madeAt: record.at });
      record.file = await unpackFile(blob);
    }
  }

  async #openGroup(record, conversation, stored, sender) {
    const group = await this.#group(conversation);
    let plaintext;
    try {
      plaintext = await group.decrypt(stored.ciphertext, sender, record.at);
    } catch (error) {
      if (!STALE_GROUP_CODES.has(error.code)) throw error;
      await group.update();
      plaintext = await group.decrypt(stored.ciphertext, sender, record.at);
    }
    if (stored.kind === 'text') {
      record.text = fromUtf8.decode(plaintext);
    } else {
      record.file = await unpackFile(new Blob([plaintext]));
    }
  }

  /** Applies a membership notice; returns the line shown in the conversation. */
  async #applyGroupEvent(conversation, from, event) {
    if (from !== conversation.initiator || event.groupId !== conversation.groupId) {
      throw new ChatError('bad_notice', 'a group notice not sent by the group initiator');
    }
    if (event.name) conversation.title = event.name;
    if (event.type === 'group-created' || event.type === 'group-added') {
      if (event.type === 'group-added') conversation.removed.delete(event.member);
      const existing = await this.#tessera.getGroup(conversation.groupId);
      if (existing) await existing.update();
      if (event.member === this.identity) conversation.youWereRemoved = false;
      return event.type === 'group-created'
        ? `${from} created "${event.name}" with ${event.members.filter((m) => m !== from).join(', ')}`
        : `${from} added ${event.member}`;
    }
    if (event.type === 'group-removed') {
      conversation.removed.add(event.member);
      if (event.member === this.identity) {
        conversation.youWereRemoved = true;
      } else {
        const existing = await this.#tessera.getGroup(conversation.groupId);
        if (existing && from !== this.identity) await existing.update();
      }
      return `${from} removed ${event.member}`;
    }
    throw new ChatError('bad_notice', `unknown group notice ${event.type}`);
  }
}
