"""PyTorch modules of edgelam_ns3 (installed as ``edgelam_ns3.models``).

They know nothing of ns-3: the simulator moves the tensors they exchange and charges the
compute they do.
"""

from .split_gpt import SplitGPT, gpt2_config, tensor_nbytes

__all__ = ["SplitGPT", "gpt2_config", "tensor_nbytes"]
