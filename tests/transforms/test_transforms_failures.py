"""transforms/failures.py and dead_letters.py: every step's exceptions become Failure records
through Beam's with_exception_handling, with the message, type and traceback of the exception."""
import json
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from compress_core.errors import ImageDecodeError, ImageReadError
from transforms.dead_letters import WriteDeadLetters, failure_record
from transforms.failures import FAILED, CatchFailures, Failure, exception_message
from transforms.matching import InputFile


class _Explode(beam.DoFn):
    """Fails on odd sizes (a half-written output is dropped), tags size 0 as ``empty``."""

    def process(self, item):
        if item.size == 0:
            yield beam.pvalue.TaggedOutput("empty", item.uri)
            return
        yield item.uri + "#partial"
        if item.size % 2:
            raise ImageDecodeError(f"{item.uri}: broken\nsecond line")
        yield item.uri


def test_catch_failures_turns_exceptions_into_failures_and_keeps_tagged_outputs():
    items = [InputFile("a.jpg", "a.jpg", 2), InputFile("b.jpg", "b.jpg", 3),
             InputFile("c.jpg", "c.jpg", 0)]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        res = p | beam.Create(items) | CatchFailures(_Explode(), "read", "empty")
        assert_that(res["ok"], equal_to(["a.jpg#partial", "a.jpg"]), label="Ok")
        assert_that(res["empty"], equal_to(["c.jpg"]), label="Tagged")
        seen = res[FAILED] | beam.Map(lambda f: (f.input_uri, f.stage, f.error_type,
                                                f.error_message, f.input_bytes,
                                                "in process" in f.traceback))
        assert_that(seen, equal_to([("b.jpg", "read", "ImageDecodeError",
                                     "b.jpg: broken\nsecond line", 3, True)]), label="Failed")


def _formatted(exc):
    import traceback

    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return traceback.format_exception(type(caught), caught, caught.__traceback__)


@pytest.mark.parametrize("exc, message", [
    (ImageReadError("gs://b/x.jpg: no such file"), "gs://b/x.jpg: no such file"),
    (TimeoutError("took longer than 3 s"), "took longer than 3 s"),
    (ValueError(""), "ValueError('')"),
    (KeyError("k"), "'k'"),
])
def test_exception_message_is_str_of_the_exception(exc, message):
    assert exception_message(type(exc), repr(exc), _formatted(exc)) == message


@pytest.mark.parametrize("said, in_the_jobs_flags", [
    ("/in/x_max_pixels/a.jpg: compression ran past its time budget of 0.001 s (max_seconds) "
     "and was stopped", "/in/x_max_pixels/a.jpg: compression ran past its time budget of "
     "0.001 s (--max_seconds_per_image) and was stopped"),
    ("/in/a.jpg: target_bytes=100 cannot be met", "/in/a.jpg: --target_bytes 100 cannot be met"),
    ("/in/scale=0.5/a.jpg: broken", "/in/scale=0.5/a.jpg: broken"),   # (a path stays as it is)
])
def test_a_failure_says_the_options_in_the_jobs_flags(said, in_the_jobs_flags):
    """README review 39: the job's error rows named compress()'s parameters (``max_seconds``,
    ``target_bytes=100``) where the command line says its flags: the job's flags now."""
    from transforms.failures import failure_from_dead_letter

    exc = TimeoutError(said)
    failure = failure_from_dead_letter(("/in/a.jpg", (TimeoutError, repr(exc), _formatted(exc))),
                                       "compress")
    assert failure.error_message == in_the_jobs_flags


@pytest.mark.parametrize("uri", ["http://cdn.example/x.jpg?format=webp&quality=80",
                                 "/in/render quality=80.jpg", "/in/best (quality).jpg"])
def test_a_failures_input_name_is_not_read_as_options(uri):
    """Diff review 39: the translation into the job's flags rewrote the input's own name
    (``x.jpg?--format webp&quality=80``) in the row and the dead letter."""
    from transforms.failures import failure_from_dead_letter

    exc = ImageReadError(f"{uri}: no such file; quality=80 cannot be used")
    failure = failure_from_dead_letter((uri, (ImageReadError, repr(exc), _formatted(exc))),
                                       "read")
    assert failure.error_message == f"{uri}: no such file; --quality 80 cannot be used"


def test_exception_message_of_a_chained_exception_is_the_last_one():
    try:
        try:
            raise OSError("disk")
        except OSError as inner:
            raise ImageReadError("x.jpg: cannot read (OSError: disk)") from inner
    except ImageReadError as exc:
        import traceback

        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    assert exception_message(ImageReadError, "r", lines) == "x.jpg: cannot read (OSError: disk)"


def test_dead_letters_are_json_lines_with_the_run_id(tmp_path):
    failure = Failure("gs://b/x.jpg", "read", "ImageReadError", "gs://b/x.jpg: no such file",
                      "Traceback ...", input_bytes=3)
    record = failure_record(failure, "r1")
    assert record["run_id"] == "r1" and record["input_bytes"] == 3 and record["stage"] == "read"
    with BeamTestPipeline(runner="FnApiRunner") as p:
        _ = p | beam.Create([failure]) | WriteDeadLetters(str(tmp_path / "dl"), "r1")
    files = list((tmp_path / "dl").iterdir())
    assert [f.name.endswith(".jsonl") for f in files] == [True]
    assert json.loads(files[0].read_text()) == json.loads(json.dumps(record))


def test_a_dead_letters_time_is_iso_8601(tmp_path):
    """The input's modification time was written by str(): "2026-12-07 12:59:44.000096+00:00",
    where the report's JSON and the journal write ISO 8601 (analyst review 48)."""
    import datetime as dt

    when = dt.datetime(2026, 12, 7, 12, 59, 44, 96, tzinfo=dt.timezone.utc)
    failure = Failure("gs://b/x.jpg", "read", "ImageReadError", "gs://b/x.jpg: no such file",
                      "Traceback ...", input_bytes=3, input_modified=when)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        _ = p | beam.Create([failure]) | WriteDeadLetters(str(tmp_path / "dl"), "r1")
    (written,) = (tmp_path / "dl").iterdir()
    record = json.loads(written.read_text())
    assert record["input_modified"] == "2026-12-07T12:59:44.000096+00:00"
    assert dt.datetime.fromisoformat(record["input_modified"]) == when


def test_clearing_a_stopped_launchs_letters_reads_its_folder_name_as_written(tmp_path):
    """The folder was globbed: an --output of "cams [1]" cleared "cams 1"'s dead letters of
    the same run id, and not its own (diff review 48)."""
    from transforms.dead_letters import clear_stopped_letters

    mine = tmp_path / "cams [1]" / "_dead_letters" / "run_id=nightly"
    other = tmp_path / "cams 1" / "_dead_letters" / "run_id=nightly"
    for folder in (mine, other):
        folder.mkdir(parents=True)
        (folder / "failures-0123456789abcdef.jsonl").write_text("{}\n")
        (folder / "notes.txt").write_text("x")
    assert clear_stopped_letters(str(mine)) == 1
    assert sorted(os.listdir(mine)) == ["notes.txt"]
    assert sorted(os.listdir(other)) == ["failures-0123456789abcdef.jsonl", "notes.txt"]
    assert clear_stopped_letters(str(tmp_path / "none")) == 0
