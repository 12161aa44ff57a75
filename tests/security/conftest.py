"""The security suites that watch whole processes (their logs, their task messages) need a broker
no other worker of the test run listens on: they borrow the fault suites' dedicated servers."""
from faults.conftest import empty_tables, fault_app, fault_servers, fault_settings, system  # noqa: F401
