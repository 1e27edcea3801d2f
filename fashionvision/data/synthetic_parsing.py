"""Generator of synthetic garment-parsing data: iMaterialist-Fashion 2019 (Kaggle ``train.csv``)
and Fashionpedia (COCO + ``attribute_ids``) formats, with a small label table of our own.

Built on the DeepFashion2 generator's templates and renderer (`fashionvision.data.synthetic`):
each image shows one outfit worn by an unseen person, back to front a bottom, a top or a dress,
and sometimes an open jacket over the top; the DeepFashion generator's detail geometry
(`fashionvision.data.synthetic_deepfashion`) gives pockets and buttons.  The outfit is posed
(rotation, perspective, sometimes a back view), scaled, sometimes cut by the image border, and
partly covered by skin, hair or random-coloured occluders; half the backgrounds are cluttered.

The label table (`CATEGORY_TABLE`, `ATTRIBUTE_TABLE`) is ours, not the competitions' (whose
files may not be copied): 8 garment categories and 4 garment parts (sleeve, neckline, collar,
pocket), and 22 attributes in 7 supercategories.  Ids are 0-based and the attribute ids are
contiguous, as in the 2019 table, so that ``label_descriptions.json`` reads as a 2019 table.

Instances are what is drawn, pixel for pixel:

- A garment's mask is the pixels the renderer paints for it (texture, seams and its details)
  that nothing drawn later covers.  A garment is annotated when at least 0.4 % of the image is
  visible (the DeepFashion2 generator's threshold; unlike it, however little of the garment's
  own area that is, as parsing annotators label what shows, e.g. a top seen only through the
  open front of a jacket); a smaller remnant is drawn but not annotated.
- Parts are their own instances, cut out of their garment's visible mask: each sleeve (the
  template's landmarks from the shoulder point down the sleeve to the armpit, closed by the
  armhole seam drawn along that chord), the neckline (the region between the front neckline
  seam and the back neckline edge of round- and straight-necked templates), the collar (the
  outwear templates' region above the two lapel seams) and the pocket (the polygon drawn by
  the DeepFashion generator's pocket geometry, with its flap).  So a part's mask always lies
  inside its garment's.  A part is annotated when its garment is and at least `MIN_PART_PIXELS`
  of its pixels are visible, and only when it is drawn: no neckline or pocket in a back view.

Attributes are functions of the drawing, never random labels:

- textile pattern: the drawn pattern (plain, stripe, check, dot);
- material: the drawn weave (denim, knit, leather, lace; cotton, corduroy and satin get none);
- length: the garment's length factor, the template's height scaled (tops above-the-hip below
  0.9, else hip; skirts and dresses mini below 0.9, knee below 1.12, else maxi); labelled only
  when the whole garment lies inside the image, where its hem can be seen;
- sleeve length: from the template (sleeveless, short, wrist-length), on garments and on each
  sleeve, again only when that garment or sleeve lies inside the image;
- opening type: open front for jackets (the outwear outline leaves the front open); buttoned
  where buttons are drawn and at least one is visible;
- neckline type (on necklines): round when the neckline's depth, the length factor included,
  is at least 0.45 of its width, else straight across;
- pocket type (on pockets): flap where the pocket's flap is visible, else patch.
Collars carry no attribute, as many parts in the real data.

Categories follow the drawing too: a long-sleeve top is a sweater when knitted, else a shirt or
blouse; short-sleeve, vest and sling tops are tops; outwear is a jacket.

Determinism: image k of a split is drawn from a generator seeded by (seed, split, k), so the
bytes depend only on the arguments; the iMaterialist images are the Fashionpedia train images of
the same seed and size.

Masks are exact in both formats: the Kaggle RLE of the painted pixels, and in the Fashionpedia
files either COCO RLE or polygons that trace the painted pixels' outline (whole-pixel corners,
which pycocotools rasterises back to exactly those pixels), so that a model that finds every
painted pixel scores AP 1.  Such staircase polygons have more vertices than hand-drawn ones; the
area is the pixel count in both styles.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from PIL import Image, ImageDraw
from shapely.geometry import LineString, Polygon, box

from fashionvision.data.fashionpedia import (
    AttributedSegment,
    SegmentedImage,
    fashionpedia_coco,
    mask_geometry,
)
from fashionvision.data.imaterialist import COLUMNS
from fashionvision.data.label_tables import LabelTable, parse_label_table
from fashionvision.data.rle import encode_kaggle_rle, format_kaggle_rle, kaggle_to_coco_rle
from fashionvision.data.synthetic import (
    _HAIR,  # shared with the DeepFashion2 generator: the same people wear the clothes
    _SKIN,
    FABRICS,
    JPEG_QUALITY,
    MIN_VISIBLE_IMAGE_FRACTION,
    Appearance,
    GarmentLayer,
    Scene,
    ShapeLayer,
    Style,
    _occluder_shape,
    _perspective,
    _polygons,
    _random_shape,
    _similarity,
    apply_h,
    draw_seam_lines,
    random_appearance,
    render,
)
from fashionvision.data.synthetic_deepfashion import CATEGORIES as DEEPFASHION_CATEGORIES
from fashionvision.data.synthetic_deepfashion import Item, _unit_polygons
from fashionvision.data.synthetic_templates import TEMPLATES
from fashionvision.io_utils import atomic_path, atomic_write, write_json
from fashionvision.structures import Source

RGB = tuple[int, int, int]

# ----------------------------------------------------------------------------- label table

# (name, supercategory); the id is the position.  Level 2 for categories, 1 for attributes, as
# in the 2019 table.
CATEGORY_TABLE: tuple[tuple[str, str], ...] = (
    ("shirt, blouse", "upperbody"),
    ("top, t-shirt", "upperbody"),
    ("sweater", "upperbody"),
    ("jacket", "upperbody"),
    ("pants", "lowerbody"),
    ("shorts", "lowerbody"),
    ("skirt", "lowerbody"),
    ("dress", "wholebody"),
    ("sleeve", "garment parts"),
    ("neckline", "garment parts"),
    ("collar", "garment parts"),
    ("pocket", "garment parts"),
)
ATTRIBUTE_TABLE: tuple[tuple[str, str], ...] = (
    ("plain (pattern)", "textile pattern"),
    ("stripe", "textile pattern"),
    ("check", "textile pattern"),
    ("dot", "textile pattern"),
    ("denim", "material"),
    ("knit", "material"),
    ("leather", "material"),
    ("lace", "material"),
    ("above-the-hip (length)", "length"),
    ("hip (length)", "length"),
    ("mini (length)", "length"),
    ("knee (length)", "length"),
    ("maxi (length)", "length"),
    ("sleeveless", "sleeve length"),
    ("short (sleeve)", "sleeve length"),
    ("wrist-length (sleeve)", "sleeve length"),
    ("buttoned (opening)", "opening type"),
    ("open front (opening)", "opening type"),
    ("round (neck)", "neckline type"),
    ("straight across (neck)", "neckline type"),
    ("patch (pocket)", "pocket type"),
    ("flap (pocket)", "pocket type"),
)
CATEGORY_IDS: dict[str, int] = {name: k for k, (name, _) in enumerate(CATEGORY_TABLE)}
ATTRIBUTE_IDS: dict[str, int] = {name: k for k, (name, _) in enumerate(ATTRIBUTE_TABLE)}
GARMENTS = tuple(name for name, sup in CATEGORY_TABLE if sup != "garment parts")
PARTS = tuple(name for name, sup in CATEGORY_TABLE if sup == "garment parts")

_PATTERN_NAMES = {"solid": "plain (pattern)", "stripes": "stripe", "checks": "check", "dots": "dot"}
_MATERIALS = frozenset({"denim", "knit", "leather", "lace"})


def _info(year: int, what: str) -> dict[str, Any]:
    """The ``info`` of a written file, shaped as the real files' (fixed date: same bytes)."""
    return {
        "year": year,
        "version": "1.0",
        "description": f"Synthetic {what} data set written by fashionvision, with its own label "
        "table (not the real data set's)",
        "contributor": "fashionvision",
        "url": "",
        "date_created": "2025-01-01 00:00:00",
    }


