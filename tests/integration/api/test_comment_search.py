"""surveyResponses(search: …): the verbatims behind a score, found by their words — Persian
and Arabic comments, on the embedded database (no text index there: docs/adr/0020)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.domain.records import RecordFilter
from service.store.indexes import SURVEY_RESPONSES
from service.store.pagination import page_pipeline
from service.store.record_pages import record_query
from tests.conftest import http_client, run_cli
from tests.graphql import gql, gql_ok, no_answer
from tests.integration.builders import (
    at,
    customer,
    nps,
    response,
    submit_responses,
    upsert_customers,
)
from tests.integration.store.test_pages_use_indexes import END, START, _cursor, _index_of

SEARCH = """query($q: String, $first: Int, $after: String, $order: RecordOrder!,
                  $f: RecordFilter) {
  surveyResponses(search: $q, first: $first, after: $after, orderBy: $order, filter: $f) {
    edges { node { externalId comment answers { value } } }
    pageInfo { hasNextPage endCursor } } }"""

COMMENTS = {
    "fa1": "پشتیبانیِ شما بسیار کُند بود؛ می‌خواهم اشتراکم را لغو کنم",
    "fa2": "محصول خوب است ولی قیمت بالاست",
    "fa3": "مشكل پشتيباني هنوز حل نشده",  # Persian typed on an Arabic keyboard (ي ك)
    "ar1": "الخدمةُ كانت بطيئةً جداً، أريد إلغاء الاشتراك",
    "ar2": "المنتج ممتاز والسعر مناسب",
    "en1": "Support was SLOW, the café was nice",
    "op1": '{"$ne": null} $where',
}


async def seed(client: httpx.AsyncClient) -> None:
    await submit_responses(client, [
        response(rid, f"c{i % 3}", submitted_at=at(10 * i), answers=[nps(i)], comment=text)
        for i, (rid, text) in enumerate(COMMENTS.items())
    ] + [response("none", submitted_at=at(100), answers=[nps(5)])])  # fmt: skip


async def found(client: httpx.AsyncClient, search: str | None, **args: Any) -> list[str]:
    variables = {"q": search, "order": "OLDEST_FIRST", **args}
    data = await gql_ok(client, SEARCH, variables)
    return [e["node"]["externalId"] for e in data["surveyResponses"]["edges"]]


SEARCHES = [
    ("کند", ["fa1"]),
    ("پشتیبانی", ["fa1", "fa3"]),  # found in the Arabic-keyboard spelling too
    ("پشتيباني", ["fa1", "fa3"]),  # and the other way round
    ("میخواهم", ["fa1"]),  # typed without the zero-width non-joiner
    ("می‌خواهم", ["fa1"]),  # and with it
    ("قیمت محصول", ["fa2"]),  # every word, any order
    ("قیمت سرعت", []),  # one word missing
    ("كند", ["fa1"]),  # Arabic kaf
    ("الاشتراك", ["ar1"]),
    ("إلغاء", ["ar1"]),  # hamza under alef, as stored
    ("الغاء", ["ar1"]),  # and without it
    ("بطيئة", ["ar1"]),  # teh marbuta and diacritics folded
    ("ممتاز", ["ar2"]),
    ("والسعر", ["ar2"]),
    ("السعر", []),  # no stemmer: the clitic و stays part of its word
    ("slow cafe", ["en1"]),
    ("Café", ["en1"]),
    ("لغو", ["fa1"]),
    ("لغ", []),  # whole words, not prefixes
    ('{"$ne": null}', ["op1"]),  # operator-looking text is words to look for
    ("$where", ["op1"]),
]


@pytest.mark.parametrize("search,expected", SEARCHES, ids=[s for s, _ in SEARCHES])
async def test_search_finds_the_comments_with_every_word(
    client: httpx.AsyncClient, search: str, expected: list[str]
) -> None:
    await seed(client)
    assert await found(client, search, first=50) == expected


async def test_search_pages_newest_first_and_combines_with_filters(
    client: httpx.AsyncClient,
) -> None:
    await upsert_customers(client, [customer("c1")])
    await submit_responses(client, [
        response(f"p{i}", f"c{i % 2}", submitted_at=at(i), answers=[nps(i % 11)],
                 comment=f"تحویل دیر بود {i}", channel="WEB" if i % 3 else "EMAIL")
        for i in range(25)
    ])  # fmt: skip
    pages: list[str] = []
    after = None
    while True:
        data = await gql_ok(client, SEARCH, {"q": "تحویل دیر", "first": 10, "after": after,
                                             "order": "NEWEST_FIRST"})  # fmt: skip
        page = data["surveyResponses"]
        pages += [e["node"]["externalId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == [f"p{i}" for i in reversed(range(25))]

    window = {"from": at(5).isoformat(), "to": at(20).isoformat()}
    narrowed = await found(client, "دیر", first=50, f={"channel": "EMAIL", "window": window})
    assert narrowed == [f"p{i}" for i in range(5, 20) if i % 3 == 0]
    one_customer = {"customer": (await customer_id(client, "c1"))}
    assert await found(client, "دیر 7", first=50, f=one_customer) == ["p7"]


async def customer_id(client: httpx.AsyncClient, external_id: str) -> str:
    query = f'{{ customer(ref: {{source: "crm", externalId: "{external_id}"}}) {{ id }} }}'
    data = await gql_ok(client, query)
    return str(data["customer"]["id"])


async def test_a_changed_comment_is_found_by_its_new_words_and_erasure_forgets_them(
    client: httpx.AsyncClient, db: Any
) -> None:
    await upsert_customers(client, [customer("c1")])
    await submit_responses(client, [response("u1", "c1", comment="قیمت بالاست")])
    assert await found(client, "قیمت") == ["u1"]
    await submit_responses(client, [response("u1", "c1", comment="الخدمة ممتازة")])
    assert await found(client, "قیمت") == []
    assert await found(client, "ممتازة") == ["u1"]
    await submit_responses(client, [response("u1", "c1")])  # the comment removed
    assert await found(client, "ممتازة") == []

    await submit_responses(client, [response("u2", "c1", comment="پشتیبانی کند")])
    erase = 'mutation { eraseCustomer(ref: {source: "crm", externalId: "c1"}) { customer } }'
    await gql_ok(client, erase)
    assert await found(client, "کند") == []
    stored = await db.survey_responses.find_one({"externalId": "u2"})
    assert "commentTerms" not in stored and "comment" not in stored


BAD_SEARCHES = [("", "no words"), ("؟ ! …", "no words"),
                (" ".join(f"w{i}" for i in range(11)), "11 words")]  # fmt: skip


@pytest.mark.parametrize("search,message", BAD_SEARCHES, ids=["empty", "marks only", "too many"])
async def test_a_search_without_words_or_with_too_many_is_refused(
    client: httpx.AsyncClient, search: str, message: str
) -> None:
    body = await gql(client, SEARCH, {"q": search, "order": "OLDEST_FIRST"})
    assert no_answer(body)
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": "INVALID_SEARCH",
                                   **({"maximum": 10} if "11" in message else {})}  # fmt: skip
    assert message in error["message"]


async def test_a_search_that_is_no_string_is_a_type_error(client: httpx.AsyncClient) -> None:
    query = '{ surveyResponses(search: {ne: ""}) { edges { node { id } } } }'
    body = await gql(client, query)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_search_never_finds_another_tenants_comments(
    app: Any, client: httpx.AsyncClient
) -> None:
    async with http_client(app, tenant="other") as theirs:
        await submit_responses(theirs, [response("t1", comment="ارسال دیر بود")])
        assert await found(theirs, "ارسال") == ["t1"]
    assert await found(client, "ارسال") == []


async def test_search_needs_the_data_read_scope(app: Any) -> None:
    async with http_client(app, scopes=["metrics:read"]) as c:
        body = await gql(c, SEARCH, {"q": "کند", "order": "OLDEST_FIRST"})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_comments_stored_before_their_words_are_found_after_reindex(
    client: httpx.AsyncClient, db: Any, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await submit_responses(client, [
        response("old", submitted_at=at(0), comment="ارسال دیر انجام شد"),
        response("new", submitted_at=at(1), comment="ارسال سریع بود"),
    ])  # fmt: skip
    # As a version before this one wrote it: the comment without its words.
    await db.survey_responses.update_one({"externalId": "old"}, {"$unset": {"commentTerms": ""}})
    assert await found(client, "ارسال") == ["new"]

    assert await run_cli("comments", "reindex") == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "comments: stored the words of 1 comments in 1 tenants", "default: 1"]  # fmt: skip
    assert await found(client, "ارسال") == ["old", "new"]  # a new data version: not cached
    assert await run_cli("comments", "reindex") == 0  # nothing left to do
    assert "of 0 comments" in capsys.readouterr().out


# ------------------------------------------------------------------- served by indexes

TERMS_INDEX = "tenant_1_commentTerms_1_submittedAt_1__id_1"


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest", "newest"])
@pytest.mark.parametrize(
    "flt,expected",
    [
        (RecordFilter(terms=("کند",)), TERMS_INDEX),
        (RecordFilter(terms=("کند", "بود"), start=START, end=END), TERMS_INDEX),
        (RecordFilter(terms=("کند",), journey="j", channel="WEB"), TERMS_INDEX),
        (RecordFilter(terms=("کند",), customer_id="cus_1"), "tenant_1_customerId_1_submittedAt_1"),
    ],
    ids=["one word", "two words in a window", "with journey", "one customer's"],
)
async def test_a_search_page_after_a_cursor_walks_the_words_index(
    db: Any, flt: RecordFilter, expected: str, newest_first: bool
) -> None:
    indexed, residual = record_query(SURVEY_RESPONSES, "t1", flt)
    after = _cursor(at(0).isoformat(), "x_1")
    pipeline = page_pipeline(indexed, "submittedAt", 50, after, residual=residual,
                             descending=newest_first)  # fmt: skip
    assert await _index_of(db, SURVEY_RESPONSES, pipeline) == expected
