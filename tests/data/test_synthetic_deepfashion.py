"""The synthetic DeepFashion (v1) data sets: valid files, real layouts, and labels that are what
the images draw."""

from __future__ import annotations

import collections
import itertools
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest
from shapely.geometry import Polygon

from fashionvision.data.deepfashion import (
    BENCHMARKS,
    LANDMARK_SLOTS,
    VISIBLE,
    CategoryAttributeData,
    ConsumerToShopData,
    InShopData,
    check_deepfashion,
    load_deepfashion,
    read_attribute_labels,
)
from fashionvision.data.synthetic import FABRICS, PATTERNS, apply_h
from fashionvision.data.synthetic_deepfashion import (
    _PART_PHRASE,
    _PART_TITLE,
    _PARTS_OF,
    ATTRIBUTE_LABELS,
    ATTRIBUTES,
    CATEGORIES,
    EMPTY_CATEGORIES,
    MAX_MENTIONS,
    SIGNATURE_P,
    SIGNATURES,
    Item,
    View,
    _description,
    _garment_matrix,
    _rng,
    _title,
    colour_family,
    generate_deepfashion,
    image_attributes,
    item_attributes,
    item_facts,
    mentions,
    random_item,
    render_view,
)
from fashionvision.data.synthetic_templates import TEMPLATES

SIZE = 128


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deepfashion")
    generate_deepfashion(out, train=12, val=4, test=4, seed=3, size=SIZE)
    return out


def test_every_generated_benchmark_passes_the_validator(generated: Path) -> None:
    files = {}
    for benchmark in BENCHMARKS:
        report = check_deepfashion(generated / benchmark)
        assert report.benchmark == benchmark
        assert report.log.problems == [], benchmark
        files[benchmark] = report.log.files_checked
    assert files == {"category": 7, "inshop": 7, "consumer2shop": 4, "fld": 3}


def test_partition_counts_and_item_splits(generated: Path) -> None:
    for benchmark in ("category", "fld"):
        data = load_deepfashion(generated / benchmark)
        splits = collections.Counter(im.split for im in data.images)  # type: ignore[union-attr]
        assert splits == {"train": 12, "val": 4, "test": 4}
    inshop = load_deepfashion(generated / "inshop")
    assert isinstance(inshop, InShopData)
    assert collections.Counter(im.split for im in inshop.images) == {
        "train": 12,
        "query": 4,
        "gallery": 4,
    }
    train_items = {im.item_id for im in inshop.split("train")}
    assert train_items and not train_items & {im.item_id for im in inshop.split("query")}
    c2s = load_deepfashion(generated / "consumer2shop")
    assert isinstance(c2s, ConsumerToShopData)
    assert collections.Counter(p.split for p in c2s.pairs) == {"train": 12, "val": 4, "test": 4}
    for pair in c2s.pairs:
        assert c2s.images[pair.consumer].source == "consumer"
        assert c2s.images[pair.shop].source == "shop"
        assert pair.consumer.rsplit("/", 1)[0] == pair.shop.rsplit("/", 1)[0]  # one item folder
        assert pair.item_id in pair.shop
    items_of = collections.defaultdict(set)
    for pair in c2s.pairs:
        items_of[pair.split].add(pair.item_id)
    assert not items_of["train"] & (items_of["val"] | items_of["test"])


def test_same_seed_same_bytes(generated: Path, tmp_path: Path) -> None:
    generate_deepfashion(tmp_path, 12, 4, 4, seed=3, size=SIZE, benchmarks=("fld", "inshop"))
    assert tree_digest(tmp_path / "fld") == tree_digest(generated / "fld")
    assert tree_digest(tmp_path / "inshop") == tree_digest(generated / "inshop")
    generate_deepfashion(tmp_path / "other", 12, 4, 4, seed=4, size=SIZE, benchmarks=("fld",))
    assert tree_digest(tmp_path / "other" / "fld") != tree_digest(generated / "fld")


