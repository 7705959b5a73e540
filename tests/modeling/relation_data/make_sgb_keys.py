"""Regenerate ``sgb_relation_keys.json``: state-dict keys and shapes of SGB's relation head.

Not a test. It imports the relation-head modules of Scene-Graph-Benchmark.pytorch from a
checkout (compiled ops, apex and data loading replaced by tiny stand-ins that hold no
parameters), builds every predictor and the two relation feature extractors at the small
widths of ``SMALL_DIMS`` and writes their state-dict keys and shapes. The tests build this
framework's modules at the same widths and require the same keys and shapes, so a checkpoint
trained by SGB loads with a strict key match.

    python tests/modeling/relation_data/make_sgb_keys.py /path/to/Scene-Graph-Benchmark.pytorch
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
SMALL_DIMS = {
    "num_obj_classes": 7,
    "num_rel_classes": 5,
    "fpn_channels": 8,
    "pooler_resolution": 3,
    "pooler_scales": [0.25, 0.125, 0.0625, 0.03125],
    "mlp_head_dim": 24,
    "embed_dim": 8,
    "hidden_dim": 16,
    "pooling_dim": 24,
    "transformer": {"OBJ_LAYER": 2, "REL_LAYER": 1, "NUM_HEAD": 2, "INNER_DIM": 16,
                    "KEY_DIM": 4, "VAL_DIM": 4},
}
SGB_FILES = [
    "maskrcnn_benchmark/config/defaults.py",
    "maskrcnn_benchmark/modeling/poolers.py",
    "maskrcnn_benchmark/modeling/make_layers.py",
    "maskrcnn_benchmark/modeling/roi_heads/box_head/roi_box_feature_extractors.py",
] + [
    f"maskrcnn_benchmark/modeling/roi_heads/relation_head/{name}.py"
    for name in ("model_motifs", "model_motifs_with_attribute", "model_msg_passing",
                 "model_transformer", "model_vctree", "model_vtranse", "roi_relation_predictors",
                 "roi_relation_feature_extractors", "utils_motifs", "utils_relation",
                 "utils_treelstm", "utils_vctree")
]


def _stub(name: str, **attrs) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module


class _Registry(dict):
    def register(self, name):
        def deco(obj):
            self[name] = obj
            return obj
        return deco


def _install_sgb(repo: str, root: Path, statistics: dict) -> None:
    for rel in SGB_FILES:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(subprocess.check_output(["git", "-C", repo, "show", f"HEAD:{rel}"]))
    for directory in [p for p in root.rglob("*") if p.is_dir()]:
        (directory / "__init__.py").touch()
    (root / "maskrcnn_benchmark/config/__init__.py").write_text("from .defaults import _C as cfg\n")
    sys.path.insert(0, str(root))
    registry_names = ("ROI_RELATION_PREDICTOR", "ROI_RELATION_FEATURE_EXTRACTORS",
                      "ROI_BOX_FEATURE_EXTRACTORS", "ROI_ATTRIBUTE_FEATURE_EXTRACTORS")
    _stub("maskrcnn_benchmark.modeling.registry", **{n: _Registry() for n in registry_names})
    _stub("maskrcnn_benchmark.modeling.utils", cat=lambda t, dim=0: torch.cat(list(t), dim))

    class ParamFreeROIAlign(nn.Module):  # SGB's ROIAlign has no parameters
        def __init__(self, *args, **kwargs):
            super().__init__()

    dummy = lambda *a, **k: None  # noqa: E731
    _stub("maskrcnn_benchmark.layers", Conv2d=nn.Conv2d, ROIAlign=ParamFreeROIAlign,
          smooth_l1_loss=dummy, kl_div_loss=dummy, entropy_loss=dummy,
          Label_Smoothing_Regression=nn.Identity)
    _stub("maskrcnn_benchmark.data", get_dataset_statistics=lambda cfg: statistics)
    _stub("maskrcnn_benchmark.modeling.backbone.resnet")
    _stub("maskrcnn_benchmark.modeling.backbone", __path__=[],
          resnet=sys.modules["maskrcnn_benchmark.modeling.backbone.resnet"])
    _stub("maskrcnn_benchmark.modeling.roi_heads.attribute_head.roi_attribute_feature_extractors",
          make_roi_attribute_feature_extractor=dummy)
    _stub("maskrcnn_benchmark.modeling.roi_heads.attribute_head", __path__=[])


def _sgb_cfg(glove_dir: str):
    from maskrcnn_benchmark.config.defaults import _C

    cfg = _C.clone()
    d = SMALL_DIMS
    cfg.GLOVE_DIR = glove_dir
    cfg.MODEL.ROI_BOX_HEAD.FEATURE_EXTRACTOR = "FPN2MLPFeatureExtractor"
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = d["num_obj_classes"]
    cfg.MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM = d["mlp_head_dim"]
    cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = d["pooler_resolution"]
    cfg.MODEL.ROI_BOX_HEAD.POOLER_SCALES = tuple(d["pooler_scales"])
    cfg.MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO = 2
    cfg.MODEL.ROI_ATTRIBUTE_HEAD.NUM_ATTRIBUTES = 3
    head = cfg.MODEL.ROI_RELATION_HEAD
    head.NUM_CLASSES = d["num_rel_classes"]
    head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL = True, False
    head.EMBED_DIM = d["embed_dim"]
    head.CONTEXT_HIDDEN_DIM = d["hidden_dim"]
    head.CONTEXT_POOLING_DIM = d["pooling_dim"]
    for key, value in d["transformer"].items():
        head.TRANSFORMER[key] = value
    return cfg


def _shapes(module: nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


@contextlib.contextmanager
def sgb_environment(repo: str) -> Iterator[str]:
    """SGB's code importable with the stand-ins and small-width statistics; yields a GloVe
    folder holding one dummy vector (SGB's embedding loader needs the file)."""
    d = SMALL_DIMS
    statistics = {
        "obj_classes": ["__background__"] + [f"class{i}" for i in range(1, d["num_obj_classes"])],
        "rel_classes": ["__background__"] + [f"rel{i}" for i in range(1, d["num_rel_classes"])],
        "att_classes": ["__background__", "a1", "a2"],
        "pred_dist": torch.zeros(d["num_obj_classes"], d["num_obj_classes"],
                                 d["num_rel_classes"]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        glove_dir = os.path.join(tmp, "glove")
        os.makedirs(glove_dir)
        with open(os.path.join(glove_dir, f"glove.6B.{d['embed_dim']}d.txt"), "w") as f:
            f.write("start " + " ".join(["0.1"] * d["embed_dim"]) + "\n")
        _install_sgb(repo, Path(tmp) / "sgb", statistics)
        yield glove_dir


def main(repo: str) -> None:
    d = SMALL_DIMS
    with sgb_environment(repo) as glove_dir:
        cfg = _sgb_cfg(glove_dir)
        from maskrcnn_benchmark.modeling import registry

        __import__("maskrcnn_benchmark.modeling.roi_heads.relation_head.roi_relation_predictors")
        __import__("maskrcnn_benchmark.modeling.roi_heads.relation_head."
                   "roi_relation_feature_extractors")
        keys = {"dims": d, "predictors": {}, "feature_extractors": {}}
        for name in ("MotifPredictor", "VCTreePredictor", "IMPPredictor", "TransformerPredictor"):
            predictor = registry.ROI_RELATION_PREDICTOR[name](cfg, d["mlp_head_dim"])
            keys["predictors"][name] = _shapes(predictor)
        union = registry.ROI_RELATION_FEATURE_EXTRACTORS["RelationFeatureExtractor"](
            cfg, d["fpn_channels"])
        box = registry.ROI_BOX_FEATURE_EXTRACTORS["FPN2MLPFeatureExtractor"](
            cfg, d["fpn_channels"])
        keys["feature_extractors"]["union_feature_extractor"] = _shapes(union)
        keys["feature_extractors"]["box_feature_extractor"] = _shapes(box)
    (HERE / "sgb_relation_keys.json").write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
