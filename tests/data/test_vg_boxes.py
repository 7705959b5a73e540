"""Box decoding (cx, cy, w, h at 1024 -> xyxy), rescaling to image pixels, image_data alignment."""

import json

import h5py
import numpy as np
import pytest
from vg_test_data import dataset_kwargs, filter_records, write_dataset

from maskrcnn_benchmark.data.datasets.vg_h5 import VGFormatError, decode_boxes, load_image_info
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset


def test_integer_boxes_decode_with_the_reference_truncation():
    encoded = np.array([[5, 5, 3, 4], [0, 10, 3, 2]], dtype=np.int32)
    # x1 = trunc(5 - 1.5) = 3, y1 = 5 - 2 = 3, x2 = x1 + w, y2 = y1 + h; trunc(-1.5) = -1.
    assert decode_boxes(encoded).tolist() == [[3, 3, 6, 7], [-1, 9, 2, 11]]


def test_float_boxes_decode_without_truncation():
    encoded = np.array([[5.0, 5.0, 3.0, 4.0]], dtype=np.float32)
    assert decode_boxes(encoded).tolist() == [[3.5, 3.0, 6.5, 7.0]]


def test_groundtruth_is_rescaled_by_the_longer_image_side(tmp_path):
    paths = write_dataset(tmp_path / "d", filter_records())
    with h5py.File(paths["h5"], "r+") as h5:  # hand-set one box: cx 100, cy 60, w 40, h 20
        boxes = h5["boxes_1024"][:]
        boxes[0] = [100, 60, 40, 20]
        h5["boxes_1024"][...] = boxes
    with open(paths["image_data"]) as f:
        entries = json.load(f)
    entries[0].update(width=512, height=256)  # longer side 512 -> factor 0.5
    with open(paths["image_data"], "w") as f:
        json.dump(entries, f)
    val = VGDataset("val", **dataset_kwargs(paths, num_val_im=5))
    gt = val.get_groundtruth(0, evaluation=True)
    assert gt.size == (512, 256)
    assert gt.bbox[0].tolist() == [40.0, 25.0, 60.0, 35.0]  # (80, 50, 120, 70) * 0.5
    # The second box was written from original pixels (10, 10, 14, 14) of a 64 x 32 image,
    # stored as 160..224 at 1024, and now read against a 512-wide image: 80..112.
    assert gt.bbox[1].tolist() == [80.0, 80.0, 112.0, 112.0]


def test_written_boxes_round_trip_to_original_pixels(filter_paths):
    val = VGDataset("val", **dataset_kwargs(filter_paths, num_val_im=0))
    assert val.get_groundtruth(3).bbox.tolist() == [[0, 0, 8, 8], [4, 4, 12, 12],
                                                     [40, 20, 44, 24]]


def _image_data(tmp_path, ids):
    path = tmp_path / "image_data.json"
    path.write_text(json.dumps([{"image_id": i, "width": 10, "height": 10} for i in ids]))
    return str(path)


def test_real_vg_image_list_skips_the_corrupted_images_when_counts_differ(tmp_path):
    path = _image_data(tmp_path, [1, 1592, 2, 1722, 3, 4616, 4617, 4])
    assert [e["image_id"] for e in load_image_info(path, 4)] == [1, 2, 3, 4]


def test_image_list_with_matching_count_aligns_one_to_one(tmp_path):
    path = _image_data(tmp_path, [1, 1592, 2])
    infos = load_image_info(path, 3)
    assert [e["image_id"] for e in infos] == [1, 1592, 2]
    assert infos[1]["file_name"] == "1592.jpg"


def test_image_list_with_another_count_is_an_error(tmp_path):
    path = _image_data(tmp_path, [1, 2, 3, 4])
    with pytest.raises(VGFormatError, match="lists 4 images .* h5 has 3 image rows"):
        load_image_info(path, 3)
