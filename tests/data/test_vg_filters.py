"""Split selection and filters of VGDataset on the hand-made filter example (see vg_test_data)."""

import numpy as np
import torch
from vg_test_data import dataset_kwargs

from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset


def _ids(dataset):
    return [dataset.get_img_info(i)["image_id"] for i in range(len(dataset))]


def test_test_split_takes_flag_2_and_never_filters_overlap(filter_paths):
    ds = VGDataset("test", **dataset_kwargs(filter_paths, num_val_im=2))
    assert _ids(ds) == [16]
    gt = ds.get_groundtruth(0, evaluation=True)
    assert gt.get_field("relation_tuple").tolist() == [[0, 1, 2]]  # disjoint boxes kept


def test_val_is_carved_before_the_overlap_filter(filter_paths):
    # Train-flag rows with boxes and relations: ids 10, 13, 14, 15 -> val = first two, even
    # though 10 has no overlapping relation. Carving after the filter would give [13, 15].
    val = VGDataset("val", **dataset_kwargs(filter_paths, num_val_im=2))
    assert _ids(val) == [10, 13]
    train = VGDataset("train", **dataset_kwargs(filter_paths, num_val_im=2))
    assert _ids(train) == [15]  # 14 only has a disjoint relation
    assert train.relationships[0].tolist() == [[0, 1, 1], [0, 1, 3]]


def test_train_without_overlap_filter_keeps_all_relations(filter_paths):
    train = VGDataset("train", **dataset_kwargs(filter_paths, num_val_im=2,
                                                filter_non_overlap=False))
    assert _ids(train) == [14, 15]
    assert train.relationships[1].tolist() == [[0, 1, 1], [0, 2, 2], [0, 1, 3]]


def test_touching_boxes_count_as_overlapping(filter_paths):
    # num_val_im=0: val is not carved, train = every train-flag image with relations.
    train = VGDataset("train", **dataset_kwargs(filter_paths, num_val_im=0))
    assert _ids(train) == [13, 15]  # 13's boxes touch at x = 4 (+1 pixel IoU > 0)


def test_filter_empty_rels_off_keeps_images_without_relations(filter_paths):
    val = VGDataset("val", **dataset_kwargs(filter_paths, num_val_im=2, filter_empty_rels=False))
    assert _ids(val) == [10, 11]  # the image without boxes (12) is always dropped
    train = VGDataset("train", **dataset_kwargs(filter_paths, num_val_im=2,
                                                filter_empty_rels=False,
                                                filter_non_overlap=False))
    assert _ids(train) == [13, 14, 15]
    assert train.relationships[0].shape == (1, 3)


def test_num_im_keeps_the_first_images_of_the_final_split(filter_paths):
    train = VGDataset("train", **dataset_kwargs(filter_paths, num_val_im=1, num_im=2,
                                                filter_non_overlap=False))
    assert _ids(train) == [13, 14]


def test_non_train_splits_ignore_train_only_filters(filter_paths):
    val = VGDataset("val", **dataset_kwargs(filter_paths, num_val_im=0))
    assert not val.filter_non_overlap and not val.filter_duplicate_rels and not val.flip_aug
    assert _ids(val) == [10, 13, 14, 15]


def test_duplicate_filter_keeps_one_random_predicate_per_pair(filter_paths):
    train = VGDataset("train", **dataset_kwargs(filter_paths, num_val_im=2))
    np.random.seed(0)
    chosen = []
    for _ in range(200):
        gt = train.get_groundtruth(0, evaluation=True)
        tuples = gt.get_field("relation_tuple").tolist()
        assert len(tuples) == 1 and tuples[0][:2] == [0, 1]
        assert gt.get_field("relation")[0, 1].item() == tuples[0][2]
        chosen.append(tuples[0][2])
    share = chosen.count(1) / len(chosen)
    assert set(chosen) == {1, 3} and 0.35 < share < 0.65


def test_without_duplicate_filter_evaluation_keeps_every_relation(filter_paths):
    train = VGDataset("train", **dataset_kwargs(filter_paths, num_val_im=2,
                                                filter_duplicate_rels=False))
    gt = train.get_groundtruth(0, evaluation=True)
    assert gt.get_field("relation_tuple").tolist() == [[0, 1, 1], [0, 1, 3]]
    assert gt.get_field("relation")[0, 1].item() in (1, 3)
    assert int((gt.get_field("relation") > 0).sum()) == 1


def test_target_fields_and_relation_matrix(filter_paths):
    val = VGDataset("val", **dataset_kwargs(filter_paths, num_val_im=0))
    gt = val.get_groundtruth(3)  # id 15
    expected = torch.zeros(3, 3, dtype=torch.int64)
    expected[0, 2] = 2
    relation = gt.get_field("relation")
    assert relation[0, 1].item() in (1, 3)
    relation[0, 1] = 0
    assert torch.equal(relation, expected)
    assert gt.get_field("labels").tolist() == [1, 2, 3]
    assert gt.get_field("attributes").shape == (3, 10)
    assert "relation" in gt.triplet_extra_fields and not gt.has_field("relation_tuple")
