"""Helpers for the explorer tests: build an explorer with its real controls and look at what it draws."""

from __future__ import annotations

import numpy as np


def explorer_draw(monkeypatch, module, make, *args):
    """Build an explorer with the real controls; return its drawing function and its controls."""
    seen = {}

    def fake(draw, **controls):
        seen["draw"], seen["controls"] = draw, controls
        return "box"

    monkeypatch.setattr(module, "explorer", fake)
    assert make(*args) == "box"
    return seen["draw"], seen["controls"]


def drawn_images(fig) -> list:
    """The pixel arrays of every image panel of ``fig``, in order."""
    return [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]


def same_images(first, second) -> bool:
    """Both figures show the same images, panel for panel."""
    a, b = drawn_images(first), drawn_images(second)
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
