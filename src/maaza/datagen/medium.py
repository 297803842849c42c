"""Builders for the medium tier (5-8 fields, one nesting level)."""

from __future__ import annotations

from maaza.datagen.doc import Doc, F, Obj
from maaza.datagen.values import Ctx

ADJECTIVES = (
    "Compact",
    "Ultra",
    "Classic",
    "Pro",
    "Eco",
    "Smart",
    "Portable",
    "Deluxe",
    "Mini",
    "Heavy-Duty",
)
NOUNS = ("Blender", "Desk Lamp", "Water Bottle", "Backpack", "Office Chair", "Bluetooth Speaker", "Air Fryer",
         "Yoga Mat", "Electric Kettle", "Monitor Stand", "Rain Jacket", "USB-C Hub", "Cutting Board")  # fmt: skip
CATEGORIES = (
    "Kitchen",
    "Electronics",
    "Outdoor",
    "Office",
    "Home & Garden",
    "Sports",
    "Accessories",
)
TAGS = (
    "waterproof",
    "bestseller",
    "eco-friendly",
    "gift idea",
    "new arrival",
    "lightweight",
    "on sale",
    "bpa-free",
)
INTERESTS = ("hiking", "photography", "chess", "cooking", "cycling", "jazz", "gardening", "board games",
             "running", "travel", "painting", "podcasts", "climbing")  # fmt: skip
ALLERGIES = ("penicillin", "peanuts", "latex", "shellfish", "pollen", "sulfa drugs", "aspirin")
CONDITIONS = (
    "hypertension",
    "type 2 diabetes",
    "asthma",
    "migraine",
    "hypothyroidism",
    "GERD",
    "eczema",
)
MERCHANTS = ("Whole Foods", "Delta Air Lines", "Shell", "Starbucks", "Best Buy", "CVS Pharmacy", "Comcast",
             "Trader Joe's", "Uber", "Home Depot", "Amazon", "Chipotle")  # fmt: skip
AIRPORTS = (("LHR", "London"), ("JFK", "New York"), ("SFO", "San Francisco"), ("CDG", "Paris"),
            ("FRA", "Frankfurt"), ("DXB", "Dubai"), ("SIN", "Singapore"), ("ORD", "Chicago"),
            ("AMS", "Amsterdam"), ("MAD", "Madrid"), ("BOS", "Boston"), ("SEA", "Seattle"), ("YYZ", "Toronto"))  # fmt: skip
AIRLINES = ("BA", "AA", "UA", "DL", "LH", "AF", "KL", "EK", "AC", "IB")
JOBS = ("Senior Data Engineer", "Product Designer", "Customer Success Manager", "Backend Developer",
        "Registered Nurse", "Marketing Coordinator", "DevOps Engineer", "Financial Analyst", "Technical Writer")  # fmt: skip


def join_list(ctx: Ctx, values: list[str]) -> str:
    """'a, b and c' / 'a, b, c' / 'a; b; c' (values never contain the separators used)."""
    if len(values) == 1:
        return values[0]
    style = ctx.rng.randrange(3)
    if style == 0:
        return ", ".join(values[:-1]) + " and " + values[-1]
    return (", " if style == 1 else "; ").join(values)


def address(ctx: Ctx, key: str = "address", label: str = "address") -> Obj:
    fake = ctx.fake
    nodes = [
        F("street", s := fake.street_address(), s, "street"),
        F("city", c := fake.city(), c, "city"),
    ]
    if ctx.keep():
        nodes.append(F("postal_code", z := fake.postcode(), z, "ZIP"))
    nodes.append(F("country", k := ctx.pick(["United States", "USA"]), k, "country"))
    return Obj(
        key, label, nodes, ("The {label} is {v}.", "It goes to {v}.", "Address: {v}."), bare=True
    )


