"""Inference loop: run the model over a split, gather predictions on rank 0, evaluate, save.

Every rank runs the model on its shard under ``torch.no_grad()`` (not ``inference_mode``: a
test-time energy refinement may re-enable gradients inside the model). Predictions go to
rank 0 after every batch (TEST.RELATION.SYNC_GATHER) or once at the end; with per-batch
gathering every rank makes the same number of collective calls (ranks with fewer batches
send empty ones), so ranks holding different numbers of images never deadlock. Rank 0 sorts
by dataset index, saves, evaluates and broadcasts the metrics and the validation score.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from maskrcnn_benchmark.evaluation import (
    JOINT_DECODE_SUFFIX,
    SGGEvaluator,
    build_sgg_evaluator,
    check_val_metric,
    load_predictions,
    metric_value,
    plot_per_predicate_recall,
    save_eval_results,
    save_predictions,
    save_visualization,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.utils import comm

__all__ = ["InferenceResult", "inference", "compute_predictions", "inference_output_folder"]

logger = logging.getLogger(__name__)

AUTOCAST_DTYPES = {"float32": None, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class InferenceResult:
    """The metrics (eval_results.json content) and the SOLVER.VAL_METRIC score, on every rank."""

    metrics: dict[str, Any]
    score: float


def inference_output_folder(cfg: Any, dataset_name: str) -> str:
    """``OUTPUT_DIR/inference/<dataset_name>``, where a test run writes its files
    (``<dataset_name>_joint_decode`` with TEST.RELATION.JOINT_DECODE)."""
    suffix = JOINT_DECODE_SUFFIX if cfg.TEST.RELATION.JOINT_DECODE else ""
    return os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name + suffix)


def _local_image_count(data_loader: Any) -> int:
    sampler = getattr(getattr(data_loader, "batch_sampler", None), "sampler", None)
    for candidate in (sampler, getattr(data_loader, "sampler", None), data_loader.dataset):
        with contextlib.suppress(TypeError):
            if candidate is not None:
                return len(candidate)
    return 0


def _to_cpu(prediction: BoxList) -> BoxList:
    out = prediction.to("cpu")
    for name in out.fields():  # autocast may leave half-precision scores: evaluate in float32
        value = out.get_field(name)
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            out.add_field(name, value.float(), name in out.triplet_extra_fields)
    return out


def _run_batch(model: torch.nn.Module, batch: Any, device: torch.device, autocast_dtype):
    images, targets, image_ids = batch
    targets = None if targets is None else [t.to(device) for t in targets]
    with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        outputs = model(images.to(device), targets)
    return {int(i): _to_cpu(o) for i, o in zip(image_ids, outputs)}


def _merge(per_rank: Iterable[dict[int, BoxList]], num_images: int) -> list[BoxList]:
    merged: dict[int, BoxList] = {}
    for part in per_rank:
        for index, prediction in part.items():  # a padded distributed sampler repeats images
            merged.setdefault(index, prediction)
    missing = sorted(set(range(num_images)) - set(merged))
    extra = sorted(set(merged) - set(range(num_images)))
    if missing or extra:
        raise RuntimeError(
            f"Gathered predictions do not cover the dataset exactly: {len(missing)} of "
            f"{num_images} images missing (first: {missing[:5]}), unexpected indices {extra[:5]}; "
            "the test sampler must visit every dataset index"
        )
    return [merged[i] for i in range(num_images)]


def compute_predictions(
    model: torch.nn.Module,
    data_loader: Any,
    sync_gather: bool = False,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = True,
) -> list[BoxList] | None:
    """Predictions for every dataset index, in index order, on rank 0 (None on other ranks)."""
    params = next(model.parameters(), None)
    device = params.device if params is not None else torch.device("cpu")
    num_images = len(data_loader.dataset)
    world = comm.get_world_size()
    num_steps = max(comm.all_gather(len(data_loader))) if sync_gather else len(data_loader)
    total = num_images if sync_gather else _local_image_count(data_loader)
    show = progress and comm.is_main_process()
    bar = tqdm(total=total, unit="img", desc="Inference", disable=not show)
    was_training = model.training
    model.eval()
    local: dict[int, BoxList] = {}
    gathered: list[dict[int, BoxList]] = []
    batches = iter(data_loader)
    start = time.perf_counter()
    try:
        with torch.no_grad():
            for step in range(num_steps):
                # past its own batches a rank still joins every gather, with nothing to send
                has_batch = step < len(data_loader)
                batch_out = _run_batch(model, next(batches), device, autocast_dtype) if (
                    has_batch) else {}
                if sync_gather:
                    parts = comm.gather(batch_out)
                    gathered.extend(parts)
                    bar.update(sum(len(p) for p in parts))
                else:
                    local.update(batch_out)
                    bar.update(len(batch_out))
    finally:
        model.train(was_training)
        bar.close()
    elapsed = time.perf_counter() - start
    logger.info(
        "Inference: %d images in %.1f s (%.4f s / img per device, on %d devices)",
        num_images, elapsed, elapsed * world / max(num_images, 1), world,
    )
    if not sync_gather:
        gathered = comm.gather(local)
    if not comm.is_main_process():
        return None
    return _merge(gathered, num_images)


def _evaluate_on_main(
    cfg: Any, evaluator: SGGEvaluator, dataset: Any, predictions: list[BoxList],
    dataset_name: str, output_folder: str | None, from_cache: bool,
) -> InferenceResult:
    if output_folder and not from_cache:  # saved before evaluating: a failure keeps the run
        save_predictions(os.path.join(output_folder, "predictions.pth"), predictions, dataset_name)
    output = evaluator.evaluate(dataset, predictions, progress=True)
    score = metric_value(output.metrics, cfg.SOLVER.VAL_METRIC)
    output.metrics["dataset"] = dataset_name
    output.metrics["validation"] = {"metric": cfg.SOLVER.VAL_METRIC, "score": score}
    logger.info(output.text)
    if output_folder:
        save_eval_results(os.path.join(output_folder, "eval_results.json"), output.metrics)
        save_visualization(os.path.join(output_folder, "visualization.pth"), output, dataset)
        plot_per_predicate_recall(
            os.path.join(output_folder, "per_predicate_recall.png"), output.metrics
        )
        logger.info("Saved predictions, eval_results.json and plots in %s", output_folder)
    return InferenceResult(output.metrics, score)


def inference(
    cfg: Any,
    model: torch.nn.Module,
    data_loader: Any,
    dataset_name: str,
    output_folder: str | None = None,
    statistics: Any | None = None,
    load_triplets: Any | None = None,
) -> InferenceResult:
    """Run, gather, evaluate; the result (metrics and validation score) is returned on all ranks.

    ``output_folder`` None (validation) saves nothing. ``statistics`` gives zero-/few-shot
    membership (``train_triplet_count``).
    """
    # Configuration errors surface on every rank before the model runs, not after.
    check_val_metric(cfg.SOLVER.VAL_METRIC, cfg.TEST.RELATION.RECALL_KS)
    if cfg.DTYPE not in AUTOCAST_DTYPES:
        raise ValueError(f"DTYPE '{cfg.DTYPE}' must be one of {sorted(AUTOCAST_DTYPES)}")
    evaluator = build_sgg_evaluator(cfg, statistics, load_triplets)
    dataset = data_loader.dataset
    evaluator.structure_spec(dataset)  # e.g. JOINT_DECODE on non-synthetic data fails here
    cache = os.path.join(output_folder, "predictions.pth") if output_folder else ""
    if cache and output_folder.endswith(JOINT_DECODE_SUFFIX) and not os.path.isfile(cache):
        # joint decoding reads the same raw scores: reuse the plain folder's predictions.pth
        cache = os.path.join(output_folder[: -len(JOINT_DECODE_SUFFIX)], "predictions.pth")
    from_cache = comm.broadcast_object(
        bool(cfg.TEST.ALLOW_LOAD_FROM_CACHE and cache and os.path.isfile(cache))
    )
    logger.info("Start evaluation on %s (%d images)", dataset_name, len(dataset))
    result = None
    try:
        if from_cache:
            logger.info("TEST.ALLOW_LOAD_FROM_CACHE: reusing %s, not running the model", cache)
        else:
            predictions = compute_predictions(
                model, data_loader, cfg.TEST.RELATION.SYNC_GATHER, AUTOCAST_DTYPES[cfg.DTYPE]
            )
        if comm.is_main_process():
            if from_cache:
                predictions = load_predictions(cache, dataset_name, len(dataset))
            result = _evaluate_on_main(
                cfg, evaluator, dataset, predictions, dataset_name, output_folder, from_cache
            )
    except Exception as exc:
        if comm.is_main_process():  # tell the other ranks before raising, so none waits forever
            comm.broadcast_object((None, f"{type(exc).__name__}: {exc}"))
        raise
    result, error = comm.broadcast_object((result, None))
    if error is not None:
        raise RuntimeError(f"Evaluation failed on rank 0: {error}")
    return result
