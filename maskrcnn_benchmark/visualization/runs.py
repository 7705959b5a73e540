"""Pictures of a test run's saved predictions, and of several runs side by side.

A run folder is a training / test OUTPUT_DIR: ``config.yaml`` (written by every tool at start)
says which data set and mode; ``inference/<dataset>/visualization.pth`` (written by the test
loop) holds per image the GT, the top-100 ranked relations and the boxes, in original pixels;
the images come from the data set's image folder. Zero-shot relations are the GT triplet types
absent from the run's train split (the statistics cached in the run, or
TEST.RELATION.ZERO_SHOT_FILE), as in the zsR metric.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from maskrcnn_benchmark.config import CfgNode, get_cfg, paths_catalog

from .compose import compose_panels, save_picture
from .views import ImageViews, ZeroShotFn, limit_text, mark_differences, record_views

__all__ = [
    "RunPredictions",
    "SELECTIONS",
    "load_run",
    "load_run_image",
    "select_images",
    "render_run",
    "render_comparison",
]

logger = logging.getLogger(__name__)

SELECTIONS = ("first", "zero-shot", "differ")
_RECORD_KEYS = ("gt_boxes", "gt_labels", "gt_relations", "boxes", "labels", "scores",
                "rel_pairs", "rel_labels", "rel_scores", "file_name", "width", "height")


@dataclass
class RunPredictions:
    """One run's ``visualization.pth`` and what is needed to draw it."""

    name: str
    run_dir: str
    dataset_name: str
    mode: str
    classes: list[str]
    predicates: list[str]
    images: list[dict]
    image_dir: str
    iou_threshold: float
    zero_shot: ZeroShotFn | None

    def views(self, index: int, top_k: int | None, threshold: float | None) -> ImageViews:
        """GT and prediction panels of image ``index``."""
        return record_views(self.images[index], self.classes, self.predicates, top_k=top_k,
                            threshold=threshold, iou_threshold=self.iou_threshold,
                            zero_shot=self.zero_shot)


def _run_config(run_dir: str) -> CfgNode:
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{run_dir} has no config.yaml: pass the OUTPUT_DIR of a training or test run "
            "(tools/relation_train_net.py and tools/relation_test_net.py write config.yaml there)")
    cfg = get_cfg()
    cfg.merge_from_file(path)
    cfg.OUTPUT_DIR = run_dir  # the run may have moved since; its statistics cache lives here
    return cfg


def _visualization_file(cfg: CfgNode, run_dir: str, dataset: str | None) -> tuple[str, str]:
    folder = os.path.join(run_dir, "inference")
    found = sorted(d for d in (os.listdir(folder) if os.path.isdir(folder) else [])
                   if os.path.isfile(os.path.join(folder, d, "visualization.pth")))
    if dataset is None:
        preferred = [d for d in cfg.DATASETS.TEST if d in found]
        if not found:
            raise FileNotFoundError(
                f"No {folder}/<dataset>/visualization.pth: test the run first "
                f"(tools/relation_test_net.py --config-file {run_dir}/config.yaml)")
        dataset = (preferred or found)[0]
        if len(found) > 1:
            logger.info("%s: drawing %s (also saved: %s; choose with --dataset)", run_dir,
                        dataset, ", ".join(d for d in found if d != dataset))
    elif dataset not in found:
        raise FileNotFoundError(f"No {folder}/{dataset}/visualization.pth; saved datasets: "
                                f"{found or 'none'}")
    return dataset, os.path.join(folder, dataset, "visualization.pth")


def _zero_shot_fn(cfg: CfgNode) -> ZeroShotFn:
    from maskrcnn_benchmark.data.statistics import get_dataset_statistics, load_reference_triplets
    from maskrcnn_benchmark.evaluation.triplet_groups import group_membership, zero_shot_group

    path = cfg.TEST.RELATION.ZERO_SHOT_FILE
    if path:
        group, count = zero_shot_group(load_reference_triplets(path)), None
    else:
        group, count = zero_shot_group(), get_dataset_statistics(cfg).train_triplet_count
    return lambda rows: group_membership([group], rows, count)[group.key]


