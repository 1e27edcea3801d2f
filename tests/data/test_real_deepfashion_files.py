"""The DeepFashion (v1) readers on real files, and the facts of the real files the project follows.

The files are read from ``../shared/data/real_samples/`` (never copied into the project: the
data is for non-commercial research only); each test skips where its folder is absent.  Every
oddity that the folders' ``SOURCES.md`` list is decided here, each with a test:

=================================================  =========  ==================================
oddity                                             decision   what the reader does (test)
=================================================  =========  ==================================
category list: fixed-width names, ``Button-Down``  accepted   the type is the last cell, the
                                                              name the rest (original_categories)
copy without the count line, space + TAB           strict: error at line 1; lenient: the same
                                                   50 categories (edited_copies)
copy with 46 rows under a count of 50              strict: error naming 50 and 46; lenient:
                                                   the 46 rows, with a warning (edited_copies)
copy with an empty line 1                          strict: error at line 1; lenient: 50 rows
In-shop attribute list: names only, with spaces    accepted   ``typed=False``: the whole line is
                                                              the name, type None (inshop_names)
In-shop attribute list without its count line      strict: error; lenient: the 463 names
description JSON is an array, not rows (README)    accepted   JSON reader (descriptions)
README: full-body order under "upper-body"         accepted   the third list is the full-body
                                                              order = `SLOT_NAMES` (slot_order)
visibility 0 visible (lists) vs 2 (mmpose COCO)    lists' sense: 0/1/2 = visible/occluded/cut
                                                   off (visibility_sense)
=================================================  =========  ==================================
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fashionvision.data.deepfashion import (
    CATEGORY_COLUMNS,
    CUT_OFF,
    LANDMARK_SLOTS,
    OCCLUDED,
    SLOT_NAMES,
    VISIBLE,
    list_text,
    read_attributes,
    read_categories,
    read_descriptions,
)
from fashionvision.data.synthetic_deepfashion import CATEGORIES, EMPTY_CATEGORIES
from fashionvision.errors import AnnotationError

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_samples"
CATEGORY = REAL / "deepfashion_category_attribute"
INSHOP = REAL / "deepfashion_inshop"
FLD = REAL / "deepfashion_landmark_fld"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real samples not available ({path} is absent, e.g. a fresh clone)")
    return path


def _variant(folder: Path, name: str) -> Path:
    return _need(folder / "variants_in_the_wild" / name)


def test_original_category_list(tmp_path: Path) -> None:
    path = _need(CATEGORY / "list_category_cloth.txt")
    categories = read_categories(path)
    assert len(categories) == 50
    assert [sum(c.clothes_type == t for c in categories) for t in (1, 2, 3)] == [20, 16, 14]
    assert categories[0].name == "Anorak"  # label 1
    assert categories[4].name == "Button-Down"
    assert {c.name for c in categories if c.clothes_type == 3} >= EMPTY_CATEGORIES
    # the writer reproduces the original byte for byte (count, column line, 15-wide names)
    rows = [[c.name, str(c.clothes_type)] for c in categories]
    assert list_text(rows, CATEGORY_COLUMNS) == path.read_text()


def test_the_synthetic_categories_are_the_real_ones() -> None:
    real = read_categories(_need(CATEGORY / "list_category_cloth.txt"))
    assert [(c.name, c.clothes_type) for c in CATEGORIES] == [
        (c.name, c.clothes_type) for c in real
    ]


@pytest.mark.parametrize(
    ("variant", "problem", "rows"),
    [
        (
            "list_category_cloth.Wuschelbueb_27debf4.txt",
            "line 1: expected the row count, got 'category_name \\tcategory_type'",
            50,
        ),
        (
            "list_category_cloth.hitman567_f290d98.txt",
            "line 1: row count 50 does not match the 46 rows in the file",
            46,
        ),
        (
            "list_category_cloth.cathyliu0408_7faff94.txt",
            "line 1: expected the row count, got an empty line",
            50,
        ),
    ],
)
def test_edited_copies_fail_strict_and_are_read_lenient(
    variant: str, problem: str, rows: int
) -> None:
    path = _variant(CATEGORY, variant)
    with pytest.raises(AnnotationError) as exc:
        read_categories(path)
    assert str(exc.value) == f"{path}: {problem}"
    with pytest.warns(UserWarning, match="1 problems in 1 files"):
        categories = read_categories(path, strict=False)
    assert len(categories) == rows
    original = read_categories(_need(CATEGORY / "list_category_cloth.txt"))
    if rows == 50:
        assert categories == original
    else:  # the 4 empty categories were deleted, so the later labels no longer line up
        assert [c.name for c in original if c not in categories] == sorted(EMPTY_CATEGORIES)


def test_inshop_attribute_names() -> None:
    path = _need(INSHOP / "Anno" / "attributes" / "list_attr_cloth.txt")
    attributes = read_attributes(path, typed=False)
    names = [a.name for a in attributes]
    assert len(names) == 463 and names[:3] == ["lightweight", "polyester", "woven"]
    assert {"heather grey", "3/4 sleeve", "elasticized drawstring waist"} <= set(names)
    assert {a.type for a in attributes} == {None}
    with pytest.raises(AnnotationError, match=r"line 3, column 2 \(attribute_type\): missing"):
        read_attributes(path, typed=True)  # names only: no type to read


def test_inshop_attribute_names_without_the_count_line() -> None:
    path = _variant(INSHOP, "list_attr_cloth.yangzheng-brown_b99c55d.txt")
    with pytest.raises(AnnotationError) as exc:
        read_attributes(path, typed=False)
    assert str(exc.value) == f"{path}: line 1: expected the row count, got 'attribute_name'"
    with pytest.warns(UserWarning):
        lenient = read_attributes(path, typed=False, strict=False)
    original = _need(INSHOP / "Anno" / "attributes" / "list_attr_cloth.txt")
    assert lenient == read_attributes(original, typed=False)


def test_inshop_descriptions() -> None:
    path = _need(INSHOP / "Anno" / "list_description_inshop.first4items.json")
    descriptions = read_descriptions(path)
    assert list(descriptions) == [f"id_0000000{k}" for k in range(1, 5)]
    first = descriptions["id_00000001"]
    assert first.color == "Cream" and len(first.description) == 8
    assert first.description[0].endswith("buttoned cuffs. ")  # trailing space kept
    assert '24" full length, 38" chest, 38" waist, 24" sleeve length' in first.description
    assert any("Voilà" in line for d in descriptions.values() for line in d.description)


def _readme_lists(readme: str) -> list[list[str]]:
    """The landmark name lists of note 5 of a README's LANDMARK LABELS section."""
    note = next(line for line in readme.splitlines() if line.startswith("5. For upper-body"))
    return [re.findall(r'"([^"]+)"', group) for group in re.findall(r"\[([^\]]+)\]", note)]


