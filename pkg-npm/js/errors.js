// Errors thrown by tessera-e2ee: Error subclasses with a stable machine `code`.
// Branch on `error.code` (or `instanceof`), never on `error.message`. Class names follow
// E3Kit's where E3Kit had one, so migrating code keeps its `instanceof` checks.

export class TesseraError extends Error {
  constructor(message, code = 'internal') {
    super(message);
    this.code = code;
  }
}

/** The user has no card in the directory: call register() first. */
export class RegisterRequiredError extends TesseraError {}
/** The user is already registered (E3Kit: IdentityAlreadyExistsError). */
export class IdentityAlreadyExistsError extends TesseraError {}
/** A private key is already stored on this device. */
export class PrivateKeyAlreadyExistsError extends TesseraError {}
/** No key backup exists on the server. */
export class PrivateKeyNoBackupError extends TesseraError {}
/** This device holds no private key: restore it or rotate it. */
export class MissingPrivateKeyError extends TesseraError {}
/** The password does not open the key backup. */
export class WrongKeyknoxPasswordError extends TesseraError {}
/** Some identities are not registered (or not cached); `identities` lists them. */
export class UsersNotFoundError extends TesseraError {
  constructor(message, code = 'users_not_found', identities = []) {
    super(message, code);
    this.identities = identities;
  }
}
/** Decryption or signature verification failed; `code` says which check. */
export class IntegrityCheckFailedError extends TesseraError {}
/** The operation was cancelled through its AbortSignal. */
export class AbortError extends TesseraError {}
/**
 * The server could not be reached, rejected the token, or answered unexpectedly. For
 * `code: 'server'`, `status` is the HTTP status and `serverCode` the server's own code.
 */
export class NetworkError extends TesseraError {
  constructor(message, code = 'network', status = undefined, serverCode = undefined) {
    super(message, code);
    this.status = status;
    this.serverCode = serverCode;
  }
}
/** A group operation failed. */
export class GroupError extends TesseraError {}
/** An argument has the wrong type or value. */
export class InvalidInputError extends TesseraError {}

// Names as string literals, so `error.name` survives minifiers that rename classes.
for (const [name, Class] of Object.entries({
  TesseraError,
  RegisterRequiredError,
  IdentityAlreadyExistsError,
  PrivateKeyAlreadyExistsError,
  PrivateKeyNoBackupError,
  MissingPrivateKeyError,
  WrongKeyknoxPasswordError,
  UsersNotFoundError,
  IntegrityCheckFailedError,
  AbortError,
  NetworkError,
  GroupError,
  InvalidInputError,
})) {
  Object.defineProperty(Class.prototype, 'name', { value: name, writable: true, configurable: true });
}

/**
 * The class of every code: each client code (tessera-client's code table, in its order;
 * the wasm adapter's `errorCodes()`) and the format kinds (`errorKinds()`) that have a
 * class of their own; other kinds are plain TesseraErrors. The package's tests check this
 * map and the declarations against both lists.
 */
export const CLASS_OF_CODE = Object.freeze({
  not_registered: RegisterRequiredError,
  missing_private_key: MissingPrivateKeyError,
  already_registered: IdentityAlreadyExistsError,
  private_key_already_exists: PrivateKeyAlreadyExistsError,
  no_backup: PrivateKeyNoBackupError,
  backup_already_exists: TesseraError,
  backup_key_mismatch: TesseraError,
  wrong_password: WrongKeyknoxPasswordError,
  users_not_found: UsersNotFoundError,
  card_verification_failed: IntegrityCheckFailedError,
  decryption_failed: IntegrityCheckFailedError,
  wrong_purpose: IntegrityCheckFailedError,
  not_a_recipient: IntegrityCheckFailedError,
  wrong_sender: IntegrityCheckFailedError,
  signature_invalid: IntegrityCheckFailedError,
  made_at_required: IntegrityCheckFailedError,
  signer_key_replaced: IntegrityCheckFailedError,
  unsupported_format: TesseraError,
  network: NetworkError,
  unauthorized: NetworkError,
  server: NetworkError,
  invalid_server_response: NetworkError,
  conflict: TesseraError,
  key_store: TesseraError,
  token_provider: TesseraError,
  invalid_input: InvalidInputError,
  io: TesseraError,
  invalid_state: TesseraError,
  group_not_found: GroupError,
  group_already_exists: GroupError,
  not_group_initiator: GroupError,
  not_group_participant: GroupError,
  group_epoch_unknown: GroupError,
  sender_not_participant: GroupError,
  cancelled: AbortError,
  internal: TesseraError,
  // Format kinds with a class of their own.
  truncated: IntegrityCheckFailedError,
  invalid_sender_cards: IntegrityCheckFailedError,
  invalid_identity: InvalidInputError,
  invalid_group_id: GroupError,
  wrong_group: GroupError,
  not_in_ticket: GroupError,
  invalid_ticket: GroupError,
  participant_count: GroupError,
});

/**
 * The error object for a code (used by the wasm adapter through setErrorFactory);
 * `details` carries `identities` (users_not_found) or `status` and `serverCode` (server).
 */
export function errorFromCode(code, message, details) {
  const Class = Object.hasOwn(CLASS_OF_CODE, code) ? CLASS_OF_CODE[code] : TesseraError;
  if (Class === UsersNotFoundError) return new UsersNotFoundError(message, code, details?.identities ?? []);
  if (Class === NetworkError) return new NetworkError(message, code, details?.status, details?.serverCode);
  return new Class(message, code);
}

/** A TesseraError for a caller's mistake in JS-side arguments. */
export function invalidInput(message) {
  return new InvalidInputError(message, 'invalid_input');
}
