"""E-tickets: the signed ticket code, the ticket PDF and the trip's calendar file.

Pure functions of their inputs: no database, no Telegram. The caller (the ticket use case)
loads the order, builds a TicketDocument per passenger and sends what these return.
"""
