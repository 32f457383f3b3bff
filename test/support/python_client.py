"""A non-Node client of sessiond: Set without an id, learn the id, Get with it.

Usage: /usr/bin/python3 python_client.py <host:port> <dir with sessiond/v1/session_pb2.py>

Message classes come from Debian's protoc (--python_out) run by the test on the repo's
proto; calls go through grpc's generic unary_unary, which is what generated stubs do.
Prints one JSON object with what it saw; the test asserts on it.
"""

import json
import sys

import grpc

target, stub_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, stub_dir)

from google.protobuf import json_format, struct_pb2  # noqa: E402
from sessiond.v1 import session_pb2  # noqa: E402

SERVICE = "/sessiond.v1.SessionService/"


def method(channel, name, request_cls, response_cls):
    return channel.unary_unary(
        SERVICE + name,
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )


with grpc.insecure_channel(target) as channel:
    set_ = method(channel, "Set", session_pb2.SetRequest, session_pb2.SetResponse)
    get = method(channel, "Get", session_pb2.GetRequest, session_pb2.GetResponse)

    value = struct_pb2.Value()
    json_format.ParseDict({"lang": "python", "n": 3}, value)
    response, call = set_.with_call(session_pb2.SetRequest(key="from-python", value=value), timeout=10)
    headers = dict(call.initial_metadata())

    got = get(
        session_pb2.GetRequest(key="from-python"),
        metadata=[("x-session-id", response.session_id)],
        timeout=10,
    )
    # Keys that are Object.prototype names in JavaScript are plain keys to Python.
    set_map = method(channel, "SetMap", session_pb2.SetMapRequest, session_pb2.SetMapResponse)
    get_data = method(channel, "GetData", session_pb2.GetDataRequest, session_pb2.GetDataResponse)
    session = [("x-session-id", response.session_id)]
    data = session_pb2.SetMapRequest()
    data.data.update({"__proto__": {"__proto__": "inner", "list": [{"__proto__": 1}]}, "constructor": 2})
    set_map(data, metadata=session, timeout=10)
    proto_data = json_format.MessageToDict(get_data(session_pb2.GetDataRequest(), metadata=session, timeout=10).data)
    proto_get = get(session_pb2.GetRequest(key="__proto__"), metadata=session, timeout=10)

    try:
        get(session_pb2.GetRequest(key="x"), metadata=[("x-session-id", "../x")], timeout=10)
        bad_id_code = "OK"
    except grpc.RpcError as err:
        bad_id_code = err.code().name

print(
    json.dumps(
        {
            "set_session_id": response.session_id,
            "set_version": response.version,
            "header_session_id": headers.get("x-session-id"),
            "get_found": got.found,
            "get_value": json_format.MessageToDict(got.value),
            "bad_id_code": bad_id_code,
            "proto_data": proto_data,
            "proto_get": [proto_get.found, json_format.MessageToDict(proto_get.value)],
        }
    )
)
