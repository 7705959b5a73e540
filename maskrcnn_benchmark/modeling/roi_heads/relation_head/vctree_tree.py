"""VCTree's tree construction: a greedy spanning tree over pair scores, as a binary forest.

Per image, SGB builds an arbitrary tree from the [n, n] pair-score matrix S: the root is the
object with the highest row mean of S; then, repeatedly, among all (chosen node i, remaining
node j) the pair with the highest S[i, j] attaches j as the next child of i (a Prim-like
maximum spanning tree; ties go to the earliest chosen i, then the lowest j). The tree becomes
a binary tree by the left-child/right-sibling rule: a node's first child is its left child and
each further child is the right child of the previous one. The forest of a batch is stored as
flat arrays over the concatenated objects, with the level schedules the batched tree LSTMs need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["BinaryForest", "greedy_spanning_tree", "build_binary_forest"]


def greedy_spanning_tree(scores: np.ndarray) -> tuple[int, list[list[int]]]:
    """Return (root, children lists in attachment order) of SGB's greedy tree over ``scores``."""
    num = scores.shape[0]
    root = int(np.argmax(scores.mean(axis=1)))
    children: list[list[int]] = [[] for _ in range(num)]
    chosen = [root]
    remaining = [j for j in range(num) if j != root]
    while remaining:
        block = scores[np.ix_(chosen, remaining)]
        parent_pos, child_pos = divmod(int(np.argmax(block)), len(remaining))
        child = remaining.pop(child_pos)
        children[chosen[parent_pos]].append(child)
        chosen.append(child)
    return root, children


@dataclass
class BinaryForest:
    """Binary trees over all objects of a batch (global indices; -1 = none).

    Attributes:
        left, right, parent: [N] long, binary-tree links (``parent`` of a right child is its
            previous sibling in the arbitrary tree).
        image: [N] long, the image of each node.
        bottom_up: node indices by height (leaves first): each node after its children.
        top_down: node indices by depth (roots first): each node after its parent.
    """

    left: Tensor
    right: Tensor
    parent: Tensor
    image: Tensor
    bottom_up: list[Tensor]
    top_down: list[Tensor]

    def __len__(self) -> int:
        return int(self.left.shape[0])


def _levels(level_of: np.ndarray) -> list[np.ndarray]:
    """Node indices grouped by level, level 0 first."""
    if len(level_of) == 0:
        return []
    return [np.flatnonzero(level_of == level) for level in range(int(level_of.max()) + 1)]


def build_binary_forest(scores_per_image: Sequence[Tensor], device: torch.device) -> BinaryForest:
    """Build the binary forest of a batch from each image's [n_i, n_i] pair scores."""
    left, right, parent, image = [], [], [], []
    offset = 0
    for img, scores in enumerate(scores_per_image):
        num = scores.shape[0]
        img_left, img_right, img_parent = (np.full(num, -1, dtype=np.int64) for _ in range(3))
        if num > 0:
            _, children = greedy_spanning_tree(scores.detach().float().cpu().numpy())
            for node, kids in enumerate(children):
                previous = node
                for k, kid in enumerate(kids):
                    if k == 0:
                        img_left[node] = kid
                    else:
                        img_right[previous] = kid
                    img_parent[kid] = previous
                    previous = kid
        for src, dst in ((img_left, left), (img_right, right), (img_parent, parent)):
            dst.append(np.where(src >= 0, src + offset, -1))
        image.append(np.full(num, img, dtype=np.int64))
        offset += num
    left_np = np.concatenate(left) if left else np.zeros(0, dtype=np.int64)
    right_np = np.concatenate(right) if right else np.zeros(0, dtype=np.int64)
    parent_np = np.concatenate(parent) if parent else np.zeros(0, dtype=np.int64)
    depth = _depths(parent_np)
    height = _heights(left_np, right_np, depth)

    def as_tensor(values: np.ndarray) -> Tensor:
        return torch.as_tensor(values, dtype=torch.long, device=device)

    return BinaryForest(
        left=as_tensor(left_np), right=as_tensor(right_np), parent=as_tensor(parent_np),
        image=as_tensor(np.concatenate(image) if image else np.zeros(0, dtype=np.int64)),
        bottom_up=[as_tensor(lv) for lv in _levels(height)],
        top_down=[as_tensor(lv) for lv in _levels(depth)],
    )


def _depths(parent: np.ndarray) -> np.ndarray:
    depth = np.full(len(parent), -1, dtype=np.int64)
    for node in range(len(parent)):
        chain = []
        cur = node
        while cur >= 0 and depth[cur] < 0:
            chain.append(cur)
            cur = parent[cur]
        base = depth[cur] if cur >= 0 else -1
        for step, member in enumerate(reversed(chain), start=1):
            depth[member] = base + step
    return depth


def _heights(left: np.ndarray, right: np.ndarray, depth: np.ndarray) -> np.ndarray:
    height = np.zeros(len(left), dtype=np.int64)
    for node in np.argsort(-depth, kind="stable"):  # deepest first: children are done already
        for child in (left[node], right[node]):
            if child >= 0:
                height[node] = max(height[node], height[child] + 1)
    return height
