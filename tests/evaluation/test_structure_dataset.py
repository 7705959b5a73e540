"""The generator's extras through VGDataset (get_structure_annotations) into the evaluator, and
TEST.RELATION.JOINT_DECODE runs writing their own inference folder."""

import json
import os

import numpy as np
import pytest
from eval_fakes import FakeRelationModel, FakeStatistics, make_cfg
from PIL import Image
from torch.utils.data import DataLoader

from maskrcnn_benchmark.data.collate import BatchCollator
from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
from maskrcnn_benchmark.data.datasets.synthetic.records import to_vg_record
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import (
    ATTRIBUTES,
    OBJECT_CLASSES,
    PREDICATES,
)
from maskrcnn_benchmark.data.datasets.vg_format import (
    DICTS_NAME,
    H5_NAME,
    IMAGE_DATA_NAME,
    IMAGE_DIR_NAME,
    write_vg_files,
)
from maskrcnn_benchmark.data.datasets.vg_h5 import VGFormatError
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset
from maskrcnn_benchmark.data.transforms.build import build_transforms
from maskrcnn_benchmark.engine.inference import inference, inference_output_folder
from maskrcnn_benchmark.evaluation.compare import load_eval_results
from maskrcnn_benchmark.evaluation.structure_metrics import (
    CONTEXT_RULE_NAMES,
    context_rules_of_rows,
)


def _write(out, records):
    write_vg_files(str(out), records, OBJECT_CLASSES, PREDICATES, ATTRIBUTES)
    os.makedirs(out / IMAGE_DIR_NAME, exist_ok=True)
    for r in records:
        Image.new("RGB", (r.width, r.height)).save(out / IMAGE_DIR_NAME / f"{r.image_id}.jpg")
    return out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    records = [to_vg_record(im) for im in synthesize_images(0, 24, 0.5)]
    return _write(tmp_path_factory.mktemp("syn"), records), {r.image_id: r for r in records}


def _dataset(out, split, cfg=None, **kwargs):
    transforms = None if cfg is None else build_transforms(cfg, is_train=False)
    return VGDataset(split, str(out / IMAGE_DIR_NAME), str(out / H5_NAME), str(out / DICTS_NAME),
                     str(out / IMAGE_DATA_NAME), transforms=transforms, **kwargs)


def test_accessor_returns_the_generators_lists(synthetic):
    out, records = synthetic
    ds = _dataset(out, "test")
    assert len(ds) > 3
    for i in range(len(ds)):
        record = records[ds.get_img_info(i)["image_id"]]
        ann = ds.get_structure_annotations(i)
        np.testing.assert_array_equal(ann["relations"], record.relations)
        assert ann["context"] == record.extra["context"]
        assert ann["truths"] == record.extra["truths"] and ann["kind"] == record.extra["kind"]


def test_filtered_train_ground_truth_still_aligns(synthetic):
    out, records = synthetic
    ds = _dataset(out, "train", num_val_im=0, filter_non_overlap=True,
                  filter_duplicate_rels=True)
    dropped = 0
    for i in range(len(ds)):
        record = records[ds.get_img_info(i)["image_id"]]
        ann = ds.get_structure_annotations(i)  # the full list, whatever the filters kept
        assert len(ann["relations"]) == len(record.relations)
        gt = ds.get_groundtruth(i, evaluation=True).get_field("relation_tuple").numpy()
        dropped += len(record.relations) - len(gt)
        expected = {tuple(r): name for r, name in zip(record.relations.tolist(),
                                                       record.extra["context"])}
        got = context_rules_of_rows(ann, gt, i)
        assert [CONTEXT_RULE_NAMES[g] if g >= 0 else "" for g in got] == [
            expected[tuple(r)] for r in gt.tolist()]
    assert dropped > 0  # the overlap filter did remove rows


