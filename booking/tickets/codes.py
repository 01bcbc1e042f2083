"""Signed ticket codes: what the QR code carries, verifiable offline with the public key.

A code reads ``K1.`` followed by base32 (RFC 4648, upper case, no padding) of::

    payload   = version (1 byte, 0x01)
                ticket id       (tagged text, see below)
                order reference (tagged text)
                trip id         (varint)
                seat            (short text)
                from_seq        (varint)
                to_seq          (varint)
                passenger initials (short text)
                departure date  (varint, days since 2020-01-01, the boarding station's local date)
                issued at       (varint, Unix seconds)
    signature = Ed25519 over b"kassa-ticket\\x00" + payload (64 bytes)

Why this shape: upper-case base32 and the ``K1.`` prefix are all in the QR code's alphanumeric
set (5.5 bits a character, against 8 for base64url's byte mode), so a typical code (~150
characters) fits a version 6 QR code at error level M, and its letters are unambiguous to
type: case, spaces and hyphens are ignored when a code is read. The passenger appears as
initials only, to keep the code short and the name out of anything photographed. The
signature covers the version byte and a context string, so a code cannot be re-labelled as
another version nor replayed from another use of the key.

Varints are unsigned LEB128. A short text is one length byte and UTF-8. A tagged text is one
tag byte then: 0 UTF-8 (length byte first), 1 lower-case hex packed two digits a byte (length
byte first), 2 a decimal without leading zeros as a varint - so a UUID reference costs 17
bytes, not 33, and a database serial two or three.

Key: KASSA_TICKET_SIGNING_KEY holds the Ed25519 private key, either the 32-byte seed in
base64url (43 characters, padding optional; standard base64 is accepted too) or an
unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``; ``\\n`` escapes as found in .env
files are accepted). ``generate_signing_key()`` makes a new seed. The public key is published
as PEM or raw base64url (``public_key_pem``, ``public_key_base64url``).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
PREFIX = f"K{VERSION}."
SIGNATURE_SIZE = 64
SEED_SIZE = 32
CONTEXT = b"kassa-ticket\x00"
EPOCH = date(2020, 1, 1)
MAX_SHORT_TEXT = 32  # bytes of a seat label or initials
MAX_TEXT = 64  # bytes of a ticket id or order reference
MAX_VARINT_BYTES = 9  # up to 63 bits
KEY_SETTING = "KASSA_TICKET_SIGNING_KEY"
MAX_CODE_CHARS = 1000  # the longest possible code is ~500 characters, ~600 typed in groups

_PREFIX_RE = re.compile(r"K(\d+)\.")
_TYPING_NOISE = re.compile(r"[\s\-]+")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")

_TEXT, _HEX_TAG, _DECIMAL_TAG = 0, 1, 2


class TicketCodeProblem(StrEnum):
    """Why a code was refused; a scanner shows "forged or unreadable" either way."""

    MALFORMED = "malformed"  # not a ticket code: bad characters, truncated, bad structure
    UNSUPPORTED_VERSION = "unsupported_version"  # a ticket code of a version this build can't read
    FORGED = "forged"  # well formed, but not signed by our key (altered, or another key)


class TicketCodeError(ValueError):
    """A ticket code that must not be honoured; ``problem`` says which kind."""

    problem: TicketCodeProblem = TicketCodeProblem.MALFORMED


class MalformedTicketCode(TicketCodeError):
    problem = TicketCodeProblem.MALFORMED


class UnsupportedTicketVersion(TicketCodeError):
    problem = TicketCodeProblem.UNSUPPORTED_VERSION


class ForgedTicketCode(TicketCodeError):
    problem = TicketCodeProblem.FORGED


class SigningKeyError(ValueError):
    """A signing or public key value that cannot be used; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a ticket code asserts, as signed by the service."""

    ticket_id: str  # an integer id is passed as its decimal text
    order: str  # the booking reference the passenger sees
    trip_id: int
    seat: str
    from_seq: int
    to_seq: int
    passenger_initials: str
    departure_date: date  # local date of departure from the boarding stop
    issued_at: datetime  # aware; kept to the second

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        object.__setattr__(
            self, "issued_at", self.issued_at.astimezone(UTC).replace(microsecond=0)
        )


def initials(name: str, limit: int = 4) -> str:
    """The first letter of each word, upper case: "Anna Lee" -> "AL", "王小明" -> "王"."""
    letters = [word[0].upper() for word in name.split() if word]
    return "".join(letters[:limit])


# -- encoding ------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0 or value.bit_length() > 7 * MAX_VARINT_BYTES:
        raise ValueError(f"cannot encode {value} in a ticket code")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _short_text(text: str, limit: int = MAX_SHORT_TEXT) -> bytes:
    raw = text.encode()
    if len(raw) > limit:
        raise ValueError(f"{text!r} is longer than {limit} bytes")
    return bytes([len(raw)]) + raw


def _tagged_text(text: str) -> bytes:
    if _DECIMAL.fullmatch(text):
        return bytes([_DECIMAL_TAG]) + _varint(int(text))
    if _HEX.fullmatch(text):
        return bytes([_HEX_TAG]) + _short_text_bytes(bytes.fromhex(text), MAX_TEXT)
    return bytes([_TEXT]) + _short_text(text, MAX_TEXT)


def _short_text_bytes(raw: bytes, limit: int) -> bytes:
    if len(raw) > limit:
        raise ValueError(f"a field is longer than {limit} bytes")
    return bytes([len(raw)]) + raw


def encode_payload(claims: TicketClaims) -> bytes:
    if claims.departure_date < EPOCH:
        raise ValueError(f"departure date {claims.departure_date} is before {EPOCH}")
    return b"".join(
        (
            bytes([VERSION]),
            _tagged_text(claims.ticket_id),
            _tagged_text(claims.order),
            _varint(claims.trip_id),
            _short_text(claims.seat),
            _varint(claims.from_seq),
            _varint(claims.to_seq),
            _short_text(claims.passenger_initials),
            _varint((claims.departure_date - EPOCH).days),
            _varint(int(claims.issued_at.timestamp())),
        )
    )


# -- decoding ------------------------------------------------------------------------------


class _Reader:
    """Reads the payload's fields; any overrun or bad value is a malformed code."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise MalformedTicketCode("the ticket code is truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def varint(self) -> int:
        value = 0
        for index in range(MAX_VARINT_BYTES):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                # One value, one encoding: a trailing zero byte would make a second.
                if index and not byte:
                    raise MalformedTicketCode("a number in the ticket code is not minimal")
                return value
        raise MalformedTicketCode("a number in the ticket code is too long")

    def short_text(self, limit: int = MAX_SHORT_TEXT) -> str:
        raw = self.short_bytes(limit)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise MalformedTicketCode("a text in the ticket code is not UTF-8") from None

    def short_bytes(self, limit: int) -> bytes:
        size = self.take(1)[0]
        if size > limit:
            raise MalformedTicketCode("a text in the ticket code is too long")
        return self.take(size)

    def tagged_text(self) -> str:
        tag = self.take(1)[0]
        if tag == _DECIMAL_TAG:
            return str(self.varint())
        if tag == _HEX_TAG:
            raw = self.short_bytes(MAX_TEXT)
            if not raw:
                raise MalformedTicketCode("an empty hex text in the ticket code")
            return raw.hex()
        if tag == _TEXT:
            text = self.short_text(MAX_TEXT)
            # Canonical form only: a text that packs smaller must have been packed.
            if _DECIMAL.fullmatch(text) or _HEX.fullmatch(text):
                raise MalformedTicketCode("a text in the ticket code is not in its packed form")
            return text
        raise MalformedTicketCode(f"unknown text tag {tag} in the ticket code")


