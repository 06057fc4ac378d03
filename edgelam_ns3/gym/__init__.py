"""The tool's decisions as Gymnasium environments, stepped in-process on ns-3's clock.

- :class:`EdgeLamEnv` (:mod:`.scheduling`): per-round device scheduling and radio shares of the
  scheduling frameworks (``split_fed_lora``, ``fed_lora``);
- :class:`BeamEnv` (:mod:`.beams`): the beam of each UE of a cell, every decision period, on
  the live NR radio;
- :class:`PlacementEnv` (:mod:`.placement`): where each microservice of a served LAM runs.

ns-3's simulator is a process singleton: one environment per process at a time (``close``
ends its simulation, ``reset`` starts a new one); run several in separate processes.
"""

from .beams import BeamEnv
from .placement import PlacementEnv
from .scheduling import REWARDS, SCHEDULING_FRAMEWORKS, EdgeLamEnv, make_env

__all__ = ["EdgeLamEnv", "BeamEnv", "PlacementEnv", "make_env", "REWARDS",
           "SCHEDULING_FRAMEWORKS"]
