"""A timestamp authority on 127.0.0.1 for the tests: RFC 3161 over HTTP,
answering real timestamp queries with tokens signed by its own certificate
(chained to its own root), built with pyHanko's token writer."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

__all__ = ["TimestampAuthority", "timestamp_authority"]


@dataclass(frozen=True)
class TimestampAuthority:
    url: str
    root: asn1_x509.Certificate
    requests: list[bytes]
    #: Makes tokens with the authority's key (for tests that build their own).
    stamper: DummyTimeStamper


#: How the authority answers: as it should, or in one of the ways a broken or
#: hostile one might.
MODES = ("good", "garbage", "no-token", "trickle", "huge", "wrong-imprint", "slow")


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None,
    now: dt.datetime,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signing_key = issuer or (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=40 * 365))
        .not_valid_after(now + dt.timedelta(days=3650))
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True
        ).add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(signing_key, hashes.SHA256())


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@contextmanager
def timestamp_authority(
    now: dt.datetime, mode: str = "good", *, stamp_time: dt.datetime | None = None
) -> Iterator[TimestampAuthority]:
    """A TSA serving on an ephemeral port of 127.0.0.1 until the block ends;
    its tokens say ``stamp_time`` (``now`` unless given)."""
    assert mode in MODES
    # pyHanko's token writer signs with RSA only.
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _cert("eSeal test TSA root", root_key, None, now)
    tsa = _cert("eSeal test TSA", tsa_key, (root.subject, root_key), now)
    stamper = DummyTimeStamper(
        tsa_cert=_asn1(tsa),
        tsa_key=keys.PrivateKeyInfo.load(
            tsa_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        certs_to_embed=[_asn1(root)],  # type: ignore[arg-type]
        fixed_dt=stamp_time or now,
    )
    seen: list[bytes] = []
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            size = int(self.headers.get("Content-Length", "0"))
            query = self.rfile.read(min(size, 16 * 1024))
            seen.append(query)
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            request = tsp.TimeStampReq.load(query)
            if mode == "wrong-imprint":
                # A well-made token over another hash.
                request["message_imprint"]["hashed_message"] = bytes(32)
            if mode == "slow" and stop.wait(1.0):
                return
            reply = stamper.request_tsa_response(request)
            body = {
                "good": reply.dump(),
                "garbage": b"\x30\x03not a reply",
                "no-token": bytes.fromhex("30053003020100"),
                "trickle": reply.dump(),
                "wrong-imprint": reply.dump(),
                "slow": reply.dump(),
                "huge": b"\x30" * (8 * 1024 * 1024),
            }[mode]
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "trickle":
                for byte in body[:20]:  # a byte a second: never done in time
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if stop.wait(1):
                        return
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield TimestampAuthority(
            url=f"http://{host!s}:{port}/tsa",
            root=_asn1(root),
            requests=seen,
            stamper=stamper,
        )
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
