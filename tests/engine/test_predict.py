"""Scene graphs of one's own images: tools/predict.py and relation_test_net's TEST.CUSTUM_EVAL.

A tiny randomly initialised quickstart model (SGDet and PredCls) runs on a folder with a PNG,
an RGBA PNG, a greyscale JPEG, an EXIF-rotated JPEG, a text file named .jpg and an empty file.
"""

import json
import logging
import runpy
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import OBJECT_CLASSES, PREDICATES
from maskrcnn_benchmark.data.transforms.transforms import Resize
from maskrcnn_benchmark.engine.predict import predict_images, split_config_overrides
from maskrcnn_benchmark.engine.predict_model import class_names_statistics
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.structures.bounding_box import BoxList
from tests.data.custom_image_files import BAD_FILES, UPRIGHT_SIZES, write_image_folder

REPO = Path(__file__).resolve().parents[2]
CONFIGS = {task: REPO / "configs" / "quickstart" / f"motifs_{task}.yaml"
           for task in ("sgdet", "predcls")}
SGB_IMAGE_KEYS = ["bbox", "bbox_labels", "bbox_scores", "rel_pairs", "rel_labels", "rel_scores",
                  "rel_all_scores"]
SGB_INFO_KEYS = ["idx_to_files", "ind_to_classes", "ind_to_predicates"]


def _small(root: Path) -> list[str]:
    return [
        "DATASETS.DATA_DIR", str(root), "DATASETS.TRAIN", "('synthetic_vg_tiny_train',)",
        "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "128", "GLOVE_DIR", "",
        "MODEL.PRETRAINED_DETECTOR_CKPT", "", "MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM", "64",
        "MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM", "32",
        "MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM", "64",
        "MODEL.ROI_HEADS.SCORE_THRESH", "0.0", "MODEL.ROI_HEADS.DETECTIONS_PER_IMG", "6",
        "TEST.IMS_PER_BATCH", "2",
    ]


