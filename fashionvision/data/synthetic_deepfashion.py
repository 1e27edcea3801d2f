"""Generator of synthetic data sets in the DeepFashion (v1) formats, for its four benchmarks.

Built on the DeepFashion2 generator's garment templates and renderer: each image shows one
garment ("item"), drawn from its template with the item's colour, pattern, fabric weave and
details (pocket, buttons, belt, contrasting hem trim), posed, and for the Category, Landmark and
Consumer-to-shop benchmarks cropped around its box with a margin.

- Categories: the 50 DeepFashion categories (`CATEGORIES`, the official order and clothes
  types) are mapped onto the 13 garment shapes; categories sharing a shape differ in their
  proportions (the template's length scaled), so that a category is what is drawn.
  As in the real data, Cape, Nightdress, Shirtdress and Sundress get no images (46 used).
  Also as in the real data, where a category comes with its typical materials and details
  (Jeans are denim, a Flannel checked, a Cardigan knitted and buttoned), each category has a
  signature (`SIGNATURES`, one table): a fabric, a pattern and a set of details, each drawn
  with probability `SIGNATURE_P` (0.75; else at random), chosen so that the categories of one
  shape differ by more than their length.
- Attributes (`ATTRIBUTES`, 58 of the 5 types texture/fabric/shape/part/style) are functions of
  what is drawn, never random labels: the pattern and its direction and scale, the colour family
  and tone of the base colour, the weave, the proportions, the template's sleeves and neckline,
  the details; styles combine those.  0 = unknown: not applicable to the clothes type (sleeves
  of trousers), on the front in a view from the back, or (per image, Category benchmark) around
  landmarks that the image cuts off.  Else, with ``attribute_labels="described"`` (default), as
  the real labels, which were mined from product titles and descriptions: 1 = mentioned by the
  product's description (`mentions`: by salience the pattern, colour, fabric, sleeves or length,
  one detail, one style; at most 5, all drawn), -1 = not mentioned, drawn or not; with
  ``"drawn"``, 1 = drawn (~10 per image), -1 = not drawn.  The Category benchmark's product
  titles (image folders) and In-shop's descriptions say the mentions.  In-shop's item attributes
  are those of the front view.
- Landmarks: the 8-slot layout (collar, sleeve, waistline, hem; left = the template's image
  left in a front view) taken from template landmarks; visibility 2 when outside the image (the
  point written as 0 0), 1 when under an occluder, else 0.
- Variation type (landmark lists), measured on the geometry: 5 when >= 25 % of the garment's
  area is outside the image, 4 when >= 8 %, else 3 for a back view, strong rotation (> 25
  degrees) or strong perspective (> 0.2), 2 for a medium one (> 10 degrees, > 0.08), else 1.
  In-shop pose type: 6 laid flat, 3 back, 2 side (perspective > 0.2), 5 zoomed in (>= 8 % cut),
  4 zoomed out (box under 20 % of the image), else 1 front.
- In-shop: items with 2-4 views (front, side, back, full, zoom-in, flat) on clean backgrounds,
  uncropped square images (the real ones are 256 x 256); an item is a train item or a
  query/gallery item, never both.
- Consumer-to-shop: items with 1-2 shop images (clean background, frontal or flat) and consumer
  images (clutter, occluders, turned or cut); each consumer image is paired with a shop image.

Counts: ``train``/``val``/``test`` are rows of each benchmark's partition file: images for the
Category and Landmark benchmarks, train/query/gallery images for In-shop (which has no
validation split), consumer-shop pairs for Consumer-to-shop.  Every random draw comes from a
generator seeded by (seed, benchmark, item), so the output bytes depend only on the arguments.
"""

from __future__ import annotations

import colorsys
import functools
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from PIL import Image, ImageDraw
from shapely.geometry import Polygon, box

from fashionvision.data.deepfashion import (
    ABSENT,
    ATTRIBUTE_COLUMNS,
    ATTRIBUTE_LABEL_COLUMNS,
    ATTRIBUTE_NAME_COLUMNS,
    BENCHMARKS,
    BOX_COLUMNS,
    CATEGORY_COLUMNS,
    CATEGORY_LABEL_COLUMNS,
    CONSUMER_BOX_COLUMNS,
    CUT_OFF,
    FULL_BODY,
    IMAGE_DIR,
    IMAGE_PARTITION_COLUMNS,
    IMAGE_SPLITS,
    INSHOP_BOX_COLUMNS,
    INSHOP_SPLITS,
    ITEM_ATTRIBUTE_COLUMNS,
    ITEM_PARTITION_COLUMNS,
    LANDMARK_COLUMNS,
    LANDMARK_SLOTS,
    LAYOUT,
    LOWER_BODY,
    OCCLUDED,
    PAIR_PARTITION_COLUMNS,
    UPPER_BODY,
    VISIBLE,
    Landmarks,
    box_cells,
    landmark_cells,
    write_list,
)
from fashionvision.data.synthetic import (
    FABRICS,
    JPEG_QUALITY,
    PATTERNS,
    Appearance,
    GarmentLayer,
    Scene,
    ShapeLayer,
    Style,
    _occluder_shape,  # shared with the DeepFashion2 generator
    _perspective,
    _random_shape,
    _similarity,
    apply_h,
    render,
)
from fashionvision.data.synthetic_templates import TEMPLATES
from fashionvision.io_utils import atomic_path, atomic_write
from fashionvision.structures import Box

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class SynthCategory:
    """A DeepFashion category drawn as `template` with its length scaled by `length`."""

    name: str
    clothes_type: int
    template: int
    length: float


# The official order of list_category_cloth.txt (label k = row k).  An image is scaled to its
# garment, so only proportions are seen: categories of one template differ in length (relative
# to the width), names following what that draws where they can (Capris: short trousers), and
# in their typical look (`SIGNATURES`).
# fmt: off
CATEGORIES: tuple[SynthCategory, ...] = tuple(SynthCategory(*row) for row in (
    ("Anorak", 1, 4, 1.04), ("Blazer", 1, 4, 0.96), ("Blouse", 1, 2, 0.95), ("Bomber", 1, 4, 0.72),
    ("Button-Down", 1, 2, 1.15), ("Cardigan", 1, 4, 1.12), ("Flannel", 1, 2, 1.05),
    ("Halter", 1, 6, 1.0), ("Henley", 1, 2, 0.85), ("Hoodie", 1, 4, 0.88), ("Jacket", 1, 4, 0.8),
    ("Jersey", 1, 1, 1.2), ("Parka", 1, 4, 1.3), ("Peacoat", 1, 4, 1.2), ("Poncho", 1, 3, 0.8),
    ("Sweater", 1, 2, 0.75), ("Tank", 1, 5, 1.0), ("Tee", 1, 1, 1.0), ("Top", 1, 1, 0.8),
    ("Turtleneck", 1, 2, 1.3), ("Capris", 2, 8, 0.72), ("Chinos", 2, 8, 0.93),
    ("Culottes", 2, 7, 1.28), ("Cutoffs", 2, 7, 0.87), ("Gauchos", 2, 8, 0.79),
    ("Jeans", 2, 8, 1.0), ("Jeggings", 2, 8, 1.22), ("Jodhpurs", 2, 8, 0.86),
    ("Joggers", 2, 8, 1.15), ("Leggings", 2, 8, 1.3), ("Sarong", 2, 9, 1.25),
    ("Shorts", 2, 7, 1.0), ("Skirt", 2, 9, 1.0), ("Sweatpants", 2, 8, 1.07),
    ("Sweatshorts", 2, 7, 1.12), ("Trunks", 2, 7, 0.75), ("Caftan", 3, 11, 1.25),
    ("Cape", 3, 12, 1.2), ("Coat", 3, 11, 1.0), ("Coverup", 3, 13, 0.85), ("Dress", 3, 10, 1.0),
    ("Jumpsuit", 3, 12, 1.0), ("Kaftan", 3, 11, 0.89), ("Kimono", 3, 11, 0.78),
    ("Nightdress", 3, 13, 1.2), ("Onesie", 3, 12, 0.8), ("Robe", 3, 11, 1.11),
    ("Romper", 3, 10, 0.8), ("Shirtdress", 3, 10, 1.2), ("Sundress", 3, 13, 1.0),
))
# fmt: on
# Merged into Dress in the real data set, which has no images of them.
EMPTY_CATEGORIES = frozenset({"Cape", "Nightdress", "Shirtdress", "Sundress"})
USED_LABELS = tuple(k for k, c in enumerate(CATEGORIES, 1) if c.name not in EMPTY_CATEGORIES)