def load_run(run_dir: str, name: str | None = None, dataset: str | None = None,
             zero_shot: bool = True) -> RunPredictions:
    """Read a run folder's config and ``visualization.pth`` (``dataset`` default: the first of
    DATASETS.TEST that was saved). ``zero_shot`` False skips the train statistics."""
    cfg = _run_config(run_dir)
    dataset, path = _visualization_file(cfg, run_dir, dataset)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"Cannot read {path} ({err}); run the test again to rewrite it") from None
    if not isinstance(payload, dict) or not {"mode", "classes", "predicates", "images"} <= set(
            payload):
        raise ValueError(f"{path} is not a visualization.pth of this framework (written by "
                         "evaluation.outputs.save_visualization); run the test again")
    for record in payload["images"][:1]:
        missing = [k for k in _RECORD_KEYS if k not in record]
        if missing:
            raise ValueError(f"{path}: image records lack {missing}; run the test again")
    image_dir = paths_catalog.DatasetCatalog.resolve(
        dataset, paths_catalog.data_root(cfg.DATASETS.DATA_DIR)).img_dir
    return RunPredictions(
        name=name or os.path.basename(os.path.normpath(run_dir)), run_dir=run_dir,
        dataset_name=dataset, mode=str(payload["mode"]), classes=list(payload["classes"]),
        predicates=list(payload["predicates"]), images=list(payload["images"]),
        image_dir=image_dir, iou_threshold=float(cfg.TEST.RELATION.IOU_THRESHOLD),
        zero_shot=_zero_shot_fn(cfg) if zero_shot else None)


def load_run_image(run: RunPredictions, index: int) -> Image.Image:
    """Image ``index`` of the run's data set, at the size its boxes refer to."""
    record = run.images[index]
    path = os.path.join(run.image_dir, str(record["file_name"]))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Image {path} of {run.dataset_name} (index {index}) not found; the data set root is "
            "the run's DATASETS.DATA_DIR or $SGG_DATA_DIR")
    with Image.open(path) as image:
        picture = image.convert("RGB")
    size = (int(record["width"]), int(record["height"]))
    return picture if picture.size == size else picture.resize(size, Image.BILINEAR)


def _check_same_images(runs: Sequence[RunPredictions]) -> None:
    first = runs[0]
    for run in runs[1:]:
        same = (run.classes == first.classes and run.predicates == first.predicates
                and [r["file_name"] for r in run.images] == [r["file_name"] for r in first.images])
        if not same:
            raise ValueError(f"Runs {first.name} ({first.dataset_name}) and {run.name} "
                             f"({run.dataset_name}) were not tested on the same images and "
                             "classes; compare runs of one test split")


def select_images(runs: Sequence[RunPredictions], count: int, how: str = "first",
                  top_k: int | None = 10, threshold: float | None = None) -> list[int]:
    """``count`` image indices (images with GT relations only).

    "first": in index order; "zero-shot": most zero-shot GT relations recalled by any run first;
    "differ" (two runs or more): largest gap between the runs' recalled GT relations first.
    """
    if how not in SELECTIONS:
        raise ValueError(f"unknown image selection {how!r}; use one of {SELECTIONS}")
    if how == "differ" and len(runs) < 2:
        raise ValueError("selecting images where runs differ needs two runs or more")
    candidates = [i for i, r in enumerate(runs[0].images) if len(r["gt_relations"])]
    if how == "first":
        return candidates[:count]
    keys = []
    for index in candidates:
        views = [run.views(index, top_k, threshold) for run in runs]
        zero = [v.zero_shot_recalled for v in views]
        recalled = [v.recalled for v in views]
        if how == "zero-shot":
            keys.append((-max(zero), -(max(zero) - min(zero)), index))
        else:
            keys.append((-(max(recalled) - min(recalled)), -(max(zero) - min(zero)), index))
    keys.sort()
    if how == "zero-shot" and keys and keys[0][0] == 0:
        logger.warning("No run recalls a zero-shot relation in its top %s on these images", top_k)
    return [k[-1] for k in keys[:count]]


def _picture_name(run: RunPredictions, index: int) -> str:
    stem = os.path.splitext(os.path.basename(str(run.images[index]["file_name"])))[0]
    return f"{index:05d}_{stem}.png"


def _recall_text(views: ImageViews) -> str:
    total, zero = len(views.gt.relations), int(views.gt_zero_shot.sum())
    text = f"{views.recalled}/{total} GT recalled"
    return text + (f", zero-shot {views.zero_shot_recalled}/{zero}" if zero else "")


def render_run(run: RunPredictions, out_dir: str, indices: Sequence[int], *,
               top_k: int | None = 10, threshold: float | None = None, graph: bool = True,
               max_side: int | None = 400) -> list[str]:
    """Per image, GT (matched / missed / zero-shot) beside the prediction; the PNG paths."""
    paths = []
    for index in indices:
        image, views = load_run_image(run, index), run.views(index, top_k, threshold)
        record = run.images[index]
        panels = [
            views.gt.draw(image, graph=graph, max_side=max_side,
                          title=f"ground truth: {_recall_text(views)}"),
            views.prediction.draw(image, graph=graph, max_side=max_side,
                                  title=f"{run.name} ({run.mode}): {limit_text(top_k, threshold)}"),
        ]
        sheet = compose_panels(panels, title=f"{run.dataset_name} #{index} "
                                             f"({record['file_name']})")
        paths.append(save_picture(sheet, os.path.join(out_dir, _picture_name(run, index))))
    logger.info("Wrote %d pictures to %s", len(paths), out_dir)
    return paths


