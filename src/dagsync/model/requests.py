"""requests.yaml: the client's requests, which back derogations and commits."""

from __future__ import annotations

from pydantic import Field

from dagsync.model.base import Day, RequestId, Strict
from dagsync.model.client import Channel


class Request(Strict):
    id: RequestId
    date: Day = Field(description="Day DAG received the request.")
    channel: Channel
    author: str = Field(min_length=1, description="Who asked, at the client.")
    summary: str = Field(min_length=3)
    expires: Day | None = Field(
        default=None, description="Last day a derogation backed by this request holds."
    )


class Requests(Strict):
    requests: list[Request] = Field(default_factory=list)
