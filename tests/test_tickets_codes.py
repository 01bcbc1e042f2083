"""Signed ticket codes: what verifies, and that nothing altered, truncated or foreign does."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

import pytest
import segno
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.tickets.codes import (
    PREFIX,
    ForgedTicketCode,
    MalformedTicketCode,
    SigningKeyError,
    TicketClaims,
    TicketCodeError,
    TicketCodeProblem,
    TicketSigner,
    TicketVerifier,
    UnsupportedTicketVersion,
    decode_payload,
    encode_payload,
    generate_signing_key,
    initials,
    load_public_key,
    load_signing_key,
    normalize,
    public_key_base64url,
    public_key_pem,
    signing_key_text,
)

SEED = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"  # RFC 8032 test 1's secret key
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def claims(**changes: Any) -> TicketClaims:
    values: dict[str, Any] = dict(
        ticket_id="1042",
        order="0f3c5b1a9e8d4c7b8a6f5e4d3c2b1a09",
        trip_id=123456,
        seat="12C",
        from_seq=0,
        to_seq=5,
        passenger_initials=initials("Иван Петров"),
        departure_date=date(2026, 12, 25),
        issued_at=datetime(2026, 12, 3, 8, 15, 30, tzinfo=UTC),
    )
    values.update(changes)
    return TicketClaims(**values)


@pytest.fixture(scope="module")
def signer() -> TicketSigner:
    """The service's signer, on a fixed key."""
    return TicketSigner(load_signing_key(SEED))


@pytest.fixture(scope="module")
def code(signer: TicketSigner) -> str:
    """One signed code."""
    return signer.sign(claims())


def test_round_trip(signer: TicketSigner, code: str) -> None:
    assert code.startswith(PREFIX)
    assert set(code[len(PREFIX) :]) <= set(ALPHABET)
    assert signer.verifier().verify(code) == claims()


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"ticket_id": "t-17", "order": "KX7Q2M"},
        {"ticket_id": "0", "order": "ABCDEF0123"},
        {"ticket_id": "00ff", "order": "007"},  # leading zeros are not a number: kept as hex/text
        {"seat": "座12", "passenger_initials": "王"},
        {"trip_id": 2**62, "from_seq": 41, "to_seq": 42},
        {"departure_date": date(2179, 6, 1), "issued_at": datetime(2105, 1, 1, tzinfo=UTC)},
    ],
)
def test_round_trip_of_field_shapes(signer: TicketSigner, changes: dict) -> None:
    expected = claims(**changes)
    assert signer.verifier().verify(signer.sign(expected)) == expected


def test_typed_code_is_read_regardless_of_case_spaces_and_hyphens(
    signer: TicketSigner, code: str
) -> None:
    body = code[len(PREFIX) :].lower()
    typed = "k1. " + "-".join(body[i : i + 5] for i in range(0, len(body), 5))
    assert signer.verifier().verify(typed) == claims()


def test_a_typical_code_fits_a_small_qr_code(signer: TicketSigner) -> None:
    for order in ("KX7Q2M", "0f3c5b1a9e8d4c7b8a6f5e4d3c2b1a09"):  # a short reference, a UUID
        text = signer.sign(claims(order=order, ticket_id="98765"))
        qr = segno.make(text, error="m", boost_error=False)
        assert qr.mode == "alphanumeric"
        assert qr.version <= 8  # 49x49 modules: about 1 mm a module on a 5 cm code


def test_issued_at_is_kept_to_the_second_in_utc() -> None:
    moscow = datetime(2026, 12, 3, 11, 15, 30, 999_999).astimezone()
    assert claims(issued_at=moscow).issued_at == moscow.astimezone(UTC).replace(microsecond=0)
    with pytest.raises(ValueError, match="aware"):
        claims(issued_at=datetime(2026, 1, 1))  # noqa: DTZ001


def test_initials() -> None:
    assert initials("Anna Lee") == "AL"
    assert initials("王小明") == "王"
    assert initials("  иван   петров ") == "ИП"
    assert initials("Ana María de la Cruz") == "AMDL"


def test_one_changed_character_is_refused(signer: TicketSigner, code: str) -> None:
    verifier = signer.verifier()
    for index in range(len(PREFIX), len(code)):
        replacement = "B" if code[index] == "A" else "A"
        changed = code[:index] + replacement + code[index + 1 :]
        with pytest.raises(TicketCodeError):
            verifier.verify(changed)


def test_one_changed_byte_is_refused_as_forged_or_malformed(
    signer: TicketSigner, code: str
) -> None:
    raw = bytearray(base64.b32decode(code[len(PREFIX) :] + "=" * (-len(code) % 8 + 3)))
    verifier = signer.verifier()
    problems = set()
    for index in range(1, len(raw)):  # byte 0 is the version: its own test below
        changed = bytearray(raw)
        changed[index] ^= 0x01
        text = PREFIX + base64.b32encode(bytes(changed)).decode().rstrip("=")
        with pytest.raises(TicketCodeError) as refused:
            verifier.verify(text)
        problems.add(refused.value.problem)
    assert TicketCodeProblem.FORGED in problems


