"""Energy pretraining on GT graphs (tools/energy_pretrain_net.py) and loading its weights into
relation training through ENERGY_MODEL.WEIGHT, on the synthetic `tiny` preset."""

import json
import logging
import runpy
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.defaults import build_trainer
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.energy import (
    HardNegativeSampler,
    Margin,
    batch_graphs,
    build_energy_model,
    gt_graph_from_target,
    load_gt_graphs,
    load_pretrained_energy_model,
    pretrain_energy_model,
)
from maskrcnn_benchmark.modeling.energy.diagnostics import LINK_KINDS
from maskrcnn_benchmark.modeling.energy.pretrain import (
    build_ranking_set,
    evaluate_ranking,
    train_one_epoch,
)
from maskrcnn_benchmark.modeling.energy.pretrain_run import rank_energy_model
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import encode_box_info

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "quickstart" / "motifs_predcls.yaml"
NUM_OBJ, NUM_REL = 35, 22  # the synthetic benchmark's classes (with background)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    generate_dataset(str(root / "synthetic_vg_tiny"), "tiny", seed=0, workers=1, num_images=14)
    return root


def _opts(root: Path, out: Path) -> list[str]:
    return [
        "DATASETS.DATA_DIR", str(root), "DATASETS.TRAIN", "('synthetic_vg_tiny_train',)",
        "DATASETS.VAL", "('synthetic_vg_tiny_val',)", "DATASETS.TEST",
        "('synthetic_vg_tiny_test',)", "DATASETS.NUM_VAL_IM", "2",
        "MODEL.PRETRAINED_DETECTOR_CKPT", "", "GLOVE_DIR", "",
        "MODEL.ROI_RELATION_HEAD.EBM.OBJ_LABEL_EMBED_DIM", "16",
        "MODEL.ROI_RELATION_HEAD.EBM.REL_LABEL_EMBED_DIM", "16",
        "MODEL.ROI_RELATION_HEAD.EBM.REL_EMBED_DIM", "16",
        "MODEL.ROI_RELATION_HEAD.EBM.POOLING_DIM", "16", "ENERGY_MODEL.ITERS", "2",
        "ENERGY_MODEL.USE_IMAGE_GRAPH", "False", "ENERGY_MODEL.LOSS", "Margin",
        "ENERGY_MODEL.HARD_NEGATIVES.NUM", "2", "ENERGY_MODEL.L2COEFF", "0.01",
        "ENERGY_MODEL.PRETRAIN.EPOCHS", "2", "ENERGY_MODEL.PRETRAIN.BATCH_SIZE", "2",
        "ENERGY_MODEL.PRETRAIN.LR", "0.01", "OUTPUT_DIR", str(out),
    ]


def _cfg(root: Path, out: Path, *extra: str):
    cfg = get_cfg()
    cfg.merge_from_file(str(CONFIG))
    cfg.merge_from_list(_opts(root, out) + list(extra))
    return cfg


