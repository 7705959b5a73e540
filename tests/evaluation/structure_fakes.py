"""Hand-built images in the synthetic benchmark's vocabulary, with the generator's extras."""

from __future__ import annotations

import numpy as np
from eval_fakes import FakeDataset, prediction

from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import OBJECT_CLASSES, PREDICATES

CLASSES = ["__background__", *OBJECT_CLASSES]
PREDICATE_NAMES = ["__background__", *PREDICATES]
WIDTH, HEIGHT = 320, 240


def cls(name: str) -> int:
    """Class id of a synthetic class name."""
    return CLASSES.index(name)


def pred(name: str) -> int:
    """Predicate id of a synthetic predicate name."""
    return PREDICATE_NAMES.index(name)


class SyntheticFakeDataset(FakeDataset):
    """FakeDataset with the synthetic names; images with a ``context`` list carry extras."""

    def __init__(self, images):
        super().__init__(images, len(CLASSES), len(PREDICATE_NAMES))
        self.ind_to_classes = list(CLASSES)
        self.ind_to_predicates = list(PREDICATE_NAMES)

    def get_structure_annotations(self, index):
        image = self.images[index]
        if "context" not in image:
            return None
        relations = np.asarray(image["relations"], dtype=np.int64).reshape(-1, 3)
        return {"relations": relations, "context": list(image["context"]),
                "truths": [PREDICATE_NAMES[p] for p in relations[:, 2]], "kind": "street"}


def syn_image(objects, relations, context=None):
    """objects: [(class name, xyxy box)]; relations: [(s, o, predicate name)]; context: the
    context rule of each relation ("" = its own pair), None = no extras."""
    image = {
        "gt_boxes": np.array([box for _, box in objects], dtype=np.float32).reshape(-1, 4),
        "gt_labels": np.array([cls(name) for name, _ in objects], dtype=np.int64),
        "relations": np.array([(s, o, pred(p)) for s, o, p in relations],
                              dtype=np.int64).reshape(-1, 3),
        "width": WIDTH, "height": HEIGHT,
    }
    if context is not None:
        image["context"] = list(context)
    return image


def ranked_prediction(image, ranked):
    """PredCls prediction on the image's GT boxes listing only the ``ranked`` pairs, in order:
    [(s, o, {predicate name: score})], background takes the rest of each row."""
    scores = np.zeros((len(ranked), len(PREDICATE_NAMES)), dtype=np.float32)
    for row, (_, _, entries) in enumerate(ranked):
        for name, value in entries.items():
            scores[row, pred(name)] = value
        scores[row, 0] = 1.0 - scores[row].sum()
    pairs = np.array([(s, o) for s, o, _ in ranked], dtype=np.int64).reshape(-1, 2)
    n = len(image["gt_labels"])
    return prediction(image["gt_boxes"], image["gt_labels"], np.ones(n), pairs, scores,
                      (WIDTH, HEIGHT))
