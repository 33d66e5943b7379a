"""Import networks from MAESTRO model files (``.m``), such as XRBench's usage scenarios.

A MAESTRO model file lists ``Network NAME { ... }`` blocks of ``Layer NAME { Type: T
Dimensions { N: 1, K: 64, C: 3, Y: 128, X: 128, R: 7, S: 7 } }`` blocks, optionally with
``Constant NAME VALUE;`` definitions, ``//`` comments, per-layer ``Stride { X: 2, Y: 2 }``
and ``Dataflow { ... }`` blocks (skipped: the dataflow is the chiplet's, not the
model's). XRBench adds per-network ``FPS: f``, ``Dependency: { UPSTREAM }`` and
``Probability: p``, read into :class:`MaestroNetwork` for frame-rate and cascade
streams. Tokens are split as MAESTRO's own parser splits them (on spaces, tabs and
``,:;()``), so ``FPS:45`` and ``Dimensions: {`` read like ``FPS: 45`` and ``Dimensions {``.

Conventions
-----------
Sizes
    ``Y`` and ``X`` are the *input* height and width; ``R`` and ``S`` the filter's. The
    output is what MAESTRO's dimension table derives, an unpadded convolution:
    ``Y' = (Y - R) // stride + 1`` (likewise ``X'`` with ``S``). A layer may give
    ``Y'``/``X'`` instead, and then ``Y = (Y' - 1) * stride + R``.
Stride
    From the layer's ``Stride`` block, else 1, as MAESTRO does. XRBench's files have no
    stride at all, so their strided layers count the stride-1 work: a 7x7 stride-2
    convolution on a 128x128 input counts 122x122 output positions, not 64x64.
Windows larger than the input
    XRBench has layers whose window exceeds their (padded, in the original network)
    input, e.g. 3x3 on 2x2 maps, where ``Y - R + 1 < 1``. Such an input is taken as
    zero-padded up to the window, so the output is 1 along that axis.
Layer types
    ``CONV`` and ``TRCONV`` are convolutions (MAESTRO builds a transposed convolution as
    a plain ``CONV`` layer; its hard-coded inner stride is dropped, so the loop nest is
    the same). ``DSCONV`` is depthwise and written as MAESTRO writes it, ``K: 1`` and
    ``C`` = channels: it becomes ``G = C`` groups of one input channel each, with
    ``K`` (normally 1) outputs per channel. ``FC`` is a convolution whose ``Y``, ``X``,
    ``R``, ``S`` default to 1 (``Y`` tokens of ``C`` features, as XRBench writes its
    transformers' linear layers with ``CONV``). ``GEMM`` with ``M``, ``N``, ``K`` is
    ``[M x K] @ [K x N]`` with the right operand as the weight. ``N`` (batch) of a
    convolution is images per inference, stacked along the output rows. ``NGCONV``,
    ``POOL``, ``LSTM`` and ``RESIDUAL_IDENTITY`` are rejected: MAESTRO itself does not
    cost the last three, and its grouped-convolution channel convention is ambiguous.
MACs and parameters
    MACs are the canonical loop nest's product; parameters are the weights
    ``K * C * R * S`` (``C * K * R * S`` depthwise, ``K * N`` GEMM). The files give no
    biases, so none are counted.
Graph
    The files give no edges: a network is a chain in layer order.

A model reference is ``path.m`` (a file with one network), ``path.m#Network``, or
``xrbench:SCENARIO#Network`` for the XRBench files shipped in this package.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import networkx as nx

from mcmsim.inputs import InputFileError, read_input_text
from mcmsim.workloads.builders import matmul
from mcmsim.workloads.layer import Layer, OpKind
from mcmsim.workloads.model import Model, ModelBuilder

__all__ = [
    "XRBENCH_SCENARIOS",
    "MaestroFile",
    "MaestroImportError",
    "MaestroNetwork",
    "is_maestro_ref",
    "load_maestro",
    "load_maestro_ref",
    "maestro_file_path",
    "maestro_ref_label",
    "read_maestro",
    "xrbench_file",
]

#: XRBench usage scenarios shipped with the package (file stems under data/xrbench).
XRBENCH_SCENARIOS = (
    "AR_Assistant",
    "AR_gaming",
    "VR_gaming",
    "outdoor_activity_A",
    "outdoor_activity_B",
    "social_interactionA",
    "social_interactionB",
)

_XRBENCH_PREFIX = "xrbench:"

_CONV_DIMS = frozenset({"N", "K", "C", "Y", "X", "R", "S", "Y'", "X'"})
_DIMS_BY_TYPE = {
    "CONV": _CONV_DIMS,
    "TRCONV": _CONV_DIMS,
    "DSCONV": _CONV_DIMS,
    "FC": _CONV_DIMS,
    "GEMM": frozenset({"M", "N", "K"}),
}
_UNSUPPORTED_TYPES = frozenset({"NGCONV", "POOL", "LSTM", "RESIDUAL_IDENTITY"})
#: Dimensions that default to 1 when a layer of that type leaves them out.
_DEFAULT_ONE = {
    "CONV": frozenset({"N"}),
    "TRCONV": frozenset({"N"}),
    "DSCONV": frozenset({"N", "K"}),
    "FC": frozenset({"N", "Y", "X", "R", "S"}),
    "GEMM": frozenset(),
}

_TOKEN = re.compile(r"[{}]|[^\s,:;(){}]+")


class MaestroImportError(ValueError):
    """A MAESTRO model file that cannot be read; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class MaestroNetwork:
    """One ``Network`` block: the model and the real-time metadata XRBench gives it.

    Attributes
    ----------
    name : str
        The network's name in the file.
    model : Model
        Its layers as a chain.
    fps : float or None
        Frames per second it runs at (``FPS``); None when the file gives none.
    dependency : str or None
        The upstream network in the same file whose completed frames trigger this
        one (``Dependency``); None for a network driven by its own frame rate.
    probability : float
        Chance that a completed upstream frame triggers this network
        (``Probability``, default 1.0); only meaningful with a dependency.
    line : int
        Line of the ``Network`` keyword, for messages.
    """

    name: str
    model: Model
    fps: float | None
    dependency: str | None
    probability: float
    line: int


