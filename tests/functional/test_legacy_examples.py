"""legacy-api.md §5: every example of the vendor's documentation, in order, on the demo."""

from typing import Any

from accord.services.transactions import Database
from tests.support import Legacy, custom_field


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["success"] is True, reply
    return reply


def test_the_documented_examples_succeed_in_order(legacy: Legacy, db: Database) -> None:
    # 1. setcontact, by names (the white-space-blind lookup finds "Ted Johnson") and by ids.
    ok(legacy("setcontact", companyName="Adobe", contactName="TedJohnson"))
    assert legacy("getcontactbyname", contactName="Ted Johnson")["contact_company"] == "Adobe"
    ok(legacy("setcontact", companyId="15", contactId="6"))
    assert legacy("getcontactbyname", contactId="6")["contact_company"] == "Oceanic Airlines"

    # 2. addcontact whose company does not exist yet: the company is created.
    added = ok(
        legacy(
            "addcontact",
            **{
                "clients-contact_name": "new contact",
                "clients-contact_company": "newCompany",
                "view-clients-contact_company": "newCompany",
                "clients-contact_email": "new@new.com",
            },
        )
    )
    assert added["contact_company"] == "newCompany"
    assert added["contact_email"] == "new@new.com"
    assert ok(legacy("getcompanybyname", companyName="newCompany"))["org_name"] == "newCompany"

    # 3. addcompany with display texts for dictionary fields.
    company = ok(
        legacy(
            "addcompany",
            **{
                "clients-org_name": "test Company Name",
                "clients-org_www": "test.com",
                "tableName": "CLIENTS",
                "view-clients-org_industry": "Consulting",
                "view-clients-org_sla": "SLA-1 Free",
            },
        )
    )
    assert (company["org_industry"], company["org_sla"]) == ("Consulting", "SLA-1 Free")
    assert company["id"].isdigit()
    assert company["name"] == "test Company Name"

    # 4. reads.
    companies = ok(legacy("getcompanies"))["companies"]
    assert [c["id"] for c in companies] == sorted((c["id"] for c in companies), key=int)
    assert {"Teamlead", "newCompany", "test Company Name"} <= {c["name"] for c in companies}
    assert ok(legacy("getcontacts"))["contacts"]
    assert ok(legacy("getcompanybyname", companyId="2"))["name"] == "Teamlead"
    assert ok(legacy("getcompanybyname", companyName="Teamlead"))["id"] == "2"
    assert ok(legacy("getcontactbyname", contactId="2"))["id"] == "2"
    assert ok(legacy("getcontactbyname", contactName="Vladimir Putin"))["name"] == "Vladimir Putin"

    # 5. a dictionary value added, then removed.
    ok(legacy("adddictionaryvalue", dictionaryName="Colors", newvalue="Green"))
    ok(legacy("removedictionaryvalue", dictionaryName="Colors", valuetoremove="Green"))

    # 6. search contacts by their company's name.
    records = ok(
        legacy(
            "searchEntities",
            crm_param_1="Company",
            crm_param_1_value="Teamlead",
            tableName="CONTACTS",
        )
    )["records"]
    assert records
    assert all(r["contact_company"] == "Teamlead" for r in records)

    # 7. editcontact with a new position, e-mail and login.
    contact = ok(
        legacy(
            "editcontact",
            **{
                "contactId": "2",
                "view-clients-contact_position": "CTO",
                "clients-contact_position": "CTO",
                "clients-contact_email": "x@y.z",
                "clients-contact_login": "bstone",
            },
        )
    )
    assert (contact["contact_position"], contact["contact_email"]) == ("CTO", "x@y.z")
    assert contact["contact_login"] == "bstone"

    # 8. custom fields: a multi-dictionary one, a text one, and a display name with a
    # Cyrillic "С" standing for the Latin "C".
    services = custom_field(db, "CLIENTS", "Services")
    notes = custom_field(db, "CLIENTS", "Notes")
    edited = ok(
        legacy(
            "editcompany",
            companyId="3",
            **{
                f"view-clients-{services}": "Development,Training",
                f"clients-{services}": "Development,Training",
            },
        )
    )
    assert edited[services] == "Development,Training"
    assert ok(legacy("editcompany", companyId="3", **{f"clients-{notes}": "testest"}))[notes] == (
        "testest"
    )
    renamed = ok(legacy("editcompany", companyId="3", **{"Сompany name": "New name"}))
    assert renamed["name"] == renamed["org_name"] == "New name"

    # 9. updateOrCreateEntity with crm_param pairs and a blank id creates a product.
    product = ok(
        legacy.get(
            "command=updateOrCreateEntity&apiKey=accord-demo-key&userName=admin&tableName=PRODUCTS"
            "&crm_param_1=Product%20Name&crm_param_1_value=Test&id=&crm_param_2=Price"
            "&crm_param_2_value=10&crm_param_3=Vendor&crm_param_3_value=Atlassian"
            "&crm_param_4=area&crm_param_4_value=area"
        )
    )
    assert (product["name"], product["product_price"], product["product_vendor"]) == (
        "Test",
        "10",
        "Atlassian",
    )
    assert product["product_area"] == "area"

    # 10. transactions of a sale.
    transactions = ok(legacy("transactionslist", saleVal="SALES-1"))["transactions"]
    assert transactions
    assert {t["transaction_sale"] for t in transactions} == {"SALES-1"}
