"""SD-JWT issue, present and verify: round trips and every refusal rule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Callable, Mapping

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import event, given, settings
from hypothesis import strategies as st

from credential.algorithms import KeySigner, PublicKey
from credential.errors import (
    ClaimsError,
    ConfigError,
    DecodeError,
    EsealError,
    HolderBindingError,
    Reason,
    SignatureError,
    TrustError,
    ValidityError,
)
from credential.sdjwt import VerifiedSdJwt, issue, present, verify

from ..hostile import JSON_SCALARS, json_values, mutated_text, outcome

NOW = 1_760_000_000
AUD = "https://counter.example"
NONCE = "n-0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def digest(disclosure: str) -> str:
    return b64(hashlib.sha256(disclosure.encode("ascii")).digest())


def disclosure(*items: object, spaced: bool = False) -> str:
    separators = (", ", ": ") if spaced else (",", ":")
    return b64(json.dumps(list(items), separators=separators).encode())


def jws(
    header: Mapping[str, object],
    payload: Mapping[str, object] | bytes,
    signer: KeySigner,
) -> str:
    """Sign any header and payload, so tests can build what issue() refuses."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = b64(json.dumps(header).encode()) + "." + b64(body)
    return signing_input + "." + b64(signer.sign(signing_input.encode()))


def ec_jwk(key: PublicKey) -> dict[str, object]:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64(numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.y.to_bytes(32, "big")),
    }


def okp_jwk(key: ed25519.Ed25519PublicKey) -> dict[str, object]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}


@pytest.fixture
def seal() -> KeySigner:
    return KeySigner(ec.generate_private_key(ec.SECP256R1()), kid="seal-1")


