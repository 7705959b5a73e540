"""tools/detector_pretrain_net.py and tools/detector_test_net.py on a tiny generated data set:
checkpoints, resume, validation and the final mAP report (a few iterations only)."""

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maskrcnn_benchmark.data.datasets.vg_format import IMAGE_DIR_NAME, VGImageRecord, write_vg_files

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "detector" / "synthetic_R18_FPN.yaml"
COLOURS = {1: (220, 40, 40), 2: (40, 200, 60), 3: (40, 60, 220)}


def _write_dataset(root: Path) -> None:
    rng = np.random.RandomState(0)
    folder = root / "tinydet"
    (folder / IMAGE_DIR_NAME).mkdir(parents=True)
    records = []
    for image_id in range(1, 13):
        pixels = np.full((64, 80, 3), 128, dtype=np.uint8)
        boxes, labels = [], []
        for label in (1, 2, 3)[: 1 + image_id % 3]:
            x, y = rng.randint(0, 50), rng.randint(0, 34)
            w, h = rng.randint(12, 30), rng.randint(12, 30)
            x2, y2 = min(x + w, 79), min(y + h, 63)
            pixels[y:y2 + 1, x:x2 + 1] = COLOURS[label]
            boxes.append([x, y, x2, y2])
            labels.append(label)
        Image.fromarray(pixels).save(folder / IMAGE_DIR_NAME / f"{image_id}.jpg", quality=95)
        relations = np.array([[0, 1, 1]]) if len(labels) > 1 else np.zeros((0, 3))
        records.append(VGImageRecord(image_id=image_id, width=80, height=64,
                                     boxes=np.array(boxes, dtype=np.float64),
                                     labels=np.array(labels), relations=relations,
                                     split=2 if image_id > 8 else 0))
    write_vg_files(str(folder), records, ["red", "green", "blue"], ["near"])


def _run_tool(name: str, monkeypatch, *opts: str) -> None:
    monkeypatch.setattr(sys, "argv", [name, "--config-file", str(CONFIG), *opts])
    runpy.run_path(str(REPO / "tools" / name), run_name="__main__")


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    _write_dataset(tmp_path)
    common = [
        "DATASETS.DATA_DIR", str(tmp_path), "DATASETS.TRAIN", "('tinydet_train',)",
        "DATASETS.VAL", "('tinydet_val',)", "DATASETS.TEST", "('tinydet_test',)",
        "DATASETS.NUM_VAL_IM", "2", "MODEL.ROI_BOX_HEAD.NUM_CLASSES", "4",
        "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "80",
        "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "80",
        "DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "2", "TEST.IMS_PER_BATCH", "2",
        "SOLVER.WARMUP_ITERS", "1", "SOLVER.STEPS", "(100,)", "SOLVER.CHECKPOINT_PERIOD", "2",
        "SOLVER.VAL_PERIOD", "2", "SOLVER.LOG_PERIOD", "1",
        "MODEL.ROI_HEADS.SCORE_THRESH", "0.0",  # a few iterations: keep low-score detections
    ]
    return tmp_path, common


def _checkpoint_iteration(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])


def test_pretrain_checkpoints_resumes_and_reports_map(tiny_run, monkeypatch):
    root, common = tiny_run
    out = root / "out"
    _run_tool("detector_pretrain_net.py", monkeypatch, *common, "OUTPUT_DIR", str(out),
              "SOLVER.MAX_ITER", "3")
    assert (out / "model_0000002.pth").is_file() and (out / "last_checkpoint").read_text() == \
        "model_final.pth"
    assert _checkpoint_iteration(out / "model_final.pth") == 3
    report = json.loads((out / "inference" / "tinydet_test" / "detection_results.json")
                        .read_text())
    assert report["dataset"] == "tinydet_test" and 0.0 <= report["mAP@0.5"] <= 1.0
    assert len(report["coco_stats"]) == 12

    # Rerunning with a longer schedule resumes at iteration 3 instead of starting over.
    _run_tool("detector_pretrain_net.py", monkeypatch, *common, "OUTPUT_DIR", str(out),
              "SOLVER.MAX_ITER", "5")
    assert _checkpoint_iteration(out / "model_final.pth") == 5
    assert _checkpoint_iteration(out / "model_0000004.pth") == 4
    assert "Starting training from iteration 3 to 5" in (out / "log.txt").read_text()

    # The test tool evaluates the trained weights given by MODEL.WEIGHT in a fresh folder.
    test_out = root / "test_out"
    _run_tool("detector_test_net.py", monkeypatch, *common, "OUTPUT_DIR", str(test_out),
              "MODEL.WEIGHT", str(out / "model_final.pth"))
    again = json.loads((test_out / "inference" / "tinydet_test" / "detection_results.json")
                       .read_text())
    trained = json.loads((out / "inference" / "tinydet_test" / "detection_results.json")
                         .read_text())
    assert again["mAP@0.5"] == trained["mAP@0.5"]


def test_test_tool_without_weights_is_an_error(tiny_run, monkeypatch):
    root, common = tiny_run
    with pytest.raises(SystemExit, match="MODEL.WEIGHT"):
        _run_tool("detector_test_net.py", monkeypatch, *common, "OUTPUT_DIR", str(root / "x"))
