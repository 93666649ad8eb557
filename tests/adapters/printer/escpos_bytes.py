"""Reading ESC/POS bytes back: the raster images (GS v 0), the native QR code's data
(GS ( k) and the paper feeds (ESC J), in order. For tests: what the printer would do."""

from __future__ import annotations

from PIL import Image

GS, ESC = 0x1D, 0x1B


def parse(data: bytes) -> list[tuple[str, object]]:
    """[("image", PIL image as printed) | ("qr", url) | ("feed", dots) | ("cut", None)] in order;
    other commands (init, alignment) are skipped by their known lengths."""
    out: list[tuple[str, object]] = []
    i = 0
    while i < len(data):
        if data[i] == GS and data[i + 1 : i + 3] == b"v0":
            width_bytes = data[i + 4] | data[i + 5] << 8
            height = data[i + 6] | data[i + 7] << 8
            start = i + 8
            raster = data[start : start + width_bytes * height]
            image = Image.frombytes("1", (width_bytes * 8, height), raster)
            image = Image.eval(image, lambda v: 255 - v).convert("1")
            mode = data[i + 3] & 3  # 1: double width, 2: double height, 3: both
            wide, tall = 2 if mode & 1 else 1, 2 if mode & 2 else 1
            if mode:  # as the printer draws it, dot for dot
                size = (image.width * wide, image.height * tall)
                image = image.resize(size, Image.Resampling.NEAREST)
            out.append(("image", image))
            i = start + width_bytes * height
        elif data[i] == GS and data[i + 1 : i + 3] == b"(k":
            length = data[i + 3] | data[i + 4] << 8
            body = data[i + 5 : i + 5 + length]
            if body[:3] == b"1P0":  # store the QR data
                out.append(("qr", body[3:].decode()))
            i += 5 + length
        elif data[i] == ESC and data[i + 1] == ord("J"):
            out.append(("feed", data[i + 2]))
            i += 3
        elif data[i] == GS and data[i + 1] == ord("V"):
            out.append(("cut", None))
            i += 3 if data[i + 2] in (0, 1, 48, 49) else 4
        else:
            i += 1
    return out