def label_descriptions() -> dict[str, Any]:
    """The label table as a ``label_descriptions.json`` object of the 2019 layout."""
    return {
        "info": _info(2019, "iMaterialist-Fashion-2019-format"),
        "categories": [
            {"id": k, "name": name, "supercategory": sup, "level": 2}
            for k, (name, sup) in enumerate(CATEGORY_TABLE)
        ],
        "attributes": [
            {"id": k, "name": name, "supercategory": sup, "level": 1}
            for k, (name, sup) in enumerate(ATTRIBUTE_TABLE)
        ],
    }


def label_table() -> LabelTable:
    """The label table as the readers hold it."""
    return parse_label_table(label_descriptions(), "<fashionvision synthetic parsing labels>")


# ----------------------------------------------------------------------------- garments

TOP_TEMPLATES = (1, 5, 6)  # short sleeve, vest, sling: "top, t-shirt"
SHIRT_TEMPLATE = 2  # long sleeve: "sweater" when knitted, else "shirt, blouse"
JACKET_TEMPLATES = (3, 4)
BOTTOM_TEMPLATES = {"pants": 8, "shorts": 7, "skirt": 9}
DRESS_TEMPLATES = (10, 11, 12, 13)
SLEEVELESS, SHORT_SLEEVE, LONG_SLEEVE = (5, 6, 12, 13), (1, 3, 10), (2, 4, 11)
# 1-based landmark at the armpit: a left sleeve runs from landmark 7 (shoulder) to it.
_ARMPIT = {1: 12, 3: 12, 10: 12, 2: 16, 4: 16, 11: 16}
# Neckline: front seam 2-3-4-5-6, back edge 6-1-2.  Collar: the outwear lapel seams 2-3-4 and
# 6-5-(mirror of 4), the outline's edge between the lapels, and the back edge 6-1-2.
_NECKLINE = {t: (2, 3, 4, 5, 6, 1) for t in (1, 2, 5, 6, 10, 11, 12, 13)}
_COLLAR = {3: (2, 3, 4, 26, 5, 6, 1), 4: (2, 3, 4, 34, 5, 6, 1)}
_BUTTONED = (2, 10, 11)  # round necks ending above the first button
ROUND_NECK_DEPTH = 0.45  # depth / width at or above: round, else straight across
MIN_PART_PIXELS = 12
# Width of each garment in the outfit frame relative to a top's (trousers are narrower).
_WIDTH = {7: 0.65, 8: 0.65, 9: 0.7, 3: 1.08, 4: 1.08}
_ATTEMPTS = 20  # scenes drawn for one image until one has an instance (the first almost always)
# Share of Fashionpedia annotations written as RLE (the rest as polygons).
RLE_SHARE = 0.3


