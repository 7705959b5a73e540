"""Setup shim: all metadata lives in pyproject.toml (pure Python, nothing to compile)."""

from setuptools import setup

setup()
