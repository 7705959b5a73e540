"""SGB's main relation YAML and its custom-image command line load with this package's config."""

import logging
from pathlib import Path

from maskrcnn_benchmark.config import get_cfg

SGB_RELATION_YAML = Path(__file__).parent / "data" / "sgb_e2e_relation_X_101_32_8_FPN_1x.yaml"


def test_custom_image_keys_default_as_documented():
    cfg = get_cfg()
    assert cfg.TEST.CUSTUM_EVAL is False
    assert cfg.TEST.CUSTUM_PATH == ""
    assert cfg.DETECTED_SGG_DIR == "."


def test_sgb_relation_yaml_and_readme_command_line_load(caplog):
    cfg = get_cfg()
    with caplog.at_level(logging.WARNING, logger="maskrcnn_benchmark"):
        cfg.merge_from_file(str(SGB_RELATION_YAML))
        # the overrides of SGB's README command for custom images
        cfg.merge_from_list([
            "MODEL.ROI_RELATION_HEAD.USE_GT_BOX", "False",
            "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", "False",
            "MODEL.ROI_RELATION_HEAD.PREDICTOR", "CausalAnalysisPredictor",
            "MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_TYPE", "TDE",
            "TEST.IMS_PER_BATCH", "1", "DTYPE", "float16",
            "TEST.CUSTUM_EVAL", "True", "TEST.CUSTUM_PATH", "/data/custom_images",
            "DETECTED_SGG_DIR", "/data/your_output_path"])
    assert cfg.MODEL.RELATION_ON is True
    assert cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES == 151
    assert cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES == 51
    assert cfg.MODEL.ROI_RELATION_HEAD.BATCH_SIZE_PER_IMAGE == 1024
    assert cfg.MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM == 4096
    assert cfg.MODEL.ROI_HEADS.DETECTIONS_PER_IMG == 80
    assert cfg.INPUT.MIN_SIZE_TEST == 600 and cfg.INPUT.MAX_SIZE_TEST == 1000
    assert cfg.SOLVER.SCHEDULE.TYPE == "WarmupReduceLROnPlateau"
    assert cfg.TEST.RELATION.SYNC_GATHER is True
    assert cfg.TEST.RELATION.LATER_NMS_PREDICTION_THRES == 0.5
    assert cfg.TEST.CUSTUM_EVAL is True
    assert cfg.TEST.CUSTUM_PATH == "/data/custom_images"
    assert cfg.DETECTED_SGG_DIR == "/data/your_output_path"
    assert cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX is False
    dropped = [r.getMessage() for r in caplog.records if "has no effect" in r.getMessage()]
    for key in ("MODEL.ATTRIBUTE_ON", "MODEL.ROI_ATTRIBUTE_HEAD"):
        assert any(m.startswith(f"Config key {key} ") for m in dropped), key
    assert not any("CUSTUM" in m or "DETECTED_SGG_DIR" in m for m in dropped)


def test_sgb_yaml_values_for_custom_eval():
    cfg = get_cfg()
    cfg.merge_from_file(str(SGB_RELATION_YAML))
    assert cfg.TEST.CUSTUM_EVAL is False and cfg.TEST.CUSTUM_PATH == "."