def _pretrain_tool(monkeypatch, root: Path, out: Path) -> None:
    argv = ["energy_pretrain_net.py", "--config-file", str(CONFIG), *_opts(root, out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(REPO / "tools" / "energy_pretrain_net.py"), run_name="__main__")


@pytest.fixture(scope="module")
def pretrained(tiny_root, tmp_path_factory):
    """The tool's output folder after a 2-epoch pretraining on the tiny train split."""
    out = tmp_path_factory.mktemp("pretrain") / "run"
    log = logging.getLogger("maskrcnn_benchmark")
    state = (list(log.handlers), log.propagate, log.level)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("SGG_DATA_DIR", raising=False)
        _pretrain_tool(monkeypatch, tiny_root, out)
    for handler in log.handlers:  # the tool's setup_logger; later tests' caplog needs the old
        if handler not in state[0]:
            handler.close()
    log.handlers[:], log.propagate, log.level = state
    return out


def _target(num: int, relations: list[tuple[int, int, int]], size=(40, 30)) -> BoxList:
    boxes = torch.tensor([[i, i, i + 10.0, i + 8.0] for i in range(num)])
    target = BoxList(boxes, size)
    target.add_field("labels", torch.arange(1, num + 1))
    matrix = torch.zeros(num, num, dtype=torch.int64)
    for s, o, p in relations:
        matrix[s, o] = p
    target.add_field("relation", matrix, is_triplet=True)
    return target


def test_gt_graph_has_every_ordered_pair_with_the_dataset_predicates(tiny_root, tmp_path):
    cfg = _cfg(tiny_root, tmp_path)
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, is_train=True)[0]
    index = max(range(len(dataset)), key=lambda i: len(dataset.relationships[i]))
    target = dataset.get_groundtruth(index)
    relation = target.get_field("relation")
    graph = gt_graph_from_target(target, index)
    n = len(target)
    expected = [(s, o, int(relation[s, o])) for s in range(n) for o in range(n) if s != o]
    got = [(s, o, p) for (s, o), p in zip(graph.pairs.tolist(), graph.predicates.tolist())]
    assert got == expected and len(got) == n * (n - 1)
    assert graph.num_annotated == int((relation > 0).sum()) > 5
    assert torch.equal(graph.labels, target.get_field("labels"))
    assert torch.allclose(graph.positions, encode_box_info([target]))
    assert target.size == (dataset.get_img_info(index)["width"],
                           dataset.get_img_info(index)["height"])
    # the epoch reader gives the same graphs (no duplicate pairs in this image)
    again = load_gt_graphs(dataset, indices=[index])[0]
    assert torch.equal(again.pairs, graph.pairs) and torch.equal(again.predicates,
                                                                 graph.predicates)
    # batching: one-hot states, local pairs shifted by the nodes of the images before
    small = gt_graph_from_target(_target(3, [(0, 1, 5)]), 0)
    batch = batch_graphs([small, graph], num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                         noise_std=0.0)
    assert batch.num_graphs == 2 and batch.num_edges == 6 + n * (n - 1)
    assert torch.equal(batch.edge_states.argmax(1), torch.cat([small.predicates,
                                                               graph.predicates]))
    assert torch.equal(batch.edge_index[6:], graph.pairs + 3)
    assert torch.equal(batch.node_states.argmax(1), torch.cat([small.labels, graph.labels]))
    assert float(batch.edge_states.sum()) == batch.num_edges  # exact one-hots without noise


def test_max_pairs_keeps_every_annotated_pair():
    relations = [(0, 1, 3), (1, 0, 4), (2, 5, 1), (4, 3, 7), (5, 0, 2)]
    target = _target(6, relations)
    full = gt_graph_from_target(target, 0, max_pairs=0)
    assert len(full.pairs) == 30 and full.num_annotated == 5
    generator = torch.Generator().manual_seed(0)
    capped = gt_graph_from_target(target, 0, max_pairs=8, generator=generator)
    pairs = [tuple(p) for p in capped.pairs.tolist()]
    assert len(pairs) == 8 and len(set(pairs)) == 8 and pairs == sorted(pairs)
    assert all(s != o for s, o in pairs)
    kept = {(s, o, p) for (s, o), p in zip(pairs, capped.predicates.tolist()) if p > 0}
    assert kept == set(relations) and int((capped.predicates == 0).sum()) == 3
    tight = gt_graph_from_target(target, 0, max_pairs=3)  # fewer than the annotated pairs
    assert {(s, o, p) for (s, o), p in zip(tight.pairs.tolist(), tight.predicates.tolist())} \
        == set(relations)
    with pytest.raises(ValueError, match="MAX_PAIRS must be >= 0"):
        gt_graph_from_target(target, 0, max_pairs=-1)


