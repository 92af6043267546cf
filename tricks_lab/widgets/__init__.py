"""Interactive explorers for the chapters (ipywidgets), one module per chapter topic.

Each explorer pairs a pure drawing function ``*_figure(...)`` (which the
rendered book also calls once, for a static figure, since widgets need a live
kernel) with ``*_explorer(...)``, which wires the same function to sliders via
:func:`explorer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import ipywidgets  # noqa: F401  (checked here so every explorer module fails the same clear way)
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        f"tricks_lab.widgets needs matplotlib and ipywidgets ({error.name} is missing): "
        'pip install "tricks_lab[plots]" (training needs neither)'
    ) from error

__all__ = ["explorer"]


def explorer(draw: Callable[..., Figure], **controls: Any) -> Any:
    """Sliders and checkboxes (``controls``) above a figure redrawn by ``draw(**values)``."""
    import ipywidgets as widgets
    from IPython.display import display
    from matplotlib import pyplot as plt

    def show(**values: Any) -> None:
        figure = draw(**values)
        display(figure)
        plt.close(figure)

    output = widgets.interactive_output(show, controls)
    return widgets.VBox([widgets.HBox(list(controls.values()), layout={"flex_flow": "row wrap"}), output])
