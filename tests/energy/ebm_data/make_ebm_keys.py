"""Regenerate ``ebm_energy_keys.json``: state-dict keys and shapes of the EBM code's energy model.

Not a test. It imports ``GraphEnergyModel`` of mods333/energy-based-scene-graph
(``modeling/energy_head/{model_ebm,layers,pooling}.py`` and its ``config/defaults.py``) from a
checkout, with ``torch_scatter``, ``make_fc``, the registry and the relation post-processor
replaced by stand-ins that hold no parameters (the reference's ``PostProcessor`` has none
either), builds it at the small widths of ``SMALL_DIMS`` and writes every state-dict key with
its shape. ``tests/energy/test_ebm_checkpoint.py`` builds a state dict of exactly these keys and
shapes, maps it onto this package's energy model and loads it strictly.

    python tests/energy/ebm_data/make_ebm_keys.py /path/to/energy-based-scene-graph
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
# Distinct widths, so that a transposed or swapped tensor cannot load by accident.
SMALL_DIMS = {
    "num_obj_classes": 7,
    "num_rel_classes": 5,
    "in_channels": 12,
    "obj_embed_dim": 8,
    "rel_embed_dim": 6,
    "pooling_dim": 10,
}
EBM_FILES = [
    "maskrcnn_benchmark/config/defaults.py",
    "maskrcnn_benchmark/modeling/energy_head/model_ebm.py",
    "maskrcnn_benchmark/modeling/energy_head/layers.py",
    "maskrcnn_benchmark/modeling/energy_head/pooling.py",
]


def _stub(name: str, **attrs) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module


def _install_ebm(repo: str, root: Path) -> None:
    for rel in EBM_FILES:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(subprocess.check_output(["git", "-C", repo, "show", f"HEAD:{rel}"]))
    for directory in [p for p in root.rglob("*") if p.is_dir()]:
        (directory / "__init__.py").touch()
    (root / "maskrcnn_benchmark/config/__init__.py").write_text("from .defaults import _C as cfg\n")
    sys.path.insert(0, str(root))

    def scatter(src, index, dim=0, dim_size=None, reduce="sum"):
        size = int(index.max()) + 1 if dim_size is None else dim_size
        out = src.new_zeros((size, *src.shape[1:]))
        return out.index_add(0, index, src)

    _stub("torch_scatter", scatter=scatter)
    _stub("maskrcnn_benchmark.modeling.utils", cat=lambda t, dim=0: torch.cat(list(t), dim))
    _stub("maskrcnn_benchmark.modeling.make_layers", make_fc=nn.Linear)
    _stub("maskrcnn_benchmark.modeling.registry")
    _stub("maskrcnn_benchmark.modeling.roi_heads.relation_head.inference",
          make_roi_relation_post_processor=lambda cfg: nn.Module())


def main(repo: str) -> None:
    d = SMALL_DIMS
    with tempfile.TemporaryDirectory() as tmp:
        _install_ebm(repo, Path(tmp) / "ebm")
        from maskrcnn_benchmark.config import cfg
        from maskrcnn_benchmark.modeling.energy_head.model_ebm import GraphEnergyModel

        cfg = cfg.clone()
        cfg.DATASETS.NUM_OBJ_CLASSES = d["num_obj_classes"]
        cfg.DATASETS.NUM_REL_CLASSES = d["num_rel_classes"]
        cfg.MODEL.ROI_RELATION_HEAD.EBM.OBJ_EMBED_DIM = d["obj_embed_dim"]
        cfg.MODEL.ROI_RELATION_HEAD.EBM.REL_EMBED_DIM = d["rel_embed_dim"]
        cfg.MODEL.ROI_RELATION_HEAD.EBM.POOLING_DIM = d["pooling_dim"]
        model = GraphEnergyModel(cfg, d["in_channels"])
        shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in shapes.items()]
    text = ('{\n "dims": ' + json.dumps(d) + ',\n "energy_model": {\n'
            + ",\n".join(lines) + "\n }\n}\n")
    (HERE / "ebm_energy_keys.json").write_text(text)


if __name__ == "__main__":
    main(sys.argv[1])
