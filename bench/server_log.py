"""A starting server's log as the benchmarks read it: wait for the master's "ready" line,
noting one number from the lines before it."""
import re
import time


def wait_ready(stream, pattern, timeout):
    """Reads `stream` (the server's stderr, as text) line by line until the master says
    its workers are serving or `timeout` seconds pass; returns the first group of the last
    line `pattern` matched, as an int, or None."""
    found = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        m = re.search(pattern, line)
        if m:
            found = int(m.group(1))
        if re.search(r"ready: \d+ workers serving", line):
            break
    return found
