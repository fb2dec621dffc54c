"""Object stores behind one protocol, chosen by URL scheme (``file://``, ``s3://``).

The store is the system of record: the catalog can always be rebuilt from it.
"""
