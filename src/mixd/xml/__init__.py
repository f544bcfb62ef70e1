"""Sans-I/O restricted XML: streaming parser and serializer."""
