"""transforms/failures.py and dead_letters.py: a caught exception becomes a Failure record."""
from compress_core.errors import ImageReadError
from transforms.dead_letters import failure_record
from transforms.failures import Failure


def test_failure_from_exception_keeps_type_message_and_traceback():
    try:
        raise ImageReadError("gs://b/x.jpg: no such file")
    except ImageReadError as exc:
        failure = Failure.from_exception(exc, "gs://b/x.jpg", "read", input_bytes=3)
    assert failure.error_type == "ImageReadError" and failure.stage == "read"
    assert "no such file" in failure.error_message and "Traceback" in failure.traceback
    record = failure_record(failure, "r1")
    assert record["run_id"] == "r1" and record["input_bytes"] == 3
