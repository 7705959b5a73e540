"""Training and testing of the retrieval model with the package's trainer, hooks, checkpoints.

Training uses ``SOLVER`` as every trainer of the package does (SGD with BASE_LR x
IMS_PER_BATCH as SGB's retrieval tool, the schedule, GRAD_NORM_CLIP, MAX_ITER iterations,
CHECKPOINT_PERIOD, VAL_PERIOD with validation R@RETRIEVAL.TEST.VAL_RECALL_K on the val pairs,
LOG_PERIOD with TensorBoard under OUTPUT_DIR/tensorboard) and ends with the test. Results go to
``OUTPUT_DIR/retrieval/<test file name>[_shuffled].json``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from maskrcnn_benchmark.engine.hooks import EvalHook, PeriodicCheckpointer, PeriodicWriter
from maskrcnn_benchmark.engine.trainer import HookBase, Trainer, make_grad_scaler
from maskrcnn_benchmark.solver import make_lr_scheduler, make_optimizer
from maskrcnn_benchmark.utils.atomic_json import write_json_atomic
from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from maskrcnn_benchmark.utils.comm import get_world_size
from maskrcnn_benchmark.utils.events import get_event_storage

from .data import (
    EncodedGraph,
    GraphBatch,
    RetrievalSplits,
    batches_per_epoch,
    load_splits,
    make_train_loader,
)
from .metrics import evaluate_galleries, evaluate_gallery
from .model import SentenceToGraphModel, build_retrieval_model
from .retrieval_file import Vocabulary

__all__ = ["VOCABULARY_NAME", "encode_pairs", "evaluate_pairs", "train_retrieval",
           "test_retrieval", "load_and_test", "check_vocabulary", "results_path",
           "format_results"]

logger = logging.getLogger(__name__)

# The vocabulary a retrieval model was trained with (word ids are positions in it), beside its
# checkpoints: a test file must have the same one.
VOCABULARY_NAME = "retrieval_vocabulary.json"

_ENCODE_BATCH = 512  # graphs per forward pass at evaluation


@torch.no_grad()
def encode_pairs(model: SentenceToGraphModel, pairs: Sequence[tuple[EncodedGraph, EncodedGraph]],
                 device: str) -> tuple[Tensor, Tensor]:
    """(query embeddings, image embeddings) of ``pairs``, in eval mode, on the CPU."""
    model.eval()
    texts, images = [], []
    for start in range(0, len(pairs), _ENCODE_BATCH):
        chunk = pairs[start:start + _ENCODE_BATCH]
        images.append(model.image_encoder(GraphBatch.collate([p[0] for p in chunk]).to(device)))
        texts.append(model.text_encoder(GraphBatch.collate([p[1] for p in chunk]).to(device)))
    return torch.cat(texts).cpu(), torch.cat(images).cpu()


def evaluate_pairs(cfg, model: SentenceToGraphModel,
                   pairs: Sequence[tuple[EncodedGraph, EncodedGraph]], sizes: Sequence[int],
                   device: str) -> list[dict[str, Any]]:
    """Gallery results of ``pairs`` (image graphs permuted first with SHUFFLE_GRAPHS)."""
    options = cfg.RETRIEVAL.TEST
    texts, images = encode_pairs(model, pairs, device)
    if options.SHUFFLE_GRAPHS:  # the chance check: every query gets another image's graph
        generator = torch.Generator().manual_seed(cfg.SEED)
        images = images[torch.randperm(len(images), generator=generator)]
    return evaluate_galleries(texts, images, sizes, options.RECALL_KS, options.SIMILARITY,
                              options.TIES, cfg.RETRIEVAL.LOSS.SMOOTH_L1_BETA)


def format_results(results: Sequence[dict[str, Any]]) -> str:
    """A text table: one row per gallery (R@K, chance R@K, median and mean rank)."""
    ks = list(results[0]["recall"])
    header = "gallery | " + " | ".join(f"R@{k}" for k in ks) + " | med rank | mean rank | chance " \
        + " / ".join(f"R@{k}" for k in ks)
    rows = [header]
    for r in results:
        size = f"{r['gallery_size']}" + (f" (of {r['requested_size']} asked)"
                                         if r["gallery_size"] < r["requested_size"] else "")
        rows.append(f"{size} | " + " | ".join(f"{100 * r['recall'][k]:.2f}" for k in ks)
                    + f" | {r['median_rank']:.1f} | {r['mean_rank']:.1f} | "
                    + " / ".join(f"{100 * r['chance_recall'][k]:.2f}" for k in ks))
    return "\n".join(rows)


def results_path(cfg) -> str:
    """``OUTPUT_DIR/retrieval/<test file name>[_shuffled].json``."""
    stem = os.path.splitext(os.path.basename(cfg.RETRIEVAL.TEST_FILE))[0]
    suffix = "_shuffled" if cfg.RETRIEVAL.TEST.SHUFFLE_GRAPHS else ""
    return os.path.join(cfg.OUTPUT_DIR, "retrieval", f"{stem}{suffix}.json")


def test_retrieval(cfg, model: SentenceToGraphModel, splits: RetrievalSplits, device: str,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate the test pool at every RETRIEVAL.TEST.GALLERY_SIZES, log and save."""
    if not splits.test:
        raise ValueError(f"{cfg.RETRIEVAL.TEST_FILE} holds no image with a caption relation")
    start = time.perf_counter()
    results = evaluate_pairs(cfg, model, splits.test, cfg.RETRIEVAL.TEST.GALLERY_SIZES, device)
    seconds = time.perf_counter() - start
    options = cfg.RETRIEVAL.TEST
    loss = cfg.RETRIEVAL.LOSS
    payload = {"test_file": cfg.RETRIEVAL.TEST_FILE, "test_pairs": len(splits.test),
               "similarity": options.SIMILARITY, "ties": options.TIES,
               "loss": {"negatives": loss.NEGATIVES, "distance": loss.DISTANCE,
                        "margin": loss.MARGIN, "all_negatives_iters": loss.ALL_NEGATIVES_ITERS},
               "model": {key.lower(): value for key, value in cfg.RETRIEVAL.MODEL.items()},
               "shuffled_graphs": bool(options.SHUFFLE_GRAPHS), "eval_seconds": seconds,
               "galleries": results, **(extra or {})}
    path = results_path(cfg)
    write_json_atomic(path, payload, indent=1)
    logger.info("Sentence-to-graph retrieval on %s (%s similarity, %s ties%s), %.1f s:\n%s\n"
                "saved to %s", cfg.RETRIEVAL.TEST_FILE, options.SIMILARITY, options.TIES,
                ", image graphs SHUFFLED" if options.SHUFFLE_GRAPHS else "", seconds,
                format_results(results), path)
    return payload


