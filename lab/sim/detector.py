"""A detector simulated from a scene's true boxes, with seeded, configurable faults.

`detect(frame)` looks the truth up by `frame.index`, so the pixels do not matter and a
replay (or a re-opened source) gives the very same detections. Each frame draws from
its own generator seeded by (seed, index); the per-person gaps are drawn once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.detections import Detections
from edge.frames import Frame
from lab.sim.scene import Faults, Scene

LOW_SCORE = (0.2, 0.5)
"""Score band of partly occluded people and of most random false positives."""

_STATIC_HEIGHT = 0.2
_STATIC_ASPECT = 0.4


class SimulatedDetector:
    """`edge.detections.Detector` for a `Scene`: truth plus misses, gaps, noise and ghosts."""

    def __init__(self, scene: Scene, faults: Faults | None = None, seed: int | None = None) -> None:
        self.scene = scene
        self.faults = scene.faults if faults is None else faults
        self.seed = scene.seed if seed is None else seed
        rng = np.random.default_rng([self.seed, 0])
        self.hidden = self._gaps(rng)
        self.static_boxes = self._static(rng)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.scene.size

    def _gaps(self, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
        """Per sample row: True where the person is undetected (occlusion or line gap)."""
        samples = self.scene.samples
        n_people = len(self.scene.people)
        first = np.full(n_people, np.iinfo(np.int64).max, np.int64)
        last = np.full(n_people, -1, np.int64)
        np.minimum.at(first, samples.person, samples.frame)
        np.maximum.at(last, samples.person, samples.frame)
        spans = np.where(last >= first, last - first + 1, 0)
        base = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
        flat = np.zeros(int(spans.sum()), bool)

        def hide(person: int, start: int, length: int) -> None:
            lo = max(start, int(first[person]))
            hi = min(start + length, int(last[person]) + 1)
            if hi > lo:
                offset = int(base[person] - first[person])
                flat[offset + lo : offset + hi] = True

        faults = self.faults
        p_start = min(1.0, faults.occlusion_rate / self.scene.fps)
        if p_start > 0:
            for person in np.flatnonzero(spans):
                starts = np.flatnonzero(rng.random(int(spans[person])) < p_start)
                lengths = rng.integers(
                    faults.occlusion_frames[0], faults.occlusion_frames[1] + 1, len(starts)
                )
                for start, length in zip(starts, lengths, strict=True):
                    hide(int(person), int(first[person] + start), int(length))
        if faults.line_gap_rate > 0:
            k = faults.line_gap_frames
            for crossing in self.scene.crossings:
                if rng.random() < faults.line_gap_rate:
                    hide(crossing.person, crossing.frame - k // 2, k)
        if len(samples.frame) == 0:
            return np.zeros(0, bool)
        hidden: npt.NDArray[np.bool_] = flat[
            base[samples.person] - first[samples.person] + samples.frame
        ]
        return hidden

    def _static(self, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        """Fixed spurious boxes with their feet close to a line: (K, 5) xyxy and score."""
        lines = self.scene.lines
        count = self.faults.static_false_positives if lines else 0
        boxes = np.zeros((count, 5))
        for k in range(count):
            line = lines[k % len(lines)]
            a, b = np.asarray(line.points[0]), np.asarray(line.points[1])
            d = b - a
            normal = np.array([-d[1], d[0]]) / float(np.hypot(d[0], d[1]))
            feet = a + d * rng.uniform(0.1, 0.9) + normal * rng.uniform(-0.03, 0.03)
            h = _STATIC_HEIGHT
            w = h * _STATIC_ASPECT
            boxes[k] = [feet[0] - w / 2, feet[1] - h, feet[0] + w / 2, feet[1], 0.0]
            boxes[k, 4] = rng.uniform(0.45, 0.7)
        return boxes

    def detect(self, frame: Frame) -> Detections:
        """Detections of the scene's frame `frame.index` (empty outside the scene)."""
        index = frame.index
        if not 0 <= index < self.scene.frames:
            return Detections.empty()
        faults = self.faults
        rng = np.random.default_rng([self.seed, 1, index])
        rows = self.scene.rows(index)
        samples = self.scene.samples
        keep = samples.visible[rows] & ~self.hidden[rows]
        true = np.clip(samples.xyxy[rows][keep], 0.0, 1.0)
        n = len(true)
        keep = rng.random(n) >= faults.miss_rate
        true = true[keep]
        n = len(true)
        partial = rng.random(n) < faults.partial_rate
        score = np.where(
            partial,
            rng.uniform(LOW_SCORE[0], LOW_SCORE[1], n),
            rng.uniform(faults.score[0], faults.score[1], n),
        )
        if faults.jitter > 0 and n:
            wh = np.stack([true[:, 2] - true[:, 0], true[:, 3] - true[:, 1]], axis=1)
            true = true + rng.normal(0.0, faults.jitter, (n, 4)) * np.tile(wh, 2)

        extra = int(rng.poisson(faults.false_positive_rate)) if faults.false_positive_rate else 0
        fx = rng.uniform(0.05, 0.95, extra)
        fy = rng.uniform(0.3, 1.0, extra)
        fh = rng.uniform(0.1, 0.3, extra)
        fw = fh * _STATIC_ASPECT
        ghosts = np.stack([fx - fw / 2, fy - fh, fx + fw / 2, fy], axis=1)
        ghost_score = np.where(
            rng.random(extra) < 0.8,
            rng.uniform(LOW_SCORE[0], LOW_SCORE[1], extra),
            rng.uniform(0.5, 0.7, extra),
        )

        shown = self.static_boxes[rng.random(len(self.static_boxes)) < faults.static_on_rate]
        wobble = rng.normal(0.0, 0.01, shown[:, :4].shape)
        xyxy = np.concatenate([true, ghosts, shown[:, :4] + wobble])
        scores = np.concatenate([score, ghost_score, shown[:, 4]])
        xyxy = np.clip(xyxy, 0.0, 1.0)
        xyxy[:, 2] = np.maximum(xyxy[:, 2], xyxy[:, 0] + 1e-3)
        xyxy[:, 3] = np.maximum(xyxy[:, 3], xyxy[:, 1] + 1e-3)
        order = np.argsort(-scores, kind="stable")
        return Detections.from_arrays(xyxy[order], scores[order])
