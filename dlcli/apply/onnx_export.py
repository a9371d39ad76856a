"""``dlcli export --format onnx``: a trained run as an ONNX graph that runs without Python or
dlcli (onnxruntime, ONNX.js, ...), built with ``onnx.helper``.

The graph takes raw features as the training file has them, input ``X`` (N, n_features) in
float64, and gives ``probabilities`` (N, K) in the run's dtype (column k for class k of
model.json's ``labels.classes``) and ``label`` (N,), the predicted original class label (int64
or string).

Inside: the run's input transforms (model.json's ``transforms``: ``Div`` by 255 for a mnist.npz's
8-bit pixels), the normalisation ``(x - shift) / scale``, both in float64 as training computed
them, then each
layer as ``Gemm`` (``A W^T + b``); batch norm in inference mode folded into a per-unit affine
``Z * s + t`` (s = gamma / sqrt(running_var + eps), t = beta - running_mean * s, as dlcli
computes it), the activation, and at the end ``Softmax``, or ``Sigmoid`` of the logit and of its
negative for the two classes of a sigmoid output. Dropout is not in the graph (inference).
The class labels, feature names and the run directory are in the model's metadata.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from dlcli.apply.model import Model
from dlcli.errors import InputError
from dlcli.nn.activations import LEAKY_SLOPE

OPSET = 17        # onnxruntime 1.14 and later run it
IR_VERSION = 8    # the IR version of opset 17; newer ones would shut out older runtimes


def require_onnx() -> Any:
    """The onnx module, or an InputError saying which extra to install."""
    try:
        import onnx
    except ImportError:
        raise InputError("exporting to ONNX needs the onnx package: pip install "
                         "'dlcli[onnx]'") from None
    return onnx


def build_graph(model: Model) -> Any:
    """The ONNX ModelProto of ``model`` (checked with ``onnx.checker``)."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    info, network = model.info, model.network
    dtype = network.dtype
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    # Normalisation in float64, then the run's dtype: the same arithmetic as training. X is
    # float64 as read from a file: float32 would round a feature such as 100000.123 by more
    # than the network's precision before it is normalised.
    x = "X"
    for k, transform in enumerate(info.transforms):
        (operation, argument), = transform.items()
        op = {"divide": "Div"}[operation]   # every operation of dlcli.data.transforms
        x = node(op, [x, const(f"{operation}{k}", np.array(argument, dtype=np.float64))],
                 f"transformed{k}")
    x = node("Sub", [x, const("shift", info.shift)], "centred")
    x = node("Div", [x, const("scale", info.scale)], "normalised")
    A = node("Cast", [x], "A0", to=elem) if elem != TensorProto.DOUBLE else x
    params = network.get_params()
    for layer in range(1, network.L + 1):
        W = params[f"W{layer}"]
        hidden = layer < network.L
        if hidden and network.uses_batch_norm:
            eps = dtype.type(network.bn_epsilon)
            s = params[f"gamma{layer}"] / np.sqrt(params[f"running_var{layer}"] + eps)
            t = params[f"beta{layer}"] - params[f"running_mean{layer}"] * s
            Z = node("Gemm", [A, const(f"W{layer}", W)], f"WA{layer}", transB=1)
            Z = node("Mul", [Z, const(f"bn_scale{layer}", s.reshape(-1))], f"scaled{layer}")
            Z = node("Add", [Z, const(f"bn_shift{layer}", t.reshape(-1))], f"Z{layer}")
        else:
            Z = node("Gemm", [A, const(f"W{layer}", W),
                              const(f"b{layer}", params[f"b{layer}"].reshape(-1))],
                     f"Z{layer}", transB=1)
        if hidden:
            A = _activation(node, info.activations[layer - 1], Z, f"A{layer}")
        else:
            A = Z
    if info.output == "softmax":
        probabilities = node("Softmax", [A], "probabilities_", axis=1)
    else:
        negative = node("Neg", [A], "minus_logit")
        p0 = node("Sigmoid", [negative], "p0")
        p1 = node("Sigmoid", [A], "p1")
        probabilities = node("Concat", [p0, p1], "probabilities_", axis=1)
    node("Identity", [probabilities], "probabilities")
    # The predicted label, decided from the probabilities (the first class on a tie).
    index = node("ArgMax", ["probabilities"], "class_index", axis=1, keepdims=0)
    classes = info.classes
    if isinstance(classes[0], str):
        labels = numpy_helper.from_array(np.array(classes, dtype=object), "classes")
        label_type = TensorProto.STRING
    else:
        labels = numpy_helper.from_array(np.array(classes, dtype=np.int64), "classes")
        label_type = TensorProto.INT64
    inits.append(labels)
    node("Gather", ["classes", index], "label", axis=0)

    n, K = info.n_features, len(classes)
    graph = helper.make_graph(
        nodes, "dlcli", [helper.make_tensor_value_info("X", TensorProto.DOUBLE, ["N", n])],
        [helper.make_tensor_value_info("probabilities", elem, ["N", K]),
         helper.make_tensor_value_info("label", label_type, ["N"])],
        initializer=inits)
    proto = helper.make_model(graph, producer_name="dlcli",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    proto.doc_string = (f"dlcli run {model.path.name}: raw features X (N, {n}) -> class "
                        f"probabilities (N, {K}) and the predicted label")
    helper.set_model_props(proto, {
        "run": str(model.path), "feature_names": json.dumps(info.feature_names),
        "classes": json.dumps(classes), "normalization": info.normalization,
        "transforms": json.dumps(info.transforms),
        "dtype": info.dtype})
    onnx.checker.check_model(proto)
    return proto


# Each hidden activation's ONNX operator and attributes (linear: the identity).
ONNX_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("Relu", {}), "leaky_relu": ("LeakyRelu", {"alpha": LEAKY_SLOPE}),
    "tanh": ("Tanh", {}), "sigmoid": ("Sigmoid", {}), "linear": ("Identity", {}),
}


def _activation(node: Any, name: str, Z: str, out: str) -> str:
    op, attrs = ONNX_ACTIVATIONS[name]
    return node(op, [Z], out, **attrs)


def export_onnx(model: Model) -> bytes:
    """The serialised ONNX model of ``model``."""
    return build_graph(model).SerializeToString()