def test_categories_are_the_50_mapped_onto_the_13_shapes(generated: Path) -> None:
    assert len(CATEGORIES) == 50 and len(EMPTY_CATEGORIES) == 4
    shape_types = {1: range(1, 7), 2: range(7, 10), 3: range(10, 14)}
    lengths = collections.defaultdict(list)
    for c in CATEGORIES:
        assert c.template in shape_types[c.clothes_type], c.name
        lengths[c.template].append(c.length)
    # an image is scaled to its garment: categories of one shape differ in proportions
    assert all(len(set(ls)) == len(ls) for ls in lengths.values())
    assert sorted(lengths) == list(range(1, 14))
    data = load_deepfashion(generated / "category")
    assert isinstance(data, CategoryAttributeData)
    assert [c.name for c in data.categories] == [c.name for c in CATEGORIES]
    assert not {data.category(im).name for im in data.images} & EMPTY_CATEGORIES


def test_longer_categories_draw_longer_garments() -> None:
    rng = np.random.default_rng(0)
    heights = []
    for name in ("Capris", "Jeans", "Leggings"):  # one shape, lengths 0.72 / 1.0 / 1.3
        label = next(k for k, c in enumerate(CATEGORIES, 1) if c.name == name)
        shot = render_view(random_item(rng, label), View(crop=False), SIZE, rng)
        x1, y1, x2, y2 = shot.bbox
        heights.append((y2 - y1) / (x2 - x1))
    assert heights == sorted(heights) and heights[-1] > 1.5 * heights[0]


def test_landmark_slots_follow_the_clothes_type(generated: Path) -> None:
    data = load_deepfashion(generated / "category")
    assert isinstance(data, CategoryAttributeData)
    seen = collections.Counter()
    for im in data.images:
        lm = im.landmarks
        assert lm.clothes_type == data.category(im).clothes_type
        assert np.flatnonzero(lm.present).tolist() == list(LANDMARK_SLOTS[lm.clothes_type])
        x1, y1, x2, y2 = im.bbox
        for slot in np.flatnonzero(lm.present):
            seen[int(lm.visibility[slot])] += 1
            x, y = lm.xy[slot]
            if lm.visibility[slot] == 2:  # cut off: not in the image, written 0 0
                assert (x, y) == (0, 0)
            else:  # on the garment, so inside its box
                assert x1 - 1 <= x <= x2 and y1 - 1 <= y <= y2
    assert seen[0] > seen[1] > 0  # mostly visible, some occluded


def _inner_point(item: Item, view: View, size: int) -> tuple[int, int]:
    """A pixel well inside the drawn garment."""
    outline = Polygon(TEMPLATES[item.category.template].outline).buffer(-0.08)
    p = outline.representative_point()
    x, y = apply_h(_garment_matrix(item, view, size), np.array([[p.x, p.y]]))[0]
    return int(x), int(y)


def _plain(item: Item, **appearance: object) -> Item:
    return replace(item, appearance=replace(item.appearance, **appearance), parts=frozenset())


def test_colour_attributes_are_the_drawn_colour() -> None:
    rng = np.random.default_rng(1)
    view = View(fill=0.8, crop=False)
    agree = 0
    for _ in range(60):
        item = _plain(random_item(rng), pattern="solid", fabric="cotton")
        image = np.asarray(render_view(item, view, SIZE, rng).image)
        x, y = _inner_point(item, view, SIZE)
        drawn = tuple(int(c) for c in np.median(image[y - 2 : y + 3, x - 2 : x + 3], (0, 1)))
        labels = dict(zip((n for n, _ in ATTRIBUTES), item_attributes(item), strict=True))
        agree += labels[colour_family(drawn)] == 1  # type: ignore[arg-type]
    assert agree >= 57  # folds darken the colour: a base near a bin edge may read as its neighbour


