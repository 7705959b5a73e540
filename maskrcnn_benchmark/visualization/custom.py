"""Pictures of a predict folder in SGB's format (your own images, no ground truth).

``custom_data_info.json``: "idx_to_files" (image paths by index), "ind_to_classes",
"ind_to_predicates". ``custom_prediction.json``: str(index) -> {"bbox" [N, 4] xyxy, "bbox_labels",
"bbox_scores" (boxes sorted by score), "rel_pairs" (indices into those boxes), "rel_labels",
"rel_scores" (predicate score), "rel_all_scores"}.

The frame of the boxes: tools/predict.py records it in custom_data_info.json ("box_frame":
"image" = pixels of the upright image, "input" = the network input, sized per image by
"idx_to_input_size"). SGB's own files say nothing and hold boxes in its test-resized frame
(shorter side 600, longer at most 1000, as its notebook assumes); ``sgb_frame=(MIN, MAX)``
names another INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST, and overrides the recorded frame.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

from PIL import Image, ImageOps

from maskrcnn_benchmark.data.transforms.transforms import Resize

from .compose import save_picture
from .views import GraphView, limit_text, view_from_custom

__all__ = ["CUSTOM_PREDICTION", "CUSTOM_DATA_INFO", "SGB_TEST_FRAME", "load_custom", "box_frame",
           "custom_view", "render_custom"]

logger = logging.getLogger(__name__)

CUSTOM_PREDICTION = "custom_prediction.json"
CUSTOM_DATA_INFO = "custom_data_info.json"
_INFO_KEYS = ("idx_to_files", "ind_to_classes", "ind_to_predicates")
SGB_TEST_FRAME = (600, 1000)  # SGB's INPUT.MIN_SIZE_TEST, MAX_SIZE_TEST


def _read_json(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found; a predict folder holds {CUSTOM_PREDICTION} "
                                f"and {CUSTOM_DATA_INFO}")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); write the predictions again") from None


def load_custom(folder: str) -> tuple[dict[str, dict], dict]:
    """(predictions by str(image index), data info) of a predict folder, checked."""
    predictions = _read_json(os.path.join(folder, CUSTOM_PREDICTION))
    info = _read_json(os.path.join(folder, CUSTOM_DATA_INFO))
    missing = [k for k in _INFO_KEYS if k not in info]
    if missing:
        raise KeyError(f"{os.path.join(folder, CUSTOM_DATA_INFO)} lacks {missing}")
    files = info["idx_to_files"]
    for key in predictions:
        if not key.isdigit() or int(key) >= len(files):
            raise ValueError(f"{CUSTOM_PREDICTION} has image key {key!r} but "
                             f"{CUSTOM_DATA_INFO} lists {len(files)} files (keys are 0-based)")
    return predictions, info


def _image_path(folder: str, info: dict, index: int) -> str:
    path = str(info["idx_to_files"][index])
    return path if os.path.isabs(path) or os.path.isfile(path) else os.path.join(folder, path)


def box_frame(info: dict, index: int, image_size: tuple[int, int],
              sgb_frame: tuple[int, int] | None = None) -> tuple[int, int]:
    """(W, H) of the frame the boxes of image ``index`` are in (see the module docstring)."""
    recorded = info.get("box_frame")
    if sgb_frame is not None or recorded is None:
        minimum, maximum = sgb_frame or SGB_TEST_FRAME
        height, width = Resize(minimum, maximum).get_size(image_size)
        return width, height
    key = {"image": "idx_to_image_size", "input": "idx_to_input_size"}.get(recorded)
    if key is None:
        raise ValueError(f"{CUSTOM_DATA_INFO}: unknown box_frame {recorded!r} (image or input)")
    if key not in info:
        if recorded == "image":
            return image_size
        raise KeyError(f"{CUSTOM_DATA_INFO} says box_frame 'input' but lacks {key}")
    width, height = info[key][index]
    return int(width), int(height)


def custom_view(entry: dict, info: dict, index: int, image_size: tuple[int, int], *,
                top_k: int | None = 20, threshold: float | None = None,
                sgb_frame: tuple[int, int] | None = None) -> GraphView:
    """Top triplets of image ``index`` of a predict folder, boxes in the pixels of the upright
    image of size ``image_size`` (W, H)."""
    frame = box_frame(info, index, image_size, sgb_frame)
    scale = (image_size[0] / frame[0], image_size[1] / frame[1])
    return view_from_custom(entry, info["ind_to_classes"], info["ind_to_predicates"],
                            top_k=top_k, threshold=threshold, box_scale=scale)


def render_custom(folder: str, out_dir: str, *, images: int = 4,
                  indices: Sequence[int] | None = None, top_k: int | None = 20,
                  threshold: float | None = None, graph: bool = True,
                  max_side: int | None = 400,
                  sgb_frame: tuple[int, int] | None = None) -> list[str]:
    """One picture per predicted image (the first ``images``, or ``indices``); the PNG paths."""
    predictions, info = load_custom(folder)
    available = sorted(int(k) for k in predictions)
    if indices is None:
        chosen = available[:images]
    else:
        chosen = list(indices)
        absent = [i for i in chosen if str(i) not in predictions]
        if absent:
            raise ValueError(f"images {absent} have no prediction in {CUSTOM_PREDICTION} "
                             f"(predicted: {available[:10]}{'...' if len(available) > 10 else ''})")
    paths = []
    for index in chosen:
        path = _image_path(folder, info, index)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Image {path} (index {index} of {CUSTOM_DATA_INFO}) not found")
        with Image.open(path) as image:
            picture = ImageOps.exif_transpose(image).convert("RGB")  # upright, as predicted
        view = custom_view(predictions[str(index)], info, index, picture.size, top_k=top_k,
                           threshold=threshold, sgb_frame=sgb_frame)
        sheet = view.draw(picture, graph=graph, max_side=max_side,
                          title=f"{os.path.basename(path)}: {limit_text(top_k, threshold)} "
                                "triplets")
        stem = os.path.splitext(os.path.basename(path))[0]
        paths.append(save_picture(sheet, os.path.join(out_dir, f"{index:05d}_{stem}.png")))
    logger.info("Wrote %d pictures to %s", len(paths), out_dir)
    return paths
