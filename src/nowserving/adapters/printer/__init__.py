"""The ticket printer: one layout for paper and preview, python-escpos below it."""
