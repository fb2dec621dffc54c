"""Who may upload and who may look, with secrets stored only as hashes.

``registry``: cameras and their FTP passwords. ``auth_base``: the login rules (admin secret,
sessions, API tokens, throttling via ``throttle``) over the ``AuthStore`` primitives; ``local``
implements them on the accounts SQLite file with ``users``, ``tokens`` and ``sessions``, and
``failures`` keeps the failed logins there that every process opening the file shares;
``lambda_auth`` does without any accounts, for the API on AWS Lambda (the IAM caller API Gateway
verified, the admin secret as Bearer token);
``schema`` holds that file's tables; ``passwords`` hashes with scrypt.
"""
