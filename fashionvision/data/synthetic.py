"""Generator of a synthetic data set in the exact DeepFashion2 format.

Each pair_id is an "outfit" of 1-2 styled garments (a top or outwear with a bottom, or one item)
drawn from `synthetic_templates`.  As in DeepFashion2, shop and user images mostly show the
garments worn by a person (a top over the waist of a bottom), some lying flat (no wear); shop
images on a clean background with body-coloured occluders (a model's arms and hair), user images
on a cluttered background with random occluders and, half of the time, a bystander's garment
(style 0).  Garments are scaled, cut by the image border, occluded, rotated, tilted or seen from
the back so that the attribute levels follow a `DifficultyMix` (default: the real DeepFashion2
mix, see `MIXES` and `load_mix`): for each garment a target level of each attribute is drawn
from the mix and the scene is built to reach it; the labels are then measured on the geometry,
never copied from the targets.  Categories are about equally frequent by default; a
`CategoryMix` (see `CATEGORY_MIXES` and `load_categories`, e.g. DeepFashion2's ~95:1 skew) sets
the target share of garment instances per category instead.

Labels are computed from the same geometry that is drawn (shapely polygons, drawn with PIL), with
the conventions of the real files:
- bounding_box: the whole garment (occluded parts included) clipped to the image, rounded
  outwards to whole pixels, so every labelled landmark lies inside it;
- segmentation: the visible part (garment polygon clipped to the image, minus everything drawn on
  top of it) as hole-free polygons, several where it is split (their union is the mask); per item
  either closed whole-pixel rings (last point = first, `CLOSED_INT_SHARE` of the items, as ~89 %
  of real polygons) or open rings of 2-decimal floats;
- landmarks: v=2 visible, v=1 inside the image but covered (or on the front neckline in a back
  view), v=0 with x=y=0 outside the image;
- scale from the box area fraction f of the image: f < 0.10 -> 1 small, f < 0.40 -> 2 moderate,
  else 3 large;
- occlusion from the covered fraction c of the garment's in-image area: c < 0.2 -> 1, c < 0.5 -> 2,
  else 3;
- zoom_in from the fraction z of the garment's area outside the image: z < 0.05 -> 1, z < 0.3 -> 2,
  else 3;
- viewpoint from the pose: 1 lying flat (no wear); 3 worn and seen from the back, rotated by more
  than 25 degrees or in strong perspective (> 0.2, a side view); else 2 (frontal).
An item whose visible area is under 0.4 % of the image or under 20 % of its own area is drawn but
not annotated; its pixels still count as covering the items below it.  A style survives only
if the garment is annotated in at least one shop and one user image of its pair; otherwise it
becomes style 0 in the pair.

Determinism: every pair is rendered from its own generator seeded by (seed, split, pair index),
so the bytes do not depend on the number of worker processes.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import shapely
from PIL import Image, ImageDraw
from shapely.geometry import Polygon, box
from shapely.ops import unary_union

from fashionvision.categories import CATEGORY_NAMES, NUM_CATEGORIES, category_id_from_text
from fashionvision.data.deepfashion2 import image_path, write_annotation
from fashionvision.data.synthetic_templates import TEMPLATES, GarmentTemplate
from fashionvision.io_utils import atomic_path
from fashionvision.structures import Garment, ImageAnnotation, Source

TOPS = (1, 2, 3, 4, 5, 6)
BOTTOMS = (7, 8, 9)
DRESSES = (10, 11, 12, 13)
PATTERNS = ("solid", "stripes", "checks", "dots")
# Weaves drawn as a brightness modulation over the colour pattern; "cotton" (plain) adds none.
FABRICS = ("cotton", "denim", "knit", "corduroy", "leather", "lace", "satin")
SPLITS = (("train", 0), ("validation", 1))

MIN_VISIBLE_IMAGE_FRACTION = 0.004
MIN_VISIBLE_OWN_FRACTION = 0.2
JPEG_QUALITY = 90
# Label thresholds (see the module docstring).
SCALE_THRESHOLDS = (0.10, 0.40)
OCCLUSION_THRESHOLDS = (0.2, 0.5)
ZOOM_THRESHOLDS = (0.05, 0.3)
# Share of items whose polygons are closed whole-pixel rings (real files: 524 of 589 polygons).
CLOSED_INT_SHARE = 0.89


@dataclass(frozen=True)
class Appearance:
    """Colour and texture of one style: RGB in 0..255, pattern period in unit-frame units, and a
    fabric weave from `FABRICS` (the DeepFashion generator's; "cotton" draws none)."""

    base: tuple[int, int, int]
    accent: tuple[int, int, int]
    pattern: str
    period: float
    angle: float
    fabric: str = "cotton"


@dataclass(frozen=True)
class Style:
    """A garment of a pair: category, style number (0 = distractor) and look."""

    category_id: int
    style: int
    appearance: Appearance


@dataclass
class GarmentLayer:
    """A garment drawn with the homography `h` (3x3) from the template's unit frame to pixels."""

    style: Style
    h: np.ndarray
    back_view: bool = False
    viewpoint: int = 2
    closed_int: bool = False  # segmentation style: closed whole-pixel rings, else open floats


@dataclass
class ShapeLayer:
    """An occluding or clutter shape: polygon (k, 2) in pixels and its RGB colour."""

    polygon: np.ndarray
    color: tuple[int, int, int]


Layer = GarmentLayer | ShapeLayer


@dataclass
class Scene:
    """Everything drawn in one image, back to front; `clutter` shapes are unlabelled."""

    source: Source
    background: tuple[int, int, int]
    clutter: list[ShapeLayer] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)


# ----------------------------------------------------------------------------- geometry


def _similarity(
    scale: float, angle_deg: float, tx: float, ty: float, mirror: bool = False
) -> np.ndarray:
    """3x3 matrix: optional x-mirror, then scale and rotation about the origin, then translation."""
    a = math.radians(angle_deg)
    c, s = math.cos(a) * scale, math.sin(a) * scale
    m = np.array([[c, -s, tx], [s, c, ty], [0.0, 0.0, 1.0]])
    if mirror:
        m = m @ np.diag([-1.0, 1.0, 1.0])
    return m


def _perspective(px: float, py: float) -> np.ndarray:
    """Homography that tilts the plane: w = 1 + px*x + py*y (x, y in the item's own units)."""
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [px, py, 1.0]])


def _centering(t: GarmentTemplate) -> np.ndarray:
    """Move the template's centre to the origin and make its larger side 1."""
    k = 1.0 / max(1.0, t.height)
    return np.array([[k, 0.0, -0.5 * k], [0.0, k, -0.5 * t.height * k], [0.0, 0.0, 1.0]])


def apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map (n, 2) points through the 3x3 homography `h`; returns (n, 2)."""
    q = np.c_[pts, np.ones(len(pts))] @ h.T
    return q[:, :2] / q[:, 2:3]


def _hole_free(poly: Polygon) -> list[Polygon]:
    """Split a polygon by vertical cuts through its holes (COCO polygons hold no holes)."""
    if not poly.interiors:
        return [poly]
    cx = poly.interiors[0].centroid.x
    x0, y0, x1, y1 = poly.bounds
    out: list[Polygon] = []
    for half in (box(x0 - 1, y0 - 1, cx, y1 + 1), box(cx, y0 - 1, x1 + 1, y1 + 1)):
        for piece in _polygons(poly.intersection(half)):
            out.extend(_hole_free(piece))
    return out


def _polygons(geom: shapely.Geometry) -> list[Polygon]:
    """The polygon parts of any geometry (drops points and lines left by clipping)."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


# ----------------------------------------------------------------------------- drawing


def random_appearance(rng: np.random.Generator) -> Appearance:
    """A random colour pair (kept apart so patterns show) and pattern for one style."""
    base = rng.integers(20, 230, size=3)
    accent = (base + rng.integers(70, 180, size=3)) % 256
    return Appearance(
        base=tuple(int(v) for v in base),
        accent=tuple(int(v) for v in accent),
        pattern=str(rng.choice(PATTERNS)),
        period=float(rng.uniform(0.06, 0.16)),
        angle=float(rng.uniform(0, math.pi)),
    )


