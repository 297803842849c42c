"""Builders for the simple tier (2-4 flat fields). Each returns a `Doc` for one example."""

from __future__ import annotations

from maaza.datagen.doc import Doc, F
from maaza.datagen.values import Ctx

# Country codes that Faker's location_on_land returns most often, with their English names.
COUNTRIES = {
    "US": "United States", "GB": "United Kingdom", "DE": "Germany", "FR": "France", "IT": "Italy",
    "ES": "Spain", "IN": "India", "CN": "China", "JP": "Japan", "BR": "Brazil", "MX": "Mexico",
    "CA": "Canada", "AU": "Australia", "RU": "Russia", "PL": "Poland", "NL": "Netherlands",
    "PH": "Philippines", "ID": "Indonesia", "TR": "Turkey", "UA": "Ukraine", "PK": "Pakistan",
    "NG": "Nigeria", "ZA": "South Africa", "AR": "Argentina", "CO": "Colombia", "SE": "Sweden",
    "NO": "Norway", "PT": "Portugal", "IE": "Ireland", "KR": "South Korea", "EG": "Egypt",
}  # fmt: skip
SERVICES = (
    "auth-service", "billing-api", "ingest-worker", "search-indexer", "notification-gateway",
    "payments", "user-db-proxy", "report-scheduler", "image-resizer", "checkout", "inventory-sync",
)  # fmt: skip
PRODUCTS = (
    "AeroPress coffee maker", "Kindle Paperwhite", "the noise-cancelling headphones", "Trailblazer 40L backpack",
    "the standing desk", "Lumen smart bulb", "the cast-iron skillet", "Nimbus running shoes",
    "the mechanical keyboard", "the airport shuttle", "room service", "the yoga class", "Harbor View Hotel",
    "the pizza delivery", "the dental cleaning", "the plumbing repair", "the online course",
)  # fmt: skip
GOOD = ("Works exactly as described.", "Great value for the price.", "Fast and friendly service.",
        "Would definitely buy again.", "Better than I expected.", "Solid build quality.")  # fmt: skip
MEH = (
    "It does the job.",
    "Okay, nothing special.",
    "A bit overpriced but fine.",
    "Mixed feelings overall.",
)
BAD = ("Broke after two weeks.", "Very slow and nobody answered.", "Not as advertised.",
       "Would not recommend.", "Arrived damaged.")  # fmt: skip
SENSORS = (  # (id prefix, unit, low, high, decimals)
    ("TMP", "°C", -10.0, 38.0, 1), ("TMP", "°F", 14.0, 100.0, 1), ("HUM", "%", 18.0, 96.0, 1),
    ("PRS", "hPa", 975.0, 1042.0, 1), ("CO2", "ppm", 380, 2400, 0), ("LUX", "lux", 0, 18000, 0),
    ("BAT", "V", 2.9, 4.2, 2), ("SND", "dB", 28.0, 96.0, 1),
)  # fmt: skip


def _slug(company: str) -> str:
    return "".join(c for c in company.split()[0].lower() if c.isalnum()) or "mail"


def contact_info(ctx: Ctx) -> Doc:
    fake = ctx.fake
    name, company = ctx.person(), fake.company()
    email = ctx.email_for(name, f"{_slug(company)}.com" if ctx.chance(0.5) else None)
    nodes = [
        F("name", name, name, "name", "This is {v}.", "My name is {v}.", "Contact: {v}."),
        F("email", email, email, ctx.pick(["email", "e-mail", "email address"]),
          "You can email {v}.", "Email me at {v}.", "Best to reach me at {v}."),
    ]  # fmt: skip
    if ctx.keep():
        phone = fake.phone_number()
        nodes.append(
            F(
                "phone",
                phone,
                phone,
                ctx.pick(["phone", "tel", "mobile"]),
                "Call me on {v}.",
                "My number is {v}.",
            )
        )
    if ctx.keep():
        nodes.append(F("company", company, company, ctx.pick(["company", "organization", "employer"]),
                       "I work at {v}.", "I'm with {v}."))  # fmt: skip
    intro = ("Here are my contact details.", "Adding a new contact.", "Please save this contact.")
    return Doc("contact_info", "contact details", nodes, intro, people=(name, ctx.person()))


