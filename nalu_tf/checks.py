"""Argument checks of the public layers and callbacks: each returns the value or raises a ValueError
naming it."""

from __future__ import annotations


def check_units(units: int) -> int:
    """Return ``units`` as an int, or raise ValueError naming the bad value."""
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"units must be a positive integer, got {units!r}")
    return units


def check_epsilon(epsilon: float) -> float:
    """Return ``epsilon`` as a float, or raise ValueError naming the bad value."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")
    return float(epsilon)


def check_number(name: str, value: float, minimum: float = 0.0) -> float:
    """Return ``value`` as a float >= minimum, or raise ValueError naming the bad value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")
    return float(value)