def _texture(app: Appearance, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """RGB float texture (..., 3) at unit-frame coordinates u, v of the garment."""
    ca, sa = math.cos(app.angle), math.sin(app.angle)
    a = (u * ca + v * sa) / app.period
    b = (-u * sa + v * ca) / app.period
    if app.pattern == "stripes":
        sel = (a % 1.0) < 0.45
    elif app.pattern == "checks":
        sel = ((a % 1.0) < 0.5) ^ ((b % 1.0) < 0.5)
    elif app.pattern == "dots":
        sel = ((a % 1.0 - 0.5) ** 2 + (b % 1.0 - 0.5) ** 2) < 0.06
    else:
        sel = np.zeros(u.shape, dtype=bool)
    rgb = np.where(sel[..., None], np.array(app.accent, float), np.array(app.base, float))
    # Soft vertical shading (folds) so a flat colour still has some structure.
    shade = 0.88 + 0.12 * np.cos(u * 9.0 + v * 2.0)
    if app.fabric != "cotton":
        shade = shade * _weave(app.fabric, u, v)
    return rgb * shade[..., None]


def _weave(fabric: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Brightness factor of a fabric at unit-frame coordinates: periods of a few pixels (at
    ~150 px per garment width) so that each weave reads at the generator's image sizes."""
    if fabric == "denim":  # twill: fine diagonal ridges
        return np.where(((u + v) / 0.03) % 1.0 < 0.5, 1.0, 0.8)
    if fabric == "knit":  # narrow vertical ribs
        return 0.78 + 0.22 * np.abs(np.cos(np.pi * u / 0.03))
    if fabric == "corduroy":  # wide, sharp vertical wales
        return np.where((u / 0.06) % 1.0 < 0.6, 1.0, 0.68)
    if fabric == "leather":  # one glossy highlight
        return 0.75 + 0.6 * np.exp(-((u - 0.35) ** 2 + (v - 0.3) ** 2) / 0.03)
    if fabric == "lace":  # a mesh of light holes
        holes = ((u / 0.05) % 1.0 - 0.5) ** 2 + ((v / 0.05) % 1.0 - 0.5) ** 2 < 0.05
        return np.where(holes, 1.6, 1.0)
    if fabric == "satin":  # broad smooth sheen bands
        return 0.8 + 0.35 * np.cos(4.0 * (u + 0.5 * v)) ** 2
    raise ValueError(f"unknown fabric {fabric!r} (one of {', '.join(FABRICS)})")


def _draw_garment(canvas: np.ndarray, layer: GarmentLayer) -> None:
    """Paint one garment (texture inside its outline, dark seams) into `canvas` (S, S, 3) uint8."""
    t = TEMPLATES[layer.style.category_id]
    pix = apply_h(layer.h, t.outline)
    size = canvas.shape[0]
    x0, y0 = np.clip(np.floor(pix.min(0)).astype(int), 0, size)
    x1, y1 = np.clip(np.ceil(pix.max(0)).astype(int) + 1, 0, size)
    if x1 <= x0 or y1 <= y0:
        return
    mask_img = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(mask_img).polygon([tuple(p) for p in pix - (x0, y0)], fill=255)
    mask = np.asarray(mask_img) > 0
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5
    uv = apply_h(np.linalg.inv(layer.h), np.c_[xs.ravel(), ys.ravel()]).reshape(*xs.shape, 2)
    tex = _texture(layer.style.appearance, uv[..., 0], uv[..., 1])
    region = canvas[y0:y1, x0:x1]
    region[mask] = tex[mask].clip(0, 255).astype(np.uint8)


def _draw_seams(draw: ImageDraw.ImageDraw, layer: GarmentLayer) -> None:
    """Outline and detail lines in a darker shade of the garment's base colour."""
    dark = tuple(int(c * 0.45) for c in layer.style.appearance.base)
    draw_seam_lines(draw, layer, dark)


def draw_seam_lines(
    draw: ImageDraw.ImageDraw, layer: GarmentLayer, fill: int | tuple[int, ...]
) -> None:
    """A garment's outline and detail lines in `fill` (also how the parsing generator paints
    the same lines into its label map, so labels and pixels agree)."""
    t = TEMPLATES[layer.style.category_id]
    pix = apply_h(layer.h, t.outline)
    draw.line([tuple(p) for p in np.vstack([pix, pix[:1]])], fill=fill, width=1)
    details = t.details
    if layer.back_view and t.front_only:
        # From behind only the back neckline (landmarks 2-1-6) shows, not the front one.
        details = (t.landmarks[[1, 0, 5]],)
    for line in details:
        draw.line([tuple(p) for p in apply_h(layer.h, line)], fill=fill, width=2)


def render(scene: Scene, size: int) -> Image.Image:
    """Draw a scene back to front into an RGB image of `size` x `size` pixels."""
    img = Image.new("RGB", (size, size), scene.background)
    draw = ImageDraw.Draw(img)
    for shape in scene.clutter:
        draw.polygon([tuple(p) for p in shape.polygon], fill=shape.color)
    for layer in scene.layers:
        if isinstance(layer, ShapeLayer):
            draw.polygon([tuple(p) for p in layer.polygon], fill=layer.color)
            continue
        canvas = np.array(img)
        _draw_garment(canvas, layer)
        img = Image.fromarray(canvas)
        draw = ImageDraw.Draw(img)
        _draw_seams(draw, layer)
    return img


# ----------------------------------------------------------------------------- labels


def _layer_geometry(layer: Layer) -> Polygon:
    """The pixel-space polygon a layer covers (made valid)."""
    pts = (
        layer.polygon
        if isinstance(layer, ShapeLayer)
        else apply_h(layer.h, TEMPLATES[layer.style.category_id].outline)
    )
    return shapely.make_valid(Polygon(pts)) if len(pts) >= 3 else Polygon()


def _level(value: float, thresholds: tuple[float, float]) -> int:
    """1, 2 or 3 by comparing `value` with two increasing thresholds."""
    return 1 + int(value >= thresholds[0]) + int(value >= thresholds[1])


def _closed_int_ring(ring: np.ndarray) -> list[float] | None:
    """A ring rounded to whole pixels, repeated points dropped, closed by repeating its first
    point (the style of most real DeepFashion2 polygons); None if < 3 distinct points are left."""
    pts = np.rint(ring).astype(np.int64)
    pts = pts[np.r_[True, (np.diff(pts, axis=0) != 0).any(1)]]
    if len(pts) > 1 and (pts[0] == pts[-1]).all():
        pts = pts[:-1]
    if len(np.unique(pts, axis=0)) < 3:
        return None
    return [float(v) for v in np.vstack([pts, pts[:1]]).reshape(-1)]


def _segmentation(visible: shapely.Geometry, closed_int: bool = False) -> list[list[float]]:
    """Hole-free polygons of the visible region as flat [x1, y1, ...] lists (>= 3 points):
    closed whole-pixel rings when `closed_int`, else open rings with 2-decimal floats."""
    out = []
    for part in _polygons(visible):
        for piece in _hole_free(part):
            if piece.area < 2.0:
                continue  # slivers left by clipping carry no information
            ring = np.asarray(piece.exterior.coords)[:-1]
            if closed_int:
                poly = _closed_int_ring(ring)
            else:
                poly = [float(v) for v in np.round(ring, 2).reshape(-1)] if len(ring) >= 3 else None
            if poly:
                out.append(poly)
    return out


def _whole_box(in_image: shapely.Geometry) -> tuple[float, float, float, float]:
    """Whole-pixel box around the garment's in-image geometry (occluded parts included),
    rounded outwards; it stays inside [0, size] because `in_image` does."""
    x0, y0, x1, y1 = in_image.bounds
    return (
        float(math.floor(x0)),
        float(math.floor(y0)),
        float(math.ceil(x1)),
        float(math.ceil(y1)),
    )


def _landmarks(layer: GarmentLayer, cover: shapely.Geometry, size: int) -> np.ndarray:
    """(n, 3) landmarks: v=2 visible, v=1 covered or hidden in a back view, v=0 (x=y=0) outside."""
    t = TEMPLATES[layer.style.category_id]
    xy = apply_h(layer.h, t.landmarks)
    inside = (xy >= 0).all(1) & (xy < size).all(1)
    hidden = np.zeros(len(xy), dtype=bool)
    if not cover.is_empty:
        hidden = shapely.contains_xy(cover, xy[:, 0], xy[:, 1])
    if layer.back_view:
        hidden[list(t.front_only)] = True
    v = np.where(inside, np.where(hidden, 1.0, 2.0), 0.0)
    xy = np.where(inside[:, None], np.round(xy, 2), 0.0)
    return np.c_[xy, v]


def annotate(scene: Scene, size: int) -> list[tuple[int, Garment]]:
    """Truthful labels of a scene's garments: (layer index, Garment) for each annotated garment."""
    frame = box(0, 0, size, size)
    geoms = [_layer_geometry(layer) for layer in scene.layers]
    out: list[tuple[int, Garment]] = []
    for i, layer in enumerate(scene.layers):
        if not isinstance(layer, GarmentLayer) or geoms[i].is_empty:
            continue
        full = geoms[i]
        in_image = full.intersection(frame)
        cover = unary_union(geoms[i + 1 :]) if i + 1 < len(geoms) else Polygon()
        visible = in_image.difference(cover) if not cover.is_empty else in_image
        if visible.area < max(
            MIN_VISIBLE_IMAGE_FRACTION * size * size, MIN_VISIBLE_OWN_FRACTION * full.area
        ):
            continue
        seg = _segmentation(visible, layer.closed_int)
        if not seg:
            continue
        bbox = _whole_box(in_image)
        box_area = (bbox[2] - bbox[0]) * (bbox[3] - bbox[1])
        out.append(
            (
                i,
                Garment(
                    category_id=layer.style.category_id,
                    bbox=bbox,
                    landmarks=_landmarks(layer, cover, size),
                    segmentation=seg,
                    style=layer.style.style,
                    scale=_level(box_area / (size * size), SCALE_THRESHOLDS),
                    occlusion=_level(
                        1.0 - visible.area / max(in_image.area, 1e-9), OCCLUSION_THRESHOLDS
                    ),
                    zoom_in=_level(1.0 - in_image.area / max(full.area, 1e-9), ZOOM_THRESHOLDS),
                    viewpoint=layer.viewpoint,
                ),
            )
        )
    return out


# ----------------------------------------------------------------------------- difficulty mix

ATTRIBUTES = ("scale", "occlusion", "zoom_in", "viewpoint")
Shares = tuple[float, float, float]


@dataclass(frozen=True)
class DifficultyMix:
    """Target shares of the levels 1/2/3 of each DeepFashion2 attribute over all annotated items.

    The default is the real DeepFashion2 mix (the paper's statistics figure): scale
    small/moderate/large 26/50/24 %, occlusion slight/medium/heavy 47/47/6 %, zoom_in
    no/medium/large 67/21/12 %, viewpoint no wear/frontal/side-or-back 7/78/15 %.  Shares are
    normalised to sum to 1.

    The generator never writes a drawn level as a label: it draws a *target* level of each
    attribute per garment from these shares and builds the scene to have it (garment size for
    scale, the crop for zoom_in, occluding shapes for occlusion, the pose for viewpoint); the
    labels are then computed from the geometry.  Garments of one image share a pose and a crop,
    and occluders of one garment also cover those below it, so the measured mix is near the
    target (within a few points for the real mix), not equal to it.
    """

    scale: Shares = (0.26, 0.50, 0.24)
    occlusion: Shares = (0.47, 0.47, 0.06)
    zoom_in: Shares = (0.67, 0.21, 0.12)
    viewpoint: Shares = (0.07, 0.78, 0.15)

    def __post_init__(self) -> None:
        for name in ATTRIBUTES:
            raw = getattr(self, name)
            try:
                p = tuple(float(x) for x in raw)
            except (TypeError, ValueError):
                raise ValueError(f"mix {name}: need 3 numbers, got {raw!r}") from None
            total = sum(p)
            if len(p) != 3 or min(p) < 0 or not math.isfinite(total) or total <= 0:
                raise ValueError(f"mix {name}: need 3 non-negative shares with a positive sum")
            object.__setattr__(self, name, tuple(x / total for x in p))

    def draw(self, rng: np.random.Generator, name: str) -> int:
        """A target level 1..3 of attribute `name`."""
        return int(rng.choice(3, p=getattr(self, name))) + 1


#: Named mixes of `generate_dataset(mix=...)` and ``fashionvision synth --mix``.  "easy" is about
#: what this generator made before it followed the real mix (few occluded, cropped or side views).
MIXES: dict[str, DifficultyMix] = {
    "real": DifficultyMix(),
    "easy": DifficultyMix(
        scale=(0.15, 0.60, 0.25),
        occlusion=(0.85, 0.13, 0.02),
        zoom_in=(0.80, 0.17, 0.03),
        viewpoint=(0.30, 0.60, 0.10),
    ),
}


def load_mix(spec: str | Path | DifficultyMix | None) -> DifficultyMix:
    """A mix from a name in `MIXES`, or a YAML/JSON file of shares, e.g.
    ``{"occlusion": [0.8, 0.15, 0.05]}`` (attributes left out keep the real shares); None: real."""
    if spec is None:
        return MIXES["real"]
    if isinstance(spec, DifficultyMix):
        return spec
    if str(spec) in MIXES:
        return MIXES[str(spec)]
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"mix {str(spec)!r}: neither one of {sorted(MIXES)} nor a file")
    import yaml

    try:
        obj = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML/JSON ({exc})") from None
    if not isinstance(obj, dict) or set(obj) - set(ATTRIBUTES):
        raise ValueError(f"{path}: need a mapping with keys among {', '.join(ATTRIBUTES)}")
    return DifficultyMix(**{k: tuple(v) if isinstance(v, list) else v for k, v in obj.items()})


# ----------------------------------------------------------------------------- category mix

#: Garment instances per category in DeepFashion2, approximate counts read off the paper's
#: statistics figure (they sum to ~835K where the paper states 801K items; only the ratios are
#: used): ~95:1 between short sleeve tops and short sleeve outwear.
#: `CATEGORY_MIXES["deepfashion2"]` is these counts normalised.
DEEPFASHION2_INSTANCES: dict[int, int] = {
    1: 190_000,  # short sleeve top
    2: 95_000,  # long sleeve top
    3: 2_000,  # short sleeve outwear
    4: 38_000,  # long sleeve outwear
    5: 42_000,  # vest
    6: 6_000,  # sling
    7: 92_000,  # shorts
    8: 147_000,  # trousers
    9: 83_000,  # skirt
    10: 47_000,  # short sleeve dress
    11: 24_000,  # long sleeve dress
    12: 49_000,  # vest dress
    13: 20_000,  # sling dress
}

# The outfit model that `CategoryMix` inverts.  A pair has on average 1.5 shop and 2 user images
# (`plan_split`); a garment alone in its pair is in all of them.  Each garment of a two-garment
# outfit is in one shop image either way (`_shop_groups`) and, per user image, in
# _USER_SHOWS_ALL + (1 - _USER_SHOWS_ALL) / 2 of them (`_pair_scenes`).
_TOP_GETS_BOTTOM = 0.5
_BOTTOM_GETS_TOP = 0.7
_USER_SHOWS_ALL = 0.85
_SOLO_IMAGES = 1.5 + 2.0
_DUO_IMAGES = 1.0 + 2.0 * (_USER_SHOWS_ALL + (1.0 - _USER_SHOWS_ALL) / 2.0)


def _within(shares: tuple[float, ...], group: tuple[int, ...]) -> tuple[float, ...]:
    """Shares of the categories of `group` normalised within it (uniform if all are 0: then the
    group is never drawn, but the probabilities stay valid)."""
    w = [shares[c - 1] for c in group]
    total = sum(w)
    return tuple(x / total for x in w) if total > 0 else tuple(1.0 / len(w) for _ in w)


@dataclass(frozen=True)
class CategoryMix:
    """Target share of garment instances per category id 1..13 (``shares[id - 1]``), over all
    annotated items (distractors included); normalised to sum to 1, and a share of 0 means the
    category never appears.

    Outfits pair a top with a bottom, so a category's instances do not follow the draw of the
    pair's first garment: `__post_init__` inverts the outfit model above.  A pair's first
    category is drawn with weights ``first``; a companion (a bottom to a top with probability
    ``top_gets_bottom``, a top to a bottom with ``bottom_gets_top``) and a user image's distractor
    are drawn from the target shares (within tops or bottoms for a companion).  Within tops, within
    bottoms and within dresses the first weights are then proportional to the targets; the three
    group totals solve a 2x2 linear system (tops and bottoms add to each other) so that the
    expected instances per category are proportional to `shares`.  Where that needs a negative
    weight (bottoms rarer than even the bottoms that tops bring along, or tops rarer than the
    tops that bottoms bring), that group is never drawn first and the other group's companion
    probability is lowered until the ratio holds.  Items dropped as too hidden are not modelled;
    the measured shares are near the targets (see ``tests/data/test_synthetic_categories.py``).
    """

    shares: tuple[float, ...]
    first: tuple[float, ...] = field(init=False, repr=False, compare=False)
    top_gets_bottom: float = field(init=False, repr=False, compare=False)
    bottom_gets_top: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            raw = tuple(float(x) for x in self.shares)
        except (TypeError, ValueError):
            raise ValueError(f"category shares: need {NUM_CATEGORIES} numbers") from None
        total = sum(raw)
        if len(raw) != NUM_CATEGORIES or min(raw) < 0 or not math.isfinite(total) or total <= 0:
            raise ValueError(
                f"category shares: need {NUM_CATEGORIES} non-negative numbers, positive sum"
            )
        t = tuple(x / total for x in raw)
        object.__setattr__(self, "shares", t)
        tops, bots = sum(t[c - 1] for c in TOPS), sum(t[c - 1] for c in BOTTOMS)
        p_tb = _TOP_GETS_BOTTOM if bots > 0 else 0.0
        p_bt = _BOTTOM_GETS_TOP if tops > 0 else 0.0

        def own(p: float) -> float:  # instances of the first garment per unit of first weight
            return (1.0 - p) * _SOLO_IMAGES + p * _DUO_IMAGES

        def lowered(ratio: float) -> float:  # p with p * DUO / own(p) == ratio
            return ratio * _SOLO_IMAGES / (_DUO_IMAGES + ratio * (_SOLO_IMAGES - _DUO_IMAGES))

        # Group weights w_top, w_bot with own * w + companion instances = target (dresses: alone).
        a, b = own(p_tb), p_bt * _DUO_IMAGES
        c, d = p_tb * _DUO_IMAGES, own(p_bt)
        det = a * d - b * c  # > 0: a >= c and d >= b, with equality only when p = 1
        w_top, w_bot = (d * tops - b * bots) / det, (a * bots - c * tops) / det
        if w_bot < 0:
            p_tb, w_bot = lowered(bots / tops), 0.0
            w_top = tops / own(p_tb)
        elif w_top < 0:
            p_bt, w_top = lowered(tops / bots), 0.0
            w_bot = bots / own(p_bt)
        group = {c: w_top / tops for c in TOPS} if tops > 0 else {}
        group |= {c: w_bot / bots for c in BOTTOMS} if bots > 0 else {}
        first = [t[c - 1] * group.get(c, 1.0 / _SOLO_IMAGES) for c in range(1, NUM_CATEGORIES + 1)]
        object.__setattr__(self, "first", tuple(x / sum(first) for x in first))
        object.__setattr__(self, "top_gets_bottom", p_tb)
        object.__setattr__(self, "bottom_gets_top", p_bt)

    @classmethod
    def from_weights(cls, weights: Mapping[object, object], where: str) -> CategoryMix:
        """From a mapping of category ids or names (any case, ``_`` or space) to non-negative
        weights; categories left out get 0.  Errors name `where` (a file) and the bad key."""
        shares = [0.0] * NUM_CATEGORIES
        given: dict[int, object] = {}
        for key, value in weights.items():
            try:
                cid = category_id_from_text(str(key))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            name = CATEGORY_NAMES[cid]
            if cid in given:
                raise ValueError(
                    f"{where}: category {name!r} given twice ({given[cid]!r} and {key!r})"
                )
            given[cid] = key
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}: weight of {key!r} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"{where}: weight of {key!r} must be finite and >= 0, got {value!r}"
                )
            shares[cid - 1] = float(value)
        if sum(shares) <= 0:
            raise ValueError(f"{where}: all category weights are zero (or none is given)")
        return cls(tuple(shares))

    def draw_first(self, rng: np.random.Generator) -> int:
        """The category id of a pair's first garment."""
        return int(rng.choice(NUM_CATEGORIES, p=self.first)) + 1

    def draw_within(self, rng: np.random.Generator, group: tuple[int, ...]) -> int:
        """A category id of `group` (tops, bottoms) drawn by the target shares."""
        return int(rng.choice(group, p=_within(self.shares, group)))

    def draw_any(self, rng: np.random.Generator) -> int:
        """A category id drawn by the target shares (a distractor: one instance each)."""
        return int(rng.choice(NUM_CATEGORIES, p=self.shares)) + 1


