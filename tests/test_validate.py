"""Each data check catches what it should and accepts every written form the generator uses."""

from __future__ import annotations

import copy

import pytest

from maaza.schemas import load_schemas
from maaza.validate import CHECKS, check_record, derived_errors, grounding_errors, validate_records


@pytest.fixture(scope="module")
def schemas():
    return load_schemas()


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Total due: $1,234.50", {"total": 1234.5}),
        ("Total due: 1234.50 USD", {"total": 1234.5, "currency": "USD"}),
        ("Paid £12.00", {"amount": 12, "currency": "GBP"}),
        ("It read 18.1 °C.", {"value": 18.1, "unit": "°C"}),
        ("Issued March 3, 2025.", {"issue_date": "2025-03-03"}),
        ("Issued 3 Mar 2025.", {"issue_date": "2025-03-03"}),
        ("Issued Monday, March 3, 2025.", {"issue_date": "2025-03-03"}),
        ("At March 3rd, 2025 at 2:05 PM UTC", {"t": "2025-03-03T14:05:00Z"}),
        ("2025-03-03 14:05:09 UTC", {"t": "2025-03-03T14:05:09Z"}),
        ("Tax rate 8.25%", {"tax_rate": 0.0825}),
        ("Long is 74.0060° W.", {"longitude": -74.006}),
        ("We have three of them.", {"quantity": 3}),
        ("Deliver via in-app message.", {"channel": "in_app"}),
        ("Paid by credit card.", {"payment_method": "credit_card"}),
        ("Availability: out of stock", {"in_stock": False}),
        (
            "2 x Widget @ 3.50",
            {"lines": [{"quantity": 2, "unit_price": 3.5, "amount": 7.0}]},
        ),  # derivable
        ("id,age\nx1,60,2023", {"age": 60}),  # CSV commas are not thousands separators
    ],
)
def test_grounded_forms(prompt, expected):
    assert grounding_errors(prompt, expected) == []


@pytest.mark.parametrize(
    ("prompt", "expected", "path"),
    [
        ("Total due: $1,234.50", {"total": 1234.05}, "total"),
        ("Issued March 3, 2025.", {"issue_date": "2025-03-04"}, "issue_date"),
        ("At March 3, 2025 at 2:05 PM UTC", {"t": "2025-03-03T14:06:00Z"}, "t"),
        ("Call Ana.", {"name": "Ana", "phone": "555-0100"}, "phone"),
        ("Vendor: Acme", {"vendor": {"name": "Acme", "email": "a@b.co"}}, "vendor.email"),
        ("Items: tea", {"items": [{"name": "tea"}, {"name": "milk"}]}, "items[1].name"),
        ("Nothing about it here.", {"remote": True}, "remote"),
    ],
)
def test_ungrounded_values_are_reported_by_path(prompt, expected, path):
    errors = grounding_errors(prompt, expected)
    assert len(errors) == 1 and errors[0].startswith(f"{path}=")


def invoice() -> dict:
    return {
        "invoice_number": "INV-1", "issue_date": "2025-03-03", "vendor": {"name": "Acme"}, "customer": {"name": "Bo"},
        "line_items": [{"description": "Audit", "quantity": 2, "unit_price": 10.0, "amount": 20.0},
                       {"description": "Hosting", "quantity": 1, "unit_price": 5.5, "amount": 5.5}],
        "subtotal": 25.5, "tax_rate": 0.1, "tax": 2.55, "total": 28.05, "currency": "USD",
    }  # fmt: skip


def test_derived_fields_within_two_cents():
    assert derived_errors("invoice", invoice()) == []
    near = invoice()
    near["total"] = 28.07  # 0.02 off: still consistent
    assert derived_errors("invoice", near) == []
    off = invoice()
    off["total"] = 28.08
    off["line_items"][0]["amount"] = 21.0
    errors = derived_errors("invoice", off)
    assert any(e.startswith("total=") for e in errors) and any(
        e.startswith("line_items[0].amount") for e in errors
    )


