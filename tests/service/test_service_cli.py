"""`fashionvision serve`: flags become the service's limits; a bad index is a clean error."""

from __future__ import annotations

import pytest
from service_fakes import FakeIndex

from fashionvision.cli import main
from fashionvision.service import app as app_module


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Runs `serve` without a server: what uvicorn.run would have been given."""
    import uvicorn

    calls: dict = {}
    index = FakeIndex(tmp_path / "gallery", n_items=3)

    def fake_open(path, device=None):
        calls["open"] = (path, device)
        return index

    def fake_run(app, host, port, **kwargs):
        calls["run"] = (app, host, port)

    monkeypatch.setattr(app_module, "open_gallery_index", fake_open)
    monkeypatch.setattr(uvicorn, "run", fake_run)
    (tmp_path / "idx").mkdir()
    return calls, tmp_path / "idx"


def test_flags_become_the_limits(served, capsys):
    calls, index_dir = served
    argv = ["serve", "--index", str(index_dir), "--host", "0.0.0.0", "--port", "8123"]
    argv += ["--device", "cpu", "--max-upload-mb", "0.5", "--max-megapixels", "2"]
    argv += ["--max-queue", "0", "--timeout-s", "7.5", "--worker-threads", "2"]
    assert main(argv) == 0
    app, host, port = calls["run"]
    assert (host, port) == ("0.0.0.0", 8123)
    assert calls["open"] == (index_dir, "cpu")
    settings = app.state.service.settings
    assert settings.max_upload_bytes == 512 * 1024
    assert settings.max_pixels == 2_000_000
    assert (settings.max_queue, settings.timeout_s, settings.worker_threads) == (0, 7.5, 2)
    assert "serving 3 items" in capsys.readouterr().out


def test_defaults(served):
    calls, index_dir = served
    assert main(["serve", "--index", str(index_dir)]) == 0
    app, host, port = calls["run"]
    assert (host, port) == ("127.0.0.1", 8000)
    assert app.state.service.settings.max_upload_bytes == 10 * 1024 * 1024


def test_missing_index_is_a_clean_error(tmp_path, capsys):
    assert main(["serve", "--index", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --index") and "no such index" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "flag", [["--max-queue", "-1"], ["--max-upload-mb", "0"], ["--timeout-s", "nan"]]
)
def test_bad_limits_are_usage_errors(tmp_path, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--index", str(tmp_path), *flag])
    assert exc.value.code == 2
    assert flag[0] in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.mkdir(), "not a gallery index"),
        (lambda p: (p.mkdir(), (p / "manifest.json").write_text("{not json")), "not valid JSON"),
    ],
    ids=["empty-folder", "corrupt-manifest"],
)
def test_bad_index_is_a_clean_error(tmp_path, capsys, make, needle):
    pytest.importorskip("fashionvision.retrieval.index")
    make(tmp_path / "idx")
    assert main(["serve", "--index", str(tmp_path / "idx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err
    assert "Traceback" not in err
