"""The processor: ObjectCreated records in, catalog entries out.

``core`` processes one object; ``journal`` keeps events durable until processed; ``workers``
runs the embedded worker threads with retries; ``lambda_handler`` (AWS) is a thin adapter over
the same ``core``.
"""
