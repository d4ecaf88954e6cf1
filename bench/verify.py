"""Offline verification of resident e-ID QR presentations, beside raw P-256.

Issues a pool of resident e-IDs the way the issuer does (``Issuer.sign``:
distinct holders, serials, status slots and claims), builds a Trust from a
signed trust bundle holding the type's signed 2-bit status list, and times
``verifier.core.verify_qr`` (the path of the counter and the API) in one
thread, so on one core.  Each round gives every credential a fresh
presentation, made by its holder before the clock starts, so no two
verifications see the same text.

The limit is what no verifier can beat: the two P-256 ECDSA verifications a
presentation needs (the seal's over the credential, the holder's over the
proof), done with ``cryptography`` on the same messages, keys already loaded
and signatures already DER-encoded.  Limit and subject are timed in the same
run, round after round, in alternating order.

    .venv/bin/python bench/verify.py [--pool 1000] [--rounds 9]

Last line: ``verify_us=… limit_us=… ratio=…``: microseconds a verification
in the fastest round of each (another process on the machine only ever
slows a round down), with ratio = limit_us / verify_us.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from world import ISSUER_URL, sealed_issuer  # bench/world.py

from credential import compact, statuslist
from credential.algorithms import KeySigner
from schemas import get_type
from schemas.checks import citizen_id_check_char, ethnicities
from schemas.codes import authorities, division_names
from verifier.core import Policy, verify_qr
from verifier.trust import Trust

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
RESIDENT = get_type("resident-id")
LIST_SIZE = 1 << 23  # as bench/issue.py: room for 8 million resident IDs

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许"
_GIVEN = "秀英桂芳玉兰明华建国志强海燕静丽伟军磊洋勇艳杰娟涛超霞平刚红梅"
_STREETS = ("东岳大街", "岱宗大街", "灵山大街", "泰山大街", "擂鼓石大街", "迎胜路")
_TAIAN = (370902, 370911, 370921, 370923, 370982, 370983)


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return dt.date(day.year + years, 3, 1)


def _claims(rng: random.Random, today: dt.date) -> dict[str, str]:
    """A plausible resident of Tai'an: an ID number agreeing with the birth
    date and sex, a card issued in the last ten years (at 16 or later) for
    10, 20 years or long term by the holder's age then."""
    region = rng.choice(_TAIAN)
    born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(68 * 365))
    first17 = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    number = first17 + citizen_id_check_char(first17)
    issued = max(
        today - dt.timedelta(days=rng.randrange(1, 3650)),
        _years_after(born, 16) + dt.timedelta(days=1),
    )
    age = (issued - born).days // 366
    until = "长期" if age >= 46 else _years_after(issued, 10 if age < 26 else 20)
    name = rng.choice(_SURNAMES) + "".join(
        rng.choice(_GIVEN) for _ in range(rng.randint(1, 2))
    )
    street = rng.choice(_STREETS)
    return {
        "name": name,
        "sex": "男" if int(first17[16]) % 2 else "女",
        "ethnicity": rng.choices(ethnicities()[:6], weights=(90, 3, 2, 2, 2, 1))[0],
        "birth_date": born.isoformat(),
        "address": f"{division_names()[region]}{street}{rng.randint(1, 999)}号"
        f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{rng.randint(101, 1802)}室",
        "id_number": number,
        "issuing_authority": authorities()[rng.randint(1, 9)],
        "valid_from": issued.isoformat(),
        "valid_until": str(until),
    }


@dataclass(frozen=True)
class _Holder:
    signer: KeySigner
    public: ec.EllipticCurvePublicKey
    credential: bytes


