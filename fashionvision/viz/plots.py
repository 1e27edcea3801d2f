"""Charts drawn with PIL alone (matplotlib is not a dependency): a confusion matrix and bar
charts of the AP an oracle would gain per error type (`fashionvision.evaluation.error_analysis`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from fashionvision.viz.draw import _font

# One colour per error type, in `error_analysis.ERROR_TYPES` + `SPECIAL_TYPES` order.
ERROR_COLORS: dict[str, tuple[int, int, int]] = {
    "classification": (230, 85, 13),
    "localization": (49, 130, 189),
    "both": (117, 107, 177),
    "duplicate": (99, 99, 99),
    "background": (214, 39, 40),
    "missed": (44, 160, 44),
    "false_positives": (253, 174, 107),
    "false_negatives": (161, 217, 155),
}
_WHITE, _BLACK, _GREY = (255, 255, 255), (0, 0, 0), (200, 200, 200)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> int:  # noqa: ANN001
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def draw_confusion_matrix(
    matrix: np.ndarray | Sequence[Sequence[int]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str = "",
    cell: int = 40,
) -> Image.Image:
    """A heat map of `matrix` (rows GT, columns predicted), each cell shaded by its share of its
    row and labelled with its count; rows and columns named by `row_labels` / `col_labels`."""
    m = np.asarray(matrix, dtype=np.int64)
    n_rows, n_cols = m.shape
    font, small = _font(13), _font(11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = max(_text_width(probe, s, font) for s in row_labels) + 16
    top = max(_text_width(probe, s, font) for s in col_labels) + 16 + (24 if title else 0)
    width, height = left + n_cols * cell + 12, top + n_rows * cell + 40
    img = Image.new("RGB", (width, height), _WHITE)
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((8, 6), title, fill=_BLACK, font=_font(15))
    row_sums = m.sum(axis=1, keepdims=True).clip(min=1)
    share = m / row_sums
    for i in range(n_rows):
        y = top + i * cell
        label = row_labels[i]
        draw.text((left - 8 - _text_width(draw, label, font), y + cell // 2 - 8), label,
                  fill=_BLACK, font=font)  # fmt: skip
        for j in range(n_cols):
            x = left + j * cell
            s = float(share[i, j])
            diagonal = i == j and i < min(n_rows, n_cols) - 1
            base = (44, 160, 44) if diagonal else (214, 39, 40)
            fill = tuple(round(255 - s * (255 - c)) for c in base)
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=fill, outline=_GREY)
            if m[i, j]:
                text = str(int(m[i, j]))
                color = _WHITE if s > 0.6 else _BLACK
                tw = _text_width(draw, text, small)
                draw.text((x + (cell - tw) // 2, y + cell // 2 - 7), text, fill=color, font=small)
    # column labels, rotated
    for j, label in enumerate(col_labels):
        tw = _text_width(draw, label, font)
        strip = Image.new("RGB", (tw + 4, 18), _WHITE)
        ImageDraw.Draw(strip).text((2, 1), label, fill=_BLACK, font=font)
        strip = strip.rotate(90, expand=True)
        img.paste(strip, (left + j * cell + cell // 2 - 9, top - 8 - strip.height))
    draw.text((left, top + n_rows * cell + 8), "rows: ground truth   columns: predicted",
              fill=(90, 90, 90), font=small)  # fmt: skip
    return img


def draw_error_bars(
    panels: Sequence[tuple[str, Mapping[str, float | None]]],
    types: Sequence[str],
    title: str = "",
    ncols: int = 4,
    labels: Mapping[str, str] | None = None,
) -> Image.Image:
    """Small multiples: one panel per (panel title, {type: dAP}), a horizontal bar per type, all
    panels on one shared scale so that they compare; None draws as '-'."""
    labels = labels or {}
    font, small = _font(12), _font(11)
    values = [v for _, d in panels for v in d.values() if v is not None]
    vmax = max([0.05, *values])
    label_w, bar_w, bar_h, gap = 44, 150, 14, 4
    pw = label_w + bar_w + 50
    ph = 26 + len(types) * (bar_h + gap) + 8
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols) if panels else 1
    head = 30 if title else 6
    img = Image.new("RGB", (ncols * pw + 10, head + nrows * ph + 26), _WHITE)
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((8, 6), title, fill=_BLACK, font=_font(15))
    for k, (name, dap) in enumerate(panels):
        r, c = divmod(k, ncols)
        x0, y0 = 5 + c * pw, head + r * ph
        draw.rectangle((x0, y0, x0 + pw - 6, y0 + ph - 4), outline=_GREY)
        draw.text((x0 + 6, y0 + 4), name, fill=_BLACK, font=font)
        for t_idx, t in enumerate(types):
            y = y0 + 24 + t_idx * (bar_h + gap)
            draw.text((x0 + 6, y), labels.get(t, t), fill=_BLACK, font=small)
            v = dap.get(t)
            bx = x0 + label_w
            draw.line((bx, y - 1, bx, y + bar_h), fill=_GREY)
            if v is None:
                draw.text((bx + 4, y), "-", fill=(90, 90, 90), font=small)
                continue
            length = round(bar_w * v / vmax)
            if length:
                draw.rectangle((bx, y, bx + length, y + bar_h - 1),
                               fill=ERROR_COLORS.get(t, (120, 120, 120)))  # fmt: skip
            draw.text((bx + length + 4, y), f"{v:.3f}", fill=_BLACK, font=small)
    draw.text((8, head + nrows * ph + 6), f"dAP (AP50 gained if fixed); scale 0 .. {vmax:.2f}",
              fill=(90, 90, 90), font=small)  # fmt: skip
    return img


def stack_vertical(images: Sequence[Image.Image], pad: int = 8) -> Image.Image:
    """Images one below the other on white, left-aligned."""
    width = max(im.width for im in images)
    height = sum(im.height for im in images) + pad * (len(images) - 1)
    out = Image.new("RGB", (width, height), _WHITE)
    y = 0
    for im in images:
        out.paste(im.convert("RGB"), (0, y))
        y += im.height + pad
    return out


def draw_analysis_errors(analysis: Mapping, tasks: Sequence[str] = ("bbox", "segm")) -> Image.Image:
    """``errors.png`` of an `analyze_detections` result: per task one chart of dAP per error type,
    a panel for the whole split and one per subset."""
    from fashionvision.evaluation.error_analysis import ERROR_TYPES, SHORT_NAMES, SPECIAL_TYPES

    types = (*ERROR_TYPES, *SPECIAL_TYPES)
    titles = {"bbox": "Box", "segm": "Mask"}
    charts = []
    for task in tasks:
        if task not in analysis:
            continue
        result = analysis[task]
        entries = [("overall", result["overall"])]
        for attribute, values in result.get("subsets", {}).items():
            entries += [(f"{attribute}: {name}", e) for name, e in values.items()]
        panels = []
        for name, e in entries:
            ap = "-" if e["AP50"] is None else f"{e['AP50']:.3f}"
            panels.append((f"{name}  (AP50 {ap}, {e['num_gt']} GT)", e["dAP"]))
        title = f"{titles.get(task, task)} AP50 gained by fixing each error type (TIDE, IoU 0.5)"
        charts.append(draw_error_bars(panels, types, title, ncols=4, labels=SHORT_NAMES))
    if not charts:
        raise ValueError("the analysis holds none of the tasks " + ", ".join(tasks))
    return stack_vertical(charts, pad=16)


def draw_analysis_confusion(analysis: Mapping) -> Image.Image:
    """``confusion.png`` of an `analyze_detections` result."""
    conf = analysis["confusion"]
    title = (
        f"Box confusion matrix (detections scoring >= {conf['score_threshold']:g}, "
        f"IoU >= {conf['iou_threshold']:g})"
    )
    return draw_confusion_matrix(conf["matrix"], conf["rows"], conf["columns"], title)