# The 8 DeepFashion landmarks of each template as 1-based template landmarks (the midpoint
# where two are given: a sleeve landmark sits in the middle of the cuff), by slot: collar L/R,
# sleeve L/R, waistline L/R, hem L/R; None where the clothes type has no such landmark.
# Sleeveless shapes put the sleeve landmark at the bottom of the armhole.
_P = tuple[int, ...]
# fmt: off
SLOT_POINTS: dict[int, tuple[_P | None, ...]] = {
    1: ((2,), (6,), (9, 10), (23, 22), None, None, (15,), (17,)),
    2: ((2,), (6,), (11, 12), (29, 28), None, None, (19,), (21,)),
    3: ((2,), (6,), (9, 10), (23, 22), None, None, (15,), (17,)),
    4: ((2,), (6,), (11, 12), (29, 28), None, None, (19,), (21,)),
    5: ((2,), (6,), (8,), (14,), None, None, (10,), (12,)),
    6: ((2,), (6,), (8,), (14,), None, None, (10,), (12,)),
    7: (None, None, None, None, (1,), (3,), (5, 6), (9, 8)),
    8: (None, None, None, None, (1,), (3,), (6, 7), (12, 11)),
    9: (None, None, None, None, (1,), (3,), (5,), (7,)),
    10: ((2,), (6,), (9, 10), (27, 26), (15,), (21,), (17,), (19,)),
    11: ((2,), (6,), (11, 12), (33, 32), (19,), (25,), (21,), (23,)),
    12: ((2,), (6,), (8,), (18,), (10,), (16,), (12,), (14,)),
    13: ((2,), (6,), (8,), (18,), (10,), (16,), (12,), (14,)),
}
# fmt: on
SLEEVELESS, SHORT_SLEEVE, LONG_SLEEVE = (5, 6, 12, 13), (1, 3, 10), (2, 4, 11)
OUTWEAR, SLING, BOTTOMS = (3, 4), (6, 13), (7, 8, 9)
PARTS = ("pocket", "buttons", "belt", "trim")
# Buttons down the front of what has one, a belt around a waist.
_PARTS_OF = {
    UPPER_BODY: frozenset({"pocket", "buttons", "trim"}),
    LOWER_BODY: frozenset({"pocket", "belt", "trim"}),
    FULL_BODY: frozenset(PARTS),
}
# Details only drawn on the front of a garment (and the round neckline, see `_draw_seams`).
FRONT_ONLY_PARTS = ("pocket", "buttons")
COLOURS = tuple("black white grey red orange yellow green blue purple pink brown".split())
# Upper bounds of the hue bins (degrees) of the chromatic colour names.
_HUES = (("red", 15), ("orange", 45), ("yellow", 70), ("green", 165), ("blue", 255),
         ("purple", 290), ("pink", 345), ("red", 360))  # fmt: skip


@dataclass(frozen=True)
class Signature:
    """A category's typical look: its fabric, pattern and set of details (None: no preference;
    an empty `parts`: typically plain), each drawn with probability `SIGNATURE_P`."""

    fabric: str | None
    pattern: str | None
    parts: frozenset[str] | None


SIGNATURE_P = 0.75
# As in the real data, where a category comes with its materials and details (Jeans are denim,
# a Flannel checked, a Cardigan knitted and buttoned): a category's typical fabric, pattern and
# details ("-": none, "" or None: no preference), chosen so that the categories of one template
# differ by more than their length.  Rows by template; Cape, Nightdress, Shirtdress and Sundress
# (no images) get one too.
# fmt: off
_SIGNATURE_ROWS: tuple[tuple[str, str | None, str | None, str | None], ...] = (
    # 1 short sleeve top
    ("Jersey", "knit", "stripes", "trim"), ("Tee", "cotton", "solid", "-"),
    ("Top", "satin", None, None),
    # 2 long sleeve top
    ("Blouse", "lace", None, "-"), ("Button-Down", "cotton", "stripes", "buttons pocket"),
    ("Flannel", "cotton", "checks", "buttons pocket"), ("Henley", "knit", "solid", "buttons"),
    ("Sweater", "knit", None, "trim"), ("Turtleneck", "knit", "solid", "-"),
    # 3 short sleeve outwear, 4 long sleeve outwear
    ("Poncho", "knit", "stripes", "trim"),
    ("Anorak", "satin", "solid", "pocket trim"), ("Blazer", "cotton", "solid", "buttons"),
    ("Bomber", "leather", "solid", "trim"), ("Cardigan", "knit", None, "buttons"),
    ("Hoodie", "knit", "solid", "pocket"), ("Jacket", "denim", None, "buttons pocket"),
    ("Parka", "cotton", "solid", "pocket buttons trim"),
    ("Peacoat", "corduroy", "solid", "buttons pocket"),
    # 5 vest, 6 sling
    ("Tank", "knit", "solid", "-"), ("Halter", "satin", None, None),
    # 7 shorts
    ("Culottes", "cotton", None, "belt"), ("Cutoffs", "denim", "solid", "pocket trim"),
    ("Shorts", "cotton", "solid", "pocket belt"), ("Sweatshorts", "knit", "solid", "pocket"),
    ("Trunks", "satin", "stripes", "-"),
    # 8 trousers
    ("Capris", "cotton", "checks", "-"), ("Chinos", "cotton", "solid", "pocket"),
    ("Gauchos", "satin", None, "belt trim"), ("Jeans", "denim", "solid", "pocket belt"),
    ("Jeggings", "denim", "solid", "-"), ("Jodhpurs", "corduroy", "solid", "belt"),
    ("Joggers", "knit", None, "pocket trim"), ("Leggings", "knit", "solid", "-"),
    ("Sweatpants", "knit", "solid", "trim"),
    # 9 skirt
    ("Sarong", "cotton", "checks", "-"), ("Skirt", None, "solid", "belt"),
    # 10 short sleeve dress
    ("Dress", "satin", None, "belt"), ("Romper", "cotton", "dots", "buttons"),
    ("Shirtdress", "cotton", "stripes", "buttons belt"),
    # 11 long sleeve dress
    ("Caftan", "cotton", "stripes", "trim"), ("Coat", "cotton", "solid", "buttons pocket"),
    ("Kaftan", "lace", None, "-"), ("Kimono", "satin", None, "belt trim"),
    ("Robe", "knit", "solid", "belt pocket"),
    # 12 vest dress, 13 sling dress
    ("Cape", "cotton", "checks", "buttons"), ("Jumpsuit", "denim", None, "pocket belt"),
    ("Onesie", "knit", None, "buttons"),
    ("Coverup", "lace", None, "-"), ("Nightdress", "satin", "solid", "trim"),
    ("Sundress", "cotton", "dots", "-"),
)
# fmt: on
SIGNATURES: dict[str, Signature] = {
    name: Signature(
        fabric,
        pattern,
        None if not parts else frozenset(parts.split()) - {"-"},
    )
    for name, fabric, pattern, parts in _SIGNATURE_ROWS
}