class _Validator:
    """R@VAL_RECALL_K on the val pairs (the EvalHook's score); R@K go to TensorBoard."""

    def __init__(self, cfg, model: SentenceToGraphModel, splits: RetrievalSplits,
                 device: str) -> None:
        self.cfg, self.model, self.pairs, self.device = cfg, model, splits.val, device
        self.seconds = 0.0

    def __call__(self) -> float:
        start = time.perf_counter()
        options = self.cfg.RETRIEVAL.TEST
        k = options.VAL_RECALL_K
        texts, images = encode_pairs(self.model, self.pairs, self.device)
        result = evaluate_gallery(texts, images, sorted(set(options.RECALL_KS) | {k}),
                                  options.SIMILARITY, options.TIES,
                                  self.cfg.RETRIEVAL.LOSS.SMOOTH_L1_BETA)
        storage = get_event_storage()
        for name, value in result["recall"].items():
            storage.put_scalar(f"val/R@{name}", value)
        self.seconds += time.perf_counter() - start
        return result["recall"][str(k)]


class WarmStartNegatives(HookBase):
    """In-batch negatives "all" for the first ``iterations`` iterations, then the model's own
    (RETRIEVAL.LOSS.ALL_NEGATIVES_ITERS; by the trainer's iteration, so a resume continues it)."""

    def __init__(self, model: SentenceToGraphModel, iterations: int) -> None:
        self.model, self.iterations, self.negatives = model, iterations, model.negatives

    def before_step(self) -> None:
        """Choose the negatives of the coming iteration."""
        self.model.negatives = "all" if self.trainer.iter < self.iterations else self.negatives

    def after_train(self) -> None:
        """Leave the model with its configured negatives."""
        self.model.negatives = self.negatives


