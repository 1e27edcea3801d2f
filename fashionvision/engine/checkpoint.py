"""Atomic checkpoints and the random-number-generator state that makes resuming exact.

A checkpoint is a plain dict saved with ``torch.save`` through
``fashionvision.io_utils.atomic_path``: a crash or an error during the save leaves the previous
file intact.  Everything in it is a tensor,
a number, a string or a container of those, so it loads with ``torch.load(weights_only=True)``.
Keys written by the trainer: ``model``, ``optimizer``, ``scheduler``, ``scaler``, ``epoch``,
``iter_in_epoch``, ``iteration``, ``data_seed``, ``config``, ``rng``.
"""

from __future__ import annotations

import hashlib
import random
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashionvision.errors import FashionVisionError
from fashionvision.io_utils import atomic_path


class CheckpointError(FashionVisionError):
    """A checkpoint file that is missing, unreadable or lacks a required entry."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` to `path` atomically (temporary file, then rename); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Load a checkpoint dict; CheckpointError naming the file when it is absent or malformed
    (a one-line message: garbage bytes, a text file, a pickled Python object, a missing key)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, expected a checkpoint file (.pt)")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # the unpickler raises anything (IndexError, KeyError...) on garbage
        raise CheckpointError(_unreadable(path, exc)) from None
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path}: not a fashionvision checkpoint "
            f"(holds a {type(state).__name__}, expected a dict)"
        )
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(f"{path}: missing entries {missing}")
    return state


def state_fingerprint(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a model's weights: every tensor's name, dtype, shape and bytes, in sorted key
    order (so it names the weights, not the file: re-saving or moving a checkpoint keeps it)."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _unreadable(path: Path, exc: Exception) -> str:
    """A one-line reason why `torch.load` failed on `path` (torch's own text runs to a page)."""
    expected = "expected a .pt file written by `fashionvision train`"
    if not zipfile.is_zipfile(path):
        return f"{path}: not a checkpoint (not a readable PyTorch file; {expected})"
    if "weights_only" in str(exc) or "Weights only" in str(exc):
        return (
            f"{path}: a PyTorch file but not a fashionvision checkpoint (it stores Python objects, "
            f"which are not loaded for safety; {expected})"
        )
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{path}: a damaged PyTorch file ({first_line})"


def rng_state() -> dict[str, Any]:
    """The CPU/CUDA torch, numpy and Python RNG states, in a weights_only-loadable form."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (the CUDA part only when CUDA is available)."""
    torch.set_rng_state(state["torch"].cpu())
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
