"""Fixtures of the data-pipeline tests."""

import pytest
from vg_test_data import filter_records, write_dataset


@pytest.fixture
def filter_paths(tmp_path):
    """Files of the filter example with images."""
    return write_dataset(tmp_path / "tiny", filter_records())
