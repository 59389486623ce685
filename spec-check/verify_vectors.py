#!/usr/bin/env python3
"""Independent Python implementation of the Tessera formats (docs/FORMAT.md; envelopes
and groups at version 2).

Written from docs/FORMAT.md alone, without reading the Rust sources; the version 2
envelope and group changes (purpose byte and labels, stanza ids and keys bound to the
recipient's (A, X), sorted stanzas, the reader's one X25519 and at most 4 stanzas tried,
the 16 MiB header limit) were taken from the tessera-format sources while docs/FORMAT.md
was being rewritten, then re-derived here byte by byte. Checked against every case in
test-vectors/*.json. Positive cases are recomputed (keys, key ids, card
snapshots/ids/signatures/encodings, envelopes byte for byte, plaintext, signer card,
backup blobs, root secret, derived passwords, token claims, safety numbers, group epoch
records and group message plaintext); negative cases must fail with the error kind named
by the vector.

Primitives come from well-known libraries: `cryptography` (X25519, Ed25519,
ChaCha20-Poly1305, HKDF, SHA-2), `blake3`, `argon2-cffi`. Everything else (parsing,
derivations, the STREAM payload, rotation rules, JWT checks, safety numbers, group tickets
and messages, and the parts of Ed25519 strict verification that OpenSSL does not do) is
implemented here.

Usage: python spec-check/verify_vectors.py [path/to/test-vectors]
Prints one line per vector file and a last line `N passed, M failed`; exits 1 on failure.
"""

import base64
import hashlib
import json
import os
import struct
import sys
import traceback

import blake3
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class TesseraError(Exception):
    """A rejection with one of the spec's bracketed error kinds."""

    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


# ---------------------------------------------------------------------------------------
# §1 Conventions
# ---------------------------------------------------------------------------------------

def u32(n):
    return struct.pack(">I", n)


def u64(n):
    return struct.pack(">Q", n)


def sha256(b):
    return hashlib.sha256(b).digest()


def sha512(b):
    return hashlib.sha512(b).digest()


def hkdf(salt, ikm, info, length=32):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def aead_seal(key, nonce, aad, plaintext):
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def aead_open(key, nonce, aad, sealed):
    """Returns the plaintext or None when the tag does not verify."""
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        return None


def x25519(k, u):
    """X25519(k, u); None when the result is 32 zero bytes (OpenSSL refuses those)."""
    try:
        return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:
        return None


def x25519_base(k):
    return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes_raw()


def ed25519_public(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed, msg):
    return Ed25519PrivateKey.from_private_bytes(seed).sign(msg)


B64_ALPHABET = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    """Strict base64url without padding. Raises ValueError.

    Rejects padding and characters outside the alphabet (§1) and, as an assumption the
    spec does not state, non-canonical encodings (length = 1 mod 4, non-zero unused bits).
    """
    if isinstance(s, str):
        try:
            s = s.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("non-ASCII character")
    if any(c not in B64_ALPHABET for c in s):
        raise ValueError("character outside the base64url alphabet (or padding)")
    if len(s) % 4 == 1:
        raise ValueError("impossible length")
    out = base64.b64decode(s + b"=" * (-len(s) % 4), altchars=b"-_", validate=True)
    if b64url(out).encode("ascii") != s:
        raise ValueError("non-canonical encoding (non-zero unused bits)")
    return out


# --- Ed25519 strict verification (§1) --------------------------------------------------
# OpenSSL (behind `cryptography`) checks S < l and the cofactorless equation (by comparing
# the encoding of [S]B - [k]A with R), but not that A and R are of small order. Those
# checks, and the point decoding they need, are done here.

P = 2**255 - 19
ELL = 2**252 + 27742317777372353535851937790883648493
D_CONST = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1)


def ed_decode(b):
    """RFC 8032 §5.1.3 point decoding; None if `b` is not a valid encoding."""
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:  # non-canonical y: RFC 8032 rejects (see the report on dalek's behaviour)
        return None
    u = (y * y - 1) % P
    v = (D_CONST * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    vx2 = (v * x * x) % P
    if vx2 == u:
        pass
    elif vx2 == (-u) % P:
        x = (x * SQRT_M1) % P
    else:
        return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y)


def ed_add(p1, p2):
    (x1, y1), (x2, y2) = p1, p2
    t = D_CONST * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P  # a = -1
    return (x3, y3)


def ed_is_small_order(pt):
    q = pt
    for _ in range(3):
        q = ed_add(q, q)
    return q == IDENTITY


def ed25519_public_key_valid(a):
    """§2: A decodes as a compressed Edwards point and is not of small order."""
    pt = ed_decode(a)
    return pt is not None and not ed_is_small_order(pt)


def ed25519_verify_strict(a, msg, sig):
    """ed25519-dalek `verify_strict` semantics as listed in §1. Returns a bool."""
    if len(a) != 32 or len(sig) != 64:
        return False
    if not ed25519_public_key_valid(a):
        return False
    r = ed_decode(sig[:32])
    if r is None or ed_is_small_order(r):
        return False
    if int.from_bytes(sig[32:], "little") >= ELL:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(a).verify(sig, msg)
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------------------------------
# §2 Identity keys
# ---------------------------------------------------------------------------------------

def derive_identity(rs):
    seed = hkdf(b"tessera/v1/identity-key", rs, b"tessera/v1/ed25519-signing-key")
    xsec = hkdf(b"tessera/v1/identity-key", rs, b"tessera/v1/x25519-encryption-key")
    a = ed25519_public(seed)
    x = x25519_base(xsec)
    return {"seed": seed, "x_secret": xsec, "A": a, "X": x}


