"""A grpcurl-like client in Python: no sessiond stubs at all, only server reflection.

Usage: /usr/bin/python3 python_reflection_client.py <host:port> <dir with reflection_pb2.py>

reflection_pb2.py is protoc's output for grpc/reflection/v1/reflection.proto, compiled
from its own directory (a `grpc.` package would clash with grpcio).

Asks grpc.reflection.v1 for the services and for the file declaring SessionService, loads
the returned FileDescriptorProtos (fetching any missing import by file name) into an empty
DescriptorPool, which refuses a file whose imports are not loaded first, then builds the
request messages from JSON and calls Set and Get. Prints one JSON object for the test.
"""

import json
import sys

import grpc

target, stub_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, stub_dir)

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory  # noqa: E402
import reflection_pb2  # noqa: E402

REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def message_class(pool, name):
    descriptor = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


with grpc.insecure_channel(target) as channel:
    reflect = channel.stream_stream(
        REFLECTION,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )

    def ask(**query):
        (response,) = list(reflect(iter([reflection_pb2.ServerReflectionRequest(**query)]), timeout=10))
        if response.HasField("error_response"):
            raise RuntimeError(f"reflection error {response.error_response}")
        return response

    services = [s.name for s in ask(list_services="").list_services_response.service]

    files = {}

    def load(raw_files):
        for raw in raw_files:
            proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
            files.setdefault(proto.name, proto)

    load(ask(file_containing_symbol="sessiond.v1.SessionService").file_descriptor_response.file_descriptor_proto)
    # Like grpcurl: any import the server did not send is asked for by file name.
    fetched_by_name = []
    while missing := sorted({d for f in files.values() for d in f.dependency if d not in files}):
        for name in missing:
            fetched_by_name.append(name)
            load(ask(file_by_filename=name).file_descriptor_response.file_descriptor_proto)

    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name):
        if name in added:
            return
        for dep in files[name].dependency:
            add(dep)
        pool.Add(files[name])
        added.add(name)

    for name in files:
        add(name)

    service = pool.FindServiceByName("sessiond.v1.SessionService")
    methods = sorted(m.name for m in service.methods)

    def call(method_name, body, session_id=None):
        method = service.FindMethodByName(method_name)
        request_cls = message_class(pool, method.input_type.full_name)
        response_cls = message_class(pool, method.output_type.full_name)
        stub = channel.unary_unary(
            f"/{service.full_name}/{method.name}",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString,
        )
        metadata = [("x-session-id", session_id)] if session_id else None
        response, rpc = stub.with_call(json_format.Parse(body, request_cls()), metadata=metadata, timeout=10)
        return json_format.MessageToDict(response), dict(rpc.initial_metadata())

    set_response, set_headers = call("Set", '{"key": "via-reflection", "value": ["py", 3, {"ok": true}]}')
    get_response, _ = call("Get", '{"key": "via-reflection"}', set_response["sessionId"])

print(
    json.dumps(
        {
            "services": services,
            "files": sorted(files),
            "fetched_by_name": fetched_by_name,
            "methods": methods,
            "set": set_response,
            "set_header_id": set_headers.get("x-session-id"),
            "get": get_response,
        }
    )
)
