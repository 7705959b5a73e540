"""Energy-guided decoding: lowers a hand-built violation energy, trades it against log p, swaps
logits, is the identity at WEIGHT 0, and runs through the model and the test loop."""

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, FakeHeadOutput, random_boxes
from torch import nn

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.relation import test_relation_model as run_relation_test
from maskrcnn_benchmark.evaluation.outputs import load_predictions
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from maskrcnn_benchmark.modeling.energy import EnergyDecoder, build_energy_decoder
from maskrcnn_benchmark.modeling.energy.energy_decode import swap_to_labels
from maskrcnn_benchmark.modeling.energy.graph_copies import replicate_images
from maskrcnn_benchmark.modeling.energy.message_passing import scatter_sum
from maskrcnn_benchmark.modeling.roi_heads.relation_head.inference import RelationPostProcessor
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SceneGraph, SGGTask
from tests.modeling.relation_data.synthetic import TASK_FLAGS
from tests.modeling.test_relation_synthetic import DATASET, _batch, _cfg


class OneLabelOutPerNode(nn.Module):
    """E = sum over nodes of relu(#outgoing edges with label 1 - 1) - reward * #edges labelled 1,
    called like GraphEnergyModel (``use_image_graph`` False, ``image_embedding`` -> None)."""

    use_image_graph = False

    def __init__(self, reward: float = 0.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.reward = reward

    def image_embedding(self, graph):
        return None

    def forward(self, graph, image_embedding=None):
        label_one = graph.edge_states[:, 1]
        per_node = torch.relu(
            scatter_sum(label_one, graph.edge_index[:, 0], graph.num_nodes) - 1.0)
        return self.scale * (scatter_sum(per_node, graph.node_batch, graph.num_graphs)
                             - self.reward * scatter_sum(label_one, graph.edge_batch,
                                                         graph.num_graphs))


PAIRS = torch.tensor([[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]])
BACKGROUND = [3.0, 0.0, 0.0, 0.0]  # a confident "no relation"


def _output(rows_per_image):
    """A PredCls head output: 3 boxes per image, all 6 pairs, the given first relation rows."""
    proposals, logits = [], []
    for rows in rows_per_image:
        boxes = random_boxes(3)
        proposal = BoxList(boxes.bbox, boxes.size)
        proposal.add_field("labels", torch.tensor([1, 2, 3]))
        proposals.append(proposal)
        logits.append(torch.tensor(rows + [BACKGROUND] * (6 - len(rows))))
    return FakeHeadOutput(
        proposals=proposals, rel_pair_idxs=[PAIRS.clone() for _ in rows_per_image],
        relation_logits=logits,
        refine_logits=[torch.full((3, NUM_OBJ), -5.0) for _ in rows_per_image],
        roi_features=torch.randn(3 * len(rows_per_image), 4))


def _decoder(weight=1.0, rounds=10, top=3, candidates=8, filler_top_k=0, rescore=False,
             demote_only=False, center=False, center_by="image"):
    return EnergyDecoder(task=SGGTask.PREDCLS, num_obj_classes=NUM_OBJ, weight=weight,
                         rounds=rounds, top_predicates=top, candidates=candidates,
                         later_nms_thresh=0.3, filler_top_k=filler_top_k,
                         filler_rescore=rescore, filler_demote_only=demote_only,
                         filler_center=center, filler_center_by=center_by)


# Image 0: box 0 -> boxes 1 and 2 both argmax label 1 (one violation); label 2 is a close
# second, by 0.1 on pair (0, 1) and by 0.3 on pair (0, 2). Image 1 keeps the rule.
VIOLATING = [[0.0, 2.0, 1.9, -1.0], [0.0, 2.0, 1.7, -1.0]]
KEEPING = [[0.0, 2.0, 1.0, -1.0], BACKGROUND, BACKGROUND, [0.0, -1.0, 2.0, 0.5]]


def test_decoder_fixes_the_cheapest_violation_and_swaps_its_logits_by_hand():
    output = _output([VIOLATING, KEEPING])
    energy = OneLabelOutPerNode()
    decoded = _decoder()(energy, output)
    first = decoded.relation_logits[0]
    # pair (0, 1): the logits of labels 1 and 2 exchanged, bit for bit
    assert torch.equal(first[0], torch.tensor([0.0, 1.9, 2.0, -1.0]))
    assert torch.equal(first[1:], output.relation_logits[0][1:])
    assert torch.equal(decoded.relation_logits[1], output.relation_logits[1])
    assert decoded.refine_logits is output.refine_logits
    assert energy.scale.grad is None
    # The post-processor now reports label 2 for pair (0, 1), with the head's top probability.
    post = RelationPostProcessor(use_gt_box=True, later_nms_thresh=0.3)
    before, after = (post(o.relation_logits, [torch.randn(3, NUM_OBJ)] * 2, o.rel_pair_idxs,
                          o.proposals)[0] for o in (output, decoded))

    def label_and_score(result, pair):
        row = (result.get_field("rel_pair_idxs") == torch.tensor(pair)).all(1).nonzero()[0, 0]
        return (int(result.get_field("pred_rel_labels")[row]),
                float(result.get_field("pred_rel_scores")[row, 1:].max()))

    assert label_and_score(before, [0, 1])[0] == 1 and label_and_score(after, [0, 1])[0] == 2
    assert label_and_score(after, [0, 1])[1] == pytest.approx(label_and_score(before, [0, 1])[1])


def test_decoding_lowers_the_energy_and_respects_the_weight():
    strong = [[0.0, 2.0, 1.9, -1.0], [0.0, 2.0, 1.7, -1.0], BACKGROUND, BACKGROUND,
              BACKGROUND, BACKGROUND]
    energy = OneLabelOutPerNode()
    graph_energy = _graph_energy(energy)
    output = _output([strong])
    assert graph_energy(output) == pytest.approx(1.0)
    assert graph_energy(_decoder(weight=1.0)(energy, output)) == pytest.approx(0.0)
    # log p prefers the violation by 0.1 for the cheapest fix: a weight of 0.05 keeps it.
    assert graph_energy(_decoder(weight=0.05)(energy, output)) == pytest.approx(1.0)


def test_weight_zero_returns_the_head_logits_unchanged():
    output = _output([VIOLATING, KEEPING])
    decoded = _decoder(weight=0.0)(OneLabelOutPerNode(), output)
    for new, old in zip(decoded.relation_logits, output.relation_logits):
        assert torch.equal(new, old)


def test_rounds_bound_the_number_of_moves_and_background_decoding_lowers_the_pair():
    three = _three_out_of_box_zero()
    graph_energy = _graph_energy(OneLabelOutPerNode())
    assert graph_energy(three) == pytest.approx(2.0)
    assert graph_energy(_decoder(rounds=1)(OneLabelOutPerNode(), three)) == pytest.approx(1.0)
    decoded = _decoder(rounds=5)(OneLabelOutPerNode(), three)
    assert graph_energy(decoded) == pytest.approx(0.0)
    moved = [i for i in range(4) if not torch.equal(decoded.relation_logits[0][i],
                                                   three.relation_logits[0][i])]
    assert moved == [1, 2]  # the two pairs with the smallest log-p loss, decoded as background
    assert decoded.relation_logits[0].argmax(1).tolist() == [1, 0, 0, 0]
    fg_before = torch.softmax(three.relation_logits[0], 1)[:, 1:].max(1).values
    fg_after = torch.softmax(decoded.relation_logits[0], 1)[:, 1:].max(1).values
    assert (fg_after[moved] < fg_before[moved]).all()  # they drop in the triplet ranking
    assert torch.equal(fg_after[[0, 3]], fg_before[[0, 3]])


def _three_out_of_box_zero():
    """4 boxes; box 0 -> boxes 1, 2, 3 all argmax label 1, background second by 0.2/0.1/0.15."""
    boxes = random_boxes(4)
    proposal = BoxList(boxes.bbox, boxes.size)
    proposal.add_field("labels", torch.tensor([1, 2, 3, 4]))
    pairs = torch.tensor([[0, 1], [0, 2], [0, 3], [1, 2]])
    logits = torch.tensor([[1.8, 2.0, -1.0, -1.0], [1.9, 2.0, -1.0, -1.0],
                           [1.85, 2.0, -1.0, -1.0], BACKGROUND])
    return FakeHeadOutput(proposals=[proposal], rel_pair_idxs=[pairs], relation_logits=[logits],
                          refine_logits=[torch.zeros(4, NUM_OBJ)], roi_features=torch.randn(4, 4))


def test_exact_evaluation_rejects_a_change_the_first_order_estimate_favours():
    # Box 0 already has one label-1 edge; pair (0, 2) has label 1 as a close second. With a
    # reward of 0.5 per label-1 edge the first-order change of (0, 2) -> 1 is -0.5 (relu is flat
    # at count 1), the exact change +0.5: the decoder must not move it.
    rows = [[0.0, 2.0, -1.0, -1.0], [0.0, 1.99, 2.0, -1.0]]
    output = _output([rows])
    decoded = _decoder(weight=1.0)(OneLabelOutPerNode(reward=0.5), output)
    assert torch.equal(decoded.relation_logits[0], output.relation_logits[0])


# Fillers: pairs decoded as background that still rank (by their best foreground probability).
# Pair (0, 1) is a confident label 1; pair (0, 2) is background with label 1 ahead of label 2
# by 0.2 in its foreground logits: listed with label 1, box 0 would have two label-1 edges.
LISTED_RELATION = [[0.0, 3.0, 1.0, -1.0], [3.0, 1.0, 0.8, -1.0]]
# Two background pairs out of box 0, both with label 1 as their best foreground label.
TWO_FILLERS = [[3.0, 1.0, 0.8, -1.0], [3.0, 0.9, 0.7, -1.0]]


def _listed(output):
    """Pair -> (listed label, triplet score) as the post-processor reports them."""
    post = RelationPostProcessor(use_gt_box=True, later_nms_thresh=0.3)
    result = post(output.relation_logits, output.refine_logits, output.rel_pair_idxs,
                  output.proposals)[0]
    pairs = result.get_field("rel_pair_idxs").tolist()
    labels = result.get_field("pred_rel_labels").tolist()
    scores = result.get_field("pred_rel_scores")[:, 1:].max(1).values.tolist()
    return [(tuple(p), label, score) for p, label, score in zip(pairs, labels, scores)]


def test_a_filler_is_listed_with_the_label_the_energy_prefers_and_keeps_its_rank():
    output = _output([LISTED_RELATION])
    plain = _listed(_decoder()(OneLabelOutPerNode(), output))
    assert plain[:2] == [((0, 1), 1, pytest.approx(plain[0][2])),
                         ((0, 2), 1, pytest.approx(plain[1][2]))]  # two label-1 edges out of 0
    decoder = _decoder(filler_top_k=2)
    decoded = decoder(OneLabelOutPerNode(), output)
    listed = _listed(decoded)
    assert [entry[:2] for entry in listed[:2]] == [((0, 1), 1), ((0, 2), 2)]
    assert [entry[2] for entry in listed] == pytest.approx([entry[2] for entry in plain])
    # the filler's logits of labels 1 and 2 exchanged, everything else bit for bit
    assert torch.equal(decoded.relation_logits[0][1], torch.tensor([3.0, 0.8, 1.0, -1.0]))
    rest = [0, 2, 3, 4, 5]
    assert torch.equal(decoded.relation_logits[0][rest], output.relation_logits[0][rest])
    assert (decoder.totals["fillers"], decoder.totals["relisted"]) == (1, 1)
    # log p prefers label 1 by 0.2: at WEIGHT 0.1 the violation costs less and label 1 stays
    kept = _decoder(weight=0.1, filler_top_k=2)(OneLabelOutPerNode(), output)
    assert torch.equal(kept.relation_logits[0], output.relation_logits[0])


def test_fillers_are_listed_in_rank_order_each_given_the_ones_above_it():
    output = _output([TWO_FILLERS])
    decoded = _decoder(filler_top_k=2)(OneLabelOutPerNode(), output)
    # judged alone, both would keep label 1; the second is judged with the first listed
    assert [entry[:2] for entry in _listed(decoded)[:2]] == [((0, 1), 1), ((0, 2), 2)]
    # FILLER_TOP_K bounds the ranks considered: the second filler is rank 2, left as it is
    shallow = _decoder(filler_top_k=1)(OneLabelOutPerNode(), output)
    assert torch.equal(shallow.relation_logits[0], output.relation_logits[0])


def test_fillers_of_several_images_are_listed_independently():
    # top 2: image 0 lists two fillers, image 1 one (its rank-1 pair is a decoded relation), so
    # position 1 is decided for image 0 alone and position 0 for both at once
    output = _output([TWO_FILLERS, LISTED_RELATION, TWO_FILLERS])
    decoded = _decoder(filler_top_k=2)(OneLabelOutPerNode(), output)
    for image in (0, 2):
        assert torch.equal(decoded.relation_logits[image][1],
                           torch.tensor([3.0, 0.7, 0.9, -1.0]))
    assert torch.equal(decoded.relation_logits[1][1], torch.tensor([3.0, 0.8, 1.0, -1.0]))
    for image in (0, 1, 2):
        same = [0, 2, 3, 4, 5]
        assert torch.equal(decoded.relation_logits[image][same],
                           output.relation_logits[image][same])


class LabelPenalty(nn.Module):
    """E = sum over edges of penalty[label] (linear in the one-hot states)."""

    use_image_graph = False

    def __init__(self, penalty):
        super().__init__()
        self.penalty = torch.tensor(penalty)

    def image_embedding(self, graph):
        return None

    def forward(self, graph, image_embedding=None):
        return scatter_sum(graph.edge_states @ self.penalty, graph.edge_batch, graph.num_graphs)


def test_rescored_fillers_get_their_conditional_logits_and_an_evaluated_label():
    output = _output([[[3.0, 1.0, 0.8, 0.7]]])
    energy = LabelPenalty([0.0, 2.0, 1.0, 0.0])
    decoded = _decoder(top=2, filler_top_k=1, rescore=True)(energy, output)
    # candidates 1 and 2 (the two best foreground labels) tilted by -WEIGHT x (E(label) -
    # E(background)) = -2 and -1; label 2 is chosen; label 3 was not evaluated and is capped
    # at the chosen label's tilted logit, so the listed label is an evaluated one
    assert decoded.relation_logits[0][0].tolist() == pytest.approx([3.0, -1.0, -0.2, -0.2])
    listed = {pair: (label, score) for pair, label, score in _listed(decoded)}
    assert listed[(0, 1)][0] == 2
    # the penalised filler scores lower: from first to below the plain background pairs
    assert _listed(output)[0][0] == (0, 1) and _listed(decoded)[-1][0] == (0, 1)
    assert torch.equal(decoded.relation_logits[0][1:], output.relation_logits[0][1:])
    # without rescoring the same filler keeps its score and only its label moves
    kept = _decoder(top=2, filler_top_k=1)(energy, output)
    assert kept.relation_logits[0][0].tolist() == pytest.approx([3.0, 0.8, 1.0, 0.7])


def test_demoted_fillers_are_only_tilted_down():
    output = _output([[[3.0, 1.0, 0.8, 0.7]]])
    # label 1 costs 2 over background, label 2 saves 1: both rescorings list label 2
    energy = LabelPenalty([0.0, 2.0, -1.0, 0.0])
    both = _decoder(top=2, filler_top_k=1, rescore=True)(energy, output)
    assert both.relation_logits[0][0].tolist() == pytest.approx([3.0, -1.0, 1.8, 0.7])
    demoted = _decoder(top=2, filler_top_k=1, rescore=True, demote_only=True)(energy, output)
    # the saving is not credited: label 2 keeps its logit, label 1 drops by 2, label 3 (not
    # evaluated) stays below the chosen label's logit
    assert demoted.relation_logits[0][0].tolist() == pytest.approx([3.0, -1.0, 0.8, 0.7])
    assert torch.equal(demoted.relation_logits[0][1:], output.relation_logits[0][1:])
    score = {label: {pair: s for pair, _, s in _listed(decoded)}[(0, 1)]
             for label, decoded in (("plain", output), ("both", both), ("demoted", demoted))}
    # two-sided rescoring promotes the filler (0.100 -> 0.212), one-sided demotes it (-> 0.090)
    assert score["plain"] == pytest.approx(0.1005, abs=1e-3)
    assert score["both"] == pytest.approx(0.2121, abs=1e-3)
    assert score["demoted"] == pytest.approx(0.0901, abs=1e-3)
    assert {pair: label for pair, label, _ in _listed(demoted)}[(0, 1)] == 2


def test_demote_only_and_center_need_rescored_fillers():
    with pytest.raises(ValueError, match="FILLER_DEMOTE_ONLY"):
        _decoder(filler_top_k=20, demote_only=True)
    with pytest.raises(ValueError, match="FILLER_RESCORE True and FILLER_TOP_K > 0"):
        _decoder(rescore=True, demote_only=True)
    with pytest.raises(ValueError, match="FILLER_CENTER"):
        _decoder(filler_top_k=20, center=True)


def test_filler_weight_replaces_weight_in_the_filler_step_only():
    output = _output([[[3.0, 1.0, 0.8, 0.7]]])
    energy = LabelPenalty([0.0, 2.0, 1.0, 0.0])
    decoder = EnergyDecoder(task=SGGTask.PREDCLS, num_obj_classes=NUM_OBJ, weight=1.0, rounds=10,
                            top_predicates=2, candidates=8, later_nms_thresh=0.3,
                            filler_top_k=1, filler_rescore=True, filler_weight=0.1)
    # at 0.1 the candidates are tilted by -0.2 and -0.1: label 1 (1.0 - 0.2) beats label 2
    # (0.8 - 0.1) and is listed; label 3 (not evaluated) is capped at 0.8
    assert decoder(energy, output).relation_logits[0][0].tolist() == pytest.approx(
        [3.0, 0.8, 0.7, 0.7])
    assert decoder.weight == 1.0 and decoder.filler_weight == 0.1
    assert _decoder(weight=2.0).filler_weight == 2.0  # unset (None or < 0): WEIGHT


def test_centred_fillers_are_reordered_among_themselves_not_lowered_together():
    # two fillers: row 0 lists label 2 (energy change 1), row 1 label 3 (change 0.5); every
    # label costs energy, so the plain tilt lowers both, row 0 below the background pairs
    output = _output([[[3.0, 1.0, 0.8, 0.7], [3.0, 0.9, 0.1, 0.7]]])
    energy = LabelPenalty([0.0, 2.0, 1.0, 0.5])
    plain = _decoder(top=2, filler_top_k=2, rescore=True)(energy, output)
    assert plain.relation_logits[0][0].tolist() == pytest.approx([3.0, -1.0, -0.2, -0.2])
    assert plain.relation_logits[0][1].tolist() == pytest.approx([3.0, -1.1, 0.1, 0.2])
    centred = _decoder(top=2, filler_top_k=2, rescore=True, center=True)(energy, output)
    # changes taken against the mean of the listed labels' changes, (1 + 0.5) / 2
    assert centred.relation_logits[0][0].tolist() == pytest.approx([3.0, -0.25, 0.55, 0.55])
    assert centred.relation_logits[0][1].tolist() == pytest.approx([3.0, -0.35, 0.1, 0.95])
    before, after = _listed(output), _listed(centred)
    assert [pair for pair, _, _ in before[:2]] == [(0, 1), (0, 2)]
    assert [(pair, label) for pair, label, _ in after[:2]] == [((0, 2), 3), ((0, 1), 2)]
    assert [score for _, _, score in after[:2]] == pytest.approx([0.1056, 0.0712], abs=1e-3)
    # uncentred, the costlier filler falls below the four background pairs (score 0.0433)
    assert [pair for pair, _, _ in _listed(plain)][0] == (0, 2)
    assert [pair for pair, _, _ in _listed(plain)][-1] == (0, 1)
    # centred and demote-only: only the filler costlier than the mean drops
    both = _decoder(top=2, filler_top_k=2, rescore=True, center=True, demote_only=True)(
        energy, output)
    assert both.relation_logits[0][1].tolist() == pytest.approx([3.0, -0.35, 0.1, 0.7])


class AdditionsCostAndOneOut(nn.Module):
    """OneLabelOutPerNode plus ``cost`` per foreground edge: every added relation costs, a
    second label-1 edge out of a node costs one more (an additions-pretrained energy that also
    knows an "at most one" rule)."""

    use_image_graph = False

    def __init__(self, cost: float) -> None:
        super().__init__()
        self.rule = OneLabelOutPerNode()
        self.cost = LabelPenalty([0.0, cost, cost, cost])

    def image_embedding(self, graph):
        return None

    def forward(self, graph, image_embedding=None):
        return self.rule(graph) + self.cost(graph)


def test_fillers_centred_by_predicate_cancel_the_addition_cost_of_their_predicate():
    # four fillers in rank order: (0, 1), (0, 2), (1, 0) listed with label 1, (1, 2) with
    # label 3; every addition costs 2, and (0, 2) is node 0's second label-1 edge (+1)
    rows = [[3.0, 1.0, -3.0, -3.5], [3.0, 0.9, -3.0, -3.5], [3.0, 0.8, -3.0, -3.5],
            [3.0, -3.0, -2.0, 0.7]]
    output = _output([rows])
    energy = AdditionsCostAndOneOut(2.0)
    by_predicate = _decoder(top=2, filler_top_k=4, rescore=True, center=True,
                            center_by="predicate")(energy, output)
    third = 1.0 / 3.0
    # label 1's fillers against their mean change (2 + 3 + 2) / 3; label 3's filler is alone
    # with its predicate and keeps the head's logits (label 1, never evaluated, stays below)
    expected = torch.tensor(
        [[3.0, 1.0 + third, -3.0 + third, -3.5], [3.0, 0.9 - 2 * third, -3.0 + third, -3.5],
         [3.0, 0.8 + third, -3.0 + third, -3.5], [3.0, -3.0, -2.0, 0.7]])
    assert torch.allclose(by_predicate.relation_logits[0][:4], expected, atol=1e-6)
    # node 0's second label-1 edge drops below the other fillers, the first ones rise
    assert [pair for pair, _, _ in _listed(by_predicate)[:4]] == [(0, 1), (1, 0), (1, 2),
                                                                   (0, 2)]
    # centred by image, the label-3 filler moves too: against (2 + 3 + 2 + 2) / 4
    by_image = _decoder(top=2, filler_top_k=4, rescore=True, center=True)(energy, output)
    assert by_image.relation_logits[0][3].tolist() == pytest.approx([3.0, -3.0, -1.75, 0.95])
    assert by_image.relation_logits[0][0].tolist() == pytest.approx([3.0, 1.25, -2.75, -3.5])
    with pytest.raises(ValueError, match="FILLER_CENTER_BY must be one of image, predicate"):
        _decoder(top=2, filler_top_k=4, rescore=True, center=True, center_by="label")
    with pytest.raises(ValueError, match="set FILLER_CENTER True with it"):
        _decoder(top=2, filler_top_k=4, rescore=True, center_by="predicate")


def _graph_energy(energy):
    """E of the argmax labelling of a (decoded) output's relation logits."""
    def value(output):
        labels = torch.cat([p.get_field("labels") for p in output.proposals])
        graph = SceneGraph.from_images(
            node_states=[torch.nn.functional.one_hot(labels, NUM_OBJ).float()],
            edge_states=[torch.nn.functional.one_hot(torch.cat(output.relation_logits)
                                                     .argmax(1), NUM_REL).float()],
            pair_idxs=list(output.rel_pair_idxs),
            node_positions=[torch.zeros(len(labels), 9)])
        return float(energy(graph).detach().sum())
    return value


def test_replicated_images_have_the_energies_of_their_originals():
    from energy_testing import make_model, random_graph

    model = make_model().eval()
    graph = random_graph([3, 2, 4])
    ids = torch.tensor([2, 0, 2, 1])
    copies, edge_source, edge_start = replicate_images(graph, ids)
    assert copies.num_graphs == 4 and copies.edges_per_graph() == [12, 6, 12, 2]
    assert edge_start.tolist() == [0, 12, 18, 30]
    assert torch.equal(copies.edge_states, graph.edge_states[edge_source])
    with torch.no_grad():
        assert torch.allclose(model(copies), model(graph)[ids], atol=1e-6)


def test_swap_to_labels_exchanges_only_the_moved_rows():
    logits = torch.tensor([[0.5, 2.0, 1.0], [3.0, 0.0, 1.0], [0.0, 1.0, 2.0]])
    swapped = swap_to_labels(logits, torch.tensor([1, 0, 2]), torch.tensor([0, 2, 2]))
    assert swapped.tolist() == [[2.0, 0.5, 1.0], [1.0, 0.0, 3.0], [0.0, 1.0, 2.0]]


def test_object_labels_are_the_post_processors():
    output = _output([VIOLATING])
    output.refine_logits[0] = torch.tensor([[9.0, 1.0, 2.0, 0.0, 0.0]] * 3)
    sgcls = EnergyDecoder(task=SGGTask.SGCLS, num_obj_classes=NUM_OBJ, weight=1.0, rounds=1,
                          top_predicates=2, candidates=1, later_nms_thresh=0.3)
    assert sgcls.node_labels(output)[0].tolist() == [2, 2, 2]  # background never chosen
    assert _decoder().node_labels(output)[0].tolist() == [1, 2, 3]  # PredCls: given labels


def test_moved_pairs_are_logged_once_per_run_and_counted(caplog_info):
    decoder = _decoder()
    for _ in range(3):
        decoder(OneLabelOutPerNode(), _output([VIOLATING, KEEPING]))
    records = [r for r in caplog_info.records if "Energy-guided decoding" in r.getMessage()]
    assert len(records) == 1 and "1 of 12 pairs moved" in records[0].getMessage()
    assert "fillers off" in records[0].getMessage()
    assert _decoder(filler_top_k=40, rescore=True, center=True, center_by="predicate",
                    demote_only=True).filler_description() == (
        "fillers of the top 40 listed, rescored (demote only), centred by predicate")
    weighted = EnergyDecoder(task=SGGTask.PREDCLS, num_obj_classes=NUM_OBJ, weight=1.0,
                             rounds=1, top_predicates=2, candidates=1, later_nms_thresh=0.3,
                             filler_top_k=20, filler_weight=0.3)
    assert weighted.filler_description() == "fillers of the top 20 listed, filler weight 0.3"
    assert decoder.totals["moved"] == 3 and decoder.totals["pairs"] == 36
    assert decoder.totals["images"] == 6


def test_build_energy_decoder_reads_the_keys_and_refuses_bad_combinations(energy_cfg):
    energy_cfg.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL = True
    assert build_energy_decoder(energy_cfg, NUM_OBJ) is None
    decode = energy_cfg.TEST.ENERGY_DECODE
    decode.ON, decode.WEIGHT, decode.ROUNDS, decode.TOP_PREDICATES, decode.CANDIDATES = \
        True, 2.5, 4, 5, 6
    decode.FILLER_TOP_K, decode.FILLER_RESCORE, decode.FILLER_DEMOTE_ONLY = 20, True, True
    decode.FILLER_CENTER, decode.FILLER_WEIGHT, decode.FILLER_CENTER_BY = True, 0.5, "predicate"
    with pytest.raises(ValueError, match="MODEL.ENERGY_ON"):
        build_energy_decoder(energy_cfg, NUM_OBJ)
    energy_cfg.MODEL.ENERGY_ON = True
    decoder = build_energy_decoder(energy_cfg, NUM_OBJ)
    assert (decoder.weight, decoder.rounds, decoder.top_predicates, decoder.candidates,
            decoder.filler_top_k, decoder.filler_rescore, decoder.filler_demote_only,
            decoder.filler_center, decoder.filler_weight, decoder.filler_center_by) == (
        2.5, 4, 5, 6, 20, True, True, True, 0.5, "predicate")
    assert decoder.task is SGGTask.PREDCLS
    energy_cfg.TEST.ENERGY_REFINE = True
    with pytest.raises(ValueError, match="ENERGY_REFINE and TEST.ENERGY_DECODE.ON"):
        build_energy_decoder(energy_cfg, NUM_OBJ)
    energy_cfg.TEST.ENERGY_REFINE, decode.TOP_PREDICATES = False, 1
    with pytest.raises(ValueError, match="TOP_PREDICATES >= 2"):
        build_energy_decoder(energy_cfg, NUM_OBJ)
    decode.TOP_PREDICATES, decode.FILLER_TOP_K = 3, -1
    with pytest.raises(ValueError, match="FILLER_TOP_K >= 0"):
        build_energy_decoder(energy_cfg, NUM_OBJ)


# Through the model: a random small detector on the tiny synthetic preset.
@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=10)
    return root


