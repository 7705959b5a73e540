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
