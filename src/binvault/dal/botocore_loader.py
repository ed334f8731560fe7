"""botocore's data loader, without the survey of every AWS service on a cold start.

Before it loads a model, botocore's ``Loader.load_service_model`` asks
``list_available_services`` for every service directory it ships (400+: one ``listdir``
each and a ``stat`` per API version, twice: for ``service-2`` and ``endpoint-rule-set-1``),
only to check that the one service asked for is among them. That was 10-20 ms of each cold
start here, more on a cold filesystem. This loader answers the same question by looking in
that service's own directory: ``list_available_services`` returns a sequence whose ``in``
test does just that, and which lists every service, exactly as botocore does, only if it is
iterated (an error message, ``Session.get_available_services``). Everything else is
botocore's own. Imported only when the client is built (botocore is not imported before).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, overload

from botocore.loaders import Loader


class KnownServicesLoader(Loader):  # type: ignore[misc]
    """botocore's ``Loader``; which services exist is looked up one service at a time."""

    def list_available_services(self, type_name: str) -> AvailableServices:
        return AvailableServices(self, type_name)

    def has_model(self, service: str, type_name: str) -> bool:
        """Whether some API version of ``service`` has a ``type_name`` file, in any search path."""
        for location in self.search_paths:
            directory = os.path.join(location, service)
            if os.path.isdir(directory) and any(
                self.file_loader.exists(os.path.join(directory, api_version, type_name))
                for api_version in os.listdir(directory)
            ):
                return True
        return False

    def every_service(self, type_name: str) -> list[str]:
        """botocore's answer: every service with a ``type_name`` model, sorted."""
        services = set()
        for location in self.search_paths:
            if os.path.isdir(location):
                for service in os.listdir(location):
                    if os.path.isdir(os.path.join(location, service)) and self.has_model(service, type_name):
                        services.add(service)
        return sorted(services)


class AvailableServices(Sequence[str]):
    """The services with a ``type_name`` model: ``in`` looks at one service's directory, and
    only indexing, ``len`` or iteration lists them all."""

    def __init__(self, loader: KnownServicesLoader, type_name: str) -> None:
        self._loader, self._type_name = loader, type_name
        self._known: dict[str, bool] = {}
        self._all: list[str] | None = None

    def __contains__(self, service: object) -> bool:
        if not isinstance(service, str):
            return False
        if service not in self._known:
            self._known[service] = self._loader.has_model(service, self._type_name)
        return self._known[service]

    def _every(self) -> list[str]:
        if self._all is None:
            self._all = self._loader.every_service(self._type_name)
        return self._all

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._every()[index]

    def __len__(self) -> int:
        return len(self._every())

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())


def loader_for(session: Any) -> KnownServicesLoader:
    """The loader botocore's session would create (``botocore.loaders.create_loader``, with
    ``AWS_DATA_PATH``'s directories first), looking services up one at a time."""
    data_path = session.get_config_variable("data_path")
    if data_path is None:
        return KnownServicesLoader()
    paths = [os.path.expanduser(os.path.expandvars(path)) for path in data_path.split(os.pathsep)]
    return KnownServicesLoader(extra_search_paths=paths)


def install(session: Any) -> None:
    """Give ``session`` this loader, once (a session shared by many clients keeps the one
    it has, with the models it has loaded)."""
    if not isinstance(session.get_component("data_loader"), KnownServicesLoader):
        session.register_component("data_loader", loader_for(session))
