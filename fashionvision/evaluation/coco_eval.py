"""DeepFashion2 box / mask / landmark AP: stock COCO evaluation, exact and fast.

What is computed (the official DeepFashion2 protocol):

* ``bbox`` and ``segm``: stock COCO — IoU .50:.95, maxDets 1/10/100, areas all/small/medium/large;
  the 12 numbers AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.
* ``landmarks``: COCO keypoint evaluation with the 294 official sigmas
  (`fashionvision.categories.oks_sigmas`), object scale = GT ``area`` (the box area), only the GT's
  labelled points (v > 0, hence only its category's slice) count, GT with ``num_keypoints`` 0 is
  ignored, maxDets 20, areas all/medium/large; the 10 numbers AP, AP50, AP75, APm, APl, AR, AR50,
  AR75, ARm, ARl.

Engine: faster-coco-eval's C++ matcher/accumulator (`COCOeval_faster`, 7x faster than pycocotools
on 30k images). Its numbers equal pycocotools' except that its precision omits pycocotools'
``np.spacing(1)`` in tp / (tp + fp + eps), so a summary number can differ in the last bit
(<= 2.2e-16); the tests compare every number with pycocotools' `COCOeval` to 1e-9.
The summary numbers are computed here from the accumulated precision/recall arrays with the same
expression as pycocotools' ``summarize`` so that per-category rows can be sliced from one run:
evaluating category c alone (``params.catIds=[c]``) yields exactly the same precision entries.

Subsets (scale, occlusion, zoom_in, viewpoint; paper table 4). No public script defines them; we
use the *faithful* definition: evaluate against the FULL ground truth, with the GT items outside
the subset marked ``ignore``. A detection matched to an ignored GT is ignored (neither TP nor FP);
an unmatched detection stays a false positive. This is what pycocotools gives when, after its
``_prepare()``, the out-of-subset GT dicts get ``ignore=1`` (stock ``_prepare`` overwrites a GT
``ignore`` field with ``iscrowd``, so the flag has to be set after it). The alternative — dropping
the other GT items — would turn correct detections of them into false positives. The IoU/OKS
matrices do not depend on the ignore flags, so they are computed once and the C++ matching is
re-run per subset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from faster_coco_eval import COCO
from faster_coco_eval.core.faster_eval_api import COCOeval_faster

from fashionvision.categories import CATEGORY_NAMES, NUM_LANDMARKS, oks_sigmas
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.subsets import iter_subsets, outside_subset
from fashionvision.io_utils import load_json

Task = Literal["bbox", "segm", "landmarks"]
TASKS: tuple[str, ...] = ("bbox", "segm", "landmarks")

# (key, is AP, IoU threshold or None for .50:.95, area range label, maxDets) — pycocotools' order.
_DET_STATS: tuple[tuple[str, bool, float | None, str, int], ...] = (
    ("AP", True, None, "all", 100),
    ("AP50", True, 0.5, "all", 100),
    ("AP75", True, 0.75, "all", 100),
    ("APs", True, None, "small", 100),
    ("APm", True, None, "medium", 100),
    ("APl", True, None, "large", 100),
    ("AR1", False, None, "all", 1),
    ("AR10", False, None, "all", 10),
    ("AR100", False, None, "all", 100),
    ("ARs", False, None, "small", 100),
    ("ARm", False, None, "medium", 100),
    ("ARl", False, None, "large", 100),
)
_KPT_STATS: tuple[tuple[str, bool, float | None, str, int], ...] = (
    ("AP", True, None, "all", 20),
    ("AP50", True, 0.5, "all", 20),
    ("AP75", True, 0.75, "all", 20),
    ("APm", True, None, "medium", 20),
    ("APl", True, None, "large", 20),
    ("AR", False, None, "all", 20),
    ("AR50", False, 0.5, "all", 20),
    ("AR75", False, 0.75, "all", 20),
    ("ARm", False, None, "medium", 20),
    ("ARl", False, None, "large", 20),
)


def stat_keys(task: str) -> tuple[str, ...]:
    """The stable result keys of `task`, in pycocotools' ``stats`` order."""
    return tuple(s[0] for s in _stat_spec(task))


