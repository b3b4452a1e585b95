"""podctl: flash, configure, watch and certify payload containers, as a
library. `import podctl` prints nothing, never exits, and loads neither
pyserial nor argparse; the names below are imported on first use.

  import podctl
  pulled = podctl.open_pulled("build/pulled")          # log, manifest, profile
  verdict = podctl.verify(pulled, podctl.Keystore().keys(pulled.manifest.device_id))
  verdict.status, [str(f) for f in verdict.findings]
  data = pulled.data()                                 # numpy samples, events, UTC

The command line (podctl.cli) is a screenful per verb over these.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (loaded lazily: PEP 562)
_EXPORTS = {
    "open_pulled": "podctl.pulled",
    "Pulled": "podctl.pulled",
    "Manifest": "podctl.pulled",
    "LogEnd": "podctl.pulled",
    "Anchor": "podctl.pulled",
    "verify": "podctl.verdict",
    "Verdict": "podctl.verdict",
    "Finding": "podctl.blocks",
    "BlockInfo": "podctl.blocks",
    "LogData": "podctl.logdata",
    "Keystore": "podctl.keystore",
    "Device": "podctl.device",
    "Seal": "podctl.seal",
    "ProductVerdict": "podctl.assess",
    "DeviceInfo": "podctl.device",
    "Status": "podctl.device",
    "PodctlError": "podctl.errors",
    "CheckFailed": "podctl.errors",
    "LinkError": "podctl.errors",
    "BadInput": "podctl.errors",
    "DeviceRefused": "podctl.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'podctl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
