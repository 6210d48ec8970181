"""Real parts for the tests: Temporal, PostgreSQL, SMTP and S3 servers on loopback."""
