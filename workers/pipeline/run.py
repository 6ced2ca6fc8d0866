"""The whole pipeline for one image, with each stage timed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from workers.contract import JobOptions, ShadowLight, ShadowOptions
from workers.pipeline.compose import cut_out
from workers.pipeline.decode import decode
from workers.pipeline.encode import encode_png
from workers.pipeline.foreground import require_foreground
from workers.pipeline.light_estimate import estimate_light, manual_light
from workers.pipeline.refine import refine, working_size
from workers.pipeline.segment import Segmenter
from workers.pipeline.shadow import render_shadow


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


@dataclass(frozen=True, slots=True)
class Removal:
    """A job's result: the PNG, and the light its shadow was rendered with (None: no shadow)."""

    png: bytes
    shadow: ShadowLight | None = None


def add_shadow(rgba: np.ndarray, options: ShadowOptions) -> tuple[np.ndarray, ShadowLight]:
    """The shadow stage: choose the light (the caller's, or estimated), then render it."""
    if options.automatic:
        light = estimate_light(rgba[..., :3], rgba[..., 3], options)
    else:
        light = manual_light(options)
    rendered = ShadowOptions(
        opacity=light.opacity, size=light.size, x=light.x, y=light.y, z=light.z
    )
    return render_shadow(rgba, rendered), light


def run_pipeline(
    data: bytes,
    options: JobOptions,
    segmenter: Segmenter,
    times: StageTimes | None = None,
    *,
    refine_edges: bool = True,
    compact_png: bool = False,
    narrow: bool = False,
) -> Removal:
    """Encoded input in, the cut-out (with its shadow) out; raises ``ImageRejected``.

    ``compact_png`` writes the PNG with libpng at every size (see :func:`encode_png`);
    ``narrow`` runs inference on one thread (:meth:`Segmenter.infer`)."""
    times = times or StageTimes()
    with times.stage("decode"):
        image = decode(data)
    # Refinement of a large photo works on a shrunken copy: the mask is made at that size.
    size = working_size(*image.pixels.shape[:2]) if refine_edges else None
    mask = segmenter.predict(image.pixels, times, size, narrow=narrow)
    require_foreground(mask)
    with times.stage("refine"):
        # The decoder's H×W×4 workspace is refined, then cut out, in place.
        pixels, alpha = refine(
            image.pixels, mask, segmenter.spec.input_size, enabled=refine_edges, overwrite=True
        )
        # Arrays are freed as soon as they are used up: at 36 MP each is 36–144 MB of the
        # worker's peak.
        input_alpha = image.alpha
        del mask, image
        rgba = cut_out(pixels, alpha, input_alpha, overwrite=True)
        del alpha, pixels, input_alpha
    light = None
    if options.shadow is not None:
        with times.stage("shadow"):
            rgba, light = add_shadow(rgba, options.shadow)
    with times.stage("encode"):
        return Removal(encode_png(rgba, overwrite=True, compact=compact_png), light)


def remove_background(
    data: bytes,
    options: JobOptions,
    segmenter: Segmenter,
    times: StageTimes | None = None,
    *,
    refine_edges: bool = True,
) -> bytes:
    """Encoded input in, PNG bytes out (the shadow's light, if any, is dropped)."""
    return run_pipeline(data, options, segmenter, times, refine_edges=refine_edges).png
