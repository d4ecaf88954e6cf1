"""Whatever a scanner, an API client or the issuer hands the verifier, only
eSeal's own errors come out, and in bounded memory.

Property tests (Hypothesis) through the verifier's public paths: the QR text
a scanner types (``verifier.core.check``, which turns every ``EsealError``
into a verdict, so any other exception escapes and fails), SD-JWT VC
presentations, a proof's serial and check code as typed, counter codes, and
the status lists a bundle carries.  Inputs are random, and structured:
valid presentations with bytes changed at each layer (text, CBOR,
compressed stream), and credentials the seal itself signed over payloads of
any shape.
"""

from __future__ import annotations

import json
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from credential import base45, cbor, compact, cose, sdjwt, statuslist
from credential.checkcode import CHECK_CODE_LENGTH, check_code, normalise_check_code
from credential.errors import DecodeError, EsealError, Reason, StatusError
from credential.inflate import deflate
from schemas import all_types
from tests.hostile import (
    JSON_SCALARS,
    cbor_values,
    json_values,
    mutated,
    mutated_text,
    outcome,
    texts,
)
from verifier.core import Outcome, check, check_sd_jwt
from verifier.lookup import lookup_input
from verifier.nonces import NONCE_PREFIX, NonceBook, counter_nonce

from .fixtures import (
    ISSUER_URL,
    NOW,
    POLICY,
    RESIDENT,
    hand_jws,
    holder,
    issue,
    issue_sd_jwt,
    list_token,
    make_seal,
    make_trust,
)

SEAL, HOLDER = make_seal(), holder()
TRUST = make_trust(SEAL)
CREDENTIAL = issue(SEAL, HOLDER)
PRESENTED = compact.present(CREDENTIAL, HOLDER, now=NOW)
MB = 1024 * 1024


def _check(text: str) -> Outcome:
    return check(text, TRUST, POLICY, now=NOW, nonces=NonceBook().redeem)


def _verdict(text: str) -> Outcome:
    """The verdict on ``text``, counted in Hypothesis' statistics by reason."""
    verdict = _check(text)
    event("VALID" if verdict.valid else str(verdict.reason))
    return verdict


def _qr(raw: bytes, packed: bool = False) -> str:
    return compact.PREFIX + base45.encode(deflate(raw) if packed else raw)


# --- QR text, as a scanner types it -------------------------------------------

#: Prefixes a scanner may give: ours, other versions and schemes, case,
#: spacing, a byte-order mark, a URL around it.
_PREFIXES = st.sampled_from(
    ["ES1:", "ES2:", "es1:", "ES1", "ES:", "HC1:", "ESN:", " ES1:", "\ufeffES1:",
     "ES1:\n", "https://127.0.0.1/ES1:", ""]
)  # fmt: skip


@settings(max_examples=400)
@given(
    st.one_of(
        texts(400),
        st.tuples(_PREFIXES, st.text(alphabet=base45.ALPHABET, max_size=400)).map(
            "".join
        ),
        st.tuples(_PREFIXES, texts(60)).map("".join),
        st.builds(_qr, st.binary(max_size=400), st.booleans()),
    )
)
def test_any_scanned_text_gets_a_verdict(text: str) -> None:
    assert not _verdict(text).valid


@settings(max_examples=300)
@given(st.builds(_qr, cbor_values().map(cbor.dumps), st.booleans()))
def test_any_cbor_in_a_qr_gets_a_verdict(text: str) -> None:
    assert not _verdict(text).valid


def _members(credential: bytes) -> list[object]:
    return [1, credential, NOW, b"\x00" * 64]


@settings(max_examples=500)
@given(
    st.one_of(
        # The text itself, as a scanner might garble it.
        mutated_text(PRESENTED, base45.ALPHABET),
        # The CBOR under it, sent as is or compressed.
        st.builds(_qr, mutated(cbor.dumps(_members(CREDENTIAL))), st.booleans()),
        # The compressed stream.
        st.builds(
            lambda damaged: compact.PREFIX + base45.encode(damaged),
            mutated(deflate(cbor.dumps(_members(CREDENTIAL)))),
        ),
        # The credential inside an otherwise good presentation, and paper's.
        st.builds(
            lambda damaged, at: _qr(cbor.dumps([1, damaged, at, b"\x00" * 64])),
            mutated(CREDENTIAL),
            st.integers(min_value=-(2**64), max_value=2**64 - 1),
        ),
        st.builds(lambda damaged: _qr(cbor.dumps([1, damaged])), mutated(CREDENTIAL)),
    )
)
def test_a_damaged_presentation_gets_a_verdict_never_valid(text: str) -> None:
    # The holder's signature covers the credential, time and nonce, and
    # the seal's covers the payload: no change of any layer still verifies.
    assert not _verdict(text).valid


# --- credentials the seal signed, over payloads of any shape ------------------

