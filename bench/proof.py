"""Printing and checking a proof: render, sign (PAdES) and verify its PDF.

Issues a no-criminal-record proof the way the issuer does, then times in one
thread, round after round:

- ``render``: ``issuer.proofs.render_proof`` (the A4 page: CJK font subset,
  seal, QR as vectors), beside fpdf2 writing one line in the same font on an
  empty A4 page (``page``: fpdf2's own cost of loading and subsetting the
  font, which any PDF of ours pays);
- ``sign``: ``issuer.proofs.sign_proof`` (pyHanko, PAdES, a P-256 seal);
- ``verify``: ``verifier.pdf.verify_pdf`` (pyHanko's validation, PDFium's
  rendering at 200 dpi, zxing-cpp, the QR's verification, the text
  comparison), beside one raw P-256 verification (``raw``).

    .venv/bin/python bench/proof.py [--rounds 7]

Last line: ``render_ms=… page_ms=… sign_ms=… verify_ms=… raw_us=…``, the
fastest round of each (another process only ever slows a round down).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fpdf import FPDF
from world import ISSUER_URL, sealed_issuer  # bench/world.py

from credential import compact, statuslist
from issuer.proofs import ProofPage, check_code, find_fonts, render_proof, sign_proof
from schemas import get_type
from verifier.core import Policy
from verifier.pdf import verify_pdf

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
PROOF = get_type("no-criminal-record")
CLAIMS = {
    "name": "孙晓东",
    "sex": "男",
    "id_number": "370982198507123311",
    "period_from": "2003-07-12",
    "period_to": "2026-11-27",
    "purpose": "应聘泰安市教育系统教师岗位",
    "issue_date": "2026-11-27",
    "valid_until": "2027-02-25",
}


def _best(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds

    sealed = sealed_issuer(NOW, list_size=1024)
    signer, cert, root = sealed.signer, sealed.cert, sealed.root
    serial, issued_at = "WFZ202600000001", NOW - dt.timedelta(days=1)
    claims = PROOF.validate(CLAIMS, today=NOW.date())
    holder = ec.generate_private_key(ec.SECP256R1()).public_key()
    result = sealed.issuer.sign(
        PROOF, claims, serial, 7, holder, issued_at, NOW + dt.timedelta(days=80)
    )
    bundle_at = int(NOW.timestamp()) - 3600
    token = statuslist.make_token(
        statuslist.StatusList(1024, bits=2),
        signer,
        sub=f"{ISSUER_URL}/status-lists/{PROOF.code}",
        iat=bundle_at,
        exp=bundle_at + 86_400,
        ttl=60,
    )
    trust = sealed.trust(
        types={PROOF.id: PROOF.code}, lists={PROOF.code: token}, at=bundle_at, now=NOW
    )
    fonts = find_fonts()
    page = ProofPage(
        ctype=PROOF,
        claims=claims,
        serial=serial,
        check_code=check_code(b"k" * 32, serial),
        qr_text=compact.printed(result.compact),
        bureau="泰安市公安局",
        seal_name="电子证明专用章",
        issued_at=issued_at,
        expires_at=NOW + dt.timedelta(days=80),
    )

    def empty_page() -> bytes:
        pdf = FPDF(format="A4")
        pdf.add_page()
        pdf.add_font("cjk", fname=str(fonts[0]), collection_font_number=0)
        pdf.set_font("cjk", size=15)
        pdf.cell(text=PROOF.page_text(claims).split("\n")[0])
        return bytes(pdf.output())

    unsigned = render_proof(page, fonts=fonts)

    def sign() -> bytes:
        return asyncio.run(sign_proof(unsigned, signer, cert, chain=[root], bureau=""))

    signed = sign()
    at = int(NOW.timestamp())
    verified = verify_pdf(signed, trust, Policy(), now=at)
    assert verified.printed and verified.serial == serial

    message = b"x" * 300
    signature = sealed.seal_key.sign(message, ec.ECDSA(hashes.SHA256()))
    public = sealed.seal_key.public_key()

    page_s = _best(empty_page, rounds)
    render_s = _best(lambda: render_proof(page, fonts=fonts), rounds)
    sign_s = _best(sign, rounds)
    verify_s = _best(lambda: verify_pdf(signed, trust, Policy(), now=at), rounds)
    raw_s = _best(
        lambda: public.verify(signature, message, ec.ECDSA(hashes.SHA256())), 200
    )

    print(f"proof PDF: {len(signed):,} bytes")
    print(
        f"render      {render_s * 1000:8.1f} ms  (fpdf2 one line, same font: "
        f"{page_s * 1000:.1f} ms)"
    )
    print(f"sign        {sign_s * 1000:8.1f} ms")
    print(
        f"verify PDF  {verify_s * 1000:8.1f} ms  (one raw P-256 verify: "
        f"{raw_s * 1e6:.0f} µs)"
    )
    print(
        f"render_ms={render_s * 1000:.0f} page_ms={page_s * 1000:.0f} "
        f"sign_ms={sign_s * 1000:.0f} verify_ms={verify_s * 1000:.0f} "
        f"raw_us={raw_s * 1e6:.0f}"
    )


if __name__ == "__main__":
    main()