#: Named category mixes of `generate_dataset(categories=...)` and ``fashionvision synth
#: --categories``.  "uniform" is the default sampler, None: about equal shares, the bytes of
#: earlier versions (it does not go through `CategoryMix`).
CATEGORY_MIXES: dict[str, CategoryMix | None] = {
    "uniform": None,
    "deepfashion2": CategoryMix(tuple(float(n) for _, n in sorted(DEEPFASHION2_INSTANCES.items()))),
}

CategorySpec = str | Path | Mapping[int, float] | CategoryMix | None


def load_categories(spec: CategorySpec) -> CategoryMix | None:
    """A category mix from a name in `CATEGORY_MIXES`, a mapping of ids (or names) to weights,
    or a YAML/JSON file of one, e.g. ``{short sleeve top: 190, trousers: 147, skirt: 83}``
    (categories left out never appear); None (and "uniform"): the default, about equal."""
    if spec is None or isinstance(spec, CategoryMix):
        return spec
    if isinstance(spec, Mapping):
        return CategoryMix.from_weights(spec, "categories")
    if str(spec) in CATEGORY_MIXES:
        return CATEGORY_MIXES[str(spec)]
    path = Path(spec)
    if not path.is_file():
        raise ValueError(
            f"categories {str(spec)!r}: neither one of {sorted(CATEGORY_MIXES)} nor a file"
        )
    import yaml

    try:
        obj = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML/JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: need a mapping of category names or ids to weights")
    return CategoryMix.from_weights(obj, str(path))


