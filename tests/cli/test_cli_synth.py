"""`fashionvision synth` never mixes a new data set with old files."""

import pytest

import fashionvision.cli as cli


def _synth(out, *extra):
    return cli.main(["synth", str(out), "--train", "2", "--val", "1", "--size", "64", *extra])


def test_a_non_empty_folder_is_refused_without_overwrite(tmp_path, capsys):
    out = tmp_path / "data"
    assert _synth(out) == 0
    (out / "train" / "image" / "000099.jpg").write_bytes(b"old")
    assert _synth(out) == 1
    err = capsys.readouterr().err
    assert f"error: {out}: folder is not empty" in err and "--overwrite" in err
    assert (out / "train" / "image" / "000099.jpg").exists()  # untouched


def test_overwrite_clears_the_previous_output_first(tmp_path):
    out = tmp_path / "data"
    assert _synth(out, "--train", "4") == 0
    assert _synth(out, "--overwrite") == 0
    assert sorted(p.name for p in (out / "train" / "image").iterdir()) == [
        "000001.jpg",
        "000002.jpg",
    ]
    assert sorted(p.name for p in (out / "train" / "annos").glob("*.json")) == [
        "000001.json",
        "000002.json",
    ]


def test_overwrite_refuses_a_folder_synth_did_not_write(tmp_path, capsys):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert _synth(out, "--overwrite") == 1
    assert "thesis.tex" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_an_empty_or_missing_folder_is_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    assert _synth(tmp_path / "empty") == 0
    assert _synth(tmp_path / "new") == 0


@pytest.mark.parametrize("size", ["63", "0"])
def test_size_is_checked(tmp_path, size, capsys):
    with pytest.raises(SystemExit):
        _synth(tmp_path / "x", "--size", size)
    assert "argument --size" in capsys.readouterr().err and not (tmp_path / "x").exists()
