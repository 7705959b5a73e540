"""Several pictures in one (a grid of panels, each under its own title, under a sheet title),
and writing a picture to disk."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from PIL import Image, ImageDraw

from .draw import TITLE_HEIGHT
from .style import BACKGROUND, MARGIN, TEXT_COLOR, load_font

__all__ = ["compose_panels", "save_picture"]


def compose_panels(
    panels: Sequence[Image.Image],
    titles: Sequence[str] | None = None,
    *,
    columns: int | None = None,
    title: str | None = None,
) -> Image.Image:
    """Panels in a grid, row by row (``columns`` per row, default all in one row).

    Each cell is as wide as the widest panel of its column and as tall as the tallest of its
    row (plus a title line when ``titles`` are given); a sheet title goes above everything.
    """
    if not panels:
        raise ValueError("compose_panels needs at least one panel")
    if titles is not None and len(titles) != len(panels):
        raise ValueError(f"{len(titles)} titles for {len(panels)} panels")
    columns = len(panels) if columns is None else columns
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    rows = math.ceil(len(panels) / columns)
    cell_title = TITLE_HEIGHT if titles else 0
    widths = [max(p.width for p in panels[c::columns]) for c in range(columns)]
    heights = [max(p.height for p in panels[r * columns:(r + 1) * columns]) + cell_title
               for r in range(rows)]
    top = MARGIN + (TITLE_HEIGHT if title else 0)
    sheet = Image.new("RGB", (sum(widths) + (columns + 1) * MARGIN,
                              top + sum(heights) + rows * MARGIN), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = load_font(15)
    if title:
        draw.text((MARGIN, MARGIN), title, fill=TEXT_COLOR, font=font)
    for n, panel in enumerate(panels):
        row, column = divmod(n, columns)
        x = MARGIN + sum(widths[:column]) + column * MARGIN
        y = top + sum(heights[:row]) + row * MARGIN
        if titles:
            draw.text((x, y), titles[n], fill=TEXT_COLOR, font=font)
        sheet.paste(panel.convert("RGB"), (x, y + cell_title))
    return sheet


def save_picture(picture: Image.Image, path: str) -> str:
    """Write a PNG through a temporary file and a rename (never half a file); returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        picture.save(tmp, format="PNG", optimize=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
