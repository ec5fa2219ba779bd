"""Execute the lesson notebooks, top to bottom, in a fresh kernel.

With real MNIST (as pyross finds it), writing the outputs into the notebooks, as the docs
publish them::

    python docs/notebooks/run.py            # every notebook; or name some

The test suite (``tests/test_notebooks.py``) runs each one on small made-up data instead, with
``PYROSS_SMOKE=1`` and ``PYROSS_DATA_DIR`` set, and keeps nothing.
"""
import glob
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
#: the notebooks of the lesson path, in order
NOTEBOOKS = sorted(glob.glob(os.path.join(HERE, "[0-9][0-9]-*.ipynb")))


def execute(path, cwd, env=None, timeout=1800):
    """Run every cell of the notebook at ``path`` in a new kernel started in ``cwd`` (where its
    run folders go), with the environment variables ``env`` added.

    :returns: the executed notebook (``nbformat.NotebookNode``).
    :raises nbclient.exceptions.CellExecutionError: at the first cell that fails.
    """
    notebook = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env or {})  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": cwd}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


if __name__ == "__main__":
    for path in sys.argv[1:] or NOTEBOOKS:
        start = time.perf_counter()
        notebook = execute(path, cwd=os.getcwd())
        nbformat.write(notebook, path)
        print(f"{os.path.basename(path)}: {time.perf_counter() - start:.0f} s")
