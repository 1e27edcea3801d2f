"""`fashionvision index build|add|remove|info` and `fashionvision search`, end to end with an
untrained tiny model on generated images; user errors are one `error:` line, exit code 1."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SMALL_MODEL, untrained_checkpoint
from PIL import Image

import fashionvision.cli as cli
from fashionvision.data.synthetic import generate_dataset

SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0"]
FAST = ["--score-threshold", "0", "--device", "cpu", "--no-progress"]


@pytest.fixture
def main(monkeypatch):
    """The real dispatcher, limited to these commands."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("index", "search"))
    return cli.main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_index")
    generate_dataset(root / "data", train=0, val=8, seed=4, size=64)
    checkpoint, _ = untrained_checkpoint(root / "tiny.pt", SMALL)
    return root, checkpoint, root / "data" / "validation"


@pytest.fixture(scope="module")
def index(setup):
    """An index of the split's shop images, built through the CLI."""
    root, checkpoint, split = setup
    out = root / "index"
    argv = ["index", "build", "--weights", str(checkpoint), str(split), "--out", str(out), *FAST]
    assert cli.main(argv) == 0
    return out


def test_build_prints_what_it_indexed(index, setup, main, capsys):
    root, checkpoint, split = setup
    # rerun: resumes with nothing left to do
    argv = ["index", "build", "--weights", str(checkpoint), str(split), "--out", str(index), *FAST]
    assert main(argv) == 0
    assert "garments from" in capsys.readouterr().out


def test_info_as_text_and_json(index, main, capsys):
    assert main(["index", "info", str(index), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "garments from" in text and "ranking: similarity" in text and "backend: faiss" in text
    assert main(["index", "info", str(index), "--json", "--device", "cpu"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["items"] > 0 and info["source"] == "deepfashion2"
    assert sum(info["per_category"].values()) == info["items"]


def test_search_prints_writes_json_and_a_grid(index, setup, main, tmp_path, capsys):
    _, _, split = setup
    photo = split / "image" / "000001.jpg"
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    argv = ["search", "--index", str(index), str(photo), "--top-k", "3", "--score-threshold",
            "0", "--json", str(out_json), "--grid", str(out_png), "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rows = json.loads(out_json.read_text())
    assert len(rows) == 1 and rows[0]["photo"] == str(photo)
    garments = rows[0]["garments"]
    assert garments and all(len(g["matches"]) == 3 for g in garments)
    assert f"{len(garments)} garment" in printed and "item" in printed
    with Image.open(out_png) as grid:
        assert grid.width > 3 * 128 and grid.height >= 128 * len(garments)
    # a category filter by name
    argv = ["search", "--index", str(index), str(photo), "--category", "short_sleeve_dress",
            "--score-threshold", "0", "--json", str(out_json), "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    rows = json.loads(out_json.read_text())
    assert {m["category"] for g in rows[0]["garments"] for m in g["matches"]} <= {10}


def test_add_and_remove(index, setup, main, tmp_path, capsys):
    root, _, split = setup
    copy = tmp_path / "index"
    shutil.copytree(index, copy)
    extra = tmp_path / "new"
    extra.mkdir()
    shutil.copy(split / "image" / "000002.jpg", extra / "street.jpg")
    assert main(["index", "add", str(copy), str(extra), *FAST[2:]]) == 0
    assert "added" in capsys.readouterr().out
    assert main(["index", "info", str(copy), "--json", "--device", "cpu"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert main(["index", "remove", str(copy), "1", "2", "--device", "cpu"]) == 0
    assert f"holds {info['items'] - 2}" in capsys.readouterr().out
    assert main(["index", "remove", str(copy), "1", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "[1]" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "--index", "{root}/absent", "{photo}"], "no such index folder"),
        (["search", "--index", "{index}", "{root}/absent.jpg"], "no such photo"),
        (["search", "--index", "{index}", "{photo}", "--category", "hat"], "unknown category"),
        (["index", "info", "{root}/data"], "not a gallery index"),
        (["index", "build", "--weights", "{root}/tiny.pt", "{split}", "--out", "{root}/data"],
         "not empty"),
        (["index", "build", "--weights", "{root}/tiny.pt", "{split}", "--out", "{root}/o",
          "--qdrant-url", "http://x"], "needs --backend qdrant"),
        (["index", "build", "--weights", "{root}/tiny.pt", "{split}", "--out", "{root}/o",
          "--store-option", "nlist"], "KEY=VALUE"),
        (["index", "build", "--weights", "{root}/tiny.pt", "{split}", "--out", "{root}/o",
          "--store-option", "nlist=4"], "unknown flat options"),
        (["index", "build", "--weights", "{root}/missing.pt", "{split}", "--out", "{root}/o"],
         "checkpoint not found"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line(index, setup, main, capsys, argv, message):
    root, _, split = setup
    values = {"root": root, "index": index, "split": split, "photo": split / "image/000001.jpg"}
    argv = [a.format(**values) for a in argv]
    if argv[0] == "search" or argv[1] == "info":
        argv += ["--device", "cpu"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err


def test_qdrant_backend_from_the_command_line(setup, main, tmp_path, capsys):
    pytest.importorskip("qdrant_client")
    root, checkpoint, split = setup
    out = tmp_path / "q"
    argv = ["index", "build", "--weights", str(checkpoint), str(split), "--out", str(out),
            "--backend", "qdrant", "--qdrant-collection", "shop", *FAST]  # fmt: skip
    assert main(argv) == 0
    assert "garments from" in capsys.readouterr().out
    assert main(["index", "info", str(out), "--json", "--device", "cpu"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backend"] == "qdrant" and info["store_options"]["collection"] == "shop"


def test_ivfflat_kind_from_the_command_line(setup, main, tmp_path, capsys):
    root, checkpoint, split = setup
    out = tmp_path / "ivf"
    argv = ["index", "build", "--weights", str(checkpoint), str(split), "--out", str(out),
            "--kind", "ivfflat", "--store-option", "nlist=4", *FAST]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["index", "info", str(out), "--json", "--device", "cpu"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["store_options"]["kind"] == "ivfflat" and info["store_options"]["nlist"] == 4
