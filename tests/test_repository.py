"""What a newcomer sees of the repository itself: metadata, ignored outputs, references."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_project_metadata_promises_only_what_is_built():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "FashionNet" in project["description"]  # built: model, training, metrics
    assert "parsing" not in project["description"].lower()  # not built yet


def test_tests_keep_temporary_folders_of_failures_only():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    ini = options["ini_options"]
    assert ini["tmp_path_retention_policy"] == "failed"
    assert ini["tmp_path_retention_count"] <= 1


def test_no_reference_to_a_design_document_that_is_not_there():
    if (ROOT / "DESIGN.md").exists():
        pytest.skip("DESIGN.md exists")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("fashionvision", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path != Path(__file__).resolve() and "DESIGN" in path.read_text()
    ]
    assert offenders == []


# what the README's commands write when run from the repository root
README_OUTPUTS = [
    "data/train/image/000001.jpg", "data/validation/.fashionvision_index/x.npz", "grid.png",
    "val_coco.json", "val_coco_visible.json", "val_retrieval/query_gt.json", "all.json",
    "box.json", "r.json", "retrieval.json", "val.json", "preds/results.json", "preds/vis/1.jpg",
    "runs/tiny/last.pt", "runs/tiny/metrics.csv", "demo_out/report/index.html",
    "runs/shop_index/manifest.json", "runs/search.json", "runs/search.png",
]  # fmt: skip


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
def test_gitignore_covers_what_the_readme_commands_write():
    readme = (ROOT / "README.md").read_text()
    for path in README_OUTPUTS:  # the list follows the README
        first = path.split("/")[0]
        assert re.search(rf"\b{re.escape(first)}\b", readme), f"{first} is not in the README"
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *README_OUTPUTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    ignored = set(done.stdout.split())
    assert [p for p in README_OUTPUTS if p not in ignored] == []