def _cfg(task: str, root: Path, *extra: str):
    cfg = get_cfg()
    cfg.merge_from_file(str(CONFIGS[task]))
    cfg.merge_from_list([*_small(root), *extra])
    return cfg


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Class names (the training dicts json only), random checkpoints and the image folder."""
    base = tmp_path_factory.mktemp("predict")
    root = base / "data"
    (root / "synthetic_vg_tiny").mkdir(parents=True)
    (root / "synthetic_vg_tiny" / "VG-SGG-dicts-with-attri.json").write_text(json.dumps({
        "label_to_idx": {n: i + 1 for i, n in enumerate(OBJECT_CLASSES)},
        "predicate_to_idx": {n: i + 1 for i, n in enumerate(PREDICATES)}}))
    weights = {}
    for task in CONFIGS:
        cfg = _cfg(task, root)
        torch.manual_seed(1)
        model = build_detection_model(cfg, class_names_statistics(cfg))
        weights[task] = base / f"{task}.pth"
        torch.save({"model": model.state_dict(), "iteration": 0}, weights[task])
    return {"root": root, "weights": weights, "images": write_image_folder(base / "images")}


@pytest.fixture(autouse=True)
def _restore_package_logger():
    """The tools reconfigure the package logger; give it back as it was."""
    log = logging.getLogger("maskrcnn_benchmark")
    state = (list(log.handlers), log.propagate, log.level)
    yield
    log.handlers[:], log.propagate, log.level = state[0], state[1], state[2]


def _run_tool(monkeypatch, tool: str, *argv: str) -> None:
    monkeypatch.setattr(sys, "argv", [tool, *argv])
    runpy.run_path(str(REPO / "tools" / tool), run_name="__main__")


def _predict(monkeypatch, setup, out: Path, *extra: str, task="sgdet", inputs=None,
             extra_args=()) -> None:
    _run_tool(monkeypatch, "predict.py", "--config-file", str(CONFIGS[task]), "--weights",
              str(setup["weights"][task]), "--input", *(inputs or [str(setup["images"])]),
              "--output", str(out), "--no-progress", *extra_args, *_small(setup["root"]), *extra)


def _load(out: Path) -> tuple[dict, dict]:
    return (json.loads((out / "custom_data_info.json").read_text()),
            json.loads((out / "custom_prediction.json").read_text()))


def _check_sgb_image_entry(entry: dict, num_predicates: int) -> None:
    assert list(entry) == SGB_IMAGE_KEYS
    scores = entry["bbox_scores"]
    assert scores == sorted(scores, reverse=True)
    assert len(entry["bbox"]) == len(entry["bbox_labels"]) == len(scores) > 1
    assert all(isinstance(v, int) and v > 0 for v in entry["bbox_labels"])
    n = len(scores)
    pairs = [tuple(p) for p in entry["rel_pairs"]]
    assert all(isinstance(i, int) and 0 <= i < n for p in pairs for i in p)
    assert len(set(pairs)) == len(pairs) and all(s != o for s, o in pairs)
    assert entry["rel_scores"] == sorted(entry["rel_scores"], reverse=True)
    for label, score, row in zip(entry["rel_labels"], entry["rel_scores"],
                                 entry["rel_all_scores"]):
        assert len(row) == num_predicates and abs(sum(row) - 1) < 1e-4
        best = max(range(1, num_predicates), key=lambda k: row[k])
        assert label == best and score == row[best]


def test_predict_sgdet_folder_skips_bad_files_and_writes_sgb_files(setup, tmp_path, monkeypatch,
                                                                   capsys):
    out = tmp_path / "out"
    _predict(monkeypatch, setup, out)
    info, prediction = _load(out)
    names = sorted(UPRIGHT_SIZES)
    assert list(info)[:3] == SGB_INFO_KEYS
    assert [p.rsplit("/", 1)[-1] for p in info["idx_to_files"]] == names
    assert info["ind_to_classes"] == ["__background__", *OBJECT_CLASSES]
    assert info["ind_to_predicates"] == ["__background__", *PREDICATES]
    assert info["box_frame"] == "image"
    assert info["idx_to_image_size"] == [list(UPRIGHT_SIZES[n]) for n in names]
    assert info["idx_to_image_size"][names.index("d_rotated.jpg")] == [100, 160]
    assert sorted(s["file"].rsplit("/", 1)[-1] for s in info["skipped"]) == sorted(BAD_FILES)
    assert list(prediction) == ["0", "1", "2", "3"]  # json.dump of SGB's int keys
    for key, name in zip(prediction, names):
        entry = prediction[key]
        _check_sgb_image_entry(entry, len(PREDICATES) + 1)
        width, height = UPRIGHT_SIZES[name]
        for x1, y1, x2, y2 in entry["bbox"]:
            assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height
    logged = capsys.readouterr().out
    for bad in BAD_FILES:  # one warning per unreadable file, and the summary
        assert logged.count(f"Skipping {setup['images'] / bad}") == 1
    assert "for 4 of 6 files" in logged and "Skipped 2 unreadable file(s)" in logged


def test_relation_test_net_custom_eval_is_sgb_frame_and_matches_predict(setup, tmp_path,
                                                                       monkeypatch):
    sgb_out = tmp_path / "sgb"
    _run_tool(monkeypatch, "relation_test_net.py", "--config-file", str(CONFIGS["sgdet"]),
              *_small(setup["root"]), "MODEL.WEIGHT", str(setup["weights"]["sgdet"]),
              "OUTPUT_DIR", str(tmp_path / "run"), "TEST.CUSTUM_EVAL", "True",
              "TEST.CUSTUM_PATH", str(setup["images"]), "DETECTED_SGG_DIR", str(sgb_out))
    info, prediction = _load(sgb_out)
    assert info["box_frame"] == "input"
    resize = Resize(96, 128)
    for i, (width, height) in enumerate(info["idx_to_image_size"]):
        in_h, in_w = resize.get_size((width, height))
        assert info["idx_to_input_size"][i] == [in_w, in_h]
        for box in prediction[str(i)]["bbox"]:
            assert box[2] <= in_w and box[3] <= in_h
    # tools/predict.py in SGB's frame writes the same file; in image pixels, scaled boxes
    _predict(monkeypatch, setup, tmp_path / "input_frame", "--box-frame", "input")
    assert (tmp_path / "input_frame" / "custom_prediction.json").read_text() == (
        sgb_out / "custom_prediction.json").read_text()
    # same batches as above (padding enters the features): --batch-size beats the config key
    _predict(monkeypatch, setup, tmp_path / "image_frame", "TEST.IMS_PER_BATCH", "1",
             "--batch-size", "2")
    image_info, image_prediction = _load(tmp_path / "image_frame")
    for key, entry in prediction.items():
        (w, h), (in_w, in_h) = info["idx_to_image_size"][int(key)], info[
            "idx_to_input_size"][int(key)]
        scale = torch.tensor([w / in_w, h / in_h, w / in_w, h / in_h])
        expected = torch.tensor(entry["bbox"]) * scale
        assert torch.allclose(torch.tensor(image_prediction[key]["bbox"]), expected, atol=1e-3)
        assert image_prediction[key]["rel_pairs"] == entry["rel_pairs"]


def test_predcls_scores_the_given_boxes_and_labels(setup, tmp_path, monkeypatch):
    given = {
        "a_rgb.png": [{"box": [50, 40, 120, 110], "label": "bike"},
                      {"box": [0, 0, 199.5, 149], "label": 3},
                      {"box": [10, 100, 60, 140], "label": "man"}],
        "d_rotated.jpg": [{"box": [70, 0, 100, 30], "label": "hat"},
                          {"box": [0, 40, 100, 160], "label": "shirt"}],
    }
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(given))
    images = setup["images"]
    out = tmp_path / "out"
    _predict(monkeypatch, setup, out, "--boxes", str(boxes), task="predcls",
             inputs=[str(images / "a_rgb.png"), str(images / "d_rotated.jpg")],
             extra_args=("--visualize", "1", "--top-k", "3"))
    info, prediction = _load(out)
    # --visualize 1: the first image's picture only, the image beside its graph diagram
    assert sorted(p.name for p in (out / "pictures").iterdir()) == ["00000_a_rgb.png"]
    with Image.open(out / "pictures" / "00000_a_rgb.png") as picture:
        assert picture.width > 2 * 200 and picture.height > 150
    classes = info["ind_to_classes"]
    for key, name in (("0", "a_rgb.png"), ("1", "d_rotated.jpg")):
        entry = prediction[key]
        expected_labels = [b["label"] if isinstance(b["label"], int) else
                           classes.index(b["label"]) for b in given[name]]
        assert entry["bbox"] == [[float(v) for v in b["box"]] for b in given[name]]
        assert entry["bbox_labels"] == expected_labels
        assert entry["bbox_scores"] == [1.0] * len(given[name])
        n = len(given[name])  # every ordered pair is scored (REQUIRE_OVERLAP False)
        assert sorted(map(tuple, entry["rel_pairs"])) == [
            (s, o) for s in range(n) for o in range(n) if s != o]
        _check_sgb_image_entry(entry, len(PREDICATES) + 1)
    assert info["idx_to_image_size"] == [[200, 150], [100, 160]]


def _sgb_reference_entry(prediction: BoxList) -> dict:
    """SGB's custom_sgg_post_precessing written out by hand for a tie-free prediction."""
    scores = prediction.get_field("pred_scores").tolist()
    box_order = sorted(range(len(scores)), key=lambda i: -scores[i])
    rank = {old: new for new, old in enumerate(box_order)}
    rel = prediction.get_field("pred_rel_scores")
    best = [max(row[1:]) for row in rel.tolist()]
    rel_order = sorted(range(len(best)), key=lambda i: -best[i])
    pairs = prediction.get_field("rel_pair_idxs").tolist()
    return {
        "bbox": [prediction.bbox[i].tolist() for i in box_order],
        "bbox_labels": [int(prediction.get_field("pred_labels")[i]) for i in box_order],
        "bbox_scores": [scores[i] for i in box_order],
        "rel_pairs": [[rank[pairs[i][0]], rank[pairs[i][1]]] for i in rel_order],
        "rel_labels": [rel[i, 1:].argmax().item() + 1 for i in rel_order],
        "rel_scores": [best[i] for i in rel_order],
        "rel_all_scores": [rel[i].tolist() for i in rel_order],
    }