def _stat_spec(task: str) -> tuple[tuple[str, bool, float | None, str, int], ...]:
    if task not in TASKS:
        raise FashionVisionError(f"task: unknown task {task!r}, expected one of {', '.join(TASKS)}")
    return _KPT_STATS if task == "landmarks" else _DET_STATS


def _load_gt(gt: dict | str | Path) -> tuple[dict, str]:
    """(GT dict, its name for messages); a path is read with `load_coco_ground_truth`'s checks."""
    from fashionvision.data.coco_format import load_coco_ground_truth

    if isinstance(gt, str | Path):
        return load_coco_ground_truth(gt), str(gt)
    return gt, "<ground truth>"


def _load_results(results: list[dict] | str | Path) -> tuple[Any, str, str]:
    """(rows, origin, rows_name) for messages: a file's rows are ``[i]``, a list's
    ``results[i]``.  A file is only parsed here: `validate_results` checks the rows once, against
    the GT."""
    if isinstance(results, str | Path):
        return load_json(results), str(results), ""
    return results, "<results>", "results"


def validate_gt(gt: Any, origin: str, subsets: bool = False) -> None:
    """Check the COCO GT structure; raise FashionVisionError naming `origin` and the field.

    Only what the evaluation reads is required; other keys (e.g. a stray nested ``images`` list
    inside an annotation, ``info``/``licenses`` as empty strings, as in real converter output)
    are ignored.
    """
    if not isinstance(gt, dict):
        raise FashionVisionError(f"{origin}: top level must be a JSON object (COCO GT)")
    for key in ("images", "annotations", "categories"):
        if not isinstance(gt.get(key), list):
            raise FashionVisionError(f"{origin}: {key}: missing or not a list")
    image_ids = {img.get("id") for img in gt["images"]}
    required = ("id", "image_id", "category_id", "bbox", "area")
    attrs = ("scale", "occlusion", "zoom_in", "viewpoint") if subsets else ()
    for i, ann in enumerate(gt["annotations"]):
        for key in required + attrs:
            if key not in ann:
                raise FashionVisionError(f"{origin}: annotations[{i}].{key}: missing")
        if ann["image_id"] not in image_ids:
            raise FashionVisionError(
                f"{origin}: annotations[{i}].image_id: unknown image id {ann['image_id']}"
            )


def validate_results(
    results: Any, gt: dict, task: str, origin: str, rows_name: str = "results"
) -> None:
    """Check result rows against the GT for `task`; raise `AnnotationError` (a
    FashionVisionError) naming `origin`, row and field (see `validate_result_rows`).

    A row needs only the task's field, as in the official per-task result files (segm rows have
    no ``bbox``, keypoint rows neither); its image and category must be in the GT, and an RLE
    must have its image's size.
    """
    from fashionvision.data.coco_format import validate_result_rows

    image_sizes = {
        img.get("id"): (img["height"], img["width"]) if "height" in img and "width" in img else None
        for img in gt["images"]
    }
    validate_result_rows(
        results,
        origin,
        rows_name=rows_name,
        image_sizes=image_sizes,
        category_ids={c["id"] for c in gt["categories"]},
        required=_TASK_FIELDS[task],
    )


