"""The demo's intercity coach network: three countries, names in English, Chinese, Russian.

Real cities with realistic distances and travel times; several departures a day in both
directions for a window of days. Built as a Timetable, so it is stored like a GTFS feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from booking.model import RouteStop, SeatLayout, Station
from booking.timetable import Timetable, TimetableRoute, TimetableTrip


@dataclass(frozen=True)
class _City:
    code: str
    en: str
    zh: str
    ru: str
    timezone: str
    lat: float
    lon: float


CITIES = [
    _City("BJS", "Beijing", "北京", "Пекин", "Asia/Shanghai", 39.904, 116.407),
    _City("TSN", "Tianjin", "天津", "Тяньцзинь", "Asia/Shanghai", 39.343, 117.361),
    _City("TNA", "Jinan", "济南", "Цзинань", "Asia/Shanghai", 36.651, 117.120),
    _City("NKG", "Nanjing", "南京", "Нанкин", "Asia/Shanghai", 32.060, 118.796),
    _City("SHA", "Shanghai", "上海", "Шанхай", "Asia/Shanghai", 31.230, 121.474),
    _City("HGH", "Hangzhou", "杭州", "Ханчжоу", "Asia/Shanghai", 30.274, 120.155),
    _City("NGB", "Ningbo", "宁波", "Нинбо", "Asia/Shanghai", 29.868, 121.544),
    _City("SJW", "Shijiazhuang", "石家庄", "Шицзячжуан", "Asia/Shanghai", 38.042, 114.514),
    _City("CGO", "Zhengzhou", "郑州", "Чжэнчжоу", "Asia/Shanghai", 34.747, 113.625),
    _City("MOW", "Moscow", "莫斯科", "Москва", "Europe/Moscow", 55.756, 37.617),
    _City("VLD", "Vladimir", "弗拉基米尔", "Владимир", "Europe/Moscow", 56.129, 40.407),
    _City("NNV", "Nizhny Novgorod", "下诺夫哥罗德", "Нижний Новгород", "Europe/Moscow",
          56.327, 44.006),
    _City("CSY", "Cheboksary", "切博克萨雷", "Чебоксары", "Europe/Moscow", 56.146, 47.251),
    _City("KZN", "Kazan", "喀山", "Казань", "Europe/Moscow", 55.796, 49.108),
    _City("TVR", "Tver", "特维尔", "Тверь", "Europe/Moscow", 56.859, 35.911),
    _City("VNO", "Veliky Novgorod", "大诺夫哥罗德", "Великий Новгород", "Europe/Moscow",
          58.522, 31.269),
    _City("LED", "Saint Petersburg", "圣彼得堡", "Санкт-Петербург", "Europe/Moscow",
          59.939, 30.315),
    _City("BER", "Berlin", "柏林", "Берлин", "Europe/Berlin", 52.525, 13.369),
    _City("LEJ", "Leipzig", "莱比锡", "Лейпциг", "Europe/Berlin", 51.345, 12.382),
    _City("DRS", "Dresden", "德累斯顿", "Дрезден", "Europe/Berlin", 51.040, 13.732),
    _City("PRG", "Prague", "布拉格", "Прага", "Europe/Prague", 50.083, 14.435),
]


@dataclass(frozen=True)
class _Line:
    code: str
    currency: str
    per_km: float  # fare per km in major units
    # (city, minutes after the first departure, km from the first stop)
    stops: tuple[tuple[str, int, int], ...]
    departures: tuple[str, ...]  # local times at the first stop, each direction


LINES = [
    _Line("CN1", "CNY", 0.35, (("BJS", 0, 0), ("TSN", 100, 137), ("TNA", 300, 410),
                                ("NKG", 600, 1020), ("SHA", 780, 1320)),
          ("07:00", "13:30", "21:00")),
    _Line("CN2", "CNY", 0.35, (("SHA", 0, 0), ("HGH", 150, 175), ("NGB", 270, 320)),
          ("08:00", "12:00", "16:30", "19:00")),
    _Line("CN3", "CNY", 0.35, (("BJS", 0, 0), ("SJW", 210, 290), ("CGO", 450, 690)),
          ("06:30", "14:00")),
    _Line("CN4", "CNY", 0.35, (("BJS", 0, 0), ("TSN", 95, 137)),
          ("06:00", "08:00", "10:00", "12:00", "15:00", "18:00", "20:30")),
    _Line("RU1", "RUB", 3.2, (("MOW", 0, 0), ("VLD", 200, 190), ("NNV", 420, 420),
                               ("CSY", 660, 660), ("KZN", 810, 820)), ("07:30", "20:00")),
    _Line("RU2", "RUB", 3.0, (("MOW", 0, 0), ("TVR", 170, 175), ("VNO", 420, 530),
                               ("LED", 600, 710)), ("08:00", "14:00", "22:30")),
    _Line("RU3", "RUB", 3.2, (("MOW", 0, 0), ("VLD", 190, 190)), ("09:00", "13:00", "18:00")),
    _Line("EU1", "EUR", 0.09, (("BER", 0, 0), ("LEJ", 140, 190), ("DRS", 260, 300),
                                ("PRG", 420, 450)), ("07:15", "11:15", "15:15", "23:00")),
]

# A pair with trips every day: whether a stored demo network reaches a day is seen there.
DEMO_PROBE = ("BJS", "TSN")

COACH = SeatLayout(0, "coach-49", rows=13, columns="AB_CD", seat_class="standard",
                   missing=frozenset({"13C", "13D", "7C"}))
MINIBUS = SeatLayout(0, "minibus-19", rows=7, columns="A_BC", seat_class="standard",
                     missing=frozenset({"7A", "7B"}))


def demo_timetable(first_day: date, days: int = 14) -> Timetable:
    """The demo network's timetable for ``days`` service days from ``first_day``."""
    cities = {c.code: c for c in CITIES}
    timetable = Timetable(
        stations=[
            Station(c.code, {"en": c.en, "zh": c.zh, "ru": c.ru}, c.timezone, c.lat, c.lon)
            for c in CITIES
        ],
        layouts=[COACH, MINIBUS],
    )
    for line in LINES:
        for direction, stops in (("out", line.stops), ("back", _reversed(line.stops))):
            code = f"demo:{line.code}:{direction}"
            timetable.routes.append(_route(code, line, stops, cities))
            tz = ZoneInfo(cities[stops[0][0]].timezone)
            layout = MINIBUS.name if len(stops) == 2 else COACH.name
            for n in range(days):
                day = first_day + timedelta(days=n)
                for clock in line.departures:
                    hour, minute = map(int, clock.split(":"))
                    leaves = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    timetable.trips.append(
                        TimetableTrip(f"{code}:{day.isoformat()}:{clock}", code, day,
                                      leaves.astimezone(ZoneInfo("UTC")), layout)
                    )
            for city, _, _ in stops:
                timetable.popularity[city] = timetable.popularity.get(city, 0) + 1
    return timetable


def _reversed(stops: tuple[tuple[str, int, int], ...]) -> tuple[tuple[str, int, int], ...]:
    end_minutes, end_km = stops[-1][1], stops[-1][2]
    return tuple((city, end_minutes - m, end_km - km) for city, m, km in reversed(stops))


def _route(
    code: str, line: _Line, stops: tuple[tuple[str, int, int], ...], cities: dict[str, _City]
) -> TimetableRoute:
    first, last = cities[stops[0][0]], cities[stops[-1][0]]
    dwell = 10  # minutes a coach waits at an intermediate stop
    route_stops = tuple(
        RouteStop(
            seq=i,
            station_code=city,
            arrive_offset=minutes,
            depart_offset=minutes + (dwell if 0 < i < len(stops) - 1 else 0),
            fare_offset=round(km * line.per_km) * 100,  # whole units, in minor units
        )
        for i, (city, minutes, km) in enumerate(stops)
    )
    return TimetableRoute(code, f"{first.en} – {last.en}", "Kassa Demo Coaches",
                          line.currency, route_stops)
