"""Deployment to AWS: the stack as data, then an executor that applies it.

``template``  settings → one CloudFormation template (pure; ``camvault aws plan`` prints it).
``iam``       the least-privilege policies of the gateway, the processor and the API (pure data).
``deploy``    applies a template with change sets, shows progress and failures; destroys a stack.
``package``   builds the Lambda artifact (zip) with manylinux wheels for x86_64 or arm64.

Only ``deploy`` and ``package`` do I/O; boto3 clients are passed in by the CLI.
"""
