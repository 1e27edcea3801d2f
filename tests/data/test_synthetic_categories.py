"""The generator's category knob: instance shares follow a target such as DeepFashion2's skew.

One data set of 2000 images at 64 px (~4 s on two cores) is measured against the DeepFashion2
target.  Fewer images would not do: a pair's garment is in ~3 of its images, so 300 images hold
only ~90 pairs and one pair of trousers more or less moves the trousers share by ~1 point (over
seeds 0-9, 300 images put it up to 7.5 points off its target, 2000 images up to 3.6).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest

from fashionvision.categories import CATEGORY_NAMES, NUM_CATEGORIES
from fashionvision.data.synthetic import (
    CATEGORY_MIXES,
    DEEPFASHION2_INSTANCES,
    CategoryMix,
    generate_dataset,
    load_categories,
)

# Digest of the annotations (JSON) of generate_dataset(train=24, val=8, seed=3, size=64,
# workers=1) computed with the generator before it had the category knob: the default must keep
# writing the same data sets.  (The JPEG bytes are compared with a second call below instead, so
# that a different libjpeg does not fail this test.)
DEFAULT_ANNOS_DIGEST = "562a33cd324fb464018c1d318bad02f8394371baa119546c2d3ac468af63e9e7"
# A pair's garments come in clusters (the same garment in ~3 images of its pair, two garments
# of an outfit together), so a measured share varies about 4 times as much as a binomial one
# (design effect 4, estimated over seeds 0-8); the tolerance is 3 such standard errors.
CLUSTER_EFFECT = 4.0
STANDARD_ERRORS = 3.0


def _counts(root: Path) -> np.ndarray:
    """Annotated items per category id 1..13 (distractors included)."""
    counts = np.zeros(NUM_CATEGORIES, dtype=np.int64)
    for path in root.glob("*/annos/*.json"):
        for key, item in json.loads(path.read_text()).items():
            if key.startswith("item"):
                counts[item["category_id"] - 1] += 1
    return counts


def _describe(shares: np.ndarray, target: np.ndarray) -> str:
    return ", ".join(
        f"{CATEGORY_NAMES[k + 1]} {100 * s:.2f}/{100 * t:.2f}"
        for k, (s, t) in enumerate(zip(shares, target, strict=True))
    )


def _tolerance(target: np.ndarray, n_items: int) -> np.ndarray:
    return STANDARD_ERRORS * np.sqrt(target * (1 - target) * CLUSTER_EFFECT / n_items)


@pytest.fixture(scope="module")
def deepfashion2_split(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("categories")
    generate_dataset(
        root, train=1600, val=400, seed=11, size=64, workers=2, categories="deepfashion2"
    )
    return root


def test_deepfashion2_instance_shares_track_the_target(deepfashion2_split):
    counts = _counts(deepfashion2_split)
    n = int(counts.sum())
    assert n > 2500
    shares = counts / n
    target = np.asarray(CATEGORY_MIXES["deepfashion2"].shares)
    detail = f"measured/target % ({n} items): {_describe(shares, target)}"
    off = np.abs(shares - target) > _tolerance(target, n)
    assert not off.any(), f"off: {[CATEGORY_NAMES[k + 1] for k in np.flatnonzero(off)]}; {detail}"
    assert int(np.argmax(counts)) + 1 == 1, f"short sleeve top is not the most frequent; {detail}"
    # The skew survives: ~24x between short sleeve tops and the two rarest together
    # (short sleeve outwear, sling), about 95x to the rarest alone.
    assert counts[0] >= 10 * (counts[2] + counts[5]), detail
    assert counts.max() >= 10 * max(1, counts.min()), detail


def test_deepfashion2_target_is_the_paper_counts_normalised():
    mix = CATEGORY_MIXES["deepfashion2"]
    total = sum(DEEPFASHION2_INSTANCES.values())
    assert mix.shares == pytest.approx([DEEPFASHION2_INSTANCES[c] / total for c in range(1, 14)])
    assert max(mix.shares) / min(mix.shares) == pytest.approx(95.0)
    assert math.isclose(sum(mix.first), 1.0) and min(mix.first) > 0
    # Relative to a dress (always alone), a top or a bottom is drawn first less often than its
    # share says: tops and bottoms bring each other along.
    for c in (1, 8):
        assert mix.first[c - 1] / mix.first[9] < mix.shares[c - 1] / mix.shares[9]


def _annos_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.json")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_default_output_is_unchanged(tmp_path):
    args = dict(train=24, val=8, seed=3, size=64, workers=1)
    generate_dataset(tmp_path / "omitted", **args)
    assert _annos_digest(tmp_path / "omitted") == DEFAULT_ANNOS_DIGEST, (
        "the default generator writes other annotations than before the category knob (a "
        "numpy or shapely upgrade can do that too)"
    )
    generate_dataset(tmp_path / "none", **args, categories=None)
    generate_dataset(tmp_path / "uniform", **args, categories="uniform")
    digest = tree_digest(tmp_path / "omitted")
    assert tree_digest(tmp_path / "none") == digest == tree_digest(tmp_path / "uniform")


def test_left_out_categories_never_appear_and_a_lopsided_outfit_mix_is_reached(tmp_path):
    # Trousers are rarer than the bottoms that tops bring along at the default rate (50 %):
    # the sampler must lower that rate rather than overshoot (it would give ~31 % trousers).
    mix = load_categories({1: 10, "trousers": 1})
    assert mix is not None and mix.first[7] == 0 and mix.top_gets_bottom < 0.5
    generate_dataset(tmp_path, train=400, val=0, seed=5, size=64, workers=2, categories=mix)
    counts = _counts(tmp_path)
    n = int(counts.sum())
    assert set(np.flatnonzero(counts) + 1) == {1, 8}
    target = np.asarray(mix.shares)
    tol = _tolerance(target, n)
    assert abs(counts[7] / n - target[7]) <= tol[7], (counts[7] / n, target[7], tol[7])


def test_names_ids_and_files_are_read(tmp_path):
    assert load_categories(None) is None and load_categories("uniform") is None
    assert load_categories("deepfashion2") is CATEGORY_MIXES["deepfashion2"]
    path = tmp_path / "mix.yaml"
    path.write_text("Short_Sleeve_Top: 3\n8: 1\nvest dress: 0\n")
    mix = load_categories(path)
    assert isinstance(mix, CategoryMix)
    assert mix.shares[0] == pytest.approx(0.75) and mix.shares[7] == pytest.approx(0.25)
    (tmp_path / "mix.json").write_text('{"1": 3, "trousers": 1.0}')
    assert load_categories(tmp_path / "mix.json") == mix
    assert load_categories({1: 3, 8: 1}) == mix


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jacket: 1\n", "unknown category 'jacket'"),
        ("14: 1\n", "unknown category '14'"),
        ("trousers: -1\n", "weight of 'trousers' must be finite and >= 0, got -1"),
        ("trousers: .nan\n", "weight of 'trousers' must be finite"),
        ("trousers: lots\n", "weight of 'trousers' must be a number, got 'lots'"),
        ("trousers: true\n", "weight of 'trousers' must be a number, got True"),
        ("trousers: [1, 2]\n", "weight of 'trousers' must be a number"),
        ("trousers: 0\nskirt: 0\n", "all category weights are zero"),
        ("{}\n", "all category weights are zero"),
        ("1: 2\nshort sleeve top: 1\n", "'short sleeve top' given twice (1 and 'short sleeve"),
        ("- 1\n- 2\n", "need a mapping of category names or ids to weights"),
        ("", "need a mapping of category names or ids to weights"),
        ("trousers: [1\n", "not YAML/JSON"),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_categories(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_bad_names_and_mappings_are_refused():
    with pytest.raises(ValueError, match="neither one of \\['deepfashion2', 'uniform'\\] nor a"):
        load_categories("deepfashion")
    with pytest.raises(ValueError, match="^categories: unknown category '0'"):
        load_categories({0: 1.0})
    with pytest.raises(ValueError, match="need 13 non-negative numbers"):
        CategoryMix((1.0,) * 12)
