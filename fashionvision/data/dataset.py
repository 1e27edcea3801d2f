"""A torch Dataset over DeepFashion2-format records, its collate function, and pair batching.

The Dataset only loads and transforms: records are parsed once (`fashionvision.data.deepfashion2`)
and each item turns one `ImageAnnotation` into ``(image, target)`` tensors in the torchvision
detection convention.  `PairBatchSampler` puts the user and shop images of one ``pair_id`` into the
same batch so that Match R-CNN's matching loss sees positive pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from torch.utils.data import Dataset, Sampler
from torchvision.transforms import functional as TF

from fashionvision.categories import NUM_LANDMARKS, to_global
from fashionvision.data.transforms import Transform
from fashionvision.errors import FashionVisionError
from fashionvision.structures import ImageAnnotation


def rasterize_polygons(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Binary mask uint8 [H, W] of the union of flat ``[x1, y1, x2, y2, ...]`` polygons.

    Polygons with fewer than 3 points are skipped (pycocotools would read a 4-number list as a box).
    """
    valid = [list(map(float, p)) for p in polygons if len(p) >= 6]
    if not valid:
        return np.zeros((height, width), dtype=np.uint8)
    rles = mask_utils.frPyObjects(valid, height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(np.uint8)


def record_target(record: ImageAnnotation) -> dict[str, Any]:
    """The target dict of one record, before transforms (N = number of items):

    boxes float32 [N, 4] xyxy pixels; labels int64 [N] (1..13); masks uint8 [N, H, W];
    keypoints float32 [N, 294, 3] (x, y, v), zero outside each item's category slice;
    area float32 [N] (box area, the COCO convention of DeepFashion2); iscrowd int64 [N];
    pair_id int64 [N]; style int64 [N]; source str; image_id int.
    """
    h, w, n = record.height, record.width, len(record.items)
    items = record.items
    boxes = torch.tensor([list(it.bbox) for it in items], dtype=torch.float32).reshape(n, 4)
    masks = np.zeros((n, h, w), dtype=np.uint8)
    keypoints = np.zeros((n, NUM_LANDMARKS, 3), dtype=np.float32)
    for i, it in enumerate(items):
        masks[i] = rasterize_polygons(it.segmentation, h, w)
        keypoints[i] = to_global(it.category_id, it.landmarks)
    return {
        "boxes": boxes,
        "labels": torch.tensor([it.category_id for it in items], dtype=torch.int64),
        "masks": torch.from_numpy(masks),
        "keypoints": torch.from_numpy(keypoints),
        "area": (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]),
        "iscrowd": torch.zeros(n, dtype=torch.int64),
        "pair_id": torch.full((n,), record.pair_id, dtype=torch.int64),
        "style": torch.tensor([it.style for it in items], dtype=torch.int64),
        "source": record.source,
        "image_id": record.image_id,
    }


class DeepFashion2Dataset(Dataset):
    """DeepFashion2-format split as ``(image FloatTensor [3, H, W] in [0, 1], target dict)``.

    `source` is a split directory (read with ``deepfashion2.load_split``) or a list of records; with
    records, `split_dir` says where their ``file_name`` paths are relative to.  `transforms` is a
    joint transform (`fashionvision.data.transforms`) applied to the tensor image and the target.
    """

    def __init__(
        self,
        source: str | Path | Sequence[ImageAnnotation],
        transforms: Transform | None = None,
        split_dir: str | Path | None = None,
    ):
        if isinstance(source, str | Path):
            from fashionvision.data import deepfashion2

            split_dir = Path(source) if split_dir is None else split_dir
            records = deepfashion2.load_split(source)
        else:
            records = list(source)
            if split_dir is None and records:
                raise ValueError("split_dir is required when the dataset is built from records")
        self.records: list[ImageAnnotation] = list(records)
        self.split_dir = Path(split_dir) if split_dir is not None else None
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.records)

    def load_image(self, index: int) -> Image.Image:
        """The RGB image of record `index`; its size must match the record's width/height."""
        record = self.records[index]
        if self.split_dir is None:
            raise ValueError("this dataset has no split_dir to load images from")
        path = self.split_dir / record.file_name
        try:
            with Image.open(path) as img:
                image = img.convert("RGB")
        except FileNotFoundError:
            raise FashionVisionError(f"{path}: image file not found") from None
        except OSError as exc:
            raise FashionVisionError(f"{path}: cannot read image ({exc})") from None
        if image.size != (record.width, record.height):
            raise FashionVisionError(
                f"{path}: width/height: image is {image.width}x{image.height}, "
                f"annotation says {record.width}x{record.height}"
            )
        return image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image: Any = self.load_image(index)
        target = record_target(self.records[index])
        if self.transforms is not None:
            # transforms get the PIL image: PIL resizing is several times faster than on tensors
            image, target = self.transforms(image, target)
        if not isinstance(image, torch.Tensor):
            image = TF.to_tensor(image)
        return image, target


