"""A slow, per-triplet re-implementation of SGB's relation evaluation, for tests and benchmarks.

It follows SGB's algorithm step by step: for every prediction the list of GT rows it matches
(pred_to_gt), recall@K = |union of the first K lists| / #GT, lists of per-image values averaged
with np.mean. Loops run over triplets in plain Python with float32 IoU, as SGB's BoxList IoU.
Ties use the documented rule: no-graph-constraint entries sorted by (-score, pair, predicate).
"""

from __future__ import annotations

import numpy as np

NOGC_TOP = 100


def iou_float32(a, b):
    """IoU of two xyxy boxes with the +1 pixel convention, in float32 like SGB."""
    a = [np.float32(v) for v in a]
    b = [np.float32(v) for v in b]
    one = np.float32(1)
    area_a = (a[2] - a[0] + one) * (a[3] - a[1] + one)
    area_b = (b[2] - b[0] + one) * (b[3] - b[1] + one)
    w = max(min(a[2], b[2]) - max(a[0], b[0]) + one, np.float32(0))
    h = max(min(a[3], b[3]) - max(a[1], b[1]) + one, np.float32(0))
    inter = w * h
    return inter / (area_a + area_b - inter)


def pred_to_gt(pred_rows, classes, boxes, gt_rels, gt_classes, gt_boxes, iou_threshold):
    """For each predicted (sub, obj, predicate) row, every GT row index it matches."""
    out = []
    for s, o, p in pred_rows:
        matched = []
        for g, (gs, go, gp) in enumerate(gt_rels):
            if (classes[s] == gt_classes[gs] and classes[o] == gt_classes[go] and p == gp
                    and iou_float32(boxes[s], gt_boxes[gs]) >= iou_threshold
                    and iou_float32(boxes[o], gt_boxes[go]) >= iou_threshold):
                matched.append(g)
        out.append(matched)
    return out


def union_first(lists, k):
    matched = set()
    for row in lists[:k]:
        matched.update(row)
    return matched


def nogc_rows(pairs, rel_scores, obj_scores):
    """Top-100 (sub, obj, predicate) rows by obj*obj*rel score; ties: earlier pair, lower pred."""
    entries = []
    for i, (s, o) in enumerate(pairs):
        for c in range(1, len(rel_scores[i])):
            score = np.float32(rel_scores[i][c])
            if obj_scores is not None:
                score = (np.float32(obj_scores[s]) * np.float32(obj_scores[o])) * score
            entries.append((-float(score), i, c, s, o))
    entries.sort()
    return [(s, o, c) for _, _, c, s, o in entries[:NOGC_TOP]]


def slow_evaluate(dataset, predictions, mode, ks, iou_threshold, num_predicates, groups=None):
    """Metrics dict (R, ngR, mR, ng-mR, A, per_predicate, groups) of SGB's definitions.

    ``groups``: {key: membership(subject class, object class, predicate) -> bool}.
    """
    groups = groups or {}
    recall = {k: [] for k in ks}
    recall_ng = {k: [] for k in ks}
    acc_hit = {k: [] for k in ks}
    acc_count = {k: [] for k in ks}
    per_class = {k: [[] for _ in range(num_predicates)] for k in ks}
    per_class_ng = {k: [[] for _ in range(num_predicates)] for k in ks}
    group_recall = {key: {"R": {k: [] for k in ks}, "ngR": {k: [] for k in ks}} for key in groups}
    for index, boxlist in enumerate(predictions):
        info = dataset.get_img_info(index)
        boxlist = boxlist.resize((info["width"], info["height"]))
        gt = dataset.get_groundtruth(index, evaluation=True)
        gt_rels = gt.get_field("relation_tuple").tolist()
        if not gt_rels:
            continue
        gt_classes = gt.get_field("labels").tolist()
        gt_boxes = gt.bbox.tolist()
        pairs = boxlist.get_field("rel_pair_idxs").tolist()
        rel_scores = boxlist.get_field("pred_rel_scores").numpy()
        if mode == "predcls":
            classes, boxes, obj_scores = gt_classes, gt_boxes, None
        else:
            classes = boxlist.get_field("pred_labels").tolist()
            boxes = boxlist.bbox.tolist()
            obj_scores = boxlist.get_field("pred_scores").numpy()
        # graph constraint: one predicate per pair, lowest index among equal scores
        rows = [(s, o, int(np.argmax(rel_scores[i][1:])) + 1) for i, (s, o) in enumerate(pairs)]
        matches = pred_to_gt(rows, classes, boxes, gt_rels, gt_classes, gt_boxes, iou_threshold)
        matches_ng = pred_to_gt(nogc_rows(pairs, rel_scores, obj_scores), classes, boxes,
                                gt_rels, gt_classes, gt_boxes, iou_threshold)
        gt_pairs = {(s, o) for s, o, _ in gt_rels}
        matches_on_gt_pairs = [m for (s, o, _), m in zip(rows, matches) if (s, o) in gt_pairs]
        triplets = [(gt_classes[s], gt_classes[o], p) for s, o, p in gt_rels]
        for k in ks:
            hit, hit_ng = union_first(matches, k), union_first(matches_ng, k)
            recall[k].append(len(hit) / len(gt_rels))
            recall_ng[k].append(len(hit_ng) / len(gt_rels))
            if mode != "sgdet":
                acc_hit[k].append(float(len(union_first(matches_on_gt_pairs, k))))
                acc_count[k].append(float(len(gt_rels)))
            for store, hits in ((per_class, hit), (per_class_ng, hit_ng)):
                for c in range(1, num_predicates):
                    rows_c = [g for g, (_, _, p) in enumerate(gt_rels) if p == c]
                    if rows_c:
                        store[k][c].append(len([g for g in rows_c if g in hits]) / len(rows_c))
            for key, member in groups.items():
                rows_g = [g for g, t in enumerate(triplets) if member(*t)]
                if rows_g:
                    group_recall[key]["R"][k].append(len(set(rows_g) & hit) / len(rows_g))
                    group_recall[key]["ngR"][k].append(len(set(rows_g) & hit_ng) / len(rows_g))

    def mean_or_none(values):
        return float(np.mean(values)) if values else None

    def class_means(store, k):
        return [float(np.mean(v)) if v else 0.0 for v in store[k][1:]]

    def mean_recall(store, k):
        total = 0.0
        for value in class_means(store, k):
            total += value
        return total / (num_predicates - 1)

    key = str
    return {
        "R": {key(k): mean_or_none(recall[k]) for k in ks},
        "ngR": {key(k): mean_or_none(recall_ng[k]) for k in ks},
        "mR": {key(k): mean_recall(per_class, k) for k in ks},
        "ng-mR": {key(k): mean_recall(per_class_ng, k) for k in ks},
        "A": None if mode == "sgdet" else {
            key(k): (float(np.mean(acc_hit[k]) / np.mean(acc_count[k])) if acc_hit[k] else None)
            for k in ks
        },
        "per_predicate": {"R": {key(k): class_means(per_class, k) for k in ks},
                          "ngR": {key(k): class_means(per_class_ng, k) for k in ks}},
        "groups": {
            g: {"R": {key(k): mean_or_none(v["R"][k]) for k in ks},
                "ngR": {key(k): mean_or_none(v["ngR"][k]) for k in ks},
                "num_images": len(v["R"][ks[0]])}
            for g, v in group_recall.items()
        },
    }
