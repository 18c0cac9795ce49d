"""Image preprocessing, timed beside TTFT but never inside it (design.md section 4).

What a FastVLM app does before the encoder runs: decode the camera frame or screenshot, pad it
to a square, resize it to the model's resolution, rescale it to [0, 1] and copy it to the
device. FastVLM's processor is LLaVA's with a CLIP image processor (`image_aspect_ratio = pad`:
pad with the mean colour, which is black because FastViTHD's mean is 0 and std 1; bicubic
resize of the shortest edge, then a centre crop that is a no-op on a square). On a 2-core CPU
it took 33 ms at 256 px, 5% of FastVLM-0.5B's TTFT there: small, but not nothing for an
architect budgeting the whole response.

The image is one fixed synthetic 1920x1080 JPEG (quality 90, ~0.7 MB: colour gradients plus
sensor-like noise, so that decoding does the work a photo makes it do). Its size, not its
content, sets the cost: decoding scales with the source pixels and resizing with both sizes.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import torch
from PIL import Image

SOURCE_SIZE = (1920, 1080)
JPEG_QUALITY = 90
SOURCE_LABEL = f"{SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} JPEG (q{JPEG_QUALITY})"
STEPS = "decode, pad to square, bicubic resize, rescale, copy to the device"


@functools.lru_cache(maxsize=4)
def sample_jpeg(size: tuple[int, int] = SOURCE_SIZE, seed: int = 0) -> bytes:
    """The fixed source image, JPEG-encoded in memory (built once per process and size)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1)
    noise = np.random.default_rng(seed).normal(0.0, 12.0, rgb.shape)
    pixels = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


class Preprocessor:
    """Callable: the JPEG bytes -> a (1, 3, r, r) tensor of `dtype` on `device`."""

    def __init__(self, resolution: int, device: str, dtype: torch.dtype,
                 source_size: tuple[int, int] = SOURCE_SIZE):
        self.resolution, self.device, self.dtype = resolution, device, dtype
        self.jpeg = sample_jpeg(source_size)

    def __call__(self) -> torch.Tensor:
        image = Image.open(io.BytesIO(self.jpeg)).convert("RGB")
        side = max(image.size)
        square = Image.new("RGB", (side, side), (0, 0, 0))
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        r = self.resolution
        square = square.resize((r, r), Image.Resampling.BICUBIC)
        pixels = torch.from_numpy(np.array(square)).permute(2, 0, 1).unsqueeze(0)
        return pixels.to(self.device, self.dtype).div_(255.0)