def test_sgb_entry_sorting_and_pair_remapping_by_hand(tmp_path):
    from maskrcnn_benchmark.engine.sgb_custom_output import (
        custom_data_info,
        sgb_prediction_entry,
        sgb_prediction_tensors,
        write_custom_outputs,
    )

    prediction = BoxList(torch.tensor([[0, 0, 5, 5], [1, 1, 9, 9], [2, 2, 4, 8.]]), (10, 10))
    prediction.add_field("pred_scores", torch.tensor([0.2, 0.9, 0.5]))
    prediction.add_field("pred_labels", torch.tensor([3, 1, 2]))
    prediction.add_field("rel_pair_idxs", torch.tensor([[0, 1], [1, 2], [2, 0]]))
    prediction.add_field("pred_rel_scores", torch.tensor(
        [[0.5, 0.1, 0.4], [0.1, 0.8, 0.1], [0.3, 0.2, 0.5]]))
    entry = sgb_prediction_entry(prediction)
    assert entry == _sgb_reference_entry(prediction)
    assert entry["bbox_labels"] == [1, 2, 3]
    assert entry["rel_pairs"] == [[0, 1], [1, 2], [2, 0]]  # pair (1,2) -> sorted boxes (0,1)
    assert entry["rel_labels"] == [1, 2, 2]
    # streamed one image at a time, the file is byte for byte SGB's json.dump of the dict
    info = custom_data_info(["a.jpg", "b.jpg"], ["__background__", "x", "y", "z"],
                            ["__background__", "on", "near"], [(10, 10)] * 2, [(10, 10)] * 2,
                            "image")
    write_custom_outputs(str(tmp_path), info, {"0": sgb_prediction_tensors(prediction),
                                               "1": entry})
    assert (tmp_path / "custom_prediction.json").read_text() == json.dumps({"0": entry,
                                                                          "1": entry})
    # an image with fewer than two boxes: the head's placeholder pair (0, 0) is no relation
    single = prediction[[1]]
    single.add_field("rel_pair_idxs", torch.zeros(1, 2, dtype=torch.int64))
    single.add_field("pred_rel_scores", torch.tensor([[0.2, 0.5, 0.3]]))
    entry = sgb_prediction_entry(single)
    assert entry["bbox"] == [[1, 1, 9, 9]] and entry["bbox_labels"] == [1]
    assert entry["rel_pairs"] == entry["rel_labels"] == entry["rel_all_scores"] == []
    prediction.add_field("pred_scores", torch.tensor([0.2, float("nan"), 0.5]))
    with pytest.raises(ValueError, match="non-finite object scores for x.jpg"):
        sgb_prediction_entry(prediction, name="x.jpg")


