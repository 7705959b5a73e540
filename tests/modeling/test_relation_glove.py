"""GloVe initialisation of class embeddings from a tiny fake GloVe file; nothing downloaded."""

import logging
import os
import socket

import pytest
import torch

from maskrcnn_benchmark.modeling.roi_heads.relation_head import glove
from maskrcnn_benchmark.modeling.roi_heads.relation_head.glove import (
    class_name_vectors,
    glove_paths,
    load_glove,
)

VOCAB = {
    "man": [0.1, 0.2, 0.3, 0.4],
    "horse": [1.0, -1.0, 0.5, 0.0],
    "traffic": [2.0, 2.0, 2.0, 2.0],
    "light": [3.0, 3.0, 3.0, 3.0],
    "house": [-1.0, -2.0, -3.0, -4.0],
}


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("GloVe loading must never touch the network")
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _write_glove(directory, vocab=VOCAB, dim=4):
    path = os.path.join(directory, f"glove.6B.{dim}d.txt")
    with open(path, "w") as handle:
        for word, vector in vocab.items():
            handle.write(word + " " + " ".join(str(v) for v in vector) + "\n")
    return path


def test_known_words_multi_word_names_and_missing_names(tmp_path):
    _write_glove(tmp_path)
    names = ["man", "traffic light", "dog_house", "unicorn", "horse"]
    vectors = class_name_vectors(names, str(tmp_path), 4)
    assert torch.equal(vectors[0], torch.tensor(VOCAB["man"]))
    assert torch.equal(vectors[1], torch.tensor(VOCAB["traffic"]))  # longest word, first on ties
    assert torch.equal(vectors[2], torch.tensor(VOCAB["house"]))  # split at the underscore too
    assert torch.equal(vectors[4], torch.tensor(VOCAB["horse"]))
    # A name without any vector gets the seeded random vector it gets without GloVe.
    assert torch.equal(vectors[3], class_name_vectors(["unicorn"], str(tmp_path / "none"), 4)[0])


def test_seeded_vectors_depend_on_the_name_only(tmp_path):
    missing = str(tmp_path / "missing")
    torch.manual_seed(123)
    first = class_name_vectors(["a", "b", "start"], missing, 6)
    torch.manual_seed(999)
    again = class_name_vectors(["start", "b"], missing, 6)
    assert torch.equal(first[2], again[0]) and torch.equal(first[1], again[1])
    assert not torch.allclose(first[0], first[1])
    assert abs(float(class_name_vectors([f"w{i}" for i in range(400)], missing, 6).std()) - 1) < 0.1


def test_cache_is_written_in_sgb_format_and_used_without_the_text(tmp_path):
    txt = _write_glove(tmp_path)
    load_glove(str(tmp_path), 4)
    _, pt_path = glove_paths(str(tmp_path), 4)
    word_to_row, vectors, dim = torch.load(pt_path, weights_only=True)
    assert dim == 4 and torch.equal(vectors[word_to_row["light"]], torch.tensor(VOCAB["light"]))
    os.remove(txt)
    fresh = tmp_path / "copy"
    fresh.mkdir()
    os.replace(pt_path, fresh / "glove.6B.4d.pt")
    assert torch.equal(class_name_vectors(["horse"], str(fresh), 4)[0],
                       torch.tensor(VOCAB["horse"]))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_missing_file_warns_once_naming_the_folder_and_file(tmp_path):
    folder = str(tmp_path / "no_glove_here")
    # Listen on the module's own logger: setup_logger may stop the package from propagating.
    handler = _Records()
    module_logger = logging.getLogger(glove.__name__)
    module_logger.addHandler(handler)
    try:
        class_name_vectors(["man"], folder, 4)
        class_name_vectors(["horse", "start"], folder, 4)
    finally:
        module_logger.removeHandler(handler)
    assert len(handler.records) == 1
    message = handler.records[0].getMessage()
    assert folder in message and "glove.6B.4d.txt" in message


def test_corrupt_cache_is_one_clear_error(tmp_path):
    (tmp_path / "glove.6B.4d.pt").write_bytes(b"not a torch file")
    with pytest.raises(RuntimeError, match="glove.6B.4d.pt.*delete it"):
        load_glove(str(tmp_path), 4)


def test_wrong_width_text_names_the_file_and_line(tmp_path):
    _write_glove(tmp_path, {"man": [1.0, 2.0, 3.0, 4.0], "horse": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"glove.6B.4d.txt:2 has 2 values, expected 4"):
        load_glove(str(tmp_path), 4)
