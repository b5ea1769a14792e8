#!/usr/bin/python3
"""Independent reference for imageenc.PreprocessImageNet (run with Debian's /usr/bin/python3,
which has python3-torchvision and python3-pil).

Writes synthetic source images imagenet_src_*.png (a downscale and an upscale case, with
crop offsets that exercise Python's round-half-even) and imagenet_ref.tsv: for each, the
shape, sum and sha256 (float32 little-endian) of torchvision's
Resize(256) + CenterCrop(224) + ToTensor + Normalize(ImageNet mean, std) output.
With DEBUG=1 it also writes the 8-bit crops before ToTensor (imagenet_ref_*.png, not kept
in git) for locating a mismatch.

    cd lib/imageenc/testdata && /usr/bin/python3 imagenet_ref.py
"""
import hashlib
import os

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms


def synthetic(w, h, seed):
    """Smooth gradients, rings and fine stripes (antialiasing matters) in 8-bit RGB."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127.5 + 127.5 * np.sin(x / (3.0 + seed) + y / 17.0)
    g = 255.0 * ((np.hypot(x - w / 3, y - h / 2) / 9.0) % 1.0)
    b = np.where(((x // 2 + y // 3 + seed) % 2) == 0, 230.0, 20.0)
    img = np.stack([r, g, b], axis=-1)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


resize_crop = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
to_input = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])

cases = [("a", 299, 270, 1), ("b", 61, 97, 2)]
with open("imagenet_ref.tsv", "w") as out:
    out.write(f"# torchvision {torchvision.__version__}, torch {torch.__version__}, "
              f"PIL {Image.__version__}\n")
    out.write("case\tsource\tshape\tsum_float64\tsha256_float32_le\n")
    for name, w, h, seed in cases:
        src = synthetic(w, h, seed)
        src.save(f"imagenet_src_{name}.png", optimize=True)
        crop = resize_crop(Image.open(f"imagenet_src_{name}.png").convert("RGB"))
        if os.environ.get("DEBUG"):
            crop.save(f"imagenet_ref_{name}.png")
        t = to_input(crop).contiguous()
        a = t.numpy().astype("<f4")
        out.write(f"{name}\timagenet_src_{name}.png\t{'x'.join(map(str, a.shape))}\t"
                  f"{a.astype(np.float64).sum()!r}\t{hashlib.sha256(a.tobytes()).hexdigest()}\n")
