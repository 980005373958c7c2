"""transforms.metrics: every metric's name spelled once, counted by a transform, documented."""
import pathlib
import re

from transforms import metrics

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAMES = metrics.COUNTERS + metrics.DISTRIBUTIONS


def _sources():
    return {path: path.read_text(encoding="utf-8")
            for folder in ("transforms", "pipeline") for path in (ROOT / folder).rglob("*.py")}


def test_every_metric_has_one_name_and_every_constant_is_listed():
    assert len(set(NAMES)) == len(NAMES)
    constants = {value for key, value in vars(metrics).items()
                 if key.isupper() and key != "METRICS_NAMESPACE" and isinstance(value, str)}
    assert constants == set(NAMES)


def test_every_metric_is_counted_by_its_constant_and_none_by_a_spelling_of_its_own():
    """A name spelled apart on the counting side or the summary's side read 0 (health review
    49): each metric is made from its constant, and no Metrics call spells a name itself."""
    sources = _sources()
    made = re.compile(r"Metrics\.(counter|distribution)\(\s*METRICS_NAMESPACE,\s*([^)]+)\)")
    found = {}
    for path, text in sources.items():
        for kind, name in made.findall(text):
            assert not name.strip().startswith(("'", '"')), (path, name)
            found.setdefault(name.strip().rsplit(".", 1)[-1], set()).add(kind)
    by_constant = {value: key for key, value in vars(metrics).items()
                   if key.isupper() and isinstance(value, str)}
    aliases = {"UNREADABLE": "EARLIER_PARTS_UNREADABLE"}
    counted = {aliases.get(name, name) for name in found}
    assert counted == {by_constant[name] for name in NAMES}
    for name in metrics.DISTRIBUTIONS:
        assert found[by_constant[name]] == {"distribution"}


def test_the_docs_name_every_metric():
    docs = (ROOT / "docs" / "pipeline.md").read_text(encoding="utf-8")
    listed = docs[docs.index("* **Metrics**"):]
    listed = listed[:listed.index("A local run logs a summary")]
    assert [name for name in NAMES if f"`{name}`" not in listed] == []
