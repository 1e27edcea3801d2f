"""Category and attribute tables of iMaterialist / Fashionpedia files, each tied to its file.

The tables come as ``{"categories": [...], "attributes": [...]}`` lists of ``{id, name,
supercategory, level, ...}`` entries: the Kaggle ``label_descriptions.json`` (2019: 92 attributes,
ids 0-91; 2020: 294 attributes, ids 0-340 with gaps), Fashionpedia's
``category_attributes_descriptions.json`` and the tables inside every Fashionpedia annotation file.
The same attribute has different ids in the 2019 and 2020 tables, and Fashionpedia's sample file
uses an older ontology (48 categories, 320 attributes) than its final release.  So a table is only
ever read from the file that goes with the data: nothing here merges tables or holds a built-in
one, ids are used as written (0 is a valid category), and never as dense indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionvision.errors import AnnotationError, Problem
from fashionvision.io_utils import load_json


@dataclass(frozen=True)
class Label:
    """One category or attribute: its id, name and the file's whole entry (written back as is)."""

    id: int
    name: str
    entry: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class LabelTable:
    """The categories and attributes of one file, keyed by id in file order.

    `origin` names the file (for messages and the ``info`` of converted files); `year` is the
    table's ``info.year`` when it has one (the 2019 Kaggle table does, the 2020 one does not).
    """

    categories: Mapping[int, Label]
    attributes: Mapping[int, Label]
    origin: str
    year: int | None = None

    def category_name(self, category_id: int) -> str:
        return self.categories[category_id].name

    def attribute_names(self, attribute_ids: tuple[int, ...] | list[int]) -> list[str]:
        return [self.attributes[a].name for a in attribute_ids]

    @property
    def attribute_ids_contiguous(self) -> bool:
        """True when the attribute ids are exactly 0..n-1 (the 2019 table), not a sparse set."""
        return sorted(self.attributes) == list(range(len(self.attributes)))


def _labels(entries: Any, key: str, origin: str, problems: list[Problem]) -> dict[int, Label]:
    """The `key` list of a table as {id: Label}; problems (bad entry, repeated id) are appended."""
    if not isinstance(entries, list):
        problems.append(Problem(origin, key, "missing or not a list"))
        return {}
    labels: dict[int, Label] = {}
    for k, entry in enumerate(entries):
        where = f"{key}[{k}]"
        if not isinstance(entry, dict):
            problems.append(Problem(origin, where, "expected an object"))
            continue
        label_id, name = entry.get("id"), entry.get("name")
        if type(label_id) is not int or label_id < 0:  # bool is an int subclass: excluded
            problems.append(Problem(origin, f"{where}.id", "missing or not an integer >= 0"))
        elif not isinstance(name, str):
            problems.append(Problem(origin, f"{where}.name", "missing or not a string"))
        elif label_id in labels:
            problems.append(Problem(origin, f"{where}.id", f"id {label_id} repeated"))
        else:
            labels[label_id] = Label(label_id, name, dict(entry))
    return labels


def parse_label_table(data: Any, origin: str) -> LabelTable:
    """The table of a parsed label file or annotation file (its ``categories`` and
    ``attributes``); `AnnotationError` listing every bad entry."""
    if not isinstance(data, dict):
        raise AnnotationError.single(
            origin, "", "expected a JSON object with categories and attributes"
        )
    problems: list[Problem] = []
    categories = _labels(data.get("categories"), "categories", origin, problems)
    attributes = _labels(data.get("attributes"), "attributes", origin, problems)
    if problems:
        raise AnnotationError(problems)
    info = data.get("info")
    year = info.get("year") if isinstance(info, dict) else None
    return LabelTable(categories, attributes, origin, year if type(year) is int else None)


def load_label_table(path: str | Path) -> LabelTable:
    """Read a ``label_descriptions.json`` / ``category_attributes_descriptions.json``."""
    return parse_label_table(load_json(path), str(path))


def coco_label_entries(labels: Mapping[int, Label]) -> list[dict[str, Any]]:
    """The table's entries as a COCO ``categories`` / ``attributes`` list (copies, file order)."""
    return [dict(label.entry) for label in labels.values()]