@dataclass(frozen=True)
class Piece:
    """One garment of an outfit: its DeepFashion2 template, its length factor (the template's
    height is scaled by `stretch`), its look and its details."""

    template: int
    stretch: float
    appearance: Appearance
    buttons: bool = False
    pocket: str | None = None  # None, "patch" or "flap"

    @property
    def category(self) -> str:
        """The category the drawing shows (a knitted long-sleeve top is a sweater)."""
        t = self.template
        if t == SHIRT_TEMPLATE:
            return "sweater" if self.appearance.fabric == "knit" else "shirt, blouse"
        if t in TOP_TEMPLATES:
            return "top, t-shirt"
        if t in JACKET_TEMPLATES:
            return "jacket"
        if t in DRESS_TEMPLATES:
            return "dress"
        return next(name for name, tid in BOTTOM_TEMPLATES.items() if tid == t)


def _fabric(rng: np.random.Generator, exclude: str | None = None) -> str:
    choices = [f for f in FABRICS if f != exclude]
    return str(choices[int(rng.integers(len(choices)))])


def _length(rng: np.random.Generator, levels: Sequence[float]) -> float:
    """A length factor near one of `levels` (jitter kept well inside the label thresholds)."""
    return float(levels[int(rng.integers(len(levels)))] + rng.uniform(-0.04, 0.04))


def random_piece(rng: np.random.Generator, role: str) -> Piece:
    """A random garment of `role`: top, jacket, bottom or dress."""
    app = random_appearance(rng)
    if role == "top":
        kind = int(rng.integers(3))  # shirt/blouse, sweater, top: about equally often
        if kind == 2:
            template = int(TOP_TEMPLATES[int(rng.integers(len(TOP_TEMPLATES)))])
            fabric = _fabric(rng)
        else:
            template = SHIRT_TEMPLATE
            fabric = "knit" if kind == 1 else _fabric(rng, exclude="knit")
        stretch = _length(rng, (0.8, 1.0))
    elif role == "jacket":
        template = int(JACKET_TEMPLATES[int(rng.integers(2))])
        fabric, stretch = _fabric(rng), _length(rng, (0.8, 1.0))
    elif role == "bottom":
        template = list(BOTTOM_TEMPLATES.values())[int(rng.integers(3))]
        fabric = _fabric(rng)
        stretch = (
            _length(rng, (0.8, 1.0, 1.25)) if template == 9 else float(rng.uniform(0.95, 1.05))
        )
    elif role == "dress":
        template = int(DRESS_TEMPLATES[int(rng.integers(len(DRESS_TEMPLATES)))])
        fabric, stretch = _fabric(rng), _length(rng, (0.8, 1.0, 1.25))
    else:
        raise ValueError(f"unknown role {role!r} (top, jacket, bottom or dress)")
    buttons = template in _BUTTONED and fabric != "knit" and bool(rng.random() < 0.5)
    pocket = None
    if rng.random() < 0.35:
        pocket = "flap" if rng.random() < 0.5 else "patch"
    return Piece(template, stretch, replace(app, fabric=fabric), buttons, pocket)


def random_outfit(rng: np.random.Generator) -> list[Piece]:
    """1-3 garments worn together, back to front: a top (with a bottom and an open jacket
    sometimes), a dress (sometimes under a jacket), or a bottom alone."""
    kind = int(rng.choice(3, p=[0.55, 0.25, 0.2]))
    if kind == 2:
        return [random_piece(rng, "bottom")]
    main = random_piece(rng, "top" if kind == 0 else "dress")
    pieces = [main]
    if kind == 0 and rng.random() < 0.7:
        pieces.insert(0, random_piece(rng, "bottom"))
    if rng.random() < (0.25 if kind == 0 else 0.15):
        pieces.append(random_piece(rng, "jacket"))
    return pieces


# ----------------------------------------------------------------------------- scenes


@dataclass(frozen=True)
class View:
    """How the outfit is shown: rotation (degrees), perspective tilt, back view; `fill` the
    outfit's larger side as a share of the image side; `cut` the share of its extent pushed
    beyond the border `cut_side` (0 bottom, 1 top, 2 left, 3 right); occluders; clutter."""

    angle: float = 0.0
    persp: tuple[float, float] = (0.0, 0.0)
    back: bool = False
    fill: float = 0.75
    cut: float = 0.0
    cut_side: int = 0
    occluders: int = 0
    clutter: bool = False


