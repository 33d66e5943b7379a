"""Track names: the one spelling of each resource in results, traces and plots.

A *track* names one resource of the package wherever a run's work is attributed to it:
``chiplet 2``, ``link 0,0->0,1`` (the NoP link from chiplet position (0, 0) to
(0, 1)), ``dram0 @0,0`` (DRAM interface 0, attached at position (0, 0)). In
results.json chiplets are keyed by their index, links by the route part of the name
(``0,0->0,1``) and DRAM interfaces by their full track name. Build and read names only
through these functions.
"""

from __future__ import annotations

__all__ = ["chiplet_track", "dram_track", "link_key", "link_key_of_track", "link_track"]

Position = tuple[int, int]

_LINK_PREFIX = "link "


def chiplet_track(chiplet: int) -> str:
    """Track of chiplet ``chiplet`` (its index in the package)."""
    return f"chiplet {chiplet}"


def link_key(src: Position, dst: Position) -> str:
    """Key of the link from grid position ``src`` to ``dst`` in results.json."""
    return f"{src[0]},{src[1]}->{dst[0]},{dst[1]}"


def link_track(key: str) -> str:
    """Track of the link whose results key is ``key``."""
    return _LINK_PREFIX + key


def link_key_of_track(track: str) -> str:
    """Results key of a link track.

    Raises
    ------
    ValueError
        If ``track`` is not a link track.
    """
    if not track.startswith(_LINK_PREFIX):
        raise ValueError(f"{track!r} is not a link track (expected {_LINK_PREFIX!r}...)")
    return track.removeprefix(_LINK_PREFIX)


def dram_track(index: int, position: Position) -> str:
    """Track (and results key) of DRAM interface ``index`` attached at ``position``."""
    return f"dram{index} @{position[0]},{position[1]}"
