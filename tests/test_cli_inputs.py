"""How ``cutout remove`` turns files, folders and globs into (input, output) pairs."""

from __future__ import annotations

from pathlib import Path

from cutout.inputs import plan


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def _pairs(result, root: Path) -> list[tuple[str, str]]:
    return [
        (t.source.relative_to(root).as_posix(), t.output.relative_to(root).as_posix())
        for t in result.tasks
    ]


def test_a_folder_is_walked_recursively_and_mirrored(tmp_path):
    _touch(tmp_path, "in/a.jpg", "in/shoes/b.JPEG", "in/shoes/red/c.webp", "in/notes.txt")
    result = plan([str(tmp_path / "in")], tmp_path / "out")
    assert _pairs(result, tmp_path) == [
        ("in/a.jpg", "out/a.png"),
        ("in/shoes/b.JPEG", "out/shoes/b.png"),
        ("in/shoes/red/c.webp", "out/shoes/red/c.png"),
    ]
    assert result.problems == []


def test_a_glob_mirrors_below_its_first_wildcard_free_folder(tmp_path):
    _touch(tmp_path, "in/x/a.jpg", "in/y/z/b.jpg", "in/y/c.png")
    result = plan([f"{tmp_path}/in/**/*.jpg"], tmp_path / "out")
    assert _pairs(result, tmp_path) == [
        ("in/x/a.jpg", "out/x/a.png"),
        ("in/y/z/b.jpg", "out/y/z/b.png"),
    ]


def test_one_file_to_a_png_path_and_files_into_a_folder(tmp_path):
    _touch(tmp_path, "a.jpg", "b.webp")
    single = plan([str(tmp_path / "a.jpg")], tmp_path / "result.png")
    assert _pairs(single, tmp_path) == [("a.jpg", "result.png")]
    several = plan([str(tmp_path / "a.jpg"), str(tmp_path / "b.webp")], tmp_path / "out")
    assert _pairs(several, tmp_path) == [("a.jpg", "out/a.png"), ("b.webp", "out/b.png")]


def test_missing_inputs_empty_globs_and_clashing_outputs_are_problems_not_errors(tmp_path):
    _touch(tmp_path, "one/a.jpg", "two/a.png", "empty/readme.md")
    result = plan(
        [
            str(tmp_path / "nope.jpg"),
            f"{tmp_path}/*.gif",
            str(tmp_path / "empty"),
            str(tmp_path / "one"),
            str(tmp_path / "two"),
        ],
        tmp_path / "out",
    )
    assert _pairs(result, tmp_path) == [("one/a.jpg", "out/a.png")]
    reasons = [reason for _, reason in result.problems]
    assert reasons[:3] == ["no such file or folder", "matches nothing", "no images inside"]
    assert reasons[3].startswith("same output as ")