def test_another_key_is_refused_as_forged(code: str) -> None:
    other = TicketVerifier(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(ForgedTicketCode):
        other.verify(code)


def test_a_rotated_verifier_accepts_the_old_key(signer: TicketSigner, code: str) -> None:
    verifier = TicketVerifier(Ed25519PrivateKey.generate().public_key(), signer.public_key)
    assert verifier.verify(code) == claims()


@pytest.mark.parametrize("cut", [1, 2, 5, 13, 40, 100])
def test_a_truncated_code_is_refused_as_malformed(
    signer: TicketSigner, code: str, cut: int
) -> None:
    with pytest.raises(MalformedTicketCode):
        signer.verifier().verify(code[:-cut])


def test_a_code_with_extra_characters_is_refused(signer: TicketSigner, code: str) -> None:
    for extra in ("A", "AA", "AAAAAAAA", "Q"):
        with pytest.raises(TicketCodeError):
            signer.verifier().verify(code + extra)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", MalformedTicketCode),
        ("hello", MalformedTicketCode),
        ("K1.", MalformedTicketCode),
        ("K1.!!!!", MalformedTicketCode),
        ("K1.AAAAAAAA", MalformedTicketCode),
        ("https://example.com/ticket", MalformedTicketCode),
        ("K1." + "A" * 5000, MalformedTicketCode),
        ("K2.AEBJECAB", UnsupportedTicketVersion),
        ("K1.AI", MalformedTicketCode),  # payload version byte 2 under a K1 prefix
    ],
)
def test_not_a_ticket_code(signer: TicketSigner, text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        signer.verifier().verify(text)


def test_a_relabelled_version_is_refused(signer: TicketSigner, code: str) -> None:
    with pytest.raises(UnsupportedTicketVersion):
        signer.verifier().verify("K2." + code[len(PREFIX) :])


def test_non_canonical_last_character_is_refused(signer: TicketSigner) -> None:
    # The last base32 character may carry unused low bits; another spelling of them is not
    # our code, so only one text verifies per ticket.
    for seat in ("1A", "12A", "123A", "1234A", "12345A"):
        code = signer.sign(claims(seat=seat))
        body = code[len(PREFIX) :]
        unused = len(body) * 5 % 8
        if unused:
            break
    assert unused
    index = ALPHABET.index(body[-1])
    for flip in range(1, 1 << unused):
        with pytest.raises(MalformedTicketCode):
            signer.verifier().verify(code[:-1] + ALPHABET[index ^ flip])


mutations = st.lists(
    st.tuples(
        st.sampled_from(["replace", "insert", "delete"]),
        st.integers(min_value=0, max_value=400),
        st.sampled_from(ALPHABET + "01890.=K"),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=400, deadline=None)
@given(mutations=mutations)
def test_random_mutations_never_verify(signer: TicketSigner, code: str, mutations) -> None:
    text = code
    for kind, position, char in mutations:
        index = position % (len(text) + (kind == "insert"))
        if kind == "replace" and index < len(text):
            text = text[:index] + char + text[index + 1 :]
        elif kind == "insert":
            text = text[:index] + char + text[index:]
        elif kind == "delete" and len(text) > 1:
            text = text[:index] + text[index + 1 :]
    if normalize(text) == code:
        return  # the mutations cancelled out
    with pytest.raises(TicketCodeError):
        signer.verifier().verify(text)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=0, max_size=200))
def test_random_bytes_never_verify(signer: TicketSigner, data: bytes) -> None:
    text = PREFIX + base64.b32encode(data).decode().rstrip("=")
    with pytest.raises(TicketCodeError):
        signer.verifier().verify(text)


@settings(max_examples=200, deadline=None)
@given(
    ticket_id=st.one_of(st.integers(0, 2**60).map(str), st.text(min_size=1, max_size=20)),
    order=st.one_of(st.uuids().map(lambda u: u.hex), st.text(min_size=1, max_size=20)),
    seat=st.text(max_size=8),
    passenger=st.text(max_size=40),
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2150, 1, 1)),
)
def test_payload_round_trip(ticket_id, order, seat, passenger, day) -> None:
    expected = claims(
        ticket_id=ticket_id, order=order, seat=seat, passenger_initials=initials(passenger),
        departure_date=day,
    )
    assert decode_payload(encode_payload(expected)) == expected


# -- keys ----------------------------------------------------------------------------------


def test_seed_and_pem_forms_load_the_same_key() -> None:
    key = load_signing_key(SEED)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    standard_base64 = SEED.replace("-", "+").replace("_", "/")
    for text in (pem, pem.replace("\n", "\\n"), SEED + "=", standard_base64):
        assert signing_key_text(load_signing_key(text)) == SEED
    assert public_key_base64url(key) == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"  # RFC 8032


def test_generated_key_loads_and_signs() -> None:
    key = load_signing_key(generate_signing_key())
    signer = TicketSigner(key)
    verifier = TicketVerifier(load_public_key(public_key_pem(key)))
    assert verifier.verify(signer.sign(claims())) == claims()
    assert load_public_key(public_key_base64url(key)) == key.public_key()


def test_public_key_pem_is_spki() -> None:
    pem = public_key_pem(load_signing_key(SEED))
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("not a key!", "neither base64url nor a PEM"),
        ("c2hvcnQ", "decodes to 5 bytes; an Ed25519 seed is 32"),
        (SEED + SEED, "decodes to 64 bytes"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not a readable PEM"),
    ],
)
def test_bad_key_values_name_the_problem(value: str, words: str) -> None:
    with pytest.raises(SigningKeyError) as refused:
        load_signing_key(value)
    assert "KASSA_TICKET_SIGNING_KEY" in str(refused.value)
    assert words in str(refused.value)


def test_a_public_key_or_another_algorithm_is_refused_as_signing_key() -> None:
    public = public_key_pem(load_signing_key(SEED))
    with pytest.raises(SigningKeyError, match="public key; it needs the private key"):
        load_signing_key(public)
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(SigningKeyError, match="tickets are signed with Ed25519"):
        load_signing_key(ec_pem)