@dataclass(frozen=True)
class MaestroFile:
    """All networks of one MAESTRO model file, in file order."""

    path: Path
    networks: tuple[MaestroNetwork, ...]

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.networks]

    def network(self, name: str) -> MaestroNetwork:
        """The network called ``name``.

        Raises
        ------
        MaestroImportError
            If the file has no such network (the message lists those it has).
        """
        for net in self.networks:
            if net.name == name:
                return net
        raise MaestroImportError(
            f"{self.path}: no network {name!r}; the file has {', '.join(self.names)}"
        )


def read_maestro(path: str | os.PathLike[str]) -> MaestroFile:
    """Read every network of a MAESTRO model file.

    Parameters
    ----------
    path : str or path-like
        The ``.m`` file.

    Returns
    -------
    MaestroFile
        Its networks in file order, each with its model and metadata.

    Raises
    ------
    MaestroImportError
        ``file:line: message`` for a missing or unreadable file, a syntax error, an
        unknown or unsupported layer type, an unknown, repeated, missing, zero or
        non-integer dimension, a bad ``FPS``/``Probability``, or a dependency on a
        network the file does not have or that forms a cycle.
    """
    path = Path(path)
    try:
        text = read_input_text(path, "MAESTRO model")
    except InputFileError as exc:
        raise MaestroImportError(str(exc)) from None
    return _Parser(path, text).run()


