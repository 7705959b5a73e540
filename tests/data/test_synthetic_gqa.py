"""The synthetic data set in the official GQA scene-graph format: determinism, the format, the
vocabulary and its naming rules, truthful dense relations, and the round trip through
tools/convert_gqa.py into VGDataset."""

import hashlib
import json
import os
import runpy
from collections import Counter

import numpy as np
import pytest

from maskrcnn_benchmark.data.datasets.gqa_convert import convert_gqa
from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
from maskrcnn_benchmark.data.datasets.synthetic.gqa_annotation import head_box
from maskrcnn_benchmark.data.datasets.synthetic.gqa_generate import (
    GQA_IMAGE_DIR,
    GQA_META_NAME,
    SCENE_GRAPH_DIR,
    TRAIN_SCENE_GRAPHS,
    VAL_SCENE_GRAPHS,
    generate_gqa_dataset,
    synthesize_gqa_images,
)
from maskrcnn_benchmark.data.datasets.synthetic.gqa_vocabulary import (
    GQA_OBJECT_NAMES,
    GQA_PREDICATES,
    GQA_WORDS,
    LEFT,
    RIGHT,
)
from maskrcnn_benchmark.data.datasets.synthetic.records import synthesize_image
from maskrcnn_benchmark.data.datasets.synthetic.render import draw_object
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import OBJECT_CLASSES, PREDICATES
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset

TOOLS = os.path.join(os.path.dirname(__file__), "..", "..", "tools")
NUM_IMAGES = 16


def _digest(folder):
    out = {}
    for sub in (SCENE_GRAPH_DIR, GQA_IMAGE_DIR):
        for name in sorted(os.listdir(os.path.join(folder, sub))):
            with open(os.path.join(folder, sub, name), "rb") as f:
                out[f"{sub}/{name}"] = hashlib.md5(f.read()).hexdigest()
    return out


def _graphs(folder):
    graphs = {}
    for name in (TRAIN_SCENE_GRAPHS, VAL_SCENE_GRAPHS):
        with open(os.path.join(folder, SCENE_GRAPH_DIR, name)) as f:
            graphs[name] = json.load(f)
    return graphs


@pytest.fixture(scope="module")
def gqa_dir(tmp_path_factory):
    """16 tiny-preset images in the GQA format, written by the command-line tool."""
    out = str(tmp_path_factory.mktemp("gqa") / "synthetic_gqa_raw")
    runpy.run_path(os.path.join(TOOLS, "make_synthetic_vg.py"))["main"](
        ["--format", "gqa", "--preset", "tiny", "--out", out, "--seed", "5", "--workers", "1",
         "--num-images", str(NUM_IMAGES)])
    return out


@pytest.fixture(scope="module")
def sample():
    """Annotations of 300 images (no pixels) and the VG-style records of the same scenes."""
    return synthesize_gqa_images(0, 300, 0.3), synthesize_images(0, 300, 0.3)


def test_same_seed_same_files_for_any_worker_count_other_seed_differs(gqa_dir, tmp_path):
    again = str(tmp_path / "two_workers")
    generate_gqa_dataset(again, "tiny", seed=5, workers=2, num_images=NUM_IMAGES)
    assert _digest(again) == _digest(gqa_dir)
    other = str(tmp_path / "other_seed")
    generate_gqa_dataset(other, "tiny", seed=6, workers=1, num_images=NUM_IMAGES)
    assert _digest(other) != _digest(gqa_dir)
    # The pictures are the VG150-style set's for the seed: image 1 is the scene of index 0.
    graphs = _graphs(gqa_dir)
    first = {**graphs[TRAIN_SCENE_GRAPHS], **graphs[VAL_SCENE_GRAPHS]}["1"]["objects"]["1000"]
    assert (first["x"], first["y"], first["x"] + first["w"], first["y"] + first["h"]) == \
        synthesize_image(5, 0, 0.3).scene.objects[0].box