def random_view(rng: np.random.Generator, pieces: Sequence[Piece]) -> View:
    """A mostly frontal view; a back view only where every template has a back."""
    allow_back = all(TEMPLATES[p.template].allow_back_view for p in pieces)
    back = allow_back and bool(rng.random() < 0.15)
    angle = float(np.clip(rng.normal(0.0, 6.0), -15.0, 15.0))
    persp = rng.uniform(-0.15, 0.15, 2) if rng.random() < 0.3 else np.zeros(2)
    fill = float(rng.uniform(0.55, 0.95))
    cut, side = 0.0, 0
    if rng.random() < 0.2:
        cut, side = float(rng.uniform(0.1, 0.35)), int(rng.choice(4, p=[0.4, 0.2, 0.2, 0.2]))
    return View(
        angle=angle,
        persp=(float(persp[0]), float(persp[1])),
        back=back,
        fill=fill,
        cut=cut,
        cut_side=side,
        occluders=int(rng.choice(3, p=[0.5, 0.35, 0.15])),
        clutter=bool(rng.random() < 0.5),
    )


@dataclass
class ParsingScene:
    """A scene and what each of its layers belongs to.

    `garment_layers[i]`: the scene layer of piece i's garment; `owners[k]`: the piece that scene
    layer k belongs to (its garment or one of its details), None for an occluder; `details[i]`:
    piece i's drawn details as pixel polygons by kind (pocket, flap, buttons).
    """

    scene: Scene
    pieces: list[Piece]
    view: View
    garment_layers: list[int] = field(default_factory=list)
    owners: list[int | None] = field(default_factory=list)
    details: list[dict[str, list[np.ndarray]]] = field(default_factory=list)


def _item_frame(width: float, top_y: float, stretch: float) -> np.ndarray:
    """Unit template frame -> outfit frame: `width` wide, centred on x = 0, top edge at `top_y`,
    the template's y scaled by `stretch` (the garment's length)."""
    return np.array([[width, 0.0, -0.5 * width], [0.0, width * stretch, top_y], [0.0, 0.0, 1.0]])


def _layout(pieces: Sequence[Piece]) -> list[np.ndarray]:
    """Per piece: unit frame -> outfit frame, centred on the origin.  A bottom hangs from under
    the hem of the top (which covers its waist); a jacket sits over the top's shoulders."""

    def height(p: Piece) -> float:
        return _WIDTH.get(p.template, 1.0) * TEMPLATES[p.template].height * p.stretch

    upper = [p for p in pieces if p.template not in BOTTOM_TEMPLATES.values()]
    mats = []
    for p in pieces:
        width, top_y = _WIDTH.get(p.template, 1.0), 0.0
        if p.template in JACKET_TEMPLATES:
            top_y = -0.02
        elif p.template in BOTTOM_TEMPLATES.values() and upper:
            above = height(upper[0])
            top_y = above - 0.12 * min(above, height(p))
        mats.append(_item_frame(width, top_y, p.stretch))
    pts = np.vstack(
        [apply_h(m, TEMPLATES[p.template].outline) for m, p in zip(mats, pieces, strict=True)]
    )
    lo, hi = pts.min(0), pts.max(0)
    shift = np.array(
        [[1.0, 0.0, -(lo[0] + hi[0]) / 2], [0.0, 1.0, -(lo[1] + hi[1]) / 2], [0, 0, 1]]
    )
    return [shift @ m for m in mats]


def _rgb(values: Iterable[Any]) -> RGB:
    r, g, b = (int(v) for v in values)
    return (r, g, b)


def _dark(rgb: RGB, k: float) -> RGB:
    return _rgb(c * k for c in rgb)


def _unit_details(piece: Piece, kind: str) -> list[np.ndarray]:
    """Unit-frame polygons of a detail from the DeepFashion generator's geometry."""
    label = next(k for k, c in enumerate(DEEPFASHION_CATEGORIES, 1) if c.template == piece.template)
    return _unit_polygons(Item(label, piece.appearance, frozenset()), kind)


def _flap(pocket: np.ndarray) -> list[np.ndarray]:
    """The top 35 % of a pocket polygon (unit frame)."""
    x0, y0, x1, y1 = Polygon(pocket).bounds
    top = Polygon(pocket).intersection(box(x0 - 1, y0, x1 + 1, y0 + 0.35 * (y1 - y0)))
    return [np.asarray(p.exterior.coords) for p in _polygons(top)]


def _sleeves(template: int) -> list[np.ndarray]:
    """Unit-frame polygons of the left and right sleeve (empty for sleeveless templates)."""
    if template not in _ARMPIT:
        return []
    left = TEMPLATES[template].landmarks[6 : _ARMPIT[template]]
    return [left, np.c_[1.0 - left[:, 0], left[:, 1]]]


