"""The gallery index's catalogue: an SQLite file holding what the vectors mean.

Tables:

* ``images``: every image the index has seen (path relative to the indexed root, or absolute for
  one outside it; file size and mtime; ``done`` once its garments are stored).  A build registers
  its images first and marks them done batch by batch, so a rerun skips what is done and
  re-embeds a file whose size or mtime changed.
* ``items``: one row per garment (box x1 y1 x2 y2 in pixels, category 1..13, detection score,
  pair_id and style when known); ids are never reused (AUTOINCREMENT), so an id a client kept
  never names another garment.
* ``embeddings``: each item's raw embedding (float32 bytes): the vector store is derived from it
  and can always be rebuilt from the catalogue alone.
* ``meta``: the schema version and ``version``, a counter bumped by every change.

Every change is one transaction in WAL mode with full sync: a process killed at any point leaves
the catalogue as of its last commit (an image's items and its done flag appear together or not
at all).  SQLite errors become `IndexCorruptError` (a damaged file) or `FashionVisionError`
(locked, disk full), naming the file.  One connection, shared by threads under a lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashionvision.errors import FashionVisionError, IndexCorruptError

SCHEMA_VERSION = 1
PARAMETERS = 500  # ids or paths per query: SQLite caps the number of parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    image_id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    item_id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL REFERENCES images(image_id),
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    category INTEGER NOT NULL,
    score REAL NOT NULL,
    pair_id INTEGER,
    style INTEGER
);
CREATE INDEX IF NOT EXISTS items_by_image ON items(image_id);
CREATE INDEX IF NOT EXISTS items_by_category ON items(category);
CREATE TABLE IF NOT EXISTS embeddings (item_id INTEGER PRIMARY KEY, vector BLOB NOT NULL);
"""

_ITEM_COLUMNS = (
    "items.item_id, items.image_id, images.path, x1, y1, x2, y2, category, score, pair_id, style"
)


@dataclass(frozen=True)
class ImageFile:
    """An image to index: `path` as recorded (relative to the root, posix), its size and mtime;
    `image_id` the id to give it when free (DeepFashion2's number), else None (next free)."""

    path: str
    size: int
    mtime_ns: int
    image_id: int | None = None


@dataclass(frozen=True)
class ImageRow:
    image_id: int
    path: str
    done: bool


@dataclass
class NewItem:
    """A garment found in an image, before it has an id."""

    box: tuple[float, float, float, float]
    category: int
    score: float
    embedding: np.ndarray  # float32 [D]
    pair_id: int | None = None
    style: int | None = None


@dataclass(frozen=True)
class ItemRow:
    item_id: int
    image_id: int
    path: str
    box: tuple[float, float, float, float]
    category: int
    score: float
    pair_id: int | None
    style: int | None


