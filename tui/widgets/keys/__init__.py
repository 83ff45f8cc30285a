"""Per-area key declarations: one module per area, each with a KEYS tuple."""