_PAYLOAD = cbor.loads(cose.decode_sign1(CREDENTIAL).payload)
assert isinstance(_PAYLOAD, dict)
_TYPES = sorted(all_types().values(), key=lambda t: t.id)
_CLAIM_VALUES = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.integers(min_value=-3, max_value=80_000),
    st.binary(max_size=40),
    st.just(True),
    st.none(),
    st.lists(
        st.one_of(st.integers(min_value=0, max_value=10**6), st.binary(max_size=9)),
        max_size=3,
    ),
    cbor_values(2),
)


@st.composite
def _signed_payloads(draw: st.DrawFn) -> bytes:
    """A good credential's payload, signed by the seal, with a few things
    changed: members set to any CBOR or dropped, claims set to any value
    (or, now and then, claims of another type under its code), a profile
    code of any number."""
    payload = dict(_PAYLOAD)
    claims = dict(_PAYLOAD[-4])  # type: ignore[call-overload]
    ctype = RESIDENT
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        ctype = draw(st.sampled_from(_TYPES))
        payload[-1], claims = ctype.code, {}
    keys = sorted({s.qr_key for s in ctype.claims if s.qr_key is not None})
    for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            claims.pop(key, None)
        else:
            claims[key] = draw(_CLAIM_VALUES)
    payload[-4] = claims
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        payload[-5] = draw(
            st.one_of(
                st.sampled_from([p.code for p in ctype.profiles]),
                st.integers(min_value=-(2**64), max_value=2**64 - 1),
            )
        )
    for label in draw(
        st.lists(st.sampled_from([-5, -4, -3, -2, -1, 4, 6, 7, 99]), max_size=2)
    ):
        if draw(st.booleans()):
            payload.pop(label, None)
        else:
            payload[label] = draw(cbor_values(2))
    return cose.sign1(
        cbor.dumps(payload), SEAL.signer, kid=bytes.fromhex(SEAL.signer.kid)
    )


@settings(max_examples=400)
@given(_signed_payloads(), st.booleans())
def test_any_payload_the_seal_signed_gets_a_verdict(
    credential: bytes, printed: bool
) -> None:
    text = (
        compact.printed(credential)
        if printed
        else compact.present(credential, HOLDER, now=NOW)
    )

    _verdict(text)


# --- SD-JWT VC presentations ----------------------------------------------------

_SD_JWT = issue_sd_jwt(SEAL, HOLDER)[1]
AUD, NONCE = "https://hotel.example/verifier", "n-1"


def _sd_verdict(text: str) -> Outcome:
    verdict = check_sd_jwt(text, TRUST, POLICY, now=NOW, aud=AUD, nonce=NONCE)
    event("VALID" if verdict.valid else str(verdict.reason))
    return verdict


def _present(token: str) -> str:
    return sdjwt.present(token, holder=HOLDER, aud=AUD, nonce=NONCE, iat=NOW)


_SD_PRESENTED = _present(_SD_JWT)
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=300)
@given(
    st.one_of(
        texts(300),
        st.text(alphabet=_B64URL + ".~", max_size=600),
        mutated_text(_SD_PRESENTED, _B64URL + ".~"),
    )
)
def test_any_sd_jwt_text_gets_a_verdict_and_only_the_one_sent_is_valid(
    text: str,
) -> None:
    assert not _sd_verdict(text).valid or text == _SD_PRESENTED


_GOOD_MEMBERS: dict[str, object] = json.loads(
    sdjwt.jws.b64url_decode(_SD_JWT.split(".")[1])
)


@st.composite
def _signed_sd_jwts(draw: st.DrawFn) -> str:
    """The issued SD-JWT VC's payload with members (iss, vct, jti, times,
    cnf, status, claims) changed to any JSON or dropped, and claims added in
    clear with any value; signed by the seal and presented by the holder."""
    payload = dict(_GOOD_MEMBERS)
    names = sorted(payload) + [s.name for s in RESIDENT.claims]
    for name in draw(st.lists(st.sampled_from(names), max_size=4)):
        if draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = draw(st.one_of(JSON_SCALARS, json_values(2)))
    # Written by json.dumps, so that a lone surrogate travels as "\\ud800".
    token = hand_jws(SEAL.signer, {"typ": "dc+sd-jwt", "kid": SEAL.signer.kid}, payload)
    return _present(token + "~" + _SD_JWT.split("~", 1)[1])


@settings(max_examples=300)
@given(_signed_sd_jwts())
def test_any_sd_jwt_the_seal_signed_gets_a_verdict(text: str) -> None:
    _sd_verdict(text)


# --- a proof's serial and check code, as typed ------------------------------------


@settings(max_examples=500)
@given(
    st.one_of(texts(120), st.sampled_from(["WFZ202600000123"]), JSON_SCALARS),
    st.one_of(texts(60), JSON_SCALARS),
)
def test_any_typed_lookup_is_tidied_or_a_bad_request(
    serial: object, code: object
) -> None:
    result = outcome(lookup_input, serial, code)

    if isinstance(result, EsealError):
        assert result.reason is Reason.BAD_REQUEST
    else:
        tidy, typed = result
        assert (
            len(tidy) <= 20 and tidy.isascii() and normalise_check_code(typed) == typed
        )