def notification(ctx: Ctx) -> Doc:
    fake = ctx.fake
    pairs = [
        ("Password changed", f"The password for {fake.user_name()} was changed from a new device."),
        (
            "Payment received",
            f"We received {ctx.money(ctx.rng.randint(5, 900) + 0.99)} from {fake.company()}.",
        ),
        (f"New login from {fake.city()}", "If this wasn't you, reset your password now."),
        (
            "Your order has shipped",
            f"Tracking number {ctx.ident('1Z###??##########')} is now active.",
        ),
        ("Storage almost full", f"You have used {ctx.rng.randint(86, 99)}% of your plan."),
        (
            "Meeting starts soon",
            f"The call with {ctx.person()} starts in {ctx.rng.choice([5, 10, 15])} minutes.",
        ),
        (f"Invoice {ctx.ident('INV-####')} is overdue", "Please settle it to avoid a late fee."),
        (
            "Backup completed",
            f"Nightly backup of {ctx.rng.choice(SERVICES)} finished without errors.",
        ),
        ("Build failed", f"Pipeline #{ctx.rng.randint(100, 9999)} failed on the test stage."),
    ]
    title, message = ctx.pick(pairs)
    priority = ctx.pick(["low", "normal", "high", "urgent"])
    p_text = ctx.pick([priority, priority.upper(), priority.capitalize()])
    nodes = [
        F("title", title, title, ctx.pick(["title", "headline", "heading"]), 'Title it "{v}".', 'Headline: "{v}".'),
        F("message", message, message, ctx.pick(["message", "body", "text"]), 'The message reads: "{v}"', 'Body text: "{v}"'),
        F("priority", priority, p_text, "priority", "Priority is {v}.", "Mark it {v} priority.", "Set priority to {v}."),
    ]  # fmt: skip
    if ctx.keep():
        channel = ctx.pick(["email", "sms", "push", "in_app"])
        c_text = {
            "in_app": ctx.pick(["in-app", "in_app", "in app"]),
            "sms": ctx.pick(["SMS", "sms"]),
        }.get(channel, channel)
        nodes.append(
            F(
                "channel",
                channel,
                c_text,
                "channel",
                "Send it by {v}.",
                "Deliver via {v}.",
                "Channel: {v}.",
            )
        )
    log = ("[{priority}] {channel} | {title} | {message}", "notify channel={channel} priority={priority} title=\"{title}\" msg=\"{message}\"",
           "[{priority}] {title}: {message}")  # fmt: skip
    intro = ("Please send this notification.", "New alert to queue.", "Notification request:")
    return Doc(
        "notification", "notification", nodes, intro, log, people=(ctx.person(), ctx.person())
    )


def simple_config(ctx: Ctx) -> Doc:
    service = ctx.pick(SERVICES)
    port = ctx.pick(
        [
            80,
            443,
            3000,
            5000,
            5432,
            6379,
            8000,
            8080,
            8443,
            9000,
            9090,
            ctx.rng.randint(1024, 65535),
        ]
    )
    nodes = [
        F(
            "service",
            service,
            service,
            ctx.pick(["service", "name", "app"]),
            "Config for {v}.",
            "The service is {v}.",
        ),
        F(
            "port",
            port,
            str(port),
            "port",
            "It listens on port {v}.",
            "Bind it to port {v}.",
            "Use port {v}.",
        ),
    ]
    if ctx.keep():
        debug = ctx.chance(0.4)
        on, off = ctx.pick(
            [("true", "false"), ("on", "off"), ("enabled", "disabled"), ("yes", "no")]
        )
        text = on if debug else off
        nodes.append(
            F("debug", debug, text, "debug", "Debug mode {v}.", "Debug is {v}.", "debug={v}.")
        )
    if ctx.keep():
        level = ctx.pick(["debug", "info", "warning", "error"])
        nodes.append(F("log_level", level, ctx.pick([level, level.upper()]), ctx.pick(["log level", "log_level", "logging level"]),
                       "Log at {v} level.", "Logging level {v}."))  # fmt: skip
    intro = (
        "Config change request.",
        "Here is the service config.",
        "Please apply these settings.",
    )
    return Doc(
        "simple_config",
        "service configuration",
        nodes,
        intro,
        people=(ctx.person(), ctx.person()),
    )


def _place(ctx: Ctx) -> tuple[float, float, str, str]:
    while True:
        lat, lon, city, code, _ = ctx.fake.location_on_land()
        if code in COUNTRIES:
            return round(float(lat), 4), round(float(lon), 4), city, COUNTRIES[code]


def coordinates(ctx: Ctx, lat: float, lon: float) -> tuple[str, str]:
    """Signed decimals, or degrees with a hemisphere letter (the validator accepts the magnitude)."""
    if ctx.chance(0.5):
        return f"{lat:.4f}", f"{lon:.4f}"
    return (
        f"{abs(lat):.4f}° {'N' if lat >= 0 else 'S'}",
        f"{abs(lon):.4f}° {'E' if lon >= 0 else 'W'}",
    )


