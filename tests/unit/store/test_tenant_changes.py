"""Change events of the tenants collection, as MongoDB and SecantusDB write them."""

from __future__ import annotations

from service.store.tenant_changes import TenantChange, decoded


def test_a_version_bump_carries_its_version_and_no_settings() -> None:
    change = {"operationType": "update", "documentKey": {"_id": "acme"},
              "updateDescription": {"updatedFields": {"dataVersion": 7}}}  # fmt: skip
    assert decoded(change) == TenantChange("acme", 7, settings_changed=False)


def test_settings_changed_in_mongodbs_dotted_and_secantus_nested_shapes() -> None:
    for fields in ({"settings.timezone": "Asia/Tehran"}, {"settings": {"timezone": "UTC"}}):
        change = {"operationType": "update", "documentKey": {"_id": "acme"},
                  "updateDescription": {"updatedFields": fields}}  # fmt: skip
        assert decoded(change) == TenantChange("acme", None, settings_changed=True)


def test_an_inserted_or_replaced_document_gives_its_version() -> None:
    for kind in ("insert", "replace"):
        change = {"operationType": kind, "documentKey": {"_id": 3},
                  "fullDocument": {"_id": 3, "dataVersion": 0, "settings": {}}}  # fmt: skip
        assert decoded(change) == TenantChange("3", 0, settings_changed=True)
    first_write = {"operationType": "insert", "documentKey": {"_id": "t"},
                   "fullDocument": {"_id": "t", "dataVersion": 1}}  # fmt: skip
    assert decoded(first_write) == TenantChange("t", 1, settings_changed=False)
    bare = {"operationType": "insert", "documentKey": {"_id": "new"}, "fullDocument": None}
    assert decoded(bare) == TenantChange("new", None, settings_changed=True)
