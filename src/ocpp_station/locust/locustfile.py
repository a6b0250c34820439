"""The package's locustfile: one charge point per Locust user (docs/locust.md).

    locust -f "$(python -m ocpp_station.locust --path)" --headless -u 100 -r 10 -H ws://csms:9000/ocpp/
    python -m ocpp_station.locust --headless -u 100 -r 10 -H ws://csms:9000/ocpp/   # the same

Options (``--ocpp-*``, or ``LOCUST_OCPP_*`` environment variables): see ``locust --help`` or
docs/locust.md. Write your own locustfile to change the behaviour: subclass
:class:`~ocpp_station.locust.OcppStationUser` there.
"""

from __future__ import annotations

from ocpp_station.locust import OcppStationUser


class ChargingStation(OcppStationUser):
    """A charge point with one connector running ``--ocpp-behaviour`` (by default charging sessions)."""