def test_unreadable_files_warn_once_and_all_bad_writes_nothing(setup, tmp_path, caplog):
    cfg = _cfg("sgdet", setup["root"])
    stats = class_names_statistics(cfg)
    model = build_detection_model(cfg, stats).eval()
    files = [str(setup["images"] / n) for n in ("a_rgb.png", *BAD_FILES)]
    caplog.set_level(logging.WARNING, logger="maskrcnn_benchmark")
    logging.getLogger("maskrcnn_benchmark").propagate = True
    summary = predict_images(cfg, model, files, str(tmp_path), stats.obj_classes,
                             stats.rel_classes, batch_size=2, progress=False)
    assert summary.num_files == 3 and summary.num_predicted == 1
    assert [p for p, _ in summary.skipped] == files[1:]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(warnings) == sorted(f"Skipping {f}: {r}" for f, r in summary.skipped)
    before = (tmp_path / "custom_prediction.json").read_bytes()
    with pytest.raises(ValueError, match="None of the 2 input files"):
        predict_images(cfg, model, files[1:], str(tmp_path), stats.obj_classes,
                       stats.rel_classes, progress=False)
    assert (tmp_path / "custom_prediction.json").read_bytes() == before  # earlier run kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["custom_data_info.json",
                                                          "custom_prediction.json"]


def test_empty_input_and_missing_checkpoint_stop_with_one_error(setup, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match=r"No files found in .*empty"):
        _predict(monkeypatch, setup, tmp_path / "out", inputs=[str(tmp_path / "empty")])
    with pytest.raises(SystemExit, match=r"No files found in .*\*\.webp"):
        _predict(monkeypatch, setup, tmp_path / "out",
                 inputs=[str(setup["images"] / "*.webp")])
    missing = tmp_path / "nope.pth"
    with pytest.raises(SystemExit, match=f"Checkpoint file not found: {missing}"):
        _run_tool(monkeypatch, "predict.py", "--config-file", str(CONFIGS["sgdet"]),
                  "--weights", str(missing), "--input", str(setup["images"]), "--output",
                  str(tmp_path / "out"), *_small(setup["root"]))