def _neck(template: int) -> tuple[str, np.ndarray] | None:
    """(part category, unit-frame polygon) of the neckline or collar, if the template has one."""
    for name, table in (("neckline", _NECKLINE), ("collar", _COLLAR)):
        if template in table:
            return name, TEMPLATES[template].landmarks[[i - 1 for i in table[template]]]
    return None


def neckline_type(piece: Piece) -> str:
    """round or straight across, from the drawn neckline's depth over its width."""
    lm = TEMPLATES[piece.template].landmarks
    depth = (lm[3, 1] - (lm[1, 1] + lm[5, 1]) / 2) * piece.stretch
    width = lm[5, 0] - lm[1, 0]
    return "round (neck)" if depth >= ROUND_NECK_DEPTH * width else "straight across (neck)"


def _details(piece: Piece, h: np.ndarray, back: bool) -> list[tuple[str, np.ndarray, RGB]]:
    """(kind, pixel polygon, colour) of the details drawn over a garment, in drawing order:
    armhole seams (so that a sleeve has a visible edge), then, on the front only, the pocket,
    its flap and the buttons."""
    base = piece.appearance.base
    out: list[tuple[str, np.ndarray, RGB]] = []
    for sleeve in _sleeves(piece.template):
        seam = LineString(apply_h(h, sleeve[[-1, 0]])).buffer(0.8, quad_segs=2)
        out.append(("seam", np.asarray(seam.exterior.coords)[:-1], _dark(base, 0.45)))
    if back:
        return out
    if piece.pocket:
        for pocket in _unit_details(piece, "pocket"):
            out.append(("pocket", apply_h(h, pocket), _dark(base, 0.7)))
            if piece.pocket == "flap":
                out += [("flap", apply_h(h, f), _dark(base, 0.45)) for f in _flap(pocket)]
    if piece.buttons:
        contrast = _rgb(255 - c for c in base)
        out += [("buttons", apply_h(h, b), contrast) for b in _unit_details(piece, "buttons")]
    return out


def compose_scene(
    rng: np.random.Generator, pieces: Sequence[Piece], view: View, size: int
) -> ParsingScene:
    """Place `pieces` (back to front) in a `size` image as `view` says; `rng` draws the
    position, background, clutter and occluders."""
    mats = _layout(pieces)
    outlines = [
        apply_h(m, TEMPLATES[p.template].outline) for m, p in zip(mats, pieces, strict=True)
    ]
    half = max(1e-6, float(np.abs(np.vstack(outlines)).max()))
    pose = (
        _similarity(1.0, view.angle, 0.0, 0.0)
        @ _perspective(view.persp[0] / half, view.persp[1] / half)
        @ np.diag([-1.0 if view.back else 1.0, 1.0, 1.0])
    )
    posed = np.vstack(
        [
            apply_h(pose @ m, TEMPLATES[p.template].outline)
            for m, p in zip(mats, pieces, strict=True)
        ]
    )
    lo, hi = posed.min(0), posed.max(0)
    px = view.fill * size / float(max(hi - lo))
    centre = np.full(2, size / 2.0) - px * (lo + hi) / 2
    slack = np.maximum(size - px * (hi - lo), 0.0) / 2
    centre += rng.uniform(-0.8, 0.8, 2) * slack
    if view.cut > 0:  # push the outfit beyond one border by `cut` of its extent
        axis = 1 if view.cut_side < 2 else 0
        sign = 1.0 if view.cut_side in (0, 3) else -1.0
        span = px * (hi - lo)[axis]
        centre[axis] = size / 2.0 - px * (lo + hi)[axis] / 2
        centre[axis] += sign * ((size - span) / 2 + view.cut * span)
    to_px = np.array([[px, 0.0, centre[0]], [0.0, px, centre[1]], [0.0, 0.0, 1.0]])

    if view.clutter:
        background = _rgb(rng.integers(0, 256, 3))
    else:
        grey = int(rng.integers(215, 251))
        background = _rgb(np.clip(grey + rng.integers(-8, 9, 3), 0, 255))
    source: Source = "user" if view.clutter else "shop"
    scene = Scene(source, background)
    for _ in range(int(rng.integers(2, 6)) if view.clutter else 0):
        centre_xy = rng.uniform(0, size, 2)
        shape = _random_shape(rng, centre_xy, size * rng.uniform(0.05, 0.25))
        scene.clutter.append(ShapeLayer(shape, _rgb(rng.integers(0, 256, 3))))
    out = ParsingScene(scene, list(pieces), view)
    for i, (piece, m) in enumerate(zip(pieces, mats, strict=True)):
        h = to_px @ pose @ m
        out.garment_layers.append(len(scene.layers))
        scene.layers.append(GarmentLayer(Style(piece.template, 1, piece.appearance), h, view.back))
        out.owners.append(i)
        drawn: dict[str, list[np.ndarray]] = {}
        for kind, poly, colour in _details(piece, h, view.back):
            scene.layers.append(ShapeLayer(poly, colour))
            out.owners.append(i)
            drawn.setdefault(kind, []).append(poly)
        out.details.append(drawn)
    palette = _SKIN + _HAIR
    for _ in range(view.occluders):
        k = out.garment_layers[int(rng.integers(len(pieces)))]
        layer = scene.layers[k]
        assert isinstance(layer, GarmentLayer)
        points = apply_h(layer.h, TEMPLATES[layer.style.category_id].landmarks)
        centre_xy = points[int(rng.integers(len(points)))]
        shape = _occluder_shape(rng) * px * float(rng.uniform(0.06, 0.16)) + centre_xy
        if rng.random() < 0.3:
            colour = _rgb(rng.integers(0, 256, 3))
        else:
            colour = palette[int(rng.integers(len(palette)))]
        scene.layers.append(ShapeLayer(shape, colour))
        out.owners.append(None)
    return out