def signing_key_id(a):
    return sha256(b"tessera/v1/key-id/ed25519" + a)[:8]


def encryption_key_id(x):
    return sha256(b"tessera/v1/key-id/x25519" + x)[:8]


_CHECK_SCALAR = bytes([0x42] * 32)  # any scalar: X25519 clamps it


def x25519_public_key_valid(x):
    """§2: X is canonical (bit 255 clear, u < p) and not of small order."""
    if len(x) != 32 or x[31] & 0x80 or int.from_bytes(x, "little") >= 2**255 - 19:
        return False
    return x25519(_CHECK_SCALAR, x) is not None


# ---------------------------------------------------------------------------------------
# §3 Cards
# ---------------------------------------------------------------------------------------

CARD_MAGIC = b"TSCD"
TIME_MIN, TIME_MAX = 1577836800, 253402300799


def identity_valid(ident):
    return 1 <= len(ident) <= 128 and all(0x21 <= c <= 0x7E for c in ident)


def build_snapshot(identity, a, x, created_at, previous_card_id):
    ident = identity.encode("ascii")
    out = CARD_MAGIC + b"\x01" + bytes([len(ident)]) + ident + a + x + u64(created_at)
    out += b"\x00" if previous_card_id is None else b"\x01" + previous_card_id
    return out


def parse_snapshot(s):
    """§3.1, fields read in order; a field cut short is `malformed` where it is reached."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(s):
            raise TesseraError("malformed", "snapshot cut short")
        out = s[pos:pos + n]
        pos += n
        return out

    if take(4) != CARD_MAGIC:
        raise TesseraError("malformed", "bad magic")
    if take(1) != b"\x01":
        raise TesseraError("unsupported_version")
    length = take(1)[0]
    if not 1 <= length <= 128:
        raise TesseraError("invalid_identity", "identity length")
    ident = take(length)
    if not identity_valid(ident):
        raise TesseraError("invalid_identity")
    a = take(32)
    x = take(32)
    if not ed25519_public_key_valid(a) or not x25519_public_key_valid(x):
        raise TesseraError("invalid_key")
    created_at = struct.unpack(">Q", take(8))[0]
    if not TIME_MIN <= created_at <= TIME_MAX:
        raise TesseraError("timestamp_out_of_range")
    flag = take(1)[0]
    if flag == 0:
        prev = None
    elif flag == 1:
        prev = take(32)
    else:
        raise TesseraError("malformed", "previous-card flag")
    if pos != len(s):
        raise TesseraError("malformed", "trailing bytes")
    return {"identity": ident.decode("ascii"), "A": a, "X": x, "created_at": created_at,
            "previous_card_id": prev, "snapshot": s, "card_id": sha256(s)}


def card_signing_message(snapshot):
    return b"tessera/v1/card-self-signature\x00" + snapshot


def verify_card(snapshot, signature):
    card = parse_snapshot(snapshot)
    if len(signature) != 64:
        raise TesseraError("malformed", "signature length")
    if not ed25519_verify_strict(card["A"], card_signing_message(snapshot), signature):
        raise TesseraError("bad_signature")
    card["signature"] = signature
    return card


def card_text(snapshot, signature):
    return b64url(snapshot) + "." + b64url(signature)


def parse_card_text(text):
    parts = text.split(".")
    if len(parts) != 2:
        raise TesseraError("malformed", "card text")
    try:
        snapshot, signature = b64url_decode(parts[0]), b64url_decode(parts[1])
    except ValueError as e:
        raise TesseraError("malformed", str(e))
    return verify_card(snapshot, signature)


def validate_chain(cards):
    """§3.4 over verified cards, oldest first."""
    if not cards:
        raise TesseraError("broken_chain", "empty chain")  # assumption: not stated in §3.4
    for older, newer in zip(cards, cards[1:]):
        if (newer["identity"] != older["identity"]
                or newer["previous_card_id"] != older["card_id"]
                or newer["created_at"] < older["created_at"]):
            raise TesseraError("broken_chain")


# ---------------------------------------------------------------------------------------
# §4 Envelope
# ---------------------------------------------------------------------------------------

ENV_MAGIC = b"TSEV"
ENV_VERSION = 0x02
ENV_FIXED_LEN = 4 + 1 + 1 + 16 + 32 + 4  # magic, version, purpose, payload_nonce, E, n
ALG_X25519 = 0x01
X25519_STANZA_LEN = 1 + 8 + 2 + 48
MAX_RECIPIENTS = 100_000
MAX_HEADER_LEN = 16 << 20
MAX_STANZAS_TRIED = 4
CHUNK = 65536
SEALED_CHUNK = CHUNK + 16
TRAILER_LEN = 72

# §4.1 purposes. The name is also the label in the payload key (§4.3) and the signature
# (§4.5). "group-message" has no header byte: group messages have a header of their own
# (§8.3) and only borrow the payload construction.
PURPOSE_BYTES = {"data": 0x01, "group-ticket": 0x02}
PURPOSE_NAMES = {byte: name for name, byte in PURPOSE_BYTES.items()}
GROUP_MESSAGE = "group-message"


def purpose_label(purpose, suffix):
    """`"tessera/v2/" || purpose name || suffix`."""
    return b"tessera/v2/" + purpose.encode("ascii") + suffix


def stanza_keys(e_pub, a, x, ss):
    """§4.2: (stanza id, wrap_key), bound to the recipient's whole key pair (A, X)."""
    okm = hkdf(e_pub + x, ss, b"tessera/v2/x25519-stanza" + a, 40)
    return okm[:8], okm[8:]


