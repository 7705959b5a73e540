"""The inference loop with a fake model: gathering, caching, saving, and 2-process gloo runs."""

import json
import os
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from eval_fakes import FakeDataset, FakeRelationModel, FakeStatistics, gt_image, make_cfg
from torch.utils.data import DataLoader

from maskrcnn_benchmark.engine.inference import compute_predictions, inference
from maskrcnn_benchmark.structures.image_list import to_image_list

NUM_IMAGES = 10


class ImageDataset(FakeDataset):
    """FakeDataset that also yields (image, target, index); the target carries the relations."""

    def __getitem__(self, index):
        target = self.get_groundtruth(index, evaluation=True)
        target.add_field("index", torch.tensor(index))
        return torch.zeros(3, 20, 20), target, index


def make_dataset():
    # image i: 2 + i % 3 boxes, relation (0, 1, 1 + i % 5); image 9 has no relation at all
    images = []
    for i in range(NUM_IMAGES):
        n = 2 + i % 3
        boxes = [[10 * j, 10 * j, 10 * j + 8, 10 * j + 8] for j in range(n)]
        relations = [[0, 1, 1 + i % 5]] if i < NUM_IMAGES - 1 else torch.zeros(0, 3)
        images.append(gt_image(boxes, [1 + j % 5 for j in range(n)], relations, 64, 64))
    return ImageDataset(images)


def collate(batch):
    images, targets, indices = zip(*batch)
    return to_image_list(list(images)), list(targets), list(indices)


def loader(dataset, indices, batch_size=2):
    return DataLoader(dataset, batch_size=batch_size, sampler=indices, collate_fn=collate)


def test_single_process_inference_evaluates_saves_and_restores_train_mode(tmp_path):
    dataset, model, cfg = make_dataset(), FakeRelationModel(), make_cfg(tmp_path)
    model.train()
    folder = str(tmp_path / "inference" / "fake_test")
    result = inference(cfg, model, loader(dataset, list(range(NUM_IMAGES))), "fake_test",
                       output_folder=folder, statistics=FakeStatistics({}))
    assert model.training and model.calls == 5
    # every relation is recalled; predicates 1..5 each occur (in 9 images): mR = 1
    assert result.metrics["R"] == {"20": 1.0, "50": 1.0, "100": 1.0}
    assert result.score == 1.0 and result.metrics["validation"]["metric"] == "mR@50"
    assert result.metrics["num_images_with_relations"] == NUM_IMAGES - 1
    assert sorted(os.listdir(folder)) == ["eval_results.json", "per_predicate_recall.png",
                                          "predictions.pth", "visualization.pth"]
    assert json.loads(open(os.path.join(folder, "eval_results.json")).read())["R"]["100"] == 1.0


def test_cached_predictions_are_reused_only_when_asked(tmp_path):
    dataset, model, cfg = make_dataset(), FakeRelationModel(), make_cfg(tmp_path)
    folder = str(tmp_path / "out")
    data = loader(dataset, list(range(NUM_IMAGES)))
    first = inference(cfg, model, data, "fake_test", output_folder=folder)
    inference(cfg, model, data, "fake_test", output_folder=folder)
    assert model.calls == 10  # an existing predictions.pth is ignored by default
    cfg.TEST.ALLOW_LOAD_FROM_CACHE = True
    cached = inference(cfg, model, data, "fake_test", output_folder=folder)
    assert model.calls == 10 and cached.metrics["R"] == first.metrics["R"]
    with pytest.raises(ValueError, match="not 'other_split'"):
        inference(cfg, model, data, "other_split", output_folder=folder)


def test_validation_run_saves_nothing_and_gathers_per_batch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = make_cfg(tmp_path)
    cfg.TEST.RELATION.SYNC_GATHER = True
    result = inference(cfg, FakeRelationModel(), loader(make_dataset(), list(range(NUM_IMAGES))),
                       "fake_val")
    assert result.metrics["R"]["20"] == 1.0 and os.listdir(tmp_path) == []


def test_missing_images_are_an_error_naming_them():
    with pytest.raises(RuntimeError, match="2 of 10 images missing"):
        compute_predictions(FakeRelationModel(), loader(make_dataset(), list(range(8))),
                            progress=False)


def _distributed_worker(rank, init_file, result_dir):
    torch.set_num_threads(1)  # as DataLoader workers: a forked child must not reuse OpenMP threads
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        for sync_gather in (False, True):
            _distributed_run(rank, sync_gather, result_dir)
    finally:
        dist.destroy_process_group()


def _distributed_run(rank, sync_gather, result_dir):
    # rank 0 holds 7 images (4 batches), rank 1 holds 3 plus a padded repeat of image 0
    shard = list(range(7)) if rank == 0 else [7, 8, 9, 0]
    dataset = make_dataset()
    predictions = compute_predictions(FakeRelationModel(), loader(dataset, shard),
                                      sync_gather=sync_gather, progress=False)
    cfg = make_cfg()
    cfg.TEST.RELATION.SYNC_GATHER = sync_gather
    result = inference(cfg, FakeRelationModel(), loader(dataset, shard), "fake_test",
                       statistics=FakeStatistics({}))
    summary = {"score": result.score, "num_images": result.metrics["num_images"],
               "indices": None if predictions is None else
               [int(p.get_field("index")) for p in predictions]}
    with open(os.path.join(result_dir, f"rank{rank}_sync{int(sync_gather)}.json"), "w") as f:
        json.dump(summary, f)


def test_two_gloo_ranks_with_different_image_counts(tmp_path):
    # fork: the children inherit the imported modules (spawn would re-import torch twice)
    context = mp.start_processes(
        _distributed_worker, args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=2, join=False, start_method="fork",
    )
    deadline = time.monotonic() + 120
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("distributed inference did not finish: deadlock")
    for sync_gather in (0, 1):
        rank0 = json.loads((tmp_path / f"rank0_sync{sync_gather}.json").read_text())
        rank1 = json.loads((tmp_path / f"rank1_sync{sync_gather}.json").read_text())
        assert rank0["indices"] == list(range(NUM_IMAGES)) and rank1["indices"] is None
        assert rank0["score"] == rank1["score"] == 1.0
        assert rank0["num_images"] == rank1["num_images"] == NUM_IMAGES


def test_configuration_errors_surface_before_the_model_runs(tmp_path):
    model, cfg = FakeRelationModel(), make_cfg(tmp_path)
    cfg.TEST.RELATION.FEW_SHOT_DIR = str(tmp_path)
    cfg.TEST.RELATION.FEW_SHOT_EXACT_KS = (5,)
    with pytest.raises(FileNotFoundError, match="vg-5-shot-triplets.pytorch"):
        inference(cfg, model, loader(make_dataset(), list(range(NUM_IMAGES))), "fake_test")
    cfg.TEST.RELATION.FEW_SHOT_EXACT_KS = ()
    cfg.SOLVER.VAL_METRIC = "mR@30"
    with pytest.raises(ValueError, match="K=30 is not in TEST.RELATION.RECALL_KS"):
        inference(cfg, model, loader(make_dataset(), list(range(NUM_IMAGES))), "fake_test")
    assert model.calls == 0
