"""What a worker process builds once and reuses for every job.

Built lazily on first use, or eagerly when the worker process starts (see :mod:`workers.tasks`),
so that model loading happens before the first job rather than inside it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import redis
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_sessionmaker
from storage.objects import ObjectStore
from storage.settings import Settings
from workers.celery_app import create_celery
from workers.cpu_share import RunningJobs
from workers.models.registry import get_spec, locate
from workers.models.session import SessionConfig
from workers.pipeline.segment import Segmenter

log = logging.getLogger(__name__)


@dataclass
class WorkerRuntime:
    settings: Settings
    device_id: int | None = None
    providers: tuple[str, ...] = ()  # from the worker's placement; empty: the settings' list
    model_load_seconds: float = field(default=0.0, init=False)  # of the last model loaded

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(make_engine(self.settings))

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.settings)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url, socket_timeout=5)

    @cached_property
    def celery(self) -> Celery:
        """For sending follow-up messages (webhook deliveries) by task name."""
        return create_celery(self.settings)

    @cached_property
    def session_config(self) -> SessionConfig:
        return SessionConfig(
            providers=tuple(self.providers or self.settings.ort_providers),
            device_id=self.device_id,
            intra_op_threads=self.settings.ort_intra_op_threads,
            inter_op_threads=self.settings.ort_inter_op_threads,
            openvino_precision=self.settings.openvino_precision,
            allow_spinning=self.settings.ort_allow_spinning,
            adaptive_threads=self.settings.ort_adaptive_threads,
        )

    @cached_property
    def segmenter(self) -> Segmenter:
        """The server's default model, loaded when the worker process starts."""
        return self._load(self.settings.model_name)

    def limit_threads(self) -> None:
        limit_opencv_threads(self.settings.ort_intra_op_threads)

    @cached_property
    def running_jobs(self) -> RunningJobs:
        return RunningJobs()

    @contextmanager
    def job_threads(self, segmenter: Segmenter) -> Iterator[bool]:
        """Run one job on ``segmenter``: yields whether it runs narrow (one onnxruntime and one
        OpenCV thread) because another worker process of the machine is running a job too.
        Alone, it gets the wide thread budget (:mod:`workers.cpu_share`)."""
        if not segmenter.adapts_threads:
            yield False
            return
        with self.running_jobs.running() as others:
            narrow = others > 0
            wide = cv2.getNumThreads()
            if narrow:
                cv2.setNumThreads(1)
            try:
                yield narrow
            finally:
                cv2.setNumThreads(wide)

    @cached_property
    def _others(self) -> dict[str, Segmenter]:
        return {}

    def segmenter_for(self, model: str | None) -> Segmenter:
        """The model a job asked for (loaded on first use, then kept), or the default."""
        if model is None or model == self.settings.model_name:
            return self.segmenter
        if model not in self._others:
            self._others[model] = self._load(model)
        return self._others[model]

    def _load(self, name: str) -> Segmenter:
        spec = get_spec(name, self.settings.models_dir)
        path = locate(spec, self.settings.models_dir)
        log.info("loading model %s from %s (%s)", name, path, spec.license)
        started = time.perf_counter()
        segmenter = Segmenter.load(spec, path, self.session_config)
        self.model_load_seconds = time.perf_counter() - started
        return segmenter


def limit_opencv_threads(threads: int) -> None:
    """Give OpenCV (decode/refine/encode) the same thread budget as onnxruntime.

    A worker process is one CPU slot of ``CUTOUT_ORT_INTRA_OP_THREADS`` cores, but OpenCV's
    pool otherwise takes every core of the machine: two slots on two cores would each run
    two OpenCV threads on top of their inference and contend for the same cores. With 0
    (onnxruntime decides) OpenCV keeps its own default too.
    """
    if threads > 0:
        cv2.setNumThreads(threads)
    log.info("OpenCV threads per job: %s", cv2.getNumThreads())
