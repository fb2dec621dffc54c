"""The event catalog behind one protocol, chosen by URL scheme (``sqlite:///``, ``dynamodb://``)."""
