"""Builders for the complex tier (nested objects, arrays of objects, derived totals).

Every derived number (line amounts, subtotal, tax, total, fees, counts, headcounts) is computed
from the parts, rounded to cents, and stated in the text, so the label is checkable.
"""

from __future__ import annotations

from maaza.datagen.doc import Doc, F, Field, Items, Node, Obj
from maaza.datagen.medium import ADJECTIVES, NOUNS, address
from maaza.datagen.values import Ctx

SERVICES = ("Consulting hours", "Website hosting (annual)", "Logo design", "Server maintenance", "Copywriting",
            "Data migration", "Training workshop", "Support retainer", "Photography session", "SEO audit")  # fmt: skip
DIAGNOSES = (("J06.9", "Acute upper respiratory infection"), ("I10", "Essential hypertension"),
             ("E11.9", "Type 2 diabetes mellitus"), ("M54.5", "Low back pain"), ("J45.909", "Asthma"),
             ("K21.9", "Gastro-esophageal reflux disease"), ("F41.1", "Generalized anxiety disorder"),
             ("N39.0", "Urinary tract infection"), ("H10.9", "Conjunctivitis"), ("R51", "Headache"))  # fmt: skip
DRUGS = (("Amoxicillin", "500 mg", "three times daily"), ("Lisinopril", "10 mg", "once daily"),
         ("Metformin", "850 mg", "twice daily"), ("Ibuprofen", "400 mg", "every 8 hours as needed"),
         ("Omeprazole", "20 mg", "once daily before breakfast"), ("Albuterol", "2 puffs", "every 4 hours as needed"),
         ("Sertraline", "50 mg", "once daily"), ("Cetirizine", "10 mg", "at bedtime"))  # fmt: skip
SPECIALTIES = (
    "family medicine",
    "cardiology",
    "internal medicine",
    "pediatrics",
    "dermatology",
    "urgent care",
)
DEPARTMENTS = {"Engineering": ("Platform", "Mobile", "Data", "Security"), "Sales": ("EMEA", "North America", "Partnerships"),
               "Marketing": ("Brand", "Growth", "Content"), "Operations": ("Logistics", "Facilities", "Procurement"),
               "Finance": ("Accounting", "FP&A", "Payroll")}  # fmt: skip
EVENTS = (
    "DevOps Days",
    "Data Summit",
    "Product Leaders Forum",
    "Green Tech Expo",
    "AI in Health Conference",
)
FEE_TYPES = ("processing fee", "FX fee", "platform fee", "wire fee")


def money_fields(ctx: Ctx, pairs: list[tuple[str, float, str, tuple[str, ...]]]) -> list[Node]:
    return [F(key, value, ctx.money(value), label, *say) for key, value, label, say in pairs]


def party(ctx: Ctx, key: str, label: str, company: bool, say: tuple[str, ...]) -> Obj:
    fake = ctx.fake
    name = fake.company() if company else ctx.person()
    nodes: list[Node] = [F("name", name, name, "name")]
    if ctx.keep():
        nodes.append(
            F(
                "email",
                e := ctx.email_for(ctx.pick(["billing team", "accounts payable", ctx.person()])),
                e,
                "email",
            )
        )
    if ctx.keep():
        where = ", ".join(n.text for n in address(ctx).nodes if isinstance(n, Field) and n.text)
        nodes.append(F("address", where, where, "address"))
    return Obj(key, label, nodes, say)


