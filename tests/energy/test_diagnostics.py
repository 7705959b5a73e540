"""Energy diagnostics: graph statistics, the shortcut probe, the ranking test (with hand-built
energies), rule-breaking changes on the synthetic benchmark, and the tool end to end."""

import json
import math
import runpy
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from energy_testing import NUM_OBJ, make_head_output, make_model
from energy_testing import NUM_REL as MODEL_NUM_REL

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.datasets.vg_format import DICTS_NAME
from maskrcnn_benchmark.modeling.energy import build_gt_graph
from maskrcnn_benchmark.modeling.energy.diagnostics import (
    GRAPH_FEATURES,
    LINK_KINDS,
    PredicateGraph,
    SceneRules,
    Variant,
    contrast_test,
    graph_statistics,
    link_changes,
    random_changes,
    ranking_test,
    rule_breaking_changes,
    select_graph,
    shortcut_probe,
    spearman,
)
from maskrcnn_benchmark.modeling.energy.diagnostics.collect import template_energy
from maskrcnn_benchmark.structures.scene_graph import SceneGraph

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "quickstart" / "motifs_predcls.yaml"
NUM_REL = 6


def _graph(edge_counts, states=None):
    """Images with the given edge counts (chains over 12 nodes) and one-hot random predicates."""
    pairs = [torch.stack([torch.arange(n), torch.arange(1, n + 1)], 1) for n in edge_counts]
    if states is None:
        states = [F.one_hot(torch.randint(1, NUM_REL, (n,)), NUM_REL).float()
                  for n in edge_counts]
    return SceneGraph.from_images(
        node_states=[torch.zeros(12, 3) for _ in edge_counts], edge_states=states,
        pair_idxs=pairs, node_positions=[torch.zeros(12, 9) for _ in edge_counts])


def test_graph_statistics_values():
    rows = [torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0, 0.0, 0.0]]),
            torch.zeros(0, NUM_REL), torch.tensor([[0.25, 0.25, 0.25, 0.25, 1.0, 0.0]])]
    stats = graph_statistics(_graph([2, 0, 1], rows))
    assert stats.shape == (3, len(GRAPH_FEATURES))
    # image 0: rows (one-hot, half background); image 1: no edge; image 2: one flat-ish row
    assert torch.allclose(stats[0], torch.tensor(
        [2.0, 1.0, 0.75, math.log(2) / 2, 0.25], dtype=torch.float64))
    assert torch.equal(stats[1], torch.zeros(5, dtype=torch.float64))
    p = torch.tensor([0.125, 0.125, 0.125, 0.125, 0.5], dtype=torch.float64)
    assert torch.allclose(stats[2], torch.tensor(
        [1.0, 2.0, 1.0, float(-(p * p.log()).sum()), 0.125], dtype=torch.float64))
    one = select_graph(_graph([2, 0, 1], rows), 2)
    assert one.num_graphs == 1 and torch.equal(one.edge_index, torch.tensor([[0, 1]]))
    assert torch.equal(one.edge_states, rows[2])


def test_probe_finds_a_pure_edge_count_difference():
    torch.manual_seed(1)
    positive = graph_statistics(_graph(torch.randint(2, 6, (100,)).tolist()))
    negative = graph_statistics(_graph(torch.randint(7, 11, (100,)).tolist()))
    # only the edge count differs: the row statistics of one-hot rows are identical
    assert torch.equal(positive[:, 1:].unique(dim=0), negative[:, 1:].unique(dim=0))
    result = shortcut_probe(positive, negative)
    assert result.accuracy == 1.0 and result.num_test == 60 and result.num_train == 140
    assert abs(result.weights[0]) == max(abs(w) for w in result.weights)
    # one feature at a time: the edge count alone separates, the (identical) row features not
    assert result.single_feature_accuracy == {"edge_count": 1.0, "row_l1": 0.5, "row_max": 0.5,
                                              "row_entropy": 0.5, "background_mass": 0.5}


