"""gRPC beside REST (issue #28): the V2 service of ``clarifai-grpc`` served with ``grpcio``, so
the official ``clarifai`` SDK (which speaks gRPC) can run against ``clarifai-tui serve``.

One implementation of each call. A gRPC request is turned into the very REST request the
official JSON client (``ClarifaiChannel.get_json_channel``) would send for it: the proto JSON
mapping of the message, that client's own choice among a method's ``google.api.http``
bindings and its GET parameter encoding; it is handed in-process to the same Starlette app
that serves REST: same routes, handlers, auth, throttling and statuses. The JSON answer becomes
the response message (``json_format.ParseDict``, unknown fields ignored as the client does).
Clarifai answers failures inside the message (``status``) with gRPC OK; so does this.

A method the REST side does not serve (no route), and every streaming method, answers gRPC
UNIMPLEMENTED with details naming the method and the Clarifai status (11101).

The conversion helpers are private functions of ``clarifai_grpc.channel``; the tests drive the
unchanged SDK over loopback gRPC, so a change in them fails there first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import httpx

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from starlette.types import ASGIApp

log = logging.getLogger(__name__)

SERVICE = "clarifai.api.V2"
#: The REST side's answer to a path it has no route for (api.local.http.route_not_found).
_NO_ROUTE = "no such route"


def _peer_host(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """`ipv4:127.0.0.1:5123` / `ipv6:[::1]:5123` -> the address (auth throttling is per host)."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or "::1"
    if kind == "ipv4":
        return rest.rpartition(":")[0] or "127.0.0.1"
    return "127.0.0.1"


class Gateway:
    """Serves every unary V2 method by way of the REST app (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        from clarifai_grpc.channel.grpc_json_channel import GRPCJSONChannel
        from clarifai_grpc.grpc.api import service_pb2

        self._app = app
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._service = service_pb2.DESCRIPTOR.services_by_name["V2"]
        # The JSON client's table of method -> (request type, [(url template, verb), ...]),
        # built from the protos' google.api.http rules; "" as the base URL: paths only.
        self._resources = GRPCJSONChannel(session=None, base_url="").name_to_resources

    def handler(self) -> grpc.GenericRpcHandler:
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        from google.protobuf.message_factory import GetMessageClass

        for method in self._service.methods:
            request_cls = GetMessageClass(method.input_type)
            response_cls = GetMessageClass(method.output_type)
            if method.client_streaming or method.server_streaming:
                behaviour = self._unimplemented(method.name)
                if method.client_streaming and method.server_streaming:
                    handlers[method.name] = grpc.stream_stream_rpc_method_handler(
                        behaviour,
                        request_deserializer=request_cls.FromString,
                        response_serializer=response_cls.SerializeToString,
                    )
                elif method.client_streaming:
                    handlers[method.name] = grpc.stream_unary_rpc_method_handler(
                        behaviour,
                        request_deserializer=request_cls.FromString,
                        response_serializer=response_cls.SerializeToString,
                    )
                else:
                    handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                        behaviour,
                        request_deserializer=request_cls.FromString,
                        response_serializer=response_cls.SerializeToString,
                    )
                continue
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                self._unary(method.name, response_cls),
                request_deserializer=request_cls.FromString,
                response_serializer=response_cls.SerializeToString,
            )
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def _unimplemented(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def refuse(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{name}: not implemented by clarifai-tui serve (Clarifai status 11101 "
                "CONN_DOES_NOT_EXIST); streaming methods are not served",
            )

        return refuse

    def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            transport = httpx.ASGITransport(app=self._app, client=(host, 0))
            client = httpx.AsyncClient(transport=transport, base_url="http://grpc.gateway")
            self._clients[host] = client
        return client

    def _unary(
        self, name: str, response_cls: type[Message]
    ) -> Callable[[Message, grpc.aio.ServicerContext[Any, Any]], Awaitable[Message]]:
        from clarifai_grpc.channel.grpc_json_channel import _pick_proper_endpoint
        from clarifai_grpc.channel.http_client import HttpClient
        from google.protobuf import json_format

        resources = self._resources[f"/{SERVICE}/{name}"][1]
        encode_get = HttpClient(None, "")._encode_get_params

        async def call(request: Message, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
            # The proto JSON mapping, as the JSON client's converter makes it (field names as
            # in the protos, enums by name, bytes in base64); the standard one is ~4x faster.
            params = json_format.MessageToDict(request, preserving_proto_field_name=True)
            try:
                path, verb, path_fields = _pick_proper_endpoint(resources, params)
            except Exception as exc:  # no binding has all its path fields set
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name}: {exc}")
            for field in path_fields:
                params.pop(field, None)
            headers = {"content-type": "application/json"}
            for key, value in context.invocation_metadata() or ():
                if key.lower() == "authorization":
                    headers["authorization"] = str(value)
            client = self._client(_peer_host(context))
            if verb == "GET":
                answer = await client.request(
                    verb, path, params=encode_get(params), headers=headers
                )
            else:
                answer = await client.request(
                    verb, path, content=json.dumps(params).encode(), headers=headers
                )
            try:
                body = answer.json()
            except ValueError:
                await context.abort(
                    grpc.StatusCode.INTERNAL, f"{name}: the REST side answered no JSON"
                )
            description = str(body.get("status", {}).get("description", ""))
            if answer.status_code in (404, 405) and description.startswith(_NO_ROUTE):
                await context.abort(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"{name}: not implemented by clarifai-tui serve (Clarifai status 11101 "
                    f"CONN_DOES_NOT_EXIST: {description})",
                )
            return json_format.ParseDict(body, response_cls(), ignore_unknown_fields=True)

        return call

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


async def start_grpc(app: ASGIApp, host: str, port: int) -> tuple[grpc.aio.Server, Gateway, int]:
    """A started grpc.aio server on `host:port` (0: any free port), plaintext as the SDK's
    `base_url="http://..."` expects; returns it, its gateway and the bound port."""
    gateway = Gateway(app)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 128 * 1024 * 1024),
            ("grpc.max_send_message_length", 128 * 1024 * 1024),
        ]
    )
    server.add_generic_rpc_handlers((gateway.handler(),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot bind gRPC to {host}:{port}")
    await server.start()
    return server, gateway, bound