@pytest.fixture
def holder() -> KeySigner:
    return KeySigner(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def salt() -> Callable[[], bytes]:
    counter = itertools.count(1)
    return lambda: next(counter).to_bytes(16, "big")


def claims_for(holder: KeySigner, **extra: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "iss": "https://police.example/issuer",
        "iat": NOW - 100,
        "exp": NOW + 86_400,
        "vct": "urn:eseal:resident-id",
        "cnf": {"jwk": ec_jwk(holder.public_key())},
        "given_name": "王小明",
        "family_name": "王",
        "birthdate": "1990-01-01",
        "address": {"city": "泰安市", "street": "东岳大街 1 号"},
    }
    payload.update(extra)
    return payload


DISCLOSABLE = ("given_name", "family_name", "birthdate", "address")


@pytest.fixture
def credential(seal: KeySigner, holder: KeySigner, salt: Callable[[], bytes]) -> str:
    return issue(claims_for(holder), DISCLOSABLE, seal, salt=salt)


def check(presentation: str, seal: KeySigner, **options: object) -> dict[str, object]:
    settings: dict[str, object] = {"issuer_key": seal.public_key(), "now": NOW}
    settings.update(options)
    return verify(presentation, **settings).claims  # type: ignore[arg-type]


def refused(
    error: type[EsealError],
    reason: Reason,
    presentation: str,
    seal: KeySigner,
    **options: object,
) -> None:
    with pytest.raises(error) as caught:
        check(presentation, seal, **options)
    assert caught.value.reason is reason


# --- round trips ------------------------------------------------------------


def test_round_trip_with_key_binding(
    credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    shown = present(
        credential,
        disclose=["given_name", "address"],
        holder=holder,
        aud=AUD,
        nonce=NONCE,
        iat=NOW - 5,
    )

    result = verify(shown, issuer_key=seal.public_key(), now=NOW, aud=AUD, nonce=NONCE)

    assert result.claims["given_name"] == "王小明"
    assert result.claims["address"] == {"city": "泰安市", "street": "东岳大街 1 号"}
    assert "family_name" not in result.claims
    assert "birthdate" not in result.claims
    assert "_sd" not in result.claims and "_sd_alg" not in result.claims
    assert result.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "seal-1"}
    assert result.key_binding is not None
    assert result.key_binding["aud"] == AUD
    assert result.key_binding["iat"] == NOW - 5


def test_round_trip_all_disclosed_without_key_binding(
    credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    claims = check(present(credential), seal, require_key_binding=False)
    assert claims == claims_for(holder)


def test_round_trip_with_ed25519_holder_and_issuer(
    salt: Callable[[], bytes],
) -> None:
    seal = KeySigner(ed25519.Ed25519PrivateKey.generate())
    holder_key = ed25519.Ed25519PrivateKey.generate()
    holder = KeySigner(holder_key)
    payload = {"iss": "x", "cnf": {"jwk": okp_jwk(holder_key.public_key())}, "a": 1}
    sd_jwt = issue(payload, ["a"], seal, salt=salt)
    shown = present(sd_jwt, disclose=[], holder=holder, aud=AUD, nonce=NONCE, iat=NOW)

    result = verify(shown, issuer_key=seal.public_key(), now=NOW, aud=AUD, nonce=NONCE)

    assert result.header["alg"] == "EdDSA"
    assert "a" not in result.claims


def test_resolver_gets_the_header(credential: str, seal: KeySigner) -> None:
    seen: list[object] = []

    def resolve(header: Mapping[str, object]) -> PublicKey:
        seen.append(header["kid"])
        return seal.public_key()

    check(credential, seal, issuer_key=resolve, require_key_binding=False)
    assert seen == ["seal-1"]


def test_resolver_refusal_propagates(credential: str, seal: KeySigner) -> None:
    def resolve(header: Mapping[str, object]) -> PublicKey:
        raise TrustError(Reason.UNTRUSTED_ISSUER)

    refused(
        TrustError,
        Reason.UNTRUSTED_ISSUER,
        credential,
        seal,
        issuer_key=resolve,
        require_key_binding=False,
    )


def test_nested_and_array_disclosures(seal: KeySigner) -> None:
    street = disclosure("s1", "street", "东岳大街")
    city = disclosure("s2", "city", "泰安")
    address = disclosure("s3", "address", {"_sd": [digest(street), digest(city)]})
    first = disclosure("s4", "CN")
    second = disclosure("s5", "HK")
    payload = {
        "_sd": [digest(address), "decoy-digest-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        "_sd_alg": "sha-256",
        "nationalities": [{"...": digest(first)}, {"...": digest(second)}, "MO"],
    }
    jwt = jws({"alg": "ES256", "typ": "dc+sd-jwt"}, payload, seal)

    shown = f"{jwt}~{address}~{city}~{second}~"
    claims = check(shown, seal, require_key_binding=False)

    assert claims == {"address": {"city": "泰安"}, "nationalities": ["HK", "MO"]}


def test_present_keeps_nested_disclosures_of_a_named_claim(seal: KeySigner) -> None:
    city = disclosure("s2", "city", "泰安")
    address = disclosure("s3", "address", {"_sd": [digest(city)]})
    name = disclosure("s6", "name", "王")
    payload = {"_sd": [digest(address), digest(name)], "_sd_alg": "sha-256"}
    jwt = jws({"alg": "ES256", "typ": "dc+sd-jwt"}, payload, seal)

    shown = present(f"{jwt}~{address}~{name}~{city}~", disclose=["address"])

    assert shown == f"{jwt}~{address}~{city}~"


def test_present_refuses_unknown_claim(credential: str) -> None:
    with pytest.raises(ClaimsError):
        present(credential, disclose=["no_such_claim"])


def test_present_refuses_a_presentation_with_key_binding(
    credential: str, holder: KeySigner
) -> None:
    shown = present(credential, holder=holder, aud=AUD, nonce=NONCE, iat=NOW)
    with pytest.raises(DecodeError):
        present(shown)


# --- issuance refusals ------------------------------------------------------


@pytest.mark.parametrize("name", ["iss", "exp", "cnf", "vct", "missing"])
def test_issue_refuses_claims_that_must_stay_in_clear(
    name: str, seal: KeySigner, holder: KeySigner, salt: Callable[[], bytes]
) -> None:
    with pytest.raises(ClaimsError):
        issue(claims_for(holder), [name], seal, salt=salt)


def test_issue_refuses_short_salt(seal: KeySigner, holder: KeySigner) -> None:
    with pytest.raises(ConfigError):
        issue(claims_for(holder), ["birthdate"], seal, salt=lambda: b"short")


@pytest.mark.parametrize("name", ["alg", "typ", "crit"])
def test_issue_refuses_header_overrides(
    name: str, seal: KeySigner, holder: KeySigner, salt: Callable[[], bytes]
) -> None:
    with pytest.raises(ConfigError):
        issue(claims_for(holder), [], seal, salt=salt, header={name: "x"})


# --- bounds and parsing -----------------------------------------------------


def test_too_long_is_refused_before_parsing(seal: KeySigner) -> None:
    refused(DecodeError, Reason.TOO_LARGE, "x" * 65_000, seal)


def test_too_many_disclosures(credential: str, seal: KeySigner) -> None:
    refused(
        DecodeError,
        Reason.TOO_LARGE,
        credential,
        seal,
        max_disclosures=3,
        require_key_binding=False,
    )


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda jwt: jwt.replace(".", "=.", 1), id="padding"),
        pytest.param(lambda jwt: "+" + jwt[1:], id="plus"),
        pytest.param(lambda jwt: jwt.replace(".", "..", 1), id="four-parts"),
        pytest.param(lambda jwt: jwt.split(".", 1)[1], id="two-parts"),
        pytest.param(lambda jwt: b64(b"[1]") + jwt[jwt.index(".") :], id="array"),
        pytest.param(lambda jwt: b64(b"{,}") + jwt[jwt.index(".") :], id="json"),
        pytest.param(lambda jwt: "é" + jwt, id="non-ascii"),
        pytest.param(lambda jwt: "", id="empty"),
    ],
)
def test_malformed_issuer_jwt(
    mangle: Callable[[str], str], credential: str, seal: KeySigner
) -> None:
    jwt, rest = credential.split("~", 1)
    refused(DecodeError, Reason.MALFORMED, mangle(jwt) + "~" + rest, seal)


