"""Constructors for common layers from the shapes a network definition uses.

Each builder takes the quantities one reads in a paper or a framework (input size,
kernel, stride, padding) and returns a :class:`~mcmsim.workloads.layer.Layer` with
the canonical loop-nest dimensions and element counts filled in.
"""

from __future__ import annotations

from mcmsim.workloads.layer import Layer, OpKind

__all__ = [
    "conv2d",
    "conv_output_size",
    "elementwise",
    "embedding",
    "matmul",
    "norm",
    "pool",
    "softmax",
]


def conv_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def conv2d(
    name: str,
    c_in: int,
    c_out: int,
    h_in: int,
    w_in: int,
    kernel: int | tuple[int, int],
    stride: int = 1,
    pad: int | tuple[int, int] = 0,
    groups: int = 1,
    bias: bool = False,
    dilation: int = 1,
) -> Layer:
    """A 2-D convolution; ``groups == c_in == c_out`` makes it depthwise.

    Raises
    ------
    ValueError
        If the channels do not divide into ``groups`` or the output is empty.
    """
    kr, ks = (kernel, kernel) if isinstance(kernel, int) else kernel
    pad_h, pad_w = (pad, pad) if isinstance(pad, int) else pad
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"layer {name!r}: channels {c_in}->{c_out} not divisible by groups {groups}"
        )
    p = conv_output_size(h_in, kr, stride, pad_h, dilation)
    q = conv_output_size(w_in, ks, stride, pad_w, dilation)
    if p < 1 or q < 1:
        raise ValueError(f"layer {name!r}: empty output for input {h_in}x{w_in}")
    depthwise = groups > 1 and groups == c_in == c_out
    weights = c_out * (c_in // groups) * kr * ks + (c_out if bias else 0)
    return Layer(
        name=name,
        op=OpKind.DWCONV if depthwise else OpKind.CONV2D,
        g=groups,
        k=c_out // groups,
        c=c_in // groups,
        p=p,
        q=q,
        r=kr,
        s=ks,
        stride=stride,
        weight_elems=weights,
        param_elems=weights,
        input_elems=c_in * h_in * w_in,
        output_elems=c_out * p * q,
    )


def matmul(
    name: str,
    m: int,
    k_red: int,
    n: int,
    *,
    heads: int = 1,
    weights: bool = True,
    bias: bool = False,
    tied: bool = False,
) -> Layer:
    """A (batched) matrix product ``[heads x m x k_red] @ [heads x k_red x n]``.

    With ``weights=True`` the right operand is a weight matrix (a linear layer);
    otherwise both operands are activations (attention scores and context). With
    ``tied=True`` the weights belong to another layer and count no parameters.
    """
    weight_elems = heads * k_red * n + (heads * n if bias else 0) if weights else 0
    input_elems = heads * m * k_red + (0 if weights else heads * k_red * n)
    return Layer(
        name=name,
        op=OpKind.MATMUL,
        g=heads,
        k=n,
        c=k_red,
        p=m,
        weight_elems=weight_elems,
        param_elems=0 if tied else weight_elems,
        input_elems=input_elems,
        output_elems=heads * m * n,
    )


def embedding(name: str, vocab: int, dim: int, tokens: int) -> Layer:
    """A table lookup: ``vocab x dim`` parameters, ``tokens`` rows read."""
    return Layer(
        name=name,
        op=OpKind.EMBEDDING,
        weight_elems=vocab * dim,
        param_elems=vocab * dim,
        input_elems=tokens,
        output_elems=tokens * dim,
    )


def elementwise(
    name: str, elems: int, *, inputs: int = 1, ops_per_elem: int = 1, params: int = 0
) -> Layer:
    """Elementwise arithmetic over ``elems`` outputs from ``inputs`` operands (add, activation)."""
    return Layer(
        name=name,
        op=OpKind.ELEMENTWISE,
        weight_elems=params,
        param_elems=params,
        input_elems=inputs * elems,
        output_elems=elems,
        vector_ops=ops_per_elem * elems,
    )


def pool(
    name: str, channels: int, h_in: int, w_in: int, kernel: int, stride: int, pad: int = 0
) -> Layer:
    """Max or average pooling; ``kernel == h_in`` gives global pooling."""
    p = conv_output_size(h_in, kernel, stride, pad)
    q = conv_output_size(w_in, kernel, stride, pad)
    return Layer(
        name=name,
        op=OpKind.POOL,
        g=channels,
        p=p,
        q=q,
        r=kernel,
        s=kernel,
        stride=stride,
        input_elems=channels * h_in * w_in,
        output_elems=channels * p * q,
        vector_ops=channels * p * q * kernel * kernel,
    )


def norm(
    name: str, elems: int, features: int, *, affine: bool = True, ops_per_elem: int = 4
) -> Layer:
    """Layer or batch normalisation over ``elems`` values with ``features`` channels."""
    params = 2 * features if affine else 0
    return Layer(
        name=name,
        op=OpKind.NORM,
        weight_elems=params,
        param_elems=params,
        input_elems=elems,
        output_elems=elems,
        vector_ops=ops_per_elem * elems,
    )


def softmax(name: str, elems: int) -> Layer:
    """Softmax over ``elems`` values (exponent, sum, divide)."""
    return Layer(
        name=name,
        op=OpKind.SOFTMAX,
        input_elems=elems,
        output_elems=elems,
        vector_ops=3 * elems,
    )