def test_probe_is_at_chance_on_identical_sets():
    torch.manual_seed(2)
    features = graph_statistics(_graph(torch.randint(2, 11, (300,)).tolist()))
    # identical sets, paired split: every test G+ has its twin G- on the same side
    assert shortcut_probe(features, features.clone()).accuracy == 0.5
    # two independent draws from one distribution: within 3 binomial std of 50%
    other = graph_statistics(_graph(torch.randint(2, 11, (300,)).tolist()))
    result = shortcut_probe(features, other)
    assert result.num_test == 180
    assert result.chance_std == pytest.approx(math.sqrt(0.25 / 180))
    assert abs(result.accuracy - 0.5) <= 3 * result.chance_std


def test_probe_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        shortcut_probe(torch.zeros(1, 5), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="NaN"):
        shortcut_probe(torch.full((3, 5), float("nan")), torch.zeros(3, 5))


def test_contrast_test_compares_two_kinds_of_one_image_and_k_by_hand():
    graph = PredicateGraph(0, torch.tensor([1, 2]), torch.zeros(2, 4),
                           torch.tensor([[0, 1], [1, 0]]), torch.tensor([0, 0]))
    other = PredicateGraph(1, torch.tensor([1, 2]), torch.zeros(2, 4),
                           torch.tensor([[0, 1], [1, 0]]), torch.tensor([0, 0]))

    def energy(graph, rows):  # the sum of the predicate ids
        return rows.sum(dim=1).double()

    variants = [[Variant("a", 1, torch.tensor([3, 0])), Variant("a", 1, torch.tensor([0, 1])),
                 Variant("b", 1, torch.tensor([2, 0])), Variant("b", 1, torch.tensor([0, 1])),
                 Variant("a", 2, torch.tensor([3, 3]))],   # k = 2 has no "b": left out
                [Variant("b", 1, torch.tensor([5, 0]))]]  # no "a" at all: left out
    result = contrast_test(energy, [graph, other], variants, "a", "b")
    # 3 > 2, 3 > 1, 1 < 2, 1 = 1 (half): 2.5 of 4
    assert result.accuracy == {1: 0.625} and result.pairs == {1: 4}
    assert result.overall == 0.625 and result.images == 1
    assert contrast_test(energy, [graph], variants[:1], "b", "a").accuracy == {1: 0.375}


def test_spearman_with_ties():
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(1.5 / math.sqrt(3))
    assert spearman([5, 5, 5], [1, 2, 3]) is None


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    generate_dataset(str(root / "synthetic_vg_tiny"), "tiny", seed=0, workers=1, num_images=14)
    return root


@pytest.fixture(scope="module")
def gt_graphs(tiny_root):
    """PredicateGraphs of the tiny preset's train images (original boxes) and its rules."""
    from maskrcnn_benchmark.config import get_cfg

    cfg = get_cfg()
    cfg.DATASETS.DATA_DIR, cfg.DATASETS.NUM_VAL_IM = str(tiny_root), 2
    dicts = json.loads((tiny_root / "synthetic_vg_tiny" / DICTS_NAME).read_text())
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = len(dicts["idx_to_label"]) + 1
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = len(dicts["idx_to_predicate"]) + 1
    dataset = build_dataset(cfg, ["synthetic_vg_tiny_train"], is_train=False)[0]
    graphs = []
    for i in range(len(dataset)):
        target = dataset.get_groundtruth(i)
        relation = target.get_field("relation")
        pairs = relation.nonzero()
        graphs.append(PredicateGraph(i, target.get_field("labels"), target.bbox, pairs,
                                     relation[pairs[:, 0], pairs[:, 1]]))
    return graphs, SceneRules(dataset.ind_to_classes, dataset.ind_to_predicates)


def _variants(graphs, rules, ks=(1, 2, 3)):
    generator = torch.Generator().manual_seed(0)
    weights = torch.ones(len(rules.predicates))
    return [random_changes(g, ks, 4, weights, generator)
            + rule_breaking_changes(g, ks, 4, rules, generator) for g in graphs]


