"""The form registry and the shipped JSON Schemas agree with docs/forms.md."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from parley.errors import InvalidInput
from parley.forms import Field, FormKind, FormSpec, Value, get_form, list_forms
from parley.forms._forms import FORMS

H = timedelta(hours=1)
# id: (ack_deadline, min_lead, area_fields, prior_notice), as in the contract's table.
CONTRACT = {
    "military_activity/1": (24 * H, None, ("area",), True),
    "missile_launch/1": (24 * H, 24 * H, ("launch_area", "impact_area"), True),
    "declared_presence/1": (None, None, ("area",), False),
    "protected_site/1": (None, None, ("location",), False),
    "incident_report/1": (1 * H, None, ("location",), False),
    "violation_allegation/1": (24 * H, None, ("location",), False),
    "violation_allegation/2": (24 * H, None, ("location",), False),
    "allegation_answer/1": (None, None, (), False),
    "allegation_finding/1": (None, None, (), False),
    "request_for_explanation/1": (48 * H, None, (), False),
    "reply/1": (None, None, (), False),
    "exchange_list/1": (72 * H, None, (), False),
    "free_text/1": (None, None, (), False),
}
# Forms other than notifications, and those acknowledged by precedence, as in the contract.
KINDS = {"request_for_explanation/1": FormKind.REQUEST, "reply/1": FormKind.REPLY}
BY_PRECEDENCE = {"reply/1", "free_text/1", "allegation_answer/1", "allegation_finding/1"}
SCHEMAS = resources.files("parley.forms").joinpath("schemas")


def test_list_forms_has_every_form_of_the_contract_sorted_by_id():
    assert [spec.id for spec in list_forms()] == sorted(CONTRACT)


@pytest.mark.parametrize("form_id", sorted(CONTRACT))
def test_form_spec_carries_the_contract_rules(form_id):
    spec = get_form(form_id)
    assert isinstance(spec, FormSpec)
    name, version = form_id.split("/")
    assert (spec.id, spec.name, spec.version) == (form_id, name, int(version))
    assert (spec.ack_deadline, spec.min_lead, spec.area_fields, spec.prior_notice) == CONTRACT[
        form_id
    ]
    assert spec.kind is KINDS.get(form_id, FormKind.NOTIFICATION)
    assert spec.ack_by_precedence is (form_id in BY_PRECEDENCE)


def test_every_form_is_declared_once_and_every_schema_file_by_one_form():
    ids = [spec.id for spec in FORMS]
    assert len(ids) == len(set(ids))
    files = {p.name for p in SCHEMAS.iterdir() if p.name.endswith(".json")} - {"common.json"}
    assert sorted(files) == sorted(spec.schema_file for spec in FORMS)


@pytest.mark.parametrize("form_id", sorted(CONTRACT))
def test_declared_fields_are_the_schema_properties_in_order(form_id):
    spec = get_form(form_id)
    assert [f.key for f in spec.fields] == list(spec.schema["properties"])


@pytest.mark.parametrize("form_id", sorted(CONTRACT))
def test_each_schema_is_a_valid_draft_2020_12_schema_with_its_id(form_id):
    spec = get_form(form_id)
    Draft202012Validator.check_schema(spec.schema)
    assert spec.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert spec.schema["$id"] == f"https://parley.dev/forms/{form_id}"
    assert spec.schema["additionalProperties"] is False
    assert spec.schema["type"] == "object"


@pytest.mark.parametrize("form_id", sorted(CONTRACT))
@pytest.mark.parametrize(
    ("value", "common"),
    [(Value.AREA, "Area"), (Value.MOMENT, "Timestamp"), (Value.INTERVAL, "Interval")],
)
def test_areas_and_times_are_the_fields_typed_so(form_id, value, common):
    spec = get_form(form_id)
    typed = tuple(
        name
        for name, sub in spec.schema["properties"].items()
        if sub.get("$ref", "").endswith(f"#/$defs/{common}")
    )
    assert typed == spec.keys(value)
    if value is Value.AREA:
        assert typed == spec.area_fields


def test_every_object_in_every_schema_refuses_unknown_fields():
    checked = 0

    def objects(node, where):
        if isinstance(node, dict):
            # Area only dispatches on "type" (allOf/if/then); each branch closes itself.
            if "properties" in node and node.get("type") == "object" and "allOf" not in node:
                yield where, node
            for key, value in node.items():
                if key != "if":  # a condition, not a shape
                    yield from objects(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from objects(value, f"{where}/{i}")

    for path in SCHEMAS.iterdir():
        for where, node in objects(json.loads(path.read_text("utf-8")), path.name):
            assert node.get("additionalProperties") is False, where
            checked += 1
    assert checked >= 20  # the walker did find the objects


def test_common_schema_is_valid_and_defines_the_shared_types():
    common = json.loads(SCHEMAS.joinpath("common.json").read_text("utf-8"))
    Draft202012Validator.check_schema(common)
    assert common["$id"] == "https://parley.dev/forms/common.json"
    assert {"Timestamp", "Interval", "Area", "Quantity"} <= set(common["$defs"])
    assert common["$defs"]["Quantity"]["properties"]["unit"] == {"$ref": "#/$defs/Unit"}
    assert common["$defs"]["Unit"]["enum"] == ["km", "nm", "m", "ft", "kt", "km_h"]
    assert common["$defs"]["Quantity"]["required"] == ["value", "unit"]


def test_every_schema_file_is_a_registered_form_and_named_after_its_id():
    files = {p.name for p in SCHEMAS.iterdir() if p.name.endswith(".json")} - {"common.json"}
    assert files == {f"{form_id.replace('/', '.')}.json" for form_id in CONTRACT}


def test_text_limits_follow_the_contract():
    def limit(form_id, *path):
        node = get_form(form_id).schema["properties"]
        for part in path:
            node = node[part]
        return node["maxLength"]

    assert limit("military_activity/1", "description") == 500
    assert limit("missile_launch/1", "missile_type") == 100
    assert limit("protected_site/1", "site_name") == 200
    assert limit("protected_site/1", "agreement") == 200
    assert limit("incident_report/1", "description") == 2000
    assert limit("violation_allegation/1", "agreement") == 200
    assert limit("violation_allegation/1", "description") == 2000
    assert limit("violation_allegation/1", "evidence", "items") == 1000
    assert limit("violation_allegation/2", "description") == 2000
    assert limit("violation_allegation/2", "evidence", "items", "properties", "name") == 200
    assert limit("allegation_answer/1", "explanation") == 4000
    assert limit("allegation_finding/1", "reasoning") == 4000
    assert limit("request_for_explanation/1", "subject") == 500
    assert limit("request_for_explanation/1", "questions", "items") == 1000
    assert limit("reply/1", "answer") == 4000
    assert limit("exchange_list/1", "exchange") == 200
    assert limit("free_text/1", "text") == 16 * 1024


@pytest.mark.parametrize("form_id", ["military_activity", "military_activity/2", "", None, 1])
def test_unknown_form_id_is_invalid_input_on_form_listing_known_forms(form_id):
    with pytest.raises(InvalidInput) as caught:
        get_form(form_id)
    [error] = caught.value.errors
    assert error.field == "form"
    assert error.message.endswith("known forms: " + ", ".join(sorted(CONTRACT)))


def test_get_form_returns_the_same_spec_each_time():
    assert get_form("reply/1") is get_form("reply/1")
    assert hash(get_form("reply/1")) == hash(get_form("reply/1"))


def test_a_declaration_cannot_contradict_itself():
    with pytest.raises(ValueError, match="only an area"):
        Field("count", "Count", Value.MISSILES, item="launch")
    with pytest.raises(ValueError, match="not both"):
        FormSpec("x", 1, FormKind.NOTIFICATION, "X", (), ack_deadline=H, ack_by_precedence=True)
