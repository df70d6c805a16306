"""pandapower networks: SimBench codes, pandapower's examples, pandapower JSON files.

Every network comes back in the same shape: loads carry a SimBench load profile name in
``net.load.profile`` (SimBench nets have their own; other nets get household profiles by
seeded draw), and the generators and storage units that came with the grid are removed,
because the scenario's ``[nodes]`` section decides generation and storage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from grid.cache import cached_pickle

#: Household profiles drawn for loads of nets that carry no SimBench profile.
HOUSEHOLD_PROFILES = ("H0-A", "H0-B", "H0-C", "H0-G", "H0-L")

_EXAMPLES: dict[str, Callable[[], pp.pandapowerNet]] = {
    "cigre_lv": pn.create_cigre_network_lv,
    "cigre_mv": pn.create_cigre_network_mv,
    "kerber_landnetz_kabel_1": pn.create_kerber_landnetz_kabel_1,
    "kerber_dorfnetz": pn.create_kerber_dorfnetz,
}


def simbench_net(code: str) -> pp.pandapowerNet:
    """The SimBench grid ``code`` as a pandapower net (profiles are read separately)."""
    import copy

    def read() -> pp.pandapowerNet:
        import simbench

        net = simbench.get_simbench_net(code)
        net.profiles = {}
        return net

    return copy.deepcopy(cached_pickle(f"net-{code}", read))


def example_net(name: str) -> pp.pandapowerNet:
    """One of pandapower's example networks by its short name (``cigre_lv``, ...)."""
    try:
        return _EXAMPLES[name]()
    except KeyError:
        raise ValueError(f"unknown example {name!r}; choose one of {sorted(_EXAMPLES)}") from None


def file_net(path: Path) -> pp.pandapowerNet:
    """A pandapower net saved with ``pandapower.to_json``."""
    return pp.from_json(str(path))


def prepare(net: pp.pandapowerNet, rng: np.random.Generator) -> pp.pandapowerNet:
    """Bring a net into gridtwin's shape (in place) and return it.

    Removes static generators and storage units, keeps in-service loads only, and gives every
    load a SimBench load profile name (drawn with ``rng`` where missing).
    """
    for table in ("sgen", "storage"):
        if len(net[table]):
            net[table] = net[table].iloc[0:0]
    net.load = net.load[net.load.in_service.astype(bool)].copy()
    if "profile" not in net.load.columns:
        net.load["profile"] = None
    missing = net.load.profile.isna() | (net.load.profile.astype(str) == "")
    if missing.any():
        drawn = rng.choice(HOUSEHOLD_PROFILES, size=int(missing.sum()))
        net.load.loc[missing, "profile"] = drawn
    if not len(net.ext_grid):
        raise ValueError("the network has no ext_grid (slack): gridtwin needs one")
    return net


def build_net(
    *,
    simbench_code: str | None = None,
    example: str | None = None,
    file: Path | None = None,
    rng: np.random.Generator,
) -> pp.pandapowerNet:
    """Build the prepared net from exactly one source."""
    if simbench_code is not None:
        net = simbench_net(simbench_code)
    elif example is not None:
        net = example_net(example)
    elif file is not None:
        net = file_net(file)
    else:
        raise ValueError("no network source given")
    return prepare(net, rng)


def simbench_scenario(code: str | None) -> int:
    """SimBench scenario number (0, 1, 2) of a code, 0 for non-SimBench nets."""
    if code is None:
        return 0
    import simbench

    return int(simbench.get_parameters_from_simbench_code(code)[5])
