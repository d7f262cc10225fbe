"""Reading a config's text: YAML with numbers as people write them, profile merging and ``--set``
overrides."""

from __future__ import annotations

import copy
import re

import yaml

from experiments.schema import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads 1e-3 and 1E+5 as numbers (YAML 1.1 wants a dot and a signed exponent)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text):
    return yaml.load(text, Loader=_Loader)


def deep_merge(base, override):
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "grid":
            merged[key] = deep_merge(merged[key], value)
        elif key == "grid" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}  # a profile replaces whole axes, keeps the others
        elif key == "grid" and isinstance(value, dict) and isinstance(merged.get(key), list):
            # over a grid of blocks, in every block (a block that is no mapping is left to validation)
            merged[key] = [{**b, **value} if isinstance(b, dict) else b for b in merged[key]]
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text):
    """``a.b=value`` -> (["a", "b"], value), the value read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError("--set", text, "malformed; expected KEY=VALUE, e.g. training.steps=100")
    try:
        return key.split("."), parse_yaml(value)
    except yaml.YAMLError as error:
        raise ConfigError("--set", key, f"value {value!r} is not valid YAML ({error.problem})") from None


def apply_override(tree, keys, value):
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError("--set", ".".join(keys), f"{key} is not a mapping")
    node[keys[-1]] = value
