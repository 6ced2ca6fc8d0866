"""Render every setting as a Markdown table, so docs/settings.md cannot drift from the code.

``python -m storage.settings_table > docs/settings.md``; a test fails when the file is stale.
"""

from __future__ import annotations

from pydantic import SecretStr

from storage.settings import Settings


def _default(value: object) -> str:
    if isinstance(value, SecretStr):
        return "*(secret; must be set in production)*"
    if value is None:
        return "*(unset)*"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def render() -> str:
    prefix = Settings.model_config.get("env_prefix", "")
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable. This page is generated from",
        "`storage/settings.py` by `python -m storage.settings_table > docs/settings.md`.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if name == "models_dir":
            default = "~/.cache/cutout/models"
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{prefix}{name.upper()}` | `{_default(default)}` | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
