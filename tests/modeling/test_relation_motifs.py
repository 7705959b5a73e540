"""Motifs' ordering, batched sequence LSTMs and batched object decoder."""

import torch
from torch import nn

from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors.motifs_decoder import (
    DecoderRNN,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors.sequences import (
    SequenceBatch,
    left_to_right_order,
)


def test_objects_are_sorted_right_to_left_per_image():
    centres = torch.tensor([5.0, 9.0, 1.0, 9.0, 3.0, 4.0])
    orders = left_to_right_order(centres, [4, 0, 2])
    assert [o.tolist() for o in orders] == [[1, 3, 0, 2], [], [5, 4]]


def test_sequence_batch_round_trip_and_length_order():
    orders = [torch.tensor([2, 0]), torch.tensor([], dtype=torch.long), torch.tensor([4, 3, 1])]
    layout = SequenceBatch(orders, num_total=5)
    assert layout.lengths == [3, 2]  # longest image first, empty image dropped
    values = torch.arange(10.0).view(5, 2)
    padded = layout.pad(values)
    assert torch.equal(padded[0], values[[4, 3, 1]]) and torch.equal(padded[1, :2], values[[2, 0]])
    assert torch.equal(layout.unpad(padded), values)


def test_batched_bilstm_equals_one_image_at_a_time():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, bidirectional=True)
    values = torch.randn(6, 3)
    orders = [torch.tensor([1, 0]), torch.tensor([5, 2, 4, 3])]
    batched = SequenceBatch(orders, 6).run_lstm(lstm, values)
    for order in orders:
        alone, _ = lstm(values[order].unsqueeze(1))
        assert torch.allclose(batched[order], alone.squeeze(1), atol=1e-6)


def _decoder():
    torch.manual_seed(0)
    return DecoderRNN(obj_classes=["bg", "a", "b", "c"], embed_dim=3, inputs_dim=5,
                      hidden_dim=6, rnn_drop=0.2, glove_dir="/nonexistent")


def test_decoder_batched_evaluation_equals_one_image_at_a_time():
    decoder = _decoder().eval()
    features = torch.randn(7, 5)
    orders = [torch.tensor([0, 1, 2]), torch.tensor([6, 3, 5, 4])]
    logits, labels = decoder(features, SequenceBatch(orders, 7), None)
    assert torch.equal(labels, logits[:, 1:].argmax(1) + 1)
    for order in orders:
        sub = features[order]
        alone_logits, alone_labels = decoder(sub, SequenceBatch([torch.arange(len(order))],
                                                                len(order)), None)
        assert torch.allclose(logits[order], alone_logits, atol=1e-6)
        assert torch.equal(labels[order], alone_labels)


def test_decoder_training_feeds_given_labels_and_replaces_background():
    decoder = _decoder().train()
    features = torch.randn(4, 5)
    given = torch.tensor([2, 0, 3, 1])
    logits, fed = decoder(features, SequenceBatch([torch.arange(4)], 4), given)
    assert fed[[0, 2, 3]].tolist() == [2, 3, 1]
    assert int(fed[1]) == int(logits[1, 1:].argmax()) + 1
    # Teacher forcing: the label fed at step 2 changes step 3 only (same dropout mask).
    torch.manual_seed(5)
    first, _ = decoder(features, SequenceBatch([torch.arange(4)], 4), given)
    torch.manual_seed(5)
    second, _ = decoder(features, SequenceBatch([torch.arange(4)], 4), torch.tensor([2, 0, 1, 1]))
    assert torch.allclose(first[:3], second[:3]) and not torch.allclose(first[3], second[3])
