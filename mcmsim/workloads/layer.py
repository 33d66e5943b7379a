"""Layers: one operator of a DNN with the loop-nest dimensions the cost model needs.

Every operator is described by the canonical convolution loop nest of MAESTRO and
Timeloop, per inference (batch is applied later by the cost model):

    for g in G, k in K, c in C, p in P, q in Q, r in R, s in S:
        out[g, k, p, q] += w[g, k, c, r, s] * in[g, c, p*stride + r, q*stride + s]

* a convolution uses all seven dimensions; a depthwise convolution has ``G`` channels
  with ``K = C = 1`` per group;
* a matrix product ``[M x Kred] @ [Kred x N]`` is ``P = M, C = Kred, K = N`` with
  ``Q = R = S = 1``; a batched attention product adds ``G = heads`` and has no weights
  (both operands are activations);
* elementwise, pooling, normalisation and softmax layers have no multiply-accumulates
  but ``vector_ops`` and activation traffic.

Element counts are per inference; byte counts follow from the precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Layer", "OpKind"]


class OpKind(StrEnum):
    """The operator families the cost model distinguishes."""

    CONV2D = "conv2d"
    DWCONV = "dwconv"
    MATMUL = "matmul"
    EMBEDDING = "embedding"
    ELEMENTWISE = "elementwise"
    POOL = "pool"
    NORM = "norm"
    SOFTMAX = "softmax"

    @property
    def has_macs(self) -> bool:
        return self in (OpKind.CONV2D, OpKind.DWCONV, OpKind.MATMUL)


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer, its loop-nest dimensions and its data sizes per inference.

    Parameters
    ----------
    name : str
        Unique within its model.
    op : OpKind
        Operator family.
    g, k, c, p, q, r, s : int
        Groups, output channels per group, input channels per group, output rows,
        output columns, filter rows, filter columns.
    stride : int
        Convolution stride (1 for matrix products).
    weight_elems : int
        Elements of weights and biases this layer reads to compute (0 for attention
        products and for layers without weights).
    param_elems : int
        Parameters this layer owns; 0 when it reuses another layer's tensor (a tied
        LM head), so a model's parameter count counts every tensor once.
    input_elems, output_elems : int
        Activation elements read and written (all activation operands).
    vector_ops : int
        Non-MAC arithmetic operations (elementwise, pooling, normalisation).
    """

    name: str
    op: OpKind
    g: int = 1
    k: int = 1
    c: int = 1
    p: int = 1
    q: int = 1
    r: int = 1
    s: int = 1
    stride: int = 1
    weight_elems: int = 0
    param_elems: int = 0
    input_elems: int = 0
    output_elems: int = 0
    vector_ops: int = 0

    def __post_init__(self) -> None:
        for field_name in ("g", "k", "c", "p", "q", "r", "s", "stride"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"layer {self.name!r}: {field_name} must be >= 1")
        for field_name in (
            "weight_elems",
            "param_elems",
            "input_elems",
            "output_elems",
            "vector_ops",
        ):
            if getattr(self, field_name) < 0:
                raise ValueError(f"layer {self.name!r}: {field_name} must be >= 0")

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference (0 for non-MAC operators)."""
        if not self.op.has_macs:
            return 0
        return self.g * self.k * self.c * self.p * self.q * self.r * self.s

    @property
    def weight_access_elems(self) -> int:
        """Weight elements one execution actually reads (an embedding reads one row per token)."""
        if self.op is OpKind.EMBEDDING:
            return self.output_elems
        return self.weight_elems
