"""The job's plan (transforms/plan.py): which earlier failures an input meets again, so that
``--skip_existing`` skips it unread or counts it ``failed again``. The plan's skips, adoptions
and replacements run end to end in tests/pipeline/test_pipeline_local.py and
tests/transforms/test_transforms_earlier_outputs.py."""
import compress_core
from compress_core.images import DEFAULT_MAX_PIXELS
from transforms import plan


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
