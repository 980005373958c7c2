"""transforms/distinct_inputs.py: one InputFile per input, one input per output name."""
import hashlib

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.distinct_inputs import DistinctInputs, input_key, name_apart
from transforms.matching import InputFile


def test_input_key_treats_spellings_of_one_local_file_alike():
    assert input_key("file:///in/x.jpg") == input_key("/in/./x.jpg") == "/in/x.jpg"
    assert input_key("s3://b/in/x.jpg") == "s3://b/in/x.jpg"
    assert input_key("s3://b/in/x.jpg") != input_key("gs://b/in/x.jpg")


def test_input_key_treats_aliases_of_one_store_alike():
    """fsspec's aliases of a store (``s3a://``, ``gcs://``, a protocol in capitals) name one
    object: a list spelling ``s3a://`` and a glob over ``s3://`` matched one photo twice (two
    outputs, two rows), and a later run in the other spelling took it for another input."""
    assert input_key("s3a://b/in/x.jpg") == input_key("S3://b/in/x.jpg") == "s3://b/in/x.jpg"
    assert input_key("gcs://b/in/x.jpg") == "gs://b/in/x.jpg"
    assert name_apart("x.jpg", "s3a://b/in/x.jpg") == name_apart("x.jpg", "s3://b/in/x.jpg")
    files = [InputFile("s3a://b/in/x.jpg", "x.jpg", 10), InputFile("s3://b/in/x.jpg", "x.jpg"),
             InputFile("gcs://g/y.jpg", "y.jpg", 3), InputFile("gs://g/y.jpg", "y.jpg", 3)]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(files) | DistinctInputs()
        assert_that(out, equal_to([InputFile("s3a://b/in/x.jpg", "x.jpg", 10),
                                   InputFile("gcs://g/y.jpg", "y.jpg", 3)]))


def test_name_apart_appends_the_digest_of_the_input():
    digest = hashlib.sha256(b"/in/b/x.jpg").hexdigest()[:12]
    assert name_apart("2026/x.jpg", "/in/b/x.jpg") == f"2026/x.jpg~{digest}"
    assert name_apart("x.jpg", "file:///in/b/x.jpg") == f"x.jpg~{digest}"
    assert name_apart("x.jpg", "/in/a/x.jpg") != name_apart("x.jpg", "/in/b/x.jpg")


def test_duplicates_are_dropped_and_shared_names_set_apart():
    files = [
        InputFile("/in/a/x.jpg", "x.jpg", 10),           # matched by a pattern ...
        InputFile("/in/a/x.jpg", "a/x.jpg", None),       # ... and listed
        InputFile("file:///in/a/x.jpg", "x.jpg", 10),    # another spelling of it
        InputFile("/in/b/x.jpg", "x.jpg", None),         # another file, named alike
        InputFile("/in/c/y.jpg", "y.jpg", 7),
        InputFile("/in/c/y.jpg", "y.jpg", 7),
    ]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(files) | DistinctInputs()
        assert_that(out, equal_to([
            InputFile("/in/a/x.jpg", name_apart("x.jpg", "/in/a/x.jpg"), 10),
            InputFile("/in/b/x.jpg", name_apart("x.jpg", "/in/b/x.jpg"), None),
            InputFile("/in/c/y.jpg", "y.jpg", 7),
        ]))


def test_names_that_differ_only_in_case_are_set_apart():
    """IMG_1.jpg and IMG_1.JPG (or Trips/ and trips/) are one file on a macOS or Windows disk:
    their outputs replaced each other there. Each now carries its digest; a name no other
    input shares, in any case, stays as it was."""
    files = [InputFile("/in/IMG_1.jpg", "IMG_1.jpg", 1), InputFile("/in/IMG_1.JPG", "IMG_1.JPG", 1),
             InputFile("/in/Trips/x.jpg", "Trips/x.jpg", 1),
             InputFile("/in/trips/x.jpg", "trips/x.jpg", 1),
             InputFile("/in/IMG_2.JPG", "IMG_2.JPG", 1)]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(files) | DistinctInputs()
        assert_that(out, equal_to([
            InputFile("/in/IMG_1.jpg", name_apart("IMG_1.jpg", "/in/IMG_1.jpg"), 1),
            InputFile("/in/IMG_1.JPG", name_apart("IMG_1.JPG", "/in/IMG_1.JPG"), 1),
            InputFile("/in/Trips/x.jpg", name_apart("Trips/x.jpg", "/in/Trips/x.jpg"), 1),
            InputFile("/in/trips/x.jpg", name_apart("trips/x.jpg", "/in/trips/x.jpg"), 1),
            InputFile("/in/IMG_2.JPG", "IMG_2.JPG", 1),
        ]))
    assert len({name_apart("IMG_1.jpg", "/in/IMG_1.jpg").casefold(),
                name_apart("IMG_1.JPG", "/in/IMG_1.JPG").casefold()}) == 2


def test_the_warning_of_names_set_apart_names_who_keeps_a_name(caplog):
    """Two new inputs given one name, one of them written before under another name: both get
    their digest, and the warning says so (diff review 25: it said the one written before kept
    an earlier name, comparing the inputs with their copies)."""
    import logging

    from transforms.distinct_inputs import _GIVEN, _Candidate, _apart
    from transforms.distinct_inputs import EarlierName
    from transforms.matching import InputFile

    tag = "3f9a1c2b7d"
    a = InputFile("/in/a/x.jpg", "x.jpg", 1,
                  written_as=EarlierName("2026-12-01T08:00:00+00:00", f"a/x.jpg.{tag}", "r1"))
    b = InputFile("/in/b/x.jpg", "x.jpg", 1)
    with caplog.at_level(logging.WARNING, logger="transforms.distinct_inputs"):
        named = [out for out in _apart((f"x.jpg.{tag}", [_Candidate(_GIVEN, a, None),
                                                         _Candidate(_GIVEN, b, None)]), tag)
                 if isinstance(out, InputFile)]
    assert [f.relpath for f in named] == [name_apart("x.jpg", a.uri), name_apart("x.jpg", b.uri)]
    (said,) = [r.getMessage() for r in caplog.records if "would share" in r.getMessage()]
    assert "each name gets a digest" in said and "keep the names" not in said


def test_a_folder_link_is_resolved_afresh_for_each_run(tmp_path):
    """Diff review 42: the folders file_key resolves were cached for the process, so a link
    re-pointed between two runs of one scheduler's process was read as before: two files
    taken for one input, history given to the wrong one."""
    import os

    from transforms.distinct_inputs import file_key

    for year in ("2024", "2025"):
        (tmp_path / year).mkdir()
        (tmp_path / year / "x.jpg").write_bytes(year.encode())
    os.symlink(tmp_path / "2024", tmp_path / "current")
    link = str(tmp_path / "current" / "x.jpg")
    assert file_key(link) == str(tmp_path / "2024" / "x.jpg")
    os.remove(tmp_path / "current")
    os.symlink(tmp_path / "2025", tmp_path / "current")
    files = [InputFile(link, "current/x.jpg", 4),
             InputFile(str(tmp_path / "2024" / "x.jpg"), "2024/x.jpg", 4)]
    with BeamTestPipeline(runner="FnApiRunner") as p:   # (a second run of the process)
        out = p | beam.Create(files) | DistinctInputs()
        assert_that(out, equal_to(files))   # two files: two inputs
    assert file_key(link) == str(tmp_path / "2025" / "x.jpg")
