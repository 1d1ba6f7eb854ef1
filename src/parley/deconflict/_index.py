"""The spatio-temporal index: an STRtree base and a small delta, searched in numpy batches."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely import STRtree, lib
from shapely.geometry.base import BaseGeometry

from ._geo import (
    geodesic_area_km2,
    geodesic_distances_km,
    needs_normalizing,
    normalize,
    normalize_unchecked,
    plain_bounds,
)
from ._items import (
    KINDS,
    NO_END,
    NO_START,
    Item,
    Match,
    Overlap,
    check_window,
    severity,
)
from ._shapes import GeomArray, IntArray, margin_boxes, parts, seam_copies, welded

__all__ = ["SpaceTimeIndex"]

_POINT: Final = 0
_FIRST_MULTI: Final = 4  # type ids 4-7: MultiPoint, MultiLineString, MultiPolygon, Collection
_PREPARE_FROM: Final = 2  # prepare a query shape (in place) from this many candidates on
_DELTA_LOOP_UP_TO: Final = 8  # probes checked against the delta's bounds one by one
_BATCH: Final = 256  # overlaps_for_many: notices per vectorised pass

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
ItemArray = npt.NDArray[np.object_]  # of Item (None once removed)

_NO_INTS: Final[IntArray] = np.empty(0, dtype=np.int64)


_KIND_CODE: Final = {kind: i for i, kind in enumerate(KINDS)}
# Severity of each pair of kinds meeting with area (not touching, not only near).
_SEVERITY: Final = tuple(tuple(severity(a, b, touching=False) for b in KINDS) for a in KINDS)


@dataclass(frozen=True, slots=True)
class _Hits:
    """Met (query, slot) pairs, one per row."""

    query: IntArray
    slot: IntArray
    area_km2: FloatArray
    distance_km: FloatArray
    start: IntArray
    end: IntArray
    touching: BoolArray

    @classmethod
    def none(cls) -> _Hits:
        ints = np.empty(0, dtype=np.int64)
        floats = np.empty(0, dtype=np.float64)
        return cls(ints, ints, floats, floats, ints, ints, np.empty(0, dtype=np.bool_))


def _grown(array: npt.NDArray[np.generic], need: int) -> npt.NDArray[np.generic]:
    if need <= len(array):
        return array
    bigger = np.empty((max(need, 2 * len(array), 16), *array.shape[1:]), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class SpaceTimeIndex:
    """Items in space (WGS84) and time, found by shape and window; pure, in memory.

    A base STRtree holds most items (built vectorised by ``bulk_load`` or ``rebuild``); items
    added one by one go to a small delta searched by bounding boxes, and the base is rebuilt
    (O(n log n), with removed items compacted away) when the delta exceeds
    ``rebuild_threshold`` or removed items outnumber both the threshold and the live items.
    Geometry conventions (antimeridian, poles): ``parley.deconflict._geo``. Not thread-safe.
    """

    def __init__(self, *, rebuild_threshold: int = 5000) -> None:
        if rebuild_threshold < 1:
            raise ValueError("rebuild_threshold must be at least 1")
        self._threshold = rebuild_threshold
        # Per slot (an item's position; slots are compacted by a rebuild):
        # Items in a numpy object array, not a list: the cyclic GC does not walk it.
        self._items: ItemArray = np.empty(0, dtype=object)
        self._keys: ItemArray = np.empty(0, dtype=object)  # of str: no attribute to read
        self._geoms: GeomArray = np.empty(0, dtype=object)  # normalised geometry
        self._start: IntArray = np.empty(0, dtype=np.int64)
        self._end: IntArray = np.empty(0, dtype=np.int64)
        self._party: IntArray = np.empty(0, dtype=np.int64)
        self._kind: IntArray = np.empty(0, dtype=np.int64)  # index in KINDS
        self._point: BoolArray = np.empty(0, dtype=np.bool_)  # a Point (not Multi)
        self._areal: BoolArray = np.empty(0, dtype=np.bool_)  # of dimension 2
        # Coordinates of a Point, else NaN; two arrays: cheaper to index than one of pairs.
        self._x: FloatArray = np.empty(0, dtype=np.float64)
        self._y: FloatArray = np.empty(0, dtype=np.float64)
        self._alive: BoolArray = np.empty(0, dtype=np.bool_)
        self._size = 0
        self._slots: dict[str, int] = {}
        self._parties: dict[str, int] = {}
        self._dead = 0
        # The base tree over the parts of the geometries, and the slot of each part:
        self._tree: STRtree | None = None
        self._tree_slot: IntArray = np.empty(0, dtype=np.int64)
        self._tree_parts_unique = True
        self._multi: BoolArray = np.empty(0, dtype=np.bool_)
        # The delta: slots added since the last rebuild and their bounds.
        self._delta_slot: IntArray = np.empty(0, dtype=np.int64)
        self._delta_bounds: FloatArray = np.empty((0, 4), dtype=np.float64)
        self._delta_size = 0

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def get(self, key: str) -> Item | None:
        slot = self._slots.get(key)
        if slot is None:
            return None
        item: Item = self._items[slot]
        return item

    @property
    def delta_size(self) -> int:
        """Items added since the last rebuild (removed ones included until then)."""
        return self._delta_size

    # -- changes -------------------------------------------------------------------------------

    def add(self, item: Item) -> None:
        """Index ``item``; ValueError if its key is already indexed."""
        if item.key in self._slots:
            raise ValueError(f"key {item.key!r} is already indexed")
        geometry = normalize(item.geometry)
        slot = self._append([item], np.array([geometry], dtype=object))
        n = self._delta_size
        self._delta_slot = _grown(self._delta_slot, n + 1)  # type: ignore[assignment]
        self._delta_bounds = _grown(self._delta_bounds, n + 1)  # type: ignore[assignment]
        self._delta_slot[n] = slot
        self._delta_bounds[n] = shapely.bounds(geometry)
        self._delta_size = n + 1
        if self._delta_size > self._threshold:
            self.rebuild()

    def remove(self, key: str) -> None:
        """Forget ``key`` (a tombstone until the next rebuild); KeyError if not indexed."""
        slot = self._slots.pop(key)
        self._alive[slot] = False
        # An empty window: the time filter of every search drops the tombstone.
        self._start[slot], self._end[slot] = NO_END, NO_START
        self._items[slot] = None
        self._dead += 1
        if self._dead > max(self._threshold, len(self._slots)):
            self.rebuild()

    def bulk_load(self, items: Iterable[Item]) -> None:
        """Index many items at once, then rebuild the base tree; vectorised.

        All or nothing: ValueError (duplicate key, bad geometry) leaves the index as it was.
        """
        batch = list(items)
        n = len(batch)
        if n == 0:
            return
        keys = {item.key: self._size + i for i, item in enumerate(batch)}
        if len(keys) != n or not self._slots.keys().isdisjoint(keys):
            raise ValueError("bulk_load: a key is repeated or already indexed")
        geoms: GeomArray = np.fromiter((item.geometry for item in batch), dtype=object, count=n)
        fix = needs_normalizing(shapely.bounds(geoms), shapely.get_type_id(geoms))
        for i in np.flatnonzero(fix):
            geoms[i] = normalize_unchecked(geoms[i])
        self._append(batch, geoms, keys)
        self.rebuild()

    def _append(
        self, batch: list[Item], geoms: GeomArray, keys: dict[str, int] | None = None
    ) -> int:
        """Store ``batch`` in new slots (not in any tree yet); the first new slot."""
        n, first = len(batch), self._size
        codes = self._parties
        starts = np.fromiter(
            (NO_START if item.start_ms is None else item.start_ms for item in batch),
            dtype=np.int64,
            count=n,
        )
        ends = np.fromiter(
            (NO_END if item.end_ms is None else item.end_ms for item in batch),
            dtype=np.int64,
            count=n,
        )
        parties = np.fromiter(
            (codes.setdefault(item.party, len(codes)) for item in batch), dtype=np.int64, count=n
        )
        kinds = np.fromiter((_KIND_CODE[item.kind] for item in batch), dtype=np.int64, count=n)
        need = first + n
        self._geoms = _grown(self._geoms, need)  # type: ignore[assignment]
        self._start = _grown(self._start, need)  # type: ignore[assignment]
        self._end = _grown(self._end, need)  # type: ignore[assignment]
        self._party = _grown(self._party, need)  # type: ignore[assignment]
        self._kind = _grown(self._kind, need)  # type: ignore[assignment]
        self._point = _grown(self._point, need)  # type: ignore[assignment]
        self._areal = _grown(self._areal, need)  # type: ignore[assignment]
        self._x = _grown(self._x, need)  # type: ignore[assignment]
        self._y = _grown(self._y, need)  # type: ignore[assignment]
        self._alive = _grown(self._alive, need)  # type: ignore[assignment]
        self._geoms[first:need] = geoms
        self._start[first:need] = starts
        self._end[first:need] = ends
        self._party[first:need] = parties
        self._kind[first:need] = kinds
        point = shapely.get_type_id(geoms) == _POINT
        self._point[first:need] = point
        xy = np.full((n, 2), np.nan)
        xy[point] = shapely.get_coordinates(geoms[point])
        self._x[first:need], self._y[first:need] = xy[:, 0], xy[:, 1]
        self._areal[first:need] = shapely.get_dimensions(geoms) == 2
        self._alive[first:need] = True
        self._items = _grown(self._items, need)  # type: ignore[assignment]
        self._items[first:need] = batch
        self._keys = _grown(self._keys, need)  # type: ignore[assignment]
        self._keys[first:need] = [item.key for item in batch]
        if keys is None:
            keys = {item.key: first + i for i, item in enumerate(batch)}
        self._slots.update(keys)
        self._size = need
        return first

    def rebuild(self) -> None:
        """Compact removed items away and rebuild the base tree over every item; O(n log n)."""
        if self._dead:
            live = np.flatnonzero(self._alive[: self._size])
            self._items = self._items[live]
            self._keys = self._keys[live]
            self._geoms = self._geoms[live]
            self._start = self._start[live]
            self._end = self._end[live]
            self._party = self._party[live]
            self._kind = self._kind[live]
            self._point = self._point[live]
            self._areal = self._areal[live]
            self._x = self._x[live]
            self._y = self._y[live]
            self._alive = np.ones(len(live), dtype=np.bool_)
            self._slots = {item.key: i for i, item in enumerate(self._items.tolist())}
            self._size = len(live)
            self._dead = 0
        geoms = self._geoms[: self._size]
        multi = shapely.get_type_id(geoms) >= _FIRST_MULTI
        if multi.any():
            single = np.flatnonzero(~multi)
            parts, owner = shapely.get_parts(geoms[multi], return_index=True)
            tree_geoms = np.concatenate([geoms[single], parts])
            self._tree_slot = np.concatenate([single, np.flatnonzero(multi)[owner]])
        else:
            tree_geoms = geoms.copy()  # the tree must own its array: slots are reused
            self._tree_slot = np.arange(self._size, dtype=np.int64)
        self._tree = STRtree(tree_geoms) if self._size else None
        self._tree_parts_unique = not multi.any()  # one tree entry per slot
        self._multi = multi  # by slot: in the tree as several parts
        self._delta_size = 0

    # -- questions -----------------------------------------------------------------------------

    def query(
        self,
        geometry: BaseGeometry,
        start_ms: int | None = None,
        end_ms: int | None = None,
        *,
        exclude_party: str | None = None,
        margin_km: float = 0.0,
    ) -> list[tuple[Item, Match]]:
        """Items meeting ``geometry`` in space and ``[start_ms, end_ms)`` in time, by key.

        Meeting in space: intersecting (touching included), or with ``margin_km`` > 0 also
        within that geodesic distance. Items of ``exclude_party`` are left out. ValueError for
        an empty window or a bad geometry. The geometry may be prepared (``shapely.prepare``)
        in place, which changes nothing but speed.
        """
        check_window(start_ms, end_ms)
        hits = self._search_any([geometry], [(start_ms, end_ms, exclude_party)], margin_km)
        found: list[tuple[Item, Match]] = []
        for i, slot in enumerate(hits.slot.tolist()):
            item = self._items[slot]
            assert item is not None  # a live slot
            found.append((item, _match(hits, i)))
        found.sort(key=lambda pair: pair[0].key)
        return found

    def overlaps_for(self, item: Item, *, margin_km: float = 0.0) -> list[Overlap]:
        """What ``item`` (indexed or not) conflicts with: other parties' items it meets.

        Items of the same party never conflict. Ordered by the other item's key.
        """
        return self.overlaps_for_many([item], margin_km=margin_km)[0]

    def overlaps_for_many(
        self, items: Sequence[Item], *, margin_km: float = 0.0
    ) -> list[list[Overlap]]:
        """``overlaps_for`` of each of ``items``, in one vectorised pass over the index.

        The items are checked against the index only, not against each other. Done in
        chunks of ``_BATCH`` items, which bounds the intermediate arrays.
        """
        if len(items) > _BATCH:
            return [
                overlaps
                for i in range(0, len(items), _BATCH)
                for overlaps in self._overlaps_for_many(items[i : i + _BATCH], margin_km)
            ]
        return self._overlaps_for_many(items, margin_km)

    def _overlaps_for_many(self, items: Sequence[Item], margin_km: float) -> list[list[Overlap]]:
        windows = [(item.start_ms, item.end_ms, item.party) for item in items]
        hits = self._search_any([item.geometry for item in items], windows, margin_km)
        if not len(hits.slot):
            return [[] for _ in items]
        # Python objects for the hits only: each notice's rows ordered by the other key.
        others: list[str] = self._keys[hits.slot].tolist()
        if len(items) == 1:
            groups = [sorted(range(len(others)), key=others.__getitem__)]
        else:
            groups, at = [], 0
            by_query = np.argsort(hits.query, kind="stable").tolist()
            for count in np.bincount(hits.query, minlength=len(items)).tolist():
                groups.append(sorted(by_query[at : at + count], key=others.__getitem__))
                at += count
        kinds, touching = self._kind[hits.slot].tolist(), hits.touching.tolist()
        areas, distances = hits.area_km2.tolist(), hits.distance_km.tolist()
        starts, ends = hits.start.tolist(), hits.end.tolist()
        return [
            [
                Overlap(
                    key if key < other else other,
                    other if key < other else key,
                    areas[i],
                    distances[i],
                    None if starts[i] == NO_START else starts[i],
                    None if ends[i] == NO_END else ends[i],
                    "low" if touching[i] or distances[i] > 0 else severities[kinds[i]],
                )
                for i in rows
                for other in (others[i],)
                if other != key
            ]
            for item, rows in zip(items, groups, strict=True)
            for key, severities in ((item.key, _SEVERITY[_KIND_CODE[item.kind]]),)
        ]

    def _search_any(
        self,
        geometries: Sequence[BaseGeometry],
        windows: Sequence[tuple[int | None, int | None, str | None]],
        margin_km: float,
    ) -> _Hits:
        """``_search`` of the geometries as given: a plain one alone (``plain_bounds``) by
        ``_search_plain``, fewer and cheaper steps; any other normalised first."""
        if len(geometries) == 1 and margin_km == 0 and self._size:
            bounds = plain_bounds(geometries[0])
            if bounds is not None:
                return self._search_plain(geometries[0], bounds, *windows[0])
        return self._search([normalize(g) for g in geometries], windows, margin_km)

    def _search_plain(
        self,
        shape: BaseGeometry,
        bounds: tuple[float, float, float, float],
        start_ms: int | None,
        end_ms: int | None,
        party: str | None,
    ) -> _Hits:
        """``_search`` of one plain shape (``plain_bounds``): no seam, one part, no margin."""
        # numpy scalars: comparing an array with a Python int costs several times more.
        start = np.int64(NO_START if start_ms is None else start_ms)
        end = np.int64(NO_END if end_ms is None else end_ms)
        code = np.int64(-1 if party is None else self._parties.get(party, -1))
        slot = self._candidates_of(shape, bounds)
        # Windows and parties first: most candidates end there, before any geometry.
        slot = slot[
            (self._start[slot] < end) & (self._end[slot] > start) & (self._party[slot] != code)
        ]
        if not len(slot):
            return _Hits.none()
        shapely.prepare(shape)  # for the predicates below
        # np.count_nonzero: a fraction of the cost of .any() and .all() on a few values.
        if np.count_nonzero(self._point[slot]) == len(slot):  # the common case: sites
            met, inner, area = self._points_in(shape, slot)
        else:
            met, inner, area = self._shapes_in(shape, slot)
        if np.count_nonzero(met) < len(met):
            slot, inner, area = slot[met], inner[met], area[met]
            if not len(slot):
                return _Hits.none()
        n = len(slot)
        return _Hits(
            query=np.zeros(n, dtype=np.int64),
            slot=slot,
            area_km2=area,
            distance_km=np.zeros(n, dtype=np.float64),
            start=np.maximum(self._start[slot], start),
            end=np.minimum(self._end[slot], end),
            touching=~inner,
        )

    def _points_in(
        self, shape: BaseGeometry, slot: IntArray
    ) -> tuple[BoolArray, BoolArray, FloatArray]:
        """Which of these points meet ``shape``, which its interior, and the areas (none).

        By their coordinates, without their geometries: the same GEOS predicates, "contains"
        being "contains properly" for a point.
        """
        x, y = self._x[slot], self._y[slot]
        # The ufuncs themselves (``shape`` is prepared): their public wrappers cost more than
        # testing the ten or so points of a notice.
        met: BoolArray = lib.intersects_xy(shape, x, y)
        inner: BoolArray = lib.contains_xy(shape, x, y)
        return met, inner, np.zeros(len(slot), dtype=np.float64)

    def _shapes_in(
        self, shape: BaseGeometry, slot: IntArray
    ) -> tuple[BoolArray, BoolArray, FloatArray]:
        """``_points_in`` for any geometries (the points among them still by coordinates):
        the geodesic area where both are areas."""
        point = self._point[slot]
        met, inner, area = self._points_in(shape, slot)  # the others' rows are set below
        other = np.flatnonzero(~point)
        geoms = self._geoms[slot[other]]
        hit: BoolArray = shapely.intersects(shape, geoms)
        met[other], inner[other] = hit, False
        if np.count_nonzero(hit):
            inner[other[hit]] = ~shapely.touches(shape, geoms[hit])
            if shapely.get_dimensions(shape) == 2:
                area[other] = _areas_km2(shape, geoms, inner[other] & self._areal[slot[other]])
        return met, inner, area

    def _search(
        self,
        shapes: list[BaseGeometry],
        windows: Sequence[tuple[int | None, int | None, str | None]],
        margin_km: float,
    ) -> _Hits:
        """The (query, slot) pairs that meet: ``shapes`` normalised, windows checked."""
        if not (math.isfinite(margin_km) and margin_km >= 0):
            raise ValueError("margin_km must be a finite number ≥ 0")
        n = len(shapes)
        if n == 0 or self._size == 0:
            return _Hits.none()
        primary: GeomArray = np.empty(n, dtype=object)
        primary[:] = shapes
        q_start = np.fromiter(
            (NO_START if w[0] is None else w[0] for w in windows), dtype=np.int64, count=n
        )
        q_end = np.fromiter(
            (NO_END if w[1] is None else w[1] for w in windows), dtype=np.int64, count=n
        )
        codes = self._parties
        q_party = np.fromiter(
            (-1 if w[2] is None else codes.get(w[2], -1) for w in windows), dtype=np.int64, count=n
        )
        copies, copy_owner = seam_copies(primary)
        if margin_km > 0:
            probes, probe_owner = margin_boxes(primary, margin_km)
        else:
            probes, probe_owner = parts(
                np.concatenate([primary, copies]),
                np.concatenate([np.arange(n, dtype=np.int64), copy_owner]),
            )
        q, slot = self._candidates(probes, probe_owner)
        keep = (
            (self._start[slot] < q_end[q])
            & (self._end[slot] > q_start[q])
            & (self._party[slot] != q_party[q])
        )
        q, slot = q[keep], slot[keep]
        geoms = self._geoms[slot]
        # One notice: its shape broadcasts; several: one row per pair.
        mine: BaseGeometry | GeomArray
        if n == 1:
            mine = shapes[0]
            if len(slot) >= _PREPARE_FROM:
                shapely.prepare(mine)
        else:
            busy = np.bincount(q, minlength=n) >= _PREPARE_FROM
            if busy.any():
                shapely.prepare(primary[busy])
            mine = primary[q]
        met = shapely.intersects(mine, geoms)
        inner = np.zeros(len(q), dtype=np.bool_)
        if met.any():
            inner[met] = ~shapely.touches(_rows(mine, met), geoms[met])
        for copy, owner in zip(copies.tolist(), copy_owner.tolist(), strict=True):
            rows = np.flatnonzero(q == owner)
            hit = shapely.intersects(copy, geoms[rows])
            met[rows] |= hit
            inner[rows[hit]] |= ~shapely.touches(copy, geoms[rows[hit]])
        if len(copies):
            # A shape cut at 180° has edges there that are no boundary: contact across them
            # is not touching. Decide on copies welded across the seam.
            seam = set(copy_owner.tolist())
            for row in np.flatnonzero(met & ~inner).tolist():
                if int(q[row]) in seam:
                    a, b = welded(primary[q[row]]), welded(geoms[row])
                    inner[row] = not shapely.touches(a, b)
        distance = np.zeros(len(q), dtype=np.float64)
        if margin_km > 0:
            far = np.flatnonzero(~met)
            distance[far] = geodesic_distances_km(_rows(mine, far), geoms[far])
            keep = met | (distance <= margin_km)
        elif met.all():
            keep = None
        elif met.any():
            keep = met
        else:
            return _Hits.none()
        if keep is not None:
            q, slot, mine, geoms = q[keep], slot[keep], _rows(mine, keep), geoms[keep]
            met, inner, distance = met[keep], inner[keep], distance[keep]

        return _Hits(
            query=q,
            slot=slot,
            area_km2=_areas_km2(
                mine, geoms, inner & (shapely.get_dimensions(mine) == 2) & self._areal[slot]
            ),
            distance_km=distance,
            start=np.maximum(self._start[slot], q_start[q]),
            end=np.minimum(self._end[slot], q_end[q]),
            touching=met & ~inner,
        )

    def _candidates_of(
        self, probe: BaseGeometry, bounds: tuple[float, float, float, float]
    ) -> IntArray:
        """``_candidates`` for one probe of these bounds: the slots, each once."""
        found: IntArray = _NO_INTS
        if self._tree is not None:
            one: GeomArray = np.empty(1, dtype=object)
            one[0] = probe  # an array: cheaper in STRtree.query than a scalar
            found = self._tree_slot[self._tree.query(one)[1]]
        n = self._delta_size
        if n:
            x0, y0, x1, y1 = bounds
            delta = self._delta_bounds[:n]
            near = (
                (delta[:, 0] <= x1)
                & (delta[:, 2] >= x0)
                & (delta[:, 1] <= y1)
                & (delta[:, 3] >= y0)
            )
            found = np.concatenate([found, self._delta_slot[:n][near]])
        elif self._tree_parts_unique or not np.count_nonzero(self._multi[found]):
            return found  # no slot more than once
        unique: IntArray = np.unique(found)
        return unique

    def _candidates(self, probes: GeomArray, owner: IntArray) -> tuple[IntArray, IntArray]:
        """(query, slot) pairs, each once, whose bounding boxes meet (tombstones included)."""
        queries: list[IntArray] = []
        slots: list[IntArray] = []
        if self._tree is not None:
            found = self._tree.query(probes)
            queries.append(owner[found[0]])
            slots.append(self._tree_slot[found[1]])
        n = self._delta_size
        if n:
            delta = self._delta_slot[:n]
            if len(probes) > _DELTA_LOOP_UP_TO:  # many probes: a throw-away tree of the delta
                found = STRtree(self._geoms[delta]).query(probes)
                queries.append(owner[found[0]])
                slots.append(delta[found[1]])
            else:
                bounds = self._delta_bounds[:n]
                for probe, who in zip(probes.tolist(), owner.tolist(), strict=True):
                    x0, y0, x1, y1 = probe.bounds
                    near = delta[
                        (bounds[:, 0] <= x1)
                        & (bounds[:, 2] >= x0)
                        & (bounds[:, 1] <= y1)
                        & (bounds[:, 3] >= y0)
                    ]
                    queries.append(np.full(len(near), who, dtype=np.int64))
                    slots.append(near)
        pair = np.concatenate(queries) * self._size + np.concatenate(slots)
        pair.sort()  # then drop repeats: faster than np.unique's hashing on millions
        if len(pair) > 1:
            pair = pair[np.concatenate(([True], pair[1:] != pair[:-1]))]
        return pair // self._size, pair % self._size


def _match(hits: _Hits, i: int) -> Match:
    start, end = int(hits.start[i]), int(hits.end[i])
    return Match(
        area_km2=float(hits.area_km2[i]),
        distance_km=float(hits.distance_km[i]),
        start_ms=None if start == NO_START else start,
        end_ms=None if end == NO_END else end,
        touching=bool(hits.touching[i]),
    )


def _areas_km2(
    mine: BaseGeometry | GeomArray, geoms: GeomArray, areal: BoolArray | None
) -> FloatArray:
    """The geodesic area of each row's intersection, where ``areal``: both are areas meeting
    inside; 0 elsewhere."""
    area = np.zeros(len(geoms), dtype=np.float64)
    both = _NO_INTS if areal is None else np.flatnonzero(areal)
    if len(both):
        pieces = shapely.intersection(_rows(mine, both), geoms[both])
        area[both] = [geodesic_area_km2(piece) for piece in pieces]
    return area


def _rows(
    shapes: BaseGeometry | GeomArray, which: BoolArray | IntArray
) -> BaseGeometry | GeomArray:
    """``shapes[which]``, or the one shape that stands for every row."""
    return shapes[which] if isinstance(shapes, np.ndarray) else shapes