def test_non_canonical_base64_in_signature(credential: str, seal: KeySigner) -> None:
    # 64 signature bytes end in 2 characters + 4 unused bits; set those bits.
    jwt, rest = credential.split("~", 1)
    last = jwt[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    changed = jwt[:-1] + alphabet[alphabet.index(last) | 1]
    refused(DecodeError, Reason.MALFORMED, changed + "~" + rest, seal)


def test_duplicate_json_member(seal: KeySigner) -> None:
    jwt = jws({"alg": "ES256", "typ": "dc+sd-jwt"}, b'{"iss":"a","iss":"b"}', seal)
    refused(DecodeError, Reason.MALFORMED, jwt + "~", seal, require_key_binding=False)


def test_wrong_typ_header(seal: KeySigner) -> None:
    jwt = jws({"alg": "ES256", "typ": "kb+jwt"}, {"iss": "a"}, seal)
    refused(DecodeError, Reason.MALFORMED, jwt + "~", seal, require_key_binding=False)


@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_eseal_errors(text: str) -> None:
    key = ec.derive_private_key(7, ec.SECP256R1()).public_key()
    with pytest.raises(EsealError):
        verify(text, issuer_key=key, now=NOW)


# --- ATTACKS 6, 7, 8: algorithm pinning, embedded keys, crit -----------------


def _hmac_token(secret: bytes) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "dc+sd-jwt"}).encode())
    payload = b64(json.dumps({"iss": "forged"}).encode())
    signing_input = f"{header}.{payload}".encode()
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}~"


