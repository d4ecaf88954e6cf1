"""Printable proofs: the A4 page a resident prints, signed with the seal.

The page carries the bureau's heading, the type's title and text filled with
the claims, the number, the validity, the red seal stamped over the signing
block, the printed QR (the credential alone, see ``compact.printed``) and a
check code for looking the proof up online.  The file is then signed with the
seal certificate as a PAdES baseline signature (ETSI EN 319 142-1), with a
timestamp when a timestamp authority is configured, so a PDF reader names the
bureau as the signer and shows any change made after signing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hmac
import io
import logging
import os
import re
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from asn1crypto.algos import SignedDigestAlgorithm
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fontTools.ttLib import TTFont, TTLibError
from fpdf import FPDF
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from credential import compact, cose, jws, strictjson
from credential.algorithms import Signer
from credential.checkcode import check_code, normalise_check_code
from credential.errors import (
    AuthError,
    ConfigError,
    EsealError,
    NotFoundError,
    Reason,
    StatusError,
    UnavailableError,
    ValidityError,
)
from credential.qrcode_render import qr_modules
from issuer.seal_image import draw_seal, seal_layout
from issuer.service import Issuer, Recorded
from issuer.typeset import break_lines
from keys.certs import seal_names
from schemas import CredentialType, chinese_date, get_type

__all__ = [
    "ProofDesk",
    "ProofPage",
    "find_fonts",
    "render_proof",
    "sign_proof",
]

log = logging.getLogger(__name__)
# fontTools reports every subset it makes (and a table of UMing it drops) at
# INFO and WARNING, and a damaged font in thousands of lines: noise in a
# service's log.  Faults become a config error instead.
logging.getLogger("fontTools").setLevel(logging.ERROR)

# What fpdf2 and fontTools raise on a damaged font file.
_FONT_FAULTS = (
    TTLibError,
    IndexError,
    TypeError,
    KeyError,
    ValueError,
    AssertionError,
    struct.error,
    EOFError,
    OSError,
)

#: Fonts with TrueType outlines that fpdf2 can subset and embed, Song (Ming)
#: style first, as official papers are set; ESEAL_PDF_FONT names another.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)

#: Seconds a timestamp authority has for the whole exchange, and the most
#: its reply may hold (a token with its certificates is a few KB).
_TSA_DEADLINE = 5.0
_MAX_TSA_REPLY = 64 * 1024

_RED = (200, 16, 16)
_PT = 25.4 / 72  # millimetres a point
_BODY_TOP, _BODY_END = 80.0, 180.0
_NOTICE = "本证明由电子印章签署，与纸质证明具有同等效力；打印件可凭二维码查验真伪。"
_PAGE_WIDTH = 210.0
_MARGIN = 25.0


def find_fonts(configured: str | None = None) -> list[Path]:
    """The CJK fonts proofs are set in: ``configured`` (ESEAL_PDF_FONT) or the
    first of ``FONT_CANDIDATES`` on this machine, then the other candidates
    found, as fallbacks for a character the first lacks.  ``ConfigError``
    when there is none, or the first has no Chinese characters."""
    found = [Path(c) for c in FONT_CANDIDATES if os.path.isfile(c)]
    if configured:
        if not os.path.isfile(configured):
            raise ConfigError(Reason.CONFIG, "ESEAL_PDF_FONT names no font file")
        found = [Path(configured), *(f for f in found if f != Path(configured))]
    if not found:
        raise ConfigError(
            Reason.CONFIG,
            "no CJK font for proofs: install fonts-arphic-uming or set ESEAL_PDF_FONT",
        )
    if not set("泰安市公安局证明年月日") <= _characters(found[0]):
        raise ConfigError(Reason.CONFIG, "the proof font has no Chinese characters")
    return found


@functools.cache
def _characters(font: Path) -> frozenset[str]:
    """The characters ``font`` (the first face of a collection) has glyphs for."""
    try:
        with TTFont(str(font), fontNumber=0, lazy=True) as parsed:
            cmap = parsed.getBestCmap() or {}
    except (OSError, ValueError, KeyError, AssertionError, TTLibError):
        raise ConfigError(Reason.CONFIG, "the proof font cannot be read") from None
    return frozenset(chr(code) for code in cmap)


@dataclass(frozen=True)
class ProofPage:
    """Everything printed on a proof."""

    ctype: CredentialType
    claims: Mapping[str, str]
    serial: str
    check_code: str
    qr_text: str
    bureau: str
    seal_name: str
    issued_at: dt.datetime
    expires_at: dt.datetime

    @property
    def number(self) -> str:
        return self.ctype.document_number(self.serial) or self.serial


def _china_date(moment: dt.datetime) -> str:
    local = moment.astimezone(dt.timezone(dt.timedelta(hours=8)))
    return f"{local.year}年{local.month}月{local.day}日"


def render_proof(page: ProofPage, *, fonts: Sequence[Path]) -> bytes:
    """The unsigned A4 PDF of ``page``: text in the first of ``fonts`` (the
    others fill in a character it lacks; subsets embedded, so any reader
    shows them), the seal and QR drawn by the page itself, no images.

    ``ConfigError`` when no font has a character the page needs: a proof is
    never printed with a gap where a name's character should be.
    """
    body = page.ctype.page_text(page.claims).split("\n")
    issued = _china_date(page.issued_at)
    issue_day = page.claims.get("issue_date")
    if issue_day:  # the date the text gives, under the seal too
        issued = chinese_date(issue_day)
    until = page.claims.get(page.ctype.valid_until_claim or "")
    valid_until = chinese_date(until) if until else _china_date(page.expires_at)
    footer = [
        f"查验编号 Serial：{page.serial}",
        f"查验码 Check code：{page.check_code}",
        f"有效期至 Valid until：{valid_until}",
        "扫描二维码，或凭查验编号与查验码在线查验。",
        "Scan the QR, or look the proof up with its serial and check code.",
    ]
    needed = set(
        "".join([page.bureau, page.seal_name, page.ctype.name_zh, page.number])
        + "".join(body + footer)
        + _NOTICE
    ) - set(" \u3000")
    # The first font, and a fallback only where it lacks a character (each
    # font added costs fpdf2 a full read of its file).
    missing = needed - _characters(fonts[0])
    chosen = [fonts[0]]
    for fallback in fonts[1:]:
        if missing & _characters(fallback):
            chosen.append(fallback)
            missing -= _characters(fallback)
    if missing:
        # Never the characters themselves: they may be of a person's name.
        raise ConfigError(
            Reason.CONFIG,
            f"the proof fonts lack {len(missing)} character(s) of this proof",
        )
    fonts = chosen

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_creation_date(page.issued_at)
    pdf.set_lang("zh-CN")
    pdf.set_title(f"{page.ctype.name_zh} {page.number}")
    pdf.set_author(page.bureau)
    pdf.set_creator("eSeal")
    pdf.set_auto_page_break(False)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.add_page()
    for number, font in enumerate(fonts):
        pdf.add_font(f"cjk{number or ''}", fname=str(font), collection_font_number=0)
    if len(fonts) > 1:
        pdf.set_fallback_fonts([f"cjk{n}" for n in range(1, len(fonts))])
    width = _PAGE_WIDTH - 2 * _MARGIN

    # The heading: the bureau in red above a red rule, as official papers are.
    pdf.set_text_color(*_RED)
    pdf.set_font("cjk", size=24)
    pdf.set_xy(_MARGIN, 26)
    pdf.cell(w=width, h=12, text=page.bureau, align="C")
    pdf.set_draw_color(*_RED)
    pdf.set_line_width(0.8)
    pdf.line(_MARGIN, 42, _PAGE_WIDTH - _MARGIN, 42)

    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=26)
    pdf.set_xy(_MARGIN, 50)
    pdf.cell(w=width, h=14, text=page.ctype.name_zh, align="C")
    pdf.set_font("cjk", size=11)
    pdf.set_xy(_MARGIN, 66)
    pdf.cell(w=width, h=7, text=page.number, align="R")

    # The text, each paragraph indented two characters, in the largest size
    # (15 pt down to 10) that leaves room for the seal above the QR.
    for size in (15.0, 14.0, 13.0, 12.0, 11.0, 10.0):
        pdf.set_font("cjk", size=size)
        em = size * _PT
        blocks = [
            break_lines(text, width, pdf.get_string_width, indent=2 * em)
            for text in body
        ]
        leading = em * 1.8
        height = sum(len(lines) for lines in blocks) * leading
        if _BODY_TOP + height + (len(blocks) - 1) * em <= _BODY_END:
            break
    y = _BODY_TOP
    for lines in blocks:
        for number, line in enumerate(lines):
            pdf.set_xy(_MARGIN + (2 * em if number == 0 else 0), y)
            pdf.cell(h=leading, text=line)
            y += leading
        y += em

    # The signing block, with the seal stamped over it.
    block_y = min(max(y + 10, 165.0), 190.0)
    pdf.set_font("cjk", size=15)
    pdf.set_xy(_PAGE_WIDTH - _MARGIN - 80, block_y)
    pdf.cell(w=80, h=10, text=page.bureau, align="C")
    pdf.set_xy(_PAGE_WIDTH - _MARGIN - 80, block_y + 10)
    pdf.cell(w=80, h=10, text=issued, align="C")
    draw_seal(
        pdf,
        seal_layout(page.bureau, page.seal_name),
        centre_x=_PAGE_WIDTH - _MARGIN - 40,
        centre_y=block_y + 10,
        font_family="cjk",
    )

    _draw_qr(pdf, page.qr_text, x=_MARGIN, y=228.0, size=42.0)
    text_x = _MARGIN + 48
    pdf.set_font("cjk", size=10)
    for i, line in enumerate(footer):
        pdf.set_xy(text_x, 229.0 + 6.5 * i)
        pdf.cell(w=width - 48, h=6, text=line)

    pdf.set_font("cjk", size=8)
    pdf.set_text_color(90, 90, 90)
    pdf.set_xy(_MARGIN, 280)
    pdf.cell(
        w=width,
        h=5,
        text=_NOTICE,
        align="C",
    )
    return bytes(pdf.output())


def _draw_qr(pdf: FPDF, text: str, *, x: float, y: float, size: float) -> None:
    """The QR as filled squares (vector, sharp at any print resolution)."""
    modules = qr_modules(text)
    count = len(modules)
    quiet = 4  # the quiet zone in modules (ISO/IEC 18004, section 6.3.8)
    step = size / (count + 2 * quiet)
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(modules):
        start = None
        for col_index, dark in enumerate([*row, False]):
            if dark and start is None:
                start = col_index
            elif not dark and start is not None:
                pdf.rect(
                    x + (quiet + start) * step,
                    y + (quiet + row_index) * step,
                    (col_index - start) * step,
                    step,
                    style="F",
                )
                start = None


class _SealCmsSigner(signers.Signer):
    """pyHanko's signer over eSeal's ``Signer`` (a key file or an HSM token):
    pyHanko builds the CMS structure, the seal signs its attributes."""

    def __init__(
        self, signer: Signer, cert: x509.Certificate, chain: list[x509.Certificate]
    ) -> None:
        mechanism = {"ES256": "sha256_ecdsa", "ES384": "sha384_ecdsa"}.get(
            signer.alg, "ed25519"
        )
        super().__init__(
            signing_cert=_asn1(cert),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_asn1(extra) for extra in chain]
            ),
            signature_mechanism=SignedDigestAlgorithm({"algorithm": mechanism}),
            embed_roots=True,
        )
        self._seal = signer

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        signature = await asyncio.to_thread(self._seal.sign, data)
        if self._seal.alg == "EdDSA":
            return signature
        half = len(signature) // 2
        return encode_dss_signature(
            int.from_bytes(signature[:half], "big"),
            int.from_bytes(signature[half:], "big"),
        )


class _HttpTimeStamper(TimeStamper):
    """An RFC 3161 client over httpx (section 3.4: POST, the query and reply
    media types), under one deadline for the whole exchange and a bound on
    the reply's size; any fault is pyHanko's ``TimestampRequestError``."""

    def __init__(self, url: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._url = url
        # pyHanko asks twice for one signature (once to size it): one
        # deadline for both, from the first question.
        self._until: float | None = None

    async def async_request_tsa_response(
        self, req: tsp.TimeStampReq
    ) -> tsp.TimeStampResp:
        if self._until is None:
            self._until = time.monotonic() + _TSA_DEADLINE
        left = self._until - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            body = await asyncio.wait_for(self._exchange(req.dump()), left)
        except (httpx.HTTPError, TimeoutError):
            raise TimestampRequestError(
                "the timestamp authority did not answer"
            ) from None
        try:
            reply = tsp.TimeStampResp.load(body)
            granted = reply["status"]["status"].native in (
                "granted",
                "granted_with_mods",
            )
            if not granted or reply["time_stamp_token"].native is None:
                raise ValueError("no token granted")
        except (ValueError, TypeError, KeyError):
            raise TimestampRequestError("the timestamp reply is not one") from None
        return reply

    async def _exchange(self, query: bytes) -> bytes:
        headers = {
            "Content-Type": "application/timestamp-query",
            "Accept": "application/timestamp-reply",
        }
        async with httpx.AsyncClient(timeout=_TSA_DEADLINE) as client:
            async with client.stream(
                "POST", self._url, content=query, headers=headers
            ) as reply:
                kind = reply.headers.get("content-type", "")
                if reply.status_code != 200 or kind != "application/timestamp-reply":
                    raise TimestampRequestError("the authority's reply is not one")
                body = bytearray()
                async for chunk in reply.aiter_raw():
                    body += chunk
                    if len(body) > _MAX_TSA_REPLY:
                        raise TimestampRequestError("the timestamp reply is too large")
                return bytes(body)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


#: The digest each seal algorithm signs with (SHA-256 for ES256).
_DIGESTS = {"ES384": "sha384", "EdDSA": "sha512"}


async def sign_proof(
    pdf: bytes,
    signer: Signer,
    cert: x509.Certificate,
    *,
    chain: list[x509.Certificate],
    bureau: str,
    tsa_url: str = "",
) -> bytes:
    """Sign ``pdf`` as a PAdES baseline signature (B-B, or B-T with a
    timestamp from ``tsa_url``), certificate chain embedded."""
    meta = signers.PdfSignatureMetadata(
        field_name="eSeal",
        md_algorithm=_DIGESTS.get(signer.alg, "sha256"),
        subfilter=fields.SigSeedSubFilter.PADES,
        name=bureau,
        reason="电子证明 electronic proof",
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    timestamper = _HttpTimeStamper(tsa_url) if tsa_url else None
    pdf_signer = signers.PdfSigner(
        meta, signer=_SealCmsSigner(signer, cert, chain), timestamper=timestamper
    )
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    try:
        await pdf_signer.async_sign_pdf(writer, output=out)
    except TimestampRequestError:
        log.warning("proof not signed: the timestamp authority did not answer")
        raise UnavailableError(
            Reason.UNAVAILABLE, "the timestamp authority did not answer"
        ) from None
    except (SigningError, ValueError, KeyError, TypeError):
        if timestamper is None:
            raise
        # A token pyHanko cannot use (another imprint, a broken structure).
        log.warning("proof not signed: the timestamp token was not usable")
        raise UnavailableError(
            Reason.UNAVAILABLE, "the timestamp authority's answer was not usable"
        ) from None
    signed = out.getvalue()
    if timestamper is not None:
        await _check_stamp(signed)
    return signed


async def _check_stamp(signed: bytes) -> None:
    """pyHanko puts whatever token the authority sent into the signature; one
    over another hash would make the proof look forged to every verifier.
    Check it as a verifier will, and print nothing rather than that."""
    unusable = UnavailableError(
        Reason.UNAVAILABLE, "the timestamp authority's token does not fit"
    )
    try:
        (embedded,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
        status = await async_validate_pdf_signature(
            embedded,
            signer_validation_context=ValidationContext(trust_roots=[]),
            skip_diff=True,
        )
    except (ValueError, KeyError, TypeError, PdfError):
        raise unusable from None
    stamp = status.timestamp_validity
    if stamp is None or not (stamp.intact and stamp.valid):
        log.warning("proof not signed: the timestamp token does not fit")
        raise unusable


# A serial: the type's prefix and twelve digits, ASCII only.
_SERIAL = re.compile(r"[A-Z]{1,8}[0-9]{12}")

_DOWNLOAD_LEEWAY = 120

#: Proofs rendered and signed at once; each takes a core for a fraction of a
#: second, so a burst queues instead of starving the event loop's other work.
_AT_ONCE = 2


@dataclass
class ProofDesk:
    """Prints proofs and looks them up by serial and check code."""

    issuer: Issuer
    #: The pinned root, embedded beside the seal certificate in signatures.
    root: x509.Certificate | None = None
    _fonts: list[Path] = field(default_factory=list, repr=False)
    _slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(_AT_ONCE), repr=False
    )

    @functools.cached_property
    def _code_key(self) -> bytes:
        # Its own key, derived from the registry secret (HMAC as a PRF).
        return hmac.new(
            self.issuer.config.subject_key, b"eSeal proof check code key", "sha256"
        ).digest()

    def check_code(self, serial: str) -> str:
        return check_code(self._code_key, serial)

    def fonts(self) -> list[Path]:
        if not self._fonts:
            self._fonts = find_fonts(self.issuer.config.pdf_font or None)
        return self._fonts

    async def pdf(self, serial: str, *, now: dt.datetime) -> bytes:
        """The signed PDF of a proof that is valid now."""
        record = await self.issuer.recorded(serial, now=now)
        ctype = _printable(record)
        if record.state == "revoked":
            raise StatusError(Reason.REVOKED)
        if record.state == "suspended":
            raise StatusError(Reason.SUSPENDED)
        if record.state == "expired":
            raise ValidityError(Reason.EXPIRED)

        unverified = cose.decode_sign1(record.compact, max_size=4096)
        cred = compact.decode_credential(unverified.payload)
        claims = compact.decode_claims(ctype, cred.raw_claims, profile=cred.profile)
        bureau, seal_name = seal_names(self.issuer.signer_cert)
        page = ProofPage(
            ctype=ctype,
            claims=claims,
            serial=serial,
            check_code=self.check_code(serial),
            qr_text=compact.printed(record.compact),
            bureau=bureau,
            seal_name=seal_name,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
        )
        fonts = self.fonts()
        async with self._slots:
            unsigned = b""
            try:
                unsigned = await asyncio.to_thread(render_proof, page, fonts=fonts)
            except _FONT_FAULTS:
                # fpdf2 reads the whole font only here: a damaged file shows
                # now, and is the operator's to replace.  Raised outside this
                # block, so that the fault (whose frames hold the open font
                # file fpdf2 leaves behind) is let go at once, not kept as
                # the new error's context.
                log.warning("proof not printed: a proof font cannot be read")
            if not unsigned:
                raise ConfigError(Reason.CONFIG, "a proof font cannot be read")
            signed = await sign_proof(
                unsigned,
                self.issuer.signer,
                self.issuer.signer_cert,
                chain=[self.root] if self.root is not None else [],
                bureau=bureau,
                tsa_url=self.issuer.config.tsa_url,
            )
        log.info("proof printed type=%s", ctype.id)
        return signed

    async def holder_pdf(self, request_jwt: str, *, now: dt.datetime) -> bytes:
        """The PDF of the proof a holder asks for with a JWT signed by the
        holder key the proof is bound to (``typ`` jws.PROOF_DOWNLOAD_TYP, ``aud`` this
        issuer, ``sub`` the serial, a recent ``iat``).  Any fault: 401."""
        refused = AuthError(Reason.UNAUTHORIZED, "the download request is not valid")
        try:
            if len(request_jwt) > 4096:
                raise refused
            unverified = jws.parse(request_jwt)
            claims = strictjson.loads(unverified.payload)
        except EsealError:
            raise refused from None
        serial = claims.get("sub") if isinstance(claims, dict) else None
        if (
            unverified.header.get("typ") != jws.PROOF_DOWNLOAD_TYP
            or unverified.header.get("alg") != "ES256"
            or not isinstance(claims, dict)
            or claims.get("aud") != self.issuer.config.issuer_url
            or not isinstance(serial, str)
            or not _SERIAL.fullmatch(serial)
        ):
            raise refused
        iat = claims.get("iat")
        if (
            not isinstance(iat, int)
            or isinstance(iat, bool)
            or not 0 < iat < 2**40
            or abs(iat - now.timestamp()) > _DOWNLOAD_LEEWAY
        ):
            raise refused
        try:
            record = await self.issuer.recorded(serial, now=now)
            unverified_sign1 = cose.decode_sign1(record.compact, max_size=4096)
            holder_key = compact.decode_credential(unverified_sign1.payload).holder_key
            jws.check(unverified, holder_key)
        except EsealError:
            raise refused from None
        return await self.pdf(serial, now=now)

    async def lookup(
        self, serial: str, code: str, *, now: dt.datetime
    ) -> tuple[str, str]:
        """The printed QR of the proof with this serial and check code, for a
        verifier to check like a scan, and its state in the registry now
        (valid, suspended, revoked or expired): a counter's trust bundle may
        not know of a revocation yet, the registry does.

        One answer, ``not_found``, whether the serial is unknown or the code
        wrong; the codes are compared in constant time.
        """
        if not _SERIAL.fullmatch(serial):
            serial = "-"  # no serial is that: the same answer, the same work
        given = normalise_check_code(code)
        expected = self.check_code(serial)
        matches = hmac.compare_digest(expected.encode(), given.encode())
        try:
            record = await self.issuer.recorded(serial, now=now)
            _printable(record)
        except EsealError:
            record = None
        if not matches or record is None:
            raise NotFoundError(
                Reason.NOT_FOUND, "no proof with that serial and check code"
            )
        return compact.printed(record.compact), record.state


def _printable(record: Recorded) -> CredentialType:
    ctype = get_type(record.type_id)
    if not ctype.template:
        raise NotFoundError(Reason.NOT_FOUND, "that credential is not a proof")
    return ctype
