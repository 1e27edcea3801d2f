import dataclasses

import pytest

from fashionvision.config import (
    Config,
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_override,
    preset_names,
    save_config,
)


def test_presets_are_found_by_name():
    assert {"match_rcnn_r50_fpn_1x", "match_rcnn_tiny"} <= set(preset_names())


def test_full_preset_is_the_paper_recipe():
    cfg = load_config("match_rcnn_r50_fpn_1x")
    assert (cfg.model.backbone, cfg.model.norm, cfg.model.fpn_channels) == (
        "resnet50",
        "frozen_bn",
        256,
    )
    assert (cfg.model.min_size, cfg.model.max_size) == (800, 1333)
    s = cfg.solver
    assert (s.epochs, s.batch_size, s.base_lr, s.momentum, s.weight_decay) == (
        12,
        16,
        0.02,
        0.9,
        1e-4,
    )
    assert s.steps == (8, 11) and s.gamma == 0.1 and s.warmup_iters == 500
    # the preset spells out the dataclass defaults, apart from pretrained weights and loader workers
    defaults = Config()
    assert dataclasses.replace(cfg.model, weights=None) == defaults.model
    assert cfg.solver == defaults.solver and cfg.loss == defaults.loss


def test_tiny_preset_is_a_light_cpu_model():
    cfg = load_config("match_rcnn_tiny")
    assert (cfg.model.backbone, cfg.model.norm, cfg.model.fpn_channels) == ("resnet18", "gn", 64)
    assert (cfg.model.min_size, cfg.model.max_size, cfg.model.box_batch_size_per_image) == (
        256,
        256,
        64,
    )
    assert cfg.solver.batch_size == 4 and cfg.train.device == "cpu"


def test_dotted_overrides_are_parsed_as_yaml():
    cfg = load_config(
        "match_rcnn_tiny",
        [
            "solver.base_lr=0.01",
            "data.root=/x",
            "model.norm=bn",
            "solver.steps=[3, 5]",
            "train.max_iters=7",
            "model.weights=null",
            "solver.amp=true",
            "loss.pair=1",
        ],
    )
    assert cfg.solver.base_lr == 0.01 and cfg.data.root == "/x" and cfg.model.norm == "bn"
    assert cfg.solver.steps == (3, 5) and cfg.train.max_iters == 7 and cfg.model.weights is None
    assert cfg.solver.amp is True
    assert cfg.loss.pair == 1.0 and isinstance(cfg.loss.pair, float)  # int accepted for float


@pytest.mark.parametrize(
    "override, key",
    [
        ("solver.lr=0.1", "solver.lr"),
        ("nosection.x=1", "nosection"),
        ("solver.base_lr=abc", "solver.base_lr"),
        ("solver.epochs=1.5", "solver.epochs"),
        ("solver.epochs=true", "solver.epochs"),
        ("model.norm=layer", "model.norm"),
        ("solver.steps=[1, x]", "solver.steps[1]"),
        ("solver.steps=3", "solver.steps"),
        ("solver=3", "solver"),
        ("data.root.deeper=1", "data.root"),
    ],
)
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(ConfigError) as info:
        load_config("match_rcnn_tiny", [override])
    # the key came from the command line, not from the preset's YAML file
    assert str(info.value).startswith("command line: ") and key in str(info.value)
    assert ".yaml" not in str(info.value)


def test_a_bad_key_of_the_file_still_names_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("solver:\n  bogus: 1\n")
    with pytest.raises(ConfigError, match=rf"^{path}: unknown key 'solver.bogus'"):
        load_config(path, ["solver.base_lr=0.1"])
    with pytest.raises(ConfigError, match=r"^command line: unknown key 'solver.typo'"):
        load_config(path, ["solver.typo=0.1"])  # the user's own typo is named first
    path.write_text("solver:\n  epochs: many\n")
    with pytest.raises(ConfigError, match=rf"^{path}: solver.epochs: expected int"):
        load_config(path)
    assert load_config(path, ["solver.epochs=3"]).solver.epochs == 3


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("solver.base_lr")
    assert parse_override("a.b=") == ("a.b", None)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError, match="match_rcnn_tiny"):
        load_config("no_such_preset")


def test_yaml_file_round_trip_and_errors(tmp_path):
    cfg = load_config("match_rcnn_tiny", ["solver.steps=[2]", "data.root=/data"])
    path = tmp_path / "run.yaml"
    save_config(cfg, path)
    assert load_config(path) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg
    bad = tmp_path / "bad.yaml"
    bad.write_text("solver:\n  base_lr: [1\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    bad.write_text("model:\n  depth: 50\n")
    with pytest.raises(ConfigError, match="model.depth"):
        load_config(bad)
