"""VGDataset: scene graphs in the VG150 files (Visual Genome, GQA and synthetic data alike)."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable

import h5py
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from maskrcnn_benchmark.structures.bounding_box import FLIP_LEFT_RIGHT, BoxList

from .vg_format import BOX_SCALE
from .vg_h5 import SPLITS, VGFormatError, load_image_info, load_info, load_split_graphs

__all__ = ["VGDataset"]

logger = logging.getLogger(__name__)


class VGDataset(torch.utils.data.Dataset):
    """One split of a VG150-format data set; items are ``(image, target BoxList, index)``.

    Args:
        split: "train", "val" (the first ``num_val_im`` train images) or "test".
        img_dir: folder of the images (``file_name`` of image_data.json, default
            ``{image_id}.jpg``). Images are opened lazily; a missing one is an error when loaded.
        roidb_file, dict_file, image_file: the h5, the dicts json and image_data.json.
        transforms: callable ``(PIL image, BoxList) -> (tensor, BoxList)``.
        filter_empty_rels: drop images without relations.
        num_im: keep the first ``num_im`` images of the final split (-1 = all).
        num_val_im: size of the validation carve-out (0 = no carve: val = train).
        filter_duplicate_rels: (train) keep one random predicate per ordered pair per item.
        filter_non_overlap: (train) keep relations whose boxes overlap; drop images left empty.
        flip_aug: (train) flip image and boxes left-right with probability 0.5.
    """

    def __init__(
        self,
        split: str,
        img_dir: str,
        roidb_file: str,
        dict_file: str,
        image_file: str,
        transforms: Callable | None = None,
        filter_empty_rels: bool = True,
        num_im: int = -1,
        num_val_im: int = 5000,
        filter_duplicate_rels: bool = True,
        filter_non_overlap: bool = True,
        flip_aug: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not os.path.isdir(img_dir):
            raise FileNotFoundError(
                f"Image folder not found: {img_dir}; put the images there (see docs/DATA.md; "
                "the dataset root is DATASETS.DATA_DIR or the environment variable SGG_DATA_DIR)")
        self.split = split
        self.img_dir = img_dir
        self.roidb_file, self.dict_file, self.image_file = roidb_file, dict_file, image_file
        self.transforms = transforms
        self.filter_non_overlap = filter_non_overlap and split == "train"
        self.filter_duplicate_rels = filter_duplicate_rels and split == "train"
        self.flip_aug = flip_aug and split == "train"

        self.ind_to_classes, self.ind_to_predicates, self.ind_to_attributes = load_info(dict_file)
        self.categories = dict(enumerate(self.ind_to_classes))
        graphs = load_split_graphs(
            roidb_file, split, num_im=num_im, num_val_im=num_val_im,
            filter_empty_rels=filter_empty_rels, filter_non_overlap=self.filter_non_overlap,
            num_classes=len(self.ind_to_classes), num_predicates=len(self.ind_to_predicates))
        self.gt_boxes, self.gt_classes = graphs.boxes, graphs.labels
        self.gt_attributes, self.relationships = graphs.attributes, graphs.relations
        self.image_rows = graphs.image_rows
        all_info = load_image_info(image_file, graphs.num_rows)
        self.img_info = [all_info[row] for row in graphs.image_rows]
        self.filenames = [os.path.join(img_dir, info["file_name"]) for info in self.img_info]
        self._size_warned: set[int] = set()

    def __len__(self) -> int:
        return len(self.filenames)

    def __getitem__(self, index: int) -> tuple[object, BoxList, int]:
        image = self._load_image(index)
        flip_img = self.flip_aug and random.random() < 0.5
        target = self.get_groundtruth(index, flip_img=flip_img)
        if flip_img:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if image.size != target.size:
            # image_data.json has a few wrong sizes in real VG; boxes follow the true image.
            if index not in self._size_warned:
                self._size_warned.add(index)
                logger.warning("%s is %s on disk but %s in %s; boxes are rescaled to the image",
                               self.filenames[index], image.size, target.size, self.image_file)
            target = target.resize(image.size)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target, index

    def _load_image(self, index: int) -> Image.Image:
        path = self.filenames[index]
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Image {path} (image_id {self.img_info[index]['image_id']}, split "
                f"'{self.split}') not found; copy the data set's images into {self.img_dir} "
                "(see docs/DATA.md)")
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except (OSError, UnidentifiedImageError) as err:
            raise OSError(f"Image {path} cannot be decoded ({err}); replace the file with a "
                          "valid copy of the image") from None

    def get_img_info(self, index: int) -> dict:
        """Original ``width``, ``height``, ``image_id`` and ``file_name`` of image ``index``."""
        return self.img_info[index]

    def get_structure_annotations(self, index: int) -> dict | None:
        """The synthetic benchmark's extras of image ``index``, or None when the data set has
        none (VG, GQA, custom data).

        Returns ``relations`` (int64 [R, 3]: subject, object, predicate of every relation of
        the image in the h5, the rows the lists refer to), ``context`` (per relation the
        context rule that decides it, "" where its own boxes and classes do), ``truths`` (the
        true predicate names) and ``kind`` (the scene). ``relations`` may hold rows that the
        train split's overlap filter removed from ``get_groundtruth``; match by row content.
        """
        info = self.img_info[index]
        if "context" not in info or "truths" not in info:
            return None
        relations = self.relationships[index]
        if len(relations) != len(info["context"]):  # the overlap filter dropped some rows
            relations = self._h5_relations(index)
        if not len(relations) == len(info["context"]) == len(info["truths"]):
            raise VGFormatError(
                f"{self.image_file}: image_id {info['image_id']} has {len(info['context'])} "
                f"context and {len(info['truths'])} truth entries for {len(relations)} "
                f"relations in {self.roidb_file}; regenerate the data set")
        return {"relations": relations.astype(np.int64), "context": list(info["context"]),
                "truths": list(info["truths"]), "kind": str(info.get("kind", ""))}

    def _h5_relations(self, index: int) -> np.ndarray:
        """Every relation of image ``index`` as written in the h5 (no filter)."""
        row = int(self.image_rows[index])
        with h5py.File(self.roidb_file, "r") as h5:
            first_box = int(h5["img_to_first_box"][row])
            r0, r1 = int(h5["img_to_first_rel"][row]), int(h5["img_to_last_rel"][row]) + 1
            if r0 < 0:
                return np.zeros((0, 3), dtype=np.int64)
            pairs = h5["relationships"][r0:r1].astype(np.int64) - first_box
            predicates = h5["predicates"][r0:r1, 0].astype(np.int64)
        return np.column_stack([pairs, predicates])

    def get_groundtruth(self, index: int, evaluation: bool = False,
                        flip_img: bool = False) -> BoxList:
        """Ground truth in original image pixels (image_data.json size).

        ``evaluation=True`` keeps empty boxes and adds ``relation_tuple`` [R, 3] (subject,
        object, predicate; duplicates included). ``flip_img`` flips the boxes left-right.
        """
        info = self.img_info[index]
        width, height = int(info["width"]), int(info["height"])
        boxes = torch.from_numpy(self.gt_boxes[index] / BOX_SCALE * max(width, height))
        target = BoxList(boxes.reshape(-1, 4), (width, height), "xyxy")
        if flip_img:
            target = target.transpose(FLIP_LEFT_RIGHT)
        target.add_field("labels", torch.from_numpy(self.gt_classes[index]))
        target.add_field("attributes", torch.from_numpy(self.gt_attributes[index]))

        relations = self.relationships[index]
        if self.filter_duplicate_rels:
            relations = _one_predicate_per_pair(relations)
        target.add_field("relation", _relation_matrix(relations, len(target)), is_triplet=True)
        if evaluation:
            target = target.clip_to_image(remove_empty=False)
            target.add_field("relation_tuple", torch.from_numpy(relations.astype(np.int64)))
            return target
        return target.clip_to_image(remove_empty=True)


def _one_predicate_per_pair(relations: np.ndarray) -> np.ndarray:
    """Keep one uniformly random predicate for every ordered (subject, object) pair."""
    if len(relations) < 2:
        return relations
    shuffled = relations[np.random.permutation(len(relations))]
    _, first = np.unique(shuffled[:, :2], axis=0, return_index=True)
    return shuffled[np.sort(first)]


def _relation_matrix(relations: np.ndarray, num_boxes: int) -> torch.Tensor:
    """N x N predicate matrix; a pair seen twice keeps the later predicate with probability 0.5."""
    matrix = torch.zeros((num_boxes, num_boxes), dtype=torch.int64)
    for sub, obj, pred in relations.tolist():
        if matrix[sub, obj] == 0 or random.random() > 0.5:
            matrix[sub, obj] = pred
    return matrix