@dataclass(frozen=True)
class Item:
    """One garment style: every view of it draws the same category, look and details."""

    label: int  # 1-based category label (row of `CATEGORIES`)
    appearance: Appearance
    parts: frozenset[str]

    @property
    def category(self) -> SynthCategory:
        return CATEGORIES[self.label - 1]


# ----------------------------------------------------------------------------- attributes


def colour_family(rgb: RGB) -> str:
    """The colour name of an RGB colour: black, white and grey by value and saturation, else
    by hue (dark oranges are brown)."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    if v < 0.22:
        return "black"
    if s < 0.15:  # drawn with folds that darken by up to a quarter: white stays above 0.72
        return "white" if v > 0.72 else "grey"
    hue = h * 360
    if 15 <= hue < 45 and v < 0.6:
        return "brown"
    return next(name for name, upper in _HUES if hue < upper)


def _tones(rgb: RGB) -> frozenset[str]:
    _, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    tones = {"dark": v < 0.35, "light": v > 0.8 and s < 0.35, "bright": s > 0.6 and v > 0.6}
    return frozenset(name for name, on in tones.items() if on)


def _stripe_direction(angle: float) -> str:
    """Stripes run across the direction (cos a, sin a): a = 0 draws vertical stripes."""
    a = math.degrees(angle) % 180
    if a < 20 or a > 160:
        return "vertical"
    return "horizontal" if 70 < a < 110 else "diagonal"


def slot_point(template: int, slot: int) -> np.ndarray:
    """Unit-frame (x, y) of a DeepFashion landmark slot on a template."""
    numbers = SLOT_POINTS[template][slot]
    if numbers is None:
        raise ValueError(f"template {template} has no landmark in slot {slot}")
    return TEMPLATES[template].landmarks[[i - 1 for i in numbers]].mean(0)


def _hem_over_waist(template: int) -> float:
    """Width of the hem over the width of the waistline (flare), from the slot landmarks."""
    if SLOT_POINTS[template][4] is None:
        return 1.0
    waist_l, waist_r, hem_l, hem_r = (slot_point(template, k) for k in (4, 5, 6, 7))
    return abs(hem_r[0] - hem_l[0]) / abs(waist_r[0] - waist_l[0])


@dataclass(frozen=True)
class Facts:
    """What an item draws, as the attribute rules read it."""

    clothes_type: int
    template: int
    length: float
    colour: str
    tones: frozenset[str]
    pattern: str
    stripes: str | None
    fine: bool
    fabric: str
    parts: frozenset[str]


def item_facts(item: Item) -> Facts:
    app, cat = item.appearance, item.category
    return Facts(
        cat.clothes_type,
        cat.template,
        cat.length,
        colour_family(app.base),
        _tones(app.base),
        app.pattern,
        _stripe_direction(app.angle) if app.pattern == "stripes" else None,
        app.period < 0.1,
        app.fabric,
        item.parts,
    )


Rule = Callable[[Facts], bool | None]  # None: not applicable to this clothes type (label 0)


def _top(f: Facts, value: bool) -> bool | None:
    """Sleeves, necklines and buttons: unknown for lower-body clothes."""
    return None if f.clothes_type == LOWER_BODY else value


def _a_line(f: Facts) -> bool:
    return _hem_over_waist(f.template) >= 1.3


def _dressy(f: Facts) -> bool:
    return f.clothes_type == FULL_BODY or f.template == 9


# fmt: off
_RULES: tuple[tuple[str, int, Rule], ...] = (
    # texture
    ("solid", 1, lambda f: f.pattern == "solid"),
    ("striped", 1, lambda f: f.pattern == "stripes"),
    ("checked", 1, lambda f: f.pattern == "checks"),
    ("dotted", 1, lambda f: f.pattern == "dots"),
    ("vertical-stripe", 1, lambda f: f.stripes == "vertical"),
    ("horizontal-stripe", 1, lambda f: f.stripes == "horizontal"),
    ("diagonal-stripe", 1, lambda f: f.stripes == "diagonal"),
    *((name, 1, (lambda f, c=name: f.colour == c)) for name in COLOURS),
    ("dark", 1, lambda f: "dark" in f.tones),
    ("light", 1, lambda f: "light" in f.tones),
    ("bright", 1, lambda f: "bright" in f.tones),
    ("fine-pattern", 1, lambda f: f.pattern != "solid" and f.fine),
    ("bold-pattern", 1, lambda f: f.pattern != "solid" and not f.fine),
    # fabric
    *((name, 2, (lambda f, w=name: f.fabric == w)) for name in FABRICS),
    ("ribbed", 2, lambda f: f.fabric in ("knit", "corduroy")),
    ("glossy", 2, lambda f: f.fabric in ("leather", "satin")),
    # shape
    ("long", 3, lambda f: f.length >= 1.1),
    ("cropped", 3, lambda f: f.length <= 0.9),
    ("a-line", 3, lambda f: None if f.clothes_type == UPPER_BODY else _a_line(f)),
    ("straight", 3, lambda f: None if f.clothes_type == UPPER_BODY else not _a_line(f)),
    ("maxi", 3, lambda f: _dressy(f) and f.length >= 1.1),
    ("mini", 3, lambda f: _dressy(f) and f.length <= 0.9),
    # part
    ("sleeveless", 4, lambda f: _top(f, f.template in SLEEVELESS)),
    ("short-sleeve", 4, lambda f: _top(f, f.template in SHORT_SLEEVE)),
    ("long-sleeve", 4, lambda f: _top(f, f.template in LONG_SLEEVE)),
    ("collar", 4, lambda f: _top(f, f.template in OUTWEAR)),
    ("strap", 4, lambda f: _top(f, f.template in SLING)),
    ("round-neck", 4, lambda f: _top(f, f.template not in OUTWEAR)),
    ("waistband", 4, lambda f: f.template in BOTTOMS),
    ("pocket", 4, lambda f: "pocket" in f.parts),
    ("buttons", 4, lambda f: _top(f, "buttons" in f.parts)),
    ("belt", 4, lambda f: None if f.clothes_type == UPPER_BODY else "belt" in f.parts),
    ("trim", 4, lambda f: "trim" in f.parts),
    # style: combinations of the above
    ("casual", 5, lambda f: f.fabric in ("cotton", "denim", "knit") and f.pattern != "solid"),
    ("formal", 5, lambda f: f.pattern == "solid" and f.colour in ("black", "grey", "white")
        and f.fabric in ("cotton", "satin")),
    ("party", 5, lambda f: f.fabric in ("satin", "leather", "lace")),
    ("summer", 5, lambda f: (f.template in SLEEVELESS or (f.template in BOTTOMS and f.length
        <= 0.9)) and "dark" not in f.tones),
    ("winter", 5, lambda f: (f.template in LONG_SLEEVE or f.length >= 1.1)
        and f.fabric in ("knit", "corduroy", "leather")),
    ("sporty", 5, lambda f: f.pattern == "stripes" and f.fabric == "knit"),
    ("boho", 5, lambda f: f.fabric == "lace" or (f.pattern == "dots" and _a_line(f))),
    ("minimal", 5, lambda f: f.pattern == "solid" and not f.parts),
    ("colourful", 5, lambda f: "bright" in f.tones and f.pattern != "solid"),
)
# fmt: on
ATTRIBUTES: tuple[tuple[str, int], ...] = tuple((name, kind) for name, kind, _ in _RULES)
# Attributes of what only the front shows: unknown (0) in a back view.
_FRONT_ONLY = frozenset({"round-neck", *FRONT_ONLY_PARTS})
# Attributes drawn around a pair of landmark slots: unknown (0) in an image that cuts both off.
_SLOT_ATTRIBUTES = {
    (0, 1): ("collar", "round-neck", "strap"),
    (2, 3): ("sleeveless", "short-sleeve", "long-sleeve"),
    (4, 5): ("belt", "waistband"),
    (6, 7): ("trim",),
}
_NAMES = [name for name, _ in ATTRIBUTES]


# How the attribute labels are made: "described" (the real data set's way: mined from the
# product's description, so only what it mentions is positive) or "drawn" (all that is drawn).
ATTRIBUTE_LABELS = ("described", "drawn")
# What a product description mentions, by salience: one word per slot, the first of the slot's
# attributes that the item draws (a slot with none of them is left out), at most MAX_MENTIONS.
MAX_MENTIONS = 5
_SLEEVES = ("sleeveless", "short-sleeve", "long-sleeve")
_LENGTHS = ("maxi", "mini", "long", "cropped")
_PART_PRIORITY = ("buttons", "pocket", "belt", "trim")
_STYLE_PRIORITY = (
    "sporty", "boho", "party", "formal", "winter", "summer", "colourful", "casual", "minimal"
)  # fmt: skip
_CUT_WORDS = {  # the sleeves of a top, the length of a bottom, a dress's length else sleeves
    UPPER_BODY: _SLEEVES,
    LOWER_BODY: _LENGTHS,
    FULL_BODY: ("maxi", "mini", *_SLEEVES),
}


def mentions(item: Item) -> tuple[str, ...]:
    """The attributes a description of `item` mentions, in salience order: the pattern (not
    when solid), the colour family, the fabric, the sleeves (tops) or length word (bottoms,
    dresses: else their sleeves), at most one detail (buttons, pocket, belt, trim) and at most
    one style; the first `MAX_MENTIONS` of those.  All are drawn, so a subset of the drawn
    positives; the single source of the "described" labels, the Category benchmark's product
    titles and In-shop's descriptions."""
    facts = item_facts(item)
    drawn = {name for name, _, rule in _RULES if rule(facts)}
    slots = (
        ("striped", "checked", "dotted"),
        COLOURS,
        FABRICS,
        _CUT_WORDS[facts.clothes_type],
        _PART_PRIORITY,
        _STYLE_PRIORITY,
    )
    words = (next((w for w in slot if w in drawn), None) for slot in slots)
    return tuple(w for w in words if w)[:MAX_MENTIONS]


