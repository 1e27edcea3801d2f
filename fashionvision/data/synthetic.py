"""Generator of a synthetic data set in the exact DeepFashion2 format.

Each pair_id is an "outfit" of 1-2 styled garments (a top or outwear with a bottom, or one item)
drawn from `synthetic_templates`.  Shop images show them frontal, centred and lying flat
(viewpoint 1) on a clean background; user images show the same garments worn (a top over the
waist of a bottom), randomly scaled, rotated, put in perspective or seen from the back, cut by the
image border, occluded by other shapes or a distractor garment (style 0), on a cluttered background.

Labels are computed from the same geometry that is drawn (shapely polygons, drawn with PIL):
- segmentation: the visible part (garment polygon clipped to the image, minus everything drawn on
  top of it), split into hole-free polygons; bounding_box: the extent of those polygons;
- landmarks: v=2 visible, v=1 inside the image but covered (or on the front neckline in a back
  view), v=0 with x=y=0 outside the image;
- scale from the box area fraction f of the image: f < 0.10 -> 1 small, f < 0.40 -> 2 moderate,
  else 3 large;
- occlusion from the covered fraction c of the garment's in-image area: c < 0.2 -> 1, c < 0.5 -> 2,
  else 3;
- zoom_in from the fraction z of the garment outside the image: z < 0.05 -> 1, z < 0.3 -> 2,
  else 3;
- viewpoint: 1 shop (no wear), 3 user with a back view, rotation > 25 degrees or strong
  perspective, else 2.
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
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import shapely
from PIL import Image, ImageDraw
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.ops import unary_union

from fashionvision.data.deepfashion2 import image_path, write_annotation
from fashionvision.data.synthetic_templates import TEMPLATES, GarmentTemplate
from fashionvision.io_utils import atomic_path
from fashionvision.structures import Garment, ImageAnnotation, Source

TOPS = (1, 2, 3, 4, 5, 6)
BOTTOMS = (7, 8, 9)
DRESSES = (10, 11, 12, 13)
PATTERNS = ("solid", "stripes", "checks", "dots")
SPLITS = (("train", 0), ("validation", 1))

MIN_VISIBLE_IMAGE_FRACTION = 0.004
MIN_VISIBLE_OWN_FRACTION = 0.2
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Appearance:
    """Colour and texture of one style: RGB in 0..255, pattern period in unit-frame units."""

    base: tuple[int, int, int]
    accent: tuple[int, int, int]
    pattern: str
    period: float
    angle: float


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
    return rgb * (0.88 + 0.12 * np.cos(u * 9.0 + v * 2.0))[..., None]


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
    t = TEMPLATES[layer.style.category_id]
    dark = tuple(int(c * 0.45) for c in layer.style.appearance.base)
    pix = apply_h(layer.h, t.outline)
    draw.line([tuple(p) for p in np.vstack([pix, pix[:1]])], fill=dark, width=1)
    details = t.details
    if layer.back_view and t.front_only:
        # From behind only the back neckline (landmarks 2-1-6) shows, not the front one.
        details = (t.landmarks[[1, 0, 5]],)
    for line in details:
        draw.line([tuple(p) for p in apply_h(layer.h, line)], fill=dark, width=2)


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


def _segmentation(visible: shapely.Geometry) -> list[list[float]]:
    """Hole-free polygons of the visible region as flat [x1, y1, ...] lists (>= 3 points)."""
    out = []
    for part in _polygons(visible):
        for piece in _hole_free(part):
            if piece.area < 2.0:
                continue  # slivers left by clipping carry no information
            ring = np.round(np.asarray(piece.exterior.coords)[:-1], 2)
            if len(ring) >= 3:
                out.append([float(v) for v in ring.reshape(-1)])
    return out


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
        seg = _segmentation(visible)
        if not seg:
            continue
        bounds = MultiPolygon([Polygon(np.reshape(p, (-1, 2))) for p in seg]).bounds
        bbox = tuple(round(float(b), 2) for b in bounds)
        box_area = (bbox[2] - bbox[0]) * (bbox[3] - bbox[1])
        out.append(
            (
                i,
                Garment(
                    category_id=layer.style.category_id,
                    bbox=bbox,  # type: ignore[arg-type]
                    landmarks=_landmarks(layer, cover, size),
                    segmentation=seg,
                    style=layer.style.style,
                    scale=_level(box_area / (size * size), (0.10, 0.40)),
                    occlusion=_level(1.0 - visible.area / max(in_image.area, 1e-9), (0.2, 0.5)),
                    zoom_in=_level(1.0 - in_image.area / max(full.area, 1e-9), (0.05, 0.3)),
                    viewpoint=layer.viewpoint,
                ),
            )
        )
    return out


# ----------------------------------------------------------------------------- scenes

# Sampling weights of a pair's first category, chosen so that with the added tops/bottoms below
# every category appears about equally often (tops 1, bottoms 0.1, dresses 1.05).
_FIRST_WEIGHTS = np.array([1.0] * 6 + [0.1] * 3 + [1.05] * 4)
# Width of each category in the outfit frame relative to a top's width (trousers are narrower).
_OUTFIT_WIDTH = {7: 0.65, 8: 0.65, 9: 0.7}


def _pair_styles(rng: np.random.Generator) -> list[Style]:
    """1-2 garments of a pair (a top with a bottom, or one item), numbered style 1..K."""
    first = int(rng.choice(13, p=_FIRST_WEIGHTS / _FIRST_WEIGHTS.sum())) + 1
    cats = [first]
    if first in TOPS and rng.random() < 0.5:
        cats.append(int(rng.choice(BOTTOMS)))
    elif first in BOTTOMS and rng.random() < 0.7:
        cats.insert(0, int(rng.choice(TOPS)))
    return [Style(c, k, random_appearance(rng)) for k, c in enumerate(cats, start=1)]


def _item_frame(width: float, cx: float, top_y: float) -> np.ndarray:
    """Unit template frame -> outfit frame: `width` wide, top edge at `top_y`, centred on `cx`."""
    return np.array([[width, 0, cx - 0.5 * width], [0, width, top_y], [0, 0, 1.0]])


def _shop_scene(rng: np.random.Generator, styles: list[Style], size: int) -> Scene:
    """Clean background, items lying flat, frontal, centred (side by side when there are two)."""
    grey = int(rng.integers(215, 251))
    scene = Scene("shop", tuple(int(np.clip(grey + d, 0, 255)) for d in rng.integers(-8, 9, 3)))
    n = len(styles)
    for k, st in enumerate(styles):
        t = TEMPLATES[st.category_id]
        side = size * (rng.uniform(0.6, 0.85) if n == 1 else rng.uniform(0.42, 0.5))
        cx = size * ((0.5 if n == 1 else 0.27 + 0.46 * k) + rng.uniform(-0.03, 0.03))
        cy = size * (0.5 + rng.uniform(-0.04, 0.04))
        h = _similarity(side, rng.uniform(-3, 3), cx, cy) @ _centering(t)
        scene.layers.append(GarmentLayer(st, h, viewpoint=1))
    return scene


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


def _outfit_layers(rng: np.random.Generator, styles: list[Style], size: int) -> list[GarmentLayer]:
    """Garments worn by one person: bottom first, the top's hem over its waist; random pose."""
    order = sorted(styles, key=lambda st: st.category_id not in BOTTOMS)
    frames = []
    for st in order:
        t = TEMPLATES[st.category_id]
        width = _OUTFIT_WIDTH.get(st.category_id, 1.0)
        frames.append((st, width, t.height * width))
    # Stack: the top above, overlapping 15 % of its height into the bottom's waist.
    tops = [f for f in frames if f[0].category_id not in BOTTOMS]
    top_h = tops[0][2] if tops and len(frames) > 1 else 0.0
    mats, extent = [], 0.0
    for st, width, h in frames:
        y = top_h * 0.85 if st.category_id in BOTTOMS and len(frames) > 1 else 0.0
        mats.append(_item_frame(width, 0.0, y))
        extent = max(extent, y + h)
    recenter = np.array([[1.0, 0, 0], [0, 1.0, -extent / 2], [0, 0, 1.0]])
    small = rng.random() < 0.15
    px_per_unit = size * (rng.uniform(0.3, 0.5) if small else rng.uniform(0.55, 1.3)) / extent
    angle = float(np.clip(rng.normal(0, 12), -40, 40))
    persp = rng.uniform(-0.3, 0.3, 2) if rng.random() < 0.4 else np.zeros(2)
    back = rng.random() < 0.15 and all(TEMPLATES[s.category_id].allow_back_view for s in styles)
    center = size * (0.5 + rng.uniform(-0.2, 0.2, 2))
    glob = (
        _similarity(px_per_unit, angle, *center)
        @ _perspective(*(persp / (extent / 2)))
        @ np.diag([-1.0 if back else 1.0, 1.0, 1.0])
        @ recenter
    )
    strong = back or abs(angle) > 25 or float(np.abs(persp).max()) > 0.2
    return [
        GarmentLayer(st, glob @ m, back_view=back, viewpoint=3 if strong else 2)
        for (st, _, _), m in zip(frames, mats, strict=True)
    ]


