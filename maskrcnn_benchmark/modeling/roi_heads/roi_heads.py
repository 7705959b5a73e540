"""The ROI heads of GeneralizedRCNN: the box head and, with MODEL.RELATION_ON, the relation head."""

from typing import Any

from torch import nn

from maskrcnn_benchmark.config import CfgNode

from .box_head import build_roi_box_head

__all__ = ["CombinedROIHeads", "build_roi_heads"]


class CombinedROIHeads(nn.ModuleDict):
    """Holds ``box`` and, in relation mode, ``relation`` (state-dict prefixes
    ``roi_heads.box.*`` / ``roi_heads.relation.*`` as SGB); GeneralizedRCNN calls them in turn."""

    @property
    def relation_on(self) -> bool:
        """Whether a relation head is present."""
        return "relation" in self


def build_roi_heads(cfg: CfgNode, in_channels: int, statistics: Any = None) -> CombinedROIHeads:
    """Box head, plus the relation head when MODEL.RELATION_ON (``statistics`` goes to it)."""
    heads: dict[str, nn.Module] = {"box": build_roi_box_head(cfg, in_channels)}
    if cfg.MODEL.RELATION_ON:
        # Imported here so the detector works without the relation head package.
        from maskrcnn_benchmark.modeling.roi_heads.relation_head import build_roi_relation_head

        heads["relation"] = build_roi_relation_head(cfg, in_channels, statistics)
    return CombinedROIHeads(heads)
