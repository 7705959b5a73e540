"""Regenerate ``sgb_causal_keys.json``: state-dict keys and shapes of SGB's causal head.

Not a test. Same stand-ins and small widths as ``make_sgb_keys.py``; builds SGB's
CausalAnalysisPredictor for each CASES entry (CAUSAL overrides on SGB's defaults, PredCls
flags do not change the layout) and, for SEPARATE_SPATIAL, the union feature extractor.

    python tests/modeling/relation_data/make_sgb_causal_keys.py /path/to/Scene-Graph-Benchmark
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sgb_keys import SMALL_DIMS, _sgb_cfg, _shapes, sgb_environment  # noqa: E402

HERE = Path(__file__).resolve().parent
SGB_CAUSAL_YAML = {"FUSION_TYPE": "sum", "SEPARATE_SPATIAL": False, "SPATIAL_FOR_VISION": True,
                   "EFFECT_ANALYSIS": True}
CASES = {
    "motifs": {**SGB_CAUSAL_YAML, "CONTEXT_LAYER": "motifs"},
    "vctree": {**SGB_CAUSAL_YAML, "CONTEXT_LAYER": "vctree"},
    "vtranse": {**SGB_CAUSAL_YAML, "CONTEXT_LAYER": "vtranse"},
    "vctree_gate_separate_spatial": {"CONTEXT_LAYER": "vctree", "FUSION_TYPE": "gate",
                                     "SEPARATE_SPATIAL": True, "SPATIAL_FOR_VISION": False,
                                     "EFFECT_ANALYSIS": True},
    "motifs_no_effect_analysis": {"CONTEXT_LAYER": "motifs", "FUSION_TYPE": "sum",
                                  "SEPARATE_SPATIAL": False, "SPATIAL_FOR_VISION": False,
                                  "EFFECT_ANALYSIS": False},
}


def main(repo: str) -> None:
    d = SMALL_DIMS
    with sgb_environment(repo) as glove_dir:
        from maskrcnn_benchmark.modeling import registry

        __import__("maskrcnn_benchmark.modeling.roi_heads.relation_head.roi_relation_predictors")
        __import__("maskrcnn_benchmark.modeling.roi_heads.relation_head."
                   "roi_relation_feature_extractors")
        keys = {"dims": d, "cases": CASES, "predictors": {}, "union_feature_extractor": {}}
        for name, causal in CASES.items():
            cfg = _sgb_cfg(glove_dir)
            for key, value in causal.items():
                cfg.MODEL.ROI_RELATION_HEAD.CAUSAL[key] = value
            predictor = registry.ROI_RELATION_PREDICTOR["CausalAnalysisPredictor"](
                cfg, d["mlp_head_dim"])
            keys["predictors"][name] = _shapes(predictor)
            union = registry.ROI_RELATION_FEATURE_EXTRACTORS["RelationFeatureExtractor"](
                cfg, d["fpn_channels"])
            keys["union_feature_extractor"][name] = _shapes(union)
    (HERE / "sgb_causal_keys.json").write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