def test_short_pretraining_lowers_the_loss_writes_files_and_is_deterministic(
        pretrained, tiny_root, tmp_path, monkeypatch):
    report = json.loads((pretrained / "energy_pretrain.json").read_text())
    first, second = report["epochs"]
    assert second["loss"] < first["loss"]
    assert first["graphs"] == 10 and first["steps"] == 5 and first["skipped_graphs"] == 0
    kinds = {"random", "hard_negative", "rule"}
    contrasts = {"rule_addition>addition", "rule_addition>matched_addition"}
    assert kinds <= set(first["val"]) <= kinds | set(LINK_KINDS) | contrasts
    assert set(first["val"]["random"]["accuracy"]) <= {"1", "2", "3"}
    # the tiny test split has each kind, and the two kinds of additions are also compared
    assert set(report["test"]) == kinds | set(LINK_KINDS) | contrasts
    contrast = report["test"]["rule_addition>addition"]
    assert contrast["pairs"]["1"] > 0 and 0.0 <= contrast["accuracy"]["1"] <= 1.0
    saved = torch.load(pretrained / "energy_model.pth", map_location="cpu", weights_only=True)
    assert saved["epoch"] == 2 and saved["epochs"] == 2 and saved["metrics"]["epoch"] == 2.0
    assert "USE_IMAGE_GRAPH: false" in saved["config"]
    assert any((pretrained / "tensorboard").iterdir())
    model = build_energy_model(_cfg(tiny_root, tmp_path), 0, NUM_OBJ, NUM_REL)
    assert set(saved["model"]) == set(model.state_dict())
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    _pretrain_tool(monkeypatch, tiny_root, tmp_path / "again")
    again = torch.load(tmp_path / "again" / "energy_model.pth", map_location="cpu",
                       weights_only=True)["model"]
    assert all(torch.equal(again[key], value) for key, value in saved["model"].items())
    assert any(not torch.equal(value, model.state_dict()[key])
               for key, value in saved["model"].items())


def test_rank_only_ranks_a_saved_model_on_the_pretraining_copies(pretrained, tiny_root, tmp_path,
                                                                monkeypatch):
    """--rank-only on the written weights reproduces the pretraining's own test ranking (same
    model, same copies under SEED) and leaves the pretraining folder alone."""
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    out = tmp_path / "ranked"
    argv = ["energy_pretrain_net.py", "--rank-only", "--config-file", str(CONFIG),
            *_opts(tiny_root, out), "ENERGY_MODEL.WEIGHT", str(pretrained / "energy_model.pth")]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(REPO / "tools" / "energy_pretrain_net.py"), run_name="__main__")
    ranked = json.loads((out / "energy_ranking.json").read_text())
    report = json.loads((pretrained / "energy_pretrain.json").read_text())
    assert ranked["test"] == report["test"] and ranked["epoch"] == 2
    assert not (out / "energy_model.pth").exists()
    with pytest.raises(ValueError, match="ENERGY_MODEL.WEIGHT: set it"):
        rank_energy_model(_cfg(tiny_root, tmp_path))


def test_training_ranks_gt_graphs_below_their_changed_copies(tiny_root, tmp_path):
    """A handful of train graphs against copies with 1-3 predicates changed (uniformly): after
    a short training the energy ranks every graph below most of its fixed changed copies."""
    cfg = _cfg(tiny_root, tmp_path)
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, is_train=True)[0]
    graphs = load_gt_graphs(dataset, indices=range(4))
    sampler = HardNegativeSampler(num=4, num_changes=(1, 2, 3), source="uniform",
                                  change_nodes=False, num_obj_classes=NUM_OBJ,
                                  num_rel_classes=NUM_REL)
    ranking = build_ranking_set(graphs, num_obj_classes=NUM_OBJ,
                                predicate_weights=torch.ones(NUM_REL), sampler=sampler,
                                rules=None, seed=0, count=4)
    assert sum(len(v) for v in ranking.variants) == 4 * 2 * 3 * 4  # graphs x kinds x k x count
    model = build_energy_model(cfg, 0, NUM_OBJ, NUM_REL)
    before = evaluate_ranking(model, ranking)["hard_negative"]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(20):
        stats = train_one_epoch(model, optimizer, graphs, sampler,
                                Margin(temperature=1.0, margin=1.0), batch_size=1,
                                noise_std=1e-4, loss_weight=1.0, l2_weight=0.01,
                                l2_reduction="mean")
    after = evaluate_ranking(model, ranking)["hard_negative"]
    assert before["overall"] < 0.75
    assert after["overall"] >= 0.9 and after["accuracy"]["1"] >= 0.9
    assert stats.steps == 4 and stats.graphs == 4 and stats.positive < stats.negative


def _relation_cfg(root: Path, out: Path, weight: Path, *extra: str):
    cfg = _cfg(root, out, "MODEL.ENERGY_ON", "True", "ENERGY_MODEL.WEIGHT", str(weight),
               "ENERGY_MODEL.POSITIVE_GRAPH", "matched",
               "MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM", "32",
               "MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM", "64",
               "MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM", "64",
               "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN", "128", *extra)
    return cfg