def test_files_follow_the_official_gqa_format(gqa_dir):
    graphs = _graphs(gqa_dir)
    with open(os.path.join(gqa_dir, GQA_META_NAME)) as f:
        meta = json.load(f)
    train, val = graphs[TRAIN_SCENE_GRAPHS], graphs[VAL_SCENE_GRAPHS]
    assert len(train) + len(val) == NUM_IMAGES == meta["num_images"]
    assert (len(train), len(val)) == (meta["train_images"], meta["val_images"])
    assert not set(train) & set(val) and len(val) > 0
    num_objects = num_relations = 0
    for image_id, graph in {**train, **val}.items():
        assert set(graph) == {"width", "height", "location", "weather", "objects"}
        assert os.path.isfile(os.path.join(gqa_dir, GQA_IMAGE_DIR, f"{image_id}.jpg"))
        for object_id, obj in graph["objects"].items():
            assert set(obj) == {"name", "x", "y", "w", "h", "attributes", "relations"}
            assert obj["name"] in GQA_OBJECT_NAMES and object_id.isdigit()
            assert 0 <= obj["x"] and obj["x"] + obj["w"] < graph["width"]
            assert 0 <= obj["y"] and obj["y"] + obj["h"] < graph["height"]
            for rel in obj["relations"]:
                assert set(rel) == {"name", "object"} and rel["name"] in GQA_PREDICATES
                assert rel["object"] in graph["objects"] and rel["object"] != object_id
            pairs = [rel["object"] for rel in obj["relations"]]
            assert len(pairs) == len(set(pairs))  # one predicate per ordered pair
            num_relations += len(obj["relations"])
        num_objects += len(graph["objects"])
    assert (num_objects, num_relations) == (meta["objects"], meta["relations"])


def test_own_vocabulary_more_classes_and_denser_graphs_than_vg150(sample):
    gqa, vg = sample
    names = Counter(obj.name for im in gqa for obj in im.objects)
    words = Counter(word for im in gqa for _, _, word in im.relations)
    assert len(GQA_OBJECT_NAMES) == 43 and len(GQA_PREDICATES) == 25
    assert len(names) > len(OBJECT_CLASSES) and len(words) > len(PREDICATES)
    assert {"jeans", "taxi", "surfer", "head", LEFT, RIGHT} <= set(names) | set(words)
    assert not {"bike", "beach"} & set(names)  # GQA's words: bicycle, sand
    gqa_objects = sum(len(im.objects) for im in gqa)
    gqa_relations = sum(len(im.relations) for im in gqa)
    vg_objects = sum(len(im.scene.objects) for im in vg)
    vg_relations = sum(len(im.relations) for im in vg)
    assert gqa_objects > 1.15 * vg_objects  # heads
    assert gqa_relations > 1.6 * vg_relations
    assert gqa_relations / gqa_objects > vg_relations / vg_objects  # denser, not just bigger


def test_names_are_decided_by_what_is_visible(sample):
    gqa, vg = sample
    for im, record in zip(gqa, vg):
        scene = record.scene
        ridden = {s: scene.objects[o].name for s, o, t in scene.links if t == "riding"}
        for i, source in enumerate(scene.objects):  # scene objects come first, same order
            name = im.objects[i].name
            assert im.objects[i].box == source.box
            if name == "jeans":
                assert (source.name, source.color) == ("pants", "blue")
            if name == "taxi":
                assert (source.name, source.color) == ("car", "yellow")
            if source.name == "car" and source.color == "yellow":
                assert name == "taxi"
            if name == "jacket":
                assert source.name == "shirt" and source.color in ("black", "brown", "gray")
            if name == "surfer":
                assert ridden[i] == "surfboard"
            if i in ridden:
                assert name == ("surfer" if ridden[i] == "surfboard" else "rider")
            if name == "purse":
                assert any(o == i and t in ("holding", "carrying")
                           and scene.objects[s].name == "woman" for s, o, t in scene.links)
        heads = im.objects[len(scene.objects):]
        people = [o for o in scene.objects if o.name in ("man", "woman")]
        assert all(h.name == "head" for h in heads) and len(heads) <= len(people)


