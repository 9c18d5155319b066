"""Profiles from links: connected components under the per-profile limits.

The rule is sequential: links are applied in evidence order, and a link whose merge would put two
values of one limited type (two user ids of a store, two loyalty cards) or a forbidden pair in one
profile is not applied (a conflict). Applied to millions of links one by one in Python that is
slow, so it runs in two steps that give exactly the same result:

1. connected components of all the links at once (scipy), the *unconstrained* components;
2. only the components that would break a limit are replayed link by link with a guarded
   union-find. A component that breaks no limit as a whole breaks none at any step of the
   sequential rule, and links of different components never interact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

Ids = npt.NDArray[np.int64]

NO_LIMIT = -1
FORBIDDEN = -2


@dataclass(frozen=True)
class Graph:
    """Identifiers (sorted ids), their limit code (NO_LIMIT or an index into `limit_names`),
    the links between them in evidence order, and the forbidden pairs."""

    ids: Ids
    limit: npt.NDArray[np.int32]
    limit_names: list[str]
    seq: Ids
    a: Ids
    b: Ids
    forbidden: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Conflict:
    seq: int
    kept: int
    detached: int
    limit_key: str
    existing: int
    incoming: int


@dataclass(frozen=True)
class Resolution:
    component: Ids
    """Per identifier: the smallest id of its unconstrained component."""
    profile: Ids
    """Per identifier: the smallest id of its profile."""
    conflicts: list[Conflict]
    replayed: int
    """Components replayed link by link because they break a limit."""


def first_index(keys: npt.NDArray[np.integer[Any]], size: int) -> Ids:
    """For each key in 0..size-1, where it first occurs in `keys` (len(keys) if nowhere).
    (np.unique sorts or hashes; this is one pass.)"""
    first = np.full(size, len(keys), dtype=np.int64)
    np.minimum.at(first, keys, np.arange(len(keys), dtype=np.int64))
    return first


def _smallest_per_label(ids: Ids, labels: npt.NDArray[np.integer[Any]]) -> Ids:
    """For each node, the smallest id carrying its label (`ids` is sorted)."""
    first = first_index(labels, int(labels.max()) + 1 if len(labels) else 0)
    smallest: Ids = ids[np.minimum(first, len(ids) - 1)] if len(ids) else first
    per_node: Ids = smallest[labels]
    return per_node


def resolve(graph: Graph) -> Resolution:
    n = len(graph.ids)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return Resolution(empty, empty, [], 0)
    find = locator(graph.ids)
    ia, ib = _positions(find, graph.a), _positions(find, graph.b)
    adjacency = coo_matrix((np.ones(len(ia), dtype=np.int8), (ia, ib)), shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    component = _smallest_per_label(graph.ids, labels)
    breaking = _breaking_components(graph, labels)
    profile = component.copy()
    if not breaking.size:
        return Resolution(component, profile, [], 0)
    in_breaking = np.isin(labels, breaking)
    chosen = np.flatnonzero(in_breaking[ia])
    chosen = chosen[np.argsort(graph.seq[chosen], kind="stable")]
    replay = _GuardedUnion(graph)
    conflicts = [c for i in chosen.tolist()
                 if (c := replay.link(int(graph.seq[i]), int(ia[i]), int(ib[i]))) is not None]
    nodes = np.flatnonzero(in_breaking)
    roots = np.array([replay.find(i) for i in nodes.tolist()], dtype=np.int32)
    profile[nodes] = _smallest_per_label(graph.ids[nodes], roots)
    return Resolution(component, profile, conflicts, int(breaking.size))


def locator(ids: Ids) -> Callable[[Ids], Ids]:
    """A function giving where each of its values stands in `ids` (sorted, distinct), -1
    where it is not there."""
    if len(ids) and ids[0] >= 0 and ids[-1] < 4 * len(ids) + 1024:
        # Identifiers are numbered densely from 1: a lookup table beats binary search.
        table = np.full(int(ids[-1]) + 1, -1, dtype=np.int64)
        table[ids] = np.arange(len(ids), dtype=np.int64)

        def look_up(values: Ids) -> Ids:
            found = np.full(len(values), -1, dtype=np.int64)
            inside = (values >= 0) & (values < len(table))
            found[inside] = table[values[inside]]
            return found

        return look_up

    def search(values: Ids) -> Ids:
        found = np.full(len(values), -1, dtype=np.int64)
        if len(ids):
            at = np.minimum(np.searchsorted(ids, values), len(ids) - 1)
            hit = ids[at] == values
            found[hit] = at[hit]
        return found

    return search


def _positions(find: Callable[[Ids], Ids], values: Ids) -> Ids:
    """Where each of `values` (all nodes) stands among the nodes."""
    found = find(values)
    if (found < 0).any():
        raise ValueError("a link names an identifier that is not a node of the graph")
    return found


def _breaking_components(graph: Graph, labels: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Components holding two values of one limited type, or both sides of a forbidden pair."""
    limited = graph.limit >= 0
    keys = labels[limited].astype(np.int64) * max(1, len(graph.limit_names)) + graph.limit[limited]
    unique, counts = np.unique(keys, return_counts=True)
    breaking = set((unique[counts > 1] // max(1, len(graph.limit_names))).tolist())
    for x, y in graph.forbidden:
        i, j = np.searchsorted(graph.ids, [x, y])
        if i < len(graph.ids) and j < len(graph.ids) and graph.ids[i] == x and graph.ids[j] == y \
                and labels[i] == labels[j]:
            breaking.add(int(labels[i]))
    return np.array(sorted(breaking), dtype=np.int32)


class _GuardedUnion:
    """Union-find whose roots know their limited values; a merge that would clash is refused."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.parent: dict[int, int] = {}
        self.values: dict[int, dict[int, int]] = {}
        self.members: dict[int, list[int]] = {}
        self.forbidden: dict[int, set[int]] = {}
        if not graph.forbidden:
            return
        index = {int(v): i for i, v in enumerate(graph.ids.tolist())}
        for x, y in graph.forbidden:
            if x in index and y in index:
                self.forbidden.setdefault(index[x], set()).add(index[y])
                self.forbidden.setdefault(index[y], set()).add(index[x])

    def find(self, node: int) -> int:
        root = node
        while (up := self.parent.get(root, root)) != root:
            root = up
        while node != root:
            self.parent[node], node = root, self.parent.get(node, node)
        return root

    def _values(self, root: int) -> dict[int, int]:
        if root not in self.values:
            code = int(self.graph.limit[root])
            self.values[root] = {code: root} if code >= 0 else {}
            self.members[root] = [root]
        return self.values[root]

    def link(self, seq: int, a: int, b: int) -> Conflict | None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        values_a, values_b = self._values(ra), self._values(rb)
        ids = self.graph.ids
        for code, node in values_b.items():
            existing = values_a.get(code)
            if existing is not None:
                return Conflict(seq, int(ids[a]), int(ids[b]), self.graph.limit_names[code],
                                int(ids[existing]), int(ids[node]))
        clash = self._forbidden_between(ra, rb)
        if clash is not None:
            return Conflict(seq, int(ids[a]), int(ids[b]), "forbidden", int(ids[clash[0]]),
                            int(ids[clash[1]]))
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.values[ra].update(self.values.pop(rb))
        self.members[ra] += self.members.pop(rb)
        return None

    def _forbidden_between(self, ra: int, rb: int) -> tuple[int, int] | None:
        if not self.forbidden:
            return None
        small, large = sorted((ra, rb), key=lambda r: len(self.members[r]))
        for node in self.members[small]:
            for partner in self.forbidden.get(node, ()):
                if self.find(partner) == large:
                    return (node, partner) if small == ra else (partner, node)
        return None
