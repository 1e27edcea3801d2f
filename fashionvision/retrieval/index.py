"""`GalleryIndex`: a shop catalogue embedded by Match R-CNN, searched with photos.

Layout of an index folder::

    INDEX/manifest.json      format version, checkpoint, model fingerprint, embedding size,
                             ranking and the similarity weights, backend and store options,
                             indexed root, counts (written atomically, last)
    INDEX/catalogue.sqlite   images and items (`fashionvision.retrieval.catalogue`): the truth
    INDEX/store/             the vector store (`fashionvision.retrieval.vector_store`)

Every garment detected with score >= ``score_threshold`` in a catalogue image becomes an item.
The store holds the items' augmented vectors (`SimilaritySpace`), so a search ranks by the
model's similarity logit (``ranking="similarity"``, the default) or by embedding distance
(``"distance"``), exactly with the flat store.

Building is resumable: images are registered first, and each batch's items are committed with
the images' done flags in one SQLite transaction, so rerunning `build` on the same folder skips
what is done, and a build killed at any point then rerun ends with the index an uninterrupted
build makes (batches are fixed slices of the sorted image list).  The vector store is derived
from the catalogue: it is saved at the end of a build, `add_images` or `remove` (atomically)
together with the catalogue version it reflects; opening an index whose store lags its catalogue
(an interrupted build) rebuilds the store from the catalogue's embeddings.

`open` loads the model once; the index refuses a checkpoint whose weights (SHA-256 over the
state dict) differ from those it was built with.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fashionvision.categories import CATEGORY_NAMES, category_id_from_text
from fashionvision.detections import binary_masks, local_landmarks, mask_outline
from fashionvision.engine.build import resolve_device
from fashionvision.engine.checkpoint import state_fingerprint
from fashionvision.engine.inference import (
    ImageInput,
    batched,
    forward_images,
    keep_confident,
    load_image,
    model_from_checkpoint,
)
from fashionvision.errors import (
    FashionVisionError,
    IndexCorruptError,
    IndexMismatchError,
    ItemNotFound,
)
from fashionvision.io_utils import write_json
from fashionvision.retrieval.catalogue import Catalogue, ImageFile, ItemRow, NewItem
from fashionvision.retrieval.ranking import RANKINGS, SimilaritySpace
from fashionvision.retrieval.vector_store import (
    BACKENDS,
    VectorStore,
    create_store,
    load_index_json,
    load_store,
    top_k_logits,
)

__all__ = ["GalleryIndex", "Match", "QueryGarment"]

logger = logging.getLogger(__name__)

FORMAT = "fashionvision-gallery-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CATALOGUE = "catalogue.sqlite"
STORE_DIR = "store"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
REBUILD_CHUNK = 65_536  # items augmented and added at a time when a store is rebuilt
# A detected shop garment takes the pair_id/style of the annotated item it overlaps this much.
GT_MATCH_IOU = 0.5

Progress = Callable[[int, int], None]


@dataclass
class Match:
    """One catalogue garment returned for a query; `score` is the similarity logit (higher is
    more alike; ``-squared distance`` with distance ranking), None outside a search."""

    item_id: int
    score: float | None
    image_path: str  # as recorded: relative to the index's root (absolute when outside it)
    image_id: int
    box: list[float]  # x1, y1, x2, y2 in the catalogue image's pixels
    category: int
    category_name: str
    detection_score: float
    pair_id: int | None = None
    style: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QueryGarment:
    """A garment detected in the query photo and its matches, best first.

    `landmarks`: the category's landmarks as ``[x, y, score]`` rows (image pixels; the score is
    the heatmap peak logit), None without a landmark stream; `mask_outline`: the predicted mask's
    boundary as polygons, flat ``[x1, y1, x2, y2, ...]`` lists in image pixels (None without a
    mask stream).
    """

    box: list[float]
    category: int
    category_name: str
    score: float
    landmarks: list[list[float]] | None
    mask_outline: list[list[float]] | None
    matches: list[Match] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["matches"] = [m.to_dict() for m in self.matches]
        return out


class GalleryIndex:
    """A built gallery index with its model loaded; make one with `build`, reopen with `open`.

    Thread-safe: searches may run concurrently (the model forward runs outside the lock; store
    and catalogue access is serialised); `add_images` and `remove` exclude searches while they
    change the store.
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        model: nn.Module,
        device: torch.device,
        catalogue: Catalogue,
        store: VectorStore,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.model = model
        self.device = device
        self.catalogue = catalogue
        self.store = store
        self.space = SimilaritySpace.from_dict(manifest["similarity"])
        self._lock = threading.RLock()
        self._count = int(catalogue.counts()["items"])
        self._records: dict[str, Any] | None = None  # DeepFashion2 shop annotations, read once

    # --- making and opening ---------------------------------------------------------------

    @classmethod
    def build(
        cls,
        weights: str | Path,
        source: str | Path,
        out: str | Path,
        *,
        backend: str = "faiss",
        kind: str = "flat",
        ranking: str = "similarity",
        batch_size: int = 4,
        device: str | None = None,
        score_threshold: float = 0.5,
        progress: bool = True,
        **store_options: Any,
    ) -> GalleryIndex:
        """Index the garments of `source` into the folder `out` and return the opened index.

        `source`: a folder of catalogue images (searched recursively: .jpg .jpeg .png .webp) or
        a DeepFashion2 split (``annos/`` + ``image/``: its shop images, with each item's pair_id
        and style taken from the annotated garment it overlaps best, IoU >= 0.5).  `out` absent
        or empty starts a new index; `out` holding an index of the same source and settings
        resumes it (images already embedded are skipped).  `backend`: ``faiss`` (`kind`
        ``flat``, ``ivfflat``, ``ivfpq`` or ``hnsw``) or ``qdrant``; `store_options` go to the store
        (`FaissStore` / `QdrantStore`).  `ranking`: ``similarity`` or ``distance``.
        """
        out, root = Path(out), Path(source).resolve()
        if not root.is_dir():
            raise FashionVisionError(f"{source}: no such folder")
        if batch_size < 1:
            raise FashionVisionError(f"batch_size must be >= 1, got {batch_size}")
        if ranking not in RANKINGS:
            raise FashionVisionError(f"ranking must be one of {RANKINGS}, not {ranking!r}")
        settings = {
            "backend": backend,
            "kind": kind,
            "ranking": ranking,
            "root": str(root),
            "score_threshold": float(score_threshold),
            "store_options": _store_options(backend, kind, store_options),
        }
        if (out / MANIFEST).is_file():
            index = cls.open(out, device=device, weights=weights)
            index._check_settings(settings)
        else:
            index = cls._create(out, weights, device, settings)
        index._index_files(index._scan(root, out), batch_size, progress)
        return index

    @classmethod
    def open(
        cls, path: str | Path, device: str | None = None, weights: str | Path | None = None
    ) -> GalleryIndex:
        """Open the index in folder `path` with its model on `device` (None: CUDA if any).

        `weights`: the checkpoint to use instead of the one recorded; either must hold the very
        weights the index was built with (`IndexMismatchError` otherwise).  A damaged manifest,
        catalogue or store file raises `IndexCorruptError` naming it.
        """
        path = Path(path).resolve()
        manifest = _read_manifest(path)
        catalogue = Catalogue(path / CATALOGUE)
        checkpoint = Path(weights) if weights is not None else Path(manifest["checkpoint"])
        dev = resolve_device(device, option="device")
        model, _ = model_from_checkpoint(checkpoint, dev)
        fingerprint = state_fingerprint(model.state_dict())
        if fingerprint != manifest["fingerprint"]:
            built = f"{manifest['checkpoint']} (weights {manifest['fingerprint'][:12]})"
            raise IndexMismatchError(
                f"{path}: built with {built}, but {checkpoint} holds other weights "
                f"({fingerprint[:12]}): open the index with the checkpoint it was built with, "
                "or build a new index"
            )
        store = _load_or_rebuild_store(path, manifest, catalogue)
        return cls(path, manifest, model, dev, catalogue, store)

    def close(self) -> None:
        """Close the catalogue (the index is unusable afterwards)."""
        self.catalogue.close()

    def __enter__(self) -> GalleryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- searching --------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The folder the catalogue images were indexed from."""
        return Path(self.manifest["root"])

    def __len__(self) -> int:
        return self._count

    def search(
        self,
        image: ImageInput,
        top_k: int = 20,
        category: int | str | None = None,
        score_threshold: float = 0.5,
    ) -> list[QueryGarment]:
        """Detect the garments of one photo (a path, a PIL image or an HxWx3 uint8 RGB array)
        scoring >= `score_threshold` and find each one's `top_k` best catalogue garments
        (only of `category`, an id 1..13 or a name, when given).  Garments by decreasing
        detection score; one forward pass and one store search for the whole photo."""
        if isinstance(image, list | tuple):
            raise FashionVisionError("search takes one image; call it once per photo")
        tensor = load_image(image, name="query image")
        output = keep_confident(
            forward_images(self.model, [tensor], self.device)[0], score_threshold
        )
        if "embeddings" not in output:
            raise FashionVisionError("model.matching: this model has no matching stream")
        n = len(output["embeddings"])  # the streams may cover only the best n detections
        matches = self.search_embeddings(output["embeddings"].numpy(), top_k, category)
        masks = binary_masks(output)
        landmarks = local_landmarks(output)
        garments = []
        for k in range(n):
            label = int(output["labels"][k])
            garments.append(
                QueryGarment(
                    box=[float(v) for v in output["boxes"][k]],
                    category=label,
                    category_name=CATEGORY_NAMES[label],
                    score=float(output["scores"][k]),
                    landmarks=None if landmarks is None else landmarks[k].tolist(),
                    mask_outline=None if masks is None else mask_outline(masks[k]),
                    matches=matches[k],
                )
            )
        return garments

    def search_embeddings(
        self,
        embeddings: np.ndarray | torch.Tensor,
        top_k: int = 20,
        category: int | str | None = None,
    ) -> list[list[Match]]:
        """The `top_k` best catalogue garments for each embedding ``[Q, D]`` (in one store
        search), best first; shorter lists when fewer items qualify."""
        if top_k < 1:
            raise FashionVisionError(f"top_k must be >= 1, got {top_k}")
        wanted = None if category is None else _category_id(category)
        embeddings = np.asarray(torch.as_tensor(embeddings).detach().cpu(), dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.space.dim:
            raise FashionVisionError(
                f"expected [Q, {self.space.dim}] embeddings, got {list(embeddings.shape)}"
            )
        with self._lock:
            logits, ids = top_k_logits(self.store, self.space, embeddings, top_k, wanted)
            rows = self.catalogue.items(np.unique(ids[ids >= 0]).tolist())
        missing = set(ids[ids >= 0].tolist()) - set(rows)
        if missing:  # the store and the catalogue disagree: never return a dangling id
            raise IndexCorruptError(
                f"{self.path}: items {sorted(missing)[:5]} are in the vector store but not in "
                f"{CATALOGUE}: delete {self.path / STORE_DIR} to rebuild the store"
            )
        return [
            [_match(rows[int(i)], float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(logits, ids, strict=True)
        ]

    def item(self, item_id: int) -> Match:
        """The catalogue garment `item_id` (score None); `ItemNotFound` when absent."""
        row = self.catalogue.items([int(item_id)]).get(int(item_id))
        if row is None:
            raise ItemNotFound(f"item {item_id} is not in the index {self.path}")
        return _match(row, None)

    def image_path(self, item_id: int) -> Path:
        """The absolute path of the image item `item_id` was found in (as indexed)."""
        return (self.root / self.item(item_id).image_path).resolve()

    def info(self) -> dict[str, Any]:
        """Counts, per-category counts and how the index was made (JSON-ready)."""
        m = self.manifest
        counts = self.catalogue.counts()
        per_category = counts.pop("per_category")
        return {
            "path": str(self.path),
            "format_version": m["format_version"],
            **counts,
            "per_category": {CATEGORY_NAMES[c]: n for c, n in per_category.items()},
            "checkpoint": m["checkpoint"],
            "fingerprint": m["fingerprint"],
            "backend": m["backend"],
            "kind": m["kind"],
            "store_options": m["store_options"],
            "ranking": m["ranking"],
            "dim": m["embedding_dim"],
            "score_threshold": m["score_threshold"],
            "root": m["root"],
            "source": m["source"],
            "created": m["created"],
            "updated": m["updated"],
        }

    # --- changing -----------------------------------------------------------------------------

    def add_images(
        self, paths: Sequence[str | Path], batch_size: int = 4, progress: bool = False
    ) -> list[int]:
        """Index more images (files, or folders searched recursively); returns the new item
        ids.  Images already indexed and unchanged are skipped; changed ones are re-embedded."""
        files: list[Path] = []
        for p in map(Path, paths):
            if p.is_dir():
                files += _image_files(p)
            elif p.is_file():
                files.append(p)
            else:
                raise FashionVisionError(f"{p}: no such image file or folder")
        return self._index_files([self._image_file(f) for f in files], batch_size, progress)

    def remove(self, item_ids: Sequence[int]) -> int:
        """Remove these items (all must exist: `ItemNotFound` otherwise, nothing removed);
        returns how many.  Their images stay indexed: a rebuild does not bring them back."""
        ids = sorted({int(i) for i in item_ids})
        with self._lock:
            missing = sorted(set(ids) - set(self.catalogue.items(ids)))
            if missing:
                raise ItemNotFound(f"items not in the index {self.path}: {missing[:20]}")
            self.catalogue.remove_items(ids)
            self.store.remove(np.asarray(ids, dtype=np.int64))
            self._save()
        return len(ids)

    # --- internals ----------------------------------------------------------------------------

    @classmethod
    def _create(
        cls, out: Path, weights: str | Path, device: str | None, settings: dict[str, Any]
    ) -> GalleryIndex:
        ours = {CATALOGUE, f"{CATALOGUE}-wal", f"{CATALOGUE}-shm"}  # a creation cut short
        if out.exists() and (not out.is_dir() or set(p.name for p in out.iterdir()) - ours):
            raise FashionVisionError(f"{out}: exists and is not empty (and holds no index)")
        dev = resolve_device(device, option="device")
        model, _ = model_from_checkpoint(weights, dev)
        similarity = getattr(getattr(model, "roi_heads", None), "similarity", None)
        if similarity is None:
            raise FashionVisionError(f"{weights}: this model has no matching stream to embed with")
        dim = int(similarity.fc.in_features)
        space = SimilaritySpace.of(settings["ranking"], similarity, dim)
        store = create_store(settings["backend"], dim + 1, **settings["store_options"])
        if len(store):
            raise FashionVisionError(
                f"the {settings['backend']} store already holds {len(store)} vectors: give the "
                "index its own collection"
            )
        out.mkdir(parents=True, exist_ok=True)
        catalogue = Catalogue(out / CATALOGUE, create=True)
        root = Path(settings["root"])
        now = _now()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": now,
            "updated": now,
            "checkpoint": str(Path(weights).resolve()),
            "fingerprint": state_fingerprint(model.state_dict()),
            "embedding_dim": dim,
            "similarity": space.to_dict(),
            "source": "deepfashion2" if _is_split(root) else "folder",
            **settings,
            "store_version": -1,  # no store saved yet
            "counts": {"images": 0, "items": 0},
        }
        index = cls(out.resolve(), manifest, model, dev, catalogue, store)
        write_json(out / MANIFEST, manifest, indent=1, durable=True)
        return index

    def _check_settings(self, settings: dict[str, Any]) -> None:
        differ = [k for k, v in settings.items() if self.manifest[k] != v]
        if differ:
            was = ", ".join(f"{k}={self.manifest[k]!r}" for k in differ)
            now = ", ".join(f"{k}={settings[k]!r}" for k in differ)
            raise FashionVisionError(
                f"{self.path}: holds an index built with {was}; asked for {now}: resume with the "
                "same settings or build into another folder"
            )

    def _scan(self, root: Path, out: Path) -> list[ImageFile]:
        """The images of a build's source, in a fixed order (the order batches are cut in)."""
        if self.manifest["source"] == "deepfashion2":
            records = self._annotations()
            return [self._image_file(root / r.file_name) for r in records.values()]
        skip = out.resolve()
        files = [f for f in _image_files(root) if skip not in f.parents]
        if not files:
            raise FashionVisionError(f"{root}: no .jpg/.jpeg/.png/.webp images in this folder")
        return [self._image_file(f) for f in files]

    def _annotations(self) -> dict[str, Any]:
        """Shop records of a DeepFashion2 root by file name (read once)."""
        if self._records is None:
            from fashionvision.data.deepfashion2 import load_split

            records = load_split(self.root, strict=False)  # a bad annotation loses only metadata
            self._records = {r.file_name: r for r in records if r.source == "shop"}
        return self._records

    def _image_file(self, path: Path) -> ImageFile:
        path = path.resolve()
        stat = path.stat()
        try:
            recorded = path.relative_to(self.root).as_posix()
        except ValueError:
            recorded = str(path)  # outside the root: kept absolute
        record = (
            self._annotations().get(recorded) if self.manifest["source"] == "deepfashion2" else None
        )
        return ImageFile(
            recorded, stat.st_size, stat.st_mtime_ns, record.image_id if record else None
        )

    def _index_files(self, files: list[ImageFile], batch_size: int, progress: bool) -> list[int]:
        """Embed the files not yet done, batch by batch (fixed slices of `files`), committing
        each batch; then save the store and the manifest."""
        files = list({f.path: f for f in files}.values())  # a file named twice is indexed once
        with self._lock:
            stale = self.catalogue.register(files)
            self.store.remove(np.asarray(stale, dtype=np.int64))
            rows = self.catalogue.images([f.path for f in files])
        todo = sum(not r.done for r in rows)
        report = _progress_bar(progress)
        done, new_ids = 0, []
        for chunk in batched(rows, batch_size):
            pending = [r for r in chunk if not r.done]
            if not pending:
                continue
            found = self._embed([self._absolute(r.path) for r in pending])
            with self._lock:
                ids = self.catalogue.store_images([r.image_id for r in pending], found)
                items = [it for image_items in found for it in image_items]
                if items:
                    self.store.add(
                        np.asarray(ids, dtype=np.int64),
                        self.space.gallery_vectors(np.stack([it.embedding for it in items])),
                        np.asarray([it.category for it in items]),
                    )
                self._count += len(ids)
            new_ids += ids
            done += len(pending)
            if report is not None:
                report(done, todo)
        with self._lock:
            if stale or todo or self.manifest["store_version"] != self.catalogue.version:
                self._save()
        return new_ids

    def _embed(self, paths: list[Path]) -> list[list[NewItem]]:
        """The garments found in each image (an unreadable image: none, with a warning)."""
        tensors: list[torch.Tensor | None] = []
        for p in paths:
            try:
                tensors.append(load_image(p))
            except FashionVisionError as exc:
                message = f"{exc}: indexed without garments"
                logger.warning(message)
                warnings.warn(message, stacklevel=2)
                tensors.append(None)
        readable = [t for t in tensors if t is not None]
        outputs = iter(forward_images(self.model, readable, self.device) if readable else [])
        threshold = self.manifest["score_threshold"]
        return [
            [] if t is None else self._garments(p, keep_confident(next(outputs), threshold))
            for p, t in zip(paths, tensors, strict=True)
        ]

    def _garments(self, path: Path, output: dict[str, torch.Tensor]) -> list[NewItem]:
        n = len(output.get("embeddings", ()))
        boxes = output["boxes"][:n].double().numpy()
        pair_style = self._pair_style(path, boxes)
        return [
            NewItem(
                box=tuple(boxes[k].tolist()),
                category=int(output["labels"][k]),
                score=float(output["scores"][k]),
                embedding=output["embeddings"][k].float().numpy(),
                pair_id=pair_style[k][0],
                style=pair_style[k][1],
            )
            for k in range(n)
        ]

    def _pair_style(self, path: Path, boxes: np.ndarray) -> list[tuple[int | None, int | None]]:
        """Per detected box, the pair_id and style of the annotated item it overlaps best
        (IoU >= 0.5) in a DeepFashion2 root; (None, None) where unknown."""
        unknown: list[tuple[int | None, int | None]] = [(None, None)] * len(boxes)
        if self.manifest["source"] != "deepfashion2" or not len(boxes):
            return unknown
        try:
            record = self._annotations().get(path.relative_to(self.root).as_posix())
        except ValueError:
            record = None
        if record is None or not record.items:
            return unknown
        from fashionvision.evaluation.retrieval import box_iou_pairwise

        gt = np.asarray([it.bbox for it in record.items], dtype=np.float64)
        ious = box_iou_pairwise(boxes[:, None], gt[None])  # [detections, items]
        best = ious.argmax(axis=1)
        return [
            (record.pair_id, record.items[b].style) if ious[k, b] >= GT_MATCH_IOU else (None, None)
            for k, b in enumerate(best)
        ]

    def _absolute(self, recorded: str) -> Path:
        return self.root / recorded  # an absolute recorded path stays as it is

    def _save(self) -> None:
        """Save the store, then the manifest naming the catalogue version the store holds."""
        self.store.save(self.path / STORE_DIR)
        self.catalogue.checkpoint()
        counts = self.catalogue.counts()
        self._count = int(counts["items"])
        self.manifest.update(
            store_version=self.catalogue.version,
            updated=_now(),
            counts={"images": counts["images"], "items": counts["items"]},
        )
        write_json(self.path / MANIFEST, self.manifest, indent=1, durable=True)