class Catalogue:
    """The SQLite catalogue at `path` (see the module docstring); `create` makes a new one."""

    def __init__(self, path: str | Path, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise IndexCorruptError(f"{self.path}: missing (not a complete gallery index)")
        self._lock = threading.RLock()
        with self._errors():
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if create:  # idempotent: a creation cut short is completed by the next one
                self._db.executescript(_SCHEMA)
                with self._transaction(bump=False) as db:
                    db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('version', '0')",
                        (str(SCHEMA_VERSION),),
                    )
            self._check_schema()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def checkpoint(self) -> None:
        """Move the committed changes from the WAL file into the database file, so that the
        file alone holds the catalogue (an idle index folder can be copied as it is)."""
        with self._errors():
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- state --

    @property
    def version(self) -> int:
        """The change counter (bumped by every committed change)."""
        with self._errors():
            return int(self._meta("version"))

    def counts(self) -> dict[str, Any]:
        """``images`` (done), ``pending_images``, ``items`` and ``per_category`` {id: n}."""
        with self._errors():
            done, pending = self._db.execute(
                "SELECT COALESCE(SUM(done), 0), COALESCE(SUM(1 - done), 0) FROM images"
            ).fetchone()
            per_category = dict(
                self._db.execute(
                    "SELECT category, COUNT(*) FROM items GROUP BY category ORDER BY category"
                ).fetchall()
            )
        return {
            "images": int(done),
            "pending_images": int(pending),
            "items": sum(per_category.values()),
            "per_category": per_category,
        }

    # -- images --

    def register(self, files: Sequence[ImageFile]) -> list[int]:
        """Record `files` to be indexed: new ones as pending; a known file whose size or mtime
        changed goes back to pending and loses its items, whose ids are returned (for the
        vector store); unchanged ones keep their state."""
        removed: list[int] = []
        with self._transaction() as db:
            known = {
                row[1]: (row[0], row[2], row[3])
                for row in self._image_rows(db, [f.path for f in files], "size, mtime_ns")
            }
            for f in files:
                if f.path not in known:
                    free = (
                        f.image_id is not None
                        and not db.execute(
                            "SELECT 1 FROM images WHERE image_id = ?", (f.image_id,)
                        ).fetchone()
                    )
                    db.execute(
                        "INSERT INTO images (image_id, path, size, mtime_ns) VALUES (?, ?, ?, ?)",
                        (f.image_id if free else None, f.path, f.size, f.mtime_ns),
                    )
                elif known[f.path][1:] != (f.size, f.mtime_ns):
                    image_id = known[f.path][0]
                    ids = [
                        r[0]
                        for r in db.execute(
                            "SELECT item_id FROM items WHERE image_id = ?", (image_id,)
                        )
                    ]
                    self._delete_items(db, ids)
                    removed += ids
                    db.execute(
                        "UPDATE images SET size = ?, mtime_ns = ?, done = 0 WHERE image_id = ?",
                        (f.size, f.mtime_ns, image_id),
                    )
        return removed

    def images(self, paths: Sequence[str]) -> list[ImageRow]:
        """The rows of `paths` (registered), in the given order."""
        with self._errors():
            rows = {
                path: ImageRow(image_id, path, bool(done))
                for image_id, path, done in self._image_rows(self._db, paths, "done")
            }
        return [rows[p] for p in paths]

    def store_images(
        self, image_ids: Sequence[int], items: Sequence[Sequence[NewItem]]
    ) -> list[int]:
        """Add the garments found in each image and mark the images done, in one transaction;
        returns the new item ids (images' garments in order)."""
        new_ids: list[int] = []
        with self._transaction() as db:
            for image_id, found in zip(image_ids, items, strict=True):
                for it in found:
                    cursor = db.execute(
                        "INSERT INTO items (image_id, x1, y1, x2, y2, category, score, pair_id, "
                        "style) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (image_id, *map(float, it.box), int(it.category), float(it.score),
                         it.pair_id, it.style),
                    )  # fmt: skip
                    item_id = int(cursor.lastrowid or 0)
                    vector = np.ascontiguousarray(it.embedding, dtype=np.float32).tobytes()
                    db.execute("INSERT INTO embeddings VALUES (?, ?)", (item_id, vector))
                    new_ids.append(item_id)
                db.execute("UPDATE images SET done = 1 WHERE image_id = ?", (image_id,))
        return new_ids

    # -- items --

    def items(self, item_ids: Sequence[int]) -> dict[int, ItemRow]:
        """The rows of those of `item_ids` that exist, by id."""
        out: dict[int, ItemRow] = {}
        ids = [int(i) for i in item_ids]
        with self._errors():
            for start in range(0, len(ids), PARAMETERS):
                part = ids[start : start + PARAMETERS]
                marks = ",".join("?" * len(part))
                for row in self._db.execute(
                    f"SELECT {_ITEM_COLUMNS} FROM items JOIN images USING (image_id) "
                    f"WHERE item_id IN ({marks})",
                    part,
                ):
                    out[row[0]] = ItemRow(
                        row[0], row[1], row[2], tuple(row[3:7]), row[7], row[8], row[9], row[10]
                    )
        return out

    def all_items(self) -> list[ItemRow]:
        """Every item, by increasing id."""
        with self._errors():
            ids = [r[0] for r in self._db.execute("SELECT item_id FROM items ORDER BY item_id")]
        rows = self.items(ids)
        return [rows[i] for i in ids]

    def embeddings(self, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids int64 [N], categories int64 [N], embeddings float32 [N, dim])`` of every item,
        by increasing id (what the vector store is rebuilt from)."""
        with self._errors():
            rows = self._db.execute(
                "SELECT item_id, category, vector FROM items JOIN embeddings USING (item_id) "
                "ORDER BY item_id"
            ).fetchall()
            count = self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        if len(rows) != count or any(len(r[2]) != 4 * dim for r in rows):
            raise IndexCorruptError(f"{self.path}: embeddings missing or of the wrong size")
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        categories = np.asarray([r[1] for r in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
        return ids, categories, vectors.reshape(len(rows), dim).copy()

    def remove_items(self, item_ids: Sequence[int]) -> int:
        """Delete these items (their images stay done: a rebuild does not bring them back)."""
        with self._transaction() as db:
            return self._delete_items(db, [int(i) for i in item_ids])

    # -- internals --

    @staticmethod
    def _image_rows(db: sqlite3.Connection, paths: Sequence[str], columns: str) -> list[tuple]:
        """``(image_id, path, *columns)`` of those `paths` that are registered."""
        rows: list[tuple] = []
        for start in range(0, len(paths), PARAMETERS):
            part = list(paths[start : start + PARAMETERS])
            marks = ",".join("?" * len(part))
            rows += db.execute(
                f"SELECT image_id, path, {columns} FROM images WHERE path IN ({marks})", part
            ).fetchall()
        return rows

    @staticmethod
    def _delete_items(db: sqlite3.Connection, ids: list[int]) -> int:
        gone = 0
        for start in range(0, len(ids), PARAMETERS):
            part = ids[start : start + PARAMETERS]
            marks = ",".join("?" * len(part))
            gone += db.execute(f"DELETE FROM items WHERE item_id IN ({marks})", part).rowcount
            db.execute(f"DELETE FROM embeddings WHERE item_id IN ({marks})", part)
        return gone

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise IndexCorruptError(f"{self.path}: meta.{key} missing")
        return row[0]

    def _check_schema(self) -> None:
        try:
            schema = self._meta("schema")
        except sqlite3.OperationalError:  # no meta table
            raise IndexCorruptError(f"{self.path}: not a fashionvision catalogue") from None
        if schema != str(SCHEMA_VERSION):
            raise IndexCorruptError(
                f"{self.path}: catalogue schema {schema}, this version reads {SCHEMA_VERSION}"
            )
        self._db.execute("SELECT COUNT(*) FROM items").fetchone()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.OperationalError as exc:
                raise FashionVisionError(f"{self.path}: SQLite: {exc}") from None
            except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
                raise IndexCorruptError(f"{self.path}: damaged catalogue ({exc})") from None

    @contextmanager
    def _transaction(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic change; `bump` increments ``version`` in it."""
        with self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                if bump:
                    self._db.execute(
                        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'"
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