class _CachedEval(COCOeval_faster):
    """`COCOeval_faster` that can re-run matching with extra GT ignore flags, reusing the IoUs."""

    def evaluate_with_ignore(self, extra_ignore: set[int]) -> dict[str, Any]:
        """Matching + accumulation with the GT ids in `extra_ignore` marked ignore.

        Needs a prior `evaluate()` (which computed `self.ious`). Returns the accumulated dict with
        'precision' [T,R,K,A,M] and 'recall' [T,K,A,M] like pycocotools' ``eval``.
        """
        import faster_coco_eval.faster_eval_api_cpp as _C

        p = self._paramsEval
        gts = self.cocoGt.loadAnns(self.cocoGt.getAnnIds(imgIds=p.imgIds, catIds=p.catIds))
        self.gt_dataset.clean()
        for gt in gts:
            gt["ignore"] = int(gt["_base_ignore"] or gt["id"] in extra_ignore)
            self.gt_dataset.append_ref(gt["image_id"], gt["category_id"], gt)
        cat_ids = p.catIds if p.useCats else [-1]
        ious = [[self.ious[img, cat] for cat in cat_ids] for img in p.imgIds]
        return _C.COCOevalEvaluateAccumulate(
            p, ious, self.gt_dataset, self.dt_dataset, p.imgIds, p.catIds, bool(p.useCats)
        )

    def _prepare(self) -> None:
        super()._prepare()
        # Remember the stock flags (iscrowd, or num_keypoints == 0 for landmarks) per GT.
        for gt in self.cocoGt.anns.values():
            gt["_base_ignore"] = int(gt.get("ignore", 0))


def _summary(
    ev: dict[str, Any], params: Any, task: str, cat_index: int | None = None
) -> dict[str, float]:
    """pycocotools' ``summarize`` numbers from an accumulated `ev`, optionally for one category."""
    out: dict[str, float] = {}
    area_labels = list(params.areaRngLbl)
    max_dets = list(params.maxDets)
    for key, is_ap, iou_thr, area, max_det in _stat_spec(task):
        a, m = area_labels.index(area), max_dets.index(max_det)
        s = ev["precision"][..., a, m] if is_ap else ev["recall"][..., a, m]
        if iou_thr is not None:
            s = s[np.where(iou_thr == params.iouThrs)[0]]
        if cat_index is not None:
            s = s[..., cat_index]
        valid = s[s > -1]
        out[key] = float(np.mean(valid)) if len(valid) else -1.0
    return out


# The fields of the official per-task result files. A combined row must be cut down to them:
# pycocotools' loadRes picks its branch from the first field it finds (bbox before keypoints), and
# that branch sets the detection `area` that the area ranges filter on.
_TASK_FIELDS = {"bbox": "bbox", "segm": "segmentation", "landmarks": "keypoints"}


def _task_rows(results: list[dict], task: str) -> list[dict]:
    """Copies of `results` holding only image_id, category_id, score and the task's field."""
    field = _TASK_FIELDS[task]
    return [
        {
            "image_id": r["image_id"],
            "category_id": r["category_id"],
            "score": r["score"],
            field: r[field],
        }
        for r in results
    ]


def _coco_objects(gt: dict, results: list[dict], task: str) -> tuple[COCO, COCO]:
    """COCO GT and results objects on copies (the evaluation writes fields into them)."""
    gt_copy = dict(gt, annotations=[dict(a) for a in gt["annotations"]])
    coco_gt = COCO(gt_copy)
    if results:
        return coco_gt, coco_gt.loadRes(_task_rows(results, task))
    coco_dt = COCO({"images": gt["images"], "categories": gt["categories"], "annotations": []})
    return coco_gt, coco_dt


