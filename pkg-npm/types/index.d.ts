// Type declarations of tessera-e2ee, written by hand (not generated): the public API is
// exactly what is declared here. No `any` appears on a public signature.

/** Bytes accepted as input. */
export type BytesLike = Uint8Array;

/** What `init` accepts as the WebAssembly module (browsers; ignored in Node). */
export type WasmSource = URL | string | Response | BufferSource | WebAssembly.Module;

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * Where to load `tessera_wasm_bg.wasm` from (browsers). By default the file next to the
   * package's JavaScript, which bundlers copy and rewrite.
   */
  wasm?: WasmSource;
}

/**
 * Loads and instantiates the WebAssembly module. Call (and await) it once before using
 * any class or function of the low-level API; `Tessera.initialize` calls it itself.
 */
export function init(options?: InitOptions): Promise<void>;

// ---------------------------------------------------------------------------------------
// Errors

/**
 * Every error tessera-e2ee throws. Branch on `code`, which never changes meaning. Codes
 * without a subclass of their own: `backup_already_exists`, `backup_key_mismatch`,
 * `unsupported_format`, `conflict`, `key_store`, `token_provider`, `io`, `invalid_state`,
 * `internal`, and the low-level checks' kinds (`malformed`, `invalid_key`, `expired`, …).
 */
export class TesseraError extends Error {
  constructor(message: string, code?: string);
  /** Stable machine code, snake_case (docs/NPM.md lists them). */
  readonly code: string;
}
/** `not_registered`: the user has no card; call register() first. */
export class RegisterRequiredError extends TesseraError {}
/** `already_registered`: the user already has a card. */
export class IdentityAlreadyExistsError extends TesseraError {}
/** `private_key_already_exists`: this device already stores a private key. */
export class PrivateKeyAlreadyExistsError extends TesseraError {}
/** `no_backup`: no key backup exists on the server. */
export class PrivateKeyNoBackupError extends TesseraError {}
/** `missing_private_key`: this device holds no private key. */
export class MissingPrivateKeyError extends TesseraError {}
/** `wrong_password`: the password does not open the key backup. */
export class WrongKeyknoxPasswordError extends TesseraError {}
/** `users_not_found`: some identities are not registered (or not cached). */
export class UsersNotFoundError extends TesseraError {
  constructor(message: string, code?: string, identities?: string[]);
  /** Every identity that was not found. */
  readonly identities: string[];
}
/**
 * Decryption or verification failed. `code` says which check: `decryption_failed`, `wrong_purpose`,
 * `not_a_recipient`, `wrong_sender`, `signature_invalid`, `made_at_required`,
 * `signer_key_replaced`, `truncated`, `invalid_sender_cards`, `card_verification_failed`.
 */
export class IntegrityCheckFailedError extends TesseraError {}
/** `cancelled`: the operation's AbortSignal fired. */
export class AbortError extends TesseraError {}
/** `network`, `unauthorized`, `server`, `invalid_server_response`. */
export class NetworkError extends TesseraError {
  constructor(message: string, code?: string, status?: number, serverCode?: string);
  /** For `server`: the HTTP status. */
  readonly status: number | undefined;
  /** For `server`: the server's error code (docs/API.md), e.g. `rate_limited`. */
  readonly serverCode: string | undefined;
}
/**
 * Group failures: `group_not_found`, `group_already_exists`, `not_group_initiator`,
 * `not_group_participant`, `group_epoch_unknown`, `sender_not_participant`,
 * `invalid_group_id`, `wrong_group`, `not_in_ticket`, `invalid_ticket`, `participant_count`.
 */
export class GroupError extends TesseraError {}
/** `invalid_input`, `invalid_identity`: an argument has the wrong type or value. */
export class InvalidInputError extends TesseraError {}

// ---------------------------------------------------------------------------------------
// Key stores

/**
 * Where the private key and cached cards live on this device. Replace the default with
 * any object of this shape. Names are ASCII strings; values are secret bytes.
 */
export interface KeyStore {
  /** The value stored under `name`, or null/undefined when there is none. */
  get(name: string): Promise<Uint8Array | null | undefined>;
  /** Stores `value` under `name`, replacing any previous value atomically. */
  set(name: string, value: Uint8Array): Promise<void>;
  /** Removes `name`; resolves when it does not exist. */
  delete(name: string): Promise<void>;
}