def attribute_labels(item: Item, drawn: np.ndarray, labels: str) -> np.ndarray:
    """The labels of `item` in mode `labels` (`ATTRIBUTE_LABELS`) from its `drawn` labels (1
    drawn, -1 not, 0 unknown): "drawn" keeps them; "described" keeps only the `mentions` of the
    positives (drawn but not mentioned: -1, as for a real description that does not say it),
    unknowns unchanged.  Used by the Category benchmark's images and In-shop's items alike."""
    if labels == "drawn":
        return drawn
    if labels != "described":
        raise ValueError(f"unknown attribute labels {labels!r} (one of {ATTRIBUTE_LABELS})")
    said = np.isin(_NAMES, mentions(item))
    return np.where((drawn == 1) & ~said, -1, drawn).astype(np.int8)


def item_attributes(item: Item, back_view: bool = False, labels: str = "drawn") -> np.ndarray:
    """(len(ATTRIBUTES),) int8 labels of `item`: 1 drawn, -1 not, 0 unknown (`labels`:
    "described" keeps only the positives a description mentions, see `attribute_labels`)."""
    facts = item_facts(item)
    out = np.empty(len(_RULES), dtype=np.int8)
    for k, (name, _, rule) in enumerate(_RULES):
        value = rule(facts)
        known = value is not None and not (back_view and name in _FRONT_ONLY)
        out[k] = 0 if not known else (1 if value else -1)
    return attribute_labels(item, out, labels)


def image_attributes(
    item: Item, back_view: bool, landmarks: Landmarks, labels: str = "drawn"
) -> np.ndarray:
    """`item_attributes` as one image shows them: also unknown where the image cuts off both
    landmarks of the part an attribute describes (a hem trim below a cropped image)."""
    out = item_attributes(item, back_view, labels)
    for slots, names in _SLOT_ATTRIBUTES.items():
        if all(landmarks.visibility[s] == CUT_OFF for s in slots):
            out[[_NAMES.index(name) for name in names]] = 0
    return out


# ----------------------------------------------------------------------------- items


def _rgb(values: Iterable[float]) -> RGB:
    r, g, b = (int(v) for v in values)
    return (r, g, b)


def _colour(rng: np.random.Generator) -> RGB:
    """A base colour: 80 % chromatic over the hue circle, else black, grey or white."""
    if rng.random() < 0.8:
        h, s, v = rng.uniform(0, 1), rng.uniform(0.3, 0.95), rng.uniform(0.35, 0.95)
    else:
        h, s, v = 0.0, rng.uniform(0, 0.08), float(rng.choice([0.1, 0.5, 1.0]))
    return _rgb(round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v))


