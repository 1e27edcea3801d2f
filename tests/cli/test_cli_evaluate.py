"""`fashionvision evaluate`: tables on stdout, every number in the JSON, clear input errors."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

from fashionvision.cli import evaluate as evaluate_cmd
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import evaluate_coco


def _synthetic(num_images: int, seed: int) -> tuple[dict, list[dict]]:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_eval.py"
    spec = importlib.util.spec_from_file_location("bench_eval_cli", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_coco(num_images, seed=seed)


def _run(argv: list[str]) -> int:
    """Parse with only this command registered (other commands may be under construction)."""
    parser = argparse.ArgumentParser(prog="fashionvision")
    evaluate_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, list[dict]]:
    gt, results = _synthetic(40, seed=2)
    root = tmp_path_factory.mktemp("eval")
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "res.json").write_text(json.dumps(results))
    return root / "gt.json", root / "res.json", gt, results


def test_tables_and_json(files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_path, res_path, gt, results = files
    out_json = tmp_path / "landmarks.json"
    code = _run(
        [
            "evaluate",
            "--gt",
            str(gt_path),
            "--results",
            str(res_path),
            "--task",
            "landmarks",
            "--subsets",
            "--per-category",
            "--json",
            str(out_json),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "side or back" in text and "long sleeve dress" in text and "AP75" in text
    written = json.loads(out_json.read_text())
    expected = evaluate_coco(gt, results, "landmarks", subsets=True, per_category=True)
    assert written == {"task": "landmarks", **expected}
    assert f"{expected['AP']:.3f}" in text
    assert set(written["subsets"]) == {"scale", "occlusion", "zoom_in", "viewpoint"}


def test_bbox_prints_twelve_numbers(files, capsys: pytest.CaptureFixture[str]) -> None:
    gt_path, res_path, _, _ = files
    assert (
        _run(["evaluate", "--gt", str(gt_path), "--results", str(res_path), "--task", "bbox"]) == 0
    )
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == [
        "bbox",
        "AP",
        "AP50",
        "AP75",
        "APs",
        "APm",
        "APl",
        "AR1",
        "AR10",
        "AR100",
        "ARs",
        "ARm",
        "ARl",
    ]


def test_input_errors(files, tmp_path: Path) -> None:
    gt_path, res_path, _, results = files
    base = ["evaluate", "--gt", str(gt_path), "--task", "segm", "--results"]
    with pytest.raises(FashionVisionError, match="nope.json: file not found"):
        _run(base + [str(tmp_path / "nope.json")])
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(FashionVisionError, match="broken.json: not valid JSON"):
        _run(base + [str(broken)])
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([dict(results[0], image_id=999)]))
    with pytest.raises(FashionVisionError, match=r"unknown.json.*image_id.*999"):
        _run(base + [str(unknown)])
    short = tmp_path / "short.json"
    short.write_text(json.dumps([dict(results[0], keypoints=[1.0, 2.0, 1.0])]))
    with pytest.raises(FashionVisionError, match=r"short.json.*keypoints"):
        _run(["evaluate", "--gt", str(gt_path), "--task", "landmarks", "--results", str(short)])


def test_task_attributes_scores_a_fashionpedia_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pycocotools import mask as mask_utils

    from fashionvision.data.synthetic_parsing import annotation_file, generate_fashionpedia
    from fashionvision.evaluation.fashionpedia_eval import evaluate_fashionpedia

    generate_fashionpedia(tmp_path, 0, 6, seed=3, size=64)
    gt_path = tmp_path / annotation_file("val")
    gt = json.loads(gt_path.read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}

    def rle(segmentation: list | dict, image_id: int) -> dict:  # results carry RLE masks
        h, w = sizes[image_id]
        if isinstance(segmentation, list):
            segmentation = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
        elif isinstance(segmentation["counts"], list):
            segmentation = mask_utils.frPyObjects(segmentation, h, w)
        counts = segmentation["counts"]
        return {"size": [h, w], "counts": counts.decode() if isinstance(counts, bytes) else counts}

    rows = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
         "segmentation": rle(a["segmentation"], a["image_id"]), "attribute_ids": a["attribute_ids"]}
        for a in gt["annotations"]
    ]  # fmt: skip
    assert any(r["attribute_ids"] for r in rows)
    for r in rows:  # the masks stay right, the attributes go wrong
        r["attribute_ids"] = [] if r["attribute_ids"] else [gt["attributes"][0]["id"]]
    res_path = tmp_path / "res.json"
    res_path.write_text(json.dumps(rows))
    out_json = tmp_path / "attributes.json"
    argv = ["evaluate", "--gt", str(gt_path), "--results", str(res_path), "--task", "attributes",
            "--per-category", "--json", str(out_json)]  # fmt: skip
    assert _run(argv) == 0
    printed = capsys.readouterr().out
    written = json.loads(out_json.read_text())
    expected = evaluate_fashionpedia(gt_path, rows, "segm", per_category=True)
    assert written["task"] == "attributes"
    assert written["iou"]["AP"] == pytest.approx(1.0)  # polygons rasterised as the GT's
    assert written["iou+f1"]["AP"] == pytest.approx(expected["iou+f1"]["AP"], abs=1e-12)
    assert written["iou+f1"]["AP"] < 0.5
    assert "Fashionpedia AP" in printed and "AP by category" in printed
    name = gt["categories"][0]["name"]
    assert any(line.startswith(name) for line in printed.splitlines())
    with pytest.raises(SystemExit):
        _run([*argv[:7], "--subsets"])
