from ocpp_station.cli import main

raise SystemExit(main())
