"""Choosing pairs of tracks and boxes: greedily, best first, each at most once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Index = npt.NDArray[np.intp]


def greedy_pairs(rows: Index, cols: Index, score: npt.NDArray[np.float64]) -> tuple[Index, Index]:
    """Of candidate pairs (rows[k], cols[k]) with `score[k]`, those chosen greedily by
    descending score, each row and column at most once."""
    if rows.size == 0:
        empty = np.zeros((0,), np.intp)
        return empty, empty
    order = np.argsort(-score, kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    out_r: list[int] = []
    out_c: list[int] = []
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        out_r.append(r)
        out_c.append(c)
    return np.asarray(out_r, np.intp), np.asarray(out_c, np.intp)


def contested(rows: Index, cols: Index) -> bool:
    """Whether some row or column appears in more than one pair (rows ascending)."""
    if rows.size <= 1:
        return False
    return bool((rows[1:] == rows[:-1]).any()) or int(np.bincount(cols).max()) > 1


def without(index: Index, taken: Index) -> Index:
    """`index` less the entries at positions `taken`."""
    if taken.size == 0:
        return index
    left = np.ones(index.size, bool)
    left[taken] = False
    return index[left]
