"""tools/relation_train_net.py and tools/relation_test_net.py on the synthetic `tiny` preset:
CE and energy training, exact resume, the test tool, and 2-process gloo DDP == 1 process."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "quickstart" / "motifs_predcls.yaml"


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    generate_dataset(str(root / "synthetic_vg_tiny"), "tiny", seed=0, workers=1, num_images=14)
    return root


def _common(root: Path) -> list[str]:
    return [
        "DATASETS.DATA_DIR", str(root), "DATASETS.TRAIN", "('synthetic_vg_tiny_train',)",
        "DATASETS.VAL", "('synthetic_vg_tiny_val',)", "DATASETS.TEST",
        "('synthetic_vg_tiny_test',)", "DATASETS.NUM_VAL_IM", "2",
        "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN", "128",
        "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "128",
        "MODEL.PRETRAINED_DETECTOR_CKPT", "", "GLOVE_DIR", "",
        "MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM", "32",
        "MODEL.ROI_RELATION_HEAD.CONTEXT_DROPOUT_RATE", "0.0",
        "MODEL.ROI_RELATION_HEAD.POSITIVE_FRACTION", "1.0",
        "MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM", "64", "MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM",
        "64", "SOLVER.IMS_PER_BATCH", "4", "TEST.IMS_PER_BATCH", "2", "SOLVER.WARMUP_ITERS", "2",
        "SOLVER.STEPS", "(100,)", "SOLVER.LOG_PERIOD", "1", "SOLVER.VAL_PERIOD", "0",
        "DATALOADER.ASPECT_RATIO_GROUPING", "False", "SAMPLER.ITERS", "3",
    ]


def _train(monkeypatch, root: Path, out: Path, *opts: str, tool="relation_train_net.py") -> None:
    argv = [tool, "--config-file", str(CONFIG), *_common(root), "OUTPUT_DIR", str(out), *opts]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(REPO / "tools" / tool), run_name="__main__")


def _weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def _results(out: Path) -> dict:
    return json.loads((out / "inference" / "synthetic_vg_tiny_test" / "eval_results.json")
                      .read_text())


# The structured energy-based learning of experiments.plans.STRUCTURED_EBM (random parts:
# sampled negatives, hard negatives, the discrete sampler), spectral norm on top.
STRUCTURED = ("MODEL.ENERGY_ON", "True", "ENERGY_MODEL.POSITIVE_GRAPH", "matched",
              "ENERGY_MODEL.NEGATIVE_STATES", "sample", "ENERGY_MODEL.HARD_NEGATIVES.NUM", "2",
              "ENERGY_MODEL.LOSS", "Margin", "ENERGY_MODEL.L2COEFF", "0.01",
              "ENERGY_MODEL.USE_IMAGE_GRAPH", "False", "ENERGY_MODEL.EDGE_DIRECTIONS", "both",
              "ENERGY_MODEL.SPECTRAL_NORM", "True", "SAMPLER.NAME", "GibbsWithGradients",
              "SAMPLER.ITERS", "2", "SAMPLER.GRAD_MODE", "descend")


@pytest.mark.parametrize("task_opts", [
    ("MODEL.ROI_RELATION_HEAD.PREDICTOR", "MotifPredictor"),
    ("MODEL.ENERGY_ON", "True", "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", "False"),
    STRUCTURED + ("MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", "False"),
], ids=["ce_predcls", "ebm_sgcls", "structured_ebm_sgcls"])
def test_resume_is_exact_and_test_tool_reproduces_results(tiny_root, tmp_path, monkeypatch,
                                                          task_opts):
    full, split = tmp_path / "full", tmp_path / "split"
    _train(monkeypatch, tiny_root, full, "SOLVER.MAX_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "2",
           *task_opts)
    _train(monkeypatch, tiny_root, split, "SOLVER.MAX_ITER", "2", "--skip-test", *task_opts)
    assert torch.load(split / "model_final.pth", weights_only=True)["iteration"] == 2
    _train(monkeypatch, tiny_root, split, "SOLVER.MAX_ITER", "4", *task_opts)
    a, b = _weights(full / "model_final.pth"), _weights(split / "model_final.pth")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    relation = [k for k in a if k.startswith("roi_heads.relation.predictor")]
    assert relation and not all(torch.equal(a[k], _weights(full / "model_0000002.pth")[k])
                                for k in relation)  # training moved the weights
    if "MODEL.ENERGY_ON" in task_opts:
        assert any(k.startswith("energy_model.") for k in a)
    first = _results(full)
    (full / "inference" / "synthetic_vg_tiny_test" / "eval_results.json").unlink()
    _train(monkeypatch, tiny_root, full, "SOLVER.MAX_ITER", "4", *task_opts,
           tool="relation_test_net.py")
    again = _results(full)
    assert again["mode"] == ("predcls" if "MotifPredictor" in task_opts else "sgcls")
    for key in ("R", "ngR", "mR", "A", "per_predicate", "triplet_groups", "detection"):
        assert again[key] == first[key], key


def test_test_tool_refuses_a_model_without_weights(tiny_root, tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="No weights"):
        _train(monkeypatch, tiny_root, tmp_path / "empty", tool="relation_test_net.py")


def test_detector_checkpoint_initialises_relation_feature_extractors(tiny_root, tmp_path,
                                                                     monkeypatch):
    _train(monkeypatch, tiny_root, tmp_path / "a", "SOLVER.MAX_ITER", "1", "--skip-test")
    detector = {k: v for k, v in _weights(tmp_path / "a" / "model_final.pth").items()
                if not k.startswith("roi_heads.relation")}
    detector["roi_heads.box.feature_extractor.fc6.weight"].fill_(0.25)
    torch.save({"model": detector}, tmp_path / "det.pth")
    _train(monkeypatch, tiny_root, tmp_path / "b", "SOLVER.MAX_ITER", "1", "SOLVER.BASE_LR", "0.0",
           "MODEL.PRETRAINED_DETECTOR_CKPT", str(tmp_path / "det.pth"), "--skip-test")
    w = _weights(tmp_path / "b" / "model_final.pth")
    assert w["roi_heads.relation.box_feature_extractor.fc6.weight"].eq(0.25).all()
    assert w["roi_heads.relation.union_feature_extractor.feature_extractor.fc6.weight"].eq(
        0.25).all()


def _torchrun(root: Path, out: Path, nproc: int, *opts: str) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", str(REPO / "tools" / "relation_train_net.py"),
           "--config-file", str(CONFIG), *_common(root), "OUTPUT_DIR", str(out), "--skip-test",
           *opts]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "terminate called without an active exception" in done.stderr:
        # gloo's TCP store sometimes aborts a rank while the processes connect (before any
        # training step) on this 2-core machine; that start-up race is retried once, the
        # numbers below are still checked on the run that completes
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


# The structured objective without its random draws (each rank draws its own samples, so
# those parts match one process in distribution only): softmax negative states, no hard
# negatives, no sampler steps; the matched graph, margin loss, descend gradient, direction-aware
# messages and spectral norm (power-iteration buffers) under DDP.
STRUCTURED_DETERMINISTIC = (
    "ENERGY_MODEL.POSITIVE_GRAPH", "matched", "ENERGY_MODEL.NEGATIVE_STATES", "softmax",
    "ENERGY_MODEL.LOSS", "Margin", "ENERGY_MODEL.L2COEFF", "0.01",
    "ENERGY_MODEL.USE_IMAGE_GRAPH", "False", "ENERGY_MODEL.EDGE_DIRECTIONS", "both",
    "ENERGY_MODEL.SPECTRAL_NORM", "True", "SAMPLER.ITERS", "0", "SAMPLER.GRAD_MODE", "descend")


@pytest.mark.parametrize("energy,extra", [("False", ()), ("True", ()),
                                          ("True", STRUCTURED_DETERMINISTIC)],
                         ids=["ce", "ebm", "structured_ebm"])
def test_two_process_gloo_matches_one_process(tiny_root, tmp_path, energy, extra):
    # No randomness: no dropout, every pair sampled, no SGLD or data noise.
    opts = ["SOLVER.MAX_ITER", "3", "MODEL.ENERGY_ON", energy, "SAMPLER.VAR", "0.0",
            "ENERGY_MODEL.DATA_NOISE_VAR", "0.0", *extra]
    _torchrun(tiny_root, tmp_path / "one", 1, *opts)
    _torchrun(tiny_root, tmp_path / "two", 2, *opts)
    a, b = _weights(tmp_path / "one" / "model_final.pth"), _weights(tmp_path / "two" /
                                                                      "model_final.pth")
    assert a.keys() == b.keys()
    for key in a:
        if a[key].is_floating_point():
            assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-5), key
