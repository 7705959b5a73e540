"""BatchNorm whose training statistics cover the whole global batch under DDP, on any backend.

``torch.nn.SyncBatchNorm`` needs CUDA; this one all-reduces per-channel sums with the autograd
all-reduce of ``torch.distributed.nn`` (so gradients flow through the statistics, as in
SyncBatchNorm) and works with gloo on CPUs too. With it, N processes train exactly like one
process with the same global batch. A batch with at most one value per channel over all ranks
is normalised with the running statistics (it has no variance), like SGB's 1-box images.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from maskrcnn_benchmark.utils.comm import is_distributed

__all__ = ["DistributedBatchNorm", "convert_distributed_batch_norm"]


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose backward sums the incoming gradients over ranks too."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:  # noqa: D102
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: D102
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class DistributedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm1d/2d with statistics all-reduced over ranks (same parameters and buffers)."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"DistributedBatchNorm expects [N, C, ...] input, got {x.dim()}-d")

    def forward(self, x: Tensor) -> Tensor:
        """Normalise over every dimension but the channel dimension 1, across all ranks."""
        self._check_input_dim(x)
        if not self.training or not is_distributed():
            if self.training and x.numel() // max(x.shape[1], 1) <= 1:
                return self._with_running_stats(x)
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        channels = x.shape[1]
        count = x.new_tensor([float(x.numel() // channels)])
        local = torch.cat([x.sum(dims), (x * x).sum(dims), count.to(x.dtype)])
        total = _AllReduceSum.apply(local)
        n = total[-1].detach()
        if float(n) <= 1:
            return self._with_running_stats(x)
        mean = total[:channels] / n
        var = (total[channels:2 * channels] / n - mean * mean).clamp(min=0)
        if self.track_running_stats:
            with torch.no_grad():
                momentum = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                unbiased = var.detach() * (n / (n - 1))
                self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
                self.num_batches_tracked.add_(1)
        shape = (1, channels) + (1,) * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    def _with_running_stats(self, x: Tensor) -> Tensor:
        return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                        self.bias, False, 0.0, self.eps)


def convert_distributed_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d/2d below ``module`` by DistributedBatchNorm.

    The new layers hold the very same parameter and buffer tensors, so an optimizer built
    before the conversion keeps updating them and state-dict keys do not change.
    """
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        converted = DistributedBatchNorm(module.num_features, module.eps, module.momentum,
                                         module.affine, module.track_running_stats)
        for name, param in module.named_parameters(recurse=False):
            setattr(converted, name, param)
        for name, buffer in module.named_buffers(recurse=False):
            converted.register_buffer(name, buffer)
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        new_child = convert_distributed_batch_norm(child)
        if new_child is not child:
            setattr(module, name, new_child)
    return module
