"""The admin console (`leadsync console`): a local web application over the same settings, mapping and
state store as the CLI. Needs the `console` extra (`pip install 'leadsync[console]'`)."""
