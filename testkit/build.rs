// Test protos are compiled with protox, so no protoc is needed; helpers add
// their .proto files under testkit/proto and list them here.
fn main() {}
