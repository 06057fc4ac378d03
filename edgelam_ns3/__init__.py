"""edgelam_ns3: edge large AI models co-simulated over a 6G network in ns-3.

The public API is plain Python (:mod:`edgelam_ns3.sim`, :mod:`edgelam_ns3.config`, ...);
the compiled bridge ``edgelam_ns3._core`` is private.
"""

__version__ = "0.1.0"


def _load_core():
    """Import the compiled bridge, or say how to build it."""
    try:
        from . import _core
    except ImportError as exc:  # pragma: no cover - exercised only on a broken install
        raise ImportError(
            "edgelam_ns3's compiled bridge (edgelam_ns3._core) is not built or failed to load: "
            f"{exc}. Build it with `scripts/setup.sh` (or `pip install --no-build-isolation -e .` "
            "inside .venv, with libns3-dev installed)."
        ) from exc
    return _core
