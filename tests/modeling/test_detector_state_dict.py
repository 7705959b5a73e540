"""SGB checkpoint compatibility: state-dict keys and shapes equal the reference's, round trips."""

import json
import math
from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.utils.checkpoint import Checkpointer

DATA = Path(__file__).parent / "data"
CONFIG_DATA = Path(__file__).resolve().parents[1] / "config" / "data"
REFERENCE = json.loads((DATA / "sgb_detector_state_dict_shapes.json").read_text())

CASES = [
    ("X-101-32x8d-FPN", CONFIG_DATA / "sgb_e2e_relation_detector_X_101_32_8_FPN_1x.yaml"),
    ("X-101-32x8d-FPN", CONFIG_DATA / "ebm_e2e_relation_X_101_32_8_FPN_1x.yaml"),
    ("R-101-FPN", DATA / "sgb_e2e_relation_detector_R_101_FPN_1x.yaml"),
    ("VGG-16", DATA / "sgb_e2e_relation_detector_VGG16_1x.yaml"),
]


def _meta_model(config: Path):
    cfg = get_cfg()
    cfg.merge_from_file(str(config))
    cfg.MODEL.RELATION_ON = False  # the detector part (the relation yaml trains a relation head)
    with torch.device("meta"):
        return build_detection_model(cfg)


@pytest.mark.parametrize("model_name,config", CASES, ids=lambda c: getattr(c, "name", c))
def test_state_dict_keys_and_shapes_equal_the_reference(model_name, config):
    ours = {k: list(v.shape) for k, v in _meta_model(config).state_dict().items()}
    reference = REFERENCE[model_name]
    assert sorted(set(reference) - set(ours)) == []  # missing keys
    assert sorted(set(ours) - set(reference)) == []  # unexpected keys
    assert {k: s for k, s in ours.items() if s != reference[k]} == {}
    assert list(ours) == list(reference)  # even the order is SGB's


def test_x101_detector_has_the_documented_size():
    state = _meta_model(CASES[0][1]).state_dict()
    assert len(state) == 555
    assert sum(math.prod(v.shape) for v in state.values()) == 162_143_767
    prefixes = {}
    for key in state:
        prefix = ".".join(key.split(".")[:2]) if not key.startswith("roi_heads") else \
            ".".join(key.split(".")[:3])
        prefixes[prefix] = prefixes.get(prefix, 0) + 1
    assert prefixes == {"backbone.body": 520, "backbone.fpn": 16, "rpn.anchor_generator": 5,
                        "rpn.head": 6, "roi_heads.box.feature_extractor": 4,
                        "roi_heads.box.predictor": 4}


def _tiny_model(seed: int):
    torch.manual_seed(seed)
    cfg = get_cfg()
    cfg.merge_from_file(str(DATA / "tiny_detector.yaml"))
    cfg.MODEL.ROI_HEADS.SCORE_THRESH = 0.0  # untrained: keep every detection
    return build_detection_model(cfg).eval()


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    source, target = _tiny_model(seed=1), _tiny_model(seed=2)
    images = [torch.randn(3, 64, 80), torch.randn(3, 48, 64)]
    # SGB files come from DDP: every key carries a "module." prefix.
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    torch.save({"model": state, "iteration": 7}, tmp_path / "model_final.pth")
    extra = Checkpointer(target).load(str(tmp_path / "model_final.pth"), strict=True)
    assert extra == {"iteration": 7}
    with torch.no_grad():
        expected, actual = source(images), target(images)
    assert [len(r) for r in expected] == [len(r) for r in actual] and len(actual[0]) > 0
    for a, b in zip(expected, actual):
        assert torch.equal(a.bbox, b.bbox)
        assert torch.equal(a.get_field("pred_scores"), b.get_field("pred_scores"))
        assert torch.equal(a.get_field("pred_labels"), b.get_field("pred_labels"))
