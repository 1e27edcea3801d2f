"""`fashionvision evaluate --weights CKPT --split DIR` and `retrieve`: the evaluation pipeline
from the command line, checked against the other documented path to the same numbers
(`predict --score-threshold 0.05` -> `convert coco` -> `evaluate --gt --results`)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import SMALL_MODEL, untrained_checkpoint

import fashionvision.cli as cli
from fashionvision.data.synthetic import generate_dataset
from fashionvision.data.synthetic_parsing import annotation_file, generate_fashionpedia

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0", "model.box_detections_per_img=10"]
# a detector trained on Fashionpedia-format data: the synthetic table's 12 categories and 22
# attributes, no landmark or matching stream
PARSING = [*SMALL, "data.format=fashionpedia", "model.landmarks=false", "model.matching=false",
           "model.num_classes=13", "model.num_attributes=22"]  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate_checkpoint")
    generate_dataset(root / "data", train=0, val=8, seed=5, size=64)
    ckpt, _ = untrained_checkpoint(root / "tiny.pt", SMALL, seed=1)
    return ckpt, root / "data" / "validation"


def test_evaluate_weights_prints_every_task_and_matches_the_results_file_path(
    setup, tmp_path, capsys
) -> None:
    ckpt, split = setup
    out = tmp_path / "all.json"
    argv = ["evaluate", "--weights", str(ckpt), "--split", str(split), "--device", "cpu",
            "--json", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    titles = ("Boxes", "Masks", "Landmarks (visible + occluded)", "Landmarks (visible only)",
              "Box AP by subset", "Retrieval (detected boxes)", "Retrieval (GT boxes)",
              "Classification on GT boxes")  # fmt: skip
    for title in titles:
        assert title in printed
    metrics = json.loads(out.read_text())
    assert metrics["num_images"] == 8 and metrics["num_detections"] > 0

    preds, gt = tmp_path / "preds", tmp_path / "gt.json"
    assert cli.main(["predict", "--weights", str(ckpt), str(split / "image"), "--out", str(preds),
                     "--score-threshold", "0.05", "--no-vis", "--device", "cpu"]) == 0  # fmt: skip
    assert not (preds / "vis").exists()
    assert cli.main(["convert", "coco", str(split), str(gt)]) == 0
    for task, key in (("bbox", "bbox"), ("segm", "segm"), ("landmarks", "landmarks")):
        file_json = tmp_path / f"{task}.json"
        argv = ["evaluate", "--gt", str(gt), "--results", str(preds / "results.json"),
                "--task", task, "--json", str(file_json)]  # fmt: skip
        assert cli.main(argv) == 0
        from_file = json.loads(file_json.read_text())
        for stat in ("AP", "AP50", "AP75"):
            assert from_file[stat] == pytest.approx(metrics[key][stat], abs=1e-9), (task, stat)


def test_retrieve_writes_the_pipeline_rows(setup, tmp_path, capsys) -> None:
    ckpt, split = setup
    metrics_file = tmp_path / "all.json"
    argv = ["evaluate", "--weights", str(ckpt), "--split", str(split), "--device", "cpu",
            "--json", str(metrics_file)]  # fmt: skip
    assert cli.main(argv) == 0
    metrics = json.loads(metrics_file.read_text())["retrieval_gt_boxes"]
    capsys.readouterr()
    rows_file = tmp_path / "r.json"
    argv = ["retrieve", "--weights", str(ckpt), "--split", str(split), "--out", str(rows_file),
            "--gt-boxes", "--device", "cpu"]  # fmt: skip
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    rows = json.loads(rows_file.read_text())
    g = metrics["gallery_size"]
    assert f"against {g} gallery garments" in printed
    assert all(len(r["gallery_image_id"]) == min(g, 20) for r in rows)
    if g < 20:
        assert "each row lists all of them" in printed
    assert f"top1={metrics['top1']:.3f}" in printed


def test_set_scores_the_checkpoint_with_other_inference_options(setup, tmp_path, capsys) -> None:
    ckpt, split = setup
    base = ["evaluate", "--weights", str(ckpt), "--split", str(split), "--device", "cpu"]
    counts = {}
    for name, sets in (
        ("as_trained", []),
        ("cap3", ["--set", "model.box_detections_per_img=3"]),
        ("cross_class", ["--set", "model.box_cross_class_nms_thresh=0.5"]),
    ):
        out = tmp_path / f"{name}.json"
        assert cli.main([*base, *sets, "--json", str(out)]) == 0
        counts[name] = json.loads(out.read_text())["num_detections"]
    # the untrained model scores every class on every proposal: the per-class NMS keeps
    # overlapping boxes of different classes, which the cross-class pass removes
    assert counts["cap3"] == 3 * 8 < counts["as_trained"] <= 10 * 8
    assert counts["cross_class"] < counts["as_trained"]
    capsys.readouterr()
    for option, message in (
        ("model.backbone=resnet50", "model.backbone: not an inference option"),
        ("solver.base_lr=0.1", "solver.base_lr: not an inference option"),
        ("model.box_cross_class_nms_thresh=2", "model.box_cross_class_nms_thresh: expected"),
        ("model.box_score_thresh=high", "model.box_score_thresh"),
    ):
        assert cli.main([*base, "--set", option]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (option, err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--weights", "x.pt"], "--weights and --split go together"),
        (["--weights", "x.pt", "--split", "d", "--task", "bbox"], "cannot be combined"),
        (["--gt", "g.json"], "give --weights CKPT --split DIR"),
    ],
)
def test_evaluate_argument_errors(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_per_category_comparison_puts_ours_beside_published_rows(setup, tmp_path, capsys) -> None:
    ckpt, split = setup
    mine = tmp_path / "published.yaml"
    mine.write_text("Paper X: {overall: 0.5, skirt: 0.25}\n")
    out = tmp_path / "m.json"
    argv = ["evaluate", "--weights", str(ckpt), "--split", str(split), "--device", "cpu",
            "--compare", str(mine), "--json", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    table = printed.split("AP by category beside published results")[1].split("wrote")[0]
    # columns are separated by two or more spaces (names have single ones)
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.strip().splitlines()[1:]]
    lines = {row[0]: row for row in rows}
    metrics = json.loads(out.read_text())
    assert lines["overall"][1] == f"{metrics['bbox']['AP']:.3f}" and lines["overall"][-1] == "0.500"
    assert lines["skirt"][-1] == "0.250"
    scored = [n for n, v in metrics["bbox"]["per_category"].items() if v["AP"] >= 0]
    assert scored and all(lines[n][1] == f"{metrics['bbox']['per_category'][n]['AP']:.3f}"
                          for n in scored)  # fmt: skip
    assert lines["skirt"][1] == (
        "-"
        if metrics["bbox"]["per_category"]["skirt"]["AP"] < 0
        else f"{metrics['bbox']['per_category']['skirt']['AP']:.3f}"
    )
    assert len(lines) == 14  # 13 categories + overall

    assert cli.main(["evaluate", "--weights", str(ckpt), "--split", str(split), "--device", "cpu",
                     "--compare", "deepfashion2"]) == 0  # fmt: skip
    assert "DeepMark++" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text("Paper X: {overall: 7}\n")
    argv = ["evaluate", "--weights", str(ckpt), "--split", str(split), "--compare", str(bad)]
    assert cli.main(argv) != 0
    err = capsys.readouterr().err
    assert "bad.yaml: Paper X.overall: expected an AP in [0, 1]" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def parsing_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate_parsing")
    generate_fashionpedia(root / "data", 0, 4, seed=5, size=64)
    ckpt, _ = untrained_checkpoint(root / "parsing.pt", PARSING, seed=1)
    return ckpt, root / "data"


def _ap(value: float) -> str:
    return "-" if value < 0 else f"{value:.3f}"


def test_per_category_of_a_coco_format_checkpoint_names_the_files_categories(
    parsing_setup, tmp_path, capsys
) -> None:
    ckpt, data = parsing_setup
    out = tmp_path / "m.json"
    argv = ["evaluate", "--weights", str(ckpt), "--split", str(data), "--partition", "val",
            "--device", "cpu", "--json", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    assert "AP by category" not in capsys.readouterr().out  # only when asked
    assert cli.main([*argv, "--per-category"]) == 0
    printed = capsys.readouterr().out
    table = printed.split("AP by category\n")[1].split("\nwrote")[0]
    rows = [re.split(r"\s{2,}", line.strip()) for line in table.strip().splitlines()]
    assert rows[0] == ["category", "box AP", "mask AP", "AP IoU+F1"]
    metrics = json.loads(out.read_text())
    assert metrics["num_detections"] > 0
    categories = json.loads((data / annotation_file("val")).read_text())["categories"]
    names = [c["name"] for c in sorted(categories, key=lambda c: c["id"])]
    assert "shirt, blouse" in names  # the file's table, not DeepFashion2's
    lines = {row[0]: row[1:] for row in rows[1:]}
    assert list(lines) == [*names, "overall"]
    for name in names:
        expected = (
            metrics["bbox"]["per_category"][name]["AP"],
            metrics["segm"]["per_category"][name]["AP"],
            metrics["attributes"]["per_category"][name]["iou+f1"]["AP"],
        )
        assert lines[name] == [_ap(v) for v in expected], name
    overall = (metrics["bbox"]["AP"], metrics["segm"]["AP"], metrics["attributes"]["iou+f1"]["AP"])
    assert lines["overall"] == [_ap(v) for v in overall]
    assert any(v != "-" for name in names for v in lines[name])  # some category is scored
