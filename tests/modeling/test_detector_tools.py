"""tools/detector_pretrain_net.py and tools/detector_test_net.py on the synthetic `tiny` preset:
checkpoints, resume, validation and the final mAP report (a few iterations only)."""

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "detector" / "synthetic_R18_FPN.yaml"


def _run_tool(name: str, monkeypatch, *opts: str) -> None:
    monkeypatch.setattr(sys, "argv", [name, "--config-file", str(CONFIG), *opts])
    runpy.run_path(str(REPO / "tools" / name), run_name="__main__")


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    # 12 images of the tiny preset: 8 train, 2 val, 2 test
    generate_dataset(str(tmp_path / "synthetic_vg_tiny"), "tiny", seed=0, workers=1,
                     num_images=12)
    common = [
        "DATASETS.DATA_DIR", str(tmp_path), "DATASETS.TRAIN", "('synthetic_vg_tiny_train',)",
        "DATASETS.VAL", "('synthetic_vg_tiny_val',)", "DATASETS.TEST",
        "('synthetic_vg_tiny_test',)", "DATASETS.NUM_VAL_IM", "2",
        "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN", "128",
        "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "128",
        "DATALOADER.NUM_WORKERS", "0", "SOLVER.IMS_PER_BATCH", "2", "TEST.IMS_PER_BATCH", "2",
        "SOLVER.WARMUP_ITERS", "1", "SOLVER.STEPS", "(100,)", "SOLVER.CHECKPOINT_PERIOD", "2",
        "SOLVER.VAL_PERIOD", "2", "SOLVER.LOG_PERIOD", "1",
        "MODEL.ROI_HEADS.SCORE_THRESH", "0.0",  # a few iterations: keep low-score detections
        "MODEL.RPN.PRE_NMS_TOP_N_TRAIN", "200", "MODEL.RPN.POST_NMS_TOP_N_TRAIN", "50",
        "MODEL.RPN.FPN_POST_NMS_TOP_N_TRAIN", "50", "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    ]
    return tmp_path, common


def _report(output_dir: Path) -> dict:
    path = output_dir / "inference" / "synthetic_vg_tiny_test" / "detection_results.json"
    return json.loads(path.read_text())


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
    report = _report(out)
    assert report["dataset"] == "synthetic_vg_tiny_test" and 0.0 <= report["mAP@0.5"] <= 1.0
    assert len(report["coco_stats"]) == 12
    assert "Validation at iteration 2: score" in (out / "log.txt").read_text()

    # Rerunning with a longer schedule resumes at iteration 3 instead of starting over.
    _run_tool("detector_pretrain_net.py", monkeypatch, *common, "OUTPUT_DIR", str(out),
              "SOLVER.MAX_ITER", "4", "SOLVER.VAL_PERIOD", "0")
    assert _checkpoint_iteration(out / "model_final.pth") == 4
    assert "Starting training from iteration 3 to 4" in (out / "log.txt").read_text()

    # The test tool evaluates the trained weights given by MODEL.WEIGHT in a fresh folder.
    test_out = root / "test_out"
    _run_tool("detector_test_net.py", monkeypatch, *common, "OUTPUT_DIR", str(test_out),
              "MODEL.WEIGHT", str(out / "model_final.pth"))
    assert _report(test_out)["mAP@0.5"] == _report(out)["mAP@0.5"]


def test_test_tool_without_weights_is_an_error(tiny_run, monkeypatch):
    root, common = tiny_run
    with pytest.raises(SystemExit, match="MODEL.WEIGHT"):
        _run_tool("detector_test_net.py", monkeypatch, *common, "OUTPUT_DIR", str(root / "x"))
