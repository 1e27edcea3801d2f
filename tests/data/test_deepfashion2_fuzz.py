"""Fuzzing the annotation reader: any malformed file must raise AnnotationError, nothing else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fashionvision.data.deepfashion2 import read_annotation
from fashionvision.errors import AnnotationError

VALID: dict[str, Any] = {
    "source": "shop",
    "pair_id": 3,
    "item1": {
        "segmentation": [[2, 2, 30, 2, 30, 30, 2, 30], [5.5, 5, 9, 5, 9, 9]],
        "scale": 1,
        "viewpoint": 3,
        "zoom_in": 2,
        "occlusion": 3,
        "landmarks": [v for k in range(10) for v in (3 + k, 4 + k, k % 3)],
        "style": 2,
        "bounding_box": [2, 2, 30.5, 30],
        "category_id": 7,
        "category_name": "shorts",
    },
    "item2": {
        "segmentation": [[1, 1, 20, 1, 20, 20]],
        "scale": 3,
        "viewpoint": 2,
        "zoom_in": 1,
        "occlusion": 1,
        "landmarks": [],
        "style": 0,
        "bounding_box": [1, 1, 20, 20],
        "category_id": 13,
        "category_name": "sling dress",
    },
}

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _containers(obj: Any, out: list[Any]) -> list[Any]:
    """Every dict and list inside `obj`, `obj` included."""
    if isinstance(obj, (dict, list)):
        out.append(obj)
        for child in obj.values() if isinstance(obj, dict) else obj:
            _containers(child, out)
    return out


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    """VALID after 1-4 random edits (delete/replace/add keys, change element values), serialised,
    sometimes truncated."""
    obj = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(_containers(obj, [])))
        op = draw(st.sampled_from(["delete", "replace", "add"]))
        if isinstance(target, dict):
            keys = sorted(target)
            if op == "add" or not keys:
                target[draw(st.sampled_from(["item3", "item5", "x", "style"]))] = draw(json_values)
            elif op == "delete":
                del target[draw(st.sampled_from(keys))]
            else:
                target[draw(st.sampled_from(keys))] = draw(json_values)
        elif target and op != "add":
            index = draw(st.integers(0, len(target) - 1))
            if op == "delete":
                del target[index]
            else:
                target[index] = draw(json_values)
        else:
            target.append(draw(json_values))
    text = json.dumps(obj)
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


def test_valid_base_reads(tmp_path: Path) -> None:
    path = _write_split(tmp_path)
    path.write_text(json.dumps(VALID))
    assert len(read_annotation(path).items) == 2


def _write_split(root: Path) -> Path:
    (root / "annos").mkdir(exist_ok=True)
    (root / "image").mkdir(exist_ok=True)
    image = root / "image" / "000009.jpg"
    if not image.exists():  # tmp_path is shared by all examples of one test
        Image.new("RGB", (40, 40)).save(image)
    return root / "annos" / "000009.json"


@settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=mutated_text())
def test_mutated_files_raise_only_annotation_error(tmp_path: Path, text: str) -> None:
    path = _write_split(tmp_path)
    path.write_text(text)
    try:
        ann = read_annotation(path)
    except AnnotationError as exc:
        assert exc.problems and all(p.path == str(path) for p in exc.problems)
    else:
        # a mutation may keep the file valid (e.g. style 2 -> 0); then it must read back intact
        assert ann.image_id == 9 and ann.items and (ann.width, ann.height) == (40, 40)
