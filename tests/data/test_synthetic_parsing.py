"""The synthetic iMaterialist / Fashionpedia data: files the readers, the converter and the metric
accept, masks that are the painted pixels, parts inside their garments, and attributes that are
what the image draws."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest
from PIL import Image
from pycocotools import mask as mask_utils

from fashionvision import cli
from fashionvision.data.fashionpedia import load_fashionpedia, mask_rle
from fashionvision.data.imaterialist import read_imaterialist_csv
from fashionvision.data.rle import decode_kaggle_rle, parse_kaggle_rle
from fashionvision.data.synthetic import Appearance, Scene, render
from fashionvision.data.synthetic_parsing import (
    ATTRIBUTE_TABLE,
    CATEGORY_TABLE,
    GARMENTS,
    PARTS,
    Instance,
    Piece,
    View,
    annotation_file,
    compose_scene,
    generate_fashionpedia,
    generate_imaterialist,
    label_map,
    label_scene,
    mask_polygons,
    random_scene,
    synth_image,
)
from fashionvision.evaluation.fashionpedia_eval import evaluate_fashionpedia

SIZE = 128
RED, BLUE = (200, 40, 40), (40, 40, 200)


@pytest.fixture(scope="module")
def imat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("imat")
    return out, generate_imaterialist(out, 24, seed=3, size=SIZE)


@pytest.fixture(scope="module")
def fp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("fp")
    return out, generate_fashionpedia(out, 16, 6, seed=3, size=SIZE)


def _instances(n: int, seed: int = 0, size: int = SIZE) -> list[list[Instance]]:
    return [synth_image(seed, 0, k, size)[1] for k in range(n)]


# ----------------------------------------------------------------------------- label table


def test_label_table_is_small_ours_and_every_label_is_used() -> None:
    assert len(GARMENTS) == 8 and PARTS == ("sleeve", "neckline", "collar", "pocket")
    assert len(ATTRIBUTE_TABLE) == 22
    assert len({sup for _, sup in ATTRIBUTE_TABLE}) == 7
    categories, attributes = Counter(), Counter()
    for instances in _instances(150):
        for inst in instances:
            categories[inst.category] += 1
            attributes.update(inst.attributes)
    assert set(categories) == {name for name, _ in CATEGORY_TABLE}
    assert set(attributes) == {name for name, _ in ATTRIBUTE_TABLE}
    # garments about equally frequent (within a factor of ~3)
    counts = [categories[name] for name in GARMENTS]
    assert max(counts) <= 3.5 * min(counts), categories


# ----------------------------------------------------------------------------- iMaterialist


def test_imaterialist_files_read_back_strictly(imat: tuple[Path, dict]) -> None:
    out, written = imat
    report = read_imaterialist_csv(
        out / "train.csv", out / "label_descriptions.json", out / "train", strict=True
    )
    assert report.problems == [] and len(report.images) == written["images"] == 24
    assert report.rows == written["rows"] == sum(written["categories"].values())
    assert report.labels.year == 2019 and report.labels.attribute_ids_contiguous
    table = json.loads((out / "label_descriptions.json").read_text())
    assert list(table) == ["info", "categories", "attributes"]
    assert table["categories"][0] == {
        "id": 0, "name": "shirt, blouse", "supercategory": "upperbody", "level": 2,
    }  # fmt: skip
    assert {a["level"] for a in table["attributes"]} == {1}
    # every image file is named by its ImageId (2019 ids carry .jpg) and has the CSV's size
    names = {img.file_name for img in report.images}
    assert names == {p.name for p in (out / "train").iterdir()}
    assert all(n.endswith(".jpg") and len(n) == 36 for n in names)


def test_imaterialist_rows_are_the_drawn_instances(imat: tuple[Path, dict]) -> None:
    out, _ = imat
    with open(out / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    first = [r for r in rows if r["ImageId"] == rows[0]["ImageId"]]
    _, instances = synth_image(3, 0, 0, SIZE)
    assert len(first) == len(instances)
    for row, inst in zip(first, instances, strict=True):
        category, *attributes = (int(v) for v in row["ClassId"].split("_"))
        assert (category, tuple(attributes)) == (inst.category_id, inst.attribute_ids)
        runs = parse_kaggle_rle(row["EncodedPixels"], SIZE, SIZE)
        assert np.array_equal(decode_kaggle_rle(runs, SIZE, SIZE), inst.mask)
    # parts carry attributes only where they have some (collars none)
    collars = [r["ClassId"] for r in rows if r["ClassId"].split("_")[0] == "10"]
    assert collars and set(collars) == {"10"}


def test_the_converter_turns_it_into_fashionpedia_coco(imat: tuple[Path, dict], tmp_path) -> None:
    out, written = imat
    coco = tmp_path / "train_coco.json"
    argv = ["convert", "imaterialist", str(out / "train.csv"), str(coco)]
    argv += ["--labels", str(out / "label_descriptions.json"), "--images", str(out / "train")]
    assert cli.main(argv) == 0
    data = load_fashionpedia(coco)
    assert len(data.images) == 24
    assert sum(len(i.segments) for i in data.images) == written["rows"]
    assert data.labels.category_name(8) == "sleeve"


# ----------------------------------------------------------------------------- Fashionpedia


def test_fashionpedia_files_load_with_both_mask_styles(fp: tuple[Path, dict]) -> None:
    out, written = fp
    styles: Counter[str] = Counter()
    for split, n in (("train", 16), ("val", 6)):
        data = load_fashionpedia(out / annotation_file(split))
        assert len(data.images) == written[split]["images"] == n
        assert [c.name for c in data.labels.categories.values()][-4:] == list(PARTS)
        for img in data.images:
            with Image.open(out / split / img.file_name) as im:
                assert im.size == (img.width, img.height) == (SIZE, SIZE)
            for seg in img.segments:
                if isinstance(seg.segmentation, dict):
                    styles["rle"] += 1
                else:
                    styles["polygons"] += 1
                    for poly in seg.segmentation:  # open rings of whole pixels, as the real ones
                        assert all(type(v) is int for v in poly) and poly[:2] != poly[-2:]
                assert seg.area == int(seg.area)  # the pixel count
    assert styles["rle"] >= 0.15 * sum(styles.values()) and styles["polygons"] >= styles["rle"]
    raw = json.loads((out / annotation_file("val")).read_text())
    assert {"attribute_ids", "segmentation", "bbox", "area", "iscrowd"} <= set(
        raw["annotations"][0]
    )


def test_ground_truth_as_results_scores_ap_1(fp: tuple[Path, dict]) -> None:
    out, _ = fp
    data = load_fashionpedia(out / annotation_file("train"))
    rows = []
    for img in data.images:
        for seg in img.segments:
            rle = mask_rle(seg.segmentation, img.height, img.width)
            rle = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            rows.append(
                {
                    "image_id": img.image_id,
                    "category_id": seg.category_id,
                    "score": 1.0,
                    "segmentation": rle,
                    "attribute_ids": list(seg.attribute_ids),
                }
            )
    result = evaluate_fashionpedia(data, rows)
    assert result["iou+f1"]["AP"] == pytest.approx(1.0)
    assert result["iou"]["AP"] == pytest.approx(1.0)
    assert result["AP_grid"] == pytest.approx(1.0)
    assert 10 not in result["attribute_categories"]  # collars carry no attribute
    # dropping the attributes costs AP where the metric needs them
    bare = [{**r, "attribute_ids": []} for r in rows]
    assert evaluate_fashionpedia(data, bare)["iou+f1"]["AP"] < 0.5


def test_both_mask_styles_decode_to_the_painted_pixels(fp: tuple[Path, dict]) -> None:
    out, _ = fp
    data = load_fashionpedia(out / annotation_file("train"))
    for k, img in enumerate(data.images):
        instances = synth_image(3, 0, k, SIZE)[1]
        assert len(instances) == len(img.segments)
        for seg, inst in zip(img.segments, instances, strict=True):
            mask = mask_utils.decode(mask_rle(seg.segmentation, SIZE, SIZE)).astype(bool)
            assert np.array_equal(mask, inst.mask), inst.category
            assert seg.area == inst.mask.sum()


def test_mask_polygons_trace_any_mask_exactly() -> None:
    """Holes, diagonal contacts and one-pixel specks included."""
    rng = np.random.default_rng(0)
    for k in range(40):
        mask = rng.random((23, 31)) < rng.uniform(0.1, 0.9)
        if k % 2:  # blobs with holes rather than noise
            mask = np.kron(mask[:12, :16], np.ones((2, 2), dtype=bool))[:23, :31]
        if mask.any():
            rle = mask_utils.merge(mask_utils.frPyObjects(mask_polygons(mask), 23, 31))
            assert np.array_equal(mask_utils.decode(rle).astype(bool), mask)


# ----------------------------------------------------------------------------- masks


def test_label_map_is_exactly_what_render_paints() -> None:
    """A piece's mask is the set of pixels that change when it (with its details) is left out."""
    for k in range(12):
        ps = random_scene(np.random.default_rng([7, k]), SIZE)
        full = np.asarray(render(ps.scene, SIZE))
        ids = label_map(ps, SIZE)
        for i in range(len(ps.pieces)):
            layers = [lay for lay, o in zip(ps.scene.layers, ps.owners, strict=True) if o != i]
            without = Scene(ps.scene.source, ps.scene.background, ps.scene.clutter, layers)
            changed = (np.asarray(render(without, SIZE)) != full).any(-1)
            assert np.array_equal(changed, ids == i + 1)