@pytest.mark.parametrize("key, rows, message", [
    ("roi_heads.box.predictor.cls_score.weight", 40,
     r"40 object classes .* MODEL\.ROI_BOX_HEAD\.NUM_CLASSES 35\. .* set "
     r"MODEL\.ROI_BOX_HEAD\.NUM_CLASSES 40"),
    ("roi_heads.relation.predictor.rel_compress.weight", 30,
     r"30 predicate classes .* MODEL\.ROI_RELATION_HEAD\.NUM_CLASSES 22\. .* set "
     r"MODEL\.ROI_RELATION_HEAD\.NUM_CLASSES 30"),
])
def test_class_count_mismatch_names_file_numbers_and_key(setup, tmp_path, monkeypatch, key,
                                                         rows, message):
    state = torch.load(setup["weights"]["sgdet"], weights_only=True)["model"]
    state[key] = torch.zeros(rows, state[key].shape[1])
    bad = tmp_path / "other_classes.pth"
    torch.save({"model": state}, bad)
    with pytest.raises(SystemExit, match=f"Checkpoint {bad} was trained with {message}"):
        _run_tool(monkeypatch, "predict.py", "--config-file", str(CONFIGS["sgdet"]),
                  "--weights", str(bad), "--input", str(setup["images"]), "--output",
                  str(tmp_path / "out"), *_small(setup["root"]))


def test_task_and_input_mismatches_are_explained(setup, tmp_path, monkeypatch):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a_rgb.png": [{"box": [1, 1, 20, 20], "label": 1}]}))
    with pytest.raises(SystemExit, match="config is SGDet .*ROI_RELATION_HEAD.USE_GT_BOX True"):
        _predict(monkeypatch, setup, tmp_path / "out", "--boxes", str(boxes))
    with pytest.raises(SystemExit, match="predcls .* pass --boxes boxes.json"):
        _predict(monkeypatch, setup, tmp_path / "out", task="predcls")
    with pytest.raises(SystemExit, match=r"no boxes for 2 of 3 input images: .*b_rgba\.png"):
        _predict(monkeypatch, setup, tmp_path / "out", "--boxes", str(boxes), task="predcls",
                 inputs=[str(setup["images"] / "*.png")])
    with pytest.raises(ValueError, match="TEST.CUSTUM_EVAL runs SGDet models"):
        _run_tool(monkeypatch, "relation_test_net.py", "--config-file", str(CONFIGS["predcls"]),
                  *_small(setup["root"]), "OUTPUT_DIR", str(tmp_path / "run"),
                  "TEST.CUSTUM_EVAL", "True", "TEST.CUSTUM_PATH", str(setup["images"]))
    with pytest.raises(ValueError, match="TEST.CUSTUM_PATH is empty"):
        _run_tool(monkeypatch, "relation_test_net.py", "--config-file", str(CONFIGS["sgdet"]),
                  *_small(setup["root"]), "OUTPUT_DIR", str(tmp_path / "run"),
                  "TEST.CUSTUM_EVAL", "True")


def test_missing_class_names_file_is_explained(setup, tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match=r"Class names file .*synthetic_vg_tiny/VG-SGG-dicts"
                                         r"-with-attri\.json \(the dicts json of DATASETS"):
        _predict(monkeypatch, setup, tmp_path / "out", "DATASETS.DATA_DIR",
                 str(tmp_path / "elsewhere"))


def test_overrides_after_a_shell_expanded_glob_are_separated():
    inputs, opts = split_config_overrides(["a.jpg", "b.png", "MODEL.DEVICE", "cpu",
                                           "TEST.IMS_PER_BATCH", "4", "c.jpg"])
    assert inputs == ["a.jpg", "b.png", "c.jpg"]
    assert opts == ["MODEL.DEVICE", "cpu", "TEST.IMS_PER_BATCH", "4"]
