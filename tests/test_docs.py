"""The Sphinx site builds with warnings as errors (its pages include the real source), and a
browser with no network renders its maths and shows M2's code uncut at a laptop's width."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "docs"))
import browser  # noqa: E402  (docs/browser.py)

#: the pages a learner reads first: a model page and the tutorial
LEARNER_PAGES = ("models/m2.html", "tutorial.html")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The docs, built once for this module with warnings as errors."""
    for module in ("sphinx", "myst_nb", "furo"):
        pytest.importorskip(module, reason="the docs need the dev extras: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("docs") / "html"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           os.path.join(ROOT, "docs"), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def test_sphinx_builds_without_warnings(html):
    assert (html / "tutorial.html").exists()
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()  # the renderer ships with the build


needs_chromium = pytest.mark.skipif(browser.find_chromium() is None,
                                    reason="needs Chromium for the browser checks (Debian: apt-get install chromium)")


@needs_chromium
@pytest.mark.parametrize("page", LEARNER_PAGES)
def test_maths_is_rendered_with_no_network(html, page):
    dom = browser.rendered_dom(str(html / page))
    assert dom.count("<mjx-container") >= 5, "MathJax did not typeset the page's equations"
    text = browser.visible_text(dom)
    for raw in (r"\begin", r"\mathcal", r"\mid"):
        assert raw not in text, f"raw LaTeX {raw!r} is visible on {page}"


@needs_chromium
@pytest.mark.parametrize("page", ["notebooks/01-elbo-vae.html", "notebooks/02-m2-enumeration.html",
                                  "notebooks/03-new-latent-site.html", "notebooks/04-train-and-look.html"])
def test_lesson_cells_and_outputs_read_without_horizontal_scrolling(html, page):
    widths = browser.code_widths(str(html / page))
    assert len(widths) >= 8 and all(content <= box for content, box in widths), widths


@needs_chromium
def test_m2_code_reads_without_horizontal_scrolling_at_a_laptop_width(html):
    widths = browser.code_widths(str(html / "models" / "m2.html"))
    assert len(widths) >= 2  # M2.model and M2.guide at least
    assert all(content <= box for content, box in widths), f"code blocks wider than their box: {widths}"
    narrow = browser.code_widths(str(html / "models" / "m2.html"), size=(700, 900))
    assert any(content > box for content, box in narrow)  # the probe sees a cut block when there is one
