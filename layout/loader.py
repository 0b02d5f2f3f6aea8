"""Read a plant file: YAML text -> `PlantFile` -> checked -> `Plant`.

YAML is parsed with libyaml when present, JSON with the json module; the slower line-tracking parse runs
only when there are problems to point at, so a valid 50,000-position plant loads without paying for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from layout.build import build_plant
from layout.model import Plant
from layout.problems import LayoutInvalid, LayoutProblem, PathPart
from layout.rules import PlantIndex, check
from layout.schema import PlantFile

_FastLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictYamlLoader(_FastLoader):  # type: ignore[misc,valid-type]
    """The safe loader, refusing duplicate keys (YAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key '{key_node.value}'",
                    key_node.start_mark,
                )
            seen.add(key_node.value)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


def load_plant(path: str | Path) -> Plant:
    """Read, check and build the plant in `path`; raises `LayoutInvalid` listing every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LayoutInvalid(source, [LayoutProblem((), f"cannot read the file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        detail = f"byte {exc.start} is not UTF-8 ({exc.object[exc.start : exc.start + 1]!r})"
        raise LayoutInvalid(source, [LayoutProblem((), f"cannot read the file: {detail}")]) from exc
    return parse_plant(text, source=source)


def parse_plant(text: str, source: str = "<text>") -> Plant:
    """YAML text -> a checked `Plant`, or `LayoutInvalid` listing every problem."""
    index = _checked(text, source)
    return build_plant(index.file, index.network)


def parse_plant_file(text: str, source: str = "<text>") -> PlantFile:
    """YAML text -> a `PlantFile` that passed every rule, or `LayoutInvalid`."""
    return _checked(text, source).file


def _checked(text: str, source: str) -> PlantIndex:
    try:
        raw = _parse_document(text)
    except yaml.YAMLError as exc:
        raise LayoutInvalid(source, [_yaml_problem(exc)]) from exc
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "an empty document"
        raise LayoutInvalid(source, [LayoutProblem((), f"expected a mapping at the top, found {kind}", 1)])
    try:
        plant_file = PlantFile.model_validate(raw)
    except ValidationError as exc:
        problems = pydantic_problems(exc.errors(include_url=False), raw)
        raise LayoutInvalid(source, with_lines(problems, text)) from None
    index = PlantIndex(plant_file)
    problems = check(index)
    if problems:
        raise LayoutInvalid(source, with_lines(problems, text))
    return index


def _parse_document(text: str) -> Any:
    """JSON is YAML too; generated plants are often JSON, and json.loads is ten times faster."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # let the YAML parser say what is wrong, with its line
    return yaml.load(text, Loader=StrictYamlLoader)


def _yaml_problem(exc: yaml.YAMLError) -> LayoutProblem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{context}, {problem}" if context else problem
    return LayoutProblem((), f"YAML syntax error: {detail}", line)


def pydantic_problems(errors: list[Any], raw: Any) -> list[LayoutProblem]:
    """Pydantic errors as problems at file paths.

    Where a value fits none of a union's members, pydantic reports every member's complaint; we keep those
    of the member that got furthest into the value (a list with a bad item is reported at the item, not
    also as "not 'all'"), and merge complaints that land on one path.
    """
    located = [_pydantic_problem(error, raw) for error in errors]
    best_depth: dict[tuple[PathPart, ...], int] = {}
    for path, _, union in located:
        if union is not None:
            best_depth[union[0]] = max(best_depth.get(union[0], 0), len(path))
    merged: dict[tuple[PathPart, ...], list[str]] = {}
    for path, message, union in located:
        if union is not None and len(path) < best_depth[union[0]]:
            continue
        messages = merged.setdefault(path, [])
        if message not in messages:
            messages.append(message)
    return [LayoutProblem(path, " or ".join(messages)) for path, messages in merged.items()]


def _pydantic_problem(
    error: Any, raw: Any
) -> tuple[tuple[PathPart, ...], str, tuple[tuple[PathPart, ...], str] | None]:
    """(file path, message, (path where a union member was tried, member) or None)."""
    path: list[PathPart] = []
    union: tuple[tuple[PathPart, ...], str] | None = None
    node = raw
    loc = error["loc"]
    for i, part in enumerate(loc):
        names_a_field = error["type"] in {"missing", "extra_forbidden"} and i == len(loc) - 1
        # A union adds the member it tried ("flat", "list[constrained-int]", ...); the file has no such key.
        if isinstance(part, str) and not names_a_field and not (isinstance(node, dict) and part in node):
            union = union or (tuple(path), part)
            continue
        path.append(part)
        node = _child(node, part)
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = f"unknown field '{path[-1]}'" if path else "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif "input" in error:
        shown = repr(error["input"])
        if len(shown) <= 60:
            message = f"{message} (got {shown})"
    return tuple(path), message, union


def _child(node: Any, part: PathPart) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def with_lines(problems: Sequence[LayoutProblem], text: str) -> list[LayoutProblem]:
    try:
        root = yaml.compose(text, Loader=_FastLoader)
    except yaml.YAMLError:
        return list(problems)
    located = [LayoutProblem(p.path, p.message, p.line or _line_of(root, p.path)) for p in problems]
    return sorted(located, key=lambda p: p.line or 0)


def _line_of(root: yaml.Node | None, path: Sequence[PathPart]) -> int | None:
    """The line of the deepest YAML node along `path` (1-based)."""
    node = root
    best = root.start_mark.line + 1 if root is not None else None
    for part in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value if not _is_empty(value) else key
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        best = node.start_mark.line + 1
    return best


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == "" and node.tag.endswith(":null")
