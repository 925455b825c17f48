"""YAML loading that remembers where each mapping and key came from.

Definitions errors must say file and line; PyYAML's composer knows the marks,
so mappings are built as ``Located`` dicts carrying the line of each key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from clientlens.model.errors import DefinitionError, Problem


class Located(dict):
    """A mapping from a YAML file that knows its own line and each key's line."""

    file: str = ""
    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        # Aliases (*name) are refused: a few lines of nested aliases expand to billions
        # of nodes (a "billion laughs"), and definitions have no need of them.
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(problem=f"aliases (*{event.anchor}) are not allowed "
                                               "in definitions; write the value out",
                                       problem_mark=event.start_mark)
        return super().compose_node(parent, index)


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """Dates as PyYAML reads them, an impossible one (0000-00-00) a YAML error at its line."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as e:
        raise yaml.MarkedYAMLError(problem=f"'{node.value}' is not a valid date ({e})",
                                   problem_mark=node.start_mark) from None


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    loader.flatten_mapping(node)
    out = Located()
    out.file = loader.name
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.MarkedYAMLError(problem=f"duplicate key '{key}'",
                                       problem_mark=key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file; syntax errors become a DefinitionError with file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError([Problem("file not found", str(path))]) from None
    except UnicodeDecodeError as e:
        raise DefinitionError([Problem(f"not UTF-8 text ({e.reason})", str(path))]) from None
    loader = _Loader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        line = mark.line + 1 if mark else None
        raise DefinitionError([Problem(f"YAML: {e.problem}", str(path), line)]) from None
    except yaml.YAMLError as e:
        raise DefinitionError([Problem(f"YAML: {e}", str(path))]) from None
    finally:
        loader.dispose()