def test_parts_lie_inside_their_garment_and_garments_do_not_overlap() -> None:
    for instances in _instances(40, seed=1):
        garments = {inst.piece: inst for inst in instances if inst.category in GARMENTS}
        union = np.zeros((SIZE, SIZE), dtype=int)
        for inst in garments.values():
            union += inst.mask
        assert union.max() <= 1
        for inst in instances:
            assert inst.mask.any()
            if inst.category in PARTS:
                assert not (inst.mask & ~garments[inst.piece].mask).any()


# ----------------------------------------------------------------------------- attributes


def _look(pattern: str = "solid", fabric: str = "cotton") -> Appearance:
    return Appearance(RED, BLUE, pattern, 0.1, 0.0, fabric)


def _draw(pieces: list[Piece], view: View | None = None) -> tuple[np.ndarray, list[Instance]]:
    """A frontal, unoccluded view on a clean background unless `view` says otherwise."""
    ps = compose_scene(np.random.default_rng(0), pieces, view or View(), 256)
    return np.asarray(render(ps.scene, 256)), label_scene(ps, 256)


def _summary(instances: list[Instance]) -> list[tuple[str, list[str]]]:
    return [(inst.category, inst.attributes) for inst in instances]


def _share_near(image: np.ndarray, mask: np.ndarray, rgb: tuple[int, int, int]) -> float:
    """Share of the masked pixels nearer `rgb` than the other of RED/BLUE (shading kept)."""
    other = BLUE if rgb == RED else RED
    px = image[mask].astype(float)
    near = np.linalg.norm(px - rgb, axis=1) < np.linalg.norm(px - other, axis=1)
    return float(near.mean())