@pytest.mark.parametrize("form", ["pem", "der", "jwk"])
def test_hs256_with_public_key_as_secret(form: str, seal: KeySigner) -> None:
    key = seal.public_key()
    if form == "jwk":
        secret = json.dumps(ec_jwk(key)).encode()
    else:
        encoding = (
            serialization.Encoding.PEM if form == "pem" else serialization.Encoding.DER
        )
        secret = key.public_bytes(
            encoding, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    refused(
        SignatureError,
        Reason.BAD_SIGNATURE,
        _hmac_token(secret),
        seal,
        require_key_binding=False,
    )


def test_alg_none(seal: KeySigner) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "dc+sd-jwt"}).encode())
    token = header + "." + b64(b'{"iss":"forged"}') + ".~"
    refused(
        SignatureError, Reason.BAD_SIGNATURE, token, seal, require_key_binding=False
    )


@pytest.mark.parametrize("member", ["jwk", "x5c"])
def test_key_carried_in_the_header_is_not_used(member: str, seal: KeySigner) -> None:
    forger = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    carried: object = ec_jwk(forger.public_key())
    if member == "x5c":
        carried = ["MIIB" + "A" * 40]
    header = {"alg": "ES256", "typ": "dc+sd-jwt", member: carried}
    token = jws(header, {"iss": "forged"}, forger) + "~"
    refused(
        SignatureError, Reason.BAD_SIGNATURE, token, seal, require_key_binding=False
    )


def test_p384_key_refuses_es256_token(credential: str, seal: KeySigner) -> None:
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    refused(
        SignatureError,
        Reason.BAD_SIGNATURE,
        credential,
        seal,
        issuer_key=other,
        require_key_binding=False,
    )


@pytest.mark.parametrize("crit", [["exp"], [], ["x-eseal"], "alg"])
def test_crit_header_is_refused(crit: object, seal: KeySigner) -> None:
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "crit": crit, "x-eseal": 1}
    token = jws(header, {"iss": "a"}, seal) + "~"
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


# --- ATTACKS 4: validity times ----------------------------------------------


def _timed(seal: KeySigner, **times: object) -> str:
    return jws({"alg": "ES256", "typ": "dc+sd-jwt"}, {"iss": "a", **times}, seal) + "~"


@pytest.mark.parametrize(
    ("times", "reason"),
    [
        ({"exp": NOW - 1}, Reason.EXPIRED),
        ({"exp": NOW}, Reason.EXPIRED),
        ({"nbf": NOW + 3600}, Reason.NOT_YET_VALID),
        ({"nbf": NOW + 1}, Reason.NOT_YET_VALID),
        ({"iat": NOW + 1}, Reason.NOT_YET_VALID),
    ],
)
def test_validity_times_refused(
    times: dict[str, object], reason: Reason, seal: KeySigner
) -> None:
    refused(
        ValidityError, reason, _timed(seal, **times), seal, require_key_binding=False
    )


@pytest.mark.parametrize(
    ("times", "leeway"),
    [
        ({"exp": NOW + 1, "nbf": NOW, "iat": NOW}, 0),
        ({"exp": NOW - 1}, 5),
        ({"nbf": NOW + 5, "iat": NOW + 5}, 5),
    ],
)
def test_validity_times_accepted(
    times: dict[str, object], leeway: int, seal: KeySigner
) -> None:
    check(_timed(seal, **times), seal, leeway=leeway, require_key_binding=False)


@pytest.mark.parametrize("exp", ["1900000000", True, [1]])
def test_non_numeric_exp(exp: object, seal: KeySigner) -> None:
    refused(
        DecodeError,
        Reason.MALFORMED,
        _timed(seal, exp=exp),
        seal,
        require_key_binding=False,
    )


# --- ATTACKS 1, 2, 3, 13: disclosures ---------------------------------------


def _sd_jwt(seal: KeySigner, payload: dict[str, object], *disclosures: str) -> str:
    jwt = jws({"alg": "ES256", "typ": "dc+sd-jwt"}, payload, seal)
    return jwt + "~" + "".join(d + "~" for d in disclosures)


