"""Run a segmentation model on an RGB image and return a soft mask at the image's size."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import onnxruntime as ort

from workers.heap import return_free_heap
from workers.models.registry import ModelSpec
from workers.models.session import (
    CPU,
    SessionConfig,
    first_provider,
    narrow_session_wanted,
    open_session,
)
from workers.models.static_resizes import static_resizes_isolated

if TYPE_CHECKING:
    from workers.pipeline.run import StageTimes

# Above this many pixels the ~270 MB onnxruntime's arena keeps between runs is handed back after
# inference, before refinement and encoding allocate the photo's large arrays on top of it.
# Refilling it costs the next job ~130 ms of page faults, small beside the 1.7 s or more a photo
# this large takes. With it, no photo size raises a worker above ~550 MB, the 6 MP photo that
# just misses the release (bench/memory.py; the 36 MP job peaks at ~500 MB, not 705).
RELEASE_ARENA_ABOVE_PIXELS = 6_000_000


class Segmenter:
    """One model, loaded once per worker process: its onnxruntime session, and a one-thread
    session of the same graph for jobs that share the cores (:mod:`workers.cpu_share`)."""

    def __init__(
        self,
        spec: ModelSpec,
        session: ort.InferenceSession,
        narrow_session: ort.InferenceSession | None = None,
    ) -> None:
        self.spec = spec
        self._session = session
        self._narrow_session = narrow_session
        self._input_name = session.get_inputs()[0].name
        self._mean = np.asarray(spec.mean, dtype=np.float32)
        self._std = np.asarray(spec.std, dtype=np.float32)
        self._release_arena = ort.RunOptions()
        self._release_arena.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    @classmethod
    def load(cls, spec: ModelSpec, path: Path, config: SessionConfig) -> Segmenter:
        """Both sessions read one rewritten graph (:mod:`workers.models.static_resizes`) and
        share the process's CPU arena, so the narrow one costs about its own copy of the
        weights: 7–16 MB more resident memory for U²-Netp after a run on each."""
        model = None
        if spec.static_resizes:
            split = first_provider(config) == CPU  # see workers/models/concat_convs.py
            model = static_resizes_isolated(path, spec.input_size, split_concats=split)
        session = open_session(path, config, model=model)
        narrow = None
        if narrow_session_wanted(config, session.get_providers()):
            narrow = open_session(path, replace(config, intra_op_threads=1), model=model)
        return cls(spec, session, narrow)

    @property
    def providers(self) -> list[str]:
        return self._session.get_providers()

    @property
    def adapts_threads(self) -> bool:
        """Whether ``narrow=True`` runs on one thread (else it is the same session)."""
        return self._narrow_session is not None

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """Resize to the network's square input and normalise, as the model was trained.

        ``pixels``: H×W×3 RGB, or a decoder's H×W×4 workspace whose fourth channel is dropped
        after shrinking (its colours as a ``[..., :3]`` view would make OpenCV copy the photo).
        Area averaging when both sides shrink; cubic when a side grows, since OpenCV's area
        interpolation degrades to nearest-neighbour blocks when enlarging (on the development
        set's 267–400 px photos that cost 4 IoU points on some images).
        """
        size = self.spec.input_size
        height, width = pixels.shape[:2]
        interpolation = cv2.INTER_AREA if min(height, width) >= size else cv2.INTER_CUBIC
        resized = cv2.resize(pixels, (size, size), interpolation=interpolation)
        small = resized[..., :3].astype(np.float32)
        np.clip(small, 0, 255, out=small)
        small *= 1.0 / max(float(small.max()), 1e-6)
        small -= self._mean
        small /= self._std
        return small.transpose(2, 0, 1)[np.newaxis]

    def infer(
        self, batch: np.ndarray, *, release_memory: bool = False, narrow: bool = False
    ) -> np.ndarray:
        """Foreground probabilities from the first output: N×S×S float32 in [0, 1].

        Unlike rembg we do not min-max normalise the prediction: on a photo it already spans
        [0, 1], and on a blank or flat image stretching it would turn noise into a subject.
        Models that output logits (BiRefNet) go through a sigmoid. With ``release_memory`` the
        session's CPU arena is shrunk back to the system once the run is done. With ``narrow`` it
        runs on the one-thread session, if there is one.
        """
        options = self._release_arena if release_memory else None
        session = self._narrow_session if narrow and self._narrow_session else self._session
        out = session.run(None, {self._input_name: batch}, options)[0][:, 0]
        if release_memory:
            return_free_heap()
        if self.spec.output == "logits":
            out = 1.0 / (1.0 + np.exp(-out))
        return out.astype(np.float32, copy=False)

    def predict(
        self,
        pixels: np.ndarray,
        times: StageTimes | None = None,
        size: tuple[int, int] | None = None,
        *,
        narrow: bool = False,
    ) -> np.ndarray:
        """A soft foreground mask, float32 in [0, 1], at ``size`` (width, height; default the
        image's own); ``narrow`` as in :meth:`infer`.

        With ``times``, the two resizes (photo down to the network, mask back up) count as the
        ``resize`` stage and the network itself as ``inference``.
        """
        with _stage(times, "resize"):
            batch = self.preprocess(pixels)
        height, width = pixels.shape[:2]
        with _stage(times, "inference"):
            release = height * width > RELEASE_ARENA_ABOVE_PIXELS
            mask = self.infer(batch, release_memory=release, narrow=narrow)[0]
        with _stage(times, "resize"):
            return cv2.resize(mask, size or (width, height), interpolation=cv2.INTER_LINEAR)


def _stage(times: StageTimes | None, name: str) -> AbstractContextManager[None]:
    return times.stage(name) if times is not None else nullcontext()
