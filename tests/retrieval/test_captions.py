"""Captions of the synthetic benchmark and SGB's caption-graph file layout."""

import json

import numpy as np
import pytest

from maskrcnn_benchmark.data.datasets.capgraphs import (
    CaptionGraphs,
    CaptionGraphsError,
    TextGraph,
    read_capgraphs,
    write_capgraphs,
)
from maskrcnn_benchmark.data.datasets.synthetic.caption_file import caption_graphs
from maskrcnn_benchmark.data.datasets.synthetic.caption_words import (
    NOUNS,
    PHRASES,
    PLACE_WORDS,
    REVERSED_PHRASES,
)
from maskrcnn_benchmark.data.datasets.synthetic.captions import true_relations, write_captions
from maskrcnn_benchmark.data.datasets.synthetic.generate import synthesize_images
from maskrcnn_benchmark.data.datasets.synthetic.scene import Scene, SceneObject
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import PREDICATES

# The keys SGB's image_retrieval code reads from vg_capgraphs_anno.json.
SGB_KEYS = {"vg_valids", "vg_coco_ids", "vg_image_ids", "idx_to_meta_predicate", "cap_category",
            "cap_predicate", "vg_coco_id_to_capgraphs", "vg_coco_id_to_caps"}
PLACE_LEMMAS = {w[2] for entries in PLACE_WORDS.values() for w in entries}


@pytest.fixture(scope="module")
def images():
    return synthesize_images(0, 12, 0.3)


def test_file_has_sgb_layout_and_round_trips(images, tmp_path):
    data = caption_graphs(images, caption_seed=3, per_image=5)
    path = tmp_path / "caps.json"
    write_capgraphs(str(path), data)
    raw = json.loads(path.read_text())
    assert SGB_KEYS <= set(raw)
    ids = [im.image_id for im in images]
    assert raw["vg_image_ids"] == ids and raw["vg_coco_ids"] == ids
    assert raw["vg_valids"] == [1] * len(ids)
    assert raw["idx_to_meta_predicate"] == {str(i + 1): p for i, p in enumerate(PREDICATES)}
    assert set(raw["vg_coco_id_to_capgraphs"]) == {str(i) for i in ids}
    entity_counts, predicate_counts = {}, {}
    for key, graphs in raw["vg_coco_id_to_capgraphs"].items():
        assert len(graphs) == 5 and len(raw["vg_coco_id_to_caps"][key]) == 5
        for graph in graphs:
            assert set(graph) == {"entities", "relations"}
            for s, o, p in graph["relations"]:
                assert 0 <= s < len(graph["entities"]) and 0 <= o < len(graph["entities"])
                predicate_counts[p] = predicate_counts.get(p, 0) + 1
            for e in graph["entities"]:
                entity_counts[e] = entity_counts.get(e, 0) + 1
    # the vocabularies are the words of the graphs with their counts (SGB's cap_* maps)
    assert raw["cap_category"] == entity_counts and raw["cap_predicate"] == predicate_counts
    back = read_capgraphs(str(path))
    assert back.to_json() == data.to_json()
    assert back.caption_id_of() == {i: i for i in ids}


def test_captions_are_deterministic_per_seed(images):
    a = caption_graphs(images, caption_seed=0).to_json()
    assert a == caption_graphs(images, caption_seed=0).to_json()
    assert a["vg_coco_id_to_caps"] != caption_graphs(images, 1).to_json()["vg_coco_id_to_caps"]


def _classes_of(lemma: str) -> set[str]:
    return {c for c, entries in NOUNS.items() for e in entries if e[2] == lemma}


def _phrase_lemmas(truth: str) -> set[str]:
    lemmas = {p[1] for p in PHRASES[truth]}
    return lemmas | {p[1] for p in REVERSED_PHRASES.get(truth, (0, ()))[1]}


def test_caption_graphs_describe_true_relations_in_the_captioners_words(images):
    """Entities are lemmas of their objects' classes; most relations are true relations of the
    scene (the rest: place words, "with" lists, the parser's attachment slip); some are
    relations the VG annotator did not write down."""
    described = unannotated = other = 0
    for index, image in enumerate(images):
        truths = {(s, o): t for s, o, t in true_relations(image.scene)}
        annotated = {(s, o) for s, o, _ in image.relations}
        names = [obj.name for obj in image.scene.objects]
        for caption in write_captions(image.scene, np.random.default_rng([7, index])):
            graph = caption.graph
            assert len(caption.members) == len(graph.entities)
            for lemma, members in zip(graph.entities, caption.members):
                if members:
                    assert {names[m] for m in members} <= _classes_of(lemma)
                else:
                    assert lemma in PLACE_LEMMAS
            for s, o, lemma in graph.relations:
                pairs = [(a, b) for a in caption.members[s] for b in caption.members[o]]
                true = [(p, truths[p]) for p in pairs if p in truths and lemma in
                        _phrase_lemmas(truths[p])]
                true += [((b, a), truths[(b, a)]) for a, b in pairs if (b, a) in truths
                         and lemma in {p[1] for p in REVERSED_PHRASES.get(truths[(b, a)],
                                                                           (0, ()))[1]}]
                if true:
                    described += 1
                    unannotated += all(p not in annotated and p[::-1] not in annotated
                                       for p, _ in true)
                else:
                    other += 1
    assert described > 3 * other
    assert unannotated > 0