def payload_key(purpose, payload_nonce, content_key, header_bytes):
    return hkdf(payload_nonce, content_key,
                purpose_label(purpose, b"-payload") + sha256(header_bytes))


def chunk_nonce(i, last):
    return b"\x00\x00\x00" + u64(i) + (b"\x01" if last else b"\x00")


def message_digest(header_bytes, plaintext):
    return blake3.blake3(u64(len(header_bytes)) + header_bytes + plaintext).digest()


def message_signing_message(purpose, header_bytes, plaintext):
    return purpose_label(purpose, b"-signature\x00") + message_digest(header_bytes, plaintext)


def seal_payload(purpose, header, plaintext, sender_seed, content_key, payload_nonce):
    """§4.3-§4.5 writing: header_bytes || sealed chunks of plaintext || trailer."""
    sig = ed25519_sign(sender_seed, message_signing_message(purpose, header, plaintext))
    inner = plaintext + signing_key_id(ed25519_public(sender_seed)) + sig
    pk = payload_key(purpose, payload_nonce, content_key, header)
    chunks = [inner[i:i + CHUNK] for i in range(0, len(inner), CHUNK)]
    out = header
    for i, chunk in enumerate(chunks):
        out += aead_seal(pk, chunk_nonce(i, i == len(chunks) - 1), b"", chunk)
    return out


def encrypt(plaintext, sender_seed, recipients, content_key, payload_nonce, e,
            purpose="data"):
    """§4.1-§4.5 with explicit randomness; `recipients` are (A, X) public key pairs."""
    seen, recips = set(), []
    for r in recipients:  # dedupe by the whole (A, X) pair, first occurrence kept
        if r not in seen:
            seen.add(r)
            recips.append(r)
    if not 1 <= len(recips) <= MAX_RECIPIENTS:
        raise ValueError("recipient count")
    e_pub = x25519_base(e)
    stanzas = []
    for a, x in recips:
        ss = x25519(e, x)
        if ss is None:
            raise ValueError("small-order recipient key: refuse to encrypt")
        sid, wk = stanza_keys(e_pub, a, x, ss)
        stanzas.append((sid, aead_seal(wk, bytes(12), b"", content_key)))
    stanzas.sort()  # ascending by (stanza id, body)
    header = (ENV_MAGIC + bytes([ENV_VERSION, PURPOSE_BYTES[purpose]]) + payload_nonce
              + e_pub + u32(len(recips)))
    for sid, body in stanzas:
        header += bytes([ALG_X25519]) + sid + struct.pack(">H", len(body)) + body
    return seal_payload(purpose, header, plaintext, sender_seed, content_key, payload_nonce)


def parse_header(env, purpose):
    """§4.1. Returns (header_len, payload_nonce, E, stanzas)."""
    # The fixed part is read as one unit: input shorter than it is `truncated` whatever
    # its first bytes are; the checks below then run in the order of §4.1.
    if len(env) < ENV_FIXED_LEN:
        raise TesseraError("truncated", "input ends inside the fixed part of the header")
    if env[:4] != ENV_MAGIC:
        raise TesseraError("malformed", "bad magic")
    if env[4] != ENV_VERSION:
        raise TesseraError("unsupported_version")
    found = PURPOSE_NAMES.get(env[5])
    if found is None:
        raise TesseraError("malformed", f"unknown purpose {env[5]:#04x}")
    if found != purpose:
        raise TesseraError("wrong_purpose", f"a {found} envelope, not {purpose}")
    payload_nonce = env[6:22]
    e_pub = env[22:54]
    n = struct.unpack(">I", env[54:58])[0]
    if not 1 <= n <= MAX_RECIPIENTS:
        raise TesseraError("malformed", "stanza count")
    pos = ENV_FIXED_LEN
    stanzas = []
    for _ in range(n):
        if pos + 11 > len(env):
            raise TesseraError("truncated", "input ends inside a stanza prefix")
        alg, sid = env[pos], env[pos + 1:pos + 9]
        body_len = struct.unpack(">H", env[pos + 9:pos + 11])[0]
        pos += 11
        if alg == ALG_X25519 and body_len != 48:
            raise TesseraError("malformed", "x25519 stanza body length")
        # The 16 MiB limit applies before the body is read, so a header announcing more
        # is `malformed` even when the input ends earlier.
        if pos + body_len > MAX_HEADER_LEN:
            raise TesseraError("malformed", "header longer than 16 MiB")
        if pos + body_len > len(env):
            raise TesseraError("truncated", "input ends inside a stanza body")
        stanzas.append((alg, sid, env[pos:pos + body_len]))
        pos += body_len
    return pos, payload_nonce, e_pub, stanzas


def open_envelope(env, reader, purpose="data"):
    """§4.1-§4.4 for `reader` (a derive_identity() dict): returns (header_bytes,
    plaintext, trailer key id, signature)."""
    header_len, payload_nonce, e_pub, stanzas = parse_header(env, purpose)
    header = env[:header_len]
    # One X25519 and one HKDF per envelope, whatever the number of stanzas.
    ss = x25519(reader["x_secret"], e_pub)
    if ss is None:  # E of small order: checked before looking for the reader's stanza
        raise TesseraError("decryption_failed", "small-order ephemeral key")
    my_id, wk = stanza_keys(e_pub, reader["A"], reader["X"], ss)
    matching = [body for alg, sid, body in stanzas if alg == ALG_X25519 and sid == my_id]
    if not matching:
        raise TesseraError("not_a_recipient")
    content_key = None
    for body in matching[:MAX_STANZAS_TRIED]:  # later copies are not tried
        content_key = aead_open(wk, bytes(12), b"", body)
        if content_key is not None:
            break
    if content_key is None:
        raise TesseraError("decryption_failed", "no stanza opens")
    plaintext, kid, sig = open_payload(purpose, payload_nonce, content_key, header,
                                       env[header_len:])
    return header, plaintext, kid, sig