def test_rule_breaking_changes_keep_pair_rules_and_break_scene_rules(gt_graphs):
    graphs, rules = gt_graphs
    variants = _variants(graphs, rules)
    counted = {("rule", k): 0 for k in (1, 2, 3)}
    for graph, image_variants in zip(graphs, variants):
        assert rules.violations(graph, graph.predicates) == 0  # generated data keeps the rules
        for variant in image_variants:
            changed = (variant.predicates != graph.predicates).nonzero(as_tuple=True)[0]
            assert len(changed) == variant.k and (variant.predicates[changed] > 0).all()
            if variant.kind == "rule":
                counted["rule", variant.k] += 1
                assert rules.violations(graph, variant.predicates) > 0
                assert all(rules.pair_allowed(graph, int(e), int(variant.predicates[e]))
                           for e in changed)
    assert min(counted.values()) >= 5


def _all_pairs(graph):
    """The graph on every ordered pair of its objects, background (0) on the unannotated ones."""
    n = len(graph.labels)
    index = torch.arange(n)
    pairs = torch.cartesian_prod(index, index)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    predicates = torch.zeros(len(pairs), dtype=torch.long)
    for (s, o), p in zip(graph.pairs.tolist(), graph.predicates.tolist()):
        predicates[s * (n - 1) + o - (o > s)] = p
    return PredicateGraph(graph.image, graph.labels, graph.boxes, pairs, predicates)


def _added(graph, variant):
    """(changed edges, sorted new predicates) of a variant."""
    edges = (variant.predicates != graph.predicates).nonzero(as_tuple=True)[0]
    return edges.tolist(), sorted(variant.predicates[edges].tolist())


def test_link_changes_remove_required_links_and_add_forbidden_or_harmless_ones(gt_graphs):
    graphs, rules = gt_graphs
    generator = torch.Generator().manual_seed(0)
    counted = {}
    for graph in map(_all_pairs, graphs):
        assert rules.violations(graph, graph.predicates) == 0
        variants = link_changes(graph, (1, 2), 4, rules, generator)
        forbidden = [_added(graph, v) for v in variants if v.kind == "rule_addition"]
        for variant in variants:
            if variant.kind == "matched_addition":  # a forbidden copy's predicates, elsewhere
                assert _added(graph, variant)[1] in [predicates for _, predicates in forbidden]
                assert _added(graph, variant)[0] not in [edges for edges, _ in forbidden]
            counted[variant.kind, variant.k] = counted.get((variant.kind, variant.k), 0) + 1
            changed = (variant.predicates != graph.predicates).nonzero(as_tuple=True)[0]
            assert len(changed) == variant.k
            broken = rules.violations(graph, variant.predicates)
            assert (broken > 0) == (variant.kind not in ("addition", "matched_addition"))
            for edge in changed.tolist():
                alone = graph.predicates.clone()
                alone[edge] = variant.predicates[edge]
                if variant.kind == "rule_deletion":
                    # a GT relation removed, one that a rule requires on its own
                    assert graph.predicates[edge] > 0 and variant.predicates[edge] == 0
                    assert rules.violations(graph, alone) > 0
                else:
                    # a background pair given a predicate its pair rule admits
                    assert graph.predicates[edge] == 0 and variant.predicates[edge] > 0
                    assert rules.pair_allowed(graph, edge, int(variant.predicates[edge]))
                    if variant.kind != "matched_addition":
                        assert (rules.violations(graph, alone) > 0) == (
                            variant.kind == "rule_addition")
    # two forbidden additions on randomly drawn background pairs are rare; one is common
    assert min(counted.get((kind, 1), 0) for kind in LINK_KINDS) >= 5, counted
    assert counted.get(("rule_deletion", 2), 0) >= 3 and counted.get(("addition", 2), 0) >= 3


