"""The whole chain through tools/image_retrieval.py on the `tiny` preset: captions, preprocess
(annotation graphs), train (ends with the test), test with shuffled graphs."""

import json
import runpy
import sys

import pytest
from retrieval_data import DATASET, REPO, split_opts

from tests.conftest import package_logger_restored

TOOL = REPO / "tools" / "image_retrieval.py"
PREDCLS = REPO / "configs" / "quickstart" / "motifs_predcls.yaml"
RETRIEVAL = REPO / "configs" / "retrieval" / "synthetic_default.yaml"
SMALL = ["RETRIEVAL.MODEL.EMBED_DIM", "32", "RETRIEVAL.MODEL.HIDDEN_DIM", "32",
         "RETRIEVAL.MODEL.OUTPUT_DIM", "64", "SOLVER.IMS_PER_BATCH", "8",
         "SOLVER.WARMUP_ITERS", "5", "SOLVER.STEPS", "(40,)", "SOLVER.LOG_PERIOD", "10",
         "SOLVER.CHECKPOINT_PERIOD", "25", "SOLVER.VAL_PERIOD", "25", "RETRIEVAL.NUM_TEST", "10"]


def _tool(monkeypatch, *argv: str) -> None:
    monkeypatch.setattr(sys, "argv", [str(TOOL), *argv])
    runpy.run_path(str(TOOL), run_name="__main__")


@pytest.fixture(scope="module")
def chain(tiny, tmp_path_factory):
    """Captions written again by the tool and the three preprocessed splits."""
    out = tmp_path_factory.mktemp("s2g_chain")
    with pytest.MonkeyPatch.context() as monkeypatch, package_logger_restored():
        _tool(monkeypatch, "captions", "--data-dir", f"{tiny}/{DATASET}",
              "--out", str(out / "caps.json"))
        for split in ("train", "val", "test"):
            _tool(monkeypatch, "preprocess", "--config-file", str(PREDCLS), "--split", split,
                  "--source", "ground_truth", "--out", str(out / f"{split}.json"),
                  *split_opts(tiny), "RETRIEVAL.CAPTIONS_FILE", str(out / "caps.json"),
                  "OUTPUT_DIR", str(out / "sgg_run"))
    return out


def test_captions_command_is_deterministic(chain, tiny):
    written = json.loads((chain / "caps.json").read_text())
    fixture = json.loads(open(f"{tiny}/{DATASET}/vg_capgraphs_anno.json").read())
    assert written == fixture
    assert not (chain / "sgg_run").exists()  # preprocessing writes nothing into the run


def test_train_then_test_with_shuffled_graphs(chain, monkeypatch):
    run = chain / "retrieval"
    files = ["RETRIEVAL.TRAIN_FILES", f"('{chain / 'train.json'}', '{chain / 'val.json'}')",
             "RETRIEVAL.TEST_FILE", str(chain / "test.json"), "OUTPUT_DIR", str(run)]
    _tool(monkeypatch, "train", "--config-file", str(RETRIEVAL), *SMALL, *files,
          "SOLVER.MAX_ITER", "50")
    result = json.loads((run / "retrieval" / "test.json").read_text())
    assert [g["requested_size"] for g in result["galleries"]] == [1000, 5000]
    assert [g["gallery_size"] for g in result["galleries"]] == [10, 10]  # RETRIEVAL.NUM_TEST
    assert result["train_pairs"] == 43 + 8  # tiny: 43 train, 8 val; 13 test = 10 test + 3 val
    # in-batch negatives (the config's "hardest"): 6 batches of 8, the last 3 pairs dropped
    assert result["iterations"] == 50 and result["iterations_per_epoch"] == 6
    assert result["loss"] == {"negatives": "hardest", "distance": "cosine", "margin": 0.2,
                              "all_negatives_iters": 0}
    assert result["model"]["glimpses"] == 1 and result["model"]["output_relu"] is False
    assert set(result["galleries"][0]["recall"]) == {"1", "5", "10", "20", "50", "100"}
    assert (run / "model_final.pth").is_file() and (run / "model_0000025.pth").is_file()
    assert list((run / "tensorboard").iterdir())
    log = (run / "log.txt").read_text()
    assert "Validation at iteration 25" in log  # the 3 val pairs
    _tool(monkeypatch, "test", "--config-file", str(RETRIEVAL), *SMALL, *files,
          "RETRIEVAL.TEST.SHUFFLE_GRAPHS", "True")
    shuffled = json.loads((run / "retrieval" / "test_shuffled.json").read_text())
    assert shuffled["shuffled_graphs"] and not result["shuffled_graphs"]
    assert shuffled["galleries"][0]["gallery_size"] == 10
    # the test keeps the training's config.yaml and checks the test file's words
    assert "SHUFFLE_GRAPHS: false" in (run / "config.yaml").read_text()
    assert "SHUFFLE_GRAPHS: true" in (run / "config_test.yaml").read_text()
    trained = json.loads((run / "retrieval_vocabulary.json").read_text())
    assert trained["text_vocabulary"]["entities"] == result_vocabulary(chain / "test.json")
    other = json.loads((chain / "test.json").read_text())
    other["text_vocabulary"]["entities"][0] = "zebra"  # same size, another word at id 1
    (chain / "other.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match=r"another vocabulary .* \(text_vocabulary entities: only "
                                         r"in the test file \['zebra'\]"):
        _tool(monkeypatch, "test", "--config-file", str(RETRIEVAL), *SMALL, *files[:-2],
              "RETRIEVAL.TEST_FILE", str(chain / "other.json"), "OUTPUT_DIR", str(run))
    assert not (run / "retrieval" / "other.json").exists()


def result_vocabulary(path) -> list[str]:
    """The text entity words of a retrieval input file."""
    return json.loads(path.read_text())["text_vocabulary"]["entities"]


def test_the_recipe_for_predicted_graphs_averages_the_in_batch_negatives(chain, monkeypatch):
    # configs/retrieval/synthetic_default_predicted.yaml: synthetic_default.yaml (its _BASE_)
    # with NEGATIVES "all", what scripts/retrieval_table4.sh trains on an SGDet run's own graphs
    run = chain / "retrieval_predicted"
    _tool(monkeypatch, "train", "--config-file", str(RETRIEVAL.with_name(
        "synthetic_default_predicted.yaml")), *SMALL, "SOLVER.MAX_ITER", "6",
          "RETRIEVAL.TRAIN_FILES", f"('{chain / 'train.json'}',)",
          "RETRIEVAL.TEST_FILE", str(chain / "test.json"), "OUTPUT_DIR", str(run))
    result = json.loads((run / "retrieval" / "test.json").read_text())
    assert result["loss"] == {"negatives": "all", "distance": "cosine", "margin": 0.2,
                              "all_negatives_iters": 0}
    assert result["model"]["glimpses"] == 1 and result["iterations"] == 6
    # a training that cannot move (learning rate 0) ends at the margin and says so in its log
    frozen = chain / "retrieval_frozen"
    _tool(monkeypatch, "train", "--config-file", str(RETRIEVAL), *SMALL, "SOLVER.MAX_ITER", "6",
          "SOLVER.BASE_LR", "0.0", "RETRIEVAL.TRAIN_FILES", f"('{chain / 'train.json'}',)",
          "RETRIEVAL.TEST_FILE", str(chain / "test.json"), "OUTPUT_DIR", str(frozen))
    assert "at the margin RETRIEVAL.LOSS.MARGIN 0.2" in (frozen / "log.txt").read_text()