def test_head_boxes_are_the_drawn_heads_inside_their_person():
    people = [(o, im) for im in synthesize_images(1, 40, 0.3) for o in im.scene.objects
              if o.name in ("man", "woman")]
    facings = set()
    for person, _ in people[:30]:
        box = head_box(person)
        x1, y1, x2, y2 = person.box
        assert x1 <= box[0] <= box[2] <= x2 and y1 <= box[1] <= box[3] <= y2
        alpha = np.asarray(draw_object(person).getchannel("A"))
        local = alpha[box[1] - y1: box[3] - y1 + 1, box[0] - x1: box[2] - x1 + 1]
        # The head ellipse touches its box on all four sides: drawn pixels on every edge.
        assert local[0].any() and local[-1].any() and local[:, 0].any() and local[:, -1].any()
        if person.pose != "lying":
            assert box[3] - y1 < 0.35 * (y2 - y1 + 1)  # at the top of the person
            centre = (box[0] + box[2]) / 2 - x1
            facings.add(person.facing)
            # Drawn facing right, the head sits at the person's left-to-middle; mirrored if not.
            width = x2 - x1 + 1
            if person.pose == "sitting":
                assert (centre < width / 2) == (person.facing > 0)
    assert facings == {1, -1}
    assert head_box(next(o for im in synthesize_images(1, 5, 0.3) for o in im.scene.objects
                         if o.name == "sky")) is None


def test_every_relation_is_true_and_worded_from_its_truth(sample):
    gqa, _ = sample
    for im in gqa:
        assert len(im.relations) == len(im.truths)
        for (s, o, word), truth in zip(im.relations, im.truths):
            assert word in GQA_WORDS[truth]
            a, b = im.objects[s].box, im.objects[o].box
            if truth == LEFT:
                assert a[2] < b[0] and min(a[3], b[3]) >= max(a[1], b[1])
            if truth == RIGHT:
                assert b[2] < a[0]
            if im.objects[s].name == "head" and truth == "part of":
                assert b[0] <= a[0] <= a[2] <= b[2] and b[1] <= a[1] <= a[3] <= b[3]
        lr = {(s, o) for (s, o, _), t in zip(im.relations, im.truths) if t in (LEFT, RIGHT)}
        assert all((o, s) in lr for s, o in lr) or len(im.relations) >= 48  # both directions