def test_a_striped_short_sleeve_top_front_view() -> None:
    image, instances = _draw([Piece(1, 1.0, _look("stripes"), pocket="flap")])
    assert _summary(instances) == [
        ("top, t-shirt", ["stripe", "hip (length)", "short (sleeve)"]),
        ("sleeve", ["short (sleeve)"]),
        ("sleeve", ["short (sleeve)"]),
        ("neckline", ["round (neck)"]),
        ("pocket", ["flap (pocket)"]),
    ]
    top = instances[0].mask
    # the stripes are drawn: both colours cover a good share of the garment
    assert 0.25 < _share_near(image, top, BLUE) < 0.75
    # a plain top of the same colours shows almost no accent colour
    image, plain = _draw([Piece(1, 1.0, _look("solid"))])
    assert _share_near(image, plain[0].mask, BLUE) < 0.02
    assert plain[0].attributes[0] == "plain (pattern)"
    # the sleeves are on either side of the neckline
    xs = [np.nonzero(inst.mask)[1].mean() for inst in instances[1:4]]
    assert min(xs[:2]) < xs[2] < max(xs[:2])


def test_a_back_view_hides_the_front_details() -> None:
    piece = Piece(2, 1.0, _look("checks"), buttons=True, pocket="patch")
    _, front = _draw([piece])
    assert _summary(front)[0] == (
        "shirt, blouse",
        ["check", "hip (length)", "wrist-length (sleeve)", "buttoned (opening)"],
    )
    assert [i.category for i in front] == [
        "shirt, blouse",
        "sleeve",
        "sleeve",
        "neckline",
        "pocket",
    ]
    _, back = _draw([piece], View(back=True))
    assert _summary(back) == [
        ("shirt, blouse", ["check", "hip (length)", "wrist-length (sleeve)"]),
        ("sleeve", ["wrist-length (sleeve)"]),
        ("sleeve", ["wrist-length (sleeve)"]),
    ]


