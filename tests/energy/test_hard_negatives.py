"""Hard negatives: exactly k labels changed, task respected, prior obeyed, seeded draws."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from maskrcnn_benchmark.modeling.energy import HardNegativeSampler, LabelPrior
from maskrcnn_benchmark.structures.scene_graph import SceneGraph

NUM_OBJ, NUM_REL = 6, 5


def _prior(object_counts=(0, 4, 0, 2, 1, 3)):
    # class pair (1, 2): predicates 1 (5x) and 2 (3x); pair (2, 1): predicate 4 only;
    # pair (3, 3): nothing (empty row); a background triplet that must be ignored
    triplets = torch.tensor([[1, 2, 1], [1, 2, 2], [2, 1, 4], [1, 2, 0]])
    return LabelPrior.from_counts(triplets, torch.tensor([5, 3, 7, 100]),
                                  torch.tensor(object_counts), NUM_OBJ, NUM_REL)


def _positive(node_labels, edge_labels, pairs, noise=1e-3):
    """A matched-style positive graph: one-hots + small noise on every row."""
    nodes = [F.one_hot(n, NUM_OBJ).float() + noise * torch.randn(len(n), NUM_OBJ)
             for n in node_labels]
    edges = [F.one_hot(e, NUM_REL).float() + noise * torch.randn(len(e), NUM_REL)
             for e in edge_labels]
    return SceneGraph.from_images(nodes, edges, pairs, [torch.rand(len(n), 9)
                                                        for n in node_labels],
                                  [torch.randn(len(n), 3) for n in node_labels])


def _toy():
    node_labels = [torch.tensor([1, 2, 3, 1]), torch.tensor([2, 1, 3])]
    pairs = [torch.tensor([[0, 1], [1, 0], [2, 3], [3, 2], [0, 2], [1, 3]]),
             torch.tensor([[0, 1], [1, 0], [1, 2]])]
    edge_labels = [torch.tensor([1, 4, 2, 0, 3, 0]), torch.tensor([4, 0, 0])]
    return node_labels, edge_labels, pairs


def _sampler(**overrides):
    args = dict(num=6, num_changes=(2,), source="uniform", change_nodes=False,
                num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL)
    args.update(overrides)
    return HardNegativeSampler(**args)


def _per_copy(graph, copies, which):
    states = getattr(graph, which)
    return states.reshape(copies, -1, states.shape[1])


def test_exactly_k_predicates_change_in_predcls_and_nothing_else():
    node_labels, edge_labels, pairs = _toy()
    positive = _positive(node_labels, edge_labels, pairs)
    hard = _sampler(num_changes=(2,))(positive, node_labels, edge_labels, pairs)
    graph = hard.graph
    assert graph.num_graphs == 6 * 2
    # image 0 has 4 foreground edges (k = 2 fits), image 1 only 1 (k capped at 1)
    assert hard.changes[0].tolist() == [2] * 6 and hard.changes[1].tolist() == [1] * 6
    assert hard.mask.all()
    edges = _per_copy(graph, 6, "edge_states")
    nodes = _per_copy(graph, 6, "node_states")
    gt = torch.cat(edge_labels)
    foreground = gt > 0
    for copy in range(6):
        assert torch.equal(nodes[copy], positive.node_states)  # PredCls: nodes never change
        differs = edges[copy].argmax(1) != gt
        assert int(differs[:6].sum()) == 2 and int(differs[6:].sum()) == 1
        assert not differs[~foreground].any()  # background pairs are never changed
        assert (edges[copy].argmax(1)[differs] > 0).all()  # never to background
        delta = edges[copy] - positive.edge_states
        assert torch.equal(delta[~differs], torch.zeros_like(delta[~differs]))
        # a changed row keeps the positive's noise: its one-hot moved from old to new
        moved = F.one_hot(edges[copy].argmax(1)[differs], NUM_REL) - F.one_hot(gt[differs],
                                                                                 NUM_REL)
        assert torch.allclose(delta[differs], moved.float(), atol=1e-6)
    # structure: copy-major batching of the positive's structure
    assert torch.equal(graph.edge_index[:9], positive.edge_index)
    assert torch.equal(graph.edge_index[9:18], positive.edge_index + positive.num_nodes)
    assert graph.node_batch.tolist()[7:14] == [2, 2, 2, 2, 3, 3, 3]
    assert not graph.edge_states.requires_grad


def test_k_is_drawn_from_num_changes_and_capped_by_what_can_change():
    node_labels, edge_labels, pairs = _toy()
    edge_labels[1] = torch.zeros(3, dtype=torch.long)  # image 1: nothing to change
    positive = _positive(node_labels, edge_labels, pairs)
    hard = _sampler(num=40, num_changes=(1, 3))(positive, node_labels, edge_labels, pairs)
    assert set(hard.changes[0].tolist()) == {1, 3}
    assert hard.changes[1].tolist() == [0] * 40 and not hard.mask[1].any()
    edges = _per_copy(hard.graph, 40, "edge_states")
    gt = torch.cat(edge_labels)
    for copy in range(40):
        differs = edges[copy].argmax(1) != gt
        assert int(differs[:6].sum()) == int(hard.changes[0, copy])
        assert int(differs[6:].sum()) == 0


def test_sgcls_changes_nodes_and_edges_with_the_documented_mix():
    node_labels, edge_labels, pairs = _toy()
    positive = _positive(node_labels, edge_labels, pairs)
    sampler = _sampler(num=200, num_changes=(2,), change_nodes=True)
    hard = sampler(positive, node_labels, edge_labels, pairs)
    nodes = _per_copy(hard.graph, 200, "node_states")
    edges = _per_copy(hard.graph, 200, "edge_states")
    gt_nodes, gt_edges = torch.cat(node_labels), torch.cat(edge_labels)
    node_changes = []
    for copy in range(200):
        node_diff = nodes[copy].argmax(1) != gt_nodes
        edge_diff = edges[copy].argmax(1) != gt_edges
        assert int(node_diff[:4].sum() + edge_diff[:6].sum()) == 2  # image 0: exactly k
        assert int(node_diff[4:].sum() + edge_diff[6:].sum()) == 2  # image 1: 3 nodes + 1 edge
        assert (nodes[copy].argmax(1)[node_diff] > 0).all()
        node_changes.append(int(node_diff[:4].sum()))
    # each change is a node change with probability 1/2: 0 / 1 / 2 nodes w.p. 1/4, 1/2, 1/4
    counts = torch.bincount(torch.tensor(node_changes), minlength=3).float() / 200
    assert torch.allclose(counts, torch.tensor([0.25, 0.5, 0.25]), atol=0.1)
    # image 1 has one foreground edge: a second edge change falls back to a node change
    edge_diff_1 = (edges[:, 6:].argmax(2) != gt_edges[6:]).sum(1)
    assert int(edge_diff_1.max()) == 1


def test_frequency_source_draws_from_the_pair_prior_without_the_true_label():
    prior = _prior()
    node_labels = [torch.tensor([1, 2, 3, 3])]
    # (1 -> 2) true 1: the prior's only other predicate is 2; (1 -> 2) true 3: 1 or 2 as 5:3;
    # (2 -> 1) true 4: the row has no other mass, uniform over 1, 2, 3; (3 -> 3) empty row
    pairs = [torch.tensor([[0, 1], [0, 1], [1, 0], [2, 3]])]
    edge_labels = [torch.tensor([1, 3, 4, 2])]
    sampler = _sampler(num=1, num_changes=(1,), source="frequency", prior=prior)
    drawn = {edge: [] for edge in range(4)}
    for _ in range(800):
        _, new_edges, k = sampler.draw(node_labels[0], edge_labels[0], pairs[0])
        assert k == 1
        edge = int((new_edges != edge_labels[0]).nonzero())
        drawn[edge].append(int(new_edges[edge]))
    assert set(drawn[0]) == {2}
    assert set(drawn[1]) == {1, 2}
    assert len(drawn[1]) > 100
    assert sum(v == 1 for v in drawn[1]) / len(drawn[1]) == pytest.approx(5 / 8, abs=0.12)
    assert set(drawn[2]) == {1, 2, 3} and set(drawn[3]) == {1, 3, 4}


def test_frequency_node_changes_follow_object_counts_and_uniform_uses_every_other_class():
    prior = _prior()
    freq = _sampler(num=1, num_changes=(1,), source="frequency", prior=prior, change_nodes=True)
    uniform = _sampler(num=1, num_changes=(1,), change_nodes=True)
    nodes, edges, pairs = torch.tensor([1]), torch.zeros(0, dtype=torch.long), torch.zeros(0, 2)
    freq_draws = {int(freq.draw(nodes, edges, pairs.long())[0]) for _ in range(300)}
    uniform_draws = {int(uniform.draw(nodes, edges, pairs.long())[0]) for _ in range(300)}
    assert freq_draws == {3, 4, 5}  # class 2 has count 0, class 1 is the true one
    assert uniform_draws == {2, 3, 4, 5}


def test_draws_are_deterministic_under_a_seed():
    node_labels, edge_labels, pairs = _toy()
    positive = _positive(node_labels, edge_labels, pairs)
    sampler = _sampler(num=4, num_changes=(1, 2, 3), change_nodes=True, source="frequency",
                       prior=_prior())
    runs = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        runs.append(sampler(positive, node_labels, edge_labels, pairs))
    assert torch.equal(runs[0].graph.edge_states, runs[1].graph.edge_states)
    assert torch.equal(runs[0].graph.node_states, runs[1].graph.node_states)
    assert torch.equal(runs[0].changes, runs[1].changes)
    assert not (torch.equal(runs[0].graph.edge_states, runs[2].graph.edge_states)
                and torch.equal(runs[0].graph.node_states, runs[2].graph.node_states))


def test_prior_from_statistics_and_bad_settings_give_clear_errors():
    stats = SimpleNamespace(obj_classes=["__background__"] + list("abcde"),
                            rel_classes=["__background__"] + list("pqrs"),
                            triplets=torch.tensor([[1, 2, 1]]), triplet_counts=torch.tensor([2]),
                            object_counts=torch.tensor([0, 1, 1, 1, 1, 1]))
    prior = LabelPrior.from_statistics(stats, NUM_OBJ, NUM_REL)
    assert prior.predicate_weights(1, 2).tolist() == [0.0, 2.0, 0.0, 0.0, 0.0]
    assert prior.predicate_weights(2, 1).tolist() == [0.0] * 5
    with pytest.raises(ValueError, match="NUM_CLASSES"):
        LabelPrior.from_statistics(stats, NUM_OBJ + 1, NUM_REL)
    with pytest.raises(ValueError, match="triplets"):
        LabelPrior.from_counts(torch.tensor([[1, 2, 9]]), torch.tensor([1]),
                               torch.ones(NUM_OBJ), NUM_OBJ, NUM_REL)
    with pytest.raises(ValueError, match="statistics"):
        _sampler(source="frequency")
    with pytest.raises(ValueError, match="SOURCE"):
        _sampler(source="rules")
    with pytest.raises(ValueError, match="NUM_CHANGES"):
        _sampler(num_changes=())
    with pytest.raises(ValueError, match="NUM_CHANGES"):
        _sampler(num_changes=(0, 1))


def _draws(sampler, node_labels, edge_labels, pairs, count=200):
    torch.manual_seed(0)
    return [sampler.draw(node_labels, edge_labels, pairs) for _ in range(count)]


def test_additions_put_a_plausible_predicate_on_background_pairs_at_the_given_rate():
    node_labels = torch.tensor([1, 2, 1, 2])
    # GT: (0, 1) predicate 1 and (2, 3) predicate 2; the other 10 ordered pairs background
    pairs = torch.tensor([[s, o] for s in range(4) for o in range(4) if s != o])
    edge_labels = torch.zeros(len(pairs), dtype=torch.long)
    edge_labels[0], edge_labels[7] = 1, 2   # pairs (0, 1) and (2, 3)
    sampler = _sampler(num_changes=(1,), source="frequency", prior=_prior(), additions=0.75)
    added = relabelled = 0
    for _, edges, k in _draws(sampler, node_labels, edge_labels, pairs, 400):
        changed = (edges != edge_labels).nonzero(as_tuple=True)[0]
        assert k == 1 and len(changed) == 1
        row = int(changed[0])
        if edge_labels[row] == 0:
            added += 1
            assert int(edges[row]) > 0
            subject, obj = pairs[row].tolist()
            weights = _prior().predicate_weights(int(node_labels[subject]),
                                                 int(node_labels[obj]))
            # the prior's predicates for (1, 2) are 1 and 2, for (2, 1) only 4; elsewhere
            # (empty rows) the draw falls back to uniform over the foreground
            if weights.sum() > 0:
                assert weights[int(edges[row])] > 0
        else:
            relabelled += 1
            assert int(edges[row]) not in (0, int(edge_labels[row]))
    assert added + relabelled == 400
    assert 0.68 < added / 400 < 0.82  # binomial(400, 0.75): 3.5 standard deviations


def test_additions_fall_back_to_the_other_kind_and_zero_keeps_the_draws():
    node_labels = torch.tensor([1, 2, 1])
    pairs = torch.tensor([[0, 1], [1, 0], [1, 2]])
    full = torch.tensor([1, 4, 3])  # no background edge: every change relabels
    for _, edges, k in _draws(_sampler(num_changes=(2,), additions=1.0), node_labels, full,
                              pairs, 50):
        assert k == 2 and ((edges != full) & (edges > 0)).sum() == 2
    empty = torch.zeros(3, dtype=torch.long)  # no GT relation: every change adds one
    for _, edges, k in _draws(_sampler(num_changes=(2,), additions=0.1), node_labels, empty,
                              pairs, 50):
        assert k == 2 and (edges > 0).sum() == 2
    # additions 0 draws exactly what a sampler without the option draws (same RNG stream)
    some = torch.tensor([1, 0, 3])
    plain = _draws(_sampler(num_changes=(1, 2)), node_labels, some, pairs, 50)
    zero = _draws(_sampler(num_changes=(1, 2), additions=0.0), node_labels, some, pairs, 50)
    assert all(torch.equal(a[1], b[1]) and a[2] == b[2] for a, b in zip(plain, zero))
    assert all((edges[1] == 0) for _, edges, _ in plain)  # the background edge never moves
    with pytest.raises(ValueError, match="ADDITIONS is a probability"):
        _sampler(additions=1.5)


def test_deletions_set_gt_relations_to_background_at_the_given_rate_and_zero_keeps_the_draws():
    node_labels = torch.tensor([1, 2, 1, 2])
    pairs = torch.tensor([[s, o] for s in range(4) for o in range(4) if s != o])
    edge_labels = torch.zeros(len(pairs), dtype=torch.long)
    edge_labels[0], edge_labels[7], edge_labels[9] = 1, 2, 4
    sampler = _sampler(num_changes=(2,), source="frequency", prior=_prior(), deletions=0.4)
    deleted = relabelled = 0
    for nodes, edges, k in _draws(sampler, node_labels, edge_labels, pairs, 400):
        changed = (edges != edge_labels).nonzero(as_tuple=True)[0]
        assert k == 2 and len(changed) == 2 and torch.equal(nodes, node_labels)
        assert bool((edge_labels[changed] > 0).all())  # only GT relations change
        deleted += int((edges[changed] == 0).sum())
        relabelled += int((edges[changed] > 0).sum())
    assert deleted + relabelled == 800
    assert 0.34 < deleted / 800 < 0.46  # binomial(800, 0.4): 3.5 standard deviations
    # every change a deletion at 1.0; deletions 0 draws exactly what the sampler drew before
    for _, edges, k in _draws(_sampler(num_changes=(3,), deletions=1.0), node_labels,
                              edge_labels, pairs, 20):
        assert k == 3 and int((edges > 0).sum()) == 0
    plain = _draws(_sampler(num_changes=(1, 2)), node_labels, edge_labels, pairs, 50)
    zero = _draws(_sampler(num_changes=(1, 2), deletions=0.0), node_labels, edge_labels,
                  pairs, 50)
    assert all(torch.equal(a[1], b[1]) and a[2] == b[2] for a, b in zip(plain, zero))
    with pytest.raises(ValueError, match="DELETIONS is a probability"):
        _sampler(deletions=-0.1)
