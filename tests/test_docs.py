"""The Sphinx site builds with warnings as errors (its pages include the real source)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sphinx_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs need the dev extras: pip install -e '.[dev]'")
    pytest.importorskip("myst_parser", reason="the docs need the dev extras: pip install -e '.[dev]'")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           os.path.join(ROOT, "docs"), str(tmp_path / "html")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "html" / "tutorial.html").exists()
