"""The SQLite catalogue: registration, atomic batches, ids never reused, damaged files."""

import numpy as np
import pytest

from fashionvision.errors import IndexCorruptError
from fashionvision.retrieval.catalogue import Catalogue, ImageFile, NewItem


def item(category: int = 1, value: float = 0.0) -> NewItem:
    return NewItem((0, 0, 10, 10), category, 0.9, np.full(4, value, np.float32), 7, 1)


def test_a_batch_is_stored_whole_or_not_at_all(tmp_path):
    cat = Catalogue(tmp_path / "c.sqlite", create=True)
    cat.register([ImageFile("a.jpg", 10, 1), ImageFile("b.jpg", 20, 2, image_id=42)])
    a, b = cat.images(["a.jpg", "b.jpg"])
    assert b.image_id == 42 and not a.done
    version = cat.version
    bad = NewItem((0, 0, 1, 1), "not a number", 0.5, np.zeros(4, np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cat.store_images([a.image_id, b.image_id], [[item()], [bad]])
    assert cat.version == version and cat.counts()["items"] == 0
    assert not any(r.done for r in cat.images(["a.jpg", "b.jpg"]))
    ids = cat.store_images([a.image_id, b.image_id], [[item(1, 1.0), item(3, 2.0)], []])
    assert ids == [1, 2] and cat.version == version + 1
    assert cat.counts() == {
        "images": 2,
        "pending_images": 0,
        "items": 2,
        "per_category": {1: 1, 3: 1},
    }
    rows = cat.items(ids)
    assert rows[2].category == 3 and rows[2].path == "a.jpg" and rows[2].pair_id == 7
    got_ids, categories, vectors = cat.embeddings(4)
    assert got_ids.tolist() == [1, 2] and vectors[:, 0].tolist() == [1.0, 2.0]


def test_changed_files_lose_their_items_and_ids_are_never_reused(tmp_path):
    cat = Catalogue(tmp_path / "c.sqlite", create=True)
    cat.register([ImageFile("a.jpg", 10, 1)])
    [a] = cat.images(["a.jpg"])
    first = cat.store_images([a.image_id], [[item(), item()]])
    assert cat.register([ImageFile("a.jpg", 10, 1)]) == []  # unchanged
    assert cat.register([ImageFile("a.jpg", 11, 1)]) == first  # changed: back to pending
    assert not cat.images(["a.jpg"])[0].done and cat.counts()["items"] == 0
    again = cat.store_images([a.image_id], [[item()]])
    assert again == [3]  # AUTOINCREMENT: 1 and 2 stay retired
    assert cat.remove_items([3, 99]) == 1 and cat.images(["a.jpg"])[0].done
    version = cat.version
    cat.close()
    reopened = Catalogue(tmp_path / "c.sqlite")
    assert reopened.version == version and reopened.counts()["items"] == 0


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"SQLite format 3\x00" + b"\x00" * 50])
def test_a_file_that_is_not_a_catalogue_is_named(tmp_path, content):
    path = tmp_path / "c.sqlite"
    path.write_bytes(content)
    with pytest.raises(IndexCorruptError) as info:
        Catalogue(path)
    assert str(path) in str(info.value)
    with pytest.raises(IndexCorruptError, match="missing"):
        Catalogue(tmp_path / "absent.sqlite")