def invoice(ctx: Ctx) -> Doc:
    number = ctx.ident(ctx.pick(["INV-####-###", "INV#####", "####-??"]))
    issued = ctx.past_date(300)
    lines = []
    for _ in range(ctx.rng.randint(1, 3)):
        qty = ctx.pick([1, 1, 2, 3, 5, 10, 1.5, 2.5, 12])
        unit = ctx.amount(15, 900)
        amount = round(qty * unit, 2)
        lines.append(
            [
                F("description", d := ctx.pick(SERVICES), d, "item"),
                F("quantity", qty, f"{qty:g}", "qty"),
            ]
            + money_fields(
                ctx, [("unit_price", unit, "unit price", ()), ("amount", amount, "amount", ())]
            )
        )
    subtotal = round(sum(line[3].value for line in lines), 2)
    rate = ctx.pick([0.05, 0.07, 0.08, 0.1, 0.13, 0.2, 0.0825])
    tax = round(subtotal * rate, 2)
    total = round(subtotal + tax, 2)
    nodes: list[Node] = [
        F("invoice_number", number, number, ctx.pick(["invoice no.", "invoice #", "invoice number"]), "This is invoice {v}."),
        F("issue_date", issued.isoformat(), ctx.date(issued), ctx.pick(["date", "issued", "invoice date"]), "Issued {v}."),
        party(ctx, "vendor", ctx.pick(["vendor", "from", "billed by"]), True, ("Billed by {v}.", "From {v}.", "Vendor: {v}.")),
        party(ctx, "customer", ctx.pick(["customer", "bill to", "client"]), ctx.chance(0.6), ("Bill to {v}.", "Customer: {v}.", "Billed to {v}.")),
        Items("line_items", ctx.pick(["items", "line items", "charges"]), lines,
              ("{quantity} x {description} @ {unit_price} = {amount}", "{description}: {quantity} at {unit_price} each, {amount}",
               "{description} (qty {quantity}, {unit_price} each) {amount}"),
              ("Charges: {v}.", "It covers {v}.")),
        *money_fields(ctx, [("subtotal", subtotal, "subtotal", ("Subtotal {v}.",)), ("tax", tax, "tax", ("Tax comes to {v}.",)),
                            ("total", total, ctx.pick(["total", "total due", "amount due"]), ("Total due: {v}.", "Please pay {v}."))]),
        F("currency", ctx.currency, ctx.currency_text(), "currency", "All amounts in {v}."),
    ]  # fmt: skip
    if ctx.keep():
        nodes.append(
            F(
                "tax_rate",
                rate,
                ctx.percent(rate),
                ctx.pick(["tax rate", "VAT rate", "sales tax"]),
                "Tax rate {v}.",
            )
        )
    if ctx.keep():
        due = ctx.future_date(issued, 45)
        nodes.append(
            F(
                "due_date",
                due.isoformat(),
                ctx.date(due),
                ctx.pick(["due", "due date", "payment due"]),
                "Due by {v}.",
            )
        )
    intro = ("Please find the invoice below.", "Invoice attached as text.", "Billing summary:")
    return Doc("invoice", f"invoice {number}", nodes, intro, people=(ctx.person(), ctx.person()))