def random_item(
    rng: np.random.Generator, label: int | None = None, signatures: float = SIGNATURE_P
) -> Item:
    """A random style of category `label` (None: any of the 46 used categories).

    Fabric, pattern and parts are drawn at random, then each field of the category's
    `SIGNATURES` entry replaces its draw with probability `signatures` (independently; 0 draws
    nothing more: the items of the generator before signatures)."""
    label = label if label is not None else int(rng.choice(USED_LABELS))
    category = CATEGORIES[label - 1]
    base = _colour(rng)
    accent = _rgb((np.array(base) + rng.integers(70, 180, 3)) % 256)
    # Stripe directions are drawn by class so that each reads clearly (vertical, horizontal,
    # diagonal), with a little jitter.
    angle = float(rng.choice([0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4]))
    pattern = str(rng.choice(PATTERNS))
    period = float(rng.uniform(0.06, 0.16))
    angle += float(rng.uniform(-0.12, 0.12))
    fabric = str(rng.choice(FABRICS))
    parts = frozenset(
        p for p in PARTS if rng.random() < 0.35 and p in _PARTS_OF[category.clothes_type]
    )
    if signatures > 0:
        typical = rng.random(3) < signatures
        sig = SIGNATURES[category.name]
        fabric = sig.fabric if typical[0] and sig.fabric is not None else fabric
        pattern = sig.pattern if typical[1] and sig.pattern is not None else pattern
        parts = sig.parts if typical[2] and sig.parts is not None else parts
    appearance = Appearance(base, accent, pattern, period, angle, fabric)
    return Item(label, appearance, parts)


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True)
class View:
    """How one image shows an item.

    `fill`: the garment's larger side as a share of the canvas; `cut`: share of the garment's
    extent pushed beyond the canvas border `cut_side` (0 bottom, 1 top, 2 left, 3 right).
    """

    angle: float = 0.0
    persp: float = 0.0
    back: bool = False
    flat: bool = False
    fill: float = 0.7
    cut: float = 0.0
    cut_side: int = 0
    background: RGB = (235, 235, 235)
    clutter: int = 0
    occluders: int = 0
    crop: bool = True


@dataclass
class Shot:
    """A rendered view and its labels (pixels of the final, possibly cropped, image)."""

    image: Image.Image
    bbox: Box
    landmarks: Landmarks
    pose_type: int


def _clean_background(rng: np.random.Generator) -> RGB:
    grey = int(rng.integers(215, 251))
    return _rgb(np.clip(grey + rng.integers(-8, 9, 3), 0, 255))


def _random_background(rng: np.random.Generator) -> RGB:
    return _rgb(rng.integers(0, 256, 3))


