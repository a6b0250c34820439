"""One module per group of OCPP messages; each registers its handlers on the shared Context."""
