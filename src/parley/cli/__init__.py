"""The ``parley`` command."""

from . import _admin as _admin  # registers the operator and peer commands
from . import _agreements as _agreements  # registers the agreement commands
from . import _allegations as _allegations  # registers allegation list|show and report
from . import _audit as _audit  # registers audit list
from . import _backup as _backup  # registers backup and restore
from . import _channels as _channels  # registers the channel commands
from . import _db as _db  # registers db current|upgrade
from . import _demo as _demo  # registers the demo command
from . import _events as _events  # registers send, events and ack
from . import _excerpt as _excerpt  # registers excerpt
from . import _exchanges as _exchanges  # registers the exchange commands and operator grant
from . import _node as _node  # registers init, serve and node show
from . import _record as _record  # registers export and verify
from . import _sites as _sites  # registers the sites commands
from . import _talks as _talks  # registers the talks commands
from ._main import app

__all__ = ["app"]
