"""Anchors: Detectron's cell anchors (rounded sizes, +1 convention) tiled over feature maps."""

from collections.abc import Sequence

import torch
from torch import nn

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.image_list import ImageList

__all__ = ["generate_anchors", "BufferList", "AnchorGenerator"]


def _box_whctr(box: torch.Tensor) -> tuple[torch.Tensor, ...]:
    width = box[..., 2] - box[..., 0] + 1
    height = box[..., 3] - box[..., 1] + 1
    return width, height, box[..., 0] + 0.5 * (width - 1), box[..., 1] + 0.5 * (height - 1)


def _boxes_around(widths: torch.Tensor, heights: torch.Tensor, ctr_x, ctr_y) -> torch.Tensor:
    half_w, half_h = 0.5 * (widths - 1), 0.5 * (heights - 1)
    return torch.stack((ctr_x - half_w, ctr_y - half_h, ctr_x + half_w, ctr_y + half_h), dim=-1)


def generate_anchors(
    stride: int, sizes: Sequence[float], aspect_ratios: Sequence[float]
) -> torch.Tensor:
    """Cell anchors [len(ratios) * len(sizes), 4] (xyxy, float32) of one feature level.

    As in Detectron: start from the ``stride x stride`` box at the origin, reshape it to each
    aspect ratio (h / w) with rounded width and height, then scale it by ``size / stride``;
    rows are ordered ratio-major. Computed in float64 on the CPU (exact reference numbers).
    """
    base = torch.tensor([0.0, 0.0, stride - 1.0, stride - 1.0], dtype=torch.float64, device="cpu")
    ratios = torch.tensor(aspect_ratios, dtype=torch.float64, device="cpu")
    scales = torch.tensor(sizes, dtype=torch.float64, device="cpu") / stride
    width, height, ctr_x, ctr_y = _box_whctr(base)
    ratio_widths = torch.round(torch.sqrt(width * height / ratios))
    ratio_heights = torch.round(ratio_widths * ratios)
    ratio_boxes = _boxes_around(ratio_widths, ratio_heights, ctr_x, ctr_y)
    rows = []
    for box in ratio_boxes:
        width, height, ctr_x, ctr_y = _box_whctr(box)
        rows.append(_boxes_around(width * scales, height * scales, ctr_x, ctr_y))
    return torch.cat(rows, dim=0).float()


class BufferList(nn.Module):
    """A list of buffers named "0", "1", ... (state-dict keys ``cell_anchors.K``)."""

    def __init__(self, buffers: Sequence[torch.Tensor]) -> None:
        super().__init__()
        for i, buffer in enumerate(buffers):
            self.register_buffer(str(i), buffer)

    def __len__(self) -> int:
        return len(self._buffers)

    def __iter__(self):
        return iter(self._buffers.values())


class AnchorGenerator(nn.Module):
    """Anchors of every feature level for every image of a batch.

    Args:
        sizes: anchor sizes; with several strides (FPN) one size (or tuple) per level,
            with one stride all sizes on that level.
        aspect_ratios: height / width ratios, shared by all levels.
        anchor_strides: stride of each level.
        straddle_thresh: anchors reaching more than this many pixels outside the image are
            marked not visible (ignored by the RPN loss); negative keeps all.
    """

    def __init__(
        self,
        sizes: Sequence[float] = (128, 256, 512),
        aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
        anchor_strides: Sequence[int] = (8, 16, 32),
        straddle_thresh: float = 0,
    ) -> None:
        super().__init__()
        if len(anchor_strides) == 1:
            cell_anchors = [generate_anchors(anchor_strides[0], sizes, aspect_ratios)]
        else:
            if len(anchor_strides) != len(sizes):
                raise ValueError(
                    f"FPN anchors need one size per stride: MODEL.RPN.ANCHOR_STRIDE has "
                    f"{len(anchor_strides)} entries, MODEL.RPN.ANCHOR_SIZES {len(sizes)}"
                )
            cell_anchors = [
                generate_anchors(stride, size if isinstance(size, (tuple, list)) else (size,),
                                 aspect_ratios)
                for stride, size in zip(anchor_strides, sizes)
            ]
        self.strides = tuple(anchor_strides)
        self.cell_anchors = BufferList(cell_anchors)
        self.straddle_thresh = straddle_thresh

    def num_anchors_per_location(self) -> list[int]:
        """Anchors per feature-map cell, per level."""
        return [len(anchors) for anchors in self.cell_anchors]

    def grid_anchors(self, grid_sizes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
        """Anchors [H * W * A, 4] per level, ordered (row, column, anchor)."""
        anchors = []
        for (grid_height, grid_width), stride, base in zip(grid_sizes, self.strides,
                                                            self.cell_anchors):
            shifts_x = torch.arange(grid_width, dtype=torch.float32, device=base.device) * stride
            shifts_y = torch.arange(grid_height, dtype=torch.float32, device=base.device) * stride
            shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
        return anchors

    def _visibility(self, anchors: torch.Tensor, image_width: int, image_height: int):
        if self.straddle_thresh < 0:
            return torch.ones(anchors.shape[0], dtype=torch.bool, device=anchors.device)
        t = self.straddle_thresh
        return (
            (anchors[:, 0] >= -t)
            & (anchors[:, 1] >= -t)
            & (anchors[:, 2] < image_width + t)
            & (anchors[:, 3] < image_height + t)
        )

    def forward(
        self, image_list: ImageList, feature_maps: Sequence[torch.Tensor]
    ) -> list[list[BoxList]]:
        """Per image, per level: a BoxList of anchors with a bool ``visibility`` field."""
        grid_sizes = [tuple(f.shape[-2:]) for f in feature_maps]
        per_level = self.grid_anchors(grid_sizes)
        anchors = []
        for image_height, image_width in image_list.image_sizes:
            in_image = []
            for level_anchors in per_level:
                boxlist = BoxList(level_anchors, (image_width, image_height), mode="xyxy")
                boxlist.add_field(
                    "visibility", self._visibility(level_anchors, image_width, image_height)
                )
                in_image.append(boxlist)
            anchors.append(in_image)
        return anchors
