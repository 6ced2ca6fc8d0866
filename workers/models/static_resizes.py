"""U²-Net's upsampling made static, so onnxruntime keeps the whole network in its blocked layout.

Exported from PyTorch, U²-Net computes the output size of each of its 38 upsamplings at run time
(Shape → Gather → Concat → Resize, ``pytorch_half_pixel``). onnxruntime's NCHWc transformer,
which runs convolutions in a SIMD-friendly blocked layout, only takes a Resize whose scales are
constant, so every upsampling was wrapped in layout conversions: 14% of a U²-Netp run.

The network's input size is fixed, so every size is known. We run the model once to read them,
write them back as constant integer scales, and switch ``pytorch_half_pixel`` to
``half_pixel``, which is the same coordinate mapping whenever an output side is longer than one
pixel. Same weights, same function: the rewritten model's output is checked against the
original's before use, and the original is kept when anything does not fit. U²-Netp's inference
takes 12–25% less CPU side by side (``bench/fast_paths.py``); its masks differ by less than 1e-5.

For onnxruntime's CPU provider the same pass folds the concatenations the convolutions read into
them (:mod:`workers.models.concat_convs`), under the same check.

Workers call :func:`static_resizes_isolated`, which does the work in a child process: the probe
sessions allocate and free hundreds of MB in tensors of up to 26 MB, which raises glibc's
adaptive mmap threshold, and the worker's own large temporaries then stayed resident (the 36 MP
job peaked ~80 MB higher). The child takes its heap with it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from workers.models.concat_convs import split_concat_convs

log = logging.getLogger(__name__)

_SAME_WHEN_LONGER_THAN_ONE = {b"pytorch_half_pixel": b"half_pixel", b"half_pixel": b"half_pixel"}
TOLERANCE = 1e-4  # largest difference from the original output accepted (outputs in [0, 1])


def static_resizes_isolated(
    path: Path, input_size: int, *, split_concats: bool = False, timeout: float = 300
) -> bytes | None:
    """:func:`static_resizes` run in a child process (see the module's docstring)."""
    command = [sys.executable, "-m", __name__, str(path), str(input_size)]
    command += ["split-concats"] if split_concats else []
    try:
        # Our own interpreter and module; the path is the registry's, not a caller's.
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        log.warning("model %s: static upsampling took over %s s; kept as is", path.name, timeout)
        return None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        log.warning("model %s: static upsampling failed (%s); kept as is", path.name, reason)
        return None
    if not done.stdout:
        log.info("model %s: upsampling kept as exported", path.name)
        return None
    folded = ", concatenations folded into their convolutions" if split_concats else ""
    log.info("model %s: upsampling made static%s", path.name, folded)
    return done.stdout


def static_resizes(path: Path, input_size: int, *, split_concats: bool = False) -> bytes | None:
    """The model at ``path`` with constant-scale Resizes, serialised; None if it has none to
    rewrite, or if the rewrite would change what the model computes.

    With ``split_concats`` the concatenations its convolutions read are folded into them too
    (:mod:`workers.models.concat_convs`; for onnxruntime's CPU provider), once the constant
    scales let shape inference count every tensor's channels; the same check covers both."""
    model = onnx.load(str(path))
    resizes = [node for node in model.graph.node if _has_runtime_sizes(node)]
    if not resizes:
        return None
    probe_input = _probe_input(model, input_size)
    original, shapes = _probe(model, resizes, probe_input)
    for index, node in enumerate(resizes):
        scales = _integer_scales(*shapes[index])
        if scales is None:
            log.info("model %s: upsampling %s is not by whole factors; kept", path.name, node.name)
            return None
        roi, scales_name = f"static_roi_{index}", f"static_scales_{index}"
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(np.zeros(0, np.float32), roi),
                numpy_helper.from_array(scales, scales_name),
            ]
        )
        data = node.input[0]
        del node.input[:]
        node.input.extend([data, roi, scales_name])
        mode = next(a for a in node.attribute if a.name == "coordinate_transformation_mode")
        mode.s = _SAME_WHEN_LONGER_THAN_ONE[mode.s]
    folded = split_concat_convs(model) if split_concats else 0
    _drop_unused(model.graph)
    rewritten = model.SerializeToString()
    difference = np.abs(_session(rewritten).run(None, probe_input)[0] - original).max()
    if difference > TOLERANCE:
        log.warning(
            "model %s: static upsampling changed the output by %g; kept", path.name, difference
        )
        return None
    log.info(
        "model %s: %d upsamplings made static, %d concatenations folded (output within %.1g)",
        path.name,
        len(resizes),
        folded,
        difference,
    )
    return rewritten


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Remove the size computations no Resize reads any more (onnxruntime would log a warning
    for each of their ~100 constants at every load)."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):  # ONNX graphs are stored in topological order
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(node.input)
    initializers = [tensor for tensor in graph.initializer if tensor.name in needed]
    graph.ClearField("node")
    graph.node.extend(reversed(kept))
    graph.ClearField("initializer")
    graph.initializer.extend(initializers)


def _has_runtime_sizes(node: onnx.NodeProto) -> bool:
    """A linear Resize given ``sizes`` (its 4th input), with a coordinate mode we can keep."""
    if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
        return False
    attributes = {a.name: a for a in node.attribute}
    mode = attributes.get("coordinate_transformation_mode")
    return mode is not None and mode.s in _SAME_WHEN_LONGER_THAN_ONE


def _probe_input(model: onnx.ModelProto, input_size: int) -> dict[str, np.ndarray]:
    name = model.graph.input[0].name
    rng = np.random.default_rng(0)
    return {name: rng.random((1, 3, input_size, input_size), dtype=np.float32)}


def _probe(
    model: onnx.ModelProto, resizes: list[onnx.NodeProto], probe_input: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[tuple[tuple[int, ...], np.ndarray]]]:
    """The model's first output, and each Resize's input shape and requested output size,
    from one run of the model."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for node in resizes:
        probe.graph.output.extend(
            [
                helper.make_tensor_value_info(node.input[0], TensorProto.FLOAT, None),
                helper.make_tensor_value_info(node.input[3], TensorProto.INT64, None),
            ]
        )
    session = _session(probe.SerializeToString())
    names = [output.name for output in session.get_outputs()]
    outputs = session.run(None, probe_input)
    values = dict(zip(names, outputs, strict=True))
    return outputs[0], [(values[node.input[0]].shape, values[node.input[3]]) for node in resizes]


def _integer_scales(shape: tuple[int, ...], sizes: np.ndarray) -> np.ndarray | None:
    """Per-axis whole-number factors from ``shape`` to ``sizes`` (batch and channels kept);
    None unless every output side is longer than 1 and an exact multiple."""
    if len(shape) != 4 or tuple(sizes[:2]) != tuple(shape[:2]):
        return None
    scales = [1.0, 1.0]
    for before, after in zip(shape[2:], sizes[2:], strict=True):
        if after <= 1 or after % before:
            return None
        scales.append(float(after // before))
    return np.asarray(scales, np.float32)


def _session(model: str | bytes) -> ort.InferenceSession:
    """A throwaway CPU session. Without an arena its memory goes back when it is dropped: a
    worker's peak must not be set while it loads its model."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.log_severity_level = 3  # the probe's unused initialisers are not worth a warning
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


if __name__ == "__main__":  # python -m workers.models.static_resizes MODEL SIZE [split-concats]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    split = sys.argv[3:] == ["split-concats"]
    rewritten = static_resizes(Path(sys.argv[1]), int(sys.argv[2]), split_concats=split)
    sys.stdout.buffer.write(rewritten or b"")
