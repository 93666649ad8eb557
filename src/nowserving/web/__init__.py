"""The web role: the phone page behind each ticket's QR code (docs/web.md).

A small ASGI app (Starlette, run by uvicorn) over the device client: it reads the branches'
summaries, lines and the ticket records only it may read, and sends `cancel`, `step_out`
and `rate` for a customer who holds a ticket's token. One process serves every branch it
is given.
"""