def product_info(ctx: Ctx) -> Doc:
    fake = ctx.fake
    name = f"{ctx.pick(ADJECTIVES)} {ctx.pick(NOUNS)}"
    sku = ctx.ident(ctx.pick(["??-#####", "SKU-####-??", "???###"]))
    price = ctx.amount(4, 600)
    in_stock = ctx.chance(0.7)
    stock_text = (
        ctx.pick(["in stock", "in stock now"])
        if in_stock
        else ctx.pick(["out of stock", "not in stock"])
    )
    nodes = [
        F(
            "sku",
            sku,
            sku,
            ctx.pick(["SKU", "item code", "article no."]),
            "SKU {v}.",
            "Item code {v}.",
        ),
        F(
            "name",
            name,
            name,
            ctx.pick(["name", "product", "title"]),
            "Meet the {v}.",
            "Product: {v}.",
        ),
        F(
            "price",
            price,
            ctx.money(price),
            "price",
            "It sells for {v}.",
            "Price is {v}.",
            "Yours for {v}.",
        ),
        F(
            "currency",
            ctx.currency,
            ctx.currency_text(),
            "currency",
            "Prices are in {v}.",
            "Currency: {v}.",
        ),
        F("in_stock", in_stock, stock_text, "availability", "Currently {v}.", "Status: {v}."),
    ]
    if ctx.keep():
        nodes.append(
            F(
                "brand",
                b := fake.last_name() + ctx.pick([" Labs", " & Co", "", " Home"]),
                b,
                "brand",
                "Made by {v}.",
                "From {v}.",
            )
        )
    if ctx.keep():
        nodes.append(
            F(
                "category",
                c := ctx.pick(CATEGORIES),
                c,
                "category",
                "Listed under {v}.",
                "Category: {v}.",
            )
        )
    if ctx.keep():
        tags = ctx.rng.sample(TAGS, ctx.count(1, 3, len(TAGS)))
        nodes.append(F("tags", tags, join_list(ctx, tags), "tags", "Tagged {v}.", "Tags: {v}."))
    intro = ("New catalogue entry.", "Product listing below.", "Please add this product.")
    return Doc("product_info", f"product {sku}", nodes, intro, people=(ctx.person(), ctx.person()))


SUBJECTS = {
    "billing": ("Charged twice for my subscription", "Refund not received", "Wrong amount on invoice"),
    "technical": ("App crashes on startup", "Cannot upload files", "Sync stuck at 99%", "API returns 500 errors"),
    "account": ("Locked out of my account", "Cannot change my email", "Two-factor codes not arriving"),
    "shipping": ("Package marked delivered but missing", "Order stuck in transit", "Wrong item shipped"),
    "other": ("Feature request: dark mode", "Question about data retention", "Feedback on new layout"),
}  # fmt: skip


def support_ticket(ctx: Ctx) -> Doc:
    name = ctx.person()
    category = ctx.pick(list(SUBJECTS))
    subject = ctx.pick(SUBJECTS[category])
    ticket_id = ctx.ident(ctx.pick(["TCK-#####", "#######", "SUP-####"]))
    customer = [F("name", name, name, "name")]
    if ctx.keep():
        customer.append(F("email", e := ctx.email_for(name), e, "email"))
    priority = ctx.pick(["low", "medium", "high", "critical"])
    nodes = [
        F("ticket_id", ticket_id, ticket_id, ctx.pick(["ticket", "ticket id", "case"]), "Ticket {v} opened.", "Case {v}."),
        Obj("customer", ctx.pick(["customer", "requester", "opened by"]), customer, ("It came from {v}.", "Requester: {v}.")),
        F("subject", subject, subject, "subject", 'Subject: "{v}".', 'They wrote "{v}".'),
        F("category", category, category, ctx.pick(["category", "queue"]), "Route it to the {v} queue.", "Category: {v}."),
        F("priority", priority, ctx.pick([priority, priority.upper()]), "priority", "Priority {v}.", "This is {v} priority."),
    ]  # fmt: skip
    if ctx.keep():
        nodes.append(
            F(
                "status",
                s := ctx.pick(["open", "pending", "resolved", "closed"]),
                s,
                "status",
                "Status: {v}.",
                "It is {v}.",
            )
        )
    if ctx.keep():
        moment = ctx.moment()
        nodes.append(
            F(
                "created_at",
                *ctx.stamp(moment),
                ctx.pick(["created", "opened at"]),
                "Opened {v}.",
            )
        )
    intro = ("New ticket in the queue.", "Logging a support request.", "Customer issue below.")
    return Doc(
        "support_ticket", f"ticket {ticket_id}", nodes, intro, people=(ctx.person(), ctx.person())
    )