def shopping_cart(ctx: Ctx) -> Doc:
    items = []
    for _ in range(ctx.count(1, 5)):
        qty, unit = ctx.rng.randint(1, 4), ctx.amount(2, 250)
        item: list[Node] = [
            F("product_name", p := f"{ctx.pick(ADJECTIVES)} {ctx.pick(NOUNS)}", p, "product")
        ]
        if ctx.keep():
            item.append(F("sku", s := ctx.ident("??-####"), s, "SKU"))
        item.append(F("quantity", qty, str(qty), "qty"))
        item += money_fields(
            ctx,
            [
                ("unit_price", unit, "price", ()),
                ("line_total", round(qty * unit, 2), "line total", ()),
            ],
        )
        items.append(item)
    subtotal = round(sum(n.value for it in items for n in it if n.key == "line_total"), 2)
    discount = round(subtotal * ctx.pick([0.05, 0.1, 0.15, 0.2]), 2) if ctx.keep() else None
    shipping = ctx.pick([0.0, 4.99, 7.5, 12.0, 15.95])
    tax = round((subtotal - (discount or 0)) * ctx.pick([0.0, 0.06, 0.08, 0.0875]), 2)
    total = round(subtotal - (discount or 0) + shipping + tax, 2)
    nodes: list[Node] = [
        F("cart_id", c := ctx.ident(ctx.pick(["CART-#####", "c_########"])), c, ctx.pick(["cart", "cart id", "basket"]), "Cart {v}."),
        Items("items", ctx.pick(["items", "in your cart", "basket"]), items,
              ("{quantity} x {product_name} ({sku}) at {unit_price} = {line_total}", "{quantity} x {product_name} at {unit_price} = {line_total}",
               "{product_name} [{sku}] - {quantity} @ {unit_price}: {line_total}", "{product_name} - {quantity} @ {unit_price}: {line_total}"),
              ("Your cart has {v}.", "Items: {v}.")),
        *money_fields(ctx, [("subtotal", subtotal, "subtotal", ("Subtotal {v}.",)), ("shipping", shipping, "shipping", ("Shipping is {v}.",)),
                            ("tax", tax, "tax", ("Tax {v}.",)), ("total", total, ctx.pick(["total", "order total"]), ("You pay {v}.", "Total {v}."))]),
        F("currency", ctx.currency, ctx.currency_text(), "currency", "Prices in {v}."),
    ]  # fmt: skip
    if discount is not None:
        nodes.append(
            F(
                "discount",
                discount,
                ctx.money(discount),
                ctx.pick(["discount", "promo"]),
                "Discount applied: {v}.",
            )
        )
    if ctx.keep():
        nodes.append(
            F(
                "customer_email",
                e := ctx.email_for(ctx.person()),
                e,
                ctx.pick(["customer", "email"]),
                "Cart owner: {v}.",
            )
        )
    intro = ("Cart snapshot before checkout.", "Your basket:", "Abandoned cart reminder.")
    return Doc(
        "shopping_cart", "shopping cart", nodes, intro, people=(ctx.fake.company(), ctx.person())
    )


def multi_party_transaction(ctx: Ctx) -> Doc:
    fake = ctx.fake
    payees = [[F("name", n := fake.company(), n, "name"), F("role", "payee", "payee", "role")]
              for _ in range(ctx.rng.randint(1, 3))]  # fmt: skip
    for p in payees:
        p += money_fields(ctx, [("amount", ctx.amount(50, 9000), "receives", ())])
    fees = [[F("type", t, t, "type")] + money_fields(ctx, [("amount", ctx.amount(0.5, 45), "amount", ())])
            for t in ctx.rng.sample(FEE_TYPES, ctx.rng.randint(0, 2))]  # fmt: skip
    total = round(sum(p[2].value for p in payees) + sum(f[1].value for f in fees), 2)
    payer = [
        F("name", n := ctx.pick([fake.company(), ctx.person()]), n, "name"),
        F("role", "payer", "payer", "role"),
    ]
    payer += money_fields(ctx, [("amount", total, "pays", ())])
    parties = [payer, *payees]
    day = ctx.past_date(200)
    nodes: list[Node] = [
        F("transaction_id", t := ctx.ident("MPT-########"), t, ctx.pick(["transaction", "reference"]), "Transfer {v}."),
        F("date", day.isoformat(), ctx.date(day), ctx.pick(["date", "value date"]), "Executed {v}."),
        F("currency", ctx.currency, ctx.currency_text(), "currency", "Settled in {v}."),
        F("total_amount", total, ctx.money(total), ctx.pick(["total", "total amount"]), "Total moved: {v}."),
        Items("parties", "parties", parties, ("{name} ({role}) {amount}", "{role} {name}: {amount}", "{name} as {role}, {amount}"),
              ("Parties: {v}.", "Involved: {v}.")),
        F("status", s := ctx.pick(["settled", "pending", "failed"]), s, "status", "Status: {v}."),
    ]  # fmt: skip
    if fees:
        nodes.append(
            Items(
                "fees",
                "fees",
                fees,
                ("{type} {amount}", "{type}: {amount}"),
                ("Fees: {v}.", "Deducted {v}."),
            )
        )
    if ctx.keep():
        d = ctx.pick(
            [
                "Supplier settlement",
                "Marketplace payout",
                "Escrow release",
                "Royalty split",
                "Joint venture payment",
            ]
        )
        nodes.append(F("description", d, d, ctx.pick(["purpose", "memo"]), "Purpose: {v}."))
    intro = ("Payment split summary.", "Settlement advice.", "Multi-party transfer details:")
    return Doc(
        "multi_party_transaction",
        "split payment",
        nodes,
        intro,
        people=(ctx.person(), ctx.person()),
    )