def collate_fn(
    batch: Sequence[tuple[torch.Tensor, dict[str, Any]]],
) -> tuple[list[torch.Tensor], list[dict[str, Any]]]:
    """Keep images of different sizes as a list: ``([image, ...], [target, ...])``."""
    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    return images, targets


def _spread(user: Sequence[int], shop: Sequence[int]) -> list[int]:
    """Merge two lists so each is spread evenly over the result (element k of a list of n sits at
    relative position (k + 0.5) / n); any run of the result then holds both sources as far as the
    counts allow, e.g. 6 user + 4 shop -> u s u u s u u s u s."""
    keyed = [((k + 0.5) / len(user), 0, i) for k, i in enumerate(user)]
    keyed += [((k + 0.5) / len(shop), 1, i) for k, i in enumerate(shop)]
    return [i for _, _, i in sorted(keyed)]


class PairBatchSampler(Sampler[list[int]]):
    """Batch sampler that keeps the user and shop images of a pair_id together.

    Per epoch: images are grouped by pair_id; within a group user and shop images are interleaved
    evenly (so the pieces of a split group each hold both sources where the counts allow); groups
    are cut into pieces of at most `group_share` images; pieces are packed best-fit into global
    batches of ``batch_size * num_replicas`` images (a piece is not split across them, but see
    below) and the global batches are shuffled.  `group_share` defaults to half the global batch
    (at least 2, at most the global batch): a global batch then holds two or more pair_ids, so the
    pair loss sees negatives from other pairs as well as the positives within each pair (a batch
    of one pair_id has positives only).  Every index appears exactly once per epoch (plus
    padding, below).  Everything is a function of (seed, epoch): call `set_epoch`.

    `batch_size` is the batch of one process.  Distributed training: each global batch is cut into
    `num_replicas` consecutive slices of `batch_size`, rank `rank` takes slice `rank`; at each step
    the ranks' batches are disjoint and together form one global batch, over which the pair loss
    is computed (`fashionvision.models.matching_head.global_pair_loss`).  Packing there also
    gives every global batch a piece with a user and a shop image (see `_pack`).  Every rank must
    get `batch_size` images each step, so the global batches that whole pieces leave short are
    joined and re-cut (`_recut_short`, a few pieces split); the one short global batch left is
    padded with the epoch's first indices it does not hold (as torch's DistributedSampler pads)
    or, with `drop_last=True`, dropped.  With one replica a global batch is one batch, packed as
    before, and nothing is padded or dropped.
    """

    def __init__(
        self,
        records: Sequence[ImageAnnotation],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
        group_share: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"need 0 <= rank < num_replicas, got rank={rank}, {num_replicas}")
        # the pair loss sees the global batch: pieces and packing are sized on it
        self.global_batch_size = batch_size * num_replicas
        full = self.global_batch_size
        share = min(full, max(2, full // 2)) if group_share is None else group_share
        if not 1 <= share <= full:
            raise ValueError(
                f"need 1 <= group_share <= batch_size * num_replicas, got {share}, {full}"
            )
        self.group_share = share
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        groups: dict[int, list[int]] = defaultdict(list)
        for index, record in enumerate(records):
            groups[record.pair_id].append(index)
        self._groups = [groups[k] for k in sorted(groups)]
        self._sources = [record.source for record in records]
        self._pair_of = [record.pair_id for record in records]
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shuffle to produce (same seed and epoch = same batches)."""
        self.epoch = epoch

    def _pieces(self, rng: np.random.Generator) -> list[list[int]]:
        """Pair groups, sources interleaved, cut into pieces of at most group_share indices."""
        order = rng.permutation(len(self._groups)) if self.shuffle else range(len(self._groups))
        keyed: list[tuple[float, int, list[int]]] = []
        for rank, g in enumerate(order):
            group = self._groups[g]
            # anything not "user" counts as shop, so no index can be lost
            by_source = [
                [i for i in group if self._sources[i] == "user"],
                [i for i in group if self._sources[i] != "user"],
            ]
            if self.shuffle:
                by_source = [list(rng.permutation(part)) for part in by_source]
            mixed = _spread(*by_source)
            starts = range(0, len(mixed), self.group_share)
            # A group's pieces are spread evenly over the sequence (as `_spread` does for sources),
            # so neighbouring pieces, which the packer puts in one batch, come from different pairs.
            for k, start in enumerate(starts):
                piece = [int(i) for i in mixed[start : start + self.group_share]]
                keyed.append(((k + 0.5) / len(starts), rank, piece))
        return [piece for _, _, piece in sorted(keyed, key=lambda t: t[:2])]

    def _pack(self, pieces: list[list[int]]) -> list[list[int]]:
        """Best-fit-decreasing packing: largest pieces first (a stable sort, so equal sizes keep
        their order), each into the open batch with the least room that fits, preferring a batch
        that holds no image of the piece's pair_id (so batches mix pairs).

        With several replicas the ceil(images / global batch) batches an epoch needs are first
        seeded with one piece each that holds a user and a shop image (the largest such pieces),
        so that every global batch has a positive pair; plain best-fit would put two such pieces
        in most batches and leave the tails of user-heavy groups, packed last, to fill batches
        of their own.  One replica keeps the former packing.
        """
        full = self.global_batch_size
        order = sorted(pieces, key=len, reverse=True)
        batches: list[list[int]] = []
        open_by_room: list[list[int]] = [[] for _ in range(full + 1)]
        if self.num_replicas > 1:
            batches, order = self._seed_batches(order, -(-sum(map(len, pieces)) // full))
            for b, batch in enumerate(batches):
                if len(batch) < full:
                    open_by_room[full - len(batch)].append(b)
        for piece in order:
            chosen = _best_fit(piece, batches, open_by_room, self._pair_of)
            if chosen is None:
                batches.append([])
                b = len(batches) - 1
            else:
                room, b = chosen
                open_by_room[room].remove(b)
            batches[b].extend(piece)
            left = full - len(batches[b])
            if left > 0:
                open_by_room[left].append(b)
        return batches

    def _seed_batches(
        self, order: list[list[int]], count: int
    ) -> tuple[list[list[int]], list[list[int]]]:
        """`count` batches of one piece each, the first pieces of `order` that hold a user and a
        shop image, and the pieces of `order` left (order kept)."""
        sources = self._sources
        mixed = [k for k, p in enumerate(order) if len({sources[i] == "user" for i in p}) == 2]
        seeds = set(mixed[:count])
        batches = [list(order[k]) for k in sorted(seeds)]
        return batches, [p for k, p in enumerate(order) if k not in seeds]

    def _global_batches(self) -> list[list[int]]:
        """Global batches of the current epoch, each of `global_batch_size` images when
        distributed (padded or dropped, see the class docstring); cached per epoch."""
        if self._cache is not None and self._cache[0] == self.epoch:
            return self._cache[1]
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = self._pack(self._pieces(rng))
        if self.num_replicas > 1:
            batches = _recut_short(batches, self.global_batch_size)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.num_replicas > 1:
            full = self.global_batch_size
            if self.drop_last:
                batches = [b for b in batches if len(b) == full]  # the one short batch
            else:
                first = [i for b in batches for i in b]
                batches = [_pad_batch(b, first, full) for b in batches]
        self._cache = (self.epoch, batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        yield from (b[lo:hi] for b in self._global_batches())

    def __len__(self) -> int:
        return len(self._global_batches())


def _best_fit(
    piece: list[int],
    batches: list[list[int]],
    open_by_room: list[list[int]],
    pair_of: Sequence[int],
) -> tuple[int, int] | None:
    """``(room, batch)`` for `piece`: the open batch with the least room that fits it (the latest
    opened among equals) that holds no image of the piece's pair_id, else the first that fits,
    else None.  Candidates are scanned lazily: an epoch can have thousands of open batches."""
    pair = pair_of[piece[0]]
    first = None
    for room in range(len(piece), len(open_by_room) - 1):
        for b in reversed(open_by_room[room]):
            if all(pair_of[i] != pair for i in batches[b]):
                return room, b
            first = first or (room, b)
    return first


def _recut_short(batches: list[list[int]], size: int) -> list[list[int]]:
    """The full batches, then the contents of the short ones re-cut into batches of `size`.

    Whole pieces rarely fill a global batch exactly (e.g. three pieces of 5 in 16), and under
    DDP every step needs a full one: the short batches are joined in order and cut, which splits
    at most one piece per cut (a piece is interleaved user/shop, so both parts keep both sources
    where they can); only the last batch can stay short.
    """
    rest = [i for b in batches if len(b) < size for i in b]
    return [b for b in batches if len(b) == size] + [
        rest[k : k + size] for k in range(0, len(rest), size)
    ]


def _pad_batch(batch: list[int], order: Sequence[int], size: int) -> list[int]:
    """`batch` filled up to `size` with the first indices of `order` (the epoch) it does not hold,
    cycling (and repeating its own indices only when it holds the whole epoch)."""
    if len(batch) >= size:
        return batch
    need, held = size - len(batch), set(batch)
    fill = list(islice((i for i in order if i not in held), need)) or batch
    return batch + [fill[k % len(fill)] for k in range(need)]
