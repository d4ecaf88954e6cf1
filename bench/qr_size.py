"""Size of every type's presentations as QR text, beside the version-15 limit.

Prints one row a type and profile: characters, QR version at level M, and
the characters to spare below the 600 that version 15 holds.  Then it builds
the sample resident's e-ID (P-256 seal and holder key, a 39-character
address), prints its holder-bound presentation in detail, and for comparison
the SD-JWT VC of the same claims with a key-binding JWT.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from credential import compact, sdjwt
from credential.algorithms import KeySigner
from credential.jwk import jwk_from_key
from credential.qrcode_render import qr_version
from keys.certs import cert_kid, make_root, make_seal_cert
from schemas import all_types, get_type

LIMIT_VERSION = 15
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "resident-id.json"


def capacity(version: int) -> int:
    """Alphanumeric characters a QR of ``version`` holds at level M."""
    low, high = 1, 4296
    while low < high:
        mid = (low + high + 1) // 2
        if qr_version("A" * mid) <= version:
            low = mid
        else:
            high = mid - 1
    return low


def print_type_table(signer: KeySigner, holder: KeySigner, now: dt.datetime) -> int:
    """Every type's presentation in each profile, from its sample in examples/.

    Returns the largest number of characters seen.
    """
    iat = int(now.timestamp())
    limit = capacity(LIMIT_VERSION)
    print(f"{'type and profile':34} {'chars':>5} {'version':>7} {'room':>5}")
    largest = 0
    for type_id, ctype in sorted(all_types().items()):
        sample = EXAMPLE.parent / f"{type_id}.json"
        claims = ctype.validate(json.loads(sample.read_text("utf-8")), today=now.date())
        for profile in ctype.profiles:
            credential = compact.make_credential(
                ctype=ctype,
                claims=claims,
                serial=f"{ctype.serial_prefix}202600123456",
                status=(ctype.code, 987_654),
                holder_key=holder.public_key(),  # type: ignore[arg-type]
                iat=iat,
                exp=iat + ctype.validity_days * 86400,
                signer=signer,
                profile=profile,
            )
            text = compact.present(credential, holder, now=iat + 60)
            largest = max(largest, len(text))
            name = f"{type_id} / {profile.id}"
            print(f"{name:34} {len(text):5} {qr_version(text):7} {limit - len(text):5}")
    print()
    return largest


def main() -> None:
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    seal_key = ec.generate_private_key(ec.SECP256R1())
    root = make_root(root_key, organisation="泰安市公安局", not_before=now, days=3650)
    seal = make_seal_cert(
        root_key=root_key,
        root_cert=root,
        seal_public=seal_key.public_key(),
        bureau="泰安市公安局",
        seal_name="电子证明专用章",
        not_before=now,
        days=1095,
    )
    signer = KeySigner(seal_key, kid=cert_kid(seal))
    holder = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    largest = print_type_table(signer, holder, now)
    ctype = get_type("resident-id")
    claims = ctype.validate(json.loads(EXAMPLE.read_text("utf-8")), today=now.date())
    iat = int(now.timestamp())
    exp = iat + 3650 * 86400

    credential = compact.make_credential(
        ctype=ctype,
        claims=claims,
        serial="SFZ202600123456",
        status=(ctype.code, 987_654),
        holder_key=holder.public_key(),  # type: ignore[arg-type]
        iat=iat,
        exp=exp,
        signer=signer,
    )
    text = compact.present(credential, holder, now=iat + 60)
    payload = {
        "iss": "https://issuer.example/issuer",
        "iat": iat,
        "exp": exp,
        "vct": "https://issuer.example/issuer/types/resident-id",
        "cnf": {"jwk": jwk_from_key(holder.public_key())},  # type: ignore[arg-type]
        "status": {
            "status_list": {"idx": 987_654, "uri": "https://issuer.example/s/1"}
        },
        **claims,
    }
    token = sdjwt.issue(
        payload, list(claims), signer, salt=lambda: secrets.token_bytes(16)
    )
    presented = sdjwt.present(
        token, holder=holder, aud="https://verifier.example", nonce="n", iat=iat
    )

    version = qr_version(text)
    print(f"credential bytes (COSE_Sign1)     {len(credential)}")
    print(f"presentation characters (Base45)  {len(text)}")
    print(f"QR version at level M             {version}")
    limit = capacity(LIMIT_VERSION)
    print(f"limit: version {LIMIT_VERSION} holds       {limit} characters")
    sd_version = qr_version(presented)
    print(f"SD-JWT VC + KB-JWT characters     {len(presented)} (QR {sd_version}-M)")
    print(
        f"chars={len(text)} version={version} limit_version={LIMIT_VERSION} "
        f"limit_chars={limit} largest_chars={largest} sd_jwt_chars={len(presented)}"
    )


if __name__ == "__main__":
    main()