def random_scene(rng: np.random.Generator, size: int) -> ParsingScene:
    """A random outfit in a random view."""
    pieces = random_outfit(rng)
    return compose_scene(rng, pieces, random_view(rng, pieces), size)


# ----------------------------------------------------------------------------- labels

_OCCLUDER = 255  # label-map value of an occluder (pieces are 1..n)


def _paint_garment(canvas: np.ndarray, layer: GarmentLayer, value: int) -> Image.Image:
    """Paint `value` where `render` paints `layer`: the same window and polygon call as
    `synthetic._draw_garment`, then the same lines as `synthetic._draw_seams` (kept in step by
    tests/data/test_synthetic_parsing.py, which compares this with rendered pixels)."""
    t = TEMPLATES[layer.style.category_id]
    pix = apply_h(layer.h, t.outline)
    size = canvas.shape[0]
    x0, y0 = np.clip(np.floor(pix.min(0)).astype(int), 0, size)
    x1, y1 = np.clip(np.ceil(pix.max(0)).astype(int) + 1, 0, size)
    if x1 > x0 and y1 > y0:
        window = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(window).polygon([tuple(p) for p in pix - (x0, y0)], fill=255)
        canvas[y0:y1, x0:x1][np.asarray(window) > 0] = value
    img = Image.fromarray(canvas)
    draw_seam_lines(ImageDraw.Draw(img), layer, value)
    return img


def label_map(ps: ParsingScene, size: int) -> np.ndarray:
    """uint8 [size, size]: i + 1 where piece i (its garment or details) is the topmost drawing,
    255 where an occluder is, 0 for the background and clutter."""
    img = Image.new("L", (size, size), 0)
    for layer, owner in zip(ps.scene.layers, ps.owners, strict=True):
        value = _OCCLUDER if owner is None else owner + 1
        if isinstance(layer, ShapeLayer):
            ImageDraw.Draw(img).polygon([tuple(p) for p in layer.polygon], fill=value)
        else:
            img = _paint_garment(np.array(img), layer, value)
    return np.asarray(img)


