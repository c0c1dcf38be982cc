"""The fixture studies of tests/reports that have golden files (one list for the conftest and the tests)."""

STUDIES = ("factorial", "samples", "context", "main", "search", "tiny", "verdicts")
