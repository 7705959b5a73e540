"""A truncated or corrupt VG h5 is one error naming the file, its data set folder and split."""

import os
import re
import shutil

import pytest
from vg_test_data import dataset_kwargs

from maskrcnn_benchmark.data.datasets.vg_format import H5_NAME
from maskrcnn_benchmark.data.datasets.vg_h5 import VGFormatError, load_split_graphs
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics


def _truncated_copy(paths, folder, fraction):
    """A copy of the data set whose h5 keeps only the first ``fraction`` of its bytes."""
    shutil.copytree(os.path.dirname(paths["h5"]), folder)
    h5 = os.path.join(folder, os.path.basename(paths["h5"]))
    with open(h5, "r+b") as f:
        f.truncate(int(os.path.getsize(h5) * fraction))
    return {k: os.path.join(folder, os.path.relpath(v, os.path.dirname(paths["h5"])))
            for k, v in paths.items()}


@pytest.mark.parametrize("fraction", [0.9, 0.3, 0.01])
def test_truncated_h5_names_file_folder_and_split(filter_paths, tmp_path, fraction):
    assert len(VGDataset("test", **dataset_kwargs(filter_paths))) == 1  # the original loads
    broken = _truncated_copy(filter_paths, str(tmp_path / "broken"), fraction)
    expected = (rf"VG h5 file {re.escape(broken['h5'])} \(data set folder "
                rf"{re.escape(str(tmp_path / 'broken'))}, split 'test'\) is truncated or corrupt")
    with pytest.raises(VGFormatError, match=expected):
        VGDataset("test", **dataset_kwargs(broken))


def test_garbage_h5_names_the_file(filter_paths):
    with open(filter_paths["h5"], "wb") as f:
        f.write(b"this is not an HDF5 file" * 40)
    with pytest.raises(VGFormatError, match=re.escape(filter_paths["h5"]) + r".*split 'val'"):
        load_split_graphs(filter_paths["h5"], "val", num_val_im=2)


def test_statistics_of_a_truncated_h5_name_the_file(stats_cfg, tmp_path):
    h5 = str(tmp_path / "data" / "tiny" / H5_NAME)
    with open(h5, "r+b") as f:
        f.truncate(100)
    with pytest.raises(VGFormatError, match=re.escape(h5) + r" \(data set folder "
                       r".*tiny, split 'train'\) is truncated or corrupt.*docs/DATA.md"):
        get_dataset_statistics(stats_cfg)
    assert not os.path.exists(tmp_path / "out" / "tiny_train_statistics.cache")
