"""Encoder options beyond SGB's (RETRIEVAL.MODEL POOLING, OUTPUT_RELU, GLIMPSES 0)."""

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.image_retrieval.data import EncodedGraph, GraphBatch
from maskrcnn_benchmark.image_retrieval.model import build_retrieval_model
from maskrcnn_benchmark.image_retrieval.retrieval_file import Vocabulary

VOCAB = Vocabulary(("horse", "man", "street"), ("on", "riding"),
                   ("guy", "horse", "road"), ("on", "ride"))


def _graph(entities, relations) -> EncodedGraph:
    return EncodedGraph(torch.tensor(entities), torch.tensor(relations).reshape(-1, 3))


GRAPHS = [_graph([2, 1, 3, 2], [[0, 1, 2], [0, 2, 1], [3, 2, 1]]),  # 4 entities
          _graph([1, 3], [[0, 1, 1]])]  # 2 entities


def _encoder(*opts: str, seed: int = 0):
    cfg = get_cfg()
    cfg.merge_from_list(["RETRIEVAL.MODEL.EMBED_DIM", "8", "RETRIEVAL.MODEL.HIDDEN_DIM", "8",
                         "RETRIEVAL.MODEL.OUTPUT_DIM", "16", "RETRIEVAL.MODEL.DROPOUT", "0.0",
                         *opts])
    torch.manual_seed(seed)
    return build_retrieval_model(cfg, VOCAB).eval().image_encoder


def _mlp_input(encoder, graphs) -> torch.Tensor:
    """What the encoder's output MLP receives (the pooled entity vectors)."""
    seen = []
    handle = encoder.output.register_forward_hook(lambda _m, args, _o: seen.append(args[0]))
    encoder(GraphBatch.collate(graphs))
    handle.remove()
    return seen[0]


def test_defaults_are_sgb_encoder():
    cfg = get_cfg()
    options = cfg.RETRIEVAL.MODEL
    assert (options.POOLING, options.OUTPUT_RELU, options.GLIMPSES, options.DROPOUT) == \
        ("sum", True, 2, 0.2)
    encoder = _encoder()
    assert len(encoder.glimpses) == 2
    with torch.no_grad():
        out = encoder(GraphBatch.collate(GRAPHS))
    assert (out >= 0).all()  # SGB's ReLU after the last layer
    assert (out == 0).any()


def test_linear_output_is_the_relu_output_before_its_relu():
    sgb, linear = _encoder(), _encoder("RETRIEVAL.MODEL.OUTPUT_RELU", "False")
    linear.load_state_dict(sgb.state_dict())  # the ReLU has no weights: same parameters
    with torch.no_grad():
        relu_out = sgb(GraphBatch.collate(GRAPHS))
        linear_out = linear(GraphBatch.collate(GRAPHS))
    assert (linear_out < 0).any()
    assert torch.allclose(torch.relu(linear_out), relu_out, atol=1e-6)
    assert not torch.allclose(linear_out, relu_out)


def test_mean_pooling_divides_the_sum_by_the_entity_count():
    summed, mean = _encoder(), _encoder("RETRIEVAL.MODEL.POOLING", "mean")
    mean.load_state_dict(summed.state_dict())
    with torch.no_grad():
        pooled_sum = _mlp_input(summed, GRAPHS)
        pooled_mean = _mlp_input(mean, GRAPHS)
    assert torch.allclose(pooled_mean[0], pooled_sum[0] / 4, atol=1e-6)
    assert torch.allclose(pooled_mean[1], pooled_sum[1] / 2, atol=1e-6)
    # an empty image graph (no entity) pools to zeros instead of dividing by 0
    empty = EncodedGraph(torch.zeros(0, dtype=torch.long), torch.zeros(0, 3, dtype=torch.long))
    with torch.no_grad():
        pooled = _mlp_input(mean, [GRAPHS[1], empty])
    assert torch.isfinite(pooled).all() and (pooled[1] == 0).all()


def test_no_glimpse_is_a_bag_of_entity_words():
    encoder = _encoder("RETRIEVAL.MODEL.GLIMPSES", "0")
    assert len(encoder.glimpses) == 0
    rewired = _graph([2, 1, 3, 2], [[1, 2, 1]])  # same entities, other relations
    with torch.no_grad():
        pooled = _mlp_input(encoder, [GRAPHS[0], rewired])
        expected = encoder.entity_embed(GRAPHS[0].entities).sum(0)
        out = encoder(GraphBatch.collate([GRAPHS[0], rewired]))
    assert torch.allclose(pooled[0], expected, atol=1e-6)
    assert torch.allclose(out[0], out[1], atol=1e-6)
    # with a glimpse the wiring matters
    with torch.no_grad():
        glimpsed = _encoder("RETRIEVAL.MODEL.GLIMPSES", "1")(GraphBatch.collate([GRAPHS[0],
                                                                                 rewired]))
    assert not torch.allclose(glimpsed[0], glimpsed[1], atol=1e-4)


@pytest.mark.parametrize("opts, message", [
    (("RETRIEVAL.MODEL.POOLING", "max"), "RETRIEVAL.MODEL.POOLING"),
    (("RETRIEVAL.MODEL.GLIMPSES", "-1"), "GLIMPSES not negative"),
    (("RETRIEVAL.MODEL.EMBED_DIM", "0"), "dimensions must be positive"),
])
def test_bad_encoder_options_are_one_clear_error(opts, message):
    with pytest.raises(ValueError, match=message):
        _encoder(*opts)
