"""Scene graphs of one's own images: run a trained model, write SGB's custom-image files.

Two entry points share :func:`predict_images`:

- ``tools/relation_test_net.py ... TEST.CUSTUM_EVAL True TEST.CUSTUM_PATH <folder>
  DETECTED_SGG_DIR <out>`` (SGB's switch; SGDet models; boxes in SGB's network-input frame):
  :func:`custom_eval_files` then :func:`run_custom_eval`;
- ``tools/predict.py`` (any task; PredCls / SGCls read the user's boxes; boxes in upright image
  pixels by default): :func:`predict_main`.

Unreadable files are skipped with one warning each and listed in the summary and in
``custom_data_info.json``. The output files are written atomically at the end, so a failed run
leaves earlier results untouched. See docs/CUSTOM_IMAGES.md.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader
from tqdm import tqdm

from maskrcnn_benchmark.config import all_leaf_keys, get_cfg
from maskrcnn_benchmark.data.datasets.image_folder import (
    ImageBatch,
    ImageFolderCollator,
    ImageFolderDataset,
    list_images,
)
from maskrcnn_benchmark.data.datasets.user_boxes import load_boxes_file, match_boxes_to_files
from maskrcnn_benchmark.data.transforms import build_transforms
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from maskrcnn_benchmark.utils import comm
from maskrcnn_benchmark.utils.env import seed_all_rng
from maskrcnn_benchmark.utils.logger import setup_logger
from maskrcnn_benchmark.visualization.custom import render_custom

from .inference import AUTOCAST_DTYPES
from .launch import resolve_device
from .predict_model import class_names_statistics, load_prediction_model, resolve_weights
from .sgb_custom_output import (
    BOX_FRAMES,
    custom_data_info,
    sgb_prediction_tensors,
    write_custom_outputs,
)

__all__ = ["PredictionSummary", "predict_images", "custom_eval_files", "run_custom_eval",
           "predict_main", "split_config_overrides", "task_of"]

logger = logging.getLogger(__name__)


@dataclass
class PredictionSummary:
    """What a prediction run did; ``text()`` is the line logged at the end."""

    num_files: int
    num_predicted: int
    skipped: list[tuple[str, str]]
    data_info_path: str
    prediction_path: str
    seconds: float
    box_frame: str
    num_boxes: int = 0
    num_relations: int = 0

    def text(self) -> str:
        """A readable multi-line summary."""
        frame = ("upright image pixels" if self.box_frame == "image"
                 else "network-input pixels (SGB's frame)")
        lines = [f"Predicted scene graphs for {self.num_predicted} of {self.num_files} files in "
                 f"{self.seconds:.1f} s ({self.num_boxes} objects, {self.num_relations} "
                 f"scored pairs); boxes in {frame}",
                 f"Wrote {self.prediction_path} and {self.data_info_path}"]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} unreadable file(s): " + "; ".join(
                f"{path} ({reason})" for path, reason in self.skipped))
        return "\n".join(lines)


def task_of(cfg: Any) -> SGGTask:
    """The SGG task of the config (USE_GT_BOX / USE_GT_OBJECT_LABEL)."""
    head = cfg.MODEL.ROI_RELATION_HEAD
    return SGGTask.from_flags(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL)


def _run_batch(model: torch.nn.Module, batch: ImageBatch, device: torch.device,
               autocast_dtype: torch.dtype | None) -> list:
    targets = None if batch.targets is None else [t.to(device) for t in batch.targets]
    with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        outputs = model(batch.images.to(device), targets)
    return [o.to("cpu") for o in outputs]


def _entry(prediction: Any, item: Any, box_frame: str,
           user_boxes: Any) -> dict[str, torch.Tensor]:
    if box_frame == "input":
        return sgb_prediction_tensors(prediction, name=item.path)
    if user_boxes is not None:  # GT-box tasks: the user's boxes exactly as given
        boxes = torch.tensor([b.box for b in user_boxes], dtype=torch.float32).reshape(-1, 4)
        return sgb_prediction_tensors(prediction, boxes=boxes, name=item.path)
    return sgb_prediction_tensors(prediction.resize(item.image_size), name=item.path)


def predict_images(cfg: Any, model: torch.nn.Module, files: Sequence[str], output_dir: str,
                   obj_classes: Sequence[str], rel_classes: Sequence[str], *,
                   boxes: Sequence[Sequence[Any]] | None = None, box_frame: str = "image",
                   batch_size: int = 1, progress: bool = True) -> PredictionSummary | None:
    """Predict every file (sharded over processes) and write the two JSON files on rank 0.

    ``boxes``: per file the user's boxes (PredCls / SGCls). Returns the summary on rank 0,
    None elsewhere. Raises if no file at all could be read (nothing is written then).
    """
    if box_frame not in BOX_FRAMES:
        raise ValueError(f"box_frame must be one of {BOX_FRAMES}, got {box_frame!r}")
    if batch_size < 1:
        raise ValueError(f"The batch size must be positive, got {batch_size}")
    if cfg.DTYPE not in AUTOCAST_DTYPES:
        raise ValueError(f"DTYPE '{cfg.DTYPE}' must be one of {sorted(AUTOCAST_DTYPES)}")
    dataset = ImageFolderDataset(files, build_transforms(cfg, is_train=False), boxes)
    shard = list(range(comm.get_rank(), len(files), comm.get_world_size()))
    loader = DataLoader(dataset, batch_sampler=BatchSampler(shard, batch_size, drop_last=False),
                        collate_fn=ImageFolderCollator(cfg.DATALOADER.SIZE_DIVISIBILITY),
                        num_workers=cfg.DATALOADER.NUM_WORKERS)
    device = next(model.parameters()).device
    model.eval()
    done: dict[int, tuple[dict, tuple[int, int], tuple[int, int]]] = {}
    skipped: dict[int, tuple[str, str]] = {}
    start = time.perf_counter()
    bar = tqdm(total=len(shard), unit="img", desc="Predicting",
               disable=not (progress and comm.is_main_process()))
    try:
        with torch.no_grad():
            for batch in loader:
                for item in batch.skipped:
                    logger.warning("Skipping %s: %s", item.path, item.reason)
                    skipped[item.index] = (item.path, item.reason)
                if batch.loaded:
                    outputs = _run_batch(model, batch, device, AUTOCAST_DTYPES[cfg.DTYPE])
                    for item, prediction in zip(batch.loaded, outputs):
                        user = None if boxes is None else boxes[item.index]
                        done[item.index] = (_entry(prediction, item, box_frame, user),
                                            item.image_size, item.input_size)
                bar.update(len(batch.loaded) + len(batch.skipped))
    finally:
        bar.close()
    parts = comm.gather((done, skipped))
    if not comm.is_main_process():
        return None
    for part_done, part_skipped in parts[1:]:
        done.update(part_done)
        skipped.update(part_skipped)
    order = sorted(done)
    if not order:
        raise ValueError(f"None of the {len(files)} input files could be read as an image "
                         "(see the warnings above); nothing was written")
    skipped_list = [skipped[i] for i in sorted(skipped)]
    info = custom_data_info([files[i] for i in order], obj_classes, rel_classes,
                            [done[i][1] for i in order], [done[i][2] for i in order],
                            box_frame, skipped_list)
    predictions = {str(new): done[old][0] for new, old in enumerate(order)}
    info_path, pred_path = write_custom_outputs(output_dir, info, predictions)
    summary = PredictionSummary(
        num_files=len(files), num_predicted=len(order), skipped=skipped_list,
        data_info_path=info_path, prediction_path=pred_path,
        seconds=time.perf_counter() - start, box_frame=box_frame,
        num_boxes=sum(len(p["bbox"]) for p in predictions.values()),
        num_relations=sum(len(p["rel_pairs"]) for p in predictions.values()))
    logger.info(summary.text())
    return summary


def custom_eval_files(cfg: Any) -> list[str] | None:
    """The images of SGB's TEST.CUSTUM_EVAL run (None when it is off), checked before the
    model is built: an SGDet config and a TEST.CUSTUM_PATH holding files."""
    if not cfg.TEST.CUSTUM_EVAL:
        return None
    if task_of(cfg) is not SGGTask.SGDET:
        raise ValueError(
            "TEST.CUSTUM_EVAL runs SGDet models (MODEL.ROI_RELATION_HEAD.USE_GT_BOX False), as "
            "in SGB; for a PredCls / SGCls model give your boxes to tools/predict.py --boxes")
    if not cfg.TEST.CUSTUM_PATH:
        raise ValueError("TEST.CUSTUM_EVAL is on but TEST.CUSTUM_PATH is empty; set it to a "
                         "folder of images (or a JSON list of image paths)")
    return list_images(cfg.TEST.CUSTUM_PATH)


def run_custom_eval(cfg: Any, files: Sequence[str], device: str | torch.device,
                    use_latest: bool = True) -> PredictionSummary | None:
    """SGB's custom-image SGDet: the files of TEST.CUSTUM_PATH -> DETECTED_SGG_DIR.

    Weights: OUTPUT_DIR/last_checkpoint (when ``use_latest``), else MODEL.WEIGHT.
    """
    statistics = class_names_statistics(cfg)
    model = load_prediction_model(cfg, resolve_weights(cfg, use_latest=use_latest), statistics,
                                  device)
    per_process = max(1, cfg.TEST.IMS_PER_BATCH // comm.get_world_size())
    return predict_images(cfg, model, files, cfg.DETECTED_SGG_DIR, statistics.obj_classes,
                          statistics.rel_classes, box_frame="input", batch_size=per_process)


def split_config_overrides(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate ``KEY VALUE`` config overrides from input paths (a shell-expanded glob puts
    them in one list): a token that is a config key, and the token after it, are overrides."""
    keys = set(all_leaf_keys(get_cfg()))
    inputs, overrides = [], []
    i = 0
    while i < len(tokens):
        if tokens[i] in keys and i + 1 < len(tokens):
            overrides.extend(tokens[i:i + 2])
            i += 2
        else:
            inputs.append(tokens[i])
            i += 1
    return inputs, overrides


