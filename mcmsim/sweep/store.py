"""The results store: one SQLite file per output folder that loses no finished point.

Each finished point is one row, inserted and committed the moment its result reaches
the main process, so a crash, a Ctrl-C or a killed worker loses at most the points
that were still running. The point id is the primary key: a point can be stored once
and only once, and ``--resume`` runs exactly the points whose id is not yet there.
The database runs in WAL mode, so readers (a plot, a notebook) can look at it while a
sweep writes.

A row holds the point's axis values and labels, its complete scenario, ``ok`` with
every metric of ``results.json`` or ``failed`` with the error message, the wall time,
the worker and the finish time (UTC). The table ``meta`` keeps the sweep's axes in
order and where it came from.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcmsim.scenario import Diagnostic
from mcmsim.sweep.evaluate import PointResult
from mcmsim.sweep.points import Point, canonical_json
from mcmsim.sweep.spec import SweepError

__all__ = ["STORE_NAME", "ResultStore", "StoredPoint"]

STORE_NAME = "sweep.sqlite"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id TEXT PRIMARY KEY,
    grid_index INTEGER NOT NULL,
    axis_values TEXT NOT NULL,
    axis_labels TEXT NOT NULL,
    scenario TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    metrics TEXT,
    error TEXT,
    wall_s REAL NOT NULL,
    worker TEXT NOT NULL,
    finished_utc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoredPoint:
    """One row of the store, decoded."""

    id: str
    index: int
    values: dict[str, Any]
    labels: dict[str, str]
    scenario: dict[str, Any]
    status: str
    metrics: dict[str, Any] | None
    error: str | None
    wall_s: float
    worker: str
    finished_utc: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class ResultStore:
    """The SQLite store of a sweep's output folder; use as a context manager.

    Raises
    ------
    SweepError
        On opening a file that is not a store of this version.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path)
        except sqlite3.Error as exc:  # a folder in its place, say
            raise SweepError(
                [Diagnostic(str(self.path), None, "", f"cannot open the store: {exc}")]
            ) from None
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables and version != _SCHEMA_VERSION:
                raise SweepError(
                    [
                        Diagnostic(
                            str(self.path),
                            None,
                            "",
                            f"not a sweep store of version {_SCHEMA_VERSION}",
                        )
                    ]
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise SweepError(
                [Diagnostic(str(self.path), None, "", f"not a sweep store: {exc}")]
            ) from None
        except SweepError:
            self._db.close()
            raise

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def stored_ids(self) -> set[str]:
        """The ids of every stored point."""
        return {row[0] for row in self._db.execute("SELECT id FROM points")}

    def add(self, point: Point, result: PointResult) -> None:
        """Insert ``point``'s result and commit at once.

        Raises
        ------
        sqlite3.IntegrityError
            If the point is already stored (a point is stored exactly once).
        """
        with self._db:
            self._db.execute(
                "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    point.id,
                    point.index,
                    json.dumps(point.values),
                    json.dumps(point.labels),
                    canonical_json(point.scenario),
                    "ok" if result.ok else "failed",
                    json.dumps(result.metrics) if result.metrics is not None else None,
                    result.error,
                    result.wall_s,
                    result.worker,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )

    def points(self) -> list[StoredPoint]:
        """Every stored point, in grid order."""
        rows = self._db.execute(
            "SELECT id, grid_index, axis_values, axis_labels, scenario, status, metrics, error,"
            " wall_s, worker, finished_utc FROM points ORDER BY grid_index, id"
        )
        return [
            StoredPoint(
                id=r[0],
                index=r[1],
                values=json.loads(r[2]),
                labels=json.loads(r[3]),
                scenario=json.loads(r[4]),
                status=r[5],
                metrics=json.loads(r[6]) if r[6] is not None else None,
                error=r[7],
                wall_s=r[8],
                worker=r[9],
                finished_utc=r[10],
            )
            for r in rows
        ]

    def set_meta(self, **values: Any) -> None:
        """Store sweep-level facts (JSON-encoded) under their keys."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def meta(self) -> dict[str, Any]:
        """Every sweep-level fact stored with :meth:`set_meta`."""
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}
