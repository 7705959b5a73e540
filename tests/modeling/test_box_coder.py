"""BoxCoder: hand-computed deltas, encode/decode round trips, class-specific decode, clipping."""

import math

import pytest
import torch

from maskrcnn_benchmark.modeling.box_coder import BoxCoder


def _random_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 200
    wh = torch.rand(n, 2, generator=g) * 150 + 1
    return torch.cat([xy, xy + wh], dim=1)


def test_encode_matches_hand_computed_deltas():
    proposal = torch.tensor([[0.0, 0.0, 9.0, 19.0]])  # w 10, h 20, centre (5, 10) with +1 sizes
    gt = torch.tensor([[5.0, 0.0, 14.0, 39.0]])  # w 10, h 40, centre (10, 20)
    deltas = BoxCoder((10.0, 10.0, 5.0, 5.0)).encode(gt, proposal)
    expected = torch.tensor([[10 * 5 / 10, 10 * 10 / 20, 0.0, 5 * math.log(2.0)]])
    torch.testing.assert_close(deltas, expected)


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_decode_inverts_encode(weights):
    coder = BoxCoder(weights)
    reference, proposals = _random_boxes(50, 1), _random_boxes(50, 2)
    decoded = coder.decode(coder.encode(reference, proposals), proposals)
    torch.testing.assert_close(decoded, reference, atol=1e-3, rtol=1e-5)


def test_zero_deltas_decode_to_the_reference_box():
    boxes = _random_boxes(10, 3)
    decoded = BoxCoder((10.0, 10.0, 5.0, 5.0)).decode(torch.zeros(10, 4), boxes)
    torch.testing.assert_close(decoded, boxes, atol=1e-4, rtol=0)


def test_class_specific_decode_equals_decoding_each_class_alone():
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    boxes = _random_boxes(7, 4)
    codes = torch.randn(7, 4 * 3)
    decoded = coder.decode(codes, boxes)
    assert decoded.shape == (7, 12)
    for c in range(3):
        torch.testing.assert_close(decoded[:, 4 * c: 4 * c + 4],
                                   coder.decode(codes[:, 4 * c: 4 * c + 4], boxes))


def test_decode_clamps_log_scale_deltas():
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    box = torch.tensor([[0.0, 0.0, 15.0, 15.0]])  # 16 x 16
    decoded = coder.decode(torch.tensor([[0.0, 0.0, 100.0, 100.0]]), box)
    width = decoded[0, 2] - decoded[0, 0] + 1
    torch.testing.assert_close(width, torch.tensor(16.0 * 1000.0 / 16), rtol=1e-5, atol=1e-3)
