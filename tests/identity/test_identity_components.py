"""Profiles from links: the two-step algorithm against networkx and a one-link-at-a-time
reference, on seeded random graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from clientela.identity.components import NO_LIMIT, Graph, resolve


def _graph(ids: list[int], links: list[tuple[int, int]], limits: dict[int, int] | None = None,
           forbidden: list[tuple[int, int]] | None = None, names: int = 0) -> Graph:
    limit = np.array([(limits or {}).get(i, NO_LIMIT) for i in ids], dtype=np.int32)
    return Graph(ids=np.array(ids, dtype=np.int64), limit=limit,
                 limit_names=[f"key{k}" for k in range(names)],
                 seq=np.arange(1, len(links) + 1, dtype=np.int64),
                 a=np.array([a for a, _ in links], dtype=np.int64),
                 b=np.array([b for _, b in links], dtype=np.int64),
                 forbidden=forbidden or [])


def _partition(ids: list[int], labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, label in zip(ids, labels.tolist(), strict=True):
        groups.setdefault(label, set()).add(node)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("seed", range(8))
def test_without_limits_profiles_are_networkx_components(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    ids = sorted(rng.choice(10 * n, size=n, replace=False).tolist())
    m = int(rng.integers(0, 2 * n))
    links = [(ids[int(a)], ids[int(b)]) for a, b in rng.integers(0, n, size=(m, 2))]
    resolution = resolve(_graph(ids, links))

    reference = nx.Graph()
    reference.add_nodes_from(ids)
    reference.add_edges_from(links)
    expected = {frozenset(c) for c in nx.connected_components(reference)}
    assert _partition(ids, resolution.profile) == expected
    assert _partition(ids, resolution.component) == expected
    # Labels are the smallest id of each profile.
    for node, label in zip(ids, resolution.profile.tolist(), strict=True):
        assert label == min(next(c for c in expected if node in c))
    assert resolution.conflicts == []


def _one_at_a_time(ids: list[int], links: list[tuple[int, int]], limits: dict[int, int],
                   forbidden: list[tuple[int, int]]) -> set[frozenset[int]]:
    """The rule as written: apply links in order, refuse a merge that breaks a limit."""
    group = {i: frozenset([i]) for i in ids}
    for a, b in links:
        if group[a] == group[b]:
            continue
        merged = group[a] | group[b]
        keys = [limits[i] for i in merged if i in limits]
        clash = len(keys) != len(set(keys)) or any(
            x in merged and y in merged for x, y in forbidden)
        if not clash:
            for node in merged:
                group[node] = merged
    return set(group.values())


@pytest.mark.parametrize("seed", range(12))
def test_with_limits_profiles_equal_the_link_by_link_rule(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(10, 120))
    ids = list(range(1, n + 1))
    limits = {i: int(rng.integers(0, 3)) for i in ids if rng.random() < 0.4}
    links = [(int(a), int(b)) for a, b in rng.integers(1, n + 1, size=(int(1.3 * n), 2))]
    forbidden = [(int(a), int(b)) for a, b in rng.integers(1, n + 1, size=(2, 2)) if a != b]
    resolution = resolve(_graph(ids, links, limits, forbidden, names=3))
    assert _partition(ids, resolution.profile) == _one_at_a_time(ids, links, limits, forbidden)
    for profile in _partition(ids, resolution.profile):
        keys = [limits[i] for i in profile if i in limits]
        assert len(keys) == len(set(keys))


def test_a_conflict_names_both_sides_and_detaches_the_later_identifier() -> None:
    # user 1 (key 0) - email 10 - user 2 (key 0): the second link would join two user ids.
    resolution = resolve(_graph([1, 2, 10], [(1, 10), (2, 10)], {1: 0, 2: 0}, names=1))
    assert _partition([1, 2, 10], resolution.profile) == {frozenset({1, 10}), frozenset({2})}
    [conflict] = resolution.conflicts
    assert (conflict.seq, conflict.kept, conflict.detached) == (2, 2, 10)
    assert (conflict.limit_key, conflict.existing, conflict.incoming) == ("key0", 2, 1)
    assert resolution.replayed == 1


def test_a_forbidden_pair_never_joins_whatever_the_path() -> None:
    resolution = resolve(_graph([1, 2, 3, 4], [(1, 3), (3, 4), (4, 2)], forbidden=[(1, 2)]))
    assert _partition([1, 2, 3, 4], resolution.profile) == {frozenset({1, 3, 4}),
                                                            frozenset({2})}
    assert resolution.conflicts[0].limit_key == "forbidden"


def test_empty_graph() -> None:
    resolution = resolve(_graph([], []))
    assert len(resolution.profile) == 0