def _prediction_cfg(config_file: str, opts: Sequence[str], device: str | None,
                    batch_size: int | None) -> Any:
    cfg = get_cfg()
    if config_file:
        cfg.merge_from_file(config_file)
    extra = list(opts)
    if device:
        extra += ["MODEL.DEVICE", device]
    if batch_size is not None:
        extra += ["TEST.IMS_PER_BATCH", str(batch_size)]
    cfg.merge_from_list(extra)
    cfg.freeze()
    if not cfg.MODEL.RELATION_ON:
        raise ValueError("Prediction needs a scene graph model: MODEL.RELATION_ON True (use the "
                         "relation config the model was trained with)")
    return cfg


def predict_main(config_file: str, inputs: Sequence[str], output_dir: str, *,
                 weights: str | None = None, boxes_path: str | None = None,
                 batch_size: int | None = None, device: str | None = None,
                 box_frame: str = "image", opts: Sequence[str] = (),
                 progress: bool = True, pictures: int = 0,
                 top_k: int | None = 20) -> PredictionSummary:
    """tools/predict.py: config + checkpoint + images (+ boxes) -> the two JSON files
    (and, with ``pictures`` > 0, that many scene-graph pictures in ``output_dir/pictures``)."""
    cfg = _prediction_cfg(config_file, opts, device, batch_size)
    setup_logger("maskrcnn_benchmark", output_dir, filename="predict_log.txt")
    seed_all_rng(cfg.SEED)
    files = list_images(inputs)
    statistics = class_names_statistics(cfg)
    task = task_of(cfg)
    boxes = None
    if task is SGGTask.SGDET and boxes_path:
        raise ValueError(
            f"--boxes {boxes_path} was given but the config is SGDet (it detects its own "
            "boxes); to score your boxes set MODEL.ROI_RELATION_HEAD.USE_GT_BOX True (and "
            "USE_GT_OBJECT_LABEL True for PredCls), or drop --boxes")
    if task is not SGGTask.SGDET:
        if not boxes_path:
            raise ValueError(
                f"The config is {task.value} (MODEL.ROI_RELATION_HEAD.USE_GT_BOX True): it needs "
                "your boxes; pass --boxes boxes.json (see docs/CUSTOM_IMAGES.md) or use an "
                "SGDet config")
        by_key = load_boxes_file(boxes_path, statistics.obj_classes,
                                 need_labels=task is SGGTask.PREDCLS)
        boxes, unused = match_boxes_to_files(by_key, files, boxes_path)
        if unused:
            logger.warning("%s has boxes for %d image(s) not in the input (ignored): %s",
                           boxes_path, len(unused), ", ".join(unused[:5]))
        if task is SGGTask.SGCLS:
            logger.info("SGCls model: it predicts the object labels; labels in %s are ignored",
                        boxes_path)
    weights_path = resolve_weights(cfg, weights)
    run_device = torch.device(resolve_device(cfg.MODEL.DEVICE))
    model = load_prediction_model(cfg, weights_path, statistics, run_device)
    logger.info("Predicting %s scene graphs for %d file(s) with %s on %s", task.value,
                len(files), weights_path, run_device)
    summary = predict_images(cfg, model, files, output_dir, statistics.obj_classes,
                             statistics.rel_classes, boxes=boxes, box_frame=box_frame,
                             batch_size=cfg.TEST.IMS_PER_BATCH, progress=progress)
    if pictures > 0 and summary is not None:
        render_custom(output_dir, os.path.join(output_dir, "pictures"), images=pictures,
                      top_k=top_k)
    return summary
