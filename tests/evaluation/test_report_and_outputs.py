"""The printed block (SGB's labels and order) and the files a test run writes."""

import json

import numpy as np
import pytest
import torch
from eval_fakes import FakeDataset, FakeStatistics, gt_image, prediction, rel_score_rows

from maskrcnn_benchmark.evaluation import (
    SGGEvalSettings,
    SGGEvaluator,
    SGGMode,
    few_shot_bin_group,
    load_predictions,
    plot_per_predicate_recall,
    save_eval_results,
    save_predictions,
    save_visualization,
    zero_shot_group,
)

B0, B1 = [0, 0, 9, 9], [20, 20, 29, 29]


def run(mode=SGGMode.PREDCLS):
    # R = 1/2 (pair (0,1) rel3 hits, (1,0) argmax rel4 misses rel2); ng gets both: 1.
    # Zero-shot (reference set): row (2,1,rel2) -> zR 0, ng-zR 1. No train counts are 1-5.
    dataset = FakeDataset([gt_image([B0, B1], [1, 2], [[0, 1, 3], [1, 0, 2]])])
    pred = prediction([B0, B1], [1, 2], [1, 1], [[0, 1], [1, 0]],
                      rel_score_rows([{3: 0.6}, {4: 0.5, 2: 0.3}]))
    groups = [zero_shot_group(np.array([[2, 1, 2]])), few_shot_bin_group(1, 5)]
    settings = SGGEvalSettings(mode, (20, 50, 100), 0.5, num_predicates=6)
    evaluator = SGGEvaluator(settings, groups, FakeStatistics({}).train_triplet_count)
    return dataset, [pred], evaluator.evaluate(dataset, [pred])


def test_printed_block_has_sgb_lines_in_sgb_order_then_our_extras():
    _, _, output = run()
    lines = output.text.split("\n")
    assert lines[1] == "=" * 100 and lines[2] == "Detection evaluation mAp=1.0000"
    assert lines[4] == ("SGG eval:     R @ 20: 0.5000;     R @ 50: 0.5000;     R @ 100: 0.5000;  "
                        "for mode=predcls, type=Recall(Main).")
    assert lines[5] == ("SGG eval:  ng-R @ 20: 1.0000;  ng-R @ 50: 1.0000;  ng-R @ 100: 1.0000;  "
                        "for mode=predcls, type=No Graph Constraint Recall(Main).")
    labels = [line.split(" @ ")[0] for line in lines if line.startswith("SGG eval:")]
    assert labels == ["SGG eval:     R", "SGG eval:  ng-R", "SGG eval:    zR", "SGG eval: ng-zR",
                      "SGG eval:    mR", "SGG eval: ng-mR", "SGG eval:     A", "SGG eval:   fsR"]
    assert "(rel1:0.0000) (rel2:0.0000) (rel3:1.0000) (rel4:0.0000) (rel5:0.0000) " in lines
    extras = lines[lines.index("SGG-EBM extra metrics (not in SGB's log):"):]
    assert "fsR @ 20: n/a;" in extras[1] and "train count 1-5), 0 images." in extras[1]
    assert extras[2] == "Detection evaluation AP@[.5:.95]=1.0000"
    assert "nan" not in output.text


def test_sgdet_block_has_no_accuracy_line():
    _, _, output = run(SGGMode.SGDET)
    assert "A @" not in output.text and output.metrics["A"] is None


def test_eval_results_json_holds_every_number_and_null_for_undefined(tmp_path):
    _, _, output = run()
    path = tmp_path / "inference" / "VG_test" / "eval_results.json"
    save_eval_results(str(path), output.metrics)
    saved = json.loads(path.read_text())
    assert saved["R"] == {"20": 0.5, "50": 0.5, "100": 0.5}
    assert saved["triplet_groups"]["zero-shot"]["ngR"]["100"] == 1.0
    assert saved["triplet_groups"]["1-5"]["R"]["20"] is None
    assert saved["per_predicate"]["names"] == ["rel1", "rel2", "rel3", "rel4", "rel5"]
    assert saved["detection"]["mAP@0.5"] == pytest.approx(1.0)
    with pytest.raises(ValueError):  # NaN never reaches the file; the old file stays intact
        save_eval_results(str(path), {"R": float("nan")})
    assert json.loads(path.read_text()) == saved
    assert [p.name for p in path.parent.iterdir()] == ["eval_results.json"]


def test_predictions_round_trip_and_reject_another_dataset(tmp_path):
    _, predictions, _ = run()
    path = str(tmp_path / "predictions.pth")
    save_predictions(path, predictions, "VG_test")
    loaded = load_predictions(path, "VG_test", 1)
    for name in ("pred_labels", "pred_scores", "rel_pair_idxs", "pred_rel_scores"):
        assert torch.equal(loaded[0].get_field(name), predictions[0].get_field(name))
    assert torch.equal(loaded[0].bbox, predictions[0].bbox) and loaded[0].size == (100, 100)
    with pytest.raises(ValueError, match="not 'VG_val'"):
        load_predictions(path, "VG_val", 1)
    (tmp_path / "corrupt.pth").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="Cannot read cached predictions"):
        load_predictions(str(tmp_path / "corrupt.pth"), "VG_test", 1)


def test_visualisation_file_and_per_predicate_chart(tmp_path):
    dataset, _, output = run()
    save_visualization(str(tmp_path / "visualization.pth"), output, dataset)
    saved = torch.load(tmp_path / "visualization.pth", weights_only=True)
    image = saved["images"][0]
    assert saved["mode"] == "predcls" and image["file_name"] == "img0.jpg"
    assert image["rel_pairs"].tolist() == [[0, 1], [1, 0]]
    assert image["rel_labels"].tolist() == [3, 4]
    assert image["gt_first_hit"].tolist() == [0, -1]  # row 0 recalled at rank 0, row 1 never
    assert image["gt_first_hit_nogc"].tolist() == [0, 2]
    plot_per_predicate_recall(str(tmp_path / "per_predicate_recall.png"), output.metrics)
    assert (tmp_path / "per_predicate_recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
