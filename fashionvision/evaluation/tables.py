"""Plain-text tables of COCO-style results: the overall numbers, the paper's subset table
(rows AP/AP50/AP75; columns the 12 subsets and the overall value) and the per-category table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fashionvision.evaluation.gt_box_classification import (
    REPORT_KEY,
    format_gt_box_classification,
)
from fashionvision.evaluation.subsets import iter_subsets


def _fmt(value: float) -> str:
    """Three decimals like the paper; -1 (undefined in pycocotools) prints as '-'."""
    return "-" if value < 0 else f"{value:.3f}"


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, columns as wide as their widest cell."""
    table = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for row in table:
        right = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        cells = [row[0].ljust(widths[0]), *right]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_overall(result: Mapping[str, Any], keys: Sequence[str], title: str = "") -> str:
    """One header row of stat names and one row of values."""
    header = [title or "", *keys]
    return _grid(header, [["", *(_fmt(float(result[k])) for k in keys)]])


def format_subset_table(result: Mapping[str, Any]) -> str:
    """The paper's table 4 layout from `evaluate_coco(..., subsets=True)`'s output.

    Columns: scale small/moderate/large, occlusion slight/medium/heavy, zoom_in no/medium/large,
    viewpoint no wear/frontal/side or back, overall; rows AP, AP50, AP75.
    """
    subsets = result["subsets"]
    columns = list(iter_subsets())
    # the attribute name heads only the first of its three columns
    groups = ["", *(attr if value == 1 else "" for attr, value, _ in columns), ""]
    header = ["", *(name for _, _, name in columns), "overall"]
    rows = [groups, header]
    for key in ("AP", "AP50", "AP75"):
        values = [subsets[attr][name][key] for attr, _, name in columns] + [result[key]]
        rows.append([key, *(_fmt(float(v)) for v in values)])
    return _grid(rows[0], rows[1:])


def format_per_category_table(result: Mapping[str, Any], keys: Sequence[str]) -> str:
    """One row per category (by name) with the given stat `keys` as columns."""
    per_category = result["per_category"]
    rows = [[name, *(_fmt(float(stats[k])) for k in keys)] for name, stats in per_category.items()]
    return _grid(["category", *keys], rows)


# The report's sections: (metrics key, title, stat-key task).
_REPORT_TASKS: tuple[tuple[str, str, str], ...] = (
    ("bbox", "Boxes", "bbox"),
    ("segm", "Masks", "segm"),
    ("landmarks", "Landmarks (visible + occluded)", "landmarks"),
    ("landmarks_visible", "Landmarks (visible only)", "landmarks"),
)
_RETRIEVAL = (("retrieval", "detected boxes"), ("retrieval_gt_boxes", "GT boxes"))


def format_retrieval(result: Mapping[str, Any], title: str) -> str:
    """``Retrieval (title): top1=… top20=…  queries=… missed=… gallery=…`` on one line."""
    tops = "  ".join(f"{k}={float(v):.3f}" for k, v in result.items() if k.startswith("top"))
    extra = f"  queries={result['num_queries']} missed={result['num_missed']}"
    if "gallery_size" in result:
        extra += f" gallery={result['gallery_size']}"
    return f"Retrieval ({title}): {tops}{extra}"


def format_report(
    metrics: Mapping[str, Any], subsets: bool = True, per_category: bool = False
) -> str:
    """All the tables of an evaluation report (`fashionvision.engine.evaluate` output): the
    overall numbers of every task present, the box subset table, optionally the per-category
    box table, and the retrieval lines."""
    from fashionvision.evaluation.coco_eval import stat_keys

    parts = []
    for key, title, task in _REPORT_TASKS:
        if key in metrics:
            parts.append(format_overall(metrics[key], stat_keys(task), title))
    box = metrics.get("bbox", {})
    if subsets and "subsets" in box:
        parts.append("Box AP by subset\n" + format_subset_table(box))
    if per_category and "per_category" in box:
        parts.append(
            "Box AP by category\n" + format_per_category_table(box, ("AP", "AP50", "AP75"))
        )
    for key, title in _RETRIEVAL:
        if key in metrics:
            parts.append(format_retrieval(metrics[key], title))
    if REPORT_KEY in metrics:
        parts.append(format_gt_box_classification(metrics[REPORT_KEY]))
    return "\n\n".join(parts)


# FashionNet's published figures (Liu et al., CVPR 2016, "DeepFashion"), printed beside
# ours for reference: category top-3/5 accuracy, attribute (all types) top-3/5 recall, In-shop
# top-20 accuracy, landmark normalized error (lower is better).
FASHIONNET_PUBLISHED: dict[str, float] = {
    "category top3": 0.8258,
    "category top5": 0.9017,
    "attributes top3": 0.4552,
    "attributes top5": 0.5461,
    "retrieval top20": 0.764,
    "landmarks NE": 0.0872,
}


