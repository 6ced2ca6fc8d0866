"""The two ways ``cutout remove`` cuts out one file: in this process, or through a server.

Both answer ``(png, credits charged)`` or raise ``RemovalFailed`` with an ``error_code``, so the
command treats them alike. Both are safe to call from several threads at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from cutout_client import Cutout, CutoutError, Light, RetryPolicy, Shadow


class RemovalFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ShadowChoice:
    """The command's shadow flags: automatic light unless any light flag was given."""

    opacity: float = 0.5
    light: Light | None = None

    def for_api(self) -> Shadow:
        return Shadow(opacity=self.opacity, light=self.light)


class Remover(Protocol):
    def remove(self, source: Path) -> tuple[bytes, int]: ...

    def close(self) -> None: ...


class LocalRemover:
    """The worker's pipeline in this process; the model is loaded once and shared."""

    def __init__(self, shadow: ShadowChoice | None) -> None:
        from storage.settings import get_settings
        from workers.contract import JobOptions, ShadowOptions
        from workers.runtime import WorkerRuntime

        self._settings = get_settings()
        self._segmenter = WorkerRuntime(self._settings).segmenter
        resolved = None
        if shadow is not None:
            light = shadow.light
            resolved = (
                ShadowOptions(opacity=shadow.opacity, automatic=True)
                if light is None
                else ShadowOptions(shadow.opacity, light.size, light.x, light.y, light.z)
            )
        self._options = JobOptions(shadow=resolved)

    def remove(self, source: Path) -> tuple[bytes, int]:
        from storage.image_probe import ImageRejected, probe
        from workers.pipeline.run import StageTimes, remove_background

        try:
            data = source.read_bytes()
            settings = self._settings
            probe(data, min_side=settings.min_image_side, max_side=settings.max_image_side)
            return remove_background(data, self._options, self._segmenter, StageTimes()), 0
        except ImageRejected as rejected:
            raise RemovalFailed(rejected.code, rejected.message) from None
        except OSError as error:
            raise RemovalFailed("unreadable", str(error)) from None

    def close(self) -> None:
        pass


class RemoteRemover:
    """A Cutout server through the SDK (retries, Idempotency-Key, typed errors)."""

    def __init__(self, url: str, api_key: str, shadow: ShadowChoice | None) -> None:
        self._client = Cutout(api_key=api_key, base_url=url, retry=RetryPolicy(max_retries=4))
        self._shadow = shadow.for_api() if shadow else None

    def remove(self, source: Path) -> tuple[bytes, int]:
        try:
            result = self._client.remove_background(source, shadow=self._shadow)
        except CutoutError as error:
            raise RemovalFailed(error.error_code, error.message) from None
        except httpx.HTTPError as error:  # the server unreachable, even after retries
            raise RemovalFailed("unreachable", f"{type(error).__name__}: {error}") from None
        except OSError as error:
            raise RemovalFailed("unreadable", str(error)) from None
        assert result.png is not None
        return result.png, result.credits_charged

    def close(self) -> None:
        self._client.close()