def test_round_trip_through_convert_gqa_into_vg_dataset(gqa_dir, tmp_path):
    graphs = _graphs(gqa_dir)
    pooled = {**graphs[TRAIN_SCENE_GRAPHS], **graphs[VAL_SCENE_GRAPHS]}
    out = str(tmp_path / "synthetic_gqa")
    summary = convert_gqa([os.path.join(gqa_dir, SCENE_GRAPH_DIR, n)
                           for n in (TRAIN_SCENE_GRAPHS, VAL_SCENE_GRAPHS)], out,
                          preset="paper", image_dir=os.path.join(gqa_dir, GQA_IMAGE_DIR))
    names = sorted({o["name"] for g in pooled.values() for o in g["objects"].values()})
    words = sorted({r["name"] for g in pooled.values() for o in g["objects"].values()
                    for r in o["relations"]})
    assert summary["num_object_classes"] == len(names) + 1
    assert summary["num_predicate_classes"] == len(words) + 1
    assert summary["train_images"] + summary["test_images"] == NUM_IMAGES
    assert summary["objects"] == sum(len(g["objects"]) for g in pooled.values())
    assert summary["relations"] == sum(len(o["relations"]) for g in pooled.values()
                                       for o in g["objects"].values())
    kwargs = dict(img_dir=os.path.join(out, "VG_100K"),
                  roidb_file=os.path.join(out, "VG-SGG-with-attri.h5"),
                  dict_file=os.path.join(out, "VG-SGG-dicts-with-attri.json"),
                  image_file=os.path.join(out, "image_data.json"), num_val_im=0,
                  filter_non_overlap=False, filter_empty_rels=False)
    splits = [VGDataset(split, **kwargs) for split in ("train", "test")]
    assert splits[0].ind_to_classes == ["__background__", *names]
    assert splits[0].ind_to_predicates == ["__background__", *words]
    seen = set()
    for dataset in splits:
        for i in range(len(dataset)):
            info = dataset.get_img_info(i)
            graph = pooled[str(info["image_id"])]
            seen.add(info["image_id"])
            assert (info["width"], info["height"]) == (graph["width"], graph["height"])
            gt = dataset.get_groundtruth(i, evaluation=True)
            ids = sorted(graph["objects"])
            objects = [graph["objects"][k] for k in ids]
            labels = [dataset.ind_to_classes[c] for c in gt.get_field("labels").tolist()]
            assert labels == [o["name"] for o in objects]
            expected = np.array([[o["x"], o["y"], o["x"] + o["w"], o["y"] + o["h"]]
                                 for o in objects], dtype=np.float64)
            assert np.abs(gt.bbox.numpy() - expected).max() <= 1.0  # the 1024-scale ints
            triplets = sorted((s, o, dataset.ind_to_predicates[p])
                              for s, o, p in gt.get_field("relation_tuple").tolist())
            index = {k: n for n, k in enumerate(ids)}
            assert triplets == sorted((index[k], index[r["object"]], r["name"])
                                      for k, o in graph["objects"].items()
                                      for r in o["relations"])
            image = dataset[i][0]
            assert image.size == (graph["width"], graph["height"])
    assert len(seen) == NUM_IMAGES


def test_refuses_a_foreign_folder_and_leaves_it_intact(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="does not hold a GQA-format synthetic data set"):
        generate_gqa_dataset(str(folder), "tiny", num_images=2, workers=1)
    assert os.listdir(folder) == ["notes.txt"]


def test_converter_reads_relations_as_a_list_or_as_gqas_documented_dict(gqa_dir, tmp_path):
    graphs = _graphs(gqa_dir)[VAL_SCENE_GRAPHS]
    as_dict = json.loads(json.dumps(graphs))
    for graph in as_dict.values():
        for obj in graph["objects"].values():
            obj["relations"] = {str(9000 + k): r for k, r in enumerate(obj["relations"])}
    paths = []
    for name, content in (("list.json", graphs), ("dict.json", as_dict)):
        paths.append(str(tmp_path / name))
        with open(paths[-1], "w") as f:
            json.dump(content, f)
    convert_gqa([paths[0]], str(tmp_path / "from_list"))
    convert_gqa([paths[1]], str(tmp_path / "from_dict"))
    for name in ("VG-SGG-with-attri.h5", "VG-SGG-dicts-with-attri.json", "image_data.json"):
        with open(tmp_path / "from_list" / name, "rb") as a, \
                open(tmp_path / "from_dict" / name, "rb") as b:
            assert hashlib.md5(a.read()).digest() == hashlib.md5(b.read()).digest(), name
    broken = json.loads(json.dumps(graphs))
    image_id = sorted(broken)[0]
    first = sorted(broken[image_id]["objects"])[0]
    broken[image_id]["objects"][first]["relations"] = [{"name": "on"}]
    with open(tmp_path / "broken.json", "w") as f:
        json.dump(broken, f)
    with pytest.raises(ValueError, match=f"object {first} of image {image_id}: relation .* "
                                         "lacks 'name' or 'object'"):
        convert_gqa([str(tmp_path / "broken.json")], str(tmp_path / "o"))
    assert not os.path.exists(tmp_path / "o")  # nothing written on bad input