def _user_scene(rng: np.random.Generator, styles: list[Style], size: int) -> Scene:
    """A worn outfit with clutter, maybe a distractor garment (style 0) and occluding shapes."""
    scene = Scene("user", tuple(int(c) for c in rng.integers(0, 256, 3)))
    for _ in range(int(rng.integers(2, 7))):
        scene.clutter.append(
            ShapeLayer(
                _random_shape(rng, rng.uniform(0, size, 2), size * rng.uniform(0.05, 0.25)),
                tuple(int(c) for c in rng.integers(0, 256, 3)),
            )
        )
    shown = styles if rng.random() < 0.85 else [styles[int(rng.integers(len(styles)))]]
    layers: list[Layer] = list(_outfit_layers(rng, shown, size))
    if rng.random() < 0.5:
        cat = int(rng.integers(1, 14))
        t = TEMPLATES[cat]
        h = _similarity(
            size * rng.uniform(0.3, 0.6), rng.uniform(-30, 30), *rng.uniform(0.1, 0.9, 2) * size
        ) @ _centering(t)
        distractor = GarmentLayer(Style(cat, 0, random_appearance(rng)), h, viewpoint=2)
        layers.insert(0 if rng.random() < 0.5 else len(layers), distractor)
    garments = [g for g in layers if isinstance(g, GarmentLayer)]
    for _ in range(int(rng.integers(1, 3)) if rng.random() < 0.5 else 0):
        g = garments[int(rng.integers(len(garments)))]
        anchor = apply_h(g.h, TEMPLATES[g.style.category_id].landmarks)
        center = anchor[int(rng.integers(len(anchor)))]
        layers.append(
            ShapeLayer(
                _random_shape(rng, center, size * rng.uniform(0.06, 0.16)),
                tuple(int(c) for c in rng.integers(0, 256, 3)),
            )
        )
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


