"""Keep on AWS: the lifecycle rule expires only objects tagged ``camvault-expires=yes``, so the
processor tags what it catalogs unless the event is kept, and keep moves the tag. Runs on the
session's real SeaweedFS (S3 object tagging) with a SQLite catalog."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.keys import keep_marker_key, small_key, thumbnail_key
from camvault.keep import set_keep
from camvault.media.probe import MediaLimits
from camvault.media.transcode import TranscodeSettings
from camvault.processor.core import Processor, ProcessorSettings
from camvault.processor.journal import Journal
from camvault.processor.transcoder import Transcoder
from camvault.store.s3 import S3Store
from tests.support.media import make_clip
from tests.support.seaweed import SeaweedServer, seaweed

__all__ = ["seaweed"]

pytestmark = pytest.mark.functional

EXPIRES = {"camvault-expires": "yes"}


class Parts:
    def __init__(self, server: SeaweedServer, tmp: Path) -> None:
        self.client = server.client()
        self.store = S3Store(server.bucket, client=self.client)
        self.catalog = SQLiteCatalog(tmp / "catalog.db")
        self.prefix = f"keep{secrets.token_hex(4)}"
        self.key = f"{self.prefix}/porch/2025-01-01/Hour-12/record/clip.mp4"
        self.clip = make_clip(tmp / "clip.mp4", seconds=1.0)
        self.bucket = server.bucket

    def processor(self, store: S3Store | None = None) -> Processor:
        settings = ProcessorSettings(
            prefix=self.prefix,
            default_zone=ZoneInfo("UTC"),
            skew_tolerance=timedelta(minutes=15),
            limits=MediaLimits(),
        )
        return Processor(store or self.store, self.catalog, settings, zone_of=lambda name: None)

    def upload(self) -> None:
        self.store.put(
            self.key, self.clip.read_bytes(), content_type="video/mp4", metadata={"camera": "porch"}
        )

    def tags(self, key: str) -> dict[str, str]:
        answer = self.client.get_object_tagging(Bucket=self.bucket, Key=key)
        return {tag["Key"]: tag["Value"] for tag in answer["TagSet"]}

    def close(self) -> None:
        for info in self.store.list(self.prefix + "/"):
            self.store.delete(info.key)
        self.catalog.close()
        self.store.close()


@pytest.fixture
def parts(seaweed: SeaweedServer, tmp_path: Path) -> Iterator[Parts]:
    opened = Parts(seaweed, tmp_path)
    yield opened
    opened.close()


def test_processing_tags_the_original_and_its_thumbnail_to_expire(parts: Parts) -> None:
    parts.upload()
    outcome = parts.processor().process(parts.key)

    assert outcome.status == "cataloged" and outcome.event is not None
    assert outcome.event.keep is False and outcome.event.thumbnail_key == thumbnail_key(parts.key)
    assert parts.tags(parts.key) == EXPIRES
    assert parts.tags(thumbnail_key(parts.key)) == EXPIRES


def test_keep_removes_the_tag_and_releasing_puts_it_back(parts: Parts) -> None:
    parts.upload()
    event = parts.processor().process(parts.key).event
    assert event is not None

    kept = set_keep(parts.store, parts.catalog, event.id, True)

    assert kept.keep is True
    assert parts.tags(parts.key) == {} and parts.tags(thumbnail_key(parts.key)) == {}
    assert parts.tags(keep_marker_key(parts.key)) == {}  # the marker itself never expires
    again = parts.processor().process(parts.key)  # reindex, a re-delivery: still kept
    assert again.event is not None and again.event.keep is True
    assert parts.tags(parts.key) == {}

    released = set_keep(parts.store, parts.catalog, event.id, False)

    assert released.keep is False
    assert parts.tags(parts.key) == EXPIRES and parts.tags(thumbnail_key(parts.key)) == EXPIRES


class KeepWhileProcessing(S3Store):
    """An S3 store on which the owner marks the clip keep just as the processor first tags it:
    the processor read "not kept" a moment before."""

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts.bucket, client=parts.client)
        self.parts = parts
        self.done = False

    def set_tags(self, key: str, tags: Mapping[str, str]) -> None:
        super().set_tags(key, tags)
        if not self.done and tags:
            self.done = True
            marker = keep_marker_key(self.parts.key)
            self.put(marker, b"{}", content_type="application/json")
            for target in (self.parts.key, thumbnail_key(self.parts.key)):
                super().set_tags(target, {})


def test_a_keep_marked_during_processing_is_not_undone_by_its_tags(parts: Parts) -> None:
    parts.upload()
    racing = KeepWhileProcessing(parts)

    outcome = parts.processor(racing).process(parts.key)

    assert racing.done
    assert outcome.event is not None and outcome.event.keep is True
    assert parts.tags(parts.key) == {} and parts.tags(thumbnail_key(parts.key)) == {}


def test_keep_of_an_event_whose_thumbnail_is_gone_still_untags_the_original(parts: Parts) -> None:
    parts.upload()
    event = parts.processor().process(parts.key).event
    assert event is not None
    parts.store.delete(thumbnail_key(parts.key))

    set_keep(parts.store, parts.catalog, event.id, True)

    assert parts.tags(parts.key) == {}


def test_a_small_version_made_later_is_tagged_like_its_original(parts: Parts, tmp_path: Path) -> None:
    parts.upload()
    assert parts.processor().process(parts.key).status == "cataloged"
    journal = Journal(tmp_path / "transcode.db")
    try:
        made = Transcoder(parts.store, parts.catalog, journal, TranscodeSettings(width=160)).process(
            parts.key
        )
        assert made.status == "transcoded"
        assert parts.tags(small_key(parts.key)) == EXPIRES  # the lifecycle rule takes it with its original
        set_keep(parts.store, parts.catalog, made.event.id if made.event else "", True)
        assert parts.tags(small_key(parts.key)) == {}
    finally:
        journal.close()
