"""Scene-graph pictures (PIL + matplotlib only): boxes, ranked triplets and a graph diagram.

- ``draw_scene_graph``: one panel (image with boxes and the triplet list, graph diagram beside).
- ``compose_panels``: several panels side by side (or in a grid) with titles.
- ``views``: the panel inputs from a prediction BoxList, a ``visualization.pth`` record (GT vs
  prediction with matched / missed / zero-shot statuses) or SGB's custom_prediction.json.
- ``runs``: whole test runs and predict folders to PNG files (tools/visualize_predictions.py).
"""

from .compose import compose_panels
from .draw import draw_scene_graph
from .style import STATUS_COLORS, STATUS_MEANINGS
from .views import (
    GraphView,
    ImageViews,
    mark_differences,
    rank_triplets,
    record_views,
    view_from_custom,
    view_from_prediction,
)

__all__ = [
    "draw_scene_graph",
    "compose_panels",
    "STATUS_COLORS",
    "STATUS_MEANINGS",
    "GraphView",
    "ImageViews",
    "mark_differences",
    "rank_triplets",
    "record_views",
    "view_from_custom",
    "view_from_prediction",
]