def _scene_two_men_on_street() -> Scene:
    scene = Scene("street", 320, 240, 100, 0)
    scene.objects = [SceneObject("street", (0, 100, 319, 239)),
                     SceneObject("man", (10, 80, 40, 200)),
                     SceneObject("man", (60, 80, 90, 200))]
    scene.links = [(1, 0, "standing on"), (2, 0, "standing on")]
    return scene


def test_look_alikes_become_one_plural_entity():
    scene = _scene_two_men_on_street()
    captions = write_captions(scene, np.random.default_rng(0), count=40)
    plural_words = {e[1] for e in NOUNS["man"]}
    plural = [c for c in captions if set(c.text.rstrip(".").lower().split()) & plural_words]
    assert plural, "some captions group the two men"
    stand_on = _phrase_lemmas("standing on") | {"with"} | {w[0] for w in PLACE_WORDS["street"]}
    for caption in captions:
        assert {p for _, _, p in caption.graph.relations} <= stand_on
    for caption in plural:
        person_entities = [sorted(m) for m in caption.members if m and 0 not in m]
        assert person_entities == [[1, 2]]  # one entity for both men


def _sgb_file(tmp_path, **changes) -> str:
    """A file shaped like SGB's download: COCO ids, an invalid image, an unknown word."""
    raw = {
        "vg_valids": [1, 0, 1], "vg_coco_ids": [501, 0, 777], "vg_image_ids": [10, 11, 12],
        "idx_to_meta_predicate": {"1": "on", "2": "wear"},
        "cap_category": {"man": 3, "hat": 1, "none": 1}, "cap_predicate": {"wear": 1},
        "vg_coco_id_to_capgraphs": {"501": [{"entities": ["man", "hat"],
                                             "relations": [[0, 1, "wear"]]}],
                                    "777": [{"entities": ["man", "none"], "relations": []}]},
        "vg_coco_id_to_caps": {"501": ["a man wearing a hat"], "777": ["a man with a thing"]},
    }
    raw.update(changes)
    path = tmp_path / "vg_capgraphs_anno.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_reads_sgb_shaped_file(tmp_path):
    data = read_capgraphs(_sgb_file(tmp_path))
    assert data.caption_id_of() == {10: 501, 12: 777}  # image 11 is not valid
    assert data.graphs["501"] == [TextGraph(["man", "hat"], [(0, 1, "wear")])]
    assert data.meta_predicates == {1: "on", 2: "wear"}
    assert isinstance(data, CaptionGraphs) and data.extra == {}


def test_bad_caption_files_are_one_clear_error(tmp_path):
    with pytest.raises(CaptionGraphsError, match="cap_predicate"):
        read_capgraphs(_missing(tmp_path))
    bad = {"501": [{"entities": ["man"], "relations": [[0, 3, "wear"]]}]}
    with pytest.raises(CaptionGraphsError, match="relation"):
        read_capgraphs(_sgb_file(tmp_path, vg_coco_id_to_capgraphs=bad))
    with pytest.raises(CaptionGraphsError, match="aligned"):
        read_capgraphs(_sgb_file(tmp_path, vg_valids=[1]))
    with pytest.raises(FileNotFoundError, match="image_retrieval.py captions"):
        read_capgraphs(str(tmp_path / "absent.json"))


def _missing(tmp_path) -> str:
    path = _sgb_file(tmp_path)
    raw = json.loads(open(path).read())
    del raw["cap_predicate"]
    with open(path, "w") as f:
        json.dump(raw, f)
    return path


def test_an_extension_gets_the_captions_of_the_same_images_in_a_larger_set(tmp_path):
    """Captions are seeded per image id: the extension's captions (written from its
    synthetic_vg.json, first_image 4) are those its images have in the 7-image set."""
    from maskrcnn_benchmark.data.datasets.synthetic.caption_file import write_synthetic_captions
    from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
    from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import PRESETS

    folder = tmp_path / "ext"
    generate_dataset(str(folder), "tiny", seed=0, num_images=3, workers=1, first_image=4)
    written = read_capgraphs(write_synthetic_captions(str(folder)))
    full = caption_graphs(synthesize_images(0, 7, PRESETS["tiny"].test_fraction), 0)
    assert written.image_ids == [5, 6, 7]
    assert written.captions == {key: full.captions[key] for key in ("5", "6", "7")}
    assert written.extra["synthetic"]["first_image"] == 4
