"""platform/http.py (route lookup): the remembered route per path shape answers exactly as the full scan would."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from servanda.platform.http import RouteCache, install_route_cache, path_shape


def _app(cached: bool) -> FastAPI:
    app = FastAPI()
    first = APIRouter(prefix="/api/things")
    second = APIRouter(prefix="/api/things")

    @first.get("/{thing_id}")
    async def get_thing(thing_id: uuid.UUID) -> dict[str, str]:
        return {"route": "get", "id": str(thing_id)}

    @first.get("/special")
    async def special() -> dict[str, str]:  # after the parameter route: never reached for GET
        return {"route": "special"}

    @second.post("/{thing_id}")
    async def post_thing(thing_id: str) -> dict[str, str]:
        return {"route": "post", "id": thing_id}

    @second.get("/{thing_id}/parts/{part}")
    async def part(thing_id: uuid.UUID, part: int) -> dict[str, object]:
        return {"route": "part", "id": str(thing_id), "part": part}

    app.include_router(first)
    app.include_router(second)
    if cached:
        assert install_route_cache(app.router)
    return app


REQUESTS = [
    ("GET", f"/api/things/{uuid.UUID(int=1)}"),
    ("GET", f"/api/things/{uuid.UUID(int=2)}"),  # same shape, its own parameter
    ("POST", f"/api/things/{uuid.UUID(int=3)}"),  # GET's router matches partially, the next fully
    ("DELETE", f"/api/things/{uuid.UUID(int=3)}"),  # partial matches only: 405
    ("GET", "/api/things/special"),
    ("GET", f"/api/things/{uuid.UUID(int=4)}/parts/7"),
    ("GET", f"/api/things/{uuid.UUID(int=5)}/parts/8"),
    ("GET", f"/api/things/{uuid.UUID(int=5)}/parts/x"),  # no full match: 404
    ("GET", "/api/nothing"),
]


def test_cached_routing_answers_as_the_scan_does() -> None:
    plain, cached = TestClient(_app(False)), TestClient(_app(True))
    for _ in range(2):  # the second round is answered from the remembered routes
        for method, path in REQUESTS:
            expected, got = plain.request(method, path), cached.request(method, path)
            assert (got.status_code, got.content) == (expected.status_code, expected.content), (method, path)
    got = cached.get(f"/api/things/{uuid.UUID(int=9)}").json()
    assert got == {"route": "get", "id": str(uuid.UUID(int=9))}


def test_a_route_added_later_is_found() -> None:
    app = _app(True)
    client = TestClient(app)
    assert client.get("/api/late").status_code == 404

    @app.get("/api/late")
    async def late() -> dict[str, str]:
        return {"route": "late"}

    assert client.get("/api/late").json() == {"route": "late"}


def test_shapes_and_installation() -> None:
    assert path_shape(f"/a/{uuid.UUID(int=7)}/b") == path_shape(f"/a/{uuid.UUID(int=8)}/b")
    assert path_shape("/a/b") == "/a/b"
    app = _app(True)
    assert isinstance(app.router.middleware_stack, RouteCache)
    assert not install_route_cache(app.router)  # not twice
