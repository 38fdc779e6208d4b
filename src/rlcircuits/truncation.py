"""How much of an answer the attribution loss scores (docs/DESIGN.md §4, Loss).

Torch-free, so the report states each α's T_cut by the very rule the engine applies.
"""

from __future__ import annotations

from rlcircuits.errors import SettingsError


def cut_length(alpha: float, t_bar: float) -> int:
    """T_cut = max(int(alpha * T_bar), 1): how many answer tokens the loss scores."""
    if not 0 < alpha <= 1:
        raise SettingsError(f"alpha must lie in (0, 1], got {alpha}")
    if t_bar <= 0:
        raise ValueError(f"t_bar must be positive, got {t_bar}")
    return max(int(alpha * t_bar), 1)
