"""The whole pipeline for one image, with each stage timed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from workers.contract import JobOptions
from workers.pipeline.compose import cut_out
from workers.pipeline.decode import decode
from workers.pipeline.encode import encode_png
from workers.pipeline.foreground import require_foreground
from workers.pipeline.refine import refine
from workers.pipeline.segment import Segmenter
from workers.pipeline.shadow import add_shadow


@dataclass
class StageTimes:
    """Seconds spent per stage, in the order the stages ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def remove_background(
    data: bytes, options: JobOptions, segmenter: Segmenter, times: StageTimes | None = None
) -> bytes:
    """Encoded input in, PNG cut-out out; raises ``ImageRejected`` for inputs we cannot use."""
    times = times or StageTimes()
    with times.stage("decode"):
        image = decode(data)
    mask = segmenter.predict(image.rgb, times)
    require_foreground(mask)
    with times.stage("refine"):
        alpha = refine(image.rgb, mask)
        del mask  # full-size arrays are freed as soon as they are used up: at 36 MP each is
        rgba = cut_out(image.rgb, alpha, image.alpha)  # 36–144 MB of the worker's peak
        del image, alpha
    if options.shadow is not None:
        with times.stage("shadow"):
            rgba = add_shadow(rgba, options.shadow)
    with times.stage("encode"):
        return encode_png(rgba, overwrite=True)
