"""Look at the built docs as a reader's browser does: headless Chromium, with no network.

Used by ``tests/test_docs.py`` (maths rendered, code not cut at a laptop's width) and, run as a
script, to take the screenshots in ``docs/figures``::

    python -m sphinx -b html docs docs/_build/html
    python docs/browser.py docs/_build/html     # writes docs/figures/docs-*.png
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

#: a laptop's window, in CSS pixels
LAPTOP = (1280, 900)
#: the pages a learner starts with, and their screenshots
PAGES = {"models/m2.html": "docs-m2-page.png", "tutorial.html": "docs-tutorial-page.png"}
# no connection leaves the browser: every host name fails to resolve, and no background requests
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=20000"]
# after the page has loaded, record the widths of its code blocks (content and box) on <body>
_MEASURE = ('<script>window.addEventListener("load", () => document.body.setAttribute("data-code-widths", '
            '[...document.querySelectorAll("div.highlight pre")].map(p => p.scrollWidth + ":" + p.clientWidth)'
            '.join(",")));</script>')


def find_chromium():
    """The Chromium (or Chrome) executable, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(page, *flags, size=LAPTOP):
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([find_chromium(), *_FLAGS, f"--user-data-dir={profile}",
                               f"--window-size={size[0]},{size[1]}", *flags, f"file://{os.path.abspath(page)}"],
                              capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed on {page}: {done.stderr[-2000:]}")
    return done.stdout


def rendered_dom(page, size=LAPTOP):
    """The page's DOM after its scripts ran (MathJax included), as HTML."""
    return _run(page, "--dump-dom", size=size)


def visible_text(dom):
    """The text a reader sees: the DOM without scripts, styles and rendered-maths elements."""
    for element in ("script", "style", "mjx-container"):
        dom = re.sub(rf"<{element}\b.*?</{element}>", " ", dom, flags=re.S)
    return re.sub(r"<[^>]+>", " ", dom)


def code_widths(page, size=LAPTOP):
    """``(content width, box width)`` in pixels of each code block of ``page`` at the window
    ``size``: a block whose content is wider than its box has a horizontal scroll bar."""
    with open(page) as f:
        html = f.read()
    probe = os.path.join(os.path.dirname(page), "_probe-widths.html")  # beside it: relative links still work
    with open(probe, "w") as f:
        f.write(html.replace("</body>", _MEASURE + "</body>"))
    try:
        dom = rendered_dom(probe, size)
    finally:
        os.remove(probe)
    found = re.search(r'data-code-widths="([^"]*)"', dom)
    if found is None:
        raise RuntimeError(f"the width probe did not run on {page}")
    return [tuple(int(v) for v in pair.split(":")) for pair in found.group(1).split(",") if pair]


def screenshot(page, out, width=LAPTOP[0], height=2600):
    """Save a PNG of the top ``height`` pixels of ``page`` in a window ``width`` wide."""
    _run(page, f"--screenshot={os.path.abspath(out)}", size=(width, height))


if __name__ == "__main__":
    html = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "_build", "html")
    for page, name in PAGES.items():
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures", name)
        screenshot(os.path.join(html, page), out)
        print(f"wrote {out}")
