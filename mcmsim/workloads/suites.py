"""A whole usage scenario as workloads: every network of a MAESTRO file, at its frame rate.

XRBench describes an AR/VR usage scenario as one MAESTRO model file whose networks carry
``FPS``, ``Dependency`` and ``Probability``. A scenario takes them all at once with::

    [[workloads]]
    suite = "xrbench:AR_gaming"          # or "path/to/file.m"
    networks = ["HT_hand_graph_cnn_half", "DE_midas_v21_small"]   # optional subset
    [workloads.overrides.DE_midas_v21_small]
    fps = 15                             # or deadline_ms = 50, or stream = { ... }

Each selected network becomes one workload named after the network:

* a network with a ``Dependency`` on another selected network runs as a ``cascade``
  stream on it, with the file's ``Probability`` (default 1);
* any other network runs as a ``periodic`` stream at its ``FPS``.

A dependent network whose upstream is not selected, or a network without ``FPS``, is an
error that names the network and the two ways out: select the upstream, or give the
network a ``stream`` override. ``fps`` overrides a periodic network's frame rate (a
cascaded network follows its upstream, so ``fps`` is refused there); ``deadline_ms``
replaces the default frame deadline (the frame period); ``stream`` replaces the stream
altogether.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from mcmsim.ranges import DurationMs, RatePerS
from mcmsim.workloads.maestro_import import (
    MaestroFile,
    MaestroImportError,
    maestro_file_path,
    read_maestro,
)
from mcmsim.workloads.model import Model
from mcmsim.workloads.streams import CascadeStream, PeriodicStream, Stream, StreamField

__all__ = ["NetworkOverride", "SuiteError", "SuiteMember", "expand_suite", "read_suite"]


class NetworkOverride(BaseModel):
    """What a scenario may change about one network of a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fps: RatePerS | None = None
    deadline_ms: DurationMs | None = None
    stream: StreamField | None = None


class SuiteError(ValueError):
    """A suite entry that cannot be expanded.

    Attributes
    ----------
    key : tuple
        The key path inside the workload entry the problem is about (``("suite",)``,
        ``("networks",)``, ``("overrides", "NET", "fps")``...).
    """

    def __init__(self, key: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class SuiteMember:
    """One network of a suite, ready to be a workload (``deadline_ms`` None: default)."""

    name: str
    model: Model
    stream: Stream
    deadline_ms: float | None


def read_suite(ref: str, base_dir: str | os.PathLike[str] | None = None) -> MaestroFile:
    """The MAESTRO file a suite names: ``xrbench:SCENARIO`` or a ``.m`` path.

    Raises
    ------
    MaestroImportError
        For an unknown XRBench scenario or a file that cannot be read.
    """
    return read_maestro(maestro_file_path(ref, base_dir))


def expand_suite(
    ref: str,
    base_dir: str | os.PathLike[str] | None = None,
    networks: Sequence[str] | None = None,
    overrides: Mapping[str, NetworkOverride] | None = None,
) -> list[SuiteMember]:
    """The workloads of a suite, in file order.

    Parameters
    ----------
    ref : str
        ``xrbench:SCENARIO`` or a path to a MAESTRO file.
    base_dir : path-like, optional
        Directory a relative path is taken from.
    networks : sequence of str, optional
        The networks to take (default: all).
    overrides : mapping, optional
        Per-network changes, by network name.

    Raises
    ------
    SuiteError
        For a file that cannot be read, an unknown network name (selected or
        overridden), a dependent network without its upstream, a network without a
        frame rate, or ``fps`` given to a cascaded network.
    """
    overrides = dict(overrides or {})
    try:
        suite = read_suite(ref, base_dir)
    except MaestroImportError as exc:
        raise SuiteError(("suite",), str(exc)) from None
    known = suite.names
    for key, names in (("networks", networks or ()), ("overrides", overrides)):
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SuiteError(
                (key,),
                f"{', '.join(map(repr, unknown))} not in {ref}; it has {', '.join(known)}",
            )
    chosen = set(networks) if networks is not None else set(known)
    members = []
    for net in suite.networks:
        if net.name not in chosen:
            continue
        override = overrides.get(net.name, NetworkOverride())
        where = ("overrides", net.name)
        if override.stream is not None:
            stream = override.stream
        elif net.dependency is not None:
            if override.fps is not None:
                raise SuiteError(
                    (*where, "fps"),
                    f"{net.name} is triggered by {net.dependency} and runs at its rate; "
                    "give deadline_ms, or a stream instead",
                )
            if net.dependency not in chosen:
                raise SuiteError(
                    ("networks",),
                    f"{net.name} is triggered by {net.dependency}, which is not selected; "
                    f"select it, or give overrides.{net.name}.stream",
                )
            stream = CascadeStream(
                kind="cascade", upstream=net.dependency, probability=net.probability
            )
        else:
            fps = override.fps or net.fps
            if fps is None:
                raise SuiteError(
                    where, f"{net.name} has no FPS in {ref}; give overrides.{net.name}.fps"
                )
            stream = PeriodicStream(kind="periodic", fps=fps)
        members.append(SuiteMember(net.name, net.model, stream, override.deadline_ms))
    return members