def test_weight_initialises_a_fresh_relation_run_and_a_resumed_run_keeps_its_own(
        pretrained, tiny_root, tmp_path, monkeypatch, caplog_info):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    weight = pretrained / "energy_model.pth"
    saved = torch.load(weight, map_location="cpu", weights_only=True)["model"]
    cfg = _relation_cfg(tiny_root, tmp_path / "run", weight)
    statistics = get_dataset_statistics(cfg)
    model = build_detection_model(cfg, statistics)
    _, checkpointer = build_trainer(cfg, "cpu", model, resume=True)
    state = model.energy_model.state_dict()
    assert set(state) == set(saved)
    assert all(torch.equal(state[key], value) for key, value in saved.items())
    assert f"Energy model initialised from ENERGY_MODEL.WEIGHT {weight}" in caplog_info.text
    # a checkpoint in OUTPUT_DIR: resuming keeps its energy model, not the file's
    with torch.no_grad():
        model.energy_model.energy[-1].bias.fill_(7.0)
    checkpointer.save("model_0000001", iteration=1)
    resumed = build_detection_model(cfg, statistics)
    build_trainer(cfg, "cpu", resumed, resume=True)
    assert resumed.energy_model.energy[-1].bias.item() == 7.0
    assert "ENERGY_MODEL.WEIGHT" in caplog_info.text and "is not loaded" in caplog_info.text


class _Holder(nn.Module):
    def __init__(self, energy_model: nn.Module) -> None:
        super().__init__()
        self.energy_model = energy_model


def test_a_weight_that_does_not_fit_is_one_clear_error(pretrained, tiny_root, tmp_path):
    weight = pretrained / "energy_model.pth"
    for extra, difference, section in (
            (("ENERGY_MODEL.EDGE_DIRECTIONS", "both"),
             "ENERGY_MODEL.EDGE_DIRECTIONS 'incoming' (file) vs 'both' (run)",
             "missing in the checkpoint"),
            (("MODEL.ROI_RELATION_HEAD.EBM.POOLING_DIM", "24"),
             "MODEL.ROI_RELATION_HEAD.EBM.POOLING_DIM 16 (file) vs 24 (run)", "shape mismatch")):
        cfg = _relation_cfg(tiny_root, tmp_path, weight, *extra)
        holder = _Holder(build_energy_model(cfg, 64, NUM_OBJ, NUM_REL))
        before = {k: v.clone() for k, v in holder.energy_model.state_dict().items()}
        with pytest.raises(ValueError, match=f"{weight} does not fit") as error:
            load_pretrained_energy_model(cfg, holder)
        assert difference in str(error.value) and section in str(error.value)
        assert all(torch.equal(v, before[k]) for k, v in holder.energy_model.state_dict().items())
    cfg = _relation_cfg(tiny_root, tmp_path, tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="ENERGY_MODEL.WEIGHT: file not found.*missing"):
        load_pretrained_energy_model(cfg, _Holder(build_energy_model(cfg, 64, NUM_OBJ,
                                                                     NUM_REL)))


def test_config_errors_name_the_key(tiny_root, tmp_path, caplog):
    with pytest.raises(ValueError, match="set ENERGY_MODEL.USE_IMAGE_GRAPH False"):
        pretrain_energy_model(_cfg(tiny_root, tmp_path, "ENERGY_MODEL.USE_IMAGE_GRAPH", "True"))
    with pytest.raises(ValueError, match="ENERGY_MODEL.HARD_NEGATIVES.NUM >= 1"):
        pretrain_energy_model(_cfg(tiny_root, tmp_path, "ENERGY_MODEL.HARD_NEGATIVES.NUM", "0"))
    assert not (tmp_path / "energy_model.pth").exists()
    # a model without an energy model ignores the key, with a warning
    cfg = _cfg(tiny_root, tmp_path, "ENERGY_MODEL.WEIGHT", str(tmp_path / "missing.pth"))
    caplog.set_level(logging.WARNING, logger="maskrcnn_benchmark")
    assert load_pretrained_energy_model(cfg, _Holder(None)) is False
    assert "MODEL.ENERGY_ON is False" in caplog.text