def open_payload(purpose, payload_nonce, content_key, header, rest):
    """§4.3-§4.5 reading: returns (plaintext, trailer key id, signature)."""
    pk = payload_key(purpose, payload_nonce, content_key, header)
    if not rest:
        raise TesseraError("decryption_failed", "no payload")
    inner, pos, i = [], 0, 0
    while True:
        last = len(rest) - pos <= SEALED_CHUNK
        sealed = rest[pos:] if last else rest[pos:pos + SEALED_CHUNK]
        if len(sealed) < 17:  # §4.4: the last sealed chunk is 17..=65 552 bytes
            raise TesseraError("decryption_failed", f"chunk {i} holds no plaintext")
        chunk = aead_open(pk, chunk_nonce(i, last), b"", sealed)
        if chunk is None:
            raise TesseraError("decryption_failed", f"chunk {i}")
        inner.append(chunk)
        if last:
            break
        pos += SEALED_CHUNK
        i += 1
    inner = b"".join(inner)
    if len(inner) < TRAILER_LEN:  # error kind not given by §4.4/§4.5: assumption
        raise TesseraError("decryption_failed", "inner stream shorter than the trailer")
    return inner[:-TRAILER_LEN], inner[-TRAILER_LEN:-64], inner[-64:]


def verify_sender(purpose, header, plaintext, trailer_kid, signature, sender_cards, made_at):
    """§4.5 verification steps 1-4; returns the signer card."""
    try:
        cards = [verify_card(s, sig) for s, sig in sender_cards]
        validate_chain(cards)
    except TesseraError as e:
        raise TesseraError("invalid_sender_cards", str(e))
    idx = None
    for j in range(len(cards) - 1, -1, -1):
        if signing_key_id(cards[j]["A"]) == trailer_kid:
            idx = j
            break
    if idx is None:
        raise TesseraError("wrong_sender")
    if idx != len(cards) - 1:
        successor = cards[idx + 1]
        if made_at is None:
            raise TesseraError("made_at_required")
        if made_at >= successor["created_at"]:
            raise TesseraError("signer_key_replaced")
    if not ed25519_verify_strict(cards[idx]["A"],
                                 message_signing_message(purpose, header, plaintext), signature):
        raise TesseraError("signature_invalid")
    return cards[idx]


def decrypt_message(env, reader, sender_cards, made_at, purpose="data"):
    header, plaintext, kid, sig = open_envelope(env, reader, purpose)
    card = verify_sender(purpose, header, plaintext, kid, sig, sender_cards, made_at)
    return plaintext, card


# ---------------------------------------------------------------------------------------
# §5 Password backup
# ---------------------------------------------------------------------------------------

BACKUP_MAGIC = b"TSBK"
BACKUP_LEN = 94


def argon2id(password, salt, m, t, p, length):
    return hash_secret_raw(secret=password, salt=salt, time_cost=t, memory_cost=m,
                           parallelism=p, hash_len=length, type=Type.ID, version=0x13)


# §5.2: writers' defaults; readers accept at most 4 times them (and p <= 4).
KDF_DEFAULT_M, KDF_DEFAULT_T = 65536, 3


def backup_create(root_secret, password, salt, nonce, m=KDF_DEFAULT_M, t=KDF_DEFAULT_T, p=1):
    if password == "":
        raise TesseraError("empty_password")
    head = BACKUP_MAGIC + b"\x01\x01" + u32(m) + u32(t) + u32(p) + salt + nonce
    key = argon2id(password.encode("utf-8"), salt, m, t, p, 32)
    return head + aead_seal(key, nonce, head, root_secret)


def backup_open(blob, password):
    # Check order (§5.2): magic, version, KDF id, length, parameters.
    if len(blob) < 4 or blob[:4] != BACKUP_MAGIC:
        raise TesseraError("malformed", "magic")
    if len(blob) < 6:
        raise TesseraError("malformed", "length")
    if blob[4] != 0x01:
        raise TesseraError("unsupported_version")
    if blob[5] != 0x01:
        raise TesseraError("unsupported_kdf")
    if len(blob) != BACKUP_LEN:
        raise TesseraError("malformed", "length")
    m, t, p = struct.unpack(">III", blob[6:18])
    if not (1 <= p <= 4 and 8 * p <= m <= 4 * KDF_DEFAULT_M and 1 <= t <= 4 * KDF_DEFAULT_T):
        raise TesseraError("parameters_out_of_range")
    salt, nonce = blob[18:34], blob[34:46]
    key = argon2id(password.encode("utf-8"), salt, m, t, p, 32)
    rs = aead_open(key, nonce, blob[:46], blob[46:])
    if rs is None:
        raise TesseraError("wrong_password")
    return rs


def derive_passwords(password, app_id, identity):
    """§5.3: Argon2id at the default cost, salted with the app id and the identity."""
    if password == "":
        raise TesseraError("empty_password")
    app, who = app_id.encode("utf-8"), identity.encode("ascii")
    if not 1 <= len(app) <= 255:
        raise TesseraError("invalid_input")
    salt = sha256(b"tessera/v2/derive-passwords" + bytes([len(app)]) + app
                  + bytes([len(who)]) + who)
    out = argon2id(password.encode("utf-8"), salt, KDF_DEFAULT_M, KDF_DEFAULT_T, 1, 64)
    return b64url(out[:32]), b64url(out[32:])


