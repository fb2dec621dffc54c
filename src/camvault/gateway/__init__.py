"""The FTP gateway: cameras upload over FTP/FTPS, and a ``226`` reply is a promise.

The parts, in the order an upload meets them:

- :mod:`~camvault.gateway.server`: the listening FTP server (pyftpdlib, one thread per
  connection), passive ports, masquerade address, connection limits, timeouts;
- :mod:`~camvault.gateway.tls`: explicit FTPS (``AUTH TLS``) and the self-signed pair that
  ``camvault init`` writes;
- :mod:`~camvault.gateway.authorizer`: registered cameras log in with their hashed password;
  failed logins are throttled per client address;
- :mod:`~camvault.gateway.filesystem`: each camera is confined to its home in the spool;
- :mod:`~camvault.gateway.handler`: one FTP session; publishes a finished upload before ``226``
  and refuses uploads with ``452`` when the spool is full;
- :mod:`~camvault.gateway.layouts`: what a camera's path means (publish, temporary name,
  sidecar) and the ``source_path`` from which the capture time is read;
- :mod:`~camvault.gateway.remux`: ``.mkv``/``.avi`` to MP4 without re-encoding;
- :mod:`~camvault.gateway.spool`: commit = fsync + hard link + durable outbox row;
- :mod:`~camvault.gateway.outbox` and :mod:`~camvault.gateway.uploader`: drain the spool to the
  object store, verified, with retries; the local copy goes only once the store has it;
- :mod:`~camvault.gateway.metrics`: the figures ``camvault status`` and ``/api/v1/metrics`` show.
"""
