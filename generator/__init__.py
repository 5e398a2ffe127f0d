"""PortaBilling bindings generator: WSDL/XSD + OpenAPI cache -> neutral model -> typed package."""

__version__ = "0.1.0"
