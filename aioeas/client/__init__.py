"""The network side: sessions, endpoints, signing, retries (aiohttp lives here and below)."""