# --- module helpers ---------------------------------------------------------------------------

_MANIFEST_KEYS = (
    "format_version", "created", "updated", "checkpoint", "fingerprint", "embedding_dim",
    "similarity", "source", "backend", "kind", "ranking", "root", "score_threshold",
    "store_options", "store_version", "counts",
)  # fmt: skip


def _read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not path.is_dir():
        raise FashionVisionError(f"{path}: no such index folder")
    if not file.is_file():
        raise FashionVisionError(f"{path}: not a gallery index (no {MANIFEST})")
    manifest = load_index_json(file)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(f"{file}: not a gallery index manifest")
    missing = [k for k in _MANIFEST_KEYS if k not in manifest]
    if missing:
        raise IndexCorruptError(f"{file}: missing {', '.join(missing)}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{file}: index format {manifest['format_version']}, this version reads "
            f"{FORMAT_VERSION}: rebuild the index"
        )
    try:
        space = SimilaritySpace.from_dict(manifest["similarity"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{file}: similarity: malformed ({exc})") from None
    if space.dim != manifest["embedding_dim"]:
        raise IndexCorruptError(f"{file}: similarity weights do not match embedding_dim")
    return manifest


def _load_or_rebuild_store(
    path: Path, manifest: dict[str, Any], catalogue: Catalogue
) -> VectorStore:
    """The saved store when it reflects the catalogue; else one rebuilt from the catalogue's
    embeddings (an interrupted build), saved back when the folder is writable."""
    directory = path / STORE_DIR
    if directory.is_dir() and manifest["store_version"] == catalogue.version:
        store = load_store(manifest["backend"], directory)
        if store.dim != manifest["embedding_dim"] + 1:
            raise IndexCorruptError(f"{directory}: vectors of size {store.dim}, expected "
                                    f"{manifest['embedding_dim'] + 1}")  # fmt: skip
        return store
    space = SimilaritySpace.from_dict(manifest["similarity"])
    ids, categories, embeddings = catalogue.embeddings(space.dim)
    logger.info("%s: rebuilding the vector store from %d catalogue items", path, len(ids))
    store = create_store(manifest["backend"], space.dim + 1, **manifest["store_options"])
    store.clear()
    for start in range(0, len(ids), REBUILD_CHUNK):  # bounds the float64 augmentation's memory
        part = slice(start, start + REBUILD_CHUNK)
        store.add(ids[part], space.gallery_vectors(embeddings[part]), categories[part])
    try:
        store.save(directory)
        manifest["store_version"] = catalogue.version
        write_json(path / MANIFEST, manifest, indent=1, durable=True)
    except OSError as exc:  # a read-only index still opens; it rebuilds again next time
        logger.warning("%s: could not save the rebuilt vector store (%s)", path, exc)
    return store


def _store_options(backend: str, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The store's keyword arguments for `create_store` from build's `kind` and options."""
    if backend not in BACKENDS:
        raise FashionVisionError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend == "faiss":
        return {"kind": kind, **options}
    if kind != "flat":
        raise FashionVisionError(f"kind {kind!r} applies to the faiss backend only")
    return dict(options)


def _match(row: ItemRow, score: float | None) -> Match:
    return Match(
        item_id=row.item_id,
        score=score,
        image_path=row.path,
        image_id=row.image_id,
        box=[float(v) for v in row.box],
        category=row.category,
        category_name=CATEGORY_NAMES.get(row.category, str(row.category)),
        detection_score=float(row.score),
        pair_id=row.pair_id,
        style=row.style,
    )


def _category_id(category: int | str) -> int:
    try:
        return category_id_from_text(str(category))
    except ValueError as exc:
        raise FashionVisionError(str(exc)) from None


def _is_split(root: Path) -> bool:
    return (root / "annos").is_dir() and (root / "image").is_dir()


def _image_files(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively, sorted by path; hidden files and folders (such
    as a split's ``.fashionvision_index``) are skipped."""
    folder = folder.resolve()
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _progress_bar(enabled: bool) -> Progress | None:
    if not enabled:
        return None
    from fashionvision.engine.evaluate import ProgressBar

    return ProgressBar(desc="indexing")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
