"""The SOAP codec: schema plans (`plan`), XSD text (`text`), the encoder (`encode`), and the
reply path (`reply`, which parses with `stream` and decodes with `decode`)."""
