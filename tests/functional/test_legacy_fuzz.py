"""Property tests of the legacy API: whatever arrives, the JSON envelope, and no stray write.

Section 1 of docs/legacy-api.md (HTTP 200 and a JSON object for every logical outcome),
and the rule that bad input changes nothing: any query string or form body, by GET or
POST, with or without a valid key and user, gets HTTP 200 and a JSON object with a
boolean `success`; a reply that is not a success has changed nothing in the database.
Parameters are drawn partly from the real ones (commands, field codes and names,
`crm_param_N` pairs) so that the calls reach the commands, and partly from arbitrary
bytes, percent-encoded or sent raw.
"""

import functools
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accord.services.transactions import open_database
from tests.functional.test_legacy_bad_input import Rows
from tests.support import (
    API_PATH,
    KEY,
    InProcessServer,
    Templates,
    custom_field,
    dump,
    settings_for,
)

COMMANDS = [
    "getcompanies",
    "getcompanybyname",
    "addcompany",
    "editcompany",
    "deletecompany",
    "getcontacts",
    "getcontactbyname",
    "addcontact",
    "editcontact",
    "deletecontact",
    "setcontact",
    "adddictionaryvalue",
    "removedictionaryvalue",
    "searchEntities",
    "updateOrCreateEntity",
    "transactionslist",
    "sync",
    "setcrmproperties",
    "getContactEmail",
]
PARAMETERS = [
    "command",
    "apiKey",
    "userName",
    "tableName",
    "id",
    "companyId",
    "companyName",
    "contactId",
    "contactName",
    "dictionaryName",
    "newvalue",
    "valuetoremove",
    "saleVal",
    "issueKey",
    "customFieldId",
    "fieldName",
    "value",
]
FIELD_CODES = [
    "org_name",
    "org_type",
    "org_industry",
    "org_www",
    "org_sla",
    "org_contact",
    "org_people",
    "contact_name",
    "contact_email",
    "contact_position",
    "contact_login",
    "contact_company",
    "contact_phone",
    "product_name",
    "product_price",
    "product_vendor",
    "product_area",
    "transaction_date",
    "transaction_amount",
    "transaction_currency",
    "transaction_company",
    "transaction_sale",
    "transaction_comment",
]
FIELD_NAMES = [
    "Company name",
    "Сompany name",
    "Type",
    "Website",
    "Main contact",
    "Contacts",
    "Full name",
    "E-mail",
    "Position",
    "Company",
    "Product Name",
    "Price",
    "Date",
    "Amount",
    "Currency",
    "Sale",
    "Services",
    "Notes",
    "Color",
]
VALUES = [
    "",
    " ",
    "2",
    "6",
    "15",
    "(2)",
    "(6),(2)",
    "999",
    "0",
    "-1",
    "Teamlead",
    "teamlead",
    "Adobe",
    "Ted Johnson",
    "TedJohnson",
    "newCompany",
    "Colors",
    "Red",
    "Green",
    "Position",
    "CLIENTS",
    "COMPANIES",
    "CONTACTS",
    "PRODUCTS",
    "TRANSACTIONS",
    "x@y.z",
    "not-an-email",
    "2026-01-15",
    "31.02.2026",
    "10,5",
    "1e5",
    "true",
    "maybe",
    "SALES-1",
    "customfield_10100",
    "Development,Training",
    "SLA-1 Free",
    "admin",
    "manager",
    "viewer",
    KEY,
]
# The documented calls (legacy-api.md §5 and a few more), to start from: changing one value
# of a call that works reaches deeper than a call made up from nothing.
EXAMPLES = [
    "setcontact&companyName=Adobe&contactName=TedJohnson",
    "setcontact&companyId=15&contactId=6",
    "addcontact&clients-contact_name=new contact&clients-contact_company=newCompany"
    "&view-clients-contact_company=newCompany&clients-contact_email=new@new.com",
    "addcompany&clients-org_name=test Company Name&clients-org_www=test.com&tableName=CLIENTS"
    "&view-clients-org_industry=Consulting&view-clients-org_sla=SLA-1 Free",
    "getcompanybyname&companyId=2",
    "getcompanybyname&companyName=Teamlead",
    "getcontactbyname&contactName=Vladimir Putin",
    "adddictionaryvalue&dictionaryName=Colors&newvalue=Green",
    "removedictionaryvalue&dictionaryName=Colors&valuetoremove=Green",
    "searchEntities&crm_param_1=Company&crm_param_1_value=Teamlead&tableName=CONTACTS",
    "editcontact&contactId=2&view-clients-contact_position=CTO&clients-contact_position=CTO"
    "&clients-contact_email=x@y.z&clients-contact_login=bstone",
    "editcompany&companyId=3&Сompany name=New name&org_www=new.example",
    "updateOrCreateEntity&tableName=PRODUCTS&crm_param_1=Product Name&crm_param_1_value=Test"
    "&id=&crm_param_2=Price&crm_param_2_value=10&crm_param_3=Vendor"
    "&crm_param_3_value=Atlassian&crm_param_4=area&crm_param_4_value=area",
    "updateOrCreateEntity&tableName=TRANSACTIONS&id=1&Date=2026-05-01&Amount=10,5&Company=(2)",
    "transactionslist&saleVal=SALES-1",
    "setcrmproperties&issueKey=SALES-2&customFieldId=customfield_10100&value=(6),(2)",
    "getContactEmail&issueKey=SALES-1&customFieldId=customfield_10100",
    "deletecontact&contactName=Heidi Klum",
    "deletecompany&companyName=Soylent",
]
# Who calls, as query parameters and headers: mostly someone the API lets in (None: one
# of the callers it does not, below).
Caller = tuple[str, dict[str, str]]
ADMIN: Caller = (f"apiKey={KEY}&userName=admin", {})
CALLERS: list[Caller | None] = [
    *[ADMIN] * 5,
    (f"apiKey={KEY}&userName=manager", {}),
    (f"apiKey={KEY}&userName=viewer", {}),
    ("userName=ADMIN", {"X-Api-Key": KEY}),
    None,
]
OUTSIDERS: list[Caller] = [
    ("apiKey=wrong-key&userName=admin", {}),
    (f"apiKey={KEY}", {}),
    ("", {}),
    # A user name or key drawn like any other value.
    (f"apiKey={KEY}&userName=", {}),
    ("userName=admin&apiKey=", {}),
]
# Values that have broken servers before: not UTF-8, NUL, the longest text and then some.
AWKWARD = [b"\xff\xfe", b"\x80", b"\x00", b"Adobe\x00", b"Ted Johnson\xff", "n" * 10_001]
# Bytes that may stand raw in a request target (anything else is percent-encoded there).
TARGET_SAFE = frozenset((string.ascii_letters + string.digits + "-._~!$'()*,;:@/?&=+%").encode())
JUNK = [b"%", b"%zz", b"%G0", b"%F", b"%FF", b"%00", b"&", b"&&", b"=", b"==", b"=x", b"a=b=c"]
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [FORM, FORM, FORM, f"{FORM}; charset=UTF-8", "text/plain", "multipart/form-data"]

