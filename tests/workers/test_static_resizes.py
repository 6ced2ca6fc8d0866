"""Fixing U²-Net's run-time upsampling sizes changes its speed, never its output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.images import eval_item
from workers.models.registry import U2NETP, locate
from workers.models.static_resizes import static_resizes, static_resizes_isolated
from workers.pipeline.decode import decode


def _session(model: str | bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def test_u2netp_gets_constant_whole_scales_and_the_same_mask(segmenter):
    path = locate(U2NETP, Path("/nonexistent"))
    rewritten = static_resizes(path, U2NETP.input_size)
    assert rewritten is not None

    graph = onnx.load_from_string(rewritten).graph
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    resizes = [node for node in graph.node if node.op_type == "Resize"]
    assert len(resizes) == 38
    assert not [node for node in graph.node if node.op_type == "Shape"], "size chains dropped"
    used = {name for node in graph.node for name in node.input}
    assert all(tensor.name in used for tensor in graph.initializer)
    for node in resizes:
        assert len(node.input) == 3, "scales, no run-time sizes"
        scales = constants[node.input[2]]
        assert scales[:2].tolist() == [1, 1]
        assert (scales[2:] >= 2).all()
        assert np.array_equal(scales, np.round(scales))
        mode = next(a.s for a in node.attribute if a.name == "coordinate_transformation_mode")
        assert mode == b"half_pixel"

    photo = decode(eval_item("dis_pavilion_5795028920").image.read_bytes()).rgb
    batch = segmenter.preprocess(photo)
    name = graph.input[0].name
    before = _session(str(path)).run(None, {name: batch})[0]
    after = _session(rewritten).run(None, {name: batch})[0]
    assert np.abs(after - before).max() < 1e-4
    assert 0.05 < (before > 0.5).mean() < 0.95, "the photo has a subject"


def _toy_upsampler(side: int, mode: str = "pytorch_half_pixel") -> onnx.ModelProto:
    """X (1×3×3×3, shaped like a model's RGB input) resized to side×side, the size computed
    from X's shape at run time, the way PyTorch exports ``F.interpolate(x, size=...)``."""
    nodes = [
        helper.make_node("Shape", ["X"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "two"], ["batch_channels"]),
        helper.make_node("Concat", ["batch_channels", "side"], ["sizes"], axis=0),
        helper.make_node(
            "Resize",
            ["X", "roi", "no_scales", "sizes"],  # opset 11: scales present but empty
            ["Y"],
            mode="linear",
            coordinate_transformation_mode=mode,
        ),
    ]
    constants = [
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([side, side], np.int64), "side"),
        numpy_helper.from_array(np.zeros(0, np.float32), "roi"),
        numpy_helper.from_array(np.zeros(0, np.float32), "no_scales"),
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 3, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        constants,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=7)


def test_a_whole_factor_upsampling_is_rewritten_to_the_same_output(tmp_path):
    path = tmp_path / "double.onnx"
    onnx.save(_toy_upsampler(6), str(path))
    rewritten = static_resizes(path, 3)
    assert rewritten is not None
    x = {"X": np.random.default_rng(0).random((1, 3, 3, 3), dtype=np.float32)}
    before = _session(str(path)).run(None, x)[0]
    after = _session(rewritten).run(None, x)[0]
    assert after.shape == (1, 3, 6, 6)
    assert np.abs(after - before).max() < 1e-6


@pytest.mark.parametrize(
    ("side", "mode"),
    [(5, "pytorch_half_pixel"), (6, "align_corners")],
    ids=["three-to-five is not a whole factor", "align_corners is another mapping"],
)
def test_what_cannot_be_rewritten_exactly_is_left_alone(tmp_path, side, mode):
    path = tmp_path / "toy.onnx"
    onnx.save(_toy_upsampler(side, mode), str(path))
    assert static_resizes(path, 3) is None


def test_workers_rewrite_in_a_child_process_with_the_same_result(tmp_path):
    path = tmp_path / "double.onnx"
    onnx.save(_toy_upsampler(6), str(path))
    assert static_resizes_isolated(path, 3) == static_resizes(path, 3)


def test_a_model_the_child_cannot_read_is_kept_as_it_is(tmp_path, caplog):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model")
    assert static_resizes_isolated(path, 3) is None
    assert "static upsampling failed" in caplog.text