def user_profile(ctx: Ctx) -> Doc:
    fake = ctx.fake
    name = ctx.person()
    username = fake.user_name()
    signup = ctx.past_date(1500)
    nodes = [
        F("username", username, username, ctx.pick(["username", "login", "handle"]), "Username {v}.", "Handle: @{v}."),
        F("full_name", name, name, ctx.pick(["full name", "name"]), "Name on the account: {v}.", "This is {v}."),
        F("email", e := ctx.email_for(name), e, "email", "Email is {v}.", "Reach them at {v}."),
        F("signup_date", signup.isoformat(), ctx.date(signup), ctx.pick(["joined", "signup date", "member since"]),
          "Joined on {v}.", "Member since {v}."),
    ]  # fmt: skip
    if ctx.keep():
        age = ctx.rng.randint(18, 80)
        nodes.append(F("age", age, str(age), "age", "Age {v}.", "They are {v} years old."))
    if ctx.keep():
        nodes.append(address(ctx))
    if ctx.keep():
        interests = ctx.rng.sample(INTERESTS, ctx.count(1, 4, len(INTERESTS)))
        nodes.append(
            F(
                "interests",
                interests,
                join_list(ctx, interests),
                "interests",
                "Interested in {v}.",
                "Likes {v}.",
            )
        )
    intro = ("New member profile.", "Profile export:", "Account details for the CRM.")
    return Doc(
        "user_profile", f"profile of {username}", nodes, intro, people=(ctx.person(), ctx.person())
    )


DECISIONS = ("ship v2 on schedule", "hire a second QA engineer", "move standups to 9:30", "drop the legacy API",
             "raise the budget cap", "run a customer survey", "pause the migration", "adopt the new style guide")  # fmt: skip


def meeting_notes(ctx: Ctx) -> Doc:
    fake = ctx.fake
    title = ctx.pick(["Q3 planning", "Weekly sync", f"{fake.company()} kickoff", "Design review", "Budget review",
                      "Sprint retro", "Hiring committee", "Launch readiness"])  # fmt: skip
    day = ctx.past_date(200)
    attendees = [ctx.person() for _ in range(ctx.count(2, 5))]
    nodes = [
        F("title", title, title, ctx.pick(["meeting", "title", "topic"]), "Notes from the {v} meeting.", "Meeting: {v}."),
        F("date", day.isoformat(), ctx.date(day), "date", "We met on {v}.", "Held {v}."),
        F("attendees", attendees, join_list(ctx, attendees), ctx.pick(["attendees", "present", "participants"]),
          "Present: {v}.", "Attendees were {v}."),
    ]  # fmt: skip
    if ctx.keep():
        nodes.append(F("location", loc := ctx.pick(["Room 4B", "Zoom", "Teams call", "the boardroom", "Cafe Nero"]), loc,
                       "location", "Held in {v}.", "Location: {v}."))  # fmt: skip
    if ctx.keep():
        minutes = ctx.pick([15, 30, 45, 60, 90, 120])
        nodes.append(F("duration_minutes", minutes, ctx.pick([f"{minutes} minutes", f"{minutes} min"]), "duration",
                       "It ran {v}.", "Length: {v}."))  # fmt: skip
    if ctx.keep():
        decisions = ctx.rng.sample(DECISIONS, ctx.count(1, 3, len(DECISIONS)))
        nodes.append(
            F(
                "decisions",
                decisions,
                join_list(ctx, decisions),
                "decisions",
                "We agreed to {v}.",
                "Decided: {v}.",
            )
        )
    if ctx.keep():
        nxt = ctx.future_date(day, 21)
        nodes.append(
            F(
                "next_meeting",
                nxt.isoformat(),
                ctx.date(nxt),
                "next meeting",
                "Next meeting {v}.",
                "We meet again {v}.",
            )
        )
    intro = ("Meeting notes below.", "Quick summary of today's meeting.", "Minutes:")
    return Doc(
        "meeting_notes", f"notes: {title}", nodes, intro, people=(attendees[0], ctx.person())
    )