def test_stripe_direction_attributes_are_the_drawn_direction() -> None:
    rng = np.random.default_rng(2)
    view = View(fill=0.9, crop=False)
    names = [n for n, _ in ATTRIBUTES]
    agree = 0
    for _ in range(30):
        item = _plain(random_item(rng), pattern="stripes", fabric="cotton", period=0.12)
        grey = np.asarray(render_view(item, view, 256, rng).image).astype(float).mean(2)
        x, y = _inner_point(item, view, 256)
        patch = grey[y - 8 : y + 9, x - 8 : x + 9]
        across_x = np.abs(np.diff(patch, axis=1)).mean()
        across_y = np.abs(np.diff(patch, axis=0)).mean()
        drawn = (
            "vertical"
            if across_x > 2 * across_y
            else ("horizontal" if across_y > 2 * across_x else "diagonal")
        )
        labels = item_attributes(item)
        agree += labels[names.index(f"{drawn}-stripe")] == 1
    assert agree >= 28


def test_each_fabric_draws_its_weave() -> None:
    rng = np.random.default_rng(7)
    jeans = next(k for k, c in enumerate(CATEGORIES, 1) if c.name == "Jeans")
    view = View(fill=0.9, crop=False)
    names = [n for n, _ in ATTRIBUTES]
    textures = {}
    for fabric in FABRICS:
        item = _plain(random_item(rng, jeans), pattern="solid", fabric=fabric, base=(150, 120, 90))
        grey = np.asarray(render_view(item, view, 256, rng).image).astype(float).mean(2)
        x, y = _inner_point(item, view, 256)
        patch = grey[y - 8 : y + 9, x - 8 : x + 9]
        across_x = np.abs(np.diff(patch, axis=1)).mean()
        across_y = np.abs(np.diff(patch, axis=0)).mean()
        labels = item_attributes(item)
        assert labels[names.index(fabric)] == 1
        ribbed = labels[names.index("ribbed")] == 1
        assert (across_x > 5 and across_x > 10 * across_y) == ribbed, fabric  # vertical ribs
        textures[fabric] = (across_x > 3, across_y > 3)
    assert textures["denim"] == textures["lace"] == (True, True)  # diagonal twill, a mesh
    assert textures["cotton"] == textures["leather"] == textures["satin"] == (False, False)


def test_front_only_details_are_unknown_in_a_back_view() -> None:
    rng = np.random.default_rng(3)
    dress = next(k for k, c in enumerate(CATEGORIES, 1) if c.name == "Dress")
    with_buttons = replace(random_item(rng, dress), parts=frozenset({"buttons"}))
    without = replace(with_buttons, parts=frozenset())
    buttons = [n for n, _ in ATTRIBUTES].index("buttons")

    def pixels(item: Item, back: bool) -> np.ndarray:
        view = View(back=back, crop=False)
        return np.asarray(render_view(item, view, SIZE, np.random.default_rng(0)).image)

    assert (pixels(with_buttons, False) != pixels(without, False)).any()  # drawn on the front
    assert (pixels(with_buttons, True) == pixels(without, True)).all()  # not on the back
    assert item_attributes(with_buttons)[buttons] == 1
    assert item_attributes(without)[buttons] == -1
    assert item_attributes(with_buttons, back_view=True)[buttons] == 0


def test_a_part_the_image_cuts_off_is_unknown() -> None:
    rng = np.random.default_rng(6)
    skirt = next(k for k, c in enumerate(CATEGORIES, 1) if c.name == "Skirt")
    item = replace(random_item(rng, skirt), parts=frozenset({"trim"}))
    trim = [n for n, _ in ATTRIBUTES].index("trim")
    whole = render_view(item, View(), SIZE, rng)
    cut = render_view(item, View(cut=0.4, cut_side=0, fill=0.9), SIZE, rng)  # hem below the image
    assert (cut.landmarks.visibility[6:] == 2).all() and (whole.landmarks.visibility[6:] == 0).all()
    assert image_attributes(item, False, whole.landmarks)[trim] == 1
    assert image_attributes(item, False, cut.landmarks)[trim] == 0


