"""``python -m gis`` is the same as the ``gridlens`` command."""

from gis.cli import main

raise SystemExit(main())