def category_names(categories: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """The per-category row names of a GT ``categories`` list: {id: name}, in list order.

    Names are the file's own (Fashionpedia's 'shirt, blouse', COCO's 'person'), with one
    exception: an entry laid out as DeepFashion2's (294 keypoint names, an id 1..13), as both our
    `split_to_coco` export and the official converter write it, is named from our table, so the
    official converter's 'long_sleeved_dress' reads 'long sleeve dress' and lines up with
    `--compare`'s published rows.  A name that two ids share gets its id appended: rows are keyed
    by name and would otherwise overwrite each other.
    """
    names: dict[int, str] = {}
    for entry in categories:
        cid = entry["id"]
        deepfashion2 = len(entry.get("keypoints") or ()) == NUM_LANDMARKS
        if deepfashion2 and cid in CATEGORY_NAMES:
            names[cid] = CATEGORY_NAMES[cid]
        else:
            names[cid] = str(entry.get("name", cid))
    repeated = {n for n, times in Counter(names.values()).items() if times > 1}
    return {cid: f"{n} (id {cid})" if n in repeated else n for cid, n in names.items()}


def evaluate_coco(
    gt: dict | str | Path,
    results: list[dict] | str | Path,
    task: Task,
    subsets: bool = False,
    per_category: bool = False,
) -> dict[str, Any]:
    """COCO AP of `results` against `gt` for `task` ('bbox', 'segm' or 'landmarks').

    `gt`: COCO GT dict (the `split_to_coco` export, a Fashionpedia or any COCO instances file) or
    its JSON path; `results`: list of result rows (image_id, category_id, score, and the task's
    field: bbox xywh, segmentation RLE or keypoints 882; other fields are ignored) or a JSON path
    (e.g. an official per-task result file).
    Returns the stat keys of `stat_keys(task)` as floats (-1 when undefined, as pycocotools),
    plus ``per_category[name][key]`` (named by the GT's ``categories``: `category_names`) and
    ``subsets[attribute][value name]["AP"|"AP50"|"AP75"]`` when asked.
    """
    ev, coco_gt = _evaluated(gt, results, task, subsets)
    params = ev._paramsEval
    out: dict[str, Any] = _summary(ev.eval, params, task)
    if per_category:
        names = category_names(coco_gt.dataset["categories"])
        out["per_category"] = {
            names.get(cid, str(cid)): _summary(ev.eval, params, task, k)
            for k, cid in enumerate(params.catIds)
        }
    if subsets:
        out["subsets"] = _subset_summaries(ev, coco_gt.dataset["annotations"], task)
    return out


def _evaluated(
    gt: dict | str | Path, results: list[dict] | str | Path, task: str, subsets: bool
) -> tuple[_CachedEval, COCO]:
    """Load and check `gt` and `results`, run the matching and accumulation once."""
    stat_keys(task)
    gt, gt_origin = _load_gt(gt)
    results, res_origin, rows_name = _load_results(results)
    validate_gt(gt, gt_origin, subsets=subsets)
    validate_results(results, gt, task, res_origin, rows_name)

    coco_gt, coco_dt = _coco_objects(gt, results, task)
    iou_type = "keypoints" if task == "landmarks" else task
    sigmas = oks_sigmas() if task == "landmarks" else None
    ev = _CachedEval(coco_gt, coco_dt, iou_type, kpt_oks_sigmas=sigmas, print_function=_quiet)
    ev.evaluate()
    ev.accumulate()
    return ev, coco_gt


def evaluate_coco_ignoring(
    gt: dict | str | Path,
    results: list[dict] | str | Path,
    task: Task,
    ignore: Mapping[str, Collection[int]],
) -> dict[str, dict[str, float]]:
    """`evaluate_coco`'s summary numbers once per entry of `ignore`: ``{name: stats}``, each
    against the full GT with the annotation ids ``ignore[name]`` marked ignore (the subset rule of
    this module's docstring; an empty collection gives the plain numbers).  The IoUs are computed
    once and only the matching is re-run, so any subset definition (e.g. the image ``source``,
    which is not one of the paper's four attributes) gets the same rule as the subset table."""
    ev, _ = _evaluated(gt, results, task, subsets=False)
    out: dict[str, dict[str, float]] = {}
    for name, ids in ignore.items():
        acc = ev.evaluate_with_ignore(set(ids)) if ids else ev.eval
        out[name] = _summary(acc, ev._paramsEval, task)
    return out


def _subset_summaries(
    ev: _CachedEval, annotations: Sequence[dict], task: str
) -> dict[str, dict[str, dict[str, float]]]:
    """AP/AP50/AP75 of the 12 subsets, each against the full GT with the others ignored."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for attribute, value, name in iter_subsets():
        acc = ev.evaluate_with_ignore(outside_subset(annotations, attribute, value))
        stats = _summary(acc, ev._paramsEval, task)
        out.setdefault(attribute, {})[name] = {k: stats[k] for k in ("AP", "AP50", "AP75")}
    return out


def _quiet(*_args: object, **_kwargs: object) -> None:
    """Swallow faster-coco-eval's progress prints."""
