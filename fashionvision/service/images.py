"""Decode an uploaded photo by its content, with the checks a public endpoint needs.

The type is what the bytes are (PIL tries only the allowed formats), never the file name or the
client's content type.  The pixel count is read from the header and refused before decoding, so
a small file claiming a huge size (a decompression bomb) costs no memory.  A truncated or corrupt
file fails the full decode (PIL's ``LOAD_TRUNCATED_IMAGES`` stays off).  The photo is turned as
its EXIF orientation says, as browsers show it, so the boxes fit the picture the user sees.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from fashionvision.service.errors import ApiError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise ApiError(
            415,
            "unsupported_image_type",
            f"the upload is not a {', '.join(ALLOWED_FORMATS)} image",
        ) from None
    except Image.DecompressionBombError as exc:
        raise ApiError(413, "image_too_large", str(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's plugins raise all three
        raise ApiError(400, "corrupt_image", f"the image is truncated or corrupt ({exc})") from None


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """The upload as an RGB image; ApiError 415 (not an allowed image type), 413 (more than
    `max_pixels` pixels) or 400 (truncated or corrupt)."""
    image = _open(data)
    width, height = image.size
    if width * height > max_pixels:
        raise ApiError(
            413,
            "image_too_large",
            f"the image is {width}x{height} = {width * height:,} pixels, more than the limit "
            f"of {max_pixels:,}",
        )
    try:
        image.verify()  # checksums and structure (PNG CRCs) before spending time decoding
        image = _open(data)
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ApiError(413, "image_too_large", str(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ApiError(400, "corrupt_image", f"the image is truncated or corrupt ({exc})") from None
