"""``train.framework: microservice_inference``: registry entry point of
:class:`edgelam_ns3.inference.framework.MicroserviceInference`."""

from ..inference.framework import MicroserviceInference

__all__ = ["MicroserviceInference"]
