"""The layout a newcomer reads in one look, kept: the engine's layers import down only, the
engine never imports Streamlit, integrations' __init__.py only re-export, units stay short."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "clustering"
LOWER_LAYERS = ("io", "prep", "model", "explain")
INTEGRATIONS = ("tracking", "api", "orchestration", "spark", "pipeline", "cli")
UPPER = ("clustering.pipeline", "clustering.tracking", "clustering.api", "clustering.orchestration", "clustering.spark", "clustering.cli")  # fmt: skip


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_the_lower_layers_never_import_upward(layer):
    for path in (ENGINE / layer).rglob("*.py"):
        upward = {name for name in imported(path) if name.startswith(UPPER)}
        assert not upward, f"{path.relative_to(ENGINE)} imports {sorted(upward)}"


# The engine's layers, bottom up: a module may import its own rank or below, never above.
# results.py holds plain data every layer reads; the foundations (config, errors, formats);
# the lower layers (io, prep, model, explain: side by side); what combines them (merge,
# placement, demo, glossary); the pipeline and the fitted segmentation (assign); the
# integrations; the command line.
RANKS = {
    "results": 0,
    **dict.fromkeys(("config", "errors", "formats"), 1),
    **dict.fromkeys(("io", "prep", "model", "explain"), 2),
    **dict.fromkeys(("merging", "placement", "demo", "glossary"), 3),
    **dict.fromkeys(("pipeline", "assign"), 4),
    **dict.fromkeys(("tracking", "api", "orchestration", "spark"), 5),
    **dict.fromkeys(("cli", "__main__", "__init__"), 6),
}


def runtime_imports(path: Path) -> set[str]:
    """The engine's parts a module imports when it runs (a function's lazy import included;
    imports for type hints only, under ``if TYPE_CHECKING:``, left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hints = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    parts = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "clustering":
            parts |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clustering."):
            parts.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            parts |= {a.name.split(".")[1] for a in node.names if a.name.startswith("clustering.")}
    return parts


def test_no_import_points_back_up():
    for path in ENGINE.rglob("*.py"):
        part = path.relative_to(ENGINE).parts[0].removesuffix(".py")
        upward = {target for target in runtime_imports(path) if RANKS[target] > RANKS[part]}
        assert not upward, f"{path.relative_to(ENGINE)} (rank {RANKS[part]}) imports {sorted(upward)}"


def test_the_results_are_plain_data_that_import_no_layer():
    assert runtime_imports(ENGINE / "results.py") == set()


def test_every_part_of_the_engine_has_a_rank():
    parts = {
        p.name.removesuffix(".py")
        for p in ENGINE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert parts == set(RANKS)


def test_the_engine_never_imports_streamlit():
    for path in ENGINE.rglob("*.py"):
        assert not {n for n in imported(path) if n.split(".")[0] == "streamlit"}, path


@pytest.mark.parametrize("package", INTEGRATIONS)
def test_an_integrations_init_only_re_exports(package):
    tree = ast.parse((ENGINE / package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        exports = isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__all__"]
        assert docstring or exports or isinstance(node, ast.ImportFrom), ast.dump(node)[:120]


def test_pipeline_modules_stay_under_400_lines():
    for path in (ENGINE / "pipeline").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 400, path.name


def test_long_functions_say_why_in_their_docstring():
    root = ENGINE.parent
    for path in [*ENGINE.rglob("*.py"), *(root / "ui").glob("*.py"), *(root / "pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.end_lineno - node.lineno >= 60
            ):
                reason = ast.get_docstring(node) or ""
                assert any(w in reason for w in ("Long on purpose", "One function because")), (
                    f"{path.relative_to(root)}:{node.lineno} {node.name} is {node.end_lineno - node.lineno + 1} "
                    "lines: split it, or say in its docstring why it is one unit"
                )
