"""Whole-split loading: strict/lenient modes, the parallel parse and the cached index."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fashionvision.data.deepfashion2 as df2
from fashionvision.data.split_index import (
    INDEX_DIR_NAME,
    SplitReport,
    decode_report,
    encode_report,
    index_paths,
    merge_encoded,
)
from fashionvision.errors import AnnotationError, Problem
from fashionvision.structures import Garment, ImageAnnotation

W, H = 80, 60


def make_records(n: int, seed: int = 0) -> list[ImageAnnotation]:
    """n valid images of 1-2 garments (trousers with landmarks, vest without), float coords."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        x1, y1 = rng.uniform(0, 30, 2).round(2)
        lm = np.column_stack([rng.uniform(0, W, 14), rng.uniform(0, H, 14), rng.integers(0, 3, 14)])
        poly = [x1, y1, x1 + 20, y1, x1 + 20, y1 + 25]
        items = [Garment(8, (x1, y1, x1 + 40.5, y1 + 30), lm, [poly], style=int(i % 3))]
        if i % 2:
            items.append(
                Garment(
                    5,
                    (1.0, 2.0, 9.0, 9.0),
                    np.zeros((0, 3)),
                    [[1, 2, 9, 2, 9, 9]],
                    scale=1,
                    occlusion=3,
                    zoom_in=2,
                    viewpoint=3,
                )
            )
        records.append(
            ImageAnnotation(
                3 * i + 1,
                f"image/{3 * i + 1:06d}.jpg",
                W,
                H,
                "user" if i % 2 else "shop",
                i // 2,
                items,
            )
        )
    return records


def write_split(split: Path, records: list[ImageAnnotation]) -> None:
    (split / "image").mkdir(parents=True, exist_ok=True)
    for rec in records:
        df2.write_annotation(split, rec)
        Image.new("RGB", (rec.width, rec.height)).save(split / rec.file_name)


def touch_later(path: Path) -> None:
    """Move the mtime forward so the change is visible even on coarse-mtime file systems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


@pytest.fixture
def split(tmp_path: Path) -> Path:
    write_split(tmp_path / "val", make_records(6))
    return tmp_path / "val"


def test_load_split_round_trip_sorted(split: Path) -> None:
    loaded = df2.load_split(split, cache=False)
    assert loaded == make_records(6)
    assert [r.image_id for r in loaded] == [1, 4, 7, 10, 13, 16]
    assert not (split / INDEX_DIR_NAME).exists()


def test_second_load_uses_cache(split: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = df2.load_split(split)
    assert (split / INDEX_DIR_NAME / "index.npz").is_file()

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed although the index is valid")

    monkeypatch.setattr(df2, "_parse_files", no_parse)
    second = df2.load_split(split)
    assert second == first == make_records(6)
    garment = second[0].items[0]
    assert type(garment.bbox[0]) is float and garment.landmarks.shape == (14, 3)


def test_modified_or_added_file_invalidates_cache(split: Path) -> None:
    df2.load_split(split)
    path = df2.annotation_path(split, 4)
    obj = json.loads(path.read_text())
    obj["pair_id"] = 777
    path.write_text(json.dumps(obj))
    touch_later(path)
    assert df2.load_split(split)[1].pair_id == 777

    extra = make_records(1)[0]
    extra.image_id, extra.file_name = 2, "image/000002.jpg"
    write_split(split, [extra])
    assert [r.image_id for r in df2.load_split(split)][:3] == [1, 2, 4]


def _break_split(split: Path) -> None:
    """Image 4: item2 gets a bad scale; image 7: truncated JSON; image 10: image removed."""
    path = df2.annotation_path(split, 4)
    obj = json.loads(path.read_text())
    obj["item2"]["scale"] = 5
    path.write_text(json.dumps(obj))
    df2.annotation_path(split, 7).write_text('{"source": "shop", "pair')
    (split / "image" / "000010.jpg").unlink()


def test_lenient_mode_drops_and_counts(split: Path) -> None:
    _break_split(split)
    with pytest.warns(UserWarning, match="skipped 1 bad items and 2 unusable files"):
        loaded = df2.load_split(split, strict=False)
    assert [r.image_id for r in loaded] == [1, 4, 13, 16]
    assert len(loaded[1].items) == 1 and loaded[1].items[0].category_id == 8


@pytest.mark.parametrize("cache", [False, True])
def test_strict_mode_raises_all_problems_of_all_files(split: Path, cache: bool) -> None:
    _break_split(split)
    for _ in range(2):  # the second strict load with cache=True is served by the index
        with pytest.raises(AnnotationError) as exc:
            df2.load_split(split, strict=True, cache=cache)
        got = [(Path(p.path).name, p.field) for p in exc.value.problems]
        assert got == [
            ("000004.json", "item2.scale"),
            ("000007.json", "file"),
            ("000010.json", "image"),
        ]


def test_parallel_parse_matches_serial(split: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = df2.check_split(split, cache=False, workers=1)
    monkeypatch.setattr(df2, "_SERIAL_BELOW", 0)
    parallel = df2.check_split(split, cache=False, workers=2)
    assert parallel == serial and parallel.files_checked == 6


def test_missing_split_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="split directory not found"):
        df2.load_split(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="cannot list"):
        df2.load_split(tmp_path / "empty")


def test_unwritable_split_falls_back_to_user_cache(
    split: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (split / INDEX_DIR_NAME).write_text("a file where the index directory should be")
    df2.load_split(split)
    fallback = index_paths(split)[1]
    assert fallback.is_file() and str(fallback).startswith(str(tmp_path / "xdg"))
    assert df2.load_split(split) == make_records(6)


def test_corrupt_index_is_rebuilt(split: Path) -> None:
    df2.load_split(split)
    index = split / INDEX_DIR_NAME / "index.npz"
    index.write_bytes(b"garbage")
    assert df2.load_split(split) == make_records(6)
    assert index.stat().st_size > 1000


def test_encode_decode_report_round_trip() -> None:
    problems = [Problem("a.json", "item1.style", "bad")]
    report = SplitReport(make_records(5, seed=3), problems, 7, 2, 1, 3)
    assert decode_report(encode_report(report)) == report
    assert decode_report(encode_report(SplitReport())) == SplitReport()


def test_merge_encoded_equals_encoding_the_concatenation() -> None:
    a, b, c = make_records(3, seed=1), make_records(4, seed=2), make_records(2, seed=3)
    parts = [
        SplitReport(a, [Problem("x.json", "pair_id", "bad")], 4, 1, 1, 0),
        SplitReport(b, [], 4, 0, 0, 0),
        SplitReport(c, [Problem("y.json", "item1.scale", "bad")], 3, 1, 0, 2),
    ]
    merged = decode_report(merge_encoded([encode_report(p) for p in parts]))
    assert merged == SplitReport(a + b + c, parts[0].problems + parts[2].problems, 11, 2, 1, 2)
    assert merged.records[3].items[0].landmarks.tolist() == b[0].items[0].landmarks.tolist()


def test_cached_problem_paths_follow_the_current_split_spelling(
    split: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_split(split)
    assert df2.check_split(split).problems[0].path == str(df2.annotation_path(split, 4))
    monkeypatch.chdir(split.parent)
    monkeypatch.setattr(df2, "_parse_files", None)  # must be served by the index
    cached = df2.check_split(Path(split.name))
    assert cached.problems[0].path == str(Path(split.name) / "annos" / "000004.json")