def iot_device_network(ctx: Ctx) -> Doc:
    fake = ctx.fake
    devices = []
    for _ in range(ctx.count(2, 6)):
        kind = ctx.pick(["temperature", "humidity", "motion", "door", "smoke", "energy_meter"])
        status = ctx.rng.choices(["online", "offline", "error"], weights=[6, 2, 1])[0]
        dev: list[Node] = [F("device_id", d := ctx.ident(f"{kind[:3]}-###"), d, "id"),
                           F("type", kind, kind.replace("_", " "), "type"), F("status", status, status, "status")]  # fmt: skip
        if ctx.keep():
            dev.append(F("battery_pct", b := ctx.rng.randint(3, 100), f"{b}%", "battery"))
        devices.append(dev)
    online = sum(1 for d in devices if d[2].value == "online")
    gateway: list[Node] = [
        F("gateway_id", g := ctx.ident("GW-####"), g, "id"),
        F("ip_address", ip := fake.ipv4_private(), ip, "IP"),
    ]
    if ctx.keep():
        gateway.append(
            F(
                "firmware",
                fw := f"v{ctx.rng.randint(1, 5)}.{ctx.rng.randint(0, 12)}.{ctx.rng.randint(0, 9)}",
                fw,
                "firmware",
            )
        )
    site = f"{fake.city()} {ctx.pick(['warehouse', 'plant', 'office', 'greenhouse'])}"
    nodes: list[Node] = [
        F("network_id", n := ctx.ident("NET-###"), n, ctx.pick(["network", "network id"]), "Network {v}."),
        F("site", site, site, "site", "Installed at the {v}."),
        Obj("gateway", "gateway", gateway, ("Gateway {v}.", "It uplinks through gateway {v}.")),
        Items("devices", "devices", devices,
              ("{device_id} {type} {status} battery {battery_pct}", "{device_id} ({type}) {status}",
               "{device_id}: {type}, {status}, {battery_pct}"), ("Devices: {v}.",)),
        F("device_count", len(devices), str(len(devices)), ctx.pick(["devices", "device count"]), "{v} devices in total."),
        F("online_count", online, str(online), ctx.pick(["online", "online now"]), "{v} online."),
    ]  # fmt: skip
    if ctx.keep():
        moment = ctx.moment()
        nodes.append(F("last_sync", *ctx.stamp(moment), "last sync", "Last synced {v}."))
    intro = ("Network status report.", "Site inventory:", "Gateway health check.")
    return Doc(
        "iot_device_network",
        f"network at {site}",
        nodes,
        intro,
        people=(ctx.person(), ctx.person()),
    )


