"""The layout of org_bootstrap tells its architecture: no module sits directly in the package but the entry
points and the shared helpers the README names; the layers themselves are checked by lint-imports."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "org_bootstrap"
TOP_LEVEL = {"__init__.py", "__main__.py", "aws.py"}
LAYERS = {"commands", "demo", "review", "deploy"}


def test_only_the_entry_points_and_shared_helpers_sit_at_the_top() -> None:
    assert {p.name for p in PACKAGE.glob("*.py")} == TOP_LEVEL


def test_every_folder_is_a_layer_with_its_docstring() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == LAYERS
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").read_text(encoding="utf-8").startswith('"""')


def test_the_readme_names_each_layer_and_the_shared_helpers() -> None:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    for name in (*(f"{layer}/" for layer in LAYERS), *(TOP_LEVEL - {"__init__.py", "__main__.py"})):
        assert f"  {name}" in layout, name