def fashionnet_rows(metrics: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    """(name, value) of FashionNet's headline numbers in `FashionNetEvaluator` output, in the
    order of `FASHIONNET_PUBLISHED` plus per attribute type and retrieval top-1/5/10."""
    rows: list[tuple[str, float | None]] = []
    category = metrics.get("category", {})
    rows += [(f"category top{k}", category.get(f"top{k}")) for k in (3, 5)]
    attributes = metrics.get("attributes", {})
    rows += [(f"attributes top{k}", attributes.get(f"top{k}")) for k in (3, 5)]
    bound = attributes.get("bound", {})
    rows += [(f"  (perfect ranking top{k})", bound.get(f"top{k}")) for k in (3, 5)]
    for name, group in attributes.get("per_type", {}).items():
        rows += [(f"  {name} top{k}", group.get(f"top{k}")) for k in (3, 5)]
    retrieval = metrics.get("retrieval", {})
    rows += [(f"retrieval top{k}", retrieval.get(f"top{k}")) for k in (1, 5, 10, 20)]
    landmarks = metrics.get("landmarks", {})
    rows.append(("landmarks NE", landmarks.get("NE")))
    rows.append(("visibility accuracy", landmarks.get("visibility_accuracy")))
    return [(name, value) for name, value in rows if value is not None]


def format_fashionnet_report(metrics: Mapping[str, Any]) -> str:
    """FashionNet's numbers beside the published ones (a reference, not a target)."""
    rows = [[name, f"{value:.3f}", _published(name)] for name, value in fashionnet_rows(metrics)]
    return _grid(["metric", "measured", "FashionNet (paper)"], rows)


def _published(name: str) -> str:
    value = FASHIONNET_PUBLISHED.get(name)
    return "" if value is None else f"{value:.3f}"


def load_published(spec: str) -> dict[str, dict[str, float]]:
    """Published per-category rows: a shipped name (``deepfashion2`` =
    ``fashionvision/published/deepfashion2_box_ap.yaml``) or a YAML/JSON file mapping method ->
    {``overall`` or a category name: AP}.  Errors name the file and the key."""
    from pathlib import Path

    import yaml

    from fashionvision.errors import FashionVisionError

    shipped = Path(__file__).resolve().parents[1] / "published" / f"{spec}_box_ap.yaml"
    path = shipped if shipped.is_file() else Path(spec)
    if not path.is_file():
        raise FashionVisionError(f"--compare {spec}: neither 'deepfashion2' nor a file")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FashionVisionError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not data:
        raise FashionVisionError(f"{path}: expected a mapping of method -> {{category: AP}}")
    out: dict[str, dict[str, float]] = {}
    for method, rows in data.items():
        if not isinstance(rows, dict):
            raise FashionVisionError(f"{path}: {method}: expected a mapping of category -> AP")
        out[str(method)] = {}
        for name, value in rows.items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not 0 <= value <= 1:
                raise FashionVisionError(f"{path}: {method}.{name}: expected an AP in [0, 1]")
            out[str(method)][str(name)] = float(value)
    return out


def _ap_columns(metrics: Mapping[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """(title, {category name or 'overall': AP}) of each kind of AP in `metrics` that has
    per-category rows: box, mask and, for data with attributes, Fashionpedia's AP over IoU and
    attribute F1 (whose rows sit in ``attributes.per_category[name]["iou+f1"]``)."""
    columns = []
    for key, title in (("bbox", "box AP"), ("segm", "mask AP")):
        stats = metrics.get(key)
        if isinstance(stats, Mapping) and "per_category" in stats:
            rows = {name: row["AP"] for name, row in stats["per_category"].items()}
            columns.append((title, {**rows, "overall": stats["AP"]}))
    attributes = metrics.get("attributes")
    if isinstance(attributes, Mapping) and "per_category" in attributes:
        rows = {name: row["iou+f1"]["AP"] for name, row in attributes["per_category"].items()}
        columns.append(("AP IoU+F1", {**rows, "overall": attributes["iou+f1"]["AP"]}))
    return columns


def format_per_category_comparison(
    metrics: Mapping[str, Any], published: Mapping[str, Mapping[str, float]]
) -> str:
    """Rows: each category, then ``overall``; columns: our box AP, our mask AP and our AP over
    IoU and attribute F1 (each where scored per category), then each published method's box AP
    ('' where it gives none).  With no `published` method it is our per-category table."""
    columns = _ap_columns(metrics)
    names = [name for name in columns[0][1] if name != "overall"] if columns else []
    header = ["category", *(title for title, _ in columns), *published]
    rows = []
    for name in [*names, "overall"]:
        row = [name, *(_fmt(float(values.get(name, -1))) for _, values in columns)]
        for rows_of_method in published.values():
            value = rows_of_method.get(name)
            row.append("" if value is None else f"{value:.3f}")
        rows.append(row)
    return _grid(header, rows)


def format_parsing_report(metrics: Mapping[str, Any], per_category: bool = False) -> str:
    """Box and mask AP of a COCO-format evaluation, and the Fashionpedia AP over IoU and
    attribute F1 (`fashionvision.evaluation.coco_json_evaluator`); with `per_category` (and
    rows in `metrics`) the AP of each category side by side (`format_per_category_comparison`)."""
    parts = []
    for key, title in (("bbox", "Boxes"), ("segm", "Masks")):
        if key in metrics:
            parts.append(format_overall(metrics[key], ("AP", "AP50", "AP75"), title))
    attributes = metrics.get("attributes")
    if attributes:
        rows = [
            [name, *(_fmt(float(attributes[name][k])) for k in ("AP", "AP50", "AP75"))]
            for name in ("iou+f1", "iou")
            if isinstance(attributes.get(name), Mapping)
        ]
        if isinstance(attributes.get("AP_grid"), int | float):
            rows.append(["AP_grid (10 x 10)", _fmt(float(attributes["AP_grid"])), "", ""])
        if rows:
            parts.append(_grid(["Fashionpedia AP", "AP", "AP50", "AP75"], rows))
    if per_category and _ap_columns(metrics):
        parts.append("AP by category\n" + format_per_category_comparison(metrics, {}))
    return "\n\n".join(parts)
