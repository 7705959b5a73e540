"""Preprocessing: one split's scene graphs joined with its captions' text graphs.

The scene graphs come from a test run's saved predictions
(``OUTPUT_DIR/inference/<dataset>/predictions.pth`` of ``tools/relation_test_net.py``, run with
``DATASETS.TO_TEST`` train, val or test and the same config) or from the annotation (the
oracle gallery). The captions come from SGB's caption-graph file: ``RETRIEVAL.CAPTIONS_FILE``,
by default ``vg_capgraphs_anno.json`` beside the data set's h5 (where SGB's catalog puts it).
Images without captions (``vg_valids`` 0 or no entry) are left out, as in SGB.
"""

from __future__ import annotations

import json
import logging
import os

from maskrcnn_benchmark.config import CfgNode, get_cfg
from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.datasets.capgraphs import (
    CAPGRAPHS_NAME,
    CaptionGraphs,
    TextGraph,
    read_capgraphs,
)
from maskrcnn_benchmark.engine.inference import inference_output_folder
from maskrcnn_benchmark.engine.relation import split_dataset_names
from maskrcnn_benchmark.evaluation import load_predictions
from maskrcnn_benchmark.utils.env import seed_all_rng
from maskrcnn_benchmark.utils.logger import setup_logger

from .retrieval_file import RetrievalFile, RetrievalItem, Vocabulary, write_retrieval_file
from .scene_graphs import ground_truth_graph, prediction_graph

__all__ = ["SOURCES", "captions_file_for", "preprocess_config", "preprocess_split"]

logger = logging.getLogger(__name__)

SOURCES = ("predictions", "ground_truth")
_SYNTHETIC_META = "synthetic_vg.json"


def preprocess_config(config_file: str, opts: list[str]) -> CfgNode:
    """The run's config (its saved config.yaml) with overrides; logs to the console only and
    writes nothing into the run's folder."""
    cfg = get_cfg()
    if config_file:
        cfg.merge_from_file(config_file)
    cfg.merge_from_list(opts)
    cfg.freeze()
    setup_logger("maskrcnn_benchmark", None)
    seed_all_rng(cfg.SEED)
    return cfg


def captions_file_for(cfg, roidb_file: str) -> str:
    """RETRIEVAL.CAPTIONS_FILE, or ``vg_capgraphs_anno.json`` beside the data set's h5."""
    return cfg.RETRIEVAL.CAPTIONS_FILE or os.path.join(os.path.dirname(roidb_file),
                                                       CAPGRAPHS_NAME)


def _check_synthetic(captions: CaptionGraphs, path: str, roidb_file: str) -> None:
    """Captions written for another synthetic data set (seed, size) are an error."""
    made_for = captions.extra.get("synthetic")
    meta_path = os.path.join(os.path.dirname(roidb_file), _SYNTHETIC_META)
    if not isinstance(made_for, dict) or not os.path.isfile(meta_path):
        return
    with open(meta_path) as f:
        meta = json.load(f)
    def identity(seed, count, first) -> str:
        return f"seed {seed} and {count} images" + (f" from image {first}" if first else "")

    written = identity(made_for.get("dataset_seed"), made_for.get("num_images"),
                       made_for.get("first_image", 0))
    present = identity(meta.get("seed"), meta.get("num_images"), meta.get("first_image", 0))
    if written != present:
        raise ValueError(
            f"{path} was written for a synthetic data set with {written}, but "
            f"{os.path.dirname(roidb_file)} has {present}: write the captions again with "
            "`python tools/image_retrieval.py captions`")


def _image_graphs(cfg, name: str, dataset, source: str, meta: dict[int, str]) -> list[TextGraph]:
    classes = dataset.ind_to_classes
    if source == "ground_truth":
        graphs = []
        for index in range(len(dataset)):
            target = dataset.get_groundtruth(index, evaluation=True)
            graphs.append(ground_truth_graph(target.get_field("labels"),
                                             target.get_field("relation_tuple"), classes, meta))
        return graphs
    path = os.path.join(inference_output_folder(cfg, name), "predictions.pth")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: run `python tools/relation_test_net.py` with this config and "
            f"DATASETS.TO_TEST {dataset.split} first (it saves the predictions there), or use "
            "--source ground_truth")
    options = cfg.RETRIEVAL.PREPROCESS
    return [prediction_graph(p, classes, meta, options.OBJ_THRESHOLD, options.TOP_K)
            for p in load_predictions(path, name, len(dataset))]


def preprocess_split(cfg, split: str, source: str, out: str) -> RetrievalFile:
    """Write the retrieval input of ``split`` (every dataset of DATASETS.<split>) to ``out``."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    names = split_dataset_names(cfg, split)
    if not names:
        raise ValueError(f"DATASETS.{split.upper()} is empty: name the {split} split's dataset")
    items: list[RetrievalItem] = []
    vocabulary: Vocabulary | None = None
    captions_paths, prediction_paths = [], []
    for name in names:
        dataset = build_dataset(cfg, [name], is_train=False)[0]
        path = captions_file_for(cfg, dataset.roidb_file)
        captions = read_capgraphs(path)
        _check_synthetic(captions, path, dataset.roidb_file)
        graphs = _image_graphs(cfg, name, dataset, source, captions.meta_predicates)
        caption_of = captions.caption_id_of()
        found = 0
        for index, graph in enumerate(graphs):
            image_id = int(dataset.get_img_info(index)["image_id"])
            key = str(caption_of.get(image_id, ""))
            if key in captions.graphs:
                items.append(RetrievalItem(key, image_id, graph, captions.graphs[key]))
                found += 1
        if not found:
            raise ValueError(f"No image of {name} has captions in {path}; is it the "
                             "caption-graph file of this data set?")
        logger.info("%s: %d of %d images have captions (%s)", name, found, len(dataset), path)
        words = Vocabulary(tuple(dataset.ind_to_classes[1:]),
                           tuple(sorted(set(captions.meta_predicates.values()))),
                           tuple(sorted(captions.categories)), tuple(sorted(captions.predicates)))
        if vocabulary is not None and words != vocabulary:
            raise ValueError(f"{name} has other class, predicate or caption words than "
                             f"{names[0]}; preprocess them into separate files")
        vocabulary = words
        captions_paths.append(path)
        if source == "predictions":
            prediction_paths.append(os.path.join(inference_output_folder(cfg, name),
                                                 "predictions.pth"))
    info = {"datasets": list(names), "split": split, "captions_files": captions_paths,
            "predictions_files": prediction_paths,
            "obj_threshold": cfg.RETRIEVAL.PREPROCESS.OBJ_THRESHOLD,
            "top_k": cfg.RETRIEVAL.PREPROCESS.TOP_K}
    data = RetrievalFile(source, vocabulary, items, info)
    write_retrieval_file(out, data)
    relations = sum(len(it.image_graph.relations) for it in items)
    logger.info("Wrote %s: %d images, %.1f relations per image graph (%s)", out, len(items),
                relations / max(len(items), 1), source)
    return data