def _raster(polygons: Sequence[np.ndarray], size: int, outline: bool) -> np.ndarray:
    """bool [size, size] of pixel polygons filled as `render` fills them (with their edge
    pixels too when `outline`: a part whose edge is a garment seam owns that seam)."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    for poly in polygons:
        if len(poly) >= 3:
            draw.polygon([tuple(p) for p in poly], fill=1, outline=1 if outline else None)
    return np.asarray(img) > 0


def _inside(poly: np.ndarray, size: int) -> bool:
    return bool((poly >= 0).all() and (poly <= size).all())


@dataclass(frozen=True)
class Instance:
    """One annotated region: category and attribute ids (of `CATEGORY_TABLE` and
    `ATTRIBUTE_TABLE`), its painted pixels (bool [size, size]), and the piece (garment) of the
    outfit it belongs to."""

    category_id: int
    attribute_ids: tuple[int, ...]
    mask: np.ndarray = field(repr=False)
    piece: int = 0

    @property
    def category(self) -> str:
        return CATEGORY_TABLE[self.category_id][0]

    @property
    def attributes(self) -> list[str]:
        return [ATTRIBUTE_TABLE[a][0] for a in self.attribute_ids]


def _ids(names: set[str]) -> tuple[int, ...]:
    return tuple(sorted(ATTRIBUTE_IDS[n] for n in names))


def _sleeve_length(template: int) -> str | None:
    if template in SLEEVELESS:
        return "sleeveless"
    if template in SHORT_SLEEVE:
        return "short (sleeve)"
    return "wrist-length (sleeve)" if template in LONG_SLEEVE else None


def _length_name(piece: Piece) -> str | None:
    category = piece.category
    if category in ("shirt, blouse", "top, t-shirt", "sweater", "jacket"):
        return "above-the-hip (length)" if piece.stretch < 0.9 else "hip (length)"
    if category in ("skirt", "dress"):
        if piece.stretch < 0.9:
            return "mini (length)"
        return "knee (length)" if piece.stretch < 1.12 else "maxi (length)"
    return None


def garment_attributes(piece: Piece, whole: bool, buttons_seen: bool) -> tuple[int, ...]:
    """Attribute ids of a garment: pattern, material, opening from the drawing; length and
    sleeve length only when the `whole` garment lies inside the image; buttoned when
    `buttons_seen` (a drawn button is visible)."""
    names = {_PATTERN_NAMES[piece.appearance.pattern]}
    if piece.appearance.fabric in _MATERIALS:
        names.add(piece.appearance.fabric)
    length, sleeves = _length_name(piece), _sleeve_length(piece.template)
    if whole:
        names |= {n for n in (length, sleeves) if n}
    if piece.template in JACKET_TEMPLATES:
        names.add("open front (opening)")
    if buttons_seen:
        names.add("buttoned (opening)")
    return _ids(names)


def label_scene(ps: ParsingScene, size: int) -> list[Instance]:
    """The annotated instances of a scene: each annotated garment followed by its visible
    parts (see the module docstring for the rules)."""
    ids = label_map(ps, size)
    out: list[Instance] = []
    for i, (piece, k) in enumerate(zip(ps.pieces, ps.garment_layers, strict=True)):
        layer = ps.scene.layers[k]
        assert isinstance(layer, GarmentLayer)
        outline = apply_h(layer.h, TEMPLATES[piece.template].outline)
        visible = ids == i + 1
        if visible.sum() < MIN_VISIBLE_IMAGE_FRACTION * size**2:
            continue
        drawn = ps.details[i]
        buttons_seen = bool((_raster(drawn.get("buttons", []), size, False) & visible).any())
        attrs = garment_attributes(piece, _inside(outline, size), buttons_seen)
        out.append(Instance(CATEGORY_IDS[piece.category], attrs, visible, i))
        out += _parts(ps, i, layer.h, visible, size)
    return out


def _parts(
    ps: ParsingScene, i: int, h: np.ndarray, visible: np.ndarray, size: int
) -> list[Instance]:
    """The visible part instances of piece i (`h` its homography, `visible` its mask)."""
    piece, back = ps.pieces[i], ps.view.back
    candidates: list[tuple[str, list[np.ndarray], bool, set[str]]] = []
    length = _sleeve_length(piece.template)
    for sleeve in _sleeves(piece.template):
        pix = apply_h(h, sleeve)
        names = {length} if length and _inside(pix, size) else set()
        candidates.append(("sleeve", [pix], True, names))
    neck = _neck(piece.template)
    if neck and not back:  # the front neckline seam is not drawn in a back view
        name, poly = neck
        names = {neckline_type(piece)} if name == "neckline" else set()
        candidates.append((name, [apply_h(h, poly)], True, names))
    pocket = ps.details[i].get("pocket", []) + ps.details[i].get("flap", [])
    if pocket:
        flap_seen = (_raster(ps.details[i].get("flap", []), size, False) & visible).any()
        names = {"flap (pocket)" if flap_seen else "patch (pocket)"}
        candidates.append(("pocket", pocket, False, names))
    out = []
    for name, polys, outline, names in candidates:
        mask = _raster(polys, size, outline) & visible
        if mask.sum() >= MIN_PART_PIXELS:
            out.append(Instance(CATEGORY_IDS[name], _ids(names), mask, i))
    return out


def synth_image(
    seed: int, split_index: int, index: int, size: int
) -> tuple[Image.Image, list[Instance]]:
    """Image `index` of split `split_index` (0 train, 1 val) and its instances (at least one:
    an image of the real data sets always has one, so a scene whose garments all end up out of
    sight or under occluders is drawn again, from a generator seeded by the attempt too)."""
    for attempt in range(_ATTEMPTS):
        rng = np.random.default_rng([seed, split_index, index, *([attempt] if attempt else [])])
        ps = random_scene(rng, size)
        instances = label_scene(ps, size)
        if instances or attempt == _ATTEMPTS - 1:
            break
    return render(ps.scene, size), instances


# ----------------------------------------------------------------------------- writers


def _save_jpeg(path: Path, image: Image.Image) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="JPEG", quality=JPEG_QUALITY)


def _check_args(counts: Sequence[int], size: int) -> None:
    if min(counts) < 0 or size < 64:
        raise ValueError("image counts must be >= 0 and size >= 64")


def image_id(seed: int, index: int) -> str:
    """A Kaggle-style ``ImageId``: 32 hex digits and ``.jpg`` (2019 ids are believed to carry
    the suffix, see `fashionvision.data.imaterialist`; the image file is named by the id)."""
    digest = hashlib.blake2b(f"fashionvision/{seed}/{index}".encode(), digest_size=16)
    return f"{digest.hexdigest()}.jpg"


def generate_imaterialist(
    out_dir: str | Path, n_images: int, seed: int, size: int = 256
) -> dict[str, Any]:
    """Write an iMaterialist-Fashion 2019 data set: ``out_dir/train.csv`` (``ImageId,
    EncodedPixels, Height, Width, ClassId``: one row per instance, column-major 1-based RLE,
    ClassId the category and its attribute ids joined by ``_``), ``out_dir/label_descriptions.json``
    (our table, 2019 layout) and ``out_dir/train/<ImageId>`` (JPEG).

    Returns ``{"images": n, "rows": rows, "categories": {name: rows}}``.
    """
    _check_args([n_images], size)
    root = Path(out_dir)
    (root / "train").mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    per_category: Counter[str] = Counter()
    for index in range(n_images):
        image, instances = synth_image(seed, 0, index, size)
        name = image_id(seed, index)
        _save_jpeg(root / "train" / name, image)
        for inst in instances:
            class_id = "_".join(str(v) for v in (inst.category_id, *inst.attribute_ids))
            runs = format_kaggle_rle(encode_kaggle_rle(inst.mask))
            rows.append([name, runs, str(size), str(size), class_id])
            per_category[inst.category] += 1
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    atomic_write(root / "train.csv", lambda f: f.write(text.getvalue()))
    table = label_descriptions()
    write_json(root / "label_descriptions.json", table, indent=2)
    return {
        "images": n_images,
        "rows": len(rows),
        "categories": {name: per_category[name] for name, _ in CATEGORY_TABLE},
    }


FASHIONPEDIA_SPLITS = (("train", 0), ("val", 1))


def annotation_file(split: str) -> str:
    """The annotation file name of a Fashionpedia split (as the real release names them)."""
    return f"instances_attributes_{split}2020.json"


def _cut_holes(poly: Polygon) -> list[Polygon]:
    """Split a polygon by vertical cuts through its holes (COCO polygons hold none), on whole
    pixel columns so that every piece keeps whole-pixel corners."""
    if not poly.interiors:
        return [poly]
    hx0, _, hx1, _ = poly.interiors[0].bounds
    cx = float(round((hx0 + hx1) / 2))
    x0, y0, x1, y1 = poly.bounds
    out: list[Polygon] = []
    for half in (box(x0 - 1, y0 - 1, cx, y1 + 1), box(cx, y0 - 1, x1 + 1, y1 + 1)):
        for piece in _polygons(poly.intersection(half)):
            out.extend(_cut_holes(piece))
    return out


def mask_polygons(mask: np.ndarray) -> list[list[int]]:
    """Polygons (flat ``[x1, y1, ...]`` open rings of whole pixels, hole-free) whose union is
    exactly `mask` as pycocotools rasterises them: the outline of the pixel squares (pixel
    (row, col) is the square [col, col + 1] x [row, row + 1]), corners only."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)  # +1 where a run starts, -1 after it ends
    rows, starts = np.nonzero(steps == 1)
    _, stops = np.nonzero(steps == -1)  # row-major order: pairs up with the starts
    squares = shapely.union_all(shapely.box(starts, rows, stops, rows + 1))
    out = []
    for part in _polygons(squares):
        for piece in _cut_holes(part):
            ring = np.rint(np.asarray(piece.simplify(0).exterior.coords)[:-1]).astype(np.int64)
            out.append([int(v) for v in ring.reshape(-1)])
    return out


