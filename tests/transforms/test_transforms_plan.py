"""The job's plan (transforms/plan.py): which earlier failures an input meets again (skipped
unread, or counted ``failed again``), and PlanOutput's choice for one input between skipping it
against its output, adopting an unrecorded output and compressing it again. The plan's skips,
adoptions and replacements also run end to end in tests/pipeline/test_pipeline_local.py and
tests/transforms/test_transforms_earlier_outputs.py."""
import os

import pytest

import compress_core
from compress_core.images import DEFAULT_MAX_PIXELS
from transforms import plan
from transforms.matching import InputFile
from transforms.plan import PlannedImage, PlanOutput
from transforms.settings import CompressSettings

GRADIENT = dict(method="hybrid", energy="gradient", scale=0.5)


def test_fails_again_only_for_the_same_file_error_and_library():
    """The failures --skip_existing does not try again: an error the same bytes meet again,
    by this library version, on a file known to be the same (size, then content token or
    modification time on both sides); anything unknown is tried again."""
    import datetime as dt

    from transforms import manifest
    from transforms.earlier_outputs import EarlierFailure
    from transforms.identity import FileIdentity, epoch_us
    from transforms.matching import InputFile

    when = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
    failed = EarlierFailure("2026-12-01T08:05:00+00:00", "/in/x.jpg", "r1", "ImageDecodeError",
                            "x.jpg: cannot decode", 300, epoch_us(when), "",
                            manifest.library_version())
    item = InputFile("/in/x.jpg", "x.jpg", 300, identity=FileIdentity(when),
                     earlier_failure=failed)
    assert plan.fails_again(item)
    assert not plan.fails_again(item._replace(earlier_failure=None))
    for changed in (dict(size=301), dict(identity=FileIdentity(when + dt.timedelta(seconds=1))),
                    dict(identity=None), dict(size=None)):
        assert not plan.fails_again(item._replace(**changed)), changed
    for error in ("TimeoutError", "CompressionTimeoutError", "ImageReadError",
                  "UnsupportedImageError", "WeightsNotFoundError", "MemoryError",
                  "ImageTooLargeError", "EncodingError"):   # (diff review 24: they may pass)
        assert not plan.fails_again(item._replace(
            earlier_failure=failed._replace(error_type=error))), error
    assert plan.fails_again(item._replace(earlier_failure=failed._replace(
        error_type="NotAnImageError")))
    # a picture over the pixel limit: met again at that limit or a smaller one, tried again
    # at a larger one, or where the limit it failed at is not known (edge review 37)
    over = item._replace(earlier_failure=failed._replace(error_type="ImageTooLargeError",
                                                         max_pixels=250_000))
    assert plan.fails_again(over, 250_000) and plan.fails_again(over, 1_000)
    assert not plan.fails_again(over, 250_001) and not plan.fails_again(over)   # (default: larger)
    assert plan.fails_again(over._replace(earlier_failure=over.earlier_failure._replace(
        max_pixels=DEFAULT_MAX_PIXELS)))
    for build in ("0.0.1", compress_core.__version__):   # another build, or the version alone
        assert not plan.fails_again(item._replace(earlier_failure=failed._replace(
            library_version=build)))
    # a content token decides where both sides have one of a kind, whatever the times say
    tokened = item._replace(identity=FileIdentity(when + dt.timedelta(hours=1), "etag:abc"),
                            earlier_failure=failed._replace(input_etag="etag:abc"))
    assert plan.fails_again(tokened)
    assert not plan.fails_again(tokened._replace(identity=FileIdentity(when, "etag:abd")))


def test_a_failure_recorded_without_identity_counts_as_failed_again_not_as_skipped():
    """Rows of manifest schema 1 and 2 (releases before 2026-12-03) record no time or token:
    such a failure is tried again (never skipped unread), and failing again the same way at the
    same size it is counted ``failed again`` (upgrade review 49: the first night after an
    upgrade from such a release exited 1 on unchanged damaged photos)."""
    import datetime as dt

    from transforms.earlier_outputs import EarlierFailure
    from transforms.identity import FileIdentity
    from transforms.matching import InputFile

    when = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
    old = EarlierFailure("2026-12-01T08:05:00+00:00", "/in/x.jpg", "r1", "ImageDecodeError",
                         "x.jpg: cannot decode", 300, None, None, "0.1.0")
    item = InputFile("/in/x.jpg", "x.jpg", 300, identity=FileIdentity(when), earlier_failure=old)
    assert not plan.fails_again(item) and not plan.failed_before(item)
    assert plan.failed_before(item, unknown_is_same=True)
    assert not plan.failed_before(item._replace(size=301), unknown_is_same=True)
    assert not plan.failed_before(item._replace(earlier_failure=old._replace(
        error_type="TimeoutError")), unknown_is_same=True)


