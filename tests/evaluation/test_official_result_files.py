"""The official per-task example result files of DeepFashion2 (``evaluation/example/``).

Read from ``../shared/data/deepfashion2_samples/example_results/`` (skipped where absent).  Their
rows hold only the task's field: segm rows ``image_id, segmentation (RLE), category_id, score``,
keypoint rows ``image_id, category_id, keypoints (882), score``, no ``bbox``.

=================================================  ========  ======================================
property of the official files                     decision  test
=================================================  ========  ======================================
segm and keypoint rows without ``bbox``            accepted  load, validate, evaluate, CLI
RLE ``counts`` as str; all 294 points filled, v=1  accepted  evaluate (AP 1.0 on a GT built from
                                                             the files themselves)
image ids 1..5 are validation images: their RLE    rejected  "[1].segmentation: RLE size [624,
sizes do not fit our real train images 2..5                  468] (height, width) differs from the
                                                             image's [702, 468]"
=================================================  ========  ======================================
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fashionvision.cli as cli
from fashionvision.data.coco_format import coco_categories, load_coco_results, split_to_coco
from fashionvision.data.deepfashion2 import load_split
from fashionvision.errors import AnnotationError
from fashionvision.evaluation.coco_eval import evaluate_coco

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EXAMPLES = SHARED / "deepfashion2_samples" / "example_results"
PER_IMAGE = SHARED / "real_samples" / "deepfashion2_per_image"
FILES = {"bbox": "example_bbox_results.json", "segm": "example_segm_results.json",
         "landmarks": "example_keys_results.json"}  # fmt: skip
FIELDS = {"bbox": "bbox", "segm": "segmentation", "landmarks": "keypoints"}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


@pytest.fixture(scope="module")
def examples() -> Path:
    if not EXAMPLES.is_dir():
        pytest.skip(f"official example results not available ({EXAMPLES} is absent)")
    return EXAMPLES


@pytest.mark.parametrize("task", list(FILES))
def test_files_load_with_only_the_task_field(examples: Path, task: str) -> None:
    rows = load_coco_results(examples / FILES[task])
    assert [r["image_id"] for r in rows] == [1, 2, 3, 4, 5]
    for row in rows:
        assert set(row) == {"image_id", "category_id", "score", FIELDS[task]}


def _gt_from_examples(examples: Path) -> dict:
    """A GT whose images 1..5 have the sizes of the example RLEs and whose one item per image is
    what the example files detected: the bbox file's box, the segm file's mask, the keys file's
    294 points (as visible)."""
    rows = {task: json.loads((examples / name).read_text()) for task, name in FILES.items()}
    images, annotations = [], []
    for box, seg, kps in zip(rows["bbox"], rows["segm"], rows["landmarks"], strict=True):
        h, w = seg["segmentation"]["size"]
        images.append({"id": box["image_id"], "width": w, "height": h})
        points = list(kps["keypoints"])
        points[2::3] = [2] * (len(points) // 3)
        x, y, bw, bh = box["bbox"]
        annotations.append({
            "id": box["image_id"], "image_id": box["image_id"], "category_id": 1, "iscrowd": 0,
            "bbox": box["bbox"], "area": bw * bh, "segmentation": seg["segmentation"],
            "keypoints": points, "num_keypoints": len(points) // 3,
        })  # fmt: skip
    return {"images": images, "annotations": annotations, "categories": coco_categories()}


@pytest.mark.parametrize("task", list(FILES))
def test_files_evaluate_without_bbox(examples: Path, task: str) -> None:
    result = evaluate_coco(_gt_from_examples(examples), examples / FILES[task], task)  # type: ignore[arg-type]
    assert result["AP"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("task", ["segm", "landmarks"])
def test_rows_with_a_bbox_still_work(examples: Path, task: str) -> None:
    rows = load_coco_results(examples / FILES[task])
    boxes = load_coco_results(examples / FILES["bbox"])
    with_box = [dict(r, bbox=b["bbox"]) for r, b in zip(rows, boxes, strict=True)]
    gt = _gt_from_examples(examples)
    assert evaluate_coco(gt, with_box, task) == evaluate_coco(gt, rows, task)  # type: ignore[arg-type]


@pytest.mark.parametrize("task", ["segm", "landmarks"])
def test_evaluate_command_on_an_official_file(
    examples: Path, tmp_path: Path, task: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(_gt_from_examples(examples)))
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("evaluate",))
    argv = ["evaluate", "--gt", str(gt_path), "--results", str(examples / FILES[task]),
            "--task", task]  # fmt: skip
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "1.000" in out and "missing" not in err


def test_example_ids_are_not_our_real_images(examples: Path) -> None:
    """Ids 1..5 exist among the real per-image files, but those are train images of other sizes:
    the RLEs cannot be compared with them, and the evaluation says so instead of failing inside
    the mask code."""
    if not PER_IMAGE.is_dir():
        pytest.skip(f"real samples not available ({PER_IMAGE} is absent)")
    gt = split_to_coco(load_split(PER_IMAGE, cache=False))
    path = examples / FILES["segm"]
    with pytest.raises(AnnotationError) as exc:
        evaluate_coco(gt, path, "segm")
    problems = [(p.path, p.field, p.message) for p in exc.value.problems]
    assert problems[0] == (
        str(path), "[1].segmentation",
        "RLE size [624, 468] (height, width) differs from the image's [702, 468]",
    )  # fmt: skip
    assert [p[1] for p in problems] == [f"[{i}].segmentation" for i in (1, 2, 3, 4)]
    # boxes and keypoints carry no image size: those files evaluate (with meaningless numbers)
    assert 0.0 <= evaluate_coco(gt, examples / FILES["landmarks"], "landmarks")["AP"] <= 1.0
