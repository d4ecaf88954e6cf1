"""Verify an uploaded proof PDF: the seal's signature over the whole file
first, then the printed QR on its page and the text around it.

Nothing in the file is trusted, or rendered, before the signature is: until
then only pyHanko reads it, and only its structure (cross-reference tables,
the signature dictionary, the signed byte ranges).  Once the bureau's seal is
known to have signed every byte, the page is the bureau's own and PDFium
renders it to read the QR, which is then verified like a scan (so revocation
and expiry count), and the claims it carries must be the page's text.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import struct
import zlib
from typing import Any

import pypdfium2 as pdfium
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from credential.errors import DecodeError, Reason, SignatureError
from schemas import get_type
from verifier.core import (
    Outcome,
    Policy,
    Run,
    StatusLookup,
    VerifiedCredential,
    offline_status,
    outcome_of,
    seal_of,
    verify_qr,
)
from verifier.scan import read_qr_pixels
from verifier.trust import Trust

__all__ = ["MAX_PDF_BYTES", "PDF_CHECKS", "check_pdf", "is_pdf", "verify_pdf"]

log = logging.getLogger(__name__)
# pyHanko logs what it finds wrong with a file (with tracebacks, and the
# certificate names the file carries) at WARNING: an uploader could fill the
# log with text of their own.  Refusals are told by reason codes instead.
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)

#: eSeal's proofs are about 100 KB; anything far larger is not one.
MAX_PDF_BYTES = 2 * 1024 * 1024

#: The checks of a PDF, around those of the QR on its page.
PDF_CHECKS = ("pdf_signature", "pdf_text")

# Render at 200 dpi: the QR's modules are then about 5 pixels wide.
_SCALE = 200 / 72

# What pyHanko and asn1crypto raise on a damaged or hostile file.
_READ_ERRORS = (
    PdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    RecursionError,
    NotImplementedError,
    struct.error,
    zlib.error,
    OSError,
)


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(b"%PDF-")


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _signed_by(data: bytes, trust: Trust, now: int) -> tuple[x509.Certificate, int]:
    """The seal certificate that signed every byte of ``data``, and when."""
    if len(data) > MAX_PDF_BYTES:
        raise DecodeError(Reason.TOO_LARGE, "the PDF is larger than a proof can be")
    if not is_pdf(data):
        raise DecodeError(Reason.MALFORMED, "the file is not a PDF")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        signatures = reader.embedded_signatures
    except _READ_ERRORS:
        raise DecodeError(Reason.MALFORMED, "the PDF cannot be read") from None
    if not signatures:
        if b"/ByteRange" in data:
            # Signed once, and then rewritten so that no signature is left.
            raise SignatureError(Reason.MODIFIED_AFTER_SIGNING)
        raise SignatureError(Reason.NOT_SIGNED)
    if len(signatures) > 1:
        raise SignatureError(
            Reason.MODIFIED_AFTER_SIGNING, "the PDF carries more than one signature"
        )

    context = ValidationContext(
        trust_roots=[_asn1(root) for root in trust.bundle.roots],
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=dt.datetime.fromtimestamp(now, dt.UTC),
    )
    try:
        status = validate_pdf_signature(
            signatures[0],
            signer_validation_context=context,
            key_usage_settings=KeyUsageConstraints(key_usage={"digital_signature"}),
            skip_diff=True,
        )
    except _READ_ERRORS:
        raise SignatureError(Reason.BAD_SIGNATURE) from None
    if not (status.intact and status.valid):
        raise SignatureError(Reason.BAD_SIGNATURE)
    # Whole-file coverage: no byte was added after the signature (an
    # incremental update would leave the signed revision intact and valid).
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        raise SignatureError(Reason.MODIFIED_AFTER_SIGNING)

    _check_gap(data, signatures[0].sig_object)
    _check_unsigned_parts(status, signatures[0], trust)

    # The signing time is the one the seal signed (/M of the signature
    # dictionary, inside the signed bytes).  A timestamp token is unsigned by
    # the seal and its authority not one this verifier trusts: never used.
    signed_at = status.signer_reported_dt
    if signed_at is None:
        raise SignatureError(Reason.BAD_SIGNATURE, "the signature names no time")
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    return cert, int(signed_at.timestamp())


def _check_unsigned_parts(status: Any, embedded: Any, trust: Trust) -> None:
    """What travels in the signature container outside what the seal signed
    must be what the issuer put there: a timestamp token that verifies (one
    over another imprint is tampering), and no certificate but the seal's
    and the pinned root."""
    stamp = status.timestamp_validity
    if stamp is not None and not (stamp.intact and stamp.valid):
        raise SignatureError(Reason.BAD_SIGNATURE, "the timestamp does not verify")
    seals = {_asn1(seal).dump() for seal in trust.bundle.seals.values()}
    if status.signing_cert.dump() not in seals:
        return  # another signer altogether: untrusted_issuer, said later
    known = {status.signing_cert.dump(), *(_asn1(r).dump() for r in trust.bundle.roots)}
    carried = embedded.signed_data["certificates"]
    if any(choice.chosen.dump() not in known for choice in carried or ()):
        raise SignatureError(
            Reason.BAD_SIGNATURE, "the signature carries a certificate of another"
        )


def _check_gap(data: bytes, sig_object: Any) -> None:
    """The one unsigned stretch of the file, the signature's hex string, must
    be exactly the signature as written (upper-case hex, zero padding): a
    change of case or padding there changes no signed byte, yet it changes
    the file, and a proof's file is refused if any byte of it changed."""
    try:
        start, first, second, _ = (int(n) for n in sig_object["/ByteRange"])
        contents = bytes(sig_object["/Contents"])
    except _READ_ERRORS:
        raise SignatureError(Reason.BAD_SIGNATURE) from None
    # The CMS structure in canonical DER (minimal lengths: what the issuer
    # wrote, re-encoded, gives the same bytes), then zeros to the end of the
    # space kept for it.
    length = _der_length(contents)
    if length is None or any(contents[length:]):
        raise SignatureError(Reason.BAD_SIGNATURE)
    try:
        canonical = cms.ContentInfo.load(contents[:length], strict=True).dump(
            force=True
        )
    except _READ_ERRORS:
        raise SignatureError(Reason.BAD_SIGNATURE) from None
    if canonical != contents[:length]:
        raise SignatureError(Reason.BAD_SIGNATURE)
    written = b"<" + contents.hex().upper().encode("ascii") + b">"
    if start != 0 or data[first:second] != written:
        raise SignatureError(Reason.BAD_SIGNATURE)