def _decode_cfg(root, task, *extra):
    cfg = _cfg(root, "MotifPredictor", task)
    cfg.MODEL.ENERGY_ON = True
    ebm = cfg.MODEL.ROI_RELATION_HEAD.EBM
    ebm.OBJ_EMBED_DIM = ebm.REL_EMBED_DIM = ebm.OBJ_LABEL_EMBED_DIM = 16
    ebm.REL_LABEL_EMBED_DIM = ebm.POOLING_DIM = 16
    # A large weight, so that the random energy model (gradients ~1e-3) moves labels.
    cfg.merge_from_list(["TEST.ENERGY_DECODE.ON", "True", "TEST.ENERGY_DECODE.WEIGHT", "1e5",
                         "TEST.ENERGY_DECODE.ROUNDS", "3", "DATALOADER.NUM_WORKERS", "0",
                         *extra])
    return cfg


def test_decoding_without_the_energy_model_is_refused(root, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _decode_cfg(root, "predcls", "MODEL.ENERGY_ON", "False")
    with pytest.raises(ValueError, match="TEST.ENERGY_DECODE.ON needs an energy model"):
        build_detection_model(cfg, get_dataset_statistics(cfg))


@pytest.mark.parametrize("task", list(TASK_FLAGS))
def test_decoding_through_the_model_permutes_relation_scores(root, monkeypatch, task):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _decode_cfg(root, task)
    model = build_detection_model(cfg, get_dataset_statistics(cfg)).eval()
    images, targets = _batch(cfg)
    with torch.no_grad():
        decoded = model(images, targets)
    decoder, model.energy_decoder = model.energy_decoder, None
    with torch.no_grad():
        plain = model(images, targets)
    assert decoder.totals["moved"] > 0
    assert all(p.grad is None for p in model.energy_model.parameters())
    assert not model.energy_model.training
    changed = 0
    for a, b in zip(decoded, plain):
        new, old = _scores_by_pair(a), _scores_by_pair(b)
        assert new.keys() == old.keys()
        for pair, scores in new.items():  # each pair's distribution is a permutation
            assert torch.allclose(scores.sort().values, old[pair].sort().values, atol=1e-6)
            changed += int(not torch.equal(scores, old[pair]))
    assert changed == decoder.totals["moved"]


@pytest.mark.parametrize("task", ["sgcls", "sgdet"])
def test_listing_fillers_through_the_model_keeps_every_pairs_score_and_rank(root, monkeypatch,
                                                                            task):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _decode_cfg(root, task, "TEST.ENERGY_DECODE.FILLER_TOP_K", "20")
    model = build_detection_model(cfg, get_dataset_statistics(cfg)).eval()
    images, targets = _batch(cfg)
    with torch.no_grad():
        listed = model(images, targets)
    decoder = model.energy_decoder
    decoder.filler_top_k = 0
    with torch.no_grad():
        decoded = model(images, targets)
    assert decoder.totals["relisted"] > 0
    relisted = 0
    for a, b in zip(listed, decoded):
        # the post-processor's ranking (pairs, scores) is the same; only listed labels move
        assert torch.equal(a.get_field("rel_pair_idxs"), b.get_field("rel_pair_idxs"))
        top_a, top_b = (r.get_field("pred_rel_scores")[:, 1:].max(1).values for r in (a, b))
        assert torch.allclose(top_a, top_b, atol=1e-6)
        moved = a.get_field("pred_rel_labels") != b.get_field("pred_rel_labels")
        assert not moved[20:].any()  # only fillers of the top 20
        relisted += int(moved.sum())
    assert relisted == decoder.totals["relisted"]


def _scores_by_pair(result):
    pairs = result.get_field("rel_pair_idxs").tolist()
    return {tuple(pair): scores for pair, scores in zip(pairs,
                                                        result.get_field("pred_rel_scores"))}


def test_test_loop_with_decoding_writes_finite_predictions(root, monkeypatch, tmp_path):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _decode_cfg(root, "sgcls", "DATASETS.TEST", f"('{DATASET}_test',)",
                      "OUTPUT_DIR", str(tmp_path), "TEST.IMS_PER_BATCH", "2")
    statistics = get_dataset_statistics(cfg)
    model = build_detection_model(cfg, statistics).eval()
    run_relation_test(cfg, model, statistics)
    folder = tmp_path / "inference" / f"{DATASET}_test"
    predictions = load_predictions(str(folder / "predictions.pth"), f"{DATASET}_test",
                                   len(list(_images_of(cfg))))
    assert predictions and model.energy_decoder.totals["images"] == len(predictions)
    for prediction in predictions:
        scores = prediction.get_field("pred_rel_scores")
        assert torch.isfinite(scores).all()
        assert torch.allclose(scores.sum(1), torch.ones(len(scores)), atol=1e-5)


def _images_of(cfg):
    from maskrcnn_benchmark.data.build import build_dataset

    return build_dataset(cfg, cfg.DATASETS.TEST, is_train=False)[0]
