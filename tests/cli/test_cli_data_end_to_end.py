"""The data commands as a user runs them (real subprocesses): synth -> validate -> corrupt ->
validate names every bad file and field, exits 1, prints no traceback; convert -> pycocotools."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pycocotools.coco import COCO

pytestmark = pytest.mark.slow


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fashionvision", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e") / "synth"
    done = _run("synth", str(root), "--train", "24", "--val", "8", "--seed", "1", "--size", "128")
    assert done.returncode == 0, done.stderr
    return root


def test_generated_split_validates(data: Path) -> None:
    done = _run("validate", str(data / "train"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "24 files checked, 0 files with errors, 0 problems" in done.stdout


def test_corrupted_copy_names_each_file_and_field(data: Path, tmp_path: Path) -> None:
    split = tmp_path / "train"
    shutil.copytree(data / "train", split)
    annos = sorted((split / "annos").glob("*.json"))
    (annos[0]).write_text('{"source": "shop", "pair_id": ')  # bad JSON
    obj = json.loads(annos[1].read_text())
    obj["item1"]["landmarks"] = obj["item1"]["landmarks"][:-3]  # one landmark short
    annos[1].write_text(json.dumps(obj))
    obj = json.loads(annos[2].read_text())
    del obj["item1"]["style"]  # missing field
    annos[2].write_text(json.dumps(obj))
    obj = json.loads(annos[3].read_text())
    obj["item1"]["bounding_box"] = [10, 10, 5000, 60]  # outside the image
    annos[3].write_text(json.dumps(obj))

    done = _run("validate", str(split))
    assert done.returncode == 1
    out = done.stdout
    assert "Traceback" not in out + done.stderr
    assert f"{annos[0]}: file:" in out
    assert f"{annos[1]}: item1.landmarks:" in out
    assert f"{annos[2]}: item1.style:" in out
    assert f"{annos[3]}: item1.bounding_box:" in out
    assert "24 files checked, 4 files with errors" in out


def test_coco_export_loads_in_pycocotools(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "val_coco.json"
    done = _run("convert", "coco", str(data / "validation"), str(out))
    assert done.returncode == 0, done.stderr
    coco = COCO(str(out))
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(coco.getImgIds()) == 8 and anns
    for ann in anns:
        assert len(ann["keypoints"]) == 882
        assert ann["num_keypoints"] == sum(1 for v in ann["keypoints"][2::3] if v > 0)
        x, y, w, h = ann["bbox"]
        assert ann["area"] == pytest.approx(w * h)


def test_missing_split_is_a_clean_error(tmp_path: Path) -> None:
    done = _run("validate", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "nope" in done.stdout + done.stderr