def test_no_extras_no_annotations(tmp_path):
    records = [to_vg_record(im) for im in synthesize_images(1, 6, 0.5)]
    for r in records:
        r.extra = {}
    out = _write(tmp_path, records)
    ds = _dataset(out, "test")
    assert all(ds.get_structure_annotations(i) is None for i in range(len(ds)))


def test_inconsistent_extras_are_one_clear_error(tmp_path):
    records = [to_vg_record(im) for im in synthesize_images(2, 6, 0.5)]
    out = _write(tmp_path, records)
    path = out / IMAGE_DATA_NAME
    infos = json.loads(path.read_text())
    for info in infos:
        info["context"] = info["context"][:-1]
    path.write_text(json.dumps(infos))
    ds = _dataset(out, "train", num_val_im=0)
    with pytest.raises(VGFormatError, match="context and .* truth entries .*regenerate"):
        ds.get_structure_annotations(0)


def _loader(dataset):
    return DataLoader(dataset, batch_size=4, collate_fn=BatchCollator(32))


def test_joint_decoding_run_writes_its_own_folder_from_the_plain_predictions(synthetic, tmp_path):
    out, _ = synthetic
    cfg = make_cfg(tmp_path)
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = len(PREDICATES) + 1
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = 240, 400
    cfg.TEST.RELATION.RECALL_KS = (20, 50)
    cfg.SOLVER.VAL_METRIC = "ctx-mR@50"
    dataset = _dataset(out, "test", cfg)
    model = FakeRelationModel(num_predicates=len(PREDICATES) + 1)
    plain = inference(cfg, model, _loader(dataset), "syn_test",
                      inference_output_folder(cfg, "syn_test"), statistics=FakeStatistics({}))
    # the fake model scores every GT relation 0.9: each is recalled
    assert plain.metrics["ctxR"]["20"] == 1.0 and plain.score == 1.0
    plain_file = tmp_path / "inference" / "syn_test" / "eval_results.json"
    before = plain_file.read_bytes()

    cfg.TEST.RELATION.JOINT_DECODE = True
    cfg.TEST.ALLOW_LOAD_FROM_CACHE = True
    folder = inference_output_folder(cfg, "syn_test")
    assert folder == str(tmp_path / "inference" / "syn_test_joint_decode")
    calls = model.calls
    joint = inference(cfg, model, _loader(dataset), "syn_test", folder,
                      statistics=FakeStatistics({}))
    assert model.calls == calls  # the plain run's raw predictions were re-decoded
    assert joint.metrics["joint_decode"] is True and joint.metrics["ctxR"]["20"] == 1.0
    assert plain_file.read_bytes() == before
    assert not os.path.exists(os.path.join(folder, "predictions.pth"))
    assert load_eval_results(str(tmp_path)).get("joint_decode") is None
    assert load_eval_results(str(tmp_path), joint_decode=True)["joint_decode"] is True
    assert load_eval_results(str(tmp_path), "syn_test", joint_decode=True)["joint_decode"]


def test_joint_decoding_on_other_data_fails_before_the_model_runs(tmp_path):
    records = [to_vg_record(im) for im in synthesize_images(1, 6, 0.5)]
    names = [f"thing{i}" for i in range(len(OBJECT_CLASSES))]
    write_vg_files(str(tmp_path), records, names, PREDICATES, ATTRIBUTES)
    os.makedirs(tmp_path / IMAGE_DIR_NAME)
    cfg = make_cfg(tmp_path)
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = len(PREDICATES) + 1
    cfg.TEST.RELATION.JOINT_DECODE = True
    model = FakeRelationModel(num_predicates=len(PREDICATES) + 1)
    dataset = _dataset(tmp_path, "test", cfg)
    with pytest.raises(ValueError, match="JOINT_DECODE needs the synthetic benchmark's scene "
                                         "rules.*'thing0'"):
        inference(cfg, model, _loader(dataset), "other_test", str(tmp_path / "out"))
    assert model.calls == 0
