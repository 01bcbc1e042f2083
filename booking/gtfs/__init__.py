"""Importing GTFS feeds (https://gtfs.org/schedule/reference/) as Kassa timetables.

Pure: reads files, returns a ``booking.timetable.Timetable``; storage/timetable.py
stores it. ``read_feed`` is the entry point, ``FeedError`` the one way a feed is refused.
"""

from booking.gtfs.errors import FeedError
from booking.gtfs.feed import read_feed

__all__ = ["FeedError", "read_feed"]
