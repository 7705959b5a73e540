"""Preprocessing: saved predictions (SGB's rule) and annotations joined with caption graphs."""

import json
import os

import pytest
import torch
from retrieval_data import TEST, tiny_cfg

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.datasets.capgraphs import read_capgraphs
from maskrcnn_benchmark.engine.inference import inference_output_folder
from maskrcnn_benchmark.evaluation import save_predictions
from maskrcnn_benchmark.image_retrieval.preprocess import preprocess_split
from maskrcnn_benchmark.image_retrieval.retrieval_file import read_retrieval_file
from maskrcnn_benchmark.image_retrieval.scene_graphs import prediction_graph
from maskrcnn_benchmark.structures.bounding_box import BoxList

CLASSES = ["__background__", "man", "horse", "hat", "street"]
META = {1: "on", 2: "riding", 3: "wearing"}


def _prediction() -> BoxList:
    """Four objects (object 1 below the 0.1 threshold) and five scored pairs."""
    boxes = BoxList(torch.tensor([[0, 0, 9, 9]] * 4, dtype=torch.float32), (20, 20))
    boxes.add_field("pred_labels", torch.tensor([1, 3, 2, 4]))
    boxes.add_field("pred_scores", torch.tensor([0.9, 0.05, 0.5, 0.3]))
    boxes.add_field("rel_pair_idxs", torch.tensor([[2, 3], [0, 2], [2, 0], [0, 1], [3, 0]]))
    #                                      bg    on    riding wearing
    boxes.add_field("pred_rel_scores", torch.tensor([[0.05, 0.9, 0.03, 0.02],   # 2-3 on
                                                     [0.2, 0.1, 0.6, 0.1],     # 0-2 riding
                                                     [0.7, 0.1, 0.1, 0.1],     # 2-0 background
                                                     [0.1, 0.0, 0.0, 0.9],     # 0-1 dropped
                                                     [0.3, 0.4, 0.2, 0.1]]))   # 3-0 on
    boxes.add_field("pred_rel_labels", torch.tensor([1, 2, 1, 3, 1]))
    return boxes


def test_prediction_graph_follows_sgbs_rule():
    graph = prediction_graph(_prediction(), CLASSES, META, obj_threshold=0.1)
    assert graph.entities == ["man", "horse", "street"]  # objects 0, 2, 3 (1 is below 0.1)
    # triplet scores: 0-2 riding .9*.5*.6=.27, 2-3 on .5*.3*.9=.135, 3-0 on .3*.9*.4=.108;
    # 2-0's most probable column is background, 0-1 has a dropped object
    assert graph.relations == [(0, 1, "riding"), (1, 2, "on"), (2, 0, "on")]
    top = prediction_graph(_prediction(), CLASSES, META, obj_threshold=0.1, top_k=2)
    assert top.relations == [(0, 1, "riding"), (1, 2, "on")]
    lower = prediction_graph(_prediction(), CLASSES, META, obj_threshold=0.01)
    assert lower.entities == ["man", "hat", "horse", "street"]
    assert (0, 1, "wearing") in lower.relations


def test_prediction_graph_errors_name_the_problem():
    with pytest.raises(KeyError, match="idx_to_meta_predicate"):
        prediction_graph(_prediction(), CLASSES, {1: "on"}, obj_threshold=0.1)
    detections = _prediction()
    detections.extra_fields.pop("pred_rel_scores")  # a detector's output, not a relation model's
    with pytest.raises(KeyError, match="pred_rel_scores"):
        prediction_graph(detections, CLASSES, META)


def test_ground_truth_graphs_and_captions(tiny, tmp_path):
    cfg = tiny_cfg(tiny, tmp_path / "run")
    data = preprocess_split(cfg, "test", "ground_truth", str(tmp_path / "gt.json"))
    dataset = build_dataset(cfg, [TEST], is_train=False)[0]
    captions = read_capgraphs(os.path.join(tiny, "synthetic_vg_tiny", "vg_capgraphs_anno.json"))
    assert len(data.items) == len(dataset)
    for index, item in enumerate(data.items):
        gt = dataset.get_groundtruth(index, evaluation=True)
        names = [dataset.ind_to_classes[c] for c in gt.get_field("labels").tolist()]
        assert item.image_id == dataset.get_img_info(index)["image_id"]
        assert item.image_graph.entities == names
        assert item.image_graph.relations == [
            (s, o, dataset.ind_to_predicates[p])
            for s, o, p in gt.get_field("relation_tuple").tolist()]
        assert item.captions == captions.graphs[str(item.image_id)]
    back = read_retrieval_file(str(tmp_path / "gt.json"))
    assert back.items == data.items and back.vocabulary == data.vocabulary
    assert back.vocabulary.text_entities == tuple(sorted(captions.categories))