def _pair_scenes(job: PairJob) -> list[Scene]:
    rng = np.random.default_rng([job.seed, job.split_index, job.pair_index])
    styles = _pair_styles(rng)
    scenes = [_shop_scene(rng, g, job.size) for g in _shop_groups(rng, styles, job.n_shop)]
    scenes += [_user_scene(rng, styles, job.size) for _ in range(job.n_user)]
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
    split_dir: str | Path, n_images: int, seed: int, split_index: int, size: int
) -> list[PairJob]:
    """Cut `n_images` ids 1..n into pairs of 1-2 shop and 1-3 user images (last pair truncated)."""
    rng = np.random.default_rng([seed, split_index])
    jobs, next_id, k = [], 1, 0
    while next_id <= n_images:
        n_shop, n_user = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        left = n_images - next_id + 1
        n_shop = min(n_shop, left)
        n_user = min(n_user, left - n_shop)
        jobs.append(PairJob(str(split_dir), split_index, k, next_id, n_shop, n_user, seed, size))
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
) -> None:
    """Write ``out_dir/train`` and ``out_dir/validation`` (``image/*.jpg``, ``annos/*.json``).

    `train`/`val` are image counts (ids 1..N per split); `size` is the square image side in
    pixels; `workers` processes render pairs in parallel (default: up to 2 CPU cores). The output
    bytes depend only on (train, val, seed, size).
    """
    if train < 0 or val < 0 or size < 64:
        raise ValueError("train and val must be >= 0 and size >= 64")
    jobs: list[PairJob] = []
    for (name, index), n in zip(SPLITS, (train, val), strict=True):
        split_dir = Path(out_dir) / name
        (split_dir / "image").mkdir(parents=True, exist_ok=True)
        (split_dir / "annos").mkdir(parents=True, exist_ok=True)
        jobs += plan_split(split_dir, n, seed, index, size)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 8:
        for job in jobs:
            _write_pair(job)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for _ in pool.imap_unordered(_write_pair, jobs, chunksize=8):
            pass
