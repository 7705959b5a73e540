"""Relation pair sampling (training) and candidate pairs (test), against hand-made scenes."""

import torch

from maskrcnn_benchmark.modeling.roi_heads.relation_head.sampling import RelationSampler
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask


def _sampler(task, **kwargs):
    args = dict(task=task, fg_iou_threshold=0.5, require_overlap=False, num_sample_per_gt_rel=4,
                batch_size_per_image=64, positive_fraction=0.25, test_require_overlap=True)
    args.update(kwargs)
    return RelationSampler(**args)


def _boxes(coords, labels=None, size=(100, 100)):
    box = BoxList(torch.tensor(coords, dtype=torch.float32), size)
    if labels is not None:
        box.add_field("labels", torch.tensor(labels))
    return box


def _with_relations(box, triplets):
    relation = torch.zeros((len(box), len(box)), dtype=torch.int64)
    for s, o, p in triplets:
        relation[s, o] = p
    box.add_field("relation", relation, is_triplet=True)
    return box


def _as_set(pairs, labels):
    return {(int(s), int(o), int(p)) for (s, o), p in zip(pairs.tolist(), labels.tolist())}


def test_gt_box_sampling_takes_all_gt_pairs_and_background_pairs():
    target = _with_relations(_boxes([[0, 0, 10, 10]] * 4, [1, 2, 3, 4]),
                             [(0, 1, 3), (2, 0, 1), (3, 2, 2)])
    proposal = _boxes(target.bbox.tolist(), [1, 2, 3, 4])
    out = _sampler(SGGTask.PREDCLS).sample([proposal], [target])
    triplets = _as_set(out.rel_pair_idxs[0], out.rel_labels[0])
    fg = {t for t in triplets if t[2] > 0}
    assert fg == {(0, 1, 3), (2, 0, 1), (3, 2, 2)}
    bg = {(s, o) for s, o, p in triplets if p == 0}
    all_pairs = {(s, o) for s in range(4) for o in range(4) if s != o}
    assert bg == all_pairs - {(0, 1), (2, 0), (3, 2)}
    assert len(triplets) == len(out.rel_labels[0]) == 12  # no duplicates, no self pairs
    expected_binary = torch.zeros(4, 4, dtype=torch.int64)
    for s, o in [(0, 1), (2, 0), (3, 2)]:
        expected_binary[s, o] = expected_binary[o, s] = 1
    assert torch.equal(out.rel_binarys[0], expected_binary)


def test_gt_box_sampling_limits_fg_and_total_pairs():
    num = 6
    triplets = [(s, o, 1 + (s + o) % 3) for s in range(num) for o in range(num) if s < o]
    target = _with_relations(_boxes([[0, 0, 10, 10]] * num, [1] * num), triplets)
    proposal = _boxes(target.bbox.tolist(), [1] * num)
    sampler = _sampler(SGGTask.SGCLS, batch_size_per_image=8, positive_fraction=0.5)
    out = sampler.sample([proposal], [target])
    labels = out.rel_labels[0]
    assert len(labels) == 8 and int((labels > 0).sum()) == 4  # int(8 * 0.5) fg, rest bg
    for (s, o), p in zip(out.rel_pair_idxs[0].tolist(), labels.tolist()):
        if p > 0:
            assert (s, o, p) in set(triplets)
        else:
            assert s != o and (s, o) not in {(a, b) for a, b, _ in triplets}


def test_gt_box_sampling_with_one_object_or_no_relation():
    one = _with_relations(_boxes([[0, 0, 10, 10]], [3]), [])
    none = _with_relations(_boxes([[0, 0, 10, 10], [5, 5, 20, 20]], [1, 2]), [])
    out = _sampler(SGGTask.PREDCLS).sample([_boxes(one.bbox.tolist(), [3]),
                                                 _boxes(none.bbox.tolist(), [1, 2])], [one, none])
    assert out.rel_pair_idxs[0].shape == (0, 2) and out.rel_labels[0].shape == (0,)
    assert _as_set(out.rel_pair_idxs[1], out.rel_labels[1]) == {(0, 1, 0), (1, 0, 0)}


def _sgdet_scene():
    # GT: man (0) riding horse (1). Proposals: two boxes on the man, two on the horse, one on a
    # far tree, one unmatched background proposal.
    target = _with_relations(_boxes([[10, 10, 40, 60], [30, 40, 90, 90]], [1, 2]), [(0, 1, 3)])
    proposal = _boxes(
        [[10, 10, 40, 60], [11, 11, 41, 61], [30, 40, 90, 90], [31, 41, 89, 89],
         [0, 0, 5, 5], [50, 0, 60, 8]],
        [1, 1, 2, 2, 4, 0],
    )
    return proposal, target


