"""The README and the docs/ pages it links to: every relative link leads to a file of the checkout, and the
README reaches each page (the reference material lives there, not in the README)."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file(page):
    targets = [link.split("#")[0] for link in LINK.findall(page.read_text())]
    relative = [target for target in targets if target and "://" not in target]
    missing = [target for target in relative if not (page.parent / target).exists()]
    assert relative and not missing, missing


def test_the_readme_links_every_docs_page():
    readme = ROOT / "README.md"
    linked = {(ROOT / target.split("#")[0]).resolve() for target in LINK.findall(readme.read_text())}
    assert {path.resolve() for path in PAGES[1:]} <= linked