command_values = st.sampled_from(COMMANDS).flatmap(
    lambda c: st.sampled_from([c, c.lower(), c.upper(), c.swapcase(), f" {c} "])
)
any_text = st.text(max_size=12)
any_bytes = st.binary(max_size=12)


def names(codes: Sequence[str]) -> st.SearchStrategy[str | bytes]:
    """Parameter names: the API's own, field codes and names, their prefixed forms, noise."""
    every_code = [*FIELD_CODES, *codes]
    crm = st.builds(
        "crm_param_{}{}".format,
        st.sampled_from([0, 1, 2, 3, 10, 999_999_999_999]),
        st.sampled_from(["", "", "_value"]),
    )
    return st.one_of(
        st.sampled_from(PARAMETERS),
        st.sampled_from(every_code),
        st.sampled_from(every_code).map("clients-{}".format),
        st.sampled_from(every_code).map("view-clients-{}".format),
        st.sampled_from(FIELD_NAMES),
        crm,
        any_text,
        any_bytes,
    )


def values_for(name: str | bytes) -> st.SearchStrategy[str | bytes]:
    if name == "command":
        return st.one_of(command_values, command_values, any_text, any_bytes)
    return st.one_of(st.sampled_from(VALUES), st.sampled_from(AWKWARD), any_text, any_bytes)


def _bytes(piece: str | bytes) -> bytes:
    return piece if isinstance(piece, bytes) else piece.encode("utf-8", "surrogatepass")


@st.composite
def encoded(draw: st.DrawFn, piece: str | bytes, *, in_target: bool) -> bytes:
    """`piece` percent-encoded, with `+` for spaces, or raw (raw in a URL only when it can)."""
    raw = _bytes(piece)
    how = draw(st.sampled_from(["percent", "plus", "raw"]))
    if how == "raw" and (not in_target or set(raw) <= TARGET_SAFE):
        return raw
    if how == "plus":
        return quote_from_bytes(raw, safe=" ").replace(" ", "+").encode()
    return quote_from_bytes(raw, safe="").encode()


