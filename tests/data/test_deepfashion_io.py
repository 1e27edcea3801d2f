"""Readers and validation of the DeepFashion (v1) list files, on small hand-written benchmarks."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from fashionvision.data.deepfashion import (
    ABSENT,
    CategoryAttributeData,
    ConsumerToShopData,
    InShopData,
    LandmarkDetectionData,
    check_deepfashion,
    detect_benchmark,
    find_benchmarks,
    landmark_cells,
    list_text,
    load_deepfashion,
    parse_landmarks,
    read_attributes,
    read_boxes,
    read_categories,
    read_item_ids,
    read_partition,
)
from fashionvision.errors import AnnotationError

SHIRT = "img/Shirt/img_00000001.jpg"
JEANS = "img/Jeans/img_00000002.jpg"
DRESS = "img/Dress/img_00000003.jpg"

# The Category benchmark as the real files are laid out: count line, column line, names with
# spaces, zero-padded numbers, ragged landmark rows (the jeans row has no variation_type).
CATEGORY_FILES = {
    "Anno/list_category_cloth.txt": """\
        3
        category_name  category_type
        Button-Down    1
        Cut Off Jeans  2
        Dress          3
        """,
    "Anno/list_attr_cloth.txt": """\
        3
        attribute_name  attribute_type
        a-line                    3
        abstract chevron print    1
        3/4 sleeve                4
        """,
    "Anno/list_category_img.txt": f"""\
        3
        image_name  category_label
        {SHIRT}     1
        {JEANS}     2
        {DRESS}     03
        """,
    "Anno/list_attr_img.txt": f"""\
        3
        image_name  attribute_labels
        {SHIRT}   -1 1 1
        {JEANS}   -1 -1 0
        {DRESS}   1 -1 -1
        """,
    "Anno/list_bbox.txt": f"""\
        3
        image_name  x_1  y_1  x_2  y_2
        {SHIRT}  072 079 232 273
        {JEANS}  048 062 214 298
        {DRESS}  010 009 095 180
        """,
    "Anno/list_landmarks.txt": f"""\
        3
        image_name  clothes_type  variation_type  landmark_visibility_1  landmark_location_x_1
        {SHIRT}  1  0  1 146 102  0 173 095  0 094 242  0 205 255  0 136 229  2 000 000
        {JEANS}  2  0 060 070  1 200 071  0 070 290  0 199 292
        {DRESS}  3  2  0 030 020  0 070 021  0 015 060  0 088 061  0 035 090  0 075 091  0 012 178  0 093 179
        """,  # noqa: E501
    "Eval/list_eval_partition.txt": f"""\
        3
        image_name  evaluation_status
        {SHIRT}  train
        {JEANS}  val
        {DRESS}  test
        """,
}

INSHOP_FILES = {
    "Anno/list_item_inshop.txt": """\
        2
        id_00000001
        id_00000002
        """,
    "Anno/list_bbox_inshop.txt": """\
        3
        image_name  clothes_type  pose_type  x_1  y_1  x_2  y_2
        img/WOMEN/Dresses/id_00000001/02_1_front.jpg  3  1  050 049 208 235
        img/MEN/Pants/id_00000002/01_1_front.jpg      2  1  060 020 190 250
        img/MEN/Pants/id_00000002/01_4_full.jpg       2  4  100 090 150 170
        """,
    "Anno/list_landmarks_inshop.txt": """\
        3
        image_name  clothes_type  variation_type  landmark_visibility_1
        img/WOMEN/Dresses/id_00000001/02_1_front.jpg  3  1  0 090 060 0 160 060 0 060 120 0 190 120 0 095 130 0 160 130 0 070 230 0 190 230
        img/MEN/Pants/id_00000002/01_1_front.jpg      2  6  0 070 025 0 180 025 0 080 245 0 170 245
        img/MEN/Pants/id_00000002/01_4_full.jpg       2  0 105 092 0 145 092 2 000 000 0 140 168
        """,  # noqa: E501
    "Anno/attributes/list_attr_cloth.txt": """\
        2
        attribute_name
        heather grey
        3/4 sleeve
        """,
    "Anno/attributes/list_attr_items.txt": """\
        2
        item_id  attribute_labels
        id_00000001  1 -1
        id_00000002  0 1
        """,
    "Eval/list_eval_partition.txt": """\
        3
        image_name  item_id  evaluation_status
        img/WOMEN/Dresses/id_00000001/02_1_front.jpg  id_00000001  train
        img/MEN/Pants/id_00000002/01_1_front.jpg      id_00000002  query
        img/MEN/Pants/id_00000002/01_4_full.jpg       id_00000002  gallery
        """,
}

C2S = "img/TOPS/Tee/id_00000001/"
CONSUMER_FILES = {
    "Anno/list_item_consumer2shop.txt": """\
        1
        id_00000001
        """,
    "Anno/list_bbox_consumer2shop.txt": f"""\
        3
        image_name  clothes_type  source_type  x_1  y_1  x_2  y_2
        {C2S}shop_01.jpg      1  1  010 012 200 250
        {C2S}comsumer_01.jpg  1  2  030 040 180 260
        {C2S}comsumer_02.jpg  1  2  005 006 100 120
        """,
    "Eval/list_eval_partition.txt": f"""\
        2
        image_pair_name_1  image_pair_name_2  item_id  evaluation_status
        {C2S}comsumer_01.jpg  {C2S}shop_01.jpg      id_00000001  train
        {C2S}shop_01.jpg      {C2S}comsumer_02.jpg  id_00000001  train
        """,
}

FLD_FILES = {
    "Anno/list_bbox.txt": """\
        1
        image_name  x_1  y_1  x_2  y_2
        img/img_00000001.jpg  001 001 199 249
        """,
    "Anno/list_landmarks.txt": """\
        1
        image_name  clothes_type  variation_type
        img/img_00000001.jpg  2  5  0 020 010  0 180 010  2 000 000  1 150 240
        """,
    "Eval/list_eval_partition.txt": """\
        1
        image_name  evaluation_status
        img/img_00000001.jpg  val
        """,
}


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


def edit(root: Path, rel: str, old: str, new: str) -> Path:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.fixture
def category(tmp_path: Path) -> Path:
    return make(tmp_path / "category", CATEGORY_FILES)


def problems(root: Path) -> list[str]:
    return [str(p) for p in check_deepfashion(root).log.problems]


def test_category_benchmark_reads_into_typed_records(category: Path) -> None:
    data = load_deepfashion(category)
    assert isinstance(data, CategoryAttributeData)
    assert [(c.name, c.clothes_type) for c in data.categories] == [
        ("Button-Down", 1),
        ("Cut Off Jeans", 2),  # a name with spaces: the type is the last cell
        ("Dress", 3),
    ]
    assert [(a.name, a.type) for a in data.attributes] == [
        ("a-line", 3),
        ("abstract chevron print", 1),
        ("3/4 sleeve", 4),
    ]
    shirt, jeans, dress = data.images
    assert [im.split for im in data.images] == ["train", "val", "test"]
    assert shirt.bbox == (72.0, 79.0, 232.0, 273.0)  # "072" is 72, not octal
    assert dress.category_label == 3 and data.category(dress).name == "Dress"  # from "03"
    assert data.category(jeans).name == "Cut Off Jeans"
    np.testing.assert_array_equal(shirt.attributes, [-1, 1, 1])
    np.testing.assert_array_equal(jeans.attributes, [-1, -1, 0])
    assert shirt.attributes.dtype == np.int8
    assert data.image_path(SHIRT) == category / "Img" / SHIRT


def test_landmarks_map_into_the_8_slots_by_meaning(category: Path) -> None:
    shirt, jeans, dress = load_deepfashion(category).images
    # upper body: collar, sleeve, hem -> slots 0 1 2 3 6 7; no waistline
    assert shirt.landmarks.variation_type == 0
    np.testing.assert_array_equal(shirt.landmarks.visibility, [1, 0, 0, 0, ABSENT, ABSENT, 0, 2])
    np.testing.assert_array_equal(
        shirt.landmarks.xy[[0, 1, 6]], [[146, 102], [173, 95], [136, 229]]
    )
    np.testing.assert_array_equal(shirt.landmarks.xy[[4, 5]], 0)
    # lower body, a row without variation_type: waistline and hem -> slots 4 5 6 7
    assert jeans.landmarks.variation_type is None and jeans.landmarks.clothes_type == 2
    np.testing.assert_array_equal(jeans.landmarks.present, [False] * 4 + [True] * 4)
    np.testing.assert_array_equal(jeans.landmarks.visibility[4:], [0, 1, 0, 0])
    np.testing.assert_array_equal(
        jeans.landmarks.xy[4:], [[60, 70], [200, 71], [70, 290], [199, 292]]
    )
    # full body: the 8 in file order
    assert dress.landmarks.variation_type == 2
    np.testing.assert_array_equal(dress.landmarks.xy[:, 0], [30, 70, 15, 88, 35, 75, 12, 93])


@pytest.mark.parametrize(
    ("cells", "variation", "slots"),
    [
        ("1 0 0 1 2 0 3 4 0 5 6 0 7 8 0 9 10 0 11 12", 0, [0, 1, 2, 3, 6, 7]),
        ("1 0 1 2 0 3 4 0 5 6 0 7 8 0 9 10 0 11 12", None, [0, 1, 2, 3, 6, 7]),
        ("2 4 0 1 2 0 3 4 0 5 6 0 7 8", 4, [4, 5, 6, 7]),
        ("2 0 1 2 0 3 4 0 5 6 0 7 8", None, [4, 5, 6, 7]),
        ("3 1 " + " ".join(f"0 {2 * k - 1} {2 * k}" for k in range(1, 9)), 1, list(range(8))),
        ("3 " + " ".join(f"0 {2 * k - 1} {2 * k}" for k in range(1, 9)), None, list(range(8))),
    ],
)
def test_landmark_rows_with_and_without_variation_type(
    cells: str, variation: int | None, slots: list[int]
) -> None:
    landmarks = parse_landmarks(["img/a.jpg", *cells.split()])
    assert landmarks.variation_type == variation
    assert np.flatnonzero(landmarks.present).tolist() == slots
    assert landmarks.xy[slots, 0].tolist() == list(range(1, 2 * len(slots), 2))
    # written back as read (coordinates zero-padded as the real lists write them)
    again = parse_landmarks(["img/a.jpg", *landmark_cells(landmarks, variation is not None)])
    assert again == landmarks


def test_row_count_mismatch_is_an_error_naming_both_numbers(category: Path) -> None:
    path = edit(category, "Anno/list_bbox.txt", "3\n", "4\n")
    with pytest.raises(AnnotationError) as exc:
        load_deepfashion(category)
    assert str(exc.value) == f"{path}: line 1: row count 4 does not match the 3 rows in the file"


@pytest.mark.parametrize(
    ("rel", "old", "new", "where", "message"),
    [
        (
            "Anno/list_bbox.txt",
            "072",
            "O72",
            "line 3, column 2 (x_1)",
            "expected a number, got 'O72'",
        ),
        (
            "Anno/list_bbox.txt",
            "232",
            "060",
            "line 3, column 4 (x_2)",
            "x_2 (60) must be greater than x_1 (72)",
        ),
        (
            "Anno/list_landmarks.txt",
            "0 094 242",
            "3 094 242",
            "line 3, column 10 (landmark_visibility_3)",
            "must be 0, 1 or 2, got 3",
        ),
        (
            "Anno/list_landmarks.txt",
            "2  0 060",
            "1  0 060",
            "line 4, column 2 (clothes_type)",
            "4 landmarks, but upper-body clothes (type 1) have 6",
        ),
        (
            "Anno/list_attr_img.txt",
            "-1 -1 0",
            "-1 -1 2",
            "line 4, column 4 (attribute_labels)",
            "must be 1, -1 or 0, got '2'",
        ),
        (
            "Anno/list_attr_img.txt",
            "-1 -1 0",
            "-1 -1",
            "line 4, column 4 (attribute_labels)",
            "2 labels, but there are 3 attributes",
        ),
        (
            "Anno/list_category_img.txt",
            " 03",
            " 4",
            "line 5, column 2 (category_label)",
            "must be between 1 and 3, got 4",
        ),
        (
            "Anno/list_attr_cloth.txt",
            "4\n",
            "9\n",
            "line 5, column 2 (attribute_type)",
            "must be 1, 2, 3, 4 or 5, got 9",
        ),
        (
            "Eval/list_eval_partition.txt",
            " val",
            " valid",
            "line 4, column 2 (evaluation_status)",
            "must be one of train, val, test, got 'valid'",
        ),
        (
            "Anno/list_bbox.txt",
            "095 180",
            "095 180 7",
            "line 5, column 6",
            "6 cells, but a box row has 5",
        ),
    ],
)
def test_a_bad_cell_is_named_by_file_line_and_column(
    category: Path, rel: str, old: str, new: str, where: str, message: str
) -> None:
    path = edit(category, rel, old, new)
    with pytest.raises(AnnotationError) as exc:
        load_deepfashion(category)
    assert f"{path}: {where}: {message}" == str(exc.value.problems[0])


def test_lenient_loading_skips_bad_rows_and_counts_them(category: Path) -> None:
    edit(category, "Anno/list_bbox.txt", "072", "O72")  # the shirt's box row
    edit(category, "Anno/list_landmarks.txt", "0 070 290", "7 070 290")  # the jeans' landmarks
    report = check_deepfashion(category)
    assert (report.log.rows_skipped, report.log.images_dropped) == (2, 2)
    partition = category / "Eval/list_eval_partition.txt"
    assert [str(p) for p in report.log.problems[2:]] == [
        f"{partition}: line 3: {SHIRT} is not in list_bbox.txt",
        f"{partition}: line 4: {JEANS} is not in list_landmarks.txt",
    ]
    with pytest.warns(UserWarning, match="skipped 2 bad rows and dropped 2 images"):
        data = load_deepfashion(category, strict=False)
    assert [im.name for im in data.images] == [DRESS]
    with pytest.raises(AnnotationError):
        load_deepfashion(category)


def test_an_image_missing_from_a_list_is_reported_where_it_is_listed(category: Path) -> None:
    edit(category, "Anno/list_attr_img.txt", "3\n", "2\n")
    edit(category, "Anno/list_attr_img.txt", f"{DRESS}   1 -1 -1\n", "")
    extra = edit(category, "Anno/list_bbox.txt", "3\n", "4\n")
    extra.write_text(extra.read_text() + "img/Other/img_00000009.jpg  001 002 003 004\n")
    partition = category / "Eval/list_eval_partition.txt"
    assert problems(category) == [
        f"{partition}: line 5: {DRESS} is not in list_attr_img.txt",
        f"{extra}: line 6: img/Other/img_00000009.jpg is not in list_eval_partition.txt",
    ]


def test_clothes_types_must_agree_across_lists(category: Path) -> None:
    path = category / "Anno/list_landmarks.txt"
    edit(category, "Anno/list_category_img.txt", " 03", " 1")
    assert problems(category) == [
        f"{path}: line 5, column 2 (clothes_type): 3 contradicts clothes type 1 in category 1 "
        "(Button-Down) of list_category_img.txt line 5"
    ]


def test_listed_images_must_exist_when_img_is_there(category: Path) -> None:
    for name in (SHIRT, DRESS):
        (category / "Img" / name).parent.mkdir(parents=True, exist_ok=True)
        (category / "Img" / name).write_bytes(b"jpeg")
    partition = category / "Eval/list_eval_partition.txt"
    assert problems(category) == [
        f"{partition}: line 4: image file {category / 'Img' / JEANS} not found"
    ]
    assert check_deepfashion(category, images=False).log.problems == []


@pytest.mark.parametrize(
    ("first_lines", "problem"),
    [
        (
            "category_name  category_type\n",
            "line 1: expected the row count, got 'category_name  category_type'",
        ),
        ("\ncategory_name  category_type\n", "line 1: expected the row count, got an empty line"),
        ("3\n", "line 2: expected the column names (category_name ...), got 'Button-Down    1'"),
    ],
)
def test_edited_count_or_column_lines_fail_strict_and_pass_lenient(
    category: Path, first_lines: str, problem: str
) -> None:
    path = category / "Anno/list_category_cloth.txt"
    rows = path.read_text().splitlines(keepends=True)[2:]
    path.write_text(first_lines + "".join(rows))
    with pytest.raises(AnnotationError) as exc:
        read_categories(path)
    assert str(exc.value) == f"{path}: {problem}"
    with pytest.warns(UserWarning, match="1 problems in 1 files"):
        names = [c.name for c in read_categories(path, strict=False)]
    assert names == ["Button-Down", "Cut Off Jeans", "Dress"]  # no row lost


def test_a_missing_file_makes_the_benchmark_unusable_even_lenient(category: Path) -> None:
    (category / "Anno/list_attr_img.txt").unlink()
    with pytest.raises(AnnotationError, match="list_attr_img.txt: file not found"):
        load_deepfashion(category, strict=False)


def test_inshop_benchmark(tmp_path: Path) -> None:
    root = make(tmp_path / "inshop", INSHOP_FILES)
    data = load_deepfashion(root)
    assert isinstance(data, InShopData)
    assert data.items == ["id_00000001", "id_00000002"]
    assert [(im.item_id, im.split, im.pose_type) for im in data.images] == [
        ("id_00000001", "train", 1),
        ("id_00000002", "query", 1),
        ("id_00000002", "gallery", 4),
    ]
    assert [im.landmarks.variation_type for im in data.images] == [1, 6, None]  # type: ignore[union-attr]
    assert [a.name for a in data.attributes] == ["heather grey", "3/4 sleeve"]  # type: ignore[union-attr]
    assert data.attributes[0].type is None  # type: ignore[index]
    np.testing.assert_array_equal(data.item_attributes["id_00000002"], [0, 1])  # type: ignore[index]
    assert read_item_ids(root / "Anno/list_item_inshop.txt") == data.items  # no column line
    names = read_attributes(root / "Anno/attributes/list_attr_cloth.txt", typed=False)
    assert names == data.attributes
    boxes = read_boxes(root / "Anno/list_bbox_inshop.txt", "inshop")
    assert boxes[data.images[2].name].pose_type == 4


def test_inshop_items_must_not_be_in_train_and_query_or_gallery(tmp_path: Path) -> None:
    root = make(tmp_path / "inshop", INSHOP_FILES)
    path = edit(
        root, "Eval/list_eval_partition.txt", "id_00000002  gallery", "id_00000001  gallery"
    )
    assert problems(root)[0] == (
        f"{path}: line 5, column 2 (item_id): id_00000001 is also in a train split (line 3): "
        "items must not overlap across splits"
    )


def test_consumer_pairs_are_resolved_by_source_type_whatever_the_order(tmp_path: Path) -> None:
    root = make(tmp_path / "c2s", CONSUMER_FILES)
    data = load_deepfashion(root)
    assert isinstance(data, ConsumerToShopData)
    assert [(p.consumer, p.shop) for p in data.pairs] == [
        (f"{C2S}comsumer_01.jpg", f"{C2S}shop_01.jpg"),
        (f"{C2S}comsumer_02.jpg", f"{C2S}shop_01.jpg"),
    ]
    assert data.images[f"{C2S}shop_01.jpg"].source == "shop"
    rows = read_partition(root / "Eval/list_eval_partition.txt", "consumer2shop")
    assert rows[1].image == f"{C2S}shop_01.jpg" and rows[1].item_id == "id_00000001"
    path = edit(root, "Anno/list_bbox_consumer2shop.txt", "1  2  030", "1  1  030")
    assert problems(root) == [
        f"{path.parent.parent / 'Eval/list_eval_partition.txt'}: line 3: a pair needs one shop "
        "and one consumer image, got shop and shop"
    ]


def test_landmark_benchmark_and_detection(tmp_path: Path) -> None:
    roots = {
        "category": make(tmp_path / "a", CATEGORY_FILES),
        "inshop": make(tmp_path / "b", INSHOP_FILES),
        "consumer2shop": make(tmp_path / "c", CONSUMER_FILES),
        "fld": make(tmp_path / "d", FLD_FILES),
    }
    assert {name: detect_benchmark(root) for name, root in roots.items()} == {
        name: name for name in roots
    }
    assert find_benchmarks(tmp_path) == sorted(
        ((n, r) for n, r in roots.items()), key=lambda x: x[1]
    )
    assert find_benchmarks(roots["fld"]) == [("fld", roots["fld"])]
    data = load_deepfashion(roots["fld"])
    assert isinstance(data, LandmarkDetectionData)
    [image] = data.split("val")
    assert image.bbox == (1.0, 1.0, 199.0, 249.0)
    np.testing.assert_array_equal(image.landmarks.visibility[4:], [0, 0, 2, 1])
    with pytest.raises(AnnotationError, match="not a DeepFashion benchmark folder"):
        detect_benchmark(tmp_path)


def test_the_2020_category_release_folder_anno_coarse(category: Path) -> None:
    (category / "Anno").rename(category / "Anno_coarse")
    assert len(load_deepfashion(category, "category").images) == 3


def test_list_text_writes_count_column_line_and_padded_names() -> None:
    text = list_text([["Anorak", "1"], ["Button-Down", "1"]], "category_name  category_type")
    assert text == "2\ncategory_name  category_type\nAnorak         1\nButton-Down    1\n"
    assert list_text([["id_00000001"]], None) == "1\nid_00000001\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list_text([], "image_name") == "0\nimage_name\n"