def warm_start_iterations(cfg) -> int:
    """RETRIEVAL.LOSS.ALL_NEGATIVES_ITERS, checked against NEGATIVES."""
    loss = cfg.RETRIEVAL.LOSS
    iterations = int(loss.ALL_NEGATIVES_ITERS)
    if iterations < 0 or (iterations and loss.NEGATIVES != "hardest"):
        raise ValueError(f"RETRIEVAL.LOSS.ALL_NEGATIVES_ITERS {loss.ALL_NEGATIVES_ITERS} needs "
                         f"NEGATIVES 'hardest' and a count >= 0 (NEGATIVES is "
                         f"{loss.NEGATIVES!r}); set it to 0 for other negatives")
    return iterations


def warn_if_at_margin(loss: float, margin: float) -> bool:
    """Log a warning when the training loss ended at the margin (embeddings not separated)."""
    if loss < 0.95 * margin:
        return False
    logger.warning("The retrieval loss ended at %.4f, at the margin RETRIEVAL.LOSS.MARGIN %.4g: "
                   "the true image is no nearer its query than the negatives, so the model has "
                   "not learned to retrieve (on predicted scene graphs with NEGATIVES 'hardest' "
                   "see docs/RETRIEVAL.md, 'Training on predicted graphs')", loss, margin)
    return True


def train_retrieval(cfg, device: str, resume: bool = True) -> dict[str, Any]:
    """Train on RETRIEVAL.TRAIN_FILES (+ the test file's remainder), validate, test."""
    if get_world_size() > 1:
        raise ValueError("Retrieval training runs in one process (it takes minutes on a CPU); "
                         "start tools/image_retrieval.py without torchrun")
    warm_start = warm_start_iterations(cfg)
    splits = load_splits(cfg, with_train=True)
    model = build_retrieval_model(cfg, splits.vocabulary).to(device)
    if cfg.OUTPUT_DIR:
        write_json_atomic(os.path.join(cfg.OUTPUT_DIR, VOCABULARY_NAME),
                          splits.vocabulary.to_json(), indent=1)
    optimizer = make_optimizer(cfg, model)
    scheduler = make_lr_scheduler(cfg, optimizer)
    scaler = make_grad_scaler(cfg.DTYPE, torch.device(device).type)
    checkpointer = Checkpointer(model, optimizer, scheduler, scaler, cfg.OUTPUT_DIR)
    extra = checkpointer.load(use_latest=True) if resume and checkpointer.has_checkpoint() else {}
    start_iter = int(extra.get("iteration", 0))
    solver = cfg.SOLVER
    trainer = Trainer(model, make_train_loader(cfg, splits.train, start_iter), optimizer,
                      scheduler, max_iter=solver.MAX_ITER, device=device, start_iter=start_iter,
                      grad_clip=solver.GRAD_NORM_CLIP, dtype=cfg.DTYPE,
                      grad_log_period=solver.PRINT_GRAD_FREQ, scaler=scaler)
    trainer.resume_rng_state(extra.get("rng"))
    validate = _Validator(cfg, model, splits, device) if splits.val and solver.TO_VAL else None
    if validate is None:
        logger.info("No validation: %s", "SOLVER.TO_VAL is False" if not solver.TO_VAL else
                    "no val pairs (the test file holds at most RETRIEVAL.NUM_TEST usable pairs)")
    trainer.register_hooks([
        WarmStartNegatives(model, warm_start) if warm_start else None,
        PeriodicCheckpointer(checkpointer, solver.CHECKPOINT_PERIOD),
        EvalHook(solver.VAL_PERIOD, validate, solver.PRE_VAL) if validate else None,
        PeriodicWriter(solver.LOG_PERIOD, cfg.OUTPUT_DIR),
    ])
    loss, similarity = cfg.RETRIEVAL.LOSS, cfg.RETRIEVAL.TEST.SIMILARITY
    if similarity != loss.DISTANCE:
        logger.warning("Training distance RETRIEVAL.LOSS.DISTANCE %r, ranking score "
                       "RETRIEVAL.TEST.SIMILARITY %r: the ranking is not what the loss trains",
                       loss.DISTANCE, similarity)
    per_epoch = batches_per_epoch(cfg, len(splits.train))
    logger.info("Training on %d pairs: %d iterations per epoch, %d iterations (%.1f epochs)",
                len(splits.train), per_epoch, solver.MAX_ITER, solver.MAX_ITER / per_epoch)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start - (validate.seconds if validate else 0.0)
    if "loss_triplet" in trainer.storage.names():  # the median of the last iterations
        warn_if_at_margin(trainer.storage.median("loss_triplet"), cfg.RETRIEVAL.LOSS.MARGIN)
    done = max(trainer.iter - start_iter, 1)
    return test_retrieval(cfg, model, splits, device, extra={
        "train_pairs": len(splits.train), "iterations": trainer.iter,
        "iterations_per_epoch": per_epoch, "train_seconds": seconds,
        "seconds_per_epoch": seconds / done * per_epoch})