def load_maestro(path: str | os.PathLike[str], network: str | None = None) -> Model:
    """The model of one network of a MAESTRO model file.

    Parameters
    ----------
    path : str or path-like
        The ``.m`` file.
    network : str, optional
        The network's name; may be left out when the file holds exactly one.

    Raises
    ------
    MaestroImportError
        As :func:`read_maestro`, and for a missing network name in a file with several
        networks or a name the file does not have.
    """
    parsed = read_maestro(path)
    if network is not None:
        return parsed.network(network).model
    if len(parsed.networks) != 1:
        raise MaestroImportError(
            f"{parsed.path}: {len(parsed.networks)} networks; choose one with "
            f"'{parsed.path.name}#NAME', NAME one of {', '.join(parsed.names)}"
        )
    return parsed.networks[0].model


def xrbench_file(scenario: str) -> Path:
    """The shipped XRBench model file of a usage scenario, e.g. ``"AR_gaming"``.

    Raises
    ------
    MaestroImportError
        If ``scenario`` is not one of :data:`XRBENCH_SCENARIOS`.
    """
    if scenario not in XRBENCH_SCENARIOS:
        raise MaestroImportError(
            f"no XRBench scenario {scenario!r}; known: {', '.join(XRBENCH_SCENARIOS)}"
        )
    root = resources.files("mcmsim.workloads") / "data" / "xrbench" / f"{scenario}.m"
    return Path(str(root))


def is_maestro_ref(ref: str) -> bool:
    """Whether a model reference names a MAESTRO file (``.m``, ``.m#Net``, ``xrbench:``)."""
    file_part = ref.partition("#")[0]
    return ref.startswith(_XRBENCH_PREFIX) or file_part.endswith(".m")


def maestro_ref_label(ref: str) -> str:
    """A workload name for a reference: the network name, else the file's stem."""
    file_part, _, network = ref.partition("#")
    return network or Path(file_part.removeprefix(_XRBENCH_PREFIX)).stem


def maestro_file_path(file_ref: str, base_dir: str | os.PathLike[str] | None = None) -> Path:
    """The file a reference without ``#Net`` names: ``xrbench:SCENARIO`` or a ``.m`` path.

    A relative path is taken from ``base_dir`` (default the current directory).

    Raises
    ------
    MaestroImportError
        For an unknown XRBench scenario.
    """
    if file_ref.startswith(_XRBENCH_PREFIX):
        return xrbench_file(file_ref.removeprefix(_XRBENCH_PREFIX))
    path = Path(file_ref)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    return path


def load_maestro_ref(ref: str, base_dir: str | os.PathLike[str] | None = None) -> Model:
    """The model a reference names: ``path.m``, ``path.m#Net`` or ``xrbench:SCENARIO#Net``.

    Parameters
    ----------
    ref : str
        The reference.
    base_dir : str or path-like, optional
        Directory a relative path is taken from (the scenario file's); default the
        current directory.

    Raises
    ------
    MaestroImportError
        As :func:`load_maestro`, and for an unknown XRBench scenario.
    """
    file_part, hash_sign, network = ref.partition("#")
    if hash_sign and not network:
        raise MaestroImportError(f"{ref!r}: empty network name after '#'")
    return load_maestro(maestro_file_path(file_part, base_dir), network or None)


@dataclass(frozen=True)
class _Token:
    text: str
    line: int


@dataclass
class _LayerDecl:
    name: str
    line: int
    kind: str | None = None
    kind_line: int = 0
    dims: dict[str, int] | None = None
    strides: dict[str, int] | None = None


@dataclass
class _NetworkDecl:
    name: str
    line: int
    layers: list[Layer]
    fps: float | None = None
    dependency: _Token | None = None
    probability: _Token | None = None