def test_a_failure_that_may_pass_is_tried_again_whatever_pixel_limit_its_row_records():
    """Every error row records its run's max_pixels (the default filled in): an error that
    may pass another time (a timeout, memory, an encoder) is tried again at any limit; only
    ImageTooLargeError is met again at a limit no larger (mutation review 50: with the error
    type dropped from that clause every failure at the default limit was skipped for ever,
    and the tests, whose rows recorded no limit, passed)."""
    import datetime as dt

    from transforms import manifest
    from transforms.earlier_outputs import EarlierFailure
    from transforms.identity import FileIdentity, epoch_us
    from transforms.matching import InputFile

    when = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
    item = InputFile("/in/x.jpg", "x.jpg", 300, identity=FileIdentity(when))
    for error in ("TimeoutError", "CompressionTimeoutError", "MemoryError", "EncodingError",
                  "ImageReadError"):
        failed = EarlierFailure("2026-12-01T08:05:00+00:00", "/in/x.jpg", "r1", error, "",
                                300, epoch_us(when), "", manifest.library_version(),
                                max_pixels=DEFAULT_MAX_PIXELS)
        assert not plan.fails_again(item._replace(earlier_failure=failed)), error
        assert not plan.failed_before(item._replace(earlier_failure=failed),
                                    unknown_is_same=True), error


def test_a_failure_recorded_with_an_identity_is_not_counted_again_for_another_file():
    """``unknown_is_same`` covers rows that record neither a time nor a token; a row that
    records either tells another file of the same size (a new damaged upload) apart: that
    one fails, it is not 'failed again' (mutation review 50)."""
    import datetime as dt

    from transforms import manifest
    from transforms.earlier_outputs import EarlierFailure
    from transforms.identity import FileIdentity, epoch_us
    from transforms.matching import InputFile

    when = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
    later = when + dt.timedelta(hours=1)
    timed = EarlierFailure("2026-12-01T08:05:00+00:00", "/in/x.jpg", "r1", "ImageDecodeError",
                           "x.jpg: cannot decode", 300, epoch_us(when), "",
                           manifest.library_version())
    item = InputFile("/in/x.jpg", "x.jpg", 300, identity=FileIdentity(later),
                     earlier_failure=timed)
    assert not plan.failed_before(item, unknown_is_same=True)
    tokened = timed._replace(input_modified=None, input_etag="etag:abc")
    assert not plan.failed_before(item._replace(identity=FileIdentity(later, "etag:abd"),
                                              earlier_failure=tokened), unknown_is_same=True)
    assert plan.failed_before(item._replace(identity=FileIdentity(later, "etag:abc"),
                                          earlier_failure=tokened), unknown_is_same=True)


def test_an_input_modified_after_its_unrecorded_output_is_compressed_again_without_a_journal(
        tmp_path, photo_files):
    """An output no manifest row names, and no journal entry either (the journal gone, or an
    output of a release before it): adopted where the input is older than it, compressed
    again (and counted replaced) where the input was modified after it was written, also
    by less than a day and at the same size (mutation review 50: the pipeline tests replace
    files with others of another size, which the journal tells apart, so the time's check
    itself was untested)."""
    from transforms.identity import stat_identity

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    (folder / "chelsea.png").write_bytes(photo_files["chelsea.png"])
    uri = str(folder / "chelsea.png")
    s = CompressSettings(**GRADIENT)
    planner = PlanOutput(s, str(out), "night", True, {})
    output = planner._uri(InputFile(uri, "chelsea.png", 1), s.output_extensions()[0])
    with open(output, "wb") as f:
        f.write(b"an earlier output")
    written = os.path.getmtime(output)

    def planned(input_time):
        os.utime(uri, (input_time, input_time))
        size, identity = stat_identity(uri, {})
        return list(planner.process(InputFile(uri, "chelsea.png", size, identity=identity)))

    older = planned(written - 60)
    assert older[0].value["status"] == "skipped" and older[0].value["output_uri"] == output
    newer = planned(written + 60)      # a minute after the output: another file
    assert isinstance(newer[0], PlannedImage) and newer[0].output_uri == output
    # a listed URI (--input_list: no listing said its time) is asked for it
    listed = list(planner.process(InputFile(uri, "chelsea.png", None)))
    assert isinstance(listed[0], PlannedImage) and listed[0].output_uri == output