def medical_encounter(ctx: Ctx) -> Doc:
    day = ctx.past_date(300)
    patient: list[Node] = [
        F("name", n := ctx.person(), n, "name"),
        F("patient_id", m := ctx.ident("MRN-######"), m, "MRN"),
    ]
    if ctx.keep():
        dob = ctx.birth_date(2, 90)
        patient.append(F("date_of_birth", dob.isoformat(), ctx.date(dob), "DOB"))
    provider: list[Node] = [F("name", p := f"Dr. {ctx.person()}", p, "name")]
    if ctx.keep():
        provider.append(F("specialty", s := ctx.pick(SPECIALTIES), s, "specialty"))
    vitals: list[Node] = []
    if ctx.keep():
        vitals.append(F("heart_rate_bpm", hr := ctx.rng.randint(52, 118), f"{hr} bpm", "HR"))
    if ctx.keep():
        bp = f"{ctx.rng.randint(100, 165)}/{ctx.rng.randint(60, 100)}"
        vitals.append(F("blood_pressure", bp, f"{bp} mmHg", "BP"))
    if ctx.keep():
        vitals.append(
            F("temperature_c", t := round(ctx.rng.uniform(36.1, 39.4), 1), f"{t:.1f} °C", "temp")
        )
    diagnoses = [
        [F("code", c, c, "ICD-10"), F("description", d, d, "dx")]
        for c, d in ctx.rng.sample(DIAGNOSES, ctx.rng.randint(1, 2))
    ]
    nodes: list[Node] = [
        F("encounter_id", e := ctx.ident("ENC-#######"), e, ctx.pick(["encounter", "visit id"]), "Visit {v}."),
        F("date", day.isoformat(), ctx.date(day), ctx.pick(["visit date", "seen on"]), "Seen on {v}."),
        Obj("patient", "patient", patient, ("Patient: {v}.",)),
        Obj("provider", ctx.pick(["provider", "clinician", "seen by"]), provider, ("Seen by {v}.",)),
        Items("diagnoses", ctx.pick(["diagnoses", "assessment"]), diagnoses, ("{description} ({code})", "{code} {description}"),
              ("Assessment: {v}.", "Diagnosed with {v}.")),
    ]  # fmt: skip
    if vitals:
        nodes.append(Obj("vitals", "vitals", vitals, ("Vitals: {v}.",), bare=True))
    if ctx.keep():
        meds = [[F("name", n, n, "drug"), F("dose", d, d, "dose"), F("frequency", f, f, "frequency")]
                for n, d, f in ctx.rng.sample(DRUGS, ctx.rng.randint(1, 2))]  # fmt: skip
        nodes.append(Items("medications", ctx.pick(["medications", "Rx", "prescribed"]), meds,
                           ("{name} {dose} {frequency}", "{name} {dose}, {frequency}"), ("Prescribed {v}.", "Rx: {v}.")))  # fmt: skip
    if ctx.keep():
        fu = ctx.future_date(day, 30)
        nodes.append(
            F("follow_up_date", fu.isoformat(), ctx.date(fu), "follow-up", "Follow up on {v}.")
        )
    intro = ("Visit note.", "Encounter summary for the chart.", "Clinic note:")
    return Doc(
        "medical_encounter", "visit note", nodes, intro, people=(provider[0].value, ctx.person())
    )


def nested_organization(ctx: Ctx) -> Doc:
    fake = ctx.fake
    departments = []
    for dept in ctx.rng.sample(list(DEPARTMENTS), ctx.rng.randint(1, 3)):
        teams = []
        for team in ctx.rng.sample(DEPARTMENTS[dept], ctx.rng.randint(1, 2)):
            nodes: list[Node] = [F("name", team, team, "team")]
            if ctx.keep():
                nodes.append(F("lead", lead := ctx.person(), lead, "lead"))
            nodes.append(F("size", size := ctx.rng.randint(2, 40), str(size), "size"))
            teams.append(nodes)
        employees = sum(t[-1].value for t in teams)
        d_nodes: list[Node] = [F("name", dept, dept, "department")]
        if ctx.keep():
            d_nodes.append(F("head", head := ctx.person(), head, "head"))
        d_nodes += [F("employees", employees, str(employees), "people"),
                    Items("teams", "teams", teams, ("{name} (lead {lead}, {size})", "{name} ({size})", "{name}: {size} people"))]  # fmt: skip
        departments.append(d_nodes)
    total = sum(d[-2].value for d in departments)
    name = fake.company()
    hq = [
        F("city", c := fake.city(), c, "city"),
        F("country", k := ctx.pick(["United States", "USA"]), k, "country"),
    ]
    nodes = [
        F("name", name, name, ctx.pick(["company", "organization"]), "{v} org chart."),
        Obj("headquarters", ctx.pick(["HQ", "headquarters"]), hq, ("Headquartered in {v}.",), bare=True),
        Items("departments", "departments", departments,
              ("{name} (head {head}, {employees} people)", "{name} ({employees} people)", "{name}: {employees}"),
              ("Departments: {v}.",)),
        F("total_employees", total, str(total), ctx.pick(["headcount", "total employees"]), "{v} employees overall."),
    ]  # fmt: skip
    if ctx.keep():
        nodes.append(
            F("founded", y := ctx.rng.randint(1950, 2022), str(y), "founded", "Founded in {v}.")
        )
    if ctx.keep():
        nodes.append(F("ceo", ceo := ctx.person(), ceo, "CEO", "Led by {v}."))
    intro = ("Org structure as of this quarter.", "Company overview:", "Headcount summary.")
    return Doc(
        "nested_organization",
        f"{name} structure",
        nodes,
        intro,
        people=(ctx.person(), ctx.person()),
    )


