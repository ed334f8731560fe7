"""``python -m binvault.admin``: the operator CLI, as ``binvault-admin`` runs it (the tests
and the local stack's banner start it this way)."""

import sys

from binvault.admin import main

sys.exit(main())
