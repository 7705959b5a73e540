"""tools/benchmark_training_step.py and engine/step_benchmark.py on the synthetic `tiny` preset:
two variants interleaved on shared batches, the JSON report, the detector checkpoint, and one
clear error per bad variant."""

import json
import runpy
import statistics
import sys
from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.step_benchmark import build_variant_trainer
from maskrcnn_benchmark.modeling.detector import build_detection_model
from tests.engine.test_relation_tools import CONFIG, REPO, _common
from tests.engine.test_relation_tools import tiny_root as tiny_root  # noqa: F401 (fixture)

TOOL = REPO / "tools" / "benchmark_training_step.py"
MARK = "roi_heads.box.feature_extractor.fc6.weight"


def _tiny_cfg(root: Path, out: Path, *opts: str):
    cfg = get_cfg()
    cfg.merge_from_file(str(CONFIG))
    cfg.merge_from_list([*_common(root), "OUTPUT_DIR", str(out), *opts])
    return cfg


@pytest.fixture(scope="module")
def detector_ckpt(tiny_root, tmp_path_factory):  # noqa: F811 (the imported fixture)
    """A detector checkpoint of the tiny model whose box head fc6 weights are all 0.25."""
    out = tmp_path_factory.mktemp("det")
    cfg = _tiny_cfg(tiny_root, out)
    model = build_detection_model(cfg, get_dataset_statistics(cfg))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("roi_heads.relation")}
    state[MARK] = torch.full_like(state[MARK], 0.25)
    torch.save({"model": state}, out / "det.pth")
    return out / "det.pth"


def _tool(monkeypatch, root: Path, out: Path, *args: str) -> None:
    argv = [str(TOOL), "--config-file", str(CONFIG), "--output-dir", str(out), *_common(root),
            *args]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(TOOL), run_name="__main__")


def test_two_variants_interleaved_on_the_same_batches(tiny_root, detector_ckpt, tmp_path,  # noqa: F811
                                                      monkeypatch, capsys):
    _tool(monkeypatch, tiny_root, tmp_path, "MODEL.PRETRAINED_DETECTOR_CKPT", str(detector_ckpt),
          "--steps", "2", "--warmup", "1", "--variant", "ce", "MODEL.ENERGY_ON", "False",
          "--variant", "ebm", "MODEL.ENERGY_ON", "True", "SAMPLER.ITERS", "2")
    report = json.loads((tmp_path / "step_benchmark.json").read_text())
    ce, ebm = report["variants"]
    assert [ce["name"], ebm["name"]] == ["ce", "ebm"] and report["baseline"] == "ce"
    assert ebm["overrides"] == ["MODEL.ENERGY_ON", "True", "SAMPLER.ITERS", "2"]
    # the first round is warm-up; the variant that goes first alternates every round
    assert report["order"] == ["ce", "ebm", "ebm", "ce", "ce", "ebm"]
    for row in (ce, ebm):
        assert len(row["step_s"]) == 2 and min(row["step_s"]) > 0
        assert row["median_s"] == pytest.approx(statistics.median(row["step_s"]))
        assert row["mean_s"] == pytest.approx(statistics.fmean(row["step_s"]))
    assert ce["ratio_median"] == ce["ratio_mean"] == ce["ratio_paired_median"] == 1.0
    assert ce["ratio_paired_quartiles"] == [1.0, 1.0]
    assert ebm["ratio_median"] == pytest.approx(ebm["median_s"] / ce["median_s"])
    assert ebm["ratio_paired_median"] == pytest.approx(statistics.median(
        e / c for e, c in zip(ebm["step_s"], ce["step_s"])))
    # the same three batches (of up to four distinct images), in the same order, for both
    assert ce["batch_ids"] == ebm["batch_ids"] and len(ce["batch_ids"]) == 3
    seen = [i for ids in ce["batch_ids"] for i in ids]
    assert all(1 <= len(ids) <= 4 for ids in ce["batch_ids"]) and len(set(seen)) == len(seen)
    # the overrides took effect: only the energy variant has an energy model and its losses
    assert "loss_energy" in ebm["loss_names"] and "loss_energy" not in ce["loss_names"]
    assert ebm["trainable_parameters"] > ce["trainable_parameters"]
    assert report["common_overrides"][-2:] == ["MODEL.PRETRAINED_DETECTOR_CKPT",
                                                str(detector_ckpt)]
    table = capsys.readouterr().out
    assert "| ce |" in table and "| ebm |" in table


def test_variant_trainer_starts_from_the_detector_checkpoint(tiny_root, detector_ckpt,  # noqa: F811
                                                             tmp_path):
    cfg = _tiny_cfg(tiny_root, tmp_path, "MODEL.PRETRAINED_DETECTOR_CKPT", str(detector_ckpt))
    model = build_variant_trainer(cfg, []).model
    weights = model.state_dict()
    assert weights[MARK].eq(0.25).all()
    assert weights["roi_heads.relation.box_feature_extractor.fc6.weight"].eq(0.25).all()
    assert not any(p.requires_grad for p in model.backbone.parameters())  # frozen detector
    assert any(p.requires_grad for p in model.roi_heads.relation.parameters())


@pytest.mark.parametrize("variant, expected", [
    (["bad", "SAMPLER.NOPE", "3"], r"variant 'bad'.*SAMPLER\.NOPE"),
    (["bad", "MODEL.ENERGY_ON"], r"variant 'bad'.*KEY VALUE pairs"),
    (["bad", "INPUT.MIN_SIZE_TRAIN", "(64,)"], r"variant 'bad' changes \['INPUT'\]"),
    (["base", "SAMPLER.ITERS", "2"], r"unique; repeated: \['base'\]"),
    (["bad", "MODEL.ROI_RELATION_HEAD.PREDICTOR", "NopePredictor"],
     r"variant 'bad' .*could not be built.*NopePredictor"),
])
def test_a_bad_variant_is_one_error_naming_it(tiny_root, tmp_path, monkeypatch,  # noqa: F811
                                              variant, expected):
    with pytest.raises(SystemExit, match=expected):
        _tool(monkeypatch, tiny_root, tmp_path, "--steps", "1", "--warmup", "0",
              "--variant", *variant, "--variant", "base")
    assert not (tmp_path / "step_benchmark.json").exists()


def test_plan_variants_are_ce_paper_ebm_and_structured_ebm(tiny_root, tmp_path,  # noqa: F811
                                                           monkeypatch, capsys):
    from experiments.plans import STRUCTURED_EBM

    _tool(monkeypatch, tiny_root, tmp_path, "--plan-variants", "--predictor", "motifs",
          "--task", "predcls", "--dry-run")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["ce", "ebm", "struct"]
    assert "ENERGY_ON False" in lines[0] and "ENERGY_ON True" in lines[1]
    ebm_overrides = lines[1].split(": ")[1].split(" (ENERGY_ON")[0]
    assert "SEED 0" in ebm_overrides and lines[2].split(": ")[1].startswith(ebm_overrides)
    assert " ".join(STRUCTURED_EBM) in lines[2]
    assert all("predictor MotifPredictor" in line for line in lines)
