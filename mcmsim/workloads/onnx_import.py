"""Import a network from an ONNX file as a :class:`~mcmsim.workloads.model.Model`.

An ONNX graph is a list of nodes, in topological order, that read and write named
tensors. :func:`load_onnx` runs ONNX shape inference, turns every node that does
arithmetic into one :class:`~mcmsim.workloads.layer.Layer` sized from the inferred
shapes, and connects the layers by tensor names: a layer's predecessors are the
layers that produced its input tensors, so residual additions and concatenations
keep all their producers.

Conventions
-----------
Per inference
    The leading dimension of the first graph input is the batch. Every count is
    divided by it so that layers describe one inference, like the zoo's; a
    convolution over ``m * batch`` images counts ``m`` images per inference, stacked
    along ``P``. A tensor whose size is not a multiple of the batch (a shape vector,
    a broadcast operand) is taken whole.
Shape-only operators
    Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity, Shape, Concat, Split,
    Slice, Cast, Dropout, Expand, Tile, Pad, Gather on activations and the like do no
    arithmetic the cost model sees, so they are not layers (as in the zoo): their
    outputs stand for the layers that produced their inputs. The consumer of a Concat
    is thus fed by every concatenated branch, and no zero-cost layers clutter the
    order that schedulers cut.
Constants
    Initializers, Constant nodes and nodes that read only constants are folded away:
    they make no layer, whatever their operator.
MACs and parameters
    Only convolutions and matrix products have MACs. ``params`` counts, once per
    tensor (a tied weight counts once), the constant weights and biases of Conv,
    ConvTranspose, Gemm and MatMul, the scale and bias of normalisations, embedding
    tables, PRelu slopes and the non-scalar floating-point constant operands of Add,
    Sub, Mul and Div (the bias of an exported MatMul + Add linear layer, a
    positional embedding). As in PyTorch, BatchNormalization's running mean and
    variance are not parameters.
Unsupported operators
    Operators outside the default ONNX domain, or not mapped here, raise one
    :class:`OnnxImportError` that lists them all. With ``allow_unsupported=True``
    they become zero-cost pass-through layers (elementwise, no vector operations)
    whose outputs are assumed to have the shape of their first activation input, and
    an :class:`UnsupportedOperatorWarning` lists the operators and the layers. A
    scenario asks for this with ``allow_unsupported = true`` on the workload.

``onnx`` is an optional dependency: ``pip install "mcmsim[onnx]"``.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mcmsim.inputs import MAX_MODEL_BYTES, InputFileError, read_input_bytes
from mcmsim.workloads import builders
from mcmsim.workloads.layer import Layer, OpKind
from mcmsim.workloads.model import Model, ModelBuilder

if TYPE_CHECKING:
    import onnx

__all__ = [
    "MAX_LAYER_MACS",
    "MAX_TENSOR_ELEMS",
    "OnnxImportError",
    "UnsupportedOperatorWarning",
    "load_onnx",
]

#: The most MACs (or vector operations) one layer may have per inference: 1e18. The
#: largest layers of published networks have about 1e12 (a GPT-3 feed-forward matmul
#: over 2,048 tokens: 2,048 x 12,288 x 49,152); a 1e18 layer already takes about 17
#: hours on a 16,384-PE chiplet at 1 GHz, and beyond it simulated time in integer
#: picoseconds nears the int64 limit (9.2e18 ps). A larger count is a wrong input shape.
MAX_LAYER_MACS = 10**18
#: The most elements one layer's input, output or weights may have: 1e15, a thousand
#: times the parameters of today's largest models; moving it over a 1 TB/s link takes
#: 1e6 s, again near the int64 picosecond limit.
MAX_TENSOR_ELEMS = 10**15

# Pass-through layers named in the warning; more are counted, not named.
_NAMED_PASSTHROUGHS = 8


class OnnxImportError(ValueError):
    """An ONNX file that cannot be read or mapped to layers; the message names the file."""


class UnsupportedOperatorWarning(UserWarning):
    """Operators imported as zero-cost pass-throughs (``allow_unsupported``)."""


_DEFAULT_DOMAINS = ("", "ai.onnx")

#: Operators that only move, reshape or select data.
_SHAPE_OPS = frozenset(
    {
        "Cast",
        "CastLike",
        "Concat",
        "ConstantOfShape",
        "DepthToSpace",
        "Dropout",
        "Expand",
        "Flatten",
        "Gather",  # on an initializer table it is an embedding instead
        "GatherElements",
        "GatherND",
        "Identity",
        "Pad",
        "Range",
        "Reshape",
        "Shape",
        "Size",
        "Slice",
        "SpaceToDepth",
        "Split",
        "Squeeze",
        "Tile",
        "Transpose",
        "Unsqueeze",
    }
)

#: Elementwise arithmetic, reductions and resampling: vector operations, no MACs.
_VECTOR_OPS = frozenset(
    {
        "Abs",
        "Add",
        "And",
        "ArgMax",
        "ArgMin",
        "Ceil",
        "Celu",
        "Clip",
        "Cos",
        "Div",
        "Elu",
        "Equal",
        "Erf",
        "Exp",
        "Floor",
        "Gelu",
        "Greater",
        "GreaterOrEqual",
        "HardSigmoid",
        "HardSwish",
        "IsInf",
        "IsNaN",
        "LeakyRelu",
        "Less",
        "LessOrEqual",
        "Log",
        "Max",
        "Mean",
        "Min",
        "Mish",
        "Mod",
        "Mul",
        "Neg",
        "Not",
        "Or",
        "Pow",
        "PRelu",
        "Reciprocal",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSumExp",
        "ReduceMax",
        "ReduceMean",
        "ReduceMin",
        "ReduceProd",
        "ReduceSum",
        "ReduceSumSquare",
        "Relu",
        "Resize",
        "Round",
        "Selu",
        "Sigmoid",
        "Sign",
        "Sin",
        "Softplus",
        "Softsign",
        "Sqrt",
        "Sub",
        "Sum",
        "Tanh",
        "Upsample",
        "Where",
        "Xor",
    }
)

#: Elementwise operators whose non-scalar constant operands are learned tensors.
_WEIGHT_OPERAND_OPS = frozenset({"Add", "Sub", "Mul", "Div"})

_POOL_OPS = frozenset({"AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "MaxPool"})

#: Normalisations; input 1 is the scale and input 2 (if any) the bias.
_NORM_OPS = frozenset(
    {
        "BatchNormalization",
        "GroupNormalization",
        "InstanceNormalization",
        "LayerNormalization",
        "RMSNormalization",
    }
)

#: TensorProto FLOAT, FLOAT16, DOUBLE and BFLOAT16 (stable protobuf enum values).
_FLOAT_TYPES = frozenset({1, 10, 11, 16})

#: Operators whose spatial rank comes from ``kernel_shape`` or the weight; 1-D and 2-D map.
_WINDOWED_OPS = frozenset({"AveragePool", "Conv", "ConvTranspose", "LpPool", "MaxPool"})


def load_onnx(path: str | os.PathLike[str], *, allow_unsupported: bool = False) -> Model:
    """Read an ONNX file as a :class:`Model` whose layers count one inference.

    Parameters
    ----------
    path : str or path-like
        The ``.onnx`` file; the model is named after its stem.
    allow_unsupported : bool
        Map operators this importer does not know to zero-cost pass-through layers
        (with a warning) instead of failing.

    Returns
    -------
    Model
        Layers in the graph's topological order; see the module docstring for how
        batch, shape-only operators, MACs and parameters are counted.

    Raises
    ------
    OnnxImportError
        If the ``onnx`` package is missing, the file cannot be read (see
        :func:`mcmsim.inputs.read_input_bytes`: missing, not a regular file, over
        ``MAX_MODEL_BYTES``) or is not a valid ONNX model, a graph input has a
        symbolic or missing dimension, shape inference leaves a needed shape unknown,
        or (unless ``allow_unsupported``) the graph has operators that cannot be mapped.
    """
    path = Path(path)
    try:
        data = read_input_bytes(path, "ONNX", MAX_MODEL_BYTES)
    except InputFileError as exc:
        raise OnnxImportError(str(exc)) from None
    try:
        import onnx
    except ImportError:
        raise OnnxImportError(
            'reading ONNX files needs the onnx package: pip install "mcmsim[onnx]"'
        ) from None
    try:
        # Weights' values are never needed, only their shapes: external data stays unread.
        proto = onnx.load_model_from_string(data)
        # Given the path, the checker finds external-data files next to the model.
        onnx.checker.check_model(str(path))
    except Exception as exc:  # protobuf and the checker raise implementation-specific types
        raise OnnxImportError(
            f"{path}: not a valid ONNX model ({_first_line(exc)}){_checker_context(exc)}"
        ) from None
    return _Importer(path, allow_unsupported).run(proto)


class _Importer:
    """The state of one import: tensor shapes, constants and the layers built so far."""

    def __init__(self, path: Path, allow_unsupported: bool) -> None:
        self.path = path
        self.allow_unsupported = allow_unsupported
        self.batch = 1
        self.shapes: dict[str, tuple[int | None, ...]] = {}
        self.dtypes: dict[str, int] = {}
        #: Constant tensors -> the initializers or Constant outputs they derive from.
        self.const: dict[str, frozenset[str]] = {}
        #: Activation tensors -> the layers that produced them (none for graph inputs).
        self.producers: dict[str, tuple[str, ...]] = {}
        self.claimed: set[str] = set()
        self.names: set[str] = set()
        self.where = "graph"  # names the node being mapped in error messages

    def fail(self, message: str) -> OnnxImportError:
        return OnnxImportError(f"{self.path}: {message}")

    def run(self, proto: onnx.ModelProto) -> Model:
        proto = self.infer(proto)
        self.read_shapes(proto.graph)
        inputs = self.read_inputs(proto.graph)
        plan, unsupported = self.classify(proto.graph)
        if unsupported:
            labels = Counter(label for _, _, label in unsupported).most_common()
            counts = ", ".join(f"{label} x{n}" for label, n in labels)
            if not self.allow_unsupported:
                nodes = [f"{_node_label(index, node)!r}" for index, node, _ in unsupported]
                at = ", ".join(nodes[:_NAMED_PASSTHROUGHS])
                if len(nodes) > _NAMED_PASSTHROUGHS:
                    at += f" and {len(nodes) - _NAMED_PASSTHROUGHS} more"
                raise self.fail(
                    f"unsupported operators: {counts} at nodes {at} "
                    "(use --allow-unsupported, or allow_unsupported = true on the workload, "
                    "to treat them as zero-cost pass-throughs)"
                )
            names = [node.name or node.output[0] for _, node, _ in unsupported]
            shown = ", ".join(names[:_NAMED_PASSTHROUGHS])
            if len(names) > _NAMED_PASSTHROUGHS:
                shown += f" and {len(names) - _NAMED_PASSTHROUGHS} more"
            warnings.warn(
                f"{self.path}: treating unsupported operators as zero-cost pass-throughs: "
                f"{counts} (layers {shown})",
                UnsupportedOperatorWarning,
                stacklevel=3,
            )
            proto = self.assume_passthrough_shapes(proto, [node for _, node, _ in unsupported])
            self.read_shapes(proto.graph)

        model_input = sum(self.per_inference(self.numel(t)) for t in inputs)
        builder = ModelBuilder(self.path.stem, model_input)
        for index, node, handler in plan:
            producers = self.input_producers(node)
            if handler is None:  # shape-only: outputs stand for the inputs' producers
                for out in filter(None, node.output):
                    self.producers[out] = producers
                continue
            name = self.unique(_node_label(index, node))
            self.where = f"node {name!r} ({node.op_type})"
            layer = self.build_layer(handler, node, name)
            builder.add(layer, inputs=producers)
            for out in filter(None, node.output):
                self.producers[out] = (layer.name,)
        if builder.last is None:
            count = len(proto.graph.node)
            what = f"{count} nodes, all constant or shape-only" if count else "no nodes"
            raise self.fail(f"the graph has no node that computes ({what}): nothing to simulate")
        return builder.build()

    def build_layer(self, handler: Handler, node: onnx.NodeProto, name: str) -> Layer:
        """``handler``'s layer for ``node``, checked; any failure names the node.

        Attributes the checker lets through (a zero stride, a negative pad) and sizes
        no accelerator could hold are errors here, not tracebacks or overflows later.
        """
        self.check_window_attributes(node)
        try:
            layer = handler(self, node, name)
        except OnnxImportError:
            raise
        except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
            raise self.fail(f"{self.where}: {_first_line(exc)}") from None
        for what, count, cap in (
            ("MACs", layer.macs, MAX_LAYER_MACS),
            ("vector operations", layer.vector_ops, MAX_LAYER_MACS),
            ("input elements", layer.input_elems, MAX_TENSOR_ELEMS),
            ("output elements", layer.output_elems, MAX_TENSOR_ELEMS),
            ("weight elements", layer.weight_elems, MAX_TENSOR_ELEMS),
        ):
            if count > cap:
                raise self.fail(
                    f"{self.where}: {count:.3g} {what} per inference, over the {cap:.0e} "
                    "one layer may have; are the graph's input shapes right?"
                )
        return layer

    def check_window_attributes(self, node: onnx.NodeProto) -> None:
        """Strides, dilations and groups >= 1, pads >= 0, kernel >= 1, channels that match."""
        if node.op_type not in _WINDOWED_OPS:
            return
        attrs = _attributes(node)
        for key, least in (("strides", 1), ("dilations", 1), ("kernel_shape", 1), ("pads", 0)):
            values = attrs.get(key)
            if isinstance(values, list) and any(v < least for v in values):
                raise self.fail(f"{self.where}: {key} {values} must all be >= {least}")
        group = attrs.get("group", 1)
        if not isinstance(group, int) or group < 1:
            raise self.fail(f"{self.where}: group {group} must be >= 1")
        if not node.op_type.startswith("Conv"):
            return
        x, w = self.dims(node.input[0]), self.dims(node.input[1])
        if len(x) < 2 or len(w) < 2:
            raise self.fail(f"{self.where}: input {x} or weight {w} has no channel axis")
        # Conv weights are (K, C/group, ...); ConvTranspose weights are (C, K/group, ...).
        weight_channels = w[1] * group if node.op_type == "Conv" else w[0]
        if weight_channels != x[1]:
            raise self.fail(
                f"{self.where}: input has {x[1]} channels but weight {node.input[1]!r} of shape "
                f"{list(w)} with group {group} expects {weight_channels}"
            )
        if node.op_type == "Conv" and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", b"VALID"):
            self.check_conv_output(node, attrs, x, w)

    def check_conv_output(
        self, node: onnx.NodeProto, attrs: dict[str, object], x: tuple[int, ...], w: tuple[int, ...]
    ) -> None:
        """A declared Conv output shape must be the one its input and attributes give.

        Shape inference keeps a shape the file declares, so an impossible one (a 3x3
        kernel over a 2x2 input giving 1x1) would otherwise size the layer silently.
        """
        y = self.dims(node.output[0])
        spatial = len(x) - 2
        if len(w) != len(x) or len(y) != len(x):
            raise self.fail(
                f"{self.where}: input {list(x)}, weight {list(w)} and output "
                f"{list(y)} must have the same rank"
            )
        strides = attrs.get("strides") or [1] * spatial
        dilations = attrs.get("dilations") or [1] * spatial
        pads = attrs.get("pads") or [0] * (2 * spatial)
        expected = [
            (x[2 + i] + pads[i] + pads[spatial + i] - dilations[i] * (w[2 + i] - 1) - 1)
            // strides[i]
            + 1
            for i in range(spatial)
        ]
        expected = [max(e, 0) for e in expected]
        if expected != list(y[2:]):
            raise self.fail(
                f"{self.where}: output {node.output[0]!r} has spatial shape {list(y[2:])}, but "
                f"the input, kernel, pads, strides and dilations give {expected}"
            )

    # -- reading the graph -------------------------------------------------------------

    def infer(self, proto: onnx.ModelProto) -> onnx.ModelProto:
        import onnx

        try:
            # data_prop resolves Reshape targets computed from Shape chains.
            return onnx.shape_inference.infer_shapes(proto, data_prop=True)
        except Exception as exc:  # InferenceError and checker errors from the C++ side
            raise self.fail(f"shape inference failed ({_first_line(exc)})") from None

    def read_shapes(self, graph: onnx.GraphProto) -> None:
        for init in graph.initializer:
            self.shapes[init.name] = tuple(init.dims)
            self.dtypes[init.name] = init.data_type
        for info in (*graph.input, *graph.value_info, *graph.output):
            tensor_type = info.type.tensor_type
            if tensor_type.elem_type:
                self.dtypes.setdefault(info.name, tensor_type.elem_type)
            if tensor_type.HasField("shape"):
                dims = tuple(
                    d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim
                )
                # Keep the most complete shape when a tensor is listed twice.
                if self.shapes.get(info.name) is None or None not in dims:
                    self.shapes[info.name] = dims

    def read_inputs(self, graph: onnx.GraphProto) -> list[str]:
        """The graph's activation inputs; sets the batch from the first one's leading dim."""
        initializers = {init.name for init in graph.initializer}
        inputs, problems = [], []
        for info in graph.input:
            if info.name in initializers:  # IR < 4 also lists initializers as inputs
                continue
            inputs.append(info.name)
            self.producers[info.name] = ()
            tensor_type = info.type.tensor_type
            if not tensor_type.HasField("shape"):  # onnx 1.23's checker rejects this already
                problems.append(f"{info.name} (no shape)")
                continue
            for axis, dim in enumerate(tensor_type.shape.dim):
                if dim.dim_value > 0:
                    continue
                what = f"{dim.dim_param!r}" if dim.dim_param else "missing"
                problems.append(f"{info.name} dim {axis} ({what})")
        if problems:
            raise self.fail(
                f"graph inputs have unknown dimensions: {', '.join(problems)}; "
                "export the model with fixed input shapes"
            )
        ranked = [self.shapes[t] for t in inputs if self.shapes[t]]
        self.batch = ranked[0][0] if ranked else 1
        return inputs

    def classify(
        self, graph: onnx.GraphProto
    ) -> tuple[
        list[tuple[int, onnx.NodeProto, Handler | None]], list[tuple[int, onnx.NodeProto, str]]
    ]:
        """Fold constants and choose each remaining node's handler.

        Returns the plan, ``(node index, node, handler)`` with handler None for
        shape-only nodes, and the unsupported nodes with their indices and labels
        (their handler is :meth:`passthrough`).
        """
        for init in graph.initializer:
            self.const[init.name] = frozenset({init.name})
        plan: list[tuple[int, onnx.NodeProto, Handler | None]] = []
        unsupported: list[tuple[int, onnx.NodeProto, str]] = []
        for index, node in enumerate(graph.node):
            known = [t for t in node.input if t]
            if all(t in self.const for t in known):
                roots = frozenset().union(*(self.const[t] for t in known))
                for out in filter(None, node.output):
                    self.const[out] = roots or frozenset({out})
                continue
            handler, unsupported_label = self.choose(node)
            if unsupported_label:
                unsupported.append((index, node, unsupported_label))
            plan.append((index, node, handler))
        return plan, unsupported

    def choose(self, node: onnx.NodeProto) -> tuple[Handler | None, str]:
        """The handler for ``node`` (None if shape-only) and a label if it is unsupported."""
        op = node.op_type
        if node.domain not in _DEFAULT_DOMAINS:
            return _Importer.passthrough, f"{node.domain}:{op}"
        if op == "Gather" and self.is_embedding(node):
            return _Importer.embedding, ""
        if op in _SHAPE_OPS:
            return None, ""
        if op in _WINDOWED_OPS:
            kernel = _attributes(node).get("kernel_shape")
            weight = self.shapes.get(node.input[1]) if op.startswith("Conv") else None
            rank = len(kernel) if kernel else len(weight) - 2 if weight else None
            if rank not in (None, 1, 2):
                return _Importer.passthrough, f"{op} ({rank}-D)"
        if op not in _HANDLERS:
            return _Importer.passthrough, op
        return _HANDLERS[op], ""

    def is_embedding(self, node: onnx.NodeProto) -> bool:
        table = node.input[0]
        shape = self.shapes.get(table)
        return (
            table in self.const
            and shape is not None
            and len(shape) == 2
            and (_attributes(node).get("axis", 0) in (0, -2))
        )

    def assume_passthrough_shapes(
        self, proto: onnx.ModelProto, nodes: Sequence[onnx.NodeProto]
    ) -> onnx.ModelProto:
        """Give unsupported nodes' outputs their first activation input's shape, then re-infer.

        Each round can unblock nodes downstream of the previous round's, so it repeats
        until no output gains a shape.
        """
        import onnx

        for _ in nodes:
            graph = proto.graph
            typed = {
                info.name: info
                for info in (*graph.input, *graph.value_info, *graph.output)
                if info.type.tensor_type.HasField("shape")
            }
            added = False
            for node in nodes:
                source = next((t for t in node.input if t in typed and t not in self.const), None)
                if source is None:
                    continue
                for out in filter(None, node.output):
                    if out not in typed:
                        info = onnx.ValueInfoProto()
                        info.CopyFrom(typed[source])
                        info.name = out
                        graph.value_info.append(info)
                        typed[out] = info
                        added = True
            if not added:
                break
            proto = self.infer(proto)
        return proto

    # -- helpers -----------------------------------------------------------------------

    def dims(self, tensor: str) -> tuple[int, ...]:
        shape = self.shapes.get(tensor)
        if shape is None or None in shape:
            raise self.fail(
                f"{self.where}: shape of tensor {tensor!r} unknown after shape inference"
            )
        return shape  # type: ignore[return-value]  # None excluded above

    def numel(self, tensor: str) -> int:
        return math.prod(self.dims(tensor))

    def per_inference(self, elems: int) -> int:
        return elems // self.batch if elems % self.batch == 0 else elems

    def images(self, leading: int) -> int:
        """Images per inference in a tensor whose leading dim is ``leading``."""
        if leading % self.batch:
            raise self.fail(
                f"{self.where}: leading dim {leading} is not a multiple of batch {self.batch}"
            )
        return leading // self.batch

    def input_producers(self, node: onnx.NodeProto) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for tensor in node.input:
            if tensor and tensor not in self.const:
                seen.update(dict.fromkeys(self.producers.get(tensor, ())))
        return tuple(seen)

    def activations(self, node: onnx.NodeProto) -> list[str]:
        return [t for t in node.input if t and t not in self.const]

    def unique(self, base: str) -> str:
        name, n = base, 0
        while name in self.names:
            n += 1
            name = f"{base}_{n}"
        self.names.add(name)
        return name

    def with_weights(self, layer: Layer, tensors: Iterable[str]) -> Layer:
        """``layer`` reading the constant ``tensors`` as weights; each tensor is a param once."""
        weight = param = 0
        for tensor in tensors:
            roots = self.const.get(tensor) if tensor else None
            if roots is None:
                continue
            elems = self.numel(tensor)
            weight += elems
            if not roots & self.claimed:
                param += elems
                self.claimed |= roots
        return replace(layer, weight_elems=weight, param_elems=param)

    # -- handlers: (node, layer name) -> Layer ----------------------------------------

    def conv(self, node: onnx.NodeProto, name: str) -> Layer:
        x, w, y = self.dims(node.input[0]), self.dims(node.input[1]), self.dims(node.output[0])
        attrs = _attributes(node)
        (h, wd), (kr, ks), (p, q) = _plane(x[2:]), _plane(w[2:]), _plane(y[2:])
        images = self.images(x[0])
        # A transposed convolution scatters every input pixel: its loop nest runs P, Q
        # over the input.
        rows, cols = (h, wd) if node.op_type == "ConvTranspose" else (p, q)
        # conv2d sized as the unpadded stride-1 convolution with the same output gives
        # exact counts for any padding (asymmetric too), stride and dilation.
        layer = builders.conv2d(
            name,
            x[1],
            y[1],
            images * rows + kr - 1,
            cols + ks - 1,
            (kr, ks),
            groups=attrs.get("group", 1),
        )
        layer = replace(
            layer,
            stride=attrs.get("strides", [1])[0],
            input_elems=images * math.prod(x[1:]),
            output_elems=images * math.prod(y[1:]),
        )
        return self.with_weights(layer, node.input[1:3])

    def gemm(self, node: onnx.NodeProto, name: str) -> Layer:
        attrs = _attributes(node)
        a, b = self.dims(node.input[0]), self.dims(node.input[1])
        a = a[::-1] if attrs.get("transA", 0) else a
        b = b[::-1] if attrs.get("transB", 0) else b
        return self.product(name, node.input[0], a, node.input[1], b, node.input[2:3])

    def matmul(self, node: onnx.NodeProto, name: str) -> Layer:
        a, b = self.dims(node.input[0]), self.dims(node.input[1])
        return self.product(name, node.input[0], a, node.input[1], b, ())

    def product(
        self,
        name: str,
        a_name: str,
        a: Sequence[int],
        b_name: str,
        b: Sequence[int],
        bias: Sequence[str],
    ) -> Layer:
        """A (batched, broadcast) matrix product ``a @ b`` with numpy's rank rules."""
        a = (1, *a) if len(a) == 1 else tuple(a)
        b = (*b, 1) if len(b) == 1 else tuple(b)
        if a_name in self.const and b_name not in self.const:
            # W @ X has the MACs of X^T @ W^T: put the weight on the right.
            a, b = (*b[:-2], b[-1], b[-2]), (*a[:-2], a[-1], a[-2])
            a_name, b_name = b_name, a_name
        m, k_red, n = a[-2], a[-1], b[-1]
        lead = math.prod(np.broadcast_shapes(a[:-2], b[:-2]))
        if b_name in self.const:
            heads = math.prod(b[:-2])  # one weight matrix per head, usually one
            rows = self.per_inference(lead // heads * m)
            layer = builders.matmul(name, rows, k_red, n, heads=heads)
            return self.with_weights(layer, [b_name, *bias])
        # Two activations (attention): the batch comes out of the leading dims first.
        shared = math.gcd(lead, self.batch)
        rest = self.batch // shared
        rows = m // rest if m % rest == 0 else m
        layer = builders.matmul(name, rows, k_red, n, heads=lead // shared, weights=False)
        operands = self.per_inference(self.numel(a_name)) + self.per_inference(self.numel(b_name))
        return replace(layer, input_elems=operands)

    def vector(self, node: onnx.NodeProto, name: str) -> Layer:
        """Elementwise, reduction or resampling: one operation per element of the larger side."""
        acts = self.activations(node)
        sizes = [self.per_inference(self.numel(t)) for t in acts]
        out = self.per_inference(self.numel(node.output[0]))
        layer = builders.elementwise(name, out, inputs=len(acts))
        layer = replace(layer, input_elems=sum(sizes), vector_ops=max(out, *sizes))
        return self.with_weights(layer, self.weight_operands(node))

    def weight_operands(self, node: onnx.NodeProto) -> list[str]:
        if node.op_type == "PRelu":
            return node.input[1:2]
        if node.op_type not in _WEIGHT_OPERAND_OPS:
            return []
        # Scalars are constants of the formula (a scale, an epsilon), not learned tensors.
        return [
            t
            for t in node.input
            if t in self.const and self.dtypes.get(t) in _FLOAT_TYPES and self.numel(t) > 1
        ]

    def pool(self, node: onnx.NodeProto, name: str) -> Layer:
        x, y = self.dims(node.input[0]), self.dims(node.output[0])
        attrs = _attributes(node)
        (h, w), (p, q) = _plane(x[2:]), _plane(y[2:])
        global_pool = node.op_type.startswith("Global")
        kr, ks = (h, w) if global_pool else _plane(attrs["kernel_shape"])
        images = self.images(x[0])
        channels = x[1]
        # builders.pool takes square windows and symmetric padding; ONNX allows neither
        # restriction, so the layer is laid out directly with the same conventions.
        return Layer(
            name=name,
            op=OpKind.POOL,
            g=channels,
            p=images * p,
            q=q,
            r=kr,
            s=ks,
            stride=1 if global_pool else attrs.get("strides", [1])[0],
            input_elems=images * channels * h * w,
            output_elems=images * channels * p * q,
            vector_ops=images * channels * p * q * kr * ks,
        )

    def norm(self, node: onnx.NodeProto, name: str) -> Layer:
        elems = self.per_inference(self.numel(node.input[0]))
        layer = builders.norm(name, elems, self.numel(node.input[1]))
        return self.with_weights(layer, node.input[1:3])

    def softmax(self, node: onnx.NodeProto, name: str) -> Layer:
        return builders.softmax(name, self.per_inference(self.numel(node.output[0])))

    def embedding(self, node: onnx.NodeProto, name: str) -> Layer:
        vocab, dim = self.dims(node.input[0])
        tokens = self.per_inference(self.numel(node.input[1]))
        return self.with_weights(builders.embedding(name, vocab, dim, tokens), node.input[:1])

    def passthrough(self, node: onnx.NodeProto, name: str) -> Layer:
        """An unsupported node: no arithmetic, activations passed on unchanged."""
        acts = self.activations(node)
        out = self.known_size(node.output[0]) if node.output else 0
        layer = builders.elementwise(name, out, inputs=len(acts), ops_per_elem=0)
        return replace(layer, input_elems=sum(self.known_size(t) for t in acts))

    def known_size(self, tensor: str) -> int:
        """Per-inference elements of ``tensor``, 0 when its shape is unknown."""
        shape = self.shapes.get(tensor)
        if shape is None or None in shape:
            return 0
        return self.per_inference(math.prod(shape))  # type: ignore[arg-type]  # no None


Handler = Callable[[_Importer, "onnx.NodeProto", str], Layer]

_HANDLERS: dict[str, Handler] = {
    "Conv": _Importer.conv,
    "ConvTranspose": _Importer.conv,
    "Gemm": _Importer.gemm,
    "MatMul": _Importer.matmul,
    "Softmax": _Importer.softmax,
    "LogSoftmax": _Importer.softmax,
    **dict.fromkeys(_VECTOR_OPS, _Importer.vector),
    **dict.fromkeys(_POOL_OPS, _Importer.pool),
    **dict.fromkeys(_NORM_OPS, _Importer.norm),
}


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _plane(spatial: Sequence[int]) -> tuple[int, int]:
    """Spatial dims as ``(rows, cols)``: 1-D is one row, 3-D and up fold into the rows."""
    if len(spatial) == 1:
        return 1, spatial[0]
    return math.prod(spatial[:-1]), spatial[-1]


def _node_label(index: int, node: onnx.NodeProto) -> str:
    """The node's name, or ``OpType_index`` for an unnamed one (as its layer is named)."""
    return node.name or f"{node.op_type}_{index}"


def _checker_context(exc: Exception) -> str:
    """`` at node 'x' (Op)`` when the checker's message names the node it rejected."""
    match = re.search(r"Name: (\S*) OpType: (\S+)", str(exc))
    if match is None:
        return ""
    return f" at node {match.group(1)!r} ({match.group(2)})"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
