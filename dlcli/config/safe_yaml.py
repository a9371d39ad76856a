"""The one YAML reader for what users write: config files, ``--set`` values, search spaces and
grid values (SPEC section 0: "read with a safe loader").

PyYAML's safe loader builds no Python objects, but it still trusts the document's shape. This one
refuses, as a ConfigError naming the line:

- documents whose aliases expand beyond ``MAX_NODES`` values (the "billion laughs" bomb: a few
  hundred bytes that anything walking the value, validation included, would take hours over),
  and aliases that contain themselves;
- nesting deeper than ``MAX_DEPTH`` (PyYAML composes recursively: 3,000 levels end in a
  RecursionError);
- integers longer than ``MAX_DIGITS`` digits (Python refuses to read more than 4,300);
- a key given twice in one mapping: YAML 1.1 keeps the last value without a word, which is how an
  experiment quietly runs with settings nobody meant.

It also reads numbers as people write them: YAML 1.1 wants a dot in a float, so ``1e-4`` would be
the string ``'1e-4'``. Here ``1e-4``, ``1E5`` and ``-3e-2`` are floats, as in YAML 1.2 and JSON.
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dlcli.errors import ConfigError, shown

MAX_NODES = 100_000   # values after alias expansion; a full config has about 60
MAX_DEPTH = 100       # levels of nesting; a config has 4, a search space of nested lists 6
MAX_DIGITS = 100      # digits of an integer; 64-bit numbers have at most 20

_FLOAT = re.compile(r"""^(?:
     [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.VERBOSE)
_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"


class _Problem(Exception):
    """A refused document: the problem and the node it was found at."""

    def __init__(self, problem: str, node: Node | None = None) -> None:
        super().__init__(problem)
        self.problem, self.node = problem, node


class _Resolver(yaml.resolver.Resolver):
    pass


# Replace YAML 1.1's float pattern (which needs a dot) with one that also takes 1e-4.
_Resolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()}
_Resolver.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


class _Constructor(yaml.constructor.SafeConstructor):
    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_DIGITS:
            raise _Problem(f"an integer of {digits} digits is too large (at most {MAX_DIGITS})",
                           node)
        return super().construct_yaml_int(node)


_Constructor.add_constructor(_INT_TAG, _Constructor.construct_yaml_int)


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
              yaml.composer.Composer, _Constructor, _Resolver):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        # Counted while composing: PyYAML recurses once per level, so checking the finished
        # tree would be too late.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()
                raise _Problem(f"nesting deeper than {MAX_DEPTH} levels", _at(event.start_mark))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _at(mark: Any) -> Node:
    return ScalarNode("", "", mark, mark)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _check(root: Node) -> None:
    """Refuse alias bombs, self-containing aliases and duplicate keys in the composed tree.

    An alias is the same node object as its anchor, so sizes are memoised per node: the walk
    takes time in the document's length, however far its aliases would expand."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node, path: str) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _Problem("an alias that contains itself", node)
        open_nodes.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                total += size(item, f"{path}[{index}]")
        elif isinstance(node, MappingNode):
            seen: dict[tuple[str, str], Node] = {}
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, ScalarNode) else None
                if name is not None and key_node.tag != "tag:yaml.org,2002:merge":
                    first = seen.setdefault((key_node.tag, name), key_node)
                    if first is not key_node:
                        where = f"{path}.{name}" if path else name
                        raise _Problem(f"key {shown(where)} is given twice, at line "
                                       f"{_line(first)} and line {_line(key_node)}; keep one "
                                       "(YAML would silently use the last)", key_node)
                total += size(key_node, path) + size(value_node, _join(path, name))
        open_nodes.discard(key)
        if total > MAX_NODES:
            raise _Problem(f"its aliases expand to more than {MAX_NODES:,} values "
                           "(an alias bomb?)", node)
        sizes[key] = total
        return total

    size(root, "")


def _join(path: str, name: str | None) -> str:
    if name is None:
        return path
    return f"{path}.{name}" if path else name


def load(text: str, source: str = "") -> Any:
    """The value of one YAML document, or a ConfigError that names ``source`` and the line."""
    prefix = f"{source}: " if source else ""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)   # the reader refuses control characters here already
        root = loader.get_single_node()
        if root is None:
            return None
        _check(root)
        return loader.construct_document(root)
    except _Problem as exc:
        one_line = "\n" not in text.strip()
        line = f"line {_line(exc.node)}: " if exc.node is not None and not one_line else ""
        raise ConfigError("", message=f"{prefix}{line}{exc.problem}") from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}: " if mark else ""
        problem = exc.problem or "cannot be read"
        if "could not determine a constructor" in problem:
            problem = ("YAML tags that build Python objects are not allowed "
                       f"({problem.split('for the tag', 1)[-1].strip()})")
        raise ConfigError("", message=f"{prefix}{line}{problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        raise ConfigError("", message=f"{prefix}malformed YAML{where}: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()


def scalar(text: str, source: str = "") -> Any:
    """A value written on the command line (``--set KEY=VALUE``, a grid value): YAML when it
    reads as YAML, else the text itself (so ``--set name=a:b`` is the string ``a:b``)."""
    if not text.strip():
        return None
    try:
        return load(text, source)
    except ConfigError as exc:
        # Only a malformed value falls back to text; a refused one (a bomb, a 5,000-digit
        # integer, a duplicate key) stays refused.
        if "malformed YAML" in str(exc):
            return text
        raise
