"""The shared lead model: mapping files (what admins edit) and the engine that applies them.

Pure: nothing here does I/O or reads the clock (`now` is always passed in).

    from mappings import load_mapping_text, MappingError
    from mappings.engine import assign, explain, field_value
"""

from mappings.compiled import FieldMapping, Mapping, NurtureList
from mappings.errors import Issue, MappingError
from mappings.loader import load_mapping_data, load_mapping_text

DEFAULT_MAPPING_RESOURCE = "default.toml"  # package data of `mappings`; the CLI reads it

__all__ = [
    "DEFAULT_MAPPING_RESOURCE",
    "FieldMapping",
    "Issue",
    "Mapping",
    "MappingError",
    "NurtureList",
    "load_mapping_data",
    "load_mapping_text",
]