def event_registration(ctx: Ctx) -> Doc:
    fake = ctx.fake
    tickets = []
    for kind in ctx.rng.sample(["general", "vip", "student", "workshop"], ctx.rng.randint(1, 3)):
        price = ctx.pick([0.0, 49.0, 99.0, 149.5, 299.0, round(ctx.rng.uniform(20, 500), 2)])
        tickets.append([F("type", kind, kind if kind != "vip" else "VIP", "type"), F("quantity", q := ctx.rng.randint(1, 4), str(q), "qty")]
                       + money_fields(ctx, [("price", price, "each", ())]))  # fmt: skip
    fee = round(ctx.rng.uniform(1, 25), 2) if ctx.keep() else None
    total = round(sum(t[1].value * t[2].value for t in tickets) + (fee or 0), 2)
    name = ctx.person()
    registrant: list[Node] = [
        F("name", name, name, "name"),
        F("email", e := ctx.email_for(name), e, "email"),
    ]
    if ctx.keep():
        registrant.append(F("company", c := fake.company(), c, "company"))
    day = ctx.future_date(ctx.past_date(30), 200)
    nodes: list[Node] = [
        F("registration_id", r := ctx.ident("REG-######"), r, "registration", "Registration {v}."),
        F("event_name", ev := f"{ctx.pick(EVENTS)} {day.year}", ev, "event", "You're registered for {v}."),
        F("event_date", day.isoformat(), ctx.date(day), "date", "It takes place on {v}."),
        Obj("venue", "venue", [F("name", v := f"{fake.last_name()} Convention Center", v, "venue"), F("city", c := fake.city(), c, "city")],
            ("Venue: {v}.", "Held at {v}."), bare=True),
        Obj("registrant", "attendee", registrant, ("Attendee: {v}.",)),
        Items("tickets", "tickets", tickets, ("{quantity} x {type} at {price}", "{type}: {quantity} @ {price}"), ("Tickets: {v}.",)),
        F("total", total, ctx.money(total), "total", "Total charged {v}."),
        F("currency", ctx.currency, ctx.currency_text(), "currency", "In {v}."),
    ]  # fmt: skip
    if fee is not None:
        nodes.append(
            F("service_fee", fee, ctx.money(fee), "service fee", "Includes a {v} service fee.")
        )
    intro = ("Registration confirmed!", "Your tickets are booked.", "Event registration receipt.")
    return Doc(
        "event_registration", f"registration for {ev}", nodes, intro, people=(fake.company(), name)
    )


BUILDERS = {
    "invoice": invoice,
    "shopping_cart": shopping_cart,
    "multi_party_transaction": multi_party_transaction,
    "iot_device_network": iot_device_network,
    "medical_encounter": medical_encounter,
    "nested_organization": nested_organization,
    "event_registration": event_registration,
}
