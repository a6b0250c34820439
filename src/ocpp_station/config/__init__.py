"""Configuration: the OCPP configuration-key table and the station's config file."""
