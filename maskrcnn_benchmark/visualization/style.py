"""Colours, fonts and sizes shared by every scene-graph picture (PIL's own font only)."""

from __future__ import annotations

from PIL import ImageDraw, ImageFont

__all__ = [
    "RGB",
    "STATUS_COLORS",
    "STATUS_MEANINGS",
    "OBJECT_COLORS",
    "FONT_SIZE",
    "LINE_HEIGHT",
    "MARGIN",
    "BACKGROUND",
    "TEXT_COLOR",
    "check_statuses",
    "draw_centered",
    "load_font",
    "object_color",
    "text_width",
]

RGB = tuple[int, int, int]

# One colour per relation status; a picture's legend lists the statuses it shows.
STATUS_COLORS: dict[str, RGB] = {
    "gt": (31, 119, 180),  # a ground-truth relation (no recall information)
    "zero-shot gt": (140, 86, 75),  # a ground-truth relation whose triplet type is not in train
    "matched": (44, 160, 44),  # GT recalled in the top K / prediction that recalls a GT row
    "missed": (214, 39, 40),  # GT not recalled in the top K
    "zero-shot": (204, 150, 0),  # a zero-shot GT relation recalled / the prediction recalling it
    "zero-shot missed": (148, 103, 189),  # a zero-shot GT relation not recalled
    "unmatched": (140, 140, 150),  # a prediction that recalls no GT relation
    "predicted": (17, 120, 110),  # a prediction without ground truth to compare with
}
STATUS_MEANINGS: dict[str, str] = {
    "gt": "ground truth",
    "zero-shot gt": "ground truth, zero-shot triplet",
    "matched": "matched",
    "missed": "missed",
    "zero-shot": "zero-shot hit",
    "zero-shot missed": "zero-shot missed",
    "unmatched": "no GT match",
    "predicted": "predicted",
}

# Objects (boxes and graph nodes) cycle through these.
OBJECT_COLORS: tuple[RGB, ...] = (
    (230, 25, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (60, 180, 75),
    (240, 50, 230), (0, 128, 128), (170, 110, 40), (128, 0, 0), (0, 0, 128),
    (128, 128, 0), (70, 240, 240), (210, 245, 60), (250, 190, 212), (255, 225, 25),
)

FONT_SIZE = 13
LINE_HEIGHT = 18
MARGIN = 8
BACKGROUND: RGB = (255, 255, 255)
TEXT_COLOR: RGB = (20, 20, 20)

_FONTS: dict[int, ImageFont.ImageFont] = {}


def load_font(size: int = FONT_SIZE) -> ImageFont.ImageFont:
    """PIL's built-in font at ``size`` (Pillow >= 10.1), else its fixed-size bitmap font."""
    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: no sizes
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def text_width(font: ImageFont.ImageFont, text: str) -> int:
    """Width in pixels of ``text`` drawn with ``font``."""
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def draw_centered(draw: ImageDraw.ImageDraw, centre: tuple[float, float], text: str,
                  font: ImageFont.ImageFont, fill: RGB) -> None:
    """Draw ``text`` centred on ``centre`` (works for bitmap and FreeType fonts alike)."""
    left, top, right, bottom = font.getbbox(text)
    draw.text((centre[0] - (left + right) / 2.0, centre[1] - (top + bottom) / 2.0), text,
              fill=fill, font=font)


def object_color(index: int) -> RGB:
    """The colour of object ``index`` (its box and its graph node)."""
    return OBJECT_COLORS[index % len(OBJECT_COLORS)]


def check_statuses(statuses: list[str]) -> None:
    """Raise a ValueError naming any status that has no colour."""
    unknown = sorted(set(statuses) - set(STATUS_COLORS))
    if unknown:
        raise ValueError(f"unknown relation status {unknown}; use one of {list(STATUS_COLORS)}")
