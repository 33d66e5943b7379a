"""Models: a DAG of layers with one fixed topological order.

A :class:`Model` is immutable once built. Its graph is a :class:`networkx.DiGraph`
whose nodes are layer names (attribute ``layer``) and whose edges carry the
activation elements passed from producer to consumer. The fixed order is what
schedulers cut into contiguous segments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx

from mcmsim.workloads.layer import Layer

__all__ = ["Model", "ModelBuilder"]


# eq=False: identity hashing, so caches keyed by a model (cost tables) do not hash
# hundreds of layers on every lookup.
@dataclass(frozen=True, eq=False)
class Model:
    """A DNN as a DAG of layers in a fixed topological order.

    Attributes
    ----------
    name : str
        Model name, e.g. ``"resnet50"``.
    layers : tuple of Layer
        All layers in topological order.
    graph : networkx.DiGraph
        Nodes are layer names; edge attribute ``elems`` is the activation size sent.
    input_elems : int
        Elements of the model input (read from DRAM per inference).
    """

    name: str
    layers: tuple[Layer, ...]
    graph: nx.DiGraph = field(repr=False, compare=False)
    input_elems: int = 0

    @cached_property
    def index(self) -> dict[str, int]:
        """Position of each layer name in the topological order."""
        return {layer.name: i for i, layer in enumerate(self.layers)}

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.param_elems for layer in self.layers)

    @property
    def output_layers(self) -> list[str]:
        """Layers with no consumer: their outputs are the model's outputs."""
        return [n for n in self.graph.nodes if self.graph.out_degree(n) == 0]

    @property
    def output_elems(self) -> int:
        return sum(self.graph.nodes[n]["layer"].output_elems for n in self.output_layers)

    def weight_bytes(self, bytes_per_elem: int = 1) -> int:
        return self.params * bytes_per_elem

    def predecessors(self, name: str) -> list[str]:
        return list(self.graph.predecessors(name))


class ModelBuilder:
    """Builds a :class:`Model` layer by layer.

    ``add(layer)`` connects the new layer to the previously added one unless
    ``inputs`` names its producers; it returns the layer's name for later wiring.
    A layer with ``inputs=()`` is a source fed by the model input.
    """

    def __init__(self, name: str, input_elems: int) -> None:
        self.name = name
        self.input_elems = input_elems
        self._graph = nx.DiGraph()
        self._layers: list[Layer] = []

    @property
    def last(self) -> str | None:
        return self._layers[-1].name if self._layers else None

    def add(self, layer: Layer, inputs: Iterable[str] | None = None) -> str:
        """Append ``layer`` fed by ``inputs`` (default: the previous layer).

        Raises
        ------
        ValueError
            If the name is taken or an input is unknown.
        """
        if layer.name in self._graph:
            raise ValueError(f"model {self.name!r}: duplicate layer name {layer.name!r}")
        producers = ([self.last] if self.last else []) if inputs is None else list(inputs)
        self._graph.add_node(layer.name, layer=layer)
        for producer in producers:
            if producer not in self._graph:
                raise ValueError(
                    f"model {self.name!r}: layer {layer.name!r} input {producer!r} unknown"
                )
            elems = self._graph.nodes[producer]["layer"].output_elems
            self._graph.add_edge(producer, layer.name, elems=elems)
        self._layers.append(layer)
        return layer.name

    def build(self) -> Model:
        """Freeze the model; the insertion order must already be topological."""
        order = {layer.name: i for i, layer in enumerate(self._layers)}
        for u, v in self._graph.edges:
            if order[u] >= order[v]:
                raise ValueError(f"model {self.name!r}: edge {u}->{v} goes backwards")
        graph = self._graph.copy()
        nx.freeze(graph)
        return Model(self.name, tuple(self._layers), graph, self.input_elems)