@st.composite
def documented(draw: st.DrawFn) -> list[tuple[str, str | bytes]]:
    """A documented call's parameters, each kept, dropped or given another value."""
    command, *rest = draw(st.sampled_from(EXAMPLES)).split("&")
    pairs: list[tuple[str, str | bytes]] = []
    for name, _, value in (("command", "=", command), *(p.partition("=") for p in rest)):
        fate = draw(st.sampled_from(["keep"] * 6 + ["change", "drop"]))
        if fate != "drop":
            pairs.append((name, value if fate == "keep" else draw(values_for(name))))
    return pairs


@dataclass(frozen=True)
class Call:
    query: bytes
    body: bytes
    headers: dict[str, str]


@st.composite
def calls(draw: st.DrawFn, codes: Sequence[str], *, post: bool) -> Call:
    """A call: parameters split between the query string and (if `post`) a form body."""
    caller, headers = draw(st.sampled_from(CALLERS)) or draw(st.sampled_from(OUTSIDERS))
    if caller.endswith("="):
        caller += draw(encoded(draw(values_for(caller)), in_target=True)).decode()
    pieces: list[tuple[bytes, bool]] = [(caller.encode(), False)] if caller else []
    chosen: list[tuple[str | bytes, str | bytes | None]] = []
    if draw(st.booleans()):
        chosen.extend(draw(documented()))
    elif draw(st.integers(0, 9)) < 8:
        chosen.append(("command", draw(command_values)))
    for _ in range(draw(st.integers(0, 6))):
        name = draw(names(codes))
        chosen.append((name, draw(st.none() | values_for(name))))
        if isinstance(name, str) and name.startswith("crm_param_") and draw(st.booleans()):
            chosen.append((f"{name}_value", draw(values_for(name))))
    for name, value in chosen:
        in_body = post and draw(st.booleans())
        piece = draw(encoded(name, in_target=not in_body))
        if value is not None:
            piece += b"=" + draw(encoded(value, in_target=not in_body))
        pieces.append((piece, in_body))
    junk = draw(st.lists(st.sampled_from(JUNK), max_size=2))
    pieces.extend((piece, post and draw(st.booleans())) for piece in junk)
    ordered = draw(st.permutations(pieces))
    query = b"&".join(p for p, in_body in ordered if not in_body)
    body = b"&".join(p for p, in_body in ordered if in_body)
    # Longer request targets never reach the app (test_legacy_bad_input covers that).
    assume(len(query) < 60_000)
    if post:
        headers = {**headers, "content-type": draw(st.sampled_from(CONTENT_TYPES))}
    return Call(query, body, headers)


class Target:
    """The server, and what its database held after the last call.

    Only these tests call this server, so what it held after one call is what it holds
    before the next: one snapshot per call instead of two.
    """

    def __init__(self, http: httpx.Client, rows: Rows, codes: list[str]) -> None:
        self.http = http
        self.rows = rows
        self.codes = codes
        self.last: dict[str, Any] | None = None

    def check(self, method: str, call: Call) -> None:
        """Send `call`: the JSON envelope with HTTP 200, and no change unless a success."""
        url = self.http.base_url.copy_with(raw_path=API_PATH.encode() + b"?" + call.query)
        assert url.raw_path.endswith(call.query), "the query would not go out as drawn"
        before = self.last if self.last is not None else self.rows()
        self.last = None
        response = self.http.request(method, url, content=call.body, headers=call.headers)
        self.last = after = self.rows()
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        reply = response.json()
        assert isinstance(reply, dict), reply
        assert isinstance(reply.get("success"), bool), reply
        if not reply["success"]:
            assert isinstance(reply.get("details"), str), reply
            assert reply["details"].strip(), reply
            assert after == before, f"a call that failed changed the database: {reply}"


@pytest.fixture(scope="module")
def target(templates: Templates) -> Iterator[Target]:
    """One demo server per database for every example (Hypothesis runs them in one test)."""
    with templates.fresh("demo") as url:
        database = open_database(url, sqlite_synchronous="NORMAL")
        codes = [custom_field(database, "CLIENTS", name) for name in ("Services", "Notes")]
        with (
            InProcessServer(settings_for(url), database) as served,
            served.client() as client,
        ):
            yield Target(client, functools.partial(dump, database), codes)
        database.dispose()


BOUNDED = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@BOUNDED
@given(data=st.data())
def test_any_query_string_by_get_gets_the_envelope_and_no_stray_write(
    target: Target, data: st.DataObject
) -> None:
    target.check("GET", data.draw(calls(target.codes, post=False), label="call"))


@BOUNDED
@given(data=st.data())
def test_any_form_body_by_post_gets_the_envelope_and_no_stray_write(
    target: Target, data: st.DataObject
) -> None:
    target.check("POST", data.draw(calls(target.codes, post=True), label="call"))