def test_buttons_are_drawn_where_labelled() -> None:
    image, instances = _draw([Piece(2, 1.0, _look(), buttons=True)])
    assert "buttoned (opening)" in instances[0].attributes
    contrast = np.array([255 - c for c in RED])
    assert (np.abs(image.astype(int) - contrast).sum(-1) < 30)[instances[0].mask].sum() > 20


def test_lengths_only_when_the_garment_is_whole_in_the_image() -> None:
    dress = Piece(13, 1.25, _look("dots", "lace"), pocket=None)
    _, whole = _draw([dress])
    assert _summary(whole) == [
        ("dress", ["dot", "lace", "maxi (length)", "sleeveless"]),
        ("neckline", ["straight across (neck)"]),
    ]
    _, cut = _draw([dress], View(cut=0.3, cut_side=0))
    assert _summary(cut)[0] == ("dress", ["dot", "lace"])
    _, mini = _draw([Piece(9, 0.8, _look())])
    assert _summary(mini) == [("skirt", ["plain (pattern)", "mini (length)"])]


def test_a_knitted_long_sleeve_top_is_a_sweater_and_a_jacket_is_open() -> None:
    sweater = Piece(2, 0.8, _look(fabric="knit"))
    jacket = Piece(4, 1.0, Appearance(BLUE, RED, "solid", 0.1, 0.0, "leather"))
    _, instances = _draw([sweater, jacket])
    summary = _summary(instances)
    assert summary[0] == (
        "sweater", ["plain (pattern)", "knit", "above-the-hip (length)", "wrist-length (sleeve)"]
    )  # fmt: skip
    jacket_index = [c for c, _ in summary].index("jacket")
    assert summary[jacket_index] == (
        "jacket",
        ["plain (pattern)", "leather", "hip (length)", "wrist-length (sleeve)",
         "open front (opening)"],
    )  # fmt: skip
    assert ("collar", []) in summary[jacket_index:]
    # the sweater shows through the open front, under the jacket's collar
    assert instances[0].mask.sum() > 300


# ----------------------------------------------------------------------------- determinism


def test_same_arguments_same_bytes(tmp_path: Path, imat: tuple[Path, dict]) -> None:
    out, _ = imat
    again = tmp_path / "again"
    generate_imaterialist(again, 24, seed=3, size=SIZE)
    assert tree_digest(again) == tree_digest(out)
    other = tmp_path / "other"
    generate_imaterialist(other, 24, seed=4, size=SIZE)
    assert tree_digest(other) != tree_digest(out)


def test_fashionpedia_is_deterministic_and_shares_the_imaterialist_images(
    tmp_path: Path, fp: tuple[Path, dict], imat: tuple[Path, dict]
) -> None:
    out, _ = fp
    again = tmp_path / "again"
    generate_fashionpedia(again, 16, 6, seed=3, size=SIZE)
    assert tree_digest(again) == tree_digest(out)
    with open(imat[0] / "train.csv", newline="") as f:
        order = list(dict.fromkeys(r["ImageId"] for r in csv.DictReader(f)))
    assert len(order) == 24  # every image has an instance, as in the real file
    for k, name in enumerate(order[:16]):
        assert (imat[0] / "train" / name).read_bytes() == (
            out / "train" / f"{k + 1:012d}.jpg"
        ).read_bytes()


def test_a_hundred_images_take_a_few_seconds(tmp_path: Path) -> None:
    start = time.perf_counter()
    written = generate_imaterialist(tmp_path, 100, seed=0, size=256)
    assert time.perf_counter() - start < 15
    assert written["rows"] > 250


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size >= 64"):
        generate_imaterialist(tmp_path, 1, seed=0, size=32)
    with pytest.raises(ValueError, match="counts must be >= 0"):
        generate_fashionpedia(tmp_path, 1, -1, seed=0)
