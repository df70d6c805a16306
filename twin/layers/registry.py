"""The one place that names the layers: which run, in which order, built from what.

Order matters twice: each interval every layer steps in this order, and each chunk is handed
to every layer in this order, so a layer reads what the layers before it wrote into the chunk:
the market's grid check curtails before anyone reads the metered powers, its trades go to the
chain, and the devices' reward transactions follow the batch commits on the chain. The economy
layer, built after the chain layer, tells it the treasury before the first batch closes, and
finishes after it (its ``treasury`` table reads the final batches).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from twin.layers.base import Layer
from twin.layers.chain import ChainLayer
from twin.layers.context import LayerContext
from twin.layers.data_sales import DataSalesLayer
from twin.layers.devices import DeviceLayer
from twin.layers.dimming import DimmingLayer
from twin.layers.dispatch import DispatchLayer
from twin.layers.economy import EconomyLayer
from twin.layers.flex import FlexLayer
from twin.layers.market import MarketLayer

#: Builds a layer from the run's context and the layers built before it (by name).
Factory = Callable[[LayerContext, Mapping[str, Layer]], Layer]


def _dispatch(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    twin = ctx.twin
    assert twin.forecast_policy is not None
    assert twin.series_rows is not None
    return DispatchLayer(ctx, twin.forecast_policy, twin.series_rows)


def _flex(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    assert ctx.twin.flex is not None
    return FlexLayer(ctx, ctx.twin.flex)


def _dimming(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    assert ctx.twin.dimming is not None
    return DimmingLayer(ctx, ctx.twin.dimming)


def _market(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    dispatch = built.get("dispatch")
    return MarketLayer(ctx, dispatch if isinstance(dispatch, DispatchLayer) else None)


def _chain(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    return ChainLayer(ctx)


def _devices(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    chain = built["chain"]
    assert isinstance(chain, ChainLayer)
    economy = built.get("economy")
    if isinstance(economy, EconomyLayer):
        return DeviceLayer(ctx, chain, economy.treasury, economy.fees_micro_eur, economy.movements)
    return DeviceLayer(ctx, chain)


def _economy(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    chain = built["chain"]
    assert isinstance(chain, ChainLayer)
    return EconomyLayer(ctx, chain)


def _data_sales(ctx: LayerContext, built: Mapping[str, Layer]) -> Layer:
    chain, devices, economy = built["chain"], built["devices"], built["economy"]
    assert isinstance(chain, ChainLayer)
    assert isinstance(devices, DeviceLayer)
    assert isinstance(economy, EconomyLayer)
    return DataSalesLayer(ctx, chain, devices, economy)


def layer_factories(ctx: LayerContext) -> list[tuple[str, Factory]]:
    """The layers a scenario runs, in order, as (name, factory).

    The dispatch layer is built first (the market orders on its forecasts) but runs after the
    market (it records the curtailed powers); see :func:`run_order`.
    """
    sc, twin = ctx.scenario, ctx.twin
    factories: list[tuple[str, Factory]] = []
    if twin.forecast_policy is not None:
        factories.append(("dispatch", _dispatch))
    factories.append(("market", _market))
    if twin.flex is not None:
        factories.append(("flex", _flex))
        if twin.dimming is not None:  # the operator dims flexible loads: [flex] is on
            factories.append(("dimming", _dimming))
    if sc.chain.enabled:
        factories.append(("chain", _chain))
        if sc.economy.enabled:  # built first: the devices slash to its treasury, count its fees
            factories.append(("economy", _economy))
        if sc.devices.enabled:
            factories.append(("devices", _devices))
            if sc.devices.data_sales.enabled:  # the scenario checks [economy] is on
                factories.append(("data_sales", _data_sales))
    return factories


#: The order layers step and take chunks in (names not built are skipped).
RUN_ORDER = ("market", "dispatch", "flex", "dimming", "chain", "devices", "data_sales", "economy")


def run_order(layers: Mapping[str, Layer]) -> list[Layer]:
    """The built layers in :data:`RUN_ORDER`."""
    missing = set(layers) - set(RUN_ORDER)
    if missing:
        raise ValueError(f"layers without a place in the run order: {sorted(missing)}")
    return [layers[name] for name in RUN_ORDER if name in layers]
