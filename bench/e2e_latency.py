"""End-to-end latency of one synchronous request, as a client sees it.

Runs against a stack started by ``make up`` (key from ``.run/demo-api-key``, created by
``make demo``). Sends the same ~1 MP JPEG N times, sequentially, and reports the median and
spread of the wall-clock time per request (HTTP → queue → worker → S3 → response).

    .venv/bin/python bench/e2e_latency.py --runs 15 [--image PATH] [--megapixels 1.0]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import httpx
from PIL import Image

DEFAULT_IMAGE = Path("docs/samples/astronaut.jpg")


def photo_at(path: Path, megapixels: float) -> bytes:
    image = Image.open(path).convert("RGB")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    resized = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key-file", type=Path, default=Path(".run/demo-api-key"))
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--accept", default="application/json")
    args = parser.parse_args()

    data = photo_at(args.image, args.megapixels)
    width, height = Image.open(io.BytesIO(data)).size
    key = args.key_file.read_text().strip()
    seconds: list[float] = []
    with httpx.Client(base_url=args.url, timeout=120) as client:
        for run in range(args.runs + 1):
            started = time.perf_counter()
            response = client.post(
                "/v1/remove-background",
                headers={"X-API-Key": key, "Accept": args.accept},
                files={"image": ("photo.jpg", data, "image/jpeg")},
            )
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            if run:  # the first request warms connections and caches
                seconds.append(elapsed)
    print(
        json.dumps(
            {
                "image": f"{args.image.name} resized to {width}x{height}",
                "megapixels": round(width * height / 1e6, 2),
                "runs": len(seconds),
                "accept": args.accept,
                "median_s": round(statistics.median(seconds), 3),
                "min_s": round(min(seconds), 3),
                "max_s": round(max(seconds), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