# ----------------------------------------------------------------------------- scenes

# Default sampling weights of a pair's first category, chosen so that with the added tops/bottoms
# below every category appears about equally often (tops 1, bottoms 0.1, dresses 1.05); a
# `CategoryMix` computes its own.
_FIRST_WEIGHTS = np.array([1.0] * 6 + [0.1] * 3 + [1.05] * 4)
# Width of each category in the outfit frame relative to a top's width (trousers are narrower).
_OUTFIT_WIDTH = {7: 0.65, 8: 0.65, 9: 0.7}
# What the scene builder aims at for each target level (inside the label's thresholds, away
# from them): box area fraction (scale), share of the box's side cut by the image border
# (zoom_in) and covered share of the in-image garment (occlusion).
_SCALE_AIM = {1: (0.025, 0.092), 2: (0.115, 0.37), 3: (0.43, 0.85)}
_ZOOM_AIM = {1: (0.0, 0.0), 2: (0.08, 0.26), 3: (0.36, 0.6)}
_OCCLUSION_AIM = {1: (0.03, 0.14), 2: (0.24, 0.45), 3: (0.55, 0.7)}
_PLACEMENT_TRIES = 10
_SKIN = ((241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172))
_HAIR = ((25, 18, 12), (70, 45, 25), (120, 80, 40), (200, 170, 110))


@dataclass(frozen=True)
class _Targets:
    """Levels the scene builder aims at for one garment (never written as labels)."""

    scale: int
    occlusion: int
    zoom_in: int
    viewpoint: int


@dataclass(frozen=True)
class _Pose:
    """Rotation (degrees), perspective tilt, back view, and whether the garments are worn."""

    angle: float
    persp: tuple[float, float]
    back: bool
    worn: bool

    @property
    def viewpoint(self) -> int:
        """1 no wear; 3 a back view, rotation > 25 degrees or perspective > 0.2; else 2."""
        if not self.worn:
            return 1
        strong = self.back or abs(self.angle) > 25 or max(map(abs, self.persp)) > 0.2
        return 3 if strong else 2


def _pair_styles(rng: np.random.Generator, categories: CategoryMix | None = None) -> list[Style]:
    """1-2 garments of a pair (a top with a bottom, or one item), numbered style 1..K."""
    if categories is None:  # the default draws, kept call for call so that bytes do not change
        first = int(rng.choice(13, p=_FIRST_WEIGHTS / _FIRST_WEIGHTS.sum())) + 1
        cats = [first]
        if first in TOPS and rng.random() < _TOP_GETS_BOTTOM:
            cats.append(int(rng.choice(BOTTOMS)))
        elif first in BOTTOMS and rng.random() < _BOTTOM_GETS_TOP:
            cats.insert(0, int(rng.choice(TOPS)))
    else:
        first = categories.draw_first(rng)
        cats = [first]
        if first in TOPS and rng.random() < categories.top_gets_bottom:
            cats.append(categories.draw_within(rng, BOTTOMS))
        elif first in BOTTOMS and rng.random() < categories.bottom_gets_top:
            cats.insert(0, categories.draw_within(rng, TOPS))
    return [Style(c, k, random_appearance(rng)) for k, c in enumerate(cats, start=1)]