def test_random_changes_follow_the_weights():
    graph = PredicateGraph(0, torch.tensor([1, 2, 3]), torch.zeros(3, 4),
                           torch.tensor([[0, 1], [1, 2], [2, 0], [0, 2]]),
                           torch.tensor([2, 3, 0, 2]))
    weights = torch.tensor([100.0, 0.0, 1.0, 1.0, 0.0, 5.0])  # never 0 (background), 1 or 4
    generator = torch.Generator().manual_seed(0)
    variants = random_changes(graph, (1, 2, 3), 50, weights, generator)
    assert {v.k for v in variants} == {1, 2, 3}  # k=3 needs all three foreground edges
    for variant in variants:
        changed = (variant.predicates != graph.predicates).nonzero(as_tuple=True)[0]
        assert len(changed) == variant.k and int(variant.predicates[2]) == 0
        assert set(variant.predicates[changed].tolist()) <= {2, 3, 5}
    assert len({tuple(v.predicates.tolist()) for v in variants}) == len(variants)


def test_ranking_scores_hand_built_energies(gt_graphs):
    graphs, rules = gt_graphs
    variants = _variants(graphs, rules)

    def rule_count(graph, predicates):
        return torch.tensor([float(rules.violations(graph, row)) for row in predicates])

    def changed_edges(graph, predicates):
        return (predicates != graph.predicates).sum(1).double()

    def constant(graph, predicates):
        return torch.zeros(len(predicates))

    by_rules = ranking_test(rule_count, graphs, variants)
    assert set(by_rules) == {"random", "rule"}
    assert by_rules["rule"].accuracy == {1: 1.0, 2: 1.0, 3: 1.0}
    by_count = ranking_test(changed_edges, graphs, variants)
    for kind in ("random", "rule"):
        assert by_count[kind].accuracy == {1: 1.0, 2: 1.0, 3: 1.0}
        assert by_count[kind].spearman == pytest.approx(1.0)
        assert by_count[kind].spearman_within_image == pytest.approx(1.0)
    flat = ranking_test(constant, graphs, variants)
    for kind in ("random", "rule"):
        assert flat[kind].accuracy == {1: 0.5, 2: 0.5, 3: 0.5} and flat[kind].overall == 0.5
        assert flat[kind].spearman is None and flat[kind].spearman_within_image is None
        assert sum(flat[kind].pairs.values()) == sum(
            1 for vs in variants for v in vs if v.kind == kind)


def test_ranking_counts_ties_half_and_checks_the_energy():
    graph = PredicateGraph(0, torch.tensor([1, 2]), torch.zeros(2, 4), torch.tensor([[0, 1]]),
                           torch.tensor([1]))
    variants = [[Variant("random", 1, torch.tensor([2])), Variant("random", 1, torch.tensor([3])),
                 Variant("random", 1, torch.tensor([4]))]]
    energies = {1: 0.0, 2: 1.0, 3: 0.0, 4: -1.0}  # one right, one tie, one wrong

    def energy(g, predicates):
        return torch.tensor([energies[int(p)] for p in predicates[:, 0]])

    assert ranking_test(energy, [graph], variants)["random"].accuracy == {1: 0.5}
    with pytest.raises(ValueError, match="non-finite"):
        ranking_test(lambda g, p: torch.full((len(p),), float("nan")), [graph], variants)


def test_scene_rules_only_for_synthetic_names():
    assert SceneRules.for_dataset(["__background__", "car"], ["__background__", "flies"]) is None
    with pytest.raises(ValueError, match="synthetic benchmark"):
        SceneRules(["__background__", "giraffe"], ["__background__", "on"])


def _run_tool(monkeypatch, tool, *argv):
    monkeypatch.setattr(sys, "argv", [tool, *argv])
    runpy.run_path(str(REPO / "tools" / tool), run_name="__main__")


def _common(root: Path, out: Path) -> list[str]:
    return [
        "--config-file", str(CONFIG), "DATASETS.DATA_DIR", str(root),
        "DATASETS.TRAIN", "('synthetic_vg_tiny_train',)", "DATASETS.VAL",
        "('synthetic_vg_tiny_val',)", "DATASETS.TEST", "('synthetic_vg_tiny_test',)",
        "DATASETS.NUM_VAL_IM", "2", "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN",
        "128", "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "128",
        "MODEL.PRETRAINED_DETECTOR_CKPT", "", "GLOVE_DIR", "",
        "MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM", "32", "MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM",
        "64", "MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM", "64", "SOLVER.IMS_PER_BATCH", "4",
        "TEST.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "2", "SOLVER.LOG_PERIOD", "1",
        "SOLVER.VAL_PERIOD", "0", "DATALOADER.ASPECT_RATIO_GROUPING", "False",
        "SAMPLER.ITERS", "2", "MODEL.ENERGY_ON", "True", "OUTPUT_DIR", str(out),
    ]


