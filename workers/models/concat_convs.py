"""Conv(Concat(a, b)) rewritten as Conv_a(a) + Conv_b(b): concatenations folded into the sum.

Every decoder stage of U²-Net convolves the concatenation of an upsampled map with its encoder's
skip connection (51 times in U²-Netp). onnxruntime's NCHWc kernels run the convolutions in a
blocked layout, but its Concat copies both inputs into a new tensor first, and that was 6% of a
run. A convolution is linear in its input channels, so each input can instead be convolved with
its own slice of the weights and the results summed; onnxruntime then fuses each sum (and the
ReLU after it) into the last convolution. Same weights, same arithmetic up to the order of the
additions: the output moves by ~1e-6, and one U²-Netp inference on onnxruntime's CPU provider
took 584 ms of CPU against 653 on one thread, 808 against 873 on two (alternating, 22:35 UTC
2026-11-30, AVX2 host). OpenVINO already runs the concatenations well: there the split graph
was 6% slower, so only CPU-provider sessions get it (:func:`workers.models.static_resizes`).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import helper, numpy_helper


def split_concat_convs(model: onnx.ModelProto) -> int:
    """Rewrite ``model`` in place; returns how many concatenations went. A Concat qualifies when
    it joins channels (axis 1), a single ungrouped Conv with constant weights reads it, and
    shape inference knows each input's channel count; anything else is left as it is."""
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    readers: dict[str, list[onnx.NodeProto | None]] = defaultdict(list)
    for output in graph.output:  # read from outside: it must stay
        readers[output.name].append(None)
    for node in graph.node:
        for name in node.input:
            readers[name].append(node)
    channels = _channel_counts(model)
    folded: dict[str, list[onnx.NodeProto]] = {}  # a Conv's output → the nodes replacing it
    dropped: set[str] = set()
    for concat in graph.node:
        conv = _sole_conv_reader(concat, readers, weights)
        if conv is None or any(channels.get(name) is None for name in concat.input):
            continue
        counts = [channels[name] for name in concat.input]
        kernel = numpy_helper.to_array(weights[conv.input[1]])
        if kernel.shape[1] != sum(counts):
            continue
        parts = np.split(kernel, np.cumsum(counts)[:-1], axis=1)
        nodes, slices = _partial_convs(conv, list(concat.input), parts)
        graph.initializer.extend(slices)
        folded[conv.output[0]] = nodes
        dropped.add(concat.output[0])
    rewritten = []
    for node in graph.node:
        if node.output[0] in dropped:
            continue
        rewritten.extend(folded.get(node.output[0], [node]))
    graph.ClearField("node")
    graph.node.extend(rewritten)
    return len(dropped)


def _sole_conv_reader(
    concat: onnx.NodeProto,
    readers: dict[str, list[onnx.NodeProto | None]],
    weights: dict[str, onnx.TensorProto],
) -> onnx.NodeProto | None:
    if concat.op_type != "Concat" or _attribute(concat, "axis", None) != 1:
        return None
    consumers = readers[concat.output[0]]
    if len(consumers) != 1:
        return None
    conv = consumers[0]
    if conv is None:
        return None
    ungrouped = _attribute(conv, "group", 1) == 1
    if conv.op_type != "Conv" or not ungrouped or conv.input[0] != concat.output[0]:
        return None
    return conv if conv.input[1] in weights else None


def _partial_convs(
    conv: onnx.NodeProto, inputs: list[str], kernels: list[np.ndarray]
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """One Conv per input with its slice of the weights (the bias on the first), summed by a
    chain of Adds that ends in the original Conv's output."""
    nodes, slices, partial = [], [], []
    for index, (source, kernel) in enumerate(zip(inputs, kernels, strict=True)):
        name = f"{conv.output[0]}/part{index}"
        slices.append(numpy_helper.from_array(np.ascontiguousarray(kernel), f"{name}/weight"))
        bias = [conv.input[2]] if index == 0 and len(conv.input) > 2 else []
        node = helper.make_node("Conv", [source, f"{name}/weight", *bias], [name], name=name)
        node.attribute.extend(conv.attribute)
        nodes.append(node)
        partial.append(name)
    total = partial[0]
    for index, addend in enumerate(partial[1:], 1):
        last = index == len(partial) - 1
        out = conv.output[0] if last else f"{conv.output[0]}/sum{index}"
        nodes.append(
            helper.make_node("Add", [total, addend], [out], name=f"{conv.output[0]}/sum{index}")
        )
        total = out
    return nodes, slices


def _channel_counts(model: onnx.ModelProto) -> dict[str, int | None]:
    """Each tensor's channel count (dimension 1) where shape inference knows it."""
    inferred = onnx.shape_inference.infer_shapes(model)
    counts: dict[str, int | None] = {}
    graph = inferred.graph
    for value in [*graph.value_info, *graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        counts[value.name] = dims[1].dim_value if len(dims) > 1 and dims[1].dim_value else None
    return counts


def _attribute(node: onnx.NodeProto, name: str, default: object) -> object:
    found = next((a for a in node.attribute if a.name == name), None)
    return default if found is None else helper.get_attribute_value(found)
