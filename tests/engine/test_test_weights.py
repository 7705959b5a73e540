"""engine.test_weights: a relation checkpoint plus, when it has none, a pretrained energy model."""

import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.test_weights import load_relation_test_weights
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from maskrcnn_benchmark.modeling.energy.pretrained import save_energy_model
from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from tests.energy.test_energy_training_all_heads import _energy_cfg
from tests.modeling.test_relation_synthetic import DATASET


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=10)
    return root


def _model(cfg, seed):
    torch.manual_seed(seed)
    return build_detection_model(cfg, get_dataset_statistics(cfg))


def _energy_state(model):
    return {k: v.clone() for k, v in model.energy_model.state_dict().items()}


def test_ce_checkpoint_gets_the_pretrained_energy_model(root, tmp_path, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _energy_cfg(root, "MotifPredictor", "predcls")
    trained, pretrained, tested = _model(cfg, 0), _model(cfg, 1), _model(cfg, 2)
    ce_state = {k: v for k, v in trained.state_dict().items()
                if not k.startswith("energy_model.")}
    torch.save({"model": ce_state}, tmp_path / "ce.pth")
    save_energy_model(str(tmp_path / "energy.pth"), pretrained.energy_model, cfg, epoch=1,
                      epochs=1)
    cfg.MODEL.WEIGHT = str(tmp_path / "ce.pth")
    cfg.ENERGY_MODEL.WEIGHT = str(tmp_path / "energy.pth")
    checkpointer = Checkpointer(tested, save_dir=str(tmp_path / "empty"))
    reads = []
    original = torch.load
    monkeypatch.setattr(torch, "load", lambda path, *a, **k: reads.append(str(path))
                        or original(path, *a, **k))
    load_relation_test_weights(cfg, tested, checkpointer, use_latest=True)
    # the relation checkpoint is read once, then the energy file
    assert reads == [str(tmp_path / "ce.pth"), str(tmp_path / "energy.pth")]
    state = tested.state_dict()
    assert all(torch.equal(state[k], v) for k, v in ce_state.items())
    assert all(torch.equal(state[f"energy_model.{k}"], v)
               for k, v in _energy_state(pretrained).items())


def test_checkpoint_with_an_energy_model_keeps_it(root, tmp_path, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _energy_cfg(root, "MotifPredictor", "predcls")
    trained, pretrained, tested = _model(cfg, 0), _model(cfg, 1), _model(cfg, 2)
    torch.save({"model": trained.state_dict()}, tmp_path / "ebm.pth")
    save_energy_model(str(tmp_path / "energy.pth"), pretrained.energy_model, cfg, epoch=1,
                      epochs=1)
    cfg.MODEL.WEIGHT = str(tmp_path / "ebm.pth")
    cfg.ENERGY_MODEL.WEIGHT = str(tmp_path / "energy.pth")
    load_relation_test_weights(cfg, tested, Checkpointer(tested, save_dir=str(tmp_path / "e")),
                               use_latest=True)
    state = tested.state_dict()
    assert all(torch.equal(state[f"energy_model.{k}"], v)
               for k, v in _energy_state(trained).items())


def test_ce_checkpoint_without_an_energy_file_is_refused(root, tmp_path, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _energy_cfg(root, "MotifPredictor", "predcls")
    trained, tested = _model(cfg, 0), _model(cfg, 2)
    torch.save({"model": {k: v for k, v in trained.state_dict().items()
                          if not k.startswith("energy_model.")}}, tmp_path / "ce.pth")
    cfg.MODEL.WEIGHT = str(tmp_path / "ce.pth")
    with pytest.raises(ValueError, match="does not fit the model"):
        load_relation_test_weights(cfg, tested, Checkpointer(tested, save_dir=str(tmp_path)),
                                   use_latest=True)
    # nor does a broken relation checkpoint pass because an energy file is given
    partial = {k: v for k, v in trained.state_dict().items()
               if not k.startswith(("energy_model.", "roi_heads.relation.predictor."))}
    torch.save({"model": partial}, tmp_path / "partial.pth")
    save_energy_model(str(tmp_path / "energy.pth"), trained.energy_model, cfg, epoch=1,
                      epochs=1)
    cfg.MODEL.WEIGHT = str(tmp_path / "partial.pth")
    cfg.ENERGY_MODEL.WEIGHT = str(tmp_path / "energy.pth")
    with pytest.raises(ValueError, match="keys missing, e.g. \\['roi_heads.relation.predictor"):
        load_relation_test_weights(cfg, tested, Checkpointer(tested, save_dir=str(tmp_path)),
                                   use_latest=True)
