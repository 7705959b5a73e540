"""Start-up checks of engine/launch.py."""

import logging

from maskrcnn_benchmark.engine.launch import warn_cpu_float16


def test_float16_on_cpu_warns_once_and_names_the_fix(caplog):
    with caplog.at_level(logging.WARNING, logger="maskrcnn_benchmark.engine.launch"):
        assert warn_cpu_float16("float16", "cpu") is True
    assert len(caplog.records) == 1 and "DTYPE float32" in caplog.records[0].getMessage()


def test_other_dtypes_and_gpus_do_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="maskrcnn_benchmark.engine.launch"):
        assert not warn_cpu_float16("float32", "cpu")
        assert not warn_cpu_float16("bfloat16", "cpu")
        assert not warn_cpu_float16("float16", "cuda:0")
    assert not caplog.records


def test_a_test_into_a_training_folder_keeps_its_config(tmp_path):
    import argparse

    from maskrcnn_benchmark.engine.launch import config_path, setup

    out = str(tmp_path)
    assert config_path(out, training=False).endswith("config.yaml")  # a fresh test folder
    base = ["MODEL.DEVICE", "cpu", "OUTPUT_DIR", out, "SOLVER.MAX_ITER", "7"]
    args = argparse.Namespace(config_file="", opts=base)
    setup(args, "launch_test")
    trained = (tmp_path / "config.yaml").read_text()
    assert "MAX_ITER: 7" in trained
    args.opts = [*base, "DATASETS.TO_TEST", "train"]
    cfg, _ = setup(args, "launch_test", training=False)
    assert (tmp_path / "config.yaml").read_text() == trained
    assert "TO_TEST: train" in (tmp_path / "config_test.yaml").read_text()
    assert cfg.DATASETS.TO_TEST == "train"
