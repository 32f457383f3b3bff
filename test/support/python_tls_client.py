"""sessiond over TLS from Python grpcio: Set, then Get with the id it returned.

Usage: /usr/bin/python3 python_tls_client.py <host:port> <stub dir> <ca.pem> [<cert.pem> <key.pem>]

Verifies the server against ca.pem (and presents cert/key for mTLS when given); also tries
a plaintext channel against the same port and reports how that fails. Prints one JSON
object for the test.
"""

import json
import sys

import grpc

target, stub_dir, ca_path = sys.argv[1:4]
client_files = sys.argv[4:6]
sys.path.insert(0, stub_dir)

from google.protobuf import json_format, struct_pb2  # noqa: E402
from sessiond.v1 import session_pb2  # noqa: E402

SERVICE = "/sessiond.v1.SessionService/"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def method(channel, name, request_cls, response_cls):
    return channel.unary_unary(
        SERVICE + name,
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )


creds = grpc.ssl_channel_credentials(
    root_certificates=read(ca_path),
    private_key=read(client_files[1]) if client_files else None,
    certificate_chain=read(client_files[0]) if client_files else None,
)
with grpc.secure_channel(target, creds) as channel:
    set_ = method(channel, "Set", session_pb2.SetRequest, session_pb2.SetResponse)
    get = method(channel, "Get", session_pb2.GetRequest, session_pb2.GetResponse)
    value = struct_pb2.Value()
    json_format.ParseDict({"over": "tls"}, value)
    response = set_(session_pb2.SetRequest(key="py", value=value), timeout=10)
    got = get(session_pb2.GetRequest(key="py"), metadata=[("x-session-id", response.session_id)], timeout=10)

with grpc.insecure_channel(target) as plain:
    try:
        method(plain, "Size", session_pb2.SizeRequest, session_pb2.SizeResponse)(session_pb2.SizeRequest(), timeout=10)
        plaintext = "OK"
    except grpc.RpcError as err:
        plaintext = err.code().name

print(
    json.dumps(
        {
            "session_id": response.session_id,
            "get_value": json_format.MessageToDict(got.value),
            "plaintext_code": plaintext,
        }
    )
)