def location(ctx: Ctx) -> Doc:
    lat, lon, city, country = _place(ctx)
    lat_t, lon_t = coordinates(ctx, lat, lon)
    nodes = [
        F(
            "city",
            city,
            city,
            ctx.pick(["city", "town", "place"]),
            "The place is {v}.",
            "It is in {v}.",
        ),
        F("country", country, country, "country", "That's in {v}.", "Country: {v}."),
        F("latitude", lat, lat_t, ctx.pick(["latitude", "lat"]), "Latitude {v}.", "Lat is {v}."),
        F(
            "longitude",
            lon,
            lon_t,
            ctx.pick(["longitude", "lon", "lng"]),
            "Longitude {v}.",
            "Long is {v}.",
        ),
    ]
    log = (
        "{city}, {country} ({latitude}, {longitude})",
        "geo: {latitude}, {longitude} -> {city}, {country}",
    )
    intro = ("Pinning this location.", "Site coordinates below.", "Location for the record:")
    return Doc("location", "location", nodes, intro, log, people=(ctx.person(), ctx.person()))


def rating(ctx: Ctx) -> Doc:
    item = ctx.pick(PRODUCTS)
    score = ctx.rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 3, 3])[0]
    s_text = ctx.pick(
        [
            f"{score}/5",
            f"{score} out of 5",
            f"{score} stars" if score > 1 else "1 star",
            f"{score}/5 stars",
        ]
    )
    nodes = [
        F(
            "item",
            item,
            item,
            ctx.pick(["item", "product", "reviewed"]),
            "Review of {v}.",
            "I tried {v}.",
        ),
        F(
            "score",
            score,
            s_text,
            ctx.pick(["score", "rating", "stars"]),
            "I give it {v}.",
            "Rating: {v}.",
            "{v} from me.",
        ),
    ]
    if ctx.keep():
        reviewer = ctx.person()
        nodes.append(
            F(
                "reviewer",
                reviewer,
                reviewer,
                ctx.pick(["reviewer", "by", "author"]),
                "Posted by {v}.",
                "- {v}",
            )
        )
    if ctx.keep():
        comment = ctx.pick(GOOD if score >= 4 else MEH if score == 3 else BAD)
        nodes.append(
            F(
                "comment",
                comment,
                comment,
                ctx.pick(["comment", "review", "notes"]),
                "{v}",
                'Comment: "{v}"',
            )
        )
    log = ("{item} | {score} | {reviewer} | {comment}", "{item}: {score}")
    intro = ("New review came in.", "Customer feedback:", "Review submitted.")
    return Doc("rating", "review", nodes, intro, log, people=(ctx.person(), ctx.person()))


def sensor_reading(ctx: Ctx) -> Doc:
    prefix, unit, low, high, places = ctx.pick(SENSORS)
    sensor_id = ctx.ident(f"{prefix}-" + ctx.pick(["###", "####", "??-##"]))
    value = (
        round(ctx.rng.uniform(low, high), places)
        if places
        else ctx.rng.randint(int(low), int(high))
    )
    number = f"{value:.{places}f}" if places else str(value)
    moment = ctx.moment(seconds=ctx.chance(0.6))
    separate_unit = ctx.chance(0.35)
    joined = number + ctx.pick([" ", ""] if unit.startswith("°") else [" "]) + unit
    nodes = [
        F("sensor_id", sensor_id, sensor_id, ctx.pick(["sensor", "sensor id", "device"]), "Sensor {v} reported in.", "From sensor {v}."),
        F("value", value, number if separate_unit else joined, ctx.pick(["value", "reading", "measurement"]),
          "It read {v}.", "The reading was {v}.", "Measured {v}."),
        F("unit", unit, unit if separate_unit else None, "unit", "Unit is {v}.", "Units: {v}."),
        F("timestamp", *ctx.stamp(moment), ctx.pick(["time", "timestamp", "at"]), "Taken at {v}.", "Time: {v}."),
    ]  # fmt: skip
    log = (
        "{timestamp} {sensor_id} value={value}",
        "{timestamp} | {sensor_id} | {value}",
        "[{timestamp}] {sensor_id}: {value}",
    )
    intro = ("Telemetry update.", "New sensor reading.", "Reading from the field.")
    return Doc(
        "sensor_reading",
        "sensor reading",
        nodes,
        intro,
        log,
        people=(ctx.person(), ctx.person()),
    )


