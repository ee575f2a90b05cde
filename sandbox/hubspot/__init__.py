"""Local emulator of the HubSpot CRM v3 API (contacts, search, batch, properties, lists v3).

See docs/sandbox-hubspot.md. Entry point: `HubSpotEmulator`.
"""

from .emulator import HubSpotEmulator

__all__ = ["HubSpotEmulator"]
