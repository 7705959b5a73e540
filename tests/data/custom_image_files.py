"""A folder of one's own images for the prediction tests: four readable files, two bad ones."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

RED = (220, 20, 20)
# Readable files -> their upright (width, height).
UPRIGHT_SIZES = {
    "a_rgb.png": (200, 150),
    "b_rgba.png": (120, 160),
    "c_grey.jpg": (90, 110),
    "d_rotated.jpg": (100, 160),  # stored 160 x 100 with EXIF orientation 6
}
BAD_FILES = ("e_text.jpg", "f_empty.png")
EXIF_ORIENTATION = 0x0112


def write_rotated_jpeg(path: Path) -> None:
    """160 x 100 pixels on disk, red block at the stored top-left, EXIF orientation 6 (the
    viewer turns it 90 degrees clockwise: the block shows at the upright top-right)."""
    raw = Image.new("RGB", (160, 100), (30, 60, 200))
    raw.paste(RED, (0, 0, 30, 20))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    raw.save(path, quality=95, exif=exif.tobytes())


def write_image_folder(folder: Path) -> Path:
    """The six files of the tests in ``folder`` (created); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.new("RGB", (200, 150), (40, 160, 60))
    rgb.paste((250, 250, 20), (50, 40, 120, 110))
    rgb.save(folder / "a_rgb.png")
    rgba = Image.new("RGBA", (120, 160), (0, 0, 0, 0))  # right half fully transparent black
    rgba.paste((*RED, 255), (0, 0, 60, 160))
    rgba.save(folder / "b_rgba.png")
    grey = Image.new("L", (90, 110), 90)
    grey.paste(200, (10, 10, 50, 70))
    grey.save(folder / "c_grey.jpg", quality=95)
    write_rotated_jpeg(folder / "d_rotated.jpg")
    (folder / "e_text.jpg").write_text("not an image, just text renamed to .jpg\n")
    (folder / "f_empty.png").write_bytes(b"")
    return folder