def test_left_and_right_follow_the_garment_not_the_image() -> None:
    rng = np.random.default_rng(4)
    dress = next(k for k, c in enumerate(CATEGORIES, 1) if c.name == "Dress")
    item = random_item(rng, dress)
    front = render_view(item, View(crop=False), SIZE, rng).landmarks
    back = render_view(item, View(back=True, crop=False), SIZE, rng).landmarks
    assert (front.visibility == VISIBLE).all() and (back.visibility == VISIBLE).all()
    for left, right in ((0, 1), (2, 3), (4, 5), (6, 7)):
        assert front.xy[left, 0] < front.xy[right, 0]  # the template's left is image left
        assert back.xy[left, 0] > back.xy[right, 0]  # seen from behind it is image right
    collar, waist, hem = front.xy[[0, 4, 6], 1]
    assert collar < waist < hem


def test_attributes_per_item_and_per_view(generated: Path) -> None:
    data = load_deepfashion(generated / "category")
    assert isinstance(data, CategoryAttributeData)
    assert len(data.attributes) == len(ATTRIBUTES) >= 50
    assert {a.type for a in data.attributes} == {1, 2, 3, 4, 5}
    # unknown in a back view (front details) or where the image cuts the part off
    view_dependent = {"round-neck", "pocket", "buttons", "collar", "strap", "sleeveless"}
    view_dependent |= {"short-sleeve", "long-sleeve", "belt", "waistband", "trim"}
    by_product = collections.defaultdict(list)
    for im in data.images:
        by_product[im.name.rsplit("/", 1)[0]].append(im.attributes)
    assert max(len(v) for v in by_product.values()) > 1
    for labels in by_product.values():  # views of one product: equal where both are known
        for other in labels[1:]:
            differ = (labels[0] != other) & (labels[0] != 0) & (other != 0)
            assert not differ.any()
            unknown_in_one = {data.attributes[k].name for k in np.flatnonzero(labels[0] != other)}
            assert unknown_in_one <= view_dependent
    # In-shop: the description's colour is the item's colour attribute
    inshop = load_deepfashion(generated / "inshop")
    assert isinstance(inshop, InShopData) and inshop.descriptions and inshop.item_attributes
    names = [a.name for a in inshop.attributes or []]
    for item, description in inshop.descriptions.items():
        assert inshop.item_attributes[item][names.index(description.color.lower())] == 1
    labels = read_attribute_labels(
        generated / "inshop/Anno/attributes/list_attr_items.txt", items=True
    )
    assert set(labels) == set(inshop.items)


def test_no_attribute_is_constant_and_unknown_only_where_it_does_not_apply() -> None:
    rng = np.random.default_rng(5)
    items = [random_item(rng) for _ in range(400)]
    labels = np.array([item_attributes(item) for item in items])
    assert (labels == 1).any(0).all() and (labels == -1).any(0).all()
    names = np.array([n for n, _ in ATTRIBUTES])
    not_applicable = {
        1: {"a-line", "straight", "belt"},
        2: {
            "sleeveless",
            "short-sleeve",
            "long-sleeve",
            "collar",
            "strap",
            "round-neck",
            "buttons",
        },
        3: set(),
    }
    for item, row in zip(items, labels, strict=True):
        kind = item_facts(item).clothes_type
        assert set(names[row == 0]) == not_applicable[kind]
        assert not item.parts & not_applicable[kind]  # nothing is drawn that is not labelled


