"""The import direction: data -> models -> config/checkpoint -> inference -> training -> evaluation -> photos
-> (benchmark, workflow, ray) -> cli. A module may import its own layer and the ones below, never above."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "facekeypoints"
LAYERS = [
    {"keypoints", "fileio", "imaging", "geometry", "warps", "devices"},
    {"data"},
    {"models"},
    {"config", "cards", "checkpoint"},
    {"inference"},
    {"training"},
    {"evaluation"},
    {"photos"},
    {"benchmark", "workflow", "ray"},
    {"cli", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def imports_of(text: str, package: list[str]) -> set[str]:
    """The top-level facekeypoints modules that source ``text`` of a file in ``package`` (its folder
    below facekeypoints/) imports, lazy imports inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            target = [*package[: len(package) - (node.level - 1)], *(node.module.split(".") if node.module else [])]
            found.update([target[0]] if target else [a.name for a in node.names])  # `from .. import x`
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("facekeypoints."):
            found.add(node.module.split(".")[1])
    return {name for name in found if name in LAYER}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        yield path, rel.parts[0].removesuffix(".py"), list(rel.parts[:-1])


def test_every_module_is_in_a_layer():
    tops = {top for _, top, _ in _modules()} - {"__init__"}
    assert tops <= set(LAYER), sorted(tops - set(LAYER))


def test_no_import_points_back_up():
    wrong = [f"{path.relative_to(PACKAGE)} imports {dep}"
             for path, top, package in _modules() if top != "__init__"  # __init__: the lazy public names
             for dep in imports_of(path.read_text(), package) if LAYER[dep] > LAYER[top]]
    assert not wrong, wrong


def test_the_check_catches_an_upward_import():
    text = "from ..fileio import DataError\n\ndef f():\n    from ..photos.predict import KeypointDetector\n"
    assert imports_of(text, ["data"]) == {"fileio", "photos"}
    assert imports_of("from .. import __version__\n", ["photos"]) == set()
