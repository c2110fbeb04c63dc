"""Reading the course's nbgrader notebooks in tests."""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def source_notebooks(assignment: str):
    return sorted((ROOT / "solutions" / assignment).glob("*.ipynb"))


def assignments() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


def run_cells(path: Path, skip_tests: bool = True) -> dict:
    """Execute a notebook's code cells in one namespace, as a kernel running all
    cells would; a cell that raises (a stub called by an example) is skipped."""
    import matplotlib

    matplotlib.use("Agg")
    nb = nbformat.read(str(path), as_version=4)
    namespace = {"__name__": "__main__"}
    for cell in nb.cells:
        if cell.cell_type != "code" or (skip_tests and meta(cell).get("grade")
                                        and not meta(cell).get("solution")):
            continue
        source = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith("%"))
        try:
            exec(compile(source, f"<{path.name}>", "exec"), namespace)
        except NotImplementedError:
            pass
    return namespace