def medical_record(ctx: Ctx) -> Doc:
    fake = ctx.fake
    name = ctx.person()
    dob = ctx.birth_date(1, 95)
    mrn = ctx.ident(ctx.pick(["MRN-#######", "PT-######", "########"]))
    nodes = [
        F("patient_id", mrn, mrn, ctx.pick(["MRN", "patient id", "record no."]), "Record {v}.", "MRN {v}."),
        F("patient_name", name, name, ctx.pick(["patient", "name"]), "Patient is {v}.", "Patient: {v}."),
        F("date_of_birth", dob.isoformat(), ctx.date(dob), ctx.pick(["DOB", "date of birth", "born"]), "Born {v}.", "DOB {v}."),
    ]  # fmt: skip
    if ctx.keep():
        bt = ctx.pick(["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"])
        nodes.append(F("blood_type", bt, bt, "blood type", "Blood type {v}.", "Type {v} blood."))
    if ctx.keep():
        allergies = ctx.rng.sample(ALLERGIES, ctx.count(1, 3, len(ALLERGIES)))
        nodes.append(
            F(
                "allergies",
                allergies,
                join_list(ctx, allergies),
                "allergies",
                "Allergic to {v}.",
                "Allergies: {v}.",
            )
        )
    if ctx.keep():
        conditions = ctx.rng.sample(CONDITIONS, ctx.rng.randint(1, 2))
        nodes.append(F("conditions", conditions, join_list(ctx, conditions), ctx.pick(["conditions", "history"]),
                       "History of {v}.", "Known conditions: {v}."))  # fmt: skip
    if ctx.keep():
        nodes.append(
            F(
                "primary_physician",
                d := f"Dr. {ctx.person()}",
                d,
                ctx.pick(["PCP", "primary physician"]),
                "Sees {v}.",
                "PCP is {v}.",
            )
        )
    intro = ("Patient summary.", "Chart update for the file.", "Record transfer:")
    return Doc(
        "medical_record",
        f"record {mrn}",
        nodes,
        intro,
        people=(f"Dr. {fake.last_name()}", ctx.person()),
    )


def transaction_record(ctx: Ctx) -> Doc:
    txn = ctx.ident(ctx.pick(["TXN-##########", "##########", "TR-####-????"]))
    day = ctx.past_date(365)
    amount = ctx.amount(1.5, 2500)
    merchant = ctx.pick(MERCHANTS)
    nodes = [
        F(
            "transaction_id",
            txn,
            txn,
            ctx.pick(["transaction", "ref", "txn id"]),
            "Transaction {v}.",
            "Ref {v}.",
        ),
        F("date", day.isoformat(), ctx.date(day), "date", "Booked {v}.", "On {v}."),
        F(
            "amount",
            amount,
            ctx.money(amount),
            "amount",
            "Amount {v}.",
            "Paid {v}.",
            "Charge of {v}.",
        ),
        F("currency", ctx.currency, ctx.currency_text(), "currency", "In {v}.", "Currency {v}."),
        F(
            "merchant",
            merchant,
            merchant,
            ctx.pick(["merchant", "payee", "at"]),
            "At {v}.",
            "Merchant: {v}.",
        ),
    ]
    if ctx.keep():
        c = ctx.pick(
            ["groceries", "travel", "dining", "utilities", "electronics", "health", "other"]
        )
        nodes.append(F("category", c, c, "category", "Category: {v}.", "Filed under {v}."))
    if ctx.keep():
        m = ctx.pick(["credit_card", "debit_card", "bank_transfer", "cash", "paypal"])
        m_text = {"paypal": "PayPal"}.get(m, m.replace("_", " "))
        nodes.append(
            F(
                "payment_method",
                m,
                m_text,
                ctx.pick(["method", "paid with"]),
                "Paid by {v}.",
                "Method: {v}.",
            )
        )
    if ctx.keep():
        nodes.append(
            F(
                "status",
                s := ctx.pick(["completed", "pending", "refunded", "failed"]),
                s,
                "status",
                "Status {v}.",
                "It is {v}.",
            )
        )
    intro = ("Bank statement line.", "Transaction details:", "Expense to reconcile.")
    return Doc(
        "transaction_record",
        f"transaction {txn}",
        nodes,
        intro,
        people=(ctx.person(), ctx.person()),
    )


