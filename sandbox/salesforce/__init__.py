"""Local emulator of the Salesforce APIs that simple-salesforce drives (REST, SOAP login, OAuth token,
sObject Collections, Bulk API 2.0). Start with `SalesforceEmulator().serve()`."""

from .emulator import SalesforceEmulator
from .errors import ApiError, RecordError
from .schema import FieldDef, Schema, SchemaError

__all__ = ["ApiError", "FieldDef", "RecordError", "SalesforceEmulator", "Schema", "SchemaError"]
