"""The precision-cost explorer: synthesize single units across precisions, widths and fabrics."""