def test_unreferenced_disclosure(
    credential: str, seal: KeySigner, holder: KeySigner, salt: Callable[[], bytes]
) -> None:
    other = issue(claims_for(holder, rank="一级"), ["rank"], seal, salt=salt)
    stray = other.split("~")[1]
    refused(
        DecodeError,
        Reason.MALFORMED,
        credential + stray + "~",
        seal,
        require_key_binding=False,
    )


def test_same_disclosure_twice(credential: str, seal: KeySigner) -> None:
    first = credential.split("~")[1]
    refused(
        DecodeError,
        Reason.MALFORMED,
        credential + first + "~",
        seal,
        require_key_binding=False,
    )


def test_same_digest_twice_in_sd(seal: KeySigner) -> None:
    one = disclosure("s1", "a", 1)
    token = _sd_jwt(seal, {"_sd": [digest(one), digest(one)]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_same_undisclosed_digest_twice(seal: KeySigner) -> None:
    ghost = "x" * 43
    token = _sd_jwt(seal, {"_sd": [ghost], "o": {"_sd": [ghost]}})
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_same_digest_in_object_and_array(seal: KeySigner) -> None:
    one = disclosure("s1", "a", 1)
    token = _sd_jwt(seal, {"_sd": [digest(one)], "l": [{"...": digest(one)}]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_disclosure_for_a_claim_present_in_clear(seal: KeySigner) -> None:
    one = disclosure("s1", "given_name", "冒名")
    token = _sd_jwt(seal, {"given_name": "王", "_sd": [digest(one)]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_two_disclosures_for_the_same_name(seal: KeySigner) -> None:
    one, two = disclosure("s1", "a", 1), disclosure("s2", "a", 2)
    token = _sd_jwt(seal, {"_sd": [digest(one), digest(two)]}, one, two)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


@pytest.mark.parametrize("name", ["_sd", "...", "_sd_alg"])
def test_reserved_name_in_disclosure(name: str, seal: KeySigner) -> None:
    one = disclosure("s1", name, ["x"])
    token = _sd_jwt(seal, {"_sd": [digest(one)]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_two_element_disclosure_in_sd(seal: KeySigner) -> None:
    one = disclosure("s1", "value")
    token = _sd_jwt(seal, {"_sd": [digest(one)]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_three_element_disclosure_in_array(seal: KeySigner) -> None:
    one = disclosure("s1", "name", "value")
    token = _sd_jwt(seal, {"l": [{"...": digest(one)}]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_array_placeholder_with_extra_members(seal: KeySigner) -> None:
    one = disclosure("s1", "CN")
    token = _sd_jwt(seal, {"l": [{"...": digest(one), "extra": 1}]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(("s1", "a", 1, "extra"), id="four-elements"),
        pytest.param(("s1",), id="one-element"),
        pytest.param((1, "a", 1), id="salt-not-string"),
        pytest.param(("s1", 2, 1), id="name-not-string"),
    ],
)
def test_disclosure_shape(items: tuple[object, ...], seal: KeySigner) -> None:
    one = disclosure(*items)
    token = _sd_jwt(seal, {"_sd": [digest(one)]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_disclosure_not_json_object_array(seal: KeySigner) -> None:
    one = b64(b'{"a": 1}')
    token = _sd_jwt(seal, {"_sd": [digest(one)]}, one)
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


@pytest.mark.parametrize("sd", ["abc", [1], {"a": 1}])
def test_sd_must_be_list_of_strings(sd: object, seal: KeySigner) -> None:
    token = _sd_jwt(seal, {"_sd": sd})
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


@pytest.mark.parametrize("alg", ["sha-512", "SHA-256", 256])
def test_sd_alg_other_than_sha256(alg: object, seal: KeySigner) -> None:
    token = _sd_jwt(seal, {"_sd": [], "_sd_alg": alg})
    refused(DecodeError, Reason.MALFORMED, token, seal, require_key_binding=False)


def test_empty_disclosure_component(credential: str, seal: KeySigner) -> None:
    refused(
        DecodeError, Reason.MALFORMED, credential + "~", seal, require_key_binding=False
    )


def test_deep_nesting_is_refused(seal: KeySigner) -> None:
    deep: object = 1
    for _ in range(100):
        deep = {"a": deep}
    refused(
        DecodeError,
        Reason.MALFORMED,
        _sd_jwt(seal, {"d": deep}),
        seal,
        require_key_binding=False,
    )


def test_other_key_order_and_spacing_still_verify(seal: KeySigner) -> None:
    # ATTACKS 13: digests and signature are over the bytes received.
    one = disclosure("salt-1", "name", "王", spaced=True)
    payload = json.dumps(
        {"_sd_alg": "sha-256", "_sd": [digest(one)], "iss": "a"}, indent=2
    ).encode()
    token = _sd_jwt_raw(seal, payload) + one + "~"
    assert check(token, seal, require_key_binding=False) == {"iss": "a", "name": "王"}


def _sd_jwt_raw(seal: KeySigner, payload: bytes) -> str:
    return jws({"typ": "dc+sd-jwt", "alg": "ES256"}, payload, seal) + "~"


def test_changed_byte_in_disclosure(credential: str, seal: KeySigner) -> None:
    jwt, first, *rest = credential.split("~")
    changed = first[:-2] + ("A" if first[-2] != "A" else "B") + first[-1]
    token = "~".join([jwt, changed, *rest])
    with pytest.raises(DecodeError):
        check(token, seal, require_key_binding=False)


def test_changed_byte_in_payload(credential: str, seal: KeySigner) -> None:
    header, payload, signature = credential.split("~")[0].split(".")
    changed = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    token = credential.replace(payload, changed)
    with pytest.raises((SignatureError, DecodeError)):
        check(token, seal, require_key_binding=False)


# --- key binding ------------------------------------------------------------


def _kb(
    sd_jwt: str,
    signer: KeySigner,
    *,
    header: Mapping[str, object] | None = None,
    **changes: object,
) -> str:
    """A KB-JWT over ``sd_jwt``; a change to None drops that member."""
    payload: dict[str, object] = {
        "iat": NOW - 5,
        "aud": AUD,
        "nonce": NONCE,
        "sd_hash": b64(hashlib.sha256(sd_jwt.encode()).digest()),
    }
    payload.update(changes)
    payload = {k: v for k, v in payload.items() if v is not None}
    return sd_jwt + jws(header or {"alg": signer.alg, "typ": "kb+jwt"}, payload, signer)


def test_key_binding_required_but_missing(credential: str, seal: KeySigner) -> None:
    refused(HolderBindingError, Reason.HOLDER_PROOF_MISSING, credential, seal)


def test_key_binding_accepted(
    credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    check(_kb(credential, holder), seal, aud=AUD, nonce=NONCE)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"aud": "https://other.example"}, id="aud"),
        pytest.param({"nonce": "other"}, id="nonce"),
        pytest.param({"sd_hash": "A" * 43}, id="sd_hash"),
        pytest.param({"sd_hash": None}, id="no-sd_hash"),
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"iat": "now"}, id="iat-string"),
        pytest.param({"iat": NOW + 60}, id="iat-future"),
        pytest.param({"aud": None}, id="no-aud"),
        pytest.param({"nonce": None}, id="no-nonce"),
    ],
)
def test_key_binding_payload_refused(
    changes: dict[str, object], credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    token = _kb(credential, holder, header=None, **changes)
    refused(
        HolderBindingError,
        Reason.HOLDER_PROOF_INVALID,
        token,
        seal,
        aud=AUD,
        nonce=NONCE,
    )


def test_key_binding_stale(credential: str, seal: KeySigner, holder: KeySigner) -> None:
    token = _kb(credential, holder, iat=NOW - 301)
    refused(HolderBindingError, Reason.PRESENTATION_STALE, token, seal)


def test_key_binding_within_age(
    credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    check(_kb(credential, holder, iat=NOW - 300), seal)


def test_key_binding_wrong_typ(
    credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    token = _kb(credential, holder, header={"alg": "ES256", "typ": "jwt"})
    refused(HolderBindingError, Reason.HOLDER_PROOF_INVALID, token, seal)


def test_key_binding_signed_by_another_key(credential: str, seal: KeySigner) -> None:
    thief = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    refused(
        HolderBindingError, Reason.HOLDER_PROOF_INVALID, _kb(credential, thief), seal
    )


def test_key_binding_alg_not_the_holder_keys(
    credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    token = _kb(credential, holder, header={"alg": "ES384", "typ": "kb+jwt"})
    refused(HolderBindingError, Reason.HOLDER_PROOF_INVALID, token, seal)


def test_key_binding_checked_even_when_not_required(
    credential: str, seal: KeySigner
) -> None:
    thief = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    refused(
        HolderBindingError,
        Reason.HOLDER_PROOF_INVALID,
        _kb(credential, thief),
        seal,
        require_key_binding=False,
    )


def test_key_binding_after_dropping_a_disclosure(
    credential: str, seal: KeySigner, holder: KeySigner
) -> None:
    shown = present(credential, holder=holder, aud=AUD, nonce=NONCE, iat=NOW)
    parts = shown.split("~")
    trimmed = "~".join(parts[:1] + parts[2:])
    refused(HolderBindingError, Reason.HOLDER_PROOF_INVALID, trimmed, seal)


def test_key_binding_crit(credential: str, seal: KeySigner, holder: KeySigner) -> None:
    header = {"alg": "ES256", "typ": "kb+jwt", "crit": []}
    refused(DecodeError, Reason.MALFORMED, _kb(credential, holder, header=header), seal)


@pytest.mark.parametrize(
    "cnf",
    [
        pytest.param("private", id="private-d"),
        pytest.param(None, id="no-cnf"),
        pytest.param({"kty": "oct", "k": "c2VjcmV0"}, id="symmetric"),
        pytest.param({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, id="short"),
        pytest.param({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, id="rsa"),
    ],
)
def test_unusable_cnf_jwk(
    cnf: object, seal: KeySigner, holder: KeySigner, salt: Callable[[], bytes]
) -> None:
    payload = claims_for(holder)
    if cnf is None:
        del payload["cnf"]
    elif cnf == "private":
        jwk = ec_jwk(holder.public_key())
        jwk["d"] = b64(b"\x01" * 32)
        payload["cnf"] = {"jwk": jwk}
    else:
        payload["cnf"] = {"jwk": cnf}
    sd_jwt = issue(payload, [], seal, salt=salt)
    refused(HolderBindingError, Reason.HOLDER_PROOF_INVALID, _kb(sd_jwt, holder), seal)


def test_point_not_on_curve(
    seal: KeySigner, holder: KeySigner, salt: Callable[[], bytes]
) -> None:
    jwk = ec_jwk(holder.public_key())
    jwk["y"] = b64(b"\x00" * 31 + b"\x05")
    sd_jwt = issue(claims_for(holder, cnf={"jwk": jwk}), [], seal, salt=salt)
    refused(HolderBindingError, Reason.HOLDER_PROOF_INVALID, _kb(sd_jwt, holder), seal)


def test_changed_payload_byte_that_breaks_the_json_is_bad_signature(
    credential: str, seal: KeySigner
) -> None:
    # Regression: the payload's JSON was read before the signature was
    # checked, so a tampered byte read as malformed or as bad_signature
    # depending on where it fell.  The signature now comes first.
    header, payload, signature = credential.split("~")[0].split(".")
    broken = b64(b"{" + base64.urlsafe_b64decode(payload + "==")[1:-1])
    token = credential.replace(f"{header}.{payload}.", f"{header}.{broken}.")
    refused(
        SignatureError, Reason.BAD_SIGNATURE, token, seal, require_key_binding=False
    )


# --- hostile input: only eSeal's errors come out ------------------------------

_SEAL = KeySigner(ec.generate_private_key(ec.SECP256R1()), kid="seal-1")
_HOLDER = KeySigner(ec.generate_private_key(ec.SECP256R1()))
_SALTS = itertools.count(1)
_PRESENTED = present(
    issue(
        claims_for(_HOLDER),
        DISCLOSABLE,
        _SEAL,
        salt=lambda: next(_SALTS).to_bytes(16, "big"),
    ),
    disclose=["given_name", "address"],
    holder=_HOLDER,
    aud=AUD,
    nonce=NONCE,
    iat=NOW,
)
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _verified(presentation: str, **options: object) -> VerifiedSdJwt | EsealError:
    return outcome(
        verify,
        presentation,
        issuer_key=_SEAL.public_key(),
        now=NOW,
        aud=AUD,
        nonce=NONCE,
        **options,
    )


@settings(max_examples=400)
@given(mutated_text(_PRESENTED, _B64URL + ".~"))
def test_a_changed_presentation_never_verifies(damaged: str) -> None:
    # Key binding covers every byte before it, and its own signature the rest.
    result = _verified(damaged)

    assert isinstance(result, EsealError) or damaged == _PRESENTED


@st.composite
def _hostile_sd_jwts(draw: st.DrawFn) -> str:
    """An issuer-signed SD-JWT (with a key binding now and then) whose
    payload and disclosures are of any shape: digests that point at the
    disclosures sent, at nothing, or twice; claims, times, cnf and _sd_alg
    good, of any JSON, or missing."""
    texts = [
        b64(json.dumps(item).encode())
        for item in draw(
            st.lists(
                st.one_of(
                    st.tuples(st.text(max_size=4), st.text(max_size=8), json_values(2)),
                    st.tuples(st.text(max_size=4), json_values(2)),
                    json_values(2),
                ),
                max_size=4,
            )
        )
    ]
    digests = [digest(t) for t in texts] + draw(
        st.lists(st.text(max_size=8), max_size=2)
    )
    pointers = draw(st.lists(st.sampled_from(digests), max_size=6)) if digests else []
    payload: dict[str, object] = {}
    for name, good in (
        ("iss", "https://police.example/issuer"),
        ("iat", NOW - 100),
        ("exp", NOW + 100),
        ("nbf", NOW - 100),
        ("cnf", {"jwk": ec_jwk(_HOLDER.public_key())}),
        ("_sd_alg", "sha-256"),
        ("_sd", pointers),
        ("list", [{"...": d} for d in pointers]),
        ("nested", {"_sd": pointers}),
    ):
        choice = draw(st.integers(min_value=0, max_value=4))
        if choice > 1:
            payload[name] = good
        elif choice == 1:
            payload[name] = draw(st.one_of(JSON_SCALARS, json_values(2)))
    shown = draw(st.lists(st.sampled_from(texts), max_size=5)) if texts else []
    kept = jws({"alg": "ES256", "typ": "dc+sd-jwt"}, payload, _SEAL) + "~"
    kept += "".join(t + "~" for t in shown)
    if not draw(st.booleans()):
        return kept
    kb = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": digest(kept)}
    return kept + jws({"alg": "ES256", "typ": "kb+jwt"}, kb, _HOLDER)


@settings(max_examples=250)
@given(_hostile_sd_jwts(), st.booleans())
def test_any_signed_sd_jwt_verifies_or_is_an_eseal_error(
    presentation: str, binding: bool
) -> None:
    result = _verified(presentation, require_key_binding=binding)

    event(getattr(result, "reason", "verified"))
    assert isinstance(result, VerifiedSdJwt | EsealError)