def _der_length(data: bytes) -> int | None:
    """The length of the DER SEQUENCE at the start of ``data``, or None."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    if data[1] < 0x80:
        return 2 + data[1]
    size = data[1] & 0x7F
    if not 1 <= size <= 4 or len(data) < 2 + size:
        return None
    length = 2 + size + int.from_bytes(data[2 : 2 + size], "big")
    return length if length <= len(data) else None


def _page_of(data: bytes) -> tuple[str, str]:
    """The QR text and the text of a signed proof's one page."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise DecodeError(Reason.MALFORMED, "the PDF cannot be read") from None
    try:
        if len(document) != 1:
            raise DecodeError(Reason.MALFORMED, "a proof has one page")
        page = document[0]
        text = page.get_textpage().get_text_bounded()
        image = page.render(scale=_SCALE, grayscale=True).to_pil()
    finally:
        document.close()
    return read_qr_pixels(image), text


def _squeezed(text: str) -> str:
    return "".join(text.split())


def verify_pdf(
    data: bytes,
    trust: Trust,
    policy: Policy,
    *,
    now: int,
    run: Run | None = None,
    status: StatusLookup = offline_status,
) -> VerifiedCredential:
    """Verify a proof PDF, or raise ``EsealError``.

    The seal's signature must cover the whole file and come from a seal of
    the trust bundle (which chains to the pinned root); the QR on the page
    must verify as a printed proof; the page must print its claims and serial.
    """
    run = run or Run()
    run.outcomes = {"pdf_signature": "not_run", **run.outcomes, "pdf_text": "not_run"}

    with run.step("pdf_signature"):
        cert, signed_at = _signed_by(data, trust, now)
        seal_of(trust, cert, signed_at=signed_at, now=now)
        qr_text, page_text = _page_of(data)

    verified = verify_qr(qr_text, trust, policy, now=now, run=run, status=status)
    if not verified.printed:
        raise SignatureError(
            Reason.CONTENT_MISMATCH, "the QR on the page is not a printed proof"
        )

    with run.step("pdf_text"):
        claims = {name: value for name, _, _, value in verified.claims}
        expected = get_type(verified.type_id).page_text(claims)
        printed = _squeezed(page_text)
        if _squeezed(expected) not in printed or verified.serial not in printed:
            raise SignatureError(Reason.CONTENT_MISMATCH)
    return verified


def check_pdf(
    data: bytes,
    trust: Trust | None,
    policy: Policy,
    *,
    now: int,
    status: StatusLookup = offline_status,
) -> Outcome:
    """``verify_pdf`` as an ``Outcome``, as a counter or the API shows it."""
    return outcome_of(
        trust,
        policy,
        now,
        lambda t, run: verify_pdf(data, t, policy, now=now, run=run, status=status),
    )
