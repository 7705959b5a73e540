"""Generation of the synthetic VG150 benchmark: records, rendered images, files and card.

Every image is synthesised and rendered from generators seeded by (seed, image index), so the
output is identical for any number of worker processes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from ..capgraphs import CAPGRAPHS_NAME
from ..vg_format import DICTS_NAME, H5_NAME, IMAGE_DATA_NAME, IMAGE_DIR_NAME, write_vg_files
from .card import write_card
from .records import SyntheticImage, synthesize_image, to_vg_record
from .render import render_scene
from .split_stats import SplitStatistics, split_statistics
from .vocabulary import ATTRIBUTES, OBJECT_CLASSES, PREDICATES, PRESETS

__all__ = ["META_NAME", "GenerationResult", "synthesize_images", "generate_dataset"]

logger = logging.getLogger(__name__)

META_NAME = "synthetic_vg.json"
GENERATOR_VERSION = 2
# The caption-graph file of tools/image_retrieval.py captions may sit beside the data set.
_OWN_FILES = {H5_NAME, DICTS_NAME, IMAGE_DATA_NAME, IMAGE_DIR_NAME, META_NAME, "README.md",
              CAPGRAPHS_NAME}
JPEG_QUALITY = 92


@dataclass
class GenerationResult:
    """Where the data set went, how long it took and its statistics."""

    out_dir: str
    num_images: int
    seconds: float
    statistics: SplitStatistics


def synthesize_images(seed: int, num_images: int, test_fraction: float,
                      first_image: int = 0) -> list[SyntheticImage]:
    """The records of a data set without rendering pixels (the fast path of tests and stats):
    images ``first_image`` .. ``first_image + num_images - 1`` of the seed's stream."""
    return [synthesize_image(seed, i, test_fraction)
            for i in range(first_image, first_image + num_images)]


def render_chunk(task: tuple[int, list[int], float, str]) -> list[SyntheticImage]:
    """Synthesize and render the images of one task (seed, indices, test fraction, image dir)."""
    seed, indices, test_fraction, image_dir = task
    images = []
    for index in indices:
        image = synthesize_image(seed, index, test_fraction)
        pixels, _ = render_scene(image.scene, (seed, index))
        pixels.save(os.path.join(image_dir, f"{image.image_id}.jpg"), quality=JPEG_QUALITY)
        images.append(image)
    return images


def check_first_image(first_image: int) -> int:
    """``first_image`` as an int; a negative index is refused."""
    if int(first_image) < 0:
        raise ValueError(f"first_image must be 0 or more, got {first_image}")
    return int(first_image)


def preset_size(preset: str, num_images: int | None):
    """(PRESETS[preset], image count): the preset's size unless ``num_images`` is given."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    spec = PRESETS[preset]
    count = spec.num_images if num_images is None else int(num_images)
    if count < 1:
        raise ValueError(f"num_images must be positive, got {count}")
    return spec, count


def render_images(render_chunk, seed: int, count: int, test_fraction: float, image_dir: str,
                  workers: int | None, first_image: int = 0) -> list:
    """Images first_image .. first_image + count - 1 through ``render_chunk((seed, indices,
    test_fraction, image_dir))`` (a picklable top-level function), in chunks over ``workers``
    processes, in index order."""
    workers = max(1, min(workers or os.cpu_count() or 1, count))
    chunk = max(1, min(64, count // (4 * workers) or 1))
    end = first_image + count
    tasks = [(seed, list(range(i, min(i + chunk, end))), test_fraction, image_dir)
             for i in range(first_image, end, chunk)]
    if workers == 1:
        return [im for task in tasks for im in render_chunk(task)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [im for part in pool.map(render_chunk, tasks) for im in part]


def _prepare(out_dir: str) -> str:
    """Create ``out_dir`` (or reuse one holding an earlier synthetic data set); clear old images."""
    entries = os.listdir(out_dir) if os.path.isdir(out_dir) else []
    if entries:
        foreign = sorted(e for e in entries if e not in _OWN_FILES and not e.endswith(".png"))
        if foreign or META_NAME not in entries:
            raise FileExistsError(
                f"{out_dir} is not empty and does not hold a synthetic data set (found "
                f"{foreign[:5] if foreign else 'no ' + META_NAME}); choose an empty or new --out")
    image_dir = os.path.join(out_dir, IMAGE_DIR_NAME)
    os.makedirs(image_dir, exist_ok=True)
    for name in os.listdir(image_dir):
        if name.endswith(".jpg"):
            os.remove(os.path.join(image_dir, name))
    return image_dir


def generate_dataset(out_dir: str, preset: str = "small", seed: int = 0,
                     workers: int | None = None, num_images: int | None = None,
                     first_image: int = 0) -> GenerationResult:
    """Write the four VG150 artifacts, the dataset card and its figures into ``out_dir``.

    ``first_image`` > 0 writes images first_image .. first_image + count - 1 of the seed's
    stream: new images (and image ids) from the same distribution, disjoint from the data set
    of ``first_image`` images made with the same seed (e.g. a larger test gallery)."""
    spec, count = preset_size(preset, num_images)
    first_image = check_first_image(first_image)
    start = time.perf_counter()
    image_dir = _prepare(out_dir)
    images = render_images(render_chunk, seed, count, spec.test_fraction, image_dir, workers,
                           first_image)
    records = [to_vg_record(im) for im in images]
    write_vg_files(out_dir, records, OBJECT_CLASSES, PREDICATES, ATTRIBUTES)
    stats = split_statistics(records, len(PREDICATES))
    with open(os.path.join(out_dir, META_NAME), "w") as f:
        json.dump({"generator_version": GENERATOR_VERSION, "preset": preset, "seed": seed,
                   "num_images": count, "first_image": first_image,
                   "test_fraction": spec.test_fraction}, f, indent=1)
    write_card(out_dir, images, stats, preset, seed, first_image)
    seconds = time.perf_counter() - start
    logger.info("wrote %d images (%d train, %d test) to %s in %.1f s", count, stats.num_train,
                stats.num_test, out_dir, seconds)
    return GenerationResult(out_dir, count, seconds, stats)
