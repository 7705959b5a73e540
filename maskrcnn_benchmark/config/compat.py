"""Keys of SGB / EBM configs that configure features this project deliberately dropped.

A YAML or command line that sets one of them still loads: the key is removed with a one-line
warning saying it has no effect. A key listed here covers everything below it.
"""

DROPPED_KEYS: dict[str, str] = {
    "MODEL.RPN_ONLY": "RPN-only models are not part of this framework",
    "MODEL.MASK_ON": "mask heads are not part of this framework",
    "MODEL.RETINANET_ON": "RetinaNet is not part of this framework",
    "MODEL.KEYPOINT_ON": "keypoint heads are not part of this framework",
    "MODEL.ATTRIBUTE_ON": "the attribute head is not part of this framework",
    "MODEL.DEV_RUN": "use SOLVER.MAX_ITER / DATASETS.NUM_IM for short runs",
    "MODEL.BASE_ONLY": "the relation head always returns a typed result",
    "MODEL.FPN.USE_GN": "GroupNorm variants are not part of this framework",
    "MODEL.GROUP_NORM": "GroupNorm variants are not part of this framework",
    "MODEL.RETINANET": "RetinaNet is not part of this framework",
    "MODEL.FBNET": "FBNet is not part of this framework",
    "MODEL.ROI_MASK_HEAD": "mask heads are not part of this framework",
    "MODEL.ROI_KEYPOINT_HEAD": "keypoint heads are not part of this framework",
    "MODEL.ROI_ATTRIBUTE_HEAD": "the attribute head is not part of this framework",
    "MODEL.ROI_BOX_HEAD.USE_GN": "GroupNorm variants are not part of this framework",
    "MODEL.ROI_BOX_HEAD.DILATION": "only the FPN2MLP box head is part of this framework",
    "MODEL.ROI_BOX_HEAD.CONV_HEAD_DIM": "only the FPN2MLP box head is part of this framework",
    "MODEL.ROI_BOX_HEAD.NUM_STACKED_CONVS": "only the FPN2MLP box head is part of this framework",
    "MODEL.RESNETS.STAGE_WITH_DCN": "deformable convolutions need compiled ops",
    "MODEL.RESNETS.WITH_MODULATED_DCN": "deformable convolutions need compiled ops",
    "MODEL.RESNETS.DEFORMABLE_GROUPS": "deformable convolutions need compiled ops",
    "MODEL.ROI_RELATION_HEAD.REL_PROP": "predicate proportions come from the dataset statistics",
    "ENERGY_MODEL.TRAINIG_MODE": "energy training is always joint; switch it with MODEL.ENERGY_ON",
    "WANDB": "logging goes to TensorBoard and log files",
    "DATASETS.NUM_OBJ_CLASSES": "class counts come from MODEL.ROI_BOX_HEAD.NUM_CLASSES",
    "DATASETS.NUM_REL_CLASSES": "class counts come from MODEL.ROI_RELATION_HEAD.NUM_CLASSES",
    "SOLVER.CLIP_NORM": "gradient clipping is SOLVER.GRAD_NORM_CLIP",
    "TEST.EXPECTED_RESULTS": "expected-results checks are not part of this framework",
    "TEST.EXPECTED_RESULTS_SIGMA_TOL": "expected-results checks are not part of this framework",
    "TEST.DETECTIONS_PER_IMG": "detections per image are MODEL.ROI_HEADS.DETECTIONS_PER_IMG",
    "TEST.BBOX_AUG": "test-time box augmentation is not part of this framework",
    "TEST.SAVE_PROPOSALS": "proposals are not saved separately",
    "TEST.RELATION.MULTIPLE_PREDS": "ng-R@K reports the multiple-predicate setting",
    "PATHS_CATALOG": "named datasets live in maskrcnn_benchmark/config/paths_catalog.py",
    "PATHS_DATA": "the dataset root is DATASETS.DATA_DIR",
    "AMP_VERBOSE": "mixed precision is torch.amp (DTYPE)",
}


def dropped_reason(full_key: str) -> str | None:
    """Return why ``full_key`` (or a node above it) has no effect, or None if it is not dropped."""
    parts = full_key.split(".")
    for end in range(len(parts), 0, -1):
        reason = DROPPED_KEYS.get(".".join(parts[:end]))
        if reason is not None:
            return reason
    return None