@pytest.mark.parametrize(
    "readme",
    [
        "deepfashion_landmark_fld/README_fld_official.txt",
        "deepfashion_inshop/README_inshop_official.txt",
    ],
)
def test_slot_order_follows_the_readme_landmark_lists(readme: str) -> None:
    upper, lower, full = _readme_lists(_need(REAL / readme).read_text())
    # the third list is said to be "for upper-body clothes" too: it is the full-body order
    assert full == list(SLOT_NAMES)
    assert [SLOT_NAMES[s] for s in LANDMARK_SLOTS[1]] == upper
    assert [SLOT_NAMES[s] for s in LANDMARK_SLOTS[2]] == lower
    assert [SLOT_NAMES[s] for s in LANDMARK_SLOTS[3]] == full


def test_visibility_sense_of_the_lists_and_of_mmpose_coco() -> None:
    readme = (_need(FLD) / "README_fld_official.txt").read_text()
    assert (
        '"0" represents visible, "1" represents invisible/occluded, "2" represents '
        "truncated/cut-off" in readme
    )
    assert (VISIBLE, OCCLUDED, CUT_OFF) == (0, 1, 2)
    # mmpose's COCO conversion names the same 8 points in the same order (its v is COCO's)
    coco = json.loads((FLD / "test_fld.json").read_text())
    assert coco["categories"][0]["keypoints"] == list(SLOT_NAMES)
