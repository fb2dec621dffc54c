"""The processor: ObjectCreated records in, catalog entries out.

``core`` processes one object; ``journal`` keeps events durable until processed; ``workers``
runs the embedded worker threads with retries. Every delivery path (workers, ``ingest``,
``reindex``, and on AWS a Lambda handler) calls the same ``Processor.process``.
"""
