"""The per-category AP table: one column per kind of AP that has per-category rows."""

from __future__ import annotations

import re

from fashionvision.evaluation.tables import format_parsing_report, format_per_category_comparison


def _stats(ap: float, per_category: dict[str, float] | None = None) -> dict:
    out: dict = {"AP": ap, "AP50": ap, "AP75": ap}
    if per_category is not None:
        out["per_category"] = {name: {"AP": v} for name, v in per_category.items()}
    return out


def _rows(text: str) -> list[list[str]]:
    """A table's cells (columns are two or more spaces apart; names have single ones)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]


def test_columns_follow_what_was_scored_per_category() -> None:
    deepfashion2 = {"bbox": _stats(0.4, {"skirt": 0.5, "vest": -1.0}), "segm": _stats(0.3, {})}
    table = format_per_category_comparison(deepfashion2, {"Paper X": {"skirt": 0.25}})
    assert _rows(table) == [
        ["category", "box AP", "mask AP", "Paper X"],
        ["skirt", "0.500", "-", "0.250"],  # a category without a mask row prints '-'
        ["vest", "-", "-"],
        ["overall", "0.400", "0.300"],
    ]

    parsing = {
        "bbox": _stats(0.4, {"shirt, blouse": 0.5}),
        "segm": _stats(0.3, {"shirt, blouse": 0.25}),
        "attributes": {
            "iou+f1": _stats(0.2),
            "iou": _stats(0.3),
            "AP_grid": 0.1,
            "per_category": {"shirt, blouse": {"iou+f1": {"AP": 0.125}, "iou": {"AP": 0.25}}},
        },
    }
    report = format_parsing_report(parsing, per_category=True)
    table = report.split("AP by category\n")[1]
    assert _rows(table) == [
        ["category", "box AP", "mask AP", "AP IoU+F1"],
        ["shirt, blouse", "0.500", "0.250", "0.125"],
        ["overall", "0.400", "0.300", "0.200"],
    ]
    assert "AP by category" not in format_parsing_report(parsing)
    # no per-category rows in the metrics (an evaluator asked for none): no table
    assert "AP by category" not in format_parsing_report({"bbox": _stats(0.4)}, per_category=True)
