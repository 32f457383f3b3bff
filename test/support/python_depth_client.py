"""Values at the nesting limit through Python grpcio (protobuf's C++ decoder, 100 levels).

Usage: /usr/bin/python3 python_depth_client.py <host:port> <stub dir> <depth>

For objects and for lists: Set a value nested <depth> levels (an empty one at the bottom,
the deepest a response can get), Get it and GetData it back, then Set one level more.
Prints one JSON object per kind.
"""

import json
import sys

import grpc

target, stub_dir, depth = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, stub_dir)

from google.protobuf import json_format, struct_pb2  # noqa: E402
from sessiond.v1 import session_pb2  # noqa: E402


def rpc(channel, name, response_class):
    return channel.unary_unary(
        "/sessiond.v1.SessionService/" + name,
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_class.FromString,
    )


def nested(kind, levels):
    value = {} if kind == "struct" else []
    for _ in range(levels):
        value = {"k": value} if kind == "struct" else [value]
    return value


def attempt(call):
    try:
        call()
        return "OK", ""
    except grpc.RpcError as err:
        return err.code().name, err.details()


with grpc.insecure_channel(target) as channel:
    set_ = rpc(channel, "Set", session_pb2.SetResponse)
    get = rpc(channel, "Get", session_pb2.GetResponse)
    get_data = rpc(channel, "GetData", session_pb2.GetDataResponse)
    for kind in ("struct", "list"):
        value = json_format.ParseDict(nested(kind, depth), struct_pb2.Value())
        created = set_(session_pb2.SetRequest(key="v", value=value), timeout=10)
        session = [("x-session-id", created.session_id)]
        got = get(session_pb2.GetRequest(key="v"), metadata=session, timeout=10)
        data = get_data(session_pb2.GetDataRequest(), metadata=session, timeout=10)
        deeper = json_format.ParseDict(nested(kind, depth + 1), struct_pb2.Value())
        code, message = attempt(
            lambda: set_(session_pb2.SetRequest(key="w", value=deeper), metadata=session, timeout=10)
        )
        print(
            json.dumps(
                {
                    "kind": kind,
                    "get": json_format.MessageToDict(got.value),
                    "data": json_format.MessageToDict(data.data),
                    "deeper": [code, message],
                }
            )
        )
