"""One registry per pluggable model family; a config value selects the entry by name."""

from maskrcnn_benchmark.utils.registry import Registry

# Called as ``entry(cfg)`` -> nn.Module with ``.out_channels``.
BACKBONES = Registry("BACKBONES")
# ResNet building blocks selected by MODEL.RESNETS.TRANS_FUNC / STEM_FUNC.
RESNET_TRANS_FUNCS = Registry("RESNET_TRANS_FUNCS")
RESNET_STEM_FUNCS = Registry("RESNET_STEM_FUNCS")
# Called as ``entry(cfg, in_channels, num_anchors)`` -> RPN head module.
RPN_HEADS = Registry("RPN_HEADS")
# Called as ``entry(cfg, in_channels)`` -> RoI box feature extractor with ``.out_channels``.
ROI_BOX_FEATURE_EXTRACTORS = Registry("ROI_BOX_FEATURE_EXTRACTORS")
# Called as ``entry(cfg, in_channels)`` -> box predictor (class logits, box deltas).
ROI_BOX_PREDICTOR = Registry("ROI_BOX_PREDICTOR")
# Called as ``entry(cfg, in_channels)`` -> union-box feature extractor of the relation head.
ROI_RELATION_FEATURE_EXTRACTORS = Registry("ROI_RELATION_FEATURE_EXTRACTORS")
# Called as ``entry.from_config(cfg, in_channels, statistics)`` -> relation predictor.
RELATION_PREDICTORS = Registry("RELATION_PREDICTORS")
# Called as ``entry(cfg)`` -> whole model (GeneralizedRCNN).
META_ARCH_REGISTRY = Registry("META_ARCH_REGISTRY")
# Energy-based learning: energy models, SGLD-style samplers and energy losses.
ENERGY_MODELS = Registry("ENERGY_MODELS")
ENERGY_SAMPLERS = Registry("ENERGY_SAMPLERS")
ENERGY_LOSSES = Registry("ENERGY_LOSSES")