def _pose(rng: np.random.Generator, level: int, allow_back: bool) -> dict[str, float | bool]:
    """Pose fields of a `View`: level 1 normal, 2 medium, 3 large (back, side or rotated)."""
    if level == 1:
        return {"angle": float(rng.uniform(-6, 6))}
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if level == 2:
        if rng.random() < 0.5:
            return {"angle": sign * float(rng.uniform(12, 22))}
        return {"angle": float(rng.uniform(-5, 5)), "persp": sign * float(rng.uniform(0.1, 0.18))}
    kinds = ["side", "rotated"] + (["back"] if allow_back else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "back":
        return {"back": True, "angle": float(rng.uniform(-5, 5))}
    if kind == "side":
        return {"persp": sign * float(rng.uniform(0.22, 0.32))}
    return {"angle": sign * float(rng.uniform(28, 38))}


def _zoom(rng: np.random.Generator, level: int) -> dict[str, float | int]:
    """Zoom-in fields of a `View`: level 1 a medium cut, 2 a large one."""
    cut = float(rng.uniform(0.12, 0.2)) if level == 1 else float(rng.uniform(0.35, 0.5))
    return {"cut": cut, "cut_side": int(rng.choice(4, p=[0.4, 0.2, 0.2, 0.2])), "fill": 0.9}


def wild_view(
    rng: np.random.Generator,
    item: Item,
    poses: tuple[float, float, float],
    zoom: float,
    occlusion: float,
    clean: float,
) -> View:
    """A cropped view with pose levels drawn from `poses` (shares of normal/medium/large), a
    zoom-in with probability `zoom`, an occluder with probability `occlusion`, and a clean
    background with probability `clean` (else a coloured one with clutter)."""
    allow_back = TEMPLATES[item.category.template].allow_back_view
    level = int(rng.choice(3, p=np.array(poses) / sum(poses))) + 1
    fields: dict = {"fill": float(rng.uniform(0.55, 0.85)), **_pose(rng, level, allow_back)}
    if rng.random() < zoom:
        fields.update(_zoom(rng, 1 if rng.random() < 0.7 else 2))
    if rng.random() < clean:
        fields["background"] = _clean_background(rng)
    else:
        fields["background"] = _random_background(rng)
        fields["clutter"] = int(rng.integers(1, 5))
    fields["occluders"] = int(rng.random() < occlusion) + int(rng.random() < occlusion / 3)
    return View(**fields)


INSHOP_VIEWS = ("front", "side", "back", "full", "zoom", "flat")


def inshop_view(rng: np.random.Generator, item: Item, kind: str) -> View:
    """An uncropped In-shop view of `kind` (one of `INSHOP_VIEWS`) on a clean background."""
    bg = _clean_background(rng)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    fill = float(rng.uniform(0.65, 0.8))
    fields: dict = {
        "front": {"angle": float(rng.uniform(-4, 4))},
        "side": {"persp": sign * float(rng.uniform(0.22, 0.3))},
        "back": {"back": True},
        "full": {"fill": float(rng.uniform(0.3, 0.4))},
        "zoom": {"cut": float(rng.uniform(0.15, 0.3)), "cut_side": 0, "fill": 0.95},
        "flat": {"flat": True, "angle": float(rng.uniform(-3, 3))},
    }[kind]
    return View(**{"fill": fill, "background": bg, "crop": False, **fields})


def _inshop_kinds(rng: np.random.Generator, item: Item, n: int) -> list[str]:
    """`n` distinct view kinds, the front first (back views only where the shape has a back)."""
    kinds = [
        k
        for k in INSHOP_VIEWS[1:]
        if k != "back" or TEMPLATES[item.category.template].allow_back_view
    ]
    return [
        "front",
        *(str(k) for k in rng.choice(kinds, size=min(n, len(kinds) + 1) - 1, replace=False)),
    ]


# ----------------------------------------------------------------------------- rendering


def _garment_matrix(item: Item, view: View, size: int) -> np.ndarray:
    """3x3 homography from the template's unit frame to canvas pixels for `view`."""
    t = TEMPLATES[item.category.template]
    length = t.height * item.category.length
    k = 1.0 / max(1.0, length)
    # Scale the length about the template's top, then centre the garment in [-0.5, 0.5]^2.
    m = np.array([[k, 0, -0.5 * k], [0, k * item.category.length, -0.5 * length * k], [0, 0, 1]])
    mirror = np.diag([-1.0 if view.back else 1.0, 1.0, 1.0])
    m = _similarity(1.0, view.angle, 0.0, 0.0) @ _perspective(view.persp / 0.5, 0.0) @ mirror @ m
    outline = apply_h(m, t.outline)
    lo, hi = outline.min(0), outline.max(0)
    px = view.fill * size / float(max(hi - lo))
    centre = np.full(2, size / 2.0) - px * (lo + hi) / 2
    if view.cut > 0:  # push the garment beyond one border by `cut` of its extent
        axis = 1 if view.cut_side < 2 else 0
        sign = 1.0 if view.cut_side in (0, 3) else -1.0
        span = px * (hi - lo)[axis]
        centre[axis] += sign * ((size - span) / 2 + view.cut * span)
    return np.array([[px, 0, centre[0]], [0, px, centre[1]], [0, 0, 1.0]]) @ m


def _unit_polygons(item: Item, part: str) -> list[np.ndarray]:
    """Polygons (unit template frame) of a detail, clipped to the garment's outline."""
    t = TEMPLATES[item.category.template]
    outline = shapely.make_valid(Polygon(t.outline))
    h, kind = t.height, item.category.clothes_type
    if part == "pocket":
        y = 0.15 * h if kind == LOWER_BODY else (0.6 if kind == UPPER_BODY else 0.62) * h
        shape = box(0.28, y, 0.4, y + 0.11)
    elif part == "buttons":
        top, bottom = 0.17, (0.9 * h if kind == UPPER_BODY else 0.45 * h)
        shape = shapely.union_all(
            [shapely.Point(0.5, y).buffer(0.018, 8) for y in np.linspace(top, bottom, 5)]
        )
    elif part == "belt":
        # at the waistline of a dress, over the waistband of a bottom
        y = float(slot_point(t.category_id, 4)[1]) if kind == FULL_BODY else 0.05
        shape = box(-1, max(0.0, y - 0.025), 2, y + 0.025)
    else:  # trim: a band along the bottom
        shape = box(-1, h - 0.07, 2, h + 1)
    clipped = outline.intersection(shape)
    parts = clipped.geoms if hasattr(clipped, "geoms") else [clipped]
    return [
        np.asarray(p.exterior.coords) for p in parts if isinstance(p, Polygon) and not p.is_empty
    ]


def _draw_parts(img: Image.Image, item: Item, h: np.ndarray, back: bool) -> None:
    """Draw the item's details through `h` (front-only details not in a back view)."""
    draw = ImageDraw.Draw(img)
    app = item.appearance
    dark = tuple(int(c * 0.45) for c in app.base)
    colours = {"pocket": dark, "buttons": app.accent, "belt": dark, "trim": app.accent}
    for part in PARTS:
        if part not in item.parts or (back and part in FRONT_ONLY_PARTS):
            continue
        for poly in _unit_polygons(item, part):
            draw.polygon([tuple(p) for p in apply_h(h, poly)], fill=colours[part], outline=dark)


_SKIN = ((241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (25, 18, 12))


def _occluders(
    rng: np.random.Generator, view: View, slots_px: np.ndarray, px: float
) -> list[np.ndarray]:
    """Occluding shapes (pixels) over random landmarks of the garment, a quarter of its size."""
    out = []
    for _ in range(view.occluders):
        centre = slots_px[int(rng.integers(len(slots_px)))]
        out.append(_occluder_shape(rng) * px * float(rng.uniform(0.12, 0.22)) + centre)
    return out


def _slot_points(item: Item) -> tuple[tuple[int, ...], np.ndarray]:
    """(slots the clothes type has, their unit-frame points (k, 2))."""
    slots = LANDMARK_SLOTS[item.category.clothes_type]
    return slots, np.array([slot_point(item.category.template, s) for s in slots])


def _variation(view: View, cut_share: float) -> int:
    if cut_share >= 0.25:
        return 5
    if cut_share >= 0.08:
        return 4
    if view.back or abs(view.angle) > 25 or abs(view.persp) > 0.2:
        return 3
    return 2 if abs(view.angle) > 10 or abs(view.persp) > 0.08 else 1


def _pose_type(view: View, cut_share: float, box_share: float) -> int:
    if view.flat:
        return 6
    if view.back:
        return 3
    if abs(view.persp) > 0.2:
        return 2
    if cut_share >= 0.08:
        return 5
    return 4 if box_share < 0.2 else 1


def _draw(
    item: Item, view: View, h: np.ndarray, slots_px: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[Image.Image, list[np.ndarray]]:
    """The `size` canvas with clutter, the garment, its details and the occluders on top;
    returns it and the occluders' polygons (pixels)."""
    clutter = [
        ShapeLayer(
            _random_shape(rng, rng.uniform(0, size, 2), size * rng.uniform(0.05, 0.25)),
            _random_background(rng),
        )
        for _ in range(view.clutter)
    ]
    style = Style(TEMPLATES[item.category.template].category_id, 1, item.appearance)
    layer = GarmentLayer(style, h, back_view=view.back)
    img = render(Scene("user" if view.clutter else "shop", view.background, clutter, [layer]), size)
    _draw_parts(img, item, h, view.back)
    covers = _occluders(rng, view, slots_px, float(np.linalg.norm(h[:2, 0])))
    draw = ImageDraw.Draw(img)
    for poly in covers:
        draw.polygon([tuple(p) for p in poly], fill=_SKIN[int(rng.integers(len(_SKIN)))])
    return img, covers


def _landmarks(
    item: Item,
    slots: tuple[int, ...],
    slots_px: np.ndarray,
    covers: list[np.ndarray],
    crop: tuple[int, int, int, int],
    variation: int,
) -> Landmarks:
    """Landmarks in crop pixels: cut off (written 0 0) outside the crop, occluded under an
    occluder, else visible."""
    cover = shapely.union_all([Polygon(p) for p in covers]) if covers else None
    xy = np.zeros((8, 2))
    visibility = np.full(8, ABSENT, dtype=np.int8)
    for slot, (x, y) in zip(slots, slots_px, strict=True):
        if not (crop[0] <= x < crop[2] and crop[1] <= y < crop[3]):
            visibility[slot] = CUT_OFF
            continue
        hidden = cover is not None and bool(shapely.contains_xy(cover, x, y))
        visibility[slot] = OCCLUDED if hidden else VISIBLE
        xy[slot] = (math.floor(x) - crop[0], math.floor(y) - crop[1])
    return Landmarks(item.category.clothes_type, variation, xy, visibility)


def render_view(item: Item, view: View, size: int, rng: np.random.Generator) -> Shot:
    """Draw `item` as `view` on a `size` canvas (cropped around the garment when `view.crop`)
    and measure its labels on the drawn geometry."""
    h = _garment_matrix(item, view, size)
    slots, unit = _slot_points(item)
    slots_px = apply_h(h, unit)
    img, covers = _draw(item, view, h, slots_px, size, rng)
    garment = shapely.make_valid(Polygon(apply_h(h, TEMPLATES[item.category.template].outline)))
    inside = garment.intersection(box(0, 0, size, size))
    cut_share = 1.0 - inside.area / max(garment.area, 1e-9)
    x0, y0, x1, y1 = inside.bounds  # the box: the garment's whole extent in the image
    bbox = (math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1))
    crop = (0, 0, size, size)
    if view.crop:
        m = round(rng.uniform(0.04, 0.15) * max(bbox[2] - bbox[0], bbox[3] - bbox[1]))
        crop = (
            max(0, bbox[0] - m),
            max(0, bbox[1] - m),
            min(size, bbox[2] + m),
            min(size, bbox[3] + m),
        )
    box_share = (
        (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) / ((crop[2] - crop[0]) * (crop[3] - crop[1]))
    )
    landmarks = _landmarks(item, slots, slots_px, covers, crop, _variation(view, cut_share))
    x1, y1, x2, y2 = (float(v - crop[k % 2]) for k, v in enumerate(bbox))
    pose_type = _pose_type(view, cut_share, box_share)
    return Shot(img.crop(crop), (x1, y1, x2, y2), landmarks, pose_type)


# ----------------------------------------------------------------------------- data sets


@dataclass(frozen=True)
class _Options:
    """What `generate_deepfashion`'s writers share besides counts, seed and size."""

    labels: str  # one of ATTRIBUTE_LABELS
    signatures: float  # random_item's probability of a category's typical look


def _rng(seed: int, benchmark: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, BENCHMARKS.index(benchmark), index])


def _save(root: Path, name: str, image: Image.Image) -> None:
    with atomic_path(root / IMAGE_DIR / name) as tmp:
        image.save(tmp, format="JPEG", quality=JPEG_QUALITY)


def _statuses(
    rng: np.random.Generator, counts: tuple[int, int, int], names: tuple[str, ...]
) -> list[str]:
    """Split names for every row, shuffled (real image splits mix images of one product)."""
    out = [name for name, n in zip(names, counts, strict=True) for _ in range(n)]
    return [out[k] for k in rng.permutation(len(out))]


# How titles and descriptions say a mentioned detail.
_PART_TITLE = {"buttons": "Button-Front", "pocket": "Pocket", "belt": "Belted", "trim": "Trimmed"}
_PART_PHRASE = {"buttons": "buttons", "pocket": "a pocket", "belt": "a belt", "trim": "a trim"}


def _wording(item: Item) -> tuple[list[str], list[str]]:
    """The item's `mentions` as a shop writes them: (style, colour, pattern, fabric, sleeves or
    length; the detail)."""
    said = mentions(item)
    order = (_STYLE_PRIORITY, COLOURS)  # then the rest in salience order
    words = sorted(
        (w for w in said if w not in _PART_PRIORITY),
        key=lambda w: next((k for k, group in enumerate(order) if w in group), len(order)),
    )
    return words, [w for w in said if w in _PART_PRIORITY]


def _title(item: Item) -> str:
    """A product title of the item's `mentions` (the Category benchmark names image folders so):
    style, detail, colour, pattern, fabric, sleeves or length, then the category name."""
    words, parts = _wording(item)
    styles = sum(w in _STYLE_PRIORITY for w in words)  # the first words
    words = [*words[:styles], *(_PART_TITLE[w] for w in parts), *words[styles:]]
    words.append(item.category.name)
    return "_".join("-".join(p[:1].upper() + p[1:] for p in w.split("-")) for w in words)


def _write_image_benchmark(
    root: Path, counts: tuple[int, int, int], seed: int, size: int, opts: _Options, benchmark: str
) -> int:
    """The Category and Landmark benchmarks: one item per image (Category: 1-3 images of each
    product), random views; returns the number of images."""
    category = benchmark == "category"
    statuses = _statuses(_rng(seed, benchmark, 0), counts, IMAGE_SPLITS)
    rows: dict[str, list[list[str]]] = {k: [] for k in LAYOUT[benchmark]}
    index = 0
    while len(rows["partition"]) < len(statuses):
        index += 1
        rng = _rng(seed, benchmark, index)
        item = random_item(rng, signatures=opts.signatures)
        views = int(rng.integers(1, 4)) if category else 1
        for _ in range(min(views, len(statuses) - len(rows["partition"]))):
            k = len(rows["partition"]) + 1
            name = (
                f"img/{_title(item)}_{index:04d}/img_{k:08d}.jpg"
                if category
                else f"img/img_{k:08d}.jpg"
            )
            if category:
                view = wild_view(rng, item, (0.7, 0.2, 0.1), zoom=0.2, occlusion=0.3, clean=0.7)
            else:  # "in the wild": more pose, zoom and occlusion
                view = wild_view(rng, item, (0.45, 0.35, 0.2), zoom=0.3, occlusion=0.5, clean=0.4)
            shot = render_view(item, view, size, rng)
            _save(root, name, shot.image)
            rows["boxes"].append([name, *box_cells(shot.bbox)])
            rows["landmarks"].append([name, *landmark_cells(shot.landmarks)])
            rows["partition"].append([name, statuses[k - 1]])
            if category:
                rows["category_labels"].append([name, str(item.label)])
                labels = image_attributes(item, view.back, shot.landmarks, opts.labels)
                rows["attribute_labels"].append([name, *map(str, labels)])
    columns = {
        "boxes": BOX_COLUMNS,
        "landmarks": LANDMARK_COLUMNS,
        "partition": IMAGE_PARTITION_COLUMNS,
    }
    if category:
        rows["categories"] = [[c.name, str(c.clothes_type)] for c in CATEGORIES]
        rows["attributes"] = [[name, str(kind)] for name, kind in ATTRIBUTES]
        columns |= {
            "categories": CATEGORY_COLUMNS,
            "attributes": ATTRIBUTE_COLUMNS,
            "category_labels": CATEGORY_LABEL_COLUMNS,
            "attribute_labels": ATTRIBUTE_LABEL_COLUMNS,
        }
    for role, rel in LAYOUT[benchmark].items():
        write_list(root / rel, rows[role], columns[role])
    return len(statuses)


# In-shop folders: gender, then a product group per garment shape.
_INSHOP_GROUPS = {
    1: "Tees_Tanks",
    2: "Blouses_Shirts",
    3: "Jackets_Coats",
    4: "Jackets_Coats",
    5: "Tees_Tanks",
    6: "Tees_Tanks",
    7: "Shorts",
    8: "Pants",
    9: "Skirts",
    10: "Dresses",
    11: "Dresses",
    12: "Dresses",
    13: "Dresses",
}


def _description(item: Item, item_id: str) -> dict:
    """In-shop's product description: the item's `mentions` (what its labels were mined from
    in the "described" mode)."""
    facts = item_facts(item)
    words, parts = _wording(item)
    details = "".join(f" with {_PART_PHRASE[w]}" for w in parts)
    article = "An" if words[0][0] in "aeiou" else "A"
    return {
        "item": item_id,
        "color": facts.colour.title(),
        "description": [
            f"{article} {' '.join(words)} {item.category.name.lower()}{details}. ",
            f"100% {facts.fabric}",
            "Imported",
        ],
    }


def _write_inshop(
    root: Path, counts: tuple[int, int, int], seed: int, size: int, opts: _Options
) -> int:
    """Items with 2-4 views; train items, then query/gallery items (each 1-2 of either)."""
    rows: dict[str, list[list[str]]] = {
        k: [] for k in ("items", "boxes", "landmarks", "attribute_labels", "partition")
    }
    descriptions = []
    left = dict(zip(INSHOP_SPLITS, counts, strict=True))
    index = 0
    while any(left.values()):
        index += 1
        rng = _rng(seed, "inshop", index)
        item = random_item(rng, signatures=opts.signatures)
        if left["train"]:
            statuses = ["train"] * min(int(rng.integers(2, 5)), left["train"])
        else:
            q, g = (min(int(rng.integers(1, 3)), left[s]) for s in ("query", "gallery"))
            statuses = ["query"] * q + ["gallery"] * g
        for status in statuses:
            left[status] -= 1
        item_id = f"id_{index:08d}"
        gender = "WOMEN" if rng.random() < 0.7 else "MEN"
        folder = f"img/{gender}/{_INSHOP_GROUPS[item.category.template]}/{item_id}"
        for j, (kind, status) in enumerate(
            zip(_inshop_kinds(rng, item, len(statuses)), statuses, strict=True)
        ):
            view = inshop_view(rng, item, kind)
            shot = render_view(item, view, size, rng)
            name = f"{folder}/01_{j + 1}_{kind}.jpg"
            _save(root, name, shot.image)
            ctype = str(item.category.clothes_type)
            rows["boxes"].append([name, ctype, str(shot.pose_type), *box_cells(shot.bbox)])
            rows["landmarks"].append([name, *landmark_cells(shot.landmarks)])
            rows["partition"].append([name, item_id, status])
        rows["items"].append([item_id])
        labels = item_attributes(item, labels=opts.labels)
        rows["attribute_labels"].append([item_id, *map(str, labels)])
        descriptions.append(_description(item, item_id))
    rows["attributes"] = [[name] for name, _ in ATTRIBUTES]
    columns = {
        "items": None,
        "boxes": INSHOP_BOX_COLUMNS,
        "landmarks": LANDMARK_COLUMNS,
        "attributes": ATTRIBUTE_NAME_COLUMNS,
        "attribute_labels": ITEM_ATTRIBUTE_COLUMNS,
        "partition": ITEM_PARTITION_COLUMNS,
    }
    for role, rel in LAYOUT["inshop"].items():
        if role == "descriptions":
            text = json.dumps(descriptions, indent=4, ensure_ascii=False) + "\n"
            atomic_write(root / rel, lambda f, text=text: f.write(text))
        else:
            write_list(root / rel, rows[role], columns[role])
    return len(rows["partition"])


def shop_view(rng: np.random.Generator) -> View:
    """A shop image of a consumer-to-shop item: clean, frontal or laid flat, cropped."""
    flat = rng.random() < 0.3
    return View(
        angle=float(rng.uniform(-4, 4)),
        flat=flat,
        fill=float(rng.uniform(0.6, 0.8)),
        background=_clean_background(rng),
    )


_C2S_GROUPS = {UPPER_BODY: "TOPS", LOWER_BODY: "TROUSERS", FULL_BODY: "DRESSES"}


def _write_consumer2shop(
    root: Path, counts: tuple[int, int, int], seed: int, size: int, opts: _Options
) -> int:
    """Items of one split each: 1-2 shop images and 1-3 consumer images, each consumer image
    paired with a shop image; `counts` are pairs.  Returns the number of images."""
    rows: dict[str, list[list[str]]] = {k: [] for k in LAYOUT["consumer2shop"]}
    index = 0
    for split, n in zip(IMAGE_SPLITS, counts, strict=True):
        pairs = 0
        while pairs < n:
            index += 1
            rng = _rng(seed, "consumer2shop", index)
            item = random_item(rng, signatures=opts.signatures)
            item_id = f"id_{index:08d}"
            folder = f"img/{_C2S_GROUPS[item.category.clothes_type]}/{item.category.name}/{item_id}"
            shops = [f"{folder}/shop_{j:02d}.jpg" for j in range(1, int(rng.integers(1, 3)) + 1)]
            consumers = [
                f"{folder}/consumer_{j:02d}.jpg"
                for j in range(1, min(int(rng.integers(1, 4)), n - pairs) + 1)
            ]
            for name in shops + consumers:
                shop = name in shops
                view = (
                    shop_view(rng)
                    if shop
                    else wild_view(rng, item, (0.4, 0.35, 0.25), zoom=0.3, occlusion=0.7, clean=0.0)
                )
                shot = render_view(item, view, size, rng)
                _save(root, name, shot.image)
                ctype = str(item.category.clothes_type)
                rows["boxes"].append([name, ctype, "1" if shop else "2", *box_cells(shot.bbox)])
                rows["landmarks"].append([name, *landmark_cells(shot.landmarks)])
            for j, name in enumerate(consumers):
                rows["partition"].append([name, shops[j % len(shops)], item_id, split])
            rows["items"].append([item_id])
            pairs += len(consumers)
    columns = {
        "items": None,
        "boxes": CONSUMER_BOX_COLUMNS,
        "landmarks": LANDMARK_COLUMNS,
        "partition": PAIR_PARTITION_COLUMNS,
    }
    for role, rel in LAYOUT["consumer2shop"].items():
        write_list(root / rel, rows[role], columns[role])
    return len(rows["boxes"])


_WRITERS: dict[str, Callable[[Path, tuple[int, int, int], int, int, _Options], int]] = {
    "category": functools.partial(_write_image_benchmark, benchmark="category"),
    "inshop": _write_inshop,
    "consumer2shop": _write_consumer2shop,
    "fld": functools.partial(_write_image_benchmark, benchmark="fld"),
}


def generate_deepfashion(
    out_dir: str | Path,
    train: int,
    val: int,
    test: int,
    seed: int,
    size: int = 256,
    benchmarks: tuple[str, ...] = BENCHMARKS,
    attribute_labels: str = "described",
    signatures: float = SIGNATURE_P,
) -> dict[str, int]:
    """Write one folder per benchmark, ``out_dir/<benchmark>/`` (``Anno/``, ``Eval/``,
    ``Img/``), in the official layout; returns the number of images written per benchmark.

    `train`/`val`/`test` are partition rows per benchmark (see the module docstring); `size`
    is the side of the square canvas each image is drawn on (crops are smaller).
    `attribute_labels`: "described" (the attributes a product description mentions are
    positive, as in the real data set) or "drawn" (every drawn attribute, the labels before
    descriptions); `signatures`: the probability of each field of a category's typical look
    (`SIGNATURES`; 0: categories differ by shape and length only).
    """
    if min(train, val, test) < 0 or size < 64:
        raise ValueError("train, val and test must be >= 0 and size >= 64")
    if attribute_labels not in ATTRIBUTE_LABELS:
        raise ValueError(
            f"unknown attribute labels {attribute_labels!r} (one of {', '.join(ATTRIBUTE_LABELS)})"
        )
    if not 0 <= signatures <= 1:
        raise ValueError(f"signatures must be a probability in [0, 1], not {signatures}")
    unknown = sorted(set(benchmarks) - set(BENCHMARKS))
    if unknown:
        raise ValueError(f"unknown benchmarks {unknown} (known: {', '.join(BENCHMARKS)})")
    counts, opts = (train, val, test), _Options(attribute_labels, signatures)
    return {b: _WRITERS[b](Path(out_dir) / b, counts, seed, size, opts) for b in benchmarks}
