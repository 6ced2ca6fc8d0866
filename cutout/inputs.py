"""Which files ``cutout remove`` processes, and where each result goes.

Inputs are files, folders (walked recursively) or glob patterns (``**`` included). The output
folder mirrors the input tree: ``photos/shoes/red.jpg`` given as the folder ``photos`` lands in
``OUT/shoes/red.png``; a glob mirrors the tree below its first wildcard-free folder. An input that
matches nothing is reported, not fatal.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
_MAGIC = set("*?[")


@dataclass(frozen=True, slots=True)
class Task:
    source: Path
    output: Path


@dataclass
class Plan:
    tasks: list[Task] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)


def _glob_base(pattern: str) -> Path:
    parts: list[str] = []
    for part in Path(pattern).parts:
        if _MAGIC & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path()


def _expand(raw: str) -> tuple[list[tuple[Path, Path]], str | None]:
    """(source, path relative to the output folder) pairs for one input, or why there are none."""
    path = Path(raw)
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        return [(p, p.relative_to(path)) for p in found], None if found else "no images inside"
    if path.is_file():
        return [(path, Path(path.name))], None
    if _MAGIC & set(raw):
        base = _glob_base(raw)
        found = sorted(Path(p) for p in glob.glob(raw, recursive=True) if Path(p).is_file())
        return [(p, p.relative_to(base)) for p in found], None if found else "matches nothing"
    return [], "no such file or folder"


def plan(inputs: list[str], output: Path) -> Plan:
    """The tasks; ``output`` is a folder, except for one file given with an output ``.png``."""
    result = Plan()
    if len(inputs) == 1 and Path(inputs[0]).is_file() and output.suffix.lower() == ".png":
        result.tasks.append(Task(Path(inputs[0]), output))
        return result
    claimed: dict[Path, Path] = {}
    for raw in inputs:
        pairs, problem = _expand(raw)
        if problem:
            result.problems.append((raw, problem))
        for source, relative in pairs:
            target = output / relative.with_suffix(".png")
            if target in claimed:
                result.problems.append((str(source), f"same output as {claimed[target]}"))
                continue
            claimed[target] = source
            result.tasks.append(Task(source, target))
    return result