def _read_claims(reader: _Reader) -> TicketClaims:
    if reader.take(1)[0] != VERSION:
        raise MalformedTicketCode("the ticket code's version byte is not 1")
    ticket_id = reader.tagged_text()
    order = reader.tagged_text()
    trip_id = reader.varint()
    seat = reader.short_text()
    from_seq = reader.varint()
    to_seq = reader.varint()
    passenger = reader.short_text()
    try:
        departure = date.fromordinal(EPOCH.toordinal() + reader.varint())
        issued_at = datetime.fromtimestamp(reader.varint(), UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedTicketCode("a date in the ticket code is out of range") from None
    return TicketClaims(
        ticket_id, order, trip_id, seat, from_seq, to_seq, passenger, departure, issued_at
    )


def decode_payload(payload: bytes) -> TicketClaims:
    """The claims of a payload alone (no signature); for tests and diagnostics."""
    reader = _Reader(payload)
    claims = _read_claims(reader)
    if reader.pos != len(payload):
        raise MalformedTicketCode("the ticket code has bytes left over")
    return claims


def _split(raw: bytes) -> tuple[TicketClaims, bytes, bytes]:
    """Claims, payload and signature: the payload delimits itself, the signature is the rest.

    The claims are returned only after the signature has been checked (TicketVerifier).
    """
    reader = _Reader(raw)
    claims = _read_claims(reader)
    signature = raw[reader.pos :]
    if len(signature) < SIGNATURE_SIZE:
        raise MalformedTicketCode("the ticket code is truncated")
    if len(signature) > SIGNATURE_SIZE:
        raise MalformedTicketCode("the ticket code has bytes left over")
    return claims, raw[: reader.pos], signature


def looks_like_code(text: str) -> bool:
    """Whether ``text`` starts as a ticket code does once written as printed ("k1 .ab…"
    too, a later version's "K2." too): worth reading as one, forged or not."""
    return _PREFIX_RE.match(normalize(text)) is not None


def normalize(code: str) -> str:
    """The code as printed: upper case, without the spaces and hyphens people type."""
    return _TYPING_NOISE.sub("", code).upper()


def _unpack(code: str) -> bytes:
    if len(code) > MAX_CODE_CHARS:  # before any work on it: the text may come from anyone
        raise MalformedTicketCode("the text is too long to be a ticket code")
    text = normalize(code)
    match = _PREFIX_RE.match(text)
    if match is None:
        raise MalformedTicketCode("not a Kassa ticket code (no K1. prefix)")
    if int(match.group(1)) != VERSION:
        raise UnsupportedTicketVersion(f"ticket code version {match.group(1)} is not supported")
    body = text[match.end() :]
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise MalformedTicketCode("the ticket code has characters that do not belong") from None
    # base32's last character may carry unused bits: refuse any spelling but the one we print.
    if _b32(raw) != body:
        raise MalformedTicketCode("the ticket code is not in its canonical form")
    if not raw:
        raise MalformedTicketCode("the ticket code is empty")
    if raw[0] != VERSION:
        # The K1 prefix promises a version 1 payload; one that disagrees is not our code.
        raise MalformedTicketCode(f"a K1 ticket code with version byte {raw[0]}")
    return raw


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


# -- signing and verifying -----------------------------------------------------------------


class TicketSigner:
    """Issues ticket codes with the service's private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, claims: TicketClaims) -> str:
        payload = encode_payload(claims)
        return PREFIX + _b32(payload + self._key.sign(CONTEXT + payload))

    def verifier(self) -> TicketVerifier:
        return TicketVerifier(self.public_key)


class TicketVerifier:
    """Checks ticket codes offline: the claims, or a TicketCodeError saying why not.

    Several public keys may be given while keys are rotated: a code signed by any of them
    is accepted.
    """

    def __init__(self, public_key: Ed25519PublicKey, *older: Ed25519PublicKey) -> None:
        self._keys = (public_key, *older)

    def verify(self, code: str) -> TicketClaims:
        claims, payload, signature = _split(_unpack(code))
        for key in self._keys:
            try:
                key.verify(signature, CONTEXT + payload)
            except InvalidSignature:
                continue
            return claims
        raise ForgedTicketCode("the ticket code's signature does not match")


# -- keys ----------------------------------------------------------------------------------


def generate_signing_key() -> str:
    """A new private key as KASSA_TICKET_SIGNING_KEY takes it: the seed in base64url."""
    return _b64url(secrets.token_bytes(SEED_SIZE))


def signing_key_text(key: Ed25519PrivateKey) -> str:
    """The key's seed in base64url, the short form of KASSA_TICKET_SIGNING_KEY."""
    return _b64url(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    )


def load_signing_key(value: str, setting: str = KEY_SETTING) -> Ed25519PrivateKey:
    """Read the private key from a seed in base64url or a PEM; name what is wrong otherwise."""
    text = value.strip()
    if not text:
        raise SigningKeyError(
            f"{setting} is empty: set it to an Ed25519 key (32-byte seed in base64url, or PEM)"
        )
    if "-----BEGIN" in text:
        return _private_from_pem(text, setting)
    seed = _b64decode(text, setting)
    if len(seed) != SEED_SIZE:
        raise SigningKeyError(
            f"{setting} decodes to {len(seed)} bytes; an Ed25519 seed is {SEED_SIZE} bytes"
            " (43 base64url characters)"
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_public_key(value: str, setting: str = "public key") -> Ed25519PublicKey:
    """Read a public key given as PEM or as its 32 raw bytes in base64url."""
    text = value.strip()
    if "-----BEGIN" in text:
        pem = _unescape(text).encode()
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm) as error:
            raise SigningKeyError(f"{setting} is not a readable PEM public key: {error}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError(f"{setting} is a {_kind(key)} key, not Ed25519")
        return key
    raw = _b64decode(text, setting)
    if len(raw) != SEED_SIZE:
        raise SigningKeyError(
            f"{setting} decodes to {len(raw)} bytes; an Ed25519 public key is {SEED_SIZE}"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The public key as a SubjectPublicKeyInfo PEM (for GET /tickets/public-key)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_key_base64url(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The public key's 32 raw bytes in base64url without padding."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _b64url(
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _private_from_pem(text: str, setting: str) -> Ed25519PrivateKey:
    pem = _unescape(text).encode()
    if b"PUBLIC KEY" in pem:
        raise SigningKeyError(f"{setting} holds a public key; it needs the private key")
    if b"ENCRYPTED" in pem:
        raise SigningKeyError(f"{setting} is an encrypted PEM; give it unencrypted")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SigningKeyError(f"{setting} is not a readable PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{setting} is a {_kind(key)} key; tickets are signed with Ed25519")
    return key


def _kind(key: object) -> str:
    return type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace(
        "PublicKey", ""
    ) or "different"


def _unescape(text: str) -> str:
    # A PEM pasted into .env on one line keeps its line breaks as the two characters "\n".
    return text.replace("\\n", "\n")


def _b64decode(text: str, setting: str) -> bytes:
    cleaned = text.replace("+", "-").replace("/", "_").rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", cleaned):
        raise SigningKeyError(
            f"{setting} is neither base64url nor a PEM block (it has other characters)"
        )
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{setting} is not valid base64url") from None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