def test_a_file_of_another_size_under_the_same_time_is_compressed_again(tmp_path, photo_files):
    """A photo replaced by a copy that keeps its time (cp -p, rsync -a onto a disk, which
    gives no content token): the time says nothing, the size the manifest recorded when the
    output was written does: compressed again (transforms.identity's docstring: only the same
    size goes unseen; mutation review 50: the pipeline tests' replacements all had new times,
    and _replaced without its size check passed them)."""
    from transforms.identity import stat_identity

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    (folder / "chelsea.png").write_bytes(photo_files["chelsea.png"])
    uri = str(folder / "chelsea.png")
    size, identity = stat_identity(uri, {})
    s = CompressSettings(**GRADIENT)
    ext = s.output_extensions()[0]
    planner = PlanOutput(s, str(out), "night", True, {})
    output = planner._uri(InputFile(uri, "chelsea.png", size), ext)
    with open(output, "wb") as f:
        f.write(b"an earlier output")
    recorded = InputFile(uri, "chelsea.png", size, earlier_size=size, earlier_extension=ext,
                         identity=identity, earlier_identity=identity,
                         earlier_output_bytes=os.path.getsize(output))
    same = list(planner.process(recorded))
    assert same[0].value["status"] == "skipped"
    other = list(planner.process(recorded._replace(earlier_size=size + 1000)))
    assert isinstance(other[0], PlannedImage) and other[0].output_uri == output


def test_the_plan_marks_a_failure_recorded_without_identity_as_failed_before(tmp_path):
    """The plan reads such an input (never skipped unread) and marks it failed_before, so that
    failing again the same way it is counted 'failed again', not 'failed' (upgrade review
    49; mutation review 50: the plan's unknown_is_same=True could be dropped with every test
    passing, the pipeline's rows all recording a time)."""
    import datetime as dt

    from transforms.earlier_outputs import EarlierFailure
    from transforms.identity import FileIdentity

    when = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
    old = EarlierFailure("2026-12-01T08:05:00+00:00", "/in/x.jpg", "r1", "ImageDecodeError",
                         "x.jpg: cannot decode", 300, None, None, "0.1.0")
    item = InputFile("/in/x.jpg", "x.jpg", 300, identity=FileIdentity(when), earlier_failure=old)
    planner = PlanOutput(CompressSettings(**GRADIENT), str(tmp_path / "out"), "r2", True, {})
    planned = list(planner.process(item))
    assert isinstance(planned[0], PlannedImage) and planned[0].failed_before
    planned = list(planner.process(item._replace(size=301)))     # another file: not
    assert isinstance(planned[0], PlannedImage) and not planned[0].failed_before


def test_an_output_of_the_job_in_its_output_folder_is_never_an_input(tmp_path):
    """PlanOutput._own_output, here rather than only end to end: in the output folder, an
    output of these settings, one of other settings after a picture's name, one after a name
    set apart by a digest, and one after the name of a file beside it are no inputs (a rerun
    compressed them again, one more generation each night); a photo merely named like one,
    beside no file of its stem or outside the output folder, is (mutation review 50: each of
    the four rules, and the output folder's, could be dropped with tests/transforms passing)."""
    root, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    for folder in (root, elsewhere):
        folder.mkdir()
        (folder / "frame").write_bytes(b"not a picture")
    settings = CompressSettings(**GRADIENT)
    tag = settings.params_hash()
    planner = PlanOutput(settings, str(root), "r2", False, {})

    def planned(folder, name):
        return list(planner.process(InputFile(str(folder / name), name, 300)))

    for name in (f"x.jpg.{tag}.jpg", f"scan.{tag}.jpg", "x.jpg.0123456789.webp",
                 "a_b.jpg~0123456789ab.0123456789.jpg", "frame.1718000000.jpg"):
        assert planned(root, name) == [], name
    for folder, name in ((root, "clip.1718000000.jpg"), (elsewhere, f"x.jpg.{tag}.jpg"),
                         (elsewhere, "frame.1718000000.jpg")):
        (plan_of,) = planned(folder, name)
        assert isinstance(plan_of, PlannedImage), (folder, name)
    # an input whose output would lie in a run's, the journal's, a lease's or Beam's folder of
    # the manifest is refused; one elsewhere below the manifest's root is planned
    manifest = root / "_manifest"
    planner = PlanOutput(settings, str(root), "r2", False, {}, job_folders=[str(manifest) + "/"])
    for part in ("run_id=night-2", "_journal", "_live", "_beam_temp-r2-1"):
        name = f"_manifest/{part}/x.jpg"
        with pytest.raises(ValueError, match="a folder of the job's own"):
            list(planner.process(InputFile(str(tmp_path / "in" / name), name, 300)))
    for name in ("_manifest/x.jpg", "_manifest/out/run_id=1/x.jpg", "run_id=1/x.jpg"):
        (plan_of,) = list(planner.process(InputFile(str(tmp_path / "in" / name), name, 300)))
        assert isinstance(plan_of, PlannedImage), name
