"""The ``sluicegate`` command line (``sluicegate = "sluicegate.cli:main"``).

``parser`` declares every command and dispatches to it. The commands that run
on this machine: ``serve``, ``check`` (``config_file``) and ``migrate``
(``storage``). The commands that read or change a running gateway, only
through its admin API (``admin_api``) so that every change is validated once
and reaches every worker: ``tenants``, ``keys``, ``usage`` (and ``forecast``)
and ``cache``. Imports wait inside the commands, so each loads only what it uses.
"""

from sluicegate.cli.parser import main

__all__ = ["main"]
