"""One synthetic image as data (no pixels): composed, annotated and converted to a VG150 record.

Each image draws from its own generator seeded by (seed, index), so a data set is the same
whatever the number of worker processes, and any image can be regenerated alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..vg_format import VGImageRecord
from .compose import compose_scene
from .relations import annotate
from .scene import Scene
from .vocabulary import attribute_index, class_index, predicate_index

__all__ = ["MIN_OBJECTS", "MIN_RELATIONS", "SyntheticImage", "synthesize_image",
           "to_vg_record", "TRAIN_SPLIT", "TEST_SPLIT"]

MIN_OBJECTS = 4
MIN_RELATIONS = 3
TRAIN_SPLIT = 0
TEST_SPLIT = 2
_STATE_ATTRIBUTE = {"standing": "standing", "walking": "walking", "sitting": "sitting",
                    "lying": "lying", "parked": "parked", "flying": "flying"}


@dataclass
class SyntheticImage:
    """A scene, its annotated relations (subject, object, label), their true predicates and
    their context rules ("" where the pair's own boxes and classes decide)."""

    image_id: int
    scene: Scene
    relations: list[tuple[int, int, str]]
    truths: list[str]
    contexts: list[str]

    @property
    def split(self) -> int:
        """0 (train) or 2 (test)."""
        return self.scene.split


def synthesize_image(seed: int, index: int, test_fraction: float) -> SyntheticImage:
    """The image ``index`` (0-based) of the data set generated with ``seed``."""
    rng = np.random.default_rng([seed, index])
    split = TEST_SPLIT if rng.random() < test_fraction else TRAIN_SPLIT
    for _ in range(100):
        scene = compose_scene(rng, split)
        if len(scene.objects) < MIN_OBJECTS:
            continue
        relations, truths, contexts = annotate(scene, rng)
        if len(relations) >= MIN_RELATIONS:
            return SyntheticImage(index + 1, scene, relations, truths, contexts)
    raise RuntimeError(f"could not compose image {index} for seed {seed}")


def _attributes(scene: Scene) -> np.ndarray:
    out = np.zeros((len(scene.objects), 3), dtype=np.int64)
    for i, obj in enumerate(scene.objects):
        names = [obj.color, obj.pattern, _STATE_ATTRIBUTE.get(obj.pose, "")]
        if obj.name == "kite":
            names[2] = "flying"
        ids = [attribute_index(n) for n in names if n]
        out[i, : len(ids)] = ids
    return out


def to_vg_record(image: SyntheticImage) -> VGImageRecord:
    """The VG150 record of an image (1-based labels and predicates, xyxy pixel boxes)."""
    scene = image.scene
    rels = np.array([(s, o, predicate_index(p)) for s, o, p in image.relations],
                    dtype=np.int64).reshape(-1, 3)
    return VGImageRecord(
        image_id=image.image_id, width=scene.width, height=scene.height,
        boxes=np.array([o.box for o in scene.objects], dtype=np.float64).reshape(-1, 4),
        labels=np.array([class_index(o.name) for o in scene.objects], dtype=np.int64),
        relations=rels, split=scene.split, attributes=_attributes(scene),
        extra={"kind": scene.kind, "truths": list(image.truths),
               "context": list(image.contexts)},
    )
