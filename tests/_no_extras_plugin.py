"""pytest plugin (``-p _no_extras_plugin``): run as if the optional extras were not installed.

Every import of torch, torchvision, open_clip (the 'clip' extra), dask, distributed or fsspec
(the 'dask' extra) fails with ModuleNotFoundError, as in an environment installed with
``pip install lenscore`` alone. Used by test_optional_extras.py.
"""

from __future__ import annotations

import sys

BLOCKED = ("torch", "torchvision", "open_clip", "dask", "distributed", "fsspec")


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named '{name}' (simulated: extra not "
                                      "installed)", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
for _m in list(sys.modules):
    if _m.split(".")[0] in BLOCKED:
        del sys.modules[_m]