def test_pose_and_variation_types_are_measured(generated: Path) -> None:
    inshop = load_deepfashion(generated / "inshop")
    assert isinstance(inshop, InShopData)
    pose_of_view = {"front": 1, "side": 2, "back": 3, "full": 4, "zoom": 5, "flat": 6}
    for im in inshop.images:
        view = im.name.rsplit("_", 1)[1].removesuffix(".jpg")
        assert im.pose_type == pose_of_view[view], im.name
    zoomed = 0
    for benchmark in ("category", "fld"):
        data = load_deepfashion(generated / benchmark)
        for im in data.images:  # type: ignore[union-attr]
            x1, y1, x2, y2 = im.bbox
            w, h = _image_size(data.image_path(im.name))
            if im.landmarks.variation_type in (4, 5):  # zoomed in: the image cuts the garment
                assert x1 == 0 or y1 == 0 or x2 == w or y2 == h, im.name
                zoomed += 1
    assert zoomed >= 4


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_shop_views_are_clean_and_consumer_views_occluded(generated: Path) -> None:
    data = load_deepfashion(generated / "consumer2shop")
    assert isinstance(data, ConsumerToShopData)
    shop = [im for im in data.images.values() if im.source == "shop"]
    consumer = [im for im in data.images.values() if im.source == "consumer"]
    assert all((im.landmarks.visibility[im.landmarks.present] == VISIBLE).all() for im in shop)  # type: ignore[union-attr]
    assert any((im.landmarks.visibility == 1).any() for im in consumer)  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_200_image_set_takes_seconds(tmp_path: Path) -> None:
    start = time.perf_counter()
    images = generate_deepfashion(tmp_path, train=40, val=5, test=5, seed=1)
    took = time.perf_counter() - start
    assert sum(images.values()) >= 200
    assert took < 20.0  # ~2 s on an idle core


# ----------------------------------------------------------------------------- signatures


def _label(name: str) -> int:
    return next(k for k, c in enumerate(CATEGORIES, 1) if c.name == name)


def test_every_category_has_a_signature_of_the_vocabulary_and_its_clothes_type() -> None:
    assert set(SIGNATURES) == {c.name for c in CATEGORIES}
    for c in CATEGORIES:
        sig = SIGNATURES[c.name]
        assert sig.fabric in (None, *FABRICS) and sig.pattern in (None, *PATTERNS), c.name
        assert sig.parts is None or sig.parts <= _PARTS_OF[c.clothes_type], c.name
    assert SIGNATURES["Jeans"].fabric == "denim" and SIGNATURES["Flannel"].pattern == "checks"
    assert SIGNATURES["Cardigan"].fabric == "knit" and "buttons" in SIGNATURES["Cardigan"].parts
    by_template = collections.defaultdict(list)
    for c in CATEGORIES:
        if c.name not in EMPTY_CATEGORIES:
            by_template[c.template].append(SIGNATURES[c.name])
    for template, sigs in by_template.items():  # never only the length tells two apart
        assert len(set(sigs)) == len(sigs), template


def test_a_category_signature_holds_with_its_probability() -> None:
    rng = np.random.default_rng(8)
    jeans = [random_item(rng, _label("Jeans")) for _ in range(300)]
    p = SIGNATURE_P
    denim = np.mean([it.appearance.fabric == "denim" for it in jeans])
    solid = np.mean([it.appearance.pattern == "solid" for it in jeans])
    pocket_belt = np.mean([it.parts == {"pocket", "belt"} for it in jeans])
    assert abs(denim - (p + (1 - p) / len(FABRICS))) < 0.07
    assert abs(solid - (p + (1 - p) / len(PATTERNS))) < 0.07
    assert abs(pocket_belt - (p + (1 - p) * 0.35 * 0.35 * 0.65)) < 0.07  # else 0.35 each
    plain = [random_item(rng, _label("Jeans"), signatures=0.0) for _ in range(300)]
    assert np.mean([it.appearance.fabric == "denim" for it in plain]) < 0.25  # 1 / 7 at random


def test_categories_of_one_template_differ_by_more_than_their_length() -> None:
    """Over 200 items each, two categories of one template always differ in the distribution of
    the fabric, the pattern or the set of details (total variation >= 0.5)."""
    rng = np.random.default_rng(9)
    by_template = collections.defaultdict(list)
    for label, c in enumerate(CATEGORIES, 1):
        if c.name not in EMPTY_CATEGORIES:
            by_template[c.template].append(label)

    def shares(label: int) -> list[collections.Counter]:
        items = [random_item(rng, label) for _ in range(200)]
        looks = [(it.appearance.fabric, it.appearance.pattern, it.parts) for it in items]
        return [collections.Counter(look[k] for look in looks) for k in range(3)]

    def variation(a: collections.Counter, b: collections.Counter) -> float:
        return sum(abs(a[v] - b[v]) for v in a.keys() | b.keys()) / 400

    pairs = 0
    for labels in by_template.values():
        stats = {label: shares(label) for label in labels}
        for a, b in itertools.combinations(labels, 2):
            assert max(map(variation, stats[a], stats[b])) >= 0.5, (a, b)
            pairs += 1
    assert pairs >= 60  # 8 categories on template 4, 9 on template 8, ...


