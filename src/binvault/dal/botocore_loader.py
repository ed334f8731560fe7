"""botocore's data loader, without the survey of every AWS service on a cold start.

Before it loads a model, botocore's ``Loader.list_available_services`` lists every service
directory it ships (400+: one ``listdir`` each, a ``stat`` per API version, twice: for
``service-2`` and ``endpoint-rule-set-1``), only to check that the one service asked for
is among them. That was 10-20 ms of each cold start here, more on a cold filesystem, for
an answer this process knows: it only ever creates DynamoDB clients (``dal/client.py``).
This loader answers for the services it is given by looking at their own directories, in
the same search paths, in the same way; everything else is botocore's own. Imported only
when the client is built (botocore is not imported before).
"""

from __future__ import annotations

import os
from typing import Any

from botocore.loaders import Loader, instance_cache


class KnownServicesLoader(Loader):  # type: ignore[misc]
    """A botocore ``Loader`` that only knows ``services`` (and looks for nothing else)."""

    def __init__(self, services: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services

    @instance_cache  # type: ignore[misc]
    def list_available_services(self, type_name: str) -> list[str]:
        available = set()
        for location in self.search_paths:
            for service in self.services:
                directory = os.path.join(location, service)
                if not os.path.isdir(directory):
                    continue
                for api_version in os.listdir(directory):
                    if self.file_loader.exists(os.path.join(directory, api_version, type_name)):
                        available.add(service)
                        break
        return sorted(available)


def loader_for(session: Any, services: tuple[str, ...]) -> KnownServicesLoader:
    """The loader botocore's session would create (``botocore.loaders.create_loader``, with
    ``AWS_DATA_PATH``'s directories first), knowing ``services``."""
    data_path = session.get_config_variable("data_path")
    if data_path is None:
        return KnownServicesLoader(services)
    paths = [os.path.expanduser(os.path.expandvars(path)) for path in data_path.split(os.pathsep)]
    return KnownServicesLoader(services, extra_search_paths=paths)