def test_training_logs_the_gradient_numbers_and_the_tool_runs_end_to_end(
        tiny_root, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ebm"
    _run_tool(monkeypatch, "relation_train_net.py", *_common(tiny_root, out),
              "SOLVER.MAX_ITER", "2", "MODEL.ROI_RELATION_HEAD.EBM.GRAD_RATIO_PERIOD", "1",
              "--skip-test")
    log = (out / "log.txt").read_text()
    assert "energy/grad_factor: " in log and "energy/grad_ratio: " in log
    before = (out / "config.yaml").read_text()
    report_path = tmp_path / "diag.json"
    _run_tool(monkeypatch, "energy_diagnostics.py", *_common(tiny_root, out), "--images", "6",
              "--out", str(report_path))
    report = json.loads(report_path.read_text())
    assert (out / "config.yaml").read_text() == before  # the training folder is untouched
    probe = report["probe"]
    assert probe["split"] == "val" and probe["num_train"] + probe["num_test"] == 2 * 2
    assert 0.0 <= probe["accuracy"] <= 1.0  # NUM_VAL_IM 2: one G+ and one G- per image
    energies = report["energies"]
    # Eq. 2 (T = 1) + mean Eq. 4, lambda_e = lambda_r = 1: factor = -1 + 2 mean(E-)
    assert energies["grad_factor"] == pytest.approx(-1 + 2 * energies["negative_mean"],
                                                    abs=1e-5)
    assert energies["closed_form_optimum"] == {"positive": -0.5, "negative": 0.5}
    ranking = report["ranking"]
    assert ranking["rules"] is True and set(ranking["kinds"]) == {"random", "rule"}
    for kind in ranking["kinds"].values():
        assert all(0.0 <= acc <= 1.0 for acc in kind["accuracy"].values())
        assert kind["images"] >= 1
    # without scene rules only random changes are made, and the log says so
    from maskrcnn_benchmark.modeling.energy.diagnostics import rule_changes

    monkeypatch.setattr(rule_changes.SceneRules, "for_dataset",
                        classmethod(lambda cls, classes, predicates: None))
    capsys.readouterr()
    _run_tool(monkeypatch, "energy_diagnostics.py", *_common(tiny_root, out), "--images", "2",
              "--out", str(report_path))
    assert set(json.loads(report_path.read_text())["ranking"]["kinds"]) == {"random"}
    printed = capsys.readouterr().out  # the package logger writes to stdout
    assert "the ranking test runs only the random variant" in printed
    assert "random (train frequency)" in printed and "rule-breaking" not in printed


def test_tool_refuses_a_model_without_energy(tiny_root, tmp_path, monkeypatch):
    args = _common(tiny_root, tmp_path / "none")
    args[args.index("MODEL.ENERGY_ON") + 1] = "False"
    with pytest.raises(SystemExit, match="MODEL.ENERGY_ON True"):
        _run_tool(monkeypatch, "energy_diagnostics.py", *args)
    with pytest.raises(SystemExit, match="No weights"):
        _run_tool(monkeypatch, "energy_diagnostics.py", *_common(tiny_root, tmp_path / "none"))


def test_template_energy_scores_the_graph_with_the_given_predicates():
    model = make_model()
    output, targets = make_head_output([3, 4])
    batch = build_gt_graph(targets, output.roi_features.detach(), num_obj_classes=NUM_OBJ,
                           num_rel_classes=MODEL_NUM_REL, noise_std=0.0)
    templates = [select_graph(batch, b) for b in range(2)]
    graph = PredicateGraph(1, templates[1].node_states.argmax(1), torch.zeros(4, 4),
                           templates[1].edge_index, templates[1].edge_states.argmax(1))
    changed = graph.predicates.clone()
    changed[0] = 1 if int(changed[0]) != 1 else 2
    energies = template_energy(model, templates)(graph, torch.stack([graph.predicates, changed]))
    with torch.no_grad():
        expected_gt = model(batch)[1]
        expected_changed = model(templates[1].with_states(
            edge_states=F.one_hot(changed, MODEL_NUM_REL).float()))[0]
    assert energies.shape == (2,)
    assert float(energies[0]) == pytest.approx(float(expected_gt), rel=1e-5)
    assert float(energies[1]) == pytest.approx(float(expected_changed), rel=1e-5)
    assert float(energies[0]) != pytest.approx(float(energies[1]), rel=1e-4)


def test_recording_the_training_graphs_leaves_the_model_as_it_was(tiny_root, monkeypatch):
    from maskrcnn_benchmark.data.statistics import get_dataset_statistics
    from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
    from maskrcnn_benchmark.modeling.energy.diagnostics.collect import record_training_graphs
    from tests.energy.test_energy_training_all_heads import _energy_cfg
    from tests.modeling.test_relation_synthetic import _batch

    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _energy_cfg(tiny_root, "MotifPredictor", "sgcls")
    cfg.DATASETS.NUM_VAL_IM = 2
    model = build_detection_model(cfg, get_dataset_statistics(cfg)).eval()
    objective = model.energy_objective
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert any("running_mean" in k for k in before)  # a training forward would move these
    images, targets = _batch(cfg)
    batch = record_training_graphs(model, objective, images, targets, [0, 1, 2, 3])
    assert not model.training and model.energy_objective is objective
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    graphs = batch.graphs
    assert graphs.positive.num_graphs == graphs.sampled.num_graphs == len(targets)
    # G+ = the GT relations; G- = the head's sampled training pairs (background pairs too)
    assert graphs.positive.num_edges == sum(int((t.get_field("relation") > 0).sum())
                                            for t in targets)
    assert graphs.sampled.num_edges > graphs.positive.num_edges
    assert all(p.grad is None for p in model.parameters())



class _ObjectiveStub:
    """The attributes of EnergyObjective that the closed form reads."""

    def __init__(self, energy_loss, loss_weight, l2_weight, l2_reduction):
        self.energy_loss, self.loss_weight = energy_loss, loss_weight
        self.l2_weight, self.l2_reduction = l2_weight, l2_reduction


def _minimise_eq2_eq4(reduction: str, images: int = 4) -> torch.Tensor:
    """E- minimising 0.7 x 2 (mean E+ - mean E-) + 0.3 Eq. 4 (mean or sum), numerically."""
    energies = torch.zeros(2, images, requires_grad=True)
    optimiser = torch.optim.LBFGS([energies], max_iter=200)

    def closure():
        optimiser.zero_grad()
        positive, negative = energies
        squares = positive.pow(2) + negative.pow(2)
        l2 = squares.mean() if reduction == "mean" else squares.sum()
        loss = 0.7 * 2.0 * (positive.mean() - negative.mean()) + 0.3 * l2
        loss.backward()
        return loss

    optimiser.step(closure)
    return energies[1].detach()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_closed_form_optimum_follows_the_l2_reduction(reduction):
    from maskrcnn_benchmark.modeling.energy.diagnostics.report import _closed_form
    from maskrcnn_benchmark.modeling.energy.losses import ContrastiveDivergence

    objective = _ObjectiveStub(ContrastiveDivergence(temperature=2.0), 0.7, 0.3, reduction)
    optimum = _closed_form(objective, images_per_batch=4)
    numeric = _minimise_eq2_eq4(reduction)
    assert numeric == pytest.approx(torch.full((4,), optimum["negative"]), abs=1e-4)
    assert optimum["positive"] == -optimum["negative"]
    assert optimum["negative"] == pytest.approx(7 / 3 if reduction == "mean" else 7 / 12)
