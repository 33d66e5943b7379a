"""The model zoo: networks built in code from their published architectures.

Nothing is downloaded: each entry is a function that lays out the layers from the
shapes in the paper that introduced the network. ``get_model(name, **params)`` builds
one; ``ZOO`` maps every name to its :class:`ZooEntry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcmsim.workloads.model import Model

__all__ = ["ZOO", "UnknownModelError", "ZooEntry", "get_model", "list_models", "register"]


class UnknownModelError(KeyError):
    """Raised for a model name the zoo does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: its builder, a one-line description and its default parameters."""

    name: str
    description: str
    builder: Callable[..., Model]
    defaults: dict[str, Any] = field(default_factory=dict)

    def build(self, **params: Any) -> Model:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise TypeError(
                f"model {self.name!r} takes parameters {sorted(self.defaults)}, not {unknown}"
            )
        return self.builder(**{**self.defaults, **params})


ZOO: dict[str, ZooEntry] = {}


def register(
    name: str, description: str, **defaults: Any
) -> Callable[[Callable[..., Model]], Callable[..., Model]]:
    """Decorator adding a builder to :data:`ZOO` under ``name``."""

    def decorate(builder: Callable[..., Model]) -> Callable[..., Model]:
        ZOO[name] = ZooEntry(name, description, builder, defaults)
        return builder

    return decorate


def get_model(name: str, **params: Any) -> Model:
    """Build zoo model ``name`` with ``params`` overriding its defaults.

    Raises
    ------
    UnknownModelError
        If ``name`` is not in the zoo (the message lists the known names).
    TypeError
        If a parameter is not one the model takes.
    """
    _load_builtin()
    try:
        entry = ZOO[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; known: {', '.join(sorted(ZOO))}"
        ) from None
    return entry.build(**params)


def list_models() -> dict[str, ZooEntry]:
    """Every zoo model by name, sorted."""
    _load_builtin()
    return dict(sorted(ZOO.items()))


def _load_builtin() -> None:
    # Importing the modules registers their builders; done lazily to keep import light.
    from mcmsim.workloads.zoo import cnn, transformer  # noqa: F401