class _Parser:
    """A recursive-descent reader of one file's token stream."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.tokens = list(_tokens(text))
        self.pos = 0
        self.constants: dict[str, int] = {}
        self.last_line = max(len(text.splitlines()), 1)

    # -- token stream -----------------------------------------------------------------

    def fail(self, line: int, message: str) -> MaestroImportError:
        return MaestroImportError(f"{self.path}:{line}: {message}")

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise self.fail(self.last_line, f"file ends where {what} was expected")
        self.pos += 1
        return token

    def expect(self, text: str, context: str) -> _Token:
        token = self.next(f"'{text}' {context}")
        if token.text != text:
            raise self.fail(token.line, f"expected '{text}' {context}, got {token.text!r}")
        return token

    # -- grammar ------------------------------------------------------------------------

    def run(self) -> MaestroFile:
        networks: list[_NetworkDecl] = []
        while (token := self.peek()) is not None:
            self.pos += 1
            if token.text == "Constant":
                name = self.next("a constant name")
                value = self.next(f"the value of constant {name.text!r}")
                self.constants[name.text] = self.positive_int(value, f"constant {name.text!r}")
            elif token.text == "Network":
                networks.append(self.network(token))
            else:
                raise self.fail(token.line, f"expected 'Network' or 'Constant', got {token.text!r}")
        if not networks:
            raise self.fail(1, "no Network block")
        return self.finish(networks)

    def network(self, keyword: _Token) -> _NetworkDecl:
        token = self.next("a network name or '{'")
        name = self.path.stem
        if token.text != "{":  # MAESTRO allows an unnamed network
            name = token.text
            self.expect("{", f"after 'Network {name}'")
        decl = _NetworkDecl(name, keyword.line, [])
        while (token := self.next(f"'}}' closing network {name!r}")).text != "}":
            if token.text == "Layer":
                decl.layers.append(self.layer(token, decl))
            elif token.text == "FPS":
                value = self.next("a frame rate after 'FPS'")
                decl.fps = self.positive_float(value, "FPS")
            elif token.text == "Probability":
                decl.probability = self.next("a probability after 'Probability'")
            elif token.text == "Dependency":
                decl.dependency = self.dependency(token)
            else:
                raise self.fail(
                    token.line,
                    f"network {name!r}: expected 'Layer', 'FPS', 'Probability', "
                    f"'Dependency' or '}}', got {token.text!r}",
                )
        return decl

    def dependency(self, keyword: _Token) -> _Token:
        self.expect("{", "after 'Dependency'")
        names = []
        while (token := self.next("'}' closing the Dependency block")).text != "}":
            names.append(token)
        if len(names) != 1:
            raise self.fail(
                keyword.line, f"Dependency names {len(names)} networks; expected exactly one"
            )
        return names[0]

    def layer(self, keyword: _Token, net: _NetworkDecl) -> Layer:
        name_token = self.next("a layer name")
        decl = _LayerDecl(name_token.text, keyword.line)
        self.expect("{", f"after 'Layer {decl.name}'")
        while (token := self.next(f"'}}' closing layer {decl.name!r}")).text != "}":
            if token.text == "Type":
                kind = self.next("a layer type after 'Type'")
                decl.kind, decl.kind_line = kind.text, kind.line
            elif token.text == "Dimensions":
                if decl.dims is not None:
                    raise self.fail(token.line, f"layer {decl.name!r}: Dimensions given twice")
                decl.dims = self.sizes(decl.name, "Dimensions")
            elif token.text == "Stride":
                decl.strides = self.sizes(decl.name, "Stride")
            elif token.text == "Dataflow":
                self.skip_block(token)
            else:
                raise self.fail(
                    token.line,
                    f"layer {decl.name!r}: expected 'Type', 'Dimensions', 'Stride', "
                    f"'Dataflow' or '}}', got {token.text!r}",
                )
        return self.build_layer(decl, net)

    def sizes(self, layer: str, block: str) -> dict[str, int]:
        """A ``{ NAME: value, ... }`` block of positive integers (constants allowed)."""
        self.expect("{", f"after '{block}'")
        sizes: dict[str, int] = {}
        while (token := self.next(f"'}}' closing the {block} block")).text != "}":
            value = self.next(f"a size for {token.text!r}")
            if value.text == "}":
                raise self.fail(value.line, f"layer {layer!r}: {token.text} has no size")
            if token.text in sizes:
                raise self.fail(token.line, f"layer {layer!r}: {token.text} given twice")
            sizes[token.text] = self.positive_int(value, f"layer {layer!r}: {token.text}")
        return sizes

    def skip_block(self, keyword: _Token) -> None:
        self.expect("{", f"after '{keyword.text}'")
        depth = 1
        while depth:
            token = self.next(f"'}}' closing the {keyword.text} block of line {keyword.line}")
            depth += {"{": 1, "}": -1}.get(token.text, 0)

    def positive_int(self, token: _Token, what: str) -> int:
        text = token.text
        if text in self.constants:
            return self.constants[text]
        if not text.isdigit():
            raise self.fail(token.line, f"{what} must be a positive integer, got {text!r}")
        if int(text) == 0:
            raise self.fail(token.line, f"{what} is 0; sizes must be at least 1")
        return int(text)

    def positive_float(self, token: _Token, what: str) -> float:
        try:
            value = float(token.text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise self.fail(token.line, f"{what} must be a positive number, got {token.text!r}")
        return value

    # -- layers and networks ------------------------------------------------------------

    def build_layer(self, decl: _LayerDecl, net: _NetworkDecl) -> Layer:
        where = f"layer {decl.name!r}"
        if decl.kind is None:
            raise self.fail(decl.line, f"{where} has no Type")
        if decl.kind in _UNSUPPORTED_TYPES:
            raise self.fail(
                decl.kind_line,
                f"{where}: layer type {decl.kind} is not supported; "
                f"supported: {', '.join(_DIMS_BY_TYPE)}",
            )
        if decl.kind not in _DIMS_BY_TYPE:
            raise self.fail(
                decl.kind_line,
                f"{where}: unknown layer type {decl.kind!r}; known: {', '.join(_DIMS_BY_TYPE)}",
            )
        if decl.dims is None:
            raise self.fail(decl.line, f"{where} has no Dimensions")
        allowed = _DIMS_BY_TYPE[decl.kind]
        unknown = sorted(set(decl.dims) - allowed)
        if unknown:
            raise self.fail(
                decl.line,
                f"{where}: unknown dimension {', '.join(unknown)} for {decl.kind} "
                f"(expected {', '.join(sorted(allowed))})",
            )
        strides = decl.strides or {}
        if set(strides) - {"X", "Y"}:
            raise self.fail(decl.line, f"{where}: Stride takes only X and Y")
        dims = {d: 1 for d in _DEFAULT_ONE[decl.kind]} | decl.dims
        if decl.kind == "FC" and dims["R"] * dims["S"] != 1:
            raise self.fail(decl.line, f"{where}: FC takes R = S = 1")
        if decl.kind == "GEMM":
            self.require(decl, dims, ("M", "N", "K"))
            layer = matmul(decl.name, dims["M"], dims["K"], dims["N"])
        else:
            self.require(decl, dims, ("K", "C", "R", "S"))
            rows_in, rows_out = self.axis(decl, dims, "Y", "R", strides.get("Y", 1))
            cols_in, cols_out = self.axis(decl, dims, "X", "S", strides.get("X", 1))
            layer = _conv(
                decl.name,
                decl.kind,
                dims,
                (rows_in, cols_in),
                (rows_out, cols_out),
                strides.get("Y", 1),
            )
        taken = {lay.name for lay in net.layers}
        name, n = layer.name, 1
        while name in taken:  # MAESTRO does not require unique names
            n += 1
            name = f"{layer.name}_{n}"
        return layer if name == layer.name else replace(layer, name=name)

    def require(self, decl: _LayerDecl, dims: dict[str, int], names: tuple[str, ...]) -> None:
        missing = [d for d in names if d not in dims]
        if missing:
            raise self.fail(
                decl.line, f"layer {decl.name!r}: missing dimension {', '.join(missing)}"
            )

    def axis(
        self, decl: _LayerDecl, dims: dict[str, int], size: str, window: str, stride: int
    ) -> tuple[int, int]:
        """Input and output length along one axis, from the input or the output size."""
        given_in, given_out = dims.get(size), dims.get(f"{size}'")
        if (given_in is None) == (given_out is None):
            what = "both" if given_in is not None else "neither"
            raise self.fail(
                decl.line,
                f"layer {decl.name!r}: give exactly one of {size} and {size}' ({what} given)",
            )
        kernel = dims[window]
        if given_out is not None:
            return (given_out - 1) * stride + kernel, given_out
        assert given_in is not None
        # A window wider than the input: the input is padded up to the window.
        return given_in, max(given_in - kernel, 0) // stride + 1

    def finish(self, decls: list[_NetworkDecl]) -> MaestroFile:
        by_name: dict[str, _NetworkDecl] = {}
        for decl in decls:
            if decl.name in by_name:
                raise self.fail(decl.line, f"network {decl.name!r} defined twice")
            if not decl.layers:
                raise self.fail(decl.line, f"network {decl.name!r} has no layers")
            by_name[decl.name] = decl
        upstream: dict[str, str] = {}
        for decl in decls:
            if decl.dependency is not None:
                dep = decl.dependency
                if dep.text not in by_name:
                    raise self.fail(
                        dep.line, f"network {decl.name!r} depends on unknown network {dep.text!r}"
                    )
                upstream[decl.name] = dep.text
            elif decl.probability is not None:
                raise self.fail(
                    decl.probability.line,
                    f"network {decl.name!r}: Probability needs a Dependency",
                )
        graph = nx.DiGraph(list(upstream.items()))
        cycle = next(iter(nx.simple_cycles(graph)), None)
        if cycle:
            raise self.fail(
                by_name[cycle[0]].line, f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}"
            )
        return MaestroFile(self.path, tuple(self.network_of(decl) for decl in decls))

    def network_of(self, decl: _NetworkDecl) -> MaestroNetwork:
        probability = 1.0
        if decl.probability is not None:
            token = decl.probability
            try:
                probability = float(token.text)
            except ValueError:
                probability = math.nan
            if not 0 < probability <= 1:
                raise self.fail(token.line, f"Probability must be in (0, 1], got {token.text!r}")
        builder = ModelBuilder(decl.name, decl.layers[0].input_elems)
        for layer in decl.layers:
            builder.add(layer)
        return MaestroNetwork(
            name=decl.name,
            model=builder.build(),
            fps=decl.fps,
            dependency=decl.dependency.text if decl.dependency else None,
            probability=probability,
            line=decl.line,
        )


def _tokens(text: str) -> Iterator[_Token]:
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _TOKEN.finditer(line.split("//", 1)[0]):
            yield _Token(match.group(), number)


def _conv(
    name: str,
    kind: str,
    dims: dict[str, int],
    size_in: tuple[int, int],
    size_out: tuple[int, int],
    stride: int,
) -> Layer:
    images, k, c, r, s = dims["N"], dims["K"], dims["C"], dims["R"], dims["S"]
    (rows_in, cols_in), (rows_out, cols_out) = size_in, size_out
    if kind == "DSCONV":  # C channels, each its own group with K (normally 1) outputs
        groups, k_group, c_group, channels_out = c, k, 1, c * k
        weights, op = c * k * r * s, OpKind.DWCONV
    else:
        groups, k_group, c_group, channels_out = 1, k, c, k
        weights = k * c * r * s
        op = OpKind.MATMUL if kind == "FC" else OpKind.CONV2D
    return Layer(
        name=name,
        op=op,
        g=groups,
        k=k_group,
        c=c_group,
        p=images * rows_out,
        q=cols_out,
        r=r,
        s=s,
        stride=stride,
        weight_elems=weights,
        param_elems=weights,
        input_elems=images * c * rows_in * cols_in,
        output_elems=images * channels_out * rows_out * cols_out,
    )
