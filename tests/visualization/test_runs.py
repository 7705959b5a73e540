"""tools/visualize_predictions.py on a tiny run folder, two runs compared, and a predict folder
in SGB's custom-image format."""

import json
import os
import runpy
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_run import TEST, make_data, make_run

from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.visualization import STATUS_COLORS
from maskrcnn_benchmark.visualization.runs import load_run, select_images
from maskrcnn_benchmark.visualization.style import MARGIN, object_color

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "visualize_predictions.py")
K = 10


def tool(*argv):
    return runpy.run_path(TOOL)["main"]([str(a) for a in argv])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run A recalls every 2nd GT pair, run B every 3rd and ranks its wrong guesses first."""
    root = tmp_path_factory.mktemp("viz")
    make_data(root / "data")
    cfg_a = make_run(root / "data", root / "ce", recall_every=2)
    make_run(root / "data", root / "ebm", recall_every=3, wrong_score=0.95)
    return root, cfg_a


def test_one_picture_per_image_named_by_index(runs, tmp_path, monkeypatch):
    root, _ = runs
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    paths = tool(root / "ce", "--images", 3, "--out", tmp_path / "pics")
    run = load_run(str(root / "ce"))
    expected = [i for i, r in enumerate(run.images) if len(r["gt_relations"])][:3]
    stems = [os.path.splitext(os.path.basename(run.images[i]["file_name"]))[0] for i in expected]
    assert sorted(os.listdir(tmp_path / "pics")) == [f"{i:05d}_{s}.png" for i, s in
                                                     zip(expected, stems)]
    assert [os.path.basename(p) for p in paths] == sorted(os.listdir(tmp_path / "pics"))
    with Image.open(paths[0]) as picture:
        seen = {c for _, c in picture.convert("RGB").getcolors(1 << 22)}
    views = run.views(expected[0], K, None)
    for status in set(views.gt.relation_status) | set(views.prediction.relation_status):
        assert STATUS_COLORS[status] in seen, status
    assert STATUS_COLORS["predicted"] not in seen and STATUS_COLORS["gt"] not in seen


def test_statuses_agree_with_the_evaluation_and_the_train_statistics(runs, monkeypatch):
    root, cfg = runs
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    run = load_run(str(root / "ce"))
    counts = get_dataset_statistics(cfg).train_triplet_count
    checked_zero_shot = 0
    for index, record in enumerate(run.images):
        views = run.views(index, K, None)
        rows = record["gt_relations"].numpy()
        labels = record["gt_labels"].numpy()
        first_hit = record["gt_first_hit"]
        _, first = np.unique(rows, axis=0, return_index=True)
        unique = rows[np.sort(first)]  # the GT panel draws each duplicate row once
        for (s, o, p), status in zip(unique, views.gt.relation_status):
            same = (rows == (s, o, p)).all(axis=1)
            # recalled in the evaluation's top K (first_hit: rank of the first match, -1 never)
            hit = bool(((first_hit[torch.from_numpy(same)] >= 0)
                        & (first_hit[torch.from_numpy(same)] < K)).any())
            zero = int(counts(torch.tensor([[labels[s], labels[o], p]]))[0]) == 0
            checked_zero_shot += zero
            assert status == {(True, False): "matched", (False, False): "missed",
                              (True, True): "zero-shot", (False, True): "zero-shot missed"}[
                                  (hit, zero)], (index, s, o, p)
        assert views.recalled == sum(s in ("matched", "zero-shot")
                                     for s in views.gt.relation_status)
    assert checked_zero_shot > 0  # the tiny split has zero-shot test triplets to check


def test_two_runs_compare_on_the_images_where_they_differ(runs, tmp_path, monkeypatch):
    root, _ = runs
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    a, b = load_run(str(root / "ce"), "CE"), load_run(str(root / "ebm"), "EBM")
    gaps = {}
    for i, r in enumerate(a.images):
        if len(r["gt_relations"]):
            gaps[i] = abs(a.views(i, K, None).recalled - b.views(i, K, None).recalled)
    chosen = select_images([a, b], 2, "differ", K)
    assert len(chosen) == 2 and min(gaps[i] for i in chosen) >= max(
        g for i, g in gaps.items() if i not in chosen)
    paths = tool(f"CE={root / 'ce'}", f"EBM={root / 'ebm'}", "--images", 2, "--select", "differ",
                 "--out", tmp_path / "cmp")
    assert [os.path.basename(p)[:5] for p in paths] == [f"{i:05d}" for i in chosen]
    single = tool(root / "ce", "--indices", chosen[0], "--out", tmp_path / "one")
    with Image.open(paths[0]) as pair, Image.open(single[0]) as one:
        assert pair.width > one.width  # three panels (GT, CE, EBM) against two
        seen = {c for _, c in pair.convert("RGB").getcolors(1 << 22)}
    assert STATUS_COLORS["gt"] in seen or STATUS_COLORS["zero-shot gt"] in seen
    assert STATUS_COLORS["missed"] not in seen  # the comparison's GT panel has no recall colours
    with pytest.raises(ValueError, match="must differ"):
        tool(root / "ce", root / "ce", "--out", tmp_path / "same")


def test_comparing_runs_of_other_images_is_an_error(runs, tmp_path, monkeypatch):
    root, _ = runs
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    other = tmp_path / "other"
    shutil.copytree(root / "ebm", other)
    path = other / "inference" / TEST / "visualization.pth"
    payload = torch.load(path, weights_only=True)
    payload["images"] = payload["images"][:-1]
    torch.save(payload, path)
    with pytest.raises(ValueError, match="not tested on the same images"):
        tool(f"A={root / 'ce'}", f"B={other}", "--out", tmp_path / "x")


def test_run_folder_errors_name_what_to_do(runs, tmp_path, monkeypatch):
    root, _ = runs
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        tool(tmp_path)
    untested = tmp_path / "untested"
    untested.mkdir()
    shutil.copy(root / "ce" / "config.yaml", untested)
    with pytest.raises(FileNotFoundError, match="test the run first"):
        tool(untested)
    with pytest.raises(ValueError, match="selecting images where runs differ needs two runs"):
        tool(root / "ce", "--select", "differ", "--out", tmp_path / "y")


def _predict_folder(folder, image_size, frame):
    """One image with a red square, predicted in SGB's format with boxes in ``frame``."""
    folder.mkdir()
    image = Image.new("RGB", image_size, (200, 200, 200))
    image.save(folder / "photo.png")
    sx, sy = frame[0] / image_size[0], frame[1] / image_size[1]
    prediction = {"0": {
        "bbox": [[10 * sx, 10 * sy, 50 * sx, 40 * sy], [60 * sx, 5 * sy, 90 * sx, 30 * sy],
                 [5 * sx, 50 * sy, 30 * sx, 70 * sy]],
        "bbox_labels": [1, 2, 3], "bbox_scores": [0.9, 0.8, 0.7],
        "rel_pairs": [[0, 1], [1, 2], [2, 0]], "rel_labels": [1, 2, 1],
        "rel_scores": [0.9, 0.5, 0.4], "rel_all_scores": [[0.1, 0.9, 0.0], [0.5, 0.0, 0.5],
                                                            [0.6, 0.4, 0.0]]}}
    return prediction, {"idx_to_files": [str(folder / "photo.png")],
                        "ind_to_classes": ["__background__", "cat", "dog", "mat"],
                        "ind_to_predicates": ["__background__", "on", "near"]}


