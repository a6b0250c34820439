"""The control API: HTTP/JSON on 127.0.0.1 to drive a station (people, dashboards, test harnesses)."""
