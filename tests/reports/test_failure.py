"""The line that says why a trial failed, read from what Tune keeps of its error (reports/failure.py)."""
import traceback

from reports.failure import error_summary
from shapca.data.errors import DataError


def _traceback_of(raise_it) -> str:
    try:
        raise_it()
    except Exception:  # noqa: BLE001 - any exception: its traceback is the test's input
        return traceback.format_exc()


def _bad_line():
    raise DataError("contexts/bad.jsonl", 501, "not valid JSON: Expecting ',' delimiter")


def _wrapped():
    try:
        _bad_line()
    except DataError as e:
        raise RuntimeError("preparing twitter2017 failed\nsecond line of the message") from e


def test_a_tune_error_file_gives_the_last_attempts_exception_line_with_its_file_and_line():
    attempt = ("\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=6055, ip=192.0.2.2, repr=run_trial)\n"
               + _traceback_of(_bad_line).split("\n", 1)[1])  # Tune writes the frames without "Traceback ..."
    text = f"Failure # 1 (occurred at 2026-12-06_16-34-15)\n{attempt}Failure # 2 (occurred at 2026-12-06_16-34-20)\n" \
           f"{attempt.replace('501', '502')}"
    assert error_summary(text) == "DataError: contexts/bad.jsonl:502: not valid JSON: Expecting ',' delimiter"


def test_a_chained_exception_gives_the_first_line_of_the_last_one_raised():
    assert error_summary(_traceback_of(_wrapped)) == "RuntimeError: preparing twitter2017 failed"


def test_the_runners_error_tag_reads_as_its_own_first_line():
    tag = "DataError: contexts/bad.jsonl:501: not valid JSON\n\n" + _traceback_of(_bad_line)
    assert error_summary(tag) == error_summary(_traceback_of(_bad_line)) == \
        "DataError: contexts/bad.jsonl:501: not valid JSON: Expecting ',' delimiter"
    assert error_summary("DataError: contexts/bad.jsonl:501: not valid JSON") == \
        "DataError: contexts/bad.jsonl:501: not valid JSON"


def test_a_path_is_not_taken_for_a_module():
    assert error_summary("bad.jsonl:501: not valid JSON") == "bad.jsonl:501: not valid JSON"
    assert error_summary("ray.exceptions.RayTaskError(DataError): ray::ImplicitFunc.train()") == \
        "RayTaskError(DataError): ray::ImplicitFunc.train()"
    assert error_summary("trainables.checkpoints.CheckpointError: [Errno 28] no space left on the device for "
                         "runs/x/state.pt (272 MB needed, 20 MB free there)", limit=300) == \
        "CheckpointError: [Errno 28] no space left on the device for runs/x/state.pt (272 MB needed, 20 MB free there)"