LOG_MESSAGES = {
    "DEBUG": ("cache lookup for key user:{n} took {ms} ms", "retrying request {n} (attempt 2)"),
    "INFO": ("user {user} logged in", "processed {n} records in {ms} ms", "scheduled job {n} started"),
    "WARN": ("response time {ms} ms above threshold", "disk usage at {pct}%", "deprecated endpoint called by {user}"),
    "ERROR": ("connection to db-{n} timed out after 30s", "payment {n} declined by gateway", "failed to parse payload from {user}"),
    "FATAL": ("out of memory, shutting down", "cannot bind port {n}, exiting"),
}  # fmt: skip


def log_entry(ctx: Ctx) -> Doc:
    level = ctx.pick(list(LOG_MESSAGES))
    message = ctx.pick(LOG_MESSAGES[level]).format(
        n=ctx.rng.randint(2, 9999),
        ms=ctx.rng.randint(120, 9000),
        pct=ctx.rng.randint(81, 99),
        user=ctx.fake.user_name(),
    )
    moment = ctx.moment(seconds=True)
    nodes = [
        F("timestamp", *ctx.stamp(moment), ctx.pick(["time", "timestamp"]), "It happened at {v}.", "Logged {v}."),
        F("level", level, ctx.pick([level, level, level.lower()]), ctx.pick(["level", "severity"]), "Severity {v}.", "Level was {v}."),
        F("message", message, message, ctx.pick(["message", "msg"]), 'The message was "{v}".', 'It said: "{v}".'),
    ]  # fmt: skip
    if ctx.keep():
        service = ctx.pick(SERVICES)
        nodes.append(
            F(
                "service",
                service,
                service,
                ctx.pick(["service", "source", "component"]),
                "Source: {v}.",
                "It came from {v}.",
            )
        )
    log = ("{timestamp} {level} [{service}] {message}", "{timestamp} | {level} | {service} | {message}",
           "[{level}] {timestamp} {service}: {message}", "{timestamp} {level} {message}", "[{level}] {timestamp}: {message}")  # fmt: skip
    intro = ("Found this in the logs.", "Log line from last night:", "Pasting the log event.")
    return Doc("log_entry", "log event", nodes, intro, log, people=(ctx.person(), ctx.person()))


CONDITIONS = {
    "clear": ("clear", "clear skies", "clear"), "cloudy": ("cloudy", "mostly cloudy", "cloudy"),
    "rain": ("rain", "light rain", "heavy rain"), "snow": ("snow", "snow showers", "light snow"),
    "fog": ("fog", "dense fog", "fog"), "storm": ("storm", "thunderstorm", "storm"),
}  # fmt: skip


def weather_observation(ctx: Ctx) -> Doc:
    station = ctx.pick(
        [ctx.ident("K???"), ctx.ident("EG??"), f"{ctx.fake.city()} station", ctx.ident("WS-###")]
    )
    temp = round(ctx.rng.uniform(-18, 39), 1)
    t_text = ctx.pick([f"{temp:.1f} °C", f"{temp:.1f}°C", f"{temp:.1f} degrees C"])
    condition = ctx.pick(list(CONDITIONS))
    nodes = [
        F("station", station, station, ctx.pick(["station", "site"]), "Observation from {v}.", "Station {v} reports."),
        F("temperature_c", temp, t_text, ctx.pick(["temperature", "temp", "air temp"]), "It is {v}.", "Temperature {v}."),
        F("condition", condition, ctx.pick(CONDITIONS[condition]), ctx.pick(["conditions", "sky", "weather"]),
          "Currently {v}.", "Conditions: {v}."),
    ]  # fmt: skip
    if ctx.keep():
        hum = ctx.rng.randint(15, 100) if ctx.chance(0.5) else round(ctx.rng.uniform(15, 99), 1)
        h_text = ctx.pick([f"{hum:g}%", f"{hum:g} percent", f"{hum:g}% RH"])
        nodes.append(
            F(
                "humidity_pct",
                hum,
                h_text,
                ctx.pick(["humidity", "RH"]),
                "Humidity {v}.",
                "Relative humidity is {v}.",
            )
        )
    log = (
        "{station} {temperature_c} {humidity_pct} {condition}",
        "{station}: {temperature_c}, {condition}",
    )
    intro = ("Latest observation.", "Weather update.", "Station report:")
    return Doc(
        "weather_observation",
        "weather observation",
        nodes,
        intro,
        log,
        people=(ctx.person(), ctx.person()),
    )


BUILDERS = {
    "contact_info": contact_info,
    "notification": notification,
    "simple_config": simple_config,
    "location": location,
    "rating": rating,
    "sensor_reading": sensor_reading,
    "log_entry": log_entry,
    "weather_observation": weather_observation,
}
