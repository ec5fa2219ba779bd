"""Sphinx configuration: Markdown pages and notebooks (MyST-NB), the API reference from the
docstrings, maths rendered by a MathJax shipped with the build (no network needed).

Build with warnings as errors (the test suite does this too, tests/test_docs.py)::

    python -m sphinx -W -b html docs docs/_build/html
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "pyross"
author = "the pyross developers"
# sphinx-mathjax-offline copies MathJax 3 from its PyPI package into _static/mathjax and
# points sphinx.ext.mathjax at it, so equations render in a browser with no internet
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx-mathjax-offline",
              "sphinx.ext.viewcode"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
# the notebooks are published with the outputs they were committed with (a real MNIST run);
# the test suite executes each of them on small data (tests/test_notebooks.py)
nb_execution_mode = "off"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
html_theme = "furo"
html_title = "pyross"
html_static_path = ["_static"]
html_css_files = ["wide-code.css"]