def order_details(ctx: Ctx) -> Doc:
    order_id = ctx.ident(ctx.pick(["ORD-######", "#########", "SO-####-##"]))
    day = ctx.past_date(365)
    product = f"{ctx.pick(ADJECTIVES)} {ctx.pick(NOUNS)}"
    qty = ctx.rng.randint(1, 12)
    unit = ctx.amount(3, 400)
    fee = (
        round(ctx.pick([0.0, 4.99, 5.99, 9.95, 12.5, ctx.rng.uniform(3, 30)]), 2)
        if ctx.keep()
        else None
    )
    total = round(qty * unit + (fee or 0.0), 2)
    nodes = [
        F("order_id", order_id, order_id, ctx.pick(["order", "order no.", "order id"]), "Order {v} confirmed.", "Order #{v}."),
        F("order_date", day.isoformat(), ctx.date(day), ctx.pick(["ordered", "order date", "placed"]), "Placed on {v}."),
        F("product", product, product, ctx.pick(["product", "item"]), "Item: {v}.", "You ordered the {v}."),
        F("quantity", qty, ctx.integer(qty), ctx.pick(["quantity", "qty", "units"]), "Quantity {v}.", "{v} units."),
        F("unit_price", unit, ctx.money(unit), ctx.pick(["unit price", "price each", "price per unit"]), "{v} each.", "Unit price {v}."),
        F("total", total, ctx.money(total), ctx.pick(["total", "order total", "amount charged"]), "Total charged: {v}.", "Total {v}."),
    ]  # fmt: skip
    if fee is not None:
        nodes.append(
            F(
                "shipping_fee",
                fee,
                ctx.money(fee),
                ctx.pick(["shipping", "delivery fee"]),
                "Shipping {v}.",
                "Plus {v} shipping.",
            )
        )
    if ctx.keep():
        nodes.append(
            address(
                ctx, "shipping_address", ctx.pick(["ship to", "shipping address", "deliver to"])
            )
        )
    intro = ("Order confirmation.", "Thanks for your order!", "Order summary:")
    return Doc(
        "order_details",
        f"order {order_id}",
        nodes,
        intro,
        people=(ctx.fake.company(), ctx.person()),
    )