def _item_frame(width: float, cx: float, top_y: float) -> np.ndarray:
    """Unit template frame -> outfit frame: `width` wide, top edge at `top_y`, centred on `cx`."""
    return np.array([[width, 0, cx - 0.5 * width], [0, width, top_y], [0, 0, 1.0]])


def _draw_targets(rng: np.random.Generator, mix: DifficultyMix) -> _Targets:
    return _Targets(*(mix.draw(rng, name) for name in ATTRIBUTES))


def _draw_pose(rng: np.random.Generator, viewpoint: int, source: Source, allow_back: bool) -> _Pose:
    """A pose whose viewpoint rule gives `viewpoint`: lying flat (1), worn and mildly turned
    (2), or worn and seen from the back, from the side (strong perspective) or, in user images
    only, strongly rotated (3)."""
    if viewpoint == 1:
        return _Pose(float(rng.uniform(-3, 3)), (0.0, 0.0), False, False)
    angle = float(np.clip(rng.normal(0, 7), -18, 18))
    persp = rng.uniform(-0.12, 0.12, 2) if rng.random() < 0.4 else np.zeros(2)
    back = False
    if viewpoint == 3:
        kinds = ["side"] + (["back"] if allow_back else []) + (["tilt"] if source == "user" else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if kind == "back":
            back = True
        elif kind == "side":
            persp[0] = sign * rng.uniform(0.22, 0.35)
        else:
            angle = sign * float(rng.uniform(27, 40))
    return _Pose(angle, (float(persp[0]), float(persp[1])), back, True)


def _layout(rng: np.random.Generator, styles: list[Style], worn: bool) -> list[np.ndarray]:
    """Per garment: unit template frame -> layout frame (centred on the origin).

    Worn: one person, the top above with its hem over the bottom's waist (bottoms first in the
    list, so drawn below).  Flat: the garments lying side by side, centred vertically."""
    sizes = [
        (_OUTFIT_WIDTH.get(st.category_id, 1.0), TEMPLATES[st.category_id].height) for st in styles
    ]
    mats = []
    if worn:
        tops = [
            w * h for st, (w, h) in zip(styles, sizes, strict=True) if st.category_id not in BOTTOMS
        ]
        bots = [
            w * h for st, (w, h) in zip(styles, sizes, strict=True) if st.category_id in BOTTOMS
        ]
        y_bottom = 0.0
        if tops and bots:
            y_bottom = tops[0] - rng.uniform(0.08, 0.15) * min(tops[0], bots[0])
        extent = 0.0
        for st, (w, h) in zip(styles, sizes, strict=True):
            y = y_bottom if st.category_id in BOTTOMS else 0.0
            mats.append(_item_frame(w, 0.0, y))
            extent = max(extent, y + w * h)
        shift = np.array([[1.0, 0, 0], [0, 1.0, -extent / 2], [0, 0, 1.0]])
    else:
        gap, x = 0.12, 0.0
        for w, h in sizes:
            mats.append(_item_frame(w, x + w / 2, -w * h / 2))
            x += w + gap
        shift = np.array([[1.0, 0, -(x - gap) / 2], [0, 1.0, 0], [0, 0, 1.0]])
    return [shift @ m for m in mats]


def _pose_matrix(pose: _Pose, mats: list[np.ndarray], styles: list[Style]) -> np.ndarray:
    """Layout frame -> pose frame (before pixel scale and shift): mirror, tilt, rotation."""
    pts = np.vstack(
        [apply_h(m, TEMPLATES[st.category_id].outline) for m, st in zip(mats, styles, strict=True)]
    )
    half = max(1e-6, float(np.abs(pts).max()))
    return (
        _similarity(1.0, pose.angle, 0.0, 0.0)
        @ _perspective(pose.persp[0] / half, pose.persp[1] / half)
        @ np.diag([-1.0 if pose.back else 1.0, 1.0, 1.0])
    )


def _placement_score(
    outlines: list[np.ndarray], targets: list[_Targets], px: float, c: np.ndarray, size: int
) -> int:
    """How many garments' scale and zoom_in levels at pixel scale `px` and shift `c` equal their
    targets (the first garment counts twice)."""
    frame = box(0, 0, size, size)
    score = 0
    for k, (q, t) in enumerate(zip(outlines, targets, strict=True)):
        full = shapely.make_valid(Polygon(q * px + c))
        inside = full.intersection(frame)
        if inside.area < MIN_VISIBLE_IMAGE_FRACTION * size * size:
            continue
        x0, y0, x1, y1 = inside.bounds
        hit = int(_level((x1 - x0) * (y1 - y0) / size**2, SCALE_THRESHOLDS) == t.scale)
        hit += int(_level(1 - inside.area / max(full.area, 1e-9), ZOOM_THRESHOLDS) == t.zoom_in)
        score += hit * (2 if k == 0 else 1)
    return score


def _place(
    rng: np.random.Generator, outlines: list[np.ndarray], targets: list[_Targets], size: int
) -> tuple[float, np.ndarray]:
    """Pixel scale and shift of a group of garments (pose-frame outlines): aimed at the first
    garment's scale and zoom_in targets; the best of a few tries over all garments' targets."""
    lo, hi = outlines[0].min(0), outlines[0].max(0)
    bw, bh = np.maximum(hi - lo, 1e-6)
    t = targets[0]
    best: tuple[int, float, np.ndarray] | None = None
    perfect = 2 * len(outlines) + 2
    for _ in range(_PLACEMENT_TRIES):
        cut = float(rng.uniform(*_ZOOM_AIM[t.zoom_in]))
        side = int(rng.choice(4, p=[0.4, 0.2, 0.2, 0.2]))  # cut at the bottom, top, left, right
        f = float(rng.uniform(*_SCALE_AIM[t.scale]))
        px = size * math.sqrt(f / (bw * bh * (1.0 - cut)))
        c = np.zeros(2)
        for axis in (0, 1):
            a, b = px * lo[axis], px * hi[axis]
            cut_here = cut > 0 and (axis == 1) == (side < 2)
            if cut_here:
                extra = cut * (b - a)
                low_side = side in (1, 2)  # the top or the left border cuts
                c[axis] = -a - extra if low_side else size + extra - b
            elif b - a <= size:
                c[axis] = rng.uniform(-a, size - b)
            else:
                c[axis] = size / 2 - (a + b) / 2
        score = _placement_score(outlines, targets, px, c, size)
        if best is None or score > best[0]:
            best = (score, px, c)
        if score == perfect:
            break
    assert best is not None
    return best[1], best[2]


def _garment_group(
    rng: np.random.Generator,
    styles: list[Style],
    targets: list[_Targets],
    pose: _Pose,
    size: int,
) -> list[GarmentLayer]:
    """Garments laid out (worn or flat), posed and placed in the image; layers back to front."""
    mats = _layout(rng, styles, pose.worn)
    pm = _pose_matrix(pose, mats, styles)
    outlines = [
        apply_h(pm @ m, TEMPLATES[st.category_id].outline)
        for m, st in zip(mats, styles, strict=True)
    ]
    first = int(rng.integers(len(styles)))  # the garment whose targets the placement aims at
    order = [first] + [k for k in range(len(styles)) if k != first]
    px, c = _place(rng, [outlines[k] for k in order], [targets[k] for k in order], size)
    to_px = np.array([[px, 0.0, c[0]], [0.0, px, c[1]], [0.0, 0.0, 1.0]])
    return [
        GarmentLayer(
            st,
            to_px @ pm @ m,
            back_view=pose.back,
            viewpoint=pose.viewpoint,
            closed_int=bool(rng.random() < CLOSED_INT_SHARE),
        )
        for st, m in zip(styles, mats, strict=True)
    ]


def _occluder_shape(rng: np.random.Generator) -> np.ndarray:
    """A unit-size ellipse, bar (arm-like) or rectangle (bag-like) polygon, randomly rotated."""
    kind = int(rng.integers(3))
    if kind == 0:
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        local = np.c_[np.cos(t), rng.uniform(0.5, 1.0) * np.sin(t)]
    else:
        w = rng.uniform(0.25, 0.4) if kind == 1 else rng.uniform(0.6, 1.0)
        local = np.array([[-1.0, -w], [1.0, -w], [1.0, w], [-1.0, w]])
    rot = rng.uniform(0, math.pi)
    cs, sn = math.cos(rot), math.sin(rot)
    return local @ np.array([[cs, sn], [-sn, cs]])


def _fit_occluder(
    rng: np.random.Generator, layer: GarmentLayer, visible: shapely.Geometry, goal: float
) -> np.ndarray | None:
    """An occluder polygon (pixels) over `visible` covering about `goal` of its area
    (bisection on the shape's size), centred on a visible landmark or inside the part."""
    xy = apply_h(layer.h, TEMPLATES[layer.style.category_id].landmarks)
    seen = xy[shapely.contains_xy(visible, xy[:, 0], xy[:, 1])]
    if len(seen):
        center = seen[int(rng.integers(len(seen)))]
    else:
        p = visible.representative_point()
        center = np.array([p.x, p.y])
    shape = _occluder_shape(rng)
    x0, y0, x1, y1 = visible.bounds
    lo, hi = 0.0, 1.5 * max(x1 - x0, y1 - y0)
    area = visible.area
    best = None
    for _ in range(9):
        mid = 0.5 * (lo + hi)
        poly = shape * mid + center
        got = visible.intersection(shapely.make_valid(Polygon(poly))).area / area
        best = poly
        if got < goal:
            lo = mid
        else:
            hi = mid
    return best


def _occlude(
    rng: np.random.Generator,
    layers: list[Layer],
    targets: dict[int, _Targets],
    size: int,
    p_random: float,
) -> list[ShapeLayer]:
    """Occluding shapes, drawn on top, that bring each garment (topmost first) to its occlusion
    target where what lies above it does not already; coloured like skin or hair (a model's
    arms, hands, hair) or, with probability `p_random`, randomly (bags, objects)."""
    frame = box(0, 0, size, size)
    geoms = [_layer_geometry(layer) for layer in layers]
    added: list[ShapeLayer] = []
    for i in sorted(targets, reverse=True):
        layer, want = layers[i], targets[i].occlusion
        assert isinstance(layer, GarmentLayer)
        full = geoms[i]
        in_image = full.intersection(frame)
        if in_image.area < MIN_VISIBLE_IMAGE_FRACTION * size * size:
            continue
        above = geoms[i + 1 :] + [Polygon(s.polygon) for s in added]
        cover = unary_union(above) if above else Polygon()
        visible = in_image.difference(cover) if not cover.is_empty else in_image
        covered = 1.0 - visible.area / in_image.area
        if _level(covered, OCCLUSION_THRESHOLDS) >= want or (want == 1 and rng.random() < 0.6):
            continue
        lo, hi = _OCCLUSION_AIM[want]
        # Keep 30 % of the whole garment visible, so that it stays annotated.
        hi = min(hi, 1.0 - 0.3 * full.area / in_image.area)
        lo = max(lo, covered + 0.02)
        if hi <= lo:
            continue
        goal = float(rng.uniform(lo, hi))
        poly = _fit_occluder(rng, layer, visible, (goal - covered) / (1.0 - covered))
        if poly is None:
            continue
        if rng.random() < p_random:
            color = tuple(int(v) for v in rng.integers(0, 256, 3))
        else:
            palette = _SKIN + _HAIR
            color = palette[int(rng.integers(len(palette)))]
        added.append(ShapeLayer(poly, color))  # type: ignore[arg-type]
    return added


def _random_shape(rng: np.random.Generator, center: np.ndarray, radius: float) -> np.ndarray:
    """An ellipse or a rotated rectangle (k, 2) in pixels around `center`."""
    a, b = radius * rng.uniform(0.5, 1.0, size=2)
    rot = rng.uniform(0, math.pi)
    if rng.random() < 0.5:
        t = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        local = np.c_[a * np.cos(t), b * np.sin(t)]
    else:
        local = np.array([[-a, -b * 0.4], [a, -b * 0.4], [a, b * 0.4], [-a, b * 0.4]])
    c, s = math.cos(rot), math.sin(rot)
    return local @ np.array([[c, s], [-s, c]]) + center


def _covered_share(layer_geom: shapely.Geometry, by: shapely.Geometry, size: int) -> float:
    inside = layer_geom.intersection(box(0, 0, size, size))
    if inside.area <= 0:
        return 0.0
    return inside.intersection(by).area / inside.area


def _scene(
    rng: np.random.Generator,
    source: Source,
    styles: list[Style],
    size: int,
    mix: DifficultyMix,
    categories: CategoryMix | None = None,
) -> Scene:
    """One shop or user image of `styles`.  Both sources follow `mix`; shop images have a clean
    background and body-coloured occluders (the model's arms, hair), user images clutter, random
    occluders and, half of the time, a distractor garment (style 0) of a bystander."""
    if source == "shop":
        grey = int(rng.integers(215, 251))
        bg = tuple(int(np.clip(grey + d, 0, 255)) for d in rng.integers(-8, 9, 3))
        scene = Scene("shop", bg)  # type: ignore[arg-type]
    else:
        scene = Scene("user", tuple(int(c) for c in rng.integers(0, 256, 3)))  # type: ignore[arg-type]
        for _ in range(int(rng.integers(2, 7))):
            scene.clutter.append(
                ShapeLayer(
                    _random_shape(rng, rng.uniform(0, size, 2), size * rng.uniform(0.05, 0.25)),
                    tuple(int(c) for c in rng.integers(0, 256, 3)),  # type: ignore[arg-type]
                )
            )
    # Bottoms first: a worn top covers the waist of the bottom.
    styles = sorted(styles, key=lambda st: st.category_id not in BOTTOMS)
    targets = [_draw_targets(rng, mix) for _ in styles]
    allow_back = all(TEMPLATES[st.category_id].allow_back_view for st in styles)
    pose = _draw_pose(rng, targets[0].viewpoint, source, allow_back)
    layers: list[Layer] = list(_garment_group(rng, styles, targets, pose, size))
    layer_targets = dict(enumerate(targets))
    if source == "user" and rng.random() < 0.5:
        cat = int(rng.integers(1, 14)) if categories is None else categories.draw_any(rng)
        st = Style(cat, 0, random_appearance(rng))
        t = _draw_targets(rng, mix)
        p = _draw_pose(rng, t.viewpoint, source, TEMPLATES[cat].allow_back_view)
        [distractor] = _garment_group(rng, [st], [t], p, size)
        # In front unless it would cover an outfit garment beyond that garment's target.
        geom = _layer_geometry(distractor)
        front = rng.random() < 0.5 and all(
            _level(_covered_share(_layer_geometry(g), geom, size), OCCLUSION_THRESHOLDS)
            <= layer_targets[k].occlusion
            for k, g in enumerate(layers)
        )
        if front:
            layer_targets[len(layers)] = t
            layers.append(distractor)
        else:
            layer_targets = {k + 1: v for k, v in layer_targets.items()}
            layer_targets[0] = t
            layers.insert(0, distractor)
    p_random = 0.1 if source == "shop" else 0.6  # else a skin or hair colour
    layers += _occlude(rng, layers, layer_targets, size, p_random)
    scene.layers = layers
    return scene


def _shop_groups(rng: np.random.Generator, styles: list[Style], n_shop: int) -> list[list[Style]]:
    """Which styles each shop image shows: every style in at least one shop image."""
    if len(styles) == 1:
        return [styles] * n_shop
    if n_shop == 1:
        return [styles]
    return [[styles[k % len(styles)]] for k in range(n_shop)]


# ----------------------------------------------------------------------------- data set


@dataclass(frozen=True)
class PairJob:
    """One pair to render: its images get ids `first_id..` (shop images first)."""

    split_dir: str
    split_index: int
    pair_index: int
    first_id: int
    n_shop: int
    n_user: int
    seed: int
    size: int
    mix: DifficultyMix = field(default_factory=DifficultyMix)
    categories: CategoryMix | None = None


def _pair_scenes(job: PairJob) -> list[Scene]:
    rng = np.random.default_rng([job.seed, job.split_index, job.pair_index])
    styles = _pair_styles(rng, job.categories)
    groups = _shop_groups(rng, styles, job.n_shop)
    scenes = [_scene(rng, "shop", g, job.size, job.mix, job.categories) for g in groups]
    for _ in range(job.n_user):
        all_shown = rng.random() < _USER_SHOWS_ALL
        shown = styles if all_shown else [styles[int(rng.integers(len(styles)))]]
        scenes.append(_scene(rng, "user", shown, job.size, job.mix, job.categories))
    return scenes


def render_pair(job: PairJob) -> list[tuple[Image.Image, ImageAnnotation]]:
    """Images and labels of one pair; styles not annotated on both shop and user side become 0."""
    scenes = _pair_scenes(job)
    labelled = [annotate(sc, job.size) for sc in scenes]
    seen = {
        src: {
            g.style
            for sc, items in zip(scenes, labelled, strict=True)
            if sc.source == src
            for _, g in items
        }
        for src in ("shop", "user")
    }
    paired = (seen["shop"] & seen["user"]) - {0}
    out = []
    for k, (sc, items) in enumerate(zip(scenes, labelled, strict=True)):
        image_id = job.first_id + k
        garments = [g if g.style in paired else replace(g, style=0) for _, g in items]
        ann = ImageAnnotation(
            image_id,
            f"image/{image_id:06d}.jpg",
            job.size,
            job.size,
            sc.source,
            job.pair_index + 1,
            garments,
        )
        out.append((render(sc, job.size), ann))
    return out


def _write_pair(job: PairJob) -> int:
    """Render and write one pair's images (JPEG) and annotations (JSON); returns image count."""
    rendered = render_pair(job)
    for img, ann in rendered:
        with atomic_path(image_path(job.split_dir, ann.image_id)) as tmp:
            img.save(tmp, format="JPEG", quality=JPEG_QUALITY)
        write_annotation(job.split_dir, ann)
    return len(rendered)


def plan_split(
    split_dir: str | Path,
    n_images: int,
    seed: int,
    split_index: int,
    size: int,
    mix: DifficultyMix | None = None,
    categories: CategoryMix | None = None,
) -> list[PairJob]:
    """Cut `n_images` ids 1..n into pairs of 1-2 shop and 1-3 user images (last pair truncated)."""
    rng = np.random.default_rng([seed, split_index])
    jobs, next_id, k = [], 1, 0
    while next_id <= n_images:
        n_shop, n_user = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        left = n_images - next_id + 1
        n_shop = min(n_shop, left)
        n_user = min(n_user, left - n_shop)
        jobs.append(
            PairJob(
                str(split_dir),
                split_index,
                k,
                next_id,
                n_shop,
                n_user,
                seed,
                size,
                mix or MIXES["real"],
                categories,
            )
        )
        next_id += n_shop + n_user
        k += 1
    return jobs


def generate_dataset(
    out_dir: str | Path,
    train: int,
    val: int,
    seed: int,
    size: int = 256,
    workers: int | None = None,
    mix: str | Path | DifficultyMix | None = None,
    categories: CategorySpec = None,
) -> None:
    """Write ``out_dir/train`` and ``out_dir/validation`` (``image/*.jpg``, ``annos/*.json``).

    `train`/`val` are image counts (ids 1..N per split); `size` is the square image side in
    pixels; `workers` processes render pairs in parallel (default: up to 2 CPU cores); `mix` the
    target attribute mix (a `DifficultyMix`, a name in `MIXES` or a YAML/JSON file, see
    `load_mix`; default the real DeepFashion2 mix); `categories` the target share of garment
    instances per category (a `CategoryMix`, a mapping of ids to weights, a name in
    `CATEGORY_MIXES` such as "deepfashion2" or a YAML/JSON file, see `load_categories`; default
    about equal).  The output bytes depend only on (train, val, seed, size, mix, categories).
    """
    if train < 0 or val < 0 or size < 64:
        raise ValueError("train and val must be >= 0 and size >= 64")
    target_mix = load_mix(mix)
    target_categories = load_categories(categories)
    jobs: list[PairJob] = []
    for (name, index), n in zip(SPLITS, (train, val), strict=True):
        split_dir = Path(out_dir) / name
        (split_dir / "image").mkdir(parents=True, exist_ok=True)
        (split_dir / "annos").mkdir(parents=True, exist_ok=True)
        jobs += plan_split(split_dir, n, seed, index, size, target_mix, target_categories)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 8:
        for job in jobs:
            _write_pair(job)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for _ in pool.imap_unordered(_write_pair, jobs, chunksize=8):
            pass
