"""The Lambda handlers (``api``, ``purge``).

Runs before either handler imports Powertools: the garbage collector waits for the first
answer (in Lambda), and the Powertools packages whose ``__init__`` imports far more than
binvault uses are made lazy. Both are ``coldstart.py``'s, with their measured savings.
"""

from binvault.handlers import coldstart

coldstart.pause_gc()
coldstart.install_lazy_packages()
