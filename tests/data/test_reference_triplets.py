"""Reading the reference's zeroshot_triplet.pytorch / vg-{k}-shot-triplets.pytorch files."""

import pickle

import pytest
import torch

from maskrcnn_benchmark.data.statistics import load_reference_triplets

ROWS = [[1, 1, 33], [1, 22, 22], [150, 3, 50]]


def test_legacy_non_zip_file(tmp_path):
    path = tmp_path / "zeroshot_triplet.pytorch"
    torch.save(torch.tensor(ROWS), path, _use_new_zipfile_serialization=False)
    triplets = load_reference_triplets(str(path))
    assert triplets.dtype == torch.int64 and triplets.tolist() == ROWS


def test_zip_file_and_int32(tmp_path):
    path = tmp_path / "vg-5-shot-triplets.pytorch"
    torch.save(torch.tensor(ROWS, dtype=torch.int32), path)
    triplets = load_reference_triplets(str(path))
    assert triplets.dtype == torch.int64 and triplets.tolist() == ROWS


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="Triplet file not found: .*none.pytorch"):
        load_reference_triplets(str(tmp_path / "none.pytorch"))


def test_arbitrary_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pytorch"
    path.write_bytes(pickle.dumps({"a": {1, 2}}, protocol=2))
    with pytest.raises(ValueError, match="evil.pytorch is not a reference triplet file"):
        load_reference_triplets(str(path))


@pytest.mark.parametrize("content", [torch.zeros(4, 2, dtype=torch.long), torch.zeros(3, 3),
                                     {"triplets": torch.zeros(3, 3, dtype=torch.long)}])
def test_wrong_content(tmp_path, content):
    path = tmp_path / "bad.pytorch"
    torch.save(content, path)
    with pytest.raises(ValueError, match=r"must hold an integer \[N, 3\] tensor"):
        load_reference_triplets(str(path))
