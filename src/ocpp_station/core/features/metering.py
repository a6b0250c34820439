"""MeterValues: sampled and clock-aligned data (OCPP 1.6 §4.7, §9.1.5, §9.1.15-§9.1.28).

Sampled: every MeterValueSampleInterval seconds from the start of a transaction, MeterValuesSampledData
(context Sample.Periodic), plus Transaction.Begin / Transaction.End readings. Clock-aligned: on the
ClockAlignedDataInterval grid from 00:00 UTC of the OCPP clock, MeterValuesAlignedData (Sample.Clock).
StopTxnSampledData / StopTxnAlignedData readings are gathered into the StopTransaction transactionData.
Which measurands exist and how each is read is :data:`ocpp_station.core.measurands.MEASURAND_TABLE`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TypeVar

from ocpp_station.config.keys import split_csl
from ocpp_station.core.clock import next_aligned
from ocpp_station.core.context import Context
from ocpp_station.core.features.base import ConfigHook, Feature, Trigger, connectors_for
from ocpp_station.core.measurands import samples
from ocpp_station.core.model import Transaction
from ocpp_station.wire.messages import (
    MeterValue,
    MeterValuesRequest,
    ReadingContext,
    SampledValue,
    StopTransactionMeterValue,
    StopTransactionSampledValue,
    TriggerMessageStatus,
)
from ocpp_station.wire.timestamps import Timestamp

_Sample = TypeVar("_Sample", SampledValue, StopTransactionSampledValue)

#: The items of a measurand list value, by its text (parsed once, not at every sample).
_ITEMS: dict[str, tuple[str, ...]] = {}


class Metering(Feature):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        #: Register value at the previous clock-aligned boundary, per connector (Interval measurands).
        self._aligned_energy: dict[int, float] = {}
        self._boundary = 0.0

    def _measurands(self, key: str) -> tuple[str, ...]:
        """MeterValuesSampledData / MeterValuesAlignedData; an empty list means the energy register
        (OCTT TC_070_CS, TC_071_CS: "Energy.Active.Import.Register is assumed as default")."""
        text = self.ctx.config.get(key)
        items = _ITEMS.get(text)
        if items is None:
            items = tuple(split_csl(text)) or ("Energy.Active.Import.Register",)
            if len(_ITEMS) < 256:  # a few configured lists per process; bounded all the same
                _ITEMS[text] = items
        return items

    def _read(
        self,
        kind: type[_Sample],
        connector_id: int,
        measurands: Sequence[str],
        context: ReadingContext,
        interval_energy_wh: float | None,
    ) -> list[_Sample]:
        spec = self.ctx.settings.spec(connector_id)
        return samples(
            kind,
            measurands,
            self.ctx.meter(connector_id),
            context,
            phases=spec.phases,
            voltage_v=spec.voltage_v,
            interval_energy_wh=interval_energy_wh,
        )

    def _meter_value(
        self,
        connector_id: int,
        measurands: Sequence[str],
        context: ReadingContext,
        interval_energy_wh: float | None = None,
        at: float | None = None,
    ) -> MeterValue | None:
        """A MeterValues.req meterValue (§7.30) of ``measurands`` as of now, stamped ``at`` (OCPP
        time; None: now); None when the meter gives none of them."""
        values = self._read(SampledValue, connector_id, measurands, context, interval_energy_wh)
        if not values:
            return None
        return MeterValue(
            timestamp=Timestamp(self.ctx.ocpp_time() if at is None else at), sampled_value=values
        )

    def _stop_value(
        self,
        connector_id: int,
        measurands: Sequence[str],
        context: ReadingContext,
        interval_energy_wh: float | None = None,
        at: float | None = None,
    ) -> StopTransactionMeterValue | None:
        """The same as a StopTransaction.req transactionData element (a type of its own in the schema)."""
        values = self._read(
            StopTransactionSampledValue, connector_id, measurands, context, interval_energy_wh
        )
        if not values:
            return None
        stamp = Timestamp(self.ctx.ocpp_time() if at is None else at)
        return StopTransactionMeterValue(timestamp=stamp, sampled_value=values)

    def sampled_now(self, connector_id: int, context: ReadingContext) -> MeterValue | None:
        """A meterValue of the MeterValuesSampledData measurands as of now (TriggerMessage: "Trigger",
        OCPP 1.6 §5.17), or None when the meter gives none of them."""
        return self._meter_value(connector_id, self._measurands("MeterValuesSampledData"), context)

    def send(self, connector_id: int, meter_value: MeterValue, tx: Transaction | None) -> None:
        request = MeterValuesRequest(connector_id=connector_id, meter_value=[meter_value])
        if tx is None:
            self.ctx.call(request)
        else:
            # Transaction-related by its meta (core/policy.py); transactionId is filled in when sent
            # (Transactions.prepare), once the CSMS gave one.
            self.ctx.call(request, meta={"tx": tx.local_id})

    # -- sampled data --------------------------------------------------------------------------
    def start_sampling(self, tx: Transaction) -> None:
        cid = tx.connector_id
        begin_context = ReadingContext.Transaction_Begin
        begin = self._meter_value(cid, self._measurands("MeterValuesSampledData"), begin_context)
        if begin is not None and self.ctx.config.get_int("MeterValueSampleInterval") > 0:
            self.send(cid, begin, tx)
        self._collect_stop_data(tx, "StopTxnSampledData", begin_context)
        self._schedule_sample(cid)

    def transaction_resumed(self, tx: Transaction) -> None:
        """After a restart: sampling goes on (no new Transaction.Begin)."""
        self._schedule_sample(tx.connector_id)

    def transaction_ending(self, tx: Transaction) -> None:
        self.ctx.timers.cancel(("sample", tx.connector_id))
        self._collect_stop_data(tx, "StopTxnSampledData", ReadingContext.Transaction_End)

    def _collect_stop_data(self, tx: Transaction, key: str, context: ReadingContext) -> None:
        measurands = self.ctx.config.get_list(key)
        if measurands:
            value = self._stop_value(tx.connector_id, measurands, context)
            if value is not None:
                tx.stop_data.append(value)

    def _schedule_sample(self, connector_id: int) -> None:
        interval = self.ctx.config.get_int("MeterValueSampleInterval")
        if interval <= 0 or self.ctx.connectors[connector_id].transaction is None:
            self.ctx.timers.cancel(("sample", connector_id))
            return
        self.ctx.timers.set(
            ("sample", connector_id), self.ctx.now + interval, partial(self._sample, connector_id)
        )

    def _sample(self, connector_id: int, now: float) -> None:
        tx = self.ctx.connectors[connector_id].transaction
        if tx is None:
            return
        periodic = ReadingContext.Sample_Periodic
        value = self._meter_value(connector_id, self._measurands("MeterValuesSampledData"), periodic)
        self._collect_stop_data(tx, "StopTxnSampledData", periodic)
        self._checkpoint(tx)
        if value is not None:
            self.send(connector_id, value, tx)
        self._schedule_sample(connector_id)

    # -- clock-aligned data --------------------------------------------------------------------
    def schedule_aligned(self) -> None:
        interval = self.ctx.config.get_int("ClockAlignedDataInterval")
        if interval <= 0:
            self.ctx.timers.cancel("aligned")
            return
        self._boundary = next_aligned(self.ctx.ocpp_time(), interval)
        self.ctx.timers.set("aligned", self._boundary - self.ctx.clock_offset_s, self._aligned)

    def _aligned(self, now: float) -> None:
        measurands = self._measurands("MeterValuesAlignedData")
        # Stamp the exact boundary the timer was set for, not the instant it fired.
        boundary = self._boundary
        for cid in self.ctx.connector_ids():
            connector = self.ctx.connectors[cid]
            energy = self.ctx.meter(cid).energy_wh
            interval_energy = energy - self._aligned_energy.get(cid, energy)
            self._aligned_energy[cid] = energy
            if self.ctx.accepted:
                value = self._meter_value(
                    cid, measurands, ReadingContext.Sample_Clock, interval_energy, boundary
                )
                if value is not None:
                    self.send(cid, value, connector.transaction)
            tx = connector.transaction
            if tx is not None:
                stop_measurands = self.ctx.config.get_list("StopTxnAlignedData")
                if stop_measurands:
                    stop_value = self._stop_value(
                        cid, stop_measurands, ReadingContext.Sample_Clock, interval_energy, boundary
                    )
                    if stop_value is not None:
                        tx.stop_data.append(stop_value)
                self._checkpoint(tx)
        self.schedule_aligned()

    def _checkpoint(self, tx: Transaction) -> None:
        """Store the register as of now with the transaction, in the same step as the MeterValues
        that report it: a PowerLoss stop after a crash never reports less than the CSMS has seen."""
        tx.meter_last_wh = max(round(self.ctx.meter(tx.connector_id).energy_wh), tx.meter_start_wh)
        tx.last_at = self.ctx.ocpp_time()
        self.ctx.save_transaction(tx)

    # -- declarations (core.features.base) -----------------------------------------------------------
    def registration_accepted(self) -> None:
        """BootNotification Accepted: clock-aligned data starts (§9.1.5)."""
        self.schedule_aligned()

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        return {"MeterValueSampleInterval": self.reschedule, "ClockAlignedDataInterval": self.reschedule}

    def triggers(self) -> Mapping[str, Trigger]:
        return {"MeterValues": self._trigger}

    def _trigger(self, connector_id: int | None) -> Callable[[], None] | str:
        """TriggerMessage MeterValues (§5.17): the MeterValuesSampledData measurands as of now with
        context "Trigger" (errata 3.46: SHALL). Current information, not a transaction message to keep
        and resend: it carries the transactionId when the connector's transaction has one already.
        There is no main meter, so connector 0 is Rejected, as is an unknown connector (TC_055_CS)."""
        ids = connectors_for(self.ctx, connector_id, first=1)
        if not ids:
            return TriggerMessageStatus.Rejected
        values: list[tuple[int, MeterValue]] = []
        for cid in ids:
            value = self.sampled_now(cid, ReadingContext.Trigger)
            if value is not None:
                values.append((cid, value))
        if not values:
            return TriggerMessageStatus.Rejected  # the meter gives none of the configured measurands

        def send() -> None:
            for cid, value in values:
                request = MeterValuesRequest(connector_id=cid, meter_value=[value])
                tx = self.ctx.connectors[cid].transaction
                if tx is not None and tx.transaction_id is not None:
                    request = MeterValuesRequest(
                        connector_id=cid, transaction_id=tx.transaction_id, meter_value=[value]
                    )
                self.ctx.call(request)

        return send

    def clock_changed(self) -> None:
        """The OCPP clock moved (a clock sync, or a wall-clock jump before the first): the aligned
        grid follows the new clock (§9.1.5: aligned to midnight), from the next boundary on; no
        boundary in between is reported, so nothing comes in a burst."""
        if self.ctx.timers.due_at("aligned") is not None:
            self.schedule_aligned()

    def reschedule(self) -> None:
        """After MeterValueSampleInterval or ClockAlignedDataInterval changed."""
        for cid in self.ctx.connector_ids():
            self._schedule_sample(cid)
        self.schedule_aligned()
