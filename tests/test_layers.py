"""The house's floors: every import of the kit points down the layers, and ``aiops --help`` stays light.

The layer order is written once, here (and drawn in the README's architecture section).
A package may import the packages on floors below its own, never one on its floor or above.
Every import statement counts, those inside functions too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The floors, bottom first. ``monitoring`` and ``scenarios`` are data packages (configs and
#: incident timelines, no code); ``aiops`` is the command, the demo and the console.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("plumbing", "monitoring", "scenarios"),
    ("simulator",),
    ("collector", "model"),
    ("evaluation", "sources"),
    ("detector", "responder", "training", "dashboards"),
    ("aiops",),
)

#: Function-level imports of the kit are allowed only here: the command's handlers import what
#: they run when they run (start-up time; see aiops/commands/collector.py).
LAZY_ALLOWED = ("aiops/commands/",)


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported} ({self.why})"


def floor_of(layers: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    return {pkg: i for i, floor in enumerate(layers) for pkg in floor}


def kit_packages(root: Path) -> set[str]:
    skip = {"tests", ".venv", "build", "dist", ".git"}
    return {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file() and p.name not in skip}


def _imports(path: Path, package: str) -> list[tuple[int, str, bool]]:
    """(line, absolute module, inside a function) for every import statement of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((child.lineno, a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: inside its own package, so its floor is its own
                    out.append((child.lineno, package, in_function))
                elif child.module:
                    out.append((child.lineno, child.module, in_function))
            visit(child, nested)

    visit(tree, False)
    return out


def violations(root: Path, layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[Violation]:
    """Every import under ``root`` that points up or sideways, and every package not placed on a floor."""
    floors = floor_of(layers)
    found: list[Violation] = []
    for package in sorted(kit_packages(root)):
        if package not in floors:
            found.append(Violation(package, 0, package, "-", "a package on no floor: add it to LAYERS"))
            continue
        for path in sorted((root / package).rglob("*.py")):
            rel = str(path.relative_to(root))
            for line, module, _ in _imports(path, package):
                top = module.split(".")[0]
                if top == package or top not in floors:
                    continue
                if floors[top] > floors[package]:
                    found.append(Violation(rel, line, package, module, "points up"))
                elif floors[top] == floors[package]:
                    found.append(Violation(rel, line, package, module, "a package on the same floor"))
    return found


def lazy_imports(root: Path) -> list[tuple[str, int, str, str]]:
    """Function-level imports of the kit's modules and of heavy libraries outside the command: (path, line, module, source line)."""
    kit = kit_packages(root)
    out = []
    for package in sorted(kit):
        for path in sorted((root / package).rglob("*.py")):
            rel = str(path.relative_to(root))
            lines = path.read_text(encoding="utf-8").splitlines()
            for line, module, inside in _imports(path, package):
                if inside:
                    out.append((rel, line, module, lines[line - 1]))
    return out


# ---------------------------------------------------------------------------- the kit


def test_every_import_of_the_kit_points_down_the_layers() -> None:
    found = violations(ROOT)
    assert not found, "imports that do not point down:\n" + "\n".join(map(str, found))


def test_every_package_is_on_a_floor_and_every_floor_exists() -> None:
    placed = {p for floor in LAYERS for p in floor}
    assert kit_packages(ROOT) <= placed
    assert "training" in placed  # the MLOps pipeline's floor is reserved beside the detector service


def test_function_level_imports_are_only_the_commands_or_say_why() -> None:
    """No import hides in a function to dodge a cycle: the command's handlers (start-up), or a ``# lazy:`` reason."""
    bad = []
    for path, line, module, source in lazy_imports(ROOT):
        if "cycle" in source.lower():
            bad.append(f"{path}:{line}: {source.strip()} (a cycle means a piece sits on the wrong floor)")
        elif not path.startswith(LAZY_ALLOWED) and "# lazy:" not in source:
            bad.append(f"{path}:{line}: {source.strip()} (move it to the module's top, or give a '# lazy: <reason>')")
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------ the rule on made-up modules


def _made_up(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


LOW_HIGH = (("low",), ("high",))


def test_an_upward_import_is_reported_even_inside_a_function(tmp_path: Path) -> None:
    root = _made_up(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/thing.py": "def f():\n    from high.top import x  # a cycle dodged\n    return x\n",
            "high/__init__.py": "",
            "high/top.py": "from low.thing import f\nx = 1\n",
        },
    )
    found = violations(root, LOW_HIGH)
    assert [(v.path, v.line, v.imported, v.why) for v in found] == [("low/thing.py", 2, "high.top", "points up")]


def test_downward_relative_and_outside_imports_pass(tmp_path: Path) -> None:
    root = _made_up(
        tmp_path,
        {
            "low/__init__.py": "from ._a import y\nimport json\n",
            "low/_a.py": "y = 2\n",
            "high/__init__.py": "import low\nfrom low import y\nimport numpy\n",
        },
    )
    assert violations(root, LOW_HIGH) == []


def test_a_sibling_import_and_an_unplaced_package_are_reported(tmp_path: Path) -> None:
    root = _made_up(
        tmp_path,
        {"a/__init__.py": "import b\n", "b/__init__.py": "", "stray/__init__.py": ""},
    )
    found = violations(root, (("a", "b"),))
    assert {(v.importer, v.why) for v in found} == {("a", "a package on the same floor"), ("stray", "a package on no floor: add it to LAYERS")}


# ------------------------------------------------------------------------- start-up

HEAVY = ("fastapi", "pandas", "sklearn", "numpy", "simulator", "uvicorn", "scipy", "matplotlib", "mlflow", "rich", "training")


def _loaded_after(argv: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from aiops.cli import build_parser\n"
        "try:\n"
        f"    build_parser().parse_args({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('LOADED:', *sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED:"), done.stdout
    return set(last.split()[1:])


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["collector", "--help"], ["demo", "--help"], ["detect", "--help"], ["evaluate", "fleet", "--help"],
     ["evaluate", "nab", "--help"], ["bench", "detector", "--help"], ["responder", "--help"], ["incident", "trigger", "--help"], ["train", "--help"], ["dashboards", "--help"], ["dashboards", "push", "--help"], ["console", "--help"]],
)  # fmt: skip
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    assert _loaded_after(argv) == set()
