"""DistributedBatchNorm: same result as BatchNorm on the global batch, across 2 gloo ranks."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from maskrcnn_benchmark.layers.distributed_batch_norm import (
    DistributedBatchNorm,
    convert_distributed_batch_norm,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, x: torch.Tensor, weight: torch.Tensor, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3, momentum=0.3)
    bn.weight.data.copy_(weight)
    bn = convert_distributed_batch_norm(nn.Sequential(bn))[0]
    part = x[:3] if rank == 0 else x[3:]  # unequal shares: 3 and 2 images
    local = part.clone().requires_grad_(True)
    y = bn(local)
    (y * torch.arange(1.0, 4.0).view(1, 3, 1, 1)).pow(2).sum().backward()
    grads = [torch.zeros_like(bn.weight.grad) for _ in range(2)]
    dist.all_gather(grads, bn.weight.grad)
    # numpy arrays travel by value (a shared tensor would vanish when this process exits)
    queue.put((rank, *(t.detach().numpy() for t in (y, local.grad, sum(grads), bn.running_mean,
                                                    bn.running_var))))
    dist.destroy_process_group()


def test_two_ranks_match_one_batch_norm_on_the_global_batch():
    torch.manual_seed(1)
    x = torch.randn(5, 3, 4, 4) * 2 + 1
    weight = torch.tensor([0.5, 1.5, -1.0])
    ref = nn.BatchNorm2d(3, momentum=0.3)
    ref.weight.data.copy_(weight)
    xr = x.clone().requires_grad_(True)
    yr = ref(xr)
    (yr * torch.arange(1.0, 4.0).view(1, 3, 1, 1)).pow(2).sum().backward()

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, x, weight, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = {item[0]: [torch.from_numpy(a) for a in item[1:]]
               for item in (queue.get(timeout=60) for _ in range(2))}
    for p in procs:
        p.join(timeout=60)
    y = torch.cat([results[0][0], results[1][0]])
    xgrad = torch.cat([results[0][1], results[1][1]])
    assert torch.allclose(y, yr.detach(), atol=1e-5)
    assert torch.allclose(xgrad, xr.grad, atol=1e-4)
    assert torch.allclose(results[0][2], ref.weight.grad, atol=1e-4)  # sum over ranks
    assert torch.allclose(results[0][3], ref.running_mean, atol=1e-6)
    assert torch.allclose(results[0][4], ref.running_var, atol=1e-5)


def test_conversion_keeps_parameters_buffers_and_keys():
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Sequential(nn.BatchNorm2d(2)))
    weight, mean = model[1].weight, model[1].running_mean
    keys = list(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    convert_distributed_batch_norm(model)
    assert isinstance(model[1], DistributedBatchNorm) and isinstance(model[2][0],
                                                                     DistributedBatchNorm)
    assert model[1].weight is weight and model[1].running_mean is mean
    assert list(model.state_dict()) == keys
    assert any(p is weight for g in opt.param_groups for p in g["params"])


def test_single_process_behaves_like_batch_norm_and_handles_one_row():
    bn = DistributedBatchNorm(3)
    ref = nn.BatchNorm1d(3)
    x = torch.randn(6, 3)
    assert torch.allclose(bn(x), ref(x))
    one = torch.randn(1, 3)
    assert torch.allclose(bn(one), (one - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps))
    with pytest.raises(ValueError, match="DistributedBatchNorm"):
        bn(torch.randn(3))
