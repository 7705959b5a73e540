"""Fixtures of the retrieval tests."""

import pytest
from retrieval_data import make_tiny


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Root of the tiny preset with its captions (generated once per session)."""
    return make_tiny(tmp_path_factory.mktemp("s2g_tiny"))
