"""BoxList: the boxes of one image plus per-box fields (labels, scores, features, ...).

Pixel convention (kept from maskrcnn-benchmark so numbers match SGB exactly): a box
``(x1, y1, x2, y2)`` covers the pixels x1..x2 inclusive, so its width is ``x2 - x1 + 1``
(``TO_REMOVE = 1``). It applies to ``area()``, the xyxy <-> xywh conversion, ``boxlist_iou``,
horizontal flips (``x -> W - x - 1``) and ``clip_to_image`` (clamp to ``[0, W - 1]``). Every
metric in ``maskrcnn_benchmark.evaluation`` uses the same convention.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["BoxList", "FLIP_LEFT_RIGHT", "FLIP_TOP_BOTTOM", "TO_REMOVE"]

FLIP_LEFT_RIGHT = 0
FLIP_TOP_BOTTOM = 1
TO_REMOVE = 1


class BoxList:
    """Boxes of one image, ``bbox`` [N, 4] in ``mode`` "xyxy" or "xywh", with ``size`` (W, H).

    Fields are tensors (or lists) with N rows. A field registered as a *triplet field* is an
    N x N matrix (e.g. the ``relation`` predicate matrix) and is indexed along both dimensions.
    """

    def __init__(self, bbox: Any, image_size: tuple[int, int], mode: str = "xyxy") -> None:
        device = bbox.device if isinstance(bbox, torch.Tensor) else torch.device("cpu")
        bbox = torch.as_tensor(bbox, dtype=torch.float32, device=device)
        if bbox.ndim == 1 and bbox.numel() == 0:
            bbox = bbox.reshape(0, 4)
        if bbox.ndim != 2 or bbox.size(-1) != 4:
            raise ValueError(f"bbox must have shape [N, 4], got {tuple(bbox.shape)}")
        if mode not in ("xyxy", "xywh"):
            raise ValueError(f"mode must be 'xyxy' or 'xywh', got {mode!r}")
        self.bbox = bbox
        self.size = (int(image_size[0]), int(image_size[1]))
        self.mode = mode
        self.extra_fields: dict[str, Any] = {}
        self.triplet_extra_fields: set[str] = set()

    # ----------------------------------------------------------------------------- fields
    def add_field(self, name: str, value: Any, is_triplet: bool = False) -> None:
        """Attach a per-box field; ``is_triplet`` marks an N x N field."""
        self.extra_fields[name] = value
        if is_triplet:
            self.triplet_extra_fields.add(name)
        else:
            self.triplet_extra_fields.discard(name)

    def get_field(self, name: str) -> Any:
        """Return a field, with an error naming the fields that exist if it is missing."""
        try:
            return self.extra_fields[name]
        except KeyError:
            raise KeyError(
                f"BoxList has no field '{name}'; it has {sorted(self.extra_fields)}"
            ) from None

    def has_field(self, name: str) -> bool:
        """Whether the field exists."""
        return name in self.extra_fields

    def fields(self) -> list[str]:
        """Names of all fields."""
        return list(self.extra_fields.keys())

    def del_field(self, name: str) -> Any:
        """Remove a field and return it."""
        self.triplet_extra_fields.discard(name)
        return self.extra_fields.pop(name)

    def _copy_extra_fields(self, other: BoxList) -> None:
        for name, value in other.extra_fields.items():
            self.add_field(name, value, name in other.triplet_extra_fields)

    # ----------------------------------------------------------------------------- modes
    def convert(self, mode: str) -> BoxList:
        """Return the boxes in ``mode`` ("xyxy" or "xywh"), sharing fields."""
        if mode == self.mode:
            return self
        x1, y1, x2, y2 = self._split_into_xyxy()
        if mode == "xyxy":
            bbox = torch.cat((x1, y1, x2, y2), dim=-1)
        elif mode == "xywh":
            bbox = torch.cat((x1, y1, x2 - x1 + TO_REMOVE, y2 - y1 + TO_REMOVE), dim=-1)
        else:
            raise ValueError(f"mode must be 'xyxy' or 'xywh', got {mode!r}")
        out = BoxList(bbox, self.size, mode=mode)
        out._copy_extra_fields(self)
        return out

    def _split_into_xyxy(self) -> tuple[torch.Tensor, ...]:
        if self.mode == "xyxy":
            return self.bbox.split(1, dim=-1)
        x, y, w, h = self.bbox.split(1, dim=-1)
        return x, y, x + (w - TO_REMOVE).clamp(min=0), y + (h - TO_REMOVE).clamp(min=0)

    # ----------------------------------------------------------------------------- geometry
    def resize(self, size: tuple[int, int]) -> BoxList:
        """Scale boxes from ``self.size`` to ``size`` (W, H); fields are kept unchanged."""
        ratio_w = float(size[0]) / float(self.size[0])
        ratio_h = float(size[1]) / float(self.size[1])
        xyxy = self.convert("xyxy").bbox
        scaled = xyxy * xyxy.new_tensor([ratio_w, ratio_h, ratio_w, ratio_h])
        out = BoxList(scaled, size, mode="xyxy")
        out._copy_extra_fields(self)
        return out.convert(self.mode)

    def transpose(self, method: int) -> BoxList:
        """Flip boxes left-right or top-bottom within the image (+1 pixel convention)."""
        if method not in (FLIP_LEFT_RIGHT, FLIP_TOP_BOTTOM):
            raise ValueError("method must be FLIP_LEFT_RIGHT or FLIP_TOP_BOTTOM")
        width, height = self.size
        x1, y1, x2, y2 = self.convert("xyxy")._split_into_xyxy()
        if method == FLIP_LEFT_RIGHT:
            bbox = torch.cat((width - x2 - TO_REMOVE, y1, width - x1 - TO_REMOVE, y2), dim=-1)
        else:
            bbox = torch.cat((x1, height - y2 - TO_REMOVE, x2, height - y1 - TO_REMOVE), dim=-1)
        out = BoxList(bbox, self.size, mode="xyxy")
        out._copy_extra_fields(self)
        return out.convert(self.mode)

    def crop(self, box: Iterable[float]) -> BoxList:
        """Crop to ``box`` = (x1, y1, x2, y2); boxes are shifted and clamped to the crop."""
        left, top, right, bottom = [float(v) for v in box]
        w, h = int(right - left), int(bottom - top)
        x1, y1, x2, y2 = self.convert("xyxy")._split_into_xyxy()
        bbox = torch.cat(
            (
                (x1 - left).clamp(min=0, max=w),
                (y1 - top).clamp(min=0, max=h),
                (x2 - left).clamp(min=0, max=w),
                (y2 - top).clamp(min=0, max=h),
            ),
            dim=-1,
        )
        out = BoxList(bbox, (w, h), mode="xyxy")
        out._copy_extra_fields(self)
        return out.convert(self.mode)

    def clip_to_image(self, remove_empty: bool = True) -> BoxList:
        """Clamp boxes to ``[0, W-1] x [0, H-1]``; optionally drop boxes that became empty."""
        bbox = self.convert("xyxy").bbox.clone()
        bbox[:, 0].clamp_(min=0, max=self.size[0] - TO_REMOVE)
        bbox[:, 1].clamp_(min=0, max=self.size[1] - TO_REMOVE)
        bbox[:, 2].clamp_(min=0, max=self.size[0] - TO_REMOVE)
        bbox[:, 3].clamp_(min=0, max=self.size[1] - TO_REMOVE)
        out = BoxList(bbox, self.size, mode="xyxy")
        out._copy_extra_fields(self)
        if remove_empty:
            keep = (bbox[:, 3] > bbox[:, 1]) & (bbox[:, 2] > bbox[:, 0])
            out = out[keep]
        return out.convert(self.mode)

    def area(self) -> torch.Tensor:
        """Box areas with the +1 pixel convention."""
        if self.mode == "xyxy":
            b = self.bbox
            return (b[:, 2] - b[:, 0] + TO_REMOVE) * (b[:, 3] - b[:, 1] + TO_REMOVE)
        return self.bbox[:, 2] * self.bbox[:, 3]

    # ----------------------------------------------------------------------------- container
    def to(self, device: Any) -> BoxList:
        """Move boxes and tensor fields to ``device``."""
        out = BoxList(self.bbox.to(device), self.size, self.mode)
        for name, value in self.extra_fields.items():
            if hasattr(value, "to"):
                value = value.to(device)
            out.add_field(name, value, name in self.triplet_extra_fields)
        return out

    def __getitem__(self, item: Any) -> BoxList:
        out = BoxList(self.bbox[item], self.size, self.mode)
        for name, value in self.extra_fields.items():
            if name in self.triplet_extra_fields:
                out.add_field(name, value[item][:, item], is_triplet=True)
            elif isinstance(value, torch.Tensor):
                out.add_field(name, value[item])
            else:  # python lists: index with a mask or index tensor
                idx = torch.arange(len(self))[item].tolist()
                idx = [idx] if isinstance(idx, int) else idx
                out.add_field(name, [value[i] for i in idx])
        return out

    def __len__(self) -> int:
        return self.bbox.shape[0]

    def copy_with_fields(self, fields: Iterable[str] | str, skip_missing: bool = False) -> BoxList:
        """A new BoxList with the same boxes and only the named fields."""
        out = BoxList(self.bbox, self.size, self.mode)
        if isinstance(fields, str):
            fields = [fields]
        for name in fields:
            if self.has_field(name):
                out.add_field(name, self.get_field(name), name in self.triplet_extra_fields)
            elif not skip_missing:
                raise KeyError(f"BoxList has no field '{name}'; it has {sorted(self.extra_fields)}")
        return out

    def __repr__(self) -> str:
        return (
            f"BoxList(num_boxes={len(self)}, image_width={self.size[0]}, "
            f"image_height={self.size[1]}, mode={self.mode}, fields={self.fields()})"
        )