# ----------------------------------------------------------------------------- described labels


def _title_word(word: str) -> str:
    return _PART_TITLE.get(word) or "-".join(p.capitalize() for p in word.split("-"))


def test_a_description_mentions_a_few_drawn_attributes_and_titles_say_them() -> None:
    rng = np.random.default_rng(10)
    names = np.array([n for n, _ in ATTRIBUTES])
    counts = []
    for _ in range(400):
        item = random_item(rng)
        said = mentions(item)
        drawn = item_attributes(item)
        described = item_attributes(item, labels="described")
        assert set(said) <= set(names[drawn == 1])  # a description says what is drawn
        assert set(names[described == 1]) == set(said)
        assert ((described == 0) == (drawn == 0)).all()  # unknown stays unknown
        facts = item_facts(item)
        assert facts.colour in said and facts.fabric in said
        counts.append(len(said))
        title = _title(item).split("_")  # the mentions, then the category
        assert title[-1] == item.category.name
        assert sorted(title[:-1]) == sorted(_title_word(w) for w in said)
        text = _description(item, "id")["description"][0]
        assert all(_PART_PHRASE.get(w, w) in text for w in said), text
    assert 3 <= min(counts) and max(counts) <= MAX_MENTIONS and 3.5 < np.mean(counts) < 5


def test_described_labels_are_the_drawn_ones_a_description_mentions(
    generated: Path, tmp_path: Path
) -> None:
    generate_deepfashion(
        tmp_path, 12, 4, 4, seed=3, size=SIZE, benchmarks=("category", "inshop"),
        attribute_labels="drawn",
    )  # fmt: skip
    assert ATTRIBUTE_LABELS == ("described", "drawn")
    for benchmark in ("category", "inshop"):  # the labels' mode changes no image
        assert tree_digest(tmp_path / benchmark / "Img") == tree_digest(
            generated / benchmark / "Img"
        )
    described = load_deepfashion(generated / "category")
    drawn = load_deepfashion(tmp_path / "category")
    assert isinstance(described, CategoryAttributeData) and isinstance(drawn, CategoryAttributeData)
    sums = collections.Counter()
    for a, b in zip(described.images, drawn.images, strict=True):
        assert a.name == b.name
        said, seen = a.attributes == 1, b.attributes == 1
        assert 1 <= said.sum() <= 6 and not (said & ~seen).any()
        assert ((a.attributes == 0) == (b.attributes == 0)).all()
        sums["described"] += int(said.sum())
        sums["drawn"] += int(seen.sum())
    assert sums["drawn"] > 1.8 * sums["described"]
    # drawn: the labels of what is drawn, as before descriptions; In-shop's items rebuilt
    inshop = {mode: load_deepfashion(root / "inshop") for mode, root in
              (("described", generated), ("drawn", tmp_path))}  # fmt: skip
    for item_id in inshop["drawn"].items:  # type: ignore[union-attr]
        item = random_item(_rng(3, "inshop", int(item_id.removeprefix("id_"))))
        for mode in ATTRIBUTE_LABELS:
            labels = inshop[mode].item_attributes[item_id]  # type: ignore[union-attr,index]
            np.testing.assert_array_equal(labels, item_attributes(item, labels=mode))
    with pytest.raises(ValueError, match="attribute labels"):
        generate_deepfashion(tmp_path / "x", 1, 0, 0, seed=0, attribute_labels="seen")
