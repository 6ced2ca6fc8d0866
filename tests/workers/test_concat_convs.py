"""Concatenations folded into the convolutions that read them: same output, fewer copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tests.images import eval_item
from workers.models.concat_convs import split_concat_convs
from workers.models.registry import U2NETP, locate
from workers.models.session import CPU, OPENVINO, SessionConfig, first_provider
from workers.models.static_resizes import static_resizes, static_resizes_isolated
from workers.pipeline.decode import decode


def _run(model: str | bytes, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=[CPU]).run(None, inputs)


def test_u2netp_loses_every_concatenation_and_keeps_its_mask(segmenter):
    path = locate(U2NETP, Path("/nonexistent"))
    rewritten = static_resizes_isolated(path, U2NETP.input_size, split_concats=True)
    assert rewritten is not None
    graph = onnx.load_from_string(rewritten).graph
    operators = [node.op_type for node in graph.node]
    assert "Concat" not in operators
    plain = onnx.load_from_string(static_resizes(path, U2NETP.input_size)).graph
    assert operators.count("Conv") > [node.op_type for node in plain.node].count("Conv")

    photo = decode(eval_item("dis_pavilion_5795028920").image.read_bytes()).rgb
    inputs = {graph.input[0].name: segmenter.preprocess(photo)}
    before, after = _run(str(path), inputs)[0], _run(rewritten, inputs)[0]
    assert np.abs(after - before).max() < 1e-4
    assert 0.05 < (before > 0.5).mean() < 0.95, "the photo has a subject"


def _toy(*, axis: int = 1, group: int = 1, second_reader: bool = False) -> onnx.ModelProto:
    """Y = Relu(Conv(Concat(A, B))), A with 2 channels and B with 3, a 3×3 kernel with bias."""
    rng = np.random.default_rng(0)
    channels = 5 if axis == 1 else 2
    weight = rng.standard_normal((4 if group == 1 else 5, channels // group, 3, 3))
    bias = rng.standard_normal(weight.shape[0])
    nodes = [
        helper.make_node("Concat", ["A", "B" if axis == 1 else "A"], ["AB"], axis=axis),
        helper.make_node("Conv", ["AB", "W", "bias"], ["C"], pads=[1, 1, 1, 1], group=group),
        helper.make_node("Relu", ["C"], ["Y"]),
    ]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]
    if second_reader:
        outputs.append(helper.make_tensor_value_info("AB", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "toy",
        [
            helper.make_tensor_value_info("A", TensorProto.FLOAT, [1, 2, 8, 8]),
            helper.make_tensor_value_info("B", TensorProto.FLOAT, [1, 3, 8, 8]),
        ],
        outputs,
        [
            numpy_helper.from_array(weight.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "bias"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_a_concatenation_feeding_a_convolution_becomes_a_sum_of_convolutions():
    model = _toy()
    inputs = {
        "A": np.random.default_rng(1).standard_normal((1, 2, 8, 8)).astype(np.float32),
        "B": np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32),
    }
    expected = _run(model.SerializeToString(), inputs)[0]
    assert split_concat_convs(model) == 1
    assert [node.op_type for node in model.graph.node] == ["Conv", "Conv", "Add", "Relu"]
    np.testing.assert_allclose(_run(model.SerializeToString(), inputs)[0], expected, atol=1e-5)


def test_what_is_not_a_plain_channel_concatenation_into_one_convolution_is_kept():
    for model in (_toy(axis=2), _toy(group=5), _toy(second_reader=True)):
        before = [node.op_type for node in model.graph.node]
        assert split_concat_convs(model) == 0
        assert [node.op_type for node in model.graph.node] == before


def test_only_sessions_on_the_cpu_provider_get_the_folded_graph():
    """OpenVINO ran the folded graph 6% slower; this build has no OpenVINO, so a worker asking
    for it runs on the CPU provider, and folds."""
    assert first_provider(SessionConfig((CPU,))) == CPU
    assert first_provider(SessionConfig(("CUDAExecutionProvider", CPU))) == CPU
    available = ort.get_available_providers()
    assert first_provider(SessionConfig((OPENVINO, CPU))) == (
        OPENVINO if OPENVINO in available else CPU
    )
