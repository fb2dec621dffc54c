"""camvault: keep IP camera motion clips safe off the camera, catalog them, play them back.

The parts, along the one data path (see docs/architecture.md)::

    camera ─FTP─▶ gateway ─spool─▶ outbox ─upload─▶ store ─ObjectCreated─▶ processor ─▶ catalog ─▶ api

``domain``     pure logic: object keys, capture time, S3 event parsing, the event model, alarm
               incidents. No I/O.
``config``     the settings schema, TOML + ``CAMVAULT_*`` loading, the starter file.
``store``      object stores behind one protocol: ``file://`` (default) and ``s3://``.
``catalog``    the event catalog behind one protocol: ``sqlite:///`` (default), ``dynamodb://``.
``media``      probing, thumbnails and small transcodes with PyAV, bounded in time and memory.
``processor``  turns ObjectCreated records into catalog entries; threads locally, Lambda on AWS;
               then tells its listeners (the transcode queue, the notifier).
``notify``     MQTT (Home Assistant discovery) and webhook notifications, rate-limited per camera.
``accounts``   cameras (and later users and tokens) with hashed secrets.
``ingest``     the gateway's twin: puts a file into the store the way an FTP upload does.
``retention``  which events expire (a pure plan over a store listing) and deleting them safely.
``keep``       the keep marker beside an original: retention never deletes a kept event.
``api``        the REST API (FastAPI).
``web``        the web app (static pages and ES modules) the API's app serves.
``cli``        the ``camvault`` command.
``factory``    the one place that builds adapters from settings and passes them in.
"""

__version__ = "0.1.0"
