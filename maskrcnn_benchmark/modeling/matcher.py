"""Matcher: assigns each prediction (anchor or proposal) to its best ground-truth box."""

import torch

__all__ = ["Matcher"]


class Matcher:
    """IoU-threshold matching of N predictions against M ground-truth boxes.

    Returns an int64 [N] tensor: the matched GT index, ``BELOW_LOW_THRESHOLD`` (-1, background)
    or ``BETWEEN_THRESHOLDS`` (-2, ignored). With ``allow_low_quality_matches`` every GT also
    keeps the predictions that overlap it best (ties included), even below the high threshold.
    An image without GT boxes matches every prediction to background (the reference raises).
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(
        self, high_threshold: float, low_threshold: float, allow_low_quality_matches: bool = False
    ) -> None:
        if low_threshold > high_threshold:
            raise ValueError(
                f"Matcher needs low_threshold <= high_threshold, got {low_threshold} > "
                f"{high_threshold} (check the *_IOU_THRESHOLD config keys)"
            )
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.allow_low_quality_matches = allow_low_quality_matches

    def __call__(self, match_quality_matrix: torch.Tensor) -> torch.Tensor:
        """Match from an [M (GT), N (predictions)] IoU matrix; returns [N] indices."""
        num_gt, num_pred = match_quality_matrix.shape
        if num_gt == 0 or num_pred == 0:
            return torch.full(
                (num_pred,), self.BELOW_LOW_THRESHOLD, dtype=torch.int64,
                device=match_quality_matrix.device,
            )
        matched_vals, matches = match_quality_matrix.max(dim=0)
        all_matches = matches.clone()
        matches[matched_vals < self.low_threshold] = self.BELOW_LOW_THRESHOLD
        between = (matched_vals >= self.low_threshold) & (matched_vals < self.high_threshold)
        matches[between] = self.BETWEEN_THRESHOLDS
        if self.allow_low_quality_matches:
            best_per_gt = match_quality_matrix.max(dim=1).values
            pred_inds = torch.nonzero(match_quality_matrix == best_per_gt[:, None])[:, 1]
            matches[pred_inds] = all_matches[pred_inds]
        return matches
