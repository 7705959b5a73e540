"""The decoding benchmark (tools/benchmark_decoding.py): its synthetic head output and what
each variant's row counts, checked against an independent count of the fillers."""

import json
import sys
from pathlib import Path

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, ROI_DIM, make_model

from maskrcnn_benchmark.modeling.energy import EnergyDecoder
from maskrcnn_benchmark.modeling.energy.decode_benchmark import (
    measure_decoding,
    synthetic_head_output,
)
from maskrcnn_benchmark.structures.scene_graph import SGGTask

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import benchmark_decoding  # noqa: E402


def _output(batch=2, boxes=4, relations=3):
    return synthetic_head_output(batch, boxes, relations, num_obj_classes=NUM_OBJ,
                                 num_rel_classes=NUM_REL, roi_feature_dim=ROI_DIM, seed=3)


def _decoder(filler_top_k, weight=0.0, rescore=False):
    return EnergyDecoder(task=SGGTask.PREDCLS, num_obj_classes=NUM_OBJ, weight=weight,
                         rounds=10, top_predicates=3, candidates=8, later_nms_thresh=0.3,
                         filler_top_k=filler_top_k, filler_rescore=rescore)


def test_synthetic_output_scores_all_ordered_pairs_and_few_relations():
    output = _output(batch=3, boxes=5, relations=4)
    assert [len(p) for p in output.rel_pair_idxs] == [20, 20, 20]
    pairs = output.rel_pair_idxs[0]
    assert len({tuple(p) for p in pairs.tolist()}) == 20
    assert bool((pairs[:, 0] != pairs[:, 1]).all())
    for logits, proposal, refine in zip(output.relation_logits, output.proposals,
                                        output.refine_logits):
        # 16 pairs have a background logit 4 above random logits: background is their argmax
        # unless a foreground logit beats it by chance; at most the 4 others are relations
        foreground = int((logits.argmax(dim=1) > 0).sum())
        assert 1 <= foreground <= 4
        assert torch.equal(refine.argmax(dim=1), proposal.get_field("labels"))
        assert bool((proposal.get_field("labels") > 0).all())
    assert output.roi_features.shape == (15, ROI_DIM)
    with pytest.raises(ValueError, match="0..5 x 4 relations"):
        _output(boxes=5, relations=21)


def _fillers_by_hand(output, k):
    """Background-argmax pairs among each image's top k by best foreground probability (the
    PredCls object scores are all 1)."""
    total = 0
    for logits in output.relation_logits:
        probs = torch.softmax(logits, dim=1)
        top = probs[:, 1:].max(dim=1).values.argsort(descending=True)[:k]
        total += int((logits[top].argmax(dim=1) == 0).sum())
    return total


def test_rows_count_one_call_of_each_variant_and_leave_the_input_alone():
    output = _output()
    before = [t.clone() for t in output.relation_logits]
    decoders = {"plain": _decoder(0), "top 5": _decoder(5), "all": _decoder(12),
                "rescored": _decoder(5, rescore=True)}
    rows = measure_decoding(make_model(), decoders, output, repeats=3)
    assert [r.variant for r in rows] == list(decoders)
    by_name = {r.variant: r for r in rows}
    # weight 0: the head's argmax already maximises J, nothing moves
    assert all(r.moved == 0 and r.images == 2 and r.pairs == 24 and r.repeats == 3
               for r in rows)
    assert by_name["plain"].fillers == 0
    assert by_name["top 5"].fillers == by_name["rescored"].fillers == _fillers_by_hand(output, 5)
    assert by_name["all"].fillers == _fillers_by_hand(output, 12) > by_name["top 5"].fillers
    assert all(r.seconds > 0 for r in rows)
    assert all(torch.equal(a, b) for a, b in zip(before, output.relation_logits))
    # counts are per call: one repeat gives the same rows' counts
    again = measure_decoding(make_model(), {"top 5": _decoder(5)}, output, repeats=1)
    assert again[0].fillers == by_name["top 5"].fillers
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        measure_decoding(make_model(), decoders, output, repeats=0)


def test_tool_prints_one_row_per_variant(capsys, tmp_path):
    rows_file = tmp_path / "rows.json"
    benchmark_decoding.main(["--batch-size", "2", "--boxes", "4", "--relations", "3",
                             "--repeats", "1", "--json", str(rows_file),
                             "MODEL.ROI_RELATION_HEAD.EBM.REL_LABEL_EMBED_DIM", "8",
                             "MODEL.ROI_RELATION_HEAD.EBM.OBJ_LABEL_EMBED_DIM", "8"])
    out = capsys.readouterr().out
    assert out.count("\n| ") == 1 + len(benchmark_decoding.VARIANTS)
    rows = json.loads(rows_file.read_text())
    assert [r["variant"] for r in rows] == list(benchmark_decoding.VARIANTS)
    assert rows[0]["ratio"] == 1.0 and rows[0]["fillers"] == 0
    # 4 boxes: 12 pairs, so the top 20 and the top 40 list the same fillers
    assert rows[1]["fillers"] == rows[2]["fillers"] == rows[3]["fillers"] > 0
