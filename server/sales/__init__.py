"""Sales: catalogues of lots, and what happens after the hammer (offers, invoices)."""
