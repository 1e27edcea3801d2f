from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL_MODEL, untrained_checkpoint
from PIL import Image

import fashionvision
from fashionvision.categories import CATEGORY_NAMES, category
from fashionvision.config import config_to_dict, load_config
from fashionvision.data.coco_format import detections_to_coco_results
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.checkpoint import CheckpointError, save_checkpoint
from fashionvision.engine.inference import Predictor, load_image
from fashionvision.errors import FashionVisionError

SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A randomly initialised tiny model, its checkpoint and three synthetic 64 px images."""
    root = tmp_path_factory.mktemp("inference")
    generate_dataset(root / "data", train=0, val=2, seed=1, size=64)
    ckpt, model = untrained_checkpoint(root / "model.pt", SMALL)
    paths = sorted((root / "data" / "validation" / "image").glob("*.jpg"))
    return model, ckpt, paths


def test_predict_returns_category_local_landmarks_and_bool_masks(setup):
    model, _, paths = setup
    pil = Image.open(paths[0]).convert("RGB")
    results = Predictor(model, "cpu").predict(
        [pil, np.asarray(pil), paths[0]], score_threshold=0.0, batch_size=2
    )
    assert len(results) == 3
    first = results[0]
    k = len(first["scores"])
    assert 0 < k <= 5 and first["boxes"].shape == (k, 4) and first["labels"].dtype == np.int64
    assert first["masks"].shape == (k, 64, 64) and first["masks"].dtype == bool
    assert first["embeddings"].shape == (k, 16)
    assert first["category_names"] == [CATEGORY_NAMES[int(c)] for c in first["labels"]]
    for label, lm in zip(first["labels"], first["landmarks"], strict=True):
        assert lm.shape == (category(int(label)).num_landmarks, 3)
    # the three inputs are the same picture
    for other in results[1:]:
        np.testing.assert_allclose(other["boxes"], first["boxes"], atol=1e-4)
    assert np.all(np.diff(first["scores"]) <= 0)


def test_score_threshold_filters_everything(setup):
    model, _, paths = setup
    [result] = Predictor(model, "cpu").predict([paths[0]], score_threshold=1.01)
    assert result["boxes"].shape == (0, 4) and result["masks"].shape == (0, 64, 64)
    assert result["landmarks"] == [] and result["category_names"] == []


def test_load_rebuilds_the_model_from_the_checkpoint(setup):
    model, ckpt, paths = setup
    loaded = fashionvision.load(ckpt, device="cpu")
    a = Predictor(model, "cpu").predict(paths, score_threshold=0.0)
    b = loaded.predict(paths, score_threshold=0.0)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x["boxes"], y["boxes"]) and np.array_equal(x["labels"], y["labels"])


def test_detections_convert_to_coco_results(setup):
    model, _, paths = setup
    [dets] = Predictor(model, "cpu").detections([paths[1]], [42], score_threshold=0.0)
    rows = detections_to_coco_results(dets)
    assert rows and {r["image_id"] for r in rows} == {42}
    row = rows[0]
    assert len(row["keypoints"]) == 882 and isinstance(row["segmentation"]["counts"], str)
    cat = category(row["category_id"])
    kps = np.asarray(row["keypoints"]).reshape(294, 3)
    outside = np.ones(294, bool)
    outside[cat.landmark_slice] = False
    assert np.all(kps[outside] == 0)
    x1, y1, x2, y2 = dets[0].bbox
    assert row["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1])


def test_bad_inputs_and_checkpoints_name_the_file(setup, tmp_path):
    model, _, _ = setup
    with pytest.raises(FashionVisionError, match="nope.jpg: image file not found"):
        load_image(tmp_path / "nope.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(FashionVisionError, match="notes.jpg: cannot read image"):
        load_image(text)
    with pytest.raises(FashionVisionError, match="HxWx3 uint8"):
        load_image(np.zeros((4, 4), np.float32))
    no_config = save_checkpoint(tmp_path / "weights.pt", {"model": model.state_dict()})
    with pytest.raises(CheckpointError, match=r"weights.pt: missing entries \['config'\]"):
        fashionvision.load(no_config)
    cfg = load_config("match_rcnn_tiny", [*SMALL, "model.matching_dim=8"])
    mismatch = save_checkpoint(
        tmp_path / "other.pt", {"model": model.state_dict(), "config": config_to_dict(cfg)}
    )
    with pytest.raises(CheckpointError, match="other.pt: model: weights do not fit"):
        fashionvision.load(mismatch)


def test_one_image_is_accepted_as_is_and_a_string_is_a_path(setup):
    model, _, paths = setup
    predictor = Predictor(model, "cpu")
    [expected] = predictor.predict([paths[0]], score_threshold=0.0)
    pil = Image.open(paths[0]).convert("RGB")
    for single in (str(paths[0]), paths[0], pil, np.asarray(pil)):
        [result] = predictor.predict(single, score_threshold=0.0)
        np.testing.assert_allclose(result["boxes"], expected["boxes"], atol=1e-4)
    stacked = np.stack([np.asarray(pil)] * 2)  # [N, H, W, 3]: N images
    assert len(predictor.predict(stacked, score_threshold=0.0)) == 2
    assert len(predictor.predict((str(p) for p in paths), score_threshold=0.0)) == len(paths)
    [dets] = predictor.detections(str(paths[0]), [7], score_threshold=0.0)
    assert {d.image_id for d in dets} == {7}
    with pytest.raises(FashionVisionError, match="got int"):
        predictor.predict(3)


def test_the_landmark_score_column_is_the_heatmap_peak_logit(setup):
    """The documented meaning of the third landmark column: the decoder's heatmap peak value."""
    model, _, paths = setup
    [out] = Predictor(model, "cpu").raw_outputs([paths[0]], score_threshold=0.0)
    [result] = Predictor(model, "cpu").predict([paths[0]], score_threshold=0.0)
    label = int(result["labels"][0])
    peak = out["landmarks"][0, category(label).landmark_slice, 2].double().numpy()
    np.testing.assert_array_equal(result["landmarks"][0][:, 2], peak)
    assert result["landmarks"][0].dtype == np.float64


def _readme_snippet() -> str:
    """The Python block of README.md's "Prediction, the Python API and retrieval" section."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Prediction, the Python API and retrieval", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("threshold", ["0.5", "1.0", "0.0"])
def test_the_readme_snippet_runs_with_and_without_detections(setup, capsys, threshold):
    _, ckpt, paths = setup
    code = _readme_snippet()
    assert 'fashionvision.load("runs/tiny/model_final.pt")' in code and '"street.jpg"' in code
    code = code.replace("runs/tiny/model_final.pt", str(ckpt)).replace("street.jpg", str(paths[0]))
    code = code.replace("score_threshold=0.5", f"score_threshold={threshold}")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result = namespace["result"]
    out = capsys.readouterr().out
    if len(result["scores"]):
        assert out.count(" landmarks, first at ") == len(result["scores"])
    else:
        assert out.startswith("nothing detected")
    if threshold == "0.0":
        assert len(result["scores"]) > 0  # the loop itself ran


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_names_the_argument(setup):
    _, ckpt, _ = setup
    with pytest.raises(FashionVisionError, match=r"^device: cuda requested") as info:
        fashionvision.load(ckpt, device="cuda")
    assert "train.device" not in str(info.value)
