#!/usr/bin/python3
"""resnet50_preprocess.py writes fixtures of resnet50_test.go: synthetic images (PNG) and
torchvision's standard ImageNet evaluation transform of them (the preprocessing of the
model zoo's ResNet50), computed independently of the Go code: Resize(256) and
CenterCrop(224) on the PIL image, ToTensor, Normalize(ImageNet mean, std). The expected tensors are stored subsampled (every 8th row
and column) with the per-channel means of the full 224x224 planes.

Needs Debian's python3-torch, python3-torchvision, python3-pil, python3-numpy.
Usage: /usr/bin/python3 lib/imageenc/testdata/resnet50_preprocess.py
"""
import json
import os

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
STEP = 8


def synthetic(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x / 7.0) * np.cos(y / 5.0)
    img = np.stack([r, g, b], -1)
    img[(x // 16 + y // 16) % 2 == 0] *= 0.5  # sharp checkerboard edges
    ph, pw = min(h, 24), min(w, 24)
    img[:ph, :pw] = rng.integers(0, 256, (ph, pw, 3))  # a noise patch
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def main():
    cases = {
        "resnet50_landscape.png": synthetic(301, 200, 1),  # shrink; crop offset round(80.5) = 80
        "resnet50_portrait.png": synthetic(150, 170, 2),  # enlarge; longer side int(290.13)
        "resnet50_grey.png": synthetic(260, 260, 3).convert("L"),  # grey PNG, square
    }
    tf = T.Compose([
        T.Resize(256),
        T.CenterCrop(224),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    expected = {"step": STEP, "images": {}}
    for name, img in cases.items():
        img.save(os.path.join(HERE, name), optimize=True)
        x = tf(Image.open(os.path.join(HERE, name)).convert("RGB"))
        assert tuple(x.shape) == (3, 224, 224), x.shape
        expected["images"][name] = {
            "mean": [float(v) for v in x.mean(dim=(1, 2))],
            "sub": [round(float(v), 6) for v in x[:, ::STEP, ::STEP].flatten()],
        }
    with open(os.path.join(HERE, "resnet50_preprocess.json"), "w") as f:
        json.dump(expected, f)
    print("torch", torch.__version__)


if __name__ == "__main__":
    main()
