"""`fashionvision synth` never mixes a new data set with old files."""

import json

import pytest
from conftest import tree_digest

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


def _synth_deepfashion(out, *extra):
    return cli.main(
        ["synth", "--format", "deepfashion", str(out), "--train", "2", "--val", "1"]
        + ["--test", "1", "--size", "64", *extra]
    )


def test_deepfashion_format_writes_the_four_benchmarks(tmp_path, capsys):
    out = tmp_path / "df"
    assert _synth_deepfashion(out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["category", "consumer2shop", "fld", "inshop"]
    assert capsys.readouterr().out.startswith("wrote DeepFashion benchmarks (2/1/1 rows each;")
    partition = (out / "category" / "Eval" / "list_eval_partition.txt").read_text().splitlines()
    assert partition[:2] == ["4", "image_name  evaluation_status"]
    assert cli.main(["validate", "--format", "deepfashion", str(out)]) == 0
    # --overwrite clears the benchmark folders of a previous run, and only those
    assert _synth_deepfashion(out) == 1
    assert _synth_deepfashion(out, "--overwrite", "--seed", "1") == 0
    (out / "notes.txt").write_text("mine")
    assert _synth_deepfashion(out, "--overwrite") == 1
    assert "notes.txt" in capsys.readouterr().err


def test_deepfashion_attribute_labels_flag(tmp_path):
    from fashionvision.cli import synth
    from fashionvision.data.synthetic_deepfashion import ATTRIBUTE_LABELS

    assert synth.ATTRIBUTE_LABELS == ATTRIBUTE_LABELS  # the CLI's copy (no import)
    positives = {}
    for labels in (None, "described", "drawn"):
        out = tmp_path / str(labels)
        assert _synth_deepfashion(out, *(["--attribute-labels", labels] if labels else [])) == 0
        rows = (out / "category" / "Anno" / "list_attr_img.txt").read_text().splitlines()[2:]
        positives[labels] = sum(row.split()[1:].count("1") for row in rows)
        assert cli.main(["validate", "--format", "deepfashion", str(out)]) == 0
    # described is the default: the same bytes as without the flag
    assert tree_digest(tmp_path / "None") == tree_digest(tmp_path / "described")
    assert positives["drawn"] > positives["described"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "deepfashion", "--mix", "easy"], "--mix applies to --format deepfashion2"),
        (
            ["--format", "deepfashion", "--categories", "deepfashion2"],
            "--categories applies to --format deepfashion2",
        ),
        (["--format", "deepfashion", "--workers", "2"], "--workers applies to --format deepfash"),
        (["--test", "5"], "--test applies to --format deepfashion only"),
        (["--attribute-labels", "drawn"], "--attribute-labels applies to --format deepfashion"),
    ],
)
def test_options_of_the_other_format_are_refused(tmp_path, args, message, capsys):
    assert cli.main(["synth", str(tmp_path / "x"), "--train", "1", "--val", "0", *args]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_categories_flag_sets_the_category_mix(tmp_path):
    weights = tmp_path / "skirts.yaml"
    weights.write_text("skirt: 1\n")
    assert _synth(tmp_path / "skirts", "--train", "6", "--categories", str(weights)) == 0
    items = [
        v
        for p in (tmp_path / "skirts").glob("*/annos/*.json")
        for k, v in json.loads(p.read_text()).items()
        if k.startswith("item")
    ]
    assert items and {it["category_id"] for it in items} == {9}  # distractors included
    assert _synth(tmp_path / "df2", "--categories", "deepfashion2") == 0
    # uniform is the default: the same bytes as without the flag
    assert _synth(tmp_path / "default") == 0
    assert _synth(tmp_path / "uniform", "--categories", "uniform") == 0
    assert tree_digest(tmp_path / "uniform") == tree_digest(tmp_path / "default")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("deepfashion", "--categories: categories 'deepfashion': neither one of"),
        ("FILE", "FILE: unknown category 'jacket'"),
    ],
)
def test_bad_categories_are_refused_without_a_traceback(tmp_path, value, message, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("trousers: 2\njacket: 1\n")
    value = str(path) if value == "FILE" else value
    message = message.replace("FILE", str(path))
    assert _synth(tmp_path / "x", "--categories", value) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --categories: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def _synth_parsing(fmt, out, *extra):
    return cli.main(["synth", "--format", fmt, str(out), "--size", "64", *extra])


def test_imaterialist_format_writes_a_csv_the_converter_reads(tmp_path, capsys):
    out = tmp_path / "imat"
    assert _synth_parsing("imaterialist", out, "--train", "3") == 0
    printed = capsys.readouterr().out
    assert printed.startswith("wrote iMaterialist-Fashion train.csv (3 images, ")
    assert sorted(p.name for p in out.iterdir()) == [
        "label_descriptions.json",
        "train",
        "train.csv",
    ]
    assert len(list((out / "train").glob("*.jpg"))) == 3
    coco = tmp_path / "coco.json"
    argv = ["convert", "imaterialist", str(out / "train.csv"), str(coco)]
    argv += ["--labels", str(out / "label_descriptions.json"), "--images", str(out / "train")]
    assert cli.main(argv) == 0
    assert len(json.loads(coco.read_text())["images"]) == 3
    # a second run needs --overwrite, which clears only what the first one wrote
    assert _synth_parsing("imaterialist", out, "--train", "2") == 1
    assert _synth_parsing("imaterialist", out, "--train", "2", "--overwrite") == 0
    assert len(list((out / "train").glob("*.jpg"))) == 2


def test_fashionpedia_format_writes_both_splits(tmp_path, capsys):
    out = tmp_path / "fp"
    assert _synth_parsing("fashionpedia", out, "--train", "3", "--val", "2", "--seed", "1") == 0
    assert capsys.readouterr().out.startswith("wrote Fashionpedia 3 train images (")
    assert sorted(p.name for p in out.iterdir()) == [
        "instances_attributes_train2020.json",
        "instances_attributes_val2020.json",
        "train",
        "val",
    ]
    val = json.loads((out / "instances_attributes_val2020.json").read_text())
    assert len(val["images"]) == 2 and val["annotations"][0]["attribute_ids"] is not None
    assert len(list((out / "val").glob("*.jpg"))) == 2
    assert _synth_parsing("fashionpedia", out, "--train", "1", "--overwrite") == 0
    (out / "notes.txt").write_text("mine")
    assert _synth_parsing("fashionpedia", out, "--overwrite") == 1
    assert "notes.txt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fmt", "args", "message"),
    [
        ("imaterialist", ["--val", "2"], "--val: --format imaterialist writes the competition's"),
        ("imaterialist", ["--test", "2"], "--test applies to --format deepfashion only"),
        ("fashionpedia", ["--test", "2"], "--test applies to --format deepfashion only"),
        ("imaterialist", ["--mix", "easy"], "--mix applies to --format deepfashion2 only"),
        ("fashionpedia", ["--categories", "deepfashion2"], "--categories applies to --format dee"),
        ("fashionpedia", ["--workers", "2"], "--workers applies to --format deepfashion2 only"),
        ("fashionpedia", ["--attribute-labels", "drawn"], "--attribute-labels applies to"),
    ],
)
def test_parsing_formats_refuse_other_formats_options(tmp_path, fmt, args, message, capsys):
    assert _synth_parsing(fmt, tmp_path / "x", "--train", "1", *args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_an_unknown_format_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _synth_parsing("kaggle", tmp_path / "x")
    assert exc.value.code == 2 and "invalid choice: 'kaggle'" in capsys.readouterr().err
