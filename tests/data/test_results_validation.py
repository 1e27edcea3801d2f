"""`validate_result_rows`, the one (vectorised) check of COCO results rows: messages name the file
and ``[row].field``, the first problems are reported in row order, and on randomly broken rows it
flags exactly the rows a plain per-row check flags."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fashionvision.categories import NUM_LANDMARKS
from fashionvision.data import coco_format
from fashionvision.data.coco_format import load_coco_results, validate_result_rows
from fashionvision.errors import AnnotationError
from fashionvision.evaluation.coco_eval import validate_results
from fashionvision.io_utils import write_json

K = 3 * NUM_LANDMARKS
RLE = {"size": [4, 3], "counts": "<rle>"}
BOX = "expected [x, y, w, h] with w, h >= 0"
KPS = "expected 882 numbers (294 x 3)"
SEG = "expected an RLE {size, counts} or polygons"


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "image_id": 1, "category_id": 1, "score": 0.5, "bbox": [0, 0, 2.5, 3],
        "keypoints": [0.0] * K, "segmentation": RLE,
    }  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()


def problems(rows: Any, **kwargs: Any) -> list[tuple[str, str]]:
    try:
        validate_result_rows(rows, "res.json", **kwargs)
    except AnnotationError as exc:
        assert all(p.path == "res.json" for p in exc.problems)
        return [(p.field, p.message) for p in exc.problems]
    return []


def test_valid_rows_of_every_shape_pass() -> None:
    rows = [
        row(),
        row(bbox=(1, 2, 3, 4), keypoints=tuple(range(K)), segmentation=[[1, 2, 3, 4, 5, 6]]),
        row(score=np.float32(0.25), bbox=[np.float64(1), 2, 3, 4], segmentation=DROP),
        row(keypoints=[1e308] * K),  # finite, although their sum overflows
        row(keypoints=[2**62] * K, bbox=DROP),
    ]
    assert problems(rows) == []


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [({"image_id": "1"}, "image_id", "missing or not an integer"),
     ({"image_id": True}, "image_id", "missing or not an integer"),
     ({"category_id": DROP}, "category_id", "missing or not an integer"),
     ({"score": float("nan")}, "score", "missing or not a finite number"),
     ({"score": "0.5"}, "score", "missing or not a finite number"),
     ({"score": 10**400}, "score", "missing or not a finite number"),
     ({"bbox": [1, 2, 3]}, "bbox", f"{BOX}, got 3 values"),
     ({"bbox": [1, 2, -3, 4]}, "bbox", BOX),
     ({"bbox": None}, "bbox", f"{BOX}, got null"),
     ({"keypoints": [0.0] * (K - 3)}, "keypoints", f"{KPS}, got 879 values"),
     ({"keypoints": [0.0] * 5 + [True] + [0.0] * (K - 6)}, "keypoints",
      f"{KPS}, element 5 is True"),
     ({"keypoints": [0.0] * 7 + ["1.5"] + [0.0] * (K - 8)}, "keypoints",
      f"{KPS}, element 7 is '1.5'"),
     ({"keypoints": [0.0] * (K - 1) + [float("inf")]}, "keypoints",
      f"{KPS}, element 881 is inf"),
     ({"keypoints": [10**400] + [0.0] * (K - 1)}, "keypoints",
      f"{KPS}, element 0 is 1000000000000000000000000000000000000..."),
     ({"keypoints": [None] * K}, "keypoints", f"{KPS}, element 0 is None"),
     ({"segmentation": {"size": [4, 3]}}, "segmentation", SEG),
     ({"segmentation": []}, "segmentation", SEG),
     ({"segmentation": [[1, "2"]]}, "segmentation", SEG)],
)  # fmt: skip
def test_each_rule_names_row_and_field(overrides: dict[str, Any], field: str, message: str) -> None:
    assert problems([row(), row(**overrides)]) == [(f"[1].{field}", message)]


def test_rows_that_are_not_objects_or_hold_no_result() -> None:
    assert problems([row(), [1, 2], row(bbox=DROP, keypoints=DROP, segmentation=DROP)]) == [
        ("[1]", "expected an object"),
        ("[2]", "needs one of bbox, segmentation, keypoints"),
    ]
    assert problems({"not": "a list"}) == [("", "expected a JSON list of detections")]


def test_first_problems_in_row_order_then_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coco_format, "_CHUNK_ROWS", 7)  # many chunks, problems in several
    rows = [row() for _ in range(100)]
    for i in (3, 40, 41, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77):
        rows[i] = row(keypoints=[0.0] * 3, score=None)
    rows[2] = row(category_id=None, bbox=[1])
    found = problems(rows)
    assert len(found) == 20
    assert found[:4] == [
        ("[2].category_id", "missing or not an integer"),
        ("[2].bbox", "expected [x, y, w, h] with w, h >= 0, got 1 values"),
        ("[3].score", "missing or not a finite number"),
        ("[3].keypoints", "expected 882 numbers (294 x 3), got 3 values"),
    ]
    assert found[-1][0] == "[65].keypoints"  # rows 2, 3, 40, 41, 60..65: two problems each
    assert len(problems(rows, limit=1000)) == 2 + 2 * 21


def test_against_a_ground_truth() -> None:
    sizes = {1: (4, 3), 2: None}
    kwargs = {"image_sizes": sizes, "category_ids": {1, 2}, "required": "segmentation"}
    rows = [
        row(image_id=2, segmentation={"size": [9, 9], "counts": ""}),  # size unknown: fine
        row(image_id=7),
        row(category_id=3),
        row(segmentation={"size": [3, 4], "counts": ""}),
        row(segmentation=DROP, bbox=DROP),
    ]
    assert problems(rows, **kwargs) == [
        ("[1].image_id", "unknown image id 7"),
        ("[2].category_id", "unknown category 3"),
        ("[3].segmentation", "RLE size [3, 4] (height, width) differs from the image's [4, 3]"),
        ("[4].segmentation", "missing"),
    ]  # fmt: skip
    assert problems([row(bbox=DROP)], required="bbox") == [("[0].bbox", "missing")]


def test_both_call_sites_share_the_check(tmp_path: Path) -> None:
    path = tmp_path / "res.json"
    write_json(path, [row(), row(keypoints=[1.0])])
    with pytest.raises(AnnotationError, match=r"res.json: \[1\]\.keypoints: expected 882"):
        load_coco_results(path)
    gt = {"images": [{"id": 1, "width": 3, "height": 4}], "categories": [{"id": 1}]}
    with pytest.raises(AnnotationError, match=r"<x>: results\[1\]\.keypoints: expected 882"):
        validate_results([row(), row(keypoints=[1.0])], gt, "landmarks", "<x>")
    validate_results([row(bbox=DROP, keypoints=DROP)], gt, "segm", "<x>")  # official segm rows


# --- randomised comparison with a plain per-row check -----------------------------------------


def _number(v: Any) -> bool:
    if type(v) not in (int, float, np.float32, np.float64):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _reference(r: Any, required: str | None) -> set[str]:
    """The fields of one row that are wrong, checked the obvious way."""
    if not isinstance(r, dict):
        return {""}
    bad = {k for k in ("image_id", "category_id") if type(r.get(k)) is not int}
    if not _number(r.get("score")):
        bad.add("score")
    for key, length in (("bbox", 4), ("keypoints", K)):
        if key in r or key == required:
            v = r.get(key)
            if not (isinstance(v, list | tuple) and len(v) == length and all(map(_number, v))):
                bad.add(key)
            elif key == "bbox" and (v[2] < 0 or v[3] < 0):
                bad.add(key)
    if "segmentation" in r or required == "segmentation":
        s = r.get("segmentation")
        ok = (isinstance(s, dict) and "counts" in s and s.get("size") == [4, 3]) or (
            isinstance(s, list) and s and all(isinstance(p, list) and p and all(map(_number, p))
                                              for p in s))  # fmt: skip
        if not ok:
            bad.add("segmentation")
    if required is None and not {"bbox", "keypoints", "segmentation"} & r.keys():
        bad.add("")
    return bad


BREAKAGES: list[Any] = [
    None,
    True,
    "1",
    float("nan"),
    float("-inf"),
    10**400,
    [],
    [1],
    {},
    2.5,
    -1,
    0,
]


def _broken(rng: random.Random) -> Any:
    r = row()
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(["image_id", "category_id", "score", "bbox", "keypoints", "segmentation"])
        action = rng.random()
        if action < 0.2:
            r.pop(key, None)
        elif key in ("bbox", "keypoints") and action < 0.7 and isinstance(r.get(key), list):
            cells = list(r[key])
            if rng.random() < 0.3 or not cells:
                cells = cells[: rng.randint(0, len(cells))]
            else:
                cells[rng.randrange(len(cells))] = rng.choice(BREAKAGES)
            r[key] = cells
        else:
            r[key] = rng.choice(BREAKAGES)
    return r if rng.random() > 0.03 else rng.choice(BREAKAGES)


@pytest.mark.parametrize("required", [None, "bbox", "segmentation", "keypoints"])
def test_flags_exactly_what_a_per_row_check_flags(
    required: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coco_format, "_CHUNK_ROWS", 16)
    rng = random.Random(str(required))
    rows = [_broken(rng) if rng.random() < 0.4 else row() for _ in range(400)]
    expected = sorted((i, f) for i, r in enumerate(rows) for f in _reference(r, required))
    got = problems(rows, limit=10**6, required=required, image_sizes={1: (4, 3)}, category_ids={1})
    got_fields = sorted(
        (int(name[1:].split("]")[0]), name.split("]")[1].lstrip(".")) for name, _ in got
    )
    # unknown ids: the reference only checks types; ids and categories other than 1 are unknown
    expected_ids = sorted(set(expected) | {
        (i, k) for i, r in enumerate(rows) if isinstance(r, dict)
        for k in ("image_id", "category_id") if type(r.get(k)) is int and r[k] != 1
    })  # fmt: skip
    assert len(expected_ids) > 150 and got_fields == expected_ids
