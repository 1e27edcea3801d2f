"""Atomic writes leave files with the permissions a plain open() would."""

import os
import stat

import pytest

from fashionvision.io_utils import atomic_path, atomic_write, write_json


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_get_0666_minus_the_umask(tmp_path, umask):
    write_json(tmp_path / "a.json", {"x": 1})
    atomic_write(tmp_path / "b.txt", lambda f: f.write("hi"))
    with atomic_path(tmp_path / "c.bin") as tmp:
        tmp.write_bytes(b"\0")
    plain = tmp_path / "plain.txt"
    with open(plain, "w") as f:
        f.write("x")
    for name in ("a.json", "b.txt", "c.bin"):
        assert _mode(tmp_path / name) == _mode(plain) == 0o644
    os.umask(0o077)
    write_json(tmp_path / "private.json", {})
    assert _mode(tmp_path / "private.json") == 0o600


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / "shared.json"
    path.write_text("{}")
    path.chmod(0o664)
    write_json(path, {"x": 2})
    assert _mode(path) == 0o664 and path.read_text() == '{"x": 2}'


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    def boom(f):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "x.json", boom)
    assert list(tmp_path.iterdir()) == []