def test_saved_predictions_become_the_image_graphs(tiny, tmp_path):
    cfg = tiny_cfg(tiny, tmp_path / "run")
    dataset = build_dataset(cfg, [TEST], is_train=False)[0]
    predictions, expected = [], []
    for index in range(len(dataset)):
        gt = dataset.get_groundtruth(index, evaluation=True)
        n, rels = len(gt), gt.get_field("relation_tuple")
        pairs = torch.tensor([(s, o) for s in range(n) for o in range(n) if s != o])
        scores = torch.zeros(len(pairs), len(dataset.ind_to_predicates))
        scores[:, 0] = 1.0  # background unless annotated
        for s, o, p in rels.tolist():
            row = s * (n - 1) + o - (o > s)
            scores[row] = 0.0
            scores[row, p] = 0.8
        prediction = BoxList(gt.bbox, gt.size)
        prediction.add_field("pred_labels", gt.get_field("labels"))
        prediction.add_field("pred_scores", torch.ones(n))
        prediction.add_field("rel_pair_idxs", pairs)
        prediction.add_field("pred_rel_scores", scores)
        prediction.add_field("pred_rel_labels", scores[:, 1:].argmax(1) + 1)
        predictions.append(prediction)
        expected.append({(s, o, dataset.ind_to_predicates[p]) for s, o, p in rels.tolist()})
    folder = inference_output_folder(cfg, TEST)
    save_predictions(os.path.join(folder, "predictions.pth"), predictions, TEST)
    data = preprocess_split(cfg, "test", "predictions", str(tmp_path / "pred.json"))
    assert [set(it.image_graph.relations) for it in data.items] == expected
    assert data.info["predictions_files"] == [os.path.join(folder, "predictions.pth")]


def test_preprocess_errors(tiny, tmp_path):
    cfg = tiny_cfg(tiny, tmp_path / "empty_run")
    with pytest.raises(FileNotFoundError, match="relation_test_net.py"):
        preprocess_split(cfg, "test", "predictions", str(tmp_path / "x.json"))
    stale = json.loads(open(os.path.join(tiny, "synthetic_vg_tiny",
                                         "vg_capgraphs_anno.json")).read())
    stale["synthetic"]["dataset_seed"] = 5
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(stale))
    cfg = tiny_cfg(tiny, tmp_path / "run", "RETRIEVAL.CAPTIONS_FILE", str(path))
    with pytest.raises(ValueError, match="seed 5"):
        preprocess_split(cfg, "test", "ground_truth", str(tmp_path / "x.json"))
    # captions of an extension (same seed and size, from image 64) are another data set's
    stale["synthetic"].update(dataset_seed=0, first_image=64)
    path.write_text(json.dumps(stale))
    with pytest.raises(ValueError, match="with seed 0 and 64 images from image 64, but .* has "
                                         "seed 0 and 64 images: write the captions again"):
        preprocess_split(cfg, "test", "ground_truth", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_sgb_caption_file_with_coco_ids(tiny, tmp_path):
    """A VG-style file: caption ids are COCO ids, some images have no captions, the image-side
    predicate words are SGB's meta predicates, unknown caption words are 'none'."""
    cfg = tiny_cfg(tiny, tmp_path / "run")
    dataset = build_dataset(cfg, [TEST], is_train=False)[0]
    image_ids = [int(dataset.get_img_info(i)["image_id"]) for i in range(len(dataset))]
    valid = image_ids[::2]
    graph = {"entities": ["man", "none"], "relations": [[0, 1, "near"]]}
    raw = {"vg_valids": [int(i in valid) for i in image_ids],
           "vg_coco_ids": [9000 + i for i in image_ids], "vg_image_ids": image_ids,
           "idx_to_meta_predicate": {str(i): f"meta {name}"
                                     for i, name in enumerate(dataset.ind_to_predicates) if i},
           "cap_category": {"man": len(valid), "none": len(valid)},
           "cap_predicate": {"near": len(valid)},
           "vg_coco_id_to_capgraphs": {str(9000 + i): [graph] for i in image_ids},
           "vg_coco_id_to_caps": {str(9000 + i): ["a man near a thing"] for i in image_ids}}
    path = tmp_path / "vg_capgraphs_anno.json"
    path.write_text(json.dumps(raw))
    cfg = tiny_cfg(tiny, tmp_path / "run", "RETRIEVAL.CAPTIONS_FILE", str(path))
    data = preprocess_split(cfg, "test", "ground_truth", str(tmp_path / "vg.json"))
    assert [it.image_id for it in data.items] == valid  # invalid images are left out
    assert [it.key for it in data.items] == [str(9000 + i) for i in valid]
    assert all(p.startswith("meta ") for it in data.items for _, _, p in it.image_graph.relations)
    assert data.vocabulary.text_entities == ("man", "none")
    assert data.vocabulary.image_predicates == tuple(sorted(
        f"meta {name}" for name in dataset.ind_to_predicates[1:]))