/** Keys in memory only: nothing survives a reload. */
export class MemoryKeyStore implements KeyStore {
  constructor();
  get(name: string): Promise<Uint8Array | null>;
  set(name: string, value: Uint8Array): Promise<void>;
  delete(name: string): Promise<void>;
}

/**
 * Browsers' default: IndexedDB, each value AES-GCM-encrypted under a non-extractable
 * WebCrypto key kept in the same database. See docs/NPM.md for what this does and does not
 * protect against.
 */
export class IndexedDbKeyStore implements KeyStore {
  constructor(options?: { databaseName?: string });
  readonly databaseName: string;
  get(name: string): Promise<Uint8Array | null>;
  set(name: string, value: Uint8Array): Promise<void>;
  delete(name: string): Promise<void>;
}

/** Node's default: one file per entry (mode 0600) in a directory (mode 0700). */
export class FileKeyStore implements KeyStore {
  /** `directory` defaults to `~/.tessera-e2ee`. Throws in browsers. */
  constructor(options?: { directory?: string });
  readonly directory: string;
  get(name: string): Promise<Uint8Array | null>;
  set(name: string, value: Uint8Array): Promise<void>;
  delete(name: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// The client: E3Kit's API over tessera-server (docs/CLIENT.md)

/** The app's token callback: a fresh JWT for the signed-in user from the app's backend. */
export type GetTokenCallback = () => string | Promise<string>;

/** Options of {@link Tessera.initialize}. */
export interface TesseraOptions {
  /** The tessera-server base URL, e.g. `https://tessera.example.com`. */
  serverUrl: string;
  /**
   * Where the private key, the own card, cached cards and groups live on this device.
   * Default: `IndexedDbKeyStore` in browsers and workers, `FileKeyStore` (~/.tessera-e2ee)
   * in Node.
   */
  keyStore?: KeyStore;
  /**
   * The user's identity when known: `initialize` then needs neither `getToken` nor the
   * network (offline start). Tokens for another subject are refused later.
   */
  identity?: string;
  /** Called when `updateCachedUsers` or `findUsers` notices that a user's card changed. */
  onKeyChanged?: (identity: string) => void;
  /** The `fetch` used for every request (default: `globalThis.fetch`). */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Where to load the .wasm from (browsers), as for {@link init}. */
  wasm?: WasmSource;
}

/** `findUsers` with several identities: each identity's verified card. */
export type FindUsersResult = { [identity: string]: Card };

/**
 * Bytes as the client takes them (E3Kit's inputs): an `ArrayBuffer`, or any view of one —
 * `Uint8Array`, Node's `Buffer`, another typed array, a `DataView`. Read in place, not copied.
 */
export type BinaryData = ArrayBuffer | ArrayBufferView;
/** Data to encrypt or decrypt: text (base64 ciphertext on decrypt) or bytes. */
export type Data = string | BinaryData;

/** Who to encrypt for: a card, cards, or a `findUsers` result. */
export type Recipients = Card | readonly Card[] | FindUsersResult;

/** Options of {@link Group.add}. */
export interface GroupAddOptions {
  /** Let the newcomers read what was sent before they joined (default true, as E3Kit). */
  shareHistory?: boolean;
}

/**
 * The end-to-end encryption client of one user on one device (E3Kit's `EThree`). Every
 * card it receives is verified; every error is a {@link TesseraError} with a stable code.
 */
export class Tessera {
  private constructor();
  /**
   * Creates the client of the user whose tokens `getToken` returns (the token's `sub` is
   * the identity). Loads the user's key from the key store when present.
   */
  static initialize(getToken: GetTokenCallback, options: TesseraOptions): Promise<Tessera>;
  /**
   * One typed password → a login password for your backend and a backup password
   * (Argon2id, 64 MiB, deterministic). `appId` and `identity` salt it: equal passwords of
   * two users give unrelated results. Use the same `appId` on every device.
   */
  static derivePasswords(password: string, options: DerivePasswordsOptions): Promise<DerivedPasswords>;

  /** The user's identity. */
  readonly identity: string;
  /** The user's own card, when this device holds the key. */
  readonly ownCard: Card | undefined;

  /** Whether this device holds the user's private key. */
  hasLocalPrivateKey(): Promise<boolean>;
  /**
   * Publishes a new card and keeps its key on this device. `private_key_already_exists`
   * when this device has a key; `already_registered` when the identity has a card.
   */
  register(): Promise<Card>;
  /** For a lost key: publishes a new card that replaces the current one. */
  rotatePrivateKey(): Promise<Card>;
  /** Revokes the user's card and deletes the key from this device. */
  unregister(): Promise<void>;
  /** Deletes everything stored for the user on this device (the card stays on the server). */
  cleanup(): Promise<void>;

  /** Stores the key on the server, encrypted under `password` (Argon2id). */
  backupPrivateKey(password: string): Promise<void>;
  /** Restores the key from the server's backup (`wrong_password`, `no_backup`). */
  restorePrivateKey(password: string): Promise<void>;
  /** Re-encrypts the backup under `newPassword`. */
  changePassword(oldPassword: string, newPassword: string): Promise<void>;
  /** Deletes the backup (`no_backup` when there is none). */
  resetPrivateKeyBackup(): Promise<void>;

  /** Looks up and verifies one user's card (`users_not_found` when not registered). */
  findUsers(identity: string): Promise<Card>;
  /** Looks up and verifies several users' cards; `users_not_found` lists every missing one. */
  findUsers(identities: readonly string[]): Promise<FindUsersResult>;
  /** Like `findUsers`, from this device's cache only (offline). */
  findCachedUsers(identity: string): Promise<Card>;
  findCachedUsers(identities: readonly string[]): Promise<FindUsersResult>;
  /** Re-checks every cached card; resolves to the identities whose card changed. */
  updateCachedUsers(): Promise<string[]>;

  /** Signs and encrypts a string for the recipients and the user → base64. */
  authEncrypt(data: string, recipients?: Recipients): Promise<string>;
  /** Signs and encrypts bytes for the recipients and the user → a `Uint8Array`. */
  authEncrypt(data: BinaryData, recipients?: Recipients): Promise<Uint8Array>;
  /** Text → base64, bytes → `Uint8Array`, as above. */
  authEncrypt(data: Data, recipients?: Recipients): Promise<string | Uint8Array>;
  /**
   * Decrypts base64 from `authEncrypt` → string, verifying that `senderCard` (default:
   * the user) signed it. `madeAt`: when the data was made, for data signed before the
   * sender's key rotation.
   */
  authDecrypt(data: string, senderCard?: Card, madeAt?: Date): Promise<string>;
  /** Decrypts bytes → a `Uint8Array`, as above. */
  authDecrypt(data: BinaryData, senderCard?: Card, madeAt?: Date): Promise<Uint8Array>;
  /** Base64 → string, bytes → `Uint8Array`, as above. */
  authDecrypt(data: Data, senderCard?: Card, madeAt?: Date): Promise<string | Uint8Array>;

  /**
   * E3Kit's older name of {@link Tessera.findUsers}, which it is (warns once per process).
   * @deprecated Use `findUsers`.
   */
  lookupPublicKeys(identity: string): Promise<Card>;
  /** @deprecated Use `findUsers`. */
  lookupPublicKeys(identities: readonly string[]): Promise<FindUsersResult>;
  /**
   * E3Kit's older name of {@link Tessera.authEncrypt}: signs and encrypts (warns once per
   * process).
   * @deprecated Use `authEncrypt`.
   */
  encrypt(data: string, recipients?: Recipients): Promise<string>;
  /** @deprecated Use `authEncrypt`. */
  encrypt(data: BinaryData, recipients?: Recipients): Promise<Uint8Array>;
  /** @deprecated Use `authEncrypt`. */
  encrypt(data: Data, recipients?: Recipients): Promise<string | Uint8Array>;
  /**
   * E3Kit's older name of {@link Tessera.authDecrypt}: decrypts and verifies the sender
   * (warns once per process).
   * @deprecated Use `authDecrypt`.
   */
  decrypt(data: string, senderCard?: Card, madeAt?: Date): Promise<string>;
  /** @deprecated Use `authDecrypt`. */
  decrypt(data: BinaryData, senderCard?: Card, madeAt?: Date): Promise<Uint8Array>;
  /** @deprecated Use `authDecrypt`. */
  decrypt(data: Data, senderCard?: Card, madeAt?: Date): Promise<string | Uint8Array>;

  /** Encrypts a Blob/File (resolves to a Blob, or a File with the same name). */
  encryptFile(input: Blob, recipients?: Recipients, options?: FileOptions): Promise<Blob>;
  /** Encrypts a stream of any length in constant memory. */
  encryptFile(
    input: ReadableStream<Uint8Array>,
    recipients?: Recipients,
    options?: FileOptions,
  ): Promise<ReadableStream<Uint8Array>>;
  /** Decrypts a Blob/File; resolves only after the sender's signature verified. */
  decryptFile(input: Blob, senderCard?: Card, options?: DecryptFileOptions): Promise<Blob>;
  /**
   * Decrypts a stream; the output stream errors at its end if the signature does not
   * verify (discard what it produced then).
   */
  decryptFile(
    input: ReadableStream<Uint8Array>,
    senderCard?: Card,
    options?: DecryptFileOptions,
  ): Promise<ReadableStream<Uint8Array>>;

  /** E3Kit's current name of `encryptFile`: the same method (it signs too). */
  authEncryptFile(input: Blob, recipients?: Recipients, options?: FileOptions): Promise<Blob>;
  /** E3Kit's current name of `encryptFile`: the same method (it signs too). */
  authEncryptFile(
    input: ReadableStream<Uint8Array>,
    recipients?: Recipients,
    options?: FileOptions,
  ): Promise<ReadableStream<Uint8Array>>;
  /** E3Kit's current name of `decryptFile`: the same method (it verifies too). */
  authDecryptFile(input: Blob, senderCard?: Card, options?: DecryptFileOptions): Promise<Blob>;
  /** E3Kit's current name of `decryptFile`: the same method (it verifies too). */
  authDecryptFile(
    input: ReadableStream<Uint8Array>,
    senderCard?: Card,
    options?: DecryptFileOptions,
  ): Promise<ReadableStream<Uint8Array>>;

  /** The 60-digit safety number of the user and `card`'s owner, the same on both sides. */
  safetyNumber(card: Card): Promise<string>;

  /** Creates a group with the user as initiator (`group_already_exists`). */
  createGroup(groupId: string, participants?: Recipients): Promise<Group>;
  /** Loads a group another user created, given the initiator's card. */
  loadGroup(groupId: string, initiatorCard: Card): Promise<Group>;
  /** The group as this device knows it (no network), or null. */
  getGroup(groupId: string): Promise<Group | null>;
  /** Deletes the group on the server (initiator only) and on this device. */
  deleteGroup(groupId: string): Promise<void>;
}

/** An end-to-end encrypted group conversation (from `createGroup`, `loadGroup`, `getGroup`). */
export class Group {
  private constructor();
  readonly id: string;
  /** The initiator's identity: the only one who changes the membership. */
  readonly initiator: string;
  /** The participants of the current epoch. */
  readonly participants: string[];
  /** The current epoch (0 at creation, +1 per membership change). */
  readonly epoch: number;
  /** Signs and encrypts for the current participants: string → base64. */
  encrypt(data: string): Promise<string>;
  /** Signs and encrypts for the current participants: bytes → bytes. */
  encrypt(data: BinaryData): Promise<Uint8Array>;
  encrypt(data: Data): Promise<string | Uint8Array>;
  /** Decrypts base64 → string and verifies that `senderCard` signed it as a participant. */
  decrypt(data: string, senderCard: Card, madeAt?: Date): Promise<string>;
  /** Decrypts bytes → bytes, as above. */
  decrypt(data: BinaryData, senderCard: Card, madeAt?: Date): Promise<Uint8Array>;
  decrypt(data: Data, senderCard: Card, madeAt?: Date): Promise<string | Uint8Array>;
  /** Fetches the membership changes since this device last looked. */
  update(): Promise<void>;
  /** Adds participants (initiator only): a new epoch. */
  add(participants: Recipients, options?: GroupAddOptions): Promise<void>;
  /** Removes participants (initiator only): a new epoch they cannot read. */
  remove(participants: string | readonly string[] | Recipients): Promise<void>;
  /** Gives a participant who rotated their key access again (initiator only). */
  reAdd(participant: Card): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Low-level API: explicit keys and cards, no server (docs/FORMAT.md)

/** Objects backed by WebAssembly memory; `free()` releases them early (else GC does). */
export interface WasmObject {
  free(): void;
}

/** A user's private keys, derived from a 32-byte root secret. */
export class KeyPair implements WasmObject {
  private constructor();
  /** A new identity from the platform CSPRNG. */
  static generate(): KeyPair;
  /** The identity of a 32-byte root secret. */
  static fromRootSecret(rootSecret: BytesLike): KeyPair;
  /** A copy of the root secret: this is the private key, keep it secret. */
  rootSecret(): Uint8Array;
  readonly signingPublicKey: Uint8Array;
  readonly encryptionPublicKey: Uint8Array;
  readonly signingKeyId: Uint8Array;
  readonly encryptionKeyId: Uint8Array;
  free(): void;
}

/** A self-signed card; every way of obtaining one verifies it. */
export class Card implements WasmObject {
  private constructor();
  /** Creates and signs the card of `identity` (createdAt defaults to now). */
  static create(keyPair: KeyPair, identity: string, createdAt?: Date, previousCardId?: string): Card;
  /** Parses a snapshot and verifies its self-signature. */
  static fromParts(snapshot: BytesLike, signature: BytesLike): Card;
  /** Parses `b64url(snapshot).b64url(signature)` and verifies it. */
  static fromText(text: string): Card;
  toText(): string;
  clone(): Card;
  /** 64 lower-case hex digits. */
  readonly id: string;
  readonly identity: string;
  readonly createdAt: Date;
  readonly previousCardId: string | undefined;
  readonly snapshot: Uint8Array;
  readonly signature: Uint8Array;
  readonly signingPublicKey: Uint8Array;
  readonly encryptionPublicKey: Uint8Array;
  free(): void;
}

/** A verified decryption. */
export interface Decrypted {
  plaintext: Uint8Array;
  /** The identity that signed. */
  signer: string;
  /** The id of the card whose key signed. */
  signerCardId: string;
}

/** Signs with `sender` and encrypts to the recipients' cards (1..100 000). */
export function encrypt(sender: KeyPair, recipients: Card | readonly Card[], plaintext: BytesLike): Uint8Array;
/**
 * Decrypts with `recipient` and verifies the sender against `senderCards` (one card, or
 * the rotation chain oldest first). `madeAt` lets data signed before a rotation verify.
 */
export function decrypt(
  recipient: KeyPair,
  envelope: BytesLike,
  senderCards: Card | readonly Card[],
  madeAt?: Date,
): Decrypted;

/** Encryption of data of any size, piece by piece. */
export class EncryptStream {
  constructor(sender: KeyPair, recipients: Card | readonly Card[]);
  /** Encrypts a piece; returns the ciphertext ready so far (possibly empty). */
  update(data: BytesLike): Uint8Array;
  /** Signs and returns the final bytes. The stream is spent afterwards. */
  finish(): Uint8Array;
}

/**
 * Decryption piece by piece. Bytes from `update` are confidential and tamper-checked but
 * attributed to the sender only once `finish` succeeds.
 */
export class DecryptStream {
  constructor(recipient: KeyPair);
  update(data: BytesLike): Uint8Array;
  finish(senderCards: Card | readonly Card[], madeAt?: Date): Decrypted;
}

/** Progress of a file operation. */
export interface FileProgress {
  /** Input bytes processed so far. */
  bytesProcessed: number;
  /** Total input size when known (Blob/File input). */
  fileSize: number | undefined;
}

/** Options of file encryption and decryption. */
export interface FileOptions {
  onProgress?: (progress: FileProgress) => void;
  signal?: AbortSignal;
}

/** Options of file decryption. */
export interface DecryptFileOptions extends FileOptions {
  /** When the data was made (for data signed before the sender's key rotation). */
  madeAt?: Date;
}

/** Low-level file encryption with explicit keys: Blob/File → Blob/File. */
export function sealFile(input: Blob, sender: KeyPair, recipients: Card | readonly Card[], options?: FileOptions): Promise<Blob>;
/** Low-level file encryption with explicit keys: stream → stream. */
export function sealFile(
  input: ReadableStream<Uint8Array>,
  sender: KeyPair,
  recipients: Card | readonly Card[],
  options?: FileOptions,
): ReadableStream<Uint8Array>;
/** Low-level file decryption: the Blob resolves only after the signature verified. */
export function openFile(
  input: Blob,
  recipient: KeyPair,
  senderCards: Card | readonly Card[],
  options?: DecryptFileOptions,
): Promise<Blob>;
/** Low-level stream decryption: errors at the end if the signature does not verify. */
export function openFile(
  input: ReadableStream<Uint8Array>,
  recipient: KeyPair,
  senderCards: Card | readonly Card[],
  options?: DecryptFileOptions,
): ReadableStream<Uint8Array>;

/** Encrypts the key pair's root secret under a password (94-byte blob, Argon2id). */
export function sealBackup(keyPair: KeyPair, password: string): Uint8Array;
/** Opens a backup blob (`wrong_password` when it does not open). */
export function openBackup(blob: BytesLike, password: string): KeyPair;

/** A login password for the app's backend and a backup password that never leaves. */
export interface DerivedPasswords {
  loginPassword: string;
  backupPassword: string;
}
/** What salts `derivePasswords`. */
export interface DerivePasswordsOptions {
  /** A stable string naming your app, the same on every device (the server's app id is a good choice); 1–255 bytes. */
  appId: string;
  /** The user's identity. */
  identity: string;
}
/** Splits one user password into two (Argon2id; docs/FORMAT.md §5.3). */
export function derivePasswords(password: string, options: DerivePasswordsOptions): DerivedPasswords;

/** The 60-digit safety number of two cards (order-independent). */
export function safetyNumber(a: Card, b: Card): string;
/** Throws `broken_chain` unless the cards (oldest first) form a rotation chain. */
export function verifyCardChain(cards: readonly Card[]): void;

/** An app's token-signing key, for the app's backend (Node). */
export class AppKey implements WasmObject {
  private constructor();
  static generate(): AppKey;
  static fromSeed(seed: BytesLike): AppKey;
  /** A copy of the 32-byte seed: keep it secret. */
  seed(): Uint8Array;
  readonly publicKey: Uint8Array;
  readonly kid: string;
  /** The audience a Tessera server of `appId` expects unless configured otherwise: `tessera:<appId>`. */
  static defaultAudience(appId: string): string;
  /**
   * A token for `subject` from `issuer` (the app id) for `audience` (the Tessera server's
   * audience, docs/SERVER.md), valid from `issuedAt` (now) for `ttlSeconds` (1200).
   */
  mint(issuer: string, audience: string, subject: string, issuedAt?: Date, ttlSeconds?: number): string;
  free(): void;
}

/** The claims of a verified token (Unix seconds). */
export interface TokenClaims {
  readonly iss: string;
  readonly sub: string;
  /** The servers the token is for: one for a string `aud`, each element of an array. */
  readonly aud: string[];
  readonly iat: number;
  readonly exp: number;
  readonly nbf: number | undefined;
}

/** Verifies one app's tokens for one audience against its accepted public keys. */
export class TokenVerifier implements WasmObject {
  constructor(issuer: string, audience: string, publicKeys: readonly Uint8Array[]);
  verify(token: string, now?: Date): TokenClaims;
  free(): void;
}

/** One epoch of a group. */
export class EpochKey implements WasmObject {
  private constructor();
  static generate(epoch: number, participants: readonly string[]): EpochKey;
  static fromParts(epoch: number, secret: BytesLike, participants: readonly string[]): EpochKey;
  clone(): EpochKey;
  readonly epoch: number;
  readonly secret: Uint8Array;
  readonly participants: string[];
  free(): void;
}

/** The epoch keys a participant holds for one group. */
export class GroupKeys implements WasmObject {
  constructor();
  insert(key: EpochKey): void;
  epochs(): EpochKey[];
  free(): void;
}

/** The ticket blob of epoch `current` (docs/FORMAT.md §8.2). */
export function sealTicketBlob(
  initiator: KeyPair,
  groupId: string,
  current: EpochKey,
  recipients: Card | readonly Card[],
  history?: readonly EpochKey[],
  newcomers?: Card | readonly Card[],
): Uint8Array;
/** The epochs a ticket blob carries for `reader`, verified against the initiator. */
export function openTicketBlob(
  blob: BytesLike,
  reader: KeyPair,
  groupId: string,
  storedEpoch: number,
  initiatorCards: Card | readonly Card[],
  madeAt?: Date,
): EpochKey[];
/** A signed group message for one epoch. */
export function encryptGroupMessage(sender: KeyPair, groupId: string, epoch: EpochKey, plaintext: BytesLike): Uint8Array;
/** Decrypts a group message and verifies its sender. */
export function decryptGroupMessage(
  groupId: string,
  keys: GroupKeys,
  message: BytesLike,
  senderCards: Card | readonly Card[],
  madeAt?: Date,
): Decrypted;
/** The group id and epoch of a group message, readable without keys. */
export function groupMessageInfo(message: BytesLike): { groupId: string; epoch: number };
