"""Getting weights onto disk, run by an operator: ``cutout models pull`` and ``import-imgly``.

Nothing here runs inside a job or a worker's start-up: a worker only ever :func:`locate`\\ s a file.
Every file is written under a temporary name, verified, and only then renamed into place, so a
half-downloaded or tampered file never carries a model's name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
from pathlib import Path

import httpx

from workers.models.registry import ChecksumMismatch, ModelSpec, verify

IMGLY_PACKAGE = "@imgly/background-removal-data"
IMGLY_RESOURCE = "/models/medium"  # fp32, 1024²; "/models/small" is the fp16 variant


class PullRefused(ValueError):
    """A pull that cannot be verified (no checksum known) or has no source."""


def _temporary(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    return Path(name)


def _install(tmp: Path, target: Path, checksum: str) -> Path:
    try:
        verify(tmp, checksum)
    except ChecksumMismatch:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)
    return target


def pull(
    spec: ModelSpec,
    models_dir: Path,
    *,
    sha256: str | None = None,
    url: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``spec``'s weights into ``models_dir`` and verify them; returns the path.

    ``sha256`` overrides (or supplies) the checksum; ``url`` overrides the source (a mirror).
    """
    checksum = f"sha256:{sha256.lower()}" if sha256 else spec.checksum
    source = url or spec.url
    if checksum is None:
        raise PullRefused(f"{spec.name}: no checksum is known; pass --sha256 with one you trust")
    if source is None:
        raise PullRefused(f"{spec.name} has no download URL; see `cutout models --help`")
    target = models_dir / spec.filename
    if target.is_file():
        verify(target, checksum)
        return target
    tmp = _temporary(target)
    with (
        httpx.stream("GET", source, follow_redirects=True, timeout=timeout) as response,
        tmp.open("wb") as out,
    ):
        response.raise_for_status()
        for block in response.iter_bytes(1 << 20):
            out.write(block)
    return _install(tmp, target, checksum)


def _read_package(package: Path, resource: str) -> tuple[dict, dict[str, bytes] | Path]:
    """``resources.json`` and a way to read chunks, from a ``.tgz`` or an unpacked folder."""
    if package.is_dir():
        dist = package / "dist" if (package / "dist").is_dir() else package
        return json.loads((dist / "resources.json").read_text()), dist
    with tarfile.open(package, "r:gz") as archive:
        members = {
            member.name.removeprefix("package/dist/"): member
            for member in archive.getmembers()
            if member.isfile() and member.name.startswith("package/dist/")
        }
        resources = json.loads(archive.extractfile(members["resources.json"]).read())
        wanted = {chunk["hash"] for chunk in resources.get(resource, {}).get("chunks", [])}
        chunks = {
            name: archive.extractfile(member).read()
            for name, member in members.items()
            if name in wanted
        }
    return resources, chunks


def import_imgly(
    package: Path, spec: ModelSpec, models_dir: Path, resource: str = IMGLY_RESOURCE
) -> Path:
    """Join the chunks of ``resource`` from the npm package, in order, into a plain ONNX file.

    ``package`` is the ``.tgz`` that ``npm pack @imgly/background-removal-data`` writes (or its
    unpacked folder). Each chunk is content-addressed (its file name is its SHA-256, checked
    here) and declares its byte offsets; the joined file is checked against the declared size.
    The result's own SHA-256 is written to ``<file>.sha256`` for later verification.
    """
    resources, chunks = _read_package(package, resource)
    if resource not in resources:
        raise KeyError(f"{resource} not in resources.json; has {', '.join(resources)}")
    entry = resources[resource]
    target = models_dir / spec.filename
    tmp = _temporary(target)
    whole = hashlib.sha256()
    position = 0
    with tmp.open("wb") as out:
        for chunk in entry["chunks"]:
            name = chunk["hash"]
            data = chunks[name] if isinstance(chunks, dict) else (chunks / name).read_bytes()
            start, end = chunk.get("offsets", (position, position + len(data)))
            if hashlib.sha256(data).hexdigest() != name or (start, end) != (
                position,
                position + len(data),
            ):
                tmp.unlink(missing_ok=True)
                raise ChecksumMismatch(f"chunk {name} does not match its hash or offsets")
            out.write(data)
            whole.update(data)
            position = end
    if "size" in entry and tmp.stat().st_size != entry["size"]:
        tmp.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{resource}: {tmp.stat().st_size} bytes, expected {entry['size']}")
    target = _install(tmp, target, f"sha256:{whole.hexdigest()}")
    target.with_name(target.name + ".sha256").write_text(whole.hexdigest() + "\n")
    return target