def _world(pool: int) -> tuple[Trust, ec.EllipticCurvePublicKey, list[_Holder]]:
    """A seal, ``pool`` issued credentials, and a Trust from a signed bundle."""
    sealed = sealed_issuer(NOW, list_size=LIST_SIZE)
    issuer, signer = sealed.issuer, sealed.signer

    rng = random.Random(6)
    slots = rng.sample(range(LIST_SIZE), 2 * pool)
    issued_at = NOW - dt.timedelta(days=3)
    holders = []
    for n, index in enumerate(slots[:pool]):
        claims = RESIDENT.validate(_claims(rng, issued_at.date()), today=NOW.date())
        assert not compact.carriage_problems(RESIDENT, claims)
        key = ec.generate_private_key(ec.SECP256R1())
        result = issuer.sign(
            RESIDENT,
            claims,
            f"SFZ2026{n + 1:08d}",
            index,
            key.public_key(),
            issued_at,
            issued_at + dt.timedelta(days=RESIDENT.validity_days),
        )
        holders.append(_Holder(KeySigner(key), key.public_key(), result.compact))

    # The list as the issuer publishes it: other residents' slots revoked or
    # suspended, every credential of the pool valid.
    listed = statuslist.StatusList(LIST_SIZE, bits=2)
    for index in slots[pool:]:
        listed.set(index, rng.choice((statuslist.INVALID, statuslist.SUSPENDED)))
    bundle_at = int(NOW.timestamp()) - 3600
    token = statuslist.make_token(
        listed,
        signer,
        sub=f"{ISSUER_URL}/status-lists/{RESIDENT.code}",
        iat=bundle_at,
        exp=bundle_at + 86_400,
        ttl=60,
    )
    trust = sealed.trust(
        types={RESIDENT.id: RESIDENT.code},
        lists={RESIDENT.code: token},
        at=bundle_at,
        now=NOW,
    )
    return trust, sealed.seal_key.public_key(), holders


def _der(signature: bytes) -> bytes:
    return encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )


#: What the limit verifies for one presentation: the seal's message and
#: DER signature, then the holder's, and the holder's key.
_Raw = tuple[bytes, bytes, bytes, bytes, ec.EllipticCurvePublicKey]


def _present(
    holders: Sequence[_Holder], now: int, rng: random.Random
) -> tuple[list[str], list[_Raw]]:
    """Fresh presentations, and for each the two signatures it carries."""
    texts, raw = [], []
    for holder in holders:
        at = now - rng.randint(0, 30)
        text = compact.present(holder.credential, holder.signer, now=at)
        parts = compact.parse_presentation(text)
        # RFC 9052 section 4.4: the Sig_structure the seal signed.
        sealed = cbor2.dumps(
            ["Signature1", parts.sign1.protected_bytes, b"", parts.sign1.payload]
        )
        proof = compact._holder_message(parts.credential, parts.at, parts.nonce)
        texts.append(text)
        raw.append(
            (
                sealed,
                _der(parts.sign1.signature),
                proof,
                _der(parts.holder_signature),
                holder.public,
            )
        )
    return texts, raw


def _time_limit(seal: ec.EllipticCurvePublicKey, raw: Sequence[_Raw]) -> float:
    ecdsa = ec.ECDSA(hashes.SHA256())
    start = time.perf_counter()
    for sealed, seal_signature, proof, proof_signature, holder in raw:
        seal.verify(seal_signature, sealed, ecdsa)
        holder.verify(proof_signature, proof, ecdsa)
    return (time.perf_counter() - start) / len(raw) * 1e6


def _time_verify(trust: Trust, texts: Sequence[str], now: int) -> float:
    policy = Policy()
    start = time.perf_counter()
    for text in texts:
        verify_qr(text, trust, policy, now=now)
    return (time.perf_counter() - start) / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1000, help="credentials issued")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    trust, seal, holders = _world(args.pool)
    rng = random.Random(45)
    now = int(NOW.timestamp())
    # Warm up: the status list verified once, as a counter does on import;
    # a few verifications (not counted) to load the code paths.
    texts, raw = _present(holders[:50], now, rng)
    _time_limit(seal, raw)
    _time_verify(trust, texts, now)

    limits, verifies = [], []
    print(f"{'round':>5} {'verify_us':>10} {'limit_us':>9} {'ratio':>6}")
    for round_ in range(args.rounds):
        now += 60
        texts, raw = _present(holders, now, rng)
        if round_ % 2:
            verify_us, limit_us = (
                _time_verify(trust, texts, now),
                _time_limit(seal, raw),
            )
        else:
            limit_us, verify_us = (
                _time_limit(seal, raw),
                _time_verify(trust, texts, now),
            )
        limits.append(limit_us)
        verifies.append(verify_us)
        print(
            f"{round_:5} {verify_us:10.1f} {limit_us:9.1f} {limit_us / verify_us:6.2f}"
        )

    verify_us, limit_us = min(verifies), min(limits)
    print(f"presentations verified        {args.pool} a round, {args.rounds} rounds")
    print(f"offline verifications, 1 core {1e6 / verify_us:,.0f} per second")
    print(f"two raw P-256 verifications   {1e6 / limit_us:,.0f} per second")
    ratio = limit_us / verify_us
    print(f"verify_us={verify_us:.0f} limit_us={limit_us:.0f} ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
