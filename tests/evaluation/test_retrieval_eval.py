"""Tests of the DeepFashion2 consumer-to-shop retrieval protocol, one rule per test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.retrieval import (
    RetrievalFormatError,
    box_iou_pairwise,
    evaluate_retrieval,
    load_retrieval_gt,
    load_retrieval_results,
)

# ../shared beside the checkout (absent in a user's fresh clone: the test skips)
SHARED = Path(__file__).resolve().parents[3] / "shared"
EXAMPLE = SHARED / "data/deepfashion2_samples/example_results/example_retrieval_results.json"
FILLER_ID = 999  # a shop image that never matches any query: pads result lists to 20
FILLER_BOX = [0.0, 0.0, 1.0, 1.0]
SHOP_BOX = [10.0, 10.0, 110.0, 110.0]


def query(img: int, pair: int, style: int, cls: int, box: list[float]) -> dict:
    return {"query_image_id": img, "pair_id": pair, "style": style, "cls": cls, "bbox": box}


def shop(img: int, pair: int, style: int, box: list[float] = SHOP_BOX) -> dict:
    return {"gallery_image_id": img, "pair_id": pair, "style": style, "bbox": box}


def result(
    img: int,
    box: list[float],
    cls: int = 1,
    score: float = 0.9,
    ranked: list[tuple[int, list[float]]] | None = None,
) -> dict:
    """A result row whose first entries are `ranked` and the rest filler misses (20 in all)."""
    ranked = list(ranked or [])
    ranked += [(FILLER_ID, FILLER_BOX)] * (20 - len(ranked))
    return {
        "query_image_id": img,
        "query_bbox": box,
        "query_cls": cls,
        "query_score": score,
        "gallery_image_id": [i for i, _ in ranked],
        "gallery_bbox": [b for _, b in ranked],
    }


def gallery(*rows: dict) -> list[dict]:
    return [shop(FILLER_ID, 999, 1, [500.0, 500.0, 600.0, 600.0]), *rows]


HIT = [(50, SHOP_BOX)]  # a correct first result for pair 1 / style 1 (see `gallery_p1`)


def gallery_p1() -> list[dict]:
    return gallery(shop(50, 1, 1), shop(51, 1, 2))


def test_box_iou_pairwise_matches_hand_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[0, 0, 10, 5], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], float)
    np.testing.assert_allclose(box_iou_pairwise(a, b), [0.5, 50 / 150, 0.0, 0.0])


def test_assignment_has_no_minimum_iou():
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    tiny_overlap = [99, 99, 200, 200]  # IoU ~ 1e-4
    out = evaluate_retrieval(q, gallery_p1(), [result(1, tiny_overlap, ranked=HIT)])
    assert out["top1"] == 1.0 and out["num_missed"] == 0


def test_zero_iou_detection_goes_to_the_first_item_as_in_the_official_argmax():
    q = [query(1, 1, 1, 1, [0, 0, 50, 50]), query(1, 1, 2, 2, [60, 60, 100, 100])]
    far = [300, 300, 400, 400]
    gal = gallery(shop(50, 1, 1), shop(51, 1, 2))
    # Class 1 = the first item's class: it becomes that item's query.
    out = evaluate_retrieval(q, gal, [result(1, far, cls=1, ranked=HIT)])
    assert (out["top1"], out["num_missed"]) == (0.5, 1)
    # Class 2: assigned to the first item all the same, so the second item (class 2) misses.
    out = evaluate_retrieval(q, gal, [result(1, far, cls=2, ranked=[(51, SHOP_BOX)])])
    assert (out["top20"], out["num_missed"]) == (0.0, 2)


def test_iou_tie_goes_to_the_item_listed_first():
    q = [query(1, 1, 1, 1, [0, 0, 10, 10]), query(1, 1, 2, 1, [10, 0, 20, 10])]
    between = [5, 0, 15, 10]  # IoU 1/3 with both
    gal = gallery(shop(50, 1, 1), shop(51, 1, 2))
    out = evaluate_retrieval(q, gal, [result(1, between, ranked=[(51, SHOP_BOX), (50, SHOP_BOX)])])
    # Query of item 1 (style 1): its hit is at rank 2.
    assert (out["top1"], out["top5"], out["num_missed"]) == (0.0, 0.5, 1)


def test_style0_item_absorbs_a_detection_so_the_paired_item_misses():
    q = [query(1, 1, 0, 1, [0, 0, 100, 100]), query(1, 1, 1, 1, [0, 0, 100, 60])]
    det = [0, 0, 100, 95]  # IoU .95 with the style-0 item, .63 with the style-1 one
    out = evaluate_retrieval(q, gallery_p1(), [result(1, det, ranked=HIT)])
    assert out == {
        "top1": 0.0, "top5": 0.0, "top10": 0.0, "top15": 0.0, "top20": 0.0,
        "num_queries": 1, "num_missed": 1,
    }  # fmt: skip


def test_wrong_class_is_a_miss():
    q = [query(1, 1, 1, 3, [0, 0, 100, 100])]
    out = evaluate_retrieval(q, gallery_p1(), [result(1, [0, 0, 100, 100], cls=4, ranked=HIT)])
    assert (out["top20"], out["num_missed"]) == (0.0, 1)


def test_highest_scoring_correct_detection_is_the_query():
    q = [query(1, 1, 1, 3, [0, 0, 100, 100])]
    box = [0, 0, 100, 100]
    rows = [
        result(1, box, cls=3, score=0.5, ranked=HIT),
        result(1, box, cls=3, score=0.8),  # no hit: wins on score
        result(1, box, cls=5, score=0.99, ranked=HIT),  # wrong class: ignored
    ]
    assert evaluate_retrieval(q, gallery_p1(), rows)["top20"] == 0.0
    rows[1]["query_score"] = 0.4
    assert evaluate_retrieval(q, gallery_p1(), rows)["top1"] == 1.0


def test_equal_scores_pick_the_earlier_row():
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    rows = [result(1, [0, 0, 100, 100], ranked=HIT), result(1, [0, 0, 100, 100])]
    assert evaluate_retrieval(q, gallery_p1(), rows)["top1"] == 1.0
    assert evaluate_retrieval(q, gallery_p1(), rows[::-1])["top1"] == 0.0


@pytest.mark.parametrize(("height", "expected"), [(4.9, 0.0), (5.0, 1.0), (10.0, 1.0)])
def test_gallery_iou_threshold_is_inclusive_half(height: float, expected: float):
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    gal = gallery(shop(50, 1, 1, [0, 0, 10, 10]))
    ranked = [(50, [0.0, 0.0, 10.0, height])]  # IoU = height / 10
    assert evaluate_retrieval(q, gal, [result(1, q[0]["bbox"], ranked=ranked)])["top1"] == expected


def test_gallery_item_must_share_pair_and_style():
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    gal = gallery(
        shop(50, 1, 2), shop(60, 2, 1), shop(70, 1, 2), shop(70, 1, 1, [200, 200, 300, 300])
    )
    box = q[0]["bbox"]
    same_pair_other_style = [(50, SHOP_BOX)]
    other_pair_same_style = [(60, SHOP_BOX)]
    # Image 70 holds the right item, but the returned box only overlaps its style-2 neighbour.
    right_image_wrong_item = [(70, SHOP_BOX)]
    for ranked in (same_pair_other_style, other_pair_same_style, right_image_wrong_item):
        assert evaluate_retrieval(q, gal, [result(1, box, ranked=ranked)])["top20"] == 0.0
    hit = [(70, [200.0, 200.0, 300.0, 300.0])]
    assert evaluate_retrieval(q, gal, [result(1, box, ranked=hit)])["top1"] == 1.0


def test_top_k_is_cumulative():
    boxes = [[0, 0, 100, 100], [0, 0, 50, 50], [60, 60, 100, 100], [0, 60, 40, 100]]
    q = [query(1, 1, 1, 1, boxes[0]), query(2, 1, 1, 1, boxes[0]), query(3, 1, 1, 1, boxes[0])]
    q.append(query(4, 1, 1, 1, boxes[0]))
    miss = (FILLER_ID, FILLER_BOX)
    rows = [
        result(1, boxes[0], ranked=HIT),  # rank 1
        result(2, boxes[0], ranked=[miss] * 4 + HIT),  # rank 5
        result(3, boxes[0], ranked=[miss] * 11 + HIT + HIT),  # rank 12 (and 13)
        result(4, boxes[0]),  # none
    ]
    out = evaluate_retrieval(q, gallery_p1(), rows)
    assert [out[f"top{k}"] for k in (1, 5, 10, 15, 20)] == [0.25, 0.5, 0.5, 0.75, 0.75]
    assert (out["num_queries"], out["num_missed"]) == (4, 0)
    out = evaluate_retrieval(q, gallery_p1(), rows, top_k=(3, 12))
    assert out == {"top3": 0.25, "top12": 0.75, "num_queries": 4, "num_missed": 0}


def test_images_without_detections_count_in_the_denominator():
    q = [
        query(1, 1, 1, 1, [0, 0, 100, 100]),
        query(2, 1, 1, 1, [0, 0, 100, 100]),
        query(3, 1, 2, 2, [0, 0, 100, 100]),
        query(3, 1, 0, 3, [0, 0, 10, 10]),  # style 0: not a query
    ]
    out = evaluate_retrieval(q, gallery_p1(), [result(1, [0, 0, 100, 100], ranked=HIT)])
    assert out["num_queries"] == 3 and out["num_missed"] == 2
    assert out["top1"] == pytest.approx(1 / 3)
    empty = evaluate_retrieval(q, gallery_p1(), [])
    assert (empty["top20"], empty["num_queries"], empty["num_missed"]) == (0.0, 3, 3)


def test_gt_box_mode_ignores_class_and_score():
    q = [query(1, 1, 1, 1, [0, 0, 50, 50]), query(1, 1, 2, 2, [50, 50, 100, 100])]
    gal = gallery(shop(50, 1, 1), shop(51, 1, 2))
    rows = [result(1, [0, 0, 50, 50], ranked=HIT), result(1, [50, 50, 100, 100.2], ranked=HIT)]
    for row in rows:
        del row["query_cls"], row["query_score"]
    out = evaluate_retrieval(q, gal, rows, use_gt_boxes=True)
    # Item 2 (style 2) gets row 2, whose first result is a style-1 shop item: a miss.
    assert (out["top1"], out["top20"], out["num_missed"]) == (0.5, 0.5, 0)
    rows[1]["gallery_image_id"][0] = 51
    assert evaluate_retrieval(q, gal, rows, use_gt_boxes=True)["top1"] == 1.0
    # In detection mode the same rows lack their class: a clear error.
    with pytest.raises(RetrievalFormatError, match=r"\[0\]\.query_cls: missing key"):
        evaluate_retrieval(q, gal, rows)


def test_gt_box_mode_prefers_the_exact_box_and_rejects_foreign_boxes():
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    rows = [result(1, [0, 0, 100, 97]), result(1, [0, 0, 100, 100], ranked=HIT)]
    assert evaluate_retrieval(q, gallery_p1(), rows, use_gt_boxes=True)["top1"] == 1.0
    rows.append(result(1, [0, 0, 100, 80], ranked=HIT))
    with pytest.raises(RetrievalFormatError, match=r"R\.json: \[2\]\.query_bbox: GT-box mode"):
        evaluate_retrieval(q, gallery_p1(), rows, use_gt_boxes=True, results_source="R.json")


def _reference(query_gt, gallery_gt, results, ks=(1, 5, 10, 15, 20)):
    """A plain-loop transcription of the protocol, for comparison on random data."""
    hits = dict.fromkeys(ks, 0)
    denominator = sum(1 for g in query_gt if g["style"] > 0)
    for img in {g["query_image_id"] for g in query_gt}:
        items = [g for g in query_gt if g["query_image_id"] == img]
        dets = [r for r in results if r["query_image_id"] == img]
        assigned = []
        for r in dets:
            ious = [box_iou_pairwise(np.array(r["query_bbox"]), np.array(g["bbox"])) for g in items]
            assigned.append(int(np.argmax(ious)))
        for i, g in enumerate(items):
            cands = [d for d, a in zip(dets, assigned, strict=True) if a == i]
            cands = [d for d in cands if d["query_cls"] == g["cls"]]
            if g["style"] == 0 or not cands:
                continue
            best = max(cands, key=lambda d: d["query_score"])  # max keeps the first of equals
            for rank, (gid, gbox) in enumerate(
                zip(best["gallery_image_id"], best["gallery_bbox"], strict=True)
            ):
                ok = any(
                    s["gallery_image_id"] == gid
                    and (s["pair_id"], s["style"]) == (g["pair_id"], g["style"])
                    and box_iou_pairwise(np.array(gbox), np.array(s["bbox"])) >= 0.5
                    for s in gallery_gt
                )
                if ok:
                    for k in ks:
                        hits[k] += rank < k
                    break
    return {f"top{k}": hits[k] / denominator for k in ks}


def _random_case(rng: np.random.Generator):
    def box():
        x, y = rng.integers(0, 60, 2)
        w, h = rng.integers(5, 40, 2)
        return [float(x), float(y), float(x + w), float(y + h)]

    q = []
    for img in range(1, 9):
        pair = int(rng.integers(1, 4))
        for _ in range(int(rng.integers(1, 4))):
            q.append(query(img, pair, int(rng.integers(0, 3)), int(rng.integers(1, 4)), box()))
    gal = [
        shop(100 + i, int(rng.integers(1, 4)), int(rng.integers(1, 3)), box()) for i in range(30)
    ]
    gal += [
        shop(100 + i, int(rng.integers(1, 4)), int(rng.integers(1, 3)), box()) for i in range(10)
    ]
    rows = []
    for img in range(1, 9):
        for _ in range(int(rng.integers(0, 5))):
            ranked = []
            for _ in range(20):
                s = gal[int(rng.integers(len(gal)))]
                jitter = rng.integers(-6, 7, 4).astype(float)
                b = np.array(s["bbox"]) + jitter
                b[2:] = np.maximum(b[2:], b[:2])
                ranked.append((s["gallery_image_id"], b.tolist()))
            rows.append(
                result(img, box(), int(rng.integers(1, 4)), float(rng.integers(0, 4)), ranked)
            )
    return q, gal, rows


@pytest.mark.parametrize("seed", range(25))
def test_agrees_with_a_plain_loop_reference_on_random_cases(seed: int):
    q, gal, rows = _random_case(np.random.default_rng(seed))
    out = evaluate_retrieval(q, gal, rows)
    expected = _reference(q, gal, rows)
    for key, value in expected.items():
        assert out[key] == pytest.approx(value), key


def _error(q, gal, rows, **kw) -> str:
    with pytest.raises(FashionVisionError) as info:
        evaluate_retrieval(q, gal, rows, results_source="R.json", **kw)
    return str(info.value)


def test_bad_results_raise_errors_naming_row_and_field():
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    ok = result(1, [0, 0, 100, 100], ranked=HIT)
    ragged = json.loads(json.dumps(ok))
    ragged["gallery_bbox"].pop()
    msg = _error(q, gallery_p1(), [ok, ragged])
    assert msg.startswith(
        "R.json: [1].gallery_bbox: 19 boxes for 20 gallery ids (query_image_id 1)"
    )
    short = json.loads(json.dumps(ok))
    short["gallery_bbox"].pop(), short["gallery_image_id"].pop()
    assert "R.json: [0].gallery_image_id: 19 results, expected 20" in _error(
        q, gallery_p1(), [short]
    )
    unknown_query = result(7, [0, 0, 1, 1])
    assert "[0].query_image_id: image 7 is not in the query GT" in _error(
        q, gallery_p1(), [unknown_query]
    )
    bad_box = result(1, [0, 0, 100])
    assert "[0].query_bbox: expected [x1, y1, x2, y2]" in _error(q, gallery_p1(), [bad_box])
    bad_gallery_box = json.loads(json.dumps(ok))
    bad_gallery_box["gallery_bbox"][3] = [1, 2, 3]
    assert "[0].gallery_bbox[3]: expected" in _error(q, gallery_p1(), [bad_gallery_box])
    inverted = result(1, [50, 0, 10, 100])
    assert "[0].query_bbox: box must be finite" in _error(q, gallery_p1(), [inverted])
    no_score = dict(ok)
    del no_score["query_score"]
    assert "[0].query_score: missing key" in _error(q, gallery_p1(), [no_score])


def test_unknown_gallery_ids_are_errors_unless_allowed():
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    row = result(1, [0, 0, 100, 100], ranked=[(12345, SHOP_BOX), *HIT])
    assert "[0].gallery_image_id[0]: image 12345 is not in the gallery GT" in _error(
        q, gallery_p1(), [row]
    )
    out = evaluate_retrieval(q, gallery_p1(), [row], strict_gallery=False)
    assert (out["top1"], out["top5"]) == (0.0, 1.0)


def test_bad_ground_truth_names_the_file():
    bad_q = [{"query_image_id": 1, "pair_id": 1, "style": 1, "bbox": [0, 0, 1, 1]}]
    with pytest.raises(RetrievalFormatError, match=r"^Q\.json: \[0\]\.cls: missing key"):
        evaluate_retrieval(bad_q, gallery_p1(), [], query_source="Q.json")
    with pytest.raises(RetrievalFormatError, match=r"^G\.json: \[1\]\.style: expected a number"):
        evaluate_retrieval([], [shop(1, 1, 1), shop(2, 1, "x")], [], gallery_source="G.json")


def test_loaders_accept_lists_and_query_gallery_objects(tmp_path: Path):
    q = [query(1, 1, 1, 1, [0, 0, 100, 100])]
    (tmp_path / "q.json").write_text(json.dumps(q))
    (tmp_path / "both.json").write_text(json.dumps({"query": q, "gallery": gallery_p1()}))
    (tmp_path / "r.json").write_text(json.dumps([result(1, [0, 0, 100, 100], ranked=HIT)]))
    (tmp_path / "bad.json").write_text("{not json")
    assert load_retrieval_gt(tmp_path / "q.json", "query") == q
    assert load_retrieval_gt(tmp_path / "both.json", "gallery") == gallery_p1()
    rows = load_retrieval_results(tmp_path / "r.json")
    assert (
        evaluate_retrieval(q, load_retrieval_gt(tmp_path / "both.json", "gallery"), rows)["top1"]
        == 1
    )
    with pytest.raises(RetrievalFormatError, match="bad.json: not valid JSON"):
        load_retrieval_results(tmp_path / "bad.json")
    with pytest.raises(RetrievalFormatError, match=r"expected a JSON list"):
        load_retrieval_results(tmp_path / "both.json")
    with pytest.raises(RetrievalFormatError, match="file not found"):
        load_retrieval_gt(tmp_path / "missing.json", "query")


@pytest.mark.skipif(
    not EXAMPLE.exists(), reason="the official example result file is not available"
)
def test_official_example_result_file():
    rows = load_retrieval_results(EXAMPLE)
    assert len(rows) == 5 and all(len(r["gallery_image_id"]) == 20 for r in rows)
    # GT built to match: image 1 holds a class-8 item (trousers, style 1, pair 1) where the
    # class-8 detection (score .604) lies, and a class-1 item (style 2); plus a style-0 item.
    q = [
        query(1, 1, 1, 8, [201, 181, 288, 410]),
        query(1, 1, 2, 1, [199, 181, 291, 275]),
        query(1, 1, 0, 6, [204, 256, 285, 408]),
    ]
    ids = sorted({i for r in rows for i in r["gallery_image_id"]})
    gal = [shop(i, 1000 + i, 1) for i in ids]  # distractors: no shared pair id
    # Class-8 query: its results are 4, 4, 7, 5, 8, 3, ... Put the matching trousers in image 8
    # (5th result) with its returned box [248.26, ...] mirrored exactly.
    trousers_box = rows[4]["gallery_bbox"][4]
    gal.append(shop(8, 1, 1, trousers_box))
    out = evaluate_retrieval(q, gal, rows)
    # The class-1 detection (IoU ~.99 with the style-2 item) is that item's query, without a hit;
    # the class-6 one is absorbed by the style-0 item; class 3 and 7 have the wrong class.
    assert out["num_queries"] == 2 and out["num_missed"] == 0
    assert [out[f"top{k}"] for k in (1, 5, 10, 15, 20)] == [0.0, 0.5, 0.5, 0.5, 0.5]


def test_oracle_results_on_ground_truth_from_records_score_one():
    """GT rows from `coco_format.retrieval_ground_truth` (ImageAnnotation records) and a perfect
    result file: every style>0 user item retrieves its shop item first."""
    from fashionvision.data import coco_format
    from fashionvision.structures import Garment, ImageAnnotation

    def garment(cls: int, style: int, box: tuple) -> Garment:
        return Garment(cls, box, np.zeros((0, 3)), [], style=style)

    def image(image_id: int, source: str, pair: int, *items: Garment) -> ImageAnnotation:
        return ImageAnnotation(
            image_id, f"image/{image_id:06d}.jpg", 200, 200, source, pair, [*items]
        )

    top_user, top_shop = garment(1, 1, (0, 0, 80, 80)), garment(1, 1, (10, 10, 90, 90))
    trousers = garment(8, 0, (0, 90, 80, 190))
    records = [
        image(1, "user", 1, top_user, trousers),
        image(2, "shop", 1, top_shop, trousers),
        image(3, "user", 2, garment(9, 2, (5, 5, 50, 50))),
        image(4, "shop", 2, garment(9, 2, (0, 0, 60, 60))),
    ]
    query_gt, gallery_gt = coco_format.retrieval_ground_truth(records)
    assert len(query_gt) == 3 and len(gallery_gt) == 2
    by_key = {(g["pair_id"], g["style"]): g for g in gallery_gt}
    rows = []
    for q in query_gt:
        match = by_key.get((q["pair_id"], q["style"]), gallery_gt[0])
        rows.append(result(q["query_image_id"], q["bbox"], q["cls"], 0.9, [
            (match["gallery_image_id"], match["bbox"]),
        ]))  # fmt: skip
    out = evaluate_retrieval(query_gt, gallery(*gallery_gt), rows)
    assert (out["top1"], out["num_queries"], out["num_missed"]) == (1.0, 2, 0)
