"""SOAP schema tables of the runtime's own structs (see `soap.plan`)."""