@pytest.mark.parametrize("recorded", ["image", "input", "sgb"])
def test_predict_folder_boxes_land_on_the_image_in_every_box_frame(tmp_path, recorded):
    size = (100, 80)
    # SGB's own files: shorter side 600, longer <= 1000 -> 750 x 600 for a 100 x 80 image
    frame = {"image": size, "input": (200, 160), "sgb": (750, 600)}[recorded]
    prediction, info = _predict_folder(tmp_path / "pred", size, frame)
    if recorded != "sgb":
        info.update(box_frame=recorded, idx_to_image_size=[list(size)],
                    idx_to_input_size=[[200, 160]])
    (tmp_path / "pred" / "custom_prediction.json").write_text(json.dumps(prediction))
    (tmp_path / "pred" / "custom_data_info.json").write_text(json.dumps(info))
    paths = tool(tmp_path / "pred", "--max-side", 0, "--no-graph", "--top-k", 1)
    assert [os.path.basename(p) for p in paths] == ["00000_photo.png"]
    assert os.path.dirname(paths[0]) == str(tmp_path / "pred" / "pictures")
    with Image.open(paths[0]) as picture:
        picture = picture.convert("RGB")
        title = 22  # the picture carries a title line above the image
        # box 0 (cat) at 10..50 x 10..40 in image pixels: bottom edge coloured, inside not
        assert picture.getpixel((MARGIN + 30, MARGIN + title + 40)) == object_color(0)
        assert picture.getpixel((MARGIN + 30, MARGIN + title + 33)) == (200, 200, 200)
        # top 1 triplet (cat on dog, 0.9 x 0.9 x 0.8): box 2 (mat) is not drawn
        assert picture.getpixel((MARGIN + 17, MARGIN + title + 70)) == (200, 200, 200)


def test_predict_folder_errors(tmp_path):
    prediction, info = _predict_folder(tmp_path / "pred", (100, 80), (100, 80))
    (tmp_path / "pred" / "custom_prediction.json").write_text(json.dumps({"3": prediction["0"]}))
    (tmp_path / "pred" / "custom_data_info.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="image key '3'"):
        tool(tmp_path / "pred")
    (tmp_path / "pred" / "custom_prediction.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        tool(tmp_path / "pred")
