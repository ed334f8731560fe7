"""What the tests, the soak and the benchmarks share to drive binvault (one copy of each):

- ``stack``: the local stack (``make run``) in a subprocess on free ports: ``start_stack``,
  ``local_stack``, ``free_port``, ``child_env``;
- ``inproc``: the stack's parts in this process (``in_process``) and the service's caches;
- ``client``: the one HTTP client for the API (``Client``, ``Reply``, ``expect``);
- ``faults``: DynamoDB faults beneath botocore's retries: planned ones (``Faults``) and random
  ones with bursts (``RandomFaults``), transient errors and lost responses alike;
- ``tables``: a bin's items read straight from the table.

It lives under tests/ (a package) and the benchmarks import it as ``tests.support``: both run
from the checkout's root (``make test``, ``make bench`` = ``python -m bench``), where
``tests`` is importable, and nothing here is shipped (the Lambda package is src/binvault).
"""
