"""Field types for configuration validation, each with a one-line error naming the key and the value."""

from __future__ import annotations

import math


ECHO_LIMIT = 200  # characters of a value (or key) an error line repeats; longer ones end in "…"
MESSAGE_LIMIT = 600  # characters of a whole message: beyond it, its middle gives way to "…"


def shown(value):
    """``repr(value)`` for an error line: at most :data:`ECHO_LIMIT` characters, cut with "…"."""
    return clipped(repr(value), ECHO_LIMIT)


def clipped(text, limit):
    """``text`` on one line, at most ``limit`` characters: its start, "…", and (for a long message,
    whose end says what is allowed) its end."""
    text = " ".join(str(text).split("\n"))
    if len(text) <= limit:
        return text
    if limit < MESSAGE_LIMIT:
        return text[: limit - 1] + "…"
    half = (limit - 1) // 2
    return text[:half] + "…" + text[-half:]


class ConfigError(Exception):
    """A configuration or usage mistake: reported as one line ``error: FILE: KEY: message``, exit 2.

    The line stays one line and readable whatever it echoes: a key is cut at :data:`ECHO_LIMIT`
    characters and a message at :data:`MESSAGE_LIMIT` (values are cut where they are written, with
    :func:`shown`)."""

    def __init__(self, source, key, message):
        key, message = clipped(key, ECHO_LIMIT), clipped(message, MESSAGE_LIMIT)
        super().__init__(f"{source}: {key}: {message}")
        self.source, self.key, self.message = source, key, message


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Field:
    """Base class: ``check(value)`` returns the cleaned value or raises ValueError with what is allowed."""

    def check(self, value):
        raise NotImplementedError


class Integer(Field):
    """An integer, >= minimum; a float that is a whole number (``1e5``, as YAML reads it) is taken as one."""

    def __init__(self, minimum=None):
        self.minimum = minimum

    def check(self, value):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # steps: 1e5 -> 100000 (1.5 stays an error)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{shown(value)} is not an integer")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{shown(value)} is not allowed; must be an integer >= {self.minimum}")
        return value


class Number(Field):
    def __init__(self, minimum=None, maximum=None, exclusive_minimum=False):
        self.minimum, self.maximum, self.exclusive_minimum = minimum, maximum, exclusive_minimum

    def describe(self):
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum}")
        return "a number " + " and ".join(parts) if parts else "a finite number"

    def check(self, value):
        if not _is_number(value):
            raise ValueError(f"{shown(value)} is not allowed; must be {self.describe()}")
        too_low = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        )
        too_high = self.maximum is not None and value > self.maximum
        if too_low or too_high:
            raise ValueError(f"{shown(value)} is not allowed; must be {self.describe()}")
        return float(value)


class Optional(Field):
    """``null`` (None) or a value of the wrapped field."""

    def __init__(self, field):
        self.field = field

    def check(self, value):
        if value is None:
            return None
        try:
            return self.field.check(value)
        except ValueError as error:
            raise ValueError(f"{error} (or null)") from None


class Text(Field):
    """A non-empty string."""

    def check(self, value):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{shown(value)} is not allowed; must be a non-empty string")
        return value


class IntegerList(Field):
    """A non-empty list of integers, each >= minimum, in increasing order."""

    def __init__(self, minimum=None):
        self.minimum = minimum

    def check(self, value):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{shown(value)} is not allowed; must be a non-empty list of integers")
        cleaned = [Integer(self.minimum).check(item) for item in value]
        if cleaned != sorted(set(cleaned)):
            raise ValueError(f"{shown(value)} is not allowed; must be increasing, without repeats")
        return cleaned


class Boolean(Field):
    """true or false (not 0, 1 or a string)."""

    def check(self, value):
        if not isinstance(value, bool):
            raise ValueError(f"{shown(value)} is not allowed; must be true or false")
        return value


class Choice(Field):
    def __init__(self, allowed):
        self.allowed = tuple(allowed)

    def check(self, value):
        if value not in self.allowed:
            raise ValueError(
                f"{shown(value)} is not allowed; choose from {', '.join(map(str, self.allowed))}"
            )
        return value


class Range(Field):
    """A pair [lower, upper] of finite numbers with lower < upper."""

    def check(self, value):
        if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value))):
            raise ValueError(f"{shown(value)} is not allowed; must be a pair [lower, upper] of numbers")
        if not value[0] < value[1]:
            raise ValueError(f"{shown(value)} is empty or reversed; lower must be < upper")
        return [float(value[0]), float(value[1])]


class IntegerRange(Range):
    """A pair [lower, upper] of integers, each >= minimum, with lower < upper."""

    def __init__(self, minimum=None):
        self.minimum = minimum

    def check(self, value):
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise ValueError(f"{shown(value)} is not allowed; must be a pair [lower, upper] of integers")
        lower, upper = (Integer(self.minimum).check(item) for item in value)
        if not lower < upper:
            raise ValueError(f"{shown(value)} is empty or reversed; lower must be < upper")
        return [lower, upper]


class NamedRanges(Field):
    """Named pairs of ranges: ``{name: {interpolation: [lo, hi], extrapolation: [lo, hi]}}``; a task may
    allow more for the extrapolation part (a union of intervals, say) by passing its own field."""

    parts = ("interpolation", "extrapolation")

    def __init__(self, extrapolation=None):
        self.fields = {"interpolation": Range(), "extrapolation": extrapolation or Range()}

    def check(self, value):
        if not isinstance(value, dict) or not value:
            raise ValueError(f"{shown(value)} is not allowed; must be a mapping of names to ranges")
        cleaned = {}
        for name, ranges in value.items():
            if not isinstance(ranges, dict) or set(ranges) != set(self.parts):
                raise ValueError(
                    f"{name}: {shown(ranges)} must have exactly the keys {', '.join(self.parts)}"
                )
            cleaned[str(name)] = {}
            for part in self.parts:
                try:
                    cleaned[str(name)][part] = self.fields[part].check(ranges[part])
                except ValueError as error:
                    raise ValueError(f"{name}.{part}: {error}") from None
        return cleaned


def check_value(source, key, field, value):
    """``field.check(value)``, its ValueError turned into a :class:`ConfigError` naming ``key``."""
    try:
        return field.check(value)
    except ValueError as error:
        raise ConfigError(source, key, str(error)) from None


def require_mapping(source, key, value):
    """``value`` if it is a mapping, else a :class:`ConfigError` naming ``key``."""
    if not isinstance(value, dict):
        raise ConfigError(source, key, f"{shown(value)} is not allowed; must be a mapping")
    return value


def reject_unknown(source, prefix, keys, allowed):
    """A :class:`ConfigError` for the first of ``keys`` not in ``allowed``, listing those allowed."""
    for key in keys:
        if key not in allowed:
            raise ConfigError(source, f"{prefix}{key}", f"unknown key; allowed: {', '.join(allowed)}")
