#!/usr/bin/python3
"""Writes cmyk.jpg: a 32×16 Adobe CMYK JPEG (as Pillow and Photoshop write them: 4
components, APP14 "Adobe" marker, inverted values), left half RGB (200, 30, 60), right half
RGB (20, 160, 220), converted with Pillow's RGB→CMYK. Go's image/jpeg can decode such files
but cannot write them.

    cd lib/imageenc/testdata && /usr/bin/python3 cmyk.py
"""
from PIL import Image

img = Image.new("RGB", (32, 16), (200, 30, 60))
img.paste((20, 160, 220), (16, 0, 32, 16))
img.convert("CMYK").save("cmyk.jpg", quality=100)
