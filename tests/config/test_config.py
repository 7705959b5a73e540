"""Config loading: SGB / EBM YAMLs load unchanged, dropped keys warn, unknown keys fail by name."""

import logging
from pathlib import Path

import pytest

from maskrcnn_benchmark.config import ConfigKeyError, get_cfg

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def test_get_cfg_returns_independent_copies():
    a, b = get_cfg(), get_cfg()
    a.SOLVER.BASE_LR = 123.0
    assert b.SOLVER.BASE_LR == 0.002
    assert get_cfg().SOLVER.BASE_LR == 0.002


@pytest.mark.parametrize("name", ["ebm_e2e_relation_X_101_32_8_FPN_1x.yaml",
                                  "sgb_e2e_relation_detector_X_101_32_8_FPN_1x.yaml"])
def test_reference_yamls_load_unchanged(name, caplog):
    cfg = get_cfg()
    with caplog.at_level(logging.WARNING, logger="maskrcnn_benchmark"):
        cfg.merge_from_file(str(DATA / name))
    assert cfg.INPUT.MIN_SIZE_TRAIN == (600,)
    assert cfg.MODEL.RPN.ASPECT_RATIOS == (0.23232838, 0.63365731, 1.28478321, 3.15089189)
    assert cfg.MODEL.RESNETS.NUM_GROUPS == 32 and cfg.MODEL.RESNETS.WIDTH_PER_GROUP == 8
    assert cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES == 151
    assert cfg.DATASETS.TRAIN == ("VG_stanford_filtered_with_attribute_train",)
    # dropped sections are skipped with one warning line each
    dropped = [r.getMessage() for r in caplog.records if "has no effect" in r.getMessage()]
    assert any("MODEL.ROI_ATTRIBUTE_HEAD" in m for m in dropped)
    assert any("MODEL.ATTRIBUTE_ON" in m for m in dropped)
    assert all("\n" not in m for m in dropped)


def test_ebm_yaml_values_and_overrides():
    cfg = get_cfg()
    cfg.merge_from_file(str(DATA / "ebm_e2e_relation_X_101_32_8_FPN_1x.yaml"))
    cfg.merge_from_list(["SAMPLER.LR", "1.0", "SAMPLER.ITERS", "20", "ENERGY_MODEL.TEMP", "2",
                         "MODEL.ROI_RELATION_HEAD.PREDICTOR", "VCTreePredictor"])
    assert cfg.SOLVER.SCHEDULE.TYPE == "WarmupReduceLROnPlateau"
    assert cfg.MODEL.ROI_RELATION_HEAD.BATCH_SIZE_PER_IMAGE == 1024
    assert cfg.MODEL.ROI_RELATION_HEAD.EBM.POOLING_DIM == 512
    assert cfg.SAMPLER.LR == 1.0 and cfg.SAMPLER.ITERS == 20
    assert cfg.ENERGY_MODEL.TEMP == 2.0 and isinstance(cfg.ENERGY_MODEL.TEMP, float)
    assert cfg.MODEL.ROI_RELATION_HEAD.PREDICTOR == "VCTreePredictor"


def test_unknown_key_in_yaml_names_key_and_closest(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("SOLVER:\n  BASE_LRR: 0.1\n")
    with pytest.raises(ConfigKeyError) as err:
        get_cfg().merge_from_file(str(bad))
    msg = str(err.value)
    assert "SOLVER.BASE_LRR" in msg and "SOLVER.BASE_LR" in msg and str(bad) in msg


def test_unknown_key_on_command_line():
    with pytest.raises(ConfigKeyError) as err:
        get_cfg().merge_from_list(["MODEL.ROI_RELATION_HEAD.PREDICTR", "X"])
    assert "MODEL.ROI_RELATION_HEAD.PREDICTOR" in str(err.value)


def test_dropped_key_on_command_line_warns(caplog):
    cfg = get_cfg()
    with caplog.at_level(logging.WARNING, logger="maskrcnn_benchmark"):
        cfg.merge_from_list(["MODEL.DEV_RUN", "True", "SOLVER.CLIP_NORM", "3.0"])
    msgs = [r.getMessage() for r in caplog.records]
    assert any("MODEL.DEV_RUN" in m for m in msgs) and any("SOLVER.CLIP_NORM" in m for m in msgs)
    assert "DEV_RUN" not in cfg.MODEL


def test_missing_and_corrupt_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        get_cfg().merge_from_file(str(tmp_path / "nope.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("SOLVER: [unclosed\n")
    with pytest.raises(ValueError, match="broken.yaml"):
        get_cfg().merge_from_file(str(broken))


def test_type_mismatch_is_an_error():
    with pytest.raises(ValueError):
        get_cfg().merge_from_list(["SOLVER.MAX_ITER", "'many'"])


def test_every_shipped_yaml_loads():
    yamls = sorted((REPO / "configs").rglob("*.yaml"))
    for path in yamls:
        cfg = get_cfg()
        cfg.merge_from_file(str(path))
