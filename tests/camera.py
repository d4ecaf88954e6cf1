"""Turn a clean QR image into the blurred, tilted, noisy images a camera takes."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageChops, ImageDraw, ImageFilter

__all__ = [
    "BASE45_ALPHABET",
    "VARIANTS",
    "base45_payload",
    "camera_variants",
    "phone_screenshot",
]

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

_WHITE = 255
_JPEG_QUALITIES = range(25, 36)


#: The distortions ``camera_variants`` makes, each also as a low-quality JPEG.
DISTORTIONS = (
    "rotate_3",
    "rotate_minus_7",
    "blur_1_2",
    "low_contrast",
    "dim_gamma",
    "perspective",
    "shear",
    "noise",
    "phone_resolution",
    "rotate_blur_low_contrast",
)
VARIANTS = tuple(n for d in DISTORTIONS for n in (d, f"{d}_jpeg"))


def base45_payload(*, seed: int, size: int, prefix: str = "ES1:") -> str:
    """Return ``prefix`` and the Base45 text (RFC 9285) of ``size`` seeded bytes."""
    data = random.Random(seed).randbytes(size)
    chars: list[str] = []
    for i in range(0, len(data) - 1, 2):
        value = data[i] * 256 + data[i + 1]
        value, c = divmod(value, 45)
        e, d = divmod(value, 45)
        chars += (BASE45_ALPHABET[c], BASE45_ALPHABET[d], BASE45_ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        chars += (BASE45_ALPHABET[c], BASE45_ALPHABET[d])
    return prefix + "".join(chars)


def _perspective_coefficients(
    src: list[tuple[float, float]], dst: list[tuple[float, float]]
) -> tuple[float, ...]:
    """Solve the 8 coefficients Pillow's PERSPECTIVE transform needs.

    Pillow maps each output pixel (x, y) to the input point
    ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)),
    so the system is set up from output corners ``dst`` to input corners
    ``src`` and solved by Gaussian elimination (no numpy needed).
    """
    rows: list[list[float]] = []
    for (u, v), (x, y) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, v])

    n = 8
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [
                    a - factor * b for a, b in zip(rows[r], rows[col], strict=True)
                ]
    return tuple(rows[i][n] / rows[i][i] for i in range(n))


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(
        degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=_WHITE
    )


def _blur(image: Image.Image, radius: float = 1.2) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def _low_contrast(image: Image.Image) -> Image.Image:
    # Black becomes mid grey and white a light grey: 40% of the full range.
    return image.point(lambda v: round(125 + v * 0.4))


def _dim_gamma(image: Image.Image) -> Image.Image:
    # An under-exposed shot: gamma 1.8, then the whites pulled down to 70%.
    return image.point(lambda v: round(255 * (v / 255) ** 1.8 * 0.7))


def _perspective(image: Image.Image) -> Image.Image:
    w, h = image.size
    dx, dy = 0.04 * w, 0.03 * h
    corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    # The top edge a little narrower than the bottom, as from a phone held low.
    seen = [(dx, dy), (w - dx, 0.0), (w, h), (0.0, h - dy)]
    coefficients = _perspective_coefficients(corners, seen)
    return image.transform(
        (w, h),
        Image.Transform.PERSPECTIVE,
        coefficients,
        resample=Image.Resampling.BICUBIC,
        fillcolor=_WHITE,
    )


def _shear(image: Image.Image) -> Image.Image:
    w, h = image.size
    shear = 0.05
    return image.transform(
        (w + round(shear * h), h),
        Image.Transform.AFFINE,
        (1, shear, -shear * h, 0, 1, 0),
        resample=Image.Resampling.BICUBIC,
        fillcolor=_WHITE,
    )


def _noise(image: Image.Image, rng: random.Random, amplitude: int = 48) -> Image.Image:
    # The sum of two uniform noises is triangular, near enough to sensor noise.
    size = image.size
    count = size[0] * size[1]
    first = Image.frombytes("L", size, rng.randbytes(count))
    second = Image.frombytes("L", size, rng.randbytes(count))
    half = first.point(lambda v: v * amplitude // 255)
    other = second.point(lambda v: v * amplitude // 255)
    noise = ImageChops.add(half, other)  # 0 to 2 * amplitude: no clipping
    return ImageChops.add(image, noise, offset=-amplitude)


def _phone_resolution(image: Image.Image, width: int = 400) -> Image.Image:
    # About 4.5 pixels a module for a version-16 code: a QR across part of a frame.
    height = round(image.size[1] * width / image.size[0])
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _combined(image: Image.Image) -> Image.Image:
    return _low_contrast(_blur(_rotate(image, 5), 1.0))


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.convert("L").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def camera_variants(png: bytes, *, seed: int) -> dict[str, bytes]:
    """Return camera-like versions of a clean QR ``png``, by name.

    Each distortion is returned as a PNG under its name and again as a
    low-quality JPEG (quality 25 to 35, chosen by ``seed``) under
    ``<name>_jpeg``.  The same seed gives the same bytes.
    """
    rng = random.Random(seed)
    clean = Image.open(io.BytesIO(png)).convert("L")

    distortions: dict[str, Callable[[Image.Image], Image.Image]] = {
        "rotate_3": lambda im: _rotate(im, 3),
        "rotate_minus_7": lambda im: _rotate(im, -7),
        "blur_1_2": _blur,
        "low_contrast": _low_contrast,
        "dim_gamma": _dim_gamma,
        "perspective": _perspective,
        "shear": _shear,
        "noise": lambda im: _noise(im, rng),
        "phone_resolution": _phone_resolution,
        "rotate_blur_low_contrast": _combined,
    }

    variants: dict[str, bytes] = {}
    for name, distort in distortions.items():
        distorted = distort(clean)
        variants[name] = _png(distorted)
        variants[f"{name}_jpeg"] = _jpeg(distorted, rng.choice(_JPEG_QUALITIES))
    return variants


def phone_screenshot(png: bytes, *, qr_width: int = 480) -> bytes:
    """Return a 1080x2340 phone-screen PNG with the QR drawn small among other content.

    The page has a coloured title bar, lines of grey "text", a photo box and
    a button, as the wallet's credential page might.
    """
    screen = Image.new("RGB", (1080, 2340), (255, 255, 255))
    draw = ImageDraw.Draw(screen)

    draw.rectangle((0, 0, 1080, 90), fill=(30, 30, 30))  # status bar
    draw.rectangle((0, 90, 1080, 260), fill=(0, 82, 155))  # title bar
    draw.rectangle((60, 140, 520, 200), fill=(230, 236, 245))  # title text
    draw.rectangle((60, 320, 300, 620), fill=(180, 190, 200))  # photo
    draw.ellipse((120, 380, 240, 500), fill=(120, 130, 140))
    for i in range(6):
        top = 330 + i * 50
        draw.rectangle((340, top, 340 + 600 - i * 60, top + 22), fill=(90, 90, 90))

    qr = Image.open(io.BytesIO(png)).convert("RGB")
    side = round(qr.size[1] * qr_width / qr.size[0])
    qr = qr.resize((qr_width, side), Image.Resampling.BILINEAR)
    screen.paste(qr, ((1080 - qr_width) // 2, 720))

    below = 720 + side + 60
    for i in range(4):
        top = below + i * 50
        draw.rectangle((120, top, 960 - i * 90, top + 22), fill=(130, 130, 130))
    draw.rounded_rectangle((140, 2100, 940, 2220), radius=40, fill=(0, 122, 255))
    return _png(screen)
