"""Calls a goto listener with Python's grpcio (an implementation goto did
not write): health Check, a reflection listing and descriptors (v1alpha,
grpcio-reflection's client), and goto.Goto/Echo built from the reflected
descriptors alone, with metadata and a forced UNAVAILABLE first."""
import sys

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

port = sys.argv[1]
ch = grpc.insecure_channel(f"127.0.0.1:{port}")
grpc.channel_ready_future(ch).result(timeout=10)

health = health_pb2_grpc.HealthStub(ch)
serving = health_pb2.HealthCheckResponse.SERVING
not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
assert health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status == serving
got = health.Check(health_pb2.HealthCheckRequest(service="goto.Goto"), timeout=10).status
assert got == not_serving, got

db = ProtoReflectionDescriptorDatabase(ch)
services = set(db.get_services())
for want in ("goto.Goto", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"):
    assert want in services, services
pool = DescriptorPool(db)
method = pool.FindServiceByName("goto.Goto").FindMethodByName("Echo")
Req = message_factory.GetMessageClass(method.input_type)
Resp = message_factory.GetMessageClass(method.output_type)
echo = ch.unary_unary(
    "/goto.Goto/Echo",
    request_serializer=Req.SerializeToString,
    response_deserializer=Resp.FromString,
)
try:
    echo(Req(payload="first"), timeout=10)
    raise AssertionError("the forced UNAVAILABLE did not come")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
r = echo(Req(payload="from python"), metadata=[("x-py", "1")], timeout=10)
assert r.payload == "from python", r
assert r.metadata["x-py"] == "1", r
print("python grpc client ok")

# Over TLS (ALPN h2) on an https listener, trusting its own certificate.
if len(sys.argv) > 3:
    tls_port, cert = sys.argv[2], sys.argv[3]
    with open(cert, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    tls = grpc.secure_channel(f"127.0.0.1:{tls_port}", creds)
    grpc.channel_ready_future(tls).result(timeout=10)
    tls_echo = tls.unary_unary(
        "/goto.Goto/Echo",
        request_serializer=Req.SerializeToString,
        response_deserializer=Resp.FromString,
    )
    r = tls_echo(Req(payload="over tls"), timeout=10)
    assert r.payload == "over tls" and r.port == int(tls_port), r
    print("python grpc tls ok")