def _segment(inst: Instance, size: int, as_rle: bool) -> AttributedSegment:
    """A Fashionpedia annotation of `inst`: compressed RLE or polygons, both exactly the
    painted pixels; box and area (the pixel count) from the mask."""
    rle = kaggle_to_coco_rle(encode_kaggle_rle(inst.mask), size, size)
    bbox, pixels = mask_geometry(rle, size, size)
    segmentation = rle if as_rle else mask_polygons(inst.mask)
    return AttributedSegment(inst.category_id, inst.attribute_ids, segmentation, bbox, pixels)


def generate_fashionpedia(
    out_dir: str | Path, n_train: int, n_val: int, seed: int, size: int = 256
) -> dict[str, Any]:
    """Write a Fashionpedia-format data set: ``out_dir/instances_attributes_<split>2020.json``
    (COCO with ``attribute_ids`` per annotation and our category and attribute tables; about
    `RLE_SHARE` of the masks as RLE, the others as polygons) and ``out_dir/<split>/*.jpg`` for
    the splits train and val.  Image ids are 1.. per split.

    Returns ``{split: {"images": n, "annotations": m}}``.
    """
    _check_args([n_train, n_val], size)
    root = Path(out_dir)
    labels = label_table()
    info = _info(2020, "Fashionpedia-format")
    summary: dict[str, Any] = {}
    for (split, split_index), n in zip(FASHIONPEDIA_SPLITS, (n_train, n_val), strict=True):
        (root / split).mkdir(parents=True, exist_ok=True)
        images: list[SegmentedImage] = []
        for index in range(n):
            image, instances = synth_image(seed, split_index, index, size)
            image_id_ = index + 1
            file_name = f"{image_id_:012d}.jpg"
            _save_jpeg(root / split / file_name, image)
            styles = np.random.default_rng([seed, split_index, index, 1]).random(len(instances))
            segments = tuple(
                _segment(inst, size, bool(u < RLE_SHARE))
                for inst, u in zip(instances, styles, strict=True)
            )
            images.append(SegmentedImage(image_id_, file_name, size, size, segments))
        coco = fashionpedia_coco(images, labels, info)
        write_json(root / annotation_file(split), coco)
        summary[split] = {"images": n, "annotations": len(coco["annotations"])}
    return summary
