"""REST serving of the Bitrix24 emulator: reading a request, faults, limits, dispatch, batch."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from tests.emulators.bitrix24_crm import CrmError, format_datetime
from tests.emulators.bitrix24_methods import METHODS, MethodSpec
from tests.emulators.bitrix24_php import parse_pairs, php_json
from tests.emulators.bitrix24_state import AuthContext, CallRecord, EmulatorState


class RestArea(EmulatorState):
    """The /rest/ endpoint: parameters, faults, the bucket, authentication, execution."""

    def _time_block(
        self, started: float, processing: float, credential: str | None, method: str | None
    ) -> dict[str, Any]:
        finished = self.wall_clock()
        finished = max(finished, started + processing)
        block: dict[str, Any] = {
            "start": started,
            "finish": finished,
            "duration": finished - started,
            "processing": processing,
            "date_start": format_datetime(datetime.fromtimestamp(started, self.tz), self.tz),
            "date_finish": format_datetime(datetime.fromtimestamp(finished, self.tz), self.tz),
        }
        if credential is not None and method is not None:
            operating, reset_at = self.portal._operating_state(credential, method)
            if reset_at is not None:
                block["operating_reset_at"] = reset_at
            block["operating"] = operating
        return block

    def execute(
        self, ctx: AuthContext, method: str, params: dict[str, Any], *, in_batch: bool = False
    ) -> tuple[Any, int | None, int | None, dict[str, Any]]:
        """Run one method as ctx; returns (result, total, next, time) or raises CrmError."""
        name = method.lower()
        spec: MethodSpec | None = METHODS.get(name)
        if spec is None:
            raise CrmError("Method not found!", "ERROR_METHOD_NOT_FOUND", 404)
        if in_batch and name == "batch":
            raise CrmError(
                "Method is not allowed for batch usage", "ERROR_BATCH_METHOD_NOT_ALLOWED", 405
            )
        if spec.scope not in ctx.scopes:
            whose = "webhook" if ctx.kind == "webhook" else "access"
            raise CrmError(
                f"The request requires higher privileges than provided by the {whose} token",
                "insufficient_scope",
                401,
            )
        if spec.oauth_only and ctx.kind != "oauth":
            raise CrmError(
                "Current authorization type is denied for this method", "WRONG_AUTH_TYPE", 403
            )
        refusal = self.faults.refusals.get(name)
        if refusal is not None:
            raise CrmError(refusal[1], refusal[0], refusal[2])
        counted = name != "batch"
        if counted:
            used, _ = self.portal._operating_state(ctx.credential, name)
            if used > self.operating_limit:
                raise CrmError(
                    "Method is blocked due to operation time limit.", "OPERATION_TIME_LIMIT", 429
                )
        started = self.wall_clock()
        tick = time.perf_counter()
        self.executed.append(name)
        try:
            # Offline queues skip changes the app made through the same connector.
            previous_origin = self._origin
            connector = str(params.get("auth_connector", "") or "")
            if not connector and in_batch and previous_origin is not None:
                connector = previous_origin[1]  # a command of a batch made with a connector
            self._origin = ("app", connector) if ctx.kind == "oauth" else (ctx.kind, "")
            try:
                outcome = spec.handler(self.portal, ctx, params)
            finally:
                self._origin = previous_origin
        finally:
            measured = time.perf_counter() - tick
            if counted:
                cost = self.operating_costs.get(name, self.operating_cost)
                self.portal._add_operating(
                    ctx.credential, name, measured if cost is None else cost
                )
        result, total, next_start = outcome.result, outcome.total, outcome.next
        return (
            result,
            total,
            next_start,
            self._time_block(
                started, measured, ctx.credential if counted else None, name if counted else None
            ),
        )

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        pairs: list[tuple[str, Any]] = list(request.query.items())
        json_body: Any = None
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                text = await request.text()
                if text.strip():
                    json_body = json.loads(text)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                pairs.extend(
                    (k, v if isinstance(v, str) else getattr(v, "filename", ""))
                    for k, v in form.items()
                )
            else:
                text = await request.text()
                stripped = text.strip()
                if stripped.startswith("{"):
                    json_body = json.loads(stripped)
                elif stripped:
                    pairs.extend(_decode_query(stripped))
        params = parse_pairs(pairs)
        if isinstance(json_body, dict):
            params.update(json_body)
        return params

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._serve_rest(request)
        finally:
            self.in_flight -= 1

    async def _serve_rest(self, request: web.Request) -> web.StreamResponse:
        arrived = self.clock()
        started = self.wall_clock()
        tail = request.match_info["tail"]
        parts = [p for p in tail.split("/") if p != ""]
        method_part = parts[-1] if parts else ""
        for suffix in (".json", ".xml"):
            if method_part.lower().endswith(suffix):
                method_part = method_part[: -len(suffix)]
        method = method_part.lower()
        record = CallRecord(method=method, arrived_at=arrived)
        self.calls.append(record)
        try:
            params = await self._read_params(request)
        except (ValueError, UnicodeDecodeError):
            record.status = 400
            return await self._answer(error_body("INVALID_REQUEST", "Invalid request"), 400)
        record.params = params
        if self.moved_to:
            record.status = 302
            record.fault = "moved"
            raise web.HTTPFound(self.moved_to.rstrip("/") + request.path_qs)
        faults = self.faults
        if faults.drop_count > 0:
            faults.drop_count -= 1
            record.fault = "drop"
            return self._drop(request)
        if faults.fail_count > 0:
            faults.fail_count -= 1
            record.fault = "fail"
            record.status = faults.fail_status
            return await self._answer_text(
                "<html><body>Internal Server Error</body></html>", faults.fail_status, "text/html"
            )
        if faults.malformed_count > 0:
            faults.malformed_count -= 1
            record.fault = "malformed"
            record.status = 200
            return await self._answer_text('{"result": [truncated', 200, "application/json")
        if self.rate_limit and not self.portal._take_bucket_token():
            record.rejected_by_limit = True
            record.status = 503
            return await self._answer(error_body("QUERY_LIMIT_EXCEEDED", "Too many requests"), 503)
        user_part: str | None = None
        secret: str | None = None
        if len(parts) == 3:
            user_part, secret = parts[0], parts[1]
        elif len(parts) != 1:
            record.status = 404
            return await self._answer(
                error_body("ERROR_METHOD_NOT_FOUND", "Method not found!"), 404
            )
        counted = 0  # rows the request's list calls counted (their server time)
        try:
            ctx = self.portal.authenticate(user_part, secret, params, request.headers)
            record.auth_kind = ctx.kind
            if method == "batch":
                record.batch_methods = _batch_methods(params)
            delay = faults.slow.get(method)
            if delay:
                # A task of its own: the request runs to its end even when the client hangs up.
                late = asyncio.ensure_future(self._execute_later(delay, ctx, method, params))
                self._late_requests.add(late)
                late.add_done_callback(self._late_requests.discard)
                (result, total, next_start, time_block), counted = await asyncio.shield(late)
            else:
                (result, total, next_start, time_block), counted = self._execute_counting(
                    ctx, method, params
                )
        except CrmError as exc:
            record.status = exc.status
            body = error_body(exc.code, exc.description)
        else:
            record.status = 200
            body = {"result": result}
            if next_start is not None:
                body["next"] = next_start
            if total is not None:
                body["total"] = total
            time_block["start"] = started
            time_block["duration"] = time_block["finish"] - started
            time_block["date_start"] = format_datetime(
                datetime.fromtimestamp(started, self.tz), self.tz
            )
            body["time"] = time_block
        listed = [m for m in (record.batch_methods or [method]) if m.endswith(".list")]
        server_time = self.list_server_time * len(listed)
        server_time += self.count_server_time_per_row * counted
        if server_time > 0:
            await self.server_sleep(server_time)
        if faults.drop_after_execute_count > 0:
            faults.drop_after_execute_count -= 1
            record.fault = "drop_after_execute"
            record.status = 0
            return self._drop(request)
        return await self._answer(body, record.status)

    async def _execute_later(
        self, delay: float, ctx: AuthContext, method: str, params: dict[str, Any]
    ) -> tuple[tuple[Any, int | None, int | None, dict[str, Any]], int]:
        await asyncio.sleep(delay)
        return self._execute_counting(ctx, method, params)

    def _execute_counting(
        self, ctx: AuthContext, method: str, params: dict[str, Any]
    ) -> tuple[tuple[Any, int | None, int | None, dict[str, Any]], int]:
        """`execute`, and the rows its list calls counted (it runs without a pause, so the
        difference is this request's alone). A request that fails counts nothing here."""
        before = self.rows_counted()
        outcome = self.execute(ctx, method, params)
        return outcome, self.rows_counted() - before

    def _drop(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=500)

    async def _answer(self, body: Mapping[str, Any], status: int) -> web.Response:
        return await self._answer_text(
            json.dumps(php_json(dict(body))), status, "application/json"
        )

    async def _answer_text(self, text: str, status: int, content_type: str) -> web.Response:
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        return web.Response(text=text, status=status, content_type=content_type, charset="utf-8")


def json_response(body: Any, status: int) -> web.Response:
    """A JSON answer with `status`."""
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def error_body(code: str, description: str) -> dict[str, Any]:
    """The portal's error shape."""
    return {"error": code, "error_description": description}


def _decode_query(text: str) -> list[tuple[str, str]]:
    from urllib.parse import unquote_plus

    pairs = []
    for chunk in text.split("&"):
        if chunk:
            key, _, value = chunk.partition("=")
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def _batch_methods(params: Mapping[str, Any]) -> list[str]:
    cmd = params.get("cmd")
    values = cmd.values() if isinstance(cmd, dict) else cmd if isinstance(cmd, list) else []
    return [str(v).split("?", 1)[0].lower() for v in values]
