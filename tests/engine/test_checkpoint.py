import random

import numpy as np
import pytest
import torch

from fashionvision.engine import checkpoint as ckpt_mod
from fashionvision.engine.checkpoint import (
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from fashionvision.errors import FashionVisionError


def test_save_load_round_trip(tmp_path):
    state = {
        "model": {"w": torch.arange(4.0)},
        "epoch": 3,
        "config": {"solver": {"steps": [8, 11]}},
    }
    path = save_checkpoint(tmp_path / "sub" / "last.pt", state)
    loaded = load_checkpoint(path, required=("model", "epoch"))
    assert torch.equal(loaded["model"]["w"], torch.arange(4.0)) and loaded["epoch"] == 3
    assert loaded["config"] == {"solver": {"steps": [8, 11]}}
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary left behind


def test_a_failing_save_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1})

    def broken_save(obj, f):  # writes half a file, then dies (disk full, kill -9, ...)
        with open(f, "wb") as fh:
            fh.write(b"\x80\x02partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(ckpt_mod.torch, "save", broken_save)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_bad_checkpoints_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"epoch,loss\n1,2.0\n")
    with pytest.raises(FashionVisionError, match="garbage.pt: not a checkpoint"):
        load_checkpoint(garbage)
    listed = save_checkpoint(tmp_path / "list.pt", [1, 2])
    with pytest.raises(CheckpointError, match="list.pt: not a fashionvision checkpoint"):
        load_checkpoint(listed)
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)
    partial = save_checkpoint(tmp_path / "partial.pt", {"model": {}})
    with pytest.raises(CheckpointError, match=r"partial.pt: missing entries \['optimizer'\]"):
        load_checkpoint(partial, required=("model", "optimizer"))


def test_rng_state_survives_a_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    save_checkpoint(tmp_path / "rng.pt", {"rng": rng_state()})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    set_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


@pytest.mark.parametrize(
    "content, message",
    [
        (bytes(range(256)) * 8, "not a checkpoint (not a readable PyTorch file"),
        (b"hello, I am a text file\n", "not a checkpoint (not a readable PyTorch file"),
        (None, "a PyTorch file but not a fashionvision checkpoint"),  # a pickled nn.Module
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_one_line_naming_it(tmp_path, content, message):
    path = tmp_path / "weights.pt"
    if content is None:
        torch.save(torch.nn.Linear(2, 2), path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    text = str(info.value)
    assert text.startswith(f"{path}: {message}")
    assert "\n" not in text and "weights_only" not in text and len(text) < 250