def flight_booking(ctx: Ctx) -> Doc:
    fake = ctx.fake
    (o_code, o_city), (d_code, d_city) = ctx.rng.sample(AIRPORTS, 2)
    ref = ctx.ident("??#?#?")
    flight = ctx.pick(AIRLINES) + ctx.pick(["", " "]) + str(ctx.rng.randint(10, 2999))
    name = ctx.person()
    moment = ctx.moment()
    nodes = [
        F("booking_ref", ref, ref, ctx.pick(["booking ref", "PNR", "confirmation code"]), "Your booking reference is {v}."),
        F("passenger_name", name, name, "passenger", "Passenger: {v}.", "Booked for {v}."),
        F("flight_number", flight, flight, "flight", "Flight {v}.", "You are on {v}."),
        F("origin", o_code, ctx.pick([o_code, f"{o_city} ({o_code})"]), ctx.pick(["from", "origin"]), "Departing {v}."),
        F("destination", d_code, ctx.pick([d_code, f"{d_city} ({d_code})"]), ctx.pick(["to", "destination"]), "Arriving {v}."),
        F("departure", *ctx.stamp(moment), "departs", "Departure {v}.", "Leaves {v}."),
    ]  # fmt: skip
    if ctx.keep():
        c = ctx.pick(["economy", "premium_economy", "business", "first"])
        nodes.append(
            F(
                "seat_class",
                c,
                c.replace("_", " "),
                ctx.pick(["cabin", "class"]),
                "Cabin: {v}.",
                "Seated in {v}.",
            )
        )
    if ctx.keep():
        amount = ctx.amount(89, 4200)
        fare = [
            F("amount", amount, ctx.money(amount), "amount"),
            F("currency", ctx.currency, ctx.currency_text(), "currency"),
        ]
        nodes.append(
            Obj(
                "fare",
                "fare",
                fare,
                ("Fare paid: {v}.", "The fare was {v}."),
                line=("{amount}", "{amount} {currency}"),
            )
        )
    intro = ("Your trip is confirmed.", "Booking confirmation.", "E-ticket receipt.")
    return Doc("flight_booking", f"booking {ref}", nodes, intro, people=(fake.company(), name))


def job_posting(ctx: Ctx) -> Doc:
    fake = ctx.fake
    title, company = ctx.pick(JOBS), fake.company()
    place = f"{fake.city()}, {fake.state_abbr()}"
    kind = ctx.pick(["full_time", "part_time", "contract", "internship"])
    nodes = [
        F("job_title", title, title, ctx.pick(["role", "position", "job title"]), "We're hiring a {v}.", "Open role: {v}."),
        F("company", company, company, "company", "{v} is growing.", "Join {v}."),
        F("location", place, place, "location", "Based in {v}.", "Location: {v}."),
        F("employment_type", kind, kind.replace("_", "-"), ctx.pick(["type", "employment"]), "This is a {v} position.", "Type: {v}."),
    ]  # fmt: skip
    if ctx.keep():
        remote = ctx.chance(0.5)
        text = (
            ctx.pick(["remote OK", "Remote: yes"])
            if remote
            else ctx.pick(["no remote", "Remote: no"])
        )
        nodes.append(F("remote", remote, text, "remote", "{v}.", "Work mode: {v}."))
    if ctx.keep():
        low = ctx.rng.randrange(40, 150) * 1000
        high = low + ctx.rng.randrange(10, 60) * 1000
        salary = [F("min", low, ctx.money(low), "from"), F("max", high, ctx.money(high), "to"),
                  F("currency", ctx.currency, ctx.currency_text(), "currency")]  # fmt: skip
        nodes.append(
            Obj(
                "salary",
                "salary",
                salary,
                ("Salary {v}.", "Pay: {v}.", "It pays {v} a year."),
                line=(
                    "{min} - {max}",
                    "{min} to {max}",
                    "{min}-{max} ({currency})",
                    "{min} to {max}, paid in {currency}",
                ),
            )
        )
    if ctx.keep():
        day = ctx.past_date(90)
        nodes.append(
            F(
                "posted_date",
                day.isoformat(),
                ctx.date(day),
                "posted",
                "Posted {v}.",
                "Listed on {v}.",
            )
        )
    intro = ("Job opening.", "Please share this posting.", "New role on the careers page.")
    return Doc("job_posting", f"job: {title}", nodes, intro, people=(ctx.person(), ctx.person()))


BUILDERS = {
    "product_info": product_info,
    "support_ticket": support_ticket,
    "user_profile": user_profile,
    "meeting_notes": meeting_notes,
    "medical_record": medical_record,
    "transaction_record": transaction_record,
    "order_details": order_details,
    "flight_booking": flight_booking,
    "job_posting": job_posting,
}