def render_comparison(runs: Sequence[RunPredictions], out_dir: str, indices: Sequence[int], *,
                      top_k: int | None = 10, threshold: float | None = None,
                      graph: bool = True, max_side: int | None = 400) -> list[str]:
    """Per image, the GT and each run's top triplets side by side (the paper's Figure 3):
    triplets absent from the other runs' drawn triplets are marked, zero-shot hits coloured."""
    if len(runs) < 2:
        raise ValueError("a comparison needs two runs or more")
    _check_same_images(runs)
    first, names = runs[0], [run.name for run in runs]
    note = "not in the top triplets of " + ("the other run" if len(runs) == 2 else "any other run")
    paths = []
    for index in indices:
        image = load_run_image(first, index)
        views = [run.views(index, top_k, threshold) for run in runs]
        marked = mark_differences([v.prediction for v in views], first.iou_threshold)
        panels = [views[0].plain_gt.draw(image, graph=graph, max_side=max_side,
                                         title=f"ground truth ({len(views[0].gt.relations)})")]
        for name, view, prediction in zip(names, views, marked):
            panels.append(prediction.draw(
                image, graph=graph, max_side=max_side, mark_note=note,
                title=f"{name}: {limit_text(top_k, threshold)}; {_recall_text(view)}"))
        sheet = compose_panels(panels, title=f"{' vs '.join(names)} ({first.mode}) on "
                                             f"{first.dataset_name} #{index} "
                                             f"({first.images[index]['file_name']})")
        paths.append(save_picture(sheet, os.path.join(out_dir, _picture_name(first, index))))
    logger.info("Wrote %d comparison pictures to %s", len(paths), out_dir)
    return paths


def default_out_dir(runs: Sequence[RunPredictions]) -> str:
    """Single run: ``<run>/inference/<dataset>/pictures``; several: ``<parent of the first>/
    pictures_<A>_vs_<B>``."""
    if len(runs) == 1:
        return os.path.join(runs[0].run_dir, "inference", runs[0].dataset_name, "pictures")
    parent = os.path.dirname(os.path.normpath(runs[0].run_dir))
    return os.path.join(parent, "pictures_" + "_vs_".join(r.name for r in runs))


def visualize_runs(specs: Sequence[tuple[str | None, str]], out_dir: str | None = None, *,
                   images: int = 4, indices: Sequence[int] | None = None, select: str = "first",
                   dataset: str | None = None, top_k: int | None = 10,
                   threshold: float | None = None, graph: bool = True,
                   max_side: int | None = 400, sgb_frame: tuple[int, int] | None = None,
                   ) -> list[str]:
    """The tool's work: ``specs`` are (name or None, folder) pairs; one test-run folder draws
    GT vs prediction, several compare, a predict folder (custom_prediction.json) draws its
    predictions. Returns the PNG paths."""
    from .custom import CUSTOM_PREDICTION, render_custom

    if not specs:
        raise ValueError("give a run folder, NAME=folder pairs to compare, or a predict folder")
    for _, folder in specs:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder} is not a folder")
    custom = [f for _, f in specs if os.path.isfile(os.path.join(f, CUSTOM_PREDICTION))]
    if custom:
        if len(specs) != 1:
            raise ValueError(f"{custom[0]} is a predict folder: draw it alone")
        folder = specs[0][1]
        return render_custom(folder, out_dir or os.path.join(folder, "pictures"),
                             images=images, indices=indices, top_k=top_k, threshold=threshold,
                             graph=graph, max_side=max_side, sgb_frame=sgb_frame)
    runs = [load_run(folder, name, dataset) for name, folder in specs]
    if len({r.name for r in runs}) != len(runs):
        raise ValueError(f"run names {[r.name for r in runs]} must differ: use NAME=folder")
    chosen = list(indices) if indices is not None else select_images(
        runs, images, select, top_k, threshold)
    for index in chosen:
        if not 0 <= index < len(runs[0].images):
            raise ValueError(f"image index {index} is outside 0..{len(runs[0].images) - 1}")
    options = {"top_k": top_k, "threshold": threshold, "graph": graph, "max_side": max_side}
    out_dir = out_dir or default_out_dir(runs)
    if len(runs) == 1:
        return render_run(runs[0], out_dir, chosen, **options)
    return render_comparison(runs, out_dir, chosen, **options)