def test_detection_sampling_matches_gt_relations_by_label_and_iou():
    proposal, target = _sgdet_scene()
    out = _sampler(SGGTask.SGDET).sample([proposal], [target])
    triplets = _as_set(out.rel_pair_idxs[0], out.rel_labels[0])
    fg = {t for t in triplets if t[2] > 0}
    assert fg == {(0, 2, 3), (0, 3, 3), (1, 2, 3), (1, 3, 3)}
    bg = {(s, o) for s, o, p in triplets if p == 0}
    labelled = [0, 1, 2, 3, 4]  # proposal 5 has label 0 and never forms a pair
    expected_bg = {(s, o) for s in labelled for o in labelled if s != o} - {
        (s, o) for s, o, _ in fg}
    assert bg == expected_bg
    binary = out.rel_binarys[0]
    assert torch.equal(binary, binary.T)
    assert {tuple(x) for x in binary.nonzero().tolist()} == {
        (s, o) for s in (0, 1) for o in (2, 3)} | {(o, s) for s in (0, 1) for o in (2, 3)}


def test_detection_sampling_requires_overlap_for_background_pairs():
    proposal, target = _sgdet_scene()
    out = _sampler(SGGTask.SGDET, require_overlap=True).sample([proposal], [target])
    triplets = _as_set(out.rel_pair_idxs[0], out.rel_labels[0])
    bg = {(s, o) for s, o, p in triplets if p == 0}
    # Overlapping labelled pairs that are not fg: man-man, horse-horse and horse -> man; the
    # tree (4) overlaps nothing.
    assert bg == {(0, 1), (1, 0), (2, 3), (3, 2), (2, 0), (2, 1), (3, 0), (3, 1)}


def test_detection_sampling_caps_pairs_per_gt_relation():
    proposal, target = _sgdet_scene()
    out = _sampler(SGGTask.SGDET, num_sample_per_gt_rel=2).sample([proposal], [target])
    fg = {t for t in _as_set(out.rel_pair_idxs[0], out.rel_labels[0]) if t[2] > 0}
    assert len(fg) == 2 and fg <= {(0, 2, 3), (0, 3, 3), (1, 2, 3), (1, 3, 3)}
    # The candidates left out are not used as background either.
    bg = {(s, o) for s, o, p in _as_set(out.rel_pair_idxs[0], out.rel_labels[0]) if p == 0}
    assert not bg & {(0, 2), (0, 3), (1, 2), (1, 3)}


def test_detection_sampling_draws_proportionally_to_iou_product():
    target = _with_relations(_boxes([[0, 0, 39, 39], [60, 60, 99, 99]], [1, 2]), [(0, 1, 1)])
    # Two subject candidates: IoU 1.0 and IoU 0.8 with the GT subject; one object candidate.
    proposal = _boxes([[0, 0, 39, 39], [0, 0, 31, 39], [60, 60, 99, 99]], [1, 1, 2])
    sampler = _sampler(SGGTask.SGDET, num_sample_per_gt_rel=1)
    picks = []
    for _ in range(400):
        out = sampler.sample([proposal], [target])
        fg = [s for (s, _o), p in zip(out.rel_pair_idxs[0].tolist(), out.rel_labels[0].tolist())
              if p > 0]
        picks.append(fg[0])
    share_exact = picks.count(0) / len(picks)
    assert abs(share_exact - 1.0 / (1.0 + 0.8)) < 0.1  # weights 1.0 vs 32*40/1600 = 0.8


def test_detection_sampling_placeholder_when_nothing_to_sample():
    target = _with_relations(_boxes([[0, 0, 10, 10], [50, 50, 60, 60]], [1, 2]), [(0, 1, 1)])
    proposal = _boxes([[80, 80, 90, 90]], [0])
    out = _sampler(SGGTask.SGDET).sample([proposal], [target])
    assert out.rel_pair_idxs[0].tolist() == [[0, 0]] and out.rel_labels[0].tolist() == [0]


def test_test_pairs_all_ordered_pairs_and_overlap_filter():
    boxes = _boxes([[0, 0, 10, 10], [5, 5, 15, 15], [50, 50, 60, 60]])
    all_pairs = _sampler(SGGTask.SGCLS).test_pairs([boxes])[0]
    assert all_pairs.tolist() == [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]
    overlapping = _sampler(SGGTask.SGDET).test_pairs([boxes])[0]
    assert overlapping.tolist() == [[0, 1], [1, 0]]
    no_filter = _sampler(SGGTask.SGDET, test_require_overlap=False).test_pairs([boxes])[0]
    assert torch.equal(no_filter, all_pairs)


def test_test_pairs_placeholder_for_one_box_and_nothing_for_none():
    one, empty = _boxes([[0, 0, 10, 10]]), _boxes(torch.zeros(0, 4).tolist())
    pairs = _sampler(SGGTask.PREDCLS).test_pairs([one, empty])
    assert pairs[0].tolist() == [[0, 0]] and pairs[1].shape == (0, 2)
