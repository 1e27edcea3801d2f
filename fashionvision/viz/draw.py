"""Drawing garments and detections: boxes, names, semi-transparent masks, numbered landmarks.

Inputs follow `fashionvision.structures`: boxes xyxy in pixels, landmarks (n, 3) in local
numbering, Garment masks as flat polygons, Detection masks as COCO RLE dicts.  Landmark numbers
are drawn 1-based, as in the DeepFashion2 figure.  A garment's landmark with v=2 is a filled dot,
v=1 a hollow ring, v=0 is not drawn; a detection's landmark (v = score) is a filled dot when its
score reaches `landmark_threshold`, and not drawn otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pycocotools import mask as mask_utils

from fashionvision.structures import Detection, Garment

# One colour per category id 1..13 (index 0 unused), far apart in hue.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128),
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
)


def category_color(category_id: int) -> tuple[int, int, int]:
    """The RGB colour used for a category (grey for an unknown id)."""
    return PALETTE[category_id] if 0 < category_id < len(PALETTE) else PALETTE[0]


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _item_mask(item: Garment | Detection, size: tuple[int, int], scale: float) -> np.ndarray | None:
    """Boolean (H, W) mask of an item at the drawing scale, or None when it has none."""
    w, h = size
    if isinstance(item, Garment):
        if not item.segmentation:
            return None
        img = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(img)
        for poly in item.segmentation:
            pts = (np.asarray(poly, dtype=np.float64).reshape(-1, 2) * scale).tolist()
            if len(pts) >= 3:
                draw.polygon([tuple(p) for p in pts], fill=255)
        return np.asarray(img) > 0
    if item.mask is None:
        return None
    rle = dict(item.mask)
    if isinstance(rle.get("counts"), str):
        rle["counts"] = rle["counts"].encode("ascii")
    m = mask_utils.decode(rle).astype(np.uint8) * 255
    if m.shape != (h, w):
        m = np.asarray(Image.fromarray(m).resize((w, h), Image.NEAREST))
    return m > 0


def _label(item: Garment | Detection) -> str:
    from fashionvision.categories import CATEGORY_NAMES

    name = CATEGORY_NAMES.get(item.category_id, str(item.category_id))
    if isinstance(item, Detection):
        return f"{name} {item.score:.2f}"
    return f"{name} s{item.style}" if item.style else name


def _draw_landmarks(
    draw: ImageDraw.ImageDraw,
    item: Garment | Detection,
    scale: float,
    threshold: float,
    radius: int,
    numbers: bool,
) -> None:
    """Dots (visible), rings (occluded) and 1-based numbers of an item's landmarks."""
    if item.landmarks is None or len(item.landmarks) == 0:
        return
    color = category_color(item.category_id)
    font = _font(max(8, 4 * radius))
    for k, (x, y, v) in enumerate(np.asarray(item.landmarks, dtype=np.float64).reshape(-1, 3)):
        if isinstance(item, Detection):
            style = "dot" if v >= threshold else None
        else:
            style = {2: "dot", 1: "ring"}.get(int(v))
        if style is None:
            continue
        cx, cy = x * scale, y * scale
        bbox = (cx - radius, cy - radius, cx + radius, cy + radius)
        if style == "dot":
            draw.ellipse(bbox, fill=color, outline=(0, 0, 0))
        else:
            draw.ellipse(bbox, outline=color, width=max(1, radius // 2))
        if numbers:
            draw.text(
                (cx + radius, cy - radius),
                str(k + 1),
                fill=(255, 255, 255),
                font=font,
                stroke_width=1,
                stroke_fill=(0, 0, 0),
            )


def draw_annotation(
    image: Image.Image,
    items: Sequence[Garment] | Sequence[Detection],
    *,
    scale: float = 1.0,
    mask_alpha: float = 0.4,
    box_width: int = 2,
    landmark_radius: int = 3,
    landmark_threshold: float = 0.5,
    numbers: bool = True,
) -> Image.Image:
    """Draw items onto a copy of `image` (resized by `scale`, coordinates scaled alike).

    Each item gets its category colour: a semi-transparent mask (`mask_alpha` in [0, 1]), its
    xyxy box with the category name (and style or score) above it, and its numbered landmarks.
    Returns a new RGB image of size (round(W * scale), round(H * scale)).
    """
    out = image.convert("RGB")
    if scale != 1.0:
        out = out.resize((round(out.width * scale), round(out.height * scale)), Image.BILINEAR)
    arr = np.asarray(out, dtype=np.float32).copy()
    for item in items:
        mask = _item_mask(item, out.size, scale)
        if mask is not None:
            color = np.array(category_color(item.category_id), dtype=np.float32)
            arr[mask] = (1 - mask_alpha) * arr[mask] + mask_alpha * color
    out = Image.fromarray(arr.round().clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(out)
    font = _font(max(10, 4 * landmark_radius))
    for item in items:
        color = category_color(item.category_id)
        x1, y1, x2, y2 = (float(v) * scale for v in item.bbox)
        draw.rectangle((x1, y1, x2, y2), outline=color, width=box_width)
        draw.text(
            (x1 + 2, max(0.0, y1 - 4 * landmark_radius - 2)),
            _label(item),
            fill=color,
            font=font,
            stroke_width=1,
            stroke_fill=(0, 0, 0),
        )
    for item in items:
        _draw_landmarks(draw, item, scale, landmark_threshold, landmark_radius, numbers)
    return out


def draw_grid(
    images: Sequence[Image.Image],
    ncols: int,
    pad: int = 4,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Tile images row by row into `ncols` columns of cells as large as the largest image.

    Returns an RGB image of size (ncols * (cw + pad) + pad, nrows * (ch + pad) + pad).
    """
    if not images:
        raise ValueError("draw_grid needs at least one image")
    if ncols < 1:
        raise ValueError("ncols must be >= 1")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    cw = max(im.width for im in images)
    ch = max(im.height for im in images)
    grid = Image.new("RGB", (ncols * (cw + pad) + pad, nrows * (ch + pad) + pad), background)
    for k, im in enumerate(images):
        r, c = divmod(k, ncols)
        grid.paste(im.convert("RGB"), (pad + c * (cw + pad), pad + r * (ch + pad)))
    return grid


def crop_tile(
    image: Image.Image, box: Sequence[float], tile: int, colour: tuple[int, int, int]
) -> Image.Image:
    """The xyxy `box` of `image` scaled to fit a `tile` x `tile` square (small garments are
    enlarged too), centred on a `colour` background inside a 3-pixel `colour` frame."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    crop = image.convert("RGB").crop((x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)))
    fit = (tile - 6) / max(crop.width, crop.height)
    crop = crop.resize(
        (max(1, round(crop.width * fit)), max(1, round(crop.height * fit))), Image.BILINEAR
    )
    canvas = Image.new("RGB", (tile, tile), colour)
    canvas.paste(crop, ((tile - crop.width) // 2, (tile - crop.height) // 2))
    ImageDraw.Draw(canvas).rectangle((0, 0, tile - 1, tile - 1), outline=colour, width=3)
    return canvas


def label_below(image: Image.Image, text: str, size: int = 12) -> Image.Image:
    """`image` above a white strip holding one line of `text`."""
    out = Image.new("RGB", (image.width, image.height + size + 6), "white")
    out.paste(image, (0, 0))
    ImageDraw.Draw(out).text((2, image.height + 2), text, fill=(0, 0, 0), font=_font(size))
    return out