def check_vocabulary(weights_dir: str, vocabulary: Vocabulary, test_file: str) -> None:
    """The test file's vocabulary must be the one the model in ``weights_dir`` was trained with
    (its ``VOCABULARY_NAME``; models trained before it existed are not checked)."""
    path = os.path.join(weights_dir, VOCABULARY_NAME)
    if not os.path.isfile(path):
        logger.warning("%s not found: the test file's vocabulary cannot be checked against the "
                       "model's", path)
        return
    with open(path) as f:
        trained = json.load(f)
    tested = vocabulary.to_json()
    if trained == tested:
        return
    differences = []
    for side in ("image_vocabulary", "text_vocabulary"):
        for kind in ("entities", "predicates"):
            ours, theirs = set(tested[side][kind]), set(trained[side][kind])
            if ours != theirs or tested[side][kind] != trained[side][kind]:
                differences.append(f"{side} {kind}: only in the test file "
                                   f"{sorted(ours - theirs)[:5]}, only in training "
                                   f"{sorted(theirs - ours)[:5]}")
    raise ValueError(
        f"{test_file} has another vocabulary than the retrieval model of {weights_dir} was "
        f"trained with ({'; '.join(differences)}): word ids would not match. Preprocess the "
        "test graphs with the caption-graph file and classes of the training files (data sets "
        "joined into one file share one vocabulary only if their captions use the same words)")


def load_and_test(cfg, device: str, use_latest: bool = True) -> dict[str, Any]:
    """Test the model of OUTPUT_DIR's last checkpoint (or MODEL.WEIGHT) on RETRIEVAL.TEST_FILE."""
    splits = load_splits(cfg, with_train=False)
    model = build_retrieval_model(cfg, splits.vocabulary).to(device)
    checkpointer = Checkpointer(model, save_dir=cfg.OUTPUT_DIR)
    latest = use_latest and checkpointer.has_checkpoint()
    if not latest and not cfg.MODEL.WEIGHT:
        raise ValueError("No retrieval weights: set OUTPUT_DIR to a retrieval training folder "
                         "holding last_checkpoint, or MODEL.WEIGHT to its model_final.pth")
    weights_dir = cfg.OUTPUT_DIR if latest else os.path.dirname(cfg.MODEL.WEIGHT)
    check_vocabulary(weights_dir, splits.vocabulary, cfg.RETRIEVAL.TEST_FILE)
    checkpointer.load(cfg.MODEL.WEIGHT or None, use_latest=use_latest, missing_ok=False)
    return test_retrieval(cfg, model, splits, device)
