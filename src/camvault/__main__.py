"""``python -m camvault`` runs the same command line as the ``camvault`` script."""

from camvault.cli.main import main

raise SystemExit(main())