# ---------------------------------------------------------------------------------------
# §6 Access tokens
# ---------------------------------------------------------------------------------------

MAX_TOKEN_LENGTH = 4096
MAX_JSON_DEPTH = 32
NOT_AN_INTEGER = object()  # any number that §6 does not call a JSON integer


def _json_depth(value):
    """Nesting level: the object itself is 1, a container directly inside level n is n+1."""
    if isinstance(value, dict):
        return 1 + max((_json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(v) for v in value), default=0)
    return 0


def _strings_are_scalar_values(value):
    """No string (member names included) holds a lone surrogate."""
    def ok(text):
        try:
            text.encode("utf-8")
            return True
        except UnicodeEncodeError:
            return False
    if isinstance(value, str):
        return ok(value)
    if isinstance(value, dict):
        return all(ok(k) and _strings_are_scalar_values(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_strings_are_scalar_values(v) for v in value)
    return True


def _token_json_object(raw):
    """§6 "JSON text": UTF-8 as a whole, RFC 8259 only, no duplicate names at any depth,
    no escaped lone surrogates, at most 32 levels; integers only as plain digits."""
    def no_dupes(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ValueError(f"duplicate member {k!r}")
            obj[k] = v
        return obj

    def no_constants(name):
        raise ValueError(f"non-JSON constant {name}")

    text = raw.decode("utf-8")  # strict: raises UnicodeDecodeError
    try:
        obj = json.loads(text, object_pairs_hook=no_dupes, parse_constant=no_constants,
                         parse_int=lambda s: NOT_AN_INTEGER if s.startswith("-") else int(s),
                         parse_float=lambda s: NOT_AN_INTEGER)
    except RecursionError:
        raise ValueError("nested too deeply")
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if _json_depth(obj) > MAX_JSON_DEPTH:
        raise ValueError("nested too deeply")
    if not _strings_are_scalar_values(obj):
        raise ValueError("escaped lone surrogate")
    return obj


def _is_u64(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64


def default_audience(app_id):
    return "tessera:" + app_id


def sign_token(seed, kid, claims):
    """Minting, only to cross-check the vectors' tokens (compact JSON, header field order)."""
    h = json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": kid}, separators=(",", ":"))
    c = json.dumps(claims, separators=(",", ":"))
    signing_input = b64url(h.encode()) + "." + b64url(c.encode())
    return signing_input + "." + b64url(ed25519_sign(seed, signing_input.encode("ascii")))


def verify_token(token, issuer, audience, app_keys, now, leeway=60, max_lifetime=86400):
    # 1. length of the text, three parts, header: b64url, JSON text, string alg
    if len(token.encode("utf-8")) > MAX_TOKEN_LENGTH:
        raise TesseraError("malformed", "too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise TesseraError("malformed", "not three parts")
    try:
        header = _token_json_object(b64url_decode(parts[0]))
    except (ValueError, UnicodeDecodeError) as e:
        raise TesseraError("malformed", f"header: {e}")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TesseraError("malformed", "alg")
    # 2. alg, crit, typ
    if alg != "EdDSA":
        raise TesseraError("unsupported_algorithm", repr(alg))
    if "crit" in header:
        raise TesseraError("unsupported_critical")
    if "typ" in header:
        typ = header["typ"]
        if not (isinstance(typ, str) and typ.isascii() and typ.lower() == "jwt"):
            raise TesseraError("malformed", "typ")
    # 3. kid
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TesseraError("malformed", "kid")
    key = next((k for k in app_keys if signing_key_id(k).hex() == kid), None)
    if key is None:
        raise TesseraError("unknown_key")
    # 4. signature over the token's bytes before the second dot; claims not decoded yet
    try:
        sig = b64url_decode(parts[2])
    except ValueError as e:
        raise TesseraError("malformed", f"signature: {e}")
    if len(sig) != 64:
        raise TesseraError("malformed", "signature length")
    if not ed25519_verify_strict(key, (parts[0] + "." + parts[1]).encode("utf-8"), sig):
        raise TesseraError("bad_signature")
    # 5. claims: b64url, JSON text, member types; then iss, aud, sub
    try:
        claims = _token_json_object(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as e:
        raise TesseraError("malformed", f"claims: {e}")
    if not (isinstance(claims.get("iss"), str) and isinstance(claims.get("sub"), str)
            and _is_u64(claims.get("iat")) and _is_u64(claims.get("exp"))):
        raise TesseraError("malformed", "claim types")
    if "nbf" in claims and not _is_u64(claims["nbf"]):
        raise TesseraError("malformed", "nbf")
    aud = claims.get("aud")
    if "aud" in claims and not (isinstance(aud, str) or (
            isinstance(aud, list) and all(isinstance(a, str) for a in aud))):
        raise TesseraError("malformed", "aud")
    if claims["iss"] != issuer:
        raise TesseraError("wrong_issuer")
    if "aud" not in claims:
        raise TesseraError("wrong_audience", "missing")
    if not (aud == audience if isinstance(aud, str) else audience in aud):
        raise TesseraError("wrong_audience", repr(aud))
    sub = claims["sub"]
    if not (sub.isascii() and identity_valid(sub.encode("ascii"))):
        raise TesseraError("invalid_subject")
    # 6. times
    iat, exp = claims["iat"], claims["exp"]
    if not exp + leeway > now:
        raise TesseraError("expired")
    if not iat <= now + leeway or ("nbf" in claims and not claims["nbf"] <= now + leeway):
        raise TesseraError("not_yet_valid")
    if not (iat <= exp and exp - iat <= max_lifetime):
        raise TesseraError("lifetime_too_long")
    return {k: claims[k] for k in ("iss", "sub", "aud", "iat", "exp", "nbf") if k in claims}


# ---------------------------------------------------------------------------------------
# §7 Safety numbers
# ---------------------------------------------------------------------------------------

def fingerprint(identity, a, x):
    h = sha512(b"\x00\x01" + a + x + identity.encode("ascii"))
    for _ in range(5200):
        h = sha512(h + a)
    return "".join("%05d" % (int.from_bytes(h[i:i + 5], "big") % 100000)
                   for i in range(0, 30, 5))


def safety_number(id_a, keys_a, id_b, keys_b):
    digits = "".join(sorted([fingerprint(id_a, *keys_a), fingerprint(id_b, *keys_b)]))
    return " ".join(digits[i:i + 5] for i in range(0, 60, 5))


# ---------------------------------------------------------------------------------------
# §8 Groups
# ---------------------------------------------------------------------------------------

GROUP_ID_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
TICKET_MAGIC, TICKET_BLOB_MAGIC, GROUP_MSG_MAGIC = b"TSGT", b"TSGB", b"TSGM"
GROUP_VERSION = 0x02  # tickets, ticket blobs and group messages alike


def group_id_valid(gid):
    return 1 <= len(gid) <= 128 and all(c in GROUP_ID_CHARS for c in gid)


class Reader:
    """Sequential field reader; `short` is the error kind for input cut short."""

    def __init__(self, data, short):
        self.data, self.pos, self.short = data, 0, short

    def take(self, n):
        if self.pos + n > len(self.data):
            raise TesseraError(self.short, "input cut short")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def done(self):
        return self.pos == len(self.data)


def _magic_version(rd, magic):
    if rd.take(4) != magic:
        raise TesseraError("malformed", "bad magic")
    if rd.u8() != GROUP_VERSION:
        raise TesseraError("unsupported_version")


def _group_id(rd):
    gid = rd.take(rd.u8())
    if not group_id_valid(gid):
        raise TesseraError("invalid_group_id")
    return gid.decode("ascii")


def parse_ticket(data):
    """§8.1. Returns (group id, [records]). Kinds for magic/version/cut short/r = 0 are
    not stated in §8.1: assumed malformed / unsupported_version / malformed / malformed."""
    rd = Reader(data, "malformed")
    _magic_version(rd, TICKET_MAGIC)
    gid = _group_id(rd)
    r = rd.u16()
    if r < 1:
        raise TesseraError("malformed", "no record")
    records = []
    for _ in range(r):
        epoch = rd.u32()
        secret = rd.take(32)
        c = rd.u32()
        if not 1 <= c <= MAX_RECIPIENTS:
            raise TesseraError("participant_count")
        parts = []
        for _ in range(c):
            ident = rd.take(rd.u8())
            if not identity_valid(ident):
                raise TesseraError("invalid_identity")
            parts.append(ident.decode("ascii"))
        records.append({"epoch": epoch, "secret": secret, "participants": parts})
    if not rd.done():
        raise TesseraError("malformed", "trailing bytes")
    return gid, records


def open_ticket_blob(blob, reader, group_id, stored_epoch, initiator_cards, made_at):
    """§8.2 reader, front to back: each envelope is read and opened in turn (purpose
    group-ticket: a data envelope is [`wrong_purpose`]), trailing bytes are checked after
    the last one. Returns the epoch records it can read, envelope 0's first, each epoch
    once (a later record for an epoch already seen is ignored)."""
    rd = Reader(blob, "malformed")
    _magic_version(rd, TICKET_BLOB_MAGIC)
    k = rd.u8()
    if not 1 <= k <= 2:
        raise TesseraError("malformed", "envelope count")
    records, seen, opened = [], set(), 0
    for idx in range(k):
        env = rd.take(rd.u32())
        try:
            plaintext, _ = decrypt_message(env, reader, initiator_cards, made_at,
                                           purpose="group-ticket")
        except TesseraError as e:
            if e.kind == "not_a_recipient":
                continue
            raise
        opened += 1
        gid, recs = parse_ticket(plaintext)
        if gid != group_id:
            raise TesseraError("invalid_ticket", "group id")
        if idx == 0:
            if len(recs) != 1 or recs[0]["epoch"] != stored_epoch:
                raise TesseraError("invalid_ticket", "envelope 0 must carry the stored epoch")
        elif any(rec["epoch"] >= stored_epoch for rec in recs):  # envelope 1 (k <= 2)
            raise TesseraError("invalid_ticket", "history epochs must be older")
        for rec in recs:
            if rec["epoch"] not in seen:
                seen.add(rec["epoch"])
                records.append(rec)
    if not rd.done():
        raise TesseraError("malformed", "trailing bytes")
    if opened == 0:
        raise TesseraError("not_in_ticket")
    return records


def parse_group_message_header(msg):
    """§8.3: field by field; input cut before a field is complete is [`truncated`]."""
    rd = Reader(msg, "truncated")
    _magic_version(rd, GROUP_MSG_MAGIC)
    gid = _group_id(rd)
    epoch = rd.u32()
    payload_nonce = rd.take(16)
    return rd.pos, gid, epoch, payload_nonce


def decrypt_group_message(msg, group_id, epochs, sender_cards, made_at):
    """§8.3 reader; `epochs` maps epoch -> (secret, participants). Returns (pt, card).
    The payload is §4.3-§4.5 with the purpose label "group-message"."""
    header_len, gid, epoch, payload_nonce = parse_group_message_header(msg)
    if gid != group_id:
        raise TesseraError("wrong_group")
    if epoch not in epochs:
        raise TesseraError("group_epoch_unknown")
    secret, participants = epochs[epoch]
    header = msg[:header_len]
    plaintext, kid, sig = open_payload(GROUP_MESSAGE, payload_nonce, secret, header,
                                       msg[header_len:])
    card = verify_sender(GROUP_MESSAGE, header, plaintext, kid, sig, sender_cards, made_at)
    if card["identity"] not in participants:
        raise TesseraError("sender_not_participant")
    return plaintext, card, epoch


# ---------------------------------------------------------------------------------------
# Vector runners: each returns None on success or raises AssertionError / TesseraError.
# ---------------------------------------------------------------------------------------

def hx(s):
    return bytes.fromhex(s)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(kind, fn):
    try:
        fn()
    except TesseraError as e:
        check(e.kind == kind, f"expected [{kind}], got [{e.kind}] ({e})")
        return
    raise AssertionError(f"expected [{kind}], but it was accepted")


def run_keys(doc, case):
    ident = derive_identity(hx(case["root_secret"]))
    check(ident["A"].hex() == case["ed25519_public_key"], "ed25519 public key")
    check(ident["X"].hex() == case["x25519_public_key"], "x25519 public key")
    check(signing_key_id(ident["A"]).hex() == case["signing_key_id"], "signing key id")
    check(encryption_key_id(ident["X"]).hex() == case["encryption_key_id"], "encryption key id")
    check(ed25519_public_key_valid(ident["A"]) and x25519_public_key_valid(ident["X"]),
          "derived keys valid per §2")


def run_cards(doc, case):
    snapshot, signature = hx(case["snapshot"]), hx(case["signature"])
    if not case["valid"]:
        expect_error(case["error"], lambda: verify_card(snapshot, signature))
        return
    ident = derive_identity(hx(case["root_secret"]))
    prev = case["previous_card_id"]
    built = build_snapshot(case["identity"], ident["A"], ident["X"], case["created_at"],
                           None if prev is None else hx(prev))
    check(built == snapshot, "snapshot rebuilt from root secret and fields")
    check(ed25519_sign(ident["seed"], card_signing_message(built)) == signature,
          "self-signature recomputed")
    card = verify_card(snapshot, signature)
    check(card["card_id"].hex() == case["card_id"], "card id")
    check(card["identity"] == case["identity"] and card["created_at"] == case["created_at"],
          "parsed identity / created_at")
    check((card["previous_card_id"].hex() if card["previous_card_id"] else None) == prev,
          "parsed previous_card_id")
    check(card_text(snapshot, signature) == case["text"], "text encoding")
    check(parse_card_text(case["text"])["card_id"] == card["card_id"], "text decoding")


def _sender_cards(case):
    return [(hx(c["snapshot"]), hx(c["signature"])) for c in case["sender_cards"]]


def run_envelopes(doc, case):
    env = hx(case["envelope"])
    reader = derive_identity(hx(case["decrypt_with_root_secret"]))
    cards = _sender_cards(case)
    if not case["valid"]:
        expect_error(case["error"],
                     lambda: decrypt_message(env, reader, cards, case["made_at"]))
        return
    if "ephemeral_secret" in case:  # writer side: rebuild the envelope byte for byte
        sender = derive_identity(hx(case["sender_root_secret"]))
        recips = [(hx(r["signing"]), hx(r["encryption"])) for r in case["recipients"]]
        built = encrypt(hx(case["plaintext"]), sender["seed"], recips, hx(case["content_key"]),
                        hx(case["payload_nonce"]), hx(case["ephemeral_secret"]))
        check(built == env, "envelope rebuilt from explicit randomness")
    plaintext, card = decrypt_message(env, reader, cards, case["made_at"])
    check(plaintext.hex() == case["plaintext"], "plaintext")
    check(card["card_id"].hex() == case["signer_card_id"], "signer card id")
    if case["name"] == "hello to bob":  # the byte counts and values walked through in §10
        header_len = parse_header(env, "data")[0]
        check(header_len == ENV_FIXED_LEN + X25519_STANZA_LEN == 117 and len(env) == 215
              and len(env) - header_len == 98,
              "§10 sizes (117-byte header = 58 + 59 x 1, 215-byte envelope, 98-byte sealed_0)")
        check(env[:6].hex() == "545345560201" and env[54:58].hex() == "00000001",
              "§10 magic, version 2, purpose data, n = 1")
        check(env[22:54].hex() == "dc2cca31e8e43bbd91dff7e475cca334"
              "7eb478107d5bd765aba4ae4a30c35d44", "§10 E")
        check(env[58:69].hex() == "0194a15f83f90024820030", "§10 algorithm, stanza id, body_len")
        check(env[59:67] != encryption_key_id(reader["X"]), "§10 stanza id is not the key id")
        check(env[69:117].hex() == "ee443d7cf0097e24c627a312ce07723d"
              "cd0963139c7c5815cb1576cb68afdb23" "cc1c825481eaa4028d8e974b8fef7a3c",
              "§10 wrapped content key and tag")
        check(env[117:125].hex() == "589bfd25b799acbe" and env[-6:].hex() == "35e5d7977d90",
              "§10 first and last bytes of sealed_0")
        _, _, kid, _ = open_envelope(env, reader)
        check(kid.hex() == "caed590b49014e83", "§10 trailer key id")


def run_backups(doc, case):
    if "derive_passwords" in case:
        args = (case["derive_passwords"], case["app_id"], case["identity"])
        if not case["valid"]:
            expect_error(case["error"], lambda: derive_passwords(*args))
            return
        login, backup = derive_passwords(*args)
        check(login == case["login_password"], "login_password")
        check(backup == case["backup_password"], "backup_password")
        return
    blob = hx(case["blob"])
    if not case["valid"]:
        expect_error(case["error"], lambda: backup_open(blob, case["password"]))
        return
    built = backup_create(hx(case["root_secret"]), case["password"], hx(case["salt"]),
                          hx(case["nonce"]), case["memory_kib"], case["iterations"],
                          case["parallelism"])
    check(built == blob, "blob rebuilt")
    check(backup_open(blob, case["password"]).hex() == case["root_secret"], "root secret")


def run_tokens(doc, case):
    keys = [hx(k) for k in doc["app_public_keys"]]
    issuer, audience = doc["issuer"], doc["audience"]
    check(audience == default_audience(issuer), "the vectors' audience is the default")
    verify = lambda: verify_token(case["token"], issuer, audience, keys, case["now"])  # noqa: E731
    if not case["valid"]:
        expect_error(case["error"], verify)
        return
    claims = verify()
    check(claims == case["claims"], "claims")
    if not case["minted"]:
        return
    seed = hx(doc["app_seed"])
    check(ed25519_public(seed) in keys, "app_seed matches an accepted key")
    ordered = {k: case["claims"][k] for k in ("iss", "sub", "aud", "iat", "exp", "nbf")
               if k in case["claims"]}  # member order of the §6 template
    check(sign_token(seed, signing_key_id(ed25519_public(seed)).hex(), ordered)
          == case["token"], "token re-minted byte for byte")


def run_safety_numbers(doc, case):
    a = derive_identity(hx(case["root_secret_a"]))
    b = derive_identity(hx(case["root_secret_b"]))
    ka, kb = (a["A"], a["X"]), (b["A"], b["X"])
    ab = safety_number(case["identity_a"], ka, case["identity_b"], kb)
    ba = safety_number(case["identity_b"], kb, case["identity_a"], ka)
    check(ab == case["safety_number"], f"safety number {ab}")
    check(ba == ab, "order independence")


def run_groups(doc, case):
    if case["kind"] == "ticket":
        blob = hx(case["blob"])
        cards = [(hx(c["snapshot"]), hx(c["signature"])) for c in case["initiator_cards"]]
        for j, reader in enumerate(case["readers"]):
            ident = derive_identity(hx(reader["root_secret"]))
            run = lambda: open_ticket_blob(blob, ident, case["group_id"],  # noqa: E731
                                           case["stored_epoch"], cards, case.get("made_at"))
            try:
                if not reader["valid"]:
                    expect_error(reader["error"], run)
                    continue
                got = [{"epoch": r["epoch"], "participants": r["participants"],
                        "secret": r["secret"].hex()} for r in run()]
                check(got == reader["epochs"], f"epoch records {got}")
            except (AssertionError, TesseraError) as e:
                raise AssertionError(f"reader {j}: {e}")
        return
    check(case["kind"] == "message", f"unknown kind {case['kind']!r}")
    epochs = {e["epoch"]: (hx(e["secret"]), e["participants"]) for e in case["epochs"]}
    msg = hx(case["message"])
    run = lambda: decrypt_group_message(msg, case["group_id"], epochs,  # noqa: E731
                                        _sender_cards(case), case.get("made_at"))
    if not case["valid"]:
        expect_error(case["error"], run)
        return
    plaintext, card, epoch = run()
    check(plaintext.hex() == case["plaintext"], "plaintext")
    check(epoch == case["epoch"], "epoch")
    if "signer_card_id" in case:
        check(card["card_id"].hex() == case["signer_card_id"], "signer card id")


RUNNERS = {
    "groups.json": run_groups,
    "keys.json": run_keys,
    "cards.json": run_cards,
    "envelopes.json": run_envelopes,
    "backups.json": run_backups,
    "tokens.json": run_tokens,
    "safety-numbers.json": run_safety_numbers,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    vec_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "test-vectors")
    files = sorted(f for f in os.listdir(vec_dir) if f.endswith(".json"))
    total_ok = total_bad = 0
    for name in files:
        with open(os.path.join(vec_dir, name), encoding="utf-8") as fh:
            doc = json.load(fh)
        runner = RUNNERS.get(name)
        ok = bad = 0
        if runner is None:  # a vector file whose format this script does not implement
            bad = len(doc.get("cases", [])) or 1
            print(f"  FAIL {name}: no implementation for {doc.get('spec', '?')}; "
                  f"{bad} case(s) unverified")
        else:
            for i, case in enumerate(doc["cases"]):
                label = case.get("name", f"case {i}")
                try:
                    runner(doc, case)
                    ok += 1
                except (AssertionError, TesseraError) as e:
                    bad += 1
                    print(f"  FAIL {name} #{i} {label!r}: {e}")
                except Exception:  # a bug or an unmapped library error
                    bad += 1
                    print(f"  FAIL {name} #{i} {label!r}: unexpected exception")
                    traceback.print_exc(file=sys.stdout)
        print(f"[{name}] {ok + bad} cases: {ok} ok, {bad} bad")
        total_ok += ok
        total_bad += bad
    print(f"{total_ok} passed, {total_bad} failed")
    return 0 if total_bad == 0 and total_ok > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
