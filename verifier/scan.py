"""QR reading for the verifier's uploads; the reader lives in credential.qrcode_read,
shared with the wallet, which reads offer QRs."""

from credential.qrcode_read import (
    MAX_IMAGE_BYTES,
    MAX_PIXELS,
    read_qr_pixels,
    read_qr_text,
)

__all__ = ["MAX_IMAGE_BYTES", "MAX_PIXELS", "read_qr_pixels", "read_qr_text"]
