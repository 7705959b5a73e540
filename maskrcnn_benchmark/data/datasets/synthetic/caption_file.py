"""The caption-graph file of a synthetic data set (``tools/image_retrieval.py captions``).

Captions describe the scenes' true relations, which the VG150 files do not hold (only the
written-down ones), so the scenes are re-synthesised from the seed in ``synthetic_vg.json``
(records only, no pixels) and checked against the files before anything is written. The file
goes beside the data set's files under SGB's name (``vg_capgraphs_anno.json``); nothing else in
the folder is touched. Captions of image ``i`` come from a generator seeded by (caption seed,
image id), so the file is the same for a given data set and caption seed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..capgraphs import (
    CAPGRAPHS_NAME,
    CaptionGraphs,
    CaptionGraphsError,
    read_capgraphs,
    write_capgraphs,
)
from .captions import CAPTIONS_PER_IMAGE, write_captions
from .generate import GENERATOR_VERSION, META_NAME, synthesize_images
from .records import SyntheticImage, to_vg_record
from .vg_read import read_vg_records
from .vocabulary import PREDICATES

__all__ = ["CAPTIONS_VERSION", "caption_graphs", "write_synthetic_captions"]

logger = logging.getLogger(__name__)

CAPTIONS_VERSION = 1


def caption_graphs(images: Sequence[SyntheticImage], caption_seed: int,
                   per_image: int = CAPTIONS_PER_IMAGE) -> CaptionGraphs:
    """Captions and text graphs of ``images`` in SGB's caption-graph layout (caption id =
    image id; the image-side predicate words are the predicate names)."""
    if per_image < 1:
        raise ValueError(f"captions per image must be positive, got {per_image}")
    graphs, texts = {}, {}
    categories: Counter[str] = Counter()
    predicates: Counter[str] = Counter()
    for image in images:
        captions = write_captions(image.scene, np.random.default_rng([caption_seed,
                                                                      image.image_id]),
                                  per_image)
        key = str(image.image_id)
        graphs[key] = [c.graph for c in captions]
        texts[key] = [c.text for c in captions]
        for caption in captions:
            categories.update(caption.graph.entities)
            predicates.update(p for _, _, p in caption.graph.relations)
    ids = [image.image_id for image in images]
    return CaptionGraphs(
        image_ids=ids, caption_ids=list(ids), valids=[1] * len(ids),
        meta_predicates={i + 1: name for i, name in enumerate(PREDICATES)},
        categories=dict(sorted(categories.items())), predicates=dict(sorted(predicates.items())),
        graphs=graphs, captions=texts,
    )


def _read_meta(data_dir: str) -> dict:
    path = os.path.join(data_dir, META_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: captions are written for synthetic data sets only (made by "
            "tools/make_synthetic_vg.py); on VG use SGB's vg_capgraphs_anno.json")
    with open(path) as f:
        meta = json.load(f)
    if meta.get("generator_version") != GENERATOR_VERSION:
        raise ValueError(
            f"{data_dir} was made by generator version {meta.get('generator_version')}, this "
            f"code is version {GENERATOR_VERSION}: regenerate the data set with "
            "tools/make_synthetic_vg.py before writing captions")
    return meta


def _check_against_files(data_dir: str, images: Sequence[SyntheticImage], seed: int) -> None:
    records = read_vg_records(data_dir)
    hint = (f"the files in {data_dir} are not what seed {seed} generates; regenerate the data "
            "set with tools/make_synthetic_vg.py")
    if len(records) != len(images):
        raise ValueError(f"{len(records)} images on disk but {len(images)} generated: {hint}")
    for record, image in zip(records, images):
        expected = to_vg_record(image)
        if (record.image_id != expected.image_id
                or not np.array_equal(record.labels, expected.labels)
                or not np.array_equal(record.relations, expected.relations)):
            raise ValueError(f"image {record.image_id} differs: {hint}")


def write_synthetic_captions(data_dir: str, out: str | None = None,
                             caption_seed: int | None = None,
                             per_image: int = CAPTIONS_PER_IMAGE) -> str:
    """Write the caption-graph file of the synthetic data set in ``data_dir``; returns its
    path (default ``data_dir/vg_capgraphs_anno.json``; the caption seed defaults to the data
    set's seed)."""
    start = time.perf_counter()
    meta = _read_meta(data_dir)
    seed = int(meta["seed"])
    caption_seed = seed if caption_seed is None else int(caption_seed)
    out = out or os.path.join(data_dir, CAPGRAPHS_NAME)
    if os.path.exists(out):
        try:
            read_capgraphs(out)
        except (CaptionGraphsError, OSError) as err:
            raise FileExistsError(f"{out} exists and is not a caption-graph file ({err}); "
                                  "choose another output path") from None
    images = synthesize_images(seed, int(meta["num_images"]), float(meta["test_fraction"]),
                               int(meta.get("first_image", 0)))
    _check_against_files(data_dir, images, seed)
    data = caption_graphs(images, caption_seed, per_image)
    data.extra["synthetic"] = {
        "captions_version": CAPTIONS_VERSION, "caption_seed": caption_seed,
        "captions_per_image": per_image, "dataset_seed": seed, "preset": meta.get("preset"),
        "num_images": int(meta["num_images"]), "first_image": int(meta.get("first_image", 0)),
        "generator_version": GENERATOR_VERSION,
    }
    write_capgraphs(out, data)
    logger.info("wrote %d captions of %d images (%d entity words, %d predicate words) to %s "
                "in %.1f s", per_image * len(images), len(images), len(data.categories),
                len(data.predicates), out, time.perf_counter() - start)
    return out
