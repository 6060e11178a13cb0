"""The site's own content hash: a record is the write's only when its hash is the content's
as the profile's template makes it (fields, joiner, algorithm)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from harness.observe.audit import ContentHash, find_record
from harness.targets.api import Exchange

CONTENT = "门户 probe 文本".encode()
ACCOUNT = "ada_7"
EXCHANGE = Exchange(method="POST", url="http://127.0.0.1/p", actor="author",
                    started="2024-05-01T12:00:00.000Z", elapsed_s=0.1, status=201,
                    client_ip="127.0.0.1", client_port=50000)
TEMPLATE = {"content_hash": {"fields": ["account", "content"], "joiner": "\n",
                             "algorithm": "sha1"}}


def _record(content_hash: str, **changes: Any) -> dict[str, Any]:
    return {"account": ACCOUNT, "time": "2024-05-01T12:00:00.050Z", "operation": "post",
            "source_port": 50000, "content_hash": content_hash, **changes}


def _site_hash(account: str = ACCOUNT, content: bytes = CONTENT) -> str:
    return hashlib.sha1(account.encode() + b"\n" + content).hexdigest()


def test_the_old_names_keep_their_meaning() -> None:
    assert ContentHash.of({}) == ContentHash()
    assert ContentHash.of({"content_hash": "sha256"}) == ContentHash()
    assert ContentHash.of({"content_hash": "none"}) is None
    plain = _record(hashlib.sha256(CONTENT).hexdigest())
    assert ContentHash().matches(plain, CONTENT)


def test_a_template_is_read_with_its_defaults() -> None:
    assert ContentHash.of({"content_hash": {"fields": ["content", "operation"]}}) == \
        ContentHash(fields=("content", "operation"), joiner="", algorithm="sha256")


def test_a_record_hashed_over_several_fields_is_found_by_the_template() -> None:
    template = ContentHash.of(TEMPLATE)
    assert template is not None
    record = _record(_site_hash())
    found = find_record([_record("0" * 40, source_port=1), record], content=CONTENT,
                        content_hash=template, exchange=EXCHANGE, account=ACCOUNT,
                        by_time=False)
    assert found is record


def test_the_plain_hash_cannot_find_a_record_hashed_by_template() -> None:
    """Without the template a multi-field hash never matches: a disposal is not found."""
    record = _record(_site_hash())
    assert find_record([record], content=CONTENT, content_hash=ContentHash(),
                       exchange=EXCHANGE, account=ACCOUNT, by_time=False) is None


@pytest.mark.parametrize("record", [
    _record(_site_hash(content="其他内容".encode())),   # another content
    _record(_site_hash(account="eve_9")),               # hashed under another account
    _record(_site_hash(), account="eve_9"),             # the record names another account
    _record(_site_hash(), account=None),                # a field of the template is missing
])
def test_a_template_matches_only_this_content_of_this_record(record: dict[str, Any]) -> None:
    template = ContentHash.of(TEMPLATE)
    assert template is not None
    assert not template.matches(record, CONTENT)


def test_hex_case_does_not_matter_and_every_algorithm_works() -> None:
    for algorithm in ("sha256", "sha1", "md5", "sha512"):
        template = ContentHash(fields=("content",), algorithm=algorithm)
        digest = hashlib.new(algorithm, CONTENT).hexdigest().upper()
        assert template.matches(_record(digest), CONTENT)