@pytest.mark.parametrize(
    ("schema_id", "broken"),
    [
        (
            "shopping_cart",
            {
                "items": [{"quantity": 2, "unit_price": 3.0, "line_total": 6.0}],
                "subtotal": 6.0,
                "discount": 1.0,
                "shipping": 2.0,
                "tax": 0.5,
                "total": 8.5,
            },
        ),  # fmt: skip
        ("order_details", {"quantity": 3, "unit_price": 2.0, "shipping_fee": 1.0, "total": 6.0}),
        (
            "multi_party_transaction",
            {
                "total_amount": 10.0,
                "parties": [{"role": "payer", "amount": 10.0}, {"role": "payee", "amount": 9.0}],
                "fees": [{"amount": 0.5}],
            },
        ),  # fmt: skip
        (
            "iot_device_network",
            {
                "devices": [{"status": "online"}, {"status": "error"}],
                "device_count": 2,
                "online_count": 2,
            },
        ),
        (
            "nested_organization",
            {"departments": [{"employees": 5, "teams": [{"size": 4}]}], "total_employees": 5},
        ),
        (
            "event_registration",
            {"tickets": [{"quantity": 2, "price": 10.0}], "service_fee": 1.0, "total": 20.0},
        ),
    ],
)
def test_every_derived_rule_catches_an_inconsistency(schema_id, broken):
    assert derived_errors(schema_id, broken)


def record(**overrides) -> dict:
    r = {"id": "invoice-0001", "schema_id": "invoice", "complexity": "complex", "style": "kv",
         "prompt": "Invoice INV-1 issued 2025-03-03 by Acme for Bo: 2 x Audit at $10.00 = $20.00; 1 x Hosting "
                   "at $5.50 = $5.50. Subtotal $25.50, tax rate 10%, tax $2.55, total $28.05 (USD).",
         "expected_output": invoice()}  # fmt: skip
    return {**r, **overrides}


def test_a_good_record_passes_every_check(schemas):
    assert check_record(record(), schemas) == {name: [] for name in CHECKS}


def test_each_check_fails_on_its_defect(schemas):
    wrong_type = record(expected_output={**invoice(), "total": "28.05"})
    assert check_record(wrong_type, schemas)["schema_valid"]
    bad_date = record(expected_output={**invoice(), "issue_date": "2025-13-40"})
    assert check_record(bad_date, schemas, "assert")["schema_valid"]
    not_json = record(expected_output={**invoice(), "total": float("nan")})
    assert check_record(not_json, schemas)["parses"]
    assert check_record(record(schema_id="nope"), schemas)["record"]
    assert check_record(record(complexity="huge"), schemas)["record"]
    assert check_record({"id": "x"}, schemas)["record"]
    changed = copy.deepcopy(invoice())
    changed["customer"]["name"] = "Cy"
    assert check_record(record(expected_output=changed), schemas)["grounded"] == [
        "customer.name='Cy' not found in prompt"
    ]


def test_format_is_checked_under_the_metrics_policy(schemas):
    """One policy: `format` is an annotation for the data checks exactly when it is one for the
    metrics (maaza.metrics.schema_errors), and asserted by both otherwise."""
    from maaza.metrics import is_compliant

    bad_date = {**invoice(), "issue_date": "2025-13-40"}
    schema = schemas["invoice"]
    for policy in ("annotation", "assert"):
        data_ok = not check_record(record(expected_output=bad_date), schemas, policy)[
            "schema_valid"
        ]
        assert data_ok == is_compliant(bad_date, schema, policy) == (policy == "annotation")


def test_summary_counts_failures_and_duplicates(schemas):
    summary = validate_records(
        [record(), record(id="invoice-0002"), record(id="x", schema_id="nope")], schemas
    )
    assert summary["n"] == 3 and summary["n_failed"] == 2
    assert summary["checks"]["unique"]["failed"] == 2  # the copy and the unknown-schema copy
    assert summary["checks"]["record"]["failed"] == 1
    assert summary["checks"]["grounded"]["pass_rate"] == 1.0
