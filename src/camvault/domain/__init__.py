"""Pure domain logic: object keys, capture time, S3 event parsing and the event model.

Nothing in this package performs I/O (no files, sockets, clocks or environment): callers pass
the current time and any settings in. That keeps it importable from a Lambda cold start and
testable without fixtures.
"""
