"""Every lesson notebook runs top to bottom on small made-up data (PYROSS_SMOKE=1), and the
copies the docs publish were executed in order, every code cell with its output."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "docs", "notebooks"))
pytest.importorskip("nbclient", reason="the notebooks need the dev extras: pip install -e '.[dev]'")
pytest.importorskip("ipykernel", reason="the notebooks need the dev extras: pip install -e '.[dev]'")
import nbformat  # noqa: E402
import run as notebooks  # noqa: E402  (docs/notebooks/run.py)

NAMES = [os.path.basename(path) for path in notebooks.NOTEBOOKS]


def test_there_is_a_lesson_path():
    assert NAMES == ["01-elbo-vae.ipynb", "02-m2-enumeration.ipynb", "03-new-latent-site.ipynb",
                     "04-train-and-look.ipynb"]


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_runs_on_small_data(name, mnist_dir, tmp_path):
    path = os.path.join(ROOT, "docs", "notebooks", name)
    done = notebooks.execute(path, str(tmp_path), {"PYROSS_SMOKE": "1", "PYROSS_DATA_DIR": mnist_dir,
                                                    "PYROSS_CACHE": str(tmp_path / "cache")}, timeout=300)
    code = [cell for cell in done.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    assert not any(output.get("output_type") == "error" for cell in code for output in cell.outputs)


@pytest.mark.parametrize("name", NAMES)
def test_the_published_notebook_was_run_in_order(name):
    notebook = nbformat.read(os.path.join(ROOT, "docs", "notebooks", name), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert all(cell.outputs for cell in code[2:])  # past the set-up cells, every cell shows something
