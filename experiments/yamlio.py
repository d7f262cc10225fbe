"""Reading a config's text: YAML with numbers as people write them, profile merging and ``--set``
overrides."""

from __future__ import annotations

import copy
import re

import yaml

from experiments.schema import ConfigError, shown


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


# What a config may expand to through YAML aliases, as JSON characters (the largest config is ~10 KB): a
# "billion laughs" of nested aliases reads in a moment and would exhaust memory once written out.
MAX_EXPANDED_CHARACTERS = 1_000_000
MERGE_TAG = "tag:yaml.org,2002:merge"  # the `<<` of `<<: *defaults`, whose keys may be overridden


class YAMLProblem(yaml.YAMLError):
    """YAML that parses but cannot be a config: ``key`` says where (a dotted path), ``problem`` what."""

    def __init__(self, key, problem):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


def parse_yaml(text):
    """The value of a YAML text, with numbers as people write them. A key written twice in one mapping
    (PyYAML would keep the last silently), aliases that expand past :data:`MAX_EXPANDED_CHARACTERS` or
    refer to themselves raise :class:`YAMLProblem` naming the key path; a syntax error, ``yaml.YAMLError``."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, "", {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def problem_of(error):
    """One line saying what is wrong in a ``yaml.YAMLError`` (a reader error has a reason, no problem)."""
    if isinstance(error, yaml.reader.ReaderError):  # a control character: say which, and where
        code = error.character if isinstance(error.character, int) else ord(error.character)
        return f"{error.reason} (#x{code:04x} at character {error.position})"
    return getattr(error, "problem", None) or str(error)


def _expanded_size(node, path, sizes, open_nodes):
    """About how many JSON characters ``node`` expands to, each alias counted in full; checks that no
    mapping repeats a key and that nothing refers to itself on the way. Each node is walked once
    (``sizes`` remembers them), so a bomb is measured without being expanded."""
    if id(node) in sizes:
        return sizes[id(node)]
    where = path or "(top level)"
    if id(node) in open_nodes:
        raise YAMLProblem(where, "refers to itself through a YAML alias; a config is a tree")
    open_nodes.add(id(node))
    size = len(str(node.value)) + 4 if isinstance(node, yaml.ScalarNode) else 2
    if isinstance(node, yaml.MappingNode):
        lines = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            name = "(a complex key)" if key is None else key
            inner = f"{path}.{name}" if path else name
            if key is not None:  # on the keys as written: a key merged in by `<<` may be overridden
                line = key_node.start_mark.line + 1
                if key in lines:
                    at = f"lines {lines[key]} and {line}" if lines[key] != line else f"line {line}"
                    raise YAMLProblem(inner, f"appears twice ({at}); a key may appear once in a mapping")
                lines[key] = line
            size += _expanded_size(key_node, inner, sizes, open_nodes)
            size += _expanded_size(
                value_node, path if key_node.tag == MERGE_TAG else inner, sizes, open_nodes
            )
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            size += _expanded_size(item, f"{path}[{index}]", sizes, open_nodes)
    open_nodes.discard(id(node))
    if size > MAX_EXPANDED_CHARACTERS:
        raise YAMLProblem(
            where,
            f"expands through YAML aliases to over {MAX_EXPANDED_CHARACTERS:,} characters; a config may hold "
            f"at most {MAX_EXPANDED_CHARACTERS:,}",
        )
    sizes[id(node)] = size
    return size


def deep_merge(base, override):
    """``base`` with a profile's ``override`` on top: mappings merged key by key, except ``grid``, whose
    axes the override replaces whole (in every block of a grid given as a list of blocks)."""
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
    except YAMLProblem as error:
        inner = key if error.key == "(top level)" else f"{key}.{error.key}".replace(".[", "[")
        raise ConfigError("--set", inner, error.problem) from None
    except yaml.YAMLError as error:
        message = f"value {shown(value)} is not valid YAML ({problem_of(error)})"
        raise ConfigError("--set", key, message) from None


def apply_override(tree, keys, value):
    """Set ``tree[keys[0]][keys[1]]... = value`` for one ``--set`` (applied after the profile: it wins)."""
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError("--set", ".".join(keys), f"{key} is not a mapping")
    node[keys[-1]] = value
