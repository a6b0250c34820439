"""The asyncio shell: websocket connection, timers and effects around the sans-I/O engine."""
