"""Fixtures shared by every test: the real servers come from `tests.harness`."""

pytest_plugins = [
    "tests.harness.temporal",
    "tests.harness.postgres",
    "tests.harness.database",
    "tests.harness.s3",
    "tests.harness.smtp",
    "tests.harness.dovecot",
]