_CODE = check_code(b"k" * 32, "WFZ202600000001")
_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in _CODE if c != "-"}


@settings(max_examples=500)
@given(
    st.one_of(
        texts(50),
        mutated_text(_CODE, "0123456789ABCDEFGHJKMNPQRSTVWXYZ-OIL oil"),
        mutated_text("".join(_FULL_WIDTH.get(c, "－") for c in _CODE), "０Ｏ１Ｉ－　"),
    )
)
def test_any_typed_check_code_normalises_to_one_or_to_nothing(typed: str) -> None:
    code = normalise_check_code(typed)

    assert code == "" or (
        len(code) == CHECK_CODE_LENGTH + 1 and normalise_check_code(code) == code
    )


@settings(max_examples=300)
@given(
    st.one_of(
        texts(120),
        st.text(alphabet=_B64URL, max_size=100).map(NONCE_PREFIX.__add__),
        mutated_text(NonceBook.qr_text(b"\x07" * 16), _B64URL),
    )
)
def test_any_counter_code_is_a_nonce_or_a_bad_request(text: str) -> None:
    result = outcome(counter_nonce, text)

    assert (
        isinstance(result, bytes)
        and 8 <= len(result) <= 64
        or (isinstance(result, DecodeError) and result.reason is Reason.BAD_REQUEST)
    )


# --- the status lists a trust bundle carries ---------------------------------------

_LIST = list_token(SEAL.signer, revoked=[3])


@settings(max_examples=300)
@given(
    st.one_of(
        texts(200),
        mutated_text(_LIST, _B64URL + "."),
    ),
    st.integers(min_value=-(2**64), max_value=2**64),
)
def test_any_status_list_token_gives_a_status_or_status_unknown(
    token: str, index: int
) -> None:
    verified = outcome(TRUST.verify_list, token, RESIDENT.code, now=NOW)

    if isinstance(verified, EsealError):
        assert isinstance(verified, StatusError)
        assert verified.reason is Reason.STATUS_UNKNOWN
    else:
        assert token == _LIST
        status = outcome(statuslist.status_of, verified, index)
        assert isinstance(status, int | StatusError)


# --- bombs: bounded memory through the verifier's own path --------------------------


def _peak(call: Callable[[], object]) -> tuple[object, int]:
    """What ``call`` returned and the peak of memory traced while it ran."""
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def _deflate_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9)
    chunk = bytes(MB)
    return b"".join(packer.compress(chunk) for _ in range(size // MB)) + packer.flush()


def test_a_deflate_bomb_in_a_qr_is_too_large_within_bounded_memory() -> None:
    # ATTACKS.md 9, as a scanner would type it: a megabyte of zeros in about
    # a thousand bytes, as much as a QR text within the length limit holds.
    text = compact.PREFIX + base45.encode(_deflate_bomb(MB))
    assert len(text) <= compact.MAX_TEXT

    verdict, peak = _peak(lambda: _check(text))

    assert isinstance(verdict, Outcome) and verdict.reason is Reason.TOO_LARGE
    assert peak < 64 * MB


def test_a_cbor_nesting_bomb_in_a_qr_is_malformed_within_bounded_memory() -> None:
    text = _qr(b"\x81" * 1200 + b"\x01")

    verdict, peak = _peak(lambda: _check(text))

    assert isinstance(verdict, Outcome) and verdict.reason is Reason.MALFORMED
    assert peak < 64 * MB


@pytest.mark.parametrize("size", [200 * MB, 16 * MB], ids=["bomb", "largest-list"])
def test_a_status_list_bomb_in_a_bundle_is_refused_within_bounded_memory(
    size: int,
) -> None:
    # The list travels compressed in the bundle; the verifier inflates it on
    # the first verification that asks.  Past 16 MiB it is status_unknown.
    lst = sdjwt.jws.b64url_encode(_deflate_bomb(size))
    header = {"alg": "ES256", "typ": statuslist.TYP, "kid": SEAL.signer.kid}
    payload = {
        "sub": f"{ISSUER_URL}/status-lists/{RESIDENT.code}",
        "iat": NOW - 7200,
        "status_list": {"bits": 2, "lst": lst},
    }
    trust = make_trust(SEAL, lists={str(RESIDENT.code): _jws(header, payload)})

    status, peak = _peak(lambda: outcome(trust.status, RESIDENT.code, 7, now=NOW))

    if size > 16 * MB:
        assert isinstance(status, StatusError)
        assert status.reason is Reason.STATUS_UNKNOWN
    else:
        assert status == statuslist.VALID
    assert peak < 64 * MB


def _jws(header: dict[str, object], payload: dict[str, object]) -> str:
    return sdjwt.sign_jws(header, payload, SEAL.signer)
