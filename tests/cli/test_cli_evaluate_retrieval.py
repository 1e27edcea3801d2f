"""The `evaluate-retrieval` sub-command: table, JSON output, error reporting."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from fashionvision.cli import evaluate_retrieval as command
from fashionvision.errors import FashionVisionError

BOX = [10.0, 10.0, 110.0, 110.0]
MISS = (99, [0.0, 0.0, 1.0, 1.0])


def _row(img: int, cls: int, ranked: list) -> dict:
    ranked = ranked + [MISS] * (20 - len(ranked))
    return {
        "query_image_id": img,
        "query_bbox": BOX,
        "query_cls": cls,
        "query_score": 0.9,
        "gallery_image_id": [i for i, _ in ranked],
        "gallery_bbox": [b for _, b in ranked],
    }


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    query = [
        {"query_image_id": 1, "pair_id": 1, "style": 1, "cls": 2, "bbox": BOX},
        {"query_image_id": 2, "pair_id": 1, "style": 1, "cls": 2, "bbox": BOX},
    ]
    gallery = [
        {"gallery_image_id": 50, "pair_id": 1, "style": 1, "bbox": BOX},
        {"gallery_image_id": 99, "pair_id": 7, "style": 1, "bbox": BOX},
    ]
    # Image 1: hit at rank 3; image 2: no detection (counted, missed).
    results = [_row(1, 2, [MISS, MISS, (50, BOX)])]
    paths = {name: tmp_path / f"{name}.json" for name in ("q", "g", "r", "both")}
    paths["q"].write_text(json.dumps(query))
    paths["g"].write_text(json.dumps(gallery))
    paths["r"].write_text(json.dumps(results))
    paths["both"].write_text(json.dumps({"query": query, "gallery": gallery}))
    return paths


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_prints_table_and_writes_json(files, tmp_path: Path, capsys):
    (tmp_path / "sub").mkdir()  # an output file's folder must exist
    out = tmp_path / "sub" / "metrics.json"
    argv = ["evaluate-retrieval", "--query-gt", str(files["q"]), "--gallery-gt", str(files["g"])]
    assert _run([*argv, "--results", str(files["r"]), "--json", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["metric", "value"]
    assert ["top1", "0.0000"] in [line.split() for line in table]
    assert ["top5", "0.5000"] in [line.split() for line in table]
    assert ["num_missed", "1"] in [line.split() for line in table]
    saved = json.loads(out.read_text())
    assert saved == {
        "top1": 0.0, "top5": 0.5, "top10": 0.5, "top15": 0.5, "top20": 0.5,
        "num_queries": 2, "num_missed": 1,
    }  # fmt: skip
    assert [p.name for p in out.parent.iterdir()] == ["metrics.json"]  # no temp file left


def test_single_gt_file_and_gt_box_mode(files, capsys):
    argv = ["evaluate-retrieval", "--query-gt", str(files["both"]), "--results", str(files["r"])]
    assert _run([*argv, "--gt-boxes"]) == 0
    assert ["top5", "0.5000"] in [line.split() for line in capsys.readouterr().out.splitlines()]


def test_errors_name_the_file_row_and_field(files):
    rows = json.loads(files["r"].read_text())
    rows[0]["gallery_bbox"].pop()
    files["r"].write_text(json.dumps(rows))
    argv = ["evaluate-retrieval", "--query-gt", str(files["q"]), "--gallery-gt", str(files["g"])]
    with pytest.raises(FashionVisionError, match=r"r\.json: \[0\]\.gallery_bbox: 19 boxes"):
        _run([*argv, "--results", str(files["r"])])
    with pytest.raises(FashionVisionError, match=r"q\.json: \[0\]\.gallery_image_id: missing key"):
        _run(["evaluate-retrieval", "--query-gt", str(files["q"]), "--results", str(files["r"])])


def test_unknown_gallery_ids_flag(files, capsys):
    rows = json.loads(files["r"].read_text())
    rows[0]["gallery_image_id"][0] = 4242
    files["r"].write_text(json.dumps(rows))
    argv = ["evaluate-retrieval", "--query-gt", str(files["both"]), "--results", str(files["r"])]
    with pytest.raises(FashionVisionError, match="image 4242 is not in the gallery GT"):
        _run(argv)
    assert _run([*argv, "--allow-unknown-gallery"]) == 0
    assert ["top5", "0.5000"] in [line.split() for line in capsys.readouterr().out.splitlines()]


def test_main_entry_point_reports_errors_without_traceback(files, capsys, monkeypatch):
    """Through `fashionvision.cli.main`, with only this command registered (the other command
    modules are written by others and may not exist yet)."""
    from fashionvision import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("evaluate_retrieval",))
    # The gallery GT given as the results file: its rows have no ranked lists.
    argv = ["evaluate-retrieval", "--query-gt", str(files["both"]), "--results", str(files["g"])]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: {files['g']}: [0].gallery_image_id: missing key or not a list" in err
